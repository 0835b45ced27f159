/**
 * issue 10 item 3: the differential test, the compiled runner's gate. For every compiled machine (statusMachine and
 * the fixtures that exercise every supported feature), fast-check draws an input and a sequence of events and
 * clock advances; XState's interpreter (`createActor` on a TestClock) and the compiled runner (on a second
 * TestClock, through a host written here) run it side by side, compared after EVERY step: state value, status,
 * tags, context, output, error (class and message), the armed delays (event type and due time), emitted events,
 * log() calls, custom action calls and the sequence of transitions taken (source, event, targets).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type AnyActorRef,
  type AnyStateMachine,
  createActor,
  type EventObject,
  type InspectionEvent,
} from 'xstate';
import { statusMachine } from '../../../machines/core/status.js';
import { microstepTransitions, scheduledEventsOf } from '../../../machines/core/xstateAdapter.js';
import {
  CompiledMachine,
  compileMachine,
  type Lifecycle,
  type LifecycleHost,
  startLifecycle,
} from '../../../src/engine/compiled/index.js';
import { Deadlines } from '../../../src/engine/deadlines.js';
import { LRC_ATTRIBUTES, ResultCode, TaskStatus } from '../../../src/protocols/tango/wire.js';
import { TestClock } from '../../../src/testing/testClock.js';
import { type TransitionCoverage, transitionCoverage } from '../../../src/testing/transitionCoverage.js';
import { lrcStubLogic } from '../../support/lrcStub.js';
import { propertyRuns } from '../../support/propertyRuns.js';
import { type Fixture, fixtures, useSink } from './fixtures.js';

type Step = EventObject | { advance: number };

interface Armed {
  type: string;
  at: number;
}

const describeTransition = (t: unknown): string => {
  const d = t as { source: { id: string }; eventType: string | null; target?: { id: string }[] };
  return `${d.source.id}:${d.eventType}->${d.target?.map((n) => n.id).join(',') ?? ''}`;
};

/** XState's side: an actor on a TestClock whose timers are paired with the delayed events XState armed. */
class XStateSide {
  readonly clock = new TestClock();
  readonly armed = new Map<unknown, Armed>();
  readonly emitted: unknown[] = [];
  readonly logs: unknown[][] = [];
  readonly micro: string[] = [];
  readonly sink: unknown[] = [];
  actor!: AnyActorRef;

  constructor(machine: AnyStateMachine, id: string, input: unknown, coverage?: TransitionCoverage) {
    const self = this;
    const clock = {
      setTimeout(fn: () => void, ms: number) {
        const at = self.clock.now() + (ms > 0 ? ms : 0);
        let timer: unknown;
        const id = self.clock.setTimeout(() => {
          self.armed.delete(timer);
          fn();
        }, ms);
        timer = id;
        if (ms !== Number.POSITIVE_INFINITY) {
          const known = new Set([...self.armed.values()].map((a) => a.type));
          const fresh = scheduledEventsOf(self.actor).find((e) => !known.has(e.event.type));
          self.armed.set(id, { type: fresh?.event.type ?? '?', at });
        }
        return id;
      },
      clearTimeout(id: unknown) {
        self.clock.clearTimeout(id);
        self.armed.delete(id);
      },
    };
    useSink(this.sink);
    this.actor = createActor(machine, {
      id,
      input,
      clock,
      logger: (...args: unknown[]) => this.logs.push(args),
      inspect: (ev: InspectionEvent) => {
        coverage?.inspect(ev);
        if (ev.type !== '@xstate.microstep' || (ev.actorRef as AnyActorRef).id !== id) return;
        this.micro.push(`${ev.event.type}|${microstepTransitions(ev).map(describeTransition).join(';')}`);
      },
    } as never);
    this.actor.on('*', (e: unknown) => this.emitted.push(e));
    this.actor.subscribe({ error: () => {} });
    this.actor.start();
  }

  step(s: Step): void {
    useSink(this.sink);
    if ('advance' in s) this.clock.advance(s.advance);
    else this.actor.send(s);
  }
}

