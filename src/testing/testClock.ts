import type { Clock } from '../engine/clock.js';

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
    if (ms === Number.POSITIVE_INFINITY) return id;
    const delay = ms > 0 ? ms : 0;
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
    let next: Timer | undefined;
    for (const t of this.#timers.values())
      if (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq)) next = t;
    return next?.at;
  }

  /** Advance time by `ms` (finite, >= 0), firing every timer that falls due on the way, in due order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('TestClock cannot go back in time');
    if (ms === Number.POSITIVE_INFINITY) {
      throw new RangeError('TestClock cannot advance by Infinity; use runAll() to fire every pending timer');
    }
    const end = this.#now + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.#timers.values()) {
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    // (a timer's callback may have advanced the clock past `end` itself: time never goes back)
    this.#now = Math.max(this.#now, end);
  }

  /** Fire timers until none is left (bounded, so a self-rescheduling timer cannot hang a test). */
  runAll(maxTimers = 100_000): void {
    for (let i = 0; i < maxTimers; i++) {
      const at = this.nextAt();
      if (at === undefined) return;
      this.advance(at - this.#now);
    }
    throw new Error(`TestClock.runAll: more than ${maxTimers} timers fired`);
  }
}
