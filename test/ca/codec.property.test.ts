/**
 * Properties of the Channel Access codec (fast-check, 10 000 runs each; `ORRERY_PROPERTY_RUNS` sets the count):
 * - any list of frames (standard and extended headers, any field values, payloads of any length) encoded,
 *   concatenated and cut at random points parses back to the same headers and zero-padded payloads;
 * - any DBR type 0..38 with random count, values and metadata round-trips through encodeDbr/decodeDbr bit for
 *   bit, and decodes to the metadata fields its layout carries;
 * - arbitrary bytes into FrameParser (randomly chunked), decodeDatagram and decodeDbr end, and throw nothing but
 *   CaProtocolError; a failed parser stays failed;
 * - the bytes the parser holds never exceed one frame of at most maxPayload.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChannelType, familyOf, type NativeType, nativeOf } from '../../src/protocols/ca/constants.js';
import {
  type CaArray,
  type DbrMetadata,
  decodeDbr,
  encodeDbr,
  toUnixSeconds,
} from '../../src/protocols/ca/dbr.js';
import { CaProtocolError } from '../../src/protocols/ca/errors.js';
import {
  type CaFrame,
  type CaHeader,
  decodeDatagram,
  EXTENDED_HEADER_SIZE,
  encodeFrame,
  FrameParser,
  padded,
} from '../../src/protocols/ca/frame.js';
import { propertyRuns } from '../support/propertyRuns.js';

const RUNS = propertyRuns(10_000);
const TIMEOUT_MS = 180_000;

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const count = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0xfffe, max: 0x10001 }), u32);
const header: fc.Arbitrary<CaHeader> = fc.record({ command: u16, dataType: u16, count, p1: u32, p2: u32 });
const payload = fc.uint8Array({ maxLength: 80 });
const frameSpec = fc.record({ header, payload });

/** Cuts `bytes` at the given points (taken modulo its length). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  if (bytes.length === 0) return [bytes];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

describe('issue 11 item 1: CA framing properties', () => {
  it(
    'issue 11 item 1: frames round-trip through FrameParser under random chunking',
    () => {
      fc.assert(
        fc.property(
          fc.array(frameSpec, { minLength: 1, maxLength: 6 }),
          fc.array(fc.nat(), { maxLength: 8 }),
          (specs, cuts) => {
            const stream = Buffer.concat(specs.map((s) => encodeFrame(s.header, s.payload)));
            const parser = new FrameParser();
            const frames: CaFrame[] = [];
            for (const chunk of chunked(stream, cuts)) parser.push(chunk, (f) => frames.push(f));
            expect(parser.buffered).toBe(0);
            expect(frames.length).toBe(specs.length);
            specs.forEach((spec, i) => {
              const { payload: got, ...fields } = frames[i];
              expect(fields).toEqual(spec.header);
              const expected = Buffer.alloc(padded(spec.payload.length));
              expected.set(spec.payload);
              expect(got.equals(expected)).toBe(true);
            });
            expect(decodeDatagram(stream).length).toBe(specs.length);
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'issue 11 item 1: arbitrary bytes never make FrameParser or decodeDatagram throw anything but CaProtocolError',
    () => {
      // Bytes that often look like headers: real frames with random corruption, or plain noise.
      const noisy = fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
        fc
          .tuple(
            fc.array(frameSpec, { maxLength: 3 }),
            fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
          )
          .map(([specs, flips]) => {
            const bytes = Buffer.concat(specs.map((s) => encodeFrame(s.header, s.payload)));
            for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
            return bytes;
          }),
      );
      fc.assert(
        fc.property(
          noisy,
          fc.array(fc.nat(), { maxLength: 6 }),
          fc.integer({ min: 0, max: 512 }),
          (bytes, cuts, maxPayload) => {
            const parser = new FrameParser({ maxPayload });
            let failed = false;
            for (const chunk of chunked(bytes, cuts)) {
              try {
                parser.push(chunk, (f) => expect(f.payload.length).toBeLessThanOrEqual(maxPayload));
              } catch (error) {
                expect(error).toBeInstanceOf(CaProtocolError);
                failed = true;
              }
              // Memory bound: never more than one incomplete frame of at most maxPayload.
              expect(parser.buffered).toBeLessThan(EXTENDED_HEADER_SIZE + maxPayload);
            }
            if (failed) expect(() => parser.push(Buffer.alloc(16), () => {})).toThrow(CaProtocolError);
            try {
              decodeDatagram(bytes);
            } catch (error) {
              expect(error).toBeInstanceOf(CaProtocolError);
            }
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );
});

// ----------------------------------------------------------------------------------------------------- DBR

const latin1 = (maxLength: number) =>
  fc.array(fc.integer({ min: 1, max: 255 }), { maxLength }).map((codes) => String.fromCharCode(...codes));

function values(native: NativeType, n: number): fc.Arbitrary<CaArray> {
  const length = { minLength: n, maxLength: n };
  switch (native) {
    case ChannelType.STRING:
      return fc.array(latin1(39), length);
    case ChannelType.SHORT:
      return fc.array(fc.integer({ min: -0x8000, max: 0x7fff }), length).map((a) => Int16Array.from(a));
    case ChannelType.FLOAT:
      return fc.float32Array(length);
    case ChannelType.ENUM:
      return fc.array(u16, length).map((a) => Uint16Array.from(a));
    case ChannelType.CHAR:
      return fc.uint8Array(length);
    case ChannelType.LONG:
      return fc.int32Array(length);
    default:
      return fc.float64Array(length);
  }
}

function limitValue(native: NativeType): fc.Arbitrary<number> {
  switch (native) {
    case ChannelType.SHORT:
      return fc.integer({ min: -0x8000, max: 0x7fff });
    case ChannelType.CHAR:
      return fc.integer({ min: 0, max: 255 });
    case ChannelType.LONG:
      return fc.integer({ min: -0x80000000, max: 0x7fffffff });
    case ChannelType.FLOAT:
      return fc.float({ noNaN: true });
    default:
      return fc.double({ noNaN: true });
  }
}

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

/** Random metadata with every field, and the part of it the type's layout carries (the expected decode). */
function metadata(dataType: number): fc.Arbitrary<{ given: DbrMetadata; expected: DbrMetadata }> {
  const native = nativeOf(dataType);
  const limit = limitValue(
    native === ChannelType.ENUM || native === ChannelType.STRING ? ChannelType.DOUBLE : native,
  );
  return fc
    .record({
      status: fc.integer({ min: -0x8000, max: 0x7fff }),
      severity: fc.integer({ min: -0x8000, max: 0x7fff }),
      stamp: fc.record({ secondsSinceEpoch: u32, nanoseconds: u32 }),
      units: latin1(7),
      precision: fc.integer({ min: -0x8000, max: 0x7fff }),
      limits: fc.array(limit, { minLength: 8, maxLength: 8 }),
      enumStrings: fc.array(latin1(25), { maxLength: 16 }),
      ackt: u16,
      acks: u16,
    })
    .map((r) => {
      const { limits, ...fields } = r;
      const given: DbrMetadata = { ...fields };
      for (const [i, name] of LIMITS.entries()) given[name] = limits[i];
      const family = familyOf(dataType)!;
      const expected: DbrMetadata = {};
      if (family === 'native' || dataType === 35 || dataType === 36 || dataType === 38)
        return { given, expected };
      expected.status = r.status;
      expected.severity = r.severity;
      if (dataType === 37) return { given, expected: { ...expected, ackt: r.ackt, acks: r.acks } };
      if (family === 'time') {
        expected.stamp = r.stamp;
        expected.timestamp = toUnixSeconds(r.stamp);
      }
      if ((family === 'gr' || family === 'ctrl') && native !== ChannelType.STRING) {
        if (native === ChannelType.ENUM)
          return { given, expected: { ...expected, enumStrings: r.enumStrings } };
        if (native === ChannelType.FLOAT || native === ChannelType.DOUBLE) expected.precision = r.precision;
        expected.units = r.units;
        for (let i = 0; i < (family === 'gr' ? 6 : 8); i++) expected[LIMITS[i]] = r.limits[i];
      }
      return { given, expected };
    });
}

