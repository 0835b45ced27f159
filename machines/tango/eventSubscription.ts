/**
 * One Tango event subscription (cppTango's `ZmqEventConsumer` + `EventConsumerKeepAliveThread`, for one attribute
 * and event name) as an XState v5 machine: subscribe, deliver the first synchronous read as the first event,
 * de-duplicate by counter, report a counter gap (missed events), supervise the server's heartbeat, re-confirm the
 * subscription, and on heartbeat loss report an error event and subscribe again until the server answers (it may
 * come back on new ZMQ ports).
 *
 *   ──► subscribing ──SUBSCRIBED──► reading ──READ_DONE / READ_FAILED──► active ═══════════════════════════╗
 *          │ (entry: subscribe;        (entry: readValue;                                                  ║
 *          │  ZMQ_EVENT held)           ZMQ_EVENT held)   (deliver: the read, then the held events)       ║
 *          └──SUBSCRIBE_FAILED──► failed (final)            ┌──────────────────────────────────────────────╢
 *                                                          │ active (parallel)                            ║
 *                                                          │  heartbeat: watching ──HEARTBEAT──► watching  ║
 *                                                          │     (after heartbeatTimeoutMs: lost ─────────╫─┐
 *                                                          │  confirmation: waiting ──after confirmMs──►   ║ │
 *                                                          │     waiting (confirm)                         ║ │
 *                                                          │  ZMQ_EVENT: deliver (after a gap: an          ║ │
 *                                                          │    API_MissedEvents error event first), or    ║ │
 *                                                          │    drop a duplicate                           ║ │
 *                                                          └──────────────────────────────────────────────╝ │
 *     ┌──────────────────────── (deliver: an API_EventTimeout error event) ◄──────────────────────────────────┘
 *     ▼
 *   resubscribing ──SUBSCRIBED──► reading (the new read is delivered as a fresh event) ──► active
 *     (entry: subscribe)  │
 *     ▲                   └──SUBSCRIBE_FAILED──► retrying ──after resubscribeMs──┐
 *     └──────────────────────────────────────────────────────────────────────────┘
 *   UNSUBSCRIBE from any state but the finals ──► unsubscribed (final). Both finals run `release`.
 *   ZMQ_EVENT outside `subscribing` and `reading` is delivered at once unless it is a duplicate; HEARTBEAT
 *   outside `active` is ignored.
 *
 * Effects are named actions with default no-ops, supplied by the event consumer (`src/protocols/tango/events.ts`)
 * with `.provide()`: `subscribe` (ZmqEventSubscriptionChange on the admin device, connect the ZMQ socket to the
 * endpoints it names, subscribe the topic; answers SUBSCRIBED or SUBSCRIBE_FAILED), `readValue` (read the attribute;
 * answers READ_DONE or READ_FAILED), `deliver` (params: `{events}`, `DeliveredEvent`s for the user's callback, in
 * order), `confirm`
 * (EventConfirmSubscription; its answer is not awaited) and `release` (stop routing the topic).
 *
 * De-duplication: the server sends the first event after a client connects twice with the same counter
 * (libzmq bug 283); an event whose counter equals the last delivered one is dropped. Without a database the
 * counter is always 0, so there a duplicate is the same counter and the same payload bytes.
 *
 * Missed events (cppTango `ZmqEventConsumer::push_zmq_event`): when the counter of an event that is delivered
 * is ahead of the last delivered one by 2 or more, one error event goes to the callback first (reason
 * `API_MissedEvents`, desc "Missed some events! Zmq queue has reached HWM?", origin
 * "ZmqEventConsumer::push_zmq_event()", severity ERR), then the event; `missed` counts the events skipped. As
 * upstream: the difference is taken modulo 2^32 as a signed 32-bit number, so a counter that goes back (a
 * restarted server) or wraps past 2^32 - 1 by one is no gap; no report for the first event of a subscription,
 * nor after an event with counter 0 (so never without a database, where the counter is always 0).
 *
 * Differences from upstream, on purpose:
 * - one machine per subscription (cppTango: one keep-alive thread for every subscription of the process); the
 *   consumer forwards each server's heartbeats to that server's subscriptions;
 * - heartbeat loss is a deadline reset by each heartbeat (`heartbeatTimeoutMs`, default 15 s: the server sends one
 *   every 10 s) instead of a 10 s poll, so a heartbeat late by a few ms is not a loss;
 * - events that arrive before the first read answered (while subscribing: the topic is routed before the ZMQ
 *   connection settles, and another subscription of the same attribute may already be receiving it; while the
 *   read is in flight) are held and delivered after it, so the first read is always the first delivery (cppTango
 *   may deliver them before the read); the held list is bounded (`MAX_HELD_EVENTS`, the oldest dropped);
 * - a subscription that fails at first fails (`failed`), as PyTango's `subscribe_event` raises; there is no
 *   stateless mode;
 * - the counter is forgotten at every (re)subscription, so the first event after one is never a duplicate nor
 *   reported missed (cppTango keeps it through a reconnection: after an outage of a server that went on
 *   counting it reports missed events, and it may drop a restarted server's first event when its counter equals
 *   the old one);
 * - repeats of one counter are all dropped (cppTango drops one repeat, then delivers the next).
 */
