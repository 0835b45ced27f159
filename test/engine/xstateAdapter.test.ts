/**
 * issue 8 item 3: every XState internal Orrery relies on lives in machines/core/xstateAdapter.ts. These tests pin
 * what each adapter function relies on, so an XState upgrade that changes one fails here, not in the product.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, log, setup } from 'xstate';
import {
  actorLogger,
  createChildActor,
  logFactoryOf,
  logicId,
  logicOf,
  microstepTransitions,
  parentOf,
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
    const kid = createChildActor(parent, { logic: child, id: 'kid', systemId: 'kid-sys' });
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
    const kid = createChildActor(parent, { logic: child, id: 'kid' });
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
    createChildActor(parent, { logic: child, id: 'kid' }).start();
    expect(lines).toEqual(['kid/child: child here']);
    // without a factory, XState's own default logger is used
    const plain = createActor(parentMachine);
    expect(logFactoryOf(plain)).toBeUndefined();
  });
});