/**
 * The runner's side: a lifecycle whose host arms its delays on a second TestClock, each with a clock timer of its own,
 * or (`own`) as the system's host does: on a deadline structure (`Deadlines`) on that clock, the lifecycle's first
 * delay armed on the lifecycle itself (`armOwn`), the others as entries.
 */
class RunnerSide implements LifecycleHost {
  readonly clock = new TestClock();
  readonly deadlines = new Deadlines(this.clock);
  armOwn?: (lc: Lifecycle, ms: number) => boolean;
  cancelOwn?: (lc: Lifecycle) => void;
  ownDue?: (lc: Lifecycle, event: EventObject) => void;
  readonly armed = new Set<{ id: unknown; type: string; at: number }>();
  readonly emitted: unknown[] = [];
  readonly logs: unknown[][] = [];
  readonly micro: string[] = [];
  readonly sink: unknown[] = [];
  readonly lc: Lifecycle;

  constructor(
    compiled: CompiledMachine,
    id: string,
    input: unknown,
    readonly own = false,
  ) {
    if (own) {
      this.armOwn = (lc, ms) => this.deadlines.armNode(lc, ms);
      this.cancelOwn = (lc) => {
        this.deadlines.cancelNode(lc);
      };
      this.ownDue = (lc, event) => lc.send(event);
    }
    useSink(this.sink);
    this.lc = startLifecycle(compiled, {
      id,
      input,
      host: this,
      onEmit: (_lc, e) => this.emitted.push(e),
      observer: {
        event: () => {},
        snapshot: () => {},
        microstep: (_lc, event, transitions) =>
          this.micro.push(`${event.type}|${transitions.map(describeTransition).join(';')}`),
      },
    });
  }

  schedule(lc: Lifecycle, ms: number, event: EventObject): unknown {
    if (ms === Number.POSITIVE_INFINITY) return null;
    if (this.own) {
      const timer = { id: undefined as unknown, type: event.type, at: 0 };
      const handle = this.deadlines.arm(ms, () => {
        this.armed.delete(timer);
        lc.fire(event);
      });
      timer.id = handle;
      timer.at = handle!.dueAt;
      this.armed.add(timer);
      return timer;
    }
    const timer = { id: undefined as unknown, type: event.type, at: this.clock.now() + (ms > 0 ? ms : 0) };
    timer.id = this.clock.setTimeout(() => {
      this.armed.delete(timer);
      lc.fire(event);
    }, ms);
    this.armed.add(timer);
    return timer;
  }

  /** Every armed delay: the one on the lifecycle itself (`own`), then the others. */
  armedNow(): Armed[] {
    const out: Armed[] = [...this.armed];
    const first = this.lc.armedEvents()[0];
    if (this.lc.dlList !== null && first) out.push({ type: first.type, at: this.lc.dlDueAt! });
    return out;
  }

  cancel(handle: unknown): void {
    const timer = handle as { id: unknown } | null;
    if (!timer) return;
    if (this.own) this.deadlines.cancel(timer.id as never);
    else this.clock.clearTimeout(timer.id);
    this.armed.delete(timer as never);
  }

  log(_lc: Lifecycle, args: unknown[]): void {
    this.logs.push(args);
  }

  step(s: Step): void {
    useSink(this.sink);
    if ('advance' in s) this.clock.advance(s.advance);
    else this.lc.send(s);
  }
}

