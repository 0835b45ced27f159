/**
 * The command line of `orrery tango` (see tango.ts) and the text-to-value rules for a command's argument and an
 * attribute's new value. Every refusal is a one-line InvalidArgumentError for the usage message (exit 2).
 *
 * Values, by Tango type: integers are decimal literals in the type's range (the 64-bit types exact, as bigint),
 * floats any decimal literal the type can hold (too large for it is refused, not written as infinity) or `nan` /
 * `inf` / `-inf`, booleans `true` / `false` / `1` / `0`, a DevState its name (`ON`) or number,
 * a DevString the text as it is. Arrays (DevVar*Array, spectrum attributes): a JSON array (`[1, 2.5]`,
 * `["a", "b c"]`) or the items separated by commas (`1,2,3`; for strings, `a,b`); DevVarLongStringArray and
 * DevVarDoubleStringArray: `[[1, 2], ["a", "b"]]`; image attributes: a JSON array of rows.
 */
import { InvalidArgumentError } from '../errors.js';
import { DEV_STATES } from '../protocols/tango/giop/any.js';
import { parseDuration, parseNumber, refuseCredentials, scanLongOptions } from './options.js';

export const HELP = `usage: orrery tango DEVICE COMMAND [ARG]            run a command (ARG read by the command's input type)
       orrery tango DEVICE ATTRIBUTE [VALUE]        read an attribute, or write VALUE and read it back
       orrery tango DEVICE --watch ATTRIBUTE...     print change events until Ctrl+C / --count / --duration

DEVICE is tango://HOST:PORT/dom/fam/member (through that database), tango://HOST:PORT/dom/fam/member#dbase=no
(a server without a database) or dom/fam/member (the database named by TANGO_HOST); a name with no '/' is a
device alias, resolved by the database (tango://HOST:PORT/my_alias, or my_alias through TANGO_HOST). A name that
is one of the device's commands runs it; otherwise it is an attribute (--command / --attribute say which).
  ARG / VALUE   numbers, true/false, a state name (ON), text as is; arrays as JSON ([1, 2], ["a", "b"]) or
                comma-separated (1,2,3); DevVarLongStringArray / DevVarDoubleStringArray as [[1, 2], ["a", "b"]];
                an image as a JSON array of rows. Use -- before a value that starts with '-' and is no number.
  --json        one JSON object per result: {device, command, value} / {device, attribute, value, wValue,
                quality, type, dataFormat, dimX, dimY, time} (time ISO 8601; 64-bit integers as strings)
  --timeout MS  milliseconds for each request (default 3000; 'inf' for never)
  --watch       subscribe to each ATTRIBUTE's change events; prints 'time device/attribute value quality' per
                event (the first line is the current value), errors as 'time device/attribute ERROR reason: desc'
  --count N     with --watch: stop after N lines (all attributes together);  --duration MS: after MS ms
  --command, --attribute   the name is a command / an attribute (no command list query)
Exit code: 0 ok, 1 DevFailed / timeout / no connection (the message carries the error stack's reason and desc),
2 bad usage (a bad device name, option or value).`;

