/**
 * Allocation of the LRC benchmark's workload (10,000 concurrent LRCs on 500 simulated devices), measured with V8's
 * GC profiler: bytes freed by every collection during the run plus the heap's growth over it, i.e. everything
 * allocated, collected or not. Deterministic to within a few percent (unlike throughput on a shared machine), so
 * it tells whether a change allocates less. Its calls per second are lower than `lrc.bench.ts`'s (the profiler
 * costs): compare those with the benchmark, not here. Not a case of `npm run bench`; run it on its own after a build:
 *
 *   node --expose-gc dist/test/bench/lrcAlloc.js [protocol 1|2] [perCall|cached] [rounds]
 *
 * Devices use a fixed epoch and counting uuids (the same command ids every run); handlers as in `lrc.bench.ts`.
 */
import { GCProfiler } from 'node:v8';
import { createSystem } from '../../src/engine/system.js';
import type { InvokeLrcOptions } from '../../src/protocols/tango/lrc/invokeLrc.js';
import { invokeLrc } from '../../src/protocols/tango/lrc/invokeLrc.js';
import { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { ResultCode } from '../../src/protocols/tango/wire.js';

type Negotiation = NonNullable<InvokeLrcOptions['negotiation']>;

const gc = (globalThis as { gc?: () => void }).gc;

async function round(
  total: number,
  devicesCount: number,
  protocol: 1 | 2,
  negotiation: Negotiation,
  show: boolean,
) {
  const system = createSystem();
  let uuid = 0;
  const devices = Array.from(
    { length: devicesCount },
    (_, i) =>
      new SkaDeviceSimulator({
        name: `bench/ska/${i}`,
        system,
        epochMs: 0,
        uuid: () => uuid++,
        maxQueuedTasks: Math.ceil(total / devicesCount) + 1,
        commands: {
          Go: (task) => {
            task.inProgress();
            task.progress(1);
            return [ResultCode.OK, 'done'];
          },
        },
      }),
  );
  const options = { system, clientVersions: [1, protocol] as const, negotiation };
  if (negotiation === 'cached') {
    await Promise.all(
      devices.map((d) => invokeLrc(() => {}, d, 'Go', undefined, options).then((s) => s.finished)),
    );
  }
  gc?.();
  const profiler = new GCProfiler();
  profiler.start();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const device = devices[i % devicesCount];
    all.push(invokeLrc(() => {}, device, 'Go', undefined, options).then((s) => s.finished));
  }
  await Promise.all(all);
  const elapsed = performance.now() - t0;
  const after = process.memoryUsage().heapUsed;
  const stats = profiler.stop().statistics;
  let freed = 0;
  for (const s of stats)
    freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  for (const d of devices) await d.close();
  await system.stop();
  if (!show) return;
  const bytes = after - before + freed;
  console.log(
    `v${protocol} ${negotiation}: ${Math.round(total / (elapsed / 1000))}/s, allocated ~${(bytes / 1e6).toFixed(1)} MB ` +
      `(${(bytes / total / 1e3).toFixed(2)} KB/call), ${stats.length} collections`,
  );
}

const protocol = process.argv[2] === '1' ? 1 : 2;
const negotiation: Negotiation = process.argv[3] === 'cached' ? 'cached' : 'perCall';
const rounds = Number(process.argv[4] ?? 3);
if (!gc) console.log('(run with --expose-gc for a clean start)');
await round(1000, 50, protocol, negotiation, false); // warm-up
for (let r = 0; r < rounds; r++) await round(10_000, 500, protocol, negotiation, true);
