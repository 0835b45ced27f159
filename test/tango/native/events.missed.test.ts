/**
 * cppTango's missed-event report in the event subscription machine (`machines/tango/eventSubscription.ts`), under a
 * TestClock: when an event's counter is ahead of the last delivered one by 2 or more, an `API_MissedEvents` error
 * event (cppTango's strings, word for word) comes before it. Named scenarios for upstream's conditions (counter
 * arithmetic modulo 2^32, no check for the first event nor after counter 0, error events checked too, events held
 * during the first read, a re-subscription), then a property over arbitrary counter sequences against a model.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  type DeliveredEvent,
  type EventChannel,
  type EventSubscriptionEvent,
  eventSubscriptionMachine,
  missedBefore,
} from '../../../machines/tango/eventSubscription.js';
import { TestClock } from '../../../src/testing/testClock.js';
import { propertyRuns } from '../../support/propertyRuns.js';
import { recordTransitions } from '../../support/transitions.js';

const CHANNEL: EventChannel = {
  heartbeatEndpoint: 'tcp://127.0.0.1:1',
  eventEndpoint: 'tcp://127.0.0.1:2',
  topic: 'tango://127.0.0.1:10000/test/lrc/1/counter.idl5_change',
  channel: 'tango://127.0.0.1:10000/dserver/lrcdevice/inst',
};
/** What cppTango's ZmqEventConsumer::push_zmq_event() gives the callback before an event after a gap. */
const MISSED = {
  attribute: 'counter',
  errors: [
    {
      reason: 'API_MissedEvents',
      desc: 'Missed some events! Zmq queue has reached HWM?',
      origin: 'ZmqEventConsumer::push_zmq_event()',
      severity: 'ERR',
    },
  ],
  source: 'event',
};
const SERVER_ERR = [
  { reason: 'API_AttrValueNotSet', desc: 'no value', origin: 'test', severity: 'ERR' as const },
];

/** 8 payload bytes: the counter and the value, so two events differ in bytes unless they are the same message. */
function bytesOf(ctr: number, value: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, ctr >>> 0, true);
  v.setUint32(4, value >>> 0, true);
  return b;
}

function harness() {
  const clock = new TestClock();
  const delivered: DeliveredEvent[] = [];
  const logic = eventSubscriptionMachine.provide({
    actions: { deliver: (_, params) => delivered.push(...params.events) },
  });
  const actor = createActor(logic, {
    input: { device: 'test/lrc/1', attribute: 'counter' },
    clock,
    inspect: recordTransitions,
  } as never);
  actor.start();
  const state = () => {
    const s = actor.getSnapshot();
    return typeof s.value === 'string' ? s.value : Object.keys(s.value)[0];
  };
  const send = (e: EventSubscriptionEvent) => actor.send(e);
  const zmq = (ctr: number, value: number) =>
    send({ type: 'ZMQ_EVENT', ctr, payload: bytesOf(ctr, value), value });
  const start = () => {
    send({ type: 'SUBSCRIBED', channel: CHANNEL });
    send({ type: 'READ_DONE', value: -1 });
  };
  /** Heartbeat lost, then the server answers again (on new ports) and the new read arrives. */
  const resubscribe = (readValue: number) => {
    clock.advance(DEFAULT_HEARTBEAT_TIMEOUT_MS);
    send({ type: 'SUBSCRIBED', channel: { ...CHANNEL, eventEndpoint: 'tcp://127.0.0.1:3' } });
    send({ type: 'READ_DONE', value: readValue });
  };
  return { clock, delivered, actor, state, send, zmq, start, resubscribe };
}

const view = (e: DeliveredEvent) => (e.errors ? e.errors[0].reason : `${e.source}:${String(e.value)}`);

