/**
 * CDR edge cases in both byte orders: alignment counted from the origin (GIOP header start, encapsulation
 * start, 4 bytes before an event payload), padding recorded and skipped without validation, strings (empty,
 * length 0, missing NUL, UTF-8), octet sequences zero-copy, counts checked before allocation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CdrReader,
  CdrWriter,
  GiopEncodeError,
  GiopProtocolError,
} from '../../../src/protocols/tango/giop/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('issue 12 item 1: CDR alignment and primitives', () => {
  for (const le of [true, false]) {
    const order = le ? 'little-endian' : 'big-endian';
    it(`issue 12 item 1: ${order}: every primitive lands on its natural boundary from the origin`, () => {
      const w = new CdrWriter(le);
      w.octet(0xaa);
      w.short(-2);
      w.octet(1);
      w.long(-3);
      w.octet(2);
      w.double(1.5);
      w.boolean(true);
      w.longlong(-(1n << 62n));
      w.ulonglong((1n << 64n) - 1n);
      w.float(0.25);
      w.ushort(0xfffe);
      w.ulong(0xfffffffe);
      const bytes = w.finish();
      const expected = le
        ? 'aa00feff01000000fdffffff02000000000000000000f83f010000000000000000000000000000c0ffffffffffffffff0000803efeff0000feffffff'
        : 'aa00fffe01000000fffffffd020000003ff80000000000000100000000000000c000000000000000ffffffffffffffff3e800000fffe0000fffffffe';
      expect(hex(bytes)).toBe(expected);
      const padding: number[] = [];
      const r = new CdrReader(bytes, { littleEndian: le, padding });
      expect([r.octet(), r.short(), r.octet(), r.long(), r.octet(), r.double(), r.boolean()]).toEqual([
        0xaa,
        -2,
        1,
        -3,
        2,
        1.5,
        true,
      ]);
      expect([r.longlong(), r.ulonglong(), r.float(), r.ushort(), r.ulong()]).toEqual([
        -(1n << 62n),
        (1n << 64n) - 1n,
        0.25,
        0xfffe,
        0xfffffffe,
      ]);
      expect(r.remaining).toBe(0);
      expect(padding).toEqual([1, 1, 5, 3, 13, 3, 25, 7, 54, 2]);
    });

    it(`issue 12 item 1: ${order}: alignment counts from the origin, not from the buffer start`, () => {
      // A body that starts at offset 12 of a GIOP message: a double right after one ulong needs no padding.
      const buf = new Uint8Array(28);
      const view = new DataView(buf.buffer);
      view.setUint32(12, 7, le);
      view.setFloat64(16, -0.5, le);
      view.setUint32(24, 9, le);
      const r = new CdrReader(buf, { littleEndian: le, start: 12, origin: 0 });
      expect([r.ulong(), r.double(), r.ulong()]).toEqual([7, -0.5, 9]);
      // The same bytes read with the origin at 12 need 4 bytes of padding before the double.
      const shifted = new CdrReader(buf, { littleEndian: le, start: 12, origin: 12 });
      shifted.ulong();
      expect(() => shifted.double()).not.toThrow();
      expect(shifted.pos).toBe(28);
      // An event payload: origin 4 bytes before the frame, so offset 4 of the frame is 8-aligned.
      const event = new Uint8Array(12);
      new DataView(event.buffer).setFloat64(4, 2.5, le);
      expect(new CdrReader(event, { littleEndian: le, start: 4, origin: -4 }).double()).toBe(2.5);
    });

    it(`issue 12 item 1: ${order}: encapsulations restart alignment at their byte-order octet`, () => {
      const w = new CdrWriter(le);
      w.octet(7);
      w.encapsulation((e) => {
        e.double(3.25); // 1 (order) + 7 padding, relative to the encapsulation
        e.string('x');
      });
      w.short(5);
      const bytes = w.finish();
      // outer: octet, 3 pad, ulong length, [order, 7 pad, double, string(4+2)], pad, short
      expect(bytes.length).toBe(1 + 3 + 4 + 1 + 7 + 8 + 4 + 2 + 0 + 2);
      const r = new CdrReader(bytes, { littleEndian: le });
      expect(r.octet()).toBe(7);
      expect(r.encapsulation((e) => [e.double(), e.string()])).toEqual([3.25, 'x']);
      expect(r.short()).toBe(5);
      // An encapsulation written in the other byte order is read in its own order.
      const inner = new CdrWriter(!le);
      inner.octet(le ? 0 : 1);
      inner.ulong(0x01020304);
      const outer = new CdrWriter(le);
      outer.octetSeq(inner.finish());
      const bytes2 = outer.finish();
      expect(new CdrReader(bytes2, { littleEndian: le }).encapsulation((e) => e.ulong())).toBe(0x01020304);
    });
  }

  it('strings as PyTango and omniORB write them: Latin-1 when every character fits, else UTF-8; read back either way', () => {
    const w = new CdrWriter(true);
    w.string('café °C µ'); // Latin-1: one byte per character (PyTango encodes DevString as latin-1)
    w.string('x€✓'); // past Latin-1: UTF-8, as before (a C++ server hands the bytes back as they came)
    const bytes = w.finish();
    expect(hex(bytes.subarray(0, 14))).toBe('0a000000636166e920b04320b500');
    const r = new CdrReader(bytes, { littleEndian: true });
    expect([r.string(), r.string()]).toEqual(['café °C µ', 'x€✓']);
    // bytes that are no UTF-8 are Latin-1 (ISO-8859-1: 0x80 is U+0080, not windows-1252's €), not U+FFFD
    const latin1 = Uint8Array.from([6, 0, 0, 0, 0x63, 0x61, 0x66, 0xe9, 0x80, 0]);
    expect(new CdrReader(latin1, { littleEndian: true }).string()).toBe('caf\u00e9\u0080');
    // Latin-1 whose bytes would read as UTF-8 ('Ã©' is c3 a9, UTF-8 for 'é') goes as UTF-8: it reads back as written
    const w2 = new CdrWriter(true);
    w2.string('Ã©');
    expect(hex(w2.finish())).toBe('05000000c383c2a900');
    expect(new CdrReader(w2.finish(), { littleEndian: true }).string()).toBe('Ã©');
    const long = Uint8Array.from([101, 0, 0, 0, ...Array(99).fill(0x61), 0xb0, 0]);
    expect(new CdrReader(long, { littleEndian: true }).string()).toBe(`${'a'.repeat(99)}°`);
  });

  it('every string written reads back as it was: Latin-1 ones (also those whose bytes are UTF-8) and the rest', () => {
    const latin1Char = fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c));
    const anyChar = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 1 })
      .filter((c) => !c.includes('\0'));
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(latin1Char, latin1Char, anyChar), maxLength: 80 }), (v) => {
        const w = new CdrWriter(true);
        w.string(v);
        expect(new CdrReader(w.finish(), { littleEndian: true }).string()).toBe(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('issue 12 item 1: strings: UTF-8 with a NUL, an empty string, a zero length, a missing NUL', () => {
    const w = new CdrWriter(true);
    w.string('');
    w.string('héllo €');
    w.string('a'.repeat(100));
    const bytes = w.finish();
    expect(hex(bytes.subarray(0, 5))).toBe('0100000000');
    const r = new CdrReader(bytes, { littleEndian: true });
    expect([r.string(), r.string(), r.string()]).toEqual(['', 'héllo €', 'a'.repeat(100)]);
    expect(new CdrReader(new Uint8Array(4), { littleEndian: true }).string()).toBe('');
    expect(() =>
      new CdrReader(Uint8Array.from([2, 0, 0, 0, 0x41, 0x42]), { littleEndian: true }).string(),
    ).toThrow(GiopProtocolError);
    expect(() => new CdrWriter().string('a\0b')).toThrow(GiopEncodeError);
  });

  it('issue 12 item 1: octet sequences are zero-copy views of the input', () => {
    const bytes = Uint8Array.from([3, 0, 0, 0, 9, 8, 7, 1]);
    const seq = new CdrReader(bytes, { littleEndian: true }).octetSeq();
    expect(Array.from(seq)).toEqual([9, 8, 7]);
    expect(seq.buffer).toBe(bytes.buffer);
    expect(seq.byteOffset).toBe(4);
  });

  it('issue 12 item 1: counts are checked against the bytes left before allocating', () => {
    const huge = Uint8Array.from([0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
    expect(() => new CdrReader(huge, { littleEndian: true }).seq(4, (r) => r.long())).toThrow(/cannot fit/);
    expect(() => new CdrReader(huge, { littleEndian: true }).octetSeq()).toThrow(GiopProtocolError);
    expect(() => new CdrReader(huge, { littleEndian: true }).stringSeq()).toThrow(GiopProtocolError);
    expect(() => new CdrReader(new Uint8Array(3), { littleEndian: true }).ulong()).toThrow(/truncated/);
  });

  it('issue 12 item 1: padding at the end of a window is an error, except for an empty GIOP 1.2 body', () => {
    const r = new CdrReader(new Uint8Array(13), { littleEndian: true, start: 12 });
    r.octet();
    expect(() => r.align(4)).toThrow(GiopProtocolError);
    const empty = new CdrReader(new Uint8Array(20), { littleEndian: true, start: 20, origin: 0 });
    empty.alignIfData(8);
    expect(empty.remaining).toBe(0);
  });

  it('issue 12 item 1: the writer refuses values out of range', () => {
    const w = new CdrWriter();
    expect(() => w.short(0x8000)).toThrow(GiopEncodeError);
    expect(() => w.ulong(-1)).toThrow(GiopEncodeError);
    expect(() => w.long(1.5)).toThrow(GiopEncodeError);
    expect(() => w.octet(256)).toThrow(GiopEncodeError);
    expect(() => w.ulonglong(-1n)).toThrow(GiopEncodeError);
    expect(() => w.longlong(1n << 63n)).toThrow(GiopEncodeError);
    expect(() => w.char('é€')).toThrow(GiopEncodeError);
  });
});
