/**
 * One process variable of the CA server: its native type and element count, its current value, alarm state,
 * time stamp and display metadata, its access rights, and the channels open on it. A change posts to every
 * channel's subscriptions by event mask (VALUE|LOG when the value changed, ALARM when status/severity changed,
 * PROPERTY when units/limits/precision/enum strings changed), as rsrv's `db_post_events` does. A numeric PV of one
 * element has EPICS's monitor dead-bands (`mdel`, `adel`; deadband.ts): VALUE is posted when the value moved more
 * than MDEL from the last value posted with VALUE, LOG the same with ADEL, as the analog records' `monitor()` does
 * with `recGblCheckDeadband` (both 0 by default: any change posts; negative: every write posts).
 *
 * Responses are encoded here (`encode(dataType, count)`): the native value converted to the requested type
 * (`convertArray`, rsrv/dbConvert rules), cut or zero-filled to the requested count, with the metadata of the
 * requested family. Encoded payloads are cached per (dataType, count) for the PV's current `version` (which
 * every change of value, alarm, stamp or metadata increments; a few entries at most), so repeated reads of an
 * 800 kB array cost no encoding, and the monitors of many clients of one update share one encoding. A cached
 * payload is never written again (a change makes new buffers), so the circuits hand it to the socket as it is.
 *
 * Differences from upstream, on purpose: a write of an identical value posts no VALUE event unless the dead-band
 * is negative (as an EPICS ai record with MDEL=0; caproto posts every write and has no dead-bands). Dead-bands are
 * on every numeric scalar PV, enum and char included, always compared as doubles with `recGblCheckDeadband`'s rules
 * (EPICS: ai/ao/calc use that function; longin/longout compare integers, casting MDEL to an integer; mbbi/bi have
 * no dead-band and post any change); strings and arrays have none: any change posts VALUE|LOG, an identical write
 * nothing. On a numeric scalar, NaN written over NaN posts nothing (recGblCheckDeadband; it posted VALUE|LOG
 * before the dead-bands, when data was compared with `!==`).
 */
