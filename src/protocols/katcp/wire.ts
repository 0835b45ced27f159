/**
 * KATCP v5 values on the wire (spec §3, §7; aiokatcp encoders): argument types, sensor statuses and types,
 * sampling strategies, `#version-connect` and `#interface-changed`. Pure: machines may import this module.
 */
import { KatcpDecodeError, ProtocolError } from './errors.js';

// ---------------------------------------------------------------------------------------------------------------
// Argument types

const INT_RE = /^[-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

function text(arg: Buffer | string): string {
  return typeof arg === 'string' ? arg : arg.toString('utf8');
}

/** `integer`: decimal, optional sign. Throws KatcpDecodeError otherwise (and for unsafe integers). */
export function decodeInt(arg: Buffer | string): number {
  const s = text(arg);
  if (!INT_RE.test(s)) throw new KatcpDecodeError(`not an integer: ${JSON.stringify(s)}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new KatcpDecodeError(`integer out of range: ${s}`);
  return n;
}

/** Python refuses to convert an integer of more digits than this from text (`sys.int_info.default_max_str_digits`). */
const MAX_INT_DIGITS = 4300;

/**
 * An `integer` sensor value: a number, or a bigint beyond the safe range (±(2^53 - 1)), where a number would round;
 * Python ints have no limit, so a 64-bit counter is kept exact. More than 4300 digits is refused, as Python's
 * `int()` refuses it (which also bounds the work a hostile peer can ask for).
 */
export function decodeIntegerValue(arg: Buffer | string): number | bigint {
  const s = text(arg);
  if (!INT_RE.test(s)) throw new KatcpDecodeError(`not an integer: ${JSON.stringify(s)}`);
  const n = Number(s);
  if (Number.isSafeInteger(n)) return n;
  if (s.replace(/^[-+]?0*/, '').length > MAX_INT_DIGITS) {
    throw new KatcpDecodeError(`integer of more than ${MAX_INT_DIGITS} digits`);
  }
  return BigInt(s);
}

/** `float`: strtod-style decimal, and `inf`, `-inf`, `nan` (any case) as aiokatcp (Python `repr`) writes them. */
export function decodeFloat(arg: Buffer | string): number {
  const s = text(arg);
  const lower = s.toLowerCase();
  if (lower === 'nan' || lower === '+nan' || lower === '-nan') return Number.NaN;
  if (lower === 'inf' || lower === '+inf' || lower === 'infinity' || lower === '+infinity') {
    return Number.POSITIVE_INFINITY;
  }
  if (lower === '-inf' || lower === '-infinity') return Number.NEGATIVE_INFINITY;
  if (!FLOAT_RE.test(s)) throw new KatcpDecodeError(`not a float: ${JSON.stringify(s)}`);
  return Number(s);
}

/** `boolean`: exactly `1` or `0`. */
export function decodeBool(arg: Buffer | string): boolean {
  const s = text(arg);
  if (s === '1') return true;
  if (s === '0') return false;
  throw new KatcpDecodeError(`not a boolean (1 or 0): ${JSON.stringify(s)}`);
}

/**
 * `timestamp`: seconds since the Unix epoch (UTC), with an optional fraction: a float, `inf`, `-inf` and `nan`
 * included, as aiokatcp decodes it (Python `float()`; a reading with such a timestamp is not lost).
 */
export function decodeTimestamp(arg: Buffer | string): number {
  try {
    return decodeFloat(arg);
  } catch {
    throw new KatcpDecodeError(`not a timestamp: ${JSON.stringify(text(arg))}`);
  }
}

/** `discrete`: one of `values` (lower-case names). */
export function decodeDiscrete(arg: Buffer | string, values: readonly string[]): string {
  const s = text(arg);
  if (!values.includes(s)) {
    throw new KatcpDecodeError(`${JSON.stringify(s)} is not one of ${values.join(', ')}`);
  }
  return s;
}

/** `lru` (deprecated): `nominal` or `error`. */
export function decodeLru(arg: Buffer | string): 'nominal' | 'error' {
  return decodeDiscrete(arg, ['nominal', 'error']) as 'nominal' | 'error';
}

/** An `address`: host (IPv4, or IPv6 in brackets) and an optional port. */
export interface KatcpAddress {
  host: string;
  port: number | null;
}

const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/** A dotted-quad IPv4 address (four decimal octets 0..255 without leading zeros, as Python's `ipaddress`). */
function isIPv4(host: string): boolean {
  const octets = host.split('.');
  return octets.length === 4 && octets.every((o) => IPV4_OCTET.test(o) && Number(o) <= 255);
}

/**
 * An IPv6 address as Python's `ipaddress.IPv6Address` takes it: eight groups of 1-4 hex digits, or fewer with one
 * `::` standing for at least one zero group, the last two groups possibly a dotted quad (`::ffff:1.2.3.4`).
 */
function isIPv6(host: string): boolean {
  const halves = host.split('::');
  if (halves.length > 2) return false;
  const groups = (part: string): string[] | null => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return false;
  const all = [...head, ...tail];
  let count = all.length;
  // a dotted quad may only end the address: the last group after '::' (or of the whole, without one), never before it
  const quadAt = halves.length === 2 && tail.length === 0 ? -1 : all.length - 1;
  for (let i = 0; i < all.length; i++) {
    const g = all[i];
    if (i === quadAt && g.includes('.')) {
      if (!isIPv4(g)) return false;
      count += 1; // a dotted quad is two groups
    } else if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return false;
  }
  return halves.length === 2 ? count <= 7 : count === 8;
}

/**
 * `address`: `ipv4[:port]` or `[ipv6][:port]` (aiokatcp decodes the host with Python's `ipaddress`, so a host that
 * is not an IP address is refused: `[:]`, `[1:2:3]`, `256.0.0.1`, `01.2.3.4`); the port is 0..65535.
 */
export function decodeAddress(arg: Buffer | string): KatcpAddress {
  const s = text(arg);
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?$/.exec(s);
  const v4 = /^([0-9.]+)(?::([0-9]{1,5}))?$/.exec(s);
  const m = v6 ?? v4;
  if (!m) throw new KatcpDecodeError(`not an address: ${JSON.stringify(s)}`);
  if (v6 ? !isIPv6(m[1]) : !isIPv4(m[1])) {
    throw new KatcpDecodeError(`not an ${v6 ? 'IPv6' : 'IPv4'} address: ${JSON.stringify(s)}`);
  }
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && port > 65535) throw new KatcpDecodeError(`port out of range: ${JSON.stringify(s)}`);
  return { host: m[1], port };
}

/** An address as KATCP writes it. */
export function formatAddress(address: KatcpAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return address.port === null ? host : `${host}:${address.port}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Sensors

/** Sensor statuses with aiokatcp's numeric values. */
export const SENSOR_STATUSES = [
  'unknown',
  'nominal',
  'warn',
  'error',
  'failure',
  'unreachable',
  'inactive',
] as const;
export type SensorStatus = (typeof SENSOR_STATUSES)[number];

/** True for the statuses whose value is meaningful (nominal, warn, error: aiokatcp `Status.valid_value`). */
export function isValidValueStatus(status: SensorStatus): boolean {
  return status === 'nominal' || status === 'warn' || status === 'error';
}

export function decodeStatus(arg: Buffer | string): SensorStatus {
  return decodeDiscrete(arg, SENSOR_STATUSES) as SensorStatus;
}

export const SENSOR_TYPES = [
  'integer',
  'float',
  'boolean',
  'discrete',
  'lru',
  'timestamp',
  'address',
  'string',
] as const;
export type SensorType = (typeof SENSOR_TYPES)[number];

/**
 * A sensor value as JS: numbers for integer/float/timestamp (an integer beyond ±(2^53 - 1) is a bigint, kept exact),
 * booleans, strings for discrete/lru/string.
 */
export type SensorValue = number | bigint | boolean | string | KatcpAddress;

/**
 * Decode a sensor value of `type` (`params` are the discrete values). Unknown types come back as text, so a
 * server with a newer type does not break a client.
 */
export function decodeSensorValue(
  type: string,
  arg: Buffer | string,
  params: readonly string[] = [],
): SensorValue {
  switch (type) {
    case 'integer':
      return decodeIntegerValue(arg);
    case 'float':
      return decodeFloat(arg);
    case 'boolean':
      return decodeBool(arg);
    case 'timestamp':
      return decodeTimestamp(arg);
    case 'discrete':
      return params.length ? decodeDiscrete(arg, params) : text(arg);
    case 'lru':
      return decodeLru(arg);
    case 'address':
      return decodeAddress(arg);
    default:
      return text(arg);
  }
}

/** A sensor value as KATCP writes it. */
export function formatSensorValue(value: SensorValue): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') return formatFloat(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return value;
  return formatAddress(value);
}

/** A float as aiokatcp writes it (`inf`, `-inf`, `nan`). */
export function formatFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  return String(value);
}

// ---------------------------------------------------------------------------------------------------------------
// Sampling strategies (seconds, as on the wire)

export const STRATEGIES = [
  'none',
  'auto',
  'period',
  'event',
  'differential',
  'event-rate',
  'differential-rate',
] as const;
export type StrategyName = (typeof STRATEGIES)[number];

/** A sensor sampling strategy; durations are in seconds, KATCP's unit on the wire. */
export type SamplingStrategy =
  | { strategy: 'none' }
  | { strategy: 'auto' }
  | { strategy: 'event' }
  | { strategy: 'period'; period: number }
  | { strategy: 'differential'; difference: number }
  | { strategy: 'event-rate'; shortest: number; longest: number }
  | { strategy: 'differential-rate'; difference: number; shortest: number; longest: number };

const PARAM_COUNT: Record<StrategyName, number> = {
  none: 0,
  auto: 0,
  event: 0,
  period: 1,
  differential: 1,
  'event-rate': 2,
  'differential-rate': 3,
};

/**
 * A strategy from its words: `['period', '0.5']`, `'event-rate 0.1 10'` or a SamplingStrategy. Throws
 * KatcpDecodeError for an unknown strategy, a wrong parameter count or a value the spec forbids
 * (period <= 0, difference <= 0, not 0 <= shortest <= longest).
 */
export function parseStrategy(
  words: string | readonly (string | number | Buffer)[] | SamplingStrategy,
): SamplingStrategy {
  if (typeof words === 'object' && !Array.isArray(words) && words !== null && 'strategy' in words) {
    const name = (words as { strategy: unknown }).strategy;
    // an unknown strategy object has no words to format: refused here, as its name would be below
    if (!(STRATEGIES as readonly unknown[]).includes(name)) {
      throw new KatcpDecodeError(
        `${JSON.stringify(String(name))} is not a sampling strategy (${STRATEGIES.join(', ')})`,
      );
    }
    return parseStrategy(formatStrategy(words as SamplingStrategy));
  }
  if (typeof words !== 'string' && !Array.isArray(words)) {
    throw new KatcpDecodeError(
      `a sampling strategy is a string, an array of words or a SamplingStrategy, got ${words === null ? 'null' : typeof words}`,
    );
  }
  const list =
    typeof words === 'string'
      ? words.trim().split(/\s+/)
      : (words as readonly unknown[]).map((w) =>
          typeof w === 'number'
            ? String(w)
            : typeof w === 'string' || Buffer.isBuffer(w)
              ? text(w)
              : String(w),
        );
  const [name, ...params] = list;
  if (!(STRATEGIES as readonly string[]).includes(name)) {
    throw new KatcpDecodeError(
      `${JSON.stringify(name)} is not a sampling strategy (${STRATEGIES.join(', ')})`,
    );
  }
  const strategy = name as StrategyName;
  if (params.length !== PARAM_COUNT[strategy]) {
    throw new KatcpDecodeError(
      `${strategy} takes ${PARAM_COUNT[strategy]} parameter(s), got ${params.length}`,
    );
  }
  const num = params.map((p) => decodeFloat(p));
  const positive = (v: number, what: string) => {
    if (!(v > 0) || !Number.isFinite(v)) throw new KatcpDecodeError(`${what} must be > 0, got ${v}`);
    return v;
  };
  const rates = (shortest: number, longest: number) => {
    if (!(shortest >= 0 && shortest <= longest) || Number.isNaN(longest)) {
      throw new KatcpDecodeError(`need 0 <= shortest <= longest, got ${shortest} ${longest}`);
    }
  };
  switch (strategy) {
    case 'none':
    case 'auto':
    case 'event':
      return { strategy };
    case 'period':
      return { strategy, period: positive(num[0], 'period') };
    case 'differential':
      return { strategy, difference: positive(num[0], 'difference') };
    case 'event-rate':
      rates(num[0], num[1]);
      return { strategy, shortest: num[0], longest: num[1] };
    case 'differential-rate':
      rates(num[1], num[2]);
      return { strategy, difference: positive(num[0], 'difference'), shortest: num[1], longest: num[2] };
  }
}

/**
 * A strategy as its words on the wire: `['event-rate', '0.1', '1']`. `duration` writes the periods (default
 * `formatFloat`), `difference` the differential's threshold (default `duration`): the server passes Python's float
 * spelling and the sensor's own type, as aiokatcp echoes them.
 */
export function formatStrategy(
  s: SamplingStrategy,
  duration: (seconds: number) => string = formatFloat,
  difference: (value: number) => string = duration,
): string[] {
  switch (s.strategy) {
    case 'none':
    case 'auto':
    case 'event':
      return [s.strategy];
    case 'period':
      return [s.strategy, duration(s.period)];
    case 'differential':
      return [s.strategy, difference(s.difference)];
    case 'event-rate':
      return [s.strategy, duration(s.shortest), duration(s.longest)];
    case 'differential-rate':
      return [s.strategy, difference(s.difference), duration(s.shortest), duration(s.longest)];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// #version-connect and #interface-changed

/** What `#version-connect katcp-protocol 5.1-MIB` says: major, minor and the flag letters. */
export interface ProtocolVersion {
  major: number;
  minor: number;
  /** Flag letters: `M` multi-client, `I` message ids, `B` bulk sensor sampling, `T` request timeout hints. */
  flags: string;
}

/**
 * The version in `#version-connect katcp-protocol <version>` (aiokatcp's regex `^(\d+)\.(\d+)(?:-(.+))?$`).
 * Throws ProtocolError for anything but 5.x ("Unknown protocol version 4.0", "Unparsable katcp-protocol ...").
 */
export function parseProtocolVersion(version: Buffer | string): ProtocolVersion {
  const s = text(version);
  const m = /^(\d+)\.(\d+)(?:-(.+))?$/.exec(s);
  if (!m) throw new ProtocolError(`Unparsable katcp-protocol ${JSON.stringify(s)}`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major !== 5) throw new ProtocolError(`Unknown protocol version ${major}.${minor}`);
  return { major, minor, flags: m[3] ?? '' };
}

/** What an `#interface-changed` names: everything, one list, or one sensor or request. */
export type InterfaceChange =
  | { kind: 'all' }
  | { kind: 'sensor-list' }
  | { kind: 'request-list' }
  | { kind: 'sensor' | 'request'; name: string; change: 'added' | 'removed' | 'modified' };

/**
 * The arguments of `#interface-changed`: none (everything), `sensor-list`, `request-list`, or
 * `sensor|request <name> added|removed|modified`. Anything else means everything (a full re-inspection is
 * always correct).
 */
export function parseInterfaceChanged(args: readonly (Buffer | string)[]): InterfaceChange[] {
  const words = args.map(text);
  if (words.length === 0) return [{ kind: 'all' }];
  const out: InterfaceChange[] = [];
  let i = 0;
  while (i < words.length) {
    const w = words[i];
    if (w === 'sensor-list' || w === 'request-list') {
      out.push({ kind: w });
      i += 1;
    } else if (
      (w === 'sensor' || w === 'request') &&
      i + 2 < words.length &&
      (words[i + 2] === 'added' || words[i + 2] === 'removed' || words[i + 2] === 'modified')
    ) {
      out.push({ kind: w, name: words[i + 1], change: words[i + 2] as 'added' | 'removed' | 'modified' });
      i += 3;
    } else {
      return [{ kind: 'all' }];
    }
  }
  return out;
}
