/**
 * Model-based test of TimeoutIterator (PST `TimeoutIterator`, seed-semantics 2.4) against a small reference model,
 * under a TestClock: random sequences of consumer next() calls, a controllable producer (items, errors and the end
 * arriving now or at chosen simulated times), aborts (signal, return(), asyncDispose) and advance(ms), for
 * timeout 0 (forever) or a per-item deadline, with and without the first item's 2 * expectedRate grace.
 * Invariants: every next() settles exactly as the model says (item, done, TimeoutError, the producer's error);
 * every produced item is delivered exactly once and in order until the end/abort/timeout; a timeout happens
 * exactly when the model says (the deadline wins a tie with an item arriving at the same instant) and is followed
 * by the end; nothing is delivered after an abort; the machine's state, count and deadline timer match the model;
 * terminal states are absorbing (snapshot stays 'done' with the same value); the producer is released after a
 * timeout or an abort; no timer remains on the TestClock once the iteration has ended.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem, TimeoutError, TimeoutIterator } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { type Arrival, ControlledProducer } from '../support/controlledProducer.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { advance, flush } from '../support/simulatedTime.js';

type Kind = Arrival;

type Outcome = 'exhausted' | 'failed' | 'timedOut' | 'aborted';
type MState = 'waiting' | 'pulling' | 'pullingBounded' | Outcome;
/** What one next() call settled with: an item, done, a TimeoutError or the producer's error (by message). */
type Settled = { item: number } | 'done' | 'timeout' | { error: string } | null;
type MEvent = { kind: 'item'; value: number } | { kind: 'error'; label: string } | { kind: 'end' };

interface Model {
  now: number;
  timeout: number;
  expectedRate: number;
  spawned: boolean;
  state: MState;
  deadline: number;
  count: number;
  /** Indices (into `results`) of the pending next() calls, oldest first. */
  requests: number[];
  results: Settled[];
  closed: boolean;
  returnCalls: number;
  buffer: MEvent[];
  scheduled: { at: number; seq: number; kind: Kind }[];
  seq: number;
  items: number;
  errors: number;
}

interface Real {
  clock: TestClock;
  system: OrrerySystem;
  producer: ControlledProducer<number>;
  controller: AbortController;
  iterator: TimeoutIterator<number>;
  results: Settled[];
  /** The snapshot value seen when the actor first reported 'done'. */
  finalValue: string | null;
  /** Items delivered when the iteration ended. */
  deliveredAtEnd: number | null;
}

const isOutcome = (s: MState): s is Outcome => s !== 'waiting' && s !== 'pulling' && s !== 'pullingBounded';

/** The facade's #finish: the first pending call gets the error (timeout/failure), the rest `done`. */
function finish(m: Model, outcome: Outcome, error: Settled = 'done'): void {
  m.state = outcome;
  m.requests.forEach((index, i) => {
    m.results[index] = i === 0 && (outcome === 'timedOut' || outcome === 'failed') ? error : 'done';
  });
  m.requests = [];
  if ((outcome === 'timedOut' || outcome === 'aborted') && !m.closed) m.returnCalls++;
  if (outcome !== 'exhausted' && outcome !== 'failed') closeProducer(m);
}

function closeProducer(m: Model): void {
  m.closed = true;
  m.buffer = [];
  m.scheduled = [];
}

function arrive(m: Model, kind: Kind): void {
  if (m.closed) return;
  if (kind === 'item') m.buffer.push({ kind, value: m.items++ });
  else if (kind === 'error') m.buffer.push({ kind, label: `producer failed #${++m.errors}` });
  else m.buffer.push({ kind });
}

/** Run the model to quiescence at `m.now` (what one flush of promise reactions does). */
function settle(m: Model): void {
  for (;;) {
    if (isOutcome(m.state)) return;
    if (m.state === 'waiting') {
      if (!m.requests.length) return;
      if (m.timeout > 0) {
        m.state = 'pullingBounded';
        m.deadline = m.now + m.timeout + (m.count === 0 ? 2 * m.expectedRate : 0);
      } else m.state = 'pulling';
      continue;
    }
    const event = m.buffer.shift();
    if (!event) return;
    if (event.kind === 'item') {
      m.count++;
      m.results[m.requests.shift() as number] = { item: event.value };
      m.state = 'waiting';
    } else if (event.kind === 'end') {
      closeProducer(m);
      finish(m, 'exhausted');
    } else {
      closeProducer(m);
      finish(m, 'failed', { error: event.label });
    }
  }
}

