/**
 * Tango change events over ZMQ, natively: `TangoEventConsumer` (cppTango's `ZmqEventConsumer`) subscribes with
 * `ZmqEventSubscriptionChange` on the device's admin device, listens on one ZMQ SUB socket for every server's
 * heartbeats and events, and runs one `eventSubscription` machine per subscription (first read delivered as the
 * first event, de-duplication by counter, an `API_MissedEvents` error event before an event that follows a
 * counter gap, heartbeat supervision, re-confirmation every 200 s, on heartbeat loss an
 * `API_EventTimeout` error event then re-subscription every 10 s until the server answers, on new ports if it
 * restarted).
 *
 *   const events = TangoEventConsumer.forSystem(system);          // or new TangoEventConsumer({ system })
 *   const sub = await events.subscribe(proxy, 'counter', (e) => console.log(e.errors ?? e.value?.value));
 *   ...
 *   sub.unsubscribe();
 *
 * A subscription ends when it is unsubscribed, when its consumer closes, or when the `DeviceProxy` it was made with
 * is closed (as cppTango's `~DeviceProxy` unsubscribes its events); a closed proxy cannot subscribe.
 * `subscribe` resolves once the first read was delivered; it rejects with a `DevFailed` (reason
 * `API_EventSubscriptionFailed` on top of the server's stack) when the server refuses or cannot be reached. A
 * callback that throws is its own problem (the error is logged, delivery goes on).
 */
import { checkPeriod } from '../../../machines/core/duration.js';
import type { EventChannel } from '../../../machines/tango/eventSubscription.js';
import { getDefaultSystem, type OrrerySystem } from '../../engine/system.js';
import { InvalidArgumentError } from '../../errors.js';
import { TangoClosedError } from './clientErrors.js';
import { DeviceProxy } from './deviceProxy.js';
import type { DeviceAttribute } from './deviceTypes.js';
import { toDeviceAttribute } from './deviceValues.js';
import type { DevError } from './errors.js';
import { confirmSubscriptionArgs, decodeZmqMessage, eventTopicOf } from './eventDecode.js';
import { EventSubscription, errorsOf } from './eventSubscriber.js';
import { formatDeviceName, parseDeviceName } from './tangoName.js';
import { ZmqEventSocket } from './zmqSubscriber.js';

/** What a subscription's callback gets: a value (a `DeviceAttribute`, as `readAttribute` gives), or errors. */
export interface TangoEvent {
  device: string;
  attribute: string;
  value?: DeviceAttribute;
  errors?: readonly DevError[];
  /** 'read': the first synchronous read (or the read after a re-subscription); 'event': from the server. */
  source: 'read' | 'event';
}

export type TangoEventCallback = (event: TangoEvent) => void;

export interface TangoEventConsumerOptions {
  system?: OrrerySystem;
  /**
   * No heartbeat for this long: the subscription is lost (default 15 s; servers send one every 10 s). This and the
   * two periods below must be more than 0 (Infinity: never), else InvalidArgumentError.
   */
  heartbeatTimeoutMs?: number;
  /** Re-subscription attempts after a loss, every (default 10 s). */
  resubscribeMs?: number;
  /** EventConfirmSubscription, every (default 200 s). */
  confirmMs?: number;
}

/** The events whose payload is an attribute value (the others' messages are dropped by `decodeZmqMessage`). */
const EVENT_NAMES = ['change', 'periodic', 'archive', 'user_event'] as const;

export interface SubscribeOptions {
  /** Tango event name (default 'change'; also 'periodic', 'archive', 'user_event'). */
  eventName?: (typeof EVENT_NAMES)[number];
}

const consumers = new WeakMap<OrrerySystem, TangoEventConsumer>();

