/**
 * issue 10 item 2: figures for the compiled runner alone, run by hand (not a test, no timed assertions):
 *   node --expose-gc --import tsx test/engine/compiled/measure.ts
 * Status lifecycles/s (create with a 60 s timeout armed through a trivial host, FINISH, done) on the runner vs
 * XState's createActor, and heap bytes per pending lifecycle (the runner's record, its context and a deadline
 * entry of the host).
 */
import { createActor, type EventObject } from 'xstate';
import { statusMachine } from '../../../machines/core/status.js';
import {
  type CompiledMachine,
  compileMachine,
  type Lifecycle,
  type LifecycleHost,
  startLifecycle,
} from '../../../src/engine/compiled/index.js';

const compiled = compileMachine(statusMachine) as CompiledMachine;
const input = { timeout: 60_000, settleTime: 0 };
const FINISH = { type: 'FINISH' } as const;

/** Arms nothing: the cost of the runner alone. */
const trivialHost: LifecycleHost = { schedule: () => 1, cancel: () => {} };

/** A deadline entry per armed delay (what a real deadline structure keeps at least). */
class Deadline {
  constructor(
    readonly lc: Lifecycle,
    readonly at: number,
    readonly event: EventObject,
  ) {}
}
const entries = new Set<Deadline>();
const keepingHost: LifecycleHost = {
  schedule: (lc, ms, event) => {
    const d = new Deadline(lc, 1_000 + ms, event);
    entries.add(d);
    return d;
  },
  cancel: (h) => void entries.delete(h as Deadline),
};

let done = 0;
const onDone = () => void done++;

function runner(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const lc = startLifecycle(compiled, { id: 's', input, host: trivialHost, onDone });
    lc.send(FINISH);
  }
  return n / ((performance.now() - t0) / 1000);
}

const nullClock = { setTimeout: () => 1, clearTimeout: () => {} };
function xstate(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const a = createActor(statusMachine, { input, clock: nullClock } as never).start();
    a.subscribe({ complete: onDone });
    a.send(FINISH);
  }
  return n / ((performance.now() - t0) / 1000);
}

function heap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

function bytesPerPending(n: number): number {
  const keep: Lifecycle[] = new Array(n);
  const before = heap();
  for (let i = 0; i < n; i++)
    keep[i] = startLifecycle(compiled, { id: `status-${i}`, input, host: keepingHost });
  const after = heap();
  const per = (after - before) / n;
  for (const lc of keep) lc.send(FINISH);
  return per;
}

for (let round = 0; round < 2; round++) {
  runner(200_000);
  xstate(20_000);
}
const r = runner(1_000_000);
const x = xstate(100_000);
console.log(
  `runner: ${Math.round(r).toLocaleString('en')} Status lifecycles/s (60 s timeout armed, FINISH, done)`,
);
console.log(`xstate createActor: ${Math.round(x).toLocaleString('en')} /s (ratio ${(r / x).toFixed(1)}x)`);
console.log(
  `bytes per pending lifecycle (record + context + id string + deadline entry): ${Math.round(bytesPerPending(100_000))}`,
);
console.log(`done callbacks: ${done}`);
