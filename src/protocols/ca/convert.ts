/**
 * Value conversions between user data and the native arrays (`toNativeArray`, client puts and server writes), and
 * between native types (`convertArray`, the server answering a request for another DBR type, as rsrv's dbConvert).
 * Pure.
 *
 * Numeric -> numeric is a C cast as JS typed arrays perform it: truncation toward zero, then WRAP modulo 2^n for the
 * integer types (70000 -> SHORT 4464, -1 -> ENUM 65535), NaN and +-Infinity -> 0 for integer types; DOUBLE -> FLOAT
 * rounds to nearest (overflow -> +-Infinity). dbConvert's casts are the same on the IOC's common targets (C leaves
 * out-of-range float -> int undefined; wrapping is the defined, reproducible choice).
 * Numeric -> STRING: `toFixed(precision)` when a precision is given (FLOAT/DOUBLE), else the shortest text (FLOAT:
 * 7 significant digits); NaN/Infinity as EPICS prints them (`NaN`, `Inf`, `-Inf`); cut to 39 bytes.
 * STRING -> numeric: decimal, exponent, `0x` hex, `inf`/`nan`, surrounding blanks allowed; an empty string is 0
 * (dbConvert); out of range of an integer type, a finite number beyond FLOAT's range, or unparsable ->
 * CaConversionError (epicsParseFloat32's overflow). ENUM <-> STRING through the
 * state strings (an unknown index reads as its number). CHAR array <-> STRING: latin1 bytes up to the first NUL.
 *
 * Differences from upstream, on purpose: `toNativeArray` (user input) refuses what a C cast would silently wrap:
 * out-of-range integers, NaN/Infinity for integer types, finite numbers beyond FLOAT's range, empty or unparsable
 * text, an enum index past the state strings, a string longer than 39 bytes (CaValueError); fractions are
 * truncated toward zero for integer types (numpy's cast, as caproto).
 */
// describeValue, not String(): a value without a prototype (or a throwing toString) must still give a CaValueError
import { describeValue as describe } from '../../errors.js';
import { ChannelType, type NativeType } from './constants.js';
import type { CaArray } from './dbr.js';
import { CaConversionError, CaValueError } from './errors.js';

const MAX_STRING_BYTES = 39;

/** Whether a number is a FLOAT: not finite, or finite once rounded to single precision. A bound on the value itself
 *  (|n| <= FLT_MAX) refused 3.4028235e+38, FLT_MAX as numpy and C print it, which rounds to FLT_MAX. */
function fitsFloat(n: number): boolean {
  return !Number.isFinite(n) || Number.isFinite(Math.fround(n));
}
const INTEGER_RANGE: Partial<Record<NativeType, readonly [number, number]>> = {
  [ChannelType.SHORT]: [-0x8000, 0x7fff],
  [ChannelType.ENUM]: [0, 0xffff],
  [ChannelType.CHAR]: [0, 0xff],
  [ChannelType.LONG]: [-0x80000000, 0x7fffffff],
};
const NATIVE_NAMES = ['STRING', 'SHORT', 'FLOAT', 'ENUM', 'CHAR', 'LONG', 'DOUBLE'];
const TYPED = [
  undefined,
  Int16Array,
  Float32Array,
  Uint16Array,
  Uint8Array,
  Int32Array,
  Float64Array,
] as const;

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const HEX = /^([+-]?)0x([0-9a-f]+)$/i;
const INFINITY = /^([+-]?)inf(inity)?$/i;
const NAN = /^[+-]?nan$/i;

/** Parses a number as dbConvert/epicsParse* accept it; undefined when it is not one. Empty text is `empty`. */
export function parseNumber(text: string, empty?: number): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return empty;
  if (DECIMAL.test(trimmed)) return Number(trimmed);
  const hex = HEX.exec(trimmed);
  if (hex) return (hex[1] === '-' ? -1 : 1) * Number.parseInt(hex[2], 16);
  const inf = INFINITY.exec(trimmed);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  if (NAN.test(trimmed)) return Number.NaN;
  return undefined;
}

