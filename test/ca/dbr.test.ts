/**
 * DBR payloads (`src/protocols/ca/dbr.ts`): sizes of all 39 types against the db_access.h table (research notes
 * 1.8, copied here), a round trip of every type for count 1 and count n with the metadata it carries, the byte
 * positions of limits (upper before lower), GR/CTRL_STRING in the STS layout, the EPICS epoch on the captured
 * TIME_DOUBLE stamp, short DBR_STRING payloads (strlen+1), zero-copy decode of aligned arrays and a correct copy of
 * unaligned ones, and the typed errors.
 */
import { describe, expect, it } from 'vitest';
import {
  ChannelType,
  DbrType,
  familyOf,
  type NativeType,
  nativeOf,
} from '../../src/protocols/ca/constants.js';
import {
  type CaArray,
  type DbrMetadata,
  dbrSize,
  decodeDbr,
  emptyArray,
  encodeDbr,
  fromUnixSeconds,
  metadataSize,
  toUnixSeconds,
  valueSize,
} from '../../src/protocols/ca/dbr.js';
import { CaProtocolError, CaValueError } from '../../src/protocols/ca/errors.js';
import { decodeDatagram, encodeFrame } from '../../src/protocols/ca/frame.js';

/** [id, metadata size, dbr_size for one element] from the research notes' table 1.8 (natives 0..6 added). */
const TABLE: readonly (readonly [number, number, number])[] = [
  [0, 0, 40], [1, 0, 2], [2, 0, 4], [3, 0, 2], [4, 0, 1], [5, 0, 4], [6, 0, 8],
  [7, 4, 44], [8, 4, 6], [9, 4, 8], [10, 4, 6], [11, 5, 6], [12, 4, 8], [13, 8, 16],
  [14, 12, 52], [15, 14, 16], [16, 12, 16], [17, 14, 16], [18, 15, 16], [19, 12, 16], [20, 16, 24],
  [21, 4, 44], [22, 24, 26], [23, 40, 44], [24, 422, 424], [25, 19, 20], [26, 36, 40], [27, 64, 72],
  [28, 4, 44], [29, 28, 30], [30, 48, 52], [31, 422, 424], [32, 21, 22], [33, 44, 48], [34, 80, 88],
  [35, 0, 2], [36, 0, 2], [37, 8, 48], [38, 0, 40],
]; // biome-ignore format: a table

const LIMITS = [
  'upperDispLimit',
  'lowerDispLimit',
  'upperAlarmLimit',
  'upperWarningLimit',
  'lowerWarningLimit',
  'lowerAlarmLimit',
  'upperCtrlLimit',
  'lowerCtrlLimit',
] as const;

/** Values of `native` that survive the wire exactly. */
function sample(native: NativeType, n: number): CaArray {
  const values = Array.from({ length: n }, (_, i) => i * 3 + 1);
  switch (native) {
    case ChannelType.STRING:
      return values.map((v) => `s${v}-${'x'.repeat(v % 30)}`);
    case ChannelType.SHORT:
      return Int16Array.from(values, (v) => -v * 100);
    case ChannelType.FLOAT:
      return Float32Array.from(values, (v) => v + 0.5);
    case ChannelType.ENUM:
      return Uint16Array.from(values, (v) => v % 3);
    case ChannelType.CHAR:
      return Uint8Array.from(values, (v) => (v * 7) % 256);
    case ChannelType.LONG:
      return Int32Array.from(values, (v) => -v * 100_000);
    default:
      return Float64Array.from(values, (v) => v / 3);
  }
}

/** The metadata a DBR type carries, with values each field's C type holds exactly. */
function metadataFor(dataType: number): DbrMetadata {
  const family = familyOf(dataType)!;
  const native = nativeOf(dataType);
  const m: DbrMetadata = {};
  if (family === 'native' || dataType === 35 || dataType === 36 || dataType === 38) return m;
  m.status = 3;
  m.severity = 2;
  if (dataType === DbrType.STSACK_STRING) return { ...m, ackt: 1, acks: 2 };
  if (family === 'time') {
    m.stamp = { secondsSinceEpoch: 0x45655631, nanoseconds: 0x0aa670c0 };
    m.timestamp = toUnixSeconds(m.stamp);
  }
  if ((family === 'gr' || family === 'ctrl') && native !== ChannelType.STRING) {
    if (native === ChannelType.ENUM) return { ...m, enumStrings: ['Off', 'On', 'a'.repeat(25)] };
    if (native === ChannelType.FLOAT || native === ChannelType.DOUBLE) m.precision = 4;
    m.units = 'mm/s';
    const count = family === 'gr' ? 6 : 8;
    for (let i = 0; i < count; i++) {
      m[LIMITS[i]] =
        native === ChannelType.CHAR
          ? 200 - i
          : native === ChannelType.SHORT || native === ChannelType.LONG
            ? 1000 - i * 300
            : 10.5 - i;
    }
  }
  return m;
}

