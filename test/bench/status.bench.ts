/**
 * Status benchmarks, the workload of issue 10's table. A Status lifecycle is: create with a 60 s timeout armed,
 * `addCallback`, `setFinished`, the callback fired (counted, and checked at the end). Rates are the best of three
 * rounds after a warm-up; the floor (a plain class with the same semantics, `floor.bench.ts`) runs in the same
 * process so its ratio compares like with like.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createActor } from 'xstate';
import { statusMachine } from '../../machines/core/status.js';
import { Status } from '../../src/api/status.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { startInspector } from '../../src/inspector/server.js';
import {
  bestRate,
  clockPairMicros,
  deadlineTimers,
  floorFinishToCallback,
  floorLifecyclesPerSecond,
  floorPendingHeap,
  HEAP_ROUNDS,
  medianP99,
  nodeTimers,
  type PendingHeap,
  pendingRounds,
} from './floor.bench.js';

const TIMEOUT = 60_000;

/** `count` Status lifecycles on `system`; returns how many callbacks fired. */
function lifecycles(system: OrrerySystem, count: number): number {
  let fired = 0;
  const cb = () => {
    fired++;
  };
  for (let i = 0; i < count; i++) {
    const s = new Status({ system, timeout: TIMEOUT });
    s.addCallback(cb);
    s.setFinished();
  }
  return fired;
}

/** Status lifecycles per second with a 60 s timeout armed (best of 3 rounds of `n`). */
export function statusLifecyclesPerSecond(n = 100_000): number {
  const system = createSystem();
  lifecycles(system, n / 10); // warm-up
  let fired = 0;
  const rate = bestRate((count) => {
    fired += lifecycles(system, count);
  }, n);
  void system.stop();
  if (fired !== 3 * n) throw new Error(`Status: ${fired} callbacks for ${3 * n} lifecycles`);
  return rate;
}

/** The same machine on XState's own actors, no Orrery facade or registry: create, start, FINISH (60 s timeout). */
export function bareXStateLifecyclesPerSecond(n = 100_000): number {
  let done = 0;
  const run = (count: number) => {
    for (let i = 0; i < count; i++) {
      const a = createActor(statusMachine, { input: { timeout: TIMEOUT, settleTime: 0 } });
      a.start();
      a.send({ type: 'FINISH' });
      if (a.getSnapshot().status === 'done') done++;
    }
  };
  run(n / 10);
  done = 0;
  const rate = bestRate(run, n);
  if (done !== 3 * n) throw new Error(`bare XState: ${done} of ${3 * n} done`);
  return rate;
}

/**
 * setFinished -> callback, each of `n` statuses timed on its own (create and addCallback outside the timed part),
 * after a warm-up round. A callback that does not run within setFinished is waited for (and its wait timed).
 */
export async function statusFinishToCallback(n = 100_000): Promise<{ median: number; p99: number }> {
  const system = createSystem();
  let t1 = 0;
  const cb = () => {
    t1 = performance.now();
  };
  const samples = new Float64Array(n);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < n; i++) {
      const s = new Status({ system, timeout: TIMEOUT });
      s.addCallback(cb);
      t1 = 0;
      const t0 = performance.now();
      s.setFinished();
      while (t1 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      samples[i] = t1 - t0;
    }
  }
  await system.stop();
  return medianP99(samples);
}

type Row = [string, string, string];
const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits });
const ratio = (a: number, b: number) => `${(a / b).toFixed(3)}`;

/** `npm run bench -- status`: lifecycles/s against the floor, and setFinished -> callback. */
export async function statusRows(): Promise<Row[]> {
  const status = statusLifecyclesPerSecond();
  const bare = bareXStateLifecyclesPerSecond();
  const floorDeadlines = floorLifecyclesPerSecond(deadlineTimers());
  const floorNode = floorLifecyclesPerSecond(nodeTimers);
  const latency = await statusFinishToCallback();
  const floorLatency = floorFinishToCallback(deadlineTimers());
  const pair = clockPairMicros();
  const us = (l: { median: number; p99: number }) => `${fmt(l.median, 2)} / ${fmt(l.p99, 2)} us`;
  return [
    [
      'Status lifecycles/s, 60 s timeout armed (create, addCallback, setFinished, callback)',
      `${fmt(status)} /s`,
      '>= 500,000 /s',
    ],
    ['  floor: plain class, same semantics, timeout on Deadlines', `${fmt(floorDeadlines)} /s`, ''],
    ['  floor: plain class, same semantics, timeout on Node setTimeout', `${fmt(floorNode)} /s`, ''],
    [
      '  Status / floor (Deadlines) / floor (setTimeout)',
      `${ratio(status, floorDeadlines)} / ${ratio(status, floorNode)}`,
      '',
    ],
    ['  the status machine on bare XState actors (no Orrery, no callback)', `${fmt(bare)} /s`, ''],
    ['setFinished -> callback, median / p99 (60 s timeout armed)', us(latency), 'median <= 1.5 us'],
    ['  floor: plain class, timeout on Deadlines', us(floorLatency), ''],
    ['  (each sample includes a performance.now() pair, median)', `${fmt(pair, 3)} us`, ''],
  ];
}

