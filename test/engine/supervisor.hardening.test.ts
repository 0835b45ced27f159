/**
 * Issue 7 ("Hardening: what a hostile review broke"), the supervisor's part:
 * - item 10: every supervisor option (strategy, intensity, periodMs, backoff) and child restart type is checked,
 *   with an InvalidArgumentError, by `system.supervisor()`, `createSystem({root})`, `spawn`/`startChild(ren)` and
 *   by the machine itself for input that reaches it directly; a bad option creates nothing;
 * - item 18: what mutation testing showed no test noticed: children given in `input.children` start, a refused
 *   spec (duplicate id or systemId, invalid) never leaves an actor behind, the backoff streak resets exactly when
 *   the restart window empties.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AnyActorLogic,
  type AnyActorRef,
  createActor,
  fromCallback,
  type InspectionEvent,
  setup,
} from 'xstate';
import {
  ActorRegistryError,
  createSystem,
  type EngineEvent,
  InvalidArgumentError,
  type OrrerySystem,
  SupervisorEscalationError,
  supervisorMachine,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { recordTransitions } from '../support/transitions.js';
import { workerMachine } from '../support/workerMachine.js';

const log: string[] = [];
/** A child that records its start and stop. */
const probe = fromCallback<any, { id: string }>(({ input }) => {
  log.push(`start ${input.id}`);
  return () => log.push(`stop ${input.id}`);
});
/** A machine child that invokes a probe named after itself. */
const probed = setup({ actors: { probe } }).createMachine({
  id: 'probed',
  invoke: { src: 'probe', input: ({ self }) => ({ id: self.id }) },
});

let system: OrrerySystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
  log.length = 0;
});

/** Bad supervisor options, each with the part of the message that names what is wrong. */
const BAD_OPTIONS: [string, object, RegExp][] = [
  ['intensity NaN', { intensity: Number.NaN }, /intensity must be a non-negative whole number.*NaN/],
  ['intensity -1', { intensity: -1 }, /intensity .*-1/],
  ['intensity 1.5', { intensity: 1.5 }, /intensity .*1\.5/],
  ['intensity Infinity', { intensity: Number.POSITIVE_INFINITY }, /intensity .*Infinity/],
  ['intensity "3"', { intensity: '3' }, /intensity .*"3"/],
  ['periodMs 0', { periodMs: 0 }, /periodMs must be more than 0/],
  ['periodMs -1', { periodMs: -1 }, /periodMs must be a non-negative number of milliseconds.*-1/],
  ['periodMs NaN', { periodMs: Number.NaN }, /periodMs .*NaN/],
  ['periodMs "100"', { periodMs: '100' }, /periodMs .*"100"/],
  [
    'strategy bogus',
    { strategy: 'bogus' },
    /strategy must be one of one_for_one, one_for_all, rest_for_one.*"bogus"/,
  ],
  ['backoff 5', { backoff: 5 }, /backoff must be null or \{initialMs, maxMs, factor\}/],
  ['backoff.initialMs -1', { backoff: { initialMs: -1, maxMs: 10, factor: 2 } }, /backoff\.initialMs .*-1/],
  [
    'backoff.initialMs NaN',
    { backoff: { initialMs: Number.NaN, maxMs: 10, factor: 2 } },
    /backoff\.initialMs/,
  ],
  ['backoff.maxMs missing', { backoff: { initialMs: 1, factor: 2 } }, /backoff\.maxMs/],
  [
    'backoff.maxMs Infinity',
    { backoff: { initialMs: 1, maxMs: Number.POSITIVE_INFINITY, factor: 2 } },
    /backoff\.maxMs must be a finite/,
  ],
  [
    'backoff.maxMs < initialMs',
    { backoff: { initialMs: 10, maxMs: 5, factor: 2 } },
    /maxMs \(5\).*initialMs \(10\)/,
  ],
  [
    'backoff.factor NaN',
    { backoff: { initialMs: 1, maxMs: 10, factor: Number.NaN } },
    /backoff\.factor .*NaN/,
  ],
  ['backoff.factor -2', { backoff: { initialMs: 1, maxMs: 10, factor: -2 } }, /backoff\.factor .*-2/],
  ['backoff.factor 0.5', { backoff: { initialMs: 1, maxMs: 10, factor: 0.5 } }, /backoff\.factor .*0\.5/],
];

