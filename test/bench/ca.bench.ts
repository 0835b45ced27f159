/**
 * Channel Access figures (issue 11 item 8), side by side in one run: Orrery's client and pyepics (Debian's
 * python3-pyepics over libca, run with /usr/bin/python3, `support/caPeer.py`) against the same Orrery CaServer in
 * its own process (`caServer.ts`), one client at a time. Sequential scalar gets per second (Orrery: the sync
 * `read()` over its shared Context, and `PV.read` on the persistent API), 800 kB array reads per second (100,000
 * doubles), and monitor updates per second while the server posts a sequence number as fast as it can, with the
 * updates lost (gaps in the sequence) counted.
 *
 * Reference (issue 11, this kind of 2-core machine, against a caproto IOC): pyepics 4,260 gets/s and 1,546 array
 * reads/s, caproto's client 6,593 and 2,949. Targets (Orrery): >= 13k gets/s, >= 3k array reads/s, >= 50k monitor
 * updates/s, zero lost.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Context } from '../../src/protocols/ca/context.js';
import { read, write } from '../../src/protocols/ca/sync.js';

type Row = [string, string, string];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
const PYTHON = '/usr/bin/python3';
const ARRAY_COUNT = 100_000;

async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const script = fileURLToPath(new URL('./caServer.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`CA bench server exited with ${code}`)));
  });
  return { child, port };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** The environment that points a client (Orrery's or libca) at the bench server only. */
function caEnv(port: number): Record<string, string> {
  return {
    EPICS_CA_ADDR_LIST: `127.0.0.1:${port}`,
    EPICS_CA_AUTO_ADDR_LIST: 'NO',
    EPICS_CA_MAX_ARRAY_BYTES: String(16 * 1024 * 1024),
  };
}

/** `fn` called back to back for `ms` (in groups of `group`): calls per second. */
async function rate(ms: number, group: number, fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    for (let i = 0; i < group; i++) await fn();
    n += group;
  }
  return n / ((performance.now() - t0) / 1000);
}

interface MonitorFigures {
  rate: number;
  received: number;
  lost: number;
  posted: number;
}

/** Subscribes to bench:seq, puts n to bench:flood with completion, counts what arrives until the last value. */
async function orreryMonitor(context: Context, n: number): Promise<MonitorFigures> {
  const pv = context.getPv('bench:seq');
  await pv.waitForConnection({ timeout: 10_000 });
  const sub = pv.subscribe({ dataType: 'time' });
  let start: number | undefined;
  let last = Number.NaN;
  let received = 0;
  const seen = new Uint8Array(n + 1);
  let heard = 0;
  let wake: () => void = () => {};
  const token = sub.addCallback((_s, r) => {
    const v = Number(r.data[0]);
    last = v;
    heard = performance.now();
    if (start === undefined) {
      wake();
      return;
    }
    received++;
    const i = v - start;
    if (i > 0 && i <= n) seen[i] = 1;
    if (i >= n) wake();
  });
  try {
    if (Number.isNaN(last)) await new Promise<void>((resolve) => (wake = resolve));
    start = last;
    const done = new Promise<void>((resolve) => (wake = resolve));
    const t0 = performance.now();
    await write('bench:flood', n, { notify: true, timeout: 600_000, context });
    // every value is posted once the put completes: wait for the last one, or for 3 s of silence
    for (;;) {
      const silent = new Promise<'silent'>((resolve) => setTimeout(() => resolve('silent'), 3000).unref());
      if ((await Promise.race([done.then(() => 'done' as const), silent])) === 'done') break;
      if (performance.now() - heard >= 3000) break;
    }
    const elapsed = ((received > 0 ? heard : performance.now()) - t0) / 1000;
    let got = 0;
    for (let i = 1; i <= n; i++) got += seen[i];
    return { rate: received / elapsed, received, lost: n - got, posted: n };
  } finally {
    sub.removeCallback(token);
  }
}

