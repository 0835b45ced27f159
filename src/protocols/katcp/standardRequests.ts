/**
 * The device server's standard requests, replying as aiokatcp 1.9 does: `?help [name]`, `?halt`, `?watchdog`,
 * `?version-list`, `?client-list`, `?log-level [level]`, `?sensor-list [name|/regex/]`,
 * `?sensor-value [name|/regex/]`, `?sensor-sampling name[,name...] [strategy [params]]` (the bulk form is atomic)
 * and `?request-timeout-hint [name]` (a `/regex/` that could backtrack for too long is refused with `fail`: the
 * server cannot interrupt it). They are ordinary request handlers over what the server lends them
 * (`StandardRequestHost`), declared by `DeviceServer` before any of the user's.
 */
import type { Clock } from '../../engine/clock.js';
import { FailReply, KatcpDecodeError } from './errors.js';
import {
  createSampler,
  formatPythonFloat,
  formatSamplingParameters,
  parseSamplingRequest,
} from './sampling.js';
import type { Sensor } from './sensor.js';
import type { ClientConnection, RequestEntry, RequestHandler } from './serverConnection.js';
import { sensorStatusLine, sensorValueText } from './serverFormat.js';

/** KATCP log levels, most to least severe (`?log-level`). */
export const KATCP_LOG_LEVELS = ['off', 'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'all'] as const;
export type KatcpLogLevel = (typeof KATCP_LOG_LEVELS)[number];

/** What the standard requests read and change in their server (internal). */
export interface StandardRequestHost {
  readonly clock: Clock;
  /** Every declared request, standard ones included. */
  readonly requests: ReadonlyMap<string, RequestEntry>;
  readonly sensors: ReadonlyMap<string, Sensor>;
  /** The connected clients, in connection order. */
  clients(): Iterable<ClientConnection>;
  clientOf(id: number): ClientConnection | undefined;
  /** `#version-connect` / `#version-list` rows. */
  versionInfo(): string[][];
  logLevel: KatcpLogLevel;
  /** `?halt`: called once the reply is on its way. */
  halt(): void;
}

const STANDARD_HELP: Record<string, string> = {
  'client-list': 'Request the list of connected clients.',
  halt: 'Halt the device server.',
  help: 'Return help on the available requests.',
  'log-level': 'Query or set the current logging level.',
  'request-timeout-hint':
    'Return the suggested timeout (seconds) of a request, or of every request that has one.',
  'sensor-list': 'Request the list of sensors.',
  'sensor-sampling': 'Configure or query the way a sensor is sampled.',
  'sensor-value': 'Request the value of a sensor or sensors.',
  'version-list': 'Request the list of versions of roles and subcomponents.',
  watchdog: 'Check that the server is still alive.',
};

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Longest `/regex/` a client may give `?sensor-list` / `?sensor-value` (without the slashes). */
export const MAX_SENSOR_PATTERN_LENGTH = 256;
/** Most quantifiers in such a regex: each one can multiply the backtracking by a sensor name's length. */
export const MAX_SENSOR_PATTERN_QUANTIFIERS = 2;

/**
 * Why a client's regex could backtrack for too long (null: it is safe to run). JavaScript regexes cannot be
 * interrupted, so one like `/^([a-z-]+)+X$/` against a 34-character name would freeze the server: refused are
 * backreferences, a repeated group holding a quantifier or an alternation (star height > 1, as safe-regex),
 * a lookaround holding a quantifier, more than MAX_SENSOR_PATTERN_QUANTIFIERS quantifiers and patterns longer
 * than MAX_SENSOR_PATTERN_LENGTH. A syntax error is left to `new RegExp`.
 */
export function unsafePatternReason(src: string): string | null {
  if (src.length > MAX_SENSOR_PATTERN_LENGTH)
    return `regex longer than ${MAX_SENSOR_PATTERN_LENGTH} characters`;
  interface Group {
    lookaround: boolean;
    /** A quantifier somewhere inside. */
    repeats: boolean;
    /** A `|` somewhere inside. */
    alternates: boolean;
  }
  const root: Group = { lookaround: false, repeats: false, alternates: false };
  const stack: Group[] = [root];
  let quantifiers = 0;
  /** What a quantifier here would apply to: nothing, a single atom, or the group just closed. */
  let last: Group | 'atom' | null = null;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    const top = stack[stack.length - 1];
    if (c === '\\') {
      const next = src[i + 1] ?? '';
      if (/[1-9k]/.test(next)) return 'backreferences are not allowed';
      i++;
      last = 'atom';
    } else if (c === '[') {
      let j = i + 1;
      if (src[j] === '^') j++;
      while (j < src.length && src[j] !== ']') j += src[j] === '\\' ? 2 : 1;
      i = j;
      last = 'atom';
    } else if (c === '(') {
      const head = /^\(\?(?:<[=!]|[=!:]|<[^>]*>)?/.exec(src.slice(i, i + 64))?.[0] ?? '(';
      const lookaround = /^\(\?<?[=!]/.test(head);
      stack.push({ lookaround, repeats: false, alternates: false });
      i += head.length - 1;
      last = null;
    } else if (c === ')') {
      if (stack.length === 1) continue; // unbalanced: new RegExp refuses it
      const group = stack.pop() as Group;
      if (group.lookaround && group.repeats) return 'a quantifier inside a lookaround is not allowed';
      const parent = stack[stack.length - 1];
      parent.repeats ||= group.repeats;
      parent.alternates ||= group.alternates;
      last = group;
    } else if (c === '|') {
      top.alternates = true;
      last = null;
    } else if (c === '*' || c === '+' || c === '?' || c === '{') {
      const braces = c === '{' ? /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i)) : null;
      if (c === '{' && !braces) {
        last = 'atom'; // a literal brace
        continue;
      }
      if (last === null) continue; // nothing to repeat: new RegExp refuses it
      if (++quantifiers > MAX_SENSOR_PATTERN_QUANTIFIERS)
        return `more than ${MAX_SENSOR_PATTERN_QUANTIFIERS} quantifiers`;
      const max = braces
        ? braces[2] === undefined
          ? Number(braces[1])
          : Number(braces[3] || Infinity)
        : c === '?'
          ? 1
          : Infinity;
      if (last !== 'atom' && max > 1 && (last.repeats || last.alternates))
        return 'a repeated group holding a quantifier or an alternation (nested quantifiers) is not allowed';
      top.repeats = true;
      if (braces) i += braces[0].length - 1;
      if (src[i + 1] === '?') i++; // lazy
      last = null;
    } else last = 'atom';
  }
  return null;
}

