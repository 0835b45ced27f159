/**
 * The inspectingClient machine alone (issue 9 item 3), on a TestClock: the `inspect` and `callbacksDone` actors
 * are deferreds settled by the test. Shows the state-callback sequences katcp-python's tests pin (checklist 9.5
 * items 1 and 2), the fixes on purpose (item 8: backoff reset on success, incremental re-inspection from
 * `#interface-changed` arguments, a typed sync timeout), that only the five legal flag combinations are ever
 * reachable, and that every transition of the machine is taken.
 */

import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyStateMachine, createActor, fromPromise, type InspectionEvent } from 'xstate';
import {
  CLIENT_STATES,
  checkInspectingClientInput,
  clientStateName,
  type InspectInput,
  type InspectingClientInput,
  type InspectingClientStateEmitted,
  type InspectionResult,
  inspectingClientMachine,
  type RequestInfo,
  type SensorInfo,
  stateOf,
} from '../../machines/katcp/inspectingClient.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { argsText, parseAll } from '../../src/protocols/katcp/codec.js';
import { SyncError } from '../../src/protocols/katcp/errors.js';
import { TestClock } from '../../src/testing/index.js';
import { transitionCoverage } from '../../src/testing/transitionCoverage.js';
import { flush } from '../support/simulatedTime.js';
import { recordTransitions } from '../support/transitions.js';

// ---------------------------------------------------------------------------------------------------------------
// harness

interface InspectCall {
  input: InspectInput;
  signal: AbortSignal;
  resolve(result: InspectionResult): void;
  reject(error: unknown): void;
}

/** Transitions taken by every harness of this file (the last test checks that none is missing). */
const coverage = transitionCoverage();
const running: Array<{ stop(): void }> = [];
afterEach(() => {
  for (const a of running.splice(0)) a.stop();
});

function startHarness(
  input: InspectingClientInput = {},
  options: { holdCallbacks?: boolean; failCallbacks?: boolean } = {},
) {
  const clock = new TestClock();
  const calls: InspectCall[] = [];
  const drains: Array<() => void> = [];
  let reapplied = 0;
  const machine = inspectingClientMachine.provide({
    actors: {
      inspect: fromPromise<InspectionResult, InspectInput>(
        ({ input, signal }) =>
          new Promise<InspectionResult>((resolve, reject) => calls.push({ input, signal, resolve, reject })),
      ),
      callbacksDone: fromPromise<void, void>(() => {
        if (options.failCallbacks) return Promise.reject(new Error('callback queue broke'));
        if (!options.holdCallbacks) return Promise.resolve();
        return new Promise<void>((resolve) => drains.push(resolve));
      }),
    },
    actions: {
      reapplySampling: () => {
        reapplied += 1;
      },
    },
  });
  const emitted: InspectingClientStateEmitted[] = [];
  const illegal: string[] = [];
  const actor = createActor(machine, {
    input,
    clock,
    inspect: (e: InspectionEvent) => {
      recordTransitions(e);
      coverage.inspect(e);
    },
  });
  actor.on('state', (e) => emitted.push(e));
  actor.subscribe({
    next: (s) => {
      if (clientStateName(stateOf(s)) === null) illegal.push(JSON.stringify(s.value));
    },
    error: () => {},
  });
  running.push(actor);
  actor.start();
  const h = {
    actor,
    clock,
    calls,
    emitted,
    illegal,
    get reapplied() {
      return reapplied;
    },
    /** The call in flight: the last one, unless its actor was stopped. */
    get current(): InspectCall {
      const last = calls.at(-1);
      if (!last || last.signal.aborted) throw new Error('no inspection in flight');
      return last;
    },
    send: (event: Parameters<typeof actor.send>[0]) => actor.send(event),
    ctx: () => actor.getSnapshot().context,
    value: () => actor.getSnapshot().value,
    name: () => clientStateName(stateOf(actor.getSnapshot())),
    names: () => emitted.map((e) => clientStateName(e.state)),
    /** Resolve the callbacksDone calls waiting. */
    drain: async () => {
      for (const d of drains.splice(0)) d();
      await flush();
    },
    pendingDrains: () => drains.length,
    resolve: async (result: Omit<InspectionResult, 'scope'>) => {
      const call = h.current;
      call.resolve({ scope: call.input.scope, ...result });
      await flush();
    },
    reject: async (error: unknown = new SyncError('Error reply during sync process: !help fail broken')) => {
      h.current.reject(error);
      await flush();
    },
    /** Walk the clock forward, flushing promise reactions after each timer. */
    advance: async (ms: number) => {
      const end = clock.now() + ms;
      await flush();
      for (let at = clock.nextAt(); at !== undefined && at <= end; at = clock.nextAt()) {
        clock.advance(at - clock.now());
        await flush();
      }
      clock.advance(end - clock.now());
      await flush();
    },
  };
  return h;
}

