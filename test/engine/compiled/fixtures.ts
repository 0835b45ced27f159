/**
 * Machines that exercise every feature the compiled runner supports (issue 10 items 2 and 3), with the events and
 * inputs the differential test draws for them. Custom actions write to `sink()`, which the test points at the
 * side (XState or the runner) it is driving, so their calls are compared too.
 */
import fc from 'fast-check';
import { type AnyStateMachine, and, assign, emit, enqueueActions, log, not, or, raise, setup } from 'xstate';

let current: unknown[] = [];
/** Where custom actions write; the test switches it between the two sides. */
export function useSink(sink: unknown[]): void {
  current = sink;
}
const effect = ({
  context,
  event,
  self,
}: {
  context: unknown;
  event: { type: string };
  self: { id: string };
}) => void current.push({ at: event.type, self: self.id, context: structuredClone(context) });

type Ev = { type: string; n?: number; flag?: boolean; error?: unknown };
const n = (e: Ev) => e.n ?? 0;

// 1. Nested compound states, priorities, guards with params, not/and/or, reenter, wildcards, onDone, output.
interface NestedContext {
  n: number;
  trace: string[];
}
const rec = (label: string) => ({ type: 'record', params: { label } }) as const;
export const nestedMachine = setup({
  types: { context: {} as NestedContext, events: {} as Ev, input: {} as { n: number } },
  guards: {
    isPositive: ({ event }) => n(event) > 0,
    above: ({ context }, params: { min: number }) => context.n > params.min,
    flagged: ({ event }) => event.flag === true,
  },
  actions: {
    record: assign(({ context }, params: { label: string }) => ({
      trace: [...context.trace, params.label].slice(-12),
    })),
    bump: assign({ n: ({ context, event }) => context.n + (event.n ?? 1) }),
    effect,
  },
}).createMachine({
  id: 'nested',
  context: ({ input }) => ({ n: input.n, trace: [] }),
  entry: [rec('in:root'), 'effect'],
  exit: rec('out:root'),
  output: ({ context, event }) => ({ n: context.n, trace: context.trace.length, via: event.type }),
  initial: 'a',
  on: {
    RESET: { target: '.a', reenter: true, actions: rec('reset') },
    'ping.*': {
      actions: [{ type: 'record', params: ({ event }) => ({ label: `ev:${event.type}` }) }, 'effect'],
    },
    '*': { guard: 'flagged', actions: 'bump' },
  },
  states: {
    a: {
      entry: rec('in:a'),
      exit: rec('out:a'),
      initial: 'a1',
      on: {
        GO: [
          { guard: { type: 'above', params: { min: 3 } }, target: 'b' },
          { guard: not('isPositive'), target: '.a2' },
          { target: 'a.a1', reenter: true, actions: rec('go:a1') },
        ],
      },
      states: {
        a1: {
          entry: rec('in:a1'),
          exit: rec('out:a1'),
          on: {
            NEXT: 'a2',
            GO: { guard: and(['isPositive', 'flagged']), target: '#nested.b.b2' },
            INC: { actions: 'bump' },
          },
        },
        a2: {
          entry: rec('in:a2'),
          exit: rec('out:a2'),
          on: {
            NEXT: 'a3',
            BACK: 'a1',
            SELF: { target: 'a2', reenter: true, actions: rec('self') },
            SELF_INT: { target: 'a2', actions: rec('self-int') },
          },
        },
        a3: { type: 'final', output: ({ context }) => context.n * 2 },
      },
      onDone: {
        target: 'b',
        actions: assign({ n: ({ context, event }) => context.n + (event.output as number) }),
      },
    },
    b: {
      entry: rec('in:b'),
      exit: rec('out:b'),
      initial: { target: 'b1', actions: rec('initial:b') },
      tags: ['bee'],
      on: {
        BACK: 'a',
        NEXT: { guard: or(['flagged', { type: 'above', params: { min: 5 } }]), target: 'done' },
        INC: { actions: ['bump', 'effect'] },
        UP: { target: 'b' },
        REUP: { target: 'b', reenter: true },
      },
      states: {
        b1: { on: { NEXT: 'b2', INC: { guard: 'isPositive', actions: [rec('inc:b1'), 'bump'] } } },
        b2: { tags: ['two'], on: { NEXT: { guard: not('flagged'), target: 'b1' } } },
      },
    },
    done: { type: 'final', entry: rec('in:done'), exit: rec('out:done') },
  },
});
const nestedTypes = [
  'GO',
  'NEXT',
  'BACK',
  'INC',
  'SELF',
  'SELF_INT',
  'RESET',
  'UP',
  'REUP',
  'ping.x',
  'pong',
];

