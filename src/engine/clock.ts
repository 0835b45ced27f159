/**
 * The clock every Orrery actor system runs on. It is XState's `Clock` (setTimeout/clearTimeout, used for every
 * `after` delay and delayed event) plus `now()`, so a whole system can run on simulated time in tests.
 *
 * Durations mean the same on every clock (the real one and `TestClock` from `orrery/testing`):
 * - `Infinity` means never: no timer is armed at all;
 * - a finite delay beyond Node's timer limit (2^31 - 1 ms, about 24.8 days) fires when it is due, not after 1 ms
 *   as Node's own `setTimeout` does: the real clock chains timers of at most the limit;
 * - NaN or a negative delay is 0 (as in Node); validate user input with `checkDuration` first.
 */
import { InvalidArgumentError } from '../errors.js';

export interface Clock {
  setTimeout(fn: (...args: any[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  /** Milliseconds, monotonic within the clock. */
  now(): number;
}

/** `value` if it is a Clock (setTimeout, clearTimeout and now functions), undefined if absent; else throws. */
export function checkClock(value: unknown): Clock | undefined {
  if (value === undefined) return undefined;
  const clock = value as Record<string, unknown> | null;
  if (
    clock === null ||
    typeof clock !== 'object' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function' ||
    typeof clock.now !== 'function'
  ) {
    throw new InvalidArgumentError('clock must have setTimeout, clearTimeout and now functions (a Clock)');
  }
  return value as Clock;
}

/** Node's largest timer delay: longer ones overflow and fire after 1 ms. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** A timer of the real clock: Node's handle for the current leg (none for a never-firing timer). */
interface LongTimer {
  handle: NodeJS.Timeout | undefined;
}

/** Node's delay for `ms`, clamped as Node does for NaN and negatives. */
function legal(ms: number): number {
  return ms > 0 ? ms : 0;
}

function armLong(timer: LongTimer, fn: () => void, dueAt: number): void {
  const left = dueAt - performance.now();
  if (left > MAX_TIMER_DELAY) {
    timer.handle = setTimeout(() => armLong(timer, fn, dueAt), MAX_TIMER_DELAY);
  } else {
    timer.handle = setTimeout(fn, legal(left));
  }
}

/** Wall-clock time: Node timers and `performance.now()`, with the duration rules of the module comment. */
export const realClock: Clock = {
  setTimeout: (fn, ms) => {
    if (ms <= MAX_TIMER_DELAY || Number.isNaN(ms)) return setTimeout(fn, legal(ms));
    const timer: LongTimer = { handle: undefined };
    if (ms !== Number.POSITIVE_INFINITY) armLong(timer, fn, performance.now() + ms);
    return timer;
  },
  clearTimeout: (id) => {
    if (id !== null && typeof id === 'object' && 'handle' in id) {
      const timer = id as LongTimer;
      if (timer.handle !== undefined) clearTimeout(timer.handle);
      timer.handle = undefined;
      return;
    }
    clearTimeout(id as NodeJS.Timeout);
  },
  now: () => performance.now(),
};
