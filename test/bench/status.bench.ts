/** Status benchmarks: lifecycles per second, heap per live pending Status, time to create many. */
import { createActor } from 'xstate';
import { statusMachine } from '../../machines/core/status.js';
import { Status } from '../../src/api/status.js';
import { createSystem } from '../../src/engine/system.js';

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** create + setFinished + completion, repeated; lifecycles per second (best of 3 rounds). */
export function statusLifecyclesPerSecond(n = 200_000): number {
  const system = createSystem();
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const s = new Status({ system });
      s.setFinished();
    }
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  void system.stop();
  return best;
}

/** Heap per live pending Status (with a 60 s timeout, so each holds its deadline timer) and creation time. */
export function pendingStatusHeap(n: number): { bytesPerStatus: number; createMs: number; heapMiB: number } {
  const system = createSystem();
  gc();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const live: Status[] = new Array(n);
  for (let i = 0; i < n; i++) live[i] = new Status({ system, timeout: 60_000 });
  const createMs = performance.now() - t0;
  gc();
  const after = process.memoryUsage().heapUsed;
  const result = { bytesPerStatus: (after - before) / n, createMs, heapMiB: after / 2 ** 20 };
  for (const s of live) s.cancel();
  void system.stop();
  return result;
}

/** The floor: the same machine driven by bare XState actors, no Orrery facade or registry (best of 3). */
export function bareXStateLifecyclesPerSecond(n = 200_000): number {
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const a = createActor(statusMachine, { input: { timeout: null, settleTime: 0 } });
      a.start();
      a.send({ type: 'FINISH' });
    }
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}
