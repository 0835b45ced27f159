/**
 * Properties of the native Tango codec (fast-check, 10 000 runs each; `ORRERY_PROPERTY_RUNS` sets the count):
 * - every Tango type: random values round-trip through an `any` in either byte order at any misalignment;
 * - random AttributeValue_5 / AttributeValue_4 / DevError stacks round-trip through their operations' CDR;
 * - random GIOP messages (Request/Reply 1.0-1.2, either byte order, fragmented or not), concatenated and cut at
 *   random points, come out of GiopStream as they went in;
 * - arbitrary bytes, and valid messages with random bytes overwritten, into the framer and every decoder raise
 *   nothing but GiopProtocolError (a reply whose overwritten status says exception or forward: the error it says),
 *   and the framer never holds more than one message of at most its cap.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DevFailed } from '../../../src/protocols/tango/errors.js';
import {
  CdrReader,
  CdrWriter,
  commandInout4,
  decodeMessage,
  encodeReply,
  encodeRequest,
  type GiopMessage,
  GiopProtocolError,
  type GiopReply,
  GiopStream,
  GiopSystemException,
  GiopUserException,
  getAttributeConfig5,
  LocationForward,
  MultiDevFailedError,
  OPERATIONS,
  parseIor,
  REPLY_STATUS,
  readAny,
  readAttributes5,
  readAttributeValue5,
  readReplyResult,
  readTangoAny,
  readTypeCode,
  splitIntoFragments,
  type TangoValue,
  writeAttributes4,
  writeTangoAny,
} from '../../../src/protocols/tango/giop/index.js';
import { propertyRuns } from '../../support/propertyRuns.js';

const RUNS = propertyRuns(10_000);
const TIMEOUT_MS = 180_000;

const str = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !s.includes('\0'));
const i16 = fc.integer({ min: -0x8000, max: 0x7fff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const f32 = fc.float();
const f64 = fc.double();
const state = fc.integer({ min: 0, max: 13 });
const arr = <T>(a: fc.Arbitrary<T>) => fc.array(a, { maxLength: 8 });

const tangoValue: fc.Arbitrary<TangoValue> = fc.oneof(
  fc.constant<TangoValue>({ type: 'DevVoid' }),
  fc.boolean().map((value): TangoValue => ({ type: 'DevBoolean', value })),
  i16.map((value): TangoValue => ({ type: 'DevShort', value })),
  i32.map((value): TangoValue => ({ type: 'DevLong', value })),
  f32.map((value): TangoValue => ({ type: 'DevFloat', value })),
  f64.map((value): TangoValue => ({ type: 'DevDouble', value })),
  u16.map((value): TangoValue => ({ type: 'DevUShort', value })),
  u32.map((value): TangoValue => ({ type: 'DevULong', value })),
  str.map((value): TangoValue => ({ type: 'DevString', value })),
  fc.integer({ min: 0, max: 255 }).map((value): TangoValue => ({ type: 'DevUChar', value })),
  i64.map((value): TangoValue => ({ type: 'DevLong64', value })),
  u64.map((value): TangoValue => ({ type: 'DevULong64', value })),
  state.map((value): TangoValue => ({ type: 'DevState', value })),
  fc.uint8Array({ maxLength: 12 }).map((value): TangoValue => ({ type: 'DevVarCharArray', value })),
  arr(i16).map((value): TangoValue => ({ type: 'DevVarShortArray', value })),
  arr(i32).map((value): TangoValue => ({ type: 'DevVarLongArray', value })),
  arr(f32).map((value): TangoValue => ({ type: 'DevVarFloatArray', value })),
  arr(f64).map((value): TangoValue => ({ type: 'DevVarDoubleArray', value })),
  arr(u16).map((value): TangoValue => ({ type: 'DevVarUShortArray', value })),
  arr(u32).map((value): TangoValue => ({ type: 'DevVarULongArray', value })),
  arr(str).map((value): TangoValue => ({ type: 'DevVarStringArray', value })),
  arr(fc.boolean()).map((value): TangoValue => ({ type: 'DevVarBooleanArray', value })),
  arr(i64).map((value): TangoValue => ({ type: 'DevVarLong64Array', value })),
  arr(u64).map((value): TangoValue => ({ type: 'DevVarULong64Array', value })),
  arr(state).map((value): TangoValue => ({ type: 'DevVarStateArray', value })),
  fc
    .record({ lvalue: arr(i32), svalue: arr(str) })
    .map((value): TangoValue => ({ type: 'DevVarLongStringArray', value })),
  fc
    .record({ dvalue: arr(f64), svalue: arr(str) })
    .map((value): TangoValue => ({ type: 'DevVarDoubleStringArray', value })),
  fc
    .record({ encoded_format: str, encoded_data: fc.uint8Array({ maxLength: 12 }) })
    .map((value): TangoValue => ({ type: 'DevEncoded', value })),
);

const devError = fc.record({
  reason: str,
  severity: fc.constantFrom('WARN' as const, 'ERR' as const, 'PANIC' as const),
  desc: str,
  origin: str,
});
const attrValue = fc.oneof(
  arr(fc.boolean()).map((value) => ({ kind: 'ATT_BOOL' as const, value })),
  arr(i16).map((value) => ({ kind: 'ATT_SHORT' as const, value })),
  arr(i32).map((value) => ({ kind: 'ATT_LONG' as const, value })),
  arr(i64).map((value) => ({ kind: 'ATT_LONG64' as const, value })),
  arr(f32).map((value) => ({ kind: 'ATT_FLOAT' as const, value })),
  arr(f64).map((value) => ({ kind: 'ATT_DOUBLE' as const, value })),
  fc.uint8Array({ maxLength: 8 }).map((value) => ({ kind: 'ATT_UCHAR' as const, value })),
  arr(u16).map((value) => ({ kind: 'ATT_USHORT' as const, value })),
  arr(u32).map((value) => ({ kind: 'ATT_ULONG' as const, value })),
  arr(u64).map((value) => ({ kind: 'ATT_ULONG64' as const, value })),
  arr(str).map((value) => ({ kind: 'ATT_STRING' as const, value })),
  arr(state).map((value) => ({ kind: 'ATT_STATE' as const, value })),
  state.map((value) => ({ kind: 'DEVICE_STATE' as const, value })),
  arr(fc.record({ encoded_format: str, encoded_data: fc.uint8Array({ maxLength: 8 }) })).map((value) => ({
    kind: 'ATT_ENCODED' as const,
    value,
  })),
  fc.boolean().map((value) => ({ kind: 'ATT_NO_DATA' as const, value })),
);
const dim = fc.record({ dim_x: i32, dim_y: i32 });
const attributeValue5 = fc.record({
  value: attrValue,
  quality: fc.integer({ min: 0, max: 4 }),
  data_format: fc.integer({ min: 0, max: 3 }),
  data_type: i32,
  time: fc.record({ tv_sec: i32, tv_usec: i32, tv_nsec: i32 }),
  name: str,
  r_dim: dim,
  w_dim: dim,
  err_list: fc.array(devError, { maxLength: 3 }),
});
const clientIdent = fc.oneof(
  u32.map((pid) => ({ language: 'CPP' as const, pid })),
  fc.record({ language: fc.constant('JAVA' as const), mainClass: str, uuid: fc.tuple(u64, u64) }),
);

describe('issue 12 item 1: codec round trips (properties)', () => {
  it(
    'issue 12 item 1: every Tango type round-trips through an any, either byte order, any misalignment',
    () => {
      fc.assert(
        fc.property(tangoValue, fc.boolean(), fc.integer({ min: 0, max: 7 }), (v, le, skew) => {
          const w = new CdrWriter(le);
          for (let i = 0; i < skew; i++) w.octet(0xa5);
          writeTangoAny(w, v);
          const r = new CdrReader(w.finish(), { littleEndian: le, start: skew, origin: 0 });
          expect(readTangoAny(r)).toEqual(v);
          expect(r.remaining).toBe(0);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'issue 12 item 1: read_attributes_5 results, write_attributes_4 and command_inout_4 arguments round-trip',
    () => {
      fc.assert(
        fc.property(
          fc.array(attributeValue5, { maxLength: 3 }),
          clientIdent,
          tangoValue,
          str,
          fc.boolean(),
          (values, ident, argin, command, le) => {
            const w = new CdrWriter(le);
            readAttributes5.writeResult(w, values);
            writeAttributes4.writeArgs(w, {
              values: values.map(({ data_type: _, ...v }) => v),
              clientIdent: ident,
            });
            commandInout4.writeArgs(w, { command, argin, source: 2, clientIdent: ident });
            const r = new CdrReader(w.finish(), { littleEndian: le });
            expect(readAttributes5.readResult(r)).toEqual(values);
            expect(writeAttributes4.readArgs(r)).toEqual({
              values: values.map(({ data_type: _, ...v }) => v),
              clientIdent: ident,
            });
            expect(commandInout4.readArgs(r)).toEqual({ command, argin, source: 2, clientIdent: ident });
            expect(r.remaining).toBe(0);
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  const messageSpec = fc.record({
    request: fc.boolean(),
    minor: fc.integer({ min: 0, max: 2 }),
    le: fc.boolean(),
    requestId: u32,
    operation: fc.stringMatching(/^[a-z_]{1,12}$/),
    key: fc.uint8Array({ maxLength: 20 }),
    contexts: fc.array(fc.record({ id: u32, data: fc.uint8Array({ maxLength: 9 }) }), { maxLength: 2 }),
    body: tangoValue,
    fragment: fc.integer({ min: 8, max: 64 }),
  });
  type Spec = typeof messageSpec extends fc.Arbitrary<infer T> ? T : never;
  const encode = (s: Spec): Uint8Array =>
    s.request
      ? encodeRequest(
          {
            minor: s.minor,
            requestId: s.requestId,
            responseExpected: true,
            objectKey: s.key,
            operation: s.operation,
            serviceContexts: s.contexts,
            littleEndian: s.le,
          },
          (w) => writeTangoAny(w, s.body),
        )
      : encodeReply(
          {
            minor: s.minor,
            requestId: s.requestId,
            status: 0,
            serviceContexts: s.contexts,
            littleEndian: s.le,
          },
          (w) => writeTangoAny(w, s.body),
        );

  it(
    'issue 12 item 1: random GIOP messages, fragmented or not, come out of GiopStream as they went in',
    () => {
      fc.assert(
        fc.property(fc.array(messageSpec, { minLength: 1, maxLength: 4 }), fc.array(u32), (specs, cuts) => {
          const wire = specs.flatMap((s) => {
            const bytes = Uint8Array.from(encode(s));
            return s.minor === 2 ? splitIntoFragments(bytes, s.fragment) : [bytes];
          });
          const joined = Buffer.concat(wire);
          const all = new Uint8Array(joined.buffer, joined.byteOffset, joined.length); // not a Buffer: values compare as Uint8Array
          const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          const stream = new GiopStream();
          const out: GiopMessage[] = [];
          let start = 0;
          for (const p of [...points, all.length]) {
            out.push(...stream.push(all.subarray(start, p)));
            start = p;
          }
          expect(out).toHaveLength(specs.length);
          out.forEach((m, i) => {
            const s = specs[i];
            expect(m).toMatchObject({
              type: s.request ? 'Request' : 'Reply',
              minor: s.minor,
              requestId: s.requestId,
            });
            if (m.type !== 'Request' && m.type !== 'Reply') throw new Error('unexpected message');
            expect(readTangoAny(m.body)).toEqual(s.body);
            expect(m.body.remaining).toBe(0);
          });
          expect(stream.bufferedBytes).toBe(0);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );
});

/**
 * `readReplyResult`: a reply whose (overwritten) status says it carries an exception or a forward is read as what it
 * says, thrown as its own typed error (DevFailed, MultiDevFailedError, GiopUserException for a user exception,
 * GiopSystemException, LocationForward), as `readReplyResult` documents; any other throw is left to the caller's
 * check. (A fuzzed read_attributes_5 reply turned into a user exception with an empty repository id was one.)
 */
