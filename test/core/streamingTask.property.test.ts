/**
 * Model-based test of StreamingTask (PST `StreamingTask`) against a small reference model, under a TestClock:
 * random sequences of start() (with or without a signal), a controllable producer per run (items, items the
 * handler rejects, producer errors and the end, arriving now or at chosen simulated times), a synchronous or a
 * test-settled asynchronous handler, stop(), aborting a start() signal and advance(ms).
 * Invariants: every produced item is handed to the handler exactly once and in order until the end/stop/failure;
 * after stop() nothing more is handled (an item arriving in the same tick as stop() included), a pending handler
 * call is awaited and its failure reported (the run ends failed); errors reach the exception handler exactly once;
 * isRunning(), outcome, done and stop() match the model; the generator's signal aborts on stop; start() is a no-op
 * while streaming (a start() while stopping, which begins a new run once the stopping one has ended, is not
 * generated here: coreApi.audit.test.ts covers it); a stale start() signal cannot stop a later run; the producer is released unless it ended; every run's
 * actor stays 'done' with its outcome (absorbing); no timer remains on the TestClock once a run has ended.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem, StreamingTask } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { type Arrival, ControlledProducer } from '../support/controlledProducer.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { advance, flush } from '../support/simulatedTime.js';

type Kind = Arrival<'item' | 'bad'>;
/** An item; the handler rejects a bad one. */
interface Item {
  n: number;
  bad: boolean;
}
/** The controllable producer of one run: events arrive now or after a delay on the TestClock. */
type Producer = ControlledProducer<Item, 'item' | 'bad'>;

const errorLabel = (run: number, k: number) => `run ${run}: producer failed #${k}`;
const handlerLabel = (run: number, n: number) => `run ${run}: handler failed on item ${n}`;

type Outcome = 'stopped' | 'exhausted' | 'failed';
type Phase = 'streaming' | 'stopping' | Outcome;
type MEvent = { kind: 'item'; n: number; bad: boolean } | { kind: 'error'; label: string } | { kind: 'end' };

interface MRun {
  phase: Phase;
  /** stop() (or its start() signal) asked this run to stop: its generator's signal is aborted. */
  stopRequested: boolean;
  /** The consumer waits for the producer, or for the handler call in flight (async handler). */
  sub: 'pulling' | 'handling';
  buffer: MEvent[];
  scheduled: { at: number; seq: number; kind: Kind }[];
  closed: boolean;
  returnCalls: number;
  items: number;
  errors: number;
  handled: number[];
}

interface Model {
  now: number;
  async: boolean;
  runs: MRun[];
  /** Per start() signal: the run it was attached to, or null (start() was a no-op). */
  controllers: (number | null)[];
  /** Messages the exception handler received, in order. */
  errors: string[];
  /** Per stop() call: the run it waits for (null: none active). */
  stops: (number | null)[];
  seq: number;
}

interface RealRun {
  producer: Producer;
  /** The signal the generator was given. */
  signal: AbortSignal;
  handled: number[];
  actor: NonNullable<StreamingTask<Item>['actor']>;
}

interface Real {
  clock: TestClock;
  system: OrrerySystem;
  task: StreamingTask<Item>;
  runs: RealRun[];
  /** Handler calls in flight (async handler). */
  pending: { resolve: () => void; reject: (e: Error) => void; run: number; n: number }[];
  controllers: AbortController[];
  errors: string[];
  stops: boolean[];
  done: { promise: Promise<void>; settled: boolean } | null;
  handledAtStop: Map<number, number>;
}

const FINISHED: Phase[] = ['stopped', 'exhausted', 'failed'];
const finished = (run: MRun | undefined) => run === undefined || FINISHED.includes(run.phase);
const current = (m: Model) => m.runs[m.runs.length - 1] as MRun | undefined;

