/**
 * One Tango event subscription of a `TangoEventConsumer` (`events.ts`): its `eventSubscription` machine with the
 * I/O the machine names (`subscribe`: ZmqEventSubscriptionChange on the admin device, then the ZMQ routing;
 * `readValue`; `deliver` to the user's callback; `confirm`; `release`), and the promise `subscribe` returns.
 * Answers that come back after a newer attempt started, or after the release, are dropped.
 */
import type { Actor } from 'xstate';
import {
  type DeliveredEvent,
  type EventChannel,
  type EventSubscriptionStateName,
  eventSubscriptionMachine,
} from '../../../machines/tango/eventSubscription.js';
import type { DeviceProxy } from './deviceProxy.js';
import type { DeviceAttribute } from './deviceTypes.js';
import { type DevError, DevFailed } from './errors.js';
import { parseSubscriptionReply, subscriptionChangeArgs } from './eventDecode.js';
import type {
  SubscribeOptions,
  TangoEvent,
  TangoEventCallback,
  TangoEventConsumer,
  TangoEventConsumerOptions,
} from './events.js';

type SubscriptionActor = Actor<typeof eventSubscriptionMachine>;
const HEARTBEAT = '.heartbeat';

/** Any failure as a Tango error stack. */
export function errorsOf(error: unknown): DevError[] {
  if (error instanceof DevFailed && error.errors.length) return [...error.errors];
  const e = error instanceof Error ? error : new Error(String(error));
  return [{ reason: `API_${e.name}`, desc: e.message, origin: 'TangoEventConsumer', severity: 'ERR' }];
}

/**
 * A machine action whose I/O starts once the action has returned (a microtask later): the I/O may start other
 * actors (a GIOP connection under its supervisor, whose machine then assigns and raises), and XState's development
 * build reports any assign, raise or emit made while a custom action is on the stack as the action's own misuse.
 */
function afterAction(work: () => Promise<void>): () => void {
  return () => queueMicrotask(() => void work());
}

/** One subscription: its machine, its routing, its callback. */
export class EventSubscription {
  readonly device: string;
  readonly attribute: string;
  readonly actor: SubscriptionActor;
  /** Topic and endpoints currently routed to this subscription (null when none). */
  #routed: { channel: EventChannel; heartbeatTopic: string } | null = null;
  #attempt = 0;
  #released = false;
  /**
   * Set by `unsubscribe()`. The UNSUBSCRIBE it sends from inside the callback waits for the step that called the
   * callback to end, so `#deliver` reads this before each event: none reaches the callback after `unsubscribe()`
   * returned (the rest of a batch: the events held during the first read, the event after its missed-events report).
   */
  #stopped = false;