const CLIENT_FLAG = '--inspector-clients';

/** Lifecycles per second for `ms`, in bursts of 1,000 with a turn of the event loop between (inspector I/O). */
async function burstRate(
  system: OrrerySystem,
  ms: number,
): Promise<{ rate: number; fired: number; count: number }> {
  let count = 0;
  let fired = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    fired += lifecycles(system, 1000);
    count += 1000;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { rate: (count * 1000) / (performance.now() - t0), fired, count };
}

/**
 * `npm run bench -- status-inspector`: Status lifecycles/s (60 s timeout, callback) while the inspector runs on the
 * system with one page connected (a WebSocket client in a low-priority child process that reads every frame), and
 * the same burst loop with no inspector, in the same process.
 */
export async function statusInspectorRows(ms = 3000): Promise<Row[]> {
  // the no-inspector loop runs before and after (a shared machine's load drifts; JIT warm-up comes first)
  const plain = createSystem();
  await burstRate(plain, 1000);
  const before = await burstRate(plain, ms);

  const system = createSystem();
  const inspector = await startInspector(system, { port: 0 });
  const clients = fileURLToPath(new URL('./inspectorClients.bench.js', import.meta.url));
  const child = spawn(
    'nice',
    ['-n', '19', process.execPath, clients, CLIENT_FLAG, `${inspector.url.replace('http', 'ws')}ws`, '1'],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`inspector page process exited (${code})`)));
    });
    await burstRate(system, 500);
    const withInspector = await burstRate(system, ms);
    if (withInspector.fired !== withInspector.count) throw new Error('Status: a callback did not fire');
    const after = await burstRate(plain, ms);
    const without = (before.rate + after.rate) / 2;
    return [
      [
        'Status lifecycles/s, 60 s timeout, inspector attached (1 page)',
        `${fmt(withInspector.rate)} /s`,
        '>= 200,000 /s',
      ],
      ['  the same burst loop, no inspector (mean of a run before and after)', `${fmt(without)} /s`, ''],
    ];
  } finally {
    child.disconnect();
    child.kill();
    await inspector.close();
    await system.stop();
    await plain.stop();
  }
}

/**
 * Heap per live pending Status (with a 60 s timeout, so each holds its deadline) and creation time: `rounds`
 * rounds of creating `n` (each ended before the next), their medians and the range of the creation times.
 */
export function pendingStatusHeap(n: number, rounds = HEAP_ROUNDS): PendingHeap {
  const system = createSystem();
  // warm the code paths so the first statuses do not pay for compilation
  for (let i = 0; i < 1000; i++) new Status({ system, timeout: TIMEOUT }).cancel();
  const heap = pendingRounds(
    n,
    rounds,
    () => new Status({ system, timeout: TIMEOUT }),
    (s) => s.cancel(),
  );
  void system.stop();
  return heap;
}

/** `npm run bench -- status-heap-10k` / `status-heap-100k`. */
export function heapRows(n: number): Row[] {
  const h = pendingStatusHeap(n);
  const f = floorPendingHeap(n);
  const big = n === 100_000;
  const range = ([min, max]: [number, number], digits = 0) => `range ${fmt(min, digits)}-${fmt(max, digits)}`;
  return [
    [
      `heap per pending Status, 60 s timeout @ ${fmt(n)} (median of ${HEAP_ROUNDS})`,
      `${fmt(h.bytesPerStatus)} B`,
      big ? '<= 600 B' : '',
    ],
    ['  floor: plain class pending, timeout on Deadlines', `${fmt(f.bytesPerStatus)} B`, ''],
    [
      `create ${fmt(n)} pending Status, 60 s timeout (median of ${HEAP_ROUNDS}; ${range(h.createRange)})`,
      `${fmt(h.createMs)} ms`,
      big ? '<= 250 ms' : '',
    ],
    [
      `  floor: create ${fmt(n)} plain class pending (median of ${HEAP_ROUNDS}; ${range(f.createRange, 1)})`,
      `${fmt(f.createMs, 1)} ms`,
      '',
    ],
  ];
}
