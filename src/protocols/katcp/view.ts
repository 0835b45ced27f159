/**
 * What the inspector shows of a KATCP InspectingClient actor (machine id 'inspectingClient'): the device's
 * address, its state combination as katcp-python prints it (`[connected !synced model_changed data_synced]`),
 * the model changes as they happen (the last few), the counts of requests and sensors, and the sensors with their
 * status (coloured on the page) and value.
 *
 * Everything comes from the machine's context: the facade folds sensor readings into it in batches
 * (`SENSOR.READINGS`, at most a few per second), so the view never sits on the sensor hot path.
 *
 * Importing this module registers the view with the inspector's view registry; the InspectingClient facade
 * imports it, so every process that runs one shows it in the "KATCP devices" panel.
 */
import type { Redactor } from '../../inspector/redact.js';
import { type InspectorView, registerInspectorView } from '../../inspector/views.js';
import { stateText } from './inspectingClientState.js';

export { stateText };

/** How many model changes a card keeps. */
export const MODEL_CHANGE_HISTORY = 5;
/** How many sensors a card lists. */
export const LISTED_SENSORS = 50;

export interface SensorRow {
  name: string;
  status: string;
  value: unknown;
}

export interface InspectingClientSummary {
  address?: string;
  /** A word for the card's status: synced, modelChanged, dataSynced, inspecting, resyncWait, disconnected, stopped. */
  phase?: string;
  /** `[connected !synced !model_changed data_synced]` */
  state?: string;
  flags?: string;
  requests?: number;
  sensorCount?: number;
  /** The last model changes, newest first: `sensors +a -b; requests +c`. */
  changes?: string[];
  /** The newest of them (what the card shows). */
  lastChange?: string;
  sensors?: SensorRow[];
  error?: string | null;
}

interface ChangeSet {
  added?: unknown;
  removed?: unknown;
}
interface ContextLike {
  address?: unknown;
  flags?: unknown;
  requests?: unknown;
  sensors?: unknown;
  readings?: unknown;
  modelChanges?: { requests?: ChangeSet; sensors?: ChangeSet } | null;
  lastError?: unknown;
}

const names = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : v instanceof Set ? [...v].map(String) : [];

/** `sensors +a +b -c; requests +d` (modified items show as both + and -). */
export function describeModelChanges(changes: ContextLike['modelChanges']): string | null {
  if (!changes) return null;
  const parts: string[] = [];
  for (const kind of ['sensors', 'requests'] as const) {
    const c = changes[kind];
    if (!c) continue;
    const words = [...names(c.added).map((n) => `+${n}`), ...names(c.removed).map((n) => `-${n}`)];
    if (words.length) parts.push(`${kind} ${words.join(' ')}`);
  }
  return parts.length ? parts.join('; ') : null;
}

/** The path of state names to the active leaf (`connected.inspected.synced` -> those three). */
function leafPath(value: unknown): string[] {
  const path: string[] = [];
  let v = value;
  for (let depth = 0; depth < 8 && v !== undefined && v !== null; depth++) {
    if (typeof v === 'string') {
      path.push(v);
      break;
    }
    if (typeof v !== 'object') break;
    const [key] = Object.keys(v as object);
    if (key === undefined) break;
    path.push(key);
    v = (v as Record<string, unknown>)[key];
  }
  return path;
}

/**
 * The card's status word and katcp-python's four flags, from the machine's state value: S0 `disconnected` or
 * `stopped`; S1 `connected.syncing.*` or `connected.resyncWait`; S2..S4 `connected.inspected.*`.
 */
export function phaseOf(value: unknown): {
  phase: string;
  flags: { connected: boolean; synced: boolean; modelChanged: boolean; dataSynced: boolean };
} {
  const path = leafPath(value);
  const leaf = path[path.length - 1] ?? '';
  const connected = path[0] === 'connected';
  const inspected = connected && path[1] === 'inspected';
  const phase = !connected ? leaf : inspected ? leaf : path[1] === 'resyncWait' ? 'resyncWait' : 'inspecting';
  return {
    phase,
    flags: {
      connected,
      synced: inspected && leaf === 'synced',
      modelChanged: inspected && leaf === 'modelChanged',
      dataSynced: inspected,
    },
  };
}

/** Fold the machine's context (and its state value, when known) into the summary. */
export function inspectingClientFromContext(
  summary: InspectingClientSummary,
  context: unknown,
  redact: Redactor,
  value?: unknown,
): InspectingClientSummary {
  const c = (context ?? {}) as ContextLike;
  const next: InspectingClientSummary = { ...summary };
  if (typeof c.address === 'string') next.address = c.address;
  if (typeof c.flags === 'string') next.flags = c.flags;
  const requests = c.requests && typeof c.requests === 'object' ? Object.keys(c.requests) : [];
  const sensors = c.sensors && typeof c.sensors === 'object' ? Object.keys(c.sensors).sort() : [];
  next.requests = requests.length;
  next.sensorCount = sensors.length;
  const readings = (c.readings && typeof c.readings === 'object' ? c.readings : {}) as Record<
    string,
    { status?: unknown; value?: unknown } | undefined
  >;
  next.sensors = sensors.slice(0, LISTED_SENSORS).map((name) => {
    const r = readings[name];
    return {
      name,
      status: typeof r?.status === 'string' ? r.status : 'unknown',
      value: r ? redact(r.value) : '',
    };
  });
  const change = describeModelChanges(c.modelChanges);
  const history = summary.changes ?? [];
  if (change && history[0] !== change) {
    next.changes = [change, ...history].slice(0, MODEL_CHANGE_HISTORY);
    next.lastChange = change;
  }
  if (c.lastError instanceof Error) {
    next.error = `${String(c.lastError.name)}: ${String(redact(String(c.lastError.message)))}`;
  } else if (c.lastError === null) next.error = null;
  if (value !== undefined) {
    const { phase, flags } = phaseOf(value);
    next.phase = phase;
    next.state = stateText(flags);
  }
  return next;
}

/** The InspectingClient's inspector view: a card per device in the "KATCP devices" panel. */
export const inspectingClientInspectorView: InspectorView<InspectingClientSummary> = {
  machine: 'inspectingClient',
  summarise: (context, previous, redact, snapshot) =>
    inspectingClientFromContext(previous ?? {}, context, redact, snapshot?.value),
  onEvent: (_type, _event, { context, summary, redact }) =>
    inspectingClientFromContext(summary ?? {}, context, redact),
  panel: {
    id: 'katcp',
    title: 'KATCP devices',
    empty: 'no InspectingClient yet',
    card: {
      title: 'address',
      status: 'phase',
      fields: ['state', 'flags', 'requests', 'sensorCount', 'lastChange', 'error'],
      list: 'sensors',
    },
  },
};

registerInspectorView(inspectingClientInspectorView);
