/**
 * Issue 10 item 5: a compiled lifecycle is an actor to everyone who looks (system.get, system.actors(),
 * system.stop(), the inspection bus, the inspector page, transition coverage) and costs nothing while nobody
 * looks (its `observer` is null, no virtual actor is built).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  type AnyActorRef,
  assign,
  createActor,
  emit,
  fromPromise,
  type InspectionEvent,
  log,
  setup,
} from 'xstate';
import { statusMachine } from '../../machines/core/status.js';
import { logicOf, microstepTransitions, parentOf } from '../../machines/core/xstateAdapter.js';
import { CompiledLifecycles } from '../../src/engine/compiledLifecycles.js';
import { Deadlines } from '../../src/engine/deadlines.js';
import { globalInspectors } from '../../src/engine/globalInspection.js';
import { InspectionBus } from '../../src/engine/inspectionBus.js';
import { silentLogger } from '../../src/engine/logging.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { ActorRegistryError, InvalidArgumentError, SystemStoppedError } from '../../src/errors.js';
import { type Inspector, startInspector } from '../../src/inspector/server.js';
import { bridgeToStately } from '../../src/inspector/statelyBridge.js';
import { TestClock } from '../../src/testing/index.js';
import { transitionCoverage } from '../../src/testing/transitionCoverage.js';
import { connectPage, type Msg } from '../inspector/support/pageClient.js';
import { captureLogs } from '../support/taskFixtures.js';

/** A door: counted openings, a timed auto-close, an emitted event, a final state with output. */
const door = setup({
  types: {
    context: {} as { opens: number; limit: number },
    events: {} as { type: 'OPEN' } | { type: 'CLOSE' } | { type: 'LOCK' },
    input: {} as { limit: number } | undefined,
    emitted: {} as { type: 'opened'; opens: number },
    output: {} as { opens: number },
  },
}).createMachine({
  id: 'vdoor',
  context: ({ input }) => ({ opens: 0, limit: input?.limit ?? 2 }),
  initial: 'closed',
  states: {
    closed: {
      on: {
        OPEN: {
          target: 'open',
          actions: [
            assign({ opens: ({ context }) => context.opens + 1 }),
            emit(({ context }) => ({ type: 'opened' as const, opens: context.opens })),
          ],
        },
        LOCK: 'locked',
      },
    },
    open: { after: { 1000: 'closed' }, on: { CLOSE: 'closed' } },
    locked: { type: 'final' },
  },
  output: ({ context }) => ({ opens: context.opens }),
});

/** A machine the runner refuses (it invokes an actor): it stays on XState's interpreter. */
const invoking = setup({ actors: { work: fromPromise(async () => 1) } }).createMachine({
  id: 'vinvoking',
  initial: 'busy',
  states: { busy: { invoke: { src: 'work', onDone: 'idle' } }, idle: {} },
});

/** A machine that logs and whose JAM action throws. */
const jammer = setup({}).createMachine({
  id: 'vjammer',
  initial: 'ok',
  states: {
    ok: {
      entry: log('ready'),
      on: {
        PING: { actions: log(() => ({ pong: true }), 'ping') },
        JAM: {
          actions: () => {
            throw new Error('jammed');
          },
        },
      },
    },
  },
});

let system: OrrerySystem | undefined;
let inspector: Inspector | undefined;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await inspector?.close();
  inspector = undefined;
  await system?.stop();
  system = undefined;
});

/** Run `fn` with no global inspector registered (the test setup registers the coverage recorder). */
function unobserved<T>(fn: () => T): T {
  const saved = [...globalInspectors];
  globalInspectors.clear();
  try {
    return fn();
  } finally {
    for (const g of saved) globalInspectors.add(g);
  }
}

/** An inspection event reduced to what an observer can compare across two actors. */
function shape(e: InspectionEvent, self: AnyActorRef): unknown {
  const out: Record<string, unknown> = { type: e.type, self: e.actorRef === self };
  if ('event' in e) out.event = e.event;
  if (e.type === '@xstate.event') out.source = e.sourceRef === undefined ? 'none' : e.sourceRef === self;
  if ('snapshot' in e) {
    const s = e.snapshot as any;
    out.snapshot = {
      status: s.status,
      value: s.value,
      context: s.context,
      output: s.output,
      error: s.error,
      children: s.children,
      tags: [...(s.tags ?? [])],
      keys: Object.keys(s).sort(),
    };
  }
  if (e.type === '@xstate.microstep') {
    out.transitions = microstepTransitions(e).map((t: any) => ({
      source: t.source.id,
      eventType: t.eventType,
      target: (t.target ?? []).map((n: { id: string }) => n.id),
    }));
  }
  return out;
}

