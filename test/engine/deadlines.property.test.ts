/**
 * Issue 10 item 4: Deadlines against a naive reference (a sorted array of every armed deadline) under the
 * TestClock: random arms (few distinct delays, 0, NaN, negative, Infinity, fractions), cancels of live, fired and
 * cancelled handles, clock advances, clear(), and callbacks that arm or cancel others when they fire.
 * After every step: the same callbacks fired at the same clock times in the same order, the same deadlines are
 * armed, and the structure holds at most one clock timer, armed no later than the earliest deadline (none once
 * idle after a microtask checkpoint).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DeadlineHandle, type DeadlineNode, Deadlines } from '../../src/engine/deadlines.js';
import { TestClock } from '../../src/testing/index.js';
import { propertyRuns } from '../support/propertyRuns.js';

interface Reaction {
  arm?: number;
  cancel?: number;
}
type Cmd =
  | { kind: 'arm'; ms: number; reaction: Reaction }
  | { kind: 'cancel'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'clear' }
  | { kind: 'checkpoint' };

/** One deadline of the reference: due time and arm order decide when it fires. */
interface Ref {
  id: number;
  dueAt: number;
  seq: number;
  reaction: Reaction;
}

// delays close together, so lists overtake one another (a list's next head due after another list's head)
const delay = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0, 1, 2, 3, 5, 8) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 20 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(Number.NaN, -3, 0.5, 2.25, 60, 100, Number.POSITIVE_INFINITY, 2 ** 33),
  },
);
const reaction: fc.Arbitrary<Reaction> = fc.record({ arm: delay, cancel: fc.nat(50) }, { requiredKeys: [] });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('arm' as const), ms: delay, reaction }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat(50) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }) },
        { weight: 2, arbitrary: fc.integer({ min: 0, max: 120 }) },
        { weight: 1, arbitrary: fc.constant(2 ** 34) },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
);