import { assign, setup } from 'xstate';
import type { DevError } from '../../src/protocols/tango/errors.js';

/** The server's heartbeat period (cppTango EVENT_HEARTBEAT_PERIOD). */
export const HEARTBEAT_PERIOD_MS = 10_000;
/** A subscription whose server sent no heartbeat for this long is lost. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 15_000;
/** Re-subscription attempts after a loss (cppTango: every keep-alive period). */
export const DEFAULT_RESUBSCRIBE_MS = 10_000;
/** EventConfirmSubscription period (cppTango EVENT_RESUBSCRIBE_PERIOD / 3; the server forgets after 600 s). */
export const DEFAULT_CONFIRM_MS = 200_000;
/** Events held while the first read is in flight. */
export const MAX_HELD_EVENTS = 64;

export interface EventSubscriptionInput {
  device: string;
  attribute: string;
  /** Tango event name (default 'change'). */
  eventName?: string;
  heartbeatTimeoutMs?: number;
  resubscribeMs?: number;
  confirmMs?: number;
}

/** What the ZMQ channel of a subscription is (ZmqEventSubscriptionChange's answer). */
export interface EventChannel {
  heartbeatEndpoint: string;
  eventEndpoint: string;
  /** The event's topic, as the server spells it. */
  topic: string;
  /** The server's channel name (heartbeat topics start with it). */
  channel: string;
}

/** An event received on the ZMQ socket, decoded: a value, or the server's error stack. */
export interface ZmqEventMessage {
  type: 'ZMQ_EVENT';
  ctr: number;
  payload: Uint8Array;
  value?: unknown;
  errors?: readonly DevError[];
}

/** What the user's callback gets: a value, or an error stack (`errors` set, no value). */
export interface DeliveredEvent {
  attribute: string;
  value?: unknown;
  errors?: readonly DevError[];
  /** Where it came from: the first synchronous read, or the event stream. */
  source: 'read' | 'event';
}

export interface EventSubscriptionContext {
  device: string;
  attribute: string;
  eventName: string;
  heartbeatTimeoutMs: number;
  resubscribeMs: number;
  confirmMs: number;
  channel: EventChannel | null;
  lastCtr: number | null;
  lastPayload: Uint8Array | null;
  held: ZmqEventMessage[];
  delivered: number;
  duplicates: number;
  /** Events the counter says were skipped (the sum of the reported gaps). */
  missed: number;
  subscriptions: number;
  lastErrors: readonly DevError[] | null;
}

export type EventSubscriptionEvent =
  | { type: 'SUBSCRIBED'; channel: EventChannel }
  | { type: 'SUBSCRIBE_FAILED'; errors: readonly DevError[] }
  | { type: 'READ_DONE'; value: unknown }
  | { type: 'READ_FAILED'; errors: readonly DevError[] }
  | ZmqEventMessage
  | { type: 'HEARTBEAT' }
  | { type: 'UNSUBSCRIBE' };

export type EventSubscriptionStateName =
  | 'subscribing'
  | 'reading'
  | 'active'
  | 'resubscribing'
  | 'retrying'
  | 'unsubscribed'
  | 'failed';

function bytesEqual(a: Uint8Array | null, b: Uint8Array): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `e` repeats the last delivered event (same counter; with counter 0, also the same bytes). */
export function isDuplicateEvent(
  context: Pick<EventSubscriptionContext, 'lastCtr' | 'lastPayload'>,
  e: Pick<ZmqEventMessage, 'ctr' | 'payload'>,
): boolean {
  if (context.lastCtr === null || e.ctr !== context.lastCtr) return false;
  return e.ctr !== 0 || bytesEqual(context.lastPayload, e.payload);
}