// ------------------------------------------------------------------------------------------- user -> native

function checkedString(text: string): string {
  if (text.length > MAX_STRING_BYTES) {
    throw new CaValueError(
      `string of ${text.length} bytes is longer than ${MAX_STRING_BYTES}: ${describe(text)}`,
    );
  }
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) throw new CaValueError(`string ${describe(text)} is not latin1`);
  }
  return text;
}

/** One user element -> a number that fits `native` (a numeric type), or CaValueError. */
function userNumber(native: NativeType, element: unknown, enumStrings?: readonly string[]): number {
  let n: number | undefined;
  if (typeof element === 'number') n = element;
  else if (typeof element === 'boolean') n = element ? 1 : 0;
  else if (typeof element === 'string') {
    if (native === ChannelType.ENUM && enumStrings !== undefined) {
      const index = enumStrings.indexOf(element);
      if (index !== -1) return index;
    }
    n = parseNumber(element);
    if (n === undefined) {
      const states =
        native === ChannelType.ENUM && enumStrings?.length ? ` (states: ${enumStrings.join(', ')})` : '';
      throw new CaValueError(`cannot convert ${describe(element)} to ${NATIVE_NAMES[native]}${states}`);
    }
  } else {
    throw new CaValueError(
      `cannot convert ${typeof element} ${describe(element)} to ${NATIVE_NAMES[native]}`,
    );
  }
  const range = INTEGER_RANGE[native];
  if (range === undefined) {
    if (native === ChannelType.FLOAT && !fitsFloat(n)) {
      throw new CaValueError(`${n} is out of range for FLOAT`);
    }
    return n;
  }
  const truncated = Math.trunc(n);
  if (!Number.isFinite(n) || truncated < range[0] || truncated > range[1]) {
    throw new CaValueError(
      `${describe(element)} is out of range for ${NATIVE_NAMES[native]} (${range[0]}..${range[1]})`,
    );
  }
  if (native === ChannelType.ENUM && enumStrings !== undefined && enumStrings.length > 0) {
    if (truncated >= enumStrings.length) {
      throw new CaValueError(`enum index ${truncated} is past the ${enumStrings.length} states`);
    }
  }
  return truncated;
}

function userString(element: unknown): string {
  if (typeof element === 'string') return checkedString(element);
  if (typeof element === 'number' || typeof element === 'boolean') return checkedString(String(element));
  throw new CaValueError(`cannot convert ${typeof element} ${describe(element)} to STRING`);
}

function isListLike(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

/** User data -> the native array of `native`: number, boolean, bigint-free; string (parsed for numeric types;
 *  for ENUM a state name from enumStrings or an index; for CHAR a string becomes its latin1 bytes + NUL);
 *  arrays / typed arrays element-wise. Out of range for the C type or unparsable -> CaValueError. */
export function toNativeArray(native: NativeType, value: unknown, enumStrings?: readonly string[]): CaArray {
  const Typed = TYPED[native];
  if (native !== ChannelType.STRING && Typed === undefined)
    throw new CaValueError(`invalid native type ${native}`);
  if (native === ChannelType.CHAR && typeof value === 'string') {
    const bytes = new Uint8Array(value.length + 1);
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code > 0xff) throw new CaValueError(`string ${describe(value)} is not latin1`);
      bytes[i] = code;
    }
    return bytes;
  }
  const list: ArrayLike<unknown> = isListLike(value) ? value : [value];
  if (typeof value === 'bigint' || (ArrayBuffer.isView(value) && value instanceof BigInt64Array)) {
    throw new CaValueError('bigint values are not supported: use numbers');
  }
  if (native === ChannelType.STRING) return Array.from(list, userString);
  if (value instanceof Typed! && !(native === ChannelType.ENUM && enumStrings?.length)) {
    return (value as Exclude<CaArray, string[]>).slice();
  }
  const out = new Typed!(list.length);
  for (let i = 0; i < list.length; i++) out[i] = userNumber(native, list[i], enumStrings);
  return out;
}

