/**
 * The command line of `orrery ca get|put|monitor` (see ca.ts): caproto-get/put/monitor's flags as they spell them
 * (`-e5`, `-d time`, `-m va`, `--maximum=3`, a negative number as DATA), each refusal a one-line
 * InvalidArgumentError for the usage message (exit 2), and the help texts.
 */
import { InvalidArgumentError } from '../errors.js';
import { checkPvName } from '../protocols/ca/commands.js';
import {
  ChannelType,
  dbrName,
  familyOf,
  MAX_PV_NAME_SIZE,
  SubscriptionType,
} from '../protocols/ca/constants.js';
import { readType } from '../protocols/ca/pvTypes.js';
import type { DataTypeSpec } from '../protocols/ca/sync.js';
import { checkFormat, type DataFormat } from './caFormat.js';
import { onlyOnce, parseDuration, parseNumber } from './options.js';

export type Sub = 'get' | 'put' | 'monitor';

const COMMON = `  --timeout MS     milliseconds to find, connect and get each answer (default 2000; 'inf' for never)
  -p, --priority N circuit priority 0 (lowest, default) .. 99
  -n               ENUM values as their index (default: the state string)
  --json           one JSON object per response: {pv_name, data, data_type, data_count, status (ECA),
                   alarm_status, severity, timestamp, units, ... as the type carries them}
  -v               log the client's steps to stderr (-vv for more)`;
const DATA_FORMAT = `  -d, --d_type T   request type: a DBR id (20), a name (TIME_DOUBLE, dbr_enum) or a class (native, status,
                   time, graphic, control); --list-types lists them
  -# COUNT         request (print) the first COUNT elements
  -S               print a CHAR array as a string
  -e N, -f N, -g N floats as %e / %f / %g with N digits (default %g); -lx -lo -lb: rounded, hex/octal/binary
  -0x -0o -0b      integers in hex / octal / binary
  -F SEP           SEP between the fields of a line and the elements of an array`;

export const HELP: Record<Sub, string> = {
  get: `usage: orrery ca get PV [PV...] [options]

Reads each PV once (caproto-get) and prints '{pv_name: <40}  {response.data}'.
  --format F       Python format string: {pv_name} {response.data} {response.data[0]} {response.status.name}
                   {response.data_type} {response.metadata.units} {timestamp} {timestamp:%Y-%m-%d %H:%M:%S.%f}
  -t, --terse      the data only (a scalar without brackets)
  -a, -l, --wide   'name timestamp value status' (reads the TIME type; not with -d)
${DATA_FORMAT}
${COMMON}
Exit code: 0 ok, 1 a PV not found / not answering / refused, 2 bad usage.`,
  put: `usage: orrery ca put PV DATA [options]

Writes DATA (caproto-put: 5, 1.5, 'text', [1, 2] or a bare word as a string) between two reads, and prints
'Old : {pv_name: <40}  {response.data}' and 'New : ...'. A string to an ENUM PV writes the state by name.
  -c, --notify     put with completion: wait for the server to report the write done (then New shows it)
  -a, --array      DATA is space-separated elements
  -S               DATA is a string (no parsing)
  --format F       as get, plus {which} (Old/New); not with -t or --wide
  -t, --terse      the data only;  -l, --wide  'name timestamp value status'
${COMMON}
Exit code: 0 ok, 1 a PV not found / not answering / write refused or failed, 2 bad usage.`,
  monitor: `usage: orrery ca monitor PV [PV...] [options]

Subscribes to each PV (caproto-monitor) and prints every update as
'{pv_name: <40}  {timestamp:%Y-%m-%d %H:%M:%S.%f} {response.data}' until Ctrl+C.
  -m MASK          any of v (value), a (alarm), l (log/archive), p (property); default va
  --duration MS    stop after MS milliseconds;  --count N (or --maximum N): stop after N updates
  --format F       as get, plus {callback_count} and {timedelta} (since the previous update)
${DATA_FORMAT.split('\n').slice(2).join('\n')}
${COMMON}
Exit code: 0 ended by Ctrl+C / --duration / --count, 1 a PV not found or a failure, 2 bad usage.`,
};