// 2. Eventless chains with guards, raise (object and function), emit, log, targetless always.
interface ChainContext {
  count: number;
  hops: number;
}
export const chainMachine = setup({
  types: { context: {} as ChainContext, events: {} as Ev },
  actions: { effect },
}).createMachine({
  id: 'chain',
  context: { count: 0, hops: 0 },
  initial: 'idle',
  states: {
    idle: {
      on: {
        START: { target: 'step1', actions: assign({ count: ({ event }) => n(event) }) },
        PULSE: {
          actions: [
            raise({ type: 'INTERNAL' }),
            emit(({ context }) => ({ type: 'pulse', count: context.count })),
            raise(({ event }) => ({ type: 'ECHO', n: n(event) })),
          ],
        },
        INTERNAL: { actions: assign({ hops: ({ context }) => context.hops + 1 }) },
        // an event sent to itself from an action is processed after the step, as XState's mailbox does
        RELAY: { actions: [({ self }) => self.send({ type: 'PULSE', n: 5 }), raise({ type: 'INTERNAL' })] },
        BATCH: {
          actions: enqueueActions(({ enqueue, check, event }) => {
            enqueue.assign({ count: ({ context }) => context.count + n(event) });
            if (check(({ context }) => context.count > 2)) enqueue.raise({ type: 'INTERNAL' });
            enqueue.emit(({ context }) => ({ type: 'batched', count: context.count }));
            enqueue('effect');
            if (check(not(({ event: e }) => (e as Ev).flag === true))) enqueue({ type: 'effect' });
          }),
        },
        ECHO: { guard: ({ event }) => n(event) > 3, target: 'step1', actions: 'effect' },
      },
    },
    step1: {
      entry: [raise(({ context }) => ({ type: 'TICK', n: context.count })), log('step1')],
      always: [
        { guard: ({ context }) => context.count > 5, target: 'big' },
        { guard: ({ event }) => event.type === 'TICK', target: 'step3' },
      ],
      on: {
        TICK: {
          guard: ({ event }) => n(event) < 3,
          target: 'step2',
          actions: assign({ hops: ({ context }) => context.hops + 1 }),
        },
      },
    },
    step2: {
      always: [
        {
          guard: ({ event }) => event.type === 'TICK' && n(event) > 0,
          actions: assign({ hops: ({ context }) => context.hops + 1 }),
          target: 'step3',
        },
      ],
      on: { BACK: 'idle' },
    },
    step3: {
      entry: [emit({ type: 'reached3' }), log(({ context }) => context.count, 'count')],
      always: [
        { guard: ({ context }) => context.hops > 4, target: 'idle', actions: assign({ hops: 0 }) },
        {
          guard: ({ context }) => context.hops % 2 === 1,
          actions: assign({ hops: ({ context }) => context.hops + 1 }),
        },
        { guard: ({ event }) => event.type === 'PING', actions: emit({ type: 'alwaysPing' }) },
      ],
      on: {
        AGAIN: 'step1',
        LOOP: { actions: assign({ hops: ({ context }) => context.hops + 1 }) },
        PING: { actions: log() },
        FINISH: 'end',
      },
    },
    big: {
      entry: emit(({ context }) => ({ type: 'big', count: context.count })),
      on: { SHRINK: { target: 'step1', actions: assign({ count: ({ context }) => context.count - 3 }) } },
    },
    end: { type: 'final' },
  },
});
const chainTypes = [
  'START',
  'PULSE',
  'RELAY',
  'BATCH',
  'BACK',
  'AGAIN',
  'LOOP',
  'PING',
  'FINISH',
  'SHRINK',
  'INTERNAL',
  'TICK',
];

