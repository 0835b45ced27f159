/**
 * One process variable of the CA server: its native type and element count, its current value, alarm state,
 * time stamp and display metadata, its access rights, and the channels open on it. A change posts to every
 * channel's subscriptions by event mask (VALUE|LOG when the value changed, ALARM when status/severity changed,
 * PROPERTY when units/limits/precision/enum strings changed), as rsrv's `db_post_events` does.
 *
 * Responses are encoded here (`encode(dataType, count)`): the native value converted to the requested type
 * (`convertArray`, rsrv/dbConvert rules), cut or zero-filled to the requested count, with the metadata of the
 * requested family. Encoded payloads are cached until the next change (a few entries at most), so many
 * subscribers of one PV with the same type share one encoding per update.
 *
 * Differences from upstream, on purpose: a write of an identical value posts no VALUE event (rsrv with MDEL=0
 * posts none either; caproto posts every write); there is no dead-band (MDEL/ADEL): every change posts.
 */

import {
  AccessRights,
  ChannelType,
  DbrType,
  MAX_ENUM_STATES,
  MAX_ENUM_STRING_SIZE,
  MAX_PV_NAME_SIZE,
  MAX_UNITS_SIZE,
  type NativeType,
  nativeOf,
  SubscriptionType,
} from './constants.js';
import { convertArray, toNativeArray } from './convert.js';
import {
  type CaArray,
  type DbrMetadata,
  emptyArray,
  encodeDbr,
  fromUnixSeconds,
  toUnixSeconds,
} from './dbr.js';
import { CaValueError } from './errors.js';

export type PvType = 'string' | 'short' | 'int' | 'float' | 'enum' | 'char' | 'long' | 'double';
export type PvAccess = 'read-write' | 'read-only' | 'write-only' | 'none';

export interface PvLimits {
  upperDisp?: number;
  lowerDisp?: number;
  upperAlarm?: number;
  upperWarning?: number;
  lowerWarning?: number;
  lowerAlarm?: number;
  upperCtrl?: number;
  lowerCtrl?: number;
}

export interface PvDefinition {
  name: string;
  type: PvType;
  value: number | string | boolean | readonly (number | string)[] | CaArray;
  /** Elements; default: the value's length (1 for a scalar; CHAR from a string: its length + 1). */
  maxCount?: number;
  enumStrings?: string[];
  units?: string;
  precision?: number;
  limits?: PvLimits;
  /** Default read-write. */
  access?: PvAccess;
  /** Runs on every put (WRITE, WRITE_NOTIFY) with the converted data BEFORE it is stored; may be async: a
   *  WRITE_NOTIFY is answered when it settles; a throw/reject -> ECA_PUTFAIL and nothing stored. */
  onPut?: (data: CaArray, pv: ServerPv) => void | Promise<void>;
}

/** Display metadata that `setMetadata` changes (posting DBE_PROPERTY). */
export interface PvProperties {
  units?: string;
  precision?: number;
  limits?: PvLimits;
  enumStrings?: string[];
}

export interface ServerPv {
  readonly name: string;
  readonly nativeType: NativeType;
  readonly maxCount: number;
  /** The current value (its length is the current element count, at most maxCount). */
  readonly data: CaArray;
  /** status/severity/stamp/timestamp/units/precision/limits/enumStrings (a new object after each change). */
  readonly metadata: DbrMetadata;
  readonly access: PvAccess;
  /** Stores a new value (converted with toNativeArray), stamps it, posts monitors by mask (VALUE|LOG on value
   *  change, ALARM when status/severity change). CaValueError when it does not fit the PV. */
  write(value: unknown, options?: { status?: number; severity?: number; timestamp?: number }): void;
  /** Changes units/precision/limits/enum strings and posts DBE_PROPERTY. */
  setMetadata(properties: PvProperties): void;
  /** Re-sends ACCESS_RIGHTS to every connected channel. */
  setAccess(access: PvAccess): void;
}

/** What the PV needs of a channel open on it (implemented by the circuit's channel). */
export interface PvObserver {
  /** The PV changed: post to the subscriptions whose mask intersects `mask`. */
  pvChanged(mask: number): void;
  /** Access rights changed: re-send ACCESS_RIGHTS. */
  accessChanged(): void;
  /** The PV was removed from the server: SERVER_DISCONN. */
  pvRemoved(): void;
}

