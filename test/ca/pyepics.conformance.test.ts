/**
 * issue 11 item 5: a real Channel Access client, Debian's python3-pyepics (libca 7.0.3.1) run by /usr/bin/python3,
 * reads, writes with completion and monitors Orrery's CA server on 127.0.0.1 (random port, address list pointing
 * at it, auto address list off, repeater port a free one: nothing leaves loopback). The python side
 * (support/pyepics_conformance.py) prints one JSON result; this test asserts on it. Never skipped: without pyepics
 * it fails, saying what to install. Then libca with EPICS_CA_NAME_SERVERS only (no UDP destination) finds a PV
 * of the server over TCP (issue 11 item 2).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaServer, type PvDefinition } from '../../src/protocols/ca/server.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./support/pyepics_conformance.py', import.meta.url));
const P = 'conf:';
const SLOW_PUT_MS = 300;

function pvs(): PvDefinition[] {
  return [
    {
      name: `${P}double`,
      type: 'double',
      value: 1.5,
      units: 'mm',
      precision: 3,
      limits: {
        upperCtrl: 10,
        lowerCtrl: -10,
        upperDisp: 5,
        lowerDisp: -5,
        upperAlarm: 9,
        lowerAlarm: -9,
        upperWarning: 8,
        lowerWarning: -8,
      },
    },
    { name: `${P}short`, type: 'short', value: -7 },
    { name: `${P}float`, type: 'float', value: 2.5 },
    { name: `${P}enum`, type: 'enum', value: 'on', enumStrings: ['off', 'on', 'fault'] },
    { name: `${P}long`, type: 'long', value: 123456, units: 'cts', limits: { upperCtrl: 1000000 } },
    { name: `${P}string`, type: 'string', value: 'hello orrery' },
    { name: `${P}char`, type: 'char', value: 'a char array', maxCount: 64 },
    { name: `${P}wave`, type: 'double', value: [1.25, 2.5, 3.75], maxCount: 4 },
    { name: `${P}shorts`, type: 'short', value: [1, -2, 3] },
    { name: `${P}floats`, type: 'float', value: [0.5, 1.5] },
    { name: `${P}longs`, type: 'long', value: [10, 20, 30, 40] },
    { name: `${P}strings`, type: 'string', value: ['a', 'bc', 'def'] },
    { name: `${P}big`, type: 'double', value: Float64Array.from({ length: 100_000 }, (_, i) => i) },
    {
      name: `${P}slow`,
      type: 'double',
      value: 0,
      onPut: () => new Promise<void>((resolve) => setTimeout(resolve, SLOW_PUT_MS)),
    },
    { name: `${P}ro`, type: 'long', value: 5, access: 'read-only' },
    { name: `${P}mon`, type: 'long', value: 0 },
    { name: `${P}counter`, type: 'long', value: 0 },
    { name: `${P}dead`, type: 'double', value: 0, mdel: 1 },
  ];
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Runs the conformance script (or `args`) with `env`; what it printed and its exit code. */
function runPython(
  env: NodeJS.ProcessEnv,
  args: readonly string[] = [SCRIPT, P],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, args, { env, cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

type Result = Record<string, any>;
let server: CaServer;
let ticker: NodeJS.Timeout | undefined;
let result: Result;
let ran: { code: number | null; stdout: string; stderr: string };

beforeAll(async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import epics'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new Error(
      `${PYTHON} cannot import epics: install Debian's python3-pyepics (apt-get install -y python3-pyepics). ` +
        `${probe.error?.message ?? probe.stderr}`,
    );
  }
  const repeaterPort = await freeUdpPort();
  server = await CaServer.start({
    port: 0,
    env: {},
    interfaces: ['127.0.0.1'],
    beaconAddresses: [{ host: '127.0.0.1', port: repeaterPort }],
    pvs: pvs(),
  });
  let n = 0;
  const counter = server.pv(`${P}counter`)!;
  ticker = setInterval(() => counter.write(++n), 20);
  ran = await runPython({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    EPICS_CA_ADDR_LIST: `127.0.0.1:${server.port}`,
    EPICS_CA_AUTO_ADDR_LIST: 'NO',
    EPICS_CA_SERVER_PORT: String(server.port),
    EPICS_CA_REPEATER_PORT: String(repeaterPort),
  });
  const line = ran.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`pyepics printed no result (exit ${ran.code}):\n${ran.stdout}\n${ran.stderr}`);
  result = JSON.parse(line.slice('RESULT '.length)) as Result;
}, 120_000);

afterAll(async () => {
  if (ticker) clearInterval(ticker);
  await server?.close();
});

function section(name: string): Result {
  const s = result[name];
  if (s && typeof s === 'object' && 'error' in s)
    throw new Error(`pyepics step ${name}: ${s.error}\n${s.trace}`);
  return s;
}

