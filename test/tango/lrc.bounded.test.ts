/**
 * A call with a deadline (a finite `timeout`) runs in the `bounded` variant of the lrc machine, one without in
 * `unbounded` (chosen once, so no timer is ever armed without a deadline); the v1 result read likewise chooses
 * `fetchingResult.bounded` (finite `resultTimeout`) or `unbounded`. The two variants are the same states: here
 * the bounded one is driven event by event (stub device I/O) through the transitions the facade tests take in the
 * unbounded one, on XState's interpreter and on the compiled runner alike (the same state after every event).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AnyActorRef, EventObject } from 'xstate';
import type { LrcEvent } from '../../machines/tango/lrc.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import type { DevicePort } from '../../src/protocols/tango/port.js';
import { LRC_ATTRIBUTES, ResultCode, TaskStatus } from '../../src/protocols/tango/wire.js';
import { TestClock } from '../../src/testing/testClock.js';
import { lrcStubLogic } from '../support/lrcStub.js';

const ID = '1700000000.0_1_On';
const device = { name: 'test/bounded/1' } as DevicePort;
const status = (s: string): LrcEvent => ({
  type: 'DEVICE_EVENT',
  event: { attribute: LRC_ATTRIBUTES.status, value: [ID, s] },
});
const errorEvent: LrcEvent = {
  type: 'DEVICE_EVENT',
  event: {
    attribute: LRC_ATTRIBUTES.status,
    errors: [{ reason: 'API_EventTimeout', desc: 'lost', origin: 'x', severity: 'ERR' }],
  },
};
const accepted: LrcEvent = {
  type: 'INVOKED',
  reply: { code: ResultCode.QUEUED, text: ID, commandId: ID },
  held: [],
};
const NEGOTIATED_V1: LrcEvent = { type: 'NEGOTIATED', versions: [1, 1] };

interface Run {
  send(e: LrcEvent): void;
  value(): unknown;
  outcome(): unknown;
}

let clock: TestClock;
let system: OrrerySystem;
beforeEach(() => {
  clock = new TestClock();
  system = createSystem({ clock });
});
afterEach(async () => {
  await system.stop();
});

/** The same call on XState's interpreter and on the compiled runner, compared after every event. */
function both(input: Record<string, unknown>): Run {
  const full = { device, command: 'On', callback: () => {}, timeout: 1e9, ...input } as never;
  const actor = system.spawnDetached(lrcStubLogic, { input: full }) as AnyActorRef;
  const lc = system.spawnCompiled(lrcStubLogic, { input: full });
  const same = () => expect(lc.value).toEqual(actor.getSnapshot().value);
  same();
  return {
    send(e) {
      actor.send(e as EventObject);
      lc.send(e as EventObject);
      same();
    },
    value: () => actor.getSnapshot().value,
    outcome: () => {
      expect(lc.output).toEqual(actor.getSnapshot().output);
      return (actor.getSnapshot().output as { outcome: unknown } | undefined)?.outcome;
    },
  };
}