function end(m: Model, run: MRun, outcome: Outcome, error?: string): void {
  run.phase = outcome;
  if (error !== undefined) m.errors.push(error);
  if (outcome !== 'exhausted') run.returnCalls++; // consume() releases the producer unless it ended
  run.closed = true;
  run.buffer = [];
  run.scheduled = [];
}

/** Run the consumer of the current run to quiescence (what one flush of promise reactions does). */
function settle(m: Model): void {
  const run = current(m);
  const index = m.runs.length - 1;
  while (run && !finished(run) && run.sub === 'pulling') {
    if (run.phase === 'stopping') {
      end(m, run, 'stopped');
      return;
    }
    const event = run.buffer.shift();
    if (!event) return;
    if (event.kind === 'end') end(m, run, 'exhausted');
    else if (event.kind === 'error') end(m, run, 'failed', event.label);
    else {
      run.handled.push(event.n);
      if (event.bad) end(m, run, 'failed', handlerLabel(index, event.n));
      else if (m.async) run.sub = 'handling';
    }
  }
}

function arrive(m: Model, kind: Kind): void {
  const run = current(m);
  if (!run || run.closed) return;
  if (kind === 'item' || kind === 'bad')
    run.buffer.push({ kind: 'item', n: run.items++, bad: kind === 'bad' });
  else if (kind === 'error') run.buffer.push({ kind, label: errorLabel(m.runs.length - 1, ++run.errors) });
  else run.buffer.push({ kind });
}

function stop(m: Model): void {
  const run = current(m);
  if (run?.phase !== 'streaming') return;
  run.phase = 'stopping';
  run.stopRequested = true;
  settle(m);
}

function advanceModel(m: Model, ms: number): void {
  const endAt = m.now + ms;
  const run = current(m);
  if (run) {
    run.scheduled.sort((a, b) => a.at - b.at || a.seq - b.seq);
    while (run.scheduled.length && run.scheduled[0].at <= endAt) {
      const at = run.scheduled[0].at;
      m.now = at;
      while (run.scheduled.length && run.scheduled[0].at === at)
        arrive(m, (run.scheduled.shift() as { kind: Kind }).kind);
      settle(m);
    }
  }
  m.now = endAt;
}

/** Watch the facade's `done` promise (a new one per start()), then let promise reactions run. */
async function step(m: Model, r: Real): Promise<void> {
  const promise = r.task.done;
  if (r.done?.promise !== promise) {
    const watched = { promise, settled: false };
    r.done = watched;
    void promise.then(() => {
      watched.settled = true;
    });
  }
  await flush();
  check(m, r);
}

function check(m: Model, r: Real): void {
  expect(r.clock.now()).toBe(m.now);
  expect(r.runs.length).toBe(m.runs.length);
  expect(r.errors).toEqual(m.errors);
  const run = current(m);
  const active = !finished(run);
  expect(r.task.isRunning()).toBe(run?.phase === 'streaming');
  expect(r.task.outcome).toBe(run && !active ? run.phase : null);
  expect(r.done?.settled).toBe(!active);
  r.stops.forEach((settled, i) => {
    const waitsFor = m.stops[i];
    expect(settled).toBe(waitsFor === null || finished(m.runs[waitsFor]));
  });
  expect(r.system.detachedCount).toBe(active ? 1 : 0);
  let liveTimers = 0;
  m.runs.forEach((mr, i) => {
    const rr = r.runs[i];
    // exactly once, in order: the handled items are the first produced ones
    expect(rr.handled).toEqual(mr.handled);
    expect(rr.handled).toEqual(rr.producer.arrived.slice(0, rr.handled.length));
    expect(rr.producer.returnCalls).toBe(mr.returnCalls);
    expect(rr.producer.closed).toBe(mr.closed);
    // the generator's signal aborts exactly when the run is stopped
    expect(rr.signal.aborted).toBe(mr.stopRequested);
    const snapshot = rr.actor.getSnapshot();
    if (finished(mr)) {
      expect(snapshot.status).toBe('done'); // absorbing: every earlier run stays done with its outcome
      expect(snapshot.value).toBe(mr.phase);
      expect(rr.producer.timers.size).toBe(0);
    } else {
      expect(snapshot.status).toBe('active');
      expect(snapshot.value).toEqual({ running: mr.phase });
      liveTimers += rr.producer.timers.size;
    }
    // nothing is handled after stop()
    const atStop = r.handledAtStop.get(i);
    if (atStop !== undefined) expect(rr.handled.length).toBe(atStop);
    if (mr.stopRequested) r.handledAtStop.set(i, rr.handled.length);
  });
  expect(r.clock.pending).toBe(liveTimers);
  if (!active) expect(r.clock.pending).toBe(0);
  expect(r.pending.filter((p) => p.run === m.runs.length - 1).length).toBe(run?.sub === 'handling' ? 1 : 0);
}

