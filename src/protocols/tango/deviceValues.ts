/**
 * Plain JavaScript values to and from Tango's typed values, as PyTango converts them:
 * - command arguments by the command's `in_type` (numbers, booleans, strings, bigint or number for the 64-bit
 *   types, a DevState name or number, arrays; `[numbers, strings]` for DevVarLongStringArray and
 *   DevVarDoubleStringArray; `[format, bytes]` for DevEncoded), and results back the same way (64-bit integers as
 *   bigint, DevState as its name, DevVarCharArray as a Uint8Array);
 * - `AttributeValue_5` to a `DeviceAttribute` (read part and set point split by `r_dim` / `w_dim`, images as rows);
 * - a value to write to an `AttributeValue_4`, by the attribute's configured type and format.
 * A value of the wrong shape raises `TangoTypeError`; numbers out of range raise the codec's `GiopEncodeError` (also a
 * bigint too large for a double, whatever the type: PyTango's OverflowError).
 */
import { TangoTypeError } from './clientErrors.js';
import type { AttrDataFormatName, AttrQualityName, DeviceAttribute } from './deviceTypes.js';
import { DEV_STATES, TANGO_TYPE_NUMBERS, type TangoTypeName, type TangoValue } from './giop/any.js';
import type { AttributeConfig5 } from './giop/attributeConfig.js';
import { GiopEncodeError, GiopProtocolError } from './giop/errors.js';
import type { CommandValue } from './giop/operations.js';
import {
  ATTR_DATA_FORMAT,
  ATTR_QUALITY,
  type AttributeValue4,
  type AttributeValue5,
  type AttrValue,
} from './giop/tangoTypes.js';

const TYPE_NAMES = new Map<number, TangoTypeName>(
  (Object.entries(TANGO_TYPE_NUMBERS) as [TangoTypeName, number][]).map(([name, n]) => [n, name]),
);
const DEV_ENUM = 29;

/** The Tango type name of a type number (`DevCmdInfo`, `AttributeValue_5.data_type`). */
export function typeName(n: number): TangoTypeName | 'DevEnum' | 'Unknown' {
  if (n === DEV_ENUM) return 'DevEnum';
  return TYPE_NAMES.get(n) ?? 'Unknown';
}

function state(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < DEV_STATES.length) return v;
  if (typeof v === 'string') {
    const i = (DEV_STATES as readonly string[]).indexOf(v.toUpperCase());
    if (i >= 0) return i;
  }
  throw new TangoTypeError(`not a DevState: ${String(v)}`);
}
/**
 * A number for a value of Tango type `type`. A bigint too large for a double raises `GiopEncodeError`, as PyTango
 * raises OverflowError for an int too large for a float: Number() would make it Infinity, which a DevDouble or
 * DevFloat carries to the device as it is (the integer types' range checks would refuse it, naming Infinity).
 */
function num(v: unknown, type: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') {
    const n = Number(v);
    if (!Number.isFinite(n))
      throw new GiopEncodeError(`${type} out of range: ${v} is too large for a double`);
    return n;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new TangoTypeError(`expected a number, got ${typeof v}`);
}
function big(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new TangoTypeError(`expected an integer (number or bigint), got ${String(v)}`);
}
function str(v: unknown): string {
  if (typeof v === 'string') return v;
  throw new TangoTypeError(`expected a string, got ${typeof v}`);
}
function bool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  throw new TangoTypeError(`expected a boolean, got ${String(v)}`);
}
/** Bytes, each checked: a Uint8Array would wrap 300 to 44 and -1 to 255 (PyTango raises OverflowError). */
function octets(items: unknown[], type: string): Uint8Array {
  return Uint8Array.from(items, (item) => {
    const n = num(item, type);
    if (!Number.isInteger(n) || n < 0 || n > 0xff)
      throw new GiopEncodeError(`octet out of range [0, 255]: ${n}`);
    return n;
  });
}
function list(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView))
    return Array.from(v as unknown as ArrayLike<unknown>);
  throw new TangoTypeError(`expected an array, got ${v === null ? 'null' : typeof v}`);
}
function pair(v: unknown, what: string): [unknown[], unknown[]] {
  const p = list(v);
  if (p.length !== 2) throw new TangoTypeError(`${what} is [numbers, strings]`);
  return [list(p[0]), list(p[1])];
}