describe('issue 10 item 2: the bounded variant of the lrc machine', () => {
  it('issue 10 item 2: known versions go straight to subscribing, or end notStarted when they do not overlap', () => {
    const known = both({ knownVersions: [1, 2] });
    expect(known.value()).toEqual({ bounded: { session: 'subscribing' } });
    known.send({ type: 'DEVICE_EVENT', event: { attribute: LRC_ATTRIBUTES.status, value: [ID, 'QUEUED'] } });
    known.send({ type: 'SUBSCRIBE_FAILED', attribute: LRC_ATTRIBUTES.status, error: new Error('no') });
    expect(known.outcome()).toBe('notStarted');
    const apart = both({ knownVersions: [5, 6] });
    expect(apart.value()).toBe('notStarted');
    expect(apart.outcome()).toBe('notStarted');
  });

  it('issue 10 item 2: negotiation fails or finds no common version: notStarted', () => {
    const failed = both({});
    expect(failed.value()).toEqual({ bounded: { session: 'negotiating' } });
    failed.send({ type: 'NEGOTIATION_FAILED', error: new Error('down') });
    expect(failed.outcome()).toBe('notStarted');
    const apart = both({});
    apart.send({ type: 'NEGOTIATED', versions: [5, 6] });
    expect(apart.outcome()).toBe('notStarted');
  });

  it('issue 10 item 2: events before the command id are buffered; a rejected or unexpected reply ends notStarted', () => {
    for (const code of [ResultCode.REJECTED, ResultCode.FAILED]) {
      const run = both({});
      run.send(NEGOTIATED_V1);
      run.send(status('QUEUED'));
      run.send({ type: 'SUBSCRIBED' });
      expect(run.value()).toEqual({ bounded: { session: 'invoking' } });
      run.send(status('QUEUED'));
      run.send({ type: 'INVOKED', reply: { code, text: 'no', commandId: undefined }, held: [] });
      expect(run.outcome()).toBe('notStarted');
    }
  });

  it('issue 10 item 2: monitoring follows the status; reconciling checks after an error event, and again later while the check fails; the v1 result read (unbounded) may fail', () => {
    const run = both({ reconcile: true, resultTimeout: Number.POSITIVE_INFINITY });
    run.send(NEGOTIATED_V1);
    run.send({ type: 'SUBSCRIBED' });
    run.send(accepted);
    run.send(status('STAGING'));
    expect(run.value()).toEqual({ bounded: { session: { monitoring: 'staging' } } });
    run.send(status('IN_PROGRESS'));
    expect(run.value()).toEqual({ bounded: { session: { monitoring: 'inProgress' } } });
    run.send(errorEvent);
    expect(run.value()).toEqual({ bounded: { session: { monitoring: { reconciling: 'asked' } } } });
    run.send(status('IN_PROGRESS'));
    run.send({ type: 'STATUS_CHECKED', status: TaskStatus.IN_PROGRESS });
    run.send(errorEvent);
    run.send({ type: 'STATUS_CHECK_FAILED', error: new Error('check failed') });
    // asked again 1 s later, then after 2 s, ...
    expect(run.value()).toEqual({ bounded: { session: { monitoring: 'rechecking' } } });
    clock.advance(999);
    expect(run.value()).toEqual({ bounded: { session: { monitoring: 'rechecking' } } });
    clock.advance(1);
    expect(run.value()).toEqual({ bounded: { session: { monitoring: { reconciling: 'asked' } } } });
    run.send({ type: 'STATUS_CHECK_FAILED', error: new Error('check failed again') });
    clock.advance(1999);
    expect(run.value()).toEqual({ bounded: { session: { monitoring: 'rechecking' } } });
    clock.advance(1);
    run.send({ type: 'STATUS_CHECKED', status: TaskStatus.IN_PROGRESS });
    expect(run.value()).toEqual({ bounded: { session: { monitoring: 'inProgress' } } });
    // an answer resets the waits; an error event while waiting asks at once
    run.send(errorEvent);
    run.send({ type: 'STATUS_CHECK_FAILED', error: new Error('check failed') });
    clock.advance(500);
    run.send(errorEvent);
    expect(run.value()).toEqual({ bounded: { session: { monitoring: { reconciling: 'asked' } } } });
    run.send({ type: 'STATUS_CHECKED', status: TaskStatus.COMPLETED });
    expect(run.value()).toEqual({ bounded: { session: { fetchingResult: 'unbounded' } } });
    run.send({ type: 'RESULT_FAILED', error: new Error('read failed') });
    expect(run.outcome()).toBe('finished');
  });

  it('reconcile: a check answering NOT_FOUND (the device forgot the command) ends the call lost, its deadline disarmed', () => {
    const run = both({ reconcile: true });
    run.send(NEGOTIATED_V1);
    run.send({ type: 'SUBSCRIBED' });
    run.send(accepted);
    run.send(status('IN_PROGRESS'));
    run.send(errorEvent);
    expect(run.value()).toEqual({ bounded: { session: { monitoring: { reconciling: 'asked' } } } });
    const armed = clock.pending;
    run.send({ type: 'STATUS_CHECKED', status: TaskStatus.NOT_FOUND });
    expect(run.value()).toBe('lost');
    expect(run.outcome()).toBe('lost');
    expect(clock.pending).toBeLessThan(armed); // both deadlines (XState's and the runner's) let go
  });

  it('reconcile: an error event while the check is on its way makes a running answer asked again at once', () => {
    const run = both({ reconcile: true });
    run.send(NEGOTIATED_V1);
    run.send({ type: 'SUBSCRIBED' });
    run.send(accepted);
    run.send(status('IN_PROGRESS'));
    run.send(errorEvent);
    run.send(errorEvent);
    expect(run.value()).toEqual({ bounded: { session: { monitoring: { reconciling: 'stale' } } } });
    // the answer may predate what the second outage lost: asked again, no wait
    run.send({ type: 'STATUS_CHECKED', status: TaskStatus.IN_PROGRESS });
    expect(run.value()).toEqual({ bounded: { session: { monitoring: { reconciling: 'asked' } } } });
    run.send({ type: 'STATUS_CHECKED', status: TaskStatus.IN_PROGRESS });
    expect(run.value()).toEqual({ bounded: { session: { monitoring: 'inProgress' } } });
    // a terminal answer ends the call as ever, stale or not
    run.send(errorEvent);
    run.send(errorEvent);
    run.send({ type: 'STATUS_CHECKED', status: TaskStatus.COMPLETED });
    expect(run.value()).toEqual({ bounded: { session: { fetchingResult: 'bounded' } } });
  });

  it("v1: the call's deadline during the result read ends it finished with the held terminal status", () => {
    const run = both({ timeout: 50, resultTimeout: 1000 });
    run.send(NEGOTIATED_V1);
    run.send({ type: 'SUBSCRIBED' });
    run.send(accepted);
    run.send(status('COMPLETED'));
    expect(run.value()).toEqual({ bounded: { session: { fetchingResult: 'bounded' } } });
    clock.advance(50);
    expect(run.value()).toBe('finished');
    expect(run.outcome()).toBe('finished');
  });

  it('issue 10 item 2: a bounded result read times out when no answer comes within resultTimeout', () => {
    const run = both({ resultTimeout: 10 });
    run.send(NEGOTIATED_V1);
    run.send({ type: 'SUBSCRIBED' });
    run.send(accepted);
    run.send(status('COMPLETED'));
    expect(run.value()).toEqual({ bounded: { session: { fetchingResult: 'bounded' } } });
    clock.advance(10);
    expect(run.value()).toBe('finished');
    expect(run.outcome()).toBe('finished');
  });

  it('issue 10 item 2: the deadline ends the call timedOut', () => {
    const run = both({ timeout: 50 });
    run.send(NEGOTIATED_V1);
    clock.advance(50);
    expect(run.outcome()).toBe('timedOut');
  });
});