const plain = (data: CaArray) => Array.from(data as ArrayLike<unknown>);

describe('issue 11 item 1: DBR sizes', () => {
  it('issue 11 item 1: metadataSize and dbrSize match the db_access.h table for every type 0..38', () => {
    expect(TABLE.length).toBe(39);
    for (const [id, meta, size] of TABLE) {
      expect([id, metadataSize(id)]).toEqual([id, meta]);
      expect([id, dbrSize(id, 1)]).toEqual([id, size]);
      expect(dbrSize(id, 0)).toBe(size); // C dbr_size_n: n <= 0 is one element
      expect(dbrSize(id, 5)).toBe(size + 4 * valueSize(nativeOf(id)));
    }
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => valueSize(n as NativeType))).toEqual([40, 2, 4, 2, 1, 4, 8]);
    expect(() => metadataSize(39)).toThrow(CaValueError);
    expect(() => dbrSize(-1, 1)).toThrow(CaValueError);
  });
});

describe('issue 11 item 1: DBR round trips', () => {
  for (let dataType = 0; dataType <= 38; dataType++) {
    it(`issue 11 item 1: DBR type ${dataType} round-trips for count 1 and 5 with its metadata`, () => {
      const native = nativeOf(dataType);
      const metadata = metadataFor(dataType);
      for (const n of [1, 5]) {
        const data = sample(native, n);
        const payload = encodeDbr(dataType, data, metadata);
        expect(payload.length).toBe(dbrSize(dataType, n));
        // Through a frame, so the payload sits where the parser hands it out.
        const [frame] = decodeDatagram(
          encodeFrame({ command: 15, dataType, count: n, p1: 1, p2: 1 }, payload),
        );
        const decoded = decodeDbr(dataType, n, frame.payload);
        expect(decoded.dataType).toBe(dataType);
        expect(decoded.count).toBe(n);
        expect(plain(decoded.data)).toEqual(plain(data));
        expect(decoded.data.constructor).toBe(data.constructor);
        expect(decoded.metadata).toEqual(metadata);
      }
      // count 0: metadata only.
      expect(decodeDbr(dataType, 0, encodeDbr(dataType, emptyArray(native, 0), metadata)).data.length).toBe(
        0,
      );
    });
  }

  it('issue 11 item 1: limits are written upper before lower, in the C order, at the C offsets', () => {
    const m = metadataFor(DbrType.CTRL_DOUBLE);
    const bytes = encodeDbr(DbrType.CTRL_DOUBLE, new Float64Array([1]), m);
    expect(bytes.readInt16BE(4)).toBe(4); // precision
    expect(bytes.toString('latin1', 8, 12)).toBe('mm/s');
    for (const [i, name] of LIMITS.entries())
      expect([name, bytes.readDoubleBE(16 + i * 8)]).toEqual([name, m[name]]);
    expect(bytes.readDoubleBE(80)).toBe(1);

    const s = metadataFor(DbrType.CTRL_SHORT);
    const short = encodeDbr(DbrType.CTRL_SHORT, new Int16Array([7]), s);
    expect(short.toString('latin1', 4, 8)).toBe('mm/s');
    for (const [i, name] of LIMITS.entries()) expect(short.readInt16BE(12 + i * 2)).toBe(s[name]);
    expect(short.readInt16BE(28)).toBe(7);

    const c = encodeDbr(DbrType.CTRL_CHAR, new Uint8Array([9]), metadataFor(DbrType.CTRL_CHAR));
    expect(Array.from(c.subarray(12, 20))).toEqual([200, 199, 198, 197, 196, 195, 194, 193]);
    expect(c[20]).toBe(0); // pad
    expect(c[21]).toBe(9);

    const f = encodeDbr(DbrType.GR_FLOAT, new Float32Array([2]), metadataFor(DbrType.GR_FLOAT));
    expect(f.readFloatBE(16)).toBe(10.5);
    expect(f.readFloatBE(36)).toBe(5.5);
    expect(f.readFloatBE(40)).toBe(2);
  });

  it('issue 11 item 1: GR_STRING and CTRL_STRING use the STS layout (libca), not caproto TIME layout', () => {
    for (const t of [DbrType.GR_STRING, DbrType.CTRL_STRING]) {
      const bytes = encodeDbr(t, ['hello'], { status: 7, severity: 1 });
      expect(bytes.length).toBe(44);
      expect(bytes.readInt16BE(0)).toBe(7);
      expect(bytes.readInt16BE(2)).toBe(1);
      expect(bytes.toString('latin1', 4, 9)).toBe('hello');
      expect(decodeDbr(t, 1, bytes)).toEqual({
        dataType: t,
        count: 1,
        data: ['hello'],
        metadata: { status: 7, severity: 1 },
      });
    }
  });

  it('issue 11 item 1: the captured TIME_DOUBLE stamp 45 65 56 31 0a a6 70 c0 is Unix 1795421105.18', () => {
    const payload = Buffer.from('00000000456556310aa670c0000000004000000000000000', 'hex');
    const { data, metadata } = decodeDbr(DbrType.TIME_DOUBLE, 1, payload);
    expect(Array.from(data as Float64Array)).toEqual([2]);
    expect(metadata.stamp).toEqual({ secondsSinceEpoch: 1_164_269_105, nanoseconds: 178_680_000 });
    expect(metadata.timestamp).toBeCloseTo(1795421105.18, 2);
    expect(metadata.timestamp! - 631_152_000).toBeCloseTo(1_164_269_105.17868, 5);
    expect(fromUnixSeconds(631_152_000)).toEqual({ secondsSinceEpoch: 0, nanoseconds: 0 });
    expect(fromUnixSeconds(1795421105.5)).toEqual({
      secondsSinceEpoch: 1_164_269_105,
      nanoseconds: 500_000_000,
    });
    expect(fromUnixSeconds(631_152_000 + 1 - 1e-10)).toEqual({ secondsSinceEpoch: 1, nanoseconds: 0 });
    expect(() => fromUnixSeconds(0)).toThrow(CaValueError);
    expect(() => fromUnixSeconds(Number.NaN)).toThrow(CaValueError);
    const encoded = encodeDbr(DbrType.TIME_LONG, new Int32Array([1]), { timestamp: 1795421105.5 });
    expect(encoded.readUInt32BE(4)).toBe(1_164_269_105);
    expect(encoded.readUInt32BE(8)).toBe(500_000_000);
  });
});

