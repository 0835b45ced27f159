/**
 * A model-based test (fast-check `fc.commands`) of the inspectingClient machine alone on a TestClock, as aiokatcp
 * does its client FSM with hypothesis: random UP / READY / DOWN / INTERFACE_CHANGED / MODEL.UPDATE / STOP, the
 * inspect actor answering (from a device that changes between answers), failing or hanging, the state callbacks
 * draining, and the clock moving past sync timeouts and backoff delays. After every command: the flags are one
 * of S0..S4, the emitted states are exactly the reference's (so they are serialised: S4 only after the S2/S3
 * callbacks, and only after a successful inspection since the last READY, or the one skipped inspection), the
 * inspection scope is the reference's, and the index equals a naive reference model.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, type InspectionEvent } from 'xstate';
import {
  clientStateName,
  type InspectInput,
  type InspectingClientStateEmitted,
  type InspectionResult,
  type InspectionScope,
  inspectingClientMachine,
  type ModelChanges,
  type RequestInfo,
  type SensorInfo,
  stateOf,
} from '../../machines/katcp/inspectingClient.js';
import type { InterfaceChange } from '../../src/protocols/katcp/wire.js';
import { TestClock } from '../../src/testing/index.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { flush } from '../support/simulatedTime.js';
import { recordTransitions } from '../support/transitions.js';

const INITIAL = 100;
const MAX = 1000;

type Phase = 'S0' | 'waiting' | 'inspecting' | 'resync' | 'delivering' | 'S4' | 'stopped';
type Part = 'all' | string[] | null;

interface Model {
  phase: Phase;
  skip: boolean;
  skipUsed: boolean;
  syncTimeout: number;
  scope: InspectionScope;
  pending: InspectionScope | null;
  /** Backoff base (random is fixed to 1, so the delay is the base). */
  base: number;
  deadline: number;
  now: number;
  requests: Map<string, RequestInfo>;
  sensors: Map<string, SensorInfo>;
  delivering: 'S2' | 'S3' | null;
  emitted: Array<{ name: string; changes: ModelChanges | null }>;
}

interface Real {
  actor: ReturnType<typeof startReal>['actor'];
  clock: TestClock;
  calls: Array<{
    input: InspectInput;
    signal: AbortSignal;
    settled: boolean;
    resolve(r: InspectionResult): void;
    reject(e: unknown): void;
  }>;
  drains: Array<() => void>;
  emitted: InspectingClientStateEmitted[];
}

function startReal(initialInspection: boolean, syncTimeout: number) {
  const clock = new TestClock();
  const calls: Real['calls'] = [];
  const drains: Real['drains'] = [];
  const emitted: InspectingClientStateEmitted[] = [];
  const machine = inspectingClientMachine.provide({
    actors: {
      inspect: fromPromise<InspectionResult, InspectInput>(
        ({ input, signal }) =>
          new Promise((resolve, reject) => {
            const call: Real['calls'][number] = {
              input,
              signal,
              settled: false,
              resolve: (v) => {
                call.settled = true;
                resolve(v);
              },
              reject: (e) => {
                call.settled = true;
                reject(e);
              },
            };
            calls.push(call);
          }),
      ),
      callbacksDone: fromPromise<void, void>(() => new Promise<void>((resolve) => drains.push(resolve))),
    },
  });
  const actor = createActor(machine, {
    input: {
      initialInspection,
      syncTimeout,
      initialResyncDelay: INITIAL,
      maxResyncDelay: MAX,
      random: () => 1,
    },
    clock,
    inspect: (e: InspectionEvent) => recordTransitions(e),
  });
  actor.on('state', (e) => emitted.push(e));
  actor.start();
  return { actor, clock, calls, drains, emitted };
}

// ------------------------------------------------------------------ reference helpers (independent of model.ts)

const sortedUnion = (a: string[], b: string[]) => [...new Set([...a, ...b])].sort();
const mergePart = (a: Part, b: Part): Part =>
  a === 'all' || b === 'all'
    ? 'all'
    : a === null
      ? b === null
        ? null
        : sortedUnion([], b)
      : sortedUnion(a, b ?? []);
const merge = (a: InspectionScope, b: InspectionScope): InspectionScope => ({
  requests: mergePart(a.requests, b.requests),
  sensors: mergePart(a.sensors, b.sensors),
});
const FULL: InspectionScope = { requests: 'all', sensors: 'all' };
function scopeOf(changes: InterfaceChange[]): InspectionScope {
  let s: InspectionScope = { requests: null, sensors: null };
  for (const c of changes) {
    if (c.kind === 'all') s = merge(s, FULL);
    else if (c.kind === 'sensor-list') s = merge(s, { requests: null, sensors: 'all' });
    else if (c.kind === 'request-list') s = merge(s, { requests: 'all', sensors: null });
    else if (c.kind === 'sensor') s = merge(s, { requests: null, sensors: [c.name] });
    else s = merge(s, { requests: [c.name], sensors: null });
  }
  return s;
}

