/**
 * The Tango IDL (tango.idl, IDL 5) structs a client exchanges, as CDR readers and writers: DevError and
 * DevErrorList, ClntIdent, TimeVal, AttributeDim, AttrValUnion, AttributeValue_4/_5, DevCmdInfo/_2,
 * AttributeConfig_5 (with AttributeAlarm_3 and EventProperties). Field names follow the IDL; enums are numbers
 * (name tables below).
 */
import type { DevError } from '../errors.js';
import { DEV_STATES } from './any.js';
import type { CdrReader, CdrWriter } from './cdr.js';
import { GiopEncodeError, GiopProtocolError } from './errors.js';

export const ERR_SEVERITY = ['WARN', 'ERR', 'PANIC'] as const;
export const ATTR_QUALITY = [
  'ATTR_VALID',
  'ATTR_INVALID',
  'ATTR_ALARM',
  'ATTR_CHANGING',
  'ATTR_WARNING',
] as const;
export const ATTR_DATA_FORMAT = ['SCALAR', 'SPECTRUM', 'IMAGE', 'FMT_UNKNOWN'] as const;
export const ATTR_WRITE_TYPE = ['READ', 'READ_WITH_WRITE', 'WRITE', 'READ_WRITE', 'WT_UNKNOWN'] as const;
export const DISP_LEVEL = ['OPERATOR', 'EXPERT', 'DL_UNKNOWN'] as const;
export const DEV_SOURCE = { DEV: 0, CACHE: 1, CACHE_DEV: 2 } as const;

// ------------------------------------------------------------------------------------------- errors

function enumIndex(r: CdrReader, names: readonly string[], what: string): number {
  const v = r.ulong();
  if (v >= names.length) throw new GiopProtocolError(`${what} ${v} out of range`);
  return v;
}

export function readDevError(r: CdrReader): DevError {
  const reason = r.string();
  const severity = ERR_SEVERITY[enumIndex(r, ERR_SEVERITY, 'ErrSeverity')];
  const desc = r.string();
  const origin = r.string();
  return { reason, desc, origin, severity };
}
export function writeDevError(w: CdrWriter, e: DevError): void {
  w.string(e.reason);
  const severity = ERR_SEVERITY.indexOf(e.severity);
  if (severity < 0) throw new GiopEncodeError(`bad ErrSeverity ${String(e.severity)}`);
  w.ulong(severity);
  w.string(e.desc);
  w.string(e.origin);
}
export const readDevErrorList = (r: CdrReader): DevError[] => r.seq(20, readDevError);
export const writeDevErrorList = (w: CdrWriter, errors: readonly DevError[]): void =>
  w.seq(errors, writeDevError);

// ------------------------------------------------------------------------------------------- ClntIdent

/** `ClntIdent`: a union on LockerLanguage: CPP carries a pid, JAVA a main class and a 128-bit uuid. */
export type ClntIdent =
  | { language: 'CPP'; pid: number }
  | { language: 'JAVA'; mainClass: string; uuid: [bigint, bigint] };

export function readClntIdent(r: CdrReader): ClntIdent {
  const lang = r.ulong();
  if (lang === 0) return { language: 'CPP', pid: r.ulong() };
  if (lang === 1) return { language: 'JAVA', mainClass: r.string(), uuid: [r.ulonglong(), r.ulonglong()] };
  throw new GiopProtocolError(`bad LockerLanguage ${lang}`);
}
export function writeClntIdent(w: CdrWriter, c: ClntIdent): void {
  if (c.language === 'CPP') {
    w.ulong(0);
    w.ulong(c.pid);
  } else {
    w.ulong(1);
    w.string(c.mainClass);
    w.ulonglong(c.uuid[0]);
    w.ulonglong(c.uuid[1]);
  }
}

// ------------------------------------------------------------------------------------------- attribute values

export interface TimeVal {
  tv_sec: number;
  tv_usec: number;
  tv_nsec: number;
}
export interface AttributeDim {
  dim_x: number;
  dim_y: number;
}

/** `AttributeDataType`, the discriminator of `AttrValUnion`. */
export const ATTRIBUTE_DATA_TYPE = [
  'ATT_BOOL',
  'ATT_SHORT',
  'ATT_LONG',
  'ATT_LONG64',
  'ATT_FLOAT',
  'ATT_DOUBLE',
  'ATT_UCHAR',
  'ATT_USHORT',
  'ATT_ULONG',
  'ATT_ULONG64',
  'ATT_STRING',
  'ATT_STATE',
  'DEVICE_STATE',
  'ATT_ENCODED',
  'ATT_NO_DATA',
] as const;

