/**
 * DBR payloads (db_access.h): metadata prefix + packed big-endian values, both ways. Pure.
 *
 * Decoding is zero-copy where it can be: a numeric array whose bytes sit at an offset aligned to its element size
 * is byte-swapped IN PLACE (little-endian hosts) and returned as a typed-array view on the payload's memory, so
 * the payload is consumed; an unaligned one is copied (the payload is left as it was). Layouts: `dbrLayouts.ts`.
 *
 * Differences from upstream, on purpose: GR/CTRL_STRING use the STS layout (libca, rsrv), not caproto's TIME
 * layout; a DBR_STRING family payload whose last string is short is accepted (libca sends strlen+1); units longer
 * than 7 bytes and enum state strings longer than 25 bytes are cut to fit (rsrv's strncpy), while a value string
 * longer than 39 bytes or with a character outside latin1 is refused (CaValueError).
 */
import { endianness } from 'node:os';
import { ChannelType, EPICS_EPOCH_UNIX_SECONDS, type NativeType } from './constants.js';
import {
  type DbrLayout,
  ENUM_STATES,
  ENUM_STRING_SIZE,
  findLayout,
  LIMIT_NAMES,
  layoutOf,
  UNITS_SIZE,
  VALUE_SIZES,
} from './dbrLayouts.js';
import { CaProtocolError, CaValueError } from './errors.js';

/** Values of a native type: STRING -> string[], SHORT -> Int16Array, FLOAT -> Float32Array, ENUM -> Uint16Array,
 *  CHAR -> Uint8Array, LONG -> Int32Array, DOUBLE -> Float64Array. */
export type CaArray =
  | string[]
  | Int16Array
  | Float32Array
  | Uint16Array
  | Uint8Array
  | Int32Array
  | Float64Array;

export interface EpicsTimestamp {
  secondsSinceEpoch: number;
  nanoseconds: number;
}

export interface DbrMetadata {
  status?: number;
  severity?: number;
  stamp?: EpicsTimestamp;
  timestamp?: number;
  units?: string;
  precision?: number;
  upperDispLimit?: number;
  lowerDispLimit?: number;
  upperAlarmLimit?: number;
  upperWarningLimit?: number;
  lowerWarningLimit?: number;
  lowerAlarmLimit?: number;
  upperCtrlLimit?: number;
  lowerCtrlLimit?: number;
  enumStrings?: string[];
  ackt?: number;
  acks?: number;
}

export interface DbrValue {
  dataType: number;
  count: number;
  data: CaArray;
  metadata: DbrMetadata;
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE';
const TYPED_ARRAYS = [
  undefined,
  Int16Array,
  Float32Array,
  Uint16Array,
  Uint8Array,
  Int32Array,
  Float64Array,
] as const;

/** Bytes of one element of `native`: 40, 2, 4, 2, 1, 4, 8. */
export function valueSize(native: NativeType): number {
  const size = VALUE_SIZES[native];
  if (size === undefined) throw new CaValueError(`invalid native type ${native}`);
  return size;
}

/** Bytes of the metadata prefix of a DBR type (the table in research notes 1.8); CaValueError for an invalid id. */
export function metadataSize(dataType: number): number {
  return layoutOf(dataType).metadataSize;
}

/** C `dbr_size_n`: metadata + max(count, 1) values, unpadded. */
export function dbrSize(dataType: number, count: number): number {
  const layout = layoutOf(dataType);
  return layout.metadataSize + Math.max(count, 1) * VALUE_SIZES[layout.native];
}

/** `count` zero values of `native` (empty strings for STRING). */
export function emptyArray(native: NativeType, count: number): CaArray {
  if (native === ChannelType.STRING) return new Array<string>(count).fill('');
  const Typed = TYPED_ARRAYS[native];
  if (Typed === undefined) throw new CaValueError(`invalid native type ${native}`);
  return new Typed(count);
}

/** Whether `data` is the array type of `native`. */
export function isArrayOf(native: NativeType, data: unknown): data is CaArray {
  if (native === ChannelType.STRING) return Array.isArray(data) && data.every((s) => typeof s === 'string');
  const Typed = TYPED_ARRAYS[native];
  return Typed !== undefined && data instanceof Typed;
}

/** EPICS stamp -> Unix seconds (float). */
export function toUnixSeconds(stamp: EpicsTimestamp): number {
  return stamp.secondsSinceEpoch + EPICS_EPOCH_UNIX_SECONDS + stamp.nanoseconds / 1e9;
}

/** Unix seconds -> EPICS stamp (nanoseconds rounded); CaValueError before 1990 or past the u32 range. */
export function fromUnixSeconds(seconds: number): EpicsTimestamp {
  const epics = seconds - EPICS_EPOCH_UNIX_SECONDS;
  if (!Number.isFinite(epics) || epics < 0 || epics >= 2 ** 32) {
    throw new CaValueError(`Unix time ${seconds} is outside the EPICS timestamp range`);
  }
  let secondsSinceEpoch = Math.floor(epics);
  let nanoseconds = Math.round((epics - secondsSinceEpoch) * 1e9);
  if (nanoseconds >= 1e9) {
    secondsSinceEpoch += 1;
    nanoseconds -= 1e9;
  }
  if (secondsSinceEpoch >= 2 ** 32) return { secondsSinceEpoch: 2 ** 32 - 1, nanoseconds: 999_999_999 };
  return { secondsSinceEpoch, nanoseconds };
}

// ---------------------------------------------------------------------------------------------------- encode

/** Latin1 bytes of a value string; CaValueError when it does not fit char[40] with its NUL or is not latin1. */
function checkedString(text: string): string {
  if (text.length > 39)
    throw new CaValueError(`string of ${text.length} bytes is longer than 39: ${text.slice(0, 50)}`);
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) throw new CaValueError(`string ${JSON.stringify(text)} is not latin1`);
  }
  return text;
}

