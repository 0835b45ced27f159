/**
 * What the inspector shows of the native Tango client: a card per GIOP connection (machine 'giopConnection') in
 * the "Tango connections" panel, and a card per change-event subscription (machine 'tangoEventSubscription') in
 * the "Tango event subscriptions" panel.
 *
 * - A connection: its server endpoint, state (idle, connecting, connected, backoff, closed), TCP connections
 *   opened, the last error from its context; requests pending and round trips so far from the
 *   `tango.inspect.connection` samples the facade (`giopConnection.ts`) sends its actor now and then while replies
 *   arrive (the machine ignores them: requests never pass through XState).
 * - A subscription: device/attribute and event name, state, events delivered, duplicates dropped and events
 *   missed (counter gaps, each reported to the callback as an API_MissedEvents error event), (re)subscriptions, the last error stack from its context; the time of the last event and of the last heartbeat
 *   from the ZMQ_EVENT and HEARTBEAT events it receives (taken when the inspector folds them in).
 *
 * Importing this module registers both views with the inspector's view registry.
 */
import type { Redactor } from '../../inspector/redact.js';
import { type InspectorView, registerInspectorView } from '../../inspector/views.js';
import { hostPort } from '../../transport/address.js';

/** The event a GIOP connection actor receives with the facade's counters (ignored by the machine). */
export const TANGO_CONNECTION_SAMPLE = 'tango.inspect.connection';

export interface TangoConnectionSample {
  type: typeof TANGO_CONNECTION_SAMPLE;
  pending: number;
  roundTrips: number;
}

export interface GiopConnectionSummary {
  endpoint?: string;
  state?: string;
  connections?: number;
  pending?: number;
  roundTrips?: number;
  error?: string | null;
}

export interface EventSubscriptionSummary {
  /** `device/attribute`. */
  name?: string;
  eventName?: string;
  state?: string;
  events?: number;
  duplicates?: number;
  missed?: number;
  subscriptions?: number;
  lastEvent?: string;
  lastHeartbeat?: string;
  error?: string | null;
}

/** The leaf of a state value: `{ live: 'connected' }` -> `connected`, `{ active: {...} }` -> `active`. */
export function leafState(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return undefined;
  const [key] = Object.keys(value);
  if (key === undefined) return undefined;
  const inner = (value as Record<string, unknown>)[key];
  return typeof inner === 'string' && key === 'live' ? inner : key;
}

const errorText = (e: unknown, redact: Redactor): string | null | undefined => {
  if (e instanceof Error) return `${e.name}: ${String(redact(e.message))}`;
  return e === null ? null : undefined;
};

export function connectionFromContext(
  summary: GiopConnectionSummary,
  context: unknown,
  redact: Redactor,
  value?: unknown,
): GiopConnectionSummary {
  const c = (context ?? {}) as { host?: unknown; port?: unknown; connections?: unknown; lastError?: unknown };
  const next: GiopConnectionSummary = { ...summary };
  if (typeof c.host === 'string' && typeof c.port === 'number') {
    next.endpoint = hostPort(c.host, c.port);
  }
  if (typeof c.connections === 'number') next.connections = c.connections;
  const error = errorText(c.lastError, redact);
  if (error !== undefined) next.error = error;
  const state = leafState(value);
  if (state !== undefined) next.state = state;
  if (state === 'closed') next.pending = 0;
  return next;
}

export const giopConnectionInspectorView: InspectorView<GiopConnectionSummary> = {
  machine: 'giopConnection',
  summarise: (context, previous, redact, snapshot) =>
    connectionFromContext(previous ?? {}, context, redact, snapshot?.value),
  onEvent: (type, event, { summary }) => {
    if (type !== TANGO_CONNECTION_SAMPLE) return undefined;
    const e = event as Partial<TangoConnectionSample>;
    if (typeof e.pending !== 'number' || typeof e.roundTrips !== 'number') return undefined;
    return { ...(summary ?? {}), pending: e.pending, roundTrips: e.roundTrips };
  },
  panel: {
    id: 'tango-connections',
    title: 'Tango connections',
    empty: 'no Tango connection yet',
    card: { title: 'endpoint', status: 'state', fields: ['pending', 'roundTrips', 'connections', 'error'] },
  },
};

interface SubscriptionContextLike {
  device?: unknown;
  attribute?: unknown;
  eventName?: unknown;
  delivered?: unknown;
  duplicates?: unknown;
  missed?: unknown;
  subscriptions?: unknown;
  lastErrors?: unknown;
}

export function subscriptionFromContext(
  summary: EventSubscriptionSummary,
  context: unknown,
  redact: Redactor,
  value?: unknown,
): EventSubscriptionSummary {
  const c = (context ?? {}) as SubscriptionContextLike;
  const next: EventSubscriptionSummary = { ...summary };
  if (typeof c.device === 'string' && typeof c.attribute === 'string')
    next.name = `${c.device}/${c.attribute}`;
  if (typeof c.eventName === 'string') next.eventName = c.eventName;
  if (typeof c.delivered === 'number') next.events = c.delivered;
  if (typeof c.duplicates === 'number') next.duplicates = c.duplicates;
  if (typeof c.missed === 'number') next.missed = c.missed;
  if (typeof c.subscriptions === 'number') next.subscriptions = c.subscriptions;
  if (Array.isArray(c.lastErrors) && c.lastErrors.length > 0) {
    const top = c.lastErrors[c.lastErrors.length - 1] as { reason?: unknown; desc?: unknown };
    next.error = `${String(top.reason)}: ${String(redact(String(top.desc)))}`;
  } else if (c.lastErrors === null) next.error = null;
  const state = leafState(value);
  if (state !== undefined) next.state = state;
  return next;
}

export const eventSubscriptionInspectorView: InspectorView<EventSubscriptionSummary> = {
  machine: 'tangoEventSubscription',
  summarise: (context, previous, redact, snapshot) =>
    subscriptionFromContext(previous ?? {}, context, redact, snapshot?.value),
  onEvent: (type, _event, { summary }) => {
    if (type === 'ZMQ_EVENT') return { ...(summary ?? {}), lastEvent: new Date().toISOString() };
    if (type === 'HEARTBEAT') return { ...(summary ?? {}), lastHeartbeat: new Date().toISOString() };
    return undefined;
  },
  panel: {
    id: 'tango-events',
    title: 'Tango event subscriptions',
    empty: 'no Tango event subscription yet',
    card: {
      title: 'name',
      status: 'state',
      fields: [
        'eventName',
        'events',
        'lastEvent',
        'lastHeartbeat',
        'duplicates',
        'missed',
        'subscriptions',
        'error',
      ],
    },
  },
};

registerInspectorView(giopConnectionInspectorView);
registerInspectorView(eventSubscriptionInspectorView);