/** A plain value as the Tango value of type `type` (a command argument). */
export function toTangoValue(type: TangoTypeName, v: unknown): TangoValue {
  switch (type) {
    case 'DevVoid':
      // an argument would be dropped and the command run anyway; PyTango refuses it
      if (v !== undefined && v !== null) throw new TangoTypeError('a DevVoid command takes no argument');
      return { type };
    case 'DevBoolean':
      return { type, value: bool(v) };
    case 'DevShort':
    case 'DevLong':
    case 'DevFloat':
    case 'DevDouble':
    case 'DevUShort':
    case 'DevULong':
    case 'DevUChar':
      return { type, value: num(v, type) };
    case 'DevLong64':
    case 'DevULong64':
      return { type, value: big(v) };
    case 'DevString':
      return { type, value: str(v) };
    case 'DevState':
      return { type, value: state(v) };
    case 'DevVarCharArray':
      return { type, value: v instanceof Uint8Array ? v : octets(list(v), type) };
    case 'DevVarShortArray':
    case 'DevVarLongArray':
    case 'DevVarFloatArray':
    case 'DevVarDoubleArray':
    case 'DevVarUShortArray':
    case 'DevVarULongArray':
      return { type, value: list(v).map((x) => num(x, type)) };
    case 'DevVarStateArray':
      return { type, value: list(v).map(state) };
    case 'DevVarLong64Array':
    case 'DevVarULong64Array':
      return { type, value: list(v).map(big) };
    case 'DevVarStringArray':
      return { type, value: list(v).map(str) };
    case 'DevVarBooleanArray':
      return { type, value: list(v).map(bool) };
    case 'DevVarLongStringArray': {
      const [l, s] = pair(v, type);
      return { type, value: { lvalue: l.map((x) => num(x, type)), svalue: s.map(str) } };
    }
    case 'DevVarDoubleStringArray': {
      const [d, s] = pair(v, type);
      return { type, value: { dvalue: d.map((x) => num(x, type)), svalue: s.map(str) } };
    }
    case 'DevEncoded': {
      const p = list(v);
      const data = p[1];
      if (p.length !== 2 || !(data instanceof Uint8Array))
        throw new TangoTypeError('DevEncoded is [format, bytes]');
      return { type, value: { encoded_format: str(p[0]), encoded_data: data } };
    }
  }
}

/** The Tango type PyTango would pick for an argument of an unknown command. */
export function guessType(v: unknown): TangoTypeName {
  if (v === undefined || v === null) return 'DevVoid';
  if (typeof v === 'boolean') return 'DevBoolean';
  if (typeof v === 'number') return Number.isInteger(v) ? 'DevLong' : 'DevDouble';
  if (typeof v === 'bigint') return 'DevLong64';
  if (typeof v === 'string') return 'DevString';
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return 'DevVarStringArray';
  if (Array.isArray(v)) return 'DevVarDoubleArray';
  throw new TangoTypeError(`cannot tell the Tango type of ${typeof v}`);
}

/** A command result as a plain value (see the header). */
export function fromTangoValue(v: CommandValue): unknown {
  switch (v.type) {
    case 'unknown':
      return v.any.value;
    case 'DevVoid':
      return undefined;
    case 'DevState':
      return DEV_STATES[v.value];
    case 'DevVarStateArray':
      return v.value.map((s) => DEV_STATES[s]);
    case 'DevVarLongStringArray':
      return [v.value.lvalue, v.value.svalue];
    case 'DevVarDoubleStringArray':
      return [v.value.dvalue, v.value.svalue];
    case 'DevEncoded':
      return [v.value.encoded_format, Uint8Array.from(v.value.encoded_data)];
    case 'DevVarCharArray':
      return Uint8Array.from(v.value);
    default:
      return v.value;
  }
}

// ------------------------------------------------------------------------------------------- attributes

function elements(v: AttrValue): unknown[] | Uint8Array {
  switch (v.kind) {
    case 'ATT_STATE':
      return v.value.map((s) => DEV_STATES[s]);
    case 'DEVICE_STATE':
      return [DEV_STATES[v.value]];
    case 'ATT_NO_DATA':
      return [];
    case 'ATT_ENCODED':
      // copied, as a command's DevEncoded result: the decoder's bytes are a view that would keep the whole reply
      return v.value.map((e) => [e.encoded_format, Uint8Array.from(e.encoded_data)]);
    default:
      return v.value;
  }
}

function shape(all: unknown[] | Uint8Array, from: number, x: number, y: number, format: number): unknown {
  const n = format === 2 ? x * y : format === 1 ? x : Math.min(1, x || 1);
  if (all.length <= from) return undefined;
  const part = Array.from(all.slice(from, from + n) as ArrayLike<unknown>);
  if (format === 0) return part[0];
  if (format === 1) return part;
  // only the rows its values fill: a reply may announce 2^31 - 1 rows of none (dims are not checked against the data)
  const filled = x > 0 ? Math.min(y, Math.ceil(part.length / x)) : 0;
  const rows: unknown[][] = [];
  for (let r = 0; r < filled; r++) rows.push(part.slice(r * x, (r + 1) * x));
  return rows;
}