class Start implements fc.Command<Model, Real> {
  constructor(readonly withSignal: boolean) {}
  // not while the current run is stopping (see the header)
  check = (m: Readonly<Model>) => current(m as Model)?.phase !== 'stopping';
  async run(m: Model, r: Real): Promise<void> {
    const starts = finished(current(m));
    if (this.withSignal) {
      const controller = new AbortController();
      r.controllers.push(controller);
      m.controllers.push(starts ? m.runs.length : null);
      r.task.start({ signal: controller.signal });
    } else r.task.start();
    if (starts) {
      m.runs.push({
        phase: 'streaming',
        stopRequested: false,
        sub: 'pulling',
        buffer: [],
        scheduled: [],
        closed: false,
        returnCalls: 0,
        items: 0,
        errors: 0,
        handled: [],
      });
      const actor = r.task.actor;
      expect(actor).toBeDefined();
      expect(r.runs.length).toBe(m.runs.length); // the generator was called once, for this run
      r.runs[r.runs.length - 1].actor = actor as RealRun['actor'];
    }
    await step(m, r);
  }
  toString = () => `start(${this.withSignal ? 'signal' : ''})`;
}

class Emit implements fc.Command<Model, Real> {
  constructor(
    readonly kind: Kind,
    readonly delay: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const producer = r.runs[r.runs.length - 1]?.producer;
    const run = current(m);
    if (this.delay === 0) {
      producer?.arrive(this.kind);
      arrive(m, this.kind);
      settle(m);
    } else {
      producer?.schedule(this.kind, this.delay);
      if (run && !run.closed) run.scheduled.push({ at: m.now + this.delay, seq: m.seq++, kind: this.kind });
    }
    await step(m, r);
  }
  toString = () => `${this.kind}${this.delay ? `@+${this.delay}` : ''}`;
}

class HandlerSettles implements fc.Command<Model, Real> {
  constructor(readonly fails: boolean) {}
  check = (m: Readonly<Model>) => current(m as Model)?.sub === 'handling';
  async run(m: Model, r: Real): Promise<void> {
    const call = r.pending.shift();
    expect(call).toBeDefined();
    const run = current(m) as MRun;
    run.sub = 'pulling';
    if (this.fails) {
      const label = handlerLabel(m.runs.length - 1, run.handled[run.handled.length - 1]);
      call?.reject(new Error(label));
      end(m, run, 'failed', label); // after stop() too: the handler is never told of a stop
    } else call?.resolve();
    settle(m);
    await step(m, r);
  }
  toString = () => (this.fails ? 'handlerFails' : 'handlerSucceeds');
}

class Stop implements fc.Command<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const index = r.stops.length;
    r.stops.push(false);
    void r.task.stop().then(() => {
      r.stops[index] = true;
    });
    m.stops.push(finished(current(m)) ? null : m.runs.length - 1);
    stop(m);
    await step(m, r);
  }
  toString = () => 'stop';
}

/** An item arrives and the task is stopped in the same tick: the item must not be handled. */
class ItemThenStop implements fc.Command<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.runs[r.runs.length - 1]?.producer.arrive('item');
    void r.task.stop();
    arrive(m, 'item');
    stop(m);
    await step(m, r);
  }
  toString = () => 'item+stop';
}