/** `AttrValUnion`: every arm is a sequence but DEVICE_STATE (one DevState) and NO_DATA (a boolean). */
export type AttrValue =
  | { kind: 'ATT_BOOL'; value: boolean[] }
  | {
      kind: 'ATT_SHORT' | 'ATT_LONG' | 'ATT_FLOAT' | 'ATT_DOUBLE' | 'ATT_USHORT' | 'ATT_ULONG' | 'ATT_STATE';
      value: number[];
    }
  | { kind: 'ATT_UCHAR'; value: Uint8Array }
  | { kind: 'ATT_LONG64' | 'ATT_ULONG64'; value: bigint[] }
  | { kind: 'ATT_STRING'; value: string[] }
  | { kind: 'DEVICE_STATE'; value: number }
  | { kind: 'ATT_ENCODED'; value: { encoded_format: string; encoded_data: Uint8Array }[] }
  | { kind: 'ATT_NO_DATA'; value: boolean };

function readStateSeq(r: CdrReader): number[] {
  return r.seq(4, (s) => enumIndex(s, DEV_STATES, 'DevState'));
}

export function readAttrValue(r: CdrReader): AttrValue {
  const d = r.ulong();
  switch (d) {
    case 0:
      return { kind: 'ATT_BOOL', value: r.seq(1, (e) => e.boolean()) };
    case 1:
      return { kind: 'ATT_SHORT', value: r.seq(2, (e) => e.short()) };
    case 2:
      return { kind: 'ATT_LONG', value: r.seq(4, (e) => e.long()) };
    case 3:
      return { kind: 'ATT_LONG64', value: r.seq(8, (e) => e.longlong()) };
    case 4:
      return { kind: 'ATT_FLOAT', value: r.seq(4, (e) => e.float()) };
    case 5:
      return { kind: 'ATT_DOUBLE', value: r.seq(8, (e) => e.double()) };
    case 6:
      return { kind: 'ATT_UCHAR', value: r.octetSeq() };
    case 7:
      return { kind: 'ATT_USHORT', value: r.seq(2, (e) => e.ushort()) };
    case 8:
      return { kind: 'ATT_ULONG', value: r.seq(4, (e) => e.ulong()) };
    case 9:
      return { kind: 'ATT_ULONG64', value: r.seq(8, (e) => e.ulonglong()) };
    case 10:
      return { kind: 'ATT_STRING', value: r.stringSeq() };
    case 11:
      return { kind: 'ATT_STATE', value: readStateSeq(r) };
    case 12:
      return { kind: 'DEVICE_STATE', value: enumIndex(r, DEV_STATES, 'DevState') };
    case 13:
      return {
        kind: 'ATT_ENCODED',
        value: r.seq(8, (e) => ({ encoded_format: e.string(), encoded_data: e.octetSeq() })),
      };
    case 14:
      return { kind: 'ATT_NO_DATA', value: r.boolean() };
    default:
      throw new GiopProtocolError(`bad AttributeDataType ${d}`);
  }
}

export function writeAttrValue(w: CdrWriter, v: AttrValue): void {
  const d = ATTRIBUTE_DATA_TYPE.indexOf(v.kind);
  if (d < 0) throw new GiopEncodeError(`bad AttrValUnion kind ${String(v.kind)}`);
  w.ulong(d);
  switch (v.kind) {
    case 'ATT_BOOL':
      w.seq(v.value, (e, x) => e.boolean(x));
      return;
    case 'ATT_SHORT':
      w.seq(v.value, (e, x) => e.short(x));
      return;
    case 'ATT_LONG':
      w.seq(v.value, (e, x) => e.long(x));
      return;
    case 'ATT_LONG64':
      w.seq(v.value, (e, x) => e.longlong(x));
      return;
    case 'ATT_FLOAT':
      w.seq(v.value, (e, x) => e.float(x));
      return;
    case 'ATT_DOUBLE':
      w.seq(v.value, (e, x) => e.double(x));
      return;
    case 'ATT_UCHAR':
      w.octetSeq(v.value);
      return;
    case 'ATT_USHORT':
      w.seq(v.value, (e, x) => e.ushort(x));
      return;
    case 'ATT_ULONG':
      w.seq(v.value, (e, x) => e.ulong(x));
      return;
    case 'ATT_ULONG64':
      w.seq(v.value, (e, x) => e.ulonglong(x));
      return;
    case 'ATT_STRING':
      w.stringSeq(v.value);
      return;
    case 'ATT_STATE':
      w.seq(v.value, (e, x) => writeState(e, x));
      return;
    case 'DEVICE_STATE':
      writeState(w, v.value);
      return;
    case 'ATT_ENCODED':
      w.seq(v.value, (e, x) => {
        e.string(x.encoded_format);
        e.octetSeq(x.encoded_data);
      });
      return;
    case 'ATT_NO_DATA':
      w.boolean(v.value);
      return;
  }
}

function writeState(w: CdrWriter, s: number): void {
  if (!Number.isInteger(s) || s < 0 || s >= DEV_STATES.length) throw new GiopEncodeError(`bad DevState ${s}`);
  w.ulong(s);
}

