/**
 * Native Tango figures (issue 12 item 8), side by side in one run against the same servers, one client at a time:
 * Orrery's DeviceProxy and PyTango (Debian's python3-tango 9.3, /usr/bin/python3, `support/tangoPeer.py`), on a
 * TangoTest started by the bench (no database, loopback). Sequential command round trips (`DevDouble` 1.5:
 * Orrery `commandInoutRaw`, PyTango `command_inout_raw`) per second with p50/p99 of each call, the same with 32
 * requests in flight (Orrery pipelines them on one connection), sequential attribute reads (`double_scalar`:
 * `readAttribute` / `read_attribute`), each in 3 rounds alternating the clients (the median round by rate is
 * shown: the machine's load moves), and change events per second from the PyTango LRC fixture
 * (`PushCounter(n)` pushes n events of `counter`), with the events lost counted.
 *
 * The floor: a bare Node TCP ping-pong against the same TangoTest (the encoded `command_inout_4` request written,
 * the reply's bytes counted by its GIOP header, nothing decoded, no promise per call): what the server, the kernel
 * and the event loop cost before any client library.
 *
 * Reference (issue 12, this kind of 2-core machine): PyTango `command_inout_raw` 14.6k/s (p50 64 us, p99 95 us),
 * `read_attribute` 14.8k/s. Targets (Orrery): >= 20k/s, p99 < 100 us.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Socket } from 'node:net';
import { createSystem } from '../../src/engine/system.js';
import { CLIENT_IDENT } from '../../src/protocols/tango/database.js';
import { DeviceProxy } from '../../src/protocols/tango/deviceProxy.js';
import { TangoEventConsumer } from '../../src/protocols/tango/events.js';
import { encodeRequest } from '../../src/protocols/tango/giop/giopEncode.js';
import { commandInout4 } from '../../src/protocols/tango/giop/operations.js';
import { PYTHON, startPushingDevice, startTangoTest, TANGO_PEER } from './support/tangoServers.js';

type Row = [string, string, string];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
const ARG = { type: 'DevDouble', value: 1.5 } as const;

interface Timed {
  count: number;
  seconds: number;
  p50: number;
  p99: number;
}

/** `call` back to back for `ms`, each call timed (us): rate and percentiles. */
async function timed(ms: number, call: () => Promise<unknown>): Promise<Timed> {
  const lat = new Float64Array(4_000_000);
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end && n + 100 <= lat.length) {
    for (let i = 0; i < 100; i++) {
      const a = performance.now();
      await call();
      lat[n++] = (performance.now() - a) * 1000;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const sorted = lat.subarray(0, n).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))];
  return { count: n, seconds, p50: at(0.5), p99: at(0.99) };
}

/** `call` with `depth` calls always in flight, for `ms`: calls per second. */
async function pipelined(ms: number, depth: number, call: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  const lane = async () => {
    while (performance.now() < end) {
      await call();
      n++;
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
  return n / ((performance.now() - t0) / 1000);
}

/** A bare TCP ping-pong: one pre-encoded request, the reply counted by its GIOP size, for `ms`. */
async function bareFloor(port: number, objectKey: Uint8Array, ms: number): Promise<Timed> {
  const request = Buffer.from(
    encodeRequest(
      { minor: 2, requestId: 1, responseExpected: true, objectKey, operation: commandInout4.name },
      (w) =>
        commandInout4.writeArgs(w, {
          command: 'DevDouble',
          argin: ARG,
          source: 2,
          clientIdent: CLIENT_IDENT,
        }),
    ),
  );
  const socket = new Socket();
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1', () => resolve());
  });
  const lat = new Float64Array(4_000_000);
  let n = 0;
  let pending = 0; // bytes of the current reply still to come (-1: header not yet seen)
  let header = Buffer.alloc(0);
  let sentAt = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  let warm = 2000;
  return new Promise<Timed>((resolve, reject) => {
    const finish = () => {
      socket.destroy();
      const seconds = (performance.now() - t0) / 1000;
      const sorted = lat.subarray(0, n).sort();
      const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))];
      resolve({ count: n, seconds, p50: at(0.5), p99: at(0.99) });
    };
    const send = () => {
      pending = -1;
      header = Buffer.alloc(0);
      sentAt = performance.now();
      socket.write(request);
    };
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      let c = chunk;
      while (c.length > 0) {
        if (pending < 0) {
          header = Buffer.concat([header, c]);
          if (header.length < 12) return;
          const size = header[6] & 1 ? header.readUInt32LE(8) : header.readUInt32BE(8);
          c = header.subarray(12);
          pending = size;
        }
        const take = Math.min(pending, c.length);
        pending -= take;
        c = c.subarray(take);
        if (pending === 0) {
          if (warm > 0) warm--;
          else if (n < lat.length) lat[n++] = (performance.now() - sentAt) * 1000;
          if (performance.now() >= end && warm === 0) {
            finish();
            return;
          }
          send();
        }
      }
    });
    send();
  });
}

