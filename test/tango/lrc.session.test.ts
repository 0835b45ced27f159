/**
 * The LRC session (`src/protocols/tango/lrc/session.ts`) on its own, without a facade: the device I/O of the `lrc`
 * calls of one device, driven here directly (as the machine's I/O actions do), and its negotiation cache.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { LrcEvent } from '../../machines/tango/lrc.js';
import { lrcMachine } from '../../machines/tango/lrc.js';
import { DevFailed } from '../../src/protocols/tango/errors.js';
import {
  cachedLrcNegotiation,
  forgetLrcNegotiation,
  type LrcCall,
  type LrcCallSpec,
  LrcDeviceSession,
} from '../../src/protocols/tango/lrc/session.js';
import type { AttributeEvent, DevicePort } from '../../src/protocols/tango/port.js';
import { ResultCode, TaskStatus } from '../../src/protocols/tango/wire.js';
import { flush } from './support/lrcHarness.js';

const ID = '1700000000.0_1_On';

/** A device answering what it is given, counting its calls; events are pushed with `emit`. */
function fakeDevice(reply: unknown, versions: unknown = [1, 2]) {
  const calls: string[] = [];
  const listeners = new Map<string, (e: AttributeEvent) => void>();
  let open = 0;
  const port: DevicePort = {
    name: 'test/fake/1',
    async attributeList() {
      calls.push('attributeList');
      return ['lrcProtocolVersions', '_lrcEvent'];
    },
    async readAttribute(attribute) {
      calls.push(`read ${attribute}`);
      return versions;
    },
    async commandInout(command) {
      calls.push(`command ${command}`);
      return reply;
    },
    async subscribeChangeEvent(attribute, callback) {
      calls.push(`subscribe ${attribute}`);
      listeners.set(attribute, callback);
      open++;
      return () => {
        if (listeners.delete(attribute)) open--;
      };
    },
  };
  const emit = (attribute: string, value: unknown) => listeners.get(attribute)?.({ attribute, value });
  return { port, calls, emit, open: () => open };
}

/** A call as the session sees it: a target recording what it is sent. */
function target() {
  const events: LrcEvent[] = [];
  return { events, send: (e: LrcEvent) => void events.push(e) };
}

const spec = (overrides: Partial<LrcCallSpec> = {}): LrcCallSpec => ({
  command: 'On',
  args: undefined,
  parity: false,
  cacheNegotiation: false,
  ...overrides,
});

const calls: LrcCall[] = [];
function open(device: DevicePort, s: LrcCallSpec = spec()) {
  const t = target();
  const call = LrcDeviceSession.of(device).open(t, s);
  calls.push(call);
  return { call, events: t.events };
}
afterEach(() => {
  for (const c of calls.splice(0)) c.close();
});

describe('issue 8 item 1: the LRC session is its own module', () => {
  it('issue 8 item 1: the session negotiates, subscribes and invokes on its own; closing the call unsubscribes', async () => {
    const d = fakeDevice([[ResultCode.QUEUED], [ID]]);
    const { call, events } = open(d.port);
    call.negotiate();
    await flush();
    expect(events).toEqual([{ type: 'NEGOTIATED', versions: [1, 2] }]);
    call.connect(['_lrcEvent']);
    await flush();
    // an event before the command id waits in the session
    d.emit('_lrcEvent', [ID, JSON.stringify({ status: TaskStatus.QUEUED })]);
    d.emit('_lrcEvent', ['1700000000.0_9_Other', '{"status": 1}']);
    call.invoke();
    await flush();
    expect(events.map((e) => e.type)).toEqual(['NEGOTIATED', 'SUBSCRIBED', 'INVOKED']);
    expect(d.open()).toBe(1);
    call.close();
    expect(d.open()).toBe(0);
    expect(d.calls).toEqual([
      'attributeList',
      'read lrcProtocolVersions',
      'subscribe _lrcEvent',
      'command On',
    ]);
  });

  it('issue 8 item 2: the session parses the reply once and hands the machine the parsed reply and the held events', async () => {
    const d = fakeDevice([[ResultCode.STARTED], [ID]]);
    const { call, events } = open(d.port);
    call.connect(['_lrcEvent']);
    await flush();
    const early = { attribute: '_lrcEvent', value: [ID, '{"progress": 10}'] };
    d.emit(early.attribute, early.value);
    call.invoke();
    await flush();
    expect(events.find((e) => e.type === 'INVOKED')).toEqual({
      type: 'INVOKED',
      reply: { code: ResultCode.STARTED, text: ID, commandId: ID },
      held: [early],
    });
    // a reply of another shape: null, never the raw value
    const garbage = fakeDevice('garbage');
    const other = open(garbage.port);
    other.call.invoke();
    await flush();
    expect(other.events).toEqual([{ type: 'INVOKED', reply: null, held: [] }]);
  });

  it('issue 8 item 2: the machine reads only the parsed reply (I/O actions that send one drive it to submitted)', async () => {
    const submitted: string[] = [];
    const logic = lrcMachine.provide({ actions: parsedOnlyIo });
    const actor = createActor(logic, {
      input: { device: fakeDevice(null).port, command: 'On', callback: () => {}, knownVersions: [2, 2] },
    });
    actor.on('lrc.submitted', (e) => submitted.push(e.commandId));
    actor.start();
    await flush();
    expect(submitted).toEqual(['parsed-id']);
    expect(actor.getSnapshot().context.replyCode).toBe(ResultCode.QUEUED);
    actor.stop();
  });

  it('issue 8 item 1: the negotiation cache is per device, kept in its session', async () => {
    const a = fakeDevice([[ResultCode.QUEUED], [ID]]);
    const b = fakeDevice([[ResultCode.QUEUED], [ID]], [1, 1]);
    for (const port of [a.port, a.port, b.port])
      open(port, spec({ cacheNegotiation: true })).call.negotiate();
    await flush();
    // one negotiation for the two calls on `a`, one of its own for `b`
    expect(a.calls.filter((c) => c === 'attributeList')).toHaveLength(1);
    expect(cachedLrcNegotiation(a.port)).toEqual([1, 2]);
    expect(cachedLrcNegotiation(b.port)).toEqual([1, 1]);
    forgetLrcNegotiation(a.port);
    expect(cachedLrcNegotiation(a.port)).toBeUndefined();
    expect(cachedLrcNegotiation(b.port)).toEqual([1, 1]);
    // a failed negotiation is not kept
    const c = fakeDevice(null, 'not a pair');
    const failing = open(c.port, spec({ cacheNegotiation: true }));
    failing.call.negotiate();
    await flush();
    const [event] = failing.events;
    expect(event.type).toBe('NEGOTIATION_FAILED');
    expect((event as { error: unknown }).error).toBeInstanceOf(DevFailed);
    expect(cachedLrcNegotiation(c.port)).toBeUndefined();
  });
});

/** I/O actions that answer connect and invoke with an already parsed reply (no raw reply anywhere). */
const parsedOnlyIo = {
  connect: ({ self }: { self: { send: (e: LrcEvent) => void } }) => self.send({ type: 'SUBSCRIBED' }),
  invoke: ({ self }: { self: { send: (e: LrcEvent) => void } }) =>
    self.send({
      type: 'INVOKED',
      reply: { code: ResultCode.QUEUED, text: 'parsed-id', commandId: 'parsed-id' },
      held: [],
    }),
};
