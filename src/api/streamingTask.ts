/**
 * PST `StreamingTask` in TypeScript idiom: consume the items of a generator in the background and hand each to a
 * handler, until stopped or the generator ends. The generator gets an AbortSignal (upstream: a threading.Event
 * abort event) that `stop()` aborts. Each `start()` runs one `streamingTask` machine actor.
 */

import { type Actor, fromPromise } from 'xstate';
import {
  type StreamingTaskOutcome,
  type StreamingTaskSnapshot,
  streamingTaskMachine,
} from '../../machines/core/streamingTask.js';
import { isThenable } from '../../machines/core/thenable.js';
import { checkLogger, type Logger } from '../engine/logging.js';
import type { OrrerySystem } from '../engine/system.js';
import { InvalidArgumentError, SystemStoppedError, toError } from '../errors.js';
import {
  checkSignal,
  checkSystem,
  describe,
  EventLoopShare,
  iteratorResult,
  Lifecycle,
  readOptions,
  resolveSystem,
} from './lifecycle.js';

export type ItemGenerator<T> = (signal: AbortSignal) => AsyncIterable<T> | Iterable<T>;
export type ItemHandler<T> = (item: T) => void | Promise<void>;

export interface StreamingTaskOptions {
  /** Called with an error of the generator or of the handler (the stream then ends); logged when absent. */
  exceptionHandler?: (error: Error) => void;
  logger?: Logger;
  system?: OrrerySystem;
}

const ABORTED = Symbol('aborted');

