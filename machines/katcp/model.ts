/**
 * The InspectingClient's model of a device (its request and sensor indexes) and how an inspection changes it:
 * katcp-python's `_update_index` and `_difference` (inspecting_client.py) as pure functions, plus the inspection
 * scopes that `#interface-changed` arguments name.
 *
 * Upstream semantics kept:
 * - a name new to the index is added;
 * - a name missing from a full listing, or a named one missing from a lookup of that name, is removed (a named
 *   lookup of a name the index never had removes nothing);
 * - an existing entry whose fields changed is reported in both `added` and `removed`;
 * - ModelChanges holds only its non-empty parts and is null when nothing changed.
 *
 * Differences from upstream, on purpose: pure (a new index is returned, nothing is mutated, no `_changed` flag is
 * left in the index); a lookup may name several items at once (an incremental re-inspection after
 * `#interface-changed` names them); indexes are safe for any name (`__proto__` included: own properties only).
 */
import type { InterfaceChange } from '../../src/protocols/katcp/wire.js';

/** A request as `?help` (and `?request-timeout-hint`) describe it. */
export interface RequestInfo {
  name: string;
  description: string;
  /** Seconds, as on the wire; null without a hint. */
  timeoutHint: number | null;
}

/** A sensor as `#sensor-list name description units type [params...]` describes it. */
export interface SensorInfo {
  name: string;
  description: string;
  units: string;
  type: string;
  params: string[];
}

/** Upstream: sets of names; modified items are in both added and removed. Arrays here, sorted. */
export interface ModelChanges {
  requests?: { added: string[]; removed: string[] };
  sensors?: { added: string[]; removed: string[] };
}

/** What to inspect: 'all' = full listing, string[] = those names only, null = not this time. */
export interface InspectionScope {
  requests: 'all' | string[] | null;
  sensors: 'all' | string[] | null;
}

/** The inspect actor's output: the items it found for the scope (a named item the server does not know is absent: removed). */
export interface InspectionResult {
  scope: InspectionScope;
  requests: RequestInfo[];
  sensors: SensorInfo[];
}

/** One part of a ModelChanges: the names added and removed (sorted). */
export interface Difference {
  added: string[];
  removed: string[];
}

/** An index by name (own properties only). */
export type Index<T> = Readonly<Record<string, T>>;

/** Everything: the scope of the inspection after (re)connecting. */
export const FULL_SCOPE: InspectionScope = Object.freeze({
  requests: 'all',
  sensors: 'all',
}) as InspectionScope;

const sorted = (names: Iterable<string>) => [...new Set(names)].sort();

/** Whether two descriptions of an item are the same (every field; arrays element by element). */
export function sameInfo(a: object, b: object): boolean {
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of keys) {
    const x = ra[k];
    const y = rb[k];
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length || x.some((v, i) => !Object.is(v, y[i]))) return false;
    } else if (!Object.is(x, y)) return false;
  }
  return true;
}

/**
 * Upstream `_update_index` over a listing: new names are inserted, existing ones whose fields differ are replaced
 * and reported in `changed`. Returns a new index; `index` is not touched.
 */
export function updateIndex<T extends { name: string }>(
  index: Index<T>,
  items: readonly T[],
): { index: Record<string, T>; changed: Set<string> } {
  const next = new Map<string, T>(Object.entries(index));
  const changed = new Set<string>();
  for (const item of items) {
    const old = next.get(item.name);
    if (old !== undefined && !sameInfo(old, item)) changed.add(item.name);
    next.set(item.name, item);
  }
  return { index: Object.fromEntries(next) as Record<string, T>, changed };
}

/**
 * Upstream `_difference`: `added` = names updated but not original; `removed` = original names missing from a
 * full listing (`names` 'all'), or the named ones that were original and are missing; names in both listings
 * that `changed` are in both sets. Sorted arrays.
 */
export function difference(
  original: Iterable<string>,
  updated: Iterable<string>,
  names: 'all' | readonly string[],
  changed: ReadonlySet<string>,
): Difference {
  const orig = new Set(original);
  const upd = new Set(updated);
  const added = new Set([...upd].filter((n) => !orig.has(n)));
  const removed = new Set(
    names === 'all' ? [...orig].filter((n) => !upd.has(n)) : names.filter((n) => orig.has(n) && !upd.has(n)),
  );
  for (const n of upd) {
    if (!added.has(n) && !removed.has(n) && changed.has(n)) {
      added.add(n);
      removed.add(n);
    }
  }
  return { added: sorted(added), removed: sorted(removed) };
}

/**
 * Apply one listing to an index (upstream `inspect_requests` / `inspect_sensors` after the reply): update it,
 * drop what was removed. `names` null leaves the index alone. `diff` is null when nothing changed.
 */
export function applyListing<T extends { name: string }>(
  index: Index<T>,
  items: readonly T[],
  names: 'all' | readonly string[] | null,
): { index: Record<string, T>; diff: Difference | null } {
  if (names === null) return { index: index as Record<string, T>, diff: null };
  const { index: updated, changed } = updateIndex(index, items);
  const diff = difference(
    Object.keys(index),
    items.map((i) => i.name),
    names,
    changed,
  );
  const gone = new Set(diff.removed.filter((n) => !diff.added.includes(n)));
  const next = gone.size
    ? (Object.fromEntries(Object.entries(updated).filter(([n]) => !gone.has(n))) as Record<string, T>)
    : updated;
  return { index: next, diff: diff.added.length || diff.removed.length ? diff : null };
}