// ---------------------------------------------------------------------------------------------------------------
// the device: the sensors of the aiokatcp 1.9 example server (its #sensor-list informs, as captured) and requests

const transcript = parseAll(readFileSync(new URL('./fixtures/katcp-transcript1.txt', import.meta.url)));
const SENSORS: SensorInfo[] = transcript
  .filter((m) => m.type === 'inform' && m.name === 'sensor-list')
  .map((m) => {
    const [name, description, units, type, ...params] = argsText(m);
    return { name, description, units, type, params };
  });
const REQUESTS: RequestInfo[] = ['help', 'sensor-list', 'sensor-value', 'watchdog', 'echo', 'counter'].map(
  (name) => ({ name, description: `the ${name} request`, timeoutHint: null }),
);
const DEVICE = { requests: REQUESTS, sensors: SENSORS };
const FULL = { requests: 'all', sensors: 'all' };
const sensor = (name: string, description = 'a new one'): SensorInfo => ({
  name,
  description,
  units: 'count',
  type: 'integer',
  params: ['-5', '5'],
});
const names = (items: { name: string }[]) => items.map((i) => i.name).sort();

/** UP, READY, first inspection answered with DEVICE, callbacks done: S4. */
async function synced(input: InspectingClientInput = {}, options = {}) {
  const h = startHarness(
    { initialResyncDelay: 1000, maxResyncDelay: 10_000, random: () => 0.5, ...input },
    options,
  );
  h.send({ type: 'CONNECTION.UP' });
  h.send({ type: 'CONNECTION.READY', flags: 'IMB' });
  await h.resolve(DEVICE);
  await h.drain();
  expect(h.name()).toBe('S4');
  h.emitted.length = 0;
  return h;
}

// ---------------------------------------------------------------------------------------------------------------

