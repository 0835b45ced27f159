/**
 * CORBA TypeCodes: their CDR encoding (simple kinds, and the complex kinds that carry an encapsulation: alias,
 * sequence, struct, except, enum, union, array, objref) and the generic reading and writing of a value described
 * by a TypeCode. Indirections (`0xffffffff` + offset) are decoded when they point back at a TypeCode already
 * read in the same stream; nesting is bounded (`MAX_TYPECODE_DEPTH`) so hostile input cannot exhaust the stack.
 *
 * Values: integer kinds and float/double are numbers, (u)longlong bigint, boolean boolean, char/string string,
 * `sequence<octet>` a Uint8Array (zero-copy), other sequences/arrays JS arrays, struct/except an object keyed
 * by member name, enum its ordinal, union `{ discriminator, value }`, alias its content's value, any an `Any`,
 * null/void `undefined`.
 */
import type { CdrReader, CdrWriter } from './cdr.js';
import { GiopEncodeError, GiopProtocolError } from './errors.js';

/** TCKind values (CORBA 3, section 15.3.5.1). */
export const TK = {
  null: 0,
  void: 1,
  short: 2,
  long: 3,
  ushort: 4,
  ulong: 5,
  float: 6,
  double: 7,
  boolean: 8,
  char: 9,
  octet: 10,
  any: 11,
  TypeCode: 12,
  Principal: 13,
  objref: 14,
  struct: 15,
  union: 16,
  enum: 17,
  string: 18,
  sequence: 19,
  array: 20,
  alias: 21,
  except: 22,
  longlong: 23,
  ulonglong: 24,
} as const;

export type SimpleKind =
  | typeof TK.null
  | typeof TK.void
  | typeof TK.short
  | typeof TK.long
  | typeof TK.ushort
  | typeof TK.ulong
  | typeof TK.float
  | typeof TK.double
  | typeof TK.boolean
  | typeof TK.char
  | typeof TK.octet
  | typeof TK.any
  | typeof TK.TypeCode
  | typeof TK.longlong
  | typeof TK.ulonglong;

export interface StructMember {
  name: string;
  type: TypeCode;
}
export interface UnionMember {
  /** The label's value (read with the discriminator's TypeCode); ignored for the default member. */
  label: unknown;
  name: string;
  type: TypeCode;
}

export type TypeCode =
  | { kind: SimpleKind }
  | { kind: typeof TK.string; bound: number }
  | { kind: typeof TK.sequence; element: TypeCode; bound: number }
  | { kind: typeof TK.array; element: TypeCode; length: number }
  | { kind: typeof TK.alias; id: string; name: string; content: TypeCode }
  | { kind: typeof TK.struct | typeof TK.except; id: string; name: string; members: StructMember[] }
  | { kind: typeof TK.enum; id: string; name: string; labels: string[] }
  | {
      kind: typeof TK.union;
      id: string;
      name: string;
      discriminator: TypeCode;
      /** Index of the default member, -1 for none. */
      defaultIndex: number;
      members: UnionMember[];
    }
  | { kind: typeof TK.objref; id: string; name: string };

/** A CORBA `any`: a TypeCode and a value of that type. */
export interface Any {
  type: TypeCode;
  value: unknown;
}

export const MAX_TYPECODE_DEPTH = 32;

const SIMPLE = new Set<number>([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 23, 24]);

// ---------------------------------------------------------------------------------------------- TypeCode CDR

/** Reads a TypeCode. */
export function readTypeCode(r: CdrReader): TypeCode {
  return readTc(r, 0, new Map());
}

