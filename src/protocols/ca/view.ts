/**
 * What the inspector shows of Channel Access (issue 11 item 7): a card per channel (machine `caChannel`) and per
 * virtual circuit (`caCircuit`) with its state and what that state means, and a summary for each monitor
 * (`caSubscription`).
 *
 * - channel: name, priority, state + meaning (searching with the search back-off, retired, connecting, connected
 *   with its access rights, disconnected, backing off after CREATE_CH_FAIL, idle), server, native type and count,
 *   the last monitor value (short; arrays truncated) and the monitor rate (updates/s over the last seconds);
 * - circuit: server address, priority, channel and monitor counts, state (connecting / connected / probing /
 *   unresponsive / closed with its reason).
 *
 * Everything comes from the machines' contexts and state values, plus the samples a `CaInspectorFeed`
 * (`viewFeed.ts`) sends the actors: monitor updates never pass through a machine, so the feed READS each watched
 * monitor's counter and latest response a few times a second (pull, off the hot path: a monitor costs nothing
 * more) and sends the channel actor a `ca.inspect.monitor` event; the circuit actor gets `ca.inspect.circuit`
 * (priority, counts). The machines ignore both events; the view folds them in (`onEvent`) and computes the rate
 * here, from the samples' counters and times. Values pass the inspector's redactor like every other view.
 *
 * Importing this module registers the three views.
 */

import { createRetryDelay } from '../../../machines/ca/channel.js';
import type { Redactor } from '../../inspector/redact.js';
import { type InspectorView, registerInspectorView } from '../../inspector/views.js';
import {
  dbrName,
  MAX_RETRY_SEARCHES_INTERVAL_MS,
  MIN_RETRY_SEARCHES_INTERVAL_MS,
  RETRY_RETIRED_SEARCHES_INTERVAL_MS,
  SEARCH_RETIREMENT_AGE_MS,
} from './constants.js';

/** Event types the feed sends (no machine handles them: they exist for the inspector). */
export const CA_MONITOR_SAMPLE = 'ca.inspect.monitor';
export const CA_CIRCUIT_SAMPLE = 'ca.inspect.circuit';
export const CA_SEARCH_SAMPLE = 'ca.inspect.search';

/** The context's UDP search schedule (`Context.searchStats`), sent to each searching channel when it changes. */
export interface CaSearchSample {
  type: typeof CA_SEARCH_SAMPLE;
  t: number;
  /** The back-off every unanswered search currently sees (ms). */
  intervalMs: number;
  unanswered: number;
  retired: number;
}

/** The monitors of one channel, read at `t` (clock ms). */
export interface CaMonitorSample {
  type: typeof CA_MONITOR_SAMPLE;
  t: number;
  /** Updates received by the channel's watched monitors since they were made (a counter). */
  updates: number;
  /** Watched monitors with callbacks. */
  monitors: number;
  /** The newest value, already shortened (`shortValue`); absent before the first update. */
  value?: string;
  /** Its DBR type name and element count. */
  dataType?: string;
  count?: number;
  /** Alarm severity of the newest value (0..3) when the DBR type carries it. */
  severity?: number;
  /** The context's search schedule, when the context exposes it. */
  search?: { intervalMs: number; unanswered: number; retired: number };
}

/** One circuit's tables, read at `t`. */
export interface CaCircuitSample {
  type: typeof CA_CIRCUIT_SAMPLE;
  t: number;
  priority: number;
  channels: number;
  subscriptions: number;
  pendingOps: number;
}

/** The monitor rate is computed over this much of the newest samples (ms). */
export const RATE_WINDOW_MS = 5000;
/** Characters of a value a card shows. */
export const VALUE_CHARS = 60;
/** Array elements a value shows before `…`. */
export const VALUE_ELEMENTS = 8;

const SEVERITIES = ['NO_ALARM', 'MINOR', 'MAJOR', 'INVALID'];

/** A CA value as a short line: `3.25`, `"text"`, `[1, 2, 3, … 1000 items]`; at most VALUE_CHARS characters. */
export function shortValue(data: unknown): string {
  const item = (v: unknown) =>
    typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' ? String(+v.toPrecision(8)) : String(v);
  let text: string;
  if (Array.isArray(data) || ArrayBuffer.isView(data)) {
    const list = data as ArrayLike<unknown>;
    const n = list.length;
    if (n === 1) text = item(list[0]);
    else {
      const parts: string[] = [];
      for (let i = 0; i < Math.min(n, VALUE_ELEMENTS); i++) parts.push(item(list[i]));
      text = `[${parts.join(', ')}${n > VALUE_ELEMENTS ? `, … ${n} items` : ''}]`;
    }
  } else text = item(data);
  return text.length > VALUE_CHARS ? `${text.slice(0, VALUE_CHARS - 1)}…` : text;
}

