/**
 * Supervisor: named OTP behaviours (start order, reverse stop order, strategies, restart types, backoff,
 * intensity and escalation through nested supervisors) and engine guarantees (no process crash, logging).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fromCallback, setup } from 'xstate';
import {
  ActorRegistryError,
  createSystem,
  InvalidArgumentError,
  type OrrerySystem,
  SupervisorEscalationError,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { workerMachine } from '../support/workerMachine.js';

const log: string[] = [];
/** A child that records its start and stop. */
const probe = fromCallback<any, { id: string }>(({ input }) => {
  log.push(`start ${input.id}`);
  return () => log.push(`stop ${input.id}`);
});
/** A machine child that invokes a probe and can crash. */
const probed = setup({
  actors: { probe },
  actions: {
    crash: () => {
      throw new Error('crash');
    },
  },
}).createMachine({
  id: 'probed',
  invoke: { src: 'probe', input: ({ self }) => ({ id: self.id }) },
  on: { CRASH: { actions: 'crash' } },
});

/** A machine child that invokes a probe, then fails as it starts (an entry action throws). */
const failsAtStart = setup({
  actors: { probe },
  actions: {
    boom: () => {
      throw new Error('init failed');
    },
  },
}).createMachine({
  id: 'failsAtStart',
  invoke: { src: 'probe', input: ({ self }) => ({ id: self.id }) },
  initial: 'up',
  states: { up: { entry: 'boom' } },
});

let system: OrrerySystem | undefined;
afterEach(async () => {
  await system?.stop();
  log.length = 0;
});

function start(strategy: 'one_for_one' | 'one_for_all' | 'rest_for_one', extra: object = {}) {
  const clock = new TestClock();
  system = createSystem({ clock, root: { strategy, intensity: 10, ...extra } });
  for (const id of ['a', 'b', 'c']) system.spawn(probed, { supervisor: 'root', id, systemId: id });
  return { clock, system };
}

describe('OTP ordering and strategies', () => {
  it('children start in spec order and stop in reverse order', async () => {
    const { system } = start('one_for_one');
    expect(log).toEqual(['start a', 'start b', 'start c']);
    log.length = 0;
    await system.stop();
    expect(log).toEqual(['stop c', 'stop b', 'stop a']);
  });

  it('one_for_one restarts only the crashed child', () => {
    const { system } = start('one_for_one');
    log.length = 0;
    system.get('b')!.send({ type: 'CRASH' });
    expect(log).toEqual(['stop b', 'start b']);
  });

  it('one_for_all stops all children in reverse order, then restarts all in order', () => {
    const { system } = start('one_for_all');
    log.length = 0;
    system.get('b')!.send({ type: 'CRASH' });
    expect(log).toEqual(['stop c', 'stop b', 'stop a', 'start a', 'start b', 'start c']);
  });

  it('rest_for_one restarts the crashed child and those started after it', () => {
    const { system } = start('rest_for_one');
    log.length = 0;
    system.get('b')!.send({ type: 'CRASH' });
    expect(log).toEqual(['stop c', 'stop b', 'start b', 'start c']);
  });

  it('a temporary sibling is terminated by one_for_all and not restarted', () => {
    const { system } = start('one_for_all');
    system.spawn(probed, { supervisor: 'root', id: 't', restart: 'temporary' });
    system.get('a')!.send({ type: 'CRASH' });
    expect(system.root.children()).toEqual(['a', 'b', 'c']);
  });
});