const sortArmed = (armed: Iterable<Armed>) =>
  [...armed].map((a) => `${a.type}@${a.at}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

function errorShape(err: unknown): unknown {
  if (err instanceof Error) return { class: err.constructor.name, name: err.name, message: err.message };
  return err;
}

function compare(x: XStateSide, r: RunnerSide, where: string): void {
  const snap = x.actor.getSnapshot();
  const lc = r.lc;
  const at = `${where}`;
  expect(lc.status, at).toBe(snap.status);
  expect(lc.value, at).toEqual(snap.value);
  expect([...lc.snapshot().tags].sort(), at).toEqual([...(snap.tags ?? [])].sort());
  expect(lc.context, at).toEqual(snap.context);
  expect(lc.output, at).toEqual(snap.output);
  expect(errorShape(lc.error), at).toEqual(errorShape(snap.error));
  expect(sortArmed(r.armedNow()), at).toEqual(sortArmed(x.armed.values()));
  // nothing left armed in the deadline structure that the lifecycle no longer counts
  if (r.own) expect(r.deadlines.size, at).toBe(x.armed.size);
  expect(r.micro, at).toEqual(x.micro);
  expect(r.emitted, at).toEqual(x.emitted);
  expect(r.logs, at).toEqual(x.logs);
  expect(r.sink, at).toEqual(x.sink);
}

/** Runs one input and walk on both sides, comparing after every step. */
function runDifferential(
  machine: AnyStateMachine,
  input: unknown,
  steps: readonly Step[],
  coverage?: TransitionCoverage,
  own = false,
): void {
  const compiled = compileMachine(machine);
  if (!(compiled instanceof CompiledMachine))
    throw new Error(`${machine.id} is refused: ${compiled.refused}`);
  const id = 'lc-1';
  const x = new XStateSide(machine, id, input, coverage);
  const r = new RunnerSide(compiled, id, input, own);
  compare(x, r, 'start');
  steps.forEach((s, i) => {
    x.step(s);
    r.step(s);
    compare(x, r, `step ${i}: ${JSON.stringify(s)}`);
  });
}

const statusFixture: Fixture = {
  name: 'status',
  machine: statusMachine,
  events: fc.oneof(
    fc.constant({ type: 'FINISH' }),
    fc.nat(9).map((k) => ({ type: 'FAIL', error: new Error(`fail ${k}`) })),
    fc.nat(9).map((k) => ({ type: 'CANCEL', error: new RangeError(`cancel ${k}`) })),
    fc.nat(100).map((current) => ({ type: 'PROGRESS', update: { current } })),
  ),
  input: fc.record(
    {
      timeout: fc.oneof(
        fc.constant(null),
        fc.integer({ min: 0, max: 200 }),
        fc.constant(Number.POSITIVE_INFINITY),
      ),
      settleTime: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 1, max: 100 }),
        fc.constant(Number.POSITIVE_INFINITY),
      ),
      name: fc.constantFrom('move', 'shutter'),
    },
    { requiredKeys: ['timeout', 'settleTime'] },
  ),
  maxAdvance: 150,
};

const all: Fixture[] = [statusFixture, ...fixtures];
/** Runs per machine: 2,000 walks of up to 25 steps, about 3 s a machine. */
const RUNS = 2000;

describe('compiled runner vs XState interpreter', () => {
  beforeAll(() => {
    // XState's development build warns for every event sent to an actor that is done; the runner ignores them too.
    vi.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterAll(() => vi.restoreAllMocks());

  for (const f of all) {
    it(`issue 10 item 3: ${f.name}: the runner and XState agree after every step of random walks`, () => {
      const step: fc.Arbitrary<Step> = fc.oneof(
        { weight: 3, arbitrary: f.events as fc.Arbitrary<Step> },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: f.maxAdvance }).map((advance) => ({ advance })) },
      );
      const coverage = transitionCoverage();
      fc.assert(
        // `own`: the runner's delays on a deadline structure, its first one on the lifecycle itself, as in a system
        fc.property(f.input, fc.array(step, { maxLength: 25 }), fc.boolean(), (input, steps, own) => {
          runDifferential(f.machine, input, steps, coverage, own);
        }),
        { numRuns: propertyRuns(RUNS) },
      );
      // the walks took every transition of the machine (so every feature it exercises was compared)
      if (propertyRuns(RUNS) >= RUNS) expect(coverage.missing(f.machine)).toEqual([]);
    });
  }
});

/**
 * The lrc machine with stub device I/O (actions that do nothing: the walk sends the session's answers), its walks
 * starting with a random part of the usual sequence (negotiated, subscribed, accepted) so they reach monitoring,
 * reconciling and the v1 result read. Its own test: the walks are not required to take every transition.
 */
const LRC_ID = 'cmd-1';
const statusNames = ['STAGING', 'QUEUED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'ABORTED', 'NOT_FOUND'];
const lrcEvents: fc.Arbitrary<EventObject> = fc.oneof(
  fc.constantFrom([1, 1], [1, 2], [2, 2], [5, 6]).map((versions) => ({ type: 'NEGOTIATED', versions })),
  fc.constant({ type: 'NEGOTIATION_FAILED', error: new Error('down') }),
  fc.constant({ type: 'SUBSCRIBED' }),
  fc.constant({ type: 'SUBSCRIBE_FAILED', attribute: LRC_ATTRIBUTES.status, error: new Error('no') }),
  fc.constantFrom(ResultCode.QUEUED, ResultCode.REJECTED, ResultCode.FAILED).map((code) => ({
    type: 'INVOKED',
    reply: { code, text: LRC_ID, commandId: code === ResultCode.QUEUED ? LRC_ID : undefined },
    held: [],
  })),
  fc.constant({ type: 'INVOKE_FAILED', error: new Error('invoke') }),
  fc
    .record({
      attribute: fc.constantFrom(LRC_ATTRIBUTES.status, LRC_ATTRIBUTES.result, LRC_ATTRIBUTES.progress),
      status: fc.constantFrom(...statusNames),
      n: fc.nat(100),
    })
    .map(({ attribute, status, n }) => ({
      type: 'DEVICE_EVENT',
      event: {
        attribute,
        value:
          attribute === LRC_ATTRIBUTES.status
            ? [LRC_ID, status]
            : attribute === LRC_ATTRIBUTES.result
              ? [LRC_ID, JSON.stringify([0, `r${n}`])]
              : [LRC_ID, String(n)],
      },
    })),
  fc.constant({
    type: 'DEVICE_EVENT',
    event: { attribute: LRC_ATTRIBUTES.status, errors: [{ reason: 'lost', desc: 'lost', origin: 'x' }] },
  }),
  fc
    .constantFrom(TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.NOT_FOUND)
    .map((status) => ({ type: 'STATUS_CHECKED', status })),
  fc.constant({ type: 'STATUS_CHECK_FAILED', error: new Error('check') }),
  fc.constant({ type: 'RESULT_READ', value: [LRC_ID, JSON.stringify([0, 'done'])] }),
  fc.constant({ type: 'RESULT_FAILED', error: new Error('read') }),
  fc.constant({ type: 'UNSUBSCRIBE', error: new Error('bye') }),
);
const lrcInput = fc.record({
  device: fc.constant({ name: 'diff/lrc/1' }),
  command: fc.constant('On'),
  callback: fc.constant(() => {}),
  // given, so both sides' contexts hold the same function (the machine's default is a new one each time)
  onCallbackError: fc.constant(() => {}),
  timeout: fc.oneof(
    fc.constant(null),
    fc.integer({ min: 0, max: 200 }),
    fc.constant(Number.POSITIVE_INFINITY),
  ),
  resultTimeout: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(Number.POSITIVE_INFINITY)),
  reconcile: fc.boolean(),
  knownVersions: fc.constantFrom(undefined, [1, 1], [5, 6]),
});
const usual: Step[] = [
  { type: 'NEGOTIATED', versions: [1, 1] } as EventObject,
  { type: 'SUBSCRIBED' },
  {
    type: 'INVOKED',
    reply: { code: ResultCode.QUEUED, text: LRC_ID, commandId: LRC_ID },
    held: [],
  } as EventObject,
];

describe('compiled runner vs XState interpreter: the lrc machine', () => {
  beforeAll(() => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterAll(() => vi.restoreAllMocks());

  it('issue 10 item 3: lrc (stub device I/O): the runner and XState agree after every step of random walks', () => {
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 4, arbitrary: lrcEvents as fc.Arbitrary<Step> },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 150 }).map((advance) => ({ advance })) },
    );
    fc.assert(
      fc.property(
        lrcInput,
        fc.constantFrom(0, 1, 2, 3, 3, 3),
        fc.array(step, { maxLength: 20 }),
        fc.boolean(),
        (input, k, steps, own) => {
          runDifferential(lrcStubLogic, input, [...usual.slice(0, k), ...steps], undefined, own);
        },
      ),
      { numRuns: propertyRuns(1000) },
    );
  });
});
