/**
 * A `DevicePort` is foreign code: every call the LRC session makes on one, and every event it sends, goes through
 * here, so that whatever the port does (throw synchronously, answer garbage, send malformed events) ends as a
 * promise or a well-formed event carrying a DevFailed with an `SKA_*` reason, never as a crashed call.
 */
import { type DevError, DevFailed } from '../errors.js';
import type { AttributeEvent, DevicePort } from '../port.js';
import { describeValue, LRC_ATTRIBUTES } from '../wire.js';

/** A device's LRC protocol range (min, max), or null when it has none (a v1-only device). */
export type Versions = readonly [number, number] | null;

/**
 * Call a DevicePort method so that whatever it does ends as a promise: a synchronous throw becomes a rejection,
 * a plain value a resolution (a port is foreign code; nothing it does may crash the call's actor).
 */
export function attempt<T>(call: () => Promise<T> | T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

export function portFault(reason: string, desc: string, origin: string): DevFailed {
  return new DevFailed([{ reason, desc, origin, severity: 'ERR' }]);
}

/** Reads `lrcProtocolVersions` as (min, max), or null when the device has no such attribute. */
export function readProtocolVersions(device: DevicePort): Promise<Versions> {
  return new Promise((resolve, reject) => withProtocolVersions(device, resolve, reject));
}

/**
 * `readProtocolVersions` with its outcome given to `done` or `failed` (exactly one, once): the attribute list,
 * then the versions, each a reaction of the port's promise (no async frame, no promise of its own per call).
 */
export function withProtocolVersions(
  device: DevicePort,
  done: (versions: Versions) => void,
  failed: (error: unknown) => void,
): void {
  attempt(() => device.attributeList()).then((names) => {
    let hasVersions: boolean;
    try {
      if (!Array.isArray(names)) {
        const desc = `attributeList() answered ${describeValue(names)}, not a list of names`;
        return failed(portFault('SKA_InvalidAttributeList', desc, device.name));
      }
      hasVersions = names.some(isVersionsAttribute);
    } catch (error) {
      // an answer that throws when read (a getter, a revoked Proxy): a failure, not a reaction rejecting unhandled
      return failed(error);
    }
    if (!hasVersions) return done(null);
    attempt(() => device.readAttribute(LRC_ATTRIBUTES.versions)).then((v) => {
      let pair: [number, number] | undefined;
      try {
        pair = versionsOf(v);
      } catch (error) {
        return failed(error);
      }
      if (pair) done(pair);
      else {
        const desc = `${LRC_ATTRIBUTES.versions} is ${describeValue(v)}, not (min, max)`;
        failed(portFault('SKA_InvalidProtocolVersions', desc, device.name));
      }
    }, failed);
  }, failed);
}

/**
 * (min, max) of an `lrcProtocolVersions` value, or undefined when it is not one: exactly two versions, as upstream's
 * `server_min, server_max = proxy.lrcProtocolVersions` unpacks them (a longer list is garbage, not its first two).
 */
function versionsOf(v: unknown): [number, number] | undefined {
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const min = versionNumber(v[0]);
  const max = versionNumber(v[1]);
  return min === undefined || max === undefined ? undefined : [min, max];
}

const VERSIONS_NAME = LRC_ATTRIBUTES.versions.toLowerCase();

/** Whether a name of `attributeList()` is `lrcProtocolVersions`, in any case (lower-cased only when it may be). */
export function isVersionsAttribute(n: unknown): boolean {
  if (n === LRC_ATTRIBUTES.versions) return true;
  return typeof n === 'string' && n.length === VERSIONS_NAME.length && n.toLowerCase() === VERSIONS_NAME;
}

/** An integer protocol version from a number or a numeric string (DevLong64 may come as either). */
function versionNumber(x: unknown): number | undefined {
  const n =
    typeof x === 'number'
      ? x
      : typeof x === 'bigint' || (typeof x === 'string' && x.trim() !== '')
        ? Number(x)
        : Number.NaN;
  return Number.isInteger(n) ? n : undefined;
}

/**
 * A change event as the machine may rely on it: an object with a string attribute, and, on an error event, a
 * non-empty array of error objects (a null entry would break whoever reads the stack, `new DevFailed(errors)`
 * included). Anything else the port sends becomes an error event saying so (events may have been lost).
 */
export function wellFormed(event: unknown, device: string): AttributeEvent {
  const e = event as AttributeEvent | null | undefined;
  if (e !== null && typeof e === 'object' && typeof e.attribute === 'string') {
    if (e.errors === undefined || isErrorStack(e.errors)) return e;
  }
  const attribute = e !== null && typeof e === 'object' && typeof e.attribute === 'string' ? e.attribute : '';
  const errors: DevError[] = [
    {
      reason: 'SKA_InvalidEvent',
      desc: `a malformed change event from ${device}: ${describeEvent(e)}`,
      origin: 'invokeLrc',
      severity: 'ERR',
    },
  ];
  return { attribute, errors };
}

/**
 * An error stack the client can use: a non-empty array of objects (DevErrors, as far as it can tell), what an error
 * event must carry and what `new DevFailed(errors)` can be made of.
 */
export function isErrorStack(errors: unknown): errors is DevError[] {
  return Array.isArray(errors) && errors.length > 0 && errors.every(isErrorEntry);
}

/** An entry of an error stack: an object (a DevError, as far as the client can tell). */
function isErrorEntry(entry: unknown): boolean {
  return entry !== null && typeof entry === 'object';
}

function describeEvent(e: unknown): string {
  if (e === null || typeof e !== 'object') return describeValue(e);
  const errors = (e as AttributeEvent).errors;
  if (typeof (e as AttributeEvent).attribute !== 'string') return 'no attribute name';
  if (!Array.isArray(errors)) return `errors is ${typeof errors}`;
  if (errors.length === 0) return 'errors is empty';
  const bad = errors.find((x) => !isErrorEntry(x));
  return `errors has an entry that is not an error (${describeValue(bad)})`;
}