/** Apply a listing naively; returns the diff or null. */
function applyRef<T extends { name: string; description: string }>(
  index: Map<string, T>,
  items: T[],
  part: Part,
): { added: string[]; removed: string[] } | null {
  if (part === null) return null;
  const before = new Map(index);
  const added = new Set<string>();
  const removed = new Set<string>();
  for (const it of items) {
    const old = before.get(it.name);
    if (!old) added.add(it.name);
    else if (JSON.stringify(old) !== JSON.stringify(it)) {
      added.add(it.name);
      removed.add(it.name);
    }
    index.set(it.name, it);
  }
  const listed = new Set(items.map((i) => i.name));
  for (const n of part === 'all' ? [...before.keys()] : part) {
    if (before.has(n) && !listed.has(n)) {
      removed.add(n);
      index.delete(n);
    }
  }
  return added.size + removed.size ? { added: [...added].sort(), removed: [...removed].sort() } : null;
}

const emitRef = (m: Model, name: string, changes: ModelChanges | null = null) =>
  m.emitted.push({ name, changes });
const enterInspecting = (m: Model, scope: InspectionScope) => {
  if (m.phase !== 'waiting' && m.phase !== 'inspecting') emitRef(m, 'S1');
  m.phase = 'inspecting';
  m.scope = scope;
  m.deadline = m.now + m.syncTimeout;
};
const enterS4 = (m: Model) => {
  m.phase = 'S4';
  m.delivering = null;
  m.base = INITIAL;
  emitRef(m, 'S4');
  if (m.pending) {
    const p = m.pending;
    m.pending = null;
    enterInspecting(m, p);
  }
};
const fail = (m: Model) => {
  m.phase = 'resync';
  m.deadline = m.now + m.base;
  m.base = Math.min(m.base * 3, MAX);
};
const expectedName = (m: Model) =>
  ({ S0: 'S0', stopped: 'S0', waiting: 'S1', inspecting: 'S1', resync: 'S1', S4: 'S4' })[
    m.phase as Exclude<Phase, 'delivering'>
  ] ?? m.delivering;

// ------------------------------------------------------------------ device answers

const SENSOR_NAMES = ['a', 'b', 'c'];
const REQUEST_NAMES = ['r1', 'r2'];
const deviceArb = fc.record({
  sensors: fc
    .subarray(SENSOR_NAMES)
    .chain((ns) =>
      fc.tuple(
        ...ns.map((n) =>
          fc
            .constantFrom('x', 'y')
            .map((d): SensorInfo => ({ name: n, description: d, units: '', type: 'integer', params: [] })),
        ),
      ),
    ),
  requests: fc
    .subarray(REQUEST_NAMES)
    .chain((ns) =>
      fc.tuple(
        ...ns.map((n) =>
          fc.constantFrom('x', 'y').map((d): RequestInfo => ({ name: n, description: d, timeoutHint: null })),
        ),
      ),
    ),
});
type Device = { sensors: SensorInfo[]; requests: RequestInfo[] };
const answer = (device: Device, scope: InspectionScope): InspectionResult => {
  const pick = <T extends { name: string }>(items: T[], part: Part) =>
    part === null ? [] : part === 'all' ? items : items.filter((i) => part.includes(i.name));
  return {
    scope,
    requests: pick(device.requests, scope.requests),
    sensors: pick(device.sensors, scope.sensors),
  };
};
const changeArb: fc.Arbitrary<InterfaceChange> = fc.oneof(
  fc.constant({ kind: 'all' as const }),
  fc.constant({ kind: 'sensor-list' as const }),
  fc.constant({ kind: 'request-list' as const }),
  fc.record({
    kind: fc.constant('sensor' as const),
    name: fc.constantFrom(...SENSOR_NAMES, 'zz'),
    change: fc.constantFrom('added' as const, 'removed' as const, 'modified' as const),
  }),
  fc.record({
    kind: fc.constant('request' as const),
    name: fc.constantFrom(...REQUEST_NAMES),
    change: fc.constantFrom('added' as const, 'removed' as const, 'modified' as const),
  }),
);

// ------------------------------------------------------------------ commands