describe('issue 7 item 10: supervisor options are validated', () => {
  it('issue 7 item 10: system.supervisor() refuses each bad option with InvalidArgumentError and creates nothing', () => {
    const clock = new TestClock();
    system = createSystem({ clock });
    const before = system.actors().length;
    for (const [what, options, message] of BAD_OPTIONS) {
      expect(() => system!.supervisor('rack', options as never), what).toThrow(InvalidArgumentError);
      expect(() => system!.supervisor('rack', options as never), what).toThrow(message);
      expect(system.actors(), what).toHaveLength(before);
      expect(system.get('supervisor:rack'), what).toBeUndefined();
    }
    expect(() => system!.supervisor('', {})).toThrow(InvalidArgumentError);
    expect(() => system!.supervisor(7 as never)).toThrow(InvalidArgumentError);
    expect(() => system!.supervisor('rack', 'fast' as never)).toThrow(InvalidArgumentError);
    expect(system.root.children()).toEqual([]);
    expect(clock.pending).toBe(0);
    // the name was never taken
    const rack = system.supervisor('rack', { intensity: 0, periodMs: Number.POSITIVE_INFINITY });
    expect(rack.state).toBe('running');
  });

  it('issue 7 item 10: createSystem({root}) refuses each bad option with InvalidArgumentError', () => {
    for (const [what, options, message] of BAD_OPTIONS) {
      expect(() => createSystem({ clock: new TestClock(), root: options as never }), what).toThrow(message);
    }
    expect(() => createSystem({ root: 'one_for_all' as never })).toThrow(InvalidArgumentError);
  });

  it('issue 7 item 10: a bad option that reaches the machine fails it at once with InvalidArgumentError', () => {
    for (const [what, options, message] of BAD_OPTIONS) {
      const actor = createActor(supervisorMachine, { input: options as never });
      const snapshot = actor.getSnapshot() as unknown as { status: string; error: unknown };
      expect(snapshot.status, what).toBe('error');
      expect(snapshot.error, what).toBeInstanceOf(InvalidArgumentError);
      expect(String(snapshot.error), what).toMatch(message);
    }
    // spawning a supervisor machine as a child goes through the same check, before anything starts
    system = createSystem({ clock: new TestClock() });
    expect(() =>
      system!.spawn(supervisorMachine, {
        supervisor: 'root',
        id: 'sub',
        input: { name: 'sub', periodMs: 0 },
      }),
    ).toThrow(/periodMs must be more than 0/);
    expect(() =>
      system!.root.startChildren([{ id: 'sub', logic: supervisorMachine, input: { intensity: -1 } }]),
    ).toThrow(InvalidArgumentError);
    expect(system.root.children()).toEqual([]);
  });

  it('issue 7 item 10: a child restart type other than permanent, transient or temporary is refused', () => {
    system = createSystem({ clock: new TestClock() });
    expect(() =>
      system!.spawn(probed, { supervisor: 'root', id: 'a', restart: 'sometimes' as never }),
    ).toThrow('restart must be one of permanent, transient, temporary, got sometimes');
    expect(() => system!.root.startChild({ id: 'a', logic: probed, restart: 'always' as never })).toThrow(
      InvalidArgumentError,
    );
    expect(() =>
      system!.root.startChildren([
        { id: 'a', logic: probed },
        { id: 'b', logic: probed, restart: 1 as never },
      ]),
    ).toThrow(/child 'b': restart must be one of/);
    expect(() => system!.root.startChildren({} as never)).toThrow(InvalidArgumentError);
    expect(() => system!.spawn(probed, { supervisor: 'root', id: '' })).toThrow(InvalidArgumentError);
    expect(() => system!.spawn({} as AnyActorLogic, { supervisor: 'root', id: 'x' })).toThrow(
      InvalidArgumentError,
    );
    expect(() => system!.spawn(probed, 'a' as never)).toThrow(InvalidArgumentError);
    expect(() => system!.root.stopChild(3 as never)).toThrow('a child id must be a string, got number');
    expect(() => system!.root.restartChild(undefined as never)).toThrow(InvalidArgumentError);
    expect(log).toEqual([]);
    expect(system.root.children()).toEqual([]);
  });

  it('issue 7 item 10: valid options still escalate: intensity 2 within periodMs, and Infinity never forgets', () => {
    const clock = new TestClock();
    system = createSystem({ clock, root: { intensity: 10 } });
    const sup = system.supervisor('forever', { intensity: 2, periodMs: Number.POSITIVE_INFINITY });
    system.spawn(workerMachine, { supervisor: sup, id: 'w' });
    sup.child('w')!.send({ type: 'CRASH' });
    expect(clock.pending).toBe(0); // an infinite window arms no expiry timer
    clock.advance(1e12);
    sup.child('w')!.send({ type: 'CRASH' });
    expect(sup.state).toBe('running');
    sup.child('w')!.send({ type: 'CRASH' });
    expect(system.root.restarts()).toEqual({ 'supervisor:forever': 1 });
  });

  it('issue 7 item 10: createSystem refuses a logger or clock that is not one', () => {
    expect(() => createSystem({ logger: {} as never })).toThrow(/logger must be a pino logger/);
    expect(() => createSystem({ clock: { now: () => 0 } as never })).toThrow(/clock must have setTimeout/);
    expect(() => createSystem(42 as never)).toThrow(InvalidArgumentError);
  });
});

