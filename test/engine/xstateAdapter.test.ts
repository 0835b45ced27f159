/**
 * issue 8 item 3: every XState internal Orrery relies on lives in machines/core/xstateAdapter.ts. These tests pin
 * what each adapter function relies on, so an XState upgrade that changes one fails here, not in the product.
 */
import { describe, expect, it } from 'vitest';
import {
  and,
  assign,
  cancel,
  createActor,
  emit,
  enqueueActions,
  fromCallback,
  log,
  not,
  or,
  raise,
  sendTo,
  setup,
  stateIn,
  stopChild,
} from 'xstate';
import {
  actorLogger,
  createChildActor,
  describeAction,
  describeGuard,
  logFactoryOf,
  logicId,
  logicOf,
  microstepTransitions,
  parentOf,
  scheduledEventsOf,
  stopActor,
} from '../../machines/core/xstateAdapter.js';

const child = setup({}).createMachine({
  id: 'child',
  initial: 'idle',
  states: {
    idle: {
      entry: log('child here'),
      on: {
        CRASH: {
          actions: () => {
            throw new Error('boom');
          },
        },
      },
    },
  },
});

const parentMachine = setup({}).createMachine({
  id: 'parent',
  on: {
    '*': { actions: ({ event, context }) => void (context as { seen?: string[] }).seen?.push(event.type) },
  },
  context: { seen: [] as string[] },
});