describe('issue 9 item 3: the inspectingClient machine', () => {
  it('issue 9 item 3: the sequence from connect with #version-connect held back: S0, S1, (READY) S2 with full changes, S4 after the callbacks, and no more (checklist 9.5 item 1)', async () => {
    expect(SENSORS.map((s) => s.name)).toEqual(['counter-queries', 'foo', 'total']);
    const h = startHarness({}, { holdCallbacks: true });
    expect(h.names()).toEqual(['S0']);
    expect(h.emitted[0].modelChanges).toBeNull();
    h.send({ type: 'CONNECTION.UP' });
    await h.advance(60_000); // the server holds back #version-connect
    expect(h.names()).toEqual(['S0', 'S1']);
    expect(h.emitted[1].modelChanges).toBeNull();
    expect(h.calls).toHaveLength(0);
    expect(h.value()).toEqual({ connected: { syncing: 'waitingForProtocol' } });

    h.send({ type: 'CONNECTION.READY', flags: 'IMB' });
    expect(h.names()).toEqual(['S0', 'S1']); // no second S1 when the protocol comes
    expect(h.calls).toHaveLength(1);
    expect(h.current.input).toEqual({ scope: FULL, flags: 'IMB' });
    expect(h.ctx().flags).toBe('IMB');
    await h.resolve(DEVICE);
    expect(h.names()).toEqual(['S0', 'S1', 'S2']);
    expect(h.emitted[2].modelChanges).toEqual({
      requests: { added: names(REQUESTS), removed: [] },
      sensors: { added: ['counter-queries', 'foo', 'total'], removed: [] },
    });
    expect(h.reapplied).toBe(1);
    // data is synced in S2: the index is complete while the callback runs
    expect(Object.keys(h.ctx().sensors).sort()).toEqual(['counter-queries', 'foo', 'total']);
    expect(h.ctx().sensors.foo).toEqual({
      name: 'foo',
      description: 'nonsense',
      units: '',
      type: 'discrete',
      params: ['abc-def', 'ghi-k'],
    });
    // S4 only once the S2 callback is done
    await h.advance(100_000);
    expect(h.names()).toEqual(['S0', 'S1', 'S2']);
    expect(h.pendingDrains()).toBe(1);
    await h.drain();
    expect(h.names()).toEqual(['S0', 'S1', 'S2', 'S4']);
    expect(h.emitted[3].modelChanges).toBeNull();
    await h.advance(100_000);
    expect(h.emitted).toHaveLength(4);
    expect(h.illegal).toEqual([]);
  });

  it('issue 9 item 3: server stop gives exactly one S0; DOWN while already S0 does nothing; client stop gives exactly one S0 (checklist 9.5 item 1)', async () => {
    const h = await synced();
    const err = new Error('Connection reset by peer');
    h.send({ type: 'CONNECTION.DOWN', error: err });
    h.send({ type: 'CONNECTION.DOWN', error: null });
    await h.advance(100_000);
    expect(h.names()).toEqual(['S0']);
    expect(h.ctx().lastError).toBe(err);
    // the index survives a reconnect: the next full inspection reports only what changed
    h.send({ type: 'CONNECTION.UP' });
    h.send({ type: 'CONNECTION.READY', flags: 'IMB' });
    await h.resolve(DEVICE);
    expect(h.names()).toEqual(['S0', 'S1', 'S3', 'S4']);
    expect(h.reapplied).toBe(2); // S2 before, S3 now: sampling re-applied after every reconnect
    h.emitted.length = 0;
    h.send({ type: 'STOP' });
    expect(h.names()).toEqual(['S0']);
    expect(h.actor.getSnapshot().status).toBe('done');
    expect(h.clock.pending).toBe(0);
    // and from S0: stop announces nothing more (S0 was the last word)
    const idle = startHarness();
    idle.send({ type: 'STOP' });
    expect(idle.names()).toEqual(['S0']);
    expect(idle.actor.getSnapshot().status).toBe('done');
  });

  it('issue 9 item 3: a broken ?help repeats S1 with growing backoff delays, then S2 with full changes and S4 (checklist 9.5 item 2)', async () => {
    const u = 0.4;
    const h = startHarness({ random: () => u }); // defaults: 5 s initial, 90 s max, x3, r 0.95
    h.send({ type: 'CONNECTION.UP' });
    h.send({ type: 'CONNECTION.READY', flags: 'IMB' });
    const first = (1 - 0.95) * 5000 + 0.95 * 5000 * u;
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      await h.reject();
      expect(h.value()).toEqual({ connected: 'resyncWait' });
      expect(h.ctx().lastError).toBeInstanceOf(SyncError);
      waits.push(h.ctx().resyncDelay);
      // nothing happens before the delay is over
      await h.advance(h.ctx().resyncDelay - 1);
      expect(h.value()).toEqual({ connected: 'resyncWait' });
      await h.advance(1);
      expect(h.value()).toEqual({ connected: { syncing: 'inspecting' } });
      expect(h.current.input.scope).toEqual(FULL);
    }
    // the delay read before failed(): first ~ U*5 s, then x3, capped at 90 s' worth
    const cap = (1 - 0.95) * 90_000 + 0.95 * 90_000 * u;
    expect(waits.map((w) => Math.round(w))).toEqual(
      [first, first * 3, first * 9, cap, cap, cap].map((w) => Math.round(w)),
    );
    expect(h.names()).toEqual(['S0', 'S1', 'S1', 'S1', 'S1', 'S1', 'S1', 'S1']);
    expect(h.emitted.every((e) => !e.state.synced && !e.state.dataSynced)).toBe(true);
    await h.resolve(DEVICE);
    expect(h.names().slice(-2)).toEqual(['S2', 'S4']);
    expect(h.emitted.at(-2)?.modelChanges).toEqual({
      requests: { added: names(REQUESTS), removed: [] },
      sensors: { added: names(SENSORS), removed: [] },
    });
    // item 8: S4 reset the backoff (upstream never does)
    expect(h.ctx().backoff.base).toBe(5000);
    expect(h.ctx().backoff.delay).toBeCloseTo(first, 9);
    expect(h.illegal).toEqual([]);
  });

  it('issue 9 item 3: after a successful sync the next failure waits the first delay again (item 8: the reset upstream lacks)', async () => {
    const h = await synced({ random: () => 1, initialResyncDelay: 1000, maxResyncDelay: 10_000 });
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'all' }] });
    await h.reject();
    expect(h.ctx().resyncDelay).toBe(1000);
    await h.advance(1000);
    await h.reject();
    expect(h.ctx().resyncDelay).toBe(3000);
    await h.advance(3000);
    await h.resolve(DEVICE);
    expect(h.name()).toBe('S4');
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'all' }] });
    await h.reject(new Error('not a SyncError'));
    expect(h.ctx().resyncDelay).toBe(1000);
    expect(h.ctx().lastError?.message).toBe('not a SyncError');
    await h.advance(1000);
    h.current.reject('a string');
    await flush();
    expect(h.ctx().lastError).toBeInstanceOf(SyncError);
    expect(h.ctx().lastError?.message).toMatch(/a string/);
  });

  it('issue 9 item 3: the sync timeout is a SyncError and backs off; a late answer of the abandoned inspection changes nothing (item 8)', async () => {
    const h = startHarness({
      address: 'dev:7147',
      syncTimeout: 20_000,
      initialResyncDelay: 1000,
      random: () => 1,
    });
    h.send({ type: 'CONNECTION.READY', flags: '' });
    const abandoned = h.current;
    await h.advance(19_999);
    expect(h.value()).toEqual({ connected: { syncing: 'inspecting' } });
    await h.advance(1);
    expect(h.value()).toEqual({ connected: 'resyncWait' });
    expect(h.ctx().lastError).toBeInstanceOf(SyncError);
    expect(h.ctx().lastError?.message).toBe('Inspection of dev:7147 timed out after 20000 ms');
    expect(abandoned.signal.aborted).toBe(true);
    abandoned.resolve({ scope: abandoned.input.scope, ...DEVICE });
    await flush();
    expect(h.ctx().sensors).toEqual({});
    expect(h.value()).toEqual({ connected: 'resyncWait' });
    await h.advance(1000);
    await h.resolve(DEVICE);
    expect(h.name()).toBe('S4');
    expect(h.names()).toEqual(['S0', 'S1', 'S1', 'S2', 'S4']);
  });

  it('issue 9 item 3: an infinite syncTimeout arms no timer; timeouts are checked as durations', async () => {
    const h = startHarness({ syncTimeout: Number.POSITIVE_INFINITY });
    h.send({ type: 'CONNECTION.READY', flags: 'I' });
    expect(h.value()).toEqual({ connected: { syncing: 'inspecting' } });
    expect(h.clock.pending).toBe(0);
    await h.advance(10 * 24 * 3600_000);
    expect(h.value()).toEqual({ connected: { syncing: 'inspecting' } });
    await h.resolve(DEVICE);
    expect(h.name()).toBe('S4');
  });

  it('issue 9 item 3: #interface-changed naming a sensor re-inspects that sensor only: added, modified, removed (item 8)', async () => {
    const h = await synced();
    h.send({
      type: 'INTERFACE_CHANGED',
      changes: [{ kind: 'sensor', name: 'another.int', change: 'added' }],
    });
    expect(h.current.input).toEqual({ scope: { requests: null, sensors: ['another.int'] }, flags: 'IMB' });
    await h.resolve({ requests: [], sensors: [sensor('another.int')] });
    expect(h.names()).toEqual(['S1', 'S2', 'S4']);
    expect(h.emitted[1].modelChanges).toEqual({ sensors: { added: ['another.int'], removed: [] } });
    expect(Object.keys(h.ctx().requests).sort()).toEqual(names(REQUESTS)); // requests untouched
    h.emitted.length = 0;

    h.send({
      type: 'INTERFACE_CHANGED',
      changes: [{ kind: 'sensor', name: 'another.int', change: 'modified' }],
    });
    await h.resolve({ requests: [], sensors: [sensor('another.int', 'changed')] });
    expect(h.emitted[1].modelChanges).toEqual({
      sensors: { added: ['another.int'], removed: ['another.int'] },
    });
    h.emitted.length = 0;

    h.send({
      type: 'INTERFACE_CHANGED',
      changes: [{ kind: 'sensor', name: 'another.int', change: 'removed' }],
    });
    await h.resolve({ requests: [], sensors: [] });
    expect(h.emitted[1].modelChanges).toEqual({ sensors: { added: [], removed: ['another.int'] } });
    expect(Object.keys(h.ctx().sensors).sort()).toEqual(names(SENSORS)); // the others stay
    h.emitted.length = 0;

    // a request, by name
    h.send({
      type: 'INTERFACE_CHANGED',
      changes: [{ kind: 'request', name: 'sparkling-new', change: 'added' }],
    });
    expect(h.current.input.scope).toEqual({ requests: ['sparkling-new'], sensors: null });
    await h.resolve({
      requests: [{ name: 'sparkling-new', description: 'A new command.', timeoutHint: null }],
      sensors: [],
    });
    expect(h.emitted[1].modelChanges).toEqual({ requests: { added: ['sparkling-new'], removed: [] } });
  });

  it('issue 9 item 3: sensor-list re-lists the sensors, request-list the requests, no arguments (or #device-changed) everything', async () => {
    const h = await synced();
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'sensor-list' }] });
    expect(h.current.input.scope).toEqual({ requests: null, sensors: 'all' });
    await h.resolve({ requests: [], sensors: SENSORS.slice(1) });
    expect(h.emitted[1].modelChanges).toEqual({ sensors: { added: [], removed: ['counter-queries'] } });
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'request-list' }] });
    expect(h.current.input.scope).toEqual({ requests: 'all', sensors: null });
    await h.resolve({ requests: REQUESTS, sensors: [] });
    expect(h.name()).toBe('S4');
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'all' }] });
    expect(h.current.input.scope).toEqual(FULL);
    await h.resolve(DEVICE);
    expect(h.names()).toEqual(['S1', 'S2', 'S4', 'S1', 'S3', 'S4', 'S1', 'S2', 'S4']);
    expect(h.emitted[7].modelChanges).toEqual({ sensors: { added: ['counter-queries'], removed: [] } });
  });

  it('issue 9 item 3: interface changes during an inspection (and during its callbacks) are merged and inspected right after it', async () => {
    const h = await synced({}, { holdCallbacks: true });
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'sensor', name: 'a', change: 'added' }] });
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'sensor', name: 'b', change: 'added' }] });
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'request', name: 'r', change: 'added' }] });
    expect(h.calls).toHaveLength(2); // not restarted
    expect(h.ctx().pendingScope).toEqual({ requests: ['r'], sensors: ['b'] });
    await h.resolve({ requests: [], sensors: [sensor('a')] });
    expect(h.names()).toEqual(['S1', 'S2']);
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'sensor', name: 'c', change: 'added' }] });
    await h.drain();
    expect(h.names()).toEqual(['S1', 'S2', 'S4', 'S1']);
    expect(h.current.input.scope).toEqual({ requests: ['r'], sensors: ['b', 'c'] });
    await h.resolve({
      requests: [{ name: 'r', description: 'r', timeoutHint: 1.5 }],
      sensors: [sensor('b'), sensor('c')],
    });
    await h.drain();
    expect(h.names()).toEqual(['S1', 'S2', 'S4', 'S1', 'S2', 'S4']);
    expect(h.emitted[4].modelChanges).toEqual({
      requests: { added: ['r'], removed: [] },
      sensors: { added: ['b', 'c'], removed: [] },
    });
    expect(h.ctx().pendingScope).toBeNull();
  });

  it('issue 9 item 3: a failed re-inspection leaves the index as it was and the retry covers what failed and what came in meanwhile', async () => {
    const h = await synced({ random: () => 1 });
    const before = h.ctx();
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'sensor', name: 'foo', change: 'removed' }] });
    await h.reject();
    expect(h.ctx().sensors).toBe(before.sensors);
    expect(h.ctx().requests).toBe(before.requests);
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'sensor', name: 'x', change: 'added' }] });
    await h.advance(h.ctx().resyncDelay);
    expect(h.current.input.scope).toEqual({ requests: null, sensors: ['foo', 'x'] });
    await h.resolve({ requests: [], sensors: [sensor('x')] });
    expect(h.emitted.at(-2)?.modelChanges).toEqual({ sensors: { added: ['x'], removed: ['foo'] } });
  });

  it('issue 9 item 3: a malformed inspection result counts as a failed inspection', async () => {
    const h = startHarness({ address: 'dev:1', random: () => 1, initialResyncDelay: 10 });
    h.send({ type: 'CONNECTION.READY', flags: '' });
    h.current.resolve({ scope: FULL, requests: 'nope', sensors: [] } as never);
    await flush();
    expect(h.value()).toEqual({ connected: 'resyncWait' });
    expect(h.ctx().lastError).toBeInstanceOf(SyncError);
    expect(h.ctx().lastError?.message).toBe('Inspection of dev:1 gave a malformed result');
    expect(h.ctx().requests).toEqual({});
  });

  it('issue 9 item 3: READY without UP goes straight to inspecting (S1 announced once); DOWN during an inspection abandons it', async () => {
    const h = startHarness();
    h.send({ type: 'CONNECTION.READY', flags: 'IMBT' });
    expect(h.names()).toEqual(['S0', 'S1']);
    expect(h.current.input.flags).toBe('IMBT');
    const call = h.current;
    h.send({ type: 'CONNECTION.DOWN', error: null });
    expect(call.signal.aborted).toBe(true);
    expect(h.names()).toEqual(['S0', 'S1', 'S0']);
    expect(h.ctx().lastError).toBeNull();
    expect(h.clock.pending).toBe(0); // the sync timeout went with the state
    // changes seen while disconnected or before the protocol are covered by the full inspection that follows
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'sensor', name: 'a', change: 'added' }] });
    h.send({ type: 'CONNECTION.UP' });
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'sensor', name: 'a', change: 'added' }] });
    h.send({ type: 'CONNECTION.READY', flags: 'IMB' });
    expect(h.current.input.scope).toEqual(FULL);
    expect(h.ctx().pendingScope).toBeNull();
  });

  it('issue 9 item 3: initialInspection false skips the first inspection exactly once (READY -> S1, S4), then inspects as usual', async () => {
    const h = startHarness({ initialInspection: false });
    h.send({ type: 'CONNECTION.UP' });
    h.send({ type: 'CONNECTION.READY', flags: 'IMB' });
    expect(h.names()).toEqual(['S0', 'S1', 'S4']);
    expect(h.calls).toHaveLength(0);
    expect(h.reapplied).toBe(0);
    // a lookup fills the index meanwhile (upstream test_send_request)
    h.send({
      type: 'MODEL.UPDATE',
      result: { scope: { requests: null, sensors: ['an.int'] }, requests: [], sensors: [sensor('an.int')] },
    });
    expect(Object.keys(h.ctx().sensors)).toEqual(['an.int']);
    h.send({ type: 'CONNECTION.DOWN', error: null });
    h.send({ type: 'CONNECTION.READY', flags: 'IMB' });
    expect(h.calls).toHaveLength(1);
    await h.resolve(DEVICE);
    expect(h.names()).toEqual(['S0', 'S1', 'S4', 'S0', 'S1', 'S2', 'S4']);
    expect(h.emitted[5].modelChanges?.sensors?.removed).toEqual(['an.int']);
    // READY straight from S0 with the skip: S1 then S4
    const s = startHarness({ initialInspection: false });
    s.send({ type: 'CONNECTION.READY', flags: '' });
    expect(s.names()).toEqual(['S0', 'S1', 'S4']);
  });

  it('issue 9 item 3: MODEL.UPDATE merges a lookup in any connected state without a state change or an emit; disconnected, or malformed, it is ignored', async () => {
    const h = startHarness({}, { holdCallbacks: true });
    const lookup = (name: string) => ({
      type: 'MODEL.UPDATE' as const,
      result: { scope: { requests: null, sensors: [name] }, requests: [], sensors: [sensor(name)] },
    });
    h.send(lookup('early')); // S0
    h.send({ type: 'CONNECTION.READY', flags: '' });
    expect(h.ctx().sensors).toEqual({});
    h.send(lookup('early')); // S1: merged, and the full inspection then lists what the device has
    expect(Object.keys(h.ctx().sensors)).toEqual(['early']);
    await h.resolve(DEVICE);
    expect(h.name()).toBe('S2');
    h.send(lookup('in.s2'));
    expect(h.name()).toBe('S2');
    await h.drain();
    h.send(lookup('in.s4'));
    h.send({ type: 'MODEL.UPDATE', result: { scope: FULL, requests: [null], sensors: [] } as never });
    h.send({
      type: 'MODEL.UPDATE',
      result: { scope: { requests: ['help'], sensors: ['foo'] }, requests: [], sensors: [] },
    });
    expect(h.names()).toEqual(['S0', 'S1', 'S2', 'S4']);
    expect(Object.keys(h.ctx().sensors).sort()).toEqual(['counter-queries', 'in.s2', 'in.s4', 'total']);
    expect(h.ctx().requests.help).toBeUndefined();
    expect(h.ctx().inspections).toBe(1);
    // in S3 too
    const s3 = await synced({}, { holdCallbacks: true });
    s3.send({ type: 'INTERFACE_CHANGED', changes: [] });
    await s3.resolve(DEVICE);
    expect(s3.name()).toBe('S3');
    s3.send(lookup('in.s3'));
    expect(s3.ctx().sensors['in.s3']).toBeDefined();
    expect(s3.names()).toEqual(['S1', 'S3']);
  });

  it('MODEL.UPDATE during a re-inspection (a lookup answered after an #interface-changed) is merged, not dropped', async () => {
    const h = await synced({}, { holdCallbacks: true });
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'request', name: 'reset', change: 'added' }] });
    expect(h.name()).toBe('S1');
    expect(h.current.input.scope).toEqual({ requests: ['reset'], sensors: null });
    h.send({
      type: 'MODEL.UPDATE',
      result: {
        scope: { requests: null, sensors: ['looked.up'] },
        requests: [],
        sensors: [sensor('looked.up')],
      },
    });
    expect(h.ctx().sensors['looked.up']).toEqual(sensor('looked.up'));
    await h.resolve({
      requests: [{ name: 'reset', description: 'start again', timeoutHint: null }],
      sensors: [],
    });
    expect(h.names()).toEqual(['S1', 'S2']);
    // the lookup is no change of the inspection (as in S4), and the inspection of another scope keeps it
    expect(h.emitted[1].modelChanges).toEqual({ requests: { added: ['reset'], removed: [] } });
    expect(h.ctx().sensors['looked.up']).toBeDefined();
    // the same while waiting to retry a failed inspection
    h.send({ type: 'INTERFACE_CHANGED', changes: [] });
    await h.drain();
    await h.reject();
    expect(h.value()).toEqual({ connected: 'resyncWait' });
    h.send({
      type: 'MODEL.UPDATE',
      result: { scope: { requests: null, sensors: ['later'] }, requests: [], sensors: [sensor('later')] },
    });
    expect(h.ctx().sensors.later).toBeDefined();
  });

  it('issue 9 item 6: SENSOR.READINGS folds a batch of readings into context for the inspector, only for sensors in the index, in any state, without an emit', async () => {
    const h = startHarness();
    const reading = (value: number, status = 'nominal') => ({ status, value, timestamp: 1795421238.5 });
    h.send({ type: 'SENSOR.READINGS', readings: { 'counter-queries': reading(1) } }); // S0, nothing known yet
    expect(h.ctx().readings).toEqual({});
    h.send({ type: 'CONNECTION.READY', flags: '' });
    await h.resolve(DEVICE);
    expect(h.name()).toBe('S4');
    h.send({ type: 'SENSOR.READINGS', readings: { 'counter-queries': reading(2), ghost: reading(9) } });
    h.send({ type: 'SENSOR.READINGS', readings: { total: reading(7, 'warn') } });
    expect(h.ctx().readings).toEqual({ 'counter-queries': reading(2), total: reading(7, 'warn') });
    h.send({ type: 'SENSOR.READINGS', readings: null } as never);
    expect(Object.keys(h.ctx().readings).sort()).toEqual(['counter-queries', 'total']);
    expect(h.names()).toEqual(['S0', 'S1', 'S2', 'S4']);
  });

  it('issue 9 item 3: a failing callbacksDone still reaches S4 (the facade logs it); interface changes in S3 wait for S4', async () => {
    const h = await synced({}, { failCallbacks: true });
    expect(h.ctx().inspections).toBe(1);
    h.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'all' }] });
    await h.resolve(DEVICE);
    expect(h.names()).toEqual(['S1', 'S3', 'S4']);
    const held = await synced({}, { holdCallbacks: true });
    held.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'all' }] });
    await held.resolve(DEVICE);
    held.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'sensor-list' }] });
    await held.drain();
    expect(held.names()).toEqual(['S1', 'S3', 'S4', 'S1']);
    expect(held.current.input.scope).toEqual({ requests: null, sensors: 'all' });
  });

  it('issue 9 item 3: STOP from every state ends the machine with no timer left, announcing S0 once when it was connected', async () => {
    const drive: Array<[string, (h: ReturnType<typeof startHarness>) => Promise<void>, string[]]> = [
      ['waitingForProtocol', async (h) => h.send({ type: 'CONNECTION.UP' }), ['S0', 'S1', 'S0']],
      ['inspecting', async (h) => h.send({ type: 'CONNECTION.READY', flags: '' }), ['S0', 'S1', 'S0']],
      [
        'resyncWait',
        async (h) => {
          h.send({ type: 'CONNECTION.READY', flags: '' });
          await h.reject();
        },
        ['S0', 'S1', 'S0'],
      ],
      [
        'modelChanged',
        async (h) => {
          h.send({ type: 'CONNECTION.READY', flags: '' });
          await h.resolve(DEVICE);
        },
        ['S0', 'S1', 'S2', 'S0'],
      ],
    ];
    for (const [, go, expected] of drive) {
      const h = startHarness({}, { holdCallbacks: true });
      await go(h);
      h.send({ type: 'STOP' });
      expect(h.names()).toEqual(expected);
      expect(h.actor.getSnapshot().status).toBe('done');
      expect(h.clock.pending).toBe(0);
      expect(clientStateName(stateOf(h.actor.getSnapshot()))).toBe('S0');
    }
  });

  it('issue 9 item 3: bad input is an InvalidArgumentError naming the option, before anything runs', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ syncTimeout: -1 }, /syncTimeout/],
      [{ syncTimeout: '20' }, /syncTimeout/],
      [{ initialResyncDelay: Number.NaN }, /initialResyncDelay/],
      [{ initialResyncDelay: 10_000, maxResyncDelay: 5000 }, /initialResyncDelay <= maxResyncDelay/],
      [{ maxResyncDelay: Number.POSITIVE_INFINITY }, /initialResyncDelay <= maxResyncDelay/],
      [{ random: 0.5 }, /random must be a function/],
      [{ initialInspection: 'no' }, /initialInspection must be a boolean/],
      [{ address: 7147 }, /address must be a string/],
      [42, /input must be an object/],
    ];
    for (const [input, message] of bad) {
      expect(() => checkInspectingClientInput(input as never)).toThrow(InvalidArgumentError);
      expect(() => checkInspectingClientInput(input as never)).toThrow(message);
    }
    // the machine itself fails to start with that error
    const actor = createActor(inspectingClientMachine, { input: { syncTimeout: -5 } });
    actor.subscribe({ error: () => {} });
    actor.start();
    expect(actor.getSnapshot().status).toBe('error');
    expect(actor.getSnapshot().error).toBeInstanceOf(InvalidArgumentError);
    // defaults, and an initial delay above the default maximum raises the maximum with it
    expect(checkInspectingClientInput(undefined)).toMatchObject({
      address: null,
      syncTimeout: 20_000,
      backoff: { delayInitial: 5000, delayMax: 90_000, expFac: 3, randomicity: 0.95 },
      initialInspection: true,
    });
    expect(checkInspectingClientInput({ initialResyncDelay: 100_000 }).backoff.delayMax).toBe(100_000);
  });

  it('issue 9 item 3: without provided actors the machine fails its inspections with a SyncError and backs off', async () => {
    const clock = new TestClock();
    const actor = createActor(inspectingClientMachine, {
      input: { random: () => 1, initialResyncDelay: 100 },
      clock,
      inspect: (e: InspectionEvent) => {
        recordTransitions(e);
        coverage.inspect(e);
      },
    });
    running.push(actor);
    actor.start();
    actor.send({ type: 'CONNECTION.READY', flags: '' });
    await flush();
    expect(actor.getSnapshot().value).toEqual({ connected: 'resyncWait' });
    expect(actor.getSnapshot().context.lastError?.message).toBe('no inspect actor provided');
  });

  it('issue 9 item 3: five states by construction: every leaf of the statechart carries the tags of one of S0..S4', () => {
    const leaves: Array<{ id: string; tags: string[] }> = [];
    const walk = (node: AnyStateMachine['root']) => {
      const children = Object.values(node.states);
      if (children.length === 0) leaves.push({ id: node.id, tags: [...node.tags] });
      for (const c of children) walk(c as never);
    };
    walk(inspectingClientMachine.root);
    const byLeaf = Object.fromEntries(
      leaves.map(({ id, tags }) => {
        const has = (t: string) => tags.includes(t);
        return [
          id,
          clientStateName({
            connected: has('connected'),
            synced: has('synced'),
            modelChanged: has('modelChanged'),
            dataSynced: has('dataSynced'),
          }),
        ];
      }),
    );
    expect(byLeaf).toEqual({
      'inspectingClient.disconnected': 'S0',
      'inspectingClient.connected.syncing.waitingForProtocol': 'S1',
      'inspectingClient.connected.syncing.protocolReady': 'S1',
      'inspectingClient.connected.syncing.inspecting': 'S1',
      'inspectingClient.connected.resyncWait': 'S1',
      'inspectingClient.connected.inspected.modelChanged': 'S2',
      'inspectingClient.connected.inspected.dataSynced': 'S3',
      'inspectingClient.connected.inspected.synced': 'S4',
      'inspectingClient.stopped': 'S0',
    });
    expect(Object.keys(CLIENT_STATES)).toEqual(['S0', 'S1', 'S2', 'S3', 'S4']);
    expect(
      clientStateName({ connected: false, synced: true, modelChanged: false, dataSynced: true }),
    ).toBeNull();
  });

  it('issue 9 item 3: every declared transition of the machine is taken by the tests above', () => {
    expect(coverage.missing(inspectingClientMachine)).toEqual([]);
  });
});