function readTc(r: CdrReader, depth: number, seen: Map<number, TypeCode>): TypeCode {
  if (depth > MAX_TYPECODE_DEPTH) throw new GiopProtocolError('TypeCode nested too deep');
  r.align(4);
  const at = r.pos;
  const kind = r.ulong();
  if (kind === 0xffffffff) {
    const offset = r.long();
    const target = r.pos - 4 + offset;
    const tc = seen.get(target);
    if (tc === undefined)
      throw new GiopProtocolError(`TypeCode indirection to ${target} resolves to nothing`);
    return tc;
  }
  let tc: TypeCode;
  if (SIMPLE.has(kind)) {
    tc = { kind: kind as SimpleKind };
  } else if (kind === TK.string) {
    tc = { kind: TK.string, bound: r.ulong() };
  } else if (kind === TK.objref) {
    tc = r.encapsulation((e) => ({ kind: TK.objref, id: e.string(), name: e.string() }));
  } else if (kind === TK.alias) {
    tc = r.encapsulation((e) => ({
      kind: TK.alias,
      id: e.string(),
      name: e.string(),
      content: readTc(e, depth + 1, seen),
    }));
  } else if (kind === TK.sequence || kind === TK.array) {
    tc = r.encapsulation((e) => {
      const element = readTc(e, depth + 1, seen);
      const n = e.ulong();
      return kind === TK.sequence
        ? { kind: TK.sequence, element, bound: n }
        : { kind: TK.array, element, length: n };
    });
  } else if (kind === TK.struct || kind === TK.except) {
    tc = r.encapsulation((e) => {
      const id = e.string();
      const name = e.string();
      const members = e.seq(9, (m) => ({ name: m.string(), type: readTc(m, depth + 1, seen) }));
      return { kind: kind as typeof TK.struct, id, name, members };
    });
  } else if (kind === TK.enum) {
    tc = r.encapsulation((e) => ({ kind: TK.enum, id: e.string(), name: e.string(), labels: e.stringSeq() }));
  } else if (kind === TK.union) {
    tc = r.encapsulation((e) => {
      const id = e.string();
      const name = e.string();
      const discriminator = readTc(e, depth + 1, seen);
      if (!isDiscriminatorType(discriminator))
        throw new GiopProtocolError('bad union discriminator TypeCode');
      const defaultIndex = e.long();
      const n = e.count(13, 'union members');
      const members: UnionMember[] = [];
      for (let i = 0; i < n; i++) {
        // The default member's label is a single octet 0 (CORBA 3, 9.3.4.2).
        const label = i === defaultIndex ? e.octet() : readValue(e, discriminator, depth + 1);
        members.push({ label, name: e.string(), type: readTc(e, depth + 1, seen) });
      }
      if (defaultIndex < -1 || defaultIndex >= members.length) {
        throw new GiopProtocolError(`union default index ${defaultIndex} out of range`);
      }
      return { kind: TK.union, id, name, discriminator, defaultIndex, members };
    });
  } else {
    throw new GiopProtocolError(`unsupported TypeCode kind ${kind}`);
  }
  seen.set(at, tc);
  return tc;
}

function isDiscriminatorType(tc: TypeCode): boolean {
  const k = unalias(tc).kind;
  return (
    k === TK.short ||
    k === TK.long ||
    k === TK.ushort ||
    k === TK.ulong ||
    k === TK.boolean ||
    k === TK.char ||
    k === TK.enum ||
    k === TK.longlong ||
    k === TK.ulonglong
  );
}

/** Writes a TypeCode (never with indirections). */
export function writeTypeCode(w: CdrWriter, tc: TypeCode): void {
  writeTc(w, tc, 0);
}

function writeTc(w: CdrWriter, tc: TypeCode, depth: number): void {
  if (depth > MAX_TYPECODE_DEPTH) throw new GiopEncodeError('TypeCode nested too deep');
  w.ulong(tc.kind);
  switch (tc.kind) {
    case TK.string:
      w.ulong(tc.bound);
      return;
    case TK.objref:
      w.encapsulation((e) => {
        e.string(tc.id);
        e.string(tc.name);
      });
      return;
    case TK.alias:
      w.encapsulation((e) => {
        e.string(tc.id);
        e.string(tc.name);
        writeTc(e, tc.content, depth + 1);
      });
      return;
    case TK.sequence:
    case TK.array:
      w.encapsulation((e) => {
        writeTc(e, tc.element, depth + 1);
        e.ulong(tc.kind === TK.sequence ? tc.bound : tc.length);
      });
      return;
    case TK.struct:
    case TK.except:
      w.encapsulation((e) => {
        e.string(tc.id);
        e.string(tc.name);
        e.seq(tc.members, (m, member) => {
          m.string(member.name);
          writeTc(m, member.type, depth + 1);
        });
      });
      return;
    case TK.enum:
      w.encapsulation((e) => {
        e.string(tc.id);
        e.string(tc.name);
        e.stringSeq(tc.labels);
      });
      return;
    case TK.union:
      w.encapsulation((e) => {
        e.string(tc.id);
        e.string(tc.name);
        writeTc(e, tc.discriminator, depth + 1);
        e.long(tc.defaultIndex);
        e.ulong(tc.members.length);
        tc.members.forEach((member, i) => {
          if (i === tc.defaultIndex) e.octet(0);
          else writeValue(e, tc.discriminator, member.label, depth + 1);
          e.string(member.name);
          writeTc(e, member.type, depth + 1);
        });
      });
      return;
    default:
      if (!SIMPLE.has(tc.kind)) throw new GiopEncodeError(`unsupported TypeCode kind ${String(tc.kind)}`);
  }
}

