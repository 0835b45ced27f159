/**
 * The demo's Channel Access part (issue 11 item 7): the CA simulator of `orrery ca-sim` on loopback with the random
 * walk, a Context on the demo's system monitoring it, put-completion Status objects finishing on the setpoint (its
 * put completes after a delay, the readback follows); stopping it (also with a put in flight) leaves no socket,
 * server or timer behind. Waits are for events, never sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../src/api/status.js';
import { startCaDemo } from '../../src/demo/caDemo.js';
import { silentLogger } from '../../src/engine/logging.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';

const KINDS = ['TCPSocketWrap', 'TCPServerWrap', 'UDPWrap', 'Timeout'] as const;
const resources = () => {
  const info = process.getActiveResourcesInfo();
  return Object.fromEntries(KINDS.map((k) => [k, info.filter((r) => r === k).length]));
};

/**
 * Resolves once no more sockets, servers and timers are open than `before`. Node releases a closed socket's handle
 * a little after its close callback (CaServer.close() and Context.disconnect() resolve before that), so this
 * re-checks on each turn of the event loop; a real leak fails after 10 s with the counts.
 */
async function released(before: Record<string, number>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const now = resources();
    if (KINDS.every((k) => (now[k] as number) <= (before[k] as number))) return;
    if (Date.now() > deadline) {
      for (const k of KINDS) expect(now[k], k).toBeLessThanOrEqual(before[k] as number);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The simulator's PVs (sorted, as CaServer.pvNames lists them). */
const SIM_PVS = [
  'counter',
  'interval',
  'message',
  'mode',
  'name',
  'readback',
  'serial',
  'setpoint',
  'step',
  'waveform',
  'x',
];

let system: OrrerySystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe('issue 11 item 7: the CA demo', () => {
  it('issue 11 item 7: monitors the random walk, finishes put-completion Status objects, and stops cleanly', async () => {
    const before = resources();
    system = createSystem({ logger: silentLogger() });
    const demo = await startCaDemo(system, {
      logger: silentLogger(),
      walkPeriodMs: 20,
      putDelayMs: 50,
      putEveryMs: 100,
    });
    expect(demo.address).toMatch(/^127\.0\.0\.1:\d+$/);
    // the same IOC as `orrery ca-sim`, under the demo's prefix
    expect(demo.pvs).toEqual(SIM_PVS.map((n) => `demo:random_walk:${n}`));
    expect(demo.simulator.server).toBe(demo.server);

    // the monitor sees the walk move
    await new Promise<void>((resolve) => {
      const values = new Set<number>();
      const token = demo.monitor.addCallback((_s, r) => {
        values.add(Number(r.data[0]));
        if (values.size >= 3) {
          demo.monitor.removeCallback(token);
          resolve();
        }
      });
    });
    expect(demo.monitor.mostRecentResponse?.metadata.timestamp).toBeGreaterThan(0);

    // a put completes after its delay and its Status succeeds
    const done = await new Promise<Status>((resolve) => {
      const off = demo.onPut((status) => {
        off();
        status.addCallback(resolve);
      });
    });
    expect(done.state).toBe('succeeded');
    expect(done.success).toBe(true);
    // the simulator's readback followed the completed put
    expect(Number(demo.server.pv('demo:random_walk:readback')?.data[0])).toBeGreaterThanOrEqual(1);
    expect(demo.puts).toBeGreaterThanOrEqual(1);
    expect(demo.feed.watching).toBe(2);

    await demo.stop();
    await demo.stop(); // idempotent
    expect(demo.context.disconnected).toBe(true);
    expect(demo.feed.closed).toBe(true);
    await released(before);
  });

  it('issue 11 item 7: stopping with a put in flight cancels its Status and leaves no timer', async () => {
    const before = resources();
    system = createSystem({ logger: silentLogger() });
    const demo = await startCaDemo(system, {
      logger: silentLogger(),
      putDelayMs: 60_000,
      putEveryMs: 10,
      prefix: 'x:',
    });
    // the first put is in flight: its completion is a minute away
    const inFlight = await new Promise<Status>((resolve) => {
      const off = demo.onPut((status) => {
        off();
        resolve(status);
      });
    });
    expect(inFlight.done).toBe(false);
    await demo.stop();
    await released(before);
    expect(inFlight.done).toBe(true);
    expect(inFlight.state).toBe('cancelled');
    expect(demo.pvs).toContain('x:x');
  });
});
