/**
 * issue 10 item 2: the compiled runner copies contexts with a literal of the machine's fields (`contextCopy.ts`);
 * every context it makes is the one XState's `Object.assign({}, context, partial)` makes: the same fields in the
 * same order, the same values, the same prototype, for machines whose contexts keep their fields and for those
 * whose contexts do not (a field added by assign, added or deleted in place, symbol keys, getters, `__proto__`).
 */
import { describe, expect, it } from 'vitest';
import { type AnyStateMachine, assign, createActor, type EventObject, enqueueActions, setup } from 'xstate';
import { hasShape, learnShape, mergeFor } from '../../../src/engine/compiled/contextCopy.js';
import {
  type CompiledMachine,
  compileMachine,
  type LifecycleHost,
  startLifecycle,
} from '../../../src/engine/compiled/index.js';

const host: LifecycleHost = { schedule: () => null, cancel: () => {} };

/** Own keys (strings then symbols, in order), prototype and values of a context. */
function anatomy(ctx: object) {
  return {
    keys: Reflect.ownKeys(ctx),
    proto: Object.getPrototypeOf(ctx),
    values: Reflect.ownKeys(ctx).map((k) => (ctx as Record<PropertyKey, unknown>)[k]),
    descriptors: Reflect.ownKeys(ctx).map((k) => {
      const d = Object.getOwnPropertyDescriptor(ctx, k)!;
      return [d.enumerable, d.writable, 'get' in d && d.get !== undefined];
    }),
  };
}

/** Runs `events` through XState's actor and through two compiled lifecycles (the second with the learned shape). */
function compare(machine: AnyStateMachine, events: EventObject[]) {
  const compiled = compileMachine(machine) as CompiledMachine;
  const actor = createActor(machine).start();
  const first = startLifecycle(compiled, { id: 'a', host });
  const second = startLifecycle(compiled, { id: 'b', host });
  const check = () => {
    const expected = anatomy(actor.getSnapshot().context);
    expect(anatomy(first.context)).toEqual(expected);
    expect(anatomy(second.context)).toEqual(expected);
  };
  check();
  for (const e of events) {
    actor.send(e);
    first.send(e);
    second.send(e);
    check();
  }
  return compiled;
}

/** Fields enough for the literal copy (contexts of fewer fields are copied by Object.assign: see MIN_FIELDS). */
const PAD = { p1: 1, p2: 2, p3: 3, p4: 4, p5: 5, p6: 6, p7: 7 };

const ADD = { type: 'ADD' };
const SET = { type: 'SET' };

