/**
 * The bookkeeping every lifecycle facade repeats (Status, BackgroundTask, StreamingTask, TimeoutIterator; the LRC
 * facades may adopt it too), in one place:
 *
 * - `resolveSystem(system)`: a checked `system` option, or the process default (`getDefaultSystem()`);
 * - `readOptions(facade, options, checks)`: a caller's options object, each option read once and checked, before
 *   anything is created;
 * - `checkSystem` / `checkSignal`: option checks that throw InvalidArgumentError before anything is created;
 * - `nextId(prefix)`: `prefix-1`, `prefix-2`, ... (one counter per prefix) for actor ids;
 * - `Lifecycle<T>`: ends exactly once. It holds the abort listener of the caller's signal (added once, removed
 *   once), an optional system-stop hook (`system.onStop`, for lifecycles whose actor is not detached), and the
 *   shadow copy of the machine's final state (`outcome`), which the facade keeps after its actor is gone.
 *
 * Words, as every core facade's docs use them: a **timeout** is a duration in milliseconds (checked by
 * `checkDuration`, `5` is 5 ms, not 5 s); a **deadline** is the moment a timeout falls due (its start plus the
 * timeout), never a duration of its own.
 */
import { getDefaultSystem, OrrerySystem } from '../engine/system.js';
import { describeValue, InvalidArgumentError, type SystemStoppedError } from '../errors.js';

/** The check of one option: the value read in, the checked value out; throws InvalidArgumentError if it is bad. */
export type OptionCheck = (value: unknown) => unknown;

/**
 * A caller's options object, read and checked before anything is created: each option named in `checks` is read
 * exactly once, in `checks`' order, and given to its check. Reading once means a getter cannot hand the checks one
 * value and the construction another (a Status spawned and its timeout armed before a second read threw).
 *
 * The object may be hostile (a Proxy whose traps throw, a throwing getter, a revoked Proxy), and so may a value
 * (the checks describe it in their messages): what reading or checking throws, other than the check's own
 * InvalidArgumentError, becomes an InvalidArgumentError naming `facade` and the option, the original as `cause`.
 * `undefined` is no options; anything else that is not an object throws InvalidArgumentError.
 */
export function readOptions<C extends Record<string, OptionCheck>>(
  facade: string,
  options: unknown,
  checks: C,
): { [K in keyof C]: ReturnType<C[K]> } {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new InvalidArgumentError(`${facade} options must be an object, got ${describe(options)}`);
  }
  const source = (options ?? {}) as Record<string, unknown>;
  const checked: Record<string, unknown> = {};
  for (const name in checks) {
    let value: unknown;
    try {
      value = source[name];
    } catch (cause) {
      throw optionError(facade, name, 'read', cause);
    }
    try {
      checked[name] = checks[name](value);
    } catch (cause) {
      if (isInvalidArgument(cause)) throw cause;
      throw optionError(facade, name, 'checked', cause);
    }
  }
  return checked as { [K in keyof C]: ReturnType<C[K]> };
}

/**
 * The InvalidArgumentError for an option of `facade` that could not be read (a throwing getter or Proxy trap) or
 * checked (its value threw while being looked at), the thrown value as `cause`.
 */
export function optionError(facade: string, option: string, what: 'read' | 'checked', cause: unknown) {
  return new InvalidArgumentError(`${facade} option '${option}' cannot be ${what}: ${reasonOf(cause)}`, {
    cause,
  });
}

/** Whether a thrown value is a check's own error (a thrown Proxy may throw even from `instanceof`). */
export function isInvalidArgument(value: unknown): boolean {
  try {
    return value instanceof InvalidArgumentError;
  } catch {
    return false;
  }
}

/** A thrown value for an error message: an Error's message, anything else described; never throws. */
function reasonOf(value: unknown): string {
  try {
    return value instanceof Error ? String(value.message) : describe(value);
  } catch {
    return 'an unreadable value';
  }
}

/** `system` if it is an OrrerySystem, undefined if absent; else throws InvalidArgumentError. */
export function checkSystem(system: unknown): OrrerySystem | undefined {
  if (system !== undefined && !(system instanceof OrrerySystem)) {
    throw new InvalidArgumentError(
      `system must be an OrrerySystem (from createSystem()), got ${describe(system)}`,
    );
  }
  return system;
}

/** `signal` if it is an AbortSignal, undefined if absent; else throws InvalidArgumentError. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`signal must be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

/**
 * The system a facade runs in: the checked `system` option, else the process default. Check every other option
 * first: the default system is created on first use, and a bad option must not create it.
 */
