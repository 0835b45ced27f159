/**
 * Issue 10 item 6: the events a shared subscription keeps for calls without a command id (`KeptEvents`) answer
 * exactly what scanning them would: the kept events (the newest `limit`) after an arrival number that name an id
 * at an even index, in arrival order, however many were dropped and the index rebuilt.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeptEvents } from '../../src/protocols/tango/lrc/keptEvents.js';
import type { AttributeEvent } from '../../src/protocols/tango/port.js';
import { propertyRuns } from '../support/propertyRuns.js';

const IDS = ['A', 'B', 'C', 'D', 'E'];
const value = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(...IDS), fc.constant(3), fc.constant(null)), { maxLength: 7 }),
  fc.constant('not a list'),
);
const op = fc.oneof(
  { weight: 8, arbitrary: value.map((v) => ({ push: v })) },
  { weight: 1, arbitrary: fc.constant({ clear: true as const }) },
);

/** The brute-force answer: scan the kept events. */
function naming(kept: { seq: number; event: AttributeEvent }[], id: string, after: number) {
  return kept
    .filter(
      ({ seq, event }) =>
        seq > after && Array.isArray(event.value) && event.value.some((x, i) => i % 2 === 0 && x === id),
    )
    .map(({ seq, event }) => ({ seq, event }));
}

describe('KeptEvents', () => {
  it('issue 10 item 6: positionsOf after firstAfter(seq) is the scan of the kept events naming the id', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 120 }), (limit, ops) => {
        const kept = new KeptEvents(limit);
        let model: { seq: number; event: AttributeEvent }[] = [];
        let seq = 0;
        for (const o of ops) {
          if ('clear' in o) {
            kept.clear();
            model = [];
          } else {
            const event: AttributeEvent = { attribute: 'x', value: o.push };
            seq += 1 + (seq % 3); // gaps: arrival numbers shared with other subscriptions
            kept.push(seq, event);
            model.push({ seq, event });
            if (model.length > limit) model.shift();
          }
          expect(kept.length).toBe(model.length);
          for (const after of [0, seq - 4, seq - 1]) {
            const from = kept.firstAfter(after);
            expect(kept.end - from).toBe(model.filter((k) => k.seq > after).length);
            for (const id of IDS) {
              const got = kept
                .positionsOf(id, from)
                .map((p) => ({ seq: kept.seqAt(p), event: kept.eventAt(p) }));
              const want = naming(model, id, after);
              expect(got.map((k) => k.seq)).toEqual(want.map((k) => k.seq));
              for (const [i, k] of got.entries()) expect(k.event).toBe(want[i].event);
            }
          }
        }
      }),
      { numRuns: propertyRuns(500) },
    );
  });
});