/** The TypeCode under any number of aliases. */
export function unalias(tc: TypeCode): TypeCode {
  let t = tc;
  for (let i = 0; t.kind === TK.alias; i++) {
    if (i > MAX_TYPECODE_DEPTH) throw new GiopProtocolError('alias chain too long');
    t = t.content;
  }
  return t;
}

/** The least number of bytes a value of this type occupies (bounds sequence counts before allocation). */
export function minSize(tc: TypeCode, depth = 0): number {
  if (depth > MAX_TYPECODE_DEPTH) return 1;
  switch (tc.kind) {
    case TK.null:
    case TK.void:
      return 0;
    case TK.boolean:
    case TK.char:
    case TK.octet:
      return 1;
    case TK.short:
    case TK.ushort:
      return 2;
    case TK.long:
    case TK.ulong:
    case TK.float:
    case TK.enum:
    case TK.string:
    case TK.sequence:
    case TK.any:
    case TK.TypeCode:
    case TK.objref:
      return 4;
    case TK.double:
    case TK.longlong:
    case TK.ulonglong:
      return 8;
    case TK.alias:
      return minSize(tc.content, depth + 1);
    case TK.array:
      return Math.min(tc.length * minSize(tc.element, depth + 1), 1 << 30);
    case TK.struct:
    case TK.except: {
      let n = 0;
      for (const m of tc.members) n += minSize(m.type, depth + 1);
      return n;
    }
    case TK.union:
      return minSize(tc.discriminator, depth + 1);
    default:
      return 1;
  }
}

// ---------------------------------------------------------------------------------------------- values

/** Reads a value of type `tc`. */
export function readValue(r: CdrReader, tc: TypeCode, depth = 0): unknown {
  if (depth > MAX_TYPECODE_DEPTH) throw new GiopProtocolError('value nested too deep');
  switch (tc.kind) {
    case TK.null:
    case TK.void:
      return undefined;
    case TK.short:
      return r.short();
    case TK.long:
      return r.long();
    case TK.ushort:
      return r.ushort();
    case TK.ulong:
      return r.ulong();
    case TK.float:
      return r.float();
    case TK.double:
      return r.double();
    case TK.boolean:
      return r.boolean();
    case TK.char:
      return r.char();
    case TK.octet:
      return r.octet();
    case TK.longlong:
      return r.longlong();
    case TK.ulonglong:
      return r.ulonglong();
    case TK.string: {
      const s = r.string();
      if (tc.bound !== 0 && s.length > tc.bound) throw new GiopProtocolError('string longer than its bound');
      return s;
    }
    case TK.enum: {
      const v = r.ulong();
      if (v >= tc.labels.length) throw new GiopProtocolError(`enum ${tc.name} value ${v} out of range`);
      return v;
    }
    case TK.alias:
      return readValue(r, tc.content, depth + 1);
    case TK.any:
      return readAny(r, depth + 1);
    case TK.TypeCode:
      return readTypeCode(r);
    case TK.sequence: {
      if (tc.element.kind === TK.octet) return r.octetSeq();
      const n = r.count(minSize(tc.element));
      if (tc.bound !== 0 && n > tc.bound) throw new GiopProtocolError('sequence longer than its bound');
      return readElements(r, tc.element, n, depth);
    }
    case TK.array: {
      if (tc.element.kind === TK.octet) return r.octets(tc.length);
      r.need(tc.length * Math.max(1, minSize(tc.element)), 'array');
      return readElements(r, tc.element, tc.length, depth);
    }
    case TK.struct:
    case TK.except: {
      const out: Record<string, unknown> = {};
      for (const m of tc.members) out[m.name] = readValue(r, m.type, depth + 1);
      return out;
    }
    case TK.union: {
      const discriminator = readValue(r, tc.discriminator, depth + 1);
      const member = unionMember(tc, discriminator);
      return {
        discriminator,
        value: member === undefined ? undefined : readValue(r, member.type, depth + 1),
      };
    }
    default:
      throw new GiopProtocolError(`cannot read a value of TypeCode kind ${tc.kind}`);
  }
}

function readElements(r: CdrReader, element: TypeCode, n: number, depth: number): unknown[] {
  const out = new Array<unknown>(n);
  switch (element.kind) {
    case TK.double:
      for (let i = 0; i < n; i++) out[i] = r.double();
      return out;
    case TK.long:
      for (let i = 0; i < n; i++) out[i] = r.long();
      return out;
    case TK.string:
      for (let i = 0; i < n; i++) out[i] = r.string();
      return out;
    default:
      for (let i = 0; i < n; i++) out[i] = readValue(r, element, depth + 1);
      return out;
  }
}