describe('issue 11 item 1: DBR strings', () => {
  it('issue 11 item 1: a short last string (libca strlen+1, padded to 8) is accepted', () => {
    const payload = Buffer.from('abc\0\0\0\0\0');
    expect(decodeDbr(DbrType.STRING, 1, payload).data).toEqual(['abc']);
    expect(decodeDbr(DbrType.STRING, 1, Buffer.from('ab\0')).data).toEqual(['ab']);
    const sts = Buffer.concat([Buffer.from([0, 1, 0, 2]), Buffer.from('xyz\0')]);
    expect(decodeDbr(DbrType.STS_STRING, 1, sts)).toMatchObject({
      data: ['xyz'],
      metadata: { status: 1, severity: 2 },
    });
    const two = Buffer.concat([encodeDbr(DbrType.STRING, ['first']), Buffer.from('2nd\0')]);
    expect(decodeDbr(DbrType.STRING, 2, two).data).toEqual(['first', '2nd']);
    expect(() => decodeDbr(DbrType.STRING, 2, two.subarray(0, 40))).toThrow(CaProtocolError);
    expect(() => decodeDbr(DbrType.STRING, 1, Buffer.alloc(0))).toThrow(CaProtocolError);
  });

  it('issue 11 item 1: 39 latin1 bytes fit; 40, or a character outside latin1, is a CaValueError', () => {
    const max = 'é'.repeat(39);
    expect(decodeDbr(0, 1, encodeDbr(0, [max])).data).toEqual([max]);
    expect(() => encodeDbr(0, ['x'.repeat(40)])).toThrow(CaValueError);
    expect(() => encodeDbr(0, ['€'])).toThrow(CaValueError);
    // A 40-byte field with no NUL reads as 40 characters (a peer that filled it).
    expect(decodeDbr(0, 1, Buffer.alloc(40, 0x41)).data).toEqual(['A'.repeat(40)]);
  });

  it('issue 11 item 1: units and enum strings are cut to their C fields; more than 16 states is refused', () => {
    const g = decodeDbr(22, 1, encodeDbr(22, new Int16Array([1]), { units: 'millimetres' }));
    expect(g.metadata.units).toBe('millime');
    const e = decodeDbr(24, 1, encodeDbr(24, new Uint16Array([0]), { enumStrings: ['z'.repeat(30)] }));
    expect(e.metadata.enumStrings).toEqual(['z'.repeat(25)]);
    expect(() => encodeDbr(24, new Uint16Array([0]), { enumStrings: Array(17).fill('s') })).toThrow(
      CaValueError,
    );
  });
});