// 3. Delays: numbers, named delay functions of context and event, re-entry, nested states, Infinity, 0, and a
// named delay the machine does not implement (XState raises its event at once).
interface TimersContext {
  base: number;
  fired: number;
}
export const timersMachine = setup({
  types: { context: {} as TimersContext, events: {} as Ev, input: {} as { base: number } },
  delays: {
    dyn: ({ context, event }) => context.base * 10 + n(event as Ev) * 20,
    maybe: ({ context }) => (context.base % 2 === 1 ? Number.POSITIVE_INFINITY : 30),
  },
}).createMachine({
  id: 'timers',
  context: ({ input }) => ({ base: input.base, fired: 0 }),
  initial: 'idle',
  states: {
    idle: { on: { ARM: 'waiting', NEST: 'outer', GHOST: 'ghosty' } },
    waiting: {
      after: {
        100: { target: 'idle', actions: assign({ fired: ({ context }) => context.fired + 1 }) },
        dyn: [
          { guard: ({ context }) => context.fired > 0 || context.base < 3, target: 'late' },
          { target: 'idle' },
        ],
      },
      on: {
        RESTART: { target: 'waiting', reenter: true },
        STAY: { target: 'waiting' },
        CANCEL: 'idle',
        BUMP: { actions: assign({ base: ({ context }) => context.base + 1 }) },
      },
    },
    outer: {
      after: { 500: 'idle' },
      initial: 'inner1',
      on: { RESTART: { target: 'outer', reenter: true }, INNER: '.inner2' },
      states: {
        inner1: { after: { 50: 'inner2' } },
        inner2: {
          after: { maybe: 'inner1', 0: { actions: assign({ fired: ({ context }) => context.fired + 1 }) } },
          on: { BACK: 'inner1' },
        },
      },
    },
    ghosty: { after: { ghost: 'idle' } } as never,
    late: { type: 'final' },
  },
});
const timersTypes = ['ARM', 'NEST', 'GHOST', 'RESTART', 'STAY', 'CANCEL', 'BUMP', 'INNER', 'BACK'];

// 4. Final states with output, the machine's output, exit actions run when the machine is done, done at start.
interface JobContext {
  total: number;
  items: number[];
}
export const jobMachine = setup({
  types: { context: {} as JobContext, events: {} as Ev, input: {} as { start: number; instant: boolean } },
  actions: { effect },
}).createMachine({
  id: 'job',
  context: ({ input }) => ({ total: input.start, items: [] }),
  entry: 'effect',
  exit: ['effect', assign({ total: ({ context }) => context.total + 1000 })],
  output: ({ context, event }) => ({
    total: context.total,
    via: event.type,
    out: (event as { output?: unknown }).output,
  }),
  initial: 'starting',
  states: {
    starting: {
      always: [
        {
          guard: ({ event }) => (event as { input?: { instant?: boolean } }).input?.instant === true,
          target: 'small',
        },
        { target: 'running' },
      ],
    },
    running: {
      initial: 'collect',
      on: { ABORT: 'aborted' },
      states: {
        collect: {
          on: {
            ADD: {
              actions: assign({ items: ({ context, event }) => [...context.items, n(event)].slice(-6) }),
            },
            SEAL: 'sealed',
          },
        },
        sealed: { type: 'final', output: ({ context }) => context.items.length },
      },
      onDone: {
        target: 'finishing',
        actions: assign({
          total: ({ context, event }) =>
            context.total + context.items.reduce((a, b) => a + b, 0) + (event.output as number),
        }),
      },
    },
    finishing: {
      always: [{ guard: ({ context }) => context.total > 10, target: 'big' }, { target: 'small' }],
    },
    big: { type: 'final', output: ({ context }) => ({ size: 'big', total: context.total }) },
    small: { type: 'final', output: { size: 'small' } },
    aborted: {
      type: 'final',
      entry: assign({ total: -1 }),
      exit: assign({ items: () => [] }),
    },
  },
});
const jobTypes = ['ADD', 'SEAL', 'ABORT'];

