/**
 * The floor (issue 10 item 7): what a Status lifecycle costs in plain TypeScript, with no state machine, no
 * actor and no registry: a class with ophyd's Status semantics (a timeout armed at creation, callbacks run once in
 * order or at once when already done, setFinished/setException allowed once, a callback's error caught) and a
 * real timer. It is the physical limit the engine's Status is compared with, measured in the same process.
 * Also the Deadlines structure on its own: arm+cancel and arm+fire rates and bytes per armed deadline.
 */
import { type Clock, realClock } from '../../src/engine/clock.js';
import { Deadlines } from '../../src/engine/deadlines.js';

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** What the floor arms its timeout on: the Deadlines structure, or one Node timer per status. */
export interface FloorTimers {
  arm(ms: number, fire: (status: PlainStatus) => void, status: PlainStatus): unknown;
  cancel(handle: unknown): void;
}

/** One Node `setTimeout` per status (what an engine without a deadline structure pays). */
export const nodeTimers: FloorTimers = {
  arm: (ms, fire, status) => setTimeout(fire, ms, status),
  cancel: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The deadline structure of one system on `clock`. */
export function deadlineTimers(clock: Clock = realClock): FloorTimers {
  const deadlines = new Deadlines(clock);
  return {
    arm: (ms, fire, status) => deadlines.arm(ms, fire, status),
    cancel: (handle) => deadlines.cancel(handle as ReturnType<Deadlines['arm']>),
  };
}

class InvalidState extends Error {}
class TimedOut extends Error {}

type Callback = (status: PlainStatus) => void;

/** ophyd's StatusBase, as little as it can be: the floor. */
export class PlainStatus {
  #done = false;
  #error: Error | null = null;
  #claimed = false;
  #callbacks: Callback[] | null = null;
  #timer: unknown;
  readonly #timers: FloorTimers;

  constructor(timers: FloorTimers, timeout: number) {
    this.#timers = timers;
    this.#timer = timers.arm(timeout, PlainStatus.#timedOut, this);
  }

  static #timedOut(status: PlainStatus): void {
    status.#timer = undefined;
    status.#complete(new TimedOut('Status failed to complete in specified timeout'));
  }

  get done(): boolean {
    return this.#done;
  }
  get success(): boolean {
    return this.#done && this.#error === null;
  }
  exception(): Error | null {
    return this.#error;
  }

  addCallback(cb: Callback): void {
    if (this.#done) PlainStatus.#run(cb, this);
    else if (this.#callbacks === null) this.#callbacks = [cb];
    else this.#callbacks.push(cb);
  }

  setFinished(): void {
    this.#claim();
    this.#complete(null);
  }

  setException(error: Error): void {
    this.#claim();
    this.#complete(error);
  }

  #claim(): void {
    if (this.#claimed)
      throw new InvalidState('Either setFinished() or setException() has already been called');
    this.#claimed = true;
  }

  #complete(error: Error | null): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    if (this.#timer !== undefined) {
      this.#timers.cancel(this.#timer);
      this.#timer = undefined;
    }
    const callbacks = this.#callbacks;
    this.#callbacks = null;
    if (callbacks !== null) for (const cb of callbacks) PlainStatus.#run(cb, this);
  }

  static #run(cb: Callback, status: PlainStatus): void {
    try {
      cb(status);
    } catch {
      // the engine logs it; the floor only survives it
    }
  }
}

/** Best rate (per second) over `rounds` runs of `run(n)`. */
export function bestRate(run: (n: number) => void, n: number, rounds = 3): number {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    run(n);
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}

/** Floor lifecycles per second: create with a 60 s timeout, addCallback, setFinished, callback fired. */
export function floorLifecyclesPerSecond(timers: FloorTimers, n = 1_000_000): number {
  let fired = 0;
  const cb = () => {
    fired++;
  };
  const run = (count: number) => {
    for (let i = 0; i < count; i++) {
      const s = new PlainStatus(timers, 60_000);
      s.addCallback(cb);
      s.setFinished();
    }
  };
  run(n / 10); // warm-up
  fired = 0;
  const rate = bestRate(run, n);
  if (fired !== 3 * n) throw new Error(`floor: ${fired} callbacks for ${3 * n} lifecycles`);
  return rate;
}

/** Median and 99th percentile (microseconds) of `samples` (milliseconds), sorted in place. */
export function medianP99(samples: Float64Array): { median: number; p99: number } {
  samples.sort();
  const at = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] * 1000;
  return { median: at(0.5), p99: at(0.99) };
}

/** Median of an empty `performance.now()` pair (microseconds): what every latency sample includes. */
export function clockPairMicros(n = 100_000): number {
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    samples[i] = performance.now() - t0;
  }
  return medianP99(samples).median;
}

/** setFinished -> callback of the floor, each of `n` statuses timed on its own (after a warm-up). */
export function floorFinishToCallback(timers: FloorTimers, n = 100_000): { median: number; p99: number } {
  let t1 = 0;
  const cb = () => {
    t1 = performance.now();
  };
  const samples = new Float64Array(n);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < n; i++) {
      const s = new PlainStatus(timers, 60_000);
      s.addCallback(cb);
      const t0 = performance.now();
      s.setFinished();
      samples[i] = t1 - t0;
    }
  }
  return medianP99(samples);
}