const live = (r: Real) => {
  const last = r.calls.at(-1);
  return last && !last.signal.aborted && !last.settled ? last : undefined;
};

abstract class Cmd implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.phase !== 'stopped';
  abstract apply(m: Model, r: Real): Promise<void>;
  async run(m: Model, r: Real) {
    await this.apply(m, r);
    await flush();
    verify(m, r);
  }
  abstract toString(): string;
}

class Up extends Cmd {
  async apply(m: Model, r: Real) {
    r.actor.send({ type: 'CONNECTION.UP' });
    if (m.phase === 'S0') {
      m.phase = 'waiting';
      emitRef(m, 'S1');
    }
  }
  toString = () => 'UP';
}
class Ready extends Cmd {
  async apply(m: Model, r: Real) {
    r.actor.send({ type: 'CONNECTION.READY', flags: 'IMB' });
    if (m.phase !== 'S0' && m.phase !== 'waiting') return;
    if (m.phase === 'S0') emitRef(m, 'S1');
    m.pending = null;
    if (m.skip) {
      m.skip = false;
      m.skipUsed = true;
      enterS4(m);
    } else {
      m.phase = 'waiting'; // S1 already announced
      enterInspecting(m, FULL);
    }
  }
  toString = () => 'READY';
}
class Down extends Cmd {
  async apply(m: Model, r: Real) {
    r.actor.send({ type: 'CONNECTION.DOWN', error: null });
    if (m.phase === 'S0' || m.phase === 'stopped') return;
    m.phase = 'S0';
    m.pending = null;
    m.delivering = null;
    emitRef(m, 'S0');
  }
  toString = () => 'DOWN';
}
class Stop extends Cmd {
  async apply(m: Model, r: Real) {
    r.actor.send({ type: 'STOP' });
    if (m.phase === 'stopped') return;
    if (m.phase !== 'S0') emitRef(m, 'S0');
    m.phase = 'stopped';
  }
  toString = () => 'STOP';
}
class Changed extends Cmd {
  constructor(readonly changes: InterfaceChange[]) {
    super();
  }
  async apply(m: Model, r: Real) {
    r.actor.send({ type: 'INTERFACE_CHANGED', changes: this.changes });
    const s = scopeOf(this.changes);
    if (m.phase === 'S4') enterInspecting(m, s);
    else if (m.phase === 'inspecting' || m.phase === 'resync' || m.phase === 'delivering')
      m.pending = merge(m.pending ?? { requests: null, sensors: null }, s);
  }
  toString = () => `INTERFACE_CHANGED ${JSON.stringify(this.changes)}`;
}
class Resolve extends Cmd {
  constructor(readonly device: Device) {
    super();
  }
  async apply(m: Model, r: Real) {
    const call = live(r);
    expect(call !== undefined).toBe(m.phase === 'inspecting');
    if (!call) return;
    call.resolve(answer(this.device, call.input.scope));
    const reqs = applyRef(m.requests, answer(this.device, m.scope).requests, m.scope.requests);
    const sens = applyRef(m.sensors, answer(this.device, m.scope).sensors, m.scope.sensors);
    const changes: ModelChanges = {};
    if (reqs) changes.requests = reqs;
    if (sens) changes.sensors = sens;
    m.phase = 'delivering';
    m.delivering = reqs || sens ? 'S2' : 'S3';
    emitRef(m, m.delivering, m.delivering === 'S2' ? changes : null);
  }
  toString = () => `resolve ${JSON.stringify(this.device)}`;
}
class Reject extends Cmd {
  async apply(m: Model, r: Real) {
    const call = live(r);
    expect(call !== undefined).toBe(m.phase === 'inspecting');
    if (!call) return;
    call.reject(new Error('!help fail'));
    fail(m);
  }
  toString = () => 'reject';
}
class Hang extends Cmd {
  async apply() {}
  toString = () => 'hang';
}
class Drain extends Cmd {
  async apply(m: Model, r: Real) {
    for (const d of r.drains.splice(0)) d();
    if (m.phase === 'delivering') enterS4(m);
  }
  toString = () => 'drain';
}
class Advance extends Cmd {
  constructor(readonly ms: number) {
    super();
  }
  async apply(m: Model, r: Real) {
    const end = r.clock.now() + this.ms;
    for (let at = r.clock.nextAt(); at !== undefined && at <= end; at = r.clock.nextAt()) {
      r.clock.advance(at - r.clock.now());
      await flush();
    }
    r.clock.advance(end - r.clock.now());
    // the reference: one timer at a time (the sync timeout or the backoff delay)
    for (;;) {
      if (m.phase === 'inspecting' && m.deadline <= end) {
        m.now = m.deadline;
        fail(m);
      } else if (m.phase === 'resync' && m.deadline <= end) {
        m.now = m.deadline;
        const scope = m.pending ? merge(m.scope, m.pending) : m.scope;
        m.pending = null;
        enterInspecting(m, scope);
      } else break;
    }
    m.now = end;
  }
  toString = () => `advance ${this.ms}`;
}
class Update extends Cmd {
  constructor(
    readonly device: Device,
    readonly name: string,
  ) {
    super();
  }
  async apply(m: Model, r: Real) {
    const scope: InspectionScope = { requests: null, sensors: [this.name] };
    r.actor.send({ type: 'MODEL.UPDATE', result: answer(this.device, scope) });
    // merged in every connected state, during an inspection too (a lookup answered after an #interface-changed)
    if (m.phase !== 'S0' && m.phase !== 'stopped')
      applyRef(m.sensors, answer(this.device, scope).sensors, scope.sensors);
  }
  toString = () => `MODEL.UPDATE ${this.name} ${JSON.stringify(this.device.sensors)}`;
}