/**
 * How many events the counter skipped before `ctr`, a fresh event following `lastCtr` (0: none, or no check), as
 * cppTango reckons: `ctr - lastCtr` modulo 2^32 as a signed 32-bit number, a gap from 2 up; no check for the first
 * event (`lastCtr` null) nor after counter 0 (no database).
 */
export function missedBefore(lastCtr: number | null, ctr: number): number {
  if (lastCtr === null || lastCtr === 0) return 0;
  const step = (ctr - lastCtr) | 0;
  return step >= 2 ? step - 1 : 0;
}

/** cppTango's missed-events report, word for word. */
export function missedEventsError(): DevError {
  return {
    reason: 'API_MissedEvents',
    desc: 'Missed some events! Zmq queue has reached HWM?',
    origin: 'ZmqEventConsumer::push_zmq_event()',
    severity: 'ERR',
  };
}

/** A fresh event and how many events the counter skipped before it. */
export interface FreshEvent {
  event: ZmqEventMessage;
  missed: number;
}

/** The held events that are not duplicates, in order, each with its gap, and the counter state after them. */
export function freshEvents(
  context: Pick<EventSubscriptionContext, 'lastCtr' | 'lastPayload'>,
  events: readonly ZmqEventMessage[],
): { fresh: FreshEvent[]; lastCtr: number | null; lastPayload: Uint8Array | null } {
  let state = { lastCtr: context.lastCtr, lastPayload: context.lastPayload };
  const fresh: FreshEvent[] = [];
  for (const e of events) {
    if (isDuplicateEvent(state, e)) continue;
    fresh.push({ event: e, missed: missedBefore(state.lastCtr, e.ctr) });
    state = { lastCtr: e.ctr, lastPayload: e.payload };
  }
  return { fresh, ...state };
}

export function eventTimeoutError(context: Pick<EventSubscriptionContext, 'device' | 'attribute'>): DevError {
  return {
    reason: 'API_EventTimeout',
    desc: `Event channel is not responding anymore, maybe the server or event system is down (${context.device}/${context.attribute})`,
    origin: 'EventConsumer::KeepAliveThread',
    severity: 'ERR',
  };
}

function delivered(context: EventSubscriptionContext, e: ZmqEventMessage): DeliveredEvent {
  return e.errors
    ? { attribute: context.attribute, errors: e.errors, source: 'event' }
    : { attribute: context.attribute, value: e.value, source: 'event' };
}

/** What the callback gets for a fresh event: after a gap, the missed-events error event first. */
function deliveries(context: EventSubscriptionContext, { event, missed }: FreshEvent): DeliveredEvent[] {
  const e = delivered(context, event);
  return missed ? [{ attribute: context.attribute, errors: [missedEventsError()], source: 'event' }, e] : [e];
}

/** The held events, de-duplicated, as the callback gets them. */
function heldDeliveries(context: EventSubscriptionContext): DeliveredEvent[] {
  return freshEvents(context, context.held).fresh.flatMap((f) => deliveries(context, f));
}

/** What the held events leave behind once delivered. */
function afterHeld(context: EventSubscriptionContext): Partial<EventSubscriptionContext> {
  const { fresh, lastCtr, lastPayload } = freshEvents(context, context.held);
  return {
    held: [],
    lastCtr,
    lastPayload,
    delivered: context.delivered + fresh.length,
    duplicates: context.duplicates + context.held.length - fresh.length,
    missed: context.missed + fresh.reduce((sum, f) => sum + f.missed, 0),
  };
}

