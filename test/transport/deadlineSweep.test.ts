import { describe, expect, it } from 'vitest';
import { TestClock } from '../../src/testing/testClock.js';
import { DeadlineSweep } from '../../src/transport/deadlineSweep.js';
import { catchMicrotaskThrows } from '../support/microtaskThrows.js';

interface Req {
  id: number;
  deadline: number;
}

/** A table swept by a DeadlineSweep whose expired requests are taken out and recorded in order. */
function table(clock = new TestClock()) {
  const pending = new Map<number, Req>();
  const timedOut: number[][] = [];
  const sweep = new DeadlineSweep(clock, pending, (expired) => {
    for (const r of expired) pending.delete(r.id);
    timedOut.push(expired.map((r) => r.id));
  });
  const add = (id: number, timeout: number) => {
    const r = { id, deadline: timeout === Number.POSITIVE_INFINITY ? timeout : clock.now() + timeout };
    pending.set(id, r);
    sweep.armFor(r.deadline);
  };
  return { clock, pending, timedOut, sweep, add };
}

describe('DeadlineSweep', () => {
  it('one timer for many requests, armed for the earliest deadline; each sweep takes what is due', () => {
    const { clock, timedOut, sweep, add } = table();
    add(1, 100);
    add(2, 100);
    add(3, 300);
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(100);
    clock.advance(99);
    expect(timedOut).toEqual([]);
    clock.advance(1);
    expect(timedOut).toEqual([[1, 2]]);
    // armed again for the one left
    expect(clock.nextAt()).toBe(300);
    clock.advance(200);
    expect(timedOut).toEqual([[1, 2], [3]]);
    expect(sweep.armed).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('an earlier deadline re-arms the timer; a later one does not', () => {
    const { clock, timedOut, add } = table();
    add(1, 500);
    add(2, 50);
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(50);
    add(3, 1000);
    expect(clock.nextAt()).toBe(50);
    clock.advance(50);
    expect(timedOut).toEqual([[2]]);
    expect(clock.nextAt()).toBe(500);
  });

  it('Infinity arms nothing; clear() releases the timer', () => {
    const { clock, sweep, add } = table();
    add(1, Number.POSITIVE_INFINITY);
    expect(sweep.armed).toBe(false);
    expect(clock.pending).toBe(0);
    add(2, 10);
    expect(sweep.armed).toBe(true);
    sweep.clear();
    expect(sweep.armed).toBe(false);
    expect(clock.pending).toBe(0);
    // armed again after a clear
    add(3, 20);
    expect(clock.nextAt()).toBe(20);
  });

  it('a table emptied by the settling leaves no timer behind', () => {
    const clock = new TestClock();
    const pending = new Map<number, Req>([
      [1, { id: 1, deadline: 10 }],
      [2, { id: 2, deadline: 40 }],
    ]);
    // the first timeout fails every request (a connection dropped)
    const sweep = new DeadlineSweep(clock, pending, () => pending.clear());
    sweep.armFor(10);
    clock.advance(10);
    expect(pending.size).toBe(0);
    expect(sweep.armed).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('a deadline armed while settling (a request given a new one) is kept when earlier than the rest', () => {
    const clock = new TestClock();
    const pending = new Map<number, Req>([
      [1, { id: 1, deadline: 10 }],
      [2, { id: 2, deadline: 100 }],
    ]);
    const sweep: DeadlineSweep<Req> = new DeadlineSweep(clock, pending, (expired) => {
      for (const r of expired) {
        // kept as a placeholder with a new deadline, as KATCP's request on the wire without an id
        r.deadline = clock.now() + 20;
        sweep.armFor(r.deadline);
      }
    });
    sweep.armFor(10);
    clock.advance(10);
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(30);
  });

  it('an onExpired that throws: the sweep goes on for the deadlines left, the throw surfaces later (unhandled)', async () => {
    const clock = new TestClock();
    const pending = new Map<number, Req>([
      [1, { id: 1, deadline: 10 }],
      [2, { id: 2, deadline: 40 }],
    ]);
    const boom = new Error('settling failed');
    const timedOut: number[] = [];
    const sweep = new DeadlineSweep(clock, pending, (expired) => {
      for (const r of expired) {
        pending.delete(r.id);
        timedOut.push(r.id);
      }
      if (timedOut.length === 1) throw boom;
    });
    const { caught, restore } = catchMicrotaskThrows();
    try {
      sweep.armFor(10);
      // the throw does not escape the clock's timer callback
      expect(() => clock.advance(10)).not.toThrow();
      expect(timedOut).toEqual([1]);
      expect(sweep.armed).toBe(true);
      expect(clock.nextAt()).toBe(40);
      clock.advance(30);
      expect(timedOut).toEqual([1, 2]);
      await Promise.resolve();
    } finally {
      restore();
    }
    expect(caught).toEqual([boom]);
  });
});
