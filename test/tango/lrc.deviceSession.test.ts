/**
 * Issue 10 item 6: one LRC session per device. Every call on a DevicePort shares its session: one subscription per
 * attribute (made by the first call that needs it, released when the last call on it ends), events routed by
 * command id (no fan-out to every call), and a call machine with no invoke of its own.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { LrcEvent } from '../../machines/tango/lrc.js';
import { lrcMachine, MAX_BUFFERED_EVENTS } from '../../machines/tango/lrc.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { invokeLrc, type LrcUpdate } from '../../src/protocols/tango/lrc/invokeLrc.js';
import { lrcLogic } from '../../src/protocols/tango/lrc/lrcLogic.js';
import { LrcDeviceSession } from '../../src/protocols/tango/lrc/session.js';
import type { AttributeEvent, DevicePort } from '../../src/protocols/tango/port.js';
import { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { ResultCode, TaskStatus } from '../../src/protocols/tango/wire.js';
import { TestClock } from '../../src/testing/testClock.js';
import { devError, flush, runFor, ScriptedPort } from './support/lrcHarness.js';

let clock: TestClock;
let system: OrrerySystem;
let device: SkaDeviceSimulator;

beforeEach(() => {
  clock = new TestClock();
  system = createSystem({ clock });
  device = new SkaDeviceSimulator({
    name: 'test/session/1',
    clock,
    maxQueuedTasks: 64,
    commands: {
      Go: async (task) => {
        task.inProgress();
        await task.sleep(10);
        task.progress(50);
        return [ResultCode.OK, `done ${task.args}`];
      },
    },
  });
});
afterEach(async () => {
  await device.close();
  await system.stop();
  expect(clock.pending).toBe(0);
});

const session = (port: DevicePort) => LrcDeviceSession.of(port);

/** Every state node of a machine, depth first (public StateNode API). */
function nodes(node: typeof lrcMachine.root): (typeof lrcMachine.root)[] {
  return [node, ...Object.values(node.states).flatMap(nodes)];
}

