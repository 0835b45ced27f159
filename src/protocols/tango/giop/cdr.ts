/**
 * CDR (CORBA Common Data Representation) reader and writer: both byte orders, alignment counted from an origin
 * (the first byte of the GIOP header, of an encapsulation, or 4 bytes before a Tango event payload), strings,
 * sequences, encapsulations. Octet sequences are read zero-copy (`subarray` of the received buffer). Strings are
 * written as Latin-1 when they fit (PyTango's and omniORB's DevString), else UTF-8; read as UTF-8 when valid, else
 * Latin-1.
 *
 * Every read checks the bytes left and raises `GiopProtocolError`; sequence counts are checked against the bytes
 * left before anything is allocated, so hostile counts cannot make a reader allocate more than its input.
 * Padding bytes are skipped, never validated (omniORB leaves them uninitialised).
 *
 * TypeCode-driven decoding (`typecode.ts`, `anyValue.ts`) also `spend`s one unit per value or TypeCode node it
 * reads, from a budget shared by a reader and its encapsulations (default `max(4096, 8 × window bytes)`): values
 * that take no bytes (null, void, empty structs) and TypeCode back-references cannot multiply the work per byte.
 */
import { GiopEncodeError, GiopProtocolError } from './errors.js';

/** Strict: bytes that are no UTF-8 are read as Latin-1 instead (see `CdrReader.string`). */
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** ISO-8859-1, one character per byte (TextDecoder's 'latin1' is windows-1252: 0x80 would be €). */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}

/** UTF-8 when the bytes are UTF-8, else Latin-1 (every byte sequence is). */
function decodeText(bytes: Uint8Array, start: number, end: number): string {
  try {
    return utf8Decoder.decode(bytes.subarray(start, end));
  } catch {
    return latin1(bytes, start, end);
  }
}

export interface CdrReaderOptions {
  littleEndian: boolean;
  /** First readable byte (default 0). */
  start?: number;
  /** One past the last readable byte (default `buf.length`). */
  end?: number;
  /** Alignment origin as an offset into `buf` (default `start`); may be negative. */
  origin?: number;
  /** When given, every skipped padding range is recorded here as `[start, length]` pairs (absolute offsets). */
  padding?: number[];
  /** Values and TypeCode nodes left to decode (shared with encapsulations); default from the window size. */
  budget?: CdrBudget;
}

/** What is left of a reader's decoding budget (see `CdrReader.spend`). */
export interface CdrBudget {
  left: number;
}

/** The least decoding budget of a reader, whatever its size. */
export const MIN_DECODE_BUDGET = 4096;
/** Decoding budget per byte of a reader's window. */
export const DECODE_BUDGET_PER_BYTE = 8;

/** Reads CDR from a byte buffer. `pos` is an absolute offset into `buf`. */
export class CdrReader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  readonly end: number;
  readonly origin: number;
  littleEndian: boolean;
  pos: number;
  readonly padding: number[] | undefined;
  readonly budget: CdrBudget;

  constructor(buf: Uint8Array, options: CdrReaderOptions) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = options.start ?? 0;
    this.end = options.end ?? buf.length;
    this.origin = options.origin ?? this.pos;
    this.littleEndian = options.littleEndian;
    this.padding = options.padding;
    if (this.pos < 0 || this.end > buf.length || this.pos > this.end) {
      throw new GiopProtocolError(`bad CDR window [${this.pos}, ${this.end}) of ${buf.length} bytes`);
    }
    this.budget = options.budget ?? {
      left: Math.max(MIN_DECODE_BUDGET, DECODE_BUDGET_PER_BYTE * (this.end - this.pos)),
    };
  }

  /** Counts `n` decoded values or TypeCode nodes against the budget; past it, `GiopProtocolError`. */
  spend(n = 1): void {
    this.budget.left -= n;
    if (this.budget.left < 0) {
      throw new GiopProtocolError('CDR decoding budget exceeded (too many values for the message size)');
    }
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes can be read. */
  need(n: number, what = 'value'): void {
    if (n > this.end - this.pos) {
      throw new GiopProtocolError(`truncated CDR: ${what} needs ${n} bytes, ${this.end - this.pos} left`);
    }
  }

  /** Skips padding to a multiple of `n` from the origin. */
  align(n: number): void {
    const mis = (((this.pos - this.origin) % n) + n) % n;
    if (mis === 0) return;
    const skip = n - mis;
    this.need(skip, 'padding');
    this.padding?.push(this.pos, skip);
    this.pos += skip;
  }

  /** Like `align`, but stops at the end of the window instead of failing (GIOP 1.2 bodies may be empty). */
  alignIfData(n: number): void {
    const mis = (((this.pos - this.origin) % n) + n) % n;
    if (mis === 0) return;
    const skip = Math.min(n - mis, this.end - this.pos);
    if (skip > 0) this.padding?.push(this.pos, skip);
    this.pos += skip;
  }

  octet(): number {
    this.need(1, 'octet');
    return this.buf[this.pos++];
  }
  boolean(): boolean {
    return this.octet() !== 0;
  }
  char(): string {
    return String.fromCharCode(this.octet());
  }
  short(): number {
    this.align(2);
    this.need(2, 'short');
    const v = this.view.getInt16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }
  ushort(): number {
    this.align(2);
    this.need(2, 'ushort');
    const v = this.view.getUint16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }
  long(): number {
    this.align(4);
    this.need(4, 'long');
    const v = this.view.getInt32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }
  ulong(): number {
    this.align(4);
    this.need(4, 'ulong');
    const v = this.view.getUint32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }
  longlong(): bigint {
    this.align(8);
    this.need(8, 'longlong');
    const v = this.view.getBigInt64(this.pos, this.littleEndian);
    this.pos += 8;
    return v;
  }
  ulonglong(): bigint {
    this.align(8);
    this.need(8, 'ulonglong');
    const v = this.view.getBigUint64(this.pos, this.littleEndian);
    this.pos += 8;
    return v;
  }
  float(): number {
    this.align(4);
    this.need(4, 'float');
    const v = this.view.getFloat32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }
  double(): number {
    this.align(8);
    this.need(8, 'double');
    const v = this.view.getFloat64(this.pos, this.littleEndian);
    this.pos += 8;
    return v;
  }

  /**
   * A string: ulong length including the NUL, the bytes, the NUL. Length 0 is read as ''. The bytes are UTF-8 when
   * they are valid UTF-8, else Latin-1: omniORB's default code set, which PyTango and Java clients use for DevString
   * (a PyTango 'café' arrives as `63 61 66 e9`, which UTF-8 would make 'caf\uFFFD').
   */
  string(): string {
    const len = this.ulong();
    if (len === 0) return '';
    this.need(len, 'string');
    const start = this.pos;
    const last = start + len - 1;
    if (this.buf[last] !== 0) throw new GiopProtocolError('CDR string is not NUL-terminated');
    this.pos += len;
    if (len <= 64) {
      let ascii = '';
      for (let i = start; i < last; i++) {
        const c = this.buf[i];
        if (c >= 0x80) return decodeText(this.buf, start, last);
        ascii += String.fromCharCode(c);
      }
      return ascii;
    }
    return decodeText(this.buf, start, last);
  }

  /** `n` raw bytes, zero-copy. */
  octets(n: number): Uint8Array {
    this.need(n, 'octets');
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** `sequence<octet>`, zero-copy (the result aliases the input buffer). */
  octetSeq(): Uint8Array {
    return this.octets(this.ulong());
  }

  /** A sequence count, checked against the bytes left assuming each element takes at least `minSize` bytes. */
  count(minSize: number, what = 'sequence'): number {
    const n = this.ulong();
    if (n * Math.max(1, minSize) > this.end - this.pos) {
      throw new GiopProtocolError(`${what} of ${n} elements cannot fit in ${this.end - this.pos} bytes`);
    }
    return n;
  }

  /** `sequence<T>` read element by element. `minSize` bounds the count (see `count`). */
  seq<T>(minSize: number, element: (r: CdrReader) => T): T[] {
    const n = this.count(minSize);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = element(this);
    return out;
  }

  stringSeq(): string[] {
    return this.seq(5, (r) => r.string());
  }

  /** An encapsulation (`sequence<octet>` whose first octet is its byte order): `body` reads it with its own origin. */
  encapsulation<T>(body: (r: CdrReader) => T): T {
    const len = this.ulong();
    this.need(len, 'encapsulation');
    if (len < 1) throw new GiopProtocolError('empty CDR encapsulation');
    const start = this.pos;
    const order = this.buf[start];
    if (order > 1) throw new GiopProtocolError(`bad encapsulation byte order ${order}`);
    const inner = new CdrReader(this.buf, {
      littleEndian: order === 1,
      start: start + 1,
      end: start + len,
      origin: start,
      padding: this.padding,
      budget: this.budget,
    });
    const v = body(inner);
    this.pos = start + len;
    return v;
  }
}

/** Writes CDR into a growing buffer; alignment counts from `origin` (0 = the first byte written). */
export class CdrWriter {
  private bytes: Uint8Array;
  private view: DataView;
  pos = 0;
  origin = 0;
  readonly littleEndian: boolean;

  constructor(littleEndian = true, initialSize = 256) {
    this.littleEndian = littleEndian;
    this.bytes = new Uint8Array(initialSize);
    this.view = new DataView(this.bytes.buffer);
  }

  private ensure(n: number): void {
    const want = this.pos + n;
    if (want <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < want) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.pos));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  align(n: number): void {
    const mis = (((this.pos - this.origin) % n) + n) % n;
    if (mis === 0) return;
    const pad = n - mis;
    this.ensure(pad);
    this.bytes.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }

  octet(v: number): void {
    checkInt(v, 0, 0xff, 'octet');
    this.ensure(1);
    this.bytes[this.pos++] = v;
  }
  boolean(v: boolean): void {
    this.ensure(1);
    this.bytes[this.pos++] = v ? 1 : 0;
  }
  char(v: string): void {
    const c = v.charCodeAt(0);
    if (v.length !== 1 || c > 0xff) throw new GiopEncodeError(`char must be one Latin-1 character, got ${v}`);
    this.octet(c);
  }
  short(v: number): void {
    checkInt(v, -0x8000, 0x7fff, 'short');
    this.align(2);
    this.ensure(2);
    this.view.setInt16(this.pos, v, this.littleEndian);
    this.pos += 2;
  }
  ushort(v: number): void {
    checkInt(v, 0, 0xffff, 'ushort');
    this.align(2);
    this.ensure(2);
    this.view.setUint16(this.pos, v, this.littleEndian);
    this.pos += 2;
  }
  long(v: number): void {
    checkInt(v, -0x80000000, 0x7fffffff, 'long');
    this.align(4);
    this.ensure(4);
    this.view.setInt32(this.pos, v, this.littleEndian);
    this.pos += 4;
  }
  ulong(v: number): void {
    checkInt(v, 0, 0xffffffff, 'ulong');
    this.align(4);
    this.ensure(4);
    this.view.setUint32(this.pos, v, this.littleEndian);
    this.pos += 4;
  }
  longlong(v: bigint): void {
    if (typeof v !== 'bigint' || v < -(1n << 63n) || v >= 1n << 63n) {
      throw new GiopEncodeError(`longlong out of range: ${String(v)}`);
    }
    this.align(8);
    this.ensure(8);
    this.view.setBigInt64(this.pos, v, this.littleEndian);
    this.pos += 8;
  }
  ulonglong(v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) {
      throw new GiopEncodeError(`ulonglong out of range: ${String(v)}`);
    }
    this.align(8);
    this.ensure(8);
    this.view.setBigUint64(this.pos, v, this.littleEndian);
    this.pos += 8;
  }
  float(v: number): void {
    if (typeof v !== 'number') throw new GiopEncodeError(`float must be a number, got ${typeof v}`);
    this.align(4);
    this.ensure(4);
    this.view.setFloat32(this.pos, v, this.littleEndian);
    this.pos += 4;
  }
  double(v: number): void {
    if (typeof v !== 'number') throw new GiopEncodeError(`double must be a number, got ${typeof v}`);
    this.align(8);
    this.ensure(8);
    this.view.setFloat64(this.pos, v, this.littleEndian);
    this.pos += 8;
  }

  /**
   * A string with its NUL: Latin-1 (one byte per character) when every character fits, as PyTango writes a
   * DevString and reads one; else UTF-8 (PyTango cannot send those at all; a C++ server hands the bytes back as they
   * came, and `CdrReader.string` reads them as UTF-8). Also UTF-8 when the Latin-1 bytes would read as UTF-8 (rare:
   * 'Ã©'), so that every string written reads back as it was. A string containing NUL cannot be written.
   */
  string(v: string): void {
    if (typeof v !== 'string') throw new GiopEncodeError(`string expected, got ${typeof v}`);
    if (v.includes('\0')) throw new GiopEncodeError('a CDR string cannot contain NUL');
    this.align(4);
    if (isLatin1(v)) {
      this.ensure(4 + v.length + 1);
      const at = this.pos + 4;
      let high = false;
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        this.bytes[at + i] = c;
        if (c >= 0x80) high = true;
      }
      // Latin-1 bytes that are also UTF-8 ('Ã©' is c3 a9, UTF-8 for 'é') would read back as other characters:
      // such a string goes as UTF-8, so that whatever is written here reads back as it was
      if (!high || !isUtf8(this.bytes.subarray(at, at + v.length))) {
        this.view.setUint32(this.pos, v.length + 1, this.littleEndian);
        this.bytes[at + v.length] = 0;
        this.pos = at + v.length + 1;
        return;
      }
    }
    const max = v.length * 3 + 1;
    this.ensure(4 + max);
    const { written } = utf8Encoder.encodeInto(v, this.bytes.subarray(this.pos + 4, this.pos + 4 + max));
    this.view.setUint32(this.pos, written + 1, this.littleEndian);
    this.bytes[this.pos + 4 + written] = 0;
    this.pos += 4 + written + 1;
  }

  /** Raw bytes, no count. */
  octets(v: Uint8Array): void {
    this.ensure(v.length);
    this.bytes.set(v, this.pos);
    this.pos += v.length;
  }
  octetSeq(v: Uint8Array): void {
    this.ulong(v.length);
    this.octets(v);
  }
  seq<T>(values: readonly T[], element: (w: CdrWriter, v: T) => void): void {
    if (!Array.isArray(values)) throw new GiopEncodeError('sequence expects an array');
    this.ulong(values.length);
    for (const v of values) element(this, v);
  }
  stringSeq(values: readonly string[]): void {
    this.seq(values, (w, v) => w.string(v));
  }

  /** An encapsulation in this writer's byte order: length, byte-order octet, `body` aligned from that octet. */
  encapsulation(body: (w: CdrWriter) => void): void {
    this.align(4);
    const lengthAt = this.pos;
    this.ulong(0);
    const savedOrigin = this.origin;
    this.origin = this.pos;
    this.octet(this.littleEndian ? 1 : 0);
    body(this);
    this.origin = savedOrigin;
    this.view.setUint32(lengthAt, this.pos - lengthAt - 4, this.littleEndian);
  }

  /** Overwrites a ulong at an absolute position (sizes patched after the fact). */
  patchUlong(at: number, v: number): void {
    this.view.setUint32(at, v, this.littleEndian);
  }

  /** The bytes written so far (a view of the internal buffer: copy it before writing more). */
  finish(): Uint8Array {
    return this.bytes.subarray(0, this.pos);
  }
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8Decoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function isLatin1(v: string): boolean {
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0xff) return false;
  return true;
}

function checkInt(v: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new GiopEncodeError(`${what} out of range [${min}, ${max}]: ${String(v)}`);
  }
}