/** Resolves with ABORTED when `signal` aborts; `dispose()` removes the listener. */
function whenAborted(signal: AbortSignal): { promise: Promise<typeof ABORTED>; dispose: () => void } {
  let listener = () => {};
  const promise = new Promise<typeof ABORTED>((resolve) => {
    listener = () => resolve(ABORTED);
    if (signal.aborted) resolve(ABORTED);
    else signal.addEventListener('abort', listener, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', listener) };
}

/** A signal that aborts when either does. */
function eitherAborted(a: AbortSignal, b: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const abort = () => controller.abort();
  for (const signal of [a, b]) {
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  }
  return controller.signal;
}

/**
 * The iterator of what the item generator returned. One without a `next()` method breaks the iterator protocol:
 * an InvalidArgumentError (JS itself throws a TypeError), as `Status.watchable` and `TimeoutIterator` report it.
 */
function iteratorOf<T>(iterable: unknown): Iterator<T> | AsyncIterator<T> {
  const it = iterable as Record<symbol, unknown> | null;
  const open =
    it !== null && typeof it === 'object'
      ? typeof it[Symbol.asyncIterator] === 'function'
        ? it[Symbol.asyncIterator]
        : it[Symbol.iterator]
      : undefined;
  if (typeof open !== 'function') {
    throw new InvalidArgumentError('the item generator must return an iterable or an async iterable');
  }
  const iterator = open.call(it) as Iterator<T> | AsyncIterator<T>;
  if (typeof (iterator as Partial<Iterator<T>> | null)?.next !== 'function') {
    throw new InvalidArgumentError(
      `the item generator's iterator has no next() method: ${describe(iterator)}`,
    );
  }
  return iterator;
}

/**
 * Pull items and hand them to `handler` until the generator ends or `signal` aborts. What the generator throws once
 * `signal` has aborted is the stop it was asked for (an aborted fetch, say) and ends the run quietly; what the
 * handler throws is always the run's error, even when a stop came while it ran: the handler is never told of a stop.
 */
async function consume<T>(
  generator: ItemGenerator<T>,
  handler: ItemHandler<T>,
  signal: AbortSignal,
): Promise<void> {
  const iterator = iteratorOf<T>(generator(signal));
  const abort = whenAborted(signal);
  // items ready at once must not hold the event loop (a stop() from a timer could never come)
  const share = new EventLoopShare();
  let exhausted = false;
  let handling = false;
  try {
    while (!signal.aborted) {
      const raced = await Promise.race([iterator.next(), abort.promise]);
      if (raced === ABORTED || signal.aborted) return;
      // a result that is not an object would be handed on as `undefined` for ever (a number) or fail untyped (null)
      const result = iteratorResult(raced, "the item generator's iterator") as IteratorResult<T>;
      if (result.done) {
        exhausted = true;
        return;
      }
      handling = true;
      await handler(result.value);
      handling = false;
      const turn = share.turn();
      if (turn) await turn;
    }
  } catch (err) {
    if (handling || !signal.aborted) throw err;
  } finally {
    abort.dispose();
    if (!exhausted) {
      Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => {});
    }
  }
}

/** Each StreamingTask option's check, in the order they are checked. */
const OPTION_CHECKS = {
  exceptionHandler: (value: unknown): ((error: Error) => void) | undefined => {
    if (value !== undefined && typeof value !== 'function') {
      throw new InvalidArgumentError(`exceptionHandler must be a function, got ${describe(value)}`);
    }
    return value as ((error: Error) => void) | undefined;
  },
  logger: (value: unknown) => checkLogger('logger', value),
  system: checkSystem,
} as const;

const START_OPTION_CHECKS = { signal: checkSignal } as const;

export class StreamingTask<T> {
  readonly taskName: string;
  readonly #generator: ItemGenerator<T>;
  readonly #handler: ItemHandler<T>;
  readonly #exceptionHandler: ((error: Error) => void) | undefined;
  readonly #logger: Logger | undefined;
  readonly #system: OrrerySystem;
  #actor: Actor<typeof streamingTaskMachine> | undefined;
  #done: Promise<void> = Promise.resolve();
  #outcome: StreamingTaskOutcome | null = null;

  constructor(
    taskName: string,
    itemGenerator: ItemGenerator<T>,
    itemHandler: ItemHandler<T>,
    options: StreamingTaskOptions = {},
  ) {
    if (typeof taskName !== 'string' || taskName === '') {
      throw new InvalidArgumentError(
        `taskName must be a non-empty string, got ${taskName === '' ? 'an empty string' : typeof taskName}`,
      );
    }
    if (typeof itemGenerator !== 'function')
      throw new InvalidArgumentError('itemGenerator must be a function');
    if (typeof itemHandler !== 'function') throw new InvalidArgumentError('itemHandler must be a function');
    // every option is checked before anything is created or registered (the default system included)
    const { exceptionHandler, logger, system } = readOptions('StreamingTask', options, OPTION_CHECKS);
    this.taskName = taskName;
    this.#generator = itemGenerator;
    this.#handler = itemHandler;
    this.#exceptionHandler = exceptionHandler;
    this.#logger = logger;
    this.#system = resolveSystem(system);
  }

  /** The actor of the current (or last) run. */
  get actor(): Actor<typeof streamingTaskMachine> | undefined {
    return this.#actor;
  }

  /** How the last run ended ('stopped' | 'exhausted' | 'failed'), or null while running or never started. */
  get outcome(): StreamingTaskOutcome | null {
    return this.#outcome;
  }

  /** Resolves when the current (or last) run has ended. */
  get done(): Promise<void> {
    return this.#done;
  }

  /**
   * True while items are being streamed (not once `stop()` was called), or about to be: a run started while the
   * last one was stopping counts from its `start()`.
   */
  isRunning(): boolean {
    const snapshot = this.#actor?.getSnapshot();
    return snapshot?.status === 'active' && snapshot.matches({ running: 'streaming' });
  }

  /**
   * Start streaming; a no-op while running (`isRunning()`). Aborting `signal` stops this run. Called while the last
   * run is still stopping (`task.stop(); task.start()`), it starts a new run at once (`isRunning()`, `done`, `stop()`
   * are the new run's) whose generator is called once the stopping run has ended, so two runs never hand items to
   * the handler at the same time. Throws SystemStoppedError on a stopped system (the last run's outcome and `done`
   * stay as they were).
   */
  start(options: { signal?: AbortSignal } = {}): void {
    const { signal } = readOptions('StreamingTask.start', options, START_OPTION_CHECKS);
    const last = this.#actor?.getSnapshot();
    // (a run that is active and not streaming is stopping: it only waits for its consumer to return)
    if (last?.status === 'active' && this.isRunning()) return;
    if (signal?.aborted) return;
    if (this.#system.stopped) throw new SystemStoppedError('the actor system has been stopped');
    const [generator, handler] = [this.#generator, this.#handler];
    // the stopping run's end (its `done` never rejects), or nothing to wait for
    const previous = last?.status === 'active' ? this.#done : undefined;
    const logic = streamingTaskMachine.provide({
      actors: {
        // the machine's signal aborts on STOP, the promise actor's own when the actor is stopped from outside
        consume: fromPromise<void, { signal: AbortSignal }>(({ input, signal: stopped }) => {
          const either = eitherAborted(input.signal, stopped);
          if (!previous) return consume(generator, handler, either);
          return previous.then(() => (either.aborted ? undefined : consume(generator, handler, either)));
        }),
      },
    });
    // spawned first: if spawning throws, the last run's outcome and `done` stay as they were
    const actor = this.#system.spawnDetached(logic, { id: this.taskName });
    // one lifecycle per run: it ends once, and ending removes the run's abort listener
    const run = new Lifecycle<StreamingTaskOutcome>();
    let resolveDone!: () => void;
    this.#done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    this.#outcome = null;
    const finish = (outcome: StreamingTaskOutcome, error: Error | null) => {
      if (!run.end(outcome)) return;
      if (actor === this.#actor) this.#outcome = outcome;
      if (error) this.#reportError(error, actor);
      resolveDone();
    };
    this.#actor = actor;
    actor.subscribe({
      next: (snapshot: StreamingTaskSnapshot) => {
        if (snapshot.status === 'done')
          finish(snapshot.value as StreamingTaskOutcome, snapshot.context.error);
      },
      error: (err) => finish('failed', toError(err)),
      complete: () => finish('stopped', null),
    });
    // this run's signal stops this run only, not a later one started while this one was stopping
    run.onAbort(signal, () => {
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'STOP' });
    });
    actor.send({ type: 'START' });
  }

  /** Stop streaming: aborts the generator's signal; resolves when the consumer has returned. */
  stop(): Promise<void> {
    if (this.#actor?.getSnapshot().status === 'active') this.#actor.send({ type: 'STOP' });
    return this.#done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #reportError(error: Error, actor: Actor<typeof streamingTaskMachine>): void {
    const logger = this.#logger ?? this.#system.loggerFor(actor, 'streamingTask').logger;
    if (!this.#exceptionHandler) {
      logger.error({ err: error, task: this.taskName }, 'Error during processing of streamed items.');
      return;
    }
    const failed = (err: unknown) =>
      logger.error({ err, task: this.taskName }, 'The exception handler of a streaming task threw.');
    try {
      const returned: unknown = this.#exceptionHandler(error);
      // an async handler's rejection is logged as a throw is: unhandled, it would end the process
      if (isThenable(returned)) Promise.resolve(returned).catch(failed);
    } catch (err) {
      failed(err);
    }
  }
}