describe('issue 12 item 3: missed events (a counter gap) reported as cppTango does', () => {
  it('issue 12 item 3: a jump of 2 or more gives one API_MissedEvents error event, with upstream strings, before the event', () => {
    const h = harness();
    h.start();
    h.zmq(1, 1);
    h.zmq(2, 2);
    h.zmq(4, 4); // 3 missed
    h.zmq(5, 5);
    h.zmq(9, 9); // 6, 7, 8 missed
    expect(h.delivered.map(view)).toEqual([
      'read:-1',
      'event:1',
      'event:2',
      'API_MissedEvents',
      'event:4',
      'event:5',
      'API_MissedEvents',
      'event:9',
    ]);
    expect(h.delivered[3]).toEqual(MISSED);
    expect(h.delivered[6]).toEqual(MISSED);
    expect(h.actor.getSnapshot().context.missed).toBe(4);
    expect(h.actor.getSnapshot().context.delivered).toBe(5);
  });

  it("issue 12 item 3: upstream's counter arithmetic: modulo 2^32 as a signed 32-bit number, none for the first event or after 0", () => {
    expect(missedBefore(null, 5)).toBe(0); // the first event of a subscription
    expect(missedBefore(0, 5)).toBe(0); // after counter 0 (cppTango takes ctr - 1 as the last one)
    expect(missedBefore(5, 6)).toBe(0);
    expect(missedBefore(5, 7)).toBe(1);
    expect(missedBefore(5, 1005)).toBe(999);
    expect(missedBefore(57, 1)).toBe(0); // back: a restarted server
    expect(missedBefore(57, 0)).toBe(0);
    expect(missedBefore(0xffff_ffff, 0)).toBe(0); // wraps by one
    expect(missedBefore(0xffff_ffff, 2)).toBe(2);
    expect(missedBefore(1, 2 ** 31)).toBe(2 ** 31 - 2); // the largest forward step
    expect(missedBefore(1, 2 ** 31 + 1)).toBe(0); // a negative 32-bit difference
  });

  it('issue 12 item 3: without a database (counter always 0) there is never a report', () => {
    const h = harness();
    h.start();
    for (const v of [1, 2, 2, 7, 3]) h.zmq(0, v);
    expect(h.delivered.map(view)).toEqual(['read:-1', 'event:1', 'event:2', 'event:7', 'event:3']);
    expect(h.actor.getSnapshot().context.missed).toBe(0);
  });

  it('issue 12 item 3: an error event after a gap is reported too, and a duplicate of it is dropped', () => {
    const h = harness();
    h.start();
    h.zmq(3, 3);
    h.send({ type: 'ZMQ_EVENT', ctr: 6, payload: bytesOf(6, 0), errors: SERVER_ERR });
    h.send({ type: 'ZMQ_EVENT', ctr: 6, payload: bytesOf(6, 0), errors: SERVER_ERR });
    h.zmq(7, 7);
    expect(h.delivered.map(view)).toEqual([
      'read:-1',
      'event:3',
      'API_MissedEvents',
      'API_AttrValueNotSet',
      'event:7',
    ]);
  });

  it('issue 12 item 3: events held during the first read: the read first, a gap among them reported, none before the first', () => {
    const h = harness();
    h.send({ type: 'SUBSCRIBED', channel: CHANNEL });
    h.zmq(40, 40); // the first event: no last counter to compare with
    h.zmq(40, 40); // the double send
    h.zmq(43, 43);
    h.send({ type: 'READ_DONE', value: 39 });
    h.zmq(44, 44);
    expect(h.delivered.map(view)).toEqual([
      'read:39',
      'event:40',
      'API_MissedEvents',
      'event:43',
      'event:44',
    ]);
    expect(h.delivered[2]).toEqual(MISSED);
    expect(h.actor.getSnapshot().context).toMatchObject({ missed: 2, duplicates: 1, delivered: 3 });
  });

  it('issue 12 item 3: no report across a re-subscription: a restarted server (counter back to 1) or one that went on counting', () => {
    const h = harness();
    h.start();
    h.zmq(56, 56);
    h.zmq(57, 57);
    h.resubscribe(100); // restarted: counts from 1 again, its first event sent twice
    h.zmq(1, 101);
    h.zmq(1, 101);
    h.zmq(2, 102);
    h.resubscribe(200); // an outage: the server went on counting
    h.zmq(90, 290);
    h.zmq(92, 292); // a gap after the re-subscription is reported again
    expect(h.delivered.map(view)).toEqual([
      'read:-1',
      'event:56',
      'event:57',
      'API_EventTimeout',
      'read:100',
      'event:101',
      'event:102',
      'API_EventTimeout',
      'read:200',
      'event:290',
      'API_MissedEvents',
      'event:292',
    ]);
    expect(h.actor.getSnapshot().context.subscriptions).toBe(3);
  });
});

type Op =
  | { kind: 'event'; how: 'next' | 'repeat' | 'sameCtr' | 'zero' | 'wrap'; n: number }
  | { kind: 'event'; how: 'gap' | 'any'; n: number }
  | { kind: 'lose' }
  | { kind: 'subscribed' }
  | { kind: 'read' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'event', how: 'next', n: 0 } as Op) },
  { weight: 2, arbitrary: fc.constant({ kind: 'event', how: 'repeat', n: 0 } as Op) },
  { weight: 1, arbitrary: fc.constant({ kind: 'event', how: 'sameCtr', n: 0 } as Op) },
  {
    weight: 3,
    arbitrary: fc.integer({ min: 2, max: 1000 }).map((n) => ({ kind: 'event', how: 'gap', n }) as Op),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'event', how: 'zero', n: 0 } as Op) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 3 }).map((n) => ({ kind: 'event', how: 'wrap', n }) as Op),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }).map((n) => ({ kind: 'event', how: 'any', n }) as Op),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'lose' } as Op) },
  { weight: 1, arbitrary: fc.constant({ kind: 'subscribed' } as Op) },
  { weight: 1, arbitrary: fc.constant({ kind: 'read' } as Op) },
);