/** Collect the `probed` actors created in an XState system (from inspection) to check that none is left running. */
function actorsCreated() {
  const created: AnyActorRef[] = [];
  const inspect = (e: InspectionEvent) => {
    if (e.type === '@xstate.actor' && (e.actorRef as AnyActorRef).src === probed)
      created.push(e.actorRef as AnyActorRef);
  };
  return { created, inspect };
}

describe('issue 7 item 18: supervisor machine behaviours mutation testing showed untested', () => {
  it('issue 7 item 18: children given in input.children start in order and stop in reverse order', () => {
    const actor = createActor(supervisorMachine, {
      input: {
        name: 'boot',
        children: [
          { id: 'a', logic: probed },
          { id: 'b', logic: probed, restart: 'transient' },
        ],
      },
    });
    actor.start();
    expect(log).toEqual(['start a', 'start b']);
    const ctx = actor.getSnapshot().context;
    expect(ctx.specs.map((s) => [s.id, s.restart])).toEqual([
      ['a', 'permanent'],
      ['b', 'transient'],
    ]);
    expect(Object.keys(ctx.refs)).toEqual(['a', 'b']);
    actor.send({ type: 'SHUTDOWN' });
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });

  it('issue 7 item 18: input.children with a duplicate id or an invalid spec fail the supervisor before any child starts', () => {
    for (const children of [
      [
        { id: 'a', logic: probed },
        { id: 'a', logic: probed },
      ],
      [
        { id: 'a', logic: probed, systemId: 's' },
        { id: 'b', logic: probed, systemId: 's' },
      ],
      [{ id: 'a', logic: probed, restart: 'bogus' }],
      [{ id: 'a' }],
      'a',
    ]) {
      const actor = createActor(supervisorMachine, { input: { children } as never });
      expect((actor.getSnapshot() as unknown as { error: unknown }).error).toBeInstanceOf(
        InvalidArgumentError,
      );
    }
    expect(log).toEqual([]);
  });

  it('issue 7 item 18: START_CHILDREN with a duplicate id, in the batch or against a child, starts one actor per id and orphans none', () => {
    const { created, inspect } = actorsCreated();
    const actor = createActor(supervisorMachine, { input: { name: 'dups' }, inspect });
    const emitted: unknown[] = [];
    actor.on('child.refused', (e) => emitted.push(e));
    actor.start();
    actor.send({ type: 'START_CHILD', spec: { id: 'a', logic: probed } });
    actor.send({
      type: 'START_CHILDREN',
      specs: [
        { id: 'b', logic: probed },
        { id: 'a', logic: probed },
        { id: 'b', logic: probed },
        { id: 'c', logic: probed },
      ],
    });
    actor.send({ type: 'START_CHILD', spec: { id: 'c', logic: probed } });
    expect(log).toEqual(['start a', 'start b', 'start c']);
    expect(actor.getSnapshot().context.specs.map((s) => s.id)).toEqual(['a', 'b', 'c']);
    expect(emitted).toEqual([
      { type: 'child.refused', id: 'a', reason: "duplicate child id 'a'" },
      { type: 'child.refused', id: 'b', reason: "duplicate child id 'b'" },
      { type: 'child.refused', id: 'c', reason: "duplicate child id 'c'" },
    ]);
    const children = created;
    expect(children.map((ref) => ref.id)).toEqual(['a', 'b', 'c']);
    actor.send({ type: 'SHUTDOWN' });
    for (const ref of children) expect(ref.getSnapshot().status).not.toBe('active');
    expect(log.slice(3)).toEqual(['stop c', 'stop b', 'stop a']);
  });

  it('issue 7 item 18: a duplicate or taken systemId, or an invalid spec, is refused before any actor is created', () => {
    const { created, inspect } = actorsCreated();
    const actor = createActor(supervisorMachine, { input: { name: 'ids' }, inspect });
    const refused: string[] = [];
    actor.on('child.refused', (e) => refused.push(`${e.id}: ${e.reason}`));
    actor.start();
    actor.send({ type: 'START_CHILD', spec: { id: 'a', systemId: 'cam', logic: probed } });
    actor.send({
      type: 'START_CHILDREN',
      specs: [
        { id: 'b', systemId: 'mount', logic: probed },
        { id: 'c', systemId: 'mount', logic: probed },
        { id: 'd', systemId: 'cam', logic: probed },
        { id: 'e', logic: probed, restart: 'bogus' as never },
        { id: 'f' } as never,
        null as never,
        { id: 'g', systemId: 'g', logic: probed },
      ],
    });
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context.specs.map((s) => s.id)).toEqual(['a', 'b', 'g']);
    expect(refused).toEqual([
      "c: duplicate systemId 'mount'",
      "d: systemId 'cam' is already registered",
      'e: child \'e\': restart must be one of permanent, transient, temporary, got "bogus"',
      "f: child 'f' needs an actor logic (a machine or an XState actor logic)",
      'undefined: a child spec must be an object, got null',
    ]);
    expect(created.map((ref) => ref.id)).toEqual(['a', 'b', 'g']);
    expect(actor.system.get('mount')).toBe(actor.getSnapshot().context.refs.b);
    actor.send({ type: 'SHUTDOWN' });
    for (const id of ['cam', 'mount', 'g']) expect(actor.system.get(id)).toBeUndefined();
  });

  it('RESTART_CHILD sent straight to the machine leaves a temporary child running and reports it refused', () => {
    const actor = createActor(supervisorMachine, { input: { name: 'temp' }, inspect: recordTransitions });
    const emitted: unknown[] = [];
    actor.on('*', (e) => emitted.push(e));
    actor.start();
    actor.send({ type: 'START_CHILD', spec: { id: 't', logic: probed, restart: 'temporary' } });
    const t = actor.getSnapshot().context.refs.t;
    actor.send({ type: 'RESTART_CHILD', id: 't' });
    expect(actor.getSnapshot().context.refs.t).toBe(t);
    expect(t.getSnapshot().status).toBe('active');
    expect(log).toEqual(['start t']);
    expect(emitted).toEqual([
      { type: 'child.started', id: 't', restart: 'temporary' },
      { type: 'child.refused', id: 't', reason: 'a temporary child is never restarted' },
    ]);
    actor.send({ type: 'SHUTDOWN' });
    expect(log).toEqual(['start t', 'stop t']);
  });

  it('issue 7 item 18: a child whose systemId was taken during its backoff is removed, not respawned over the holder', () => {
    const clock = new TestClock();
    const actor = createActor(supervisorMachine, {
      clock,
      input: { name: 'b', backoff: { initialMs: 100, maxMs: 100, factor: 1 } },
    });
    const refused: unknown[] = [];
    actor.on('child.refused', (e) => refused.push(e));
    actor.start();
    actor.send({ type: 'START_CHILD', spec: { id: 'w', systemId: 'w', logic: workerMachine } });
    actor.getSnapshot().context.refs.w.send({ type: 'CRASH' });
    expect(actor.system.get('w')).toBeUndefined();
    actor.send({ type: 'START_CHILD', spec: { id: 'usurper', systemId: 'w', logic: workerMachine } });
    const holder = actor.system.get('w');
    clock.advance(100);
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.system.get('w')).toBe(holder);
    expect(actor.getSnapshot().context.specs.map((s) => s.id)).toEqual(['usurper']);
    expect(refused).toEqual([
      { type: 'child.refused', id: 'w', reason: "systemId 'w' is already registered" },
    ]);
    actor.stop();
  });

  it('a child whose systemId a detached actor or a compiled lifecycle took during its backoff is not respawned under it', () => {
    // detached actors and compiled lifecycles live outside the supervisor tree's XState system: the respawn did not
    // see them, and two live actors held one systemId (system.get found the detached one, the child was shadowed)
    const clock = new TestClock();
    system = createSystem({
      clock,
      root: { intensity: 5, backoff: { initialMs: 100, maxMs: 100, factor: 1 } },
    });
    const events: EngineEvent[] = [];
    system.onEngineEvent((e) => events.push(e));
    system.spawn(workerMachine, { supervisor: 'root', id: 'w', systemId: 'mount' }).send({ type: 'CRASH' });
    system.spawn(workerMachine, { supervisor: 'root', id: 'v', systemId: 'dome' }).send({ type: 'CRASH' });
    expect(system.get('mount')).toBeUndefined();
    const detached = system.spawn(workerMachine, { id: 'holder', systemId: 'mount' });
    const compiled = system.spawnCompiled(workerMachine, { id: 'compiled', systemId: 'dome' });
    clock.advance(100);
    expect(system.root.children()).toEqual([]);
    expect(system.get('mount')).toBe(detached.current);
    expect(system.get('dome')).toBe(system.actorOf(compiled));
    expect(system.actors().filter((a) => a.systemId === 'mount' || a.systemId === 'dome')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'child.restarted')).toHaveLength(2);
  });

  it('a child logic XState cannot start is refused; the supervisor, its systemId and its siblings are unharmed', () => {
    // an initial snapshot that is no object: XState's constructor (with a systemId, after registering it) or start()
    // (without) threw inside the supervisor's action, which crashed the supervisor: the root failed, the system was
    // down, and the systemId stayed registered to an actor that never ran
    const clock = new TestClock();
    system = createSystem({ clock });
    const unstartable = {
      transition: (s: unknown) => s,
      getInitialSnapshot: () => undefined,
    } as unknown as AnyActorLogic;
    system.spawn(workerMachine, { supervisor: 'root', id: 'sibling' });
    for (const systemId of [undefined, 'bad']) {
      expect(() => system!.spawn(unstartable, { supervisor: 'root', id: 'bad', systemId })).toThrow(
        "supervisor 'root' did not start 'bad': its logic cannot be started (its initial snapshot is not an object)",
      );
    }
    system.root.startChildren([{ id: 'bad', logic: unstartable }]);
    expect(system.root.state).toBe('running');
    expect(system.failure).toBeUndefined();
    expect(system.root.children()).toEqual(['sibling']);
    expect(system.get('bad')).toBeUndefined();
    expect(system.spawn(workerMachine, { supervisor: 'root', id: 'bad', systemId: 'bad' }).current).toBe(
      system.get('bad'),
    );
  });

  it('issue 7 item 18: the engine refuses a batch with a taken or repeated systemId before anything starts', () => {
    system = createSystem({ clock: new TestClock() });
    system.spawn(probed, { supervisor: 'root', id: 'a', systemId: 'cam' });
    expect(() =>
      system!.root.startChildren([
        { id: 'b', systemId: 'mount', logic: probed },
        { id: 'c', systemId: 'cam', logic: probed },
      ]),
    ).toThrow(ActorRegistryError);
    expect(() =>
      system!.root.startChildren([
        { id: 'b', systemId: 'mount', logic: probed },
        { id: 'c', systemId: 'mount', logic: probed },
      ]),
    ).toThrow("systemId 'mount' is already registered");
    expect(log).toEqual(['start a']);
    expect(system.root.children()).toEqual(['a']);
    expect(system.get('mount')).toBeUndefined();
  });

  it('issue 7 item 18: a supervisor started in a batch is hooked: its restarts are reported', () => {
    system = createSystem({ clock: new TestClock() });
    const events: EngineEvent[] = [];
    system.onEngineEvent((e) => events.push(e));
    system.root.startChildren([
      {
        id: 'supervisor:batch',
        systemId: 'supervisor:batch',
        logic: supervisorMachine,
        input: { name: 'batch' },
      },
    ]);
    system.spawn(workerMachine, { supervisor: 'batch', id: 'w' });
    system.supervisorActor('batch')!.getSnapshot().context.refs.w.send({ type: 'CRASH' });
    expect(events.filter((e) => e.type === 'child.restarted')).toMatchObject([
      { supervisor: 'batch', children: ['w'], trigger: 'w' },
    ]);
  });

  it('issue 7 item 18: the backoff streak grows while restarts are in the window and resets when it empties', () => {
    const clock = new TestClock();
    system = createSystem({
      clock,
      root: { intensity: 10, periodMs: 1000, backoff: { initialMs: 100, maxMs: 10_000, factor: 2 } },
    });
    const delays: number[] = [];
    system.onEngineEvent((e) => e.type === 'child.restarted' && delays.push(e.delayMs));
    system.spawn(workerMachine, { supervisor: 'root', id: 'w' });
    const crashAt = (t: number) => {
      clock.advance(t - clock.now());
      system!.root.child('w')!.send({ type: 'CRASH' });
    };
    crashAt(0); // restarts in the window: 1, respawn at 100
    crashAt(150); // 2, respawn at 350
    crashAt(1050); // the first left the window at 1000, one is still in it: the streak goes on
    expect(delays).toEqual([100, 200, 400]);
    crashAt(2100); // the window emptied at 2050: the streak starts again
    expect(delays).toEqual([100, 200, 400, 100]);
    crashAt(2500);
    expect(delays).toEqual([100, 200, 400, 100, 200]);
    expect(system.root.restarts()).toEqual({ w: 5 });
  });

  it('issue 7 item 18: backoff delays are capped at maxMs, and a long streak from initialMs 0 stays 0', async () => {
    const { backoffDelay } = await import('../../src/index.js');
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay({ initialMs: 100, maxMs: 500, factor: 2 }, n))).toEqual([
      100, 200, 400, 500, 500,
    ]);
    expect(backoffDelay({ initialMs: 0, maxMs: 500, factor: 2 }, 5000)).toBe(0);
    expect(backoffDelay(null, 3)).toBe(0);
  });

  it('issue 7 item 18: escalation stops every child and fails with a SupervisorEscalationError naming the child', () => {
    const actor = createActor(supervisorMachine, {
      clock: new TestClock(),
      input: {
        name: 'esc',
        intensity: 0,
        children: [
          { id: 'p', logic: probed },
          { id: 'w', logic: workerMachine },
        ],
      },
    });
    let failure: unknown;
    actor.subscribe({ error: (err) => (failure = err) });
    actor.start();
    actor.getSnapshot().context.refs.w.send({ type: 'CRASH' });
    expect(failure).toBeInstanceOf(SupervisorEscalationError);
    expect((failure as SupervisorEscalationError).child).toBe('w');
    expect(log).toEqual(['start p', 'stop p']);
  });
});