describe('issue 11 item 5: pyepics (libca) against the Orrery CA server', () => {
  it('caget of every native type', () => {
    expect(ran.code).toBe(0);
    const g = section('gets');
    expect(g.double).toBe(1.5);
    expect(g.short).toBe(-7);
    expect(g.float).toBe(2.5);
    expect(g.enum).toBe(1);
    expect(g.enum_as_string).toBe('on');
    expect(g.long).toBe(123456);
    expect(g.string).toBe('hello orrery');
    expect(g.char_as_string).toBe('a char array');
    expect(g.double_as_string).toBe('1.500');
  });

  it('caget of arrays of every numeric type, strings, and 100 000 doubles (extended header)', () => {
    const a = section('arrays');
    expect(a.wave).toEqual([1.25, 2.5, 3.75]);
    expect(a.shorts).toEqual([1, -2, 3]);
    expect(a.floats).toEqual([0.5, 1.5]);
    expect(a.longs).toEqual([10, 20, 30, 40]);
    expect(a.strings).toEqual(['a', 'bc', 'def']);
    expect(a.big_len).toBe(100_000);
    expect(a.big_last).toBe(99_999);
    expect(a.big_sum).toBe((99_999 * 100_000) / 2);
  });

  it("PV(form='ctrl') metadata: units, limits, precision, enum strings; form='time' stamps", () => {
    const c = section('ctrl');
    expect(c.double).toMatchObject({
      value: 1.5,
      units: 'mm',
      precision: 3,
      upper_ctrl_limit: 10,
      lower_ctrl_limit: -10,
      upper_disp_limit: 5,
      lower_disp_limit: -5,
      upper_alarm_limit: 9,
      lower_alarm_limit: -9,
      upper_warning_limit: 8,
      lower_warning_limit: -8,
      type: 'ctrl_double',
      count: 1,
      read_access: true,
      write_access: true,
    });
    expect(c.enum).toMatchObject({
      value: 1,
      enum_strs: ['off', 'on', 'fault'],
      char_value: 'on',
      type: 'ctrl_enum',
    });
    expect(c.long).toMatchObject({ units: 'cts', upper_ctrl_limit: 1000000, type: 'ctrl_long' });
    expect(Math.abs(c.timestamp - c.now)).toBeLessThan(600);
  });

  it('caput with wait=True completes (also a delayed onPut, and a put callback)', () => {
    const p = section('puts');
    expect(p.double_put).toBe(1);
    expect(p.double_after).toBe(7.25);
    expect(p.enum_put).toBe(1);
    expect(p.enum_after).toBe(2);
    expect(p.string_put).toBe(1);
    expect(p.string_after).toBe('from pyepics');
    expect(p.wave_put).toBe(1);
    expect(p.wave_after).toEqual([9.5, 8.5, 7.5, 6.5]);
    expect(p.char_put).toBe(1);
    expect(p.char_after).toBe('pyepics!');
    expect(p.slow_put).toBe(1);
    expect(p.slow_elapsed).toBeGreaterThanOrEqual((SLOW_PUT_MS - 20) / 1000); // completion waited for onPut
    expect(p.slow_after).toBe(3.5);
    expect(p.callback_complete).toBe(true);
    expect(p.callback_called).toEqual([`${P}slow`]);
    expect(server.pv(`${P}slow`)!.data[0]).toBe(4.5);
  });

  it('a put denied by access rights changes nothing', () => {
    const d = section('denied');
    expect(d.read_access).toBe(true);
    expect(d.write_access).toBe(false);
    expect(d.put).not.toBe(1);
    expect(d.after).toBe(5);
    expect(server.pv(`${P}ro`)!.data[0]).toBe(5);
  });

  it('a monitor receives the updates in order (client puts and server-side changes)', () => {
    const m = section('monitor');
    expect(m.client_puts).toEqual([0, 1, 2, 3, 4, 5]);
    const ticks = m.server_ticks as number[];
    expect(ticks.length).toBeGreaterThanOrEqual(6);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBe(ticks[i - 1] + 1);
  });

  it('issue 11 item 4: a monitor of a PV with MDEL 1 gets only the puts that move it by more than 1', () => {
    expect(section('monitor').deadband_puts).toEqual([0, 1.5, 3, 10]);
  });

  it('a missing PV times out in the configured time', () => {
    const m = section('missing');
    expect(m.value).toBeNull();
    expect(m.elapsed).toBeGreaterThanOrEqual(0.9);
    expect(m.elapsed).toBeLessThan(30);
  });
});

describe('issue 11 item 2: pyepics (libca) searching over TCP through EPICS_CA_NAME_SERVERS', () => {
  // libca with no UDP destination at all: its only search destination is the TCP name-server circuit to Orrery's
  // server (VERSION, then SEARCH on it; the reply's 0xFFFFFFFF address means "the name server itself").
  const CODE = `
import json, sys, time, epics
P = sys.argv[1]
r = {}
r['before'] = epics.caget(P + 'long', timeout=10.0)
r['put'] = epics.caput(P + 'long', 4242, wait=True, timeout=10.0)
r['after'] = epics.caget(P + 'long', timeout=10.0)
t0 = time.monotonic()
r['missing'] = epics.caget(P + 'ns-missing', timeout=1.0)
r['missing_elapsed'] = time.monotonic() - t0
sys.stdout.write('RESULT ' + json.dumps(r) + '\\n')
sys.stdout.flush()
import os
os._exit(0)
`;

  it('issue 11 item 2: with AUTO_ADDR_LIST=NO and an empty ADDR_LIST, libca reads and writes a PV found over TCP', async () => {
    const repeaterPort = await freeUdpPort();
    const ran2 = await runPython(
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        EPICS_CA_AUTO_ADDR_LIST: 'NO',
        EPICS_CA_ADDR_LIST: '',
        EPICS_CA_NAME_SERVERS: `127.0.0.1:${server.port}`,
        EPICS_CA_REPEATER_PORT: String(repeaterPort),
      },
      ['-c', CODE, P],
    );
    const line = ran2.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line)
      throw new Error(`pyepics printed no result (exit ${ran2.code}):\n${ran2.stdout}\n${ran2.stderr}`);
    const r = JSON.parse(line.slice('RESULT '.length)) as Result;
    expect(typeof r.before).toBe('number');
    expect(r.put).toBe(1);
    expect(r.after).toBe(4242);
    expect(r.missing).toBeNull();
    expect(r.missing_elapsed).toBeGreaterThanOrEqual(0.9);
    expect(ran2.code).toBe(0);
  }, 60_000);
});
