/**
 * The Tango event subscription machine (`machines/tango/eventSubscription.ts`) on its own, under a TestClock:
 * named scenarios for its lifecycle, then a model-based property test (arbitrary sequences of server answers,
 * events, heartbeats, time and unsubscription, checked against a model after every step), and every declared
 * transition taken.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, type InspectionEvent } from 'xstate';
import {
  DEFAULT_CONFIRM_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_RESUBSCRIBE_MS,
  type DeliveredEvent,
  type EventChannel,
  type EventSubscriptionEvent,
  eventSubscriptionMachine,
  MAX_HELD_EVENTS,
} from '../../../machines/tango/eventSubscription.js';
import { TestClock } from '../../../src/testing/testClock.js';
import { transitionCoverage } from '../../../src/testing/transitionCoverage.js';
import { propertyRuns } from '../../support/propertyRuns.js';
import { recordTransitions } from '../../support/transitions.js';

const coverage = transitionCoverage();
// the suite's own coverage, and the repository-wide record the transition check reads
const inspect = (e: InspectionEvent) => {
  coverage.inspect(e);
  recordTransitions(e);
};
const CHANNEL: EventChannel = {
  heartbeatEndpoint: 'tcp://127.0.0.1:1',
  eventEndpoint: 'tcp://127.0.0.1:2',
  topic: 'tango://vm:1/test/lrc/1/counter#dbase=no.idl5_change',
  channel: 'tango://vm:1/dserver/lrcdevice/inst',
};
const ERR = [{ reason: 'API_CantConnect', desc: 'down', origin: 'test', severity: 'ERR' as const }];

function harness() {
  const clock = new TestClock();
  const calls: string[] = [];
  const delivered: DeliveredEvent[] = [];
  const logic = eventSubscriptionMachine.provide({
    actions: {
      subscribe: () => calls.push('subscribe'),
      readValue: () => calls.push('read'),
      deliver: (_, params) => delivered.push(...params.events),
      confirm: () => calls.push('confirm'),
      release: () => calls.push('release'),
    },
  });
  const actor = createActor(logic, {
    input: { device: 'test/lrc/1', attribute: 'counter' },
    clock,
    inspect,
  } as never);
  actor.start();
  const state = () => {
    const s = actor.getSnapshot();
    return typeof s.value === 'string' ? s.value : Object.keys(s.value)[0];
  };
  // a final machine takes nothing more (XState would warn about each event)
  const send = (e: EventSubscriptionEvent) => {
    if (actor.getSnapshot().status === 'active') actor.send(e);
  };
  const zmq = (ctr: number, value: unknown, bytes = [ctr, Number(value)]) =>
    send({ type: 'ZMQ_EVENT', ctr, payload: Uint8Array.from(bytes), value });
  return { clock, calls, delivered, actor, state, send, zmq };
}

const view = (e: DeliveredEvent) => (e.errors ? e.errors[0].reason : `${e.source}:${e.value}`);

describe('issue 12 item 3: the event subscription machine', () => {
  it('issue 12 item 3: subscribe, the first read first (events meanwhile held), then events de-duplicated by counter', () => {
    const h = harness();
    expect(h.state()).toBe('subscribing');
    expect(h.calls).toEqual(['subscribe']);
    h.send({ type: 'SUBSCRIBED', channel: CHANNEL });
    expect(h.calls).toEqual(['subscribe', 'read']);
    h.zmq(7, 1);
    h.zmq(7, 1); // the server's double send
    h.send({ type: 'READ_DONE', value: 0 });
    h.zmq(8, 2);
    h.zmq(8, 2);
    h.zmq(10, 4); // 9 missed: reported, then delivered
    expect(h.delivered.map(view)).toEqual(['read:0', 'event:1', 'event:2', 'API_MissedEvents', 'event:4']);
    expect(h.actor.getSnapshot().context.duplicates).toBe(2);
    expect(h.actor.getSnapshot().context.missed).toBe(1);
    h.send({ type: 'UNSUBSCRIBE' });
    expect(h.state()).toBe('unsubscribed');
    expect(h.calls.at(-1)).toBe('release');
    expect(h.clock.pending).toBe(0);
  });

  it('events that arrive while subscribing (another subscription of the attribute already routes its topic) are held: the first read is still the first delivery', () => {
    const h = harness();
    h.zmq(5, 5);
    h.zmq(5, 5);
    h.zmq(6, 6);
    expect(h.delivered).toEqual([]);
    h.send({ type: 'SUBSCRIBED', channel: CHANNEL });
    h.zmq(7, 7);
    h.send({ type: 'READ_DONE', value: 4 });
    expect(h.delivered.map(view)).toEqual(['read:4', 'event:5', 'event:6', 'event:7']);
    // a subscription that fails drops what it held
    const f = harness();
    f.zmq(1, 1);
    f.send({ type: 'SUBSCRIBE_FAILED', errors: ERR });
    expect(f.state()).toBe('failed');
    expect(f.delivered).toEqual([]);
  });

  it('issue 12 item 3: without a database (counter always 0), only identical bytes are duplicates', () => {
    const h = harness();
    h.send({ type: 'SUBSCRIBED', channel: CHANNEL });
    h.send({ type: 'READ_DONE', value: 0 });
    h.zmq(0, 1);
    h.zmq(0, 1);
    h.zmq(0, 2);
    h.zmq(0, 1);
    expect(h.delivered.map(view)).toEqual(['read:0', 'event:1', 'event:2', 'event:1']);
  });

  it('issue 12 item 3: heartbeats keep it active; none for 15 s: API_EventTimeout, re-subscription every 10 s until it answers', () => {
    const h = harness();
    h.send({ type: 'SUBSCRIBED', channel: CHANNEL });
    h.send({ type: 'READ_FAILED', errors: ERR });
    expect(h.delivered.map(view)).toEqual(['API_CantConnect']);
    for (let i = 0; i < 5; i++) {
      h.clock.advance(10_000);
      h.send({ type: 'HEARTBEAT' });
    }
    expect(h.state()).toBe('active');
    h.clock.advance(DEFAULT_HEARTBEAT_TIMEOUT_MS);
    expect(h.delivered.map(view).at(-1)).toBe('API_EventTimeout');
    expect(h.state()).toBe('resubscribing');
    h.send({ type: 'SUBSCRIBE_FAILED', errors: ERR });
    expect(h.state()).toBe('retrying');
    h.zmq(3, 3); // a late event from the old connection still arrives
    h.clock.advance(DEFAULT_RESUBSCRIBE_MS);
    expect(h.state()).toBe('resubscribing');
    expect(h.calls.filter((c) => c === 'subscribe')).toHaveLength(3);
    h.send({ type: 'SUBSCRIBED', channel: { ...CHANNEL, eventEndpoint: 'tcp://127.0.0.1:3' } });
    h.send({ type: 'READ_DONE', value: 5 });
    expect(h.delivered.map(view)).toEqual(['API_CantConnect', 'API_EventTimeout', 'event:3', 'read:5']);
    expect(h.actor.getSnapshot().context.subscriptions).toBe(2);
    h.send({ type: 'UNSUBSCRIBE' });
  });

  it('issue 12 item 3: EventConfirmSubscription every 200 s while active', () => {
    const h = harness();
    h.send({ type: 'SUBSCRIBED', channel: CHANNEL });
    h.send({ type: 'READ_DONE', value: 0 });
    for (let t = 0; t < 2 * DEFAULT_CONFIRM_MS; t += 5000) {
      h.clock.advance(5000);
      h.send({ type: 'HEARTBEAT' });
    }
    expect(h.calls.filter((c) => c === 'confirm')).toHaveLength(2);
    expect(h.state()).toBe('active');
    h.send({ type: 'UNSUBSCRIBE' });
  });

  it('issue 12 item 3: a first subscription that fails ends failed; unsubscribing while subscribing or reading ends unsubscribed', () => {
    const a = harness();
    a.send({ type: 'SUBSCRIBE_FAILED', errors: ERR });
    expect(a.state()).toBe('failed');
    expect(a.actor.getSnapshot().status).toBe('done');
    expect(a.calls).toEqual(['subscribe', 'release']);
    const b = harness();
    b.send({ type: 'UNSUBSCRIBE' });
    expect(b.state()).toBe('unsubscribed');
    const c = harness();
    c.send({ type: 'SUBSCRIBED', channel: CHANNEL });
    c.zmq(1, 1);
    c.send({ type: 'UNSUBSCRIBE' });
    expect(c.state()).toBe('unsubscribed');
    expect(c.delivered).toEqual([]);
  });

  it(`issue 12 item 3: at most ${MAX_HELD_EVENTS} events are held during the first read (the oldest dropped)`, () => {
    const h = harness();
    h.send({ type: 'SUBSCRIBED', channel: CHANNEL });
    for (let i = 1; i <= MAX_HELD_EVENTS + 10; i++) h.zmq(i, i);
    h.send({ type: 'READ_DONE', value: 0 });
    expect(h.delivered).toHaveLength(MAX_HELD_EVENTS + 1);
    expect(h.delivered[1].value).toBe(11);
  });
});

type Step =
  | { kind: 'subscribed' }
  | { kind: 'subscribeFailed' }
  | { kind: 'readDone' }
  | { kind: 'readFailed' }
  | { kind: 'event'; repeat: boolean }
  | { kind: 'heartbeat' }
  | { kind: 'advance'; ms: number }
  | { kind: 'unsubscribe' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'subscribed' } as Step) },
  { weight: 1, arbitrary: fc.constant({ kind: 'subscribeFailed' } as Step) },
  { weight: 3, arbitrary: fc.constant({ kind: 'readDone' } as Step) },
  { weight: 1, arbitrary: fc.constant({ kind: 'readFailed' } as Step) },
  { weight: 5, arbitrary: fc.boolean().map((repeat) => ({ kind: 'event', repeat }) as Step) },
  { weight: 3, arbitrary: fc.constant({ kind: 'heartbeat' } as Step) },
  {
    weight: 3,
    arbitrary: fc.integer({ min: 1, max: 30_000 }).map((ms) => ({ kind: 'advance', ms }) as Step),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'unsubscribe' } as Step) },
);

describe('issue 12 item 3: the subscription machine against a model', () => {
  it('issue 12 item 3: delivered events follow the model (first read first, no repeats, a timeout error on every loss)', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const h = harness();
        // the model
        let state = 'subscribing';
        let lastBeat = 0;
        let ctr = 0;
        let lastDeliveredCtr: number | null = null;
        let held = 0;
        let expected = 0;
        let subscribeCalls = 1;
        let retryAt = 0;
        for (const s of steps) {
          switch (s.kind) {
            case 'subscribed':
              h.send({ type: 'SUBSCRIBED', channel: CHANNEL });
              // (the events held while first subscribing go on being de-duplicated among themselves)
              if (state === 'resubscribing') lastDeliveredCtr = null;
              if (state === 'subscribing' || state === 'resubscribing') state = 'reading';
              break;
            case 'subscribeFailed':
              h.send({ type: 'SUBSCRIBE_FAILED', errors: ERR });
              if (state === 'subscribing') state = 'failed';
              else if (state === 'resubscribing') {
                state = 'retrying';
                retryAt = h.clock.now() + DEFAULT_RESUBSCRIBE_MS;
              }
              break;
            case 'readDone':
            case 'readFailed':
              if (s.kind === 'readDone') h.send({ type: 'READ_DONE', value: -1 });
              else h.send({ type: 'READ_FAILED', errors: ERR });
              if (state === 'reading') {
                state = 'active';
                lastBeat = h.clock.now();
                expected += 1 + held;
                held = 0;
              }
              break;
            case 'event': {
              if (!s.repeat) ctr++;
              h.zmq(ctr, ctr);
              const fresh = lastDeliveredCtr !== ctr;
              if (state === 'subscribing' || state === 'reading') {
                if (fresh) held++;
                lastDeliveredCtr = ctr;
              } else if (state !== 'failed' && state !== 'unsubscribed' && fresh) {
                expected++;
                lastDeliveredCtr = ctr;
              }
              break;
            }
            case 'heartbeat':
              h.send({ type: 'HEARTBEAT' });
              if (state === 'active') lastBeat = h.clock.now();
              break;
            case 'advance': {
              let left = s.ms;
              // walk the model's own deadlines through the advance
              while (left > 0) {
                const now = h.clock.now();
                let next = left;
                if (state === 'active') next = Math.min(next, lastBeat + DEFAULT_HEARTBEAT_TIMEOUT_MS - now);
                if (state === 'retrying') next = Math.min(next, retryAt - now);
                h.clock.advance(next);
                left -= next;
                if (state === 'active' && h.clock.now() - lastBeat >= DEFAULT_HEARTBEAT_TIMEOUT_MS) {
                  state = 'resubscribing';
                  subscribeCalls++;
                  expected++; // the API_EventTimeout error event
                } else if (state === 'retrying' && h.clock.now() >= retryAt) {
                  state = 'resubscribing';
                  subscribeCalls++;
                }
              }
              break;
            }
            case 'unsubscribe':
              h.send({ type: 'UNSUBSCRIBE' });
              if (state !== 'failed') state = 'unsubscribed';
              break;
          }
          expect(h.state()).toBe(state);
          expect(h.delivered).toHaveLength(expected);
          expect(h.calls.filter((c) => c === 'subscribe')).toHaveLength(subscribeCalls);
          // no event delivered twice in a row
          const d = h.delivered;
          for (let i = 1; i < d.length; i++)
            if (d[i].source === 'event' && d[i - 1].source === 'event' && !d[i].errors && !d[i - 1].errors)
              expect(d[i].value).not.toBe(d[i - 1].value);
          // a timer exists only in active (heartbeat, confirmation) and retrying
          const timers = state === 'active' ? 2 : state === 'retrying' ? 1 : 0;
          expect(h.clock.pending).toBe(timers);
        }
        h.actor.stop();
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it('issue 12 item 3: every declared transition was taken', () => {
    expect(coverage.missing(eventSubscriptionMachine)).toEqual([]);
  });
});