describe('issue 7 item 18: what the supervisor emits and keeps (survivors of the first mutation run)', () => {
  /** A supervisor machine on a TestClock with every emitted event recorded. */
  function supervisor(input: object = {}) {
    const clock = new TestClock();
    const actor = createActor(supervisorMachine, { clock, input: { name: 'sup', ...input } });
    const emitted: any[] = [];
    actor.on('*', (e) => emitted.push(e));
    actor.start();
    const child = (id: string) => actor.getSnapshot().context.refs[id];
    return { actor, clock, emitted, child, of: (type: string) => emitted.filter((e) => e.type === type) };
  }

  it('issue 7 item 18: a supervisor started without input has the defaults and an empty record', () => {
    const actor = createActor(supervisorMachine, undefined as never); // no options, so no input, on purpose
    actor.start();
    expect(actor.getSnapshot().status).toBe('active');
    expect(actor.getSnapshot().context).toEqual({
      name: 'supervisor',
      strategy: 'one_for_one',
      intensity: 3,
      periodMs: 5000,
      backoff: null,
      specs: [],
      refs: {},
      recent: 0,
      restarts: {},
      streak: 0,
      waiting: [],
      failure: null,
    });
    actor.stop();
  });

  it('issue 7 item 18: START_CHILD announces child.started with the normalised restart type; a batch does not', () => {
    const { actor, of } = supervisor();
    actor.send({ type: 'START_CHILD', spec: { id: 'a', logic: probed } });
    actor.send({ type: 'START_CHILD', spec: { id: 'b', logic: probed, restart: 'temporary' } });
    actor.send({ type: 'START_CHILDREN', specs: [{ id: 'c', logic: probed }] });
    expect(of('child.started')).toEqual([
      { type: 'child.started', id: 'a', restart: 'permanent' },
      { type: 'child.started', id: 'b', restart: 'temporary' },
    ]);
    actor.stop();
  });

  it('issue 7 item 18: a temporary child that ends is reported exited and removed, and no stale actor is kept', () => {
    const { actor, of, child } = supervisor();
    actor.send({ type: 'START_CHILD', spec: { id: 'done', logic: workerMachine, restart: 'temporary' } });
    actor.send({ type: 'START_CHILD', spec: { id: 'crash', logic: workerMachine, restart: 'temporary' } });
    child('done').send({ type: 'EXIT' });
    child('crash').send({ type: 'CRASH' });
    expect(of('child.exited')).toMatchObject([
      { id: 'done', reason: 'normal' },
      { id: 'crash', reason: 'crash', error: { message: 'worker crashed' } },
    ]);
    expect(of('child.removed')).toEqual([
      { type: 'child.removed', id: 'done' },
      { type: 'child.removed', id: 'crash' },
    ]);
    expect(actor.getSnapshot().context.specs).toEqual([]);
    expect(actor.getSnapshot().context.refs).toEqual({});
    actor.stop();
  });

  it('issue 7 item 18: child.restarted carries the crash error; children wait in `waiting` during the backoff', () => {
    const { actor, clock, of, child } = supervisor({ backoff: { initialMs: 100, maxMs: 100, factor: 1 } });
    actor.send({ type: 'START_CHILD', spec: { id: 'w', logic: workerMachine } });
    child('w').send({ type: 'CRASH' });
    expect(of('child.restarted')).toMatchObject([
      { ids: ['w'], trigger: 'w', delayMs: 100, error: { message: 'worker crashed' } },
    ]);
    expect(actor.getSnapshot().context.waiting).toEqual(['w']);
    clock.advance(100);
    expect(actor.getSnapshot().context.waiting).toEqual([]);
    expect(of('child.respawned')).toEqual([{ type: 'child.respawned', ids: ['w'] }]);
    child('w').send({ type: 'EXIT' }); // a normal exit of a permanent child restarts it, with no error
    expect(of('child.restarted')[1]).toMatchObject({ ids: ['w'], delayMs: 100 });
    expect(of('child.restarted')[1].error).toBeUndefined();
    actor.stop();
  });

  it('issue 7 item 18: an infinite period schedules no WINDOW_EXPIRED at all (no timer, no pending event)', () => {
    const { actor, clock, child } = supervisor({ periodMs: Number.POSITIVE_INFINITY, intensity: 5 });
    actor.send({ type: 'START_CHILD', spec: { id: 'w', logic: workerMachine } });
    child('w').send({ type: 'CRASH' });
    child('w').send({ type: 'CRASH' });
    expect(clock.pending).toBe(0);
    expect(actor.system.getSnapshot()._scheduledEvents).toEqual({});
    expect(actor.getSnapshot().context.recent).toBe(2);
    actor.stop();
    const finite = supervisor({ periodMs: 1000, intensity: 5 });
    finite.actor.send({ type: 'START_CHILD', spec: { id: 'w', logic: workerMachine } });
    finite.child('w').send({ type: 'CRASH' });
    expect(Object.keys(finite.actor.system.getSnapshot()._scheduledEvents)).toHaveLength(1);
    finite.actor.stop();
  });

  it('issue 7 item 18: escalating emits supervisor.escalated with the child and its error, and keeps the child record', () => {
    const { actor, of, child } = supervisor({
      intensity: 0,
      children: [
        { id: 'p', logic: probed },
        { id: 'w', logic: workerMachine },
      ],
    });
    actor.subscribe({ error: () => {} });
    child('w').send({ type: 'CRASH' });
    expect(actor.getSnapshot().status).toBe('error');
    expect(of('supervisor.escalated')).toMatchObject([
      { type: 'supervisor.escalated', child: 'w', error: { message: 'worker crashed' } },
    ]);
    expect(of('child.removed')).toEqual([]);
    expect(actor.getSnapshot().context.specs.map((s) => s.id)).toEqual(['p', 'w']);
    expect(actor.getSnapshot().context.refs).toEqual({});
  });

  it('issue 7 item 18: SHUTDOWN stops every child without removing it (no child.removed)', () => {
    const { actor, of } = supervisor({ children: [{ id: 'p', logic: probed }] });
    actor.send({ type: 'SHUTDOWN' });
    expect(actor.getSnapshot().status).toBe('done');
    expect(log).toEqual(['start p', 'stop p']);
    expect(of('child.removed')).toEqual([]);
    expect(actor.getSnapshot().context.specs.map((s) => s.id)).toEqual(['p']);
  });

  it('issue 7 item 18: the registry names a supervisor child by its machine id, "supervisor"', () => {
    system = createSystem({ clock: new TestClock() });
    system.supervisor('rack');
    expect(system.actors().find((a) => a.id === 'supervisor:rack')?.machine).toBe('supervisor');
    expect(supervisorMachine.id).toBe('supervisor');
  });
});
