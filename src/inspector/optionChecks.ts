/** The numeric option checks the inspector server and the Stately bridge share (InvalidArgumentError, named). */
import { MAX_TIMER_DELAY } from '../engine/clock.js';
import { InvalidArgumentError } from '../errors.js';

/** `value`, a positive integer, or `fallback` when it is undefined. */
export function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/**
 * A duration option given to a Node timer: a positive integer of milliseconds, at most Node's timer limit. Node
 * fires a longer timer after 1 ms, so a batch interval of 30 days flushed every millisecond and an idle timeout of
 * 30 days closed every HTTP connection at once: past the limit the option is refused instead.
 */
export function timerMs(name: string, value: unknown, fallback: number): number {
  const ms = positiveInteger(name, value, fallback);
  if (ms > MAX_TIMER_DELAY)
    throw new InvalidArgumentError(
      `${name} must be at most ${MAX_TIMER_DELAY} ms (Node's timer limit), got ${String(value)}`,
    );
  return ms;
}