// 5. Errors: throwing custom actions, guards (wrapped as XState wraps them), assignments, delays, context and
// entry at start, the wildcard event type, an error event nobody handles.
class BoomError extends Error {
  override name = 'BoomError';
}
interface FaultyContext {
  k: number;
}
export const faultyMachine = setup({
  types: {
    context: {} as FaultyContext,
    events: {} as Ev,
    input: {} as { k: number; failContext: boolean; failEntry: boolean },
  },
  guards: {
    fragile: ({ event }) => {
      if (n(event) < 0) throw new RangeError(`negative ${n(event)}`);
      return n(event) > 2;
    },
  },
  actions: {
    explode: ({ event }) => {
      if (n(event) % 2 === 0) throw new BoomError(`boom ${n(event)}`);
    },
    effect,
  },
  delays: {
    risky: ({ context }) => {
      if (context.k === 4) throw new Error('no delay for 4');
      return 100 + context.k;
    },
  },
}).createMachine({
  id: 'faulty',
  context: ({ input }) => {
    if (input.failContext) throw new RangeError('bad input');
    return { k: input.k };
  },
  entry: [
    'effect',
    ({ event }) => {
      if ((event as { input?: { failEntry?: boolean } }).input?.failEntry)
        throw new BoomError('entry failed');
    },
  ],
  initial: 'ok',
  states: {
    ok: {
      entry: assign({
        k: ({ context }) => {
          if (context.k === 7) throw new TypeError('seven');
          return context.k;
        },
      }),
      after: { risky: 'ok2' },
      on: {
        BOOM: { actions: ['effect', 'explode'] },
        CHECK: { guard: 'fragile', target: 'ok2' },
        INLINE: { guard: ({ event }) => (event.n ?? 0) > 100 || (event.flag ?? false), target: 'ok2' },
        CALC: {
          actions: assign({
            k: ({ event }) => {
              if (n(event) > 8) throw new TypeError('too big');
              return n(event);
            },
          }),
        },
        EMIT_BOOM: { actions: [emit({ type: 'before' }), 'explode'] },
        NEXT: 'ok2',
      },
    },
    ok2: {
      entry: 'effect',
      always: {
        guard: ({ context }) => {
          if (context.k === 5) throw new Error('always failed');
          return context.k === 6;
        },
        target: 'ok',
      },
      on: { BACK: 'ok', NEXT: 'gone', CALC: { actions: assign({ k: ({ event }) => n(event) }) } },
    },
    gone: {
      type: 'final',
      entry: ({ context }) => {
        if (context.k === 3) throw new BoomError('gone wrong');
      },
    },
  },
});
const faultyTypes = [
  'BOOM',
  'CHECK',
  'INLINE',
  'CALC',
  'EMIT_BOOM',
  'NEXT',
  'BACK',
  '*',
  'xstate.error.actor.x',
];

const payload = (types: readonly string[]) =>
  fc.record(
    {
      type: fc.constantFrom(...types),
      n: fc.integer({ min: -2, max: 10 }),
      flag: fc.boolean(),
      error: fc.constantFrom(undefined, 'oops'),
    },
    { requiredKeys: ['type'] },
  ) as fc.Arbitrary<Ev>;

const rarely = fc.oneof(
  { weight: 9, arbitrary: fc.constant(false) },
  { weight: 1, arbitrary: fc.constant(true) },
);

/** A fixture: the machine, the events to draw and the inputs. */
export interface Fixture {
  name: string;
  machine: AnyStateMachine;
  events: fc.Arbitrary<{ type: string }>;
  input: fc.Arbitrary<unknown>;
  /** Largest clock advance drawn, in ms. */
  maxAdvance: number;
}

export const fixtures: Fixture[] = [
  {
    name: 'nested',
    machine: nestedMachine,
    events: payload(nestedTypes),
    input: fc.record({ n: fc.integer({ min: -2, max: 8 }) }),
    maxAdvance: 10,
  },
  {
    name: 'chain',
    machine: chainMachine,
    events: payload(chainTypes),
    input: fc.constant(undefined),
    maxAdvance: 10,
  },
  {
    name: 'timers',
    machine: timersMachine,
    events: payload(timersTypes),
    input: fc.record({ base: fc.integer({ min: 0, max: 20 }) }),
    maxAdvance: 300,
  },
  {
    name: 'job',
    machine: jobMachine,
    events: payload(jobTypes),
    input: fc.record({ start: fc.integer({ min: 0, max: 12 }), instant: fc.boolean() }),
    maxAdvance: 10,
  },
  {
    name: 'faulty',
    machine: faultyMachine,
    events: payload(faultyTypes),
    input: fc.record({
      k: fc.integer({ min: 0, max: 9 }),
      failContext: rarely,
      failEntry: rarely,
    }),
    maxAdvance: 200,
  },
];