describe('restart types', () => {
  it('permanent children are restarted after a normal exit, transient and temporary are removed', () => {
    system = createSystem({ clock: new TestClock() });
    for (const restart of ['permanent', 'transient', 'temporary'] as const) {
      system.spawn(workerMachine, { supervisor: 'root', id: restart, restart });
    }
    for (const id of ['permanent', 'transient', 'temporary']) system.root.child(id)!.send({ type: 'EXIT' });
    expect(system.root.children()).toEqual(['permanent']);
    expect(system.root.restarts()).toEqual({ permanent: 1 });
  });

  it('a removed child takes its restart count with it: children that come and go under new ids leave none', () => {
    // intensity high enough for every crash below
    system = createSystem({ clock: new TestClock(), root: { intensity: 10_000 } });
    for (let i = 0; i < 200; i++) {
      const id = `worker-${i}`;
      system.spawn(workerMachine, { supervisor: 'root', id, restart: 'transient' });
      system.root.child(id)!.send({ type: 'CRASH' }); // restarted once
      expect(system.root.restarts()[id]).toBe(1);
      system.root.child(id)!.send({ type: 'EXIT' }); // a transient child's normal exit: removed
    }
    expect(system.root.children()).toEqual([]);
    // before, one entry per worker ever restarted, kept as long as the supervisor lives
    expect(system.root.restarts()).toEqual({});
  });

  it('a crashed transient child is restarted, a crashed temporary child is not', () => {
    system = createSystem({ clock: new TestClock() });
    system.spawn(workerMachine, { supervisor: 'root', id: 'tr', restart: 'transient' });
    system.spawn(workerMachine, { supervisor: 'root', id: 'tmp', restart: 'temporary' });
    system.root.child('tr')!.send({ type: 'CRASH' });
    system.root.child('tmp')!.send({ type: 'CRASH' });
    expect(system.root.children()).toEqual(['tr']);
  });
});

