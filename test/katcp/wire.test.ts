/**
 * KATCP values on the wire (`src/protocols/katcp/wire.ts`): every argument type (integer, float with the
 * `inf`/`-inf`/`nan` aiokatcp writes and never JS's `Infinity`/`NaN`, strict boolean, discrete, lru, timestamp,
 * address v4/v6/port, string), sensor statuses and values, sampling strategies with their errors, the
 * `#version-connect` protocol version (aiokatcp's messages) and `#interface-changed`. Every refusal is a typed
 * KatcpDecodeError (ProtocolError for the version).
 */
import { describe, expect, it } from 'vitest';
import { parseLine } from '../../src/protocols/katcp/codec.js';
import { KatcpDecodeError, ProtocolError } from '../../src/protocols/katcp/errors.js';
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
  formatSensorValue,
  formatStrategy,
  isValidValueStatus,
  parseInterfaceChanged,
  parseProtocolVersion,
  parseStrategy,
  type SamplingStrategy,
  SENSOR_STATUSES,
  SENSOR_TYPES,
  STRATEGIES,
} from '../../src/protocols/katcp/wire.js';

const b = (s: string) => Buffer.from(s, 'utf8');

describe('issue 9 item 1: integer', () => {
  it('issue 9 item 1: decimal with an optional sign, from text or bytes', () => {
    expect(decodeInt('0')).toBe(0);
    expect(decodeInt(b('42'))).toBe(42);
    expect(decodeInt('-17')).toBe(-17);
    expect(decodeInt('+5')).toBe(5);
    expect(decodeInt('007')).toBe(7);
    expect(decodeInt(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('issue 9 item 1: anything else, and integers past 2^53, is a KatcpDecodeError', () => {
    for (const bad of ['', ' 1', '1 ', '1.0', '1e3', '0x10', 'one', '--1', '+', 'inf', 'nan', '١']) {
      expect(() => decodeInt(bad), bad).toThrow(KatcpDecodeError);
    }
    expect(() => decodeInt('9007199254740993')).toThrow(/integer out of range/);
    expect(() => decodeInt('abc')).toThrow(/not an integer: "abc"/);
  });
});

describe('integer sensor values beyond 2^53', () => {
  it('are kept exactly as a bigint (Python ints have no limit); safe ones stay numbers', () => {
    // they were dropped as "integer out of range": a 64-bit counter lost its readings past 2^53
    expect(decodeSensorValue('integer', '18446744073709551615')).toBe(18446744073709551615n);
    expect(decodeSensorValue('integer', b('9007199254740993'))).toBe(9007199254740993n);
    expect(decodeSensorValue('integer', '-9223372036854775808')).toBe(-9223372036854775808n);
    expect(decodeSensorValue('integer', '+9007199254740993')).toBe(9007199254740993n);
    expect(decodeSensorValue('integer', '9007199254740991')).toBe(9007199254740991);
    expect(decodeSensorValue('integer', '-42')).toBe(-42);
    expect(formatSensorValue(18446744073709551615n)).toBe('18446744073709551615');
    // Python refuses to convert more than 4300 digits (sys.int_info.default_max_str_digits): so is it here
    expect(decodeSensorValue('integer', '9'.repeat(4300))).toBe(BigInt('9'.repeat(4300)));
    expect(() => decodeSensorValue('integer', '9'.repeat(4301))).toThrow(KatcpDecodeError);
    expect(() => decodeSensorValue('integer', '1e30')).toThrow(KatcpDecodeError);
    // message ids, counts and the like stay numbers: decodeInt still refuses what a number cannot hold
    expect(() => decodeInt('9007199254740993')).toThrow(/integer out of range/);
  });
});

describe('issue 9 item 1: float', () => {
  it('issue 9 item 1: strtod-style decimals as Python repr writes them', () => {
    expect(decodeFloat('3.5')).toBe(3.5);
    expect(decodeFloat('1e-05')).toBe(1e-5);
    expect(decodeFloat('1E+21')).toBe(1e21);
    expect(decodeFloat('-0.0')).toBe(-0);
    expect(decodeFloat('.5')).toBe(0.5);
    expect(decodeFloat('5.')).toBe(5);
    expect(decodeFloat(b('1795421238.57603'))).toBe(1795421238.57603);
    expect(decodeFloat('10')).toBe(10);
  });

  it('issue 9 item 1: inf, -inf and nan as aiokatcp writes them (JS parseFloat would not)', () => {
    expect(decodeFloat('inf')).toBe(Number.POSITIVE_INFINITY);
    expect(decodeFloat('-inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(decodeFloat('+inf')).toBe(Number.POSITIVE_INFINITY);
    expect(decodeFloat('nan')).toBeNaN();
    expect(decodeFloat('-nan')).toBeNaN();
    expect(decodeFloat('NaN')).toBeNaN();
    expect(decodeFloat('INF')).toBe(Number.POSITIVE_INFINITY);
    expect(decodeFloat('infinity')).toBe(Number.POSITIVE_INFINITY);
    expect(decodeFloat('-Infinity')).toBe(Number.NEGATIVE_INFINITY);
  });

  it('issue 9 item 1: JS spellings are never written: Infinity is inf, NaN is nan', () => {
    expect(formatFloat(Number.POSITIVE_INFINITY)).toBe('inf');
    expect(formatFloat(Number.NEGATIVE_INFINITY)).toBe('-inf');
    expect(formatFloat(Number.NaN)).toBe('nan');
    expect(formatFloat(0.1)).toBe('0.1');
    expect(formatFloat(1e21)).toBe('1e+21');
    expect(formatSensorValue(Number.POSITIVE_INFINITY)).toBe('inf');
    expect(formatSensorValue(Number.NaN)).toBe('nan');
    for (const x of [0.1, -2.5e-300, 1.7976931348623157e308, 5e-324, 123456789.125]) {
      expect(decodeFloat(formatFloat(x))).toBe(x);
    }
  });

  it('issue 9 item 1: anything that is not a number is a KatcpDecodeError', () => {
    for (const bad of ['', ' ', '1.2.3', '0x1p3', '1e', 'e5', '1,5', 'nanx', 'in', '1_000', ' 1.5', '--1']) {
      expect(() => decodeFloat(bad), JSON.stringify(bad)).toThrow(KatcpDecodeError);
    }
    expect(() => decodeFloat('abc')).toThrow(/not a float: "abc"/);
  });
});

describe('issue 9 item 1: boolean, timestamp, discrete, lru, string', () => {
  it('issue 9 item 1: boolean is exactly 1 or 0', () => {
    expect(decodeBool('1')).toBe(true);
    expect(decodeBool(b('0'))).toBe(false);
    for (const bad of ['', 'true', 'false', 'True', '01', '10', '2', ' 1', '1 ', '-0', 'yes']) {
      expect(() => decodeBool(bad), bad).toThrow(KatcpDecodeError);
    }
    expect(formatSensorValue(true)).toBe('1');
    expect(formatSensorValue(false)).toBe('0');
  });

  it('issue 9 item 1: timestamp is seconds since the epoch with a fraction, or inf/nan as aiokatcp; words are refused', () => {
    expect(decodeTimestamp('1795421238.57603')).toBe(1795421238.57603);
    expect(decodeTimestamp(b('0'))).toBe(0);
    expect(decodeTimestamp('1795421246')).toBe(1795421246);
    // aiokatcp decodes a timestamp with Python's float(): inf, -inf and nan are timestamps there
    expect(decodeTimestamp('inf')).toBe(Number.POSITIVE_INFINITY);
    expect(decodeTimestamp(b('-inf'))).toBe(Number.NEGATIVE_INFINITY);
    expect(decodeTimestamp('nan')).toBeNaN();
    expect(decodeSensorValue('timestamp', 'inf')).toBe(Number.POSITIVE_INFINITY);
    for (const bad of ['now', '', '2026-01-01', 'infinite', 'nan0']) {
      expect(() => decodeTimestamp(bad), bad).toThrow(KatcpDecodeError);
    }
  });

  it('issue 9 item 1: discrete is one of the listed lower-case values, case-sensitive', () => {
    const values = ['abc-def', 'ghi-k'];
    expect(decodeDiscrete('abc-def', values)).toBe('abc-def');
    expect(decodeDiscrete(b('ghi-k'), values)).toBe('ghi-k');
    expect(() => decodeDiscrete('ABC-DEF', values)).toThrow(KatcpDecodeError);
    expect(() => decodeDiscrete('abc_def', values)).toThrow(/"abc_def" is not one of abc-def, ghi-k/);
    expect(() => decodeDiscrete('', values)).toThrow(KatcpDecodeError);
  });

  it('issue 9 item 1: lru is nominal or error', () => {
    expect(decodeLru('nominal')).toBe('nominal');
    expect(decodeLru('error')).toBe('error');
    expect(() => decodeLru('warn')).toThrow(KatcpDecodeError);
  });

  it('issue 9 item 1: string is any bytes, read as UTF-8', () => {
    expect(decodeSensorValue('string', b('héllo wörld'))).toBe('héllo wörld');
    expect(decodeSensorValue('string', Buffer.alloc(0))).toBe('');
    expect(formatSensorValue('a b')).toBe('a b');
  });
});

describe('issue 9 item 1: address', () => {
  it('issue 9 item 1: IPv4 with and without a port', () => {
    expect(decodeAddress('127.0.0.1:4444')).toEqual({ host: '127.0.0.1', port: 4444 });
    expect(decodeAddress(b('10.0.0.255'))).toEqual({ host: '10.0.0.255', port: null });
    expect(decodeAddress('0.0.0.0:0')).toEqual({ host: '0.0.0.0', port: 0 });
    expect(decodeAddress('1.2.3.4:65535')).toEqual({ host: '1.2.3.4', port: 65535 });
  });

  it('issue 9 item 1: IPv6 in brackets with and without a port', () => {
    expect(decodeAddress('[::1]:7147')).toEqual({ host: '::1', port: 7147 });
    expect(decodeAddress('[fe80::1:2]')).toEqual({ host: 'fe80::1:2', port: null });
    expect(decodeAddress('[::ffff:10.0.0.1]:1')).toEqual({ host: '::ffff:10.0.0.1', port: 1 });
  });

  it('issue 9 item 1: formatAddress writes them back (brackets around IPv6)', () => {
    for (const s of ['127.0.0.1:4444', '10.0.0.255', '[::1]:7147', '[fe80::1:2]']) {
      expect(formatAddress(decodeAddress(s))).toBe(s);
      expect(formatSensorValue(decodeAddress(s))).toBe(s);
    }
  });

  it('issue 9 item 1: host names, unbracketed IPv6, bad octets and ports are refused', () => {
    for (const bad of [
      'localhost:80',
      '::1',
      '::1:80',
      '256.0.0.1',
      '1.2.3',
      '1.2.3.4:',
      '1.2.3.4:65536',
      '1.2.3.4:123456',
      '[::1',
      '[::1]:',
      '[zz::1]',
      '',
      ' 1.2.3.4',
    ]) {
      expect(() => decodeAddress(bad), bad).toThrow(KatcpDecodeError);
    }
  });

  it('hosts that are not IP addresses are refused, as Python ipaddress refuses them (they were accepted)', () => {
    for (const bad of [
      '[:]',
      '[...]',
      '[1:2:3]',
      '[1.2.3.4]',
      '[1:2:3:4:5:6:7:8:9]',
      '[1:2:3:4:5:6:7:8::]',
      '[1::2::3]',
      '[:1]',
      '[12345::]',
      '[::1.2.3]',
      '[::256.0.0.1]',
      // a dotted quad only ends an address, never before '::' (accepted by the hand-written check)
      '[1.2.3.4::]',
      '[1:2:3.4.5.6::]',
      '01.2.3.4',
      '1.2.3.4.5',
      '1..3.4',
    ]) {
      expect(() => decodeAddress(bad), bad).toThrow(KatcpDecodeError);
    }
    for (const good of [
      '[::]',
      '[1::]',
      '[1:2:3:4:5:6:7::]',
      '[::2:3:4:5:6:7:8]',
      '[1:2:3:4:5:6:7:8]:9',
      '[1:2:3:4:5:6:1.2.3.4]',
      '[::ffff:0.0.0.0]',
      '[FE80::ABCD]',
      '0.10.100.255',
    ]) {
      expect(formatAddress(decodeAddress(good)), good).toBe(good);
    }
  });
});

describe('issue 9 item 1: sensor statuses, types and values', () => {
  it("issue 9 item 1: statuses in aiokatcp's numeric order; nominal, warn and error carry a valid value", () => {
    expect(SENSOR_STATUSES).toEqual([
      'unknown',
      'nominal',
      'warn',
      'error',
      'failure',
      'unreachable',
      'inactive',
    ]);
    expect(SENSOR_STATUSES.filter(isValidValueStatus)).toEqual(['nominal', 'warn', 'error']);
    for (const s of SENSOR_STATUSES) expect(decodeStatus(b(s))).toBe(s);
    expect(() => decodeStatus('ok')).toThrow(KatcpDecodeError);
    expect(() => decodeStatus('NOMINAL')).toThrow(KatcpDecodeError);
  });

  it('issue 9 item 1: decodeSensorValue decodes each type; an unknown type comes back as text', () => {
    expect(SENSOR_TYPES).toEqual([
      'integer',
      'float',
      'boolean',
      'discrete',
      'lru',
      'timestamp',
      'address',
      'string',
    ]);
    expect(decodeSensorValue('integer', '3')).toBe(3);
    expect(decodeSensorValue('float', 'nan')).toBeNaN();
    expect(decodeSensorValue('float', '-inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(decodeSensorValue('boolean', '1')).toBe(true);
    expect(decodeSensorValue('discrete', 'ghi-k', ['abc-def', 'ghi-k'])).toBe('ghi-k');
    expect(decodeSensorValue('discrete', 'anything')).toBe('anything'); // no list known: text
    expect(decodeSensorValue('lru', 'error')).toBe('error');
    expect(decodeSensorValue('timestamp', '1.5')).toBe(1.5);
    expect(decodeSensorValue('address', '[::1]:1')).toEqual({ host: '::1', port: 1 });
    expect(decodeSensorValue('string', 'x y')).toBe('x y');
    expect(decodeSensorValue('complex-thing', b('1+2j'))).toBe('1+2j');
    expect(() => decodeSensorValue('integer', '1.5')).toThrow(KatcpDecodeError);
    expect(() => decodeSensorValue('boolean', 'true')).toThrow(KatcpDecodeError);
    expect(() => decodeSensorValue('discrete', 'zzz', ['abc-def'])).toThrow(KatcpDecodeError);
  });

  it('issue 9 item 1: the #sensor-value informs of transcript1 decode field by field', () => {
    const m = parseLine(b('#sensor-value[3] 1795421238.576039 1 foo unknown abc-def'));
    const [ts, n, name, status, value] = m?.args ?? [];
    expect(decodeTimestamp(ts)).toBe(1795421238.576039);
    expect(decodeInt(n)).toBe(1);
    expect(name.toString()).toBe('foo');
    expect(decodeStatus(status)).toBe('unknown');
    expect(decodeSensorValue('discrete', value, ['abc-def', 'ghi-k'])).toBe('abc-def');
  });
});

describe('issue 9 item 1: sampling strategies (seconds, as on the wire)', () => {
  const good: [string, SamplingStrategy, string[]][] = [
    ['none', { strategy: 'none' }, ['none']],
    ['auto', { strategy: 'auto' }, ['auto']],
    ['event', { strategy: 'event' }, ['event']],
    ['period 0.5', { strategy: 'period', period: 0.5 }, ['period', '0.5']],
    ['differential 2', { strategy: 'differential', difference: 2 }, ['differential', '2']],
    ['event-rate 0.1 1.0', { strategy: 'event-rate', shortest: 0.1, longest: 1 }, ['event-rate', '0.1', '1']],
    ['event-rate 0 0', { strategy: 'event-rate', shortest: 0, longest: 0 }, ['event-rate', '0', '0']],
    [
      'differential-rate 1 0.1 10.0',
      { strategy: 'differential-rate', difference: 1, shortest: 0.1, longest: 10 },
      ['differential-rate', '1', '0.1', '10'],
    ],
  ];
  for (const [words, parsed, formatted] of good) {
    it(`issue 9 item 1: "${words}" parses from text, words and bytes, formats, and round-trips`, () => {
      expect(parseStrategy(words)).toEqual(parsed);
      expect(parseStrategy(`  ${words.replace(/ /g, '\t ')} `)).toEqual(parsed);
      expect(parseStrategy(words.split(' '))).toEqual(parsed);
      expect(parseStrategy(words.split(' ').map(b))).toEqual(parsed);
      expect(parseStrategy(parsed)).toEqual(parsed);
      expect(formatStrategy(parsed)).toEqual(formatted);
      expect(parseStrategy(formatStrategy(parsed))).toEqual(parsed);
    });
  }

  it('issue 9 item 1: numbers in word lists are taken as they are', () => {
    expect(parseStrategy(['period', 2])).toEqual({ strategy: 'period', period: 2 });
    expect(parseStrategy(['event-rate', 0.25, 4])).toEqual({
      strategy: 'event-rate',
      shortest: 0.25,
      longest: 4,
    });
  });

  it('issue 9 item 1: every strategy the spec names is known', () => {
    expect(STRATEGIES).toEqual([
      'none',
      'auto',
      'period',
      'event',
      'differential',
      'event-rate',
      'differential-rate',
    ]);
  });

  const bad: [string | string[], RegExp][] = [
    ['bogus', /"bogus" is not a sampling strategy/],
    ['', /is not a sampling strategy/],
    ['Event', /is not a sampling strategy/],
    ['period', /period takes 1 parameter\(s\), got 0/],
    ['period 1 2', /period takes 1 parameter\(s\), got 2/],
    ['event 1', /event takes 0 parameter\(s\), got 1/],
    ['none x', /none takes 0/],
    ['event-rate 1', /event-rate takes 2/],
    ['differential-rate 1 2', /differential-rate takes 3/],
    ['period 0', /period must be > 0/],
    ['period -1', /period must be > 0/],
    ['period inf', /period must be > 0/],
    ['period nan', /period must be > 0/],
    ['period abc', /not a float/],
    ['differential 0', /difference must be > 0/],
    ['differential -0.5', /difference must be > 0/],
    ['event-rate 2 1', /need 0 <= shortest <= longest/],
    ['event-rate -1 1', /need 0 <= shortest <= longest/],
    ['event-rate nan 1', /need 0 <= shortest <= longest/],
    ['event-rate 0.1 nan', /need 0 <= shortest <= longest/],
    ['differential-rate 0 0.1 1', /difference must be > 0/],
    ['differential-rate 1 5 1', /need 0 <= shortest <= longest/],
    [['period', ''], /not a float/],
  ];
  for (const [words, message] of bad) {
    it(`issue 9 item 1: ${JSON.stringify(words)} is a KatcpDecodeError (${message.source})`, () => {
      expect(() => parseStrategy(words)).toThrow(KatcpDecodeError);
      expect(() => parseStrategy(words)).toThrow(message);
    });
  }

  it('issue 9 item 1: a SamplingStrategy object with bad values is refused too', () => {
    expect(() => parseStrategy({ strategy: 'period', period: 0 })).toThrow(KatcpDecodeError);
    expect(() => parseStrategy({ strategy: 'event-rate', shortest: 3, longest: 1 })).toThrow(
      KatcpDecodeError,
    );
    expect(() => parseStrategy({ strategy: 'period', period: Number.POSITIVE_INFINITY })).toThrow(
      /period must be > 0, got Infinity/,
    );
  });

  it('an unknown strategy object, null or another non-strategy is a KatcpDecodeError (was a TypeError)', () => {
    const bad: unknown[] = [{ strategy: 'bogus' }, { strategy: undefined }, null, undefined, 42, {}];
    for (const words of bad) {
      expect(() => parseStrategy(words as never), String(words)).toThrow(KatcpDecodeError);
    }
    expect(() => parseStrategy({ strategy: 'bogus' } as never)).toThrow(/"bogus" is not a sampling strategy/);
  });
});

describe('issue 9 item 1: #version-connect katcp-protocol', () => {
  it("issue 9 item 1: 5.x with flags parses (aiokatcp's regex)", () => {
    expect(parseProtocolVersion('5.1-MIB')).toEqual({ major: 5, minor: 1, flags: 'MIB' });
    expect(parseProtocolVersion(b('5.0'))).toEqual({ major: 5, minor: 0, flags: '' });
    expect(parseProtocolVersion('5.1-MIBT')).toEqual({ major: 5, minor: 1, flags: 'MIBT' });
    expect(parseProtocolVersion('5.12-I').flags).toBe('I');
  });

  it("issue 9 item 1: another major version is a ProtocolError with aiokatcp's message", () => {
    expect(() => parseProtocolVersion('4.0')).toThrow(ProtocolError);
    expect(() => parseProtocolVersion('4.0')).toThrow(/^Unknown protocol version 4\.0$/);
    expect(() => parseProtocolVersion('6.2-MI')).toThrow(/^Unknown protocol version 6\.2$/);
  });

  it("issue 9 item 1: garbage is a ProtocolError 'Unparsable katcp-protocol ...'", () => {
    for (const bad of ['garbage', '', '5', '5.', '.1', '5.1-', 'v5.1', ' 5.1', '5.1 MIB', 'five.one']) {
      expect(() => parseProtocolVersion(bad), bad).toThrow(ProtocolError);
      expect(() => parseProtocolVersion(bad), bad).toThrow(/^Unparsable katcp-protocol /);
    }
    expect(() => parseProtocolVersion('garbage')).toThrow('Unparsable katcp-protocol "garbage"');
  });
});

describe('issue 9 item 1: #interface-changed', () => {
  const parse = (...words: string[]) => parseInterfaceChanged(words.map(b));

  it('issue 9 item 1: no arguments means everything', () => {
    expect(parse()).toEqual([{ kind: 'all' }]);
  });

  it('issue 9 item 1: sensor-list, request-list, and named sensors or requests added, removed or modified', () => {
    expect(parse('sensor-list')).toEqual([{ kind: 'sensor-list' }]);
    expect(parse('request-list')).toEqual([{ kind: 'request-list' }]);
    expect(parse('sensor', 'fixed-value', 'removed')).toEqual([
      { kind: 'sensor', name: 'fixed-value', change: 'removed' },
    ]);
    expect(
      parseInterfaceChanged(['request', 'echo', 'modified', 'sensor-list', 'sensor', 'x', 'added']),
    ).toEqual([
      { kind: 'request', name: 'echo', change: 'modified' },
      { kind: 'sensor-list' },
      { kind: 'sensor', name: 'x', change: 'added' },
    ]);
  });

  it('issue 9 item 1: anything it cannot read means everything (a full re-inspection is always right)', () => {
    expect(parse('bogus')).toEqual([{ kind: 'all' }]);
    expect(parse('sensor', 'x')).toEqual([{ kind: 'all' }]);
    expect(parse('sensor', 'x', 'renamed')).toEqual([{ kind: 'all' }]);
    expect(parse('sensor-list', 'extra')).toEqual([{ kind: 'all' }]);
  });

  it('issue 9 item 1: the #interface-changed informs of transcript2', () => {
    const m = parseLine(b('#interface-changed sensor fixed-value added'));
    expect(parseInterfaceChanged(m?.args ?? [])).toEqual([
      { kind: 'sensor', name: 'fixed-value', change: 'added' },
    ]);
  });
});