const dbrCase = fc
  .tuple(fc.integer({ min: 0, max: 38 }), fc.integer({ min: 0, max: 12 }))
  .chain(([dataType, n]) =>
    fc.record({
      dataType: fc.constant(dataType),
      data: values(nativeOf(dataType), n),
      meta: metadata(dataType),
      misalign: fc.integer({ min: 0, max: 7 }),
    }),
  );

function bytesOf(data: CaArray): Buffer {
  if (Array.isArray(data)) return Buffer.from(JSON.stringify(data));
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

describe('issue 11 item 1: DBR properties', () => {
  it(
    'issue 11 item 1: any DBR type, count, values and metadata round-trip (aligned or not)',
    () => {
      fc.assert(
        fc.property(dbrCase, ({ dataType, data, meta, misalign }) => {
          const encoded = encodeDbr(dataType, data, meta.given);
          const backing = Buffer.alloc(encoded.length + misalign);
          encoded.copy(backing, misalign);
          const decoded = decodeDbr(dataType, data.length, backing.subarray(misalign));
          expect(decoded.count).toBe(data.length);
          expect(decoded.data.constructor).toBe(data.constructor);
          expect(bytesOf(decoded.data).equals(bytesOf(data))).toBe(true);
          expect(decoded.metadata).toEqual(meta.expected);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'issue 11 item 1: arbitrary bytes into decodeDbr throw nothing but CaProtocolError',
    () => {
      const anyCount = fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: -2, max: 2 ** 33 }));
      fc.assert(
        fc.property(
          fc.integer({ min: -1, max: 41 }),
          anyCount,
          fc.uint8Array({ maxLength: 600 }),
          fc.integer({ min: 0, max: 7 }),
          (dataType, n, raw, offset) => {
            const backing = Buffer.alloc(raw.length + offset);
            backing.set(raw, offset);
            try {
              const { data } = decodeDbr(dataType, n, backing.subarray(offset));
              expect(data.length).toBe(n);
            } catch (error) {
              expect(error).toBeInstanceOf(CaProtocolError);
            }
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );
});
