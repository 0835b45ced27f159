/**
 * Tango command values as CORBA `any`s: the TypeCodes omniORB/cppTango use for every Tango command type
 * (DevVoid..DevVarDoubleStringArray, DevState, DevVarStateArray, DevEncoded) and the conversion between a typed
 * `TangoValue` and an `Any`. Scalars travel as plain CORBA kinds (DevLong is `tk_long`, DevString `tk_string`),
 * arrays and structs as `tk_alias`/`tk_struct` with their `IDL:Tango/...:1.0` repository ids, exactly as the
 * captures show: servers extract with omniORB's `>>=`, which compares TypeCodes structurally.
 */

import { readAny, writeAny } from './anyValue.js';
import type { CdrReader, CdrWriter } from './cdr.js';
import { GiopEncodeError } from './errors.js';
import { type Any, MAX_TYPECODE_DEPTH, TK, type TypeCode, unalias } from './typecode.js';

/** Tango `DevState` labels, by ordinal. */
export const DEV_STATES = [
  'ON',
  'OFF',
  'CLOSE',
  'OPEN',
  'INSERT',
  'EXTRACT',
  'MOVING',
  'STANDBY',
  'FAULT',
  'INIT',
  'RUNNING',
  'ALARM',
  'DISABLE',
  'UNKNOWN',
] as const;
export type DevStateName = (typeof DEV_STATES)[number];

/** Tango `CmdArgType` numbers (as in `DevCmdInfo.in_type` / `out_type` and `AttributeValue_5.data_type`). */
export const TANGO_TYPE_NUMBERS = {
  DevVoid: 0,
  DevBoolean: 1,
  DevShort: 2,
  DevLong: 3,
  DevFloat: 4,
  DevDouble: 5,
  DevUShort: 6,
  DevULong: 7,
  DevString: 8,
  DevVarCharArray: 9,
  DevVarShortArray: 10,
  DevVarLongArray: 11,
  DevVarFloatArray: 12,
  DevVarDoubleArray: 13,
  DevVarUShortArray: 14,
  DevVarULongArray: 15,
  DevVarStringArray: 16,
  DevVarLongStringArray: 17,
  DevVarDoubleStringArray: 18,
  DevState: 19,
  DevVarBooleanArray: 21,
  DevUChar: 22,
  DevLong64: 23,
  DevULong64: 24,
  DevVarLong64Array: 25,
  DevVarULong64Array: 26,
  DevEncoded: 28,
  DevVarStateArray: 31,
} as const;
export type TangoTypeName = keyof typeof TANGO_TYPE_NUMBERS;

/** A Tango command argument or result, tagged with its Tango type. */
export type TangoValue =
  | { type: 'DevVoid'; value?: undefined }
  | { type: 'DevBoolean'; value: boolean }
  | { type: 'DevShort' | 'DevLong' | 'DevFloat' | 'DevDouble' | 'DevUShort' | 'DevULong'; value: number }
  | { type: 'DevUChar'; value: number }
  | { type: 'DevLong64' | 'DevULong64'; value: bigint }
  | { type: 'DevString'; value: string }
  | { type: 'DevState'; value: number }
  | { type: 'DevVarCharArray'; value: Uint8Array }
  | {
      type:
        | 'DevVarShortArray'
        | 'DevVarLongArray'
        | 'DevVarFloatArray'
        | 'DevVarDoubleArray'
        | 'DevVarUShortArray'
        | 'DevVarULongArray'
        | 'DevVarStateArray';
      value: number[];
    }
  | { type: 'DevVarLong64Array' | 'DevVarULong64Array'; value: bigint[] }
  | { type: 'DevVarStringArray'; value: string[] }
  | { type: 'DevVarBooleanArray'; value: boolean[] }
  | { type: 'DevVarLongStringArray'; value: { lvalue: number[]; svalue: string[] } }
  | { type: 'DevVarDoubleStringArray'; value: { dvalue: number[]; svalue: string[] } }
  | { type: 'DevEncoded'; value: { encoded_format: string; encoded_data: Uint8Array } };

