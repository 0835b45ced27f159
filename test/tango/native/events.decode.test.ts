/**
 * Tango's ZMQ event messages as the PyTango fixture (cppTango 9.3.4, no database) published them, captured with a
 * plain zeromq SUB socket: a value event, the same event double-sent, an error event, a heartbeat and the 1-frame
 * "I like beer"; and TangoTest, which pushes no events without polling, refusing a subscription with its reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../../src/engine/system.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import { DevFailed } from '../../../src/protocols/tango/errors.js';
import { decodeZmqMessage, parseSubscriptionReply } from '../../../src/protocols/tango/eventDecode.js';
import { TangoEventConsumer } from '../../../src/protocols/tango/events.js';
import { GiopProtocolError } from '../../../src/protocols/tango/giop/errors.js';
import { startTangoTest, type TangoTestServer } from './support/tangoTest.js';

const hex = (h: string) => Buffer.from(h, 'hex');
const TOPIC = 'tango://vm:23459/test/lrc/1/counter#dbase=no.idl5_change';
const CALL = hex('010000000000000001000000007f00000000000000');
const COUNTER_1 = hex(
  'c0dec0de0200000001000000010000000000000000000000030000001eb90f6b582a0f000000000008000000636f756e746572000100000000000000000000000000000000000000',
);
const ERROR_CALL = hex('010000000000000001000000007f00000000000001');
const ERROR = hex(
  'c0dec0de0100000015000000466978747572655f436f756e7465724572726f72002b0f00010000001a000000636f756e746572206661696c6564206f6e20707572706f73650000000a0000004c726344657669636500',
);

describe('issue 12 item 3: ZMQ event messages of a real server', () => {
  it('issue 12 item 3: a value event (AttributeValue_5 after the 0xDEC0DEC0 pad), counter 0 without a database', () => {
    const m = decodeZmqMessage([Buffer.from(TOPIC), hex('01'), CALL, COUNTER_1]);
    expect(m.kind).toBe('event');
    if (m.kind !== 'event') return;
    expect(m.ctr).toBe(0);
    expect(m.value?.name).toBe('counter');
    expect(m.value?.value).toEqual({ kind: 'ATT_LONG', value: [1] });
    expect(m.payload).toEqual(COUNTER_1);
  });
  it('issue 12 item 3: an error event (call_is_except) carries the DevErrorList', () => {
    const m = decodeZmqMessage([Buffer.from(TOPIC), hex('01'), ERROR_CALL, ERROR]);
    expect(m).toMatchObject({
      kind: 'event',
      errors: [
        {
          reason: 'Fixture_CounterError',
          desc: 'counter failed on purpose',
          origin: 'LrcDevice',
          severity: 'ERR',
        },
      ],
    });
  });
  it('issue 12 item 3: heartbeats, "I like beer" and events of other kinds', () => {
    const beat = 'tango://vm:23459/dserver/lrcdevice/inst#dbase=no.heartbeat';
    const garbage = hex('010000002f67616d0100000000393a390000000000');
    expect(decodeZmqMessage([Buffer.from(beat), hex('01'), garbage])).toEqual({
      kind: 'heartbeat',
      topic: beat,
    });
    expect(decodeZmqMessage([Buffer.from('I like beer')]).kind).toBe('ignored');
    const conf = TOPIC.replace('idl5_change', 'idl5_attr_conf');
    expect(decodeZmqMessage([Buffer.from(conf), hex('01'), CALL, COUNTER_1]).kind).toBe('ignored');
  });
  it('issue 12 item 3: malformed messages raise GiopProtocolError only', () => {
    const bad = [
      [Buffer.from(TOPIC), hex('07'), CALL, COUNTER_1],
      [Buffer.from(TOPIC), hex('01'), CALL, hex('00000000')],
      [Buffer.from(TOPIC), hex('01'), CALL, COUNTER_1.subarray(0, 30)],
      [Buffer.from(TOPIC), hex('01'), CALL.subarray(0, 6), COUNTER_1],
    ];
    for (const frames of bad) expect(() => decodeZmqMessage(frames)).toThrow(GiopProtocolError);
  });
  it('issue 12 item 3: the ZmqEventSubscriptionChange answer (endpoints, topic, channel)', () => {
    const info = parseSubscriptionReply(
      [934, 5, 1000, 327700, 65535, 434],
      ['tcp://127.0.0.1:40729', 'tcp://127.0.0.1:36955', TOPIC, 'tango://vm:23459/dserver/lrcdevice/inst'],
    );
    expect(info).toMatchObject({
      tangoRelease: 934,
      heartbeatEndpoint: 'tcp://127.0.0.1:40729',
      eventEndpoint: 'tcp://127.0.0.1:36955',
      topic: TOPIC,
      channel: 'tango://vm:23459/dserver/lrcdevice/inst',
      alternates: [],
    });
    expect(() => parseSubscriptionReply([934], ['tcp://x', TOPIC])).toThrow(GiopProtocolError);
  });
});

describe('issue 12 item 3: TangoTest without a database', () => {
  let tangoTest: TangoTestServer;
  let system: OrrerySystem;
  beforeAll(async () => {
    tangoTest = await startTangoTest();
    system = createSystem();
  }, 30_000);
  afterAll(async () => {
    await system?.stop();
    await tangoTest?.stop();
  });
  it('issue 12 item 3: pushes no change events (no polling): the subscription fails with the server reason', async () => {
    const consumer = new TangoEventConsumer({ system });
    const proxy = new DeviceProxy(tangoTest.name, { system });
    try {
      const err = await consumer.subscribe(proxy, 'double_scalar', () => {}).catch((e) => e);
      expect(err).toBeInstanceOf(DevFailed);
      expect(err.errors.map((e: { reason: string }) => e.reason)).toContain('API_AttributePollingNotStarted');
      expect(err.errors.at(-1).reason).toBe('API_EventSubscriptionFailed');
    } finally {
      await consumer.close();
      await proxy.close();
    }
  }, 30_000);
});