export const eventSubscriptionMachine = setup({
  types: {
    context: {} as EventSubscriptionContext,
    events: {} as EventSubscriptionEvent,
    input: {} as EventSubscriptionInput,
  },
  actions: {
    subscribe: () => {},
    readValue: () => {},
    deliver: (_, _params: { events: readonly DeliveredEvent[] }) => {},
    confirm: () => {},
    release: () => {},
    rememberEvent: assign(({ context, event }) => {
      const e = event as ZmqEventMessage;
      return {
        lastCtr: e.ctr,
        lastPayload: e.payload,
        delivered: context.delivered + 1,
        missed: context.missed + missedBefore(context.lastCtr, e.ctr),
      };
    }),
    countDuplicate: assign({ duplicates: ({ context }) => context.duplicates + 1 }),
    holdEvent: assign({
      held: ({ context, event }) => [...context.held, event as ZmqEventMessage].slice(-MAX_HELD_EVENTS),
    }),
    storeChannel: assign(({ context, event }) => ({
      channel: (event as { channel: EventChannel }).channel,
      subscriptions: context.subscriptions + 1,
      // a (re)started server counts from scratch
      lastCtr: null,
      lastPayload: null,
    })),
    storeErrors: assign({ lastErrors: ({ event }) => (event as { errors: readonly DevError[] }).errors }),
  },
  delays: {
    heartbeatTimeout: ({ context }) => context.heartbeatTimeoutMs,
    confirmPeriod: ({ context }) => context.confirmMs,
    resubscribePeriod: ({ context }) => context.resubscribeMs,
  },
  guards: {
    duplicate: ({ context, event }) => isDuplicateEvent(context, event as ZmqEventMessage),
  },
}).createMachine({
  id: 'tangoEventSubscription',
  initial: 'subscribing',
  context: ({ input }) => ({
    device: input.device,
    attribute: input.attribute,
    eventName: input.eventName ?? 'change',
    heartbeatTimeoutMs: input.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
    resubscribeMs: input.resubscribeMs ?? DEFAULT_RESUBSCRIBE_MS,
    confirmMs: input.confirmMs ?? DEFAULT_CONFIRM_MS,
    channel: null,
    lastCtr: null,
    lastPayload: null,
    held: [],
    delivered: 0,
    duplicates: 0,
    missed: 0,
    subscriptions: 0,
    lastErrors: null,
  }),
  on: {
    UNSUBSCRIBE: '.unsubscribed',
    // outside `subscribing` and `reading`: delivered at once (after a counter gap, the missed-events report first),
    // unless it repeats the last one
    ZMQ_EVENT: [
      { guard: 'duplicate', actions: 'countDuplicate' },
      {
        actions: [
          {
            type: 'deliver',
            params: ({ context, event }) => ({
              events: deliveries(context, { event, missed: missedBefore(context.lastCtr, event.ctr) }),
            }),
          },
          'rememberEvent',
        ],
      },
    ],
  },
  states: {
    subscribing: {
      entry: 'subscribe',
      on: {
        SUBSCRIBED: { target: 'reading', actions: 'storeChannel' },
        SUBSCRIBE_FAILED: { target: 'failed', actions: 'storeErrors' },
        // held for after the first read, as in `reading` (a failed subscription drops them)
        ZMQ_EVENT: { actions: 'holdEvent' },
      },
    },
    reading: {
      entry: 'readValue',
      on: {
        ZMQ_EVENT: { actions: 'holdEvent' },
        // the read first, then the events held meanwhile (de-duplicated)
        READ_DONE: {
          target: 'active',
          actions: [
            {
              type: 'deliver',
              params: ({ context, event }) => ({
                events: [
                  { attribute: context.attribute, value: event.value, source: 'read' },
                  ...heldDeliveries(context),
                ],
              }),
            },
            assign(({ context }) => afterHeld(context)),
          ],
        },
        READ_FAILED: {
          target: 'active',
          actions: [
            'storeErrors',
            {
              type: 'deliver',
              params: ({ context, event }) => ({
                events: [
                  { attribute: context.attribute, errors: event.errors, source: 'read' },
                  ...heldDeliveries(context),
                ],
              }),
            },
            assign(({ context }) => afterHeld(context)),
          ],
        },
      },
    },
    active: {
      type: 'parallel',
      states: {
        heartbeat: {
          initial: 'watching',
          states: {
            watching: {
              on: { HEARTBEAT: { target: 'watching', reenter: true } },
              after: {
                heartbeatTimeout: {
                  target: '#tangoEventSubscription.resubscribing',
                  actions: {
                    type: 'deliver',
                    params: ({ context }) => ({
                      events: [
                        {
                          attribute: context.attribute,
                          errors: [eventTimeoutError(context)],
                          source: 'event',
                        },
                      ],
                    }),
                  },
                },
              },
            },
          },
        },
        confirmation: {
          initial: 'waiting',
          states: {
            waiting: {
              after: { confirmPeriod: { target: 'waiting', reenter: true, actions: 'confirm' } },
            },
          },
        },
      },
    },
    resubscribing: {
      entry: 'subscribe',
      on: {
        SUBSCRIBED: { target: 'reading', actions: 'storeChannel' },
        SUBSCRIBE_FAILED: { target: 'retrying', actions: 'storeErrors' },
      },
    },
    retrying: {
      after: { resubscribePeriod: 'resubscribing' },
    },
    unsubscribed: { type: 'final', entry: 'release' },
    failed: { type: 'final', entry: 'release' },
  },
});