import {
  ChannelType,
  DbrType,
  MAX_STRING_SIZE,
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
import { passesDeadband } from './deadband.js';
import { CaValueError } from './errors.js';
import {
  accessBits,
  checkDeadband,
  checkProperties,
  checkPvDefinition,
  LIMIT_FIELDS,
  LIMIT_KEYS,
  NATIVE_TYPES,
  PV_ACCESS,
  type PvAccess,
  type PvDeadband,
  type PvDefinition,
  type PvObserver,
  type PvProperties,
  type ServerPv,
} from './pvDefinition.js';

export type {
  PvAccess,
  PvDeadband,
  PvDefinition,
  PvLimits,
  PvObserver,
  PvProperties,
  PvType,
  ServerPv,
} from './pvDefinition.js';
export { accessBits, checkPvDefinition, PV_ACCESS, PV_TYPES } from './pvDefinition.js';

/** Most encodings kept per PV between changes (a client asking many counts cannot grow it). */
const MAX_CACHED_ENCODINGS = 8;
/** What DBR_CLASS_NAME answers (rsrv: the record type). */
const CLASS_NAME = 'orrery';

function sameData(a: CaArray, b: CaArray): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Strings cut to the 39 bytes a char[40] field holds before its NUL (the same array when none is longer). */
function cutStrings(strings: string[]): string[] {
  return strings.some((s) => s.length > MAX_STRING_SIZE - 1)
    ? strings.map((s) => (s.length > MAX_STRING_SIZE - 1 ? s.slice(0, MAX_STRING_SIZE - 1) : s))
    : strings;
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
  #version = 0;
  /** Numeric with maxCount 1: the dead-bands apply (otherwise any change posts VALUE|LOG). */
  readonly #scalar: boolean;
  #mdel = 0;
  #adel = 0;
  /** The last values posted with DBE_VALUE and DBE_LOG (EPICS MLST, ALST). */
  #mlst = 0;
  #alst = 0;
  readonly #now: () => number;
  /** Encodings of the current version, by dataType + 64 * count (immutable buffers). */
  readonly #cache = new Map<number, { payload: Buffer; count: number }>();

  constructor(def: PvDefinition, now: () => number) {
    checkPvDefinition(def);
    this.name = def.name;
    this.nativeType = NATIVE_TYPES[def.type];
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
    this.#scalar = this.nativeType !== ChannelType.STRING && this.maxCount === 1;
    if (this.#scalar) {
      this.#mdel = def.mdel ?? 0;
      this.#adel = def.adel ?? 0;
      // as the analog records' init_record: the initial value counts as posted
      this.#mlst = this.#alst = data.length === 1 ? Number(data[0]) : Number.NaN;
    }
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
  get version(): number {
    return this.#version;
  }
  get deadband(): Readonly<Required<PvDeadband>> {
    return { mdel: this.#mdel, adel: this.#adel };
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
    // the stamp first: a time it cannot carry (before 1990) throws before anything changed (it stored the value
    // and moved the dead-band's last posted value, with no monitor told and the encodings of the old value kept)
    const stamp = fromUnixSeconds(timestamp ?? this.#now());
    const old = this.#metadata;
    const newStatus = status ?? old.status ?? 0;
    const newSeverity = severity ?? old.severity ?? 0;
    let mask = this.#valueMask(data);
    if (newStatus !== old.status || newSeverity !== old.severity) mask |= SubscriptionType.DBE_ALARM;
    this.#data = data;
    this.#metadata = {
      ...old,
      status: newStatus,
      severity: newSeverity,
      stamp,
      timestamp: toUnixSeconds(stamp),
    };
    this.#changed(mask);
  }

  /** DBE_VALUE and DBE_LOG bits for a new value, by dead-band for a numeric scalar (updating MLST/ALST). */
  #valueMask(data: CaArray): number {
    const { DBE_VALUE, DBE_LOG } = SubscriptionType;
    if (!this.#scalar || data.length !== 1) {
      // strings, arrays, or an empty write to a scalar: any change posts both
      return sameData(this.#data, data) ? 0 : DBE_VALUE | DBE_LOG;
    }
    const value = Number(data[0]);
    let mask = 0;
    if (this.#data.length !== 1 || passesDeadband(this.#mlst, value, this.#mdel)) {
      mask |= DBE_VALUE;
      this.#mlst = value;
    }
    if (this.#data.length !== 1 || passesDeadband(this.#alst, value, this.#adel)) {
      mask |= DBE_LOG;
      this.#alst = value;
    }
    return mask;
  }

  setDeadband(deadband: PvDeadband): void {
    if (deadband === null || typeof deadband !== 'object')
      throw new CaValueError('deadband must be an object');
    checkDeadband(deadband, 'deadband', this.nativeType, this.maxCount);
    if (deadband.mdel !== undefined) this.#mdel = deadband.mdel;
    if (deadband.adel !== undefined) this.#adel = deadband.adel;
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
    this.#version++;
    this.#cache.clear();
    if (mask === 0) return;
    for (const o of this.observers) o.pvChanged(mask);
  }

  /**
   * The payload of a response of `dataType` (0..34, or 37/38) with `count` elements (0: the current count) and
   * the count to put in its header, cached until the next change (the same object for the same version, type
   * and count; never mutated). CaConversionError when the value cannot be converted, CaValueError when a string
   * does not fit.
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

  /**
   * Converts a client's put (decoded data of native type `from`) to this PV's native type. An ENUM index past the
   * PV's states is refused (rsrv: the record's put fails, ECA_PUTFAIL), as an unknown state name is. Strings are
   * cut to 39 bytes, and a string put to a CHAR array to its element count (its last byte a NUL).
   */
  convertPut(from: NativeType, data: CaArray): CaArray {
    const enumStrings = this.#metadata.enumStrings;
    // A DBR_STRING field is char[40] with its NUL: a client that fills all 40 bytes gets its text cut to 39, as
    // dbConvert's putStringString terminates it. Stored whole, every later read and monitor of a STRING PV failed
    // (the 40-byte value cannot be encoded again: ECA_GETFAIL) until the next good write.
    const strings = from === ChannelType.STRING ? cutStrings(data as string[]) : data;
    const converted = convertArray(from, this.nativeType, strings, {
      enumStrings,
      precision: this.#metadata.precision,
    });
    if (this.nativeType === ChannelType.ENUM && enumStrings !== undefined && enumStrings.length > 0) {
      for (let i = 0; i < converted.length; i++) {
        const index = converted[i] as number;
        if (index >= enumStrings.length)
          throw new CaValueError(`pv ${this.name}: ${index} is not a state (${enumStrings.length} states)`);
      }
    }
    // A string put to a CHAR array becomes its bytes + NUL (one element in, up to 40 out): at most maxCount of
    // them are kept, the last a NUL, as a long string is cut to its field (the element count a client was told
    // in CREATE_CHAN is never exceeded by what it reads later)
    if (converted.length > this.maxCount && this.nativeType === ChannelType.CHAR) {
      const bytes = (converted as Uint8Array).slice(0, this.maxCount);
      bytes[this.maxCount - 1] = 0;
      return bytes;
    }
    return converted;
  }
}
