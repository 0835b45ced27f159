/**
 * Issue 7 item 9: one duration rule for both clocks. `Infinity` arms no timer; delays past Node's timer limit
 * (2^31 - 1 ms) fire when due, not after 1 ms; NaN and negative delays are 0; the real clock and the TestClock
 * fire the same schedule in the same order.
 *
 * The real clock is exercised two ways: with Node's own timers (short waits of a few tens of ms, ended by a
 * sentinel timer rather than by a wall-clock threshold) and under vitest's fake timers, which fake `setTimeout` and
 * `performance.now()` so days and years of delay can be walked through.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_DELAY, realClock } from '../../src/engine/clock.js';
import { TestClock } from '../../src/testing/index.js';

/** Node timers currently keeping the event loop alive. */
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Resolves when a real timer of `ms` fires (the sentinel that ends a real-time schedule). */
const sentinel = (ms: number) => new Promise<void>((resolve) => realClock.setTimeout(resolve, ms));

afterEach(() => {
  vi.useRealTimers();
});

/** A schedule of labelled delays, some cleared before they are due. */
const SCHEDULE: { label: string; ms: number; clear?: boolean }[] = [
  { label: 'ten', ms: 10 },
  { label: 'nan', ms: Number.NaN },
  { label: 'negative', ms: -5 },
  { label: 'zero', ms: 0 },
  { label: 'cleared', ms: 5, clear: true },
  { label: 'twenty', ms: 20 },
  { label: 'never', ms: Number.POSITIVE_INFINITY },
  { label: 'limit', ms: MAX_TIMER_DELAY },
  { label: 'pastLimit', ms: 2 ** 31 },
  { label: 'clearedLong', ms: 2 ** 35, clear: true },
  { label: 'huge', ms: 2 ** 40 },
];

/** Arm SCHEDULE on `clock`; returns the labels in firing order and a function that clears what is left. */
function arm(clock: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(id: unknown): void }) {
  const fired: string[] = [];
  const ids = SCHEDULE.map(({ label, ms, clear }) => {
    const id = clock.setTimeout(() => fired.push(label), ms);
    if (clear) clock.clearTimeout(id);
    return id;
  });
  return {
    fired,
    clearAll: () => {
      for (const id of ids) clock.clearTimeout(id);
    },
  };
}