export interface TangoArgs {
  device: string;
  json: boolean;
  timeout: number;
  /** What the name is, when the user said so. */
  kind?: 'command' | 'attribute';
  /** The command or attribute, and the ARG / VALUE text if any (not --watch). */
  target?: { name: string; value?: string };
  watch?: { attributes: string[]; count?: number; duration?: number };
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** The parsed command line; an InvalidArgumentError (one line) for bad usage. */
export function parseTangoArgs(argv: readonly string[]): TangoArgs {
  let json = false;
  let watch = false;
  let kind: TangoArgs['kind'];
  let timeout = 3000;
  let count: number | undefined;
  let duration: number | undefined;
  const positional = scanLongOptions(argv, ({ name, value, flag }) => {
    if (name === '--json') json = flag();
    else if (name === '--watch') watch = flag();
    else if (name === '--command' || name === '--attribute') {
      flag();
      const k = name === '--command' ? 'command' : 'attribute';
      if (kind !== undefined && kind !== k)
        throw new InvalidArgumentError('--command and --attribute exclude each other');
      kind = k;
    } else if (name === '--timeout') {
      timeout = parseDuration('--timeout', value(), { unitMs: 1, unit: 'milliseconds', infinity: true });
    } else if (name === '--duration') {
      duration = parseDuration('--duration', value(), { unitMs: 1, unit: 'milliseconds' });
    } else if (name === '--count') {
      count = parseNumber('--count', value(), { what: 'a whole number of events', integer: true, min: 1 });
    } else throw new InvalidArgumentError(`unknown option ${name}`);
  });
  const [device, ...rest] = positional;
  if (device === undefined || device === '') throw new InvalidArgumentError('expected a DEVICE name');
  refuseCredentials('DEVICE', device);
  for (const n of watch ? rest : rest.slice(0, 1)) {
    if (!NAME.test(n))
      throw new InvalidArgumentError(`${JSON.stringify(n)} is not a Tango command or attribute name`);
  }
  if (watch) {
    if (rest.length === 0) throw new InvalidArgumentError('--watch needs at least one ATTRIBUTE');
    if (kind === 'command') throw new InvalidArgumentError('--watch takes attributes, not a command');
    return { device, json, timeout, watch: { attributes: rest, count, duration } };
  }
  if (count !== undefined || duration !== undefined)
    throw new InvalidArgumentError(`${count !== undefined ? '--count' : '--duration'} goes with --watch`);
  if (rest.length === 0) throw new InvalidArgumentError('expected a COMMAND or ATTRIBUTE after DEVICE');
  if (rest.length > 2)
    throw new InvalidArgumentError(
      `expected one ARG / VALUE, got ${rest.length - 1} (quote a value with spaces, or write an array as [1, 2])`,
    );
  return { device, json, timeout, kind, target: { name: rest[0], value: rest[1] } };
}

// ------------------------------------------------------------------------------------------- values

const INTEGER = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** The values of Tango's integer types (DevEnum goes as a short). */
const INTEGER_RANGE: Record<string, readonly [number, number]> = {
  DevUChar: [0, 255],
  DevShort: [-32768, 32767],
  DevEnum: [-32768, 32767],
  DevUShort: [0, 65535],
  DevLong: [-2147483648, 2147483647],
  DevULong: [0, 4294967295],
};
const INTEGER64_RANGE: Record<string, readonly [bigint, bigint]> = {
  DevLong64: [-(2n ** 63n), 2n ** 63n - 1n],
  DevULong64: [0n, 2n ** 64n - 1n],
};

function refuse(text: string, what: string): never {
  throw new InvalidArgumentError(`${JSON.stringify(text)} is not ${what}`);
}

/** The scalar of a Tango element type (`DevLong`, `DevDouble`, `DevBoolean`, ...) written as `text`. */
export function parseScalar(type: string, text: string): unknown {
  const t = text.trim();
  switch (type) {
    case 'DevBoolean': {
      const l = t.toLowerCase();
      if (l === 'true' || l === '1') return true;
      if (l === 'false' || l === '0') return false;
      return refuse(text, 'a boolean (true, false, 1, 0)');
    }
    case 'DevLong64':
    case 'DevULong64': {
      if (!INTEGER.test(t)) refuse(text, `an integer (${type})`);
      const [min, max] = INTEGER64_RANGE[type] as readonly [bigint, bigint];
      const n = BigInt(t);
      if (n < min || n > max) refuse(text, `in range for ${type} (${min} to ${max})`);
      return n;
    }
    case 'DevUChar':
    case 'DevShort':
    case 'DevLong':
    case 'DevUShort':
    case 'DevULong':
    case 'DevEnum': {
      // out of range, the codec writes an octet modulo 256 (300 as 44) and refuses the others with a
      // GiopEncodeError (exit 1, not bad usage): refuse it here
      if (!INTEGER.test(t)) refuse(text, `an integer (${type})`);
      const [min, max] = INTEGER_RANGE[type] as readonly [number, number];
      const n = Number(t);
      if (n < min || n > max) refuse(text, `in range for ${type} (${min} to ${max})`);
      return n;
    }
    case 'DevFloat':
    case 'DevDouble': {
      const l = t.toLowerCase();
      if (l === 'nan') return Number.NaN;
      if (/^\+?inf(inity)?$/.test(l)) return Number.POSITIVE_INFINITY;
      if (/^-inf(inity)?$/.test(l)) return Number.NEGATIVE_INFINITY;
      if (!FLOAT.test(t)) refuse(text, `a number (${type})`);
      // a finite number too large for the type would be written as inf: only 'inf' says that
      const n = Number(t);
      if (!Number.isFinite(type === 'DevFloat' ? Math.fround(n) : n))
        refuse(text, `in range for ${type} (write inf or -inf for infinity)`);
      return n;
    }
    case 'DevState': {
      // a state no device has was refused by the codec (TangoTypeError, exit 1): bad usage here
      const states: readonly string[] = DEV_STATES;
      if (INTEGER.test(t) && Number(t) >= 0 && Number(t) < states.length) return Number(t);
      if (states.includes(t.toUpperCase())) return t.toUpperCase();
      return refuse(text, `a DevState (${states.join(', ')} or 0 to ${states.length - 1})`);
    }
    case 'DevString':
      return text;
    default:
      return refuse(text, `a value the command line can write (${type})`);
  }
}

/** The element type of an array type: `DevVarLongArray` -> `DevLong`, `DevVarCharArray` -> `DevUChar`. */
export function elementType(arrayType: string): string | undefined {
  const m = /^DevVar(\w+)Array$/.exec(arrayType);
  if (!m) return undefined;
  return m[1] === 'Char' ? 'DevUChar' : `Dev${m[1]}`;
}

/**
 * The items of a JSON array, or undefined when `text` is no array. With `exact`, numbers are kept as their text
 * (`\u0000` + digits) so 64-bit integers are not rounded by JSON.parse (only for arrays holding no strings).
 */
function jsonItems(text: string, exact = false): unknown[] | undefined {
  const t = text.trim();
  if (!t.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(exact ? t.replace(/(?<=[[,\s])([+-]?\d[\d.eE+-]*)(?=\s*[,\]])/g, '"\\u0000$1"') : t);
  } catch {
    return refuse(text, 'a JSON array');
  }
  if (!Array.isArray(parsed)) return refuse(text, 'a JSON array');
  return parsed;
}

function itemText(item: unknown, text: string): string {
  if (typeof item === 'string') return item.startsWith('\u0000') ? item.slice(1) : item;
  if (typeof item === 'boolean' || typeof item === 'number') return String(item);
  return refuse(text, 'an array of scalars');
}

const isText = (i: unknown): i is string => typeof i === 'string';

/** A list of `element` values written as a JSON array or comma-separated items. */
export function parseList(element: string, text: string): unknown[] {
  const items = jsonItems(text, element !== 'DevString');
  if (items !== undefined) {
    if (element === 'DevString')
      return items.map((i) => (isText(i) ? i : refuse(text, 'an array of strings')));
    return items.map((i) => parseScalar(element, itemText(i, text)));
  }
  if (text.trim() === '') return [];
  return text.split(',').map((part) => (element === 'DevString' ? part : parseScalar(element, part)));
}

/** A command argument of Tango type `type` written as `text` (undefined text: DevVoid). */
export function parseCommandArg(type: string, text: string | undefined): unknown {
  if (type === 'DevVoid') {
    if (text !== undefined) throw new InvalidArgumentError('this command takes no argument (DevVoid)');
    return undefined;
  }
  if (text === undefined) throw new InvalidArgumentError(`this command needs an argument (${type})`);
  if (type === 'DevVarLongStringArray' || type === 'DevVarDoubleStringArray') {
    const items = jsonItems(text);
    if (items === undefined || items.length !== 2 || !items.every(Array.isArray))
      refuse(text, `${type}: [[numbers], ["strings"]]`);
    const [nums, strs] = items as unknown[][];
    const n = type === 'DevVarLongStringArray' ? 'DevLong' : 'DevDouble';
    return [
      nums.map((i) => parseScalar(n, itemText(i, text))),
      strs.map((s) => (isText(s) ? s : refuse(text, `${type}: strings`))),
    ];
  }
  if (type === 'DevEncoded')
    throw new InvalidArgumentError('DevEncoded arguments are not offered on the command line');
  const element = elementType(type);
  if (element !== undefined) return parseList(element, text);
  if (type === 'Unknown') return guessLiteral(text);
  return parseScalar(type, text);
}

/** An argument of a command whose type the device does not say: a number, a JSON array, else the text. */
function guessLiteral(text: string): unknown {
  const t = text.trim();
  if (FLOAT.test(t)) return Number(t);
  if (t.startsWith('[')) {
    try {
      return JSON.parse(t);
    } catch {
      return text;
    }
  }
  return text;
}

/** An attribute's new value: `type` its Tango type, `format` 0 scalar, 1 spectrum, 2 image. */
export function parseAttributeValue(type: string, format: number, text: string): unknown {
  if (format === 0) return parseScalar(type, text);
  if (format === 1) return parseList(type, text);
  const rows = jsonItems(text, type !== 'DevString');
  if (rows === undefined || !rows.every(Array.isArray)) return refuse(text, 'an image: a JSON array of rows');
  return (rows as unknown[][]).map((row) =>
    row.map((i) =>
      type === 'DevString'
        ? isText(i)
          ? i
          : refuse(text, 'an image of strings')
        : parseScalar(type, itemText(i, text)),
    ),
  );
}
