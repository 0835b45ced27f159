/**
 * PST `TimeoutIterator` in TypeScript idiom: an async iterator over an (async) iterable whose every `next()` is
 * bounded by `timeout` milliseconds, and which an AbortSignal ends. Runs one `timeoutIterator` machine actor (spawned
 * on the first `next()`); its deadlines are XState delays on the system's clock.
 */
import { type Actor, fromPromise } from 'xstate';
import { checkDuration } from '../../machines/core/duration.js';
import {
  type TimeoutIteratorOutcome,
  type TimeoutIteratorSnapshot,
  timeoutIteratorMachine,
} from '../../machines/core/timeoutIterator.js';
import type { OrrerySystem } from '../engine/system.js';
import { InvalidArgumentError, SystemStoppedError } from '../errors.js';
import {
  checkSignal,
  checkSystem,
  EventLoopShare,
  iteratorResult,
  Lifecycle,
  nextId,
  readOptions,
  resolveSystem,
} from './lifecycle.js';

export interface TimeoutIteratorOptions {
  /**
   * Milliseconds (not seconds: `5` is 5 ms) each item may take to arrive; 0 (the default) or Infinity waits
   * forever. A miss throws TimeoutError. Each `next()`'s deadline is the moment it was asked plus this timeout;
   * items are pulled one at a time, so a `next()` asked while another is pending gets its deadline when its turn
   * comes (as a `for await` loop, which never asks twice at once, sees no difference).
   */
  timeout?: number;
  /** Ends the iteration (upstream `abort_event`): pending and later `next()` calls resolve `done`. */
  signal?: AbortSignal;
  /**
   * The producer's period in milliseconds (upstream `expected_rate`, a period despite its name). The first item
   * gets `2 * expectedRate` on top of `timeout` ("polling may require up to 2 intervals"). Default 0.
   */
  expectedRate?: number;
  system?: OrrerySystem;
}

type Source<T> = Iterator<T> | AsyncIterator<T>;

interface Request<T> {
  resolve: (result: IteratorResult<T>) => void;
  reject: (error: Error) => void;
}

function toSource<T>(iterable: unknown): Source<T> {
  const it = iterable as Record<symbol | string, unknown> | null;
  if (it !== null && (typeof it === 'object' || typeof it === 'function')) {
    if (typeof it[Symbol.asyncIterator] === 'function')
      return (it[Symbol.asyncIterator] as () => Source<T>).call(it);
    if (typeof it[Symbol.iterator] === 'function') return (it[Symbol.iterator] as () => Source<T>).call(it);
    if (typeof it.next === 'function') return it as unknown as Source<T>;
  }
  throw new InvalidArgumentError('TimeoutIterator needs an iterable, an async iterable or an iterator');
}

const DONE = { done: true, value: undefined } as const;

/** Each TimeoutIterator option's check, in the order they are checked. */
const OPTION_CHECKS = {
  timeout: (value: unknown) => checkDuration('timeout', value, false) ?? 0,
  expectedRate: (value: unknown) => checkDuration('expectedRate', value, false) ?? 0,
  signal: checkSignal,
  system: checkSystem,
} as const;

export class TimeoutIterator<T> implements AsyncIterableIterator<T> {
  readonly timeout: number;
  readonly expectedRate: number;
  readonly #source: Source<T>;
  readonly #system: OrrerySystem;
  /** Ends once, with the outcome; holds the signal's abort listener. */
  readonly #lifecycle = new Lifecycle<TimeoutIteratorOutcome>();
  #actor: Actor<typeof timeoutIteratorMachine> | undefined;
  #requests: Request<T>[] = [];
  #delivered = 0;
  readonly #share = new EventLoopShare();

  constructor(iterable: Iterable<T> | AsyncIterable<T> | Source<T>, options: TimeoutIteratorOptions = {}) {
    // every option is checked before the source is touched or anything is created or registered
    const { timeout, expectedRate, signal, system } = readOptions('TimeoutIterator', options, OPTION_CHECKS);
    this.#source = toSource<T>(iterable);
    this.timeout = timeout;
    this.expectedRate = expectedRate;
    this.#system = resolveSystem(system);
    // an aborted signal ends the iteration at once, and releases the source as a later abort does
    this.#lifecycle.onAbort(signal, () => this.#end());
  }

