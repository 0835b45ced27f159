/**
 * Any and TypeCode: every Tango command type round-trips through an `any` in both byte orders with the TypeCode
 * cppTango uses (the bytes of DevVarStringArray's TypeCode are the ones in the research notes; the captures test
 * checks the others byte for byte); the complex TypeCode kinds (enum, union with default, array, except, objref,
 * nested any, indirection) decode; hostile nesting is refused with GiopProtocolError.
 */
import { describe, expect, it } from 'vitest';
import {
  anyFromTango,
  CdrReader,
  CdrWriter,
  GiopProtocolError,
  readAny,
  readTangoAny,
  readTypeCode,
  TANGO_TYPECODES,
  type TangoTypeName,
  type TangoValue,
  TK,
  type TypeCode,
  tangoTypeOf,
  writeAny,
  writeTangoAny,
  writeTypeCode,
} from '../../../src/protocols/tango/giop/index.js';
import { parseDbImportDevice } from '../../../src/protocols/tango/giop/operations.js';

const SAMPLES: TangoValue[] = [
  { type: 'DevVoid' },
  { type: 'DevBoolean', value: true },
  { type: 'DevShort', value: -12345 },
  { type: 'DevLong', value: -2147483648 },
  { type: 'DevFloat', value: Math.fround(3.14) },
  { type: 'DevDouble', value: -1e300 },
  { type: 'DevUShort', value: 65535 },
  { type: 'DevULong', value: 4294967295 },
  { type: 'DevString', value: 'héllo wörld' },
  { type: 'DevUChar', value: 255 },
  { type: 'DevLong64', value: -(1n << 63n) },
  { type: 'DevULong64', value: (1n << 64n) - 1n },
  { type: 'DevState', value: 13 },
  { type: 'DevVarCharArray', value: Uint8Array.from([0, 1, 254, 255]) },
  { type: 'DevVarShortArray', value: [-1, 0, 1] },
  { type: 'DevVarLongArray', value: [1, -2, 3] },
  { type: 'DevVarFloatArray', value: [0.5, -0.25] },
  { type: 'DevVarDoubleArray', value: [1.5, 2.5, Number.NaN, Number.POSITIVE_INFINITY] },
  { type: 'DevVarUShortArray', value: [0, 65535] },
  { type: 'DevVarULongArray', value: [0, 4294967295] },
  { type: 'DevVarStringArray', value: ['x', '', 'yz'] },
  { type: 'DevVarBooleanArray', value: [true, false, true] },
  { type: 'DevVarLong64Array', value: [-1n, 1n << 40n] },
  { type: 'DevVarULong64Array', value: [0n, (1n << 64n) - 1n] },
  { type: 'DevVarStateArray', value: [0, 10, 13] },
  { type: 'DevVarLongStringArray', value: { lvalue: [1, 2], svalue: ['a'] } },
  { type: 'DevVarDoubleStringArray', value: { dvalue: [0.1], svalue: ['b', 'c'] } },
  { type: 'DevEncoded', value: { encoded_format: 'json', encoded_data: Uint8Array.from([123, 125]) } },
];