/** The signed 32-bit value of a difference of two unsigned 32-bit counters, written out. */
function signed32(d: number): number {
  if (d >= 2 ** 31) return d - 2 ** 32;
  if (d < -(2 ** 31)) return d + 2 ** 32;
  return d;
}

describe('issue 12 item 3: missed-event reports against a model', () => {
  it('issue 12 item 3: the delivered stream is the fresh events in order, one API_MissedEvents before each after a gap of >= 2', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const h = harness();
        h.start();
        // the model
        const expected: string[] = ['read:-1'];
        let state: 'active' | 'resubscribing' | 'reading' = 'active';
        let held: string[] = [];
        let last: { ctr: number; value: number } | null = null;
        let prev: { ctr: number; value: number } | null = null;
        let ctr = 0;
        let value = 0;
        let reads = 0;
        let missed = 0; // counted as delivered (held events at the read)
        let heldMissed = 0;
        for (const o of ops) {
          switch (o.kind) {
            case 'event': {
              let message: { ctr: number; value: number };
              if (o.how === 'repeat' && prev) message = prev;
              else {
                value++;
                if (o.how === 'sameCtr') ctr = prev ? prev.ctr : ctr;
                else if (o.how === 'gap') ctr = (ctr + o.n) % 2 ** 32;
                else if (o.how === 'zero') ctr = 0;
                else if (o.how === 'wrap') ctr = 2 ** 32 - 1 - o.n;
                else if (o.how === 'any') ctr = o.n;
                else ctr = (ctr + 1) % 2 ** 32;
                message = { ctr, value };
              }
              prev = message;
              h.zmq(message.ctr, message.value);
              // a duplicate: the last counter again (with counter 0: the same message again)
              const duplicate =
                last !== null &&
                message.ctr === last.ctr &&
                (message.ctr !== 0 || message.value === last.value);
              if (duplicate) break;
              const out: string[] = [];
              if (last !== null && last.ctr !== 0) {
                const step = signed32(message.ctr - last.ctr);
                if (step >= 2) {
                  out.push('API_MissedEvents');
                  if (state === 'reading') heldMissed += step - 1;
                  else missed += step - 1;
                }
              }
              out.push(`event:${message.value}`);
              last = message;
              if (state === 'reading') held.push(...out);
              else expected.push(...out);
              break;
            }
            case 'lose':
              if (state !== 'active') break;
              h.clock.advance(DEFAULT_HEARTBEAT_TIMEOUT_MS);
              expected.push('API_EventTimeout');
              state = 'resubscribing';
              break;
            case 'subscribed':
              if (state !== 'resubscribing') break;
              h.send({ type: 'SUBSCRIBED', channel: { ...CHANNEL, eventEndpoint: 'tcp://127.0.0.1:3' } });
              state = 'reading';
              last = null; // a new subscription: no last counter
              break;
            case 'read':
              if (state !== 'reading') break;
              reads++;
              h.send({ type: 'READ_DONE', value: 1000 + reads });
              expected.push(`read:${1000 + reads}`, ...held);
              held = [];
              missed += heldMissed;
              heldMissed = 0;
              state = 'active';
              break;
          }
          expect(h.state()).toBe(state);
          expect(h.delivered.map(view)).toEqual(expected);
          expect(h.actor.getSnapshot().context.missed).toBe(missed);
        }
        // every report is cppTango's, and an event follows it
        for (const [i, d] of h.delivered.entries()) {
          if (d.errors?.[0].reason !== 'API_MissedEvents') continue;
          expect(d).toEqual(MISSED);
          expect(h.delivered[i + 1]?.source).toBe('event');
          expect(h.delivered[i + 1]?.errors).toBeUndefined();
        }
        h.actor.stop();
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it('issue 12 item 3: without a database (every counter 0) no report, whatever the values, repeats and re-subscriptions', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(-1)), { maxLength: 40 }),
        (steps) => {
          const h = harness();
          h.start();
          let reads = 0;
          for (const s of steps) {
            if (s === -1) h.resubscribe(++reads);
            else h.zmq(0, s);
          }
          expect(h.delivered.filter((d) => d.errors?.[0].reason === 'API_MissedEvents')).toEqual([]);
          expect(h.actor.getSnapshot().context.missed).toBe(0);
          h.actor.stop();
        },
      ),
      { numRuns: propertyRuns(200) },
    );
  });
});
