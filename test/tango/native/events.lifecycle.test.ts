/**
 * TangoEventConsumer and its system: a closed consumer removes its stop listener (the system would otherwise keep
 * every closed consumer reachable until it stops, one more per `forSystem` after a close); an open one is still
 * closed by the system stopping. And its ZMQ socket: one whose receive fails while it is open is closed and
 * replaced, against a real ZMQ PUB socket on loopback (it used to be kept, and every later subscription was routed
 * to a socket nobody read).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Publisher, Subscriber } from 'zeromq';
import type { EventChannel } from '../../../machines/tango/eventSubscription.js';
import { createSystem, type OrrerySystem } from '../../../src/engine/system.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { TangoClosedError } from '../../../src/protocols/tango/clientErrors.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import { DevFailed } from '../../../src/protocols/tango/errors.js';
import {
  type EventSubscription,
  EventSubscription as EventSubscriptionClass,
  TangoEventConsumer,
} from '../../../src/protocols/tango/events.js';

const systems: OrrerySystem[] = [];
const publishers: Publisher[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of systems.splice(0)) await s.stop();
  for (const p of publishers.splice(0)) p.close();
});

/** A system whose stop listeners are counted (added minus removed). */
function countingSystem(): { system: OrrerySystem; listeners: () => number } {
  const system = createSystem();
  systems.push(system);
  let live = 0;
  const onStop = system.onStop.bind(system);
  vi.spyOn(system, 'onStop').mockImplementation((listener) => {
    const forget = onStop(listener);
    live++;
    let removed = false;
    return () => {
      if (!removed) live--;
      removed = true;
      forget();
    };
  });
  return { system, listeners: () => live };
}