/** The key heartbeats are routed by: the channel name, lower case, without `#dbase=no`. */
function channelKey(channel: string): string {
  return channel.replace(/#dbase=no$/, '').toLowerCase();
}
const HEARTBEAT = '.heartbeat';

export { EventSubscription, errorsOf };

export class TangoEventConsumer {
  readonly system: OrrerySystem;
  readonly #timing: Required<Omit<TangoEventConsumerOptions, 'system'>>;
  #socket: ZmqEventSocket | null = null;
  /** The socket each routed subscription was routed on (its routing is released there, not on a newer socket). */
  readonly #routedOn = new Map<EventSubscription, ZmqEventSocket>();
  readonly #byTopic = new Map<string, Set<EventSubscription>>();
  readonly #byChannel = new Map<string, Set<EventSubscription>>();
  /**
   * Admin proxies by system, then device (an admin proxy lives on its device proxy's system: one shared across
   * systems broke when its system stopped), with the stop listener that drops a system's own.
   */
  readonly #admins = new Map<
    OrrerySystem,
    { proxies: Map<string, Promise<DeviceProxy>>; forget: () => void }
  >();
  readonly #subscriptions = new Set<EventSubscription>();
  #closed = false;
  /** Removes the system's stop listener (a closed consumer is not kept alive by its system). */
  #forgetStop: () => void = () => {};
  /**
   * Messages that did not decode (GiopProtocolError), for the inspector and tests (events on a topic nobody wants
   * are dropped undecoded).
   */
  malformed = 0;

  constructor(options: TangoEventConsumerOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentError('TangoEventConsumer options must be an object');
    this.system = options.system ?? getDefaultSystem();
    this.#timing = {
      heartbeatTimeoutMs: checkPeriod('heartbeatTimeoutMs', options.heartbeatTimeoutMs) ?? 15_000,
      resubscribeMs: checkPeriod('resubscribeMs', options.resubscribeMs) ?? 10_000,
      confirmMs: checkPeriod('confirmMs', options.confirmMs) ?? 200_000,
    };
    this.#forgetStop = this.system.onStop(() => void this.close());
  }

  /** The system's own consumer (made on first use, closed when the system stops). */
  static forSystem(system: OrrerySystem = getDefaultSystem()): TangoEventConsumer {
    let consumer = consumers.get(system);
    if (!consumer || consumer.#closed) {
      consumer = new TangoEventConsumer({ system });
      consumers.set(system, consumer);
    }
    return consumer;
  }

  /** Open subscriptions. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** The ZMQ socket (null before the first subscription, after close() and once its receive failed). */
  get socket(): ZmqEventSocket | null {
    return this.#socket;
  }

  /** Subscribe to an attribute's events; resolves once the first read was delivered. */
  async subscribe(
    proxy: DeviceProxy,
    attribute: string,
    callback: TangoEventCallback,
    options: SubscribeOptions = {},
  ): Promise<EventSubscription> {
    if (!(proxy instanceof DeviceProxy)) throw new InvalidArgumentError('subscribe needs a DeviceProxy');
    if (typeof attribute !== 'string' || attribute === '')
      throw new InvalidArgumentError('subscribe needs an attribute name');
    if (typeof callback !== 'function') throw new InvalidArgumentError('subscribe needs a callback function');
    if (this.#closed) throw new InvalidArgumentError('this TangoEventConsumer is closed');
    const eventName = options?.eventName ?? 'change';
    if (!(EVENT_NAMES as readonly unknown[]).includes(eventName))
      throw new InvalidArgumentError(
        `eventName must be change, periodic, archive or user_event, got ${String(eventName)}`,
      );
    // an alias is resolved first: the subscription names the device (cppTango subscribes with the device name)
    await proxy.resolveName();
    if (this.#closed) throw new InvalidArgumentError('this TangoEventConsumer is closed');
    // (a subscription ends when its proxy closes)
    if (proxy.closed) throw new TangoClosedError(`DeviceProxy ${proxy.name} is closed`);
    let sub!: EventSubscription;
    await new Promise<void>((resolve, reject) => {
      sub = new EventSubscription(
        this,
        proxy,
        attribute,
        callback,
        { eventName, timing: this.#timing },
        {
          resolve,
          reject,
        },
      );
      this.#subscriptions.add(sub);
      sub.actor.subscribe({ complete: () => this.#subscriptions.delete(sub) });
      if (sub.actor.getSnapshot().status !== 'active') this.#subscriptions.delete(sub);
    });
    return sub;
  }

  /** The admin device of `proxy`'s server (one proxy per admin device, owned by the consumer). */
  adminOf(proxy: DeviceProxy): Promise<DeviceProxy> {
    const key = proxy.fullName.toLowerCase();
    let admins = this.#admins.get(proxy.system);
    if (!admins) {
      const system = proxy.system;
      const entry = { proxies: new Map<string, Promise<DeviceProxy>>(), forget: () => {} };
      this.#admins.set(system, entry);
      admins = entry;
      // another system's admin proxies go when it stops (the consumer's own system closes the consumer)
      if (system !== this.system) {
        entry.forget = system.onStop(() => {
          if (this.#admins.get(system) !== entry) return;
          this.#admins.delete(system);
          void closeAll([...entry.proxies.values()]);
        });
      }
    }
    const proxies = admins.proxies;
    let admin = proxies.get(key);
    if (!admin) {
      admin = proxy.adminName().then((name) => {
        const parsed = parseDeviceName(proxy.fullName);
        // lower case: without a database the object key is the name as the server registered it, in lower case
        return new DeviceProxy(formatDeviceName({ ...parsed, device: name.toLowerCase() }), {
          system: proxy.system,
          timeout: proxy.timeout,
        });
      });
      const made = admin;
      made.catch(() => {
        if (proxies.get(key) === made) proxies.delete(key);
      });
      proxies.set(key, admin);
    }
    return admin;
  }

  /** EventConfirmSubscription for one subscription (answer not awaited by the machine; failures ignored). */
  async confirm(sub: EventSubscription, eventName: string): Promise<void> {
    try {
      const admin = await this.adminOf(sub.proxy);
      await admin.commandInoutRaw('EventConfirmSubscription', {
        type: 'DevVarStringArray',
        value: confirmSubscriptionArgs([{ device: sub.device, attribute: sub.attribute, eventName }]),
      });
    } catch {
      // a lost server shows as a lost heartbeat
    }
  }

  /** Route a subscription's topic and heartbeats to it; resolves once both endpoints are connected. */
  async route(sub: EventSubscription, channel: EventChannel, heartbeatTopic: string): Promise<void> {
    const socket = this.#ensureSocket();
    this.#routedOn.set(sub, socket);
    const known = socket.endpoints;
    // a server that came back on new ports: the old endpoints nobody uses any more are let go
    if (!known.has(channel.eventEndpoint)) socket.prune();
    socket.subscribe(channel.topic);
    socket.subscribe(heartbeatTopic);
    add(this.#byTopic, channel.topic, sub);
    add(this.#byChannel, channelKey(channel.channel), sub);
    await Promise.all([socket.connect(channel.heartbeatEndpoint), socket.connect(channel.eventEndpoint)]);
    // a new connection or topic: the publisher's time to take the subscription in (ZMQ's slow joiner)
    await socket.settled(channel.eventEndpoint, channel.topic);
  }

  unroute(sub: EventSubscription, channel: EventChannel, heartbeatTopic: string): void {
    remove(this.#byTopic, channel.topic, sub);
    remove(this.#byChannel, channelKey(channel.channel), sub);
    const socket = this.#routedOn.get(sub);
    this.#routedOn.delete(sub);
    if (!socket) return;
    socket.unsubscribe(channel.topic);
    socket.unsubscribe(heartbeatTopic);
    socket.release(channel.heartbeatEndpoint);
    socket.release(channel.eventEndpoint);
  }

  #ensureSocket(): ZmqEventSocket {
    if (this.#socket) return this.#socket;
    const socket = new ZmqEventSocket(
      (frames) => this.#dispatch(frames),
      (error) => {
        // a socket whose receive failed closed itself: the next route makes a new one; the subscriptions routed on
        // it get no more heartbeats, so they report API_EventTimeout and re-subscribe (onto the new one), as after
        // any lost server
        if (socket.closed && this.#socket === socket) this.#socket = null;
        this.system.logger.warn({ err: error }, 'Tango event socket failed');
      },
    );
    this.#socket = socket;
    return socket;
  }

  #dispatch(frames: Buffer[]): void {
    // an event on a topic no subscription wants (its subscriptions ended, while the topic stays subscribed and
    // another client keeps its events flowing) is dropped before its payload is decoded
    const topic = eventTopicOf(frames);
    if (topic !== undefined && !this.#byTopic.get(topic)?.size) return;
    let message: ReturnType<typeof decodeZmqMessage>;
    try {
      message = decodeZmqMessage(frames, topic);
    } catch {
      this.malformed++;
      return;
    }
    if (message.kind === 'heartbeat') {
      const key = channelKey(message.topic.slice(0, -HEARTBEAT.length));
      for (const sub of this.#byChannel.get(key) ?? []) sub.send({ type: 'HEARTBEAT' });
      return;
    }
    if (message.kind !== 'event') return;
    const subs = this.#byTopic.get(message.topic);
    if (!subs?.size) return;
    const { ctr, payload } = message;
    let errors: readonly DevError[] | undefined = message.errors;
    let value: DeviceAttribute | undefined;
    if (!errors && message.value) {
      if (message.value.err_list.length) errors = message.value.err_list;
      else {
        try {
          value = toDeviceAttribute(message.value);
        } catch (error) {
          errors = errorsOf(error);
        }
      }
    }
    for (const sub of subs) {
      sub.send(
        errors ? { type: 'ZMQ_EVENT', ctr, payload, errors } : { type: 'ZMQ_EVENT', ctr, payload, value },
      );
    }
  }

  /** Ends every subscription, closes the socket and the admin proxies. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#forgetStop();
    for (const sub of [...this.#subscriptions]) sub.unsubscribe();
    this.#subscriptions.clear();
    const socket = this.#socket;
    this.#socket = null;
    const admins = [...this.#admins.values()];
    this.#admins.clear();
    for (const { forget } of admins) forget();
    await Promise.all([socket?.close(), closeAll(admins.flatMap(({ proxies }) => [...proxies.values()]))]);
  }
}

/** Closes admin proxies (those whose making failed are skipped). */
async function closeAll(admins: Promise<DeviceProxy>[]): Promise<void> {
  await Promise.all(
    admins.map((a) =>
      a.then(
        (p) => p.close(),
        () => {},
      ),
    ),
  );
}

function add<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
}
function remove<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (!set.size) map.delete(key);
}
