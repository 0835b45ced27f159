/**
 * The core error classes of Orrery (undici style: named classes with a stable `code`); each protocol keeps its own.
 *
 * The hierarchy mirrors the Python originals where a caller is likely to branch on it:
 * ophyd's `StatusTimeoutError` and `WaitTimeoutError` are both `TimeoutError`s, `InvalidStateError` is ophyd's
 * `InvalidState`. The Tango errors (`DevFailed`, `CommandError`, `ResultCodeError`, `ProtocolVersionError`) live
 * with their protocol in `src/protocols/tango/errors.ts` (the package root re-exports them).
 */

/** Base class of every error Orrery throws on purpose. */
export class OrreryError extends Error {
  readonly code: string = 'ORRERY_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A call got an argument of the wrong type or out of range (negative timeout, non-Error exception, ...). */
export class InvalidArgumentError extends OrreryError {
  override readonly code: string = 'ORRERY_INVALID_ARGUMENT';
}

/** Base of every timeout (Python's `TimeoutError`). */
export class TimeoutError extends OrreryError {
  override readonly code: string = 'ORRERY_TIMEOUT';
}

/** A lifecycle was asked to do something its current state forbids (ophyd `InvalidState`). */
export class InvalidStateError extends OrreryError {
  override readonly code: string = 'ORRERY_INVALID_STATE';
}

/** The status' own deadline (`timeout + settleTime` from creation) expired before it completed. */
export class StatusTimeoutError extends TimeoutError {
  override readonly code: string = 'ORRERY_STATUS_TIMEOUT';
}

/** A caller's `wait(ms)` gave up; the status itself is still pending. */
export class WaitTimeoutError extends TimeoutError {
  override readonly code: string = 'ORRERY_WAIT_TIMEOUT';
}

/** A status failed without an exception of its own (ophyd `UnknownStatusFailure`). */
export class UnknownStatusFailure extends OrreryError {
  override readonly code: string = 'ORRERY_UNKNOWN_STATUS_FAILURE';
}

/** The operation was cancelled through an `AbortSignal` or `cancel()`. */
export class CancelledError extends OrreryError {
  override readonly code: string = 'ORRERY_CANCELLED';
}

/**
 * The actor system that owned a pending lifecycle was stopped (`system.stop()`): a Status fails with it (its
 * callbacks run once, `wait()` rejects), pending LRCs end with it and release their subscriptions.
 */
export class SystemStoppedError extends CancelledError {
  override readonly code: string = 'ORRERY_SYSTEM_STOPPED';
}

/** Several child operations failed; `errors` keeps every one of them (unlike ophyd's AndStatus). */
export class AggregateStatusError extends OrreryError {
  override readonly code: string = 'ORRERY_AGGREGATE_FAILURE';
  readonly errors: readonly Error[];
  constructor(message: string, errors: readonly Error[]) {
    super(message, { cause: errors[0] });
    this.errors = errors;
  }
}

/** `BackgroundTask.run()` after the task completed (PST: "Task has already completed, cannot run it again."). */
export class TaskCompletedError extends InvalidStateError {
  override readonly code: string = 'ORRERY_TASK_COMPLETED';
}

/** A supervisor exceeded its restart intensity and gave up; it escalates this to its own parent. */
export class SupervisorEscalationError extends OrreryError {
  override readonly code: string = 'ORRERY_SUPERVISOR_ESCALATION';
  readonly supervisor: string;
  readonly child: string;
  constructor(supervisor: string, child: string, restarts: number, periodMs: number, cause?: unknown) {
    super(
      `supervisor '${supervisor}' reached its restart intensity (${restarts} restarts in ${periodMs} ms); ` +
        `child '${child}' failed again`,
      { cause },
    );
    this.supervisor = supervisor;
    this.child = child;
  }
}

/** An id or systemId is already taken, or not known to the system. */
export class ActorRegistryError extends OrreryError {
  override readonly code: string = 'ORRERY_REGISTRY';
}

/** A server (the inspector) could not listen because its port is taken. Message: `port N is in use`. */
export class PortInUseError extends OrreryError {
  override readonly code: string = 'ORRERY_PORT_IN_USE';
  readonly port: number;
  readonly host: string;
  constructor(port: number, host: string, options?: { cause?: unknown }) {
    super(`port ${port} is in use`, options);
    this.port = port;
    this.host = host;
  }
}

/** A server (the inspector) could not listen for another reason (address not available, permission, ...). */
export class ListenError extends OrreryError {
  override readonly code: string = 'ORRERY_LISTEN';
  readonly port: number;
  readonly host: string;
  constructor(message: string, port: number, host: string, options?: { cause?: unknown }) {
    super(message, options);
    this.port = port;
    this.host = host;
  }
}

/** An error sent by the inspector page in an event (read-write mode): built from the page's message only. */
export class InspectorEventError extends OrreryError {
  override readonly code: string = 'ORRERY_INSPECTOR_EVENT';
}

/**
 * A value for an error message: a string quoted, an object or function by its tag (never a function's source);
 * never throws (the tag of a Proxy is read through its traps, and a revoked one throws for it).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return String(value);
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return `an unreadable ${typeof value}`;
  }
}

/**
 * Turn anything thrown into an Error, keeping the original as `cause`. Never throws: it runs where a thrown value
 * becomes an outcome (a task's error, a status' failure), and a throw there lost the value and the outcome. A value
 * that `String()` cannot convert (no `toString`) is described; a revoked Proxy is no Error.
 */
export function toError(value: unknown): Error {
  if (isInstance(value, Error)) return value;
  return new OrreryError(typeof value === 'string' ? value : `non-Error thrown: ${textOf(value)}`, {
    cause: value,
  });
}

/**
 * `value instanceof type`, never throwing: `instanceof` reads the prototype, through the traps of a Proxy (a revoked
 * one throws), and such a value is no instance. For checks that run where a throw would lose an outcome.
 */
export function isInstance<T>(value: unknown, type: abstract new (...args: never[]) => T): value is T {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

/** `String(value)`, or its description (`describeValue`) when converting it throws. */
export function textOf(value: unknown): string {
  try {
    return String(value);
  } catch {
    return describeValue(value);
  }
}