const TYPES: Record<PvType, NativeType> = {
  string: ChannelType.STRING,
  short: ChannelType.SHORT,
  int: ChannelType.SHORT,
  float: ChannelType.FLOAT,
  enum: ChannelType.ENUM,
  char: ChannelType.CHAR,
  long: ChannelType.LONG,
  double: ChannelType.DOUBLE,
};
export const PV_TYPES = Object.keys(TYPES) as PvType[];
export const PV_ACCESS: readonly PvAccess[] = ['read-write', 'read-only', 'write-only', 'none'];
const LIMIT_KEYS: readonly (keyof PvLimits)[] = [
  'upperDisp',
  'lowerDisp',
  'upperAlarm',
  'upperWarning',
  'lowerWarning',
  'lowerAlarm',
  'upperCtrl',
  'lowerCtrl',
];
const LIMIT_FIELDS: Record<keyof PvLimits, keyof DbrMetadata> = {
  upperDisp: 'upperDispLimit',
  lowerDisp: 'lowerDispLimit',
  upperAlarm: 'upperAlarmLimit',
  upperWarning: 'upperWarningLimit',
  lowerWarning: 'lowerWarningLimit',
  lowerAlarm: 'lowerAlarmLimit',
  upperCtrl: 'upperCtrlLimit',
  lowerCtrl: 'lowerCtrlLimit',
};

/** Most encodings kept per PV between changes (a client asking many counts cannot grow it). */
const MAX_CACHED_ENCODINGS = 8;
/** What DBR_CLASS_NAME answers (rsrv: the record type). */
const CLASS_NAME = 'orrery';

function latin1Length(text: string): number {
  return Buffer.byteLength(text, 'latin1');
}

/** ACCESS_RIGHTS bits of an access setting. */
export function accessBits(access: PvAccess): number {
  switch (access) {
    case 'read-write':
      return AccessRights.READ_WRITE;
    case 'read-only':
      return AccessRights.READ;
    case 'write-only':
      return AccessRights.WRITE;
    default:
      return AccessRights.NO_ACCESS;
  }
}

function checkProperties(p: PvProperties, where: string, native: NativeType | undefined): void {
  if (p.units !== undefined) {
    if (typeof p.units !== 'string' || latin1Length(p.units) >= MAX_UNITS_SIZE) {
      throw new CaValueError(`${where}.units must be a string of at most ${MAX_UNITS_SIZE - 1} bytes`);
    }
  }
  if (p.precision !== undefined) {
    if (!Number.isInteger(p.precision) || p.precision < 0 || p.precision > 17) {
      throw new CaValueError(`${where}.precision must be an integer 0..17, got ${String(p.precision)}`);
    }
  }
  if (p.limits !== undefined) {
    if (p.limits === null || typeof p.limits !== 'object' || Array.isArray(p.limits)) {
      throw new CaValueError(`${where}.limits must be an object`);
    }
    for (const key of Object.keys(p.limits)) {
      if (!LIMIT_KEYS.includes(key as keyof PvLimits)) {
        throw new CaValueError(`${where}.limits.${key} is not a limit (${LIMIT_KEYS.join(', ')})`);
      }
      const v = (p.limits as Record<string, unknown>)[key];
      if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) {
        throw new CaValueError(`${where}.limits.${key} must be a number`);
      }
    }
  }
  if (p.enumStrings !== undefined) {
    if (!Array.isArray(p.enumStrings) || p.enumStrings.length > MAX_ENUM_STATES) {
      throw new CaValueError(`${where}.enumStrings must be an array of at most ${MAX_ENUM_STATES} strings`);
    }
    p.enumStrings.forEach((s, i) => {
      if (typeof s !== 'string' || latin1Length(s) >= MAX_ENUM_STRING_SIZE) {
        throw new CaValueError(
          `${where}.enumStrings[${i}] must be a string of at most ${MAX_ENUM_STRING_SIZE - 1} bytes`,
        );
      }
    });
    if (native !== undefined && native !== ChannelType.ENUM) {
      throw new CaValueError(`${where}.enumStrings is only for type 'enum'`);
    }
  }
}