function replyOutcome<R>(reply: GiopReply, readResult: (r: CdrReader) => R): void {
  try {
    readReplyResult(reply, readResult);
  } catch (e) {
    const said =
      reply.status === REPLY_STATUS.USER_EXCEPTION
        ? e instanceof DevFailed || e instanceof MultiDevFailedError || e instanceof GiopUserException
        : reply.status === REPLY_STATUS.SYSTEM_EXCEPTION
          ? e instanceof GiopSystemException
          : reply.status === REPLY_STATUS.LOCATION_FORWARD ||
              reply.status === REPLY_STATUS.LOCATION_FORWARD_PERM
            ? e instanceof LocationForward
            : false;
    if (!said) throw e;
  }
}

/** Runs `f`; anything thrown must be a GiopProtocolError. */
function onlyProtocolErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof GiopProtocolError)) throw e;
  }
}

const decoders: ((r: CdrReader) => unknown)[] = [
  readAny,
  readTypeCode,
  readAttributeValue5,
  getAttributeConfig5.readResult,
  ...Object.values(OPERATIONS).flatMap((op) => [op.readArgs, op.readResult]),
];

/** Valid messages to mutate: a command_inout_4 request with a struct any, a read_attributes_5 reply. */
const seeds = [
  encodeRequest(
    {
      minor: 0,
      requestId: 3,
      responseExpected: true,
      objectKey: new Uint8Array(5),
      operation: 'command_inout_4',
    },
    (w) =>
      commandInout4.writeArgs(w, {
        command: 'DevVarLongStringArray',
        argin: { type: 'DevVarLongStringArray', value: { lvalue: [1, 2], svalue: ['a', 'bc'] } },
        source: 2,
        clientIdent: { language: 'CPP', pid: 1 },
      }),
  ),
  encodeReply({ minor: 2, requestId: 4, status: 0 }, (w) =>
    readAttributes5.writeResult(w, [
      {
        value: { kind: 'ATT_STRING', value: ['x', 'y'] },
        quality: 0,
        data_format: 1,
        data_type: 8,
        time: { tv_sec: 1, tv_usec: 2, tv_nsec: 3 },
        name: 'attr',
        r_dim: { dim_x: 2, dim_y: 0 },
        w_dim: { dim_x: 0, dim_y: 0 },
        err_list: [{ reason: 'r', severity: 'ERR', desc: 'd', origin: 'o' }],
      },
    ]),
  ),
].map((m) => Uint8Array.from(m));

