import { describeValue as describe, InvalidArgumentError } from '../../src/errors.js';

/**
 * The one validator for every duration option in milliseconds (timeouts, settle times, deadlines, periods).
 *
 * - a number >= 0: that many milliseconds. Values past Node's timer limit (about 24.8 days) are fine: Orrery's
 *   clocks schedule them when due (see `engine/clock.ts`);
 * - `Infinity`: never (no timer is armed);
 * - `undefined` (and `null` when `allowNull`): not set, gives null;
 * - anything else (NaN, negative, a string such as `'100'`, an object) throws InvalidArgumentError naming the
 *   option. A number that looks like seconds (`5`) is still milliseconds.
 *
 * One meaning per word in the core facades' docs: a **timeout** (`timeout`, `stopTimeout`, `wait(timeoutMs)`) is
 * such a duration; a **deadline** is the moment a timeout falls due (when it started plus the timeout), never a
 * duration of its own; a **period** is the time between two runs (`1000 / frequency` ms, `expectedRate`).
 */
export function checkDuration(name: string, value: unknown, allowNull: boolean): number | null {
  if (value === undefined || (allowNull && value === null)) return null;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(
      `${name} must be a non-negative number of milliseconds (or Infinity for never), got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * `checkDuration` for a period that re-arms a timer each time it falls due (a supervisor's restart window, an event
 * subscription's heartbeat and confirmation periods): 0 would run its step on every tick, so it must be more than 0
 * (Infinity: never); `undefined` gives null.
 */
export function checkPeriod(name: string, value: unknown): number | null {
  const ms = checkDuration(name, value, false);
  if (ms === 0)
    throw new InvalidArgumentError(`${name} must be more than 0 ms (or Infinity for never), got 0`);
  return ms;
}

/**
 * The validator for every rate in Hz (a task's `frequency`): a positive finite number; `undefined` (and `null` when
 * `allowNull`) gives null. Its period, `1000 / hz` ms, may be far beyond Node's timer limit (`1e-9` Hz is about 32
 * years): Orrery's clocks schedule it when due instead of firing after 1 ms.
 */
export function checkFrequency(name: string, value: unknown, allowNull: boolean): number | null {
  if (value === undefined || (allowNull && value === null)) return null;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    // described as checkDuration does: the string '10' is shown quoted, not as the number it looks like
    throw new InvalidArgumentError(`${name} must be a positive finite number of Hz, got ${describe(value)}`);
  }
  return value;
}

/** True when a checked duration arms no timer at all. */
export function isNever(ms: number | null): boolean {
  return ms === null || ms === Number.POSITIVE_INFINITY;
}
