/**
 * Issue 10 item 4: one deadline structure per system. Deadlines fire in due order (ties in arm order) on the
 * system's clock, cancel works in every position of its delay list, firing callbacks may arm and cancel, Infinity
 * arms nothing, and the whole structure holds at most one clock timer (released when nothing is armed).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_DELAY, realClock } from '../../src/engine/clock.js';
import { type DeadlineHandle, Deadlines } from '../../src/engine/deadlines.js';
import { TestClock } from '../../src/testing/index.js';
import { catchMicrotaskThrows } from '../support/microtaskThrows.js';

/** Lets queued microtasks run (the idle timer release happens at the end of a microtask checkpoint). */
const checkpoint = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(start = 0) {
  const clock = new TestClock(start);
  const errors: unknown[] = [];
  const deadlines = new Deadlines(clock, { onError: (e) => errors.push(e) });
  const fired: string[] = [];
  const log = (label: string) => fired.push(label);
  return { clock, deadlines, fired, log, errors };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('issue 10 item 4: Deadlines', () => {
  it('issue 10 item 4: fires in due order across delays, ties in arm order, each at its own time', () => {
    const { clock, deadlines, fired, log } = setup();
    const at: Record<string, number> = {};
    const stamp = (label: string) => {
      at[label] = clock.now();
      log(label);
    };
    deadlines.arm(30, stamp, 'a30');
    deadlines.arm(10, stamp, 'b10');
    deadlines.arm(20, stamp, 'c20');
    deadlines.arm(10, stamp, 'd10');
    clock.advance(5);
    deadlines.arm(5, stamp, 'e5@5'); // due 10: ties with b10, d10, armed after them
    deadlines.arm(25, stamp, 'f25@5'); // due 30: ties with a30, armed after it
    expect(deadlines.size).toBe(6);
    expect(deadlines.nextAt).toBe(10);
    clock.advance(4);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(['b10', 'd10', 'e5@5']);
    clock.advance(100);
    expect(fired).toEqual(['b10', 'd10', 'e5@5', 'c20', 'a30', 'f25@5']);
    expect(at).toEqual({ b10: 10, d10: 10, 'e5@5': 10, c20: 20, a30: 30, 'f25@5': 30 });
    expect(deadlines.size).toBe(0);
    expect(deadlines.nextAt).toBeUndefined();
    expect(clock.pending).toBe(0);
  });

  it('issue 10 item 4: passes the stored argument, and undefined when none was given', () => {
    const { clock, deadlines } = setup();
    const args: unknown[] = [];
    const obj = { id: 1 };
    deadlines.arm(1, (a) => args.push(a), obj);
    deadlines.arm(2, (a) => args.push(a));
    clock.advance(2);
    expect(args).toEqual([obj, undefined]);
    expect(args[0]).toBe(obj);
  });

  it('issue 10 item 4: cancel at the head, middle and tail of a delay list, and of a list alone', () => {
    const { clock, deadlines, fired, log } = setup();
    const h: DeadlineHandle[] = [];
    for (let i = 0; i < 5; i++) {
      h.push(deadlines.arm(100, log, `x${i}`) as DeadlineHandle);
      clock.advance(1);
    }
    const lone = deadlines.arm(50, log, 'lone');
    const other = deadlines.arm(200, log, 'other');
    deadlines.cancel(h[0]); // head
    deadlines.cancel(h[2]); // middle
    deadlines.cancel(h[4]); // tail
    deadlines.cancel(lone); // a list's only entry
    expect(deadlines.size).toBe(3);
    expect(deadlines.nextAt).toBe(101);
    clock.advance(1000);
    expect(fired).toEqual(['x1', 'x3', 'other']);
    // a list emptied from its tail and head, then armed again, keeps working
    const a = deadlines.arm(100, log, 'again1');
    const b = deadlines.arm(100, log, 'again2');
    deadlines.cancel(b);
    deadlines.cancel(a);
    deadlines.arm(100, log, 'again3');
    clock.advance(100);
    expect(fired).toEqual(['x1', 'x3', 'other', 'again3']);
    expect(other).not.toBeNull();
  });

  it('issue 10 item 4: cancelling a list`s head lets another list`s earlier head go first', () => {
    const { clock, deadlines, fired } = setup();
    const log = (label: string) => fired.push(`${label}@${clock.now()}`);
    const a1 = deadlines.arm(10, log, 'a1');
    deadlines.arm(12, log, 'b');
    clock.advance(5);
    deadlines.arm(10, log, 'a2'); // due 15, behind a1 in the 10 ms list
    deadlines.cancel(a1); // the 10 ms list's head is now due after the 12 ms list's
    expect(deadlines.nextAt).toBe(12);
    clock.advance(100);
    expect(fired).toEqual(['b@12', 'a2@15']);
  });

  it('issue 10 item 4: a callback that re-arms itself with 0 fires once per clock timer (no loop within a pass)', () => {
    const timers: (() => void)[] = [];
    const manual = {
      now: () => 0,
      setTimeout: (fn: () => void) => timers.push(fn),
      clearTimeout: () => {},
    };
    const deadlines = new Deadlines(manual);
    let count = 0;
    const again = () => {
      count++;
      deadlines.arm(0, again);
    };
    deadlines.arm(0, again);
    expect(timers).toHaveLength(1);
    timers[0]();
    expect(count).toBe(1);
    expect(timers).toHaveLength(2);
    timers[1]();
    expect(count).toBe(2);
    deadlines.clear();
  });

  it('issue 10 item 4: cancel is a no-op for null, a fired, a cancelled or another structure`s handle', () => {
    const { clock, deadlines, fired, log } = setup();
    const other = new Deadlines(clock);
    const foreign = other.arm(10, log, 'foreign');
    const h = deadlines.arm(10, log, 'mine');
    deadlines.cancel(null);
    deadlines.cancel(undefined);
    deadlines.cancel(foreign);
    expect(other.size).toBe(1);
    expect(deadlines.size).toBe(1);
    clock.advance(10);
    expect(fired).toEqual(['foreign', 'mine']);
    deadlines.cancel(h);
    deadlines.cancel(h);
    expect(deadlines.size).toBe(0);
    const c = deadlines.arm(10, log, 'cancelled');
    deadlines.cancel(c);
    deadlines.cancel(c);
    expect(deadlines.size).toBe(0);
    clock.advance(10);
    expect(fired).toEqual(['foreign', 'mine']);
  });

  it('issue 10 item 4: Infinity arms nothing; 0, NaN and negative delays are 0; a huge delay fires when due', () => {
    const { clock, deadlines, fired, log } = setup();
    expect(deadlines.arm(Number.POSITIVE_INFINITY, log, 'never')).toBeNull();
    expect(deadlines.size).toBe(0);
    expect(clock.pending).toBe(0);
    deadlines.arm(-5, log, 'negative');
    deadlines.arm(Number.NaN, log, 'nan');
    deadlines.arm(0, log, 'zero');
    const huge = 2 ** 40;
    deadlines.arm(huge, log, 'huge');
    deadlines.arm(MAX_TIMER_DELAY + 1, log, 'pastLimit');
    expect(deadlines.nextAt).toBe(0);
    clock.advance(0);
    expect(fired).toEqual(['negative', 'nan', 'zero']);
    clock.advance(MAX_TIMER_DELAY);
    expect(fired).toEqual(['negative', 'nan', 'zero']);
    clock.advance(1);
    expect(fired).toEqual(['negative', 'nan', 'zero', 'pastLimit']);
    clock.advance(huge - MAX_TIMER_DELAY - 2);
    expect(fired).toHaveLength(4);
    clock.advance(1);
    expect(fired).toEqual(['negative', 'nan', 'zero', 'pastLimit', 'huge']);
    expect(clock.pending).toBe(0);
  });

  it('issue 10 item 4: a firing callback may arm (0 fires at the same time, after the pass) and cancel others', () => {
    const { clock, deadlines, fired, log } = setup();
    let victim: DeadlineHandle | null = null;
    deadlines.arm(10, () => {
      log('first');
      deadlines.cancel(victim); // due in the same pass: it must not fire
      deadlines.arm(0, log, 'armed-0'); // same time, after every deadline of this pass
      deadlines.arm(5, log, 'armed-5');
    });
    victim = deadlines.arm(10, log, 'victim');
    deadlines.arm(10, log, 'third');
    clock.advance(10);
    expect(fired).toEqual(['first', 'third', 'armed-0']);
    expect(clock.now()).toBe(10);
    clock.advance(5);
    expect(fired).toEqual(['first', 'third', 'armed-0', 'armed-5']);
    // a deadline armed by one callback and cancelled by a later one of the same pass never fires
    let armedInPass: DeadlineHandle | null = null;
    deadlines.arm(1, () => {
      armedInPass = deadlines.arm(0, log, 'armed-then-cancelled');
      deadlines.arm(0, log, 'armed-kept');
    });
    deadlines.arm(1, () => {
      expect(deadlines.size).toBe(2);
      deadlines.cancel(armedInPass);
      deadlines.cancel(armedInPass);
      expect(deadlines.size).toBe(1);
    });
    clock.advance(1);
    expect(fired.slice(-1)).toEqual(['armed-kept']);
    expect(deadlines.size).toBe(0);
    // a callback re-arming itself with 0 runs once per timer, it does not loop within one pass
    let count = 0;
    const again = () => {
      count++;
      if (count < 1000) deadlines.arm(0, again);
    };
    deadlines.arm(0, again);
    clock.advance(0);
    expect(count).toBe(1000);
    // a callback may cancel itself (a no-op) and clear everything
    const self: { h: DeadlineHandle | null } = { h: null };
    self.h = deadlines.arm(1, () => {
      deadlines.cancel(self.h);
      deadlines.clear();
      log('cleared');
    });
    deadlines.arm(1, log, 'gone');
    deadlines.arm(2, log, 'gone too');
    clock.advance(5);
    expect(fired.at(-1)).toBe('cleared');
    expect(deadlines.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('issue 10 item 4: a callback that throws is reported and the others still fire; default rethrows later', async () => {
    const { clock, deadlines, fired, log, errors } = setup();
    const boom = new Error('boom');
    deadlines.arm(1, log, 'a');
    deadlines.arm(1, () => {
      throw boom;
    });
    deadlines.arm(1, log, 'c');
    clock.advance(1);
    expect(fired).toEqual(['a', 'c']);
    expect(errors).toEqual([boom]);

    // without onError the error surfaces later, as a throwing timer callback's would
    const plain = new Deadlines(clock);
    const seen: string[] = [];
    const { caught, restore } = catchMicrotaskThrows();
    try {
      plain.arm(1, () => {
        throw boom;
      });
      plain.arm(1, () => seen.push('after'));
      clock.advance(1);
      expect(seen).toEqual(['after']);
      await checkpoint();
    } finally {
      restore();
    }
    expect(caught).toEqual([boom]);
  });

  it('issue 10 item 4: one clock timer at a time, armed for the earliest deadline, released when idle', async () => {
    const { clock, deadlines, fired, log } = setup();
    expect(clock.pending).toBe(0);
    const late = deadlines.arm(1000, log, 'late');
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(1000);
    const early = deadlines.arm(10, log, 'early'); // earlier: the timer moves
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(10);
    for (let i = 0; i < 100; i++) deadlines.arm(500 + i, log, `m${i}`);
    expect(clock.pending).toBe(1);
    // cancelling the earliest leaves the timer where it is: it fires, finds nothing due and re-arms
    deadlines.cancel(early);
    expect(clock.pending).toBe(1);
    clock.advance(10);
    expect(fired).toEqual([]);
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(500);
    clock.advance(600);
    expect(fired).toHaveLength(100);
    expect(clock.nextAt()).toBe(1000);
    // the last deadline cancelled: the timer stays until the microtask checkpoint, then goes
    deadlines.cancel(late);
    expect(deadlines.size).toBe(0);
    expect(clock.pending).toBe(1);
    await checkpoint();
    expect(clock.pending).toBe(0);
    // armed and cancelled in a loop: one timer throughout, none after the checkpoint
    let sets = 0;
    const counting = new TestClock();
    const original = counting.setTimeout.bind(counting);
    counting.setTimeout = (fn, ms) => {
      sets++;
      return original(fn, ms);
    };
    const looped = new Deadlines(counting);
    for (let i = 0; i < 1000; i++) looped.cancel(looped.arm(60_000, log, 'loop'));
    expect(sets).toBe(1);
    expect(counting.pending).toBe(1);
    await checkpoint();
    expect(counting.pending).toBe(0);
  });

  it('issue 10 item 4: clear() cancels everything and releases the timer at once; handles become inert', () => {
    const { clock, deadlines, fired, log } = setup();
    const hs = [deadlines.arm(1, log, 'a'), deadlines.arm(2, log, 'b'), deadlines.arm(2, log, 'c')];
    deadlines.clear();
    expect(deadlines.size).toBe(0);
    expect(deadlines.nextAt).toBeUndefined();
    expect(clock.pending).toBe(0);
    for (const h of hs) deadlines.cancel(h);
    clock.advance(10);
    expect(fired).toEqual([]);
    deadlines.arm(2, log, 'd');
    clock.advance(2);
    expect(fired).toEqual(['d']);
  });

  it('issue 10 item 4: many distinct delays (more lists than are kept when empty) keep their order', () => {
    const { clock, deadlines, fired, log } = setup();
    const delays = Array.from({ length: 200 }, (_, i) => (i * 37) % 200);
    const handles = delays.map((d) => deadlines.arm(d, log, String(d)));
    for (let i = 0; i < handles.length; i += 3) deadlines.cancel(handles[i]);
    const expected = delays
      .filter((_, i) => i % 3 !== 0)
      .sort((a, b) => a - b)
      .map(String);
    clock.advance(200);
    expect(fired).toEqual(expected);
    for (const d of delays) deadlines.arm(d, log, `again${d}`);
    clock.advance(200);
    expect(fired.slice(expected.length)).toEqual([...delays].sort((a, b) => a - b).map((d) => `again${d}`));
  });

  it('issue 10 item 4: on the real clock (fake timers), an early wake-up re-arms and deadlines fire when due', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'queueMicrotask'] });
    const deadlines = new Deadlines(realClock);
    const fired: [string, number][] = [];
    const t0 = performance.now();
    const log = (label: string) => fired.push([label, performance.now() - t0]);
    deadlines.arm(50, log, 'fifty');
    const h = deadlines.arm(20, log, 'twenty');
    deadlines.arm(2 ** 32, log, 'long');
    deadlines.cancel(h); // the timer stays at 20, fires early for 'fifty' and re-arms
    vi.advanceTimersByTime(49);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([['fifty', 50]]);
    vi.advanceTimersByTime(2 ** 32 - 51);
    expect(fired).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([
      ['fifty', 50],
      ['long', 2 ** 32],
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
