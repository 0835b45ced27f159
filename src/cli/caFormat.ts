/**
 * Output of `orrery ca get|put|monitor`, as caproto-get/put/monitor print it: their default lines, `--format`
 * with Python `str.format` fields (`{pv_name: <40}`, `{response.data}`, `{response.status.name}`,
 * `{timestamp:%Y-%m-%d %H:%M:%S.%f}`, `{response.data[0]}`, `{which}`, `{callback_count}`, `{timedelta}`), the
 * data printed as caproto's `format_response_data` does (`[1.5 2]`, `%g` for floats; `-e/-f/-g N`, `-0x/-0o/-0b`,
 * `-lx/-lo/-lb`, `-F sep`, `-S` char arrays as a string), and `--json`.
 */

import { InvalidArgumentError } from '../errors.js';
import { dbrName, ecaMessage, ecaName } from '../protocols/ca/constants.js';
import type { CaArray, DbrMetadata } from '../protocols/ca/dbr.js';

/** What one line is made from (a ReadResponse or an EventResponse). */
export interface ResponseLike {
  data: CaArray;
  dataType: number;
  dataCount: number;
  status: number;
  metadata: DbrMetadata;
}

/** The data-format flags (caproto's `_DataPrintFormat`). */
export interface DataFormat {
  float?: { kind: 'e' | 'f' | 'g'; digits: number } | { kind: 'lx' | 'lo' | 'lb' };
  int?: '0x' | '0o' | '0b';
  separator?: string;
  charAsString?: boolean;
  noBrackets?: boolean;
}

/** Python's `'%g'` / `'{:.Ng}'` (default 6 significant digits): `1`, `0.5`, `1e+06`, `1.5e-05`, `inf`, `nan`. */
export function formatG(v: number, digits = 6): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const p = digits === 0 ? 1 : digits;
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [, exp] = v.toExponential(p - 1).split('e');
  const x = Number(exp);
  if (x < -4 || x >= p) return pythonExp(v, p - 1, true);
  return stripZeros(v.toFixed(Math.max(0, p - 1 - x)));
}

function stripZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** Python's `'{:.Ne}'`: mantissa with N decimals, exponent signed and at least two digits. */
function pythonExp(v: number, decimals: number, strip = false): string {
  const [m, e] = v.toExponential(decimals).split('e');
  const sign = e.startsWith('-') ? '-' : '+';
  const digits = e.replace(/^[+-]/, '').padStart(2, '0');
  return `${strip ? stripZeros(m) : m}e${sign}${digits}`;
}

/**
 * Python's `'{:.Nf}'` of a finite number: `toFixed`, but written out in full from 1e21 on, where `toFixed` gives
 * the exponent form (every double that large is a whole number, so BigInt has its exact digits).
 */
function pyFixed(v: number, digits: number): string {
  if (Math.abs(v) < 1e21) return v.toFixed(digits);
  return `${BigInt(v)}${digits > 0 ? `.${'0'.repeat(digits)}` : ''}`;
}

function isFloatArray(data: CaArray): boolean {
  return data instanceof Float64Array || data instanceof Float32Array;
}

function formatElement(v: string | number, isFloat: boolean, fmt: DataFormat): string {
  if (typeof v === 'string') return v;
  if (isFloat) {
    const f = fmt.float;
    if (f === undefined) return formatG(v);
    if (f.kind === 'e') return Number.isFinite(v) ? pythonExp(v, f.digits) : formatG(v);
    if (f.kind === 'f') return Number.isFinite(v) ? pyFixed(v, f.digits) : formatG(v);
    if (f.kind === 'g') return formatG(v, f.digits);
    const n = Math.round(v);
    const radix = f.kind === 'lx' ? 16 : f.kind === 'lo' ? 8 : 2;
    const prefix = f.kind === 'lx' ? '0x' : f.kind === 'lo' ? '0o' : '0b';
    return `${n < 0 ? '-' : ''}${prefix}${Math.abs(n).toString(radix).toUpperCase()}`;
  }
  if (fmt.int === undefined) return String(v);
  const radix = fmt.int === '0x' ? 16 : fmt.int === '0o' ? 8 : 2;
  return `${v < 0 ? '-' : ''}${fmt.int}${Math.abs(v).toString(radix).toUpperCase()}`;
}

