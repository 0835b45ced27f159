/**
 * The LRC floor of the benchmark (`lrcFloor.ts`) is faithful: on the same simulated devices (fixed epoch, counting
 * uuids, a TestClock: the same command ids in every run), each of its calls' callbacks gets exactly the updates
 * `invokeLrc`'s gets for the command of the same id, in the same order (v2, v1 on a v2 device, a v1-only device
 * whose finished commands leave the lists quickly, v1 with every result event coming after its status, v2 and v1
 * with every event duplicated and delivered again late);
 * every call finishes, and no subscription is left.
 */
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/engine/system.js';
import { invokeLrc, type LrcUpdate, TaskStatus } from '../../src/protocols/tango/lrc/invokeLrc.js';
import type { AttributeEvent, DevicePort, Unsubscribe } from '../../src/protocols/tango/port.js';
import { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { isTerminalStatus, LRC_ATTRIBUTES, ResultCode } from '../../src/protocols/tango/wire.js';
import { TestClock } from '../../src/testing/testClock.js';
import { floorLrc } from './lrcFloor.js';

interface Scenario {
  devices: number;
  clientVersions: readonly [number, number];
  protocolVersions?: readonly [number, number] | null;
  removalTimeMs?: number;
  /** Every `longRunningCommandResult` event delivered 1 ms late (after the status that follows it). */
  deferResults?: boolean;
  /** Every event delivered twice. */
  duplicate?: boolean;
  /** Every event delivered again this many ms later. */
  echoAfterMs?: number;
  /** Calls started on every device at these times (ms). */
  batches: readonly { at: number; calls: number }[];
}

/**
 * A device whose k-th executed command (its k-th invoked: one executor, in order) does one of four things: steps
 * of progress over time; the benchmark's `Go` (at once); a failure; a progress that is not an int and no result.
 */
function makeDevice(clock: TestClock, index: number, sc: Scenario): SkaDeviceSimulator {
  let uuid = 0;
  let k = 0;
  return new SkaDeviceSimulator({
    name: `test/floor/${index}`,
    clock,
    epochMs: 1_700_000_000_000,
    uuid: () => ++uuid,
    maxQueuedTasks: 64,
    protocolVersions: sc.protocolVersions,
    removalTimeMs: sc.removalTimeMs,
    commands: {
      Work: async (task) => {
        const n = k++;
        switch (n % 4) {
          case 0:
            task.inProgress();
            await task.sleep(10);
            task.progress(n * 10 + 1);
            await task.sleep(10);
            task.progress(n * 10 + 2);
            return [ResultCode.OK, `done ${n}`];
          case 1:
            task.inProgress();
            task.progress(n);
            return [ResultCode.OK, 'done'];
          case 2:
            await task.sleep(5);
            throw new Error('boom');
          default:
            task.update({ status: TaskStatus.IN_PROGRESS, progress: 'half' });
            await task.sleep(5);
            return undefined;
        }
      },
    },
  });
}

/**
 * A port in front of a simulator that perturbs its change events: result events 1 ms late (after the status that
 * follows them), every event twice, every event again `echoAfterMs` later (stale statuses).
 */
class PerturbedPort implements DevicePort {
  readonly name: string;
  constructor(
    readonly inner: SkaDeviceSimulator,
    readonly clock: TestClock,
    readonly sc: Scenario,
  ) {
    this.name = inner.name;
  }
  attributeList(): Promise<readonly string[]> {
    return this.inner.attributeList();
  }
  readAttribute(attribute: string): Promise<unknown> {
    return this.inner.readAttribute(attribute);
  }
  commandInout(command: string, args?: unknown): Promise<unknown> {
    return this.inner.commandInout(command, args);
  }
  async subscribeChangeEvent(attribute: string, callback: (e: AttributeEvent) => void): Promise<Unsubscribe> {
    let live = true;
    const send = (e: AttributeEvent) => {
      if (live) callback(e);
    };
    const { deferResults, duplicate, echoAfterMs } = this.sc;
    const unsubscribe = await this.inner.subscribeChangeEvent(attribute, (e) => {
      if (deferResults && attribute === LRC_ATTRIBUTES.result) this.clock.setTimeout(() => send(e), 1);
      else {
        send(e);
        if (duplicate) send(e);
      }
      if (echoAfterMs !== undefined) this.clock.setTimeout(() => send(e), echoAfterMs);
    });
    return () => {
      live = false;
      unsubscribe();
    };
  }
}

interface Call {
  device: string;
  updates: LrcUpdate[];
  id?: string;
  done: boolean;
  error?: unknown;
}

const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Every call of the scenario with one client; the updates of each, by device and command id. */
async function run(sc: Scenario, client: 'orrery' | 'floor'): Promise<Map<string, LrcUpdate[]>> {
  const clock = new TestClock();
  const system = createSystem({ clock });
  const sims = Array.from({ length: sc.devices }, (_, i) => makeDevice(clock, i, sc));
  const ports: DevicePort[] = sims.map((s) =>
    sc.deferResults || sc.duplicate || sc.echoAfterMs !== undefined ? new PerturbedPort(s, clock, sc) : s,
  );
  const calls: Call[] = [];
  const start = (port: DevicePort) => {
    const call: Call = { device: port.name, updates: [], done: false };
    calls.push(call);
    const callback = (u: LrcUpdate) => {
      call.updates.push(u);
    };
    const clientVersions = sc.clientVersions;
    const submitted: Promise<{ commandId: string; finished: Promise<unknown> }> =
      client === 'floor'
        ? floorLrc(callback, port, 'Work', undefined, { clientVersions })
        : invokeLrc(callback, port, 'Work', undefined, { system, clientVersions });
    submitted
      .then((s) => {
        call.id = s.commandId;
        return s.finished;
      })
      .then(
        () => {
          call.done = true;
        },
        (error) => {
          call.error = error;
        },
      );
  };
  const lastStart = Math.max(...sc.batches.map((b) => b.at));
  for (let t = 0; t <= 2000; t += 5) {
    for (const b of sc.batches)
      if (b.at === t) for (const p of ports) for (let i = 0; i < b.calls; i++) start(p);
    await drain();
    if (t >= lastStart && calls.every((c) => c.done || c.error)) break;
    clock.advance(5);
  }
  for (const c of calls) expect(c.error, `${client}: ${c.device} ${c.id}`).toBeUndefined();
  expect(calls.every((c) => c.done)).toBe(true);
  for (const s of sims) expect(s.subscriptionCount, `${client}: ${s.name}`).toBe(0);
  for (const s of sims) await s.close();
  await system.stop();
  const byId = new Map<string, LrcUpdate[]>();
  for (const c of calls) byId.set(`${c.device} ${c.id}`, c.updates);
  return byId;
}

async function compare(sc: Scenario): Promise<void> {
  const orrery = await run(sc, 'orrery');
  const floor = await run(sc, 'floor');
  const calls = sc.devices * sc.batches.reduce((n, b) => n + b.calls, 0);
  expect(orrery.size).toBe(calls);
  expect([...floor.keys()].sort()).toEqual([...orrery.keys()].sort());
  for (const [id, updates] of orrery) {
    const mine = floor.get(id)!;
    expect(mine, id).toStrictEqual(updates);
    // key order too
    expect(JSON.stringify(mine), id).toBe(JSON.stringify(updates));
    // not vacuous: from STAGING (given before the id was known) to a terminal status
    expect(updates[0], id).toEqual({ status: TaskStatus.STAGING });
    expect(isTerminalStatus(updates.at(-1)?.status ?? -1), id).toBe(true);
  }
}

const BATCHES = [
  { at: 0, calls: 6 },
  { at: 15, calls: 3 },
];

describe('LRC floor (bench support): the same updates as invokeLrc', () => {
  it('protocol v2, concurrent calls on several devices, some joining later', async () => {
    await compare({ devices: 3, clientVersions: [1, 2], batches: BATCHES });
  });

  it('protocol v1 on a v2 device', async () => {
    await compare({ devices: 2, clientVersions: [1, 1], batches: BATCHES });
  });

  it('a v1-only device (no lrcProtocolVersions), finished commands leaving the lists after 20 ms', async () => {
    await compare({
      devices: 2,
      clientVersions: [1, 2],
      protocolVersions: null,
      removalTimeMs: 20,
      batches: BATCHES,
    });
  });

  it('v1 with every result event after its status: the status held back until the result', async () => {
    await compare({
      devices: 2,
      clientVersions: [1, 2],
      protocolVersions: [1, 1],
      deferResults: true,
      batches: BATCHES,
    });
  });

  it('v2 with every event twice and again 7 ms later: repeated and stale statuses dropped', async () => {
    await compare({ devices: 2, clientVersions: [1, 2], duplicate: true, echoAfterMs: 7, batches: BATCHES });
  });

  it('v1 with every event twice and again 7 ms later: repeated and stale statuses dropped', async () => {
    await compare({ devices: 2, clientVersions: [1, 1], duplicate: true, echoAfterMs: 7, batches: BATCHES });
  });
});
