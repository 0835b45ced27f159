/**
 * `Status`: ophyd's StatusBase in TypeScript idiom, one `status` machine actor per instance.
 *
 * Times are milliseconds. Callbacks run on the event loop, in registration order, exactly once; `wait()` resolves
 * after the callbacks have run (ophyd returns before them, on another thread). No thread and no timer per status
 * beyond the machine's own delays; only a caller's `wait(ms)` arms a timer of its own. `Infinity` as a
 * timeout, settle time or wait arms no timer at all.
 *
 * The machine runs on the compiled runner (`system.spawnCompiled`, issue 10): a small lifecycle record per status,
 * its delays on the system's one deadline structure, and one set of shared functions (`onDone`, `onSystemStop`,
 * with the status as the lifecycle's `owner`) for every status, so a status keeps no closure of its own. Lazy
 * parts: the callbacks (the first one kept as it is, an array from the second on); the waiters, the abort listener
 * (only with a signal) and the progress watchers (from the first update or `watch()`), in one object made on first
 * use; the id string (built when asked: `status-<n>`), and the virtual actor `status.actor` (built when asked, as
 * `system.get` builds it). The name is read from the machine's context, the outcome and the claimed completion
 * share one number.
 *
 * Every lifecycle ends: stopping the status' system fails a pending (or settling) status with the system's
 * SystemStoppedError (a CancelledError), so its callbacks run once, waiters reject and watchers end.
 */

import { checkDuration, isNever } from '../../machines/core/duration.js';
import {
  type StatusActor,
  type StatusContext,
  type StatusEvent,
  type StatusOutcome,
  type StatusProgress,
  statusMachine,
} from '../../machines/core/status.js';
import { isThenable } from '../../machines/core/thenable.js';
import type { Lifecycle as CompiledLifecycle } from '../engine/compiled/index.js';
import type { OrrerySystem } from '../engine/system.js';
import {
  AggregateStatusError,
  CancelledError,
  InvalidArgumentError,
  InvalidStateError,
  isInstance,
  StatusTimeoutError,
  SystemStoppedError,
  toError,
  UnknownStatusFailure,
  WaitTimeoutError,
} from '../errors.js';
import {
  checkSignal,
  checkSystem,
  describe,
  EventLoopShare,
  isInvalidArgument,
  iteratorResult,
  Lifecycle,
  optionError,
  resolveSystem,
} from './lifecycle.js';
import { ProgressWatchers, progressKey, type WatcherUpdate } from './statusProgress.js';

export type { StatusProgress, WatcherUpdate };
export type StatusCallback = (status: Status) => void;

/** What `Status.watchable` consumes: progress updates, or a producer of them that stops when `signal` aborts. */
export type StatusUpdates = AsyncIterable<StatusProgress> | Iterable<StatusProgress>;
export type StatusUpdatesFactory = (signal: AbortSignal) => StatusUpdates;

export interface StatusOptions {
  /**
   * Milliseconds (not seconds: `timeout: 5` is 5 ms) until the status fails with StatusTimeoutError. Its deadline
   * is creation + timeout + settleTime. null, undefined or Infinity: no deadline (no timer).
   */
  timeout?: number | null;
  /**
   * Milliseconds between setFinished() and success. Default 0 (null too, as ophyd's `settle_time=None`); Infinity
   * settles for ever (no timer).
   */
  settleTime?: number | null;
  /** Cancels the status (done, not success, exception() is a CancelledError). */
  signal?: AbortSignal;
  /** Actor system to run in; the process default otherwise. */
  system?: OrrerySystem;
  /** A name for logs and the inspector (ophyd's `obj.name`). */
  name?: string;
  /** Register the status' actor under this systemId while it is pending (`system.get(systemId)`). */
  systemId?: string;
}

/** `#phase`'s bit for a claimed completion; the outcome is `#phase >> 1`, an index in `OUTCOMES` (0: pending). */
const CLAIMED = 1;
const OUTCOMES: readonly (StatusOutcome | undefined)[] = [
  undefined,
  'succeeded',
  'failed',
  'timedOut',
  'cancelled',
];

/** The parts of a status that few statuses use, kept together so a plain status holds one field for them. */
interface RareParts {
  waiters: Set<Waiter> | undefined;
  /** Holds the signal's abort listener (only with a signal, until the status ends). */
  abort: Lifecycle<null> | undefined;
  watchers: ProgressWatchers | undefined;
  /** A combined status' (Status.all / any): removes its check from the parts still pending, once it is done. */
  releaseParts: (() => void) | undefined;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  /** The clock timer of `wait(ms)`; undefined when waiting for ever. */
  timer: unknown;
}

/** What `Status.fromSubscription` accepts back from `subscribe`: an unsubscribe function or an object with one. */
export type SubscriptionRelease = (() => unknown) | { unsubscribe(): unknown };