/** The sensors `?sensor-list` / `?sensor-value` name: all, one, or `/regex/`; sorted by name. */
function matchSensors(sensors: ReadonlyMap<string, Sensor>, pattern: Buffer | undefined): Sensor[] {
  let matched: Sensor[];
  if (pattern === undefined) matched = [...sensors.values()];
  else {
    const name = pattern.toString('utf8');
    if (name.length > 1 && name.startsWith('/') && name.endsWith('/')) {
      let re: RegExp;
      const source = name.slice(1, -1);
      const unsafe = unsafePatternReason(source);
      if (unsafe !== null) throw new FailReply(`refused regex: ${unsafe}`);
      try {
        re = new RegExp(source);
      } catch (err) {
        throw new FailReply((err as Error).message);
      }
      matched = [...sensors.values()].filter((s) => re.test(s.name));
    } else {
      const s = sensors.get(name);
      // the wording matters: katcp-python's inspecting client looks for "Unknown sensor"
      if (!s) throw new FailReply(`Unknown sensor '${name}'`);
      matched = [s];
    }
  }
  return matched.sort((a, b) => byName(a.name, b.name));
}

/** The standard requests as `[name, entry]` pairs, for the server's request table. */
export function standardRequests(host: StandardRequestHost): [string, RequestEntry][] {
  const out: [string, RequestEntry][] = [];
  const std = (name: string, handler: RequestHandler, minArgs: number, maxArgs: number) =>
    out.push([name, { description: STANDARD_HELP[name], handler, minArgs, maxArgs }]);
  const names = () => [...host.requests.keys()].sort();

  std(
    'help',
    (ctx, name) => {
      let rows: [string, string][];
      if (name === undefined) {
        rows = names().map((n) => [n, (host.requests.get(n) as RequestEntry).description.split('\n')[0]]);
      } else {
        const key = name.toString('utf8');
        const entry = host.requests.get(key);
        if (!entry) throw new FailReply(`request ${key} is not known`);
        rows = [[key, entry.description]];
      }
      for (const row of rows) ctx.inform(...row);
      return [rows.length];
    },
    0,
    1,
  );
  std('halt', () => host.halt(), 0, 0);
  std('watchdog', () => {}, 0, 0);
  std(
    'version-list',
    (ctx) => {
      const rows = host.versionInfo();
      for (const row of rows) ctx.inform(...row);
      return [rows.length];
    },
    0,
    0,
  );
  std(
    'client-list',
    (ctx) => {
      const clients = [...host.clients()];
      for (const c of clients) ctx.inform(c.address);
      return [clients.length];
    },
    0,
    0,
  );
  std(
    'log-level',
    (_ctx, level) => {
      if (level !== undefined) {
        const l = level.toString('utf8');
        if (!(KATCP_LOG_LEVELS as readonly string[]).includes(l)) {
          throw new FailReply(`'${l}' is not a valid value for LogLevel (${KATCP_LOG_LEVELS.join(', ')})`);
        }
        host.logLevel = l as KatcpLogLevel;
      }
      return [host.logLevel];
    },
    0,
    1,
  );
  std(
    'request-timeout-hint',
    (ctx, name) => {
      let rows: [string, string][];
      if (name === undefined) {
        rows = names()
          .map((n) => [n, host.requests.get(n)?.timeoutHint] as const)
          .filter((r): r is readonly [string, number] => r[1] !== undefined)
          .map(([n, h]) => [n, formatPythonFloat(h)]);
      } else {
        const key = name.toString('utf8');
        const entry = host.requests.get(key);
        if (!entry) throw new FailReply(`request ${key} is not known`);
        rows = [[key, formatPythonFloat(entry.timeoutHint ?? 0)]];
      }
      for (const row of rows) ctx.inform(...row);
      return [rows.length];
    },
    0,
    1,
  );
  std(
    'sensor-list',
    (ctx, name) => {
      const sensors = matchSensors(host.sensors, name);
      for (const s of sensors) ctx.inform(s.name, s.description, s.units, s.type, ...s.params);
      return [sensors.length];
    },
    0,
    1,
  );
  std(
    'sensor-value',
    (ctx, name) => {
      const sensors = matchSensors(host.sensors, name);
      for (const s of sensors) {
        const r = s.reading;
        ctx.inform(formatPythonFloat(r.timestamp), '1', s.name, r.status, sensorValueText(s, r.value));
      }
      return [sensors.length];
    },
    0,
    1,
  );
  std(
    'sensor-sampling',
    (ctx, nameArg, ...strategyWords) => {
      const name = nameArg.toString('utf8');
      const client = host.clientOf(ctx.client.id);
      const names = strategyWords.length === 0 ? [name] : name.split(',');
      const sensors = names.map((n) => {
        const s = host.sensors.get(n);
        if (!s) throw new FailReply(`Unknown sensor '${n}'`);
        return s;
      });
      if (strategyWords.length === 0) {
        const sampler = client?.samplers.get(sensors[0].name);
        return [name, ...(sampler ? formatSamplingParameters(sensors[0], sampler.strategy) : ['none'])];
      }
      // validate for every sensor first: the bulk form is atomic
      const strategies = sensors.map((s) => {
        try {
          return parseSamplingRequest(s, strategyWords);
        } catch (err) {
          if (err instanceof KatcpDecodeError) throw new FailReply(err.message);
          throw err;
        }
      });
      let params: string[] = ['none'];
      sensors.forEach((s, i) => {
        if (!client || client.closed) return;
        const sampler = createSampler(
          s,
          strategies[i],
          (sensor, reading) => client.write(sensorStatusLine(sensor, reading)),
          host.clock,
        );
        client.setSampler(s.name, sampler);
        params = formatSamplingParameters(s, strategies[i]);
      });
      return [name, ...params];
    },
    1,
    Number.POSITIVE_INFINITY,
  );
  return out;
}
