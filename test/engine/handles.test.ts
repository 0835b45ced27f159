/** issue 8 item 7: typed, restart-stable handles from system.spawn, and a typed system.get. */
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyActorLogic, assign, setup } from 'xstate';
import {
  ActorRegistryError,
  createSystem,
  InvalidArgumentError,
  type OrrerySystem,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { workerMachine } from '../support/workerMachine.js';

/** A counter with a typed input; CRASH throws. */
const counter = setup({
  types: {
    context: {} as { count: number },
    input: {} as { start: number },
    events: {} as { type: 'INC' } | { type: 'CRASH' },
  },
  actions: {
    crash: () => {
      throw new Error('counter crashed');
    },
  },
}).createMachine({
  id: 'counter',
  context: ({ input }) => ({ count: input.start }),
  on: {
    INC: { actions: assign({ count: ({ context }) => context.count + 1 }) },
    CRASH: { actions: 'crash' },
  },
});

let system: OrrerySystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe('restart-stable handles', () => {
  it('issue 8 item 7: send and getSnapshot reach the current incarnation after a supervisor restart', () => {
    system = createSystem({ clock: new TestClock() });
    const handle = system.spawn(counter, { supervisor: 'root', id: 'c', systemId: 'c', input: { start: 5 } });
    handle.send({ type: 'INC' });
    expect(handle.getSnapshot().context.count).toBe(6);
    const first = handle.current;
    handle.send({ type: 'CRASH' });
    // restarted with its spec's input: a new incarnation, reached through the same handle
    expect(handle.current).not.toBe(first);
    expect(handle.current).toBe(system.get('c'));
    expect(handle.getSnapshot().status).toBe('active');
    expect(handle.getSnapshot().context.count).toBe(5);
    handle.send({ type: 'INC' });
    expect(handle.getSnapshot().context.count).toBe(6);
  });

  it('issue 8 item 7: subscribe survives restarts, and completes when the child is removed', () => {
    system = createSystem({ clock: new TestClock() });
    const handle = system.spawn(counter, { supervisor: 'root', id: 'c', input: { start: 0 } });
    const seen: number[] = [];
    let completed = 0;
    handle.subscribe({ next: (s) => seen.push(s.context.count), complete: () => completed++ });
    handle.send({ type: 'INC' });
    handle.send({ type: 'CRASH' });
    handle.send({ type: 'INC' });
    handle.send({ type: 'INC' });
    expect(seen).toEqual([1, 0, 1, 2]);
    expect(completed).toBe(0);
    system.root.stopChild('c');
    expect(completed).toBe(1);
    expect(() => handle.send({ type: 'INC' })).toThrow(ActorRegistryError);
  });

  it('issue 8 item 7: a subscription waits through a backoff restart and errors once when a crashed temporary child is gone', () => {
    const clock = new TestClock();
    system = createSystem({ clock });
    system.supervisor('slow', { backoff: { initialMs: 100, maxMs: 100, factor: 1 } });
    const handle = system.spawn(workerMachine, { supervisor: 'slow', id: 'w' });
    const states: string[] = [];
    handle.subscribe((s) => states.push(`${s.status}`));
    handle.send({ type: 'CRASH' });
    expect(handle.current).toBeUndefined();
    expect(() => handle.send({ type: 'EXIT' })).toThrow(/not running/);
    clock.advance(100);
    expect(handle.current?.getSnapshot().status).toBe('active');
    expect(states).toEqual(['active']);

    const temp = system.spawn(workerMachine, { supervisor: 'root', id: 't', restart: 'temporary' });
    const errors: unknown[] = [];
    temp.subscribe({ error: (e) => errors.push(e) });
    temp.send({ type: 'CRASH' });
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('worker crashed');
  });

  it('issue 8 item 7: subscriptions of supervised handles complete when the system stops', async () => {
    system = createSystem({ clock: new TestClock() });
    const handle = system.spawn(workerMachine, { supervisor: 'root', id: 'w' });
    let completed = 0;
    handle.subscribe({ complete: () => completed++ });
    await system.stop();
    expect(completed).toBe(1);
  });

  it('issue 8 item 7: subscriptions of the children of an escalating supervisor complete (they do not come back)', () => {
    system = createSystem({ clock: new TestClock() });
    system.supervisor('rack', { intensity: 0 });
    const handle = system.spawn(workerMachine, { supervisor: 'rack', id: 'w' });
    const other = system.spawn(workerMachine, { supervisor: 'rack', id: 'v' });
    const ends: string[] = [];
    handle.subscribe({ complete: () => ends.push('w complete'), error: () => ends.push('w error') });
    other.subscribe({ complete: () => ends.push('v complete'), error: () => ends.push('v error') });
    handle.send({ type: 'CRASH' });
    // the crashed one ends with its crash, the other one completes
    expect(ends.sort()).toEqual(['v complete', 'w error']);
    expect(handle.current).toBeUndefined();
  });

  it('subscriptions of the children of a supervisor stopped or restarted by its parent complete (they do not come back)', () => {
    system = createSystem({ clock: new TestClock(), root: { strategy: 'one_for_all' } });
    system.supervisor('rack');
    system.supervisor('shelf');
    const inRack = system.spawn(workerMachine, { supervisor: 'rack', id: 'w' });
    const inShelf = system.spawn(workerMachine, { supervisor: 'shelf', id: 'w' });
    const sibling = system.spawn(workerMachine, { supervisor: 'root', id: 'sibling' });
    const ends: string[] = [];
    inRack.subscribe({ complete: () => ends.push('rack complete'), error: () => ends.push('rack error') });
    inShelf.subscribe({ complete: () => ends.push('shelf complete'), error: () => ends.push('shelf error') });
    // removed by its parent: its child is stopped with it
    system.root.stopChild('supervisor:rack');
    expect(ends).toEqual(['rack complete']);
    expect(inRack.current).toBeUndefined();
    // restarted by its parent (one_for_all, a sibling crashed): the new incarnation starts without the child
    sibling.send({ type: 'CRASH' });
    expect(system.supervisorActor('shelf')?.getSnapshot().status).toBe('active');
    expect(inShelf.current).toBeUndefined();
    expect(ends).toEqual(['rack complete', 'shelf complete']);
  });

  it('a subscription made after the child is gone completes at once, and keeps nothing', async () => {
    system = createSystem({ clock: new TestClock() });
    system.supervisor('rack');
    const removed = system.spawn(workerMachine, { supervisor: 'root', id: 'w' });
    const exited = system.spawn(workerMachine, { supervisor: 'root', id: 't', restart: 'temporary' });
    const inRack = system.spawn(workerMachine, { supervisor: 'rack', id: 'r' });
    removed.stop();
    exited.send({ type: 'EXIT' });
    system.root.stopChild('supervisor:rack');
    const ends: string[] = [];
    for (const [name, handle] of [
      ['w', removed],
      ['t', exited],
      ['r', inRack],
    ] as const) {
      handle.subscribe({
        complete: () => ends.push(`${name} complete`),
        error: () => ends.push(`${name} error`),
      });
    }
    expect(ends).toEqual(['w complete', 't complete', 'r complete']);
    await system.stop();
    // nothing was left waiting for the system to stop
    expect(ends).toHaveLength(3);
  });

  it('issue 8 item 7: a detached handle is the actor itself; stop() stops it', () => {
    system = createSystem({ clock: new TestClock() });
    const handle = system.spawn(counter, { systemId: 'd', input: { start: 1 } });
    handle.send({ type: 'INC' });
    expect(handle.getSnapshot().context.count).toBe(2);
    expect(handle.current).toBe(system.get('d'));
    handle.stop();
    expect(handle.current).toBeUndefined();
    expect(handle.getSnapshot().status).toBe('stopped');
  });

  it('a detached actor that ends as it starts is still seen through its handle: its output, or its crash', () => {
    system = createSystem({ clock: new TestClock() });
    const quick = setup({ types: { output: {} as number } }).createMachine({
      id: 'quick',
      initial: 'done',
      states: { done: { type: 'final' } },
      output: () => 42,
    });
    const broken = setup({
      actions: {
        boom: () => {
          throw new Error('broken at start');
        },
      },
    }).createMachine({ id: 'broken', entry: 'boom' });
    const done = system.spawn(quick);
    expect(done.current).toBeUndefined();
    expect(done.getSnapshot().status).toBe('done');
    expect(done.getSnapshot().output).toBe(42);
    const failed = system.spawn(broken);
    expect(failed.getSnapshot().status).toBe('error');
    const ends: unknown[] = [];
    done.subscribe({ complete: () => ends.push('complete') });
    failed.subscribe({ error: (e) => ends.push((e as Error).message) });
    expect(ends).toEqual(['complete', 'broken at start']);
  });

  it('a detached logic that XState cannot start is an InvalidArgumentError, and leaves nothing registered', () => {
    // an initial snapshot that is no object: XState's start() read its status and threw a TypeError, after the actor
    // was registered, so its systemId stayed taken (system.get found the dead actor) and detachedCount counted it
    system = createSystem({ clock: new TestClock() });
    const logic = { transition: (s: unknown) => s, getInitialSnapshot: () => undefined };
    expect(() => system!.spawn(logic as unknown as AnyActorLogic, { id: 'bad', systemId: 'bad' })).toThrow(
      InvalidArgumentError,
    );
    expect(system.detachedCount).toBe(0);
    expect(system.get('bad')).toBeUndefined();
    expect(system.actors().map((a) => a.id)).toEqual(['supervisor:root']);
    expect(system.spawn(workerMachine, { systemId: 'bad' }).getSnapshot().status).toBe('active');
  });

  it('issue 8 item 7: system.get is typed by the logic passed, and refuses an actor running other logic', () => {
    system = createSystem({ clock: new TestClock() });
    system.spawn(counter, { supervisor: 'root', id: 'c', systemId: 'c', input: { start: 3 } });
    const ref = system.get('c', counter);
    // typed: context.count is a number without a cast
    const count: number | undefined = ref?.getSnapshot().context.count;
    expect(count).toBe(3);
    expect(() => system!.get('c', workerMachine)).toThrow(ActorRegistryError);
    expect(system.get('nobody', counter)).toBeUndefined();
  });
});