/** A CHAR array as the string it holds (up to the first NUL, latin1). */
function charString(data: Uint8Array): string {
  const end = data.indexOf(0);
  return Buffer.from(data.buffer, data.byteOffset, end < 0 ? data.length : end).toString('latin1');
}

/** caproto's `format_response_data`: `[a b c]` (no brackets with `noBrackets`), `[]` when empty. */
export function formatData(data: CaArray, fmt: DataFormat = {}): string {
  if (fmt.charAsString && data instanceof Uint8Array) return charString(data);
  if (data.length === 0) return '[]';
  const isFloat = isFloatArray(data);
  const parts = Array.from(data as ArrayLike<string | number>, (v) => formatElement(v, isFloat, fmt));
  const s = parts.join(fmt.separator ?? ' ');
  return fmt.noBrackets ? s : `[${s}]`;
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;

/** 1 for 1 January (local time). */
function dayOfYear(d: Date): number {
  const start = new Date(d.getFullYear(), 0, 1);
  const day = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  return Math.round((day.getTime() - start.getTime()) / 86_400_000) + 1;
}

/** A point in time that prints as Python's `datetime` (local time) and takes strftime specs. */
export class PyDateTime {
  constructor(readonly unixSeconds: number) {}
  format(spec: string): string {
    const totalMicro = Math.round(this.unixSeconds * 1e6);
    const seconds = Math.floor(totalMicro / 1e6);
    const micro = totalMicro - seconds * 1e6;
    const d = new Date(seconds * 1000);
    const two = (n: number) => String(n).padStart(2, '0');
    const codes: Record<string, string> = {
      Y: String(d.getFullYear()),
      y: two(d.getFullYear() % 100),
      m: two(d.getMonth() + 1),
      d: two(d.getDate()),
      H: two(d.getHours()),
      M: two(d.getMinutes()),
      S: two(d.getSeconds()),
      f: String(micro).padStart(6, '0'),
      s: String(Math.floor(this.unixSeconds)),
      // names as Python's strftime gives them in the C locale; a naive datetime has no zone (%z, %Z empty)
      a: WEEKDAYS[d.getDay()].slice(0, 3),
      A: WEEKDAYS[d.getDay()],
      b: MONTHS[d.getMonth()].slice(0, 3),
      B: MONTHS[d.getMonth()],
      I: two(d.getHours() % 12 || 12),
      p: d.getHours() < 12 ? 'AM' : 'PM',
      j: String(dayOfYear(d)).padStart(3, '0'),
      w: String(d.getDay()),
      z: '',
      Z: '',
      '%': '%',
    };
    return spec.replace(/%(.)/g, (all, c: string) => codes[c] ?? all);
  }
  toString(): string {
    // Python's str(datetime) leaves out the microseconds when they are 0
    const micro = Math.round(this.unixSeconds * 1e6) % 1e6;
    return this.format(micro === 0 ? '%Y-%m-%d %H:%M:%S' : '%Y-%m-%d %H:%M:%S.%f');
  }
}

/** A difference of times that prints as Python's `timedelta` (`0:00:01.500000`). */
export class PyTimeDelta {
  constructor(readonly seconds: number) {}
  toString(): string {
    // Python keeps the days signed and the rest in [0, 1 day): -1.5 s is '-1 day, 23:59:58.500000'
    let us = Math.round(this.seconds * 1e6);
    const days = Math.floor(us / 86_400e6);
    us -= days * 86_400e6;
    const h = Math.floor(us / 3600e6);
    const m = Math.floor((us % 3600e6) / 60e6);
    const s = Math.floor((us % 60e6) / 1e6);
    const frac = us % 1e6;
    const clock = `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}${frac ? `.${String(frac).padStart(6, '0')}` : ''}`;
    return days ? `${days} day${Math.abs(days) === 1 ? '' : 's'}, ${clock}` : clock;
  }
}

/** The `{response...}` object of a format: caproto's attribute names. */
export function responseTokens(r: ResponseLike, fmt: DataFormat): Record<string, unknown> {
  const data = Array.from(r.data as ArrayLike<string | number>);
  const isFloat = isFloatArray(r.data);
  return {
    data: Object.assign(data, { toString: () => formatData(r.data, fmt) }),
    data_elements: data.map((v) => formatElement(v, isFloat, fmt)),
    data_type: dbrName(r.dataType),
    data_count: r.dataCount,
    status: {
      name: ecaName(r.status),
      code: r.status,
      description: ecaMessage(r.status),
      toString: () => ecaName(r.status),
    },
    metadata: r.metadata,
  };
}

/** Every token a line can use; `extra` adds `which`, `callback_count`, `timedelta`. */
export function lineTokens(
  pvName: string,
  r: ResponseLike,
  fmt: DataFormat,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const response = responseTokens(r, fmt);
  const tokens: Record<string, unknown> = {
    pv_name: pvName,
    response,
    response_data: formatData(r.data, fmt),
    ...extra,
  };
  if (r.metadata.timestamp !== undefined) tokens.timestamp = new PyDateTime(r.metadata.timestamp);
  return tokens;
}

const FIELD = /\{\{|\}\}|\{([^{}!:]*)(?:![rsa])?(?::([^{}]*))?\}/g;

function lookup(tokens: Record<string, unknown>, path: string): unknown {
  const head = /^[A-Za-z_]\w*/.exec(path);
  if (!head) throw new InvalidArgumentError(`--format: bad field {${path}}`);
  if (!(head[0] in tokens)) {
    throw new InvalidArgumentError(
      `--format: unknown field {${head[0]}} (fields: ${Object.keys(tokens).join(', ')})`,
    );
  }
  let value: unknown = tokens[head[0]];
  const rest = path.slice(head[0].length);
  for (const m of rest.matchAll(/\.([A-Za-z_]\w*)|\[(\d+)\]/g)) {
    // `{response.data[0]}` indexes the values; `{response.data}` is the printed array. What is not there is an
    // error, as Python's AttributeError / IndexError (never the text 'undefined')
    if (m[1] !== undefined) {
      if (value === null || typeof value !== 'object' || !(m[1] in value)) {
        throw new InvalidArgumentError(`--format: {${path}} has no attribute '${m[1]}'`);
      }
      value = (value as Record<string, unknown>)[m[1]];
    } else {
      const index = Number(m[2]);
      if (!Array.isArray(value) || index >= value.length) {
        throw new InvalidArgumentError(`--format: {${path}}: index ${index} out of range`);
      }
      value = value[index];
    }
  }
  return value;
}

/** Python's format-spec subset `applySpec` takes (a datetime takes any strftime text). */
const SPEC = /^(?:(.)?([<>^]))?(0)?(\d+)?(?:\.(\d+))?([efgdsxob%])?$/;

/**
 * The attributes of `{response...}` every response has (`metadata`'s depend on the data type: checked when a line
 * is printed), and of `{response.status...}`.
 */
const RESPONSE_ATTRIBUTES = ['data', 'data_elements', 'data_type', 'data_count', 'status', 'metadata'];
const STATUS_ATTRIBUTES = ['name', 'code', 'description'];

/** `{response.x}` / `{response.status.y}` with an attribute no response has: refused before any I/O. */
function checkResponsePath(field: string): void {
  const parts = /^response(?:\.([A-Za-z_]\w*))?(?:\.([A-Za-z_]\w*))?/.exec(field);
  if (!parts || parts[1] === undefined) return;
  if (!RESPONSE_ATTRIBUTES.includes(parts[1])) {
    throw new InvalidArgumentError(
      `--format: {${field}}: a response has no attribute '${parts[1]}' (it has ${RESPONSE_ATTRIBUTES.join(', ')})`,
    );
  }
  if (parts[1] === 'status' && parts[2] !== undefined && !STATUS_ATTRIBUTES.includes(parts[2])) {
    throw new InvalidArgumentError(
      `--format: {${field}}: a status has no attribute '${parts[2]}' (it has ${STATUS_ATTRIBUTES.join(', ')})`,
    );
  }
}

/** Python's format-spec subset: `[[fill]align][width][.precision][type]` (and strftime for a datetime). */
function applySpec(value: unknown, spec: string | undefined): string {
  if (value instanceof PyDateTime) return spec ? value.format(spec) : value.toString();
  if (spec === undefined || spec === '')
    return typeof value === 'number' ? formatNumber(value) : String(value);
  const m = SPEC.exec(spec);
  if (!m) throw new InvalidArgumentError(`--format: unsupported format spec ':${spec}'`);
  const [, fill = ' ', align, zero, width, precision, type] = m;
  let text: string;
  if (typeof value === 'number') {
    const p = precision === undefined ? undefined : Number(precision);
    // (toExponential of inf/nan has no exponent to split: a TypeError)
    if (type === 'e') text = Number.isFinite(value) ? pythonExp(value, p ?? 6) : formatNumber(value);
    else if (type === 'f') text = Number.isFinite(value) ? pyFixed(value, p ?? 6) : formatNumber(value);
    else if (type === 'g') text = formatG(value, p ?? 6);
    else if (type === 'x' || type === 'o' || type === 'b')
      text = Math.trunc(value).toString(type === 'x' ? 16 : type === 'o' ? 8 : 2);
    else text = formatNumber(value);
  } else {
    text = String(value);
    if (precision !== undefined) text = text.slice(0, Number(precision));
  }
  const w = width === undefined ? 0 : Number(width);
  if (text.length >= w) return text;
  const pad = (zero && !align ? '0' : fill).repeat(w - text.length);
  const a = align ?? (typeof value === 'number' ? '>' : '<');
  if (a === '<') return text + pad;
  if (a === '>') return pad + text;
  const left = pad.slice(0, Math.floor(pad.length / 2));
  return left + text + pad.slice(left.length);
}

/** A number as Python's `str()`: integers without a decimal point, others shortest round-trip. */
function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return String(v);
}