/** Let model time pass: arrivals and the deadline in time order; the deadline wins a tie with an arrival. */
function advanceModel(m: Model, ms: number): void {
  const end = m.now + ms;
  for (;;) {
    m.scheduled.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const arrival = m.scheduled[0]?.at ?? Number.POSITIVE_INFINITY;
    const deadline = m.state === 'pullingBounded' ? m.deadline : Number.POSITIVE_INFINITY;
    const at = Math.min(arrival, deadline);
    if (at > end) break;
    m.now = at;
    if (deadline <= arrival) {
      finish(m, 'timedOut', 'timeout');
      continue;
    }
    while (m.scheduled.length && m.scheduled[0].at === at)
      arrive(m, (m.scheduled.shift() as { kind: Kind }).kind);
    settle(m);
  }
  m.now = end;
}

function check(m: Model, r: Real): void {
  expect(r.clock.now()).toBe(m.now);
  expect(r.results).toEqual(m.results);
  // exactly once, in order: the delivered items are the first produced ones, in request order
  const delivered = r.results.flatMap((s) =>
    s !== null && typeof s === 'object' && 'item' in s ? [s.item] : [],
  );
  expect(delivered).toEqual(r.producer.arrived.slice(0, delivered.length));
  expect(delivered.length).toBe(m.count);
  expect(r.producer.returnCalls).toBe(m.returnCalls);
  expect(r.producer.closed).toBe(m.closed);
  const actor = r.iterator.actor;
  expect(actor !== undefined).toBe(m.spawned);
  const ownTimers = r.clock.pending - r.producer.timers.size;
  expect(ownTimers).toBe(m.state === 'pullingBounded' ? 1 : 0);
  if (actor) {
    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toBe(m.state);
    expect(snapshot.context.count).toBe(m.count);
    expect(snapshot.status).toBe(isOutcome(m.state) ? 'done' : 'active');
    if (snapshot.status === 'done') {
      r.finalValue ??= snapshot.value;
      expect(snapshot.value).toBe(r.finalValue); // absorbing
    }
  }
  if (isOutcome(m.state)) {
    expect(r.clock.pending).toBe(0);
    r.deliveredAtEnd ??= delivered.length;
    expect(delivered.length).toBe(r.deliveredAtEnd); // nothing after the end, an abort or a timeout
  }
}

function record(r: Real, promise: Promise<IteratorResult<number>>): void {
  const index = r.results.length;
  r.results.push(null);
  promise.then(
    (result) => {
      r.results[index] = result.done ? 'done' : { item: result.value };
    },
    (error: Error) => {
      if (error instanceof TimeoutError) {
        expect(error.message).toBe(`No item received within ${r.iterator.timeout} ms.`);
        r.results[index] = 'timeout';
      } else r.results[index] = { error: error.message };
    },
  );
}

class Next implements fc.Command<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    record(r, r.iterator.next());
    m.results.push(null);
    if (isOutcome(m.state)) m.results[m.results.length - 1] = 'done';
    else {
      m.spawned = true;
      m.requests.push(m.results.length - 1);
      settle(m);
    }
    await flush();
    check(m, r);
  }
  toString = () => 'next';
}

class Emit implements fc.Command<Model, Real> {
  constructor(
    readonly kind: Kind,
    readonly delay: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    if (this.delay === 0) {
      r.producer.arrive(this.kind);
      arrive(m, this.kind);
      settle(m);
    } else {
      r.producer.schedule(this.kind, this.delay);
      if (!m.closed) m.scheduled.push({ at: m.now + this.delay, seq: m.seq++, kind: this.kind });
    }
    await flush();
    check(m, r);
  }
  toString = () => `${this.kind}${this.delay ? `@+${this.delay}` : ''}`;
}

type How = 'signal' | 'return' | 'dispose';

