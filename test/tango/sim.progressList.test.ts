/**
 * Issue 10 item 6: the simulator keeps its v1 progress list up to date as progress changes (no rebuild per event):
 * whatever the order of progress reports, re-used uids and removals of finished commands, every read and every
 * progress event is the list built from scratch: (uid, String(progress)) of the tracked commands with a progress,
 * in creation order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SkaCommandTracker } from '../../src/protocols/tango/sim/skaCommandTracker.js';
import { LRC_ATTRIBUTES, TaskStatus } from '../../src/protocols/tango/wire.js';
import { TestClock } from '../../src/testing/testClock.js';
import { propertyRuns } from '../support/propertyRuns.js';

const op = fc.oneof(
  fc.record({ create: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ progress: fc.nat(9), value: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant('half')) }),
  fc.record({ finish: fc.nat(9) }),
  fc.record({ advance: fc.constantFrom(1, 5, 10) }),
  fc.record({ status: fc.nat(9) }),
);

describe('issue 10 item 6: simulator progress list', () => {
  it('issue 10 item 6: every read and progress event equals the list built from the tracked commands', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const clock = new TestClock();
        const pushed: unknown[] = [];
        const uuids: number[] = [];
        const tracker = new SkaCommandTracker({
          clock,
          epochMs: 0,
          removalTimeMs: 10,
          nextUuid: () => uuids.shift() ?? 0,
          push: (attribute) => {
            // compared with the list built from scratch at push time (removals push mid-advance)
            if (attribute === LRC_ATTRIBUTES.progress) pushed.push([tracker.read(attribute), expected()]);
          },
        });
        const uids: string[] = [];
        const model = new Map<string, { progress?: unknown }>();
        const expected = () => {
          const out: string[] = [];
          for (const [uid, c] of model)
            if (c.progress !== undefined && tracker.get(uid) !== undefined) out.push(uid, String(c.progress));
          return out;
        };
        for (const o of ops) {
          if ('create' in o) {
            uuids.push(o.create); // small uuids: re-used uids (the simulated clock stands still between some)
            const uid = tracker.newCommand('Go');
            uids.push(uid);
            model.set(uid, {}); // a re-used uid keeps its place, as a Map does
          } else if ('advance' in o) {
            clock.advance(o.advance);
            for (const uid of [...model.keys()]) if (tracker.get(uid) === undefined) model.delete(uid);
          } else if (uids.length) {
            const uid =
              uids[
                'progress' in o
                  ? o.progress % uids.length
                  : 'finish' in o
                    ? o.finish % uids.length
                    : o.status % uids.length
              ];
            if ('progress' in o) {
              const c = model.get(uid);
              if (c) c.progress = o.value; // before the update, which pushes the event
              tracker.update(uid, { progress: o.value });
            } else if ('finish' in o) tracker.update(uid, { status: TaskStatus.COMPLETED });
            else tracker.update(uid, { status: TaskStatus.IN_PROGRESS });
          }
          for (const [got, want] of pushed as [unknown, unknown][]) expect(got).toEqual(want);
          pushed.length = 0;
          expect(tracker.read(LRC_ATTRIBUTES.progress)).toEqual(expected());
        }
        tracker.close();
      }),
      { numRuns: propertyRuns(1000) },
    );
  });
});
