/**
 * PST background task processing (ska_pst.lmc.util `BackgroundTask`, `BackgroundTaskProcessor`,
 * `background_task`, `RunState`) in TypeScript idiom: one `backgroundTask` machine actor per task, no thread and no
 * polling reaper. Times are milliseconds, frequencies Hz.
 */

import { type Actor, fromPromise } from 'xstate';
import {
  type BackgroundTaskSnapshot,
  backgroundTaskMachine,
  RunState,
  type RunStateName,
  runStateOf,
} from '../../machines/core/backgroundTask.js';
import { checkDuration, checkFrequency as checkHz } from '../../machines/core/duration.js';
import { isThenable } from '../../machines/core/thenable.js';
import { checkLogger, type Logger } from '../engine/logging.js';
import { Supervisor } from '../engine/supervisor.js';
import type { OrrerySystem } from '../engine/system.js';
import {
  CancelledError,
  InvalidArgumentError,
  InvalidStateError,
  SystemStoppedError,
  TaskCompletedError,
  toError,
} from '../errors.js';
import {
  checkSignal,
  checkSystem,
  describe,
  Lifecycle,
  nextId,
  readOptions,
  resolveSystem,
} from './lifecycle.js';

// kept here for callers that imported them from this module before `lifecycle.ts` existed
export { checkSignal, checkSystem, RunState, type RunStateName };

/** STARTING or RUNNING (upstream `RunState.running()`). */
export function isRunning(state: RunState): boolean {
  return state === RunState.STARTING || state === RunState.RUNNING;
}

/** ERRORED (upstream `RunState.errored()`). */
export function isErrored(state: RunState): boolean {
  return state === RunState.ERRORED;
}

/** The task's action. It may return a promise; the signal is aborted if the task abandons it (stop timeout). */
export type TaskAction = (signal: AbortSignal) => void | Promise<void>;

export interface BackgroundTaskOptions {
  /** Logger for task errors; the system's `{actor, machine}` child logger by default. */
  logger?: Logger;
  /** Runs per second; absent or null for a one-shot task. */
  frequency?: number | null;
  /**
   * Milliseconds `stop()` waits for an in-flight action before the task errors with a TimeoutError; absent, null
   * or Infinity waits as long as the action takes.
   */
  stopTimeout?: number | null;
  /** Actor system to run in; the process default otherwise. */
  system?: OrrerySystem;
  /** Run the task's actor as a temporary child of this supervisor instead of detached. */
  supervisor?: Supervisor | string;
  /** Aborting it stops the task for good (a task aborted before `run()` completes without running). */
  signal?: AbortSignal;
  /** A name for the actor id and logs. */
  name?: string;
}

export function checkAction(action: unknown): TaskAction {
  if (typeof action !== 'function') {
    throw new InvalidArgumentError(
      `action must be a function, got ${action === null ? 'null' : typeof action}`,
    );
  }
  return action as TaskAction;
}

export function checkFrequency(frequency: unknown): number | null {
  return checkHz('frequency', frequency, true);
}

function checkSupervisor(supervisor: unknown): Supervisor | string | undefined {
  if (
    supervisor !== undefined &&
    !(supervisor instanceof Supervisor) &&
    (typeof supervisor !== 'string' || supervisor === '')
  ) {
    throw new InvalidArgumentError('supervisor must be a Supervisor or the name of one');
  }
  return supervisor;
}

function checkName(name: unknown): string | undefined {
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw new InvalidArgumentError(`name must be a non-empty string, got ${describe(name)}`);
  }
  return name;
}

const checkTaskLogger = (value: unknown) => checkLogger('logger', value);

/** Each BackgroundTask option's check, in the order they are checked. */
const TASK_OPTION_CHECKS = {
  frequency: checkFrequency,
  stopTimeout: (value: unknown) => checkDuration('stopTimeout', value, true),
  system: checkSystem,
  supervisor: checkSupervisor,
  logger: checkTaskLogger,
  signal: checkSignal,
  name: checkName,
} as const;

const PROCESSOR_OPTION_CHECKS = {
  logger: checkTaskLogger,
  system: checkSystem,
  supervisor: checkSupervisor,
} as const;

const SUBMIT_OPTION_CHECKS = { logger: checkTaskLogger, frequency: checkFrequency } as const;