export const USAGE = `usage: orrery ca get PV... | put PV DATA | monitor PV... [options]   (orrery ca <get|put|monitor> --help)`;

export interface CaArgs {
  sub: Sub;
  pvs: string[];
  data?: unknown;
  format?: string;
  terse: boolean;
  wide: boolean;
  json: boolean;
  verbose: number;
  timeout: number;
  priority: number;
  forceIntEnums: boolean;
  dataType?: DataTypeSpec;
  dataCount?: number;
  notify: boolean;
  mask: number;
  duration?: number;
  count?: number;
  fmt: DataFormat;
  listTypes: boolean;
}

const CLASSES = ['native', 'status', 'time', 'graphic', 'control'];

function parseDataType(raw: string | undefined): DataTypeSpec {
  if (raw === undefined) throw new InvalidArgumentError('-d needs a data type');
  if (CLASSES.includes(raw.toLowerCase())) return raw.toLowerCase();
  try {
    readType(raw, ChannelType.DOUBLE);
  } catch {
    throw new InvalidArgumentError(`-d: unknown data type ${JSON.stringify(raw)}; see --list-types`);
  }
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}

/** Python's digits, `_` allowed between two of them (`1_000`). */
const DIGITS = String.raw`\d(?:_?\d)*`;
/** Python's int and float literals (with a sign, as literal_eval takes `-5`). */
const PY_DECIMAL = new RegExp(
  String.raw`^[+-]?(?:${DIGITS}(?:\.(?:${DIGITS})?)?|\.${DIGITS})(?:e[+-]?${DIGITS})?$`,
  'i',
);
const PY_RADIX = /^([+-]?)0(?:x((?:_?[0-9a-f])+)|o((?:_?[0-7])+)|b((?:_?[01])+))$/i;

/**
 * A Python list or tuple of numbers JSON does not read (`(1, 2)`, `[1, 2,]`, `[0x10, True]`), as literal_eval reads
 * it; `(5)` is the value 5. Undefined when an item is no number (the caller keeps the text).
 */
