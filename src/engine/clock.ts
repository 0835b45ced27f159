/**
 * The clock every Orrery actor system runs on. It is XState's `Clock` (setTimeout/clearTimeout, used for every
 * `after` delay and delayed event) plus `now()`, so a whole system can run on simulated time in tests.
 */
export interface Clock {
  setTimeout(fn: (...args: any[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  /** Milliseconds, monotonic within the clock. */
  now(): number;
}

/** Wall-clock time: Node timers and `performance.now()`. */
export const realClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
  now: () => performance.now(),
};