/** The PyTango peer's figures (null when python3-tango or the script is missing). */
function pytango(args: string[]): Promise<Record<string, number> | null> {
  const script = TANGO_PEER();
  if (script === undefined || !existsSync(PYTHON)) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [script, ...args],
      { timeout: 600_000, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        try {
          const result = JSON.parse(last) as Record<string, number> & { error?: string };
          if (result.error) reject(new Error(`PyTango ${args[0]}: ${result.error}`));
          else resolve(result);
        } catch {
          if (/No module named 'tango'/.test(stderr)) resolve(null);
          else reject(new Error(`PyTango ${args[0]} failed: ${error?.message ?? ''} ${stderr.slice(-500)}`));
        }
      },
    );
  });
}

const ROUNDS = 3;
const timedText = (t: Timed) => `${fmt(t.count / t.seconds)} /s, p50 ${fmt(t.p50)} us, p99 ${fmt(t.p99)} us`;
const pyText = (t: Timed | null) => (t === null ? 'PyTango not installed' : timedText(t));
const fromPeer = (r: Record<string, number> | null): Timed | null =>
  r === null ? null : { count: r.count, seconds: r.seconds, p50: r.p50_us, p99: r.p99_us };
/** The round with the median rate. */
function median(rounds: (Timed | null)[]): Timed | null {
  const ok = rounds
    .filter((t): t is Timed => t !== null)
    .sort((a, b) => a.count / a.seconds - b.count / b.seconds);
  return ok.length === 0 ? null : ok[ok.length >> 1];
}

interface EventFigures {
  posted: number;
  received: number;
  lost: number;
  seconds: number;
}

/** Subscribes to `counter`, has the device push `n` change events (PushCounter in chunks), counts arrivals. */
async function orreryEvents(proxy: DeviceProxy, consumer: TangoEventConsumer, n: number, chunk: number) {
  // `base`: the value before the measured pushes; one event is pushed and awaited first (the ZMQ connection is
  // then surely up: events pushed before it connects are lost to any client)
  let latest: number | undefined;
  let base: number | undefined;
  let received = 0;
  let heard = 0;
  const seen = new Uint8Array(n + 1);
  let wake: () => void = () => {};
  const sub = await consumer.subscribe(proxy, 'counter', (e) => {
    const v = e.value?.value;
    if (typeof v !== 'number') return;
    heard = performance.now();
    latest = v;
    if (base === undefined) {
      wake();
      return;
    }
    received++;
    const i = v - base;
    if (i > 0 && i <= n) seen[i] = 1;
    if (i >= n) wake();
  });
  try {
    const primed = latest as number;
    const ready = new Promise<void>((resolve) => (wake = resolve));
    await proxy.commandInout('PushCounter', 1);
    while (latest !== primed + 1) await ready;
    base = latest;
    const done = new Promise<void>((resolve) => (wake = resolve));
    const t0 = performance.now();
    for (let pushed = 0; pushed < n; pushed += chunk)
      await proxy.commandInout('PushCounter', Math.min(chunk, n - pushed));
    for (;;) {
      const silent = new Promise<'silent'>((resolve) => setTimeout(() => resolve('silent'), 200).unref());
      if ((await Promise.race([done.then(() => 'done' as const), silent])) === 'done') break;
      if (performance.now() - heard >= 3000) break;
    }
    let got = 0;
    for (let i = 1; i <= n; i++) got += seen[i];
    const seconds = ((received > 0 ? heard : performance.now()) - t0) / 1000;
    return { posted: n, received, lost: n - got, seconds } satisfies EventFigures;
  } finally {
    sub.unsubscribe();
  }
}

