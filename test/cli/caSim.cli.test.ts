/**
 * issue 11 item 4: `orrery ca-sim` as a user runs it: prints where it listens and its PVs, answers Channel Access
 * (a raw circuit reads the counter as it changes and a PV from --pvs), exits 0 on SIGINT, exits 2 with one line on
 * bad options, a bad PV file or a taken port.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as cmd from '../../src/protocols/ca/commands.js';
import { Command, DbrType, SubscriptionType } from '../../src/protocols/ca/constants.js';
import { decodeDbr } from '../../src/protocols/ca/dbr.js';
import { closeAllRaw, RawCircuit } from '../ca/support/rawCa.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'orrery-ca-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  closeAllRaw();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** The environment without any EPICS variable (the test picks ports and interfaces). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EPICS_')));
}

function run(...args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'ca-sim', ...args], {
    stdio: 'pipe',
    env: cleanEnv(),
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const listeners: (() => void)[] = [];
  child.stdout.on('data', (d) => {
    stdout += d;
    for (const l of listeners.splice(0)) l();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  /** The port it printed, once that line and the PV list are there. */
  const listening = async (): Promise<number> => {
    for (;;) {
      const m = /ca simulator listening on 127\.0\.0\.1:(\d+)\nPVs: .*\n/.exec(stdout);
      if (m) return Number(m[1]);
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}:\n${stdout}\n${stderr}`);
      await Promise.race([new Promise<void>((r) => listeners.push(r)), exited]);
    }
  };
  return { child, exited, listening, stdout: () => stdout, stderr: () => stderr };
}

describe('issue 11 item 4: orrery ca-sim', () => {
  it('serves the simulator PVs and a --pvs file, the counter changes, and exits 0 on SIGINT', async () => {
    const pvs = join(dir, 'extra.json');
    writeFileSync(pvs, JSON.stringify([{ name: 'extra:temp', type: 'double', value: 21.5, units: 'degC' }]));
    const sim = run('--port', '0', '--interval', '20', '--prefix', 'cli:', '--pvs', pvs);
    const port = await sim.listening();
    expect(sim.stdout()).toMatch(/PVs: .*cli:counter.*cli:x/);
    expect(sim.stdout()).toContain('extra:temp');
    const c = await RawCircuit.open(port);
    const extra = await c.createChannel('extra:temp');
    const f = await c.read(extra.sid, DbrType.CTRL_DOUBLE);
    expect(decodeDbr(f.dataType, f.count, Buffer.from(f.payload))).toMatchObject({
      data: new Float64Array([21.5]),
      metadata: { units: 'degC' },
    });
    const counter = await c.createChannel('cli:counter');
    c.send(cmd.eventAddRequest(DbrType.LONG, 0, counter.sid, 7, SubscriptionType.DBE_VALUE));
    const updates = await c.waitForCount((g) => g.command === Command.EVENT_ADD && g.p2 === 7, 3);
    const values = updates.map(
      (g) => decodeDbr(g.dataType, g.count, Buffer.from(g.payload)).data[0] as number,
    );
    expect(values[2]).toBeGreaterThan(values[0]);
    sim.child.kill('SIGINT');
    expect(await sim.exited).toBe(0);
    expect(sim.stdout()).toMatch(/ca simulator stopped \(SIGINT\)/);
    await c.closed;
  });

  it('bad options and a bad PV file exit 2 with a one-line message', async () => {
    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify([{ name: 'a', type: 'quaternion', value: 1 }]));
    for (const [args, message] of [
      [['--port', 'abc'], /--port expects a port number/],
      [['--interval', '0'], /--interval must be more than 0/],
      [['--bogus'], /Unknown option '--bogus'/],
      [['--host', '8.8.8.8'], /not a loopback address/],
      [['--pvs', badFile], /bad\.json: pvs\[0\]\.type must be one of/],
      [['--pvs', join(dir, 'missing.json')], /missing\.json: cannot read: ENOENT/],
    ] as const) {
      // (--port 0 unless the case is about --port: an option given twice is a usage error of its own)
      const sim = run(...(args[0] === '--port' ? [] : ['--port', '0']), ...args);
      expect(await sim.exited, args.join(' ')).toBe(2);
      expect(sim.stderr()).toMatch(message);
      expect(sim.stderr().trim().split('\n')).toHaveLength(1);
    }
  });

  it("a --prefix or a --pvs name no client can search for (the client's PV name rule) is a usage error, exit 2", async () => {
    const euroFile = join(dir, 'euro.json');
    writeFileSync(euroFile, JSON.stringify([{ name: 'temp\u20ac', type: 'double', value: 1 }]));
    for (const [args, message] of [
      [['--prefix', '\u00e9\u20ac'], /^orrery ca-sim: --prefix: PV name "\u00e9\u20acx" is not latin-1; see/],
      [
        ['--prefix', 'a'.repeat(495)],
        /^orrery ca-sim: --prefix: PV name of 502 bytes is longer than 500; see/,
      ],
      [['--pvs', euroFile], /euro\.json: pvs\[0\]\.name: PV name "temp\u20ac" is not latin-1/],
    ] as const) {
      const sim = run('--port', '0', ...args);
      const still = new Promise<string>((r) => setTimeout(() => r('still serving'), 10_000));
      expect(await Promise.race([sim.exited, still]), args.join(' ').slice(0, 40)).toBe(2);
      expect(sim.stderr()).toMatch(message);
      expect(sim.stderr().trim().split('\n')).toHaveLength(1);
      expect(sim.stdout()).toBe('');
    }
  });

  it('a taken port exits 2: port N is in use', async () => {
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