export function resolveSystem(system: unknown): OrrerySystem {
  return checkSystem(system) ?? getDefaultSystem();
}

const counters = new Map<string, number>();

/** The next id for `prefix`: `prefix-1`, `prefix-2`, ... (one counter per prefix, for the process). */
export function nextId(prefix: string): string {
  const n = (counters.get(prefix) ?? 0) + 1;
  counters.set(prefix, n);
  return `${prefix}-${n}`;
}

/**
 * One lifecycle of a facade: it ends once (`end(outcome)`), and ending releases what it holds. `T` is the shadow
 * copy of the machine's final state that the facade reports after the actor is gone.
 */
export class Lifecycle<T> {
  #outcome: T | undefined;
  #ended = false;
  #abort: { signal: AbortSignal; listener: () => void } | undefined;
  #forgetStop: (() => void) | undefined;

  /** True once `end()` was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The outcome given to `end()`, or undefined while the lifecycle runs. */
  get outcome(): T | undefined {
    return this.#outcome;
  }

  /**
   * Call `onAbort(signal.reason)` when `signal` aborts: now if it already has (and nothing is added), else once,
   * from a listener that `end()` removes. No-op without a signal or once ended.
   */
  onAbort(signal: AbortSignal | undefined, onAbort: (reason: unknown) => void): void {
    if (!signal || this.#ended) return;
    if (signal.aborted) {
      onAbort(signal.reason);
      return;
    }
    this.#releaseAbort();
    const listener = () => {
      this.#abort = undefined;
      onAbort(signal.reason);
    };
    signal.addEventListener('abort', listener, { once: true });
    this.#abort = { signal, listener };
  }

  /**
   * Call `onStop(error)` when `system` stops, until the lifecycle ends (for actors that are not detached: detached
   * ones pass `onSystemStop` to `system.spawnDetached`, which forgets it with the actor).
   */
  onSystemStop(system: OrrerySystem, onStop: (error: SystemStoppedError) => void): void {
    if (this.#ended) return;
    this.#forgetStop?.();
    this.#forgetStop = system.onStop(onStop);
  }

  /** End with `outcome`: releases the abort listener and the stop hook. Returns false (and keeps the first outcome) if already ended. */
  end(outcome: T): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#outcome = outcome;
    this.#releaseAbort();
    const forget = this.#forgetStop;
    this.#forgetStop = undefined;
    forget?.();
    return true;
  }

  #releaseAbort(): void {
    if (this.#abort) this.#abort.signal.removeEventListener('abort', this.#abort.listener);
    this.#abort = undefined;
  }
}

/**
 * The result of an iterator's `next()` (awaited), checked as `for await` checks it: anything but an object breaks
 * the iterator protocol, an InvalidArgumentError naming `iterator` (JS itself throws a TypeError).
 */
export function iteratorResult(result: unknown, iterator: string): IteratorResult<unknown> {
  if (result === null || typeof result !== 'object') {
    throw new InvalidArgumentError(`${iterator} gave ${describe(result)}, not an iterator result`);
  }
  return result as IteratorResult<unknown>;
}

/** How long a loop of items ready at once may hold the event loop before it lets it run (`EventLoopShare`). */
export const MAX_HOLD_MS = 10;

/**
 * A loop that pulls its items on microtasks only (a sync iterator, or an async one whose items are ready at once)
 * never lets the event loop run: no timer fires (a timeout, a `stop()` or `cancel()` from a timer), no I/O is read,
 * and the process looks frozen until the items end, perhaps never. Upstream runs these loops on a thread of their
 * own. Call `turn()` after each item: it keeps one `setImmediate` probe pending to learn whether the event loop has
 * run since, and once the loop has held it for `MAX_HOLD_MS` (wall time) with the probe still pending, it lets the
 * event loop run before the next item. A loop whose items come from I/O or timers never waits here (the probe
 * has fired by the next item). Real time, not the system clock: this is about the process.
 */
export class EventLoopShare {
  /** When the pending probe was set: the event loop is known to have run just before. */
  #since = 0;
  #probing = false;
  readonly #ran = () => {
    this.#probing = false;
  };

  /** undefined while the loop may go on; else a promise settled on the event loop's next turn. */
  turn(): Promise<void> | undefined {
    if (!this.#probing) {
      this.#probing = true;
      this.#since = performance.now();
      setImmediate(this.#ran);
      return undefined;
    }
    if (performance.now() - this.#since < MAX_HOLD_MS) return undefined;
    // (after the probe, queued first: the next turn() sets a new one)
    return new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** A value for an error message (`describeValue`): a string quoted, an object or function by its tag; never throws. */
export const describe = describeValue;