/** Abort one of the start() signals: stops the run it was attached to if that one is still streaming. */
class AbortSignalCmd implements fc.Command<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.controllers.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const i = this.pick % r.controllers.length;
    r.controllers[i].abort();
    const attached = m.controllers[i];
    if (attached !== null && attached === m.runs.length - 1) stop(m);
    await step(m, r);
  }
  toString = () => `abortSignal(${this.pick})`;
}

class Advance implements fc.Command<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    advanceModel(m, this.ms);
    await advance(r.clock, this.ms);
    await step(m, r);
  }
  toString = () => `advance(${this.ms})`;
}

// on a 5 ms grid, so that several items often arrive at the same instant
const delay = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 6 }).map((k) => 5 * k),
);
const ms = fc.oneof(
  fc.integer({ min: 1, max: 6 }).map((k) => 5 * k),
  fc.integer({ min: 1, max: 30 }),
);
const commands = fc.commands(
  [
    fc.boolean().map((s) => new Start(s)),
    fc.boolean().map((s) => new Start(s)),
    delay.map((d) => new Emit('item', d)),
    delay.map((d) => new Emit('item', d)),
    delay.map((d) => new Emit('item', d)),
    fc.tuple(fc.constantFrom<Kind>('bad', 'error', 'end'), delay).map(([kind, d]) => new Emit(kind, d)),
    fc.constant(new HandlerSettles(false)),
    fc.constant(new HandlerSettles(false)),
    fc.constant(new HandlerSettles(true)),
    fc.oneof(fc.constant(new Stop()), fc.constant(new ItemThenStop())),
    fc.nat(5).map((i) => new AbortSignalCmd(i)),
    ms.map((t) => new Advance(t)),
    ms.map((t) => new Advance(t)),
  ],
  { maxCommands: 40, size: '+1' },
);

describe('StreamingTask model', () => {
  it('matches the reference model (1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), commands, async (asyncHandler, cmds) => {
        const clock = new TestClock();
        const system = createSystem({ clock });
        const real: Real = {
          clock,
          system,
          task: undefined as never,
          runs: [],
          pending: [],
          controllers: [],
          errors: [],
          stops: [],
          done: null,
          handledAtStop: new Map(),
        };
        const handler = (item: Item): void | Promise<void> => {
          const run = real.runs.length - 1;
          real.runs[run].handled.push(item.n);
          if (item.bad) {
            const error = new Error(handlerLabel(run, item.n));
            if (asyncHandler) return Promise.reject(error);
            throw error;
          }
          if (asyncHandler)
            return new Promise<void>((resolve, reject) => {
              real.pending.push({ resolve, reject, run, n: item.n });
            });
        };
        real.task = new StreamingTask<Item>(
          'stream',
          (signal) => {
            const run = real.runs.length;
            const producer: Producer = new ControlledProducer(clock, {
              item: (n, kind) => ({ n, bad: kind === 'bad' }),
              errorMessage: (k) => errorLabel(run, k),
            });
            real.runs.push({ producer, signal, handled: [], actor: undefined as never });
            return producer;
          },
          handler,
          { system, exceptionHandler: (e) => void real.errors.push(e.message) },
        );
        const model: Model = {
          now: 0,
          async: asyncHandler,
          runs: [],
          controllers: [],
          errors: [],
          stops: [],
          seq: 0,
        };
        try {
          await step(model, real);
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          // epilogue: stop, let a pending handler call finish, let time pass; every run ends and stays ended
          await new Stop().run(model, real);
          if (current(model)?.sub === 'handling') await new HandlerSettles(false).run(model, real);
          await new Advance(100).run(model, real);
          await new Stop().run(model, real);
          expect(finished(current(model))).toBe(true);
          expect(clock.pending).toBe(0);
          expect(system.detachedCount).toBe(0);
        } finally {
          await system.stop();
        }
      }),
      { numRuns: propertyRuns(1000) },
    );
  });
});