function sequence(t: string): unknown {
  const inner = t.slice(1, -1);
  if (/[[\](){}'"]/.test(inner)) return undefined;
  if (inner.trim() === '') return [];
  const parts = inner.split(',').map((p) => p.trim());
  const tuple = t.startsWith('(');
  if (tuple && parts.length === 1)
    return typeof literal(parts[0]) === 'number' ? literal(parts[0]) : undefined;
  if (parts.length > 1 && parts.at(-1) === '') parts.pop(); // a trailing comma
  const items = parts.map((p) => (p === '' ? undefined : literal(p)));
  return items.every((i) => typeof i === 'number') ? items : undefined;
}

/** caproto-put's `ast.literal_eval(data)`, falling back to the text itself. */
export function literal(raw: string): unknown {
  const t = raw.trim();
  if (PY_DECIMAL.test(t)) return Number(t.replace(/_/g, ''));
  // 0x10, -0o17, 0b101 (Number() takes none of them signed, nor with '_')
  const radix = PY_RADIX.exec(t);
  if (radix) {
    const [, sign, hex, oct] = radix;
    const digits = (radix[2] ?? radix[3] ?? radix[4] ?? '').replace(/_/g, '');
    const n = Number.parseInt(digits, hex !== undefined ? 16 : oct !== undefined ? 8 : 2);
    return sign === '-' ? -n || 0 : n; // no -0
  }
  if (/^'.*'$/s.test(t)) return t.slice(1, -1);
  if (/^".*"$/s.test(t) || /^\[.*\]$/s.test(t)) {
    try {
      return JSON.parse(t.startsWith('[') ? t.replace(/'/g, '"') : t);
    } catch {
      return sequence(t) ?? raw;
    }
  }
  if (/^\(.*\)$/s.test(t)) return sequence(t) ?? raw;
  if (t === 'True') return 1;
  if (t === 'False') return 0;
  return raw;
}

function maskOf(raw: string | undefined): number {
  if (raw === undefined || raw === '' || /[^valp]/.test(raw)) {
    throw new InvalidArgumentError(`-m expects letters from v, a, l, p, got ${JSON.stringify(raw ?? '')}`);
  }
  let mask = 0;
  if (raw.includes('v')) mask |= SubscriptionType.DBE_VALUE;
  if (raw.includes('a')) mask |= SubscriptionType.DBE_ALARM;
  if (raw.includes('l')) mask |= SubscriptionType.DBE_LOG;
  if (raw.includes('p')) mask |= SubscriptionType.DBE_PROPERTY;
  return mask;
}

const WITH_VALUE = new Set(['-d', '-p', '-e', '-f', '-g', '-F', '-#', '-m']);

/** The verbosity flags: they add up (`-v -v`, `-vv`), so they are the ones that may repeat. */
const REPEATABLE = new Set(['-v', '--verbose', '-vv', '-vvv']);

/** The option an alias stands for (`-p` is `--priority`); `-a` is `--array` for put and `--wide` otherwise. */
function optionKey(arg: string, sub: Sub): string {
  switch (arg) {
    case '-p':
      return '--priority';
    case '-t':
      return '--terse';
    case '-l':
      return '--wide';
    case '-a':
      return sub === 'put' ? '--array' : '--wide';
    case '-c':
      return '--notify';
    case '-d':
      return '--d_type';
    case '--maximum':
      return '--count';
    default:
      return arg;
  }
}

/** The parsed command line; an InvalidArgumentError (one line) for bad usage. */
export function parseCaArgs(argv: string[]): CaArgs {
  const [sub, ...rest] = argv;
  if (sub !== 'get' && sub !== 'put' && sub !== 'monitor') {
    throw new InvalidArgumentError(
      sub === undefined
        ? 'expected get, put or monitor'
        : `unknown subcommand ${JSON.stringify(sub)} (get, put, monitor)`,
    );
  }
  const a: CaArgs = {
    sub,
    pvs: [],
    terse: false,
    wide: false,
    json: false,
    verbose: 0,
    timeout: 2000,
    priority: 0,
    forceIntEnums: false,
    notify: false,
    mask: SubscriptionType.DBE_VALUE | SubscriptionType.DBE_ALARM,
    fmt: {},
    listTypes: false,
  };
  const positional: string[] = [];
  let asArray = false;
  let asString = false;
  // how the user spelled the options that cannot go together, for the message
  let wideAs = '--wide';
  let terseAs = '-t';
  let dataTypeAs = '-d';
  const only = (name: string, ...subs: Sub[]) => {
    if (!subs.includes(sub)) throw new InvalidArgumentError(`${name} is not an option of 'ca ${sub}'`);
  };
  // an option given twice is refused (the last one would silently win), its aliases counted as the option
  const once = onlyOnce();
  for (let i = 0; i < rest.length; i++) {
    let arg = rest[i];
    if (arg === '--') {
      positional.push(...rest.slice(i + 1));
      break;
    }
    if (
      !arg.startsWith('-') ||
      arg === '-' ||
      (/^-(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(arg) && !/^-0[xob]$/.test(arg))
    ) {
      positional.push(arg);
      continue;
    }
    let inline: string | undefined;
    if (arg.startsWith('--') && arg.includes('=')) {
      inline = arg.slice(arg.indexOf('=') + 1);
      arg = arg.slice(0, arg.indexOf('='));
    } else if (!arg.startsWith('--') && arg.length > 2 && WITH_VALUE.has(arg.slice(0, 2))) {
      inline = arg.slice(2);
      arg = arg.slice(0, 2);
    }
    if (!REPEATABLE.has(arg)) once(optionKey(arg, sub), arg);
    const value = () => (inline !== undefined ? inline : rest[++i]);
    const flag = () => {
      if (inline !== undefined) throw new InvalidArgumentError(`${arg} takes no value`);
    };
    const digits = (name: string) =>
      parseNumber(name, value(), { what: 'a number of digits', integer: true, min: 0, max: 100 });
    switch (arg) {
      case '--json':
        flag();
        a.json = true;
        break;
      case '-v':
      case '--verbose':
        flag();
        a.verbose++;
        break;
      case '-vv':
      case '-vvv':
        flag();
        a.verbose += arg.length - 1;
        break;
      case '--timeout':
        a.timeout = parseDuration('--timeout', value(), { unitMs: 1, unit: 'milliseconds', infinity: true });
        break;
      case '-p':
      case '--priority':
        a.priority = parseNumber(arg, value(), { what: 'a priority 0-99', integer: true, min: 0, max: 99 });
        break;
      case '-n':
        flag();
        a.forceIntEnums = true;
        break;
      case '--format':
        a.format = value();
        if (a.format === undefined) throw new InvalidArgumentError('--format needs a value');
        break;
      case '-t':
      case '--terse':
        flag();
        terseAs = arg;
        a.terse = true;
        break;
      case '-l':
      case '--wide':
        flag();
        only(arg, 'get', 'put');
        wideAs = arg;
        a.wide = true;
        break;
      case '-a':
        flag();
        if (sub === 'put') asArray = true;
        else {
          only(arg, 'get');
          wideAs = arg;
          a.wide = true;
        }
        break;
      case '--array':
        flag();
        only(arg, 'put');
        asArray = true;
        break;
      case '-c':
      case '--notify':
        flag();
        only(arg, 'put', 'get');
        a.notify = true;
        break;
      case '-S':
        flag();
        if (sub === 'put') asString = true;
        else a.fmt.charAsString = true;
        break;
      case '-d':
      case '--d_type':
        only(arg, 'get', 'monitor');
        dataTypeAs = arg;
        a.dataType = parseDataType(value());
        break;
      case '--list-types':
        flag();
        a.listTypes = true;
        break;
      case '-#':
        only(arg, 'get', 'monitor');
        // a count is a u32 of the request header: beyond it the client refuses the read (exit 1, after I/O)
        a.dataCount = parseNumber('-#', value(), {
          what: 'an element count',
          integer: true,
          min: 0,
          max: 0xffffffff,
        });
        break;
      case '-e':
      case '-f':
      case '-g':
        a.fmt.float = { kind: arg[1] as 'e' | 'f' | 'g', digits: digits(arg) };
        break;
      case '-lx':
      case '-lo':
      case '-lb':
        flag();
        a.fmt.float = { kind: arg.slice(1) as 'lx' | 'lo' | 'lb' };
        break;
      case '-0x':
      case '-0o':
      case '-0b':
        flag();
        a.fmt.int = arg.slice(1) as '0x' | '0o' | '0b';
        break;
      case '-F':
        a.fmt.separator = value();
        if (a.fmt.separator === undefined) throw new InvalidArgumentError('-F needs a separator');
        break;
      case '-m':
        only(arg, 'monitor');
        a.mask = maskOf(value());
        break;
      case '--duration':
        only(arg, 'monitor');
        a.duration = parseDuration('--duration', value(), {
          unitMs: 1,
          unit: 'milliseconds',
          infinity: true,
        });
        break;
      case '--count':
      case '--maximum':
        only(arg, 'monitor');
        a.count = parseNumber(arg, value(), { what: 'a number of updates', integer: true, min: 1 });
        break;
      default:
        throw new InvalidArgumentError(`unknown option ${arg}`);
    }
  }
  if (a.listTypes) return a;
  if (a.terse && a.wide) throw new InvalidArgumentError(`${terseAs} and ${wideAs} go one at a time`);
  // caproto's mutually exclusive groups: --wide reads the TIME type, so a -d with it was dropped without a word;
  // put prints --format, -t or --wide (get's --format wins over the other two, as caproto-get's does)
  if (a.wide && a.dataType !== undefined) {
    throw new InvalidArgumentError(
      `${dataTypeAs} and ${wideAs} go one at a time (${wideAs} reads the TIME type)`,
    );
  }
  if (sub === 'put' && a.format !== undefined && (a.terse || a.wide)) {
    throw new InvalidArgumentError(`--format and ${a.terse ? terseAs : wideAs} go one at a time`);
  }
  if (sub === 'put') {
    if (positional.length !== 2)
      throw new InvalidArgumentError('expected PV DATA (quote DATA with spaces, or use -a)');
    a.pvs = [positional[0]];
    const raw = positional[1];
    a.data = asString
      ? raw
      : asArray
        ? raw
            .split(' ')
            .filter((s) => s !== '')
            .map(literal)
        : literal(raw);
    // a WRITE of no elements is refused by the server (ECA_BADCOUNT; libca's ca_array_put refuses it too), which
    // a put without -c never hears of: Old/New printed the unchanged value, exit 0
    if (Array.isArray(a.data) && a.data.length === 0)
      throw new InvalidArgumentError('DATA has no elements to write');
  } else {
    if (positional.length === 0) throw new InvalidArgumentError('expected at least one PV name');
    a.pvs = positional;
  }
  if (a.pvs.some((p) => p === '')) throw new InvalidArgumentError('a PV name cannot be empty');
  // a name no SEARCH can carry is bad usage too, found here before any I/O (the client would refuse it only once
  // the Context is up, exit 1); the length first, so a huge name is not echoed back in the message
  for (const pv of a.pvs) {
    if (pv.length > MAX_PV_NAME_SIZE) {
      throw new InvalidArgumentError(
        `a PV name has at most ${MAX_PV_NAME_SIZE} characters, got one of ${pv.length}`,
      );
    }
    checkPvName(pv);
  }
  // a monitor's line (the default one prints it) with {timestamp} or {timedelta} on a type that has no time stamp
  // failed at every update ('unknown field {timestamp}', exit 1): caproto-monitor has no -d, always reads TIME
  if (sub === 'monitor' && !a.json && a.dataType !== undefined) {
    const type = readType(a.dataType, ChannelType.DOUBLE);
    const fields = (a.format ?? '{timestamp}').replace(/\{\{|\}\}/g, '');
    if (familyOf(type) !== 'time' && /\{(timestamp|timedelta)(?!\w)/.test(fields)) {
      throw new InvalidArgumentError(
        `-d ${String(a.dataType)} carries no timestamp, which the line prints; use a TIME type (-d time), --format without {timestamp} and {timedelta}, or --json`,
      );
    }
  }
  if (a.format !== undefined && !a.json) {
    const names = ['pv_name', 'response', 'response_data', 'timestamp'];
    if (sub === 'put') names.push('which');
    if (sub === 'monitor') names.push('callback_count', 'timedelta');
    checkFormat(a.format, names);
  }
  return a;
}

export function listTypes(): string {
  const lines = [
    'Request a general class of types:',
    '',
    ...CLASSES,
    '',
    'or one of the following specific types, specified by number or by (case-insensitive) name:',
    '',
  ];
  // 0..34, what -d takes (readType); caproto also lists PUT_ACKT .. CLASS_NAME (35..38), which -d refuses here
  for (let id = 0; id <= 34; id++) lines.push(`${String(id).padEnd(2)} ${dbrName(id).replace(/^DBR_/, '')}`);
  lines.push('', "Type name may be preceded by 'DBR_' (ex. DBR_STRING is equivalent to STRING)");
  return lines.join('\n');
}
