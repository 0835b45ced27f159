/**
 * How the device server turns handler values into wire lines, on its hot path. `formatLine` writes a reply or
 * inform whose arguments are text, numbers, booleans or bigints as one string and one `Buffer.from` (no Buffer per
 * argument, no validation of a name the server already parsed or declared); byte arguments go through the
 * codec's `formatMessage`. The bytes are exactly what `formatMessage({ ..., args: args.map(toBuffer) })` writes.
 */

import { InvalidArgumentError } from '../../errors.js';
import { type ArgValue, formatMessage } from './codec.js';
import { formatPythonFloat } from './sampling.js';
import type { Reading, Sensor } from './sensor.js';
import { formatSensorValue, type SensorValue } from './wire.js';

/** One argument as bytes, as the server writes it: non-integer numbers as Python floats, booleans `1`/`0`. */
export function toBuffer(value: ArgValue): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'number')
    return Buffer.from(Number.isInteger(value) ? String(value) : formatPythonFloat(value));
  if (typeof value === 'boolean') return Buffer.from(value ? '1' : '0');
  if (typeof value === 'bigint') return Buffer.from(value.toString());
  throw new InvalidArgumentError(`cannot send a ${typeof value} as a KATCP argument`);
}

/** A handler's return value as reply arguments (a single value is one argument, as aiokatcp). */
export function replyArgs(value: unknown): readonly ArgValue[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value as ArgValue];
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL, ESC, TAB, LF and CR are bytes KATCP escapes
const NEEDS_ESCAPE = /[\\ \0\n\r\x1b\t]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the same bytes, to replace
const ESCAPES = /[\\ \0\n\r\x1b\t]/g;
const ESCAPED: Record<string, string> = {
  '\\': '\\\\',
  ' ': '\\_',
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\x1b': '\\e',
  '\t': '\\t',
};
const escapeChar = (c: string): string => ESCAPED[c];

/** An argument as escaped wire text, or null when it is bytes (or not an argument at all). */
function argText(value: ArgValue): string | null {
  let t: string;
  if (typeof value === 'string') t = value;
  else if (typeof value === 'number') t = Number.isInteger(value) ? String(value) : formatPythonFloat(value);
  else if (typeof value === 'boolean') t = value ? '1' : '0';
  else if (typeof value === 'bigint') t = value.toString();
  else return null;
  if (t.length === 0) return '\\@';
  return NEEDS_ESCAPE.test(t) ? t.replace(ESCAPES, escapeChar) : t;
}

/**
 * `!name[mid] args...` or `#name[mid] args...`, LF-terminated. `name` must be a valid name (the server's own or a
 * parsed request's: not checked here). Throws InvalidArgumentError for an argument that is not an ArgValue.
 */
export function formatLine(
  type: 'reply' | 'inform',
  name: string,
  mid: number | null,
  args: readonly ArgValue[],
): Buffer {
  let line = (type === 'reply' ? '!' : '#') + name;
  if (mid !== null) line += `[${mid}]`;
  for (let i = 0; i < args.length; i++) {
    const t = argText(args[i]);
    if (t === null) return formatMessage({ type, name, mid, args: args.map(toBuffer) });
    line += ` ${t}`;
  }
  return Buffer.from(`${line}\n`, 'utf8');
}

/** A sensor value as aiokatcp writes it (floats with Python's repr, `1.0`). */
export function sensorValueText(sensor: Sensor, value: SensorValue): string {
  if ((sensor.type === 'float' || sensor.type === 'timestamp') && typeof value === 'number') {
    return formatPythonFloat(value);
  }
  return formatSensorValue(value);
}

/** `#sensor-status <timestamp> 1 <name> <status> <value>` for one reading. */
export function sensorStatusLine(sensor: Sensor, reading: Reading): Buffer {
  return formatLine('inform', 'sensor-status', null, [
    formatPythonFloat(reading.timestamp),
    '1',
    sensor.name,
    reading.status,
    sensorValueText(sensor, reading.value),
  ]);
}
