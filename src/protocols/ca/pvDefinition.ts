/**
 * What a PV of the CA server is made of: the definition a user writes (in code or in a JSON file), the view of a
 * served PV (`ServerPv`), and the checks that name the bad field of a definition (`pvs[2].type must be ...`).
 * Pure: no sockets, no timers.
 */

import { checkPvName } from './commands.js';
import {
  AccessRights,
  ChannelType,
  MAX_ENUM_STATES,
  MAX_ENUM_STRING_SIZE,
  MAX_UNITS_SIZE,
  type NativeType,
} from './constants.js';
import type { CaArray, DbrMetadata } from './dbr.js';
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
  /** Monitor dead-band (EPICS MDEL), numeric scalar PVs only: DBE_VALUE is posted when the value differs from the
   *  last one posted with DBE_VALUE by more than this. Default 0 (any change); negative: every write posts. */
  mdel?: number;
  /** Archive dead-band (EPICS ADEL), the same for DBE_LOG against the last value posted with DBE_LOG. */
  adel?: number;
  /** Runs on every put (WRITE, WRITE_NOTIFY) with the converted data BEFORE it is stored; may be async: a
   *  WRITE_NOTIFY is answered when it settles; a throw/reject -> ECA_PUTFAIL and nothing stored. */
  onPut?: (data: CaArray, pv: ServerPv) => void | Promise<void>;
}

/** Monitor dead-bands that `setDeadband` changes (numeric scalar PVs; EPICS MDEL and ADEL). */
export interface PvDeadband {
  mdel?: number;
  adel?: number;
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
  /** The current value (its length is the current element count, at most maxCount). Never change it in place
   *  (encoded replies are cached until the next change): `write` a new value. */
  readonly data: CaArray;
  /** status/severity/stamp/timestamp/units/precision/limits/enumStrings (a new object after each change). */
  readonly metadata: DbrMetadata;
  /** Increments on every change of value, alarm, stamp or metadata (the key of the cached encodings). */
  readonly version: number;
  readonly access: PvAccess;
  /** Stores a new value (converted with toNativeArray), stamps it, posts monitors by mask (VALUE|LOG on value
   *  change, each past its dead-band on a numeric scalar; ALARM when status/severity change). CaValueError when it
   *  does not fit the PV. */
  write(value: unknown, options?: { status?: number; severity?: number; timestamp?: number }): void;
  /** The monitor dead-bands in force (0 and 0 unless set; always 0 for string and array PVs). */
  readonly deadband: Readonly<Required<PvDeadband>>;
  /** Changes units/precision/limits/enum strings and posts DBE_PROPERTY. */
  setMetadata(properties: PvProperties): void;
  /** Changes the monitor dead-bands (the last posted values are kept, as when EPICS's MDEL/ADEL are written);
   *  posts nothing. CaValueError on a string or array PV, or for a value that is not a number. */
  setDeadband(deadband: PvDeadband): void;
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

export const NATIVE_TYPES: Record<PvType, NativeType> = {
  string: ChannelType.STRING,
  short: ChannelType.SHORT,
  int: ChannelType.SHORT,
  float: ChannelType.FLOAT,
  enum: ChannelType.ENUM,
  char: ChannelType.CHAR,
  long: ChannelType.LONG,
  double: ChannelType.DOUBLE,
};
export const PV_TYPES = Object.keys(NATIVE_TYPES) as PvType[];
export const PV_ACCESS: readonly PvAccess[] = ['read-write', 'read-only', 'write-only', 'none'];
export const LIMIT_KEYS: readonly (keyof PvLimits)[] = [
  'upperDisp',
  'lowerDisp',
  'upperAlarm',
  'upperWarning',
  'lowerWarning',
  'lowerAlarm',
  'upperCtrl',
  'lowerCtrl',
];
export const LIMIT_FIELDS: Record<keyof PvLimits, keyof DbrMetadata> = {
  upperDisp: 'upperDispLimit',
  lowerDisp: 'lowerDispLimit',
  upperAlarm: 'upperAlarmLimit',
  upperWarning: 'upperWarningLimit',
  lowerWarning: 'lowerWarningLimit',
  lowerAlarm: 'lowerAlarmLimit',
  upperCtrl: 'upperCtrlLimit',
  lowerCtrl: 'lowerCtrlLimit',
};

/** A metadata string that fits a C field of `size` bytes with its NUL, every character latin1 (a character past
 *  U+00FF went out as its low byte: `€` as `¬`, a state no client could then name). */
function fitsField(text: unknown, size: number): boolean {
  return typeof text === 'string' && text.length < size && !/[\u0100-\uffff]/.test(text);
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

export function checkProperties(p: PvProperties, where: string, native: NativeType | undefined): void {
  if (p.units !== undefined) {
    if (!fitsField(p.units, MAX_UNITS_SIZE)) {
      throw new CaValueError(`${where}.units must be a latin1 string of at most ${MAX_UNITS_SIZE - 1} bytes`);
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
      if (!fitsField(s, MAX_ENUM_STRING_SIZE)) {
        throw new CaValueError(
          `${where}.enumStrings[${i}] must be a latin1 string of at most ${MAX_ENUM_STRING_SIZE - 1} bytes`,
        );
      }
    });
    if (native !== undefined && native !== ChannelType.ENUM) {
      throw new CaValueError(`${where}.enumStrings is only for type 'enum'`);
    }
  }
}

/** Elements of a definition's value as `toNativeArray` makes them (CHAR from a string: its length + 1). */
function valueCount(type: PvType, value: unknown): number {
  if (type === 'char' && typeof value === 'string') return value.length + 1;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return (value as ArrayLike<unknown>).length;
  return 1;
}

/**
 * Checks monitor dead-bands: numbers (not NaN), only on numeric PVs of one element (`count`: the PV's maxCount),
 * as EPICS has MDEL/ADEL on its scalar analog records only.
 */
export function checkDeadband(d: PvDeadband, where: string, native: NativeType, count: number): void {
  for (const key of ['mdel', 'adel'] as const) {
    const v = d[key] as unknown;
    if (v === undefined) continue;
    if (typeof v !== 'number' || Number.isNaN(v)) {
      throw new CaValueError(
        `${where}.${key} must be a number, got ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`,
      );
    }
    if (native === ChannelType.STRING) {
      throw new CaValueError(`${where}.${key} is only for numeric PVs, not type 'string'`);
    }
    if (count > 1) {
      throw new CaValueError(`${where}.${key} is only for scalar PVs (1 element), not ${count} elements`);
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
  // The client's own rule (latin-1, at most 500 bytes): a name no client can put in a SEARCH would
  // be served for nobody (a length check alone let `temp€` through).
  try {
    checkPvName(name);
  } catch (err) {
    if (!(err instanceof CaValueError)) throw err;
    throw new CaValueError(`${where}.name: ${err.message}`);
  }
  if (!PV_TYPES.includes(def.type)) {
    throw new CaValueError(
      `${where}.type must be one of ${PV_TYPES.join(', ')}, got ${JSON.stringify(def.type)}`,
    );
  }
  const native = NATIVE_TYPES[def.type];
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
  checkDeadband(def, where, native, def.maxCount ?? valueCount(def.type, def.value));
}