const eventText = (r: EventFigures | Record<string, number> | null, absent: string) =>
  r === null ? absent : `${fmt(r.received / r.seconds)} /s, ${fmt(r.lost)} lost of ${fmt(r.posted)}`;

export async function tangoRows(args: string[] = []): Promise<Row[]> {
  const ms = Number(args[0] ?? 2) * 1000;
  const eventsN = Number(args[1] ?? 50_000);
  const server = await startTangoTest();
  const system = createSystem();
  const proxy = new DeviceProxy(server.name, { system });
  try {
    // one client at a time, never two at once; ROUNDS rounds alternating the clients (the machine's load moves:
    // each figure is its client's median round by rate); warm-up first: connection and JIT
    const command = () => proxy.commandInoutRaw('DevDouble', ARG);
    const read = () => proxy.readAttribute('double_scalar');
    await timed(1500, command);
    await timed(500, read);
    const key = new TextEncoder().encode('sys/tg_test/1');
    const rounds: Record<'orCmd' | 'orRead' | 'floor' | 'pyCmd' | 'pyRead', (Timed | null)[]> = {
      orCmd: [],
      orRead: [],
      floor: [],
      pyCmd: [],
      pyRead: [],
    };
    for (let r = 0; r < ROUNDS; r++) {
      rounds.orCmd.push(await timed(ms, command));
      rounds.floor.push(await bareFloor(server.port, key, ms));
      rounds.pyCmd.push(fromPeer(await pytango(['commands', server.name, 'DevDouble', String(ms)])));
      rounds.orRead.push(await timed(ms, read));
      rounds.pyRead.push(fromPeer(await pytango(['reads', server.name, 'double_scalar', String(ms)])));
    }
    const orPipe = await pipelined(ms, 32, command);
    const [orCmd, orRead, floor, pyCmd, pyRead] = (
      ['orCmd', 'orRead', 'floor', 'pyCmd', 'pyRead'] as const
    ).map((k) => median(rounds[k]));

    let orEvents: EventFigures | null = null;
    let pyEvents: Record<string, number> | null = null;
    const pusher = await startPushingDevice();
    if (pusher !== null) {
      const eventsProxy = new DeviceProxy(pusher.name, { system });
      const consumer = new TangoEventConsumer({ system });
      try {
        await orreryEvents(eventsProxy, consumer, 2_000, 500); // warm-up
        orEvents = await orreryEvents(eventsProxy, consumer, eventsN, 500);
      } finally {
        await consumer.close();
        await eventsProxy.close();
      }
      pyEvents = await pytango(['events', pusher.name, String(eventsN), '500']).finally(() => pusher.stop());
    }
    return [
      [
        'Tango command round trips sequential, Orrery commandInoutRaw',
        timedText(orCmd as Timed),
        '>= 20,000 /s, p99 < 100 us',
      ],
      [
        'Tango command round trips sequential, PyTango command_inout_raw',
        pyText(pyCmd),
        '(ref. 14.6k /s, p50 64, p99 95)',
      ],
      [
        'Tango command round trips sequential, bare Node TCP ping-pong (floor)',
        timedText(floor as Timed),
        '',
      ],
      ['Tango command round trips, Orrery, 32 in flight (pipelined)', `${fmt(orPipe)} /s`, ''],
      ['Tango attribute reads sequential, Orrery readAttribute', timedText(orRead as Timed), '>= 20,000 /s'],
      ['Tango attribute reads sequential, PyTango read_attribute', pyText(pyRead), '(ref. 14.8k /s)'],
      [
        `Tango change events, Orrery (${fmt(eventsN)} pushed by PyTango)`,
        eventText(orEvents, 'not yet (no fixture)'),
        '',
      ],
      [
        `Tango change events, PyTango (${fmt(eventsN)} pushed)`,
        eventText(pyEvents, 'not yet (no fixture)'),
        '',
      ],
    ];
  } finally {
    await proxy.close();
    await system.stop();
    await server.stop();
  }
}