const simple = (kind: number): TypeCode => ({ kind }) as TypeCode;
const STRING: TypeCode = { kind: TK.string, bound: 0 };
const alias = (name: string, content: TypeCode): TypeCode => ({
  kind: TK.alias,
  id: `IDL:Tango/${name}:1.0`,
  name,
  content,
});
const seqOf = (name: string, element: TypeCode): TypeCode =>
  alias(name, { kind: TK.sequence, element, bound: 0 });

export const DEV_STATE_TC: TypeCode = {
  kind: TK.enum,
  id: 'IDL:Tango/DevState:1.0',
  name: 'DevState',
  labels: [...DEV_STATES],
};
const LONG_ARRAY = seqOf('DevVarLongArray', simple(TK.long));
const DOUBLE_ARRAY = seqOf('DevVarDoubleArray', simple(TK.double));
const STRING_ARRAY = seqOf('DevVarStringArray', STRING);
const CHAR_ARRAY = seqOf('DevVarCharArray', simple(TK.octet));

/** The TypeCode cppTango puts in the `any` for each Tango type. */
export const TANGO_TYPECODES: Record<TangoTypeName, TypeCode> = {
  DevVoid: simple(TK.null),
  DevBoolean: simple(TK.boolean),
  DevShort: simple(TK.short),
  DevLong: simple(TK.long),
  DevFloat: simple(TK.float),
  DevDouble: simple(TK.double),
  DevUShort: simple(TK.ushort),
  DevULong: simple(TK.ulong),
  DevString: STRING,
  DevUChar: simple(TK.octet),
  DevLong64: simple(TK.longlong),
  DevULong64: simple(TK.ulonglong),
  DevState: DEV_STATE_TC,
  DevVarCharArray: CHAR_ARRAY,
  DevVarShortArray: seqOf('DevVarShortArray', simple(TK.short)),
  DevVarLongArray: LONG_ARRAY,
  DevVarFloatArray: seqOf('DevVarFloatArray', simple(TK.float)),
  DevVarDoubleArray: DOUBLE_ARRAY,
  DevVarUShortArray: seqOf('DevVarUShortArray', simple(TK.ushort)),
  DevVarULongArray: seqOf('DevVarULongArray', simple(TK.ulong)),
  DevVarStringArray: STRING_ARRAY,
  DevVarBooleanArray: seqOf('DevVarBooleanArray', simple(TK.boolean)),
  DevVarLong64Array: seqOf('DevVarLong64Array', simple(TK.longlong)),
  DevVarULong64Array: seqOf('DevVarULong64Array', simple(TK.ulonglong)),
  DevVarStateArray: seqOf('DevVarStateArray', DEV_STATE_TC),
  DevVarLongStringArray: {
    kind: TK.struct,
    id: 'IDL:Tango/DevVarLongStringArray:1.0',
    name: 'DevVarLongStringArray',
    members: [
      { name: 'lvalue', type: LONG_ARRAY },
      { name: 'svalue', type: STRING_ARRAY },
    ],
  },
  DevVarDoubleStringArray: {
    kind: TK.struct,
    id: 'IDL:Tango/DevVarDoubleStringArray:1.0',
    name: 'DevVarDoubleStringArray',
    members: [
      { name: 'dvalue', type: DOUBLE_ARRAY },
      { name: 'svalue', type: STRING_ARRAY },
    ],
  },
  DevEncoded: {
    kind: TK.struct,
    id: 'IDL:Tango/DevEncoded:1.0',
    name: 'DevEncoded',
    members: [
      { name: 'encoded_format', type: alias('DevString', STRING) },
      { name: 'encoded_data', type: CHAR_ARRAY },
    ],
  },
};