/** The pyepics peer's figures for one workload (null when python3-pyepics is not installed). */
async function pyepics(port: number, args: string[]): Promise<Record<string, number> | null> {
  const script = [
    fileURLToPath(new URL('./support/caPeer.py', import.meta.url)),
    fileURLToPath(new URL('../../../test/bench/support/caPeer.py', import.meta.url)),
  ].find((p) => existsSync(p));
  if (!script || !existsSync(PYTHON)) return null;
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [script, ...args],
      { env: { ...process.env, ...caEnv(port) }, timeout: 900_000, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        try {
          const result = JSON.parse(last) as Record<string, number> & { error?: string };
          if (result.error) reject(new Error(`pyepics ${args[0]}: ${result.error}`));
          else resolve(result);
        } catch {
          if (/No module named 'epics'/.test(stderr)) resolve(null);
          else reject(new Error(`pyepics ${args[0]} failed: ${error?.message ?? ''} ${stderr.slice(-500)}`));
        }
      },
    );
  });
}

const perSecond = (r: Record<string, number> | null, key = 'count') =>
  r === null ? 'pyepics not installed' : `${fmt(r[key] / r.seconds)} /s`;

export async function caRows(args: string[] = []): Promise<Row[]> {
  const seconds = Number(args[0] ?? 3);
  const ms = seconds * 1000;
  const floodN = Number(args[1] ?? 200_000);
  const { child, port } = await startServer();
  const context = new Context({ env: { ...process.env, ...caEnv(port) }, timeout: 10_000 });
  try {
    // Orrery first, then pyepics, never both at once
    const scalar = () => read('bench:scalar', { context });
    const pv = context.getPv('bench:scalar');
    const pvRead = () => pv.read();
    // warm-up (search, circuit, and JIT in both processes: the first second runs at half speed)
    await rate(1500, 100, scalar);
    await rate(500, 100, pvRead);
    const syncGets = await rate(ms, 100, scalar);
    const pvGets = await rate(ms, 100, pvRead);
    const arrayRead = () => read('bench:array', { context, timeout: 10_000 });
    const first = await arrayRead();
    if (first.data.length !== ARRAY_COUNT) throw new Error(`bench:array read ${first.data.length} elements`);
    await rate(1000, 10, arrayRead);
    const arrays = await rate(ms, 10, arrayRead);
    await orreryMonitor(context, 20_000); // warm-up
    const mon = await orreryMonitor(context, floodN);

    const pyGets = await pyepics(port, ['gets', 'bench:scalar', String(ms)]);
    const pyArrays = await pyepics(port, ['arrays', 'bench:array', String(ARRAY_COUNT), String(ms)]);
    const pyMon = await pyepics(port, ['monitor', 'bench:seq', 'bench:flood', String(floodN)]);
    const pyMonText =
      pyMon === null
        ? 'pyepics not installed'
        : `${fmt(pyMon.received / pyMon.seconds)} /s, ${fmt(pyMon.lost)} lost of ${fmt(pyMon.posted)}`;
    return [
      ['CA scalar gets sequential, Orrery sync read()', `${fmt(syncGets)} /s`, '>= 13,000 /s'],
      ['CA scalar gets sequential, Orrery PV.read()', `${fmt(pvGets)} /s`, ''],
      [
        'CA scalar gets sequential, pyepics PV.get (libca)',
        perSecond(pyGets),
        '(ref. 4,260 /s vs caproto IOC)',
      ],
      ['CA 800 kB array reads sequential, Orrery sync read()', `${fmt(arrays)} /s`, '>= 3,000 /s'],
      ['CA 800 kB array reads sequential, pyepics', perSecond(pyArrays), '(ref. 1,546 /s vs caproto IOC)'],
      [
        `CA monitor updates, Orrery (${fmt(mon.posted)} posted)`,
        `${fmt(mon.rate)} /s, ${fmt(mon.lost)} lost`,
        '>= 50,000 /s, 0 lost',
      ],
      [`CA monitor updates, pyepics (${fmt(floodN)} posted)`, pyMonText, ''],
    ];
  } finally {
    await context.disconnect();
    await stopServer(child);
  }
}
