/**
 * issue 9 item 4: the KATCP simulator behind `orrery katcp-sim` and the demo: sensors that change on the clock
 * (a TestClock here), its requests, and nothing left scheduled after close() or ?halt.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/errors.js';
import { createKatcpSimulator, type KatcpSimulator } from '../../src/protocols/katcp/sim.js';
import { TestClock } from '../../src/testing/index.js';
import { closeAllRawClients, RawClient } from './support/exampleServer.js';

const sims: KatcpSimulator[] = [];
afterEach(async () => {
  await closeAllRawClients();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function start() {
  const clock = new TestClock();
  let r = 0;
  const randoms = [0.9, 0.9, 0.1];
  const sim = createKatcpSimulator({
    clock,
    now: () => 1000 + clock.now() / 1000,
    random: () => randoms[r++ % 3],
  });
  sims.push(sim);
  const { port } = await sim.listen();
  const c = await RawClient.connect(port);
  await c.waitForLines(3);
  return { sim, clock, c };
}

describe('issue 9 item 4: the KATCP simulator', () => {
  it('changes its sensors every 100 ms of the clock, sampled like any sensor', async () => {
    const { sim, clock, c } = await start();
    expect(c.lines[2]).toBe('#version-connect katcp-device orrery-katcp-sim-1.0 orrery-katcp-sim-1.0.0');
    await c.request('sensor-sampling', 1, 'counter,temperature', 'event');
    clock.advance(300);
    expect(sim.counter.value).toBe(3);
    expect(sim.temperature.value).toBeCloseTo(20 + 0.4 + 0.4 - 0.4, 9);
    expect(sim.when.value).toBeCloseTo(1000.3, 9);
    await c.request('watchdog', 2);
    const statuses = c.lines
      .filter((l) => l.startsWith('#sensor-status'))
      .map((l) => l.split(' ').slice(3).join(' '));
    expect(statuses).toEqual([
      'counter nominal 0',
      'temperature nominal 20.0',
      'temperature nominal 20.4',
      'counter nominal 1',
      'temperature nominal 20.8',
      'counter nominal 2',
      'temperature nominal 20.4',
      'counter nominal 3',
    ]);
    clock.advance(20 * 100 - 300);
    expect(sim.mode.value).toBe('slewing');
  });

  it('?bump, ?echo, ?add, ?sleep on the clock', async () => {
    const { clock, c } = await start();
    expect(await c.request('bump', 1)).toEqual(['!bump[1] ok 1']);
    expect(await c.request('echo', 2, 'a\\_b', '\\@')).toEqual(['!echo[2] ok a\\_b \\@']);
    expect(await c.request('add', 3, '1', '2')).toEqual(['!add[3] ok 3']);
    expect((await c.request('add', 4, '1', 'x'))[0]).toMatch(/^!add\[4\] fail not\\_a\\_float/);
    c.send('?sleep[5] 0.5');
    await c.request('watchdog', 6);
    expect(c.lines.some((l) => l.startsWith('!sleep[5]'))).toBe(false);
    clock.advance(500);
    expect(await c.waitFor((l) => l.startsWith('!sleep[5]'))).toBe('!sleep[5] ok');
    const hint = await c.request('request-timeout-hint', 7, 'sleep');
    expect(hint).toEqual(['#request-timeout-hint[7] sleep 60.0', '!request-timeout-hint[7] ok 1']);
  });

  it('close() and ?halt stop the updater: nothing is left on the clock', async () => {
    const { sim, clock, c } = await start();
    expect(clock.pending).toBe(1);
    await c.request('halt', 1);
    await sim.waitClosed();
    expect(clock.pending).toBe(0);
    const before = sim.counter.value;
    clock.advance(1000);
    expect(sim.counter.value).toBe(before);
    expect(() => createKatcpSimulator({ updateIntervalMs: 0 })).toThrow(/updateIntervalMs/);
  });
});

describe('issue 9 item 4: pending requests when the server closes or the client leaves', () => {
  it('close() with a ?sleep pending: its signal is aborted, its timer cleared, nothing left on the clock', async () => {
    const { sim, clock, c } = await start();
    c.send('?sleep[1] 30');
    await c.request('watchdog', 2); // the sleep has started
    expect(clock.pending).toBe(2); // the updater and the sleep
    await sim.close();
    expect(clock.pending).toBe(0);
    await c.closed;
    expect(c.lines.some((l) => l.startsWith('!sleep'))).toBe(false);
    expect(c.lines.at(-1)).toBe('#disconnect server\\_shutting\\_down');
  });

  it('a client that leaves with a ?sleep pending: its timer is cleared, the server serves others', async () => {
    const { sim, clock, c } = await start();
    const other = await RawClient.connect((sim.address as { port: number }).port);
    await other.waitForLines(3);
    c.send('?sleep[1] 30');
    await c.request('watchdog', 2);
    expect(clock.pending).toBe(2);
    c.socket.destroy();
    await c.closed;
    await other.request('watchdog', 3); // the server has seen the close by now
    expect(sim.clients).toHaveLength(1);
    expect(clock.pending).toBe(1); // only the updater
  });

  it('a handler sees ctx.signal aborted with a CancelledError on close(), and its late reply goes nowhere', async () => {
    const { sim, c } = await start();
    const reasons: unknown[] = [];
    sim.addRequest('wait', 'Wait for the server to close', (ctx) => {
      return new Promise<string[]>((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          reasons.push(ctx.signal.reason);
          resolve(['too late']);
        });
      });
    });
    await c.waitFor((l) => l === '#interface-changed request wait added');
    c.send('?wait[1]');
    await c.request('watchdog', 2);
    await sim.close();
    await c.closed;
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(CancelledError);
    expect(c.lines.some((l) => l.startsWith('!wait'))).toBe(false);
  });
});

describe('a bad random source', () => {
  it('a random that throws, gives NaN or leaves [0, 1] is a step of 0 (no throw from the timer), the updater goes on', () => {
    const bad: (() => number)[] = [
      () => {
        throw new Error('no entropy');
      },
      () => Number.NaN,
      () => 5,
      () => -1,
      () => 'x' as unknown as number,
    ];
    for (const random of bad) {
      const clock = new TestClock();
      const sim = createKatcpSimulator({ clock, now: () => 1000, random });
      sims.push(sim);
      expect(() => sim.update()).not.toThrow(); // the updater's timer calls it: a throw escaped into the process
      expect(sim.temperature.value).toBe(20);
      expect(sim.temperature.status).toBe('nominal');
      expect(sim.counter.value).toBe(1);
    }
  });

  it('on the clock: the timer keeps running past a throwing draw', async () => {
    const clock = new TestClock();
    let n = 0;
    const sim = createKatcpSimulator({
      clock,
      now: () => 1000,
      random: () => {
        if (n++ === 1) throw new Error('no entropy');
        return 0.75;
      },
    });
    sims.push(sim);
    await sim.listen();
    expect(() => clock.advance(300)).not.toThrow();
    expect(sim.counter.value).toBe(3);
    expect(sim.temperature.value).toBeCloseTo(20.5, 9);
    expect(clock.pending).toBe(1);
  });
});