/** Rounds of `pendingStatusHeap` and `floorPendingHeap`: the rows are their medians (the VM's speed drifts). */
export const HEAP_ROUNDS = 5;

/** The median of `values` and their range. */
export function medianOf(values: number[]): { median: number; min: number; max: number } {
  const sorted = values.slice().sort((a, b) => a - b);
  return { median: sorted[sorted.length >> 1], min: sorted[0], max: sorted[sorted.length - 1] };
}

/** Heap per pending object and creation time, the medians of `pendingRounds`' rounds. */
export interface PendingHeap {
  bytesPerStatus: number;
  createMs: number;
  createRange: [number, number];
}

/**
 * `rounds` rounds of creating `n` pending objects with `make` (timed), measuring the heap they hold (after a full
 * GC), then ending them with `end` before the next round. One more object, made first, stays pending through every
 * round, as in a system in use (something is always pending): without it every object of a round was gone at the
 * next round's full GC, V8 dropped the hidden classes (maps) that no live object used any more, and every function
 * of the path compiled against them was deoptimized, so each round began with the code cold again (for Status: 175
 * deoptimizations in five 100k rounds instead of 32, and the first 10,000 of a round created in 50-90 ms instead of
 * about 30). The anchor is made before the heap baseline, so it is not counted.
 */
export function pendingRounds<T>(
  n: number,
  rounds: number,
  make: () => T,
  end: (made: T) => void,
): PendingHeap {
  const bytes: number[] = [];
  const times: number[] = [];
  const anchor = make();
  for (let r = 0; r < rounds; r++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const live: T[] = new Array(n);
    for (let i = 0; i < n; i++) live[i] = make();
    times.push(performance.now() - t0);
    gc();
    bytes.push((process.memoryUsage().heapUsed - before) / n);
    for (const made of live) end(made);
    // dropped here: a stack slot of the optimized loop may still hold the array when the next round measures
    live.length = 0;
  }
  end(anchor);
  const t = medianOf(times);
  return { bytesPerStatus: medianOf(bytes).median, createMs: t.median, createRange: [t.min, t.max] };
}

/** Heap per pending floor status with a 60 s timeout on Deadlines, and the time to create them. */
export function floorPendingHeap(n: number, rounds = HEAP_ROUNDS): PendingHeap {
  const timers = deadlineTimers();
  return pendingRounds(
    n,
    rounds,
    () => new PlainStatus(timers, 60_000),
    (s) => s.setFinished(),
  );
}

type Row = [string, string, string];
const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits });

/** Deadlines on the real clock: arm+cancel, arm+fire, bytes per armed deadline. */
export async function deadlineRows(): Promise<Row[]> {
  const noop = () => {};
  const n = 2_000_000;
  // arm then cancel at once (a lifecycle that finishes before its timeout), nothing else armed
  const lone = new Deadlines(realClock);
  const armCancel = bestRate((count) => {
    for (let i = 0; i < count; i++) lone.cancel(lone.arm(60_000, noop, i));
  }, n);
  // the same with 100k others pending on three delays, cancelled in arm order and out of it
  const busy = new Deadlines(realClock);
  for (let i = 0; i < 100_000; i++) busy.arm([1_000, 60_000, 3_600_000][i % 3] + 1e9, noop, i);
  const window: ReturnType<Deadlines['arm']>[] = new Array(1024).fill(null);
  const armCancelBusy = bestRate((count) => {
    for (let i = 0; i < count; i++) {
      const slot = (i * 7919) & 1023; // cancels land in the middle of the list, not only at its head
      busy.cancel(window[slot]);
      window[slot] = busy.arm(60_000, noop, i);
    }
  }, n);
  busy.clear();
  // arm n with 0 ms, then the one timer fires them all
  let fired = 0;
  const fire = () => {
    fired++;
  };
  let armFire = 0;
  for (let round = 0; round < 3; round++) {
    const d = new Deadlines(realClock);
    fired = 0;
    const t0 = performance.now();
    const done = new Promise<void>((resolve) => {
      for (let i = 0; i < n - 1; i++) d.arm(0, fire);
      d.arm(0, resolve);
    });
    await done;
    armFire = Math.max(armFire, n / ((performance.now() - t0) / 1000));
    if (fired !== n - 1) throw new Error(`deadlines: ${fired} of ${n - 1} fired`);
  }
  // bytes per armed deadline (the list node; the armed function and argument are shared)
  const heap = new Deadlines(realClock);
  const m = 1_000_000;
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < m; i++) heap.arm(60_000, noop);
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / m;
  heap.clear();
  return [
    ['Deadlines arm+cancel, nothing else armed', `${fmt(armCancel)} /s`, ''],
    ['Deadlines arm+cancel, 100k others armed, cancels mid-list', `${fmt(armCancelBusy)} /s`, ''],
    ['Deadlines arm+fire (2M armed, one timer fires them)', `${fmt(armFire)} /s`, ''],
    ['Deadlines heap per armed deadline @ 1M', `${fmt(bytes)} B`, '< 100 B'],
  ];
}