const BY_SIMPLE_KIND = new Map<number, TangoTypeName>([
  [TK.null, 'DevVoid'],
  [TK.void, 'DevVoid'],
  [TK.boolean, 'DevBoolean'],
  [TK.short, 'DevShort'],
  [TK.long, 'DevLong'],
  [TK.float, 'DevFloat'],
  [TK.double, 'DevDouble'],
  [TK.ushort, 'DevUShort'],
  [TK.ulong, 'DevULong'],
  [TK.string, 'DevString'],
  [TK.octet, 'DevUChar'],
  [TK.longlong, 'DevLong64'],
  [TK.ulonglong, 'DevULong64'],
]);
const BY_REPO_ID = new Map<string, TangoTypeName>();
for (const [name, tc] of Object.entries(TANGO_TYPECODES) as [TangoTypeName, TypeCode][]) {
  if ('id' in tc) BY_REPO_ID.set(tc.id, name);
}

/**
 * Whether a value of TypeCode `a` reads as one of `b`: the same kinds under any aliases, bounds, lengths, enum
 * label counts, and struct members in order with the same names (the decoder keys a struct's value by member name).
 * Names and repository ids of the types themselves do not count (CORBA's `equivalent`).
 */
function sameLayout(a: TypeCode, b: TypeCode, depth = 0): boolean {
  if (depth > MAX_TYPECODE_DEPTH) return false;
  const x = unalias(a);
  const y = unalias(b);
  if (x.kind !== y.kind) return false;
  switch (x.kind) {
    case TK.string:
      return x.bound === (y as typeof x).bound;
    case TK.sequence: {
      const z = y as typeof x;
      return x.bound === z.bound && sameLayout(x.element, z.element, depth + 1);
    }
    case TK.array: {
      const z = y as typeof x;
      return x.length === z.length && sameLayout(x.element, z.element, depth + 1);
    }
    case TK.enum:
      return x.labels.length === (y as typeof x).labels.length;
    case TK.struct:
    case TK.except: {
      const z = y as typeof x;
      return (
        x.members.length === z.members.length &&
        x.members.every(
          (m, i) => m.name === z.members[i].name && sameLayout(m.type, z.members[i].type, depth + 1),
        )
      );
    }
    case TK.union:
    case TK.objref:
      // no Tango command type is one of these
      return false;
    default:
      return true;
  }
}

/**
 * The Tango type an `any`'s TypeCode stands for, or undefined when it is no Tango command type. A Tango repository
 * id counts only on the layout of its Tango type (`TANGO_TYPECODES`): its value would not be that type's otherwise
 * (a "DevState" enum of 40 labels, a "DevVarCharArray" of longs, a "DevEncoded" struct of one long).
 */
export function tangoTypeOf(tc: TypeCode): TangoTypeName | undefined {
  if ('id' in tc) {
    const byId = BY_REPO_ID.get(tc.id);
    if (byId !== undefined) return sameLayout(tc, TANGO_TYPECODES[byId]) ? byId : undefined;
    // An alias we do not know (e.g. `IDL:Tango/DevLong:1.0`): judge by what it stands for.
    if (tc.kind === TK.alias) return tangoTypeOf(unalias(tc));
    return undefined;
  }
  return BY_SIMPLE_KIND.get(tc.kind);
}

/** The `any` cppTango would send for this value. */
export function anyFromTango(v: TangoValue): Any {
  const type = TANGO_TYPECODES[v.type];
  if (type === undefined) throw new GiopEncodeError(`not a Tango type: ${String(v.type)}`);
  return { type, value: v.value };
}

/**
 * The Tango value an `any` carries; an `any` of no Tango type comes back as `{ type: 'unknown', any }` so a
 * caller can still look at it.
 */
export function tangoFromAny(any: Any): TangoValue | { type: 'unknown'; any: Any } {
  const type = tangoTypeOf(any.type);
  if (type === undefined) return { type: 'unknown', any };
  if (type === 'DevVoid') return { type };
  return { type, value: any.value } as TangoValue;
}

/** Writes a Tango value as an `any`. */
export function writeTangoAny(w: CdrWriter, v: TangoValue): void {
  writeAny(w, anyFromTango(v));
}

/** Reads an `any` and types it. */
export function readTangoAny(r: CdrReader): TangoValue | { type: 'unknown'; any: Any } {
  return tangoFromAny(readAny(r));
}