/**
 * Runs `action` once, or `frequency` times a second until stopped, on an actor of the system. The task has to be
 * started explicitly with `run()`; it completes exactly once (finished, stopped or errored) and cannot run again.
 * Its actor is spawned by the first `run()`, so a task that never runs holds nothing.
 */
export class BackgroundTask {
  readonly name: string;
  readonly frequency: number | null;
  readonly stopTimeout: number | null;
  /** Resolves once the task has completed, whatever the outcome (see `exception()`); never rejects. */
  readonly done: Promise<void>;
  readonly #action: TaskAction;
  readonly #system: OrrerySystem;
  readonly #supervisor: Supervisor | string | undefined;
  readonly #logger: Logger | undefined;
  #actor: Actor<typeof backgroundTaskMachine> | undefined;
  #state: RunState = RunState.STOPPED;
  #runs = 0;
  /** Ends once, with the final run state's error; holds the signal's listener and a supervised task's stop hook. */
  readonly #lifecycle = new Lifecycle<{ error: Error | null }>();
  #stopRequested = false;
  #resolveDone!: () => void;
  #completionListeners: Array<(task: BackgroundTask) => void> = [];
  /** The action was called and has not settled yet. */
  #inFlight = false;

  constructor(action: TaskAction, options: BackgroundTaskOptions = {}) {
    // every argument is checked before anything is created or registered (the default system included); an options
    // object that is none is refused before the action is looked at, as it always was
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError(`BackgroundTask options must be an object, got ${describe(options)}`);
    }
    const checkedAction = checkAction(action);
    const { frequency, stopTimeout, system, supervisor, logger, signal, name } = readOptions(
      'BackgroundTask',
      options,
      TASK_OPTION_CHECKS,
    );
    this.#action = checkedAction;
    this.frequency = frequency;
    this.stopTimeout = stopTimeout;
    this.#system = resolveSystem(system);
    this.#supervisor = supervisor;
    this.#logger = logger;
    this.name = name ?? nextId('backgroundTask');
    this.done = new Promise<void>((resolve) => {
      this.#resolveDone = resolve;
    });
    this.#lifecycle.onAbort(signal, () => this.#abortTask());
  }

  /** The task's actor once `run()` was called (for the inspector or `system.inspect`). */
  get actor(): Actor<typeof backgroundTaskMachine> | undefined {
    return this.#actor;
  }

  get state(): RunState {
    return this.#state;
  }

  /** True once the task has finished, been stopped or errored. */
  get completed(): boolean {
    return this.#lifecycle.ended;
  }

  /** Completed runs of the action. */
  get runs(): number {
    return this.#runs;
  }

  /**
   * Start the task. A no-op while it is running; throws TaskCompletedError once it has completed (upstream
   * asserts "Task has already completed, cannot run it again."). On a stopped system it throws
   * SystemStoppedError, and the task completes ERRORED with it.
   */
  run(): void {
    if (this.completed) throw new TaskCompletedError('Task has already completed, cannot run it again.');
    if (this.#actor) return;
    if (this.#system.stopped) {
      const error = new SystemStoppedError('the actor system has been stopped');
      this.#complete(RunState.ERRORED, error);
      throw error;
    }
    const action = this.#action;
    const logic = backgroundTaskMachine.provide({
      actors: {
        // The action starts on the next microtask, so run() returns before any of it runs (upstream starts a
        // thread); a stop() in between means it never starts.
        action: fromPromise<boolean, void>(async ({ signal }) => {
          await undefined;
          if (signal.aborted || this.#stopRequested) return false;
          this.#inFlight = true;
          try {
            await action(signal);
          } finally {
            this.#inFlight = false;
          }
          return true;
        }),
      },
    });
    const input = { frequency: this.frequency, stopTimeout: this.stopTimeout };
    const onSystemStop = (error: SystemStoppedError) => this.#endWithSystem(error);
    const actor =
      this.#supervisor === undefined
        ? this.#system.spawnDetached(logic, { id: this.name, input, onSystemStop })
        : this.#system.spawn(logic, {
            id: this.name,
            input,
            supervisor: this.#supervisor,
            restart: 'temporary',
          }).current!;
    if (this.#supervisor !== undefined) this.#lifecycle.onSystemStop(this.#system, onSystemStop);
    this.#actor = actor;
    actor.subscribe({
      next: (snapshot) => this.#onSnapshot(snapshot),
      error: (err) => this.#complete(RunState.ERRORED, toError(err)),
      // stopped from outside (system.stop(), supervisor shutdown) without reaching a final state
      complete: () => this.#endFromOutside(),
    });
    actor.send({ type: 'RUN' });
  }

  /** STARTING or RUNNING. */
  running(): boolean {
    return isRunning(this.#state);
  }

  hasErrored(): boolean {
    return isErrored(this.#state);
  }

  /** The error that ended the task, or null. */
  exception(): Error | null {
    return this.#lifecycle.outcome?.error ?? null;
  }

  /**
   * Stop the task and resolve once it has completed (after the in-flight action, if any, has settled or the stop
   * timeout expired). Resolves at once if the task is not running; a never-run task can still be run afterwards,
   * as upstream.
   */
  stop(): Promise<void> {
    if (this.completed) return Promise.resolve();
    if (this.#state === RunState.STOPPING) return this.done;
    if (!this.running()) return Promise.resolve();
    this.#stopRequested = true;
    this.#actor?.send({ type: 'STOP' });
    return this.done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Call `listener(task)` once the task completes (at once if it has); used by BackgroundTaskProcessor. */
  onCompleted(listener: (task: BackgroundTask) => void): void {
    if (typeof listener !== 'function') {
      throw new InvalidArgumentError(
        `listener must be a function, got ${listener === null ? 'null' : typeof listener}`,
      );
    }
    if (this.completed) this.#runListener(listener);
    else this.#completionListeners.push(listener);
  }

  toString(): string {
    const name = Object.keys(RunState).find((k) => RunState[k as RunStateName] === this.#state);
    return `BackgroundTask(${this.name}, state=${name}, completed=${this.completed})`;
  }

  /**
   * The system is stopping and will stop the actor next: the task ends now. An action in flight is abandoned
   * (its signal is aborted when the actor stops), so the task ends ERRORED with the SystemStoppedError, as a
   * stop timeout ends it with a TimeoutError; otherwise it simply ends STOPPED.
   */
  #endWithSystem(error: SystemStoppedError): void {
    if (this.#inFlight) this.#complete(RunState.ERRORED, error);
    else this.#complete(RunState.STOPPED, null);
  }

  /**
   * The actor was stopped from outside (a supervisor's `stopChild` or shutdown) before reaching a final state. An
   * action in flight was abandoned (its signal is aborted), so the task ends ERRORED with a CancelledError, as a
   * system stop or a stop timeout ends it with an error: a clean STOPPED would report work that never finished as
   * done. Between runs it simply ends STOPPED.
   */
  #endFromOutside(): void {
    if (this.#inFlight) {
      this.#complete(
        RunState.ERRORED,
        new CancelledError(`Task ${this.name} was stopped from outside; its action was abandoned.`),
      );
    } else this.#complete(this.#state === RunState.ERRORED ? RunState.ERRORED : RunState.STOPPED, null);
  }

  #abortTask(): void {
    if (this.#actor) void this.stop();
    else this.#complete(RunState.STOPPED, null);
  }

  #onSnapshot(snapshot: BackgroundTaskSnapshot): void {
    if (this.completed) return;
    this.#state = runStateOf(snapshot);
    this.#runs = snapshot.context.runs;
    if (snapshot.status === 'done') this.#complete(this.#state, snapshot.context.error);
  }

  #complete(state: RunState, error: Error | null): void {
    // ending the lifecycle removes the signal's listener and a supervised task's system-stop hook
    if (!this.#lifecycle.end({ error })) return;
    this.#state = state;
    if (this.#actor) this.#runs = this.#actor.getSnapshot().context.runs;
    if (error) {
      const logger = this.#taskLogger;
      if (error instanceof SystemStoppedError) {
        logger?.warn({ err: error, task: this.name }, 'Task abandoned: the actor system was stopped.');
      } else logger?.error({ err: error, task: this.name }, 'Error during processing of task.');
    }
    this.#resolveDone();
    const listeners = this.#completionListeners;
    this.#completionListeners = [];
    for (const listener of listeners) this.#runListener(listener);
  }

  /** The task's logger, else its actor's `{actor, machine}` child logger once it has one. */
  get #taskLogger(): Logger | undefined {
    return this.#logger ?? (this.#actor && this.#system.loggerFor(this.#actor, 'backgroundTask').logger);
  }

  /**
   * A throwing completion listener (or an async one whose promise rejects) is logged, as a throwing Status callback
   * is, and the others still run.
   */
  #runListener(listener: (task: BackgroundTask) => void): void {
    try {
      const returned: unknown = listener(this);
      if (isThenable(returned)) Promise.resolve(returned).catch((err) => this.#listenerFailed(err));
    } catch (err) {
      this.#listenerFailed(err);
    }
  }

  #listenerFailed(err: unknown): void {
    (this.#taskLogger ?? this.#system.logger).error(
      { err, task: this.name },
      'An error was raised while running a task completion listener',
    );
  }
}

export interface BackgroundTaskProcessorOptions {
  /** Default logger of the tasks it submits. */
  logger?: Logger;
  system?: OrrerySystem;
  supervisor?: Supervisor | string;
}

/**
 * Submits background tasks and forgets them when they complete. Upstream reaps finished tasks with a 10 Hz polling
 * task (and mutates the list it iterates); here a task leaves `tasks` the moment its actor completes.
 */
export class BackgroundTaskProcessor {
  readonly #tasks = new Set<BackgroundTask>();
  readonly #logger: Logger | undefined;
  readonly #system: OrrerySystem | undefined;
  readonly #supervisor: Supervisor | string | undefined;

  constructor(options: BackgroundTaskProcessorOptions = {}) {
    const { logger, system, supervisor } = readOptions(
      'BackgroundTaskProcessor',
      options,
      PROCESSOR_OPTION_CHECKS,
    );
    this.#logger = logger;
    this.#system = system;
    this.#supervisor = supervisor;
  }

  /** The tasks still running, in submission order. */
  get tasks(): BackgroundTask[] {
    return [...this.#tasks];
  }

  /** Create a task (one-shot, or periodic with `frequency`), run it and return it. */
  submitTask(
    action: TaskAction,
    options: { logger?: Logger; frequency?: number | null } = {},
  ): BackgroundTask {
    const { logger, frequency } = readOptions(
      'BackgroundTaskProcessor.submitTask',
      options,
      SUBMIT_OPTION_CHECKS,
    );
    const task = new BackgroundTask(action, {
      logger: logger ?? this.#logger,
      frequency,
      system: this.#system,
      supervisor: this.#supervisor,
    });
    task.run();
    this.#tasks.add(task);
    task.onCompleted((t) => this.#tasks.delete(t));
    return task;
  }

  /**
   * Stop every task and resolve when all have completed, those submitted while it stops included (an action or a
   * completion listener that submits a follow-up task): none is left running when it resolves.
   */
  async stop(): Promise<void> {
    const asked = new Set<BackgroundTask>();
    for (;;) {
      const fresh = [...this.#tasks].filter((t) => !asked.has(t));
      if (!fresh.length) return;
      for (const t of fresh) asked.add(t);
      await Promise.all(fresh.map((t) => t.stop()));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** An object whose `@backgroundTask` methods run on its processor (upstream `_background_task_processor`). */
export interface HasBackgroundTaskProcessor {
  backgroundTaskProcessor?: BackgroundTaskProcessor;
}

/**
 * Method decorator (TypeScript 5 standard decorators): calling the method submits it, with its arguments, to
 * `this.backgroundTaskProcessor` as a one-shot task and returns at once.
 *
 * Upstream returns None (fire and forget: the outcome only shows in the log); this returns the BackgroundTask, so
 * a caller can await `task.done` and read `task.exception()`. A decorator cannot change a method's type, so
 * declare the method as returning `void | BackgroundTask` to see the task at call sites. Throws InvalidStateError
 * if the object has no `backgroundTaskProcessor` when the method is called.
 */
export function backgroundTask<This extends HasBackgroundTaskProcessor, Args extends unknown[], Return>(
  method: (this: This, ...args: Args) => Return,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Return>,
): (this: This, ...args: Args) => Return {
  const name = String(context.name);
  return function (this: This, ...args: Args): Return {
    const processor = this?.backgroundTaskProcessor;
    if (!(processor instanceof BackgroundTaskProcessor)) {
      throw new InvalidStateError(
        `@backgroundTask method '${name}' needs this.backgroundTaskProcessor to be a BackgroundTaskProcessor`,
      );
    }
    return processor.submitTask(async () => {
      await method.apply(this, args);
    }) as Return;
  };
}