/** The actor `Status.fromActor` follows: anything with XState's `subscribe` and `getSnapshot`. */
export interface FollowedActor<TSnapshot> {
  readonly id?: string;
  getSnapshot(): TSnapshot;
  subscribe(observer: {
    next?: (snapshot: TSnapshot) => void;
    error?: (err: unknown) => void;
    complete?: () => void;
  }): { unsubscribe(): void };
}

export class Status {
  readonly #system: OrrerySystem;
  /** The status machine's compiled lifecycle (its context holds name, timeout, settle time, error, progress). */
  readonly #lc: CompiledLifecycle;
  readonly #createdAt: number;
  /** The callbacks still to run: none, the first one as it is, or an array from the second one on. */
  #callbacks: StatusCallback | StatusCallback[] | undefined = undefined;
  /**
   * Where the status is: `CLAIMED` once a completion was claimed (setFinished/setException, or from inside), and,
   * once done, the index of its outcome (the machine's final state) in `OUTCOMES` times two (see `#outcome`).
   */
  #phase = 0;
  /** What few statuses use (waiters, the abort listener, progress watchers), made on first use. */
  #rare: RareParts | undefined = undefined;

  /**
   * A pending status. Bad options throw InvalidArgumentError, a stopped system SystemStoppedError, before anything
   * is spawned (the combinators and builders too).
   */
  constructor(options: StatusOptions = {}) {
    const { timeout, settleTime, signal, name, system: given, systemId } = checkOptions('Status', options);
    const system = runningSystem(given);
    this.#system = system;
    this.#createdAt = system.clock.now();
    this.#lc = system.spawnCompiled(statusMachine, {
      // `status-<n>`, built when first asked for
      id: ++statusCount,
      systemId,
      input: { timeout, settleTime, name },
      owner: this,
      onDone: Status.#onDone,
      onSystemStop: Status.#onSystemStop,
    });
    // a fresh status is pending; the listener is removed when it completes
    if (signal) {
      const abort = new Lifecycle<null>();
      this.#rareParts().abort = abort;
      abort.onAbort(signal, (reason) => this.cancel(reason));
    }
  }

  /** A name for logs and the inspector (ophyd's `obj.name`), as given. */
  get name(): string | undefined {
    return this.#context.name;
  }

  /** Statuses this one was composed of (Status.all / Status.any), for `contains()`: none for a plain status. */
  protected get parts(): readonly Status[] {
    return NO_PARTS;
  }

  /** The status' actor, as the inspector, `system.get` and `system.inspect` see it (built when first asked for). */
  get actor(): StatusActor {
    return this.#system.actorOf(this.#lc) as unknown as StatusActor;
  }
  get timeout(): number | null {
    return this.#context.timeout;
  }
  get settleTime(): number {
    return this.#context.settleTime;
  }
  /** True once the status has completed, successfully or not. */
  get done(): boolean {
    return this.#phase > CLAIMED;
  }
  /** True once completed successfully. */
  get success(): boolean {
    return this.#outcome === 'succeeded';
  }
  /** The machine's final state once done (the error is the lifecycle's context.error). */
  get #outcome(): StatusOutcome | undefined {
    return OUTCOMES[this.#phase >> 1];
  }
  /** Whether a completion was claimed (setFinished, setException, or from inside). */
  get #claimed(): boolean {
    return (this.#phase & CLAIMED) !== 0;
  }
  /** 'pending' | 'settling' | 'succeeded' | 'failed' | 'timedOut' | 'cancelled'. */
  get state(): 'pending' | 'settling' | StatusOutcome {
    const outcome = this.#outcome;
    if (outcome) return outcome;
    // an active status is in bounded.* or unbounded.* ('starting' is left at once)
    const v = this.#lc.value as {
      bounded?: 'pending' | 'settling';
      unbounded?: 'pending' | 'settling';
    };
    return (v.bounded ?? v.unbounded) as 'pending' | 'settling';
  }
  /** The callbacks still to run. */
  get callbacks(): readonly StatusCallback[] {
    const callbacks = this.#callbacks;
    if (callbacks === undefined) return NO_CALLBACKS;
    return typeof callbacks === 'function' ? [callbacks] : callbacks;
  }

  /** Mark as finished successfully (after settleTime). Allowed once; see the late-call rule in `setException`. */
  setFinished(): void {
    if (this.#claimCompletion()) this.#lc.send(FINISH);
  }

  /**
   * Mark as failed with `error` (an Error instance, or an Error class which is instantiated). Allowed once:
   * a second setFinished/setException throws InvalidStateError. After a timeout or cancellation, the first late
   * call is ignored (ophyd: "to no effect because the callbacks have already been called"), later ones throw.
   */
  setException(error: Error | (new () => Error)): void {
    const err = Status.#toException(error);
    if (this.#claimCompletion()) this.#send({ type: 'FAIL', error: err });
  }

  /**
   * Cancel a pending (or settling) status: done, not success, `exception()` is a CancelledError (`reason` itself
   * when it is one). No-op once done.
   */
  cancel(reason?: unknown): void {
    if (this.done) return;
    // (never throws: a reason that throws when looked at, a revoked Proxy, is no CancelledError)
    const err = isInstance(reason, CancelledError)
      ? reason
      : new CancelledError(`${this} was cancelled${reason === undefined ? '' : `: ${reasonText(reason)}`}`, {
          cause: reason,
        });
    this.#send({ type: 'CANCEL', error: err });
  }

  /**
   * Register `cb(status)`, run once on completion; immediately if already done. Exceptions (and the rejection of
   * an async callback's promise) are logged.
   */
  addCallback(cb: StatusCallback): void {
    if (typeof cb !== 'function') throw new InvalidArgumentError('addCallback needs a function');
    if (this.done) this.#runCallback(cb);
    else {
      const callbacks = this.#callbacks;
      if (callbacks === undefined) this.#callbacks = cb;
      else if (typeof callbacks === 'function') this.#callbacks = [callbacks, cb];
      else callbacks.push(cb);
    }
  }

  /** The failure, or null while pending or on success. */
  exception(): Error | null {
    return this.#outcome === undefined ? null : this.#context.error;
  }

  /**
   * Resolve on success; reject with the status' error on failure, or with WaitTimeoutError if it is still
   * pending after `timeoutMs` (the status itself is not affected).
   */
  wait(timeoutMs?: number): Promise<void> {
    const ms = checkDuration('wait timeout', timeoutMs, true);
    const error = this.exception();
    if (this.done) return error ? Promise.reject(error) : Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (!isNever(ms)) {
        waiter.timer = this.#system.clock.setTimeout(() => {
          this.#rare?.waiters?.delete(waiter);
          reject(new WaitTimeoutError(`${this} has not completed yet.`));
        }, ms as number);
      }
      const rare = this.#rareParts();
      rare.waiters ??= new Set();
      rare.waiters.add(waiter);
    });
  }

  /**
   * Like ophyd's `exception(timeout)`: the error (null on success) once done; WaitTimeoutError if still pending.
   * The status' own error is returned whatever its class: one that failed with a WaitTimeoutError (an awaited
   * child's `wait(ms)` gave up in a `watchable` iterator or a predicate) is done, not still pending.
   */
  async waitForException(timeoutMs?: number): Promise<Error | null> {
    try {
      await this.wait(timeoutMs);
      return null;
    } catch (err) {
      if (this.done && err === this.exception()) return err as Error;
      throw err;
    }
  }

  /** Publish a progress update (ophyd-async WatcherUpdate fields). Ignored once done. */
  update(progress: StatusProgress): void {
    if (progress === null || typeof progress !== 'object')
      throw new InvalidArgumentError('update needs an object');
    if (this.done) return;
    const lc = this.#lc;
    const update = { ...progress };
    // an update that cannot be keyed (BigInt, a cycle) throws InvalidArgumentError before any state changes
    const key = progressKey(update);
    this.#send({ type: 'PROGRESS', update });
    // watchers exist from the first update on, so `lastUpdate` and a late `watch()` see it with its elapsed time
    const recorded = (lc.context as StatusContext).progress;
    if (recorded && lc.status === 'active') {
      this.#progressWatchers().publish(recorded, recorded === update ? key : undefined);
    }
  }

  /** The latest progress update, with elapsed/remaining, or undefined. */
  get lastUpdate(): WatcherUpdate | undefined {
    return this.#rare?.watchers?.last;
  }

  /**
   * Progress updates as an async iterator: the latest update first (if any), then each new one (identical
   * consecutive updates are de-duplicated); ends when the status succeeds, throws its error when it fails
   * (a stopped system's SystemStoppedError included). A watcher that falls more than 1,000 updates behind
   * loses the oldest ones; `return()` (or `break` in `for await`) detaches it.
   */
  watch(): AsyncIterableIterator<WatcherUpdate> {
    return this.#progressWatchers().iterator(this.done ? { error: this.exception() } : undefined);
  }

  #progressWatchers(): ProgressWatchers {
    const rare = this.#rareParts();
    rare.watchers ??= new ProgressWatchers(this.#createdAt, () => this.#system.clock.now());
    return rare.watchers;
  }

  #rareParts(): RareParts {
    this.#rare ??= { waiters: undefined, abort: undefined, watchers: undefined, releaseParts: undefined };
    return this.#rare;
  }

  /** True if `status` is this one or one it was composed of (recursively), like ophyd's `in` on AndStatus. */
  contains(status: Status): boolean {
    return status === this || this.parts.some((p) => p.contains(status));
  }

  /** ophyd's `a & b`. */
  and(other: Status): Status {
    return Status.all([this, other]);
  }

  /**
   * Succeeds when every status succeeds; fails as soon as one fails, with an AggregateStatusError whose
   * `errors` are the failures of every child that had failed by then (ophyd's AndStatus keeps none).
   */
  static all(statuses: readonly Status[], options: StatusOptions = {}): Status {
    return Status.#compose('Status.all', statuses, options, null, (parts) => {
      const failed = parts.filter((s) => s.done && !s.success);
      if (failed.length)
        return new AggregateStatusError(`${failed.length} of ${parts.length} statuses failed`, errs(failed));
      return parts.every((s) => s.success) ? null : undefined;
    });
  }

  /** Succeeds as soon as one status succeeds; fails when all have failed, keeping every error. */
  static any(statuses: readonly Status[], options: StatusOptions = {}): Status {
    return Status.#compose(
      'Status.any',
      statuses,
      options,
      new AggregateStatusError('Status.any of no statuses', []),
      (parts) => {
        if (parts.some((s) => s.success)) return null;
        return parts.every((s) => s.done)
          ? new AggregateStatusError(`all ${parts.length} statuses failed`, errs(parts))
          : undefined;
      },
    );
  }

  /**
   * A status that completes when `decide(parts)` says so, re-asked whenever a part completes: undefined = not
   * yet, null = success, an Error = failure. `empty` is the outcome for no parts at all. Runs in the system of
   * `options.system`, else of the first part. When its own system stops, it fails with that SystemStoppedError
   * (not with an aggregate of its parts' ones).
   */
  static #compose(
    facade: string,
    statuses: readonly Status[],
    options: StatusOptions,
    empty: Error | null,
    decide: (parts: readonly Status[]) => Error | null | undefined,
  ): Status {
    const parts = Status.#checkParts(statuses);
    const checked = checkOptions(facade, options);
    const combined = new ComposedStatus(
      { ...checked, system: checked.system ?? (parts.length ? parts[0].#system : undefined) },
      parts,
    );
    const check = () => {
      // a part ended by the stop of the combined status' own system: its stop hook ends it next
      if (combined.done || combined.#system.stopped) return;
      const outcome = decide(parts);
      if (outcome !== undefined) combined.#complete(outcome);
    };
    // once done, the combined status leaves no check behind on a part that outlives it
    combined.#rareParts().releaseParts = () => {
      for (const s of parts) s.#removeCallback(check);
    };
    for (const s of parts) {
      if (combined.done) break;
      s.addCallback(check);
    }
    if (!parts.length) combined.#complete(empty);
    return combined;
  }

  /**
   * ophyd-async WatchableAsyncStatus: a status driven by progress updates; succeeds when they end, fails with
   * any error out of the iterator (a StatusTimeoutError of an awaited child included).
   *
   * `updates` is an async (or sync) iterable, or a factory `(signal) => iterable` called once, at once. When the
   * status completes other than by the updates ending or throwing (cancel, its signal, timeout, setException,
   * setFinished, system stop), `signal` is aborted with the status' error (a CancelledError after a
   * setFinished) and the iterator's `return()` is called, so cooperative work stops (ophyd-async cancels the
   * task). Invalid options throw InvalidArgumentError before the factory is called, and anything that is not
   * an iterable of updates before anything is spawned.
   */
  static watchable(updates: StatusUpdates | StatusUpdatesFactory, options: StatusOptions = {}): Status {
    const checked = checkOptions('Status.watchable', options);
    // a stopped system refuses before the factory starts any work
    runningSystem(checked.system);
    const controller = new AbortController();
    const source = typeof updates === 'function' ? updates(controller.signal) : updates;
    if (!isIterable(source)) {
      const err = new InvalidArgumentError(
        `Status.watchable needs an async iterable of progress updates, or a function (signal) => one; got ${describe(source)}`,
      );
      controller.abort(err);
      throw err;
    }
    let opened: ReturnType<typeof openIterator> | undefined;
    let status: Status;
    try {
      opened = openIterator(source);
      status = new Status(checked);
    } catch (err) {
      controller.abort(err);
      if (opened) closeIterator(opened.iterator, () => {});
      throw err;
    }
    const { iterator, sync } = opened;
    // true once the iterator ended or threw by itself: nothing to stop then
    let finished = false;
    status.addCallback(() => {
      if (finished) return;
      controller.abort(
        status.exception() ?? new CancelledError(`${status} completed before its updates ended`),
      );
      closeIterator(iterator, (err) =>
        status.#logger.warn({ err }, 'closing the updates iterator of a watchable Status failed'),
      );
    });
    if (!status.done) void status.#consume(iterator, sync, () => (finished = true));
    return status;
  }

  /**
   * ophyd's SubscriptionStatus: a status that succeeds when `predicate(value)` holds for a value passed to the
   * callback that `subscribe(callback)` registers. `subscribe` is called once, at once, and returns an unsubscribe
   * function or an object with `unsubscribe()` (an RxJS or XState subscription); it may call the callback before it
   * returns (a current value). The subscription is released exactly once on every ending path: success, timeout,
   * cancel (`cancel()` or `options.signal`), a predicate that throws (the status fails with that error), a
   * caller's setFinished/setException, and the system's stop. Values after that are ignored.
   *
   * A `subscribe` that throws fails the status with its error and rethrows it; one that returns anything else than
   * an unsubscribe function or object fails it and throws InvalidArgumentError. Invalid arguments throw
   * InvalidArgumentError before anything is spawned or subscribed.
   */
  static fromSubscription<T>(
    subscribe: (callback: (value: T) => void) => SubscriptionRelease,
    predicate: (value: T) => boolean,
    options: StatusOptions = {},
  ): Status {
    if (typeof subscribe !== 'function') {
      throw new InvalidArgumentError(
        `Status.fromSubscription needs a subscribe function, got ${describe(subscribe)}`,
      );
    }
    if (typeof predicate !== 'function') {
      throw new InvalidArgumentError(
        `Status.fromSubscription needs a predicate function, got ${describe(predicate)}`,
      );
    }
    const status = new Status(checkOptions('Status.fromSubscription', options));
    return status.#follow((check) => {
      const release = subscribe((value: T) => check(() => predicate(value)));
      if (typeof release === 'function') return () => release();
      if (release !== null && typeof release === 'object' && typeof release.unsubscribe === 'function') {
        return () => release.unsubscribe();
      }
      throw new InvalidArgumentError(
        `subscribe must return an unsubscribe function or an object with unsubscribe(), got ${describe(release)}`,
      );
    });
  }

  /**
   * ophyd's MoveStatus for an actor: a status that succeeds when `predicate(snapshot)` holds for the actor's
   * current snapshot or a later one. It fails with the actor's error if the actor errors, and with an
   * UnknownStatusFailure if the actor stops (or reaches a final state) before the predicate held; an actor that
   * already ended is judged by its last snapshot. The actor is not
   * stopped by the status; the status' subscription to it is released on every ending path, as in
   * `fromSubscription`. A predicate that throws fails the status with that error.
   */
  static fromActor<TSnapshot>(
    actor: FollowedActor<TSnapshot>,
    predicate: (snapshot: TSnapshot) => boolean,
    options: StatusOptions = {},
  ): Status {
    if (
      actor === null ||
      typeof actor !== 'object' ||
      typeof actor.subscribe !== 'function' ||
      typeof actor.getSnapshot !== 'function'
    ) {
      throw new InvalidArgumentError(
        `Status.fromActor needs an actor (with subscribe and getSnapshot), got ${describe(actor)}`,
      );
    }
    if (typeof predicate !== 'function') {
      throw new InvalidArgumentError(
        `Status.fromActor needs a predicate function, got ${describe(predicate)}`,
      );
    }
    const status = new Status(checkOptions('Status.fromActor', options));
    const who = `actor ${typeof actor.id === 'string' ? actor.id : describe(actor)}`;
    return status.#follow((check, fail) => {
      const examine = (snapshot: TSnapshot) => {
        check(() => predicate(snapshot));
        const s = snapshot as { status?: unknown; error?: unknown } | null;
        if (s === null || typeof s !== 'object') return;
        if (s.status === 'error') fail(toError(s.error));
        else if (s.status === 'done' || s.status === 'stopped') {
          fail(new UnknownStatusFailure(`${who} ended (${s.status}) before ${status} was finished`));
        }
      };
      // the current snapshot first: an actor that already ended is judged by its last snapshot, not subscribed to
      examine(actor.getSnapshot());
      if (status.done || status.#claimed) return () => {};
      const subscription = actor.subscribe({
        next: examine,
        error: (err) => fail(toError(err)),
        complete: () => fail(new UnknownStatusFailure(`${who} stopped before ${status} was finished`)),
      });
      return () => subscription.unsubscribe();
    });
  }

  /**
   * Drive this status from a source: `attach(check, fail)` subscribes and returns the release function. `check(p)`
   * succeeds the status when `p()` is true and fails it with what `p` throws; `fail(err)` fails it. Both are
   * no-ops once the status is done or its completion claimed. The release runs once, when the status is done (or
   * at once if it was done before `attach` returned); an `attach` that throws fails the status and rethrows.
   */
  #follow(attach: (check: (p: () => boolean) => void, fail: (err: Error) => void) => () => void): Status {
    const settled = () => this.done || this.#claimed;
    const check = (p: () => boolean) => {
      if (settled()) return;
      let held: boolean;
      try {
        held = p();
      } catch (err) {
        this.#complete(toError(err));
        return;
      }
      if (held) this.#complete(null);
    };
    const fail = (err: Error) => {
      if (!settled()) this.#complete(err);
    };
    let release: (() => void) | undefined;
    let released = false;
    const releaseOnce = () => {
      if (released || !release) return;
      released = true;
      try {
        release();
      } catch (err) {
        this.#logger.warn({ err }, 'releasing the subscription of a Status failed');
      }
    };
    // a status cancelled at birth (an aborted signal) subscribes to nothing
    if (this.done) return this;
    this.addCallback(releaseOnce);
    try {
      release = attach(check, fail);
    } catch (err) {
      this.#complete(toError(err));
      throw err;
    }
    if (this.done) releaseOnce();
    return this;
  }

  /**
   * The loop of `watchable`; never rejects. `ended()` is called when the iterator itself ends or throws (or
   * breaks the iterator protocol); a bad update fails the status without it, so the iterator is returned.
   */
  async #consume(iterator: Iterator<unknown> | AsyncIterator<unknown>, sync: boolean, ended: () => void) {
    // updates ready at once must not hold the event loop (the timeout, or a cancel() from a timer, could never come)
    const share = new EventLoopShare();
    for (;;) {
      let value: unknown;
      try {
        const result = iteratorResult(await iterator.next(), "the updates' iterator");
        if (result.done) {
          ended();
          this.#complete(null);
          return;
        }
        // as `for await` does, a sync iterator's values are awaited
        value = sync ? await result.value : result.value;
      } catch (err) {
        ended();
        this.#complete(asFailure(err));
        return;
      }
      if (this.done) return;
      try {
        this.update(value as StatusProgress);
      } catch (err) {
        this.#complete(asFailure(err));
        return;
      }
      const turn = share.turn();
      if (turn) {
        await turn;
        if (this.done) return;
      }
    }
  }

  toString(): string {
    const name = this.name ? `name=${this.name}, ` : '';
    return `Status(${name}id=${this.#lc.id}, done=${this.done}, success=${this.success})`;
  }

  /**
   * Complete from inside (combinators, watchable): succeed when `error` is null, else fail with it, whatever its
   * type (the timeout-error ban is for callers of setException). Never throws: a no-op once done or once a
   * completion was claimed, as when a combinator already settling sees another part complete. Claims the
   * completion, so a caller's later setFinished/setException throws InvalidStateError as in ophyd.
   */
  #complete(error: Error | null): void {
    // once claimed, the status is done or settling, and a settling status ignores FINISH and FAIL
    if (this.done) return;
    this.#phase |= CLAIMED;
    this.#send(error ? { type: 'FAIL', error } : FINISH);
  }

  /** `system.stop()` while pending or settling: fail with its SystemStoppedError (a CancelledError). */
  static #onSystemStop(this: void, error: SystemStoppedError, lc: CompiledLifecycle): void {
    (lc.owner as Status).cancel(error);
  }

  /** The lifecycle reached a final state: one function for every status (the status is the lifecycle's owner). */
  static #onDone(this: void, lc: CompiledLifecycle): void {
    (lc.owner as Status).#finish(lc);
  }

  /** Send the machine one of its events. */
  #send(event: StatusEvent): void {
    this.#lc.send(event);
  }

  get #context(): StatusContext {
    return this.#lc.context as StatusContext;
  }

  get #logger() {
    return this.#system.loggerFor(this.actor, 'status').logger;
  }

  /** The ophyd completion rule; returns true if the event should be sent. */
  #claimCompletion(): boolean {
    if (this.#claimed) {
      throw new InvalidStateError(
        `Either setFinished() or setException() has already been called on ${this}`,
      );
    }
    this.#phase |= CLAIMED;
    return !this.done;
  }

  /** Done: the outcome recorded, the abort listener released, then callbacks, waiters and watchers told. */
  #finish(lc: CompiledLifecycle): void {
    // a top-level final state: its value is its name
    this.#phase = (this.#phase & CLAIMED) | (OUTCOMES.indexOf(lc.value as StatusOutcome) << 1);
    const error = (lc.context as StatusContext).error;
    const rare = this.#rare;
    const abort = rare?.abort;
    if (abort) {
      rare!.abort = undefined;
      abort.end(null);
    }
    const releaseParts = rare?.releaseParts;
    if (releaseParts) {
      rare!.releaseParts = undefined;
      releaseParts();
    }
    const callbacks = this.#callbacks;
    if (callbacks !== undefined) {
      this.#callbacks = undefined;
      if (typeof callbacks === 'function') this.#runCallback(callbacks);
      else for (const cb of callbacks) this.#runCallback(cb);
    }
    const waiters = rare?.waiters;
    if (waiters) {
      rare!.waiters = undefined;
      for (const w of waiters) {
        if (w.timer !== undefined) this.#system.clock.clearTimeout(w.timer);
        if (error) w.reject(error);
        else w.resolve();
      }
    }
    rare?.watchers?.end(error);
  }

  /** Remove one registration of `cb` (a no-op if it has none, or once done: the callbacks were taken then). */
  #removeCallback(cb: StatusCallback): void {
    const callbacks = this.#callbacks;
    if (callbacks === cb) this.#callbacks = undefined;
    else if (Array.isArray(callbacks)) {
      const i = callbacks.indexOf(cb);
      if (i >= 0) callbacks.splice(i, 1);
    }
  }

  /** Run `cb(this)`; what it throws, or what an async callback's promise rejects with, is logged. */
  #runCallback(cb: StatusCallback): void {
    try {
      const returned: unknown = cb(this);
      if (isThenable(returned)) Promise.resolve(returned).catch((err) => this.#callbackFailed(err));
    } catch (err) {
      this.#callbackFailed(err);
    }
  }

  #callbackFailed(err: unknown): void {
    this.#logger.error({ err }, 'An error was raised while running a Status callback');
  }

  /**
   * `error` as the Error to fail with (an Error class instantiated), or InvalidArgumentError. A value that throws
   * when looked at (a revoked Proxy, a throwing `prototype` getter or trap) is no Error either: the trap's error is
   * the InvalidArgumentError's cause, never thrown as it is.
   */
  static #toException(error: unknown): Error {
    let err = error;
    try {
      if (typeof err === 'function' && err.prototype instanceof Error) {
        const ErrorClass = err as new () => Error;
        try {
          err = new ErrorClass();
        } catch (cause) {
          throw new InvalidArgumentError(
            `could not instantiate ${ErrorClass.name} without arguments; pass an instance instead`,
            { cause },
          );
        }
      }
      if (!(err instanceof Error)) {
        throw new InvalidArgumentError(`Expected an Error, got ${typeof error}: ${describe(error)}`);
      }
      if (err instanceof StatusTimeoutError || err instanceof WaitTimeoutError) {
        throw new InvalidArgumentError(
          `${err.constructor.name} has special significance and cannot be set as the exception. ` +
            'Use a plain TimeoutError instead.',
        );
      }
    } catch (cause) {
      if (isInvalidArgument(cause)) throw cause;
      throw new InvalidArgumentError(`Expected an Error, got ${typeof error}: ${describe(error)}`, { cause });
    }
    return err as Error;
  }

  /**
   * A copy of `statuses`, checked to be Status objects; else InvalidArgumentError, also for a list or a part that
   * throws when looked at (a revoked Proxy), the thrown error as cause.
   */
  static #checkParts(statuses: readonly Status[]): Status[] {
    try {
      if (Array.isArray(statuses)) {
        const parts = [...statuses];
        if (parts.every((s) => s instanceof Status)) return parts;
      }
    } catch (cause) {
      throw new InvalidArgumentError('expected an array of Status objects', { cause });
    }
    throw new InvalidArgumentError('expected an array of Status objects');
  }
}