describe('TangoEventConsumer lifecycle', () => {
  it('close() removes the consumer from its system: stop listeners do not grow with consumers closed', async () => {
    const { system, listeners } = countingSystem();
    for (let i = 0; i < 5; i++) {
      const consumer = TangoEventConsumer.forSystem(system);
      expect(listeners()).toBe(1);
      await consumer.close();
      expect(listeners()).toBe(0);
    }
    await new TangoEventConsumer({ system }).close();
    expect(listeners()).toBe(0);
  });

  it('an open consumer is still closed by the system stopping', async () => {
    const { system, listeners } = countingSystem();
    const proxy = new DeviceProxy('tango://127.0.0.1:1/a/b/c#dbase=no', { system });
    const consumer = new TangoEventConsumer({ system });
    expect(listeners()).toBe(1);
    await system.stop();
    await expect(consumer.subscribe(proxy, 'x', () => {})).rejects.toThrow(/closed/);
    expect(listeners()).toBe(0);
  });

  it('a zero period or timeout is refused (confirmMs 0 sent an EventConfirmSubscription on every tick, none awaited)', async () => {
    const { system } = countingSystem();
    for (const option of ['heartbeatTimeoutMs', 'resubscribeMs', 'confirmMs']) {
      expect(() => new TangoEventConsumer({ system, [option]: 0 })).toThrow(InvalidArgumentError);
      expect(() => new TangoEventConsumer({ system, [option]: 0 })).toThrow(option);
      // Infinity: never
      await new TangoEventConsumer({ system, [option]: Number.POSITIVE_INFINITY }).close();
    }
  });

  it('an event name it cannot deliver is refused before any I/O (it subscribed, then dropped every event)', async () => {
    const { system } = countingSystem();
    const proxy = new DeviceProxy('tango://127.0.0.1:1/a/b/c#dbase=no', { system });
    const consumer = new TangoEventConsumer({ system });
    for (const eventName of ['attr_conf', 'data_ready', 'intr_change', 42]) {
      await expect(
        consumer.subscribe(proxy, 'x', () => {}, { eventName: eventName as 'change' }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(consumer.subscriptionCount).toBe(0);
    await consumer.close();
  });
});

describe("TangoEventConsumer's admin proxies", () => {
  it("are one per device and system: a device's proxies on two other systems get an admin each, and one system's stop drops and closes its own (they shared the first system's, broken once it stopped)", async () => {
    const systems3 = [createSystem(), createSystem(), createSystem()] as const;
    systems.push(...systems3);
    const [own, first, second] = systems3;
    const consumer = new TangoEventConsumer({ system: own });
    const proxyOn = (system: OrrerySystem) => {
      const proxy = new DeviceProxy('tango://127.0.0.1:1/test/lrc/1#dbase=no', { system });
      vi.spyOn(proxy, 'adminName').mockResolvedValue('dserver/lrcdevice/inst');
      return proxy;
    };
    const onFirst = await consumer.adminOf(proxyOn(first));
    const onSecond = await consumer.adminOf(proxyOn(second));
    // (compared as booleans: a failing toBe would print the systems, whose `inspect` method is no formatter)
    expect(onFirst.system === first).toBe(true);
    expect(onSecond.system === second).toBe(true);
    expect((await consumer.adminOf(proxyOn(second))) === onSecond).toBe(true);
    await first.stop();
    expect(onFirst.closed).toBe(true);
    expect(onSecond.closed).toBe(false);
    expect((await consumer.adminOf(proxyOn(second))) === onSecond).toBe(true);
    await consumer.close();
    expect(onSecond.closed).toBe(true);
  });
});

describe("TangoEventConsumer's ZMQ socket", () => {
  const CHANNEL = 'tango://127.0.0.1:10000/dserver/fixture/inst#dbase=no';
  const HEARTBEAT_TOPIC = `${CHANNEL}.heartbeat`;

  /** A subscription as the consumer's routing sees it: it counts the heartbeats routed to it. */
  function routedSub() {
    let heartbeats = 0;
    const sub = {
      send: (e: { type: string }) => {
        if (e.type === 'HEARTBEAT') heartbeats++;
      },
    } as unknown as EventSubscription;
    return { sub, heartbeats: () => heartbeats };
  }

  /** Publishes heartbeats (3 frames, as a server's heartbeat socket) until `got()` or 5 s have passed. */
  async function heartbeatUntil(pub: Publisher, got: () => boolean): Promise<boolean> {
    const deadline = performance.now() + 5_000;
    while (!got() && performance.now() < deadline) {
      await pub.send([HEARTBEAT_TOPIC, Buffer.from([1]), Buffer.alloc(8)]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return got();
  }

  it('a socket whose receive fails while open is closed and dropped: the next subscription gets a new one and its messages; releasing one routed on the old socket does not touch the new one', async () => {
    const system = createSystem();
    systems.push(system);
    const pub = new Publisher({ linger: 0 });
    publishers.push(pub);
    await pub.bind('tcp://127.0.0.1:*');
    const endpoint = pub.lastEndpoint as string;
    const channel: EventChannel = {
      heartbeatEndpoint: endpoint,
      eventEndpoint: endpoint,
      topic: 'tango://127.0.0.1:10000/test/fixture/1/counter#dbase=no.idl5_change',
      channel: CHANNEL,
    };
    const close = vi.spyOn(Subscriber.prototype, 'close');
    // the first socket's first receive fails (libzmq's error on a socket that is still open)
    vi.spyOn(Subscriber.prototype, 'receive').mockRejectedValueOnce(new Error('receive failed on purpose'));
    const consumer = new TangoEventConsumer({ system });
    const first = routedSub();
    const routing = consumer.route(first.sub, channel, HEARTBEAT_TOPIC);
    const dead = consumer.socket;
    await routing;

    const second = routedSub();
    await consumer.route(second.sub, channel, HEARTBEAT_TOPIC);
    expect(await heartbeatUntil(pub, () => second.heartbeats() > 0)).toBe(true);
    expect(consumer.socket).not.toBe(dead);
    expect(dead?.closed).toBe(true);
    expect(close).toHaveBeenCalledTimes(1);
    // the first subscription lets go of its routing (as it does on its heartbeat loss, to re-subscribe): the new
    // socket keeps the second one's endpoint and topics
    consumer.unroute(first.sub, channel, HEARTBEAT_TOPIC);
    expect(consumer.socket?.endpoints.get(endpoint)).toBe(2);
    expect(consumer.socket?.topics.get(HEARTBEAT_TOPIC)).toBe(1);
    await consumer.close();
    expect(close).toHaveBeenCalledTimes(2);
  });

  it('a message on a topic no subscription wants is dropped before it is decoded (its malformed payload is not counted); one on a wanted topic still is', async () => {
    const system = createSystem();
    systems.push(system);
    const pub = new Publisher({ linger: 0 });
    publishers.push(pub);
    await pub.bind('tcp://127.0.0.1:*');
    const endpoint = pub.lastEndpoint as string;
    const channelOf = (attribute: string): EventChannel => ({
      heartbeatEndpoint: endpoint,
      eventEndpoint: endpoint,
      topic: `tango://127.0.0.1:10000/test/fixture/1/${attribute}#dbase=no.idl5_change`,
      channel: CHANNEL,
    });
    const unwanted = channelOf('gone');
    const wanted = channelOf('counter');
    // an event whose payload lacks the 0xDEC0DEC0 pad: decoding it fails (and is counted in `malformed`)
    const bad = (topic: string) => [topic, Buffer.from([1]), Buffer.alloc(16), Buffer.alloc(8)];
    const consumer = new TangoEventConsumer({ system });
    // the topic stays subscribed on the socket after its last subscription ended (another client keeps its
    // events flowing): its messages still arrive
    const ended = routedSub();
    await consumer.route(ended.sub, unwanted, HEARTBEAT_TOPIC);
    consumer.unroute(ended.sub, unwanted, HEARTBEAT_TOPIC);
    const live = routedSub();
    await consumer.route(live.sub, wanted, HEARTBEAT_TOPIC);
    // the wanted topic's SUBSCRIBE (sent after the unwanted one's) has reached the publisher once a message on it
    // arrives
    const deadline = performance.now() + 5_000;
    while (consumer.malformed === 0 && performance.now() < deadline) {
      await pub.send(bad(wanted.topic));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(consumer.malformed).toBeGreaterThan(0);
    // drain: every message sent so far has been handled once a heartbeat sent after them arrives
    let seen = live.heartbeats();
    expect(await heartbeatUntil(pub, () => live.heartbeats() > seen)).toBe(true);
    const before = consumer.malformed;
    await pub.send(bad(unwanted.topic));
    await pub.send(bad(wanted.topic));
    seen = live.heartbeats();
    expect(await heartbeatUntil(pub, () => live.heartbeats() > seen)).toBe(true);
    // only the wanted one was decoded (the unwanted one used to be decoded, then dropped)
    expect(consumer.malformed).toBe(before + 1);
    await consumer.close();
  });
});

let memorySubscriptionOf: (
  callback: (e: { errors?: unknown; value?: { value: unknown } }) => void,
  device?: DeviceProxy,
  reply?: { lvalue: number[]; svalue: string[] },
) => { sub: EventSubscription; answerRead: (v: unknown) => void; ready: Promise<void> };

describe('EventSubscription: unsubscribe() from inside the callback', () => {
  const CHANNEL: EventChannel = {
    heartbeatEndpoint: 'tcp://127.0.0.1:1',
    eventEndpoint: 'tcp://127.0.0.1:2',
    topic: 'tango://vm:1/test/lrc/1/counter#dbase=no.idl5_change',
    channel: 'tango://vm:1/dserver/lrcdevice/inst',
  };

  /**
   * A subscription on a consumer and proxy that answer in memory: the admin answers ZmqEventSubscriptionChange with
   * CHANNEL, routing is at once, and the first read answers when `answerRead(value)` is called.
   */
  function memorySubscription(
    callback: (e: { errors?: unknown; value?: { value: unknown } }) => void,
    device?: DeviceProxy,
    reply?: { lvalue: number[]; svalue: string[] },
  ) {
    const system = device?.system ?? createSystem();
    if (!device) systems.push(system);
    let answerRead: (value: unknown) => void = () => {};
    const admin = {
      commandInoutRaw: async () => ({
        type: 'DevVarLongStringArray',
        value: reply ?? {
          lvalue: [934, 5, 1000, 0, 0, 434],
          svalue: [CHANNEL.heartbeatEndpoint, CHANNEL.eventEndpoint, CHANNEL.topic, CHANNEL.channel],
        },
      }),
    };
    const consumer = {
      system,
      adminOf: async () => admin,
      route: async () => {},
      unroute: () => {},
      confirm: async () => {},
    };
    const read = () =>
      new Promise((resolve) => {
        answerRead = (value) => resolve({ value });
      });
    if (device) vi.spyOn(device, 'readAttribute').mockImplementation(read as never);
    const proxy = device ?? { name: 'test/lrc/1', system, readAttribute: read, onClose: () => () => {} };
    let sub!: EventSubscription;
    const ready = new Promise<void>((resolve, reject) => {
      sub = new EventSubscriptionClass(
        consumer as never,
        proxy as never,
        'counter',
        callback as never,
        {
          eventName: 'change',
          timing: { heartbeatTimeoutMs: 15_000, resubscribeMs: 10_000, confirmMs: 200_000 },
        },
        { resolve, reject },
      );
    });
    ready.catch(() => {});
    return { sub, answerRead: (v: unknown) => answerRead(v), ready };
  }
  memorySubscriptionOf = memorySubscription;

  const event = (ctr: number, value: number) =>
    ({ type: 'ZMQ_EVENT', ctr, payload: new Uint8Array([ctr, value]), value: { value } }) as const;

  it('stops the deliveries at once: the events held during the first read are not delivered after it', async () => {
    const seen: unknown[] = [];
    const m = memorySubscription((e) => {
      seen.push(e.value?.value ?? e.errors);
      m.sub.unsubscribe();
    });
    await vi.waitFor(() => expect(m.sub.state).toBe('reading'));
    m.sub.send(event(1, 1));
    m.sub.send(event(2, 2));
    m.answerRead(0);
    await vi.waitFor(() => expect(m.sub.state).toBe('unsubscribed'));
    expect(seen).toEqual([0]);
  });

  it('stops the deliveries at once: the event after an API_MissedEvents report is not delivered', async () => {
    const seen: unknown[] = [];
    let stop = false;
    const m = memorySubscription((e) => {
      seen.push(e.errors ? 'errors' : e.value?.value);
      if (stop) m.sub.unsubscribe();
    });
    await vi.waitFor(() => expect(m.sub.state).toBe('reading'));
    m.answerRead(0);
    await vi.waitFor(() => expect(m.sub.state).toBe('active'));
    m.sub.send(event(1, 1));
    stop = true;
    m.sub.send(event(5, 5)); // 2, 3, 4 missed: the report, then the event
    expect(m.sub.state).toBe('unsubscribed');
    expect(seen).toEqual([0, 1, 'errors']);
  });
});

describe('EventSubscription of a device older than IDL 5', () => {
  it('fails with API_NotSupportedFeature naming the IDL version (its events, on a topic without idl5_, were never delivered: the subscription stayed active with nothing arriving)', async () => {
    const seen: unknown[] = [];
    const m = memorySubscriptionOf((e) => seen.push(e.value?.value ?? e.errors), undefined, {
      // a cppTango 9.3.4 server with an IDL 4 device: the topic it publishes on has no idl5_ prefix
      lvalue: [934, 4, 1000, 0, 0, 434],
      svalue: [
        'tcp://127.0.0.1:1',
        'tcp://127.0.0.1:2',
        'tango://vm:1/test/lrc/1/counter#dbase=no.change',
        'tango://vm:1/dserver/lrcdevice/inst',
      ],
    });
    // (it used to go on to the first read, answered here, then sit in `active`)
    await vi.waitFor(() => expect(['reading', 'failed']).toContain(m.sub.state));
    if (m.sub.state === 'reading') m.answerRead(0);
    const error = await m.ready.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DevFailed);
    const errors = (error as DevFailed).errors;
    expect(errors[0].reason).toBe('API_NotSupportedFeature');
    expect(errors[0].desc).toContain('IDL 4');
    expect(errors.at(-1)?.reason).toBe('API_EventSubscriptionFailed');
    expect(m.sub.state).toBe('failed');
    expect(seen).toEqual([]);
  });
});

describe('EventSubscription and its DeviceProxy', () => {
  it("ends when the proxy it was made with is closed (cppTango's DeviceProxy destructor unsubscribes its events)", async () => {
    const system = createSystem();
    systems.push(system);
    const proxy = new DeviceProxy('tango://127.0.0.1:1/test/lrc/1#dbase=no', { system });
    const seen: unknown[] = [];
    const m = memorySubscriptionOf((e) => seen.push(e.value?.value ?? e.errors), proxy);
    await vi.waitFor(() => expect(m.sub.state).toBe('reading'));
    m.answerRead(0);
    await vi.waitFor(() => expect(m.sub.state).toBe('active'));
    await proxy.close();
    // it used to live on: events still delivered, and every re-subscription's read failed with TangoClosedError
    expect(m.sub.state).toBe('unsubscribed');
    m.sub.send({ type: 'ZMQ_EVENT', ctr: 1, payload: new Uint8Array([1]), value: { value: 1 } });
    expect(seen).toEqual([0]);
  });

  it('a closed proxy cannot subscribe (TangoClosedError)', async () => {
    const system = createSystem();
    systems.push(system);
    const proxy = new DeviceProxy('tango://127.0.0.1:1/test/lrc/1#dbase=no', { system });
    await proxy.close();
    const consumer = new TangoEventConsumer({ system });
    await expect(consumer.subscribe(proxy, 'counter', () => {})).rejects.toBeInstanceOf(TangoClosedError);
    expect(consumer.subscriptionCount).toBe(0);
    await consumer.close();
  });
});