/** Checks a definition; CaValueError naming the bad field (`where` prefixes it: `pvs[2]`). */
export function checkPvDefinition(def: PvDefinition, where = 'pv'): void {
  if (def === null || typeof def !== 'object') throw new CaValueError(`${where} must be an object`);
  const name = def.name;
  if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) {
    throw new CaValueError(`${where}.name must be a non-empty string without NUL`);
  }
  if (latin1Length(name) > MAX_PV_NAME_SIZE) {
    throw new CaValueError(`${where}.name is longer than ${MAX_PV_NAME_SIZE} bytes`);
  }
  if (!PV_TYPES.includes(def.type)) {
    throw new CaValueError(
      `${where}.type must be one of ${PV_TYPES.join(', ')}, got ${JSON.stringify(def.type)}`,
    );
  }
  const native = TYPES[def.type];
  checkProperties(def, where, native);
  if (def.access !== undefined && !PV_ACCESS.includes(def.access)) {
    throw new CaValueError(`${where}.access must be one of ${PV_ACCESS.join(', ')}`);
  }
  if (def.onPut !== undefined && typeof def.onPut !== 'function') {
    throw new CaValueError(`${where}.onPut must be a function`);
  }
  if (def.maxCount !== undefined && (!Number.isSafeInteger(def.maxCount) || def.maxCount < 1)) {
    throw new CaValueError(`${where}.maxCount must be a positive integer, got ${String(def.maxCount)}`);
  }
}

function sameData(a: CaArray, b: CaArray): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `data` cut or zero-filled to `count` elements (count >= 1). */
function fitCount(native: NativeType, data: CaArray, count: number): CaArray {
  if (data.length === count) return data;
  if (data.length > count) {
    return Array.isArray(data) ? data.slice(0, count) : (data as Float64Array).subarray(0, count);
  }
  const out = emptyArray(native, count);
  if (Array.isArray(out)) for (let i = 0; i < data.length; i++) out[i] = (data as string[])[i];
  else (out as Float64Array).set(data as Float64Array);
  return out;
}

/** The server-side PV (internal class; users see the ServerPv interface). */
export class ServerPvImpl implements ServerPv {
  readonly name: string;
  readonly nativeType: NativeType;
  readonly maxCount: number;
  readonly onPut: PvDefinition['onPut'];
  /** Channels open on this PV, over every circuit. */
  readonly observers = new Set<PvObserver>();
  #data: CaArray;
  #metadata: DbrMetadata;
  #access: PvAccess;
  #removed = false;
  readonly #now: () => number;
  readonly #cache = new Map<number, { payload: Buffer; count: number }>();

