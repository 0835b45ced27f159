/**
 * Properties of the KATCP codec and wire decoders (fast-check; `ORRERY_PROPERTY_RUNS` sets the run count):
 * - `parseLine(formatMessage(m))` is `m` for arbitrary messages (names, mids, byte-string arguments including
 *   empty ones and every byte that needs an escape), and a stream of formatted messages parses back to the list;
 * - whatever bytes a peer sends, `KatcpParser` never throws, reports only KatcpSyntaxError instances, and holds
 *   at most `maxLineLength` bytes; whatever `parseLine` accepts formats to a line that parses the same;
 * - splitting a stream at arbitrary byte boundaries gives the same messages and errors as the whole;
 * - every typed decoder either returns or throws KatcpDecodeError (the version parser: ProtocolError), and the
 *   number, integer and address formats round-trip.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatMessage,
  formatNumber,
  type KatcpMessage,
  KatcpParser,
  MAX_MID,
  type MessageType,
  parseAll,
  parseLine,
} from '../../src/protocols/katcp/codec.js';
import { KatcpDecodeError, KatcpSyntaxError, ProtocolError } from '../../src/protocols/katcp/errors.js';
import {
  decodeAddress,
  decodeBool,
  decodeDiscrete,
  decodeFloat,
  decodeInt,
  decodeLru,
  decodeSensorValue,
  decodeStatus,
  decodeTimestamp,
  formatAddress,
  formatFloat,
  formatStrategy,
  parseInterfaceChanged,
  parseProtocolVersion,
  parseStrategy,
  type SamplingStrategy,
  SENSOR_TYPES,
} from '../../src/protocols/katcp/wire.js';
import { propertyRuns } from '../support/propertyRuns.js';

const RUNS = propertyRuns(500);

/** The bytes KATCP gives a meaning to, drawn often so escapes, separators and line ends are exercised. */
const SPECIAL = [0x5c, 0x20, 0x00, 0x0a, 0x0d, 0x1b, 0x09, 0x40, 0x5f, 0x5b, 0x5d, 0x3f, 0x21, 0x23];
const byte = fc.oneof(fc.constantFrom(...SPECIAL), fc.integer({ min: 0, max: 255 }));
const bytes = (maxLength: number) => fc.array(byte, { maxLength }).map((a) => Buffer.from(a));

const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/);
const mid = fc.option(fc.oneof(fc.constantFrom(1, MAX_MID), fc.integer({ min: 1, max: MAX_MID })), {
  nil: null,
});
const type = fc.constantFrom<MessageType>('request', 'reply', 'inform');
const katcpMessage: fc.Arbitrary<KatcpMessage> = fc.record({
  type,
  name,
  mid,
  args: fc.array(fc.oneof(bytes(30), fc.constant(Buffer.alloc(0))), { maxLength: 8 }),
});

/** A message in a form `toEqual` compares by value (arguments as hex). */
const plain = (m: KatcpMessage) => ({
  type: m.type,
  name: m.name,
  mid: m.mid,
  args: m.args.map((a) => a.toString('hex')),
});

/** Text that looks like KATCP: message starts, names, mids, escapes, whitespace, line ends, and noise. */
const katcpish = fc
  .array(
    fc.oneof(
      fc.constantFrom('?', '!', '#', 'echo', 'sensor-value', '[', ']', '[1]', '[0]', '[01]', '[2147483648]'),
      fc.constantFrom(
        ' ',
        '\t',
        '\n',
        '\r',
        '\r\n',
        '\\',
        '\\_',
        '\\@',
        '\\q',
        '\\0',
        '\0',
        '\x1b',
        'ok',
        'é',
      ),
      bytes(6).map((b) => b.toString('latin1')),
    ),
    { maxLength: 60 },
  )
  .map((parts) => Buffer.from(parts.join(''), 'latin1'));
const peerBytes = fc.oneof(katcpish, bytes(200));

/** Cut `data` at the given positions (sorted, deduplicated, in range). */
function split(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(data.subarray(last, p));
    last = p;
  }
  out.push(data.subarray(last));
  return out;
}

