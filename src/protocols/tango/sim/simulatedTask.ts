/**
 * What a command handler of `SkaDeviceSimulator` gets: one `RunningTask` per executed command. A class (not an
 * object literal with getters and a closure per method): a task is one object, and its methods are bound only when
 * a handler reads them (`task.progress(1)` binds `progress` once; `const { progress } = task` works too).
 */
import { checkDuration } from '../../../../machines/core/duration.js';
import { InvalidArgumentError } from '../../../errors.js';
import { ResultCode, TaskStatus } from '../wire.js';
import type { CommandUpdate } from './skaCommandTracker.js';
import type { SkaDeviceSimulator } from './skaDeviceSimulator.js';

/** What a command handler gets: its arguments, progress reporting, simulated sleep and the abort signal. */
export interface SimulatedTask {
  readonly id: string;
  readonly command: string;
  readonly args: unknown;
  readonly device: SkaDeviceSimulator;
  /** Aborted by `Abort`/`AbortCommands` (and by `close()`). */
  readonly signal: AbortSignal;
  readonly aborted: boolean;
  /** Report IN_PROGRESS now (otherwise at the first progress() or when the handler returns). */
  inProgress(): void;
  progress(value: number | string): void;
  /**
   * Upstream's `task_callback(status=IN_PROGRESS, progress=...)`: report the status and/or the progress in one
   * update (v2: one `_lrcEvent` with both). The only status a task reports itself is IN_PROGRESS (its end comes from
   * what the handler returns or throws); anything else is an InvalidArgumentError.
   */
  update(change: { status?: typeof TaskStatus.IN_PROGRESS; progress?: number | string }): void;
  /** Wait `ms` of simulated time; rejects with CancelledError when the task is aborted. */
  sleep(ms: number): Promise<void>;
}

/** An abort flag whose AbortSignal is only made when a handler asks for it (most never do). */
export class LazyAbort {
  aborted = false;
  #controller: AbortController | undefined;
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#controller?.abort();
  }
}

/** A command waiting in the device's input queue, or executing. */
export interface QueuedTask {
  uid: string;
  name: string;
  args: unknown;
  abort: LazyAbort;
}

/** What a running task needs of its device (one per device, shared by its tasks). */
export interface TaskHost {
  readonly device: SkaDeviceSimulator;
  /** Record a change of the command and push its events (nothing once the device is closed). */
  report(uid: string, change: CommandUpdate): void;
  /** Wait `ms` (checked) of the device's time; rejects with CancelledError on abort or close. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

const IN_PROGRESS: CommandUpdate = Object.freeze({ status: TaskStatus.IN_PROGRESS });

export class RunningTask implements SimulatedTask {
  readonly id: string;
  readonly command: string;
  readonly args: unknown;
  /** IN_PROGRESS was reported. */
  #started = false;
  readonly #host: TaskHost;
  readonly #abort: LazyAbort;
  #inProgressFn: (() => void) | undefined = undefined;
  #progressFn: ((value: number | string) => void) | undefined = undefined;
  #updateFn: SimulatedTask['update'] | undefined = undefined;
  #sleepFn: ((ms: number) => Promise<void>) | undefined = undefined;

  constructor(host: TaskHost, queued: QueuedTask) {
    this.#host = host;
    this.#abort = queued.abort;
    this.id = queued.uid;
    this.command = queued.name;
    this.args = queued.args;
  }

  get device(): SkaDeviceSimulator {
    return this.#host.device;
  }
  get signal(): AbortSignal {
    return this.#abort.signal;
  }
  get aborted(): boolean {
    return this.#abort.aborted;
  }

  // the methods, bound once each when first read (a handler may pass them around unbound)
  get inProgress(): () => void {
    this.#inProgressFn ??= () => this.start();
    return this.#inProgressFn;
  }
  get progress(): (value: number | string) => void {
    this.#progressFn ??= (value) => this.#reportProgress(value);
    return this.#progressFn;
  }
  get update(): SimulatedTask['update'] {
    this.#updateFn ??= (change) => this.#reportUpdate(change);
    return this.#updateFn;
  }
  get sleep(): (ms: number) => Promise<void> {
    this.#sleepFn ??= (ms) =>
      this.#host.sleep(checkDuration('sleep', ms ?? Number.NaN, false)!, this.#abort.signal);
    return this.#sleepFn;
  }

  /** IN_PROGRESS, once, unless aborted. */
  start(): void {
    if (!this.#started && !this.#abort.aborted) {
      this.#started = true;
      this.#host.report(this.id, IN_PROGRESS);
    }
  }

  /** The task's end: what its handler returned (or ABORTED when it was aborted meanwhile). */
  finish(result: unknown): void {
    if (this.#abort.aborted) {
      this.abortedEnd();
      return;
    }
    this.start();
    const code = Array.isArray(result) ? result[0] : ResultCode.OK;
    const status =
      code === ResultCode.FAILED
        ? TaskStatus.FAILED
        : code === ResultCode.ABORTED
          ? TaskStatus.ABORTED
          : TaskStatus.COMPLETED;
    // nothing returned: COMPLETED without a result (upstream invents none)
    this.#host.report(this.id, result === undefined ? { status } : { status, result });
  }

  /** The task's end when its handler threw (ABORTED when it was aborted meanwhile). */
  fail(err: unknown): void {
    if (this.#abort.aborted) {
      this.abortedEnd();
      return;
    }
    const msg = err instanceof Error ? err.message : String(err);
    this.#host.report(this.id, {
      status: TaskStatus.FAILED,
      result: [ResultCode.FAILED, `Unhandled exception during execution: ${msg}`],
    });
  }

  abortedEnd(): void {
    this.#host.report(this.id, {
      status: TaskStatus.ABORTED,
      result: [ResultCode.ABORTED, 'Command has been aborted'],
    });
  }

  #reportProgress(value: number | string): void {
    if (this.#abort.aborted) return;
    this.start();
    this.#host.report(this.id, { progress: value });
  }

  #reportUpdate(change: Parameters<SimulatedTask['update']>[0]): void {
    if (change === null || typeof change !== 'object')
      throw new InvalidArgumentError('task.update needs {status?, progress?}');
    const { status, progress } = change;
    if (status !== undefined && status !== TaskStatus.IN_PROGRESS)
      throw new InvalidArgumentError(
        'task.update: a task reports only IN_PROGRESS; its end is what the handler returns or throws',
      );
    if (this.#abort.aborted) return;
    const one: CommandUpdate = {};
    if (status !== undefined && !this.#started) {
      this.#started = true;
      one.status = status;
    }
    if (progress !== undefined) one.progress = progress;
    if (one.status !== undefined || one.progress !== undefined) this.#host.report(this.id, one);
  }
}