function abortReal(r: Real, how: How): void {
  if (how === 'signal') r.controller.abort();
  else if (how === 'return') void r.iterator.return();
  else void r.iterator[Symbol.asyncDispose]();
}

class Abort implements fc.Command<Model, Real> {
  constructor(readonly how: How) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    abortReal(r, this.how);
    if (!isOutcome(m.state)) finish(m, 'aborted');
    await flush();
    check(m, r);
  }
  toString = () => `abort(${this.how})`;
}

/** An item arrives and the iteration is aborted in the same tick: the item must not be delivered. */
class ItemThenAbort implements fc.Command<Model, Real> {
  constructor(readonly how: How) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.producer.arrive('item');
    abortReal(r, this.how);
    arrive(m, 'item');
    if (!isOutcome(m.state)) finish(m, 'aborted');
    await flush();
    check(m, r);
  }
  toString = () => `item+abort(${this.how})`;
}

class Advance implements fc.Command<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    advanceModel(m, this.ms);
    await advance(r.clock, this.ms);
    check(m, r);
  }
  toString = () => `advance(${this.ms})`;
}

const how = fc.constantFrom<How>('signal', 'return', 'dispose');
// on a 5 ms grid, like the timeouts, so that an item often arrives exactly at its deadline
const delay = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 8 }).map((k) => 5 * k),
);
const ms = fc.oneof(
  fc.integer({ min: 1, max: 6 }).map((k) => 5 * k),
  fc.integer({ min: 1, max: 30 }),
);
const terminalKind = fc.constantFrom<Kind>('error', 'end');
const commands = fc.commands(
  [
    fc.constant(new Next()),
    fc.constant(new Next()),
    fc.constant(new Next()),
    delay.map((d) => new Emit('item', d)),
    delay.map((d) => new Emit('item', d)),
    delay.map((d) => new Emit('item', d)),
    delay.map((d) => new Emit('item', d)),
    fc.tuple(terminalKind, delay).map(([kind, d]) => new Emit(kind, d)),
    fc.oneof(
      how.map((h) => new Abort(h)),
      how.map((h) => new ItemThenAbort(h)),
    ),
    ms.map((t) => new Advance(t)),
    ms.map((t) => new Advance(t)),
    ms.map((t) => new Advance(t)),
  ],
  { maxCommands: 40, size: '+1' },
);

const config = fc.record({
  timeout: fc.constantFrom(0, 10, 25),
  expectedRate: fc.constantFrom(0, 5, 15),
  preAborted: fc.oneof(
    { weight: 9, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

describe('TimeoutIterator model', () => {
  it('matches the reference model (1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(config, commands, async ({ timeout, expectedRate, preAborted }, cmds) => {
        const clock = new TestClock();
        const system = createSystem({ clock });
        const producer = new ControlledProducer(clock, {
          item: (n) => n,
          errorMessage: (k) => `producer failed #${k}`,
        });
        const controller = new AbortController();
        if (preAborted) controller.abort();
        const iterator = new TimeoutIterator<number>(producer, {
          timeout,
          expectedRate,
          signal: controller.signal,
          system,
        });
        const real: Real = {
          clock,
          system,
          producer,
          controller,
          iterator,
          results: [],
          finalValue: null,
          deliveredAtEnd: null,
        };
        const model: Model = {
          now: 0,
          timeout,
          expectedRate,
          spawned: false,
          state: 'waiting',
          deadline: 0,
          count: 0,
          requests: [],
          results: [],
          closed: false,
          returnCalls: 0,
          buffer: [],
          scheduled: [],
          seq: 0,
          items: 0,
          errors: 0,
        };
        if (preAborted) finish(model, 'aborted');
        try {
          await flush();
          check(model, real);
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          // epilogue: end the iteration if still running, let time pass; the end is absorbing
          await new Abort('return').run(model, real);
          await new Advance(200).run(model, real);
          await new Next().run(model, real);
          await new Abort('signal').run(model, real);
          expect(clock.pending).toBe(0);
          if (real.iterator.actor) expect(system.detachedCount).toBe(0);
        } finally {
          await system.stop();
        }
      }),
      { numRuns: propertyRuns(1000) },
    );
  });
});