let statusCount = 0;
const NO_PARTS: readonly Status[] = Object.freeze([]);
const NO_CALLBACKS: readonly StatusCallback[] = Object.freeze([]);
const FINISH = Object.freeze({ type: 'FINISH' as const });

/** The checked options of a Status (what the constructor and the builders use; never the caller's object again). */
interface CheckedStatusOptions {
  timeout: number | null;
  settleTime: number;
  signal: AbortSignal | undefined;
  name: string | undefined;
  system: OrrerySystem | undefined;
  systemId: string | undefined;
}

/**
 * Read and validate every option once, before anything is spawned (a bad option must not leave an orphan actor
 * registered, nor a getter read a second time leave a status half built): `readOptions`' rules (see
 * `lifecycle.ts`), written out for the Status, whose construction is the hot path of every lifecycle (named reads
 * of a caller's usual `{ timeout }` stay monomorphic; the generic reader cost a third of the Status throughput).
 * Throws InvalidArgumentError naming `facade`; returns the checked options, which a constructor given them reads
 * safely.
 */
function checkOptions(facade: string, options: unknown): CheckedStatusOptions {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new InvalidArgumentError(`${facade} options must be an object, got ${describe(options)}`);
  }
  if (options === undefined)
    return checkValues(facade, undefined, undefined, undefined, undefined, undefined, undefined);
  const o = options as StatusOptions;
  // each option read once, in this order; `at` names the one being read when a getter or a Proxy trap throws
  let at = 'timeout';
  let timeout: unknown;
  let settleTime: unknown;
  let signal: unknown;
  let name: unknown;
  let system: unknown;
  let systemId: unknown;
  try {
    timeout = o.timeout;
    at = 'settleTime';
    settleTime = o.settleTime;
    at = 'signal';
    signal = o.signal;
    at = 'name';
    name = o.name;
    at = 'system';
    system = o.system;
    at = 'systemId';
    systemId = o.systemId;
  } catch (cause) {
    throw optionError(facade, at, 'read', cause);
  }
  return checkValues(facade, timeout, settleTime, signal, name, system, systemId);
}