/** Writes `text` cut to `size - 1` bytes, NUL-filled to `size`. */
function writeFixed(out: Buffer, offset: number, size: number, text: string): void {
  const written = out.write(text.slice(0, size - 1), offset, size - 1, 'latin1');
  out.fill(0, offset + written, offset + size);
}

function writeNumber(view: DataView, native: NativeType, offset: number, value: number): void {
  const v = Number.isNaN(value) && native !== ChannelType.FLOAT && native !== ChannelType.DOUBLE ? 0 : value;
  switch (native) {
    case ChannelType.SHORT:
      view.setInt16(offset, v);
      return;
    case ChannelType.FLOAT:
      view.setFloat32(offset, v);
      return;
    case ChannelType.ENUM:
      view.setUint16(offset, v);
      return;
    case ChannelType.CHAR:
      view.setUint8(offset, v);
      return;
    case ChannelType.LONG:
      view.setInt32(offset, v);
      return;
    case ChannelType.DOUBLE:
      view.setFloat64(offset, v);
      return;
  }
}

function readNumber(view: DataView, native: NativeType, offset: number): number {
  switch (native) {
    case ChannelType.SHORT:
      return view.getInt16(offset);
    case ChannelType.FLOAT:
      return view.getFloat32(offset);
    case ChannelType.ENUM:
      return view.getUint16(offset);
    case ChannelType.CHAR:
      return view.getUint8(offset);
    case ChannelType.LONG:
      return view.getInt32(offset);
    default:
      return view.getFloat64(offset);
  }
}

function encodeMetadata(layout: DbrLayout, out: Buffer, metadata: DbrMetadata): void {
  const view = new DataView(out.buffer, out.byteOffset, layout.metadataSize);
  if (layout.hasStatus) {
    view.setInt16(0, metadata.status ?? 0);
    view.setInt16(2, metadata.severity ?? 0);
  }
  if (layout.hasStamp) {
    const stamp =
      metadata.stamp ??
      (metadata.timestamp === undefined
        ? { secondsSinceEpoch: 0, nanoseconds: 0 }
        : fromUnixSeconds(metadata.timestamp));
    view.setUint32(4, stamp.secondsSinceEpoch);
    view.setUint32(8, stamp.nanoseconds);
  }
  if (layout.precisionAt !== undefined) view.setInt16(layout.precisionAt, metadata.precision ?? 0);
  if (layout.unitsAt !== undefined) writeFixed(out, layout.unitsAt, UNITS_SIZE, metadata.units ?? '');
  if (layout.limitsAt !== undefined) {
    const size = VALUE_SIZES[layout.native];
    for (let i = 0; i < layout.limitCount; i++) {
      writeNumber(view, layout.native, layout.limitsAt + i * size, metadata[LIMIT_NAMES[i]] ?? 0);
    }
  }
  if (layout.enumAt !== undefined) {
    const strings = metadata.enumStrings ?? [];
    if (strings.length > ENUM_STATES) {
      throw new CaValueError(`${strings.length} enum states: Channel Access carries at most ${ENUM_STATES}`);
    }
    view.setInt16(layout.enumAt, strings.length);
    for (let i = 0; i < ENUM_STATES; i++) {
      writeFixed(out, layout.enumAt + 2 + i * ENUM_STRING_SIZE, ENUM_STRING_SIZE, strings[i] ?? '');
    }
  }
  if (layout.ackAt !== undefined) {
    view.setUint16(layout.ackAt, metadata.ackt ?? 0);
    view.setUint16(layout.ackAt + 2, metadata.acks ?? 0);
  }
}

const SWAP: Record<number, (b: Buffer) => Buffer> = {
  2: (b) => b.swap16(),
  4: (b) => b.swap32(),
  8: (b) => b.swap64(),
};

/** Metadata + values (unpadded). `data`'s element type must match nativeOf(dataType) (CaValueError otherwise);
 *  strings longer than 39 bytes (latin1) -> CaValueError. GR/CTRL_STRING use the STS layout (libca). */