describe('issue 11 item 1: zero-copy DBR decode', () => {
  it('issue 11 item 1: an aligned DOUBLE array is a Float64Array on the payload memory (swapped in place)', () => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => i * 1.25);
    const frame = encodeFrame(
      { command: 15, dataType: 20, count: 1000, p1: 1, p2: 1 },
      encodeDbr(20, values, {}),
    );
    const [f] = decodeDatagram(frame);
    expect(f.payload.byteOffset % 8).toBe(0);
    const { data } = decodeDbr(20, 1000, f.payload);
    expect(data).toBeInstanceOf(Float64Array);
    expect((data as Float64Array).buffer).toBe(f.payload.buffer);
    expect((data as Float64Array).byteOffset).toBe(f.payload.byteOffset + 16);
    expect(Array.from(data as Float64Array)).toEqual(Array.from(values));
  });

  it('issue 11 item 1: an unaligned array is copied correctly and the payload is left as it was', () => {
    for (const [dataType, values] of [
      [6, Float64Array.from([1.5, -2.25, 1e300])],
      [5, Int32Array.from([1, -2, 2 ** 31 - 1])],
      [2, Float32Array.from([0.5, -8])],
      [1, Int16Array.from([-1, 300])],
      [3, Uint16Array.from([65535, 2])],
    ] as const) {
      const encoded = encodeDbr(dataType, values);
      const backing = Buffer.alloc(encoded.length + 1);
      encoded.copy(backing, 1);
      const payload = backing.subarray(1);
      const before = payload.toString('hex');
      const { data } = decodeDbr(dataType, values.length, payload);
      expect(Array.from(data as ArrayLike<number>)).toEqual(Array.from(values));
      expect((data as Float64Array).buffer).not.toBe(backing.buffer);
      expect(payload.toString('hex')).toBe(before);
    }
  });
});

describe('issue 11 item 1: DBR errors', () => {
  it('issue 11 item 1: a short payload, a bad type id or count is a CaProtocolError', () => {
    expect(() => decodeDbr(6, 2, Buffer.alloc(15))).toThrow(CaProtocolError);
    expect(() => decodeDbr(34, 1, Buffer.alloc(80))).toThrow(CaProtocolError);
    expect(() => decodeDbr(24, 0, Buffer.alloc(421))).toThrow(CaProtocolError);
    expect(() => decodeDbr(39, 1, Buffer.alloc(100))).toThrow(CaProtocolError);
    expect(() => decodeDbr(6, -1, Buffer.alloc(100))).toThrow(CaProtocolError);
    expect(() => decodeDbr(6, 2 ** 32, Buffer.alloc(100))).toThrow(CaProtocolError);
  });

  it('issue 11 item 1: data that is not the native array type, or a bad type id, is a CaValueError', () => {
    expect(() => encodeDbr(6, new Float32Array([1]))).toThrow(CaValueError);
    expect(() => encodeDbr(0, new Float64Array([1]) as unknown as string[])).toThrow(CaValueError);
    expect(() => encodeDbr(1, [1] as unknown as Int16Array)).toThrow(CaValueError);
    expect(() => encodeDbr(40, new Float64Array([1]))).toThrow(CaValueError);
  });

  it('issue 11 item 1: a GR_ENUM no_str beyond 16 (or negative) reads as at most 16 states', () => {
    const bytes = encodeDbr(24, new Uint16Array([0]), { enumStrings: ['a'] });
    bytes.writeInt16BE(99, 4);
    expect(decodeDbr(24, 1, bytes).metadata.enumStrings?.length).toBe(16);
    bytes.writeInt16BE(-3, 4);
    expect(decodeDbr(24, 1, bytes).metadata.enumStrings).toEqual([]);
  });
});