  constructor(def: PvDefinition, now: () => number) {
    checkPvDefinition(def);
    this.name = def.name;
    this.nativeType = TYPES[def.type];
    this.#now = now;
    const enumStrings = def.enumStrings ? [...def.enumStrings] : undefined;
    let data: CaArray;
    try {
      data = toNativeArray(this.nativeType, def.value, enumStrings);
    } catch (err) {
      throw new CaValueError(
        `pv ${def.name}: value does not fit type ${def.type}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    this.maxCount = def.maxCount ?? Math.max(1, data.length);
    if (data.length > this.maxCount) {
      throw new CaValueError(
        `pv ${def.name}: value has ${data.length} elements, maxCount is ${this.maxCount}`,
      );
    }
    this.#data = data;
    this.#access = def.access ?? 'read-write';
    this.onPut = def.onPut;
    const stamp = fromUnixSeconds(now());
    this.#metadata = {
      status: 0,
      severity: 0,
      stamp,
      timestamp: toUnixSeconds(stamp),
      ...this.#properties({
        units: def.units ?? '',
        precision: def.precision ?? 0,
        limits: def.limits ?? {},
        enumStrings: enumStrings ?? [],
      }),
    };
  }

  get data(): CaArray {
    return this.#data;
  }
  get metadata(): DbrMetadata {
    return this.#metadata;
  }
  get access(): PvAccess {
    return this.#access;
  }
  get rights(): number {
    return accessBits(this.#access);
  }
  get removed(): boolean {
    return this.#removed;
  }

  #properties(p: PvProperties): DbrMetadata {
    const out: DbrMetadata = {};
    if (p.units !== undefined) out.units = p.units;
    if (p.precision !== undefined) out.precision = p.precision;
    if (p.enumStrings !== undefined) out.enumStrings = [...p.enumStrings];
    if (p.limits !== undefined) {
      for (const key of LIMIT_KEYS) {
        (out as Record<string, number>)[LIMIT_FIELDS[key]] = p.limits[key] ?? 0;
      }
    }
    return out;
  }

  write(value: unknown, options: { status?: number; severity?: number; timestamp?: number } = {}): void {
    if (this.#removed) throw new CaValueError(`pv ${this.name} was removed from its server`);
    const data = toNativeArray(this.nativeType, value, this.#metadata.enumStrings);
    if (data.length > this.maxCount) {
      throw new CaValueError(`pv ${this.name}: ${data.length} elements, maxCount is ${this.maxCount}`);
    }
    const { status, severity, timestamp } = options;
    for (const [k, v] of [
      ['status', status],
      ['severity', severity],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0x7fff)) {
        throw new CaValueError(`${k} must be an integer 0..32767, got ${String(v)}`);
      }
    }
    if (timestamp !== undefined && !(Number.isFinite(timestamp) && timestamp >= 0)) {
      throw new CaValueError(`timestamp must be Unix seconds >= 0, got ${String(timestamp)}`);
    }
    this.store(data, status, severity, timestamp);
  }

  /** Stores already-converted data (a client's put after onPut, or `write`) and posts monitors. */
  store(data: CaArray, status?: number, severity?: number, timestamp?: number): void {
    if (this.#removed) return;
    const old = this.#metadata;
    const newStatus = status ?? old.status ?? 0;
    const newSeverity = severity ?? old.severity ?? 0;
    let mask = 0;
    if (!sameData(this.#data, data)) mask |= SubscriptionType.DBE_VALUE | SubscriptionType.DBE_LOG;
    if (newStatus !== old.status || newSeverity !== old.severity) mask |= SubscriptionType.DBE_ALARM;
    this.#data = data;
    const stamp = fromUnixSeconds(timestamp ?? this.#now());
    this.#metadata = {
      ...old,
      status: newStatus,
      severity: newSeverity,
      stamp,
      timestamp: toUnixSeconds(stamp),
    };
    this.#changed(mask);
  }

  setMetadata(properties: PvProperties): void {
    checkProperties(properties, 'properties', this.nativeType);
    const next: DbrMetadata = { ...this.#metadata };
    if (properties.units !== undefined) next.units = properties.units;
    if (properties.precision !== undefined) next.precision = properties.precision;
    if (properties.enumStrings !== undefined) next.enumStrings = [...properties.enumStrings];
    if (properties.limits !== undefined) {
      for (const key of LIMIT_KEYS) {
        const v = properties.limits[key];
        if (v !== undefined) (next as Record<string, number>)[LIMIT_FIELDS[key]] = v;
      }
    }
    this.#metadata = next;
    this.#changed(SubscriptionType.DBE_PROPERTY);
  }

  setAccess(access: PvAccess): void {
    if (!PV_ACCESS.includes(access)) {
      throw new CaValueError(`access must be one of ${PV_ACCESS.join(', ')}, got ${JSON.stringify(access)}`);
    }
    if (access === this.#access) return;
    this.#access = access;
    for (const o of [...this.observers]) o.accessChanged();
  }

  /** The server dropped this PV: every channel gets SERVER_DISCONN. */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    this.#cache.clear();
    for (const o of [...this.observers]) o.pvRemoved();
    this.observers.clear();
  }

  #changed(mask: number): void {
    this.#cache.clear();
    if (mask === 0) return;
    for (const o of this.observers) o.pvChanged(mask);
  }

  /**
   * The payload of a response of `dataType` (0..34, or 37/38) with `count` elements (0: the current count) and
   * the count to put in its header. CaConversionError when the value cannot be converted, CaValueError when a
   * string does not fit.
   */
  encode(dataType: number, count: number): { payload: Buffer; count: number } {
    const key = dataType + 64 * count;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const target = nativeOf(dataType);
    const meta = this.#metadata;
    const converted =
      dataType === DbrType.CLASS_NAME
        ? [CLASS_NAME]
        : convertArray(this.nativeType, target, this.#data, {
            enumStrings: meta.enumStrings,
            precision: meta.precision,
          });
    // count 0: what there is (after conversion: a CHAR array read as a STRING is one string)
    const n = count === 0 ? converted.length : count;
    const encoded = {
      payload: encodeDbr(dataType, fitCount(target, converted, Math.max(1, n)), meta),
      count: n,
    };
    if (this.#cache.size >= MAX_CACHED_ENCODINGS) this.#cache.clear();
    this.#cache.set(key, encoded);
    return encoded;
  }

  /** Converts a client's put (decoded data of native type `from`) to this PV's native type. */
  convertPut(from: NativeType, data: CaArray): CaArray {
    return convertArray(from, this.nativeType, data, {
      enumStrings: this.#metadata.enumStrings,
      precision: this.#metadata.precision,
    });
  }
}