describe('issue 12 item 1: Any for every Tango type', () => {
  it('issue 12 item 1: the samples cover every Tango type the codec knows', () => {
    expect(new Set(SAMPLES.map((s) => s.type))).toEqual(new Set(Object.keys(TANGO_TYPECODES)));
  });

  for (const le of [true, false]) {
    for (const sample of SAMPLES) {
      it(`issue 12 item 1: ${sample.type} round-trips through an any (${le ? 'LE' : 'BE'}), after an odd offset`, () => {
        const w = new CdrWriter(le);
        w.octet(1); // so the TypeCode and the value start misaligned
        writeTangoAny(w, sample);
        w.octet(0xee);
        const r = new CdrReader(w.finish(), { littleEndian: le });
        r.octet();
        expect(readTangoAny(r)).toEqual(sample);
        expect(r.octet()).toBe(0xee);
        expect(r.remaining).toBe(0);
      });
    }
  }

  it('issue 12 item 1: the DevVarStringArray TypeCode is the bytes omniORB sends', () => {
    const w = new CdrWriter(true);
    writeTypeCode(w, TANGO_TYPECODES.DevVarStringArray);
    const expected =
      '15000000' +
      '58000000' +
      '01000000' +
      '20000000' +
      Buffer.from('IDL:Tango/DevVarStringArray:1.0\0').toString('hex') +
      '12000000' +
      Buffer.from('DevVarStringArray\0').toString('hex') +
      '0000' +
      '13000000' +
      '10000000' +
      '01000000' +
      '1200000000000000' +
      '00000000';
    expect(Buffer.from(w.finish()).toString('hex')).toBe(expected);
  });

  it('issue 12 item 1: an unknown alias is judged by its content; a foreign any stays an any', () => {
    const devLong: TypeCode = {
      kind: TK.alias,
      id: 'IDL:Tango/DevLong:1.0',
      name: 'DevLong',
      content: { kind: TK.long },
    };
    expect(tangoTypeOf(devLong)).toBe('DevLong');
    const foreign: TypeCode = { kind: TK.struct, id: 'IDL:x/Y:1.0', name: 'Y', members: [] };
    const w = new CdrWriter();
    writeAny(w, { type: foreign, value: {} });
    expect(readTangoAny(new CdrReader(w.finish(), { littleEndian: true }))).toEqual({
      type: 'unknown',
      any: { type: foreign, value: {} },
    });
  });

  it('issue 12 item 1: every Tango TypeCode maps back to its Tango type', () => {
    for (const [name, tc] of Object.entries(TANGO_TYPECODES) as [TangoTypeName, TypeCode][]) {
      expect(tangoTypeOf(tc)).toBe(name);
      expect(anyFromTango({ type: name, value: undefined } as TangoValue).type).toBe(tc);
    }
  });
});

