/**
 * KATCP figures (issue 9 item 8): requests per second sequential and pipelined through a KatcpClient, and sensor
 * updates per second through an InspectingClient, against a DeviceServer in its own process on loopback.
 * `katcp-soak <seconds>` runs the same three workloads in a loop and samples the heap after a GC every 10 s.
 *
 * Reference (aiokatcp 1.9 client against an aiokatcp server, this kind of 2-core machine): 12.4k-13.7k requests/s
 * sequential, 17k-19k/s pipelined. Targets: >= 20k/s sequential, >= 50k/s pipelined, >= 100k sensor updates/s.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { KatcpClient } from '../../src/protocols/katcp/client.js';
import { InspectingClient } from '../../src/protocols/katcp/inspectingClient.js';

type Row = [string, string, string];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function startServer(name = 'katcpServer'): Promise<{ child: ChildProcess; port: number }> {
  const script = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return { child, port };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/**
 * The ceiling of any sequential request/reply rate here: bare Node sockets, one `?watchdog\n` echoed back at a time
 * by a server in another process, for `ms` (no KATCP at all).
 */
async function rawRoundTrips(ms: number): Promise<number> {
  const { child, port } = await startServer('echoServer');
  try {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const line = Buffer.from('?watchdog\n');
    let n = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      socket.on('data', () => {
        n++;
        if (performance.now() - t0 >= ms) resolve();
        else socket.write(line);
      });
      socket.write(line);
    });
    const rate = n / ((performance.now() - t0) / 1000);
    socket.destroy();
    return rate;
  } finally {
    await stopServer(child);
  }
}

/** Sequential `?watchdog` for `ms`: one request in flight at a time. */
async function sequential(client: KatcpClient, ms: number): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) await client.request('watchdog');
    n += 100;
  }
  return n / ((performance.now() - t0) / 1000);
}

/** `count` `?watchdog` requests sent at once (message ids: pipelined), best of `rounds`. */
async function pipelined(client: KatcpClient, count: number, rounds: number): Promise<number> {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const all: Promise<unknown>[] = new Array(count);
    for (let i = 0; i < count; i++) all[i] = client.request('watchdog');
    await Promise.all(all);
    best = Math.max(best, count / ((performance.now() - t0) / 1000));
  }
  return best;
}

/** `?flood n` with `auto` sampling on `ticks`: updates per second received by the InspectingClient's Sensor. */
async function sensorUpdates(ic: InspectingClient, n: number): Promise<{ rate: number; received: number }> {
  const sensor = await ic.futureGetSensor('ticks');
  if (!sensor) throw new Error('the bench server has no ticks sensor');
  let received = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const detach = sensor.attach(() => {
    if (++received === n) done();
  });
  const t0 = performance.now();
  await ic.simpleRequestWith({ timeout: 120_000 }, 'flood', n);
  await all;
  const rate = n / ((performance.now() - t0) / 1000);
  detach();
  return { rate, received };
}

async function withPeers<T>(fn: (client: KatcpClient, ic: InspectingClient) => Promise<T>): Promise<T> {
  const { child, port } = await startServer();
  const client = await KatcpClient.connect('127.0.0.1', port, { requestTimeout: 60_000 });
  const ic = new InspectingClient('127.0.0.1', port, { requestTimeout: 120_000 });
  try {
    await ic.connect({ timeout: 10_000 });
    await ic.untilSynced({ timeout: 10_000 });
    const [ok, why] = await ic.setSamplingStrategy('ticks', 'auto');
    if (!ok) throw new Error(`sampling: ${why}`);
    return await fn(client, ic);
  } finally {
    await ic.close();
    await client.close();
    await stopServer(child);
  }
}

export async function katcpRows(): Promise<Row[]> {
  await rawRoundTrips(500); // warm-up
  const raw = await rawRoundTrips(3000);
  const rows = await withPeers(async (client, ic): Promise<Row[]> => {
    await sequential(client, 500); // warm-up
    const seq = await sequential(client, 3000);
    await pipelined(client, 5000, 2); // warm-up
    const pipe5k = await pipelined(client, 5000, 5);
    const pipe50k = await pipelined(client, 50_000, 3);
    await sensorUpdates(ic, 50_000); // warm-up
    const sensors = await sensorUpdates(ic, 500_000);
    return [
      ['KATCP ?watchdog sequential (KatcpClient)', `${fmt(seq)} /s`, '>= 20,000 /s (aiokatcp 12.4k-13.7k)'],
      ['KATCP ?watchdog pipelined, 5,000 in flight', `${fmt(pipe5k)} /s`, '>= 50,000 /s (aiokatcp 17k-19k)'],
      ['KATCP ?watchdog pipelined, 50,000 in flight', `${fmt(pipe50k)} /s`, ''],
      [
        `KATCP #sensor-status via InspectingClient (auto, ${fmt(sensors.received)})`,
        `${fmt(sensors.rate)} /s`,
        '>= 100,000 /s',
      ],
    ];
  });
  return [
    ['raw TCP round trips, two processes, no KATCP (ceiling of sequential)', `${fmt(raw)} /s`, ''],
    ...rows,
  ];
}

/** The three workloads in a loop for `seconds`, heap (after GC) sampled every 10 s. */
export async function katcpSoakRows(args: string[]): Promise<Row[]> {
  const seconds = Number(args[0] ?? 600);
  if (!(seconds > 0)) throw new Error(`katcp-soak needs a duration in seconds, got ${args[0]}`);
  return withPeers(async (client, ic) => {
    const samples: number[] = [];
    let requests = 0;
    let updates = 0;
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let nextSample = t0;
    while (performance.now() < end) {
      if (performance.now() >= nextSample) {
        gc();
        const heap = process.memoryUsage().heapUsed / 2 ** 20;
        samples.push(heap);
        process.stderr.write(
          `katcp-soak ${fmt((performance.now() - t0) / 1000)} s: heap ${fmt(heap, 1)} MiB, ${fmt(requests)} requests, ${fmt(updates)} sensor updates\n`,
        );
        nextSample += 10_000;
      }
      requests += Math.round((await sequential(client, 1000)) * 1);
      await pipelined(client, 5000, 1);
      requests += 5000;
      updates += (await sensorUpdates(ic, 200_000)).received;
    }
    gc();
    samples.push(process.memoryUsage().heapUsed / 2 ** 20);
    const elapsed = (performance.now() - t0) / 1000;
    const firstMin = Math.min(...samples.slice(0, Math.max(2, Math.ceil(samples.length / 5))));
    const lastMin = Math.min(...samples.slice(-Math.max(2, Math.ceil(samples.length / 5))));
    return [
      [`KATCP soak ${fmt(elapsed)} s: requests`, `${fmt(requests)} (${fmt(requests / elapsed)} /s)`, ''],
      [`KATCP soak ${fmt(elapsed)} s: sensor updates`, `${fmt(updates)} (${fmt(updates / elapsed)} /s)`, ''],
      [
        'KATCP soak heap after GC: first fifth min -> last fifth min (max)',
        `${fmt(firstMin, 1)} -> ${fmt(lastMin, 1)} MiB (${fmt(Math.max(...samples), 1)})`,
        'flat',
      ],
    ];
  });
}