function checkValues(
  facade: string,
  timeout: unknown,
  settleTime: unknown,
  signal: unknown,
  name: unknown,
  system: unknown,
  systemId: unknown,
): CheckedStatusOptions {
  let at = 'timeout';
  try {
    const t = checkDuration('timeout', timeout, true);
    at = 'settleTime';
    // null as ophyd's settle_time=None: no settling
    const settle = settleTime === null ? 0 : (checkDuration('settleTime', settleTime, false) ?? 0);
    at = 'signal';
    const sig = checkSignal(signal);
    at = 'name';
    if (name !== undefined && typeof name !== 'string') {
      throw new InvalidArgumentError(`name must be a string, got ${describe(name)}`);
    }
    at = 'system';
    const sys = checkSystem(system);
    at = 'systemId';
    // system.spawnCompiled checks it again before it registers anything, but describes a bad one with String()
    if (systemId !== undefined && (typeof systemId !== 'string' || systemId === '')) {
      throw new InvalidArgumentError(`systemId must be a non-empty string, got ${describe(systemId)}`);
    }
    return {
      timeout: t,
      settleTime: settle,
      signal: sig,
      name: name as string | undefined,
      system: sys,
      systemId: systemId as string | undefined,
    };
  } catch (cause) {
    if (isInvalidArgument(cause)) throw cause;
    throw optionError(facade, at, 'checked', cause);
  }
}