describe('a Tango repository id on a TypeCode of another layout', () => {
  /** The any `tc` carries, written and read back as a command result. */
  const roundTrip = (type: TypeCode, value: unknown) => {
    const w = new CdrWriter();
    writeAny(w, { type, value });
    return readTangoAny(new CdrReader(w.finish().slice(), { littleEndian: true }));
  };
  const SEQ_LONG: TypeCode = { kind: TK.sequence, element: { kind: TK.long }, bound: 0 };
  const cases: [string, TypeCode, unknown][] = [
    [
      'DevVarLongStringArray as an alias of long',
      { kind: TK.alias, id: 'IDL:Tango/DevVarLongStringArray:1.0', name: 'X', content: { kind: TK.long } },
      5,
    ],
    [
      'DevState as an enum of 40 labels (value 30)',
      {
        kind: TK.enum,
        id: 'IDL:Tango/DevState:1.0',
        name: 'DevState',
        labels: Array.from({ length: 40 }, (_, i) => `L${i}`),
      },
      30,
    ],
    [
      'DevVarCharArray as a sequence of long (1000, -1)',
      { kind: TK.alias, id: 'IDL:Tango/DevVarCharArray:1.0', name: 'X', content: SEQ_LONG },
      [1000, -1],
    ],
    [
      'DevEncoded as a struct of one long',
      {
        kind: TK.struct,
        id: 'IDL:Tango/DevEncoded:1.0',
        name: 'DevEncoded',
        members: [{ name: 'a', type: { kind: TK.long } }],
      },
      { a: 1 },
    ],
    [
      'DevVarDoubleStringArray with its members swapped',
      {
        kind: TK.struct,
        id: 'IDL:Tango/DevVarDoubleStringArray:1.0',
        name: 'DevVarDoubleStringArray',
        members: [
          { name: 'svalue', type: { kind: TK.sequence, element: { kind: TK.string, bound: 0 }, bound: 0 } },
          { name: 'dvalue', type: { kind: TK.sequence, element: { kind: TK.double }, bound: 0 } },
        ],
      },
      { svalue: ['a'], dvalue: [1.5] },
    ],
  ];
  for (const [what, type, value] of cases) {
    it(`${what} is no Tango value: it comes back as an unknown any, as it was sent`, () => {
      expect(tangoTypeOf(type)).toBeUndefined();
      expect(roundTrip(type, value)).toEqual({ type: 'unknown', any: { type, value } });
    });
  }

  it('DbImportDevice answered with such an any is GiopProtocolError (it was a raw TypeError)', () => {
    const [, type, value] = cases[0];
    expect(() => parseDbImportDevice(roundTrip(type, value))).toThrow(GiopProtocolError);
  });

  it('the layout is what counts: other type names, ids and aliases on the same layout are still the Tango type', () => {
    const renamed: TypeCode = {
      kind: TK.struct,
      id: 'IDL:Tango/DevVarLongStringArray:1.0',
      name: 'Other',
      members: [
        { name: 'lvalue', type: SEQ_LONG },
        {
          name: 'svalue',
          type: {
            kind: TK.alias,
            id: 'IDL:x/Strings:1.0',
            name: 'Strings',
            content: { kind: TK.sequence, element: { kind: TK.string, bound: 0 }, bound: 0 },
          },
        },
      ],
    };
    expect(tangoTypeOf(renamed)).toBe('DevVarLongStringArray');
    expect(roundTrip(renamed, { lvalue: [1], svalue: ['x'] })).toEqual({
      type: 'DevVarLongStringArray',
      value: { lvalue: [1], svalue: ['x'] },
    });
    // the decoder keys a struct by member name: other member names would not give lvalue and svalue
    const otherMembers: TypeCode = {
      ...renamed,
      members: [
        { name: 'l', type: SEQ_LONG },
        { name: 's', type: { kind: TK.sequence, element: { kind: TK.string, bound: 0 }, bound: 0 } },
      ],
    };
    expect(tangoTypeOf(otherMembers)).toBeUndefined();
  });
});

describe('a struct member named __proto__', () => {
  it('is an own property of the decoded value; the value keeps the plain object prototype', () => {
    const inner: TypeCode = {
      kind: TK.struct,
      id: 'IDL:x/I:1.0',
      name: 'I',
      members: [{ name: 'injected', type: { kind: TK.long } }],
    };
    const type: TypeCode = {
      kind: TK.struct,
      id: 'IDL:x/Y:1.0',
      name: 'Y',
      members: [
        { name: '__proto__', type: inner },
        { name: 'a', type: { kind: TK.long } },
      ],
    };
    const w = new CdrWriter();
    writeAny(w, { type, value: JSON.parse('{"__proto__": {"injected": 7}, "a": 1}') });
    const value = readAny(new CdrReader(w.finish().slice(), { littleEndian: true })).value as Record<
      string,
      unknown
    >;
    // it became the value's prototype: `injected` read through it, and the member was not a key
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ injected: 7 });
    expect(value.injected).toBeUndefined();
  });
});