describe('issue 10 item 6: one LRC session per device', () => {
  for (const protocol of [2, 1] as const) {
    it(`issue 10 item 6: v${protocol}: concurrent calls share one subscription per attribute, released with the last call`, async () => {
      const attributes = protocol === 2 ? 1 : 3;
      const logs: LrcUpdate[][] = [];
      const all = Array.from({ length: 20 }, (_, i) => {
        const log: LrcUpdate[] = [];
        logs.push(log);
        return invokeLrc((u) => log.push(u), device, 'Go', i, { system, clientVersions: [1, protocol] });
      });
      const subs = await Promise.all(all);
      expect(device.subscriptionCount).toBe(attributes);
      expect(session(device).subscriptionCount).toBe(attributes);
      expect(session(device).callCount).toBe(20);
      // the first call ends early: the others keep the subscriptions
      subs[0].unsubscribe();
      expect(device.subscriptionCount).toBe(attributes);
      await runFor(clock, 400);
      for (const s of subs) expect((await s.finished).outcome).toBe(s === subs[0] ? 'released' : 'finished');
      // every call saw exactly its own lifecycle, as a lone call does
      logs.slice(1).forEach((log, i) => {
        const statuses = log.filter((u) => u.status !== undefined).map((u) => u.status);
        expect(statuses.at(-1)).toBe(TaskStatus.COMPLETED);
        expect(statuses).toEqual([...new Set(statuses)]); // no repeats without parity
        expect(log.filter((u) => 'result' in u).map((u) => u.result)).toEqual([
          [ResultCode.OK, `done ${i + 1}`],
        ]);
        expect(log.filter((u) => u.progress !== undefined)).toHaveLength(1);
      });
      // nothing left: no subscription, no call, no kept event
      expect(device.subscriptionCount).toBe(0);
      expect(session(device)).toMatchObject({ subscriptionCount: 0, callCount: 0, keptEvents: 0 });
    });
  }

  it('issue 10 item 6: a call gets only the events naming its command id (routing, no fan-out); error events reach every call', async () => {
    let n = 0;
    const listeners: ((e: AttributeEvent) => void)[] = [];
    const port: DevicePort = {
      name: 'test/routing/1',
      attributeList: async () => ['_lrcEvent'],
      readAttribute: async () => [2, 2],
      commandInout: async () => [[ResultCode.QUEUED], [`id-${n++}`]],
      subscribeChangeEvent: async (_a, cb) => {
        listeners.push(cb);
        return () => listeners.splice(listeners.indexOf(cb), 1);
      },
    };
    const targets = [0, 1, 2].map(() => {
      const events: LrcEvent[] = [];
      const call = session(port).open(
        { send: (e) => void events.push(e) },
        { command: 'Go', args: undefined, parity: false, cacheNegotiation: false },
      );
      return { call, events };
    });
    for (const t of targets) t.call.connect(['_lrcEvent']);
    await flush();
    expect(listeners).toHaveLength(1); // one subscription for the three calls
    for (const t of targets) t.call.invoke();
    await flush();
    const emit = (value: unknown) => {
      for (const l of [...listeners]) l({ attribute: '_lrcEvent', value });
    };
    emit(['id-1', '{"status": 1}']);
    emit(['id-2', '{"status": 1}', 'id-0', '{"status": 2}']);
    listeners[0]({ attribute: '_lrcEvent', errors: [devError('lost')] });
    const deviceEvents = targets.map((t) =>
      t.events.filter((e) => e.type === 'DEVICE_EVENT').map((e) => (e as { event: AttributeEvent }).event),
    );
    expect(deviceEvents[0].map((e) => e.value ?? 'error')).toEqual([
      ['id-2', '{"status": 1}', 'id-0', '{"status": 2}'],
      'error',
    ]);
    expect(deviceEvents[1].map((e) => e.value ?? 'error')).toEqual([['id-1', '{"status": 1}'], 'error']);
    expect(deviceEvents[2].map((e) => e.value ?? 'error')).toEqual([
      ['id-2', '{"status": 1}', 'id-0', '{"status": 2}'],
      'error',
    ]);
    for (const t of targets) t.call.close();
    expect(listeners).toHaveLength(0);
    expect(session(port)).toMatchObject({ subscriptionCount: 0, callCount: 0 });
  });

  it(`issue 10 item 6: value events before the command id are kept once per subscription (at most ${MAX_BUFFERED_EVENTS}), only while a call waits`, async () => {
    let reply!: (r: unknown) => void;
    const listeners: ((e: AttributeEvent) => void)[] = [];
    const port: DevicePort = {
      name: 'test/kept/1',
      attributeList: async () => ['_lrcEvent'],
      readAttribute: async () => [2, 2],
      commandInout: () => new Promise((r) => (reply = r)),
      subscribeChangeEvent: async (_a, cb) => {
        listeners.push(cb);
        return () => listeners.splice(listeners.indexOf(cb), 1);
      },
    };
    const open = () => {
      const events: LrcEvent[] = [];
      const call = session(port).open(
        { send: (e) => void events.push(e) },
        { command: 'Go', args: undefined, parity: false, cacheNegotiation: false },
      );
      call.connect(['_lrcEvent']);
      return { call, events };
    };
    const a = open();
    const b = open();
    await flush();
    a.call.invoke();
    const late = (i: number) => ({
      attribute: '_lrcEvent',
      value: [i % 2 ? 'mine' : 'other', `{"progress": ${i}}`],
    });
    for (let i = 0; i < MAX_BUFFERED_EVENTS + 6; i++) listeners[0](late(i));
    // one copy for the two waiting calls, bounded as a per-call buffer was
    expect(session(port).keptEvents).toBe(MAX_BUFFERED_EVENTS);
    reply([[ResultCode.QUEUED], ['mine']]);
    await flush();
    const invoked = a.events.find((e) => e.type === 'INVOKED') as Extract<LrcEvent, { type: 'INVOKED' }>;
    // the last MAX_BUFFERED_EVENTS events, those naming the command
    expect(invoked.held).toEqual(
      Array.from({ length: MAX_BUFFERED_EVENTS + 6 }, (_, i) => late(i))
        .slice(6)
        .filter((_, i) => i % 2),
    );
    expect(session(port).keptEvents).toBe(MAX_BUFFERED_EVENTS); // b still waits
    b.call.close();
    expect(session(port).keptEvents).toBe(0);
    a.call.close();
    expect(listeners).toHaveLength(0);
  });

  it('issue 10 item 6: calls of both protocol versions on one device each get their own attributes and events', async () => {
    const v1: LrcUpdate[] = [];
    const v2: LrcUpdate[] = [];
    const [a, b] = await Promise.all([
      invokeLrc((u) => v1.push(u), device, 'Go', 'a', { system, clientVersions: [1, 1] }),
      invokeLrc((u) => v2.push(u), device, 'Go', 'b', { system }),
    ]);
    expect([a.protocolVersion, b.protocolVersion]).toEqual([1, 2]);
    expect(device.subscriptionCount).toBe(4);
    await runFor(clock, 100);
    for (const [log, arg] of [
      [v1, 'a'],
      [v2, 'b'],
    ] as const) {
      expect(log.at(-1)?.status).toBe(TaskStatus.COMPLETED);
      expect(log.filter((u) => 'result' in u).map((u) => u.result)).toEqual([[ResultCode.OK, `done ${arg}`]]);
    }
    expect(device.subscriptionCount).toBe(0);
  });

  it('issue 10 item 6: a failed subscription fails every call waiting on it, and the next call tries again', async () => {
    let fail = true;
    const port = new ScriptedPort(device, {
      lateSubscription: true,
      failSubscribe: () => (fail ? new Error('no events today') : undefined),
    });
    const first = await Promise.all([
      invokeLrc(() => {}, port, 'Go', 1, { system }).catch((e) => e),
      invokeLrc(() => {}, port, 'Go', 2, { system }).catch((e) => e),
    ]);
    for (const e of first)
      expect(e.errors.at(-1).desc).toBe("Subscribing to '_lrcEvent' change event failed.");
    expect(session(port).subscriptionCount).toBe(0);
    fail = false;
    const p = invokeLrc(() => {}, port, 'Go', 3, { system });
    await flush();
    port.releaseSubscriptions();
    const subs = await p;
    await runFor(clock, 100);
    expect((await subs.finished).outcome).toBe('finished');
    expect(port.open).toBe(0);
  });

  it('issue 10 item 6: a subscription that has not answered when its last call ends is left: the next call makes its own, the late one is ended when it answers', async () => {
    const port = new ScriptedPort(device, { lateSubscription: true });
    const first = invokeLrc(() => {}, port, 'Go', 1, { system, timeout: 100 }).catch((e) => e);
    await runFor(clock, 150);
    expect((await first).name).toBe('TimeoutError');
    // nothing waits on it any more: the session no longer holds it
    expect(session(port).subscriptionCount).toBe(0);
    expect(session(port).callCount).toBe(0);
    // the device answers subscriptions again: a new call is not held up by the one that never answered
    port.options = {};
    const p = invokeLrc(() => {}, port, 'Go', 2, { system, timeout: 1000 });
    await flush();
    const subs = await p;
    await runFor(clock, 100);
    expect((await subs.finished).outcome).toBe('finished');
    expect(port.open).toBe(0);
    // the first subscription answers at last: it is ended at once (no call wants it), nothing leaks
    port.releaseSubscriptions();
    await flush();
    expect(port.open).toBe(0);
    expect(session(port).subscriptionCount).toBe(0);
  });

  it('issue 10 item 6: an actor stopped from outside (no exit action runs) still leaves its session', async () => {
    const actor = createActor(lrcLogic, { input: { device, command: 'Go', callback: () => {} } });
    actor.start();
    await flush();
    expect(actor.getSnapshot().matches({ unbounded: { session: 'monitoring' } })).toBe(true);
    expect(device.subscriptionCount).toBe(1);
    actor.stop();
    expect(device.subscriptionCount).toBe(0);
    expect(session(device).callCount).toBe(0);
    await runFor(clock, 100);
  });

  it('issue 10 items 5, 6: a call on the compiled runner stopped from outside (its virtual actor) still leaves its session and settles', async () => {
    const subs = await invokeLrc(() => {}, device, 'Go', undefined, { system, timeout: 60_000 });
    expect(subs.actor.getSnapshot().matches({ bounded: { session: 'monitoring' } })).toBe(true);
    expect(device.subscriptionCount).toBe(1);
    expect(system.compiledCount).toBe(1);
    subs.actor.stop();
    expect(subs.active).toBe(false);
    expect(device.subscriptionCount).toBe(0);
    expect(session(device).callCount).toBe(0);
    expect(system.compiledCount).toBe(0);
    const out = await subs.finished;
    expect(out.outcome).toBe('released');
    expect(out.commandId).toBe(subs.commandId);
    await runFor(clock, 100);
  });

  it('issue 10 item 6: the call machine has no invoke of its own: its I/O is actions the session provides', () => {
    for (const node of nodes(lrcMachine.root)) expect(node.invoke, node.id).toEqual([]);
  });
});