  /** The machine actor, once the first `next()` has spawned it. */
  get actor(): Actor<typeof timeoutIteratorMachine> | undefined {
    return this.#actor;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * The next item; `done` at the end, after an abort or once the system stopped; throws TimeoutError (once) if
   * the item is late. The first `next()` on a stopped system rejects with SystemStoppedError (and releases the
   * source); later ones are `done`.
   */
  next(): Promise<IteratorResult<T>> {
    if (this.#lifecycle.ended) return Promise.resolve(DONE);
    // A source whose items are ready at once (a sync generator) is pulled on microtasks only, and so is a
    // `for await` loop over this iterator: without a turn of the event loop now and then no timer fires and no I/O
    // is read, so an abort from a timer (or a `return()` from one) never comes; upstream pulls on a thread of its
    // own. The turn is taken before the item is asked for, so it never counts towards the item's timeout.
    const turn = this.#share.turn();
    if (turn) return turn.then(() => this.next());
    if (!this.#actor && this.#system.stopped) {
      this.#finish('aborted', null);
      return Promise.reject(new SystemStoppedError('the actor system has been stopped'));
    }
    const actor = this.#actor ?? this.#spawn();
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.#requests.push({ resolve, reject });
      if (this.#requests.length === 1 && actor.getSnapshot().value === 'waiting')
        actor.send({ type: 'NEXT' });
    });
  }

  /** Stop iterating (a `break` out of `for await`); closes the wrapped iterator. */
  async return(): Promise<IteratorResult<T>> {
    this.#end();
    return DONE;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#end();
  }

  #spawn(): Actor<typeof timeoutIteratorMachine> {
    const source = this.#source;
    const logic = timeoutIteratorMachine.provide({
      actors: {
        // as Status.watchable: a result that is not an object breaks the iterator protocol
        pull: fromPromise<IteratorResult<unknown>, void>(async () =>
          iteratorResult(await source.next(), 'the source iterator'),
        ),
      },
    });
    const actor = this.#system.spawnDetached(logic, {
      id: nextId('timeoutIterator'),
      input: { timeout: this.timeout, expectedRate: this.expectedRate },
    });
    this.#actor = actor;
    actor.subscribe({
      next: (snapshot) => this.#onSnapshot(snapshot),
      error: (err) => this.#finish('failed', err as Error),
      complete: () => this.#finish('aborted', null),
    });
    return actor;
  }

  #onSnapshot(snapshot: TimeoutIteratorSnapshot): void {
    if (snapshot.status === 'done') {
      this.#finish(snapshot.value as TimeoutIteratorOutcome, snapshot.context.error);
      return;
    }
    if (snapshot.context.count > this.#delivered) {
      this.#delivered = snapshot.context.count;
      this.#requests.shift()?.resolve({ done: false, value: snapshot.context.item as T });
    }
    if (this.#requests.length && snapshot.value === 'waiting') this.#actor?.send({ type: 'NEXT' });
  }

  /** Abort or return(): end the iteration now. */
  #end(): void {
    if (this.#lifecycle.ended) return;
    if (this.#actor) this.#actor.send({ type: 'ABORT' });
    else this.#finish('aborted', null);
  }

  #finish(outcome: TimeoutIteratorOutcome, error: Error | null): void {
    if (this.#lifecycle.ended && !this.#requests.length) return;
    this.#lifecycle.end(outcome);
    const requests = this.#requests;
    this.#requests = [];
    const first = requests.shift();
    if (first) {
      if (error && (outcome === 'timedOut' || outcome === 'failed')) first.reject(error);
      else first.resolve(DONE);
    }
    for (const r of requests) r.resolve(DONE);
    if (outcome === 'timedOut' || outcome === 'aborted') {
      // release the producer; an abandoned pull may still settle, its result is dropped
      Promise.resolve()
        .then(() => this.#source.return?.())
        .catch(() => {});
    }
  }
}