describe('compiled runner: context copies', () => {
  it('issue 10 item 2: a context keeping its fields is copied by the literal, as Object.assign copies it', () => {
    const m = setup({}).createMachine({
      context: () => ({ a: 1, b: 'x', c: [1], '0': 'zero', 'odd-name': 2, "q'uote\n": 3, ...PAD }),
      on: { SET: { actions: assign({ a: ({ context }) => context.a + 1 }) } },
    });
    const compiled = compare(m, [SET, SET]);
    expect(compiled.shape?.keys).toEqual(['0', 'a', 'b', 'c', 'odd-name', "q'uote\n", ...Object.keys(PAD)]);
  });

  it('issue 10 item 2: a field added by assign, then copies of the new shape (Object.assign for them)', () => {
    const m = setup({}).createMachine({
      context: { a: 1, ...PAD } as { a: number; b?: number },
      on: {
        ADD: { actions: assign({ b: 2 }) },
        SET: { actions: assign(({ context }) => ({ a: context.a + 1 })) },
      },
    });
    expect(compare(m, [SET, ADD, SET, SET]).shape).not.toBeNull();
  });

  it('issue 10 item 2: fields added or deleted in place by an action are seen (copied as XState copies them)', () => {
    const m = setup({}).createMachine({
      context: () => ({ a: 1, b: 2, ...PAD }) as Record<string, number>,
      on: {
        ADD: {
          actions: ({ context }) => {
            context.extra = 9;
          },
        },
        DEL: {
          actions: ({ context }) => {
            delete context.a;
          },
        },
        SET: { actions: assign({ b: ({ context }) => context.b + 1 }) },
      },
    });
    expect(compare(m, [SET, ADD, SET, { type: 'DEL' }, SET]).shape).not.toBeNull();
  });

  it('issue 10 item 2: symbol keys turn the literal off for the machine (a literal would drop them)', () => {
    const sym = Symbol('s');
    const m = setup({}).createMachine({
      context: () => ({ a: 1, ...PAD, [sym]: 'kept' }),
      on: { SET: { actions: assign({ a: ({ context }) => context.a + 1 }) } },
    });
    const compiled = compare(m, [SET, SET]);
    expect(compiled.shape).toBeNull();
  });

  it('issue 10 item 2: getters are read once into data fields; a __proto__ field or a class instance gets no literal', () => {
    let reads = 0;
    const withGetter = setup({}).createMachine({
      context: () => ({
        a: 1,
        ...PAD,
        get b() {
          reads++;
          return 5;
        },
      }),
      on: { SET: { actions: assign({ a: ({ context }) => context.a + 1 }) } },
    });
    expect(compare(withGetter, [SET]).shape).not.toBeNull();
    expect(reads).toBeGreaterThan(0);

    const withProto = setup({}).createMachine({
      context: () => ({ ...PAD, ...JSON.parse('{"a": 1, "__proto__": {"p": 1}}') }) as { a: number },
      on: { SET: { actions: assign({ a: ({ context }) => context.a + 1 }) } },
    });
    expect(compare(withProto, [SET, SET]).shape).toBeNull();

    class Ctx {
      a = 1;
      p1 = 1;
      p2 = 2;
      p3 = 3;
      p4 = 4;
      p5 = 5;
      p6 = 6;
      p7 = 7;
    }
    const instance = setup({}).createMachine({
      context: () => new Ctx(),
      on: { SET: { actions: assign({ a: ({ context }) => context.a + 1 }) } },
    });
    compare(instance, [SET, SET]);
  });

  it('issue 10 item 2: an inherited enumerable field is never taken for an own one', () => {
    const proto = { inherited: 1 };
    const m = setup({}).createMachine({
      context: { a: 1, ...PAD },
      on: { SET: { actions: assign({ a: ({ context }) => context.a + 1 }) } },
    });
    compare(m, [SET]);
    expect(learnShape(Object.assign(Object.create(proto), { a: 1, ...PAD }))).toBeNull();
    // a context with the learned fields plus an inherited enumerable one does not have the shape
    const shape = learnShape({ a: 1, ...PAD })!;
    expect(hasShape({ a: 2, ...PAD }, shape.keys)).toBe(true);
    expect(hasShape(Object.assign(Object.create(proto), { a: 1, ...PAD }), shape.keys)).toBe(false);
    expect(hasShape({ a: 1, ...PAD, b: 2 }, shape.keys)).toBe(false);
    expect(hasShape({}, shape.keys)).toBe(false);
    // a context of few fields is copied by Object.assign (the literal would not be faster)
    expect(learnShape({ a: 1, b: 2 })).toBeNull();
  });

  it('issue 10 item 2: an assignment object is merged in one literal, as XState copies its partial over the context', () => {
    const calls: string[] = [];
    type C = { a: number; b: number; status: string } & typeof PAD;
    const m = setup({ types: { context: {} as C } }).createMachine({
      context: () => ({ a: 1, b: 2, status: 'x', ...PAD }),
      on: {
        // the fields of the assignment in another order than the context's; an assigner among plain values
        SET: {
          actions: enqueueActions(({ context, enqueue }) =>
            enqueue.assign({ status: `s${context.a}`, a: context.a + 1, p7: 70 }),
          ),
        },
        FN: {
          actions: assign({
            b: ({ context }) => {
              calls.push(`b saw a=${context.a}`);
              return context.b + 1;
            },
            a: ({ context }) => {
              calls.push(`a saw a=${context.a}`);
              return context.a * 10;
            },
          }),
        },
        // a new field: appended, as Object.assign appends it (no merge for it)
        ADD: { actions: enqueueActions(({ enqueue }) => enqueue.assign({ extra: 1 } as never)) },
        // an inherited field is not the assignment's (Object.keys leaves it out), nor a getter read twice
        PROTO: {
          actions: enqueueActions(({ enqueue }) =>
            enqueue.assign(Object.assign(Object.create({ b: 99 }), { a: 5 }) as never),
          ),
        },
        GET: {
          actions: enqueueActions(({ enqueue }) => {
            let reads = 0;
            enqueue.assign({
              get a() {
                reads++;
                return reads;
              },
            });
          }),
        },
      },
    });
    const compiled = compare(m, [
      SET,
      { type: 'FN' },
      SET,
      { type: 'GET' },
      { type: 'PROTO' },
      SET,
      { type: 'ADD' },
    ]);
    // each assigner called once per engine, in the assignment's order, with the context before the assign
    expect(calls).toEqual(['b saw a=2', 'a saw a=2', 'b saw a=2', 'a saw a=2', 'b saw a=2', 'a saw a=2']);
    expect(compiled.shape?.merges.map((x) => x.keys)).toEqual([['status', 'a', 'p7'], ['b', 'a'], ['a']]);
  });

  it('issue 10 item 2: no merge for an assignment of fields the context lacks, of another prototype, or past the limit', () => {
    const shape = learnShape({ a: 1, ...PAD })!;
    expect(mergeFor(shape, { zzz: 1 })).toBeNull();
    expect(mergeFor(shape, {})).toBeNull();
    expect(mergeFor(shape, Object.assign(Object.create(null), { a: 1 }))).toBeNull();
    expect(mergeFor(shape, JSON.parse('{"__proto__": 1}'))).toBeNull();
    const keys = ['a', ...Object.keys(PAD)];
    for (const k of keys) expect(mergeFor(shape, { [k]: 0 })).not.toBeNull();
    // 8 learned: the ninth set of fields gets none; a learned one is still found
    expect(shape.merges).toHaveLength(8);
    expect(mergeFor(shape, { a: 0, p1: 0 })).toBeNull();
    expect(mergeFor(shape, { p3: 7 })).toBe(shape.merges[3].merge);
    const merged = shape.merges[3].merge({ a: 1, ...PAD }, { p3: 7 }, undefined, () => ({}), null, null);
    expect(merged).toEqual({ a: 1, ...PAD, p3: 7 });
    expect(Object.keys(merged)).toEqual(keys);
  });

  it("issue 10: a small context is copied by the machine's spread, as Object.assign copies it (symbols, getters, in-place fields)", () => {
    const sym = Symbol('s');
    let reads = 0;
    const m = setup({}).createMachine({
      context: () =>
        ({
          a: 1,
          '0': 'zero',
          [sym]: 'kept',
          get g() {
            reads++;
            return 5;
          },
        }) as Record<string, unknown>,
      on: {
        SET: { actions: assign({ a: ({ context }) => (context.a as number) + 1 }) },
        FN: { actions: assign(({ context }) => ({ b: context.a })) },
        ADD: {
          actions: ({ context }) => {
            context.extra = 9;
          },
        },
      },
    });
    const compiled = compare(m, [SET, { type: 'FN' }, { type: 'ADD' }, SET]);
    expect(compiled.shape).toBeNull();
    expect(compiled.spread).not.toBeNull();
    expect(reads).toBeGreaterThan(0);
  });

  it('issue 10: an own __proto__ field sets the prototype as Object.assign does, not copied by the spread', () => {
    // a small first context, then an action defines an own enumerable `__proto__` field in place
    const m = setup({}).createMachine({
      context: () => ({ a: 1 }) as Record<string, unknown>,
      on: {
        POISON: {
          actions: ({ context }) => {
            Object.defineProperty(context, '__proto__', {
              value: { inherited: 1 },
              enumerable: true,
              writable: true,
              configurable: true,
            });
          },
        },
        SET: { actions: assign({ a: ({ context }) => (context.a as number) + 1 }) },
      },
    });
    const compiled = compare(m, [SET, { type: 'POISON' }, SET, SET]);
    expect(compiled.spread).not.toBeNull();
    // a first context with an own __proto__ field, or not a plain object: no spread (Object.assign for them)
    const parsed = setup({}).createMachine({
      context: () => JSON.parse('{"a": 1, "__proto__": {"p": 1}}') as { a: number },
      on: { SET: { actions: assign({ a: ({ context }) => context.a + 1 }) } },
    });
    expect(compare(parsed, [SET, SET]).spread).toBeNull();
    class Small {
      a = 1;
    }
    const instance = setup({}).createMachine({
      context: () => new Small(),
      on: { SET: { actions: assign({ a: ({ context }) => context.a + 1 }) } },
    });
    expect(compare(instance, [SET, SET]).spread).toBeNull();
  });
});
