/**
 * `TestClock` as a user's tests drive it: a timer that re-arms itself with 0 ms from its own callback (a poll loop
 * with no delay, an actor re-entering a state with `after: { 0: ... }`) never lets time move; `advance` and
 * `runAll` must end with an error naming it rather than hang the test run. A 0 set while firing still fires at the
 * same instant, after the timers already due there (the engine's Deadlines rely on it).
 */
import { describe, expect, it } from 'vitest';
import { TestClock } from '../../src/testing/index.js';

/** A callback that throws once it has run `limit` times: what would otherwise loop forever fails the test. */
function bounded(limit: number, fn: () => void): () => void {
  let n = 0;
  return () => {
    if (++n > limit) throw new Error(`fired more than ${limit} times: endless`);
    fn();
  };
}

describe('TestClock: a timer that re-arms itself with 0 ms', () => {
  it('advance() throws an error naming the instant instead of hanging; time stays there', () => {
    const clock = new TestClock(5);
    const tick = bounded(1_000_000, () => clock.setTimeout(tick, 0));
    clock.setTimeout(tick, 3);
    expect(() => clock.advance(10)).toThrow(/^TestClock.advance: more than \d+ timers fired at 8 ms/);
    expect(clock.now()).toBe(8);
  });

  it('runAll(maxTimers) throws after maxTimers timers, as documented, instead of hanging', () => {
    const clock = new TestClock();
    const tick = bounded(1_000_000, () => clock.setTimeout(tick, 0));
    clock.setTimeout(tick, 0);
    expect(() => clock.runAll(50)).toThrow(/^TestClock.runAll: more than 50 timers fired$/);
  });

  it('runAll() stops as before when the timers run out, and counts timers, not instants', () => {
    const clock = new TestClock();
    const fired: number[] = [];
    for (const ms of [5, 5, 5, 7]) clock.setTimeout(() => fired.push(clock.now()), ms);
    clock.runAll(4);
    expect(fired).toEqual([5, 5, 5, 7]);
    expect(clock.pending).toBe(0);
    clock.setTimeout(() => clock.setTimeout(() => {}, 1), 1);
    expect(() => clock.runAll(1)).toThrow(/more than 1 timers fired/);
  });

  it('a 0 set by a firing timer fires at the same instant, after the timers already due there', () => {
    const clock = new TestClock();
    const fired: string[] = [];
    clock.setTimeout(() => {
      fired.push('a');
      clock.setTimeout(() => fired.push(`nested at ${clock.now()}`), 0);
    }, 10);
    clock.setTimeout(() => fired.push('b'), 10);
    clock.advance(10);
    expect(fired).toEqual(['a', 'b', 'nested at 10']);
  });
});

describe('TestClock: advance takes a number of ms, nothing else', () => {
  it.each([
    ['a string', '5'],
    ['null', null],
    ['a bigint', 5n],
    ['an object', { valueOf: (): number => 5 }],
  ])(
    'advance(%s) is a RangeError and time stays put (a string was concatenated: 10 + "5" went to 105)',
    (_what, ms) => {
      const clock = new TestClock(10);
      const fired: number[] = [];
      clock.setTimeout(() => fired.push(clock.now()), 50);
      expect(() => clock.advance(ms as never)).toThrow(RangeError);
      expect(clock.now()).toBe(10);
      expect(fired).toEqual([]);
    },
  );

  it('an advance whose end is past the largest double is refused like Infinity: time never reaches Infinity', () => {
    const clock = new TestClock(Number.MAX_VALUE);
    expect(() => clock.advance(Number.MAX_VALUE)).toThrow(RangeError);
    expect(clock.now()).toBe(Number.MAX_VALUE);
  });

  it('a delay given as a numeric string is read as Node reads it (a number), not concatenated to now()', () => {
    const clock = new TestClock(10);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), '5' as never);
    expect(clock.nextAt()).toBe(15);
    clock.advance(5);
    expect(fired).toEqual([15]);
  });
});