export function encodeDbr(dataType: number, data: CaArray, metadata: DbrMetadata = {}): Buffer {
  const layout = layoutOf(dataType);
  const { native, metadataSize: meta } = layout;
  if (!isArrayOf(native, data)) {
    throw new CaValueError(
      `data for ${dataType} must be the ${native === 0 ? 'string[]' : TYPED_ARRAYS[native]?.name}`,
    );
  }
  const size = VALUE_SIZES[native];
  const out = Buffer.allocUnsafe(meta + data.length * size);
  out.fill(0, 0, meta);
  encodeMetadata(layout, out, metadata);
  if (native === ChannelType.STRING) {
    const strings = data as string[];
    for (let i = 0; i < strings.length; i++)
      writeFixed(out, meta + i * size, size, checkedString(strings[i]));
    return out;
  }
  const typed = data as Exclude<CaArray, string[]>;
  const values = out.subarray(meta);
  values.set(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
  if (LITTLE_ENDIAN_HOST && size > 1) SWAP[size](values);
  return out;
}

// ---------------------------------------------------------------------------------------------------- decode

/** The latin1 text of a fixed field up to its first NUL. The NUL is looked for inside the field only: searching
 *  the rest of the payload made a string array without NULs cost time quadratic in its size (a 1 MB DBR_STRING
 *  array of 40-byte fields without NUL took seconds to decode, the largest payload minutes). */
function readFixed(payload: Buffer, offset: number, size: number): string {
  const end = Math.min(offset + size, payload.length);
  const nul = payload.subarray(offset, end).indexOf(0);
  return payload.toString('latin1', offset, nul === -1 ? end : offset + nul);
}

function decodeMetadata(layout: DbrLayout, payload: Buffer): DbrMetadata {
  const metadata: DbrMetadata = {};
  const view = new DataView(payload.buffer, payload.byteOffset, layout.metadataSize);
  if (layout.hasStatus) {
    metadata.status = view.getInt16(0);
    metadata.severity = view.getInt16(2);
  }
  if (layout.hasStamp) {
    const stamp = { secondsSinceEpoch: view.getUint32(4), nanoseconds: view.getUint32(8) };
    metadata.stamp = stamp;
    metadata.timestamp = toUnixSeconds(stamp);
  }
  if (layout.precisionAt !== undefined) metadata.precision = view.getInt16(layout.precisionAt);
  if (layout.unitsAt !== undefined) metadata.units = readFixed(payload, layout.unitsAt, UNITS_SIZE);
  if (layout.limitsAt !== undefined) {
    const size = VALUE_SIZES[layout.native];
    for (let i = 0; i < layout.limitCount; i++) {
      metadata[LIMIT_NAMES[i]] = readNumber(view, layout.native, layout.limitsAt + i * size);
    }
  }
  if (layout.enumAt !== undefined) {
    const states = Math.max(0, Math.min(ENUM_STATES, view.getInt16(layout.enumAt)));
    metadata.enumStrings = Array.from({ length: states }, (_, i) =>
      readFixed(payload, layout.enumAt! + 2 + i * ENUM_STRING_SIZE, ENUM_STRING_SIZE),
    );
  }
  if (layout.ackAt !== undefined) {
    metadata.ackt = view.getUint16(layout.ackAt);
    metadata.acks = view.getUint16(layout.ackAt + 2);
  }
  return metadata;
}

/** Decodes `count` elements. Numeric arrays are zero-copy views when the payload is aligned (bytes swapped IN
 *  PLACE on little-endian hosts: the payload is consumed), else copied. A payload shorter than needed ->
 *  CaProtocolError, EXCEPT a DBR_STRING/STS..CTRL_STRING whose last string is short (libca sends strlen+1). */
export function decodeDbr(dataType: number, count: number, payload: Buffer): DbrValue {
  const layout = findLayout(dataType);
  if (layout === undefined) throw new CaProtocolError(`invalid DBR type ${dataType}`);
  if (!Number.isSafeInteger(count) || count < 0) throw new CaProtocolError(`invalid element count ${count}`);
  const { native, metadataSize: meta } = layout;
  const size = VALUE_SIZES[native];
  const needed = meta + count * size;
  const isString = native === ChannelType.STRING;
  // A string array's last element may be short (strlen+1), but it has at least its NUL.
  const minimum = isString && count > 0 ? needed - size + 1 : needed;
  if (payload.length < minimum) {
    throw new CaProtocolError(
      `DBR type ${dataType} x ${count} needs ${needed} bytes, payload has ${payload.length}`,
    );
  }
  const metadata = decodeMetadata(layout, payload);
  if (isString) {
    const strings = new Array<string>(count);
    for (let i = 0; i < count; i++) strings[i] = readFixed(payload, meta + i * size, size);
    return { dataType, count, data: strings, metadata };
  }
  return { dataType, count, data: decodeNumbers(native, count, payload.subarray(meta, needed)), metadata };
}

function decodeNumbers(native: NativeType, count: number, bytes: Buffer): CaArray {
  const Typed = TYPED_ARRAYS[native]!;
  const size = VALUE_SIZES[native];
  if (bytes.byteOffset % size === 0) {
    if (LITTLE_ENDIAN_HOST && size > 1) SWAP[size](bytes);
    return new Typed(bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
  }
  const copy = new Typed(count);
  const copyBytes = Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength);
  bytes.copy(copyBytes);
  if (LITTLE_ENDIAN_HOST && size > 1) SWAP[size](copyBytes);
  return copy;
}
