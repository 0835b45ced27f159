/**
 * The LRC session (`src/protocols/tango/lrc/session.ts`) on its own, without a facade: the device I/O actor of one
 * `lrc` machine, driven here by a bare parent machine, and its per-device negotiation cache.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ActorRefFrom, assign, createActor, fromCallback, sendTo, setup } from 'xstate';
import type { LrcEvent, LrcIoCommand, LrcIoInput } from '../../machines/tango/lrc.js';
import { lrcMachine } from '../../machines/tango/lrc.js';
import { DevFailed } from '../../src/protocols/tango/errors.js';
import {
  cachedLrcNegotiation,
  forgetLrcNegotiation,
  lrcSession,
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

/** A bare parent: invokes the session, records what it sends back, forwards commands to it. */
const parent = setup({
  types: {
    context: {} as { events: LrcEvent[]; input: LrcIoInput },
    input: {} as LrcIoInput,
    events: {} as LrcEvent | { type: 'COMMAND'; command: LrcIoCommand },
  },
  actors: { session: lrcSession },
}).createMachine({
  context: ({ input }) => ({ events: [], input }),
  invoke: { id: 'io', src: 'session', input: ({ context }) => context.input },
  on: {
    COMMAND: { actions: sendTo('io', ({ event }) => (event as { command: LrcIoCommand }).command) },
    '*': { actions: assign({ events: ({ context, event }) => [...context.events, event as LrcEvent] }) },
  },
});

const input = (device: DevicePort, overrides: Partial<LrcIoInput> = {}): LrcIoInput => ({
  device,
  command: 'On',
  args: undefined,
  cacheNegotiation: false,
  negotiate: true,
  parity: false,
  ...overrides,
});

const actors: ActorRefFrom<typeof parent>[] = [];
function start(i: LrcIoInput) {
  const actor = createActor(parent, { input: i });
  actors.push(actor);
  actor.start();
  return actor;
}
afterEach(() => {
  for (const a of actors.splice(0)) a.stop();
});

describe('issue 8 item 1: the LRC session is its own module', () => {
  it('issue 8 item 1: the session negotiates, subscribes and invokes on its own; stopping it unsubscribes', async () => {
    const d = fakeDevice([[ResultCode.QUEUED], [ID]]);
    const actor = start(input(d.port));
    await flush();
    expect(actor.getSnapshot().context.events).toEqual([{ type: 'NEGOTIATED', versions: [1, 2] }]);
    actor.send({ type: 'COMMAND', command: { type: 'CONNECT', attributes: ['_lrcEvent'] } });
    await flush();
    // an event before the command id waits in the session
    d.emit('_lrcEvent', [ID, JSON.stringify({ status: TaskStatus.QUEUED })]);
    d.emit('_lrcEvent', ['1700000000.0_9_Other', '{"status": 1}']);
    actor.send({ type: 'COMMAND', command: { type: 'INVOKE' } });
    await flush();
    const types = actor.getSnapshot().context.events.map((e) => e.type);
    expect(types).toEqual(['NEGOTIATED', 'SUBSCRIBED', 'INVOKED']);
    expect(d.open()).toBe(1);
    actor.stop();
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
    const actor = start(input(d.port, { negotiate: false }));
    actor.send({ type: 'COMMAND', command: { type: 'CONNECT', attributes: ['_lrcEvent'] } });
    await flush();
    const early = { attribute: '_lrcEvent', value: [ID, '{"progress": 10}'] };
    d.emit(early.attribute, early.value);
    actor.send({ type: 'COMMAND', command: { type: 'INVOKE' } });
    await flush();
    const invoked = actor.getSnapshot().context.events.find((e) => e.type === 'INVOKED');
    expect(invoked).toEqual({
      type: 'INVOKED',
      reply: { code: ResultCode.STARTED, text: ID, commandId: ID },
      held: [early],
    });
    // a reply of another shape: null, never the raw value
    const garbage = fakeDevice('garbage');
    const other = start(input(garbage.port, { negotiate: false }));
    other.send({ type: 'COMMAND', command: { type: 'INVOKE' } });
    await flush();
    expect(other.getSnapshot().context.events).toEqual([{ type: 'INVOKED', reply: null, held: [] }]);
  });

  it('issue 8 item 2: the machine reads only the parsed reply (a deviceIo that sends one drives it to submitted)', async () => {
    const submitted: string[] = [];
    const logic = lrcMachine.provide({
      actors: { deviceIo: parsedOnlyIo },
    });
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

  it('issue 8 item 1: the negotiation cache is per device, kept beside the session', async () => {
    const a = fakeDevice([[ResultCode.QUEUED], [ID]]);
    const b = fakeDevice([[ResultCode.QUEUED], [ID]], [1, 1]);
    start(input(a.port, { cacheNegotiation: true }));
    start(input(a.port, { cacheNegotiation: true }));
    start(input(b.port, { cacheNegotiation: true }));
    await flush();
    // one negotiation for the two sessions on `a`, one of its own for `b`
    expect(a.calls.filter((c) => c === 'attributeList')).toHaveLength(1);
    expect(cachedLrcNegotiation(a.port)).toEqual([1, 2]);
    expect(cachedLrcNegotiation(b.port)).toEqual([1, 1]);
    forgetLrcNegotiation(a.port);
    expect(cachedLrcNegotiation(a.port)).toBeUndefined();
    expect(cachedLrcNegotiation(b.port)).toEqual([1, 1]);
    // a failed negotiation is not kept
    const c = fakeDevice(null, 'not a pair');
    const failing = start(input(c.port, { cacheNegotiation: true }));
    await flush();
    const [event] = failing.getSnapshot().context.events;
    expect(event.type).toBe('NEGOTIATION_FAILED');
    expect((event as { error: unknown }).error).toBeInstanceOf(DevFailed);
    expect(cachedLrcNegotiation(c.port)).toBeUndefined();
  });
});

/** A deviceIo that answers CONNECT and INVOKE with an already parsed reply (no raw reply anywhere). */
const parsedOnlyIo = fromCallback<LrcIoCommand, LrcIoInput, LrcEvent>(({ sendBack, receive }) => {
  receive((command) => {
    if (command.type === 'CONNECT') sendBack({ type: 'SUBSCRIBED' });
    if (command.type === 'INVOKE')
      sendBack({
        type: 'INVOKED',
        reply: { code: ResultCode.QUEUED, text: 'parsed-id', commandId: 'parsed-id' },
        held: [],
      });
  });
});