describe('issue 7 item 9: the real clock', () => {
  it('issue 7 item 9: Infinity arms no timer at all, and clearing it is harmless', () => {
    const before = activeTimers();
    const id = realClock.setTimeout(() => {
      throw new Error('must never fire');
    }, Number.POSITIVE_INFINITY);
    expect(activeTimers()).toBe(before);
    realClock.clearTimeout(id);
    realClock.clearTimeout(id);
    expect(activeTimers()).toBe(before);
  });

  it('issue 7 item 9: 2^31 ms and 2^40 ms do not fire early (Node alone fires them after 1 ms)', async () => {
    const fired: string[] = [];
    const before = activeTimers();
    const long = realClock.setTimeout(() => fired.push('2^31'), 2 ** 31);
    const huge = realClock.setTimeout(() => fired.push('2^40'), 2 ** 40);
    expect(activeTimers()).toBe(before + 2);
    await sentinel(30);
    expect(fired).toEqual([]);
    realClock.clearTimeout(long);
    realClock.clearTimeout(huge);
    expect(activeTimers()).toBe(before);
  });

  it('issue 7 item 9: NaN and negative delays behave as 0: they fire, before a later timer', async () => {
    const fired: string[] = [];
    realClock.setTimeout(() => fired.push('five'), 5);
    realClock.setTimeout(() => fired.push('nan'), Number.NaN);
    realClock.setTimeout(() => fired.push('negative'), -1);
    await sentinel(10);
    expect(fired).toEqual(['nan', 'negative', 'five']);
  });

  it('issue 7 item 9: a delay past the limit is chained and fires when due (fake timers)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const fired: number[] = [];
    for (const ms of [2 ** 31, 1e12, 2 ** 40]) realClock.setTimeout(() => fired.push(ms), ms);
    // walk to 2 ms before each due time (nothing new fired), then to the due time (it fired); the fake
    // performance.now() drifts below 1 ms this far out, the timers' resolution
    let at = 0;
    const walkTo = (ms: number) => {
      vi.advanceTimersByTime(ms - at);
      at = ms;
    };
    for (const [i, due] of [2 ** 31, 1e12, 2 ** 40].entries()) {
      walkTo(due - 2);
      expect(fired, `before ${due} ms`).toHaveLength(i);
      walkTo(due);
      expect(fired, `at ${due} ms`).toHaveLength(i + 1);
    }
    expect(fired).toEqual([2 ** 31, 1e12, 2 ** 40]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('issue 7 item 9: a chained long timer can be cleared after any number of legs', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let fired = 0;
    const id = realClock.setTimeout(() => fired++, 2 ** 40);
    vi.advanceTimersByTime(3 * MAX_TIMER_DELAY + 7); // three legs have fired and re-armed
    expect(vi.getTimerCount()).toBe(1);
    realClock.clearTimeout(id);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(2 ** 40);
    expect(fired).toBe(0);
  });
});

describe('issue 7 item 9: the TestClock', () => {
  it('issue 7 item 9: Infinity keeps no timer; 2^31 and 2^40 ms fire when due; NaN and negative are 0', () => {
    const clock = new TestClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('never'), Number.POSITIVE_INFINITY);
    expect(clock.pending).toBe(0);
    clock.setTimeout(() => fired.push('2^40'), 2 ** 40);
    clock.setTimeout(() => fired.push('2^31'), 2 ** 31);
    clock.setTimeout(() => fired.push('nan'), Number.NaN);
    clock.setTimeout(() => fired.push('negative'), -3);
    clock.advance(0);
    expect(fired).toEqual(['nan', 'negative']);
    clock.advance(2 ** 31 - 1);
    expect(fired).toEqual(['nan', 'negative']);
    clock.advance(1);
    expect(fired).toEqual(['nan', 'negative', '2^31']);
    clock.advance(2 ** 40 - 2 ** 31);
    expect(fired).toEqual(['nan', 'negative', '2^31', '2^40']);
    clock.runAll();
    expect(fired).toHaveLength(4);
    expect(clock.pending).toBe(0);
  });

  it('issue 7 item 9: advancing by Infinity, NaN or a negative amount is refused, time stays put', () => {
    const clock = new TestClock(5);
    for (const ms of [Number.POSITIVE_INFINITY, Number.NaN, -1])
      expect(() => clock.advance(ms)).toThrow(RangeError);
    expect(clock.now()).toBe(5);
  });

  it('a timer that advances the clock further from its callback: time never goes back once the outer advance ends', () => {
    const clock = new TestClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.advance(100); // to 110
    }, 10);
    clock.setTimeout(() => fired.push(clock.now()), 50);
    clock.advance(20);
    // before, the outer advance set now() back to 20 after the inner one had reached 110
    expect(clock.now()).toBe(110);
    expect(fired).toEqual([10, 50]);
  });

  it('a TestClock starting at NaN, Infinity or a string is refused (its timers would never fire)', () => {
    for (const start of [Number.NaN, Number.POSITIVE_INFINITY, '5', null])
      expect(() => new TestClock(start as number)).toThrow(RangeError);
    expect(new TestClock(-10).now()).toBe(-10);
  });
});

describe('issue 7 item 9: the real clock and the TestClock agree', () => {
  it('issue 7 item 9: the same schedule fires in the same order on both, in real time', async () => {
    const test = new TestClock();
    const onTest = arm(test);
    test.advance(30);
    const onReal = arm(realClock);
    await sentinel(30);
    onReal.clearAll();
    expect(onReal.fired).toEqual(['nan', 'negative', 'zero', 'ten', 'twenty']);
    expect(onReal.fired).toEqual(onTest.fired);
    expect(test.pending).toBe(3); // limit, pastLimit, huge; never and the cleared ones keep nothing
  });

  it('issue 7 item 9: the same schedule fires at the same times on both, up to 2^40 ms (fake timers)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const test = new TestClock();
    const onTest = arm(test);
    const onReal = arm(realClock);
    let at = 0;
    // checkpoints stay 2 ms clear of due times: this far out, the fake performance.now() drifts below 1 ms
    const checkpoints = [
      0,
      10,
      20,
      MAX_TIMER_DELAY - 2,
      MAX_TIMER_DELAY,
      2 ** 31,
      2 ** 35,
      2 ** 40 - 2,
      2 ** 40,
    ];
    for (const checkpoint of checkpoints) {
      test.advance(checkpoint - at);
      vi.advanceTimersByTime(checkpoint - at);
      at = checkpoint;
      expect(onReal.fired, `at ${checkpoint} ms`).toEqual(onTest.fired);
    }
    expect(onTest.fired).toEqual(['nan', 'negative', 'zero', 'ten', 'twenty', 'limit', 'pastLimit', 'huge']);
    expect(test.pending).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
