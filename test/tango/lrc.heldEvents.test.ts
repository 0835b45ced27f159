/**
 * Issue 10 item 6: the events a call gets with INVOKED from its device session are exactly those a per-call
 * subscription would have held: the last `MAX_BUFFERED_EVENTS` value events on its attributes since it joined
 * them, in arrival order, those naming its command id (whatever the number of attributes, calls and events);
 * without `parity`, less the v1 status repeats that live routing drops too.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LrcEvent, MAX_BUFFERED_EVENTS } from '../../machines/tango/lrc.js';
import { LrcDeviceSession } from '../../src/protocols/tango/lrc/session.js';
import type { AttributeEvent, DevicePort } from '../../src/protocols/tango/port.js';
import { ResultCode } from '../../src/protocols/tango/wire.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { flush } from './support/lrcHarness.js';

const ATTRIBUTES = ['longRunningCommandStatus', 'longRunningCommandProgress', 'longRunningCommandResult'];
const IDS = ['A', 'B', 'C'];

type Sent = [attribute: number, id: number];

function harness() {
  const listeners = new Map<string, (e: AttributeEvent) => void>();
  const replies: ((r: unknown) => void)[] = [];
  const port: DevicePort = {
    name: 'test/held/1',
    attributeList: async () => ATTRIBUTES,
    readAttribute: async () => [1, 1],
    commandInout: () => new Promise((r) => replies.push(r)),
    subscribeChangeEvent: async (a, cb) => {
      listeners.set(a, cb);
      return () => listeners.delete(a);
    },
  };
  const open = async (attributes: readonly string[]) => {
    const events: LrcEvent[] = [];
    const call = LrcDeviceSession.of(port).open(
      { send: (e) => void events.push(e) },
      { command: 'Go', args: undefined, parity: true, cacheNegotiation: false },
    );
    call.connect(attributes);
    await flush();
    return { call, events };
  };
  let n = 0;
  const event = ([a, id]: Sent): AttributeEvent => ({
    attribute: ATTRIBUTES[a],
    value: [IDS[id], `${n++}`],
  });
  // an event on an attribute nobody subscribed to is not sent (the device would not)
  const send = (sent: Sent[]) =>
    sent.map((s) => {
      const e = event(s);
      listeners.get(e.attribute)?.(e);
      return e;
    });
  return { open, send, replies };
}

const sent = ([minLength, maxLength]: readonly [number, number]) =>
  fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })), {
    minLength,
    maxLength,
    size: 'max',
  });

const heldOf = (events: LrcEvent[]) =>
  (events.find((e) => e.type === 'INVOKED') as Extract<LrcEvent, { type: 'INVOKED' }>).held;

/** What a per-call subscription held: its last MAX_BUFFERED_EVENTS events, those naming `id`. */
const expected = (events: AttributeEvent[], attributes: readonly string[], id: string) =>
  events
    .filter((e) => attributes.includes(e.attribute))
    .slice(-MAX_BUFFERED_EVENTS)
    .filter((e) => (e.value as string[])[0] === id);

describe('issue 10 item 6: events held until the command id is known', () => {
  for (const [what, before, after] of [
    ['few events', [0, 20], [0, 40]],
    // late alone overflows every subscription: the per-call limit applies across the attributes
    [
      'more than MAX_BUFFERED_EVENTS',
      [0, MAX_BUFFERED_EVENTS],
      [3 * MAX_BUFFERED_EVENTS, 3 * MAX_BUFFERED_EVENTS + 300],
    ],
  ] as const) {
    it(`issue 10 item 6: INVOKED holds what a per-call subscription would have (${what}, calls joining at different times, 1-3 attributes)`, async () => {
      await fc.assert(
        fc.asyncProperty(
          sent(before),
          sent(after),
          fc.integer({ min: 1, max: 3 }),
          fc.boolean(),
          async (early, late, count, sameAttributes) => {
            const h = harness();
            const aAttrs = ATTRIBUTES.slice(0, count);
            const bAttrs = sameAttributes ? aAttrs : ATTRIBUTES.slice(3 - count);
            const a = await h.open(aAttrs);
            // b makes the subscriptions a lacks: events on them reach only b
            const first = h.send(early);
            const b = await h.open(bAttrs);
            const second = h.send(late);
            a.call.invoke();
            b.call.invoke();
            h.replies[0]([[ResultCode.QUEUED], ['A']]);
            h.replies[1]([[ResultCode.QUEUED], ['B']]);
            await flush();
            expect(heldOf(a.events)).toEqual(expected([...first, ...second], aAttrs, 'A'));
            expect(heldOf(b.events)).toEqual(expected(second, bAttrs, 'B'));
            a.call.close();
            b.call.close();
          },
        ),
        { numRuns: propertyRuns(what === 'few events' ? 200 : 20) },
      );
    });
  }
});

describe('issue 10 item 6: held v1 statuses without parity', () => {
  it('issue 10 item 6: INVOKED drops the held v1 status repeats live routing drops (valid statuses only), then routing goes on from the last one', async () => {
    let listener: ((e: AttributeEvent) => void) | undefined;
    let reply: ((r: unknown) => void) | undefined;
    const port: DevicePort = {
      name: 'test/held/2',
      attributeList: async () => ATTRIBUTES,
      readAttribute: async () => [1, 1],
      commandInout: () => new Promise((r) => (reply = r)),
      subscribeChangeEvent: async (_a, cb) => {
        listener = cb;
        return () => (listener = undefined);
      },
    };
    const events: LrcEvent[] = [];
    const call = LrcDeviceSession.of(port).open(
      { send: (e) => void events.push(e) },
      { command: 'Go', args: undefined, parity: false, cacheNegotiation: false },
    );
    call.connect([ATTRIBUTES[0]]);
    await flush();
    const status = (...pairs: string[]): AttributeEvent => ({ attribute: ATTRIBUTES[0], value: pairs });
    const sent = [
      status('A', 'STAGING'),
      status('A', 'STAGING', 'B', 'STAGING'),
      status('A', 'QUEUED', 'B', 'STAGING'),
      status('A', 'QUEUED', 'B', 'QUEUED'),
      status('A', 'BOGUS'),
      status('A', 'BOGUS'),
      status('B', 'QUEUED'),
      status('A', 'QUEUED'),
    ];
    for (const e of sent) listener!(e);
    call.invoke();
    reply!([[ResultCode.QUEUED], ['A']]);
    await flush();
    // not a status (BOGUS) is never remembered: both kept, and QUEUED after them still repeats the last status
    expect(heldOf(events)).toEqual([sent[0], sent[2], sent[4], sent[5]]);
    const live = [status('A', 'QUEUED'), status('A', 'IN_PROGRESS', 'B', 'QUEUED')];
    for (const e of live) listener!(e);
    expect(events.filter((e) => e.type === 'DEVICE_EVENT')).toEqual([
      { type: 'DEVICE_EVENT', event: live[1] },
    ]);
    call.close();
  });
});