describe('issue 12 item 1: TypeCode kinds', () => {
  const color: TypeCode = { kind: TK.enum, id: 'IDL:t/Color:1.0', name: 'Color', labels: ['R', 'G', 'B'] };
  const union: TypeCode = {
    kind: TK.union,
    id: 'IDL:t/U:1.0',
    name: 'U',
    discriminator: { kind: TK.long },
    defaultIndex: 2,
    members: [
      { label: 1, name: 'a', type: { kind: TK.double } },
      { label: 2, name: 'b', type: { kind: TK.string, bound: 0 } },
      { label: 0, name: 'c', type: { kind: TK.boolean } },
    ],
  };
  const nested: TypeCode = {
    kind: TK.except,
    id: 'IDL:t/E:1.0',
    name: 'E',
    members: [
      { name: 'color', type: color },
      { name: 'u', type: union },
      { name: 'grid', type: { kind: TK.array, element: { kind: TK.short }, length: 3 } },
      { name: 'ref', type: { kind: TK.any } },
      { name: 'tc', type: { kind: TK.TypeCode } },
      { name: 'c', type: { kind: TK.char } },
    ],
  };

  for (const le of [true, false]) {
    it(`issue 12 item 1: enum, union (default arm), array, except, nested any, TypeCode, char (${le ? 'LE' : 'BE'})`, () => {
      const values = [
        {
          color: 2,
          u: { discriminator: 1, value: 0.5 },
          grid: [1, 2, 3],
          ref: { type: color, value: 1 },
          tc: union,
          c: 'z',
        },
        {
          color: 0,
          u: { discriminator: 2, value: 'two' },
          grid: [0, 0, 0],
          ref: { type: { kind: TK.null }, value: undefined },
          tc: color,
          c: 'a',
        },
        {
          color: 1,
          u: { discriminator: 99, value: true },
          grid: [-1, -2, -3],
          ref: { type: nested.members[2].type, value: [4, 5, 6] },
          tc: { kind: TK.void },
          c: 'q',
        },
      ];
      for (const value of values) {
        const w = new CdrWriter(le);
        writeAny(w, { type: nested, value });
        const r = new CdrReader(w.finish(), { littleEndian: le });
        expect(readAny(r)).toEqual({ type: nested, value });
        expect(r.remaining).toBe(0);
      }
    });
  }

  it('issue 12 item 1: an indirection to a TypeCode read earlier decodes to it', () => {
    const alias: TypeCode = { kind: TK.alias, id: 'IDL:t/A:1.0', name: 'A', content: { kind: TK.double } };
    const w = new CdrWriter(true);
    w.ulong(TK.struct);
    w.encapsulation((e) => {
      e.string('IDL:t/S:1.0');
      e.string('S');
      e.ulong(2);
      e.string('first');
      e.align(4);
      const at = e.pos;
      writeTypeCode(e, alias);
      e.string('second');
      e.ulong(0xffffffff);
      e.long(at - e.pos);
    });
    const tc = readTypeCode(new CdrReader(w.finish(), { littleEndian: true }));
    expect(tc).toEqual({
      kind: TK.struct,
      id: 'IDL:t/S:1.0',
      name: 'S',
      members: [
        { name: 'first', type: alias },
        { name: 'second', type: alias },
      ],
    });
  });

  it('issue 12 item 1: dangling indirections, unknown kinds and deep nesting raise GiopProtocolError', () => {
    const dangling = new CdrWriter();
    dangling.ulong(0xffffffff);
    dangling.long(-100);
    expect(() => readTypeCode(new CdrReader(dangling.finish(), { littleEndian: true }))).toThrow(
      GiopProtocolError,
    );
    const unknown = new CdrWriter();
    unknown.ulong(27); // tk_wstring
    expect(() => readTypeCode(new CdrReader(unknown.finish(), { littleEndian: true }))).toThrow(
      GiopProtocolError,
    );
    // 40 sequences deep: refused before the stack is at risk.
    let tc: TypeCode = { kind: TK.long };
    for (let i = 0; i < 40; i++) tc = { kind: TK.sequence, element: tc, bound: 0 };
    const deep = new CdrWriter();
    const build = (w: CdrWriter, depth: number) => {
      w.ulong(TK.sequence);
      w.encapsulation((e) => {
        if (depth === 0) e.ulong(TK.long);
        else build(e, depth - 1);
        e.ulong(0);
      });
    };
    build(deep, 40);
    expect(() => readTypeCode(new CdrReader(deep.finish(), { littleEndian: true }))).toThrow(/too deep/);
  });
});