describe('issue 10 item 5: virtual actors', () => {
  it('issue 10 item 5: spawnCompiled registers a lifecycle that system.get finds and system.actors() lists', () => {
    const clock = new TestClock();
    system = createSystem({ clock });
    const lc = system.spawnCompiled(door, { id: 'door-1', systemId: 'door', input: { limit: 3 } });
    expect(lc.status).toBe('active');
    expect(lc.value).toBe('closed');
    expect(system.compiledCount).toBe(1);

    const ref = system.get('door')!;
    expect(ref).toBeDefined();
    expect(ref.id).toBe('door-1');
    expect(logicOf(ref)).toBe(door);
    expect(parentOf(ref)).toBeUndefined();
    expect(system.get('door', door)).toBe(ref);
    expect(() => system!.get('door', invoking)).toThrow(ActorRegistryError);
    expect(ref.getSnapshot()).toMatchObject({
      status: 'active',
      value: 'closed',
      context: { opens: 0, limit: 3 },
      children: {},
    });
    expect(ref.getSnapshot().matches('closed')).toBe(true);
    expect(ref.getSnapshot().can({ type: 'OPEN' })).toBe(true);
    expect(ref.getSnapshot().can({ type: 'CLOSE' })).toBe(false);

    const info = system.actors().find((a) => a.systemId === 'door');
    expect(info).toMatchObject({ id: 'door-1', machine: 'vdoor', systemId: 'door' });
    expect(info!.ref).toBe(ref);
    expect(ref.system.get('door')).toBe(ref);

    // the virtual actor drives the lifecycle; the snapshot follows
    ref.send({ type: 'OPEN' });
    expect(lc.value).toBe('open');
    expect(ref.getSnapshot().value).toBe('open');
    expect(ref.getSnapshot().context.opens).toBe(1);
    clock.advance(1000);
    expect(ref.getSnapshot().value).toBe('closed');

    // a taken systemId is refused wherever it lives
    expect(() => system!.spawnCompiled(door, { systemId: 'door' })).toThrow(ActorRegistryError);
    expect(() => system!.spawnDetached(door, { systemId: 'door' })).toThrow(ActorRegistryError);

    // done: it leaves the registry
    ref.send({ type: 'LOCK' });
    expect(lc.status).toBe('done');
    expect(lc.output).toEqual({ opens: 1 });
    expect(system.get('door')).toBeUndefined();
    expect(system.actors().some((a) => a.systemId === 'door')).toBe(false);
    expect(system.compiledCount).toBe(0);
  });

  it('issue 10 item 5: a machine the runner refuses is an InvalidArgumentError (spawn it with spawnDetached)', () => {
    system = createSystem({ clock: new TestClock() });
    expect(() => system!.spawnCompiled(invoking)).toThrow(InvalidArgumentError);
    expect(() => system!.spawnCompiled(door, { id: '' })).toThrow(InvalidArgumentError);
    expect(() => system!.spawnCompiled(door, { onSystemStop: 1 as never })).toThrow(InvalidArgumentError);
  });

  it('stopCompiled and actorOf refuse what is not a lifecycle with an InvalidArgumentError', () => {
    system = createSystem({ clock: new TestClock() });
    const lc = system.spawnCompiled(door);
    for (const bad of [undefined, null, {}, 'door-1', system.actorOf(lc)]) {
      expect(() => system!.stopCompiled(bad as never)).toThrow(InvalidArgumentError);
      expect(() => system!.actorOf(bad as never)).toThrow(InvalidArgumentError);
    }
    expect(lc.status).toBe('active');
    system.stopCompiled(lc);
    expect(lc.status).toBe('stopped');
  });

  it('issue 10 item 5: system.stop() calls onSystemStop while the lifecycle runs, then stops it; nothing stays scheduled', async () => {
    const clock = new TestClock();
    system = createSystem({ clock });
    const seen: Array<{ status: string; error: unknown }> = [];
    const lc = system.spawnCompiled(door, {
      systemId: 'door',
      onSystemStop: (error) => seen.push({ status: lc.status, error }),
    });
    const other = system.spawnCompiled(door, {
      onSystemStop: () => {
        throw new Error('a hook that throws is logged, the others still run');
      },
    });
    lc.send({ type: 'OPEN' });
    other.send({ type: 'OPEN' });
    const ref = system.get('door')!;
    const completed: string[] = [];
    ref.subscribe({ complete: () => completed.push('complete') });
    // both delays sit in the system's one deadline structure, behind one clock timer
    expect(lc.armedEvents()).toHaveLength(1);
    expect(other.armedEvents()).toHaveLength(1);
    expect(clock.pending).toBe(1);

    await system.stop();
    expect(seen).toHaveLength(1);
    expect(seen[0].status).toBe('active');
    expect(seen[0].error).toBeInstanceOf(SystemStoppedError);
    expect(lc.status).toBe('stopped');
    expect(other.status).toBe('stopped');
    expect(completed).toEqual(['complete']);
    expect(system.get('door')).toBeUndefined();
    expect(system.compiledCount).toBe(0);
    expect(clock.pending).toBe(0);
    expect(() => system!.spawnCompiled(door)).toThrow(ActorRegistryError);
  });

  it('issue 10 item 5: stopping one lifecycle cancels its timers and completes its subscribers', async () => {
    const clock = new TestClock();
    system = createSystem({ clock });
    const lc = system.spawnCompiled(door, { systemId: 'door' });
    lc.send({ type: 'OPEN' });
    const ref = system.get('door')!;
    const got: string[] = [];
    ref.subscribe({ next: (s) => got.push(`next ${s.value}`), complete: () => got.push('complete') });
    expect(lc.armedEvents()).toHaveLength(1);
    expect(clock.pending).toBe(1);
    ref.stop();
    expect(lc.status).toBe('stopped');
    expect(lc.armedEvents()).toHaveLength(0);
    // the deadline structure lets its one clock timer go once nothing is armed (after the microtask checkpoint)
    await Promise.resolve();
    expect(clock.pending).toBe(0);
    expect(got).toEqual(['complete']);
    expect(system.get('door')).toBeUndefined();
    expect(ref.getSnapshot().status).toBe('stopped');
  });

  it('issue 10 item 5: inspection events have the types, order and snapshots of an XState actor for the same events', () => {
    const run = (compiled: boolean) => {
      const clock = new TestClock();
      const s = createSystem({ clock });
      const events: InspectionEvent[] = [];
      s.inspect((e) => {
        // the runner reports no actions (@xstate.action): compare everything else
        if (e.type !== '@xstate.action') events.push(e);
      });
      let self: AnyActorRef;
      if (compiled) {
        s.spawnCompiled(door, { systemId: 'door', input: { limit: 5 } });
        self = s.get('door')!;
      } else {
        self = s.spawnDetached(door, { systemId: 'door', input: { limit: 5 } });
      }
      self.send({ type: 'OPEN' });
      clock.advance(1000); // the after event: XState's scheduler relays it from the actor itself
      self.send({ type: 'CLOSE' }); // not enabled in 'closed': an event, no microstep, a snapshot
      self.send({ type: 'OPEN' });
      self.send({ type: 'CLOSE' });
      self.send({ type: 'LOCK' });
      // (events sent after done are not compared: an XState actor created while inspected still reports them,
      // one created before is detached from the bus when done; a lifecycle reports nothing once done)
      void s.stop();
      return events.filter((e) => e.actorRef === self).map((e) => shape(e, self));
    };
    const xstate = run(false);
    const compiled = run(true);
    expect(xstate.length).toBeGreaterThan(10);
    expect(compiled).toEqual(xstate);
  });

  it.each([
    ['finished after settling', ['PROGRESS', 'FINISH', 50]],
    ['timed out', [100, 'FINISH']],
    ['cancelled while settling', ['FINISH', 'CANCEL']],
  ] as const)(
    'issue 10 item 5: a Status lifecycle (%s) reports what its XState actor reports',
    (_name, steps) => {
      const run = (compiled: boolean) => {
        const clock = new TestClock();
        const s = createSystem({ clock });
        const events: InspectionEvent[] = [];
        s.inspect((e) => e.type !== '@xstate.action' && events.push(e));
        const options = { id: 'st-1', input: { timeout: 90, settleTime: 20, name: 'dome' } };
        const self: AnyActorRef = compiled
          ? s.actorOf(s.spawnCompiled(statusMachine, options))
          : s.spawnDetached(statusMachine, options);
        for (const step of steps) {
          if (typeof step === 'number') clock.advance(step);
          else if (step === 'PROGRESS')
            self.send({ type: step, update: { current: 1, initial: 0, target: 2 } });
          else if (step === 'CANCEL') self.send({ type: step, error: new Error('cancelled') });
          else self.send({ type: step });
        }
        void s.stop();
        return events.filter((e) => e.actorRef === self).map((e) => shape(e, self));
      };
      const xstate = run(false);
      expect(xstate.some((e: any) => e.type === '@xstate.microstep')).toBe(true);
      expect(run(true)).toEqual(xstate);
    },
  );

  it('issue 10 item 5: a stopped lifecycle reports what a stopped XState actor reports', () => {
    const run = (compiled: boolean) => {
      const s = createSystem({ clock: new TestClock() });
      const events: InspectionEvent[] = [];
      s.inspect((e) => e.type !== '@xstate.action' && events.push(e));
      const self: AnyActorRef = compiled
        ? s.actorOf(s.spawnCompiled(door, { systemId: 'door' }))
        : s.spawnDetached(door, { systemId: 'door' });
      const told: string[] = [];
      self.subscribe({ next: (x) => told.push(`next ${x.status}`), complete: () => told.push('complete') });
      self.send({ type: 'OPEN' });
      self.stop();
      void s.stop();
      return { told, events: events.filter((e) => e.actorRef === self).map((e) => shape(e, self)) };
    };
    expect(run(true)).toEqual(run(false));
  });

  it('issue 10 item 5: a lifecycle that errors is reported as an XState actor that crashes (subscribers, logs, engine events)', () => {
    const run = (compiled: boolean) => {
      const { lines, logger } = captureLogs();
      const s = createSystem({ clock: new TestClock(), logger });
      const events: InspectionEvent[] = [];
      const engine: string[] = [];
      s.inspect((e) => e.type !== '@xstate.action' && events.push(e));
      s.onEngineEvent((e) => engine.push(`${e.type} ${(e as { error?: Error }).error?.message}`));
      const self: AnyActorRef = compiled
        ? s.actorOf(s.spawnCompiled(jammer, { id: 'jam-1', systemId: 'jam' }))
        : s.spawnDetached(jammer, { id: 'jam-1', systemId: 'jam' });
      const told: string[] = [];
      self.subscribe({
        next: (x) => told.push(`next ${x.status}`),
        error: (err) => told.push(`error ${(err as Error).message}`),
        complete: () => told.push('complete'),
      });
      self.send({ type: 'PING' });
      self.send({ type: 'JAM' });
      const found = s.get('jam');
      const status = self.getSnapshot().status;
      void s.stop();
      return {
        told,
        engine,
        status,
        found,
        logs: lines.map((l) => ({ actor: l.actor, machine: l.machine, msg: l.msg, err: l.err?.message })),
        events: events.filter((e) => e.actorRef === self).map((e) => shape(e, self)),
      };
    };
    const compiled = run(true);
    expect(compiled.status).toBe('error');
    expect(compiled.found).toBeUndefined();
    expect(compiled.told).toEqual(['next active', 'error jammed']);
    expect(compiled.engine).toEqual(['actor.failed jammed']);
    expect(compiled.logs).toEqual([
      { actor: 'jam-1', machine: 'vjammer', msg: 'ready' },
      { actor: 'jam-1', machine: 'vjammer', msg: 'ping {"pong":true}' },
      { actor: 'jam-1', machine: 'vjammer', msg: 'actor crashed', err: 'jammed' },
    ]);
    expect(compiled).toEqual(run(false));
  });

  it('issue 10 item 5: onDone, onEmit and owner reach the runner; a lifecycle done at once is never registered', () => {
    system = createSystem({ clock: new TestClock() });
    const owner = { name: 'facade' };
    const calls: unknown[] = [];
    const lc = system.spawnCompiled(door, {
      systemId: 'door',
      owner,
      onDone: (done) => calls.push(['done', done.output, done.owner === owner, system!.get('door')]),
      onEmit: (from, e) => calls.push(['emit', e, from.owner === owner]),
    });
    expect(lc.owner).toBe(owner);
    lc.send({ type: 'OPEN' });
    lc.send({ type: 'CLOSE' });
    lc.send({ type: 'LOCK' });
    expect(calls).toEqual([
      ['emit', { type: 'opened', opens: 1 }, true],
      ['done', { opens: 1 }, true, undefined], // released before the callback
    ]);

    const instant = setup({}).createMachine({
      id: 'vinstant',
      initial: 'end',
      states: { end: { type: 'final' } },
    });
    const gone = system.spawnCompiled(instant, { systemId: 'instant' });
    expect(gone.status).toBe('done');
    expect(system.get('instant')).toBeUndefined();
    expect(system.compiledCount).toBe(0);
  });

  it('issue 10 item 5: the @statelyai/inspect bridge sees a compiled lifecycle with its machine definition', async () => {
    const messages: any[] = [];
    const server = await new Promise<WebSocketServer>((resolve) => {
      const wss: WebSocketServer = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => resolve(wss));
    });
    server.on('connection', (ws) => ws.on('message', (data) => messages.push(JSON.parse(String(data)))));
    try {
      system = createSystem({ clock: new TestClock() });
      const { port } = server.address() as { port: number };
      const bridge = bridgeToStately(system, { url: `ws://127.0.0.1:${port}` });
      const lc = system.spawnCompiled(door, { id: 'door-1', systemId: 'door' });
      lc.send({ type: 'OPEN' });
      const sessionId = system.actorOf(lc).sessionId;
      const until = async (cond: () => boolean) => {
        for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
      };
      await until(() => messages.some((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'open'));
      const created = messages.find((m) => m.type === '@xstate.actor' && m.sessionId === sessionId);
      expect(created).toMatchObject({ name: 'vdoor', sessionId });
      expect(JSON.parse(created.definition)).toMatchObject({ id: 'vdoor', initial: 'closed' });
      expect(
        messages.some(
          (m) => m.type === '@xstate.event' && m.sessionId === sessionId && m.event.type === 'OPEN',
        ),
      ).toBe(true);
      bridge.stop();
    } finally {
      for (const client of server.clients) client.terminate();
      await new Promise((r) => server.close(r));
    }
  });

  it("issue 10 item 5: with the system's Deadlines, delays need one clock timer and no closure per lifecycle", () => {
    const clock = new TestClock();
    const deadlines = new Deadlines(clock);
    const bus = new InspectionBus();
    const events: InspectionEvent[] = [];
    bus.observe((e) => events.push(e));
    const registry = new CompiledLifecycles({
      clock,
      logger: silentLogger(),
      bus,
      system: { get: () => undefined },
      deadlines,
    });
    const a = registry.spawn(door, { id: 'a' });
    const b = registry.spawn(door, { id: 'b' });
    a.send({ type: 'OPEN' });
    clock.advance(400);
    b.send({ type: 'OPEN' });
    expect(deadlines.size).toBe(2);
    expect(clock.pending).toBe(1); // one clock timer for both
    clock.advance(600);
    expect([a.value, b.value]).toEqual(['closed', 'open']);
    clock.advance(400);
    expect(b.value).toBe('closed');
    expect(deadlines.size).toBe(0);
    // the after event came from the actor itself, as XState's scheduler relays it
    const after = events.find(
      (e) =>
        e.type === '@xstate.event' &&
        e.event.type.startsWith('xstate.after.') &&
        (e.actorRef as AnyActorRef).id === 'a',
    ) as { sourceRef?: unknown; actorRef: unknown };
    expect(after.sourceRef).toBe(after.actorRef);
    a.send({ type: 'OPEN' });
    registry.stop(a);
    expect(deadlines.size).toBe(0);
    expect(registry.size).toBe(1);
  });

  it('issue 10 item 5: subscribe and on reach the lifecycle, emitted events included', () => {
    system = createSystem({ clock: new TestClock() });
    const lc = system.spawnCompiled(door, { systemId: 'door' });
    const ref = system.get('door')!;
    const values: unknown[] = [];
    const emitted: unknown[] = [];
    let done = false;
    ref.subscribe({ next: (s) => values.push(s.value), complete: () => (done = true) });
    ref.on('opened', (e: unknown) => emitted.push(e));
    ref.on('*', (e: { type: string }) => emitted.push(e.type));
    lc.send({ type: 'OPEN' });
    lc.send({ type: 'CLOSE' });
    lc.send({ type: 'LOCK' });
    expect(values).toEqual(['open', 'closed', 'locked']);
    expect(emitted).toEqual([{ type: 'opened', opens: 1 }, 'opened']);
    expect(done).toBe(true);
    // a late subscriber to a done actor completes at once, as with XState
    let late = false;
    ref.subscribe({ complete: () => (late = true) });
    expect(late).toBe(true);
  });

  it('issue 10 item 5: nothing is built while nobody observes; observation starts and ends with the bus', () => {
    const s = unobserved(() => createSystem({ clock: new TestClock() }));
    system = s;
    expect(s.bus.active).toBe(false);
    const lc = s.spawnCompiled(door, { systemId: 'door' });
    expect(lc.observer).toBeNull();
    lc.send({ type: 'OPEN' });
    expect(lc.observer).toBeNull();

    // a lookup builds the virtual actor, but it observes nothing until someone subscribes
    const ref = s.get('door')!;
    expect(lc.observer).toBeNull();
    const sub = ref.subscribe(() => {});
    expect(lc.observer).toBe(ref);
    sub.unsubscribe();
    expect(lc.observer).toBeNull();

    // a late inspection observer: the live lifecycle is announced and observed while it lasts
    const events: InspectionEvent[] = [];
    const inspection = s.inspect((e) => events.push(e));
    expect(lc.observer).toBe(ref);
    expect(events.map((e) => e.type)).toEqual(['@xstate.actor']);
    expect(events[0].actorRef).toBe(ref);
    lc.send({ type: 'CLOSE' });
    expect(events.map((e) => e.type)).toEqual([
      '@xstate.actor',
      '@xstate.event',
      '@xstate.microstep',
      '@xstate.snapshot',
    ]);
    inspection.unsubscribe();
    expect(lc.observer).toBeNull();
    expect(s.get('door')).toBe(ref); // the same actor (same sessionId) once observation ends
    lc.send({ type: 'OPEN' });
    expect(events).toHaveLength(4);

    // spawned while observed: announced before its init event
    const again = s.inspect(() => {});
    const seen: InspectionEvent[] = [];
    const sub2 = s.inspect((e) => seen.push(e));
    const second = s.spawnCompiled(door, { id: 'door-2', input: { limit: 1 } });
    expect(second.observer).not.toBeNull();
    expect(seen.map((e) => e.type)).toEqual(['@xstate.actor', '@xstate.event', '@xstate.snapshot']);
    expect((seen[1] as { event: unknown }).event).toEqual({ type: 'xstate.init', input: { limit: 1 } });
    expect(seen[0].actorRef.sessionId).toBe(s.actorOf(second).sessionId);
    again.unsubscribe();
    sub2.unsubscribe();
    expect(second.observer).toBeNull();
    expect(s.actorOf(second)).toBe(seen[0].actorRef);
  });

  it('an inspection observer can use a virtual actor at its @xstate.actor event, as it can an XState actor', () => {
    // read, send to, subscribe to and listen to the actor the moment it is announced; before, the virtual actor
    // was announced before its lifecycle existed: send, subscribe and on threw a TypeError there, getSnapshot()
    // gave undefined and the id was the session id
    const run = (compiled: boolean) => {
      const s = createSystem({ clock: new TestClock() });
      const seen: Record<string, unknown> = {};
      const values: unknown[] = [];
      const emitted: unknown[] = [];
      s.inspect((e) => {
        if (e.type !== '@xstate.actor' || logicOf(e.actorRef as AnyActorRef) !== door) return;
        const ref = e.actorRef as AnyActorRef;
        const attempt = (name: string, fn: () => unknown) => {
          try {
            seen[name] = fn();
          } catch (err) {
            seen[name] = err instanceof TypeError ? `TypeError: ${err.message}` : 'thrown';
          }
        };
        attempt('id', () => ref.id);
        attempt('lookup', () => ref.system.get('door') ?? 'not registered yet');
        if (compiled) attempt('snapshot', () => ref.getSnapshot());
        attempt('subscribe', () => void ref.subscribe((snap: any) => values.push(snap.value)));
        attempt('on', () => void ref.on('opened', (ev: unknown) => emitted.push(ev)));
        attempt('send', () => ref.send({ type: 'OPEN' }));
      });
      const options = { id: 'door-7', systemId: 'door', input: { limit: 3 } };
      const ref = compiled ? s.actorOf(s.spawnCompiled(door, options)) : s.spawnDetached(door, options);
      const result = {
        seen,
        values,
        emitted,
        value: ref.getSnapshot().value,
        opens: ref.getSnapshot().context.opens,
      };
      void s.stop();
      return result;
    };
    const xstate = run(false);
    const compiled = run(true);
    expect(xstate).toEqual({
      seen: {
        id: 'door-7',
        lookup: 'not registered yet',
        subscribe: undefined,
        on: undefined,
        send: undefined,
      },
      // the event sent then is processed once the actor has started
      values: ['closed', 'open'],
      emitted: [{ type: 'opened', opens: 1 }],
      value: 'open',
      opens: 1,
    });
    // XState's actor has no snapshot yet (its development build throws); the virtual actor shows its first one
    const { snapshot, ...rest } = compiled.seen;
    expect(snapshot).toMatchObject({ status: 'active', value: 'closed', context: { opens: 0, limit: 3 } });
    expect({ ...compiled, seen: rest }).toEqual(xstate);
  });

  it('issue 10 item 5: transition coverage records the transitions a compiled lifecycle takes', () => {
    system = createSystem({ clock: new TestClock() });
    const coverage = transitionCoverage();
    const sub = system.inspect(coverage.inspect);
    const lc = system.spawnCompiled(door);
    lc.send({ type: 'OPEN' });
    lc.send({ type: 'CLOSE' });
    lc.send({ type: 'OPEN' });
    (system.clock as TestClock).advance(1000);
    expect(coverage.missing(door)).toEqual(['vdoor.closed --LOCK--> vdoor.locked']);
    lc.send({ type: 'LOCK' });
    expect(coverage.missing(door)).toEqual([]);
    sub.unsubscribe();
    // the same coverage as an XState actor driven the same way
    const xs = transitionCoverage();
    const actor = createActor(door, { inspect: xs.inspect, input: undefined }).start();
    for (const type of ['OPEN', 'CLOSE', 'LOCK'] as const) actor.send({ type });
    expect([...xs.taken].every((k) => coverage.taken.has(k))).toBe(true);
  });

  it('issue 10 item 5: a late inspector page shows the lifecycle with its machine and state, and a sent event changes it', async () => {
    const clock = new TestClock();
    system = createSystem({ clock });
    const lc = system.spawnCompiled(door, { id: 'door-1', systemId: 'door' });
    lc.send({ type: 'OPEN' });
    inspector = await startInspector(system, { port: 0, batchIntervalMs: 20, readOnly: false });
    const page = connectPage(inspector.url, sockets);
    await page.opened;
    const hello = await page.next((m) => m.type === 'hello');
    const view = hello.actors.find((a: Msg) => a.systemId === 'door');
    expect(view).toMatchObject({
      id: 'door-1',
      machine: 'vdoor',
      chart: 'vdoor',
      status: 'active',
      value: 'open',
      context: { opens: 1 },
    });
    expect(view.parent).toBeUndefined();

    page.ws.send(JSON.stringify({ type: 'send', systemId: 'door', event: { type: 'CLOSE' }, id: 7 }));
    await page.next((m) => m.type === 'ack' && m.id === 7);
    expect(lc.value).toBe('closed');
    const batch = await page.next(
      (m) => m.type === 'batch' && m.actors.some((a: Msg) => a.systemId === 'door' && a.value === 'closed'),
    );
    expect(batch.events.some((e: Msg) => e.type === 'CLOSE' && e.targetId === 'door-1')).toBe(true);

    lc.send({ type: 'LOCK' });
    await page.next((m) => m.type === 'batch' && m.stopped.includes(view.key));
  });
});