function unionMember(tc: TypeCode & { kind: typeof TK.union }, discriminator: unknown) {
  for (let i = 0; i < tc.members.length; i++) {
    if (i !== tc.defaultIndex && sameLabel(tc.members[i].label, discriminator)) return tc.members[i];
  }
  return tc.defaultIndex >= 0 ? tc.members[tc.defaultIndex] : undefined;
}

function sameLabel(a: unknown, b: unknown): boolean {
  return a === b;
}

/** Writes a value of type `tc`; a value that does not fit raises `GiopEncodeError`. */
export function writeValue(w: CdrWriter, tc: TypeCode, value: unknown, depth = 0): void {
  if (depth > MAX_TYPECODE_DEPTH) throw new GiopEncodeError('value nested too deep');
  switch (tc.kind) {
    case TK.null:
    case TK.void:
      return;
    case TK.short:
      w.short(value as number);
      return;
    case TK.long:
      w.long(value as number);
      return;
    case TK.ushort:
      w.ushort(value as number);
      return;
    case TK.ulong:
      w.ulong(value as number);
      return;
    case TK.float:
      w.float(value as number);
      return;
    case TK.double:
      w.double(value as number);
      return;
    case TK.boolean:
      if (typeof value !== 'boolean') throw new GiopEncodeError(`boolean expected, got ${typeof value}`);
      w.boolean(value);
      return;
    case TK.char:
      w.char(value as string);
      return;
    case TK.octet:
      w.octet(value as number);
      return;
    case TK.longlong:
      w.longlong(value as bigint);
      return;
    case TK.ulonglong:
      w.ulonglong(value as bigint);
      return;
    case TK.string:
      w.string(value as string);
      return;
    case TK.enum: {
      const v = value as number;
      if (!Number.isInteger(v) || v < 0 || v >= tc.labels.length) {
        throw new GiopEncodeError(`enum ${tc.name} value out of range: ${String(value)}`);
      }
      w.ulong(v);
      return;
    }
    case TK.alias:
      writeValue(w, tc.content, value, depth + 1);
      return;
    case TK.any:
      writeAny(w, value as Any, depth + 1);
      return;
    case TK.TypeCode:
      writeTypeCode(w, value as TypeCode);
      return;
    case TK.sequence:
    case TK.array: {
      if (tc.element.kind === TK.octet) {
        if (!(value instanceof Uint8Array)) throw new GiopEncodeError('sequence<octet> expects a Uint8Array');
        if (tc.kind === TK.array && value.length !== tc.length)
          throw new GiopEncodeError('array length mismatch');
        if (tc.kind === TK.sequence) w.ulong(value.length);
        w.octets(value);
        return;
      }
      if (!Array.isArray(value)) throw new GiopEncodeError('sequence expects an array');
      if (tc.kind === TK.array && value.length !== tc.length)
        throw new GiopEncodeError('array length mismatch');
      if (tc.kind === TK.sequence) w.ulong(value.length);
      for (const v of value) writeValue(w, tc.element, v, depth + 1);
      return;
    }
    case TK.struct:
    case TK.except: {
      if (typeof value !== 'object' || value === null)
        throw new GiopEncodeError(`${tc.name} expects an object`);
      const o = value as Record<string, unknown>;
      for (const m of tc.members) writeValue(w, m.type, o[m.name], depth + 1);
      return;
    }
    case TK.union: {
      const u = value as { discriminator: unknown; value: unknown };
      writeValue(w, tc.discriminator, u.discriminator, depth + 1);
      const member = unionMember(tc, u.discriminator);
      if (member !== undefined) writeValue(w, member.type, u.value, depth + 1);
      return;
    }
    default:
      throw new GiopEncodeError(`cannot write a value of TypeCode kind ${tc.kind}`);
  }
}

/** Reads an `any`: its TypeCode, then the value. */
export function readAny(r: CdrReader, depth = 0): Any {
  if (depth > MAX_TYPECODE_DEPTH) throw new GiopProtocolError('any nested too deep');
  const type = readTypeCode(r);
  return { type, value: readValue(r, type, depth + 1) };
}

/** Writes an `any`. */
export function writeAny(w: CdrWriter, any: Any, depth = 0): void {
  if (typeof any !== 'object' || any === null || typeof any.type !== 'object') {
    throw new GiopEncodeError('any expects { type, value }');
  }
  writeTypeCode(w, any.type);
  writeValue(w, any.type, any.value, depth + 1);
}