/** `AttributeValue_5` (read_attributes_5 results and IDL 5 events); `data_type` is a Tango type number. */
export interface AttributeValue5 {
  value: AttrValue;
  quality: number;
  data_format: number;
  data_type: number;
  time: TimeVal;
  name: string;
  r_dim: AttributeDim;
  w_dim: AttributeDim;
  err_list: DevError[];
}
/** `AttributeValue_4` (write_attributes_4 arguments): `AttributeValue_5` without `data_type`. */
export type AttributeValue4 = Omit<AttributeValue5, 'data_type'>;

const readTimeVal = (r: CdrReader): TimeVal => ({ tv_sec: r.long(), tv_usec: r.long(), tv_nsec: r.long() });
function writeTimeVal(w: CdrWriter, t: TimeVal): void {
  w.long(t.tv_sec);
  w.long(t.tv_usec);
  w.long(t.tv_nsec);
}
const readDim = (r: CdrReader): AttributeDim => ({ dim_x: r.long(), dim_y: r.long() });
function writeDim(w: CdrWriter, d: AttributeDim): void {
  w.long(d.dim_x);
  w.long(d.dim_y);
}

function readAttributeValue(r: CdrReader, withType: boolean): AttributeValue5 {
  const value = readAttrValue(r);
  const quality = enumIndex(r, ATTR_QUALITY, 'AttrQuality');
  const data_format = enumIndex(r, ATTR_DATA_FORMAT, 'AttrDataFormat');
  const data_type = withType ? r.long() : -1;
  return {
    value,
    quality,
    data_format,
    data_type,
    time: readTimeVal(r),
    name: r.string(),
    r_dim: readDim(r),
    w_dim: readDim(r),
    err_list: readDevErrorList(r),
  };
}
function writeAttributeValue(
  w: CdrWriter,
  v: AttributeValue4 & { data_type?: number },
  withType: boolean,
): void {
  writeAttrValue(w, v.value);
  w.ulong(checkEnum(v.quality, ATTR_QUALITY, 'AttrQuality'));
  w.ulong(checkEnum(v.data_format, ATTR_DATA_FORMAT, 'AttrDataFormat'));
  if (withType) w.long(v.data_type ?? 0);
  writeTimeVal(w, v.time);
  w.string(v.name);
  writeDim(w, v.r_dim);
  writeDim(w, v.w_dim);
  writeDevErrorList(w, v.err_list);
}
function checkEnum(v: number, names: readonly string[], what: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= names.length) throw new GiopEncodeError(`bad ${what} ${v}`);
  return v;
}

export const readAttributeValue5 = (r: CdrReader): AttributeValue5 => readAttributeValue(r, true);
export const writeAttributeValue5 = (w: CdrWriter, v: AttributeValue5): void =>
  writeAttributeValue(w, v, true);
export function readAttributeValue4(r: CdrReader): AttributeValue4 {
  const { data_type: _, ...v } = readAttributeValue(r, false);
  return v;
}
export const writeAttributeValue4 = (w: CdrWriter, v: AttributeValue4): void =>
  writeAttributeValue(w, v, false);

// ------------------------------------------------------------------------------------------- commands

/** `DevCmdInfo_2` (command_list_query_2, command_query_2); `DevCmdInfo` (IDL 1) has no `level`. */
export interface DevCmdInfo {
  cmd_name: string;
  level?: number;
  cmd_tag: number;
  in_type: number;
  out_type: number;
  in_type_desc: string;
  out_type_desc: string;
}
export function readDevCmdInfo2(r: CdrReader): DevCmdInfo {
  return {
    cmd_name: r.string(),
    level: enumIndex(r, DISP_LEVEL, 'DispLevel'),
    cmd_tag: r.long(),
    in_type: r.long(),
    out_type: r.long(),
    in_type_desc: r.string(),
    out_type_desc: r.string(),
  };
}
export function writeDevCmdInfo2(w: CdrWriter, c: DevCmdInfo): void {
  w.string(c.cmd_name);
  w.ulong(checkEnum(c.level ?? 0, DISP_LEVEL, 'DispLevel'));
  w.long(c.cmd_tag);
  w.long(c.in_type);
  w.long(c.out_type);
  w.string(c.in_type_desc);
  w.string(c.out_type_desc);
}
export function readDevCmdInfo(r: CdrReader): DevCmdInfo {
  return {
    cmd_name: r.string(),
    cmd_tag: r.long(),
    in_type: r.long(),
    out_type: r.long(),
    in_type_desc: r.string(),
    out_type_desc: r.string(),
  };
}
export function writeDevCmdInfo(w: CdrWriter, c: DevCmdInfo): void {
  w.string(c.cmd_name);
  w.long(c.cmd_tag);
  w.long(c.in_type);
  w.long(c.out_type);
  w.string(c.in_type_desc);
  w.string(c.out_type_desc);
}