const checkpoint = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('issue 10 item 4: Deadlines against a reference model', () => {
  it('issue 10 item 4: any arm/cancel/advance/clear sequence, with re-entrant callbacks, fires as the sorted-array model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 80 }), async (cmds) => {
        const clock = new TestClock();
        const deadlines = new Deadlines(clock);
        // the real structure
        const handles: (DeadlineHandle | null)[] = [];
        const fired: [number, number][] = [];
        // the reference
        let model: Ref[] = [];
        let seq = 0;
        const modelFired: [number, number][] = [];

        const realArm = (ms: number, r: Reaction): void => {
          const id = handles.length;
          handles.push(null);
          handles[id] = deadlines.arm(
            ms,
            (which: number) => {
              fired.push([which, clock.now()]);
              if (r.cancel !== undefined && handles.length > 0)
                deadlines.cancel(handles[r.cancel % handles.length]);
              if (r.arm !== undefined) realArm(r.arm, {});
            },
            id,
          );
        };
        const modelArm = (now: number, ms: number, r: Reaction, id: number): void => {
          if (ms === Number.POSITIVE_INFINITY) return;
          model.push({ id, dueAt: now + (ms > 0 ? ms : 0), seq: seq++, reaction: r });
        };
        let modelIds = 0;
        let modelNow = 0;
        const modelCancel = (id: number) => {
          model = model.filter((d) => d.id !== id);
        };
        const first = () =>
          model.reduce<Ref | undefined>(
            (a, d) => (!a || d.dueAt < a.dueAt || (d.dueAt === a.dueAt && d.seq < a.seq) ? d : a),
            undefined,
          );

        for (const c of cmds) {
          switch (c.kind) {
            case 'arm': {
              realArm(c.ms, c.reaction);
              modelArm(modelNow, c.ms, c.reaction, modelIds++);
              break;
            }
            case 'cancel': {
              if (handles.length === 0) break;
              const id = c.pick % handles.length;
              deadlines.cancel(handles[id]);
              modelCancel(id);
              break;
            }
            case 'clear': {
              deadlines.clear();
              model = [];
              expect(clock.pending).toBe(0);
              break;
            }
            case 'checkpoint': {
              await checkpoint();
              expect(clock.pending).toBe(deadlines.size > 0 ? 1 : 0);
              break;
            }
            case 'advance': {
              clock.advance(c.ms);
              const end = modelNow + c.ms;
              for (let d = first(); d !== undefined && d.dueAt <= end; d = first()) {
                modelCancel(d.id);
                modelNow = d.dueAt;
                modelFired.push([d.id, d.dueAt]);
                const r = d.reaction;
                if (r.cancel !== undefined && modelIds > 0) modelCancel(r.cancel % modelIds);
                if (r.arm !== undefined) modelArm(modelNow, r.arm, {}, modelIds++);
              }
              modelNow = end;
              break;
            }
          }
          // same history, same armed set, one timer no later than the earliest deadline
          expect(fired).toEqual(modelFired);
          expect(handles.length).toBe(modelIds);
          expect(deadlines.size).toBe(model.length);
          expect(deadlines.nextAt).toBe(first()?.dueAt);
          expect(clock.pending).toBeLessThanOrEqual(1);
          if (deadlines.size > 0) {
            expect(clock.pending).toBe(1);
            expect(clock.nextAt()).toBeLessThanOrEqual(deadlines.nextAt as number);
          }
        }
        await checkpoint();
        expect(clock.pending).toBe(deadlines.size > 0 ? 1 : 0);
        deadlines.clear();
        expect(clock.pending).toBe(0);
      }),
      { numRuns: propertyRuns(1000) },
    );
  });

  it('issue 10 item 4: many delay lists armed, cancelled in any order and drained fire in sorted order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ms: fc.integer({ min: 0, max: 60 }), at: fc.integer({ min: 0, max: 3 }) }), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.array(fc.nat(), { maxLength: 60 }),
        (arms, cancels) => {
          const clock = new TestClock();
          const deadlines = new Deadlines(clock);
          const fired: [number, number][] = [];
          const live = new Map<number, { dueAt: number; handle: DeadlineHandle | null }>();
          arms.forEach(({ ms, at }, i) => {
            clock.advance(at);
            live.set(i, {
              dueAt: clock.now() + ms,
              handle: deadlines.arm(ms, (id: number) => fired.push([id, clock.now()]), i),
            });
          });
          // cancelling one that already fired (armed with a small delay before a later arm's advance) is a
          // no-op, and it stays in the expected history
          for (const pick of cancels) {
            const ids = [...live.keys()];
            if (ids.length === 0) break;
            const id = ids[pick % ids.length];
            deadlines.cancel(live.get(id)?.handle);
            const done = new Set(fired.map(([f]) => f));
            if (!done.has(id)) live.delete(id);
            const pending = [...live.entries()].filter(([i]) => !done.has(i)).map(([, d]) => d);
            const next = pending.reduce((m, d) => Math.min(m, d.dueAt), Number.POSITIVE_INFINITY);
            expect(deadlines.nextAt ?? Number.POSITIVE_INFINITY).toBe(next);
            expect(deadlines.size).toBe(pending.length);
          }
          clock.advance(1000);
          // due order, ties in arm order (ids are arm order)
          const expected = [...live.entries()]
            .sort(([a, x], [b, y]) => x.dueAt - y.dueAt || a - b)
            .map(([id, d]): [number, number] => [id, d.dueAt]);
          expect(fired).toEqual(expected);
          expect(clock.pending).toBe(0);
        },
      ),
      {
        numRuns: propertyRuns(1000),
        // a list removed from the middle of the heap whose replacement must move up (found by this property)
        examples: [
          [
            [
              { ms: 21, at: 0 },
              { ms: 22, at: 3 },
              { ms: 2, at: 1 },
              { ms: 21, at: 0 },
              { ms: 0, at: 0 },
              { ms: 23, at: 0 },
              { ms: 24, at: 0 },
              { ms: 2, at: 0 },
              { ms: 0, at: 0 },
              { ms: 16, at: 1 },
            ],
            [1462425027, 814745066],
          ],
        ],
      },
    );
  });
  it('issue 10 item 4: nodes armed on themselves (armNode), re-armed, cancelled, and re-armed from their own firing, fire as the model', () => {
    type NodeCmd =
      | { kind: 'arm'; node: number; ms: number; reaction: Reaction }
      | { kind: 'cancel'; node: number }
      | { kind: 'advance'; ms: number };
    const NODES = 4;
    const nodeCmd: fc.Arbitrary<NodeCmd> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          kind: fc.constant('arm' as const),
          node: fc.nat(NODES - 1),
          ms: delay,
          reaction,
        }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), node: fc.nat(NODES - 1) }) },
      {
        weight: 4,
        arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
      },
    );
    fc.assert(
      fc.property(fc.array(nodeCmd, { maxLength: 60 }), (cmds) => {
        const clock = new TestClock();
        const deadlines = new Deadlines(clock);
        const fired: [number, number][] = [];
        // each node: the structure's fields, and what it does when due (arm a node, itself included, or cancel one)
        const reactions: Reaction[] = Array.from({ length: NODES }, () => ({}));
        const nodes: DeadlineNode[] = Array.from({ length: NODES }, (_, k) => ({
          dlPrev: null,
          dlNext: null,
          dlList: null,
          dlDueAt: null,
          deadlineDue() {
            fired.push([k, clock.now()]);
            const r = reactions[k];
            if (r.cancel !== undefined) deadlines.cancelNode(nodes[r.cancel % NODES]);
            if (r.arm !== undefined) {
              const target = (k + (r.cancel ?? 0)) % NODES;
              reactions[target] = {};
              deadlines.armNode(nodes[target], r.arm);
            }
          },
        }));
        // the model: at most one deadline per node; arming one that is armed replaces it (a new arm order)
        const model = new Map<number, { dueAt: number; seq: number }>();
        const modelReactions: Reaction[] = Array.from({ length: NODES }, () => ({}));
        const modelFired: [number, number][] = [];
        let seq = 0;
        let now = 0;
        const modelArm = (k: number, ms: number) => {
          model.delete(k);
          if (ms !== Number.POSITIVE_INFINITY) model.set(k, { dueAt: now + (ms > 0 ? ms : 0), seq: seq++ });
        };
        const first = () => {
          let best: [number, { dueAt: number; seq: number }] | undefined;
          for (const e of model)
            if (
              !best ||
              e[1].dueAt < best[1].dueAt ||
              (e[1].dueAt === best[1].dueAt && e[1].seq < best[1].seq)
            )
              best = e;
          return best;
        };
        for (const c of cmds) {
          if (c.kind === 'arm') {
            reactions[c.node] = c.reaction;
            modelReactions[c.node] = c.reaction;
            expect(deadlines.armNode(nodes[c.node], c.ms)).toBe(c.ms !== Number.POSITIVE_INFINITY);
            modelArm(c.node, c.ms);
          } else if (c.kind === 'cancel') {
            deadlines.cancelNode(nodes[c.node]);
            model.delete(c.node);
          } else {
            clock.advance(c.ms);
            const end = now + c.ms;
            // deadlines armed while firing fire no earlier than the next pass: the model takes the due ones of
            // this pass first (by due time, then arm order), then the pass's arms at the pass's clock time
            for (;;) {
              const passAt = first()?.[1].dueAt;
              if (passAt === undefined || passAt > end) break;
              now = Math.max(now, passAt);
              const due = [...model].filter(([, d]) => d.dueAt <= now);
              due.sort(([, a], [, b]) => a.dueAt - b.dueAt || a.seq - b.seq);
              const pending: [number, number][] = [];
              for (const [k] of due) {
                if (!model.has(k)) continue;
                model.delete(k);
                modelFired.push([k, now]);
                const r = modelReactions[k];
                if (r.cancel !== undefined) {
                  const victim = r.cancel % NODES;
                  model.delete(victim);
                  for (let i = pending.length - 1; i >= 0; i--)
                    if (pending[i][0] === victim) pending.splice(i, 1);
                }
                if (r.arm !== undefined) {
                  const target = (k + (r.cancel ?? 0)) % NODES;
                  modelReactions[target] = {};
                  model.delete(target);
                  for (let i = pending.length - 1; i >= 0; i--)
                    if (pending[i][0] === target) pending.splice(i, 1);
                  if (r.arm !== Number.POSITIVE_INFINITY) pending.push([target, r.arm]);
                }
              }
              for (const [k, ms] of pending) modelArm(k, ms);
            }
            now = end;
          }
          expect(fired).toEqual(modelFired);
          expect(deadlines.size).toBe(model.size);
          expect(deadlines.nextAt).toBe(first()?.[1].dueAt);
        }
        deadlines.clear();
        expect(clock.pending).toBe(0);
        for (const n of nodes) expect(n.dlList).toBeNull();
      }),
      { numRuns: propertyRuns(1000) },
    );
  });
});