function verify(m: Model, r: Real) {
  const snap = r.actor.getSnapshot();
  const name = clientStateName(stateOf(snap));
  expect(name).not.toBeNull(); // one of the five
  expect(name).toBe(expectedName(m));
  expect(snap.status === 'done').toBe(m.phase === 'stopped');
  expect(r.emitted.map((e) => ({ name: clientStateName(e.state), changes: e.modelChanges }))).toEqual(
    m.emitted,
  );
  // S4 only right after the S2/S3 delivery, or the one skipped inspection right after S1
  const names = r.emitted.map((e) => clientStateName(e.state));
  names.forEach((n, i) => {
    if (n === 'S4') expect(['S2', 'S3', 'S1']).toContain(names[i - 1]);
  });
  expect(names.filter((n, i) => n === 'S4' && names[i - 1] === 'S1').length).toBe(m.skipUsed ? 1 : 0);
  const call = live(r);
  if (m.phase === 'inspecting') expect(call?.input.scope).toEqual(m.scope);
  else if (m.phase !== 'stopped') expect(call).toBeUndefined();
  const ctx = snap.context;
  expect(new Map(Object.entries(ctx.sensors))).toEqual(m.sensors);
  expect(new Map(Object.entries(ctx.requests))).toEqual(m.requests);
  if (m.phase === 'stopped') expect(r.clock.pending).toBe(0);
}

const changed = fc.array(changeArb, { minLength: 1, maxLength: 3 }).map((c) => new Changed(c));
const resolve = deviceArb.map((d) => new Resolve(d));
const advance = fc.constantFrom(1, 99, 100, 300, 499, 500, 1000, 5000).map((ms) => new Advance(ms));
// weighted by repetition, so runs get past the first inspection often; STOP ends every run (below)
const commands = [
  fc.constant(new Up()),
  fc.constant(new Ready()),
  fc.constant(new Ready()),
  fc.constant(new Down()),
  changed,
  changed,
  changed,
  resolve,
  resolve,
  resolve,
  fc.constant(new Reject()),
  fc.constant(new Hang()),
  fc.constant(new Drain()),
  fc.constant(new Drain()),
  fc.constant(new Drain()),
  advance,
  advance,
  fc.tuple(deviceArb, fc.constantFrom(...SENSOR_NAMES)).map(([d, n]) => new Update(d, n)),
];

describe('issue 9 item 3: the inspectingClient machine against a reference model', () => {
  it('issue 9 item 3: random connection events, answers, failures, hangs and time keep the five states, the emitted sequence, the scopes and the index of the reference', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.constantFrom(500, Number.POSITIVE_INFINITY),
        fc.commands(commands, { maxCommands: 60, size: 'max' }),
        async (initialInspection, syncTimeout, cmds) => {
          const real = startReal(initialInspection, syncTimeout);
          const model: Model = {
            phase: 'S0',
            skip: !initialInspection,
            skipUsed: false,
            syncTimeout,
            scope: FULL,
            pending: null,
            base: INITIAL,
            deadline: 0,
            now: 0,
            requests: new Map(),
            sensors: new Map(),
            delivering: null,
            emitted: [{ name: 'S0', changes: null }],
          };
          try {
            await fc.asyncModelRun(() => ({ model, real }), cmds);
            await new Stop().run(model, real); // exactly one more S0 if it was connected, nothing left scheduled
          } finally {
            real.actor.stop();
          }
        },
      ),
      { numRuns: propertyRuns(300) },
    );
  });
});