describe('xstateAdapter', () => {
  it('issue 8 item 3: logicId names a machine by its id, anything else "actor"', () => {
    expect(logicId(child)).toBe('child');
    expect(logicId(fromCallback(() => {}))).toBe('actor');
    expect(logicId(undefined)).toBe('actor');
  });

  it('issue 8 item 3: microstepTransitions reads the transitions of a microstep inspection event', () => {
    const events: { type: string }[] = [];
    const m = setup({}).createMachine({ initial: 'a', states: { a: { on: { GO: 'b' } }, b: {} } });
    const actor = createActor(m, { inspect: (e) => events.push(e) }).start();
    actor.send({ type: 'GO' });
    const step = events.find((e) => e.type === '@xstate.microstep');
    expect(step).toBeDefined();
    const taken = microstepTransitions(step!) as { eventType: string; source: { key: string } }[];
    expect(taken).toHaveLength(1);
    expect(taken[0].eventType).toBe('GO');
    expect(taken[0].source.key).toBe('a');
    expect(microstepTransitions({ type: '@xstate.event' })).toEqual([]);
  });

  it('issue 8 item 3: logicOf gives the logic an actor runs (Actor#logic)', () => {
    const actor = createActor(child);
    expect(logicOf(actor)).toBe(child);
  });

  it('issue 8 item 3: createChildActor makes a child whose crash reaches the parent, outside its children record', () => {
    const parent = createActor(parentMachine, { logger: () => {} }).start();
    const kid = createChildActor(parent, { logic: child, id: 'kid', systemId: 'kid-sys' })!;
    kid.start();
    expect(parent.system.get('kid-sys')).toBe(kid);
    expect(parentOf(kid)).toBe(parent);
    expect(parentOf(parent)).toBeUndefined();
    expect(Object.keys(parent.getSnapshot().children)).not.toContain('kid');
    kid.send({ type: 'CRASH' });
    expect(kid.getSnapshot().status).toBe('error');
    expect(parent.getSnapshot().context.seen).toContain('xstate.error.actor.kid');
  });

  it('issue 8 item 3: stopActor stops a child now, which the public stop() refuses', () => {
    const parent = createActor(parentMachine, { logger: () => {} }).start();
    const kid = createChildActor(parent, { logic: child, id: 'kid' })!;
    kid.start();
    expect(() => (kid as unknown as { stop(): void }).stop()).toThrow(/non-root/);
    stopActor(kid);
    expect(kid.getSnapshot().status).toBe('stopped');
  });

  it("issue 8 item 3: actorLogger is the logger XState's log() calls; children inherit the factory with their own ids", () => {
    const lines: string[] = [];
    const factory = (actor: string, machine: string) => (args: unknown[]) =>
      lines.push(`${actor}/${machine}: ${args.join(' ')}`);
    const parent = createActor(parentMachine, { logger: actorLogger(factory, 'root', 'parent') }).start();
    expect(logFactoryOf(parent)).toBe(factory);
    createChildActor(parent, { logic: child, id: 'kid' })!.start();
    expect(lines).toEqual(['kid/child: child here']);
    // without a factory, XState's own default logger is used
    const plain = createActor(parentMachine);
    expect(logFactoryOf(plain)).toBeUndefined();
  });

  it('issue 10 item 2: describeAction tells custom actions from built-ins and reads their arguments', () => {
    const custom = () => {};
    expect(describeAction(custom)).toEqual({ kind: 'custom' });
    const assignment = { n: 1 };
    expect(describeAction(assign(assignment))).toEqual({ kind: 'assign', assignment });
    const ev = { type: 'X' };
    expect(describeAction(raise(ev))).toEqual({ kind: 'raise', event: ev, id: undefined, delay: undefined });
    expect(describeAction(raise(ev, { id: 'r', delay: 5 }))).toEqual({
      kind: 'raise',
      event: ev,
      id: 'r',
      delay: 5,
    });
    expect(describeAction(emit(ev))).toEqual({ kind: 'emit', event: ev });
    expect(describeAction(cancel('r'))).toEqual({ kind: 'cancel', sendId: 'r' });
    expect(describeAction(log('v', 'label'))).toEqual({ kind: 'log', value: 'v', label: 'label' });
    expect(describeAction(sendTo('a', ev))).toEqual({ kind: 'builtin', type: 'xstate.sendTo' });
    const collect = () => {};
    expect(describeAction(enqueueActions(collect))).toEqual({ kind: 'enqueueActions', collect });
    expect(describeAction(stopChild('kid'))).toEqual({ kind: 'builtin', type: 'xstate.stopChild' });
  });

  it("issue 10 item 2: after delays are XState's own delayed raise in entry and cancel in exit", () => {
    const m = setup({}).createMachine({
      id: 'm',
      initial: 'a',
      states: { a: { after: { 10: 'b' } }, b: {} },
    });
    const a = m.root.states.a;
    expect(describeAction(a.entry[0])).toEqual({
      kind: 'raise',
      event: { type: 'xstate.after.10.m.a' },
      id: 'xstate.after.10.m.a',
      delay: 10,
    });
    expect(describeAction(a.exit[0])).toEqual({ kind: 'cancel', sendId: 'xstate.after.10.m.a' });
  });

  it('issue 10 item 2: describeGuard tells functions from not/and/or (with their operands) and other built-ins', () => {
    const g = () => true;
    expect(describeGuard(g)).toEqual({ kind: 'function' });
    expect(describeGuard(not('x'))).toEqual({ kind: 'not', guards: ['x'] });
    expect(describeGuard(and(['x', g]))).toEqual({ kind: 'and', guards: ['x', g] });
    expect(describeGuard(or([{ type: 'y' }]))).toEqual({ kind: 'or', guards: [{ type: 'y' }] });
    expect(describeGuard(stateIn('#a'))).toEqual({ kind: 'builtin' });
  });

  it('issue 10 item 3: scheduledEventsOf lists the delayed events an actor armed, until they are cancelled', () => {
    const m = setup({}).createMachine({
      id: 'sched',
      initial: 'a',
      states: { a: { after: { 100: 'b' }, on: { GO: 'b' } }, b: {} },
    });
    const actor = createActor(m).start();
    expect(scheduledEventsOf(actor)).toEqual([
      { id: 'xstate.after.100.sched.a', event: { type: 'xstate.after.100.sched.a' }, delay: 100 },
    ]);
    actor.send({ type: 'GO' });
    expect(scheduledEventsOf(actor)).toEqual([]);
    actor.stop();
  });
});