/** An `AttributeValue_5` as PyTango's `DeviceAttribute` (a negative dimension: `GiopProtocolError`). */
export function toDeviceAttribute(av: AttributeValue5): DeviceAttribute {
  for (const [what, d] of [
    ['r_dim', av.r_dim],
    ['w_dim', av.w_dim],
  ] as const) {
    if (d.dim_x < 0 || d.dim_y < 0)
      throw new GiopProtocolError(`attribute ${av.name} has ${what} (${d.dim_x}, ${d.dim_y})`);
  }
  const all = elements(av.value);
  const format = av.value.kind === 'DEVICE_STATE' ? 0 : av.data_format;
  const rx = av.r_dim.dim_x;
  const ry = av.r_dim.dim_y;
  const readCount = format === 2 ? rx * ry : format === 1 ? rx : Math.min(all.length, 1);
  const writable = av.w_dim.dim_x > 0;
  // a write-only attribute sends its set point once, as the read value: it is the set point too (as PyTango's w_value)
  const wFrom = all.length > readCount ? readCount : 0;
  return {
    name: av.name,
    value: shape(all, 0, rx, ry, format),
    wValue: writable ? shape(all, wFrom, av.w_dim.dim_x, av.w_dim.dim_y, format) : undefined,
    quality: (ATTR_QUALITY[av.quality] ?? 'ATTR_INVALID') as AttrQualityName,
    dataFormat: (ATTR_DATA_FORMAT[av.data_format] ?? 'FMT_UNKNOWN') as AttrDataFormatName,
    type: av.value.kind === 'DEVICE_STATE' ? 'DevState' : typeName(av.data_type),
    dimX: rx,
    dimY: ry,
    wDimX: av.w_dim.dim_x,
    wDimY: av.w_dim.dim_y,
    time: av.time.tv_sec * 1000 + av.time.tv_usec / 1000,
  };
}

const ATTR_KIND: Partial<Record<TangoTypeName | 'DevEnum', AttrValue['kind']>> = {
  DevBoolean: 'ATT_BOOL',
  DevShort: 'ATT_SHORT',
  DevEnum: 'ATT_SHORT',
  DevLong: 'ATT_LONG',
  DevLong64: 'ATT_LONG64',
  DevFloat: 'ATT_FLOAT',
  DevDouble: 'ATT_DOUBLE',
  DevUChar: 'ATT_UCHAR',
  DevUShort: 'ATT_USHORT',
  DevULong: 'ATT_ULONG',
  DevULong64: 'ATT_ULONG64',
  DevString: 'ATT_STRING',
  DevState: 'ATT_STATE',
};

/** The value of an attribute of Tango type `type` (`kind` on the wire). */
function attrValue(kind: AttrValue['kind'], items: unknown[], type: string): AttrValue {
  switch (kind) {
    case 'ATT_BOOL':
      return { kind, value: items.map(bool) };
    case 'ATT_LONG64':
    case 'ATT_ULONG64':
      return { kind, value: items.map(big) };
    case 'ATT_UCHAR':
      return { kind, value: octets(items, type) };
    case 'ATT_STRING':
      return { kind, value: items.map(str) };
    case 'ATT_STATE':
      return { kind, value: items.map(state) };
    case 'ATT_SHORT':
    case 'ATT_LONG':
    case 'ATT_FLOAT':
    case 'ATT_DOUBLE':
    case 'ATT_USHORT':
    case 'ATT_ULONG':
      return { kind, value: items.map((x) => num(x, type)) };
    default:
      throw new TangoTypeError(`cannot write attributes of kind ${kind}`);
  }
}

/** The `AttributeValue_4` that writes `value` to an attribute configured as `config` (cppTango's layout). */
export function toAttributeValue4(config: AttributeConfig5, value: unknown): AttributeValue4 {
  const type = typeName(config.data_type);
  const kind = type === 'Unknown' ? undefined : ATTR_KIND[type];
  if (kind === undefined)
    throw new TangoTypeError(`writing ${type} attributes is not supported (${config.name})`);
  let items: unknown[];
  let x: number;
  let y = 0;
  if (config.data_format === 0) {
    items = [value];
    x = 1;
  } else if (config.data_format === 1) {
    items = list(value);
    x = items.length;
  } else {
    const rows = list(value).map(list);
    x = rows[0]?.length ?? 0;
    y = rows.length;
    if (rows.some((r) => r.length !== x))
      throw new TangoTypeError(`image rows of ${config.name} differ in length`);
    items = rows.flat();
  }
  return {
    value: attrValue(kind, items, type),
    quality: 0,
    data_format: 3,
    time: { tv_sec: 0, tv_usec: 0, tv_nsec: 0 },
    name: config.name,
    r_dim: { dim_x: x, dim_y: y },
    w_dim: { dim_x: x, dim_y: y },
    err_list: [],
  };
}
