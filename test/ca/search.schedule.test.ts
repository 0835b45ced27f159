/**
 * caproto's search schedule (`searchSchedule.ts`) on a TestClock: the whole back-off and retirement curve
 * without waiting, coalesced adds, un-retirement, and no timer while nothing is unanswered.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PendingSearch, SearchSchedule } from '../../src/protocols/ca/searchSchedule.js';
import { TestClock } from '../../src/testing/index.js';
import { propertyRuns } from '../support/propertyRuns.js';

const microtasks = () => new Promise<void>((r) => setImmediate(r));

function harness() {
  const clock = new TestClock();
  const rounds: { at: number; cids: number[] }[] = [];
  const schedule = new SearchSchedule({
    clock,
    send: (due: readonly PendingSearch[]) => rounds.push({ at: clock.now(), cids: due.map((s) => s.cid) }),
  });
  return { clock, rounds, schedule };
}

describe('issue 11 item 2: the search schedule (caproto), on a TestClock', () => {
  it('sends at once, then 30 ms doubling to 5 s', async () => {
    const { clock, rounds, schedule } = harness();
    schedule.add(1, 'a', Buffer.alloc(24));
    await microtasks();
    clock.advance(20_000);
    const times = rounds.map((r) => r.at);
    expect(times).toEqual([0, 30, 90, 210, 450, 930, 1890, 3810, 7650, 12650, 17650]);
    expect(schedule.intervalMs).toBe(5000);
    expect(schedule.unanswered).toBe(1);
  });

  it('resends every unanswered search on add, once per burst, and resets the back-off', async () => {
    const { clock, rounds, schedule } = harness();
    schedule.add(1, 'a', Buffer.alloc(24));
    await microtasks();
    clock.advance(10_000);
    const before = rounds.length;
    for (let cid = 2; cid <= 50; cid++) schedule.add(cid, `pv${cid}`, Buffer.alloc(24));
    await microtasks();
    expect(rounds.length).toBe(before + 1); // one round for the whole burst
    expect(rounds.at(-1)!.cids).toHaveLength(50);
    expect(schedule.intervalMs).toBe(30);
    clock.advance(30);
    expect(rounds.at(-1)!.at).toBe(10_030);
  });

  it('retires after 480 s to one resend per 60 s, and a new server un-retires', async () => {
    const { clock, rounds, schedule } = harness();
    schedule.add(7, 'lost', Buffer.alloc(24));
    await microtasks();
    clock.advance(479_999);
    expect(schedule.retired).toBe(0);
    clock.advance(1); // 480 s old: retired (caproto: young while deadline > now)
    expect(schedule.retired).toBe(1);
    clock.advance(5_000);
    expect(schedule.retired).toBe(1);
    const afterRetirement = rounds.filter((r) => r.at > 480_000).map((r) => r.at);
    clock.advance(300_000);
    const retiredRounds = rounds.filter((r) => r.at > 480_000).map((r) => r.at);
    const gaps = retiredRounds.slice(1).map((t, i) => t - retiredRounds[i]);
    expect(afterRetirement.length).toBeLessThanOrEqual(1);
    expect(gaps.every((g) => g >= 60_000)).toBe(true);
    expect(retiredRounds.length).toBeGreaterThanOrEqual(5);
    expect(clock.pending).toBe(1); // one sleeping timer, not a 5 s poll
    schedule.unretireAll();
    await microtasks();
    expect(rounds.at(-1)!.at).toBe(clock.now());
    expect(schedule.retired).toBe(0);
    expect(schedule.intervalMs).toBe(30);
  });

  it('no timer while nothing is unanswered; remove and close disarm', async () => {
    const { clock, rounds, schedule } = harness();
    expect(clock.pending).toBe(0);
    schedule.add(1, 'a', Buffer.alloc(24));
    schedule.add(2, 'b', Buffer.alloc(24));
    await microtasks();
    expect(clock.pending).toBe(1);
    schedule.remove(1);
    expect(clock.pending).toBe(1);
    schedule.remove(2);
    expect(clock.pending).toBe(0);
    schedule.add(3, 'c', Buffer.alloc(24));
    schedule.close();
    await microtasks();
    expect(clock.pending).toBe(0);
    expect(rounds.flatMap((r) => r.cids)).toEqual([1, 2]);
    schedule.add(4, 'd', Buffer.alloc(24));
    await microtasks();
    expect(rounds).toHaveLength(1);
  });

  it('property: never two rounds closer than 30 ms apart except adds, never a gap over 5 s for young searches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.constant(-1)), { maxLength: 30 }),
        async (ops) => {
          const { clock, rounds, schedule } = harness();
          const addTimes = new Set<number>();
          let cid = 0;
          schedule.add(cid++, 'first', Buffer.alloc(24));
          addTimes.add(0);
          await microtasks();
          for (const op of ops) {
            if (op === -1) {
              schedule.add(cid++, 'x', Buffer.alloc(24));
              addTimes.add(clock.now());
              await microtasks();
            } else clock.advance(op);
          }
          for (let i = 1; i < rounds.length; i++) {
            const gap = rounds[i].at - rounds[i - 1].at;
            if (!addTimes.has(rounds[i].at)) expect(gap).toBeGreaterThanOrEqual(30);
            if (clock.now() < 480_000) expect(gap).toBeLessThanOrEqual(5000);
          }
          // every round sends every young unanswered search
          for (const r of rounds) expect(r.cids.length).toBeGreaterThan(0);
          schedule.close();
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: propertyRuns(100) },
    );
  });
});