describe('intensity, backoff and escalation', () => {
  it('backoff delays the respawn, doubling per consecutive restart, capped', () => {
    const { clock, system } = start('one_for_one', { backoff: { initialMs: 100, maxMs: 300, factor: 2 } });
    log.length = 0;
    system.get('a')!.send({ type: 'CRASH' });
    expect(log).toEqual(['stop a']);
    expect(system.root.child('a')).toBeUndefined();
    clock.advance(99);
    expect(log).toEqual(['stop a']);
    clock.advance(1);
    expect(log).toEqual(['stop a', 'start a']);
    system.get('a')!.send({ type: 'CRASH' });
    clock.advance(199);
    expect(system.root.child('a')).toBeUndefined();
    clock.advance(1);
    expect(system.root.child('a')).toBeDefined();
    system.get('a')!.send({ type: 'CRASH' });
    clock.advance(300);
    expect(system.root.child('a')).toBeDefined();
  });

  it('more than `intensity` restarts within `periodMs` fails the supervisor, after stopping every child', () => {
    const clock = new TestClock();
    system = createSystem({ clock, root: { intensity: 2, periodMs: 1000 } });
    system.spawn(probed, { supervisor: 'root', id: 'a', systemId: 'a' });
    system.get('a')!.send({ type: 'CRASH' });
    clock.advance(500);
    system.get('a')!.send({ type: 'CRASH' });
    clock.advance(600); // the first restart left the window
    system.get('a')!.send({ type: 'CRASH' });
    expect(system.root.state).toBe('running');
    log.length = 0;
    system.get('a')!.send({ type: 'CRASH' });
    expect(system.root.state).toBe('failed');
    expect(log).toEqual(['stop a']);
    expect(system.failure).toBeInstanceOf(SupervisorEscalationError);
    expect((system.failure as Error).message).toMatch(/root.*2 restarts in 1000 ms.*'a'/);
  });

  it('a nested supervisor escalates to its parent, which restarts it with fresh children', () => {
    system = createSystem({ clock: new TestClock() });
    const devices = system.supervisor('devices', { intensity: 1, periodMs: 10_000 });
    system.spawn(probed, { supervisor: devices, id: 'cam', systemId: 'cam' });
    const firstCam = system.get('cam');
    system.get('cam')!.send({ type: 'CRASH' });
    system.get('cam')!.send({ type: 'CRASH' });
    expect(system.root.restarts()).toEqual({ 'supervisor:devices': 1 });
    expect(devices.state).toBe('running');
    expect(devices.children()).toEqual([]);
    expect(system.root.state).toBe('running');
    expect(firstCam!.getSnapshot().status).not.toBe('active');
  });

  it('a failing root supervisor never crashes the process', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      system = createSystem({ clock: new TestClock(), root: { intensity: 0 } });
      system.spawn(workerMachine, { supervisor: 'root', id: 'w' });
      system.root.child('w')!.send({ type: 'CRASH' });
      await new Promise((r) => setTimeout(r, 20));
      expect(system.root.state).toBe('failed');
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('a crashing detached actor is logged and reported, and the process survives', async () => {
    system = createSystem({ clock: new TestClock() });
    const failures: unknown[] = [];
    system.onEngineEvent((e) => e.type === 'actor.failed' && failures.push(e.error));
    const w = system.spawn(workerMachine);
    w.send({ type: 'CRASH' });
    await new Promise((r) => setTimeout(r, 10));
    expect(failures).toHaveLength(1);
    expect(system.detachedCount).toBe(0);
  });
});

describe('operations', () => {
  it('startChildren starts a batch in order; stopChild removes one; restartChild renews one', () => {
    system = createSystem({ clock: new TestClock() });
    system.root.startChildren(['x', 'y', 'z'].map((id) => ({ id, systemId: id, logic: probed })));
    expect(log).toEqual(['start x', 'start y', 'start z']);
    const y = system.get('y');
    system.root.restartChild('y');
    expect(system.get('y')).not.toBe(y);
    system.root.stopChild('x');
    expect(system.root.children()).toEqual(['y', 'z']);
    expect(system.get('x')).toBeUndefined();
    expect(log.slice(3)).toEqual(['stop y', 'start y', 'stop x']);
    expect(system.root.restarts()).toEqual({});
  });

  it('restartChild refuses a temporary child (OTP never restarts one): ActorRegistryError, the child runs on untouched', () => {
    system = createSystem({ clock: new TestClock() });
    system.spawn(probed, { supervisor: 'root', id: 't', systemId: 't', restart: 'temporary' });
    const t = system.get('t');
    let thrown: unknown;
    try {
      system.root.restartChild('t');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ActorRegistryError);
    expect((thrown as Error).message).toBe(
      "supervisor 'root' does not restart 't': a temporary child is never restarted",
    );
    expect(system.get('t')).toBe(t);
    expect(t!.getSnapshot().status).toBe('active');
    expect(log).toEqual(['start t']);
    expect(system.root.children()).toEqual(['t']);
  });

  it('restartChild of a child the supervisor does not have, or of a supervisor that is not running, is an ActorRegistryError', () => {
    // OTP's restart_child answers {error, not_found}; this did nothing at all, so a mistyped id went unnoticed
    system = createSystem({ clock: new TestClock() });
    system.spawn(probed, { supervisor: 'root', id: 'a' });
    expect(() => system!.root.restartChild('b')).toThrow(
      new ActorRegistryError("supervisor 'root' has no child 'b' to restart"),
    );
    const rack = system.supervisor('rack');
    expect(() => rack.restartChild('a')).toThrow(
      new ActorRegistryError("supervisor 'rack' has no child 'a' to restart"),
    );
    system.root.stopChild(rack.systemId);
    expect(() => rack.restartChild('a')).toThrow(new ActorRegistryError("supervisor 'rack' is not running"));
    expect(log).toEqual(['start a']);
    expect(system.root.restarts()).toEqual({});
  });

  it('a child that fails as it starts is not started (OTP start_child): no restart, its supervisor and siblings go on', () => {
    system = createSystem({ clock: new TestClock(), root: { intensity: 1 } });
    const events: string[] = [];
    system.onEngineEvent((e) =>
      events.push(`${e.type} ${'child' in e ? e.child : 'actor' in e ? e.actor : undefined}`),
    );
    const w = system.spawn(workerMachine, { supervisor: 'root', id: 'w' });
    const first = w.current;
    let thrown: unknown;
    try {
      system.spawn(failsAtStart, { supervisor: 'root', id: 'b' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ActorRegistryError);
    expect(((thrown as Error).cause as Error).message).toBe('init failed');
    // what the crashed child invoked is stopped with it
    expect(log).toEqual(['start b', 'stop b']);
    expect(events).toEqual(['actor.spawned w', 'child.exited b']);
    expect(system.root.state).toBe('running');
    expect(system.root.children()).toEqual(['w']);
    expect(system.root.restarts()).toEqual({});
    expect(w.current).toBe(first);
    // a batch starts the others
    system.root.startChildren([
      { id: 'x', logic: probed },
      { id: 'y', logic: failsAtStart },
      { id: 'z', logic: probed },
    ]);
    expect(system.root.children()).toEqual(['w', 'x', 'z']);
    expect(system.root.state).toBe('running');
    expect(system.root.restarts()).toEqual({});
  });

  it('stale exit events of unknown children are ignored', () => {
    system = createSystem({ clock: new TestClock() });
    system.spawn(workerMachine, { supervisor: 'root', id: 'w' });
    const ref = system.root.ref!;
    ref.send({ type: 'xstate.done.actor.ghost', actorId: 'ghost', output: undefined } as never);
    ref.send({ type: 'xstate.error.actor.ghost', actorId: 'ghost', error: new Error('x') } as never);
    expect(system.root.state).toBe('running');
    expect(system.root.children()).toEqual(['w']);
    expect(system.root.restarts()).toEqual({});
  });

  it('duplicate children in a batch are refused before anything starts', () => {
    system = createSystem({ clock: new TestClock() });
    expect(() =>
      system!.root.startChildren([
        { id: 'd', logic: probed },
        { id: 'd', logic: probed },
      ]),
    ).toThrow(ActorRegistryError);
    expect(log).toEqual([]);
  });
});

describe('registry and bad input', () => {
  it('duplicate ids and systemIds are refused with ActorRegistryError', () => {
    system = createSystem({ clock: new TestClock() });
    system.spawn(workerMachine, { supervisor: 'root', id: 'w', systemId: 'w' });
    expect(() => system!.spawn(workerMachine, { supervisor: 'root', id: 'w' })).toThrow(ActorRegistryError);
    expect(() => system!.spawn(workerMachine, { systemId: 'w' })).toThrow(/already registered/);
    expect(() => system!.supervisor('root2', { parent: 'nope' })).toThrow(/not running/);
    expect(() => system!.root.startChild({ id: 3 } as never)).toThrow(InvalidArgumentError);
  });

  it('a stopped system refuses new actors and leaves no timers', async () => {
    const clock = new TestClock();
    system = createSystem({ clock, root: { backoff: { initialMs: 100, maxMs: 100, factor: 1 } } });
    system.spawn(workerMachine, { supervisor: 'root', id: 'w' });
    system.root.child('w')!.send({ type: 'CRASH' });
    expect(clock.pending).toBeGreaterThan(0);
    await system.stop();
    expect(clock.pending).toBe(0);
    expect(() => system!.spawn(workerMachine)).toThrow(ActorRegistryError);
  });
});

describe('logging', () => {
  it('restarts are logged by a child logger bound to {actor, machine}', () => {
    const lines: any[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()));
        cb();
      },
    });
    system = createSystem({ clock: new TestClock(), logger: pino({ level: 'debug' }, stream) as never });
    system.spawn(workerMachine, { supervisor: 'root', id: 'w' });
    system.root.child('w')!.send({ type: 'CRASH' });
    const crash = lines.find((l) => l.msg === 'child crashed');
    expect(crash).toMatchObject({ actor: 'supervisor:root', machine: 'supervisor', child: 'w', level: 40 });
    expect(crash.err.message).toBe('worker crashed');
    expect(lines.find((l) => l.msg === 'restarting children')).toMatchObject({
      children: ['w'],
      trigger: 'w',
    });
  });
});