// ----------------------------------------------------------------------------------------- native -> native

/** EPICS spelling of a number as text: `precision` decimals (FLOAT/DOUBLE) or the shortest form; <= 39 bytes. */
export function numberToString(value: number, native: NativeType, precision?: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Inf' : '-Inf';
  let text: string;
  const floating = native === ChannelType.FLOAT || native === ChannelType.DOUBLE;
  if (floating && precision !== undefined && precision >= 0 && Math.abs(value) < 1e21) {
    text = value.toFixed(Math.min(Math.trunc(precision), 17));
  } else if (native === ChannelType.FLOAT) {
    text = String(Number(value.toPrecision(7)));
  } else {
    text = String(value);
  }
  return text.length > MAX_STRING_BYTES ? value.toPrecision(17).slice(0, MAX_STRING_BYTES) : text;
}

/** CHAR bytes -> the latin1 text up to the first NUL, at most 39 bytes. */
function charsToString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  const end = Math.min(nul === -1 ? bytes.length : nul, MAX_STRING_BYTES);
  return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1');
}

function stringToNumber(text: string, to: NativeType, enumStrings?: readonly string[]): number {
  if (to === ChannelType.ENUM && enumStrings !== undefined) {
    const index = enumStrings.indexOf(text);
    if (index !== -1) return index;
  }
  const n = parseNumber(text, 0);
  if (n === undefined) throw new CaConversionError(`cannot convert ${describe(text)} to ${NATIVE_NAMES[to]}`);
  const range = INTEGER_RANGE[to];
  if (range !== undefined) {
    const truncated = Math.trunc(n);
    if (!Number.isFinite(n) || truncated < range[0] || truncated > range[1]) {
      throw new CaConversionError(`${describe(text)} is out of range for ${NATIVE_NAMES[to]}`);
    }
    return truncated;
  }
  if (to === ChannelType.FLOAT && !fitsFloat(n)) {
    throw new CaConversionError(`${describe(text)} is out of range for FLOAT`);
  }
  return n;
}

/** Server side: a PV's native data converted to the requested native type (rsrv/dbConvert rules: numeric<->numeric
 *  with C casts, numeric -> string using precision, ENUM -> state string, string -> number parse, CHAR array <->
 *  string). Impossible -> CaConversionError. Returns `data` itself when `from === to`. */
export function convertArray(
  from: NativeType,
  to: NativeType,
  data: CaArray,
  options: { enumStrings?: readonly string[]; precision?: number } = {},
): CaArray {
  if (NATIVE_NAMES[from] === undefined || NATIVE_NAMES[to] === undefined) {
    throw new CaConversionError(`no conversion between native types ${from} and ${to}`);
  }
  if (from === to) return data;
  if (to === ChannelType.STRING) {
    if (from === ChannelType.CHAR) return [charsToString(data as Uint8Array)];
    const numbers = data as Exclude<CaArray, string[]>;
    const states = from === ChannelType.ENUM ? options.enumStrings : undefined;
    return Array.from(numbers, (n) =>
      states !== undefined && n < states.length ? states[n] : numberToString(n, from, options.precision),
    );
  }
  const Typed = TYPED[to]!;
  if (from === ChannelType.STRING) {
    const strings = data as string[];
    if (to === ChannelType.CHAR) {
      const text = strings[0] ?? '';
      const bytes = new Uint8Array(text.length + 1);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
      return bytes;
    }
    const out = new Typed(strings.length);
    for (let i = 0; i < strings.length; i++) out[i] = stringToNumber(strings[i], to, options.enumStrings);
    return out;
  }
  // Numeric -> numeric: typed-array assignment is the C cast (truncate, wrap; NaN/Inf -> 0 for integers).
  return (Typed as Float64ArrayConstructor).from(data as ArrayLike<number>);
}

/** Plain JS for display/CLI: count 1 -> the scalar, else an ordinary array. */
export function toPlain(data: CaArray): string | number | (string | number)[] {
  if (data.length === 1) return data[0] as string | number;
  return Array.from(data as ArrayLike<string | number>);
}
