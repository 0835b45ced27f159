/**
 * The decoding budget: TypeCode back-references make a small `any` describe exponentially many values (a struct
 * whose two members are the same struct type, nested K times, is 2^K tk_null fields in about 90·K bytes; none of
 * them takes a byte, so no "bytes left" check stops it). Every value and TypeCode node read is counted against a
 * budget proportional to the message size and the excess raises `GiopProtocolError`; `minSize` visits each
 * shared TypeCode once. K is kept small so the old code (which decodes these) fails the tests at once.
 */
import { describe, expect, it } from 'vitest';
import {
  CdrReader,
  CdrWriter,
  GiopProtocolError,
  minSize,
  readAny,
  readTypeCode,
  readValue,
  TK,
  type TypeCode,
  writeAny,
} from '../../../src/protocols/tango/giop/index.js';
import { writeBomb } from './support/typecodeBomb.js';

function bomb(k: number): Uint8Array {
  const w = new CdrWriter(true);
  writeBomb(w, k);
  return w.finish().slice();
}

describe('decoding budget (TypeCode back-reference bomb)', () => {
  it('an any of 2^14 zero-size fields in under 1 KB is refused with GiopProtocolError', () => {
    const bytes = bomb(14);
    expect(bytes.length).toBeLessThan(1500);
    expect(() => readAny(new CdrReader(bytes, { littleEndian: true }))).toThrow(GiopProtocolError);
    expect(() => readAny(new CdrReader(bytes, { littleEndian: true }))).toThrow(/budget/);
  });

  it('the budget is shared by a message and its encapsulations: a sequence of the bomb type is refused too', () => {
    const w = new CdrWriter(true);
    w.ulong(TK.sequence);
    w.encapsulation((e) => {
      writeBomb(e, 10);
      e.ulong(0);
    });
    w.ulong(64); // 64 × 2^10 fields of no bytes
    for (let i = 0; i < 64; i++) w.octet(0); // so that the count passes the bytes-left check
    const bytes = w.finish().slice();
    expect(() => readAny(new CdrReader(bytes, { littleEndian: true }))).toThrow(GiopProtocolError);
  });

  it('the TypeCode itself still decodes (linear), and a small bomb within the budget decodes', () => {
    const tc = readTypeCode(new CdrReader(bomb(20), { littleEndian: true }));
    expect(tc.kind).toBe(TK.struct);
    expect(minSize(tc)).toBe(0);
    const small = readAny(new CdrReader(bomb(3), { littleEndian: true }));
    expect(small.value).toEqual({
      a: { a: { a: undefined, b: undefined }, b: { a: undefined, b: undefined } },
      b: { a: { a: undefined, b: undefined }, b: { a: undefined, b: undefined } },
    });
  });

  it('minSize visits a shared member TypeCode once (memoised), not once per path', () => {
    let visits = 0;
    let tc: TypeCode = { kind: TK.long };
    for (let k = 0; k < 18; k++) {
      const inner = tc;
      const node = { kind: TK.struct, id: `IDL:S${k}:1.0`, name: `S${k}` } as TypeCode & { kind: 15 };
      const members = [
        { name: 'a', type: inner },
        { name: 'b', type: inner },
      ];
      Object.defineProperty(node, 'members', {
        get: () => {
          visits++;
          return members;
        },
      });
      tc = node;
    }
    expect(minSize(tc)).toBe(4 * 2 ** 18);
    expect(visits).toBeLessThanOrEqual(18);
    expect(minSize(tc)).toBe(4 * 2 ** 18);
    expect(visits).toBeLessThanOrEqual(18);
  });

  it('ordinary values still decode: nested structs, sequences of structs, long arrays', () => {
    const point: TypeCode = {
      kind: TK.struct,
      id: 'IDL:t/P:1.0',
      name: 'P',
      members: [
        { name: 'x', type: { kind: TK.double } },
        { name: 'y', type: { kind: TK.double } },
        { name: 'tag', type: { kind: TK.null } },
      ],
    };
    const shape: TypeCode = {
      kind: TK.struct,
      id: 'IDL:t/S:1.0',
      name: 'S',
      members: [
        { name: 'origin', type: point },
        { name: 'points', type: { kind: TK.sequence, element: point, bound: 0 } },
        { name: 'weights', type: { kind: TK.sequence, element: { kind: TK.double }, bound: 0 } },
      ],
    };
    const value = {
      origin: { x: 1, y: 2, tag: undefined },
      points: Array.from({ length: 500 }, (_, i) => ({ x: i, y: -i, tag: undefined })),
      weights: Array.from({ length: 5000 }, (_, i) => i / 2),
    };
    const w = new CdrWriter(false);
    writeAny(w, { type: shape, value });
    const r = new CdrReader(w.finish(), { littleEndian: false });
    expect(readAny(r)).toEqual({ type: shape, value });
    expect(r.remaining).toBe(0);
    // a sequence of 1000 empty structs in a small reader is within the 4096 floor
    const empty: TypeCode = { kind: TK.struct, id: 'IDL:t/E:1.0', name: 'E', members: [] };
    const w2 = new CdrWriter(true);
    w2.ulong(1000);
    const bytes = new Uint8Array(1004);
    bytes.set(w2.finish());
    const seq: TypeCode = { kind: TK.sequence, element: empty, bound: 0 };
    expect((readValue(new CdrReader(bytes, { littleEndian: true }), seq) as unknown[]).length).toBe(1000);
  });
});