/** Python `str.format(**tokens)` for the fields above; an unknown field is an InvalidArgumentError. */
export function pyFormat(template: string, tokens: Record<string, unknown>): string {
  return template.replace(FIELD, (all, field: string | undefined, spec: string | undefined) => {
    if (all === '{{') return '{';
    if (all === '}}') return '}';
    if (field === undefined || field === '') throw new InvalidArgumentError('--format: empty field {}');
    return applySpec(lookup(tokens, field), spec);
  });
}

/**
 * Checks a `--format` template against the tokens a command offers, the `{response...}` attributes and the format
 * specs (before any I/O: a usage error, exit 2).
 */
export function checkFormat(template: string, names: readonly string[]): void {
  // a brace left once every field and `{{` / `}}` is taken out has no pair: Python's str.format raises ValueError
  const single = /[{}]/.exec(template.replace(FIELD, ''));
  if (single) throw new InvalidArgumentError(`--format: single '${single[0]}' encountered in format string`);
  for (const m of template.matchAll(FIELD)) {
    if (m[0] === '{{' || m[0] === '}}') continue;
    const head = /^[A-Za-z_]\w*/.exec(m[1] ?? '');
    if (!head) throw new InvalidArgumentError(`--format: bad field ${m[0]}`);
    if (!names.includes(head[0])) {
      throw new InvalidArgumentError(`--format: unknown field {${head[0]}} (fields: ${names.join(', ')})`);
    }
    checkResponsePath(m[1] as string);
    const spec = m[2];
    if (spec !== undefined && spec !== '' && head[0] !== 'timestamp' && !SPEC.test(spec)) {
      throw new InvalidArgumentError(`--format: unsupported format spec ':${spec}' in ${m[0]}`);
    }
  }
}

/**
 * One response as JSON: `{pv_name, data, data_type, data_count, status, ...metadata}` (data plain JS; `status` is
 * the ECA name, the alarm status is `alarm_status`).
 */
export function responseJson(pvName: string, r: ResponseLike, extra: Record<string, unknown> = {}): string {
  const data = Array.from(r.data as ArrayLike<string | number>);
  const { stamp: _stamp, status: alarmStatus, ...metadata } = r.metadata;
  return JSON.stringify(
    {
      pv_name: pvName,
      ...extra,
      data: data.length === 1 ? data[0] : data,
      data_type: dbrName(r.dataType),
      data_count: r.dataCount,
      status: ecaName(r.status),
      ...(alarmStatus === undefined ? {} : { alarm_status: alarmStatus }),
      ...metadata,
    },
    (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v),
  );
}