/** `read/write`, `read-only`, `write-only`, `no access` from ACCESS_RIGHTS bits. */
export function accessText(rights: number): string {
  const read = (rights & 1) !== 0;
  const write = (rights & 2) !== 0;
  return read && write ? 'read/write' : read ? 'read-only' : write ? 'write-only' : 'no access';
}

/**
 * The search back-off a name searched for `elapsedMs` sees under caproto's schedule (30 ms doubling to 5 s, every
 * add resets it: so this is the longest it can be), and whether it is retired (older than 480 s).
 */
export function searchBackoff(elapsedMs: number): { intervalMs: number; retired: boolean } {
  if (elapsedMs >= SEARCH_RETIREMENT_AGE_MS)
    return { intervalMs: RETRY_RETIRED_SEARCHES_INTERVAL_MS, retired: true };
  let interval = MIN_RETRY_SEARCHES_INTERVAL_MS;
  let sent = 0;
  while (sent + interval <= elapsedMs && interval < MAX_RETRY_SEARCHES_INTERVAL_MS) {
    sent += interval;
    interval = Math.min(interval * 2, MAX_RETRY_SEARCHES_INTERVAL_MS);
  }
  return { intervalMs: interval, retired: false };
}

const ms = (v: number) => (v >= 1000 ? `${+(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);

/** Updates per second over `window` ([t, counter] pairs, oldest first); undefined with fewer than two. */
export function rateOf(window: ReadonlyArray<readonly [number, number]>): number | undefined {
  if (window.length < 2) return undefined;
  const [t0, n0] = window[0] as readonly [number, number];
  const [t1, n1] = window[window.length - 1] as readonly [number, number];
  if (!(t1 > t0)) return undefined;
  return Math.max(0, ((n1 - n0) * 1000) / (t1 - t0));
}

/** Keeps the newest sample older than RATE_WINDOW_MS as the window's start, and every newer one. */
function slide(
  window: ReadonlyArray<readonly [number, number]>,
  t: number,
  n: number,
): Array<[number, number]> {
  const out = window.filter(([wt]) => wt <= t).map(([a, b]) => [a, b] as [number, number]);
  if (out.length > 0 && n < (out[out.length - 1] as [number, number])[1]) out.length = 0; // counter restarted
  out.push([t, n]);
  let start = 0;
  while (start + 1 < out.length && t - (out[start + 1] as [number, number])[0] >= RATE_WINDOW_MS) start++;
  return out.slice(start).slice(-32);
}

const leaf = (value: unknown): string => {
  let v = value;
  for (let depth = 0; depth < 8 && v && typeof v === 'object'; depth++) v = Object.values(v)[0];
  return typeof v === 'string' ? v : '';
};

// ------------------------------------------------------------------------------------------------ channels

export interface CaChannelSummary {
  name?: string;
  priority?: number;
  /** The machine's state: searching, retired, connecting, connected, disconnected, backingOff, idle, closed. */
  phase?: string;
  /** What the state means, in words. */
  meaning?: string;
  server?: string;
  /** `DBR_DOUBLE x1` */
  native?: string;
  access?: string;
  connections?: number;
  value?: unknown;
  /** `12.4/s` */
  rate?: string;
  updates?: number;
  monitors?: number;
  severity?: string;
  /** Date.now() when the channel was first seen searching this time (for the search age). */
  searchingSince?: number;
  /** [t, updates] of the newest samples (the rate's window). */
  rateWindow?: Array<[number, number]>;
  search?: CaMonitorSample['search'];
}

interface ChannelContextLike {
  name?: unknown;
  priority?: unknown;
  address?: { host?: unknown; port?: unknown } | null;
  nativeType?: unknown;
  nativeCount?: unknown;
  accessRights?: unknown;
  createFailures?: unknown;
  connections?: unknown;
}

function channelMeaning(
  s: CaChannelSummary,
  c: ChannelContextLike,
  now: number,
): { phase: string; meaning: string } {
  switch (s.phase) {
    case 'searching': {
      const age = now - (s.searchingSince ?? now);
      // the context's real schedule once the feed sent it (else the longest back-off this age can see)
      const { intervalMs, retired } = s.search
        ? { intervalMs: s.search.intervalMs, retired: age >= SEARCH_RETIREMENT_AGE_MS }
        : searchBackoff(age);
      const others = s.search && s.search.unanswered > 1 ? `, ${s.search.unanswered} names unanswered` : '';
      return retired
        ? {
            phase: 'retired',
            meaning: `search retired after ${ms(SEARCH_RETIREMENT_AGE_MS)}: one resend per ${ms(intervalMs)} until a new server beacons`,
          }
        : {
            phase: 'searching',
            meaning: `searching for ${ms(age)}: UDP search back-off ${ms(intervalMs)} (30 ms doubling to 5 s${others})`,
          };
    }
    case 'connecting':
      return {
        phase: 'connecting',
        meaning: `found at ${s.server ?? '?'}: CREATE_CHAN sent, waiting for the server`,
      };
    case 'connected':
      return { phase: 'connected', meaning: `connected, ${s.access ?? 'no access'}` };
    case 'disconnected':
      return { phase: 'disconnected', meaning: 'lost its circuit or the server dropped it: searching again' };
    case 'backingOff': {
      const failures = typeof c.createFailures === 'number' ? c.createFailures : 1;
      return {
        phase: 'backingOff',
        meaning: `CREATE_CH_FAIL x${failures}: searching again in ${ms(createRetryDelay(failures))}`,
      };
    }
    case 'idle':
      return { phase: 'idle', meaning: 'idle (goIdle): channel cleared, re-created on next use' };
    case 'closed':
      return { phase: 'closed', meaning: 'closed' };
    default:
      return { phase: s.phase ?? '', meaning: '' };
  }
}

/** Fold a channel's context, state value and feed samples into its summary. */
export function caChannelFromContext(
  previous: CaChannelSummary,
  context: unknown,
  redact: Redactor,
  value?: unknown,
  sample?: CaMonitorSample,
  now = Date.now(),
): CaChannelSummary {
  const c = (context ?? {}) as ChannelContextLike;
  const s: CaChannelSummary = { ...previous };
  if (typeof c.name === 'string') s.name = c.name;
  if (typeof c.priority === 'number') s.priority = c.priority;
  if (c.address && typeof c.address.host === 'string')
    s.server = `${c.address.host}:${String(c.address.port)}`;
  if (typeof c.nativeType === 'number')
    s.native = `${dbrName(c.nativeType)} x${typeof c.nativeCount === 'number' ? c.nativeCount : '?'}`;
  else if (c.nativeType === null) delete s.native;
  if (typeof c.accessRights === 'number') s.access = accessText(c.accessRights);
  if (typeof c.connections === 'number') s.connections = c.connections;
  const before = s.phase === 'retired' ? 'searching' : s.phase;
  const state = value === undefined ? (before ?? '') : leaf(value);
  if (state === 'searching' && before !== 'searching') s.searchingSince = now;
  if (state !== 'searching') delete s.searchingSince;
  if (sample) {
    s.updates = sample.updates;
    s.monitors = sample.monitors;
    if (sample.value !== undefined) s.value = redact(sample.value);
    if (typeof sample.severity === 'number')
      s.severity = SEVERITIES[sample.severity] ?? String(sample.severity);
    if (sample.search) s.search = sample.search;
    s.rateWindow = slide(s.rateWindow ?? [], sample.t, sample.updates);
    const rate = rateOf(s.rateWindow);
    if (rate !== undefined) s.rate = `${rate.toFixed(1)}/s`;
  }
  const { phase, meaning } = channelMeaning({ ...s, phase: state }, c, now);
  s.phase = phase;
  s.meaning = meaning;
  return s;
}

/** Channels: a card each in the "Channel Access channels" panel. */
export const caChannelInspectorView: InspectorView<CaChannelSummary> = {
  machine: 'caChannel',
  summarise: (context, previous, redact, snapshot) =>
    caChannelFromContext(previous ?? {}, context, redact, snapshot?.value),
  onEvent: (type, event, { context, summary, redact }) => {
    if (type === CA_MONITOR_SAMPLE)
      return caChannelFromContext(summary ?? {}, context, redact, undefined, event as CaMonitorSample);
    if (type !== CA_SEARCH_SAMPLE) return undefined;
    const { intervalMs, unanswered, retired } = event as CaSearchSample;
    return caChannelFromContext({ ...summary, search: { intervalMs, unanswered, retired } }, context, redact);
  },
  panel: {
    id: 'ca-channels',
    title: 'Channel Access channels',
    empty: 'no CA channel yet',
    card: {
      title: 'name',
      status: 'phase',
      fields: ['value', 'rate', 'native', 'access', 'server', 'meaning', 'severity'],
    },
  },
};

// ------------------------------------------------------------------------------------------------ circuits

export interface CaCircuitSummary {
  address?: string;
  priority?: number;
  /** connecting, connected, probing, unresponsive, closed */
  phase?: string;
  meaning?: string;
  channels?: number;
  subscriptions?: number;
  pendingOps?: number;
  echoes?: number;
  reason?: string;
  error?: string;
}

interface CircuitContextLike {
  address?: unknown;
  priority?: unknown;
  connectionTimeoutMs?: unknown;
  echoTimeoutMs?: unknown;
  reason?: unknown;
  error?: unknown;
  echoesSent?: unknown;
}

const CIRCUIT_MEANINGS: Record<string, (c: CircuitContextLike) => string> = {
  connecting: () =>
    'TCP connecting (bounded by the connection timeout); VERSION, HOST_NAME, CLIENT_NAME queued',
  connected: (c) => `connected; echo after ${ms(Number(c.connectionTimeoutMs))} of silence`,
  probing: (c) => `silent: ECHO sent, ${ms(Number(c.echoTimeoutMs))} to answer`,
  unresponsive: () => 'no answer to ECHO: closing, its channels search again',
  closed: (c) => `closed (${String(c.reason ?? 'closed-by-client')})`,
};

/** Fold a circuit's context, state value and feed samples into its summary. */
export function caCircuitFromContext(
  previous: CaCircuitSummary,
  context: unknown,
  redact: Redactor,
  value?: unknown,
  sample?: CaCircuitSample,
): CaCircuitSummary {
  const c = (context ?? {}) as CircuitContextLike;
  const s: CaCircuitSummary = { ...previous };
  if (typeof c.address === 'string') s.address = c.address;
  if (typeof c.priority === 'number') s.priority = c.priority;
  if (typeof c.echoesSent === 'number') s.echoes = c.echoesSent;
  if (typeof c.reason === 'string') s.reason = c.reason;
  if (c.error instanceof Error) s.error = `${c.error.name}: ${String(redact(c.error.message))}`;
  if (sample) {
    s.priority = sample.priority;
    s.channels = sample.channels;
    s.subscriptions = sample.subscriptions;
    s.pendingOps = sample.pendingOps;
  }
  if (value !== undefined) {
    const state = leaf(value) === 'live' ? 'connecting' : leaf(value);
    s.phase = state;
    s.meaning = CIRCUIT_MEANINGS[state]?.(c) ?? '';
  }
  return s;
}

/** Circuits: a card each in the "Channel Access circuits" panel. */
export const caCircuitInspectorView: InspectorView<CaCircuitSummary> = {
  machine: 'caCircuit',
  summarise: (context, previous, redact, snapshot) =>
    caCircuitFromContext(previous ?? {}, context, redact, snapshot?.value),
  onEvent: (type, event, { context, summary, redact }) =>
    type === CA_CIRCUIT_SAMPLE
      ? caCircuitFromContext(summary ?? {}, context, redact, undefined, event as CaCircuitSample)
      : undefined,
  panel: {
    id: 'ca-circuits',
    title: 'Channel Access circuits',
    empty: 'no CA circuit yet',
    card: {
      title: 'address',
      status: 'phase',
      fields: ['priority', 'channels', 'subscriptions', 'pendingOps', 'meaning', 'error'],
    },
  },
};

// ------------------------------------------------------------------------------------------------ monitors

export interface CaSubscriptionSummary {
  phase?: string;
  meaning?: string;
  activations?: number;
}

const SUBSCRIPTION_MEANINGS: Record<string, string> = {
  inactive: 'no callback: nothing subscribed',
  pending: 'waiting for the channel to connect (EVENT_ADD then)',
  active: 'EVENT_ADD sent: updates flow',
  closed: 'closed',
};

/** A monitor's summary (shown in the actor tree; the channel's card carries its value and rate). */
export const caSubscriptionInspectorView: InspectorView<CaSubscriptionSummary> = {
  machine: 'caSubscription',
  summarise: (context, previous, _redact, snapshot) => {
    const s: CaSubscriptionSummary = { ...(previous ?? {}) };
    const a = (context as { activations?: unknown } | undefined)?.activations;
    if (typeof a === 'number') s.activations = a;
    if (snapshot?.value !== undefined) {
      s.phase = leaf(snapshot.value);
      s.meaning = SUBSCRIPTION_MEANINGS[s.phase] ?? '';
    }
    return s;
  },
};

registerInspectorView(caChannelInspectorView);
registerInspectorView(caCircuitInspectorView);
registerInspectorView(caSubscriptionInspectorView);
