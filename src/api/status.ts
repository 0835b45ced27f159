/**
 * `Status`: ophyd's StatusBase in TypeScript idiom, one `status` machine actor per instance.
 *
 * Times are milliseconds. Callbacks run on the event loop, in registration order, exactly once; `wait()` resolves
 * after the callbacks have run (ophyd returns before them, on another thread). No thread and no timer per status
 * beyond the machine's own XState delays; only a caller's `wait(ms)` arms a timer of its own.
 */
import type { Actor, SnapshotFrom } from 'xstate';
import { type StatusOutcome, type StatusProgress, statusMachine } from '../../machines/status.js';
import { getDefaultSystem, type OrrerySystem } from '../engine/system.js';
import {
  AggregateStatusError,
  CancelledError,
  InvalidArgumentError,
  InvalidStateError,
  StatusTimeoutError,
  UnknownStatusFailure,
  WaitTimeoutError,
} from '../errors.js';
import { checkDuration } from './duration.js';
import { ProgressWatchers, type WatcherUpdate } from './statusProgress.js';

export type { StatusProgress, WatcherUpdate };
export type StatusCallback = (status: Status) => void;

export interface StatusOptions {
  /** Milliseconds until the status fails with StatusTimeoutError (deadline = timeout + settleTime). */
  timeout?: number | null;
  /** Milliseconds between setFinished() and success. Default 0. */
  settleTime?: number;
  /** Cancels the status (done, not success, exception() is a CancelledError). */
  signal?: AbortSignal;
  /** Actor system to run in; the process default otherwise. */
  system?: OrrerySystem;
  /** A name for logs and the inspector (ophyd's `obj.name`). */
  name?: string;
  /** Register the status' actor under this systemId while it is pending (`system.get(systemId)`). */
  systemId?: string;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: unknown;
}

let counter = 0;

export class Status {
  readonly name: string | undefined;
  readonly #system: OrrerySystem;
  readonly #actor: Actor<typeof statusMachine>;
  readonly #timeout: number | null;
  readonly #settleTime: number;
  readonly #createdAt: number;
  #callbacks: StatusCallback[] = [];
  #waiters: Waiter[] = [];
  #externallyCompleted = false;
  #outcome: StatusOutcome | null = null;
  #error: Error | null = null;
  #watchers: ProgressWatchers | undefined;
  #abort: { signal: AbortSignal; listener: () => void } | undefined;
  /** Statuses this one was composed of (Status.all / Status.any), for `contains()`. */
  protected readonly parts: readonly Status[] = [];

