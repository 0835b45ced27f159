/**
 * CORBA TypeCodes and their CDR encoding: simple kinds, and the complex kinds that carry an encapsulation
 * (alias, sequence, struct, except, enum, union, array, objref). Indirections (`0xffffffff` + offset) are
 * decoded when they point back at a TypeCode already read in the same stream; nesting is bounded
 * (`MAX_TYPECODE_DEPTH`) so hostile input cannot exhaust the stack. Back-references make a TypeCode a DAG
 * whose tree may be exponentially larger than its bytes: every node read is counted against the reader's budget
 * (`CdrReader.spend`), and `minSize` is memoised per node. Values of a TypeCode: `anyValue.ts`.
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
  r.spend();
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
        const label = i === defaultIndex ? e.octet() : readDiscriminator(e, discriminator);
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
          else writeDiscriminator(e, tc.discriminator, member.label);
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

const minSizes = new WeakMap<TypeCode, number>();

/**
 * The least number of bytes a value of this type occupies (bounds sequence counts before allocation). Memoised
 * per TypeCode object: a struct whose members share TypeCodes (back-references) costs one visit per node.
 */
export function minSize(tc: TypeCode, depth = 0): number {
  if (depth > MAX_TYPECODE_DEPTH) return 1;
  let n = minSizes.get(tc);
  if (n === undefined) {
    n = computeMinSize(tc, depth);
    minSizes.set(tc, n);
  }
  return n;
}

function computeMinSize(tc: TypeCode, depth: number): number {
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
      return Math.min(n, 1 << 30);
    }
    case TK.union:
      return minSize(tc.discriminator, depth + 1);
    default:
      return 1;
  }
}

/** Reads a union discriminator (an integer kind, boolean, char or enum, possibly aliased). */
export function readDiscriminator(r: CdrReader, tc: TypeCode): unknown {
  const t = unalias(tc);
  switch (t.kind) {
    case TK.short:
      return r.short();
    case TK.ushort:
      return r.ushort();
    case TK.long:
      return r.long();
    case TK.ulong:
    case TK.enum:
      return r.ulong();
    case TK.longlong:
      return r.longlong();
    case TK.ulonglong:
      return r.ulonglong();
    case TK.boolean:
      return r.boolean();
    case TK.char:
      return r.char();
    default:
      throw new GiopProtocolError(`bad union discriminator kind ${t.kind}`);
  }
}

/** Writes a union discriminator. */
export function writeDiscriminator(w: CdrWriter, tc: TypeCode, v: unknown): void {
  const t = unalias(tc);
  switch (t.kind) {
    case TK.short:
      w.short(v as number);
      return;
    case TK.ushort:
      w.ushort(v as number);
      return;
    case TK.long:
      w.long(v as number);
      return;
    case TK.ulong:
    case TK.enum:
      w.ulong(v as number);
      return;
    case TK.longlong:
      w.longlong(v as bigint);
      return;
    case TK.ulonglong:
      w.ulonglong(v as bigint);
      return;
    case TK.boolean:
      if (typeof v !== 'boolean') throw new GiopEncodeError('boolean discriminator expected');
      w.boolean(v);
      return;
    case TK.char:
      w.char(v as string);
      return;
    default:
      throw new GiopEncodeError(`bad union discriminator kind ${t.kind}`);
  }
}
