/**
 * issue 9 items 4 and 5: `orrery katcp-sim` as a user runs it: prints where it listens, answers KATCP over TCP
 * (a raw socket sends ?help), exits 0 by itself on SIGINT or a client's ?halt, exits 2 on bad options or a taken
 * port.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAllRawClients, RawClient } from '../katcp/support/exampleServer.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

const children: ReturnType<typeof spawn>[] = [];
afterEach(async () => {
  await closeAllRawClients();
  // a simulator that failed to exit must not outlive its test
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function run(...args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'katcp-sim', ...args], { stdio: 'pipe' });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  /** The port it printed, waiting for the line (the test's timeout bounds the wait). */
  const listening = async (): Promise<number> => {
    for (;;) {
      const m = /katcp simulator listening on 127\.0\.0\.1:(\d+)/.exec(stdout);
      if (m) return Number(m[1]);
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, exited, listening, stdout: () => stdout, stderr: () => stderr };
}

describe('orrery katcp-sim', () => {
  it('listens, answers ?help and sensor requests over TCP, and exits 0 on SIGINT', async () => {
    const sim = run('--port', '0', '--interval', '20');
    const port = await sim.listening();
    const c = await RawClient.connect(port);
    await c.waitForLines(3);
    expect(c.lines[0]).toMatch(/^#version-connect katcp-protocol 5\.1-MIBT?$/);
    const help = await c.request('help', 1);
    const names = help.slice(0, -1).map((l) => l.split(' ')[1]);
    expect(names).toEqual(expect.arrayContaining(['add', 'bump', 'echo', 'sleep', 'sensor-list', 'halt']));
    expect(help.at(-1)).toBe(`!help[1] ok ${names.length}`);
    expect(await c.request('add', 2, '2', '3.5')).toEqual(['!add[2] ok 5.5']);
    const sensors = await c.request('sensor-list', 3);
    expect(sensors.slice(0, -1).map((l) => l.split(' ')[1])).toEqual([
      'counter',
      'mode',
      'ok',
      'temperature',
      'when',
    ]);
    // the counter changes on its own: two events after asking for them
    await c.request('sensor-sampling', 4, 'counter', 'event');
    const from = c.lines.length;
    await c.waitFor((l) => l.startsWith('#sensor-status') && l.includes(' counter '), from);
    sim.child.kill('SIGINT');
    expect(await sim.exited).toBe(0);
    expect(sim.stdout()).toMatch(/katcp simulator stopped \(SIGINT\)/);
    await c.closed;
    expect(c.lines.at(-1)).toBe('#disconnect server\\_shutting\\_down');
  });

  it('exits 0 by itself after a client ?halt', async () => {
    const sim = run('--port', '0');
    const c = await RawClient.connect(await sim.listening());
    await c.waitForLines(3);
    expect(await c.request('halt', 1)).toEqual(['!halt[1] ok']);
    expect(await sim.exited).toBe(0);
    expect(sim.stdout()).toMatch(/stopped \(\?halt\)/);
  });

  it('bad options exit 2 with a one-line message', async () => {
    for (const [args, message] of [
      [['--port', 'abc'], /--port expects a port number/],
      [['--port', '70000'], /--port expects a port number .*more than 65535/],
      [['--interval', '-1'], /--interval/],
      [['--bogus'], /Unknown option '--bogus'/],
      [['--host', '8.8.8.8'], /not a loopback address/],
    ] as const) {
      const sim = run(...args);
      expect(await sim.exited, args.join(' ')).toBe(2);
      expect(sim.stderr()).toMatch(message);
      expect(sim.stderr().trim().split('\n')).toHaveLength(1);
    }
  });

  it('a port in use exits 2: port N is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const sim = run('--port', String(port));
      expect(await sim.exited).toBe(2);
      expect(sim.stderr()).toContain(`port ${port} is in use`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