/**
 * The system a status runs in (`resolveSystem`); a stopped one throws SystemStoppedError before anything is spawned,
 * as BackgroundTask.run(), StreamingTask.start() and TimeoutIterator.next() do (the engine's refusal to spawn is an
 * ActorRegistryError, which says nothing of why).
 */
function runningSystem(system: OrrerySystem | undefined): OrrerySystem {
  const resolved = resolveSystem(system);
  if (resolved.stopped) throw new SystemStoppedError('the actor system has been stopped');
  return resolved;
}

/** An object with an async or sync iterator (strings excluded: their characters are no progress updates). */
function isIterable(value: unknown): value is StatusUpdates {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
  return typeof v[Symbol.asyncIterator] === 'function' || typeof v[Symbol.iterator] === 'function';
}

function openIterator(source: StatusUpdates): {
  iterator: AsyncIterator<unknown> | Iterator<unknown>;
  sync: boolean;
} {
  const asyncIt = (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
  const iterator = asyncIt ? asyncIt.call(source) : (source as Iterable<unknown>)[Symbol.iterator]();
  if (typeof (iterator as Partial<Iterator<unknown>> | null)?.next !== 'function') {
    throw new InvalidArgumentError(`the updates' iterator has no next() method: ${describe(iterator)}`);
  }
  return { iterator, sync: !asyncIt };
}

/** Call the iterator's `return()`, if it has one; a throw or rejection goes to `onError`, never further. */
function closeIterator(
  iterator: AsyncIterator<unknown> | Iterator<unknown>,
  onError: (err: unknown) => void,
): void {
  try {
    Promise.resolve(iterator.return?.()).catch(onError);
  } catch (err) {
    onError(err);
  }
}

/**
 * A thrown value as a status failure: an Error as it is, anything else in an UnknownStatusFailure (its cause).
 * Never throws: `#consume` must not reject (the status would stay pending), and `instanceof` on a revoked Proxy
 * throws, so such a value is no Error.
 */
function asFailure(err: unknown): Error {
  return isInstance(err, Error) ? err : new UnknownStatusFailure(describe(err), { cause: err });
}

/**
 * A cancellation reason as text: a string as it is, an Error by its message, anything else described; never
 * throws (cancel() also runs in the signal's abort listener, where a throw is an uncaught exception).
 */
function reasonText(reason: unknown): string {
  if (typeof reason === 'string') return reason;
  try {
    return reason instanceof Error ? String(reason.message) : describe(reason);
  } catch {
    return 'an unreadable value';
  }
}

/** The errors of failed statuses (every failed status has one). */
function errs(failed: readonly Status[]): Error[] {
  return failed.map((s) => s.exception() as Error);
}

/** A status composed of others (Status.all / Status.any). */
class ComposedStatus extends Status {
  readonly #parts: readonly Status[];
  constructor(options: StatusOptions, parts: readonly Status[]) {
    super(options);
    this.#parts = parts;
  }
  protected override get parts(): readonly Status[] {
    return this.#parts;
  }
}