  constructor(options: StatusOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('Status options must be an object');
    }
    this.#timeout = checkDuration('timeout', options.timeout, true);
    this.#settleTime = checkDuration('settleTime', options.settleTime, false) ?? 0;
    this.name = options.name;
    this.#system = options.system ?? getDefaultSystem();
    this.#createdAt = this.#system.clock.now();
    this.#actor = this.#system.spawnDetached(statusMachine, {
      id: `status-${++counter}`,
      systemId: options.systemId,
      input: { timeout: this.#timeout, settleTime: this.#settleTime },
      observer: { next: (snapshot) => this.#onSnapshot(snapshot) },
    });
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) this.cancel(signal.reason);
      else if (!this.done) {
        const listener = () => this.cancel(signal.reason);
        signal.addEventListener('abort', listener, { once: true });
        this.#abort = { signal, listener };
      }
    }
  }

  /** The status' actor (for the inspector or `system.inspect`). */
  get actor(): Actor<typeof statusMachine> {
    return this.#actor;
  }
  get timeout(): number | null {
    return this.#timeout;
  }
  get settleTime(): number {
    return this.#settleTime;
  }
  /** True once the status has completed, successfully or not. */
  get done(): boolean {
    return this.#outcome !== null;
  }
  /** True once completed successfully. */
  get success(): boolean {
    return this.#outcome === 'succeeded';
  }
  /** 'pending' | 'settling' | 'succeeded' | 'failed' | 'timedOut' | 'cancelled'. */
  get state(): 'pending' | 'settling' | StatusOutcome {
    if (this.#outcome) return this.#outcome;
    const v = this.#actor.getSnapshot().value as Record<string, 'pending' | 'settling'> | string;
    if (typeof v === 'string') return 'pending';
    return v.bounded ?? v.unbounded ?? 'pending';
  }
  /** The callbacks still to run. */
  get callbacks(): readonly StatusCallback[] {
    return this.#callbacks;
  }

  /** Mark as finished successfully (after settleTime). Allowed once; see the late-call rule in `setException`. */
  setFinished(): void {
    if (this.#claimCompletion()) this.#actor.send({ type: 'FINISH' });
  }

  /**
   * Mark as failed with `error` (an Error instance, or an Error class which is instantiated). Allowed once:
   * a second setFinished/setException throws InvalidStateError. After a timeout or cancellation, the first late
   * call is ignored (ophyd: "to no effect because the callbacks have already been called"), later ones throw.
   */
  setException(error: Error | (new () => Error)): void {
    const err = Status.#toException(error);
    if (this.#claimCompletion()) this.#actor.send({ type: 'FAIL', error: err });
  }

  /** Cancel a pending status: done, not success, `exception()` is a CancelledError. No-op once done. */
  cancel(reason?: unknown): void {
    if (this.done) return;
    const err =
      reason instanceof CancelledError
        ? reason
        : new CancelledError(`${this} was cancelled${reason === undefined ? '' : `: ${String(reason)}`}`, {
            cause: reason,
          });
    this.#actor.send({ type: 'CANCEL', error: err });
  }

  /** Register `cb(status)`, run once on completion; immediately if already done. Exceptions are logged. */
  addCallback(cb: StatusCallback): void {
    if (typeof cb !== 'function') throw new InvalidArgumentError('addCallback needs a function');
    if (this.done) this.#runCallback(cb);
    else this.#callbacks.push(cb);
  }

  /** The failure, or null while pending or on success. */
  exception(): Error | null {
    return this.#error;
  }

  /**
   * Resolve on success; reject with the status' error on failure, or with WaitTimeoutError if it is still
   * pending after `timeoutMs` (the status itself is not affected).
   */
  wait(timeoutMs?: number): Promise<void> {
    const ms = checkDuration('wait timeout', timeoutMs, true);
    if (this.done) return this.#error ? Promise.reject(this.#error) : Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (ms !== null) {
        waiter.timer = this.#system.clock.setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(new WaitTimeoutError(`${this} has not completed yet.`));
        }, ms);
      }
      this.#waiters.push(waiter);
    });
  }

  /** Like ophyd's `exception(timeout)`: the error (null on success) once done; WaitTimeoutError if still pending. */
  async waitForException(timeoutMs?: number): Promise<Error | null> {
    try {
      await this.wait(timeoutMs);
      return null;
    } catch (err) {
      if (err instanceof WaitTimeoutError) throw err;
      return err as Error;
    }
  }

  /** Publish a progress update (ophyd-async WatcherUpdate fields). Ignored once done. */
  update(progress: StatusProgress): void {
    if (progress === null || typeof progress !== 'object')
      throw new InvalidArgumentError('update needs an object');
    if (!this.done) this.#actor.send({ type: 'PROGRESS', update: { ...progress } });
  }

  /** The latest progress update, with elapsed/remaining, or undefined. */
  get lastUpdate(): WatcherUpdate | undefined {
    return this.#watchers?.last;
  }

  /**
   * Progress updates as an async iterator: the latest update first (if any), then each new one (identical
   * consecutive updates are de-duplicated); ends when the status succeeds, throws its error when it fails.
   */
  watch(): AsyncIterableIterator<WatcherUpdate> {
    this.#watchers ??= new ProgressWatchers(this.#createdAt, () => this.#system.clock.now());
    const p = this.#actor.getSnapshot().context.progress;
    if (p) this.#watchers.publish(p);
    return this.#watchers.iterator(this.done ? { error: this.#error } : undefined);
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
    return Status.#compose(statuses, options, null, (parts) => {
      const failed = parts.filter((s) => s.done && !s.success);
      if (failed.length)
        return new AggregateStatusError(`${failed.length} of ${parts.length} statuses failed`, errs(failed));
      return parts.every((s) => s.success) ? null : undefined;
    });
  }

  /** Succeeds as soon as one status succeeds; fails when all have failed, keeping every error. */
  static any(statuses: readonly Status[], options: StatusOptions = {}): Status {
    return Status.#compose(
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
   * yet, null = success, an Error = failure. `empty` is the outcome for no parts at all.
   */
  static #compose(
    statuses: readonly Status[],
    options: StatusOptions,
    empty: Error | null,
    decide: (parts: readonly Status[]) => Error | null | undefined,
  ): Status {
    const parts = Status.#checkParts(statuses);
    const combined = new ComposedStatus(
      { system: parts.length ? parts[0].#system : undefined, ...options },
      parts,
    );
    const check = () => {
      if (combined.done) return;
      const outcome = decide(parts);
      if (outcome !== undefined) combined.#complete(outcome);
    };
    for (const s of parts) s.addCallback(check);
    if (!parts.length) combined.#complete(empty);
    return combined;
  }

  /**
   * ophyd-async WatchableAsyncStatus: a status driven by an async iterable of progress updates; succeeds when it
   * ends, fails with its error when it throws.
   */
  static watchable(updates: AsyncIterable<StatusProgress>, options: StatusOptions = {}): Status {
    const status = new Status(options);
    void (async () => {
      try {
        for await (const u of updates) {
          if (status.done) return;
          status.update(u);
        }
        if (!status.done) status.setFinished();
      } catch (err) {
        if (!status.done)
          status.setException(err instanceof Error ? err : new UnknownStatusFailure(String(err)));
      }
    })();
    return status;
  }

  toString(): string {
    const name = this.name ? `name=${this.name}, ` : '';
    return `Status(${name}id=${this.#actor.id}, done=${this.done}, success=${this.success})`;
  }

  /** Complete directly (combinators): succeed when `error` is null, else fail with it. */
  #complete(error: Error | null): void {
    if (this.#claimCompletion()) this.#actor.send(error ? { type: 'FAIL', error } : { type: 'FINISH' });
  }

  /** The ophyd completion rule; returns true if the event should be sent. */
  #claimCompletion(): boolean {
    if (this.#externallyCompleted) {
      throw new InvalidStateError(
        `Either setFinished() or setException() has already been called on ${this}`,
      );
    }
    this.#externallyCompleted = true;
    return !this.done;
  }

  #onSnapshot(snapshot: SnapshotFrom<typeof statusMachine>): void {
    if (snapshot.status !== 'done') {
      if (this.#watchers && snapshot.context.progress) this.#watchers.publish(snapshot.context.progress);
      return;
    }
    this.#outcome = snapshot.value as StatusOutcome;
    this.#error = snapshot.context.error;
    if (this.#abort) this.#abort.signal.removeEventListener('abort', this.#abort.listener);
    this.#abort = undefined;
    const callbacks = this.#callbacks;
    this.#callbacks = [];
    for (const cb of callbacks) this.#runCallback(cb);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (w.timer !== undefined) this.#system.clock.clearTimeout(w.timer);
      if (this.#error) w.reject(this.#error);
      else w.resolve();
    }
    this.#watchers?.end(this.#error);
  }

  #runCallback(cb: StatusCallback): void {
    try {
      cb(this);
    } catch (err) {
      this.#system
        .loggerFor(this.#actor, 'status')
        .logger.error({ err }, 'An error was raised while running a Status callback');
    }
  }

  static #toException(error: unknown): Error {
    let err = error;
    if (typeof err === 'function' && err.prototype instanceof Error) {
      if (err === StatusTimeoutError || err === WaitTimeoutError) err = Object.create(err.prototype);
      else err = new (err as new () => Error)();
    }
    if (!(err instanceof Error)) {
      throw new InvalidArgumentError(`Expected an Error, got ${typeof error}: ${String(error)}`);
    }
    if (err instanceof StatusTimeoutError || err instanceof WaitTimeoutError) {
      throw new InvalidArgumentError(
        `${err.constructor.name} has special significance and cannot be set as the exception. ` +
          'Use a plain TimeoutError instead.',
      );
    }
    return err;
  }

  static #checkParts(statuses: readonly Status[]): Status[] {
    if (!Array.isArray(statuses) || !statuses.every((s) => s instanceof Status)) {
      throw new InvalidArgumentError('expected an array of Status objects');
    }
    return [...statuses];
  }
}

function errs(statuses: readonly Status[]): Error[] {
  return statuses.map((s) => s.exception()).filter((e): e is Error => e !== null);
}

/** A status composed of others (Status.all / Status.any). */
class ComposedStatus extends Status {
  protected override readonly parts: readonly Status[];
  constructor(options: StatusOptions, parts: readonly Status[]) {
    super(options);
    this.parts = parts;
  }
}