/** Feed chunks to one parser: the events as comparable strings, and the most bytes it ever held. */
function run(chunks: Buffer[], maxLineLength: number) {
  const parser = new KatcpParser({ maxLineLength });
  const events: string[] = [];
  let maxHeld = 0;
  for (const chunk of chunks) {
    parser.push(
      chunk,
      (m) => events.push(`message ${JSON.stringify(plain(m))}`),
      (e) => {
        if (!(e instanceof KatcpSyntaxError)) throw new Error(`not a KatcpSyntaxError: ${String(e)}`);
        events.push(`error ${e.name} ${e.message}`);
      },
    );
    maxHeld = Math.max(maxHeld, parser.buffered);
  }
  return { events, maxHeld };
}

/** `f()` returns, or throws an instance of `errorClass`; anything else fails the property. */
function returnsOr(errorClass: new (...args: never[]) => Error, f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof errorClass)) throw err;
  }
}

describe('issue 9 item 1: codec properties', () => {
  it('issue 9 item 1: parseLine(formatMessage(m)) is m for arbitrary messages', () => {
    fc.assert(
      fc.property(katcpMessage, (m) => {
        const line = formatMessage(m);
        expect(line.at(-1)).toBe(0x0a);
        expect(line.indexOf(0x0a)).toBe(line.length - 1);
        for (const raw of [0x00, 0x0d, 0x1b]) expect(line.includes(raw)).toBe(false);
        const back = parseLine(line);
        expect(back && plain(back)).toEqual(plain(m));
      }),
      { numRuns: RUNS },
    );
  });

  it('issue 9 item 1: a stream of formatted messages parses back to the same list', () => {
    fc.assert(
      fc.property(fc.array(katcpMessage, { maxLength: 10 }), (list) => {
        const stream = Buffer.concat(list.map(formatMessage));
        expect(parseAll(stream).map(plain)).toEqual(list.map(plain));
      }),
      { numRuns: RUNS },
    );
  });

  it('issue 9 item 1: arbitrary bytes never make KatcpParser throw; it reports only KatcpSyntaxError and holds at most maxLineLength bytes', () => {
    fc.assert(
      fc.property(
        peerBytes,
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: 1, max: 64 }),
        (data, cuts, limit) => {
          const { maxHeld } = run(split(data, cuts), limit); // run() rethrows anything that is not a KatcpSyntaxError
          expect(maxHeld).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('issue 9 item 1: parseLine on arbitrary bytes returns null, a message that formats and re-parses the same, or throws KatcpSyntaxError', () => {
    fc.assert(
      fc.property(peerBytes, (data) => {
        let m: KatcpMessage | null;
        try {
          m = parseLine(data);
        } catch (err) {
          expect(err).toBeInstanceOf(KatcpSyntaxError);
          return;
        }
        if (m === null) return;
        const again = parseLine(formatMessage(m));
        expect(again && plain(again)).toEqual(plain(m));
      }),
      { numRuns: RUNS },
    );
  });

  it('issue 9 item 1: a stream split at arbitrary byte boundaries gives the same messages and errors as the whole', () => {
    const stream = fc.oneof(
      fc.array(katcpMessage, { maxLength: 6 }).map((l) => Buffer.concat(l.map(formatMessage))),
      fc
        .array(fc.oneof(katcpMessage.map(formatMessage), katcpish), { maxLength: 6 })
        .map((parts) => Buffer.concat(parts)),
      peerBytes,
    );
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        stream,
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.constantFrom(16, 40, 4096),
        (data, cuts, limit) => {
          const whole = run([data], limit);
          const pieces = run(split(data, cuts), limit);
          const bytewise = run(
            [...data].map((b) => Buffer.from([b])),
            limit,
          );
          expect(pieces.events).toEqual(whole.events);
          expect(bytewise.events).toEqual(whole.events);
          for (const e of whole.events) seen.add(e.startsWith('message') ? 'message' : e.split(' ')[1]);
        },
      ),
      { numRuns: RUNS },
    );
    // the runs covered messages, syntax errors and over-long lines
    if (RUNS >= 100) expect([...seen].sort()).toEqual(['KatcpSyntaxError', 'LineTooLongError', 'message']);
  });
});

describe('issue 9 item 1: wire decoder properties', () => {
  const numberish = fc
    .array(
      fc.constantFrom(
        '0',
        '1',
        '9',
        '.',
        '-',
        '+',
        'e',
        'E',
        'inf',
        'nan',
        'Infinity',
        'x',
        ' ',
        ':',
        '[',
        ']',
        'a',
        'f',
      ),
      { maxLength: 12 },
    )
    .map((p) => p.join(''));
  const anyArg = fc.oneof(
    fc.string({ maxLength: 30 }),
    numberish,
    bytes(20),
    fc.string({ unit: 'binary', maxLength: 20 }),
  );

  it('issue 9 item 1: every typed decoder returns or throws KatcpDecodeError, on any input', () => {
    fc.assert(
      fc.property(anyArg, fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }), (arg, params) => {
        returnsOr(KatcpDecodeError, () => decodeInt(arg));
        returnsOr(KatcpDecodeError, () => decodeFloat(arg));
        returnsOr(KatcpDecodeError, () => decodeBool(arg));
        returnsOr(KatcpDecodeError, () => decodeTimestamp(arg));
        returnsOr(KatcpDecodeError, () => decodeDiscrete(arg, params));
        returnsOr(KatcpDecodeError, () => decodeLru(arg));
        returnsOr(KatcpDecodeError, () => decodeAddress(arg));
        returnsOr(KatcpDecodeError, () => decodeStatus(arg));
        for (const t of [...SENSOR_TYPES, 'unknown-type']) {
          returnsOr(KatcpDecodeError, () => decodeSensorValue(t, arg, params));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('issue 9 item 1: parseStrategy returns a strategy that formats and parses back to itself, or throws KatcpDecodeError', () => {
    const words = fc.oneof(
      fc
        .tuple(
          fc.constantFrom(
            'none',
            'auto',
            'event',
            'period',
            'differential',
            'event-rate',
            'differential-rate',
            'bogus',
          ),
          fc.array(fc.oneof(numberish, fc.double().map(formatFloat)), { maxLength: 4 }),
        )
        .map(([s, p]) => [s, ...p]),
      fc.array(anyArg.map(String), { maxLength: 4 }),
      // well-formed ones too, so every run sees several strategies parsed (the guard below stays deterministic)
      fc.constantFrom(
        ['none'],
        ['auto'],
        ['event'],
        ['period', '0.5'],
        ['differential', '2'],
        ['event-rate', '0.1', '1'],
        ['differential-rate', '1', '0.1', '10'],
      ),
    );
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(words, (w) => {
        let s: SamplingStrategy;
        try {
          s = parseStrategy(w);
        } catch (err) {
          expect(err).toBeInstanceOf(KatcpDecodeError);
          outcomes.add('refused');
          return;
        }
        outcomes.add(s.strategy);
        expect(parseStrategy(formatStrategy(s))).toEqual(s);
      }),
      { numRuns: RUNS },
    );
    if (RUNS >= 100) expect(outcomes.size).toBeGreaterThan(4); // several strategies parsed, and some refused
  });

  it('issue 9 item 1: parseProtocolVersion returns or throws ProtocolError; parseInterfaceChanged never throws', () => {
    fc.assert(
      fc.property(anyArg, fc.array(anyArg, { maxLength: 7 }), (version, args) => {
        returnsOr(ProtocolError, () => {
          const v = parseProtocolVersion(version);
          expect(v.major).toBe(5);
        });
        expect(parseInterfaceChanged(args).length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('issue 9 item 1: numbers round-trip: decodeFloat(formatFloat(x)) and decodeFloat(formatNumber(x)) are x, never Infinity or NaN on the wire', () => {
    fc.assert(
      fc.property(fc.double(), (x) => {
        for (const text of [formatFloat(x), formatNumber(x)]) {
          expect(text).not.toMatch(/Infinity|NaN/);
          const y = decodeFloat(text);
          expect(Number.isNaN(x) ? Number.isNaN(y) : y === x).toBe(true);
        }
        // formatNumber keeps the sign of zero (Python writes -0.0); formatFloat writes 0 (integer sensors share it)
        expect(Object.is(decodeFloat(formatNumber(x)), x)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('issue 9 item 1: safe integers round-trip through decodeInt', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        expect(decodeInt(String(n))).toBe(n);
        expect(decodeInt(formatFloat(n))).toBe(n === 0 ? 0 : n);
      }),
      { numRuns: RUNS },
    );
  });

  it('issue 9 item 1: addresses (IPv4, IPv6, optional port) round-trip', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.ipV6()),
        fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null }),
        (host, port) => {
          const text = formatAddress({ host, port });
          expect(decodeAddress(text)).toEqual({ host, port });
          expect(formatAddress(decodeAddress(text))).toBe(text);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