  constructor(
    consumer: TangoEventConsumer,
    readonly proxy: DeviceProxy,
    attribute: string,
    callback: TangoEventCallback,
    options: Required<SubscribeOptions> & { timing: Required<Omit<TangoEventConsumerOptions, 'system'>> },
    ready: { resolve: () => void; reject: (error: unknown) => void },
  ) {
    this.device = proxy.name;
    this.attribute = attribute;
    const logic = eventSubscriptionMachine.provide({
      actions: {
        subscribe: afterAction(() => this.#subscribe(consumer, options.eventName)),
        readValue: afterAction(() => this.#read()),
        deliver: (_, params) => this.#deliver(consumer, callback, params.events),
        confirm: afterAction(() => consumer.confirm(this, options.eventName)),
        release: () => this.#release(consumer),
      },
    });
    const system = proxy.system;
    this.actor = system.spawnDetached(logic, {
      id: `tango-event:${proxy.name}/${attribute}`,
      input: {
        device: proxy.name,
        attribute,
        eventName: options.eventName,
        heartbeatTimeoutMs: options.timing.heartbeatTimeoutMs,
        resubscribeMs: options.timing.resubscribeMs,
        confirmMs: options.timing.confirmMs,
      },
      onSystemStop: () => this.unsubscribe(),
    }) as SubscriptionActor;
    // the subscription ends with its proxy (cppTango's ~DeviceProxy unsubscribes its events), else it outlived it:
    // events still delivered, every re-subscription's read failing with TangoClosedError
    const forgetProxy = proxy.onClose(() => this.unsubscribe());
    this.actor.subscribe({ complete: forgetProxy, error: forgetProxy });
    const watch = this.actor.subscribe((s) => {
      if (s.matches('active')) ready.resolve();
      if (s.matches('failed')) {
        const top: DevError = {
          reason: 'API_EventSubscriptionFailed',
          desc: `Subscribing to the ${options.eventName} event of ${proxy.name}/${attribute} failed`,
          origin: 'TangoEventConsumer.subscribe',
          severity: 'ERR',
        };
        ready.reject(new DevFailed([...(s.context.lastErrors ?? []), top]));
      }
      if (s.status !== 'active') {
        ready.reject(
          new DevFailed([
            {
              reason: 'API_EventSubscriptionFailed',
              desc: 'unsubscribed',
              origin: 'TangoEventConsumer.subscribe',
              severity: 'ERR',
            },
          ]),
        );
        watch.unsubscribe();
      }
    });
  }

  /** The machine's state (`active` while events flow). */
  get state(): EventSubscriptionStateName {
    const s = this.actor.getSnapshot();
    if (s.status !== 'active') return s.matches('failed') ? 'failed' : 'unsubscribed';
    return (typeof s.value === 'string' ? s.value : Object.keys(s.value)[0]) as EventSubscriptionStateName;
  }

  /** Stop the subscription (the final `unsubscribed` state releases its routing). Idempotent. */
  unsubscribe(): void {
    this.#stopped = true;
    if (this.actor.getSnapshot().status === 'active') this.actor.send({ type: 'UNSUBSCRIBE' });
  }

  /**
   * Calls `listener` once, when the subscription has ended (unsubscribed, by its user or its consumer closing, or
   * failed); at once if it already has.
   */
  onEnded(listener: () => void): void {
    if (this.actor.getSnapshot().status !== 'active') {
      listener();
      return;
    }
    let called = false;
    const once = () => {
      if (called) return;
      called = true;
      listener();
    };
    this.actor.subscribe({ complete: once, error: once });
  }

  /** The routed topic, for the consumer. */
  get topic(): string | undefined {
    return this.#routed?.channel.topic;
  }

  /** Sends an event to the machine while it runs. */
  send(event: Parameters<SubscriptionActor['send']>[0]): void {
    if (this.actor.getSnapshot().status === 'active') this.actor.send(event);
  }

  async #subscribe(consumer: TangoEventConsumer, eventName: string): Promise<void> {
    // unsubscribed before the I/O started (or its spawn failed): nothing to ask the server for
    const actor = this.actor as SubscriptionActor | undefined;
    if (actor?.getSnapshot().status !== 'active') return;
    const attempt = ++this.#attempt;
    try {
      const admin = await consumer.adminOf(this.proxy);
      const reply = await admin.commandInoutRaw('ZmqEventSubscriptionChange', {
        type: 'DevVarStringArray',
        value: subscriptionChangeArgs(this.proxy.name, this.attribute, 'subscribe', eventName),
      });
      if (reply.type !== 'DevVarLongStringArray') {
        throw new DevFailed([
          {
            reason: 'API_EventSubscriptionFailed',
            desc: `ZmqEventSubscriptionChange answered ${reply.type}`,
            origin: 'TangoEventConsumer',
            severity: 'ERR',
          },
        ]);
      }
      const info = parseSubscriptionReply(reply.value.lvalue, reply.value.svalue);
      // a device older than IDL 5 publishes on a topic without the idl5_ prefix, with a payload that is no
      // AttributeValue_5: none of its events would be decoded, and the subscription sat active with nothing arriving
      const event = info.topic.slice(info.topic.lastIndexOf('.') + 1);
      if (info.deviceIdl < 5 || !event.startsWith('idl5_')) {
        throw new DevFailed([
          {
            reason: 'API_NotSupportedFeature',
            desc: `${this.proxy.name} is a device of IDL ${info.deviceIdl} (its ${eventName} events on topic ${info.topic}); events are supported from IDL 5 (Tango 9) only`,
            origin: 'TangoEventConsumer',
            severity: 'ERR',
          },
        ]);
      }
      if (attempt !== this.#attempt || this.#released) return;
      const channel: EventChannel = {
        heartbeatEndpoint: info.heartbeatEndpoint,
        eventEndpoint: info.eventEndpoint,
        topic: info.topic,
        channel: info.channel,
      };
      this.#release(consumer);
      this.#released = false;
      const heartbeatTopic = `${info.channel}${info.topic.includes('#dbase=no') ? '#dbase=no' : ''}${HEARTBEAT}`;
      this.#routed = { channel, heartbeatTopic };
      await consumer.route(this, channel, heartbeatTopic);
      if (attempt === this.#attempt && !this.#released) this.send({ type: 'SUBSCRIBED', channel });
    } catch (error) {
      if (attempt === this.#attempt) this.send({ type: 'SUBSCRIBE_FAILED', errors: errorsOf(error) });
    }
  }

  async #read(): Promise<void> {
    try {
      const value = await this.proxy.readAttribute(this.attribute);
      this.send({ type: 'READ_DONE', value });
    } catch (error) {
      this.send({ type: 'READ_FAILED', errors: errorsOf(error) });
    }
  }

  #deliver(
    consumer: TangoEventConsumer,
    callback: TangoEventCallback,
    events: readonly DeliveredEvent[],
  ): void {
    for (const e of events) {
      if (this.#stopped) return;
      const event: TangoEvent = { device: this.device, attribute: this.attribute, source: e.source };
      if (e.errors) event.errors = e.errors;
      else event.value = e.value as DeviceAttribute;
      try {
        callback(event);
      } catch (error) {
        consumer.system.loggerFor(this.actor).logger.error({ err: error }, 'event callback threw');
      }
    }
  }

  #release(consumer: TangoEventConsumer): void {
    this.#released = true;
    const routed = this.#routed;
    this.#routed = null;
    if (routed) consumer.unroute(this, routed.channel, routed.heartbeatTopic);
  }
}
