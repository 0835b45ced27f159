import type { Clock } from '../engine/clock.js';

/** Timers `advance` fires at one instant before it decides time can no longer move (see `advance`). */
const MAX_AT_ONE_INSTANT = 100_000;

interface Timer {
  id: number;
  at: number;
  seq: number;
  fn: (...args: any[]) => void;
}

/**
 * A deterministic clock for tests (Effect's TestClock, sinon's fake timers). `advance(ms)` walks time forward
 * timer by timer, so a timer set by a firing timer fires at its own due time within the same advance (XState's
 * SimulatedClock jumps straight to the end instead, which breaks periodic work).
 */
export class TestClock implements Clock {
  #now: number;
  #seq = 0;
  #timers = new Map<number, Timer>();

  /** `start` is the clock's first `now()`: a finite number, else a RangeError (at NaN no timer would ever fire). */
  constructor(start = 0) {
    if (typeof start !== 'number' || !Number.isFinite(start)) {
      throw new RangeError(`TestClock must start at a finite number of milliseconds, got ${String(start)}`);
    }
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Same duration rules as the real clock: `Infinity` never fires (no timer is kept), NaN or negative is 0. */
  setTimeout(fn: (...args: any[]) => void, ms: number): number {
    const id = ++this.#seq;
    // The delay is read as Node reads it (`after *= 1`): a numeric string is its number, not text appended to
    // now().
    const n = Number(ms);
    if (n === Number.POSITIVE_INFINITY) return id;
    const delay = n > 0 ? n : 0;
    this.#timers.set(id, { id, at: this.#now + delay, seq: id, fn });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.#timers.delete(id as number);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Time of the next due timer, or undefined. */
  nextAt(): number | undefined {
    return this.#next(Number.POSITIVE_INFINITY)?.at;
  }

  /**
   * Advance time by `ms` (finite, >= 0), firing every timer that falls due on the way, in due order. A timer set
   * with 0 by a firing timer is due at the same instant and fires after the timers already due there (as Node runs
   * it after the current pass); one that keeps re-arming itself with 0 would never let time move, so after
   * `MAX_AT_ONE_INSTANT` timers at one instant `advance` throws instead of hanging the test.
   */
  advance(ms: number): void {
    // A number only: `now + '5'` concatenates (10 + '5' went to 105), and null, an object or a bigint would pass
    // the comparison below by coercion.
    if (typeof ms !== 'number') {
      throw new RangeError(`TestClock advances by a number of milliseconds, got ${typeof ms}`);
    }
    if (!(ms >= 0)) throw new RangeError('TestClock cannot go back in time');
    if (ms === Number.POSITIVE_INFINITY) {
      throw new RangeError('TestClock cannot advance by Infinity; use runAll() to fire every pending timer');
    }
    const end = this.#now + ms;
    // Past the largest double the end is Infinity: every timer would fire and time would stay there for good.
    if (!Number.isFinite(end)) throw new RangeError(`TestClock cannot advance past ${Number.MAX_VALUE} ms`);
    let instant = Number.NaN;
    let atInstant = 0;
    for (;;) {
      const next = this.#next(end);
      if (!next) break;
      const at = Math.max(this.#now, next.at);
      atInstant = at === instant ? atInstant + 1 : 1;
      instant = at;
      if (atInstant > MAX_AT_ONE_INSTANT) {
        throw new Error(
          `TestClock.advance: more than ${MAX_AT_ONE_INSTANT} timers fired at ${at} ms without time moving (a timer that re-arms itself with 0 ms?)`,
        );
      }
      this.#fire(next);
    }
    // (a timer's callback may have advanced the clock past `end` itself: time never goes back)
    this.#now = Math.max(this.#now, end);
  }

  /**
   * Fire timers one by one until none is left, at most `maxTimers` of them (so a timer that re-arms itself, with 0
   * ms too, cannot hang a test: it throws).
   */
  runAll(maxTimers = 100_000): void {
    for (let i = 0; i < maxTimers; i++) {
      const next = this.#next(Number.POSITIVE_INFINITY);
      if (!next) return;
      this.#fire(next);
    }
    if (this.#timers.size === 0) return;
    throw new Error(`TestClock.runAll: more than ${maxTimers} timers fired`);
  }

  /** The next timer due by `end` (the earliest, the first set among equals), or undefined. */
  #next(end: number): Timer | undefined {
    let next: Timer | undefined;
    for (const t of this.#timers.values()) {
      if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
    }
    return next;
  }

  #fire(timer: Timer): void {
    this.#timers.delete(timer.id);
    this.#now = Math.max(this.#now, timer.at);
    timer.fn();
  }
}