describe('issue 12 item 1: hostile bytes (properties)', () => {
  it(
    'issue 12 item 1: arbitrary bytes into GiopStream raise only GiopProtocolError, holding at most one capped message',
    () => {
      const cap = 4096;
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }),
          fc.boolean(),
          (chunks, giop) => {
            const stream = new GiopStream({ maxMessageSize: cap });
            for (const chunk of chunks) {
              const c = Uint8Array.from(chunk);
              if (giop && c.length >= 8) c.set([0x47, 0x49, 0x4f, 0x50, 1, c[5] % 3, c[6] & 3, c[7] % 8]);
              try {
                stream.push(c);
              } catch (e) {
                if (!(e instanceof GiopProtocolError)) throw e;
                return;
              }
              expect(stream.bufferedBytes).toBeLessThanOrEqual(12 + cap);
            }
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'issue 12 item 1: arbitrary bytes into every body decoder and the IOR parser raise only GiopProtocolError',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), fc.nat(), (bytes, le, which) => {
          const decode = decoders[which % decoders.length];
          onlyProtocolErrors(() => decode(new CdrReader(bytes, { littleEndian: le })));
          onlyProtocolErrors(() => parseIor(`IOR:${Buffer.from(bytes).toString('hex')}`));
          onlyProtocolErrors(() => decodeMessage(bytes));
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'issue 12 item 1: valid messages with random bytes overwritten decode or raise only GiopProtocolError (or the exception a reply status says)',
    () => {
      fc.assert(
        fc.property(
          fc.nat({ max: seeds.length - 1 }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
          (seed, edits) => {
            const bytes = Uint8Array.from(seeds[seed]);
            for (const [at, v] of edits) bytes[12 + (at % (bytes.length - 12))] = v;
            onlyProtocolErrors(() => {
              const m = decodeMessage(bytes);
              if (m.type === 'Request') commandInout4.readArgs(m.body);
              if (m.type === 'Reply') replyOutcome(m, (r) => readAttributes5.readResult(r));
            });
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );
});