/** The model the machine keeps. */
export interface DeviceModel {
  requests: Index<RequestInfo>;
  sensors: Index<SensorInfo>;
}

/**
 * Apply an inspection of `scope` (upstream `inspect()`): both listings, and the ModelChanges (only the non-empty
 * parts; null when nothing changed). The items of a part whose scope is null are ignored.
 */
export function applyInspection(
  model: DeviceModel,
  found: { requests: readonly RequestInfo[]; sensors: readonly SensorInfo[] },
  scope: InspectionScope,
): {
  requests: Record<string, RequestInfo>;
  sensors: Record<string, SensorInfo>;
  changes: ModelChanges | null;
} {
  const r = applyListing(model.requests, found.requests, scope.requests);
  const s = applyListing(model.sensors, found.sensors, scope.sensors);
  const changes: ModelChanges = {};
  if (r.diff) changes.requests = r.diff;
  if (s.diff) changes.sensors = s.diff;
  return { requests: r.index, sensors: s.index, changes: r.diff || s.diff ? changes : null };
}

const isString = (x: unknown): x is string => typeof x === 'string';
const isPart = (x: unknown) => x === null || x === 'all' || (Array.isArray(x) && x.every(isString));

/** Whether `x` is a well-formed InspectionScope. */
export function isInspectionScope(x: unknown): x is InspectionScope {
  if (x === null || typeof x !== 'object') return false;
  const s = x as Record<string, unknown>;
  return isPart(s.requests) && isPart(s.sensors);
}

const isRequestInfo = (x: unknown): x is RequestInfo => {
  if (x === null || typeof x !== 'object') return false;
  const r = x as Record<string, unknown>;
  return (
    isString(r.name) &&
    isString(r.description) &&
    (r.timeoutHint === null || (typeof r.timeoutHint === 'number' && !Number.isNaN(r.timeoutHint)))
  );
};

const isSensorInfo = (x: unknown): x is SensorInfo => {
  if (x === null || typeof x !== 'object') return false;
  const s = x as Record<string, unknown>;
  return (
    isString(s.name) &&
    isString(s.description) &&
    isString(s.units) &&
    isString(s.type) &&
    Array.isArray(s.params) &&
    s.params.every(isString)
  );
};

/**
 * Whether `x` is a well-formed InspectionResult (the inspect actor is supplied from outside: the machine checks
 * what it gets; a malformed result counts as a failed inspection).
 */
export function isInspectionResult(x: unknown): x is InspectionResult {
  if (x === null || typeof x !== 'object') return false;
  const r = x as Record<string, unknown>;
  return (
    isInspectionScope(r.scope) &&
    Array.isArray(r.requests) &&
    r.requests.every(isRequestInfo) &&
    Array.isArray(r.sensors) &&
    r.sensors.every(isSensorInfo)
  );
}

const mergePart = (
  a: 'all' | readonly string[] | null,
  b: 'all' | readonly string[] | null,
): 'all' | string[] | null => {
  if (a === 'all' || b === 'all') return 'all';
  if (a === null) return b === null ? null : sorted(b);
  if (b === null) return sorted(a);
  return sorted([...a, ...b]);
};

/** The union of two scopes ('all' wins; names are merged, sorted, without repeats). */
export function mergeScopes(a: InspectionScope, b: InspectionScope): InspectionScope {
  return { requests: mergePart(a.requests, b.requests), sensors: mergePart(a.sensors, b.sensors) };
}

/** Whether a scope asks for nothing at all. */
export function isEmptyScope(s: InspectionScope): boolean {
  const empty = (p: 'all' | readonly string[] | null) => p === null || (p !== 'all' && p.length === 0);
  return empty(s.requests) && empty(s.sensors);
}

/**
 * The scope of the re-inspection that `#interface-changed` asks for (incremental where it names what changed):
 * `sensor X added|removed|modified` -> sensors [X] (and requests likewise); `sensor-list` -> sensors 'all';
 * `request-list` -> requests 'all'; `all` -> everything. No changes at all (or anything malformed) means
 * everything: a full re-inspection is always correct.
 */
export function scopeFromChanges(changes: readonly InterfaceChange[] | unknown): InspectionScope {
  if (!Array.isArray(changes) || changes.length === 0) return { ...FULL_SCOPE };
  let scope: InspectionScope = { requests: null, sensors: null };
  for (const c of changes as unknown[]) {
    const change = c as Partial<InterfaceChange> & { name?: unknown };
    let part: InspectionScope;
    switch (change?.kind) {
      case 'sensor-list':
        part = { requests: null, sensors: 'all' };
        break;
      case 'request-list':
        part = { requests: 'all', sensors: null };
        break;
      case 'sensor':
      case 'request':
        if (!isString(change.name)) return { ...FULL_SCOPE };
        part =
          change.kind === 'sensor'
            ? { requests: null, sensors: [change.name] }
            : { requests: [change.name], sensors: null };
        break;
      default:
        return { ...FULL_SCOPE };
    }
    scope = mergeScopes(scope, part);
  }
  return scope;
}
