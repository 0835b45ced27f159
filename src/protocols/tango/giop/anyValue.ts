/**
 * Values described by a TypeCode, and CORBA `any`s: numbers for integer kinds and float/double, bigint for
 * (u)longlong, booleans, strings for char/string, a Uint8Array (zero-copy) for `sequence<octet>`, arrays for other
 * sequences/arrays, objects keyed by member name for struct/except, the ordinal for enum, `{ discriminator, value }`
 * for union, the content's value for alias, an `Any` for any, `undefined` for null/void. Nesting is bounded, and
 * every value read (even one of no bytes) is counted against the reader's budget (`CdrReader.spend`).
 */
import type { CdrReader, CdrWriter } from './cdr.js';
import { GiopEncodeError, GiopProtocolError } from './errors.js';
import {
  type Any,
  MAX_TYPECODE_DEPTH,
  minSize,
  readDiscriminator,
  readTypeCode,
  TK,
  type TypeCode,
  writeDiscriminator,
  writeTypeCode,
} from './typecode.js';

/** Reads a value of type `tc`. */
export function readValue(r: CdrReader, tc: TypeCode, depth = 0): unknown {
  if (depth > MAX_TYPECODE_DEPTH) throw new GiopProtocolError('value nested too deep');
  r.spend();
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
      // own properties, whatever the member's name: `out.__proto__ = v` would set the object's prototype instead
      for (const m of tc.members) {
        Object.defineProperty(out, m.name, {
          value: readValue(r, m.type, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    case TK.union: {
      const discriminator = readDiscriminator(r, tc.discriminator);
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
      r.spend(n);
      for (let i = 0; i < n; i++) out[i] = r.double();
      return out;
    case TK.long:
      r.spend(n);
      for (let i = 0; i < n; i++) out[i] = r.long();
      return out;
    case TK.string:
      r.spend(n);
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
      writeDiscriminator(w, tc.discriminator, u.discriminator);
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
