/**
 * The device server's standard requests, replying as aiokatcp 1.9 does: `?help [name]`, `?halt`, `?watchdog`,
 * `?version-list`, `?client-list`, `?log-level [level]`, `?sensor-list [name|/regex/]`,
 * `?sensor-value [name|/regex/]`, `?sensor-sampling name[,name...] [strategy [params]]` (the bulk form is atomic)
 * and `?request-timeout-hint [name]`. They are ordinary request handlers over what the server lends them
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

/** The sensors `?sensor-list` / `?sensor-value` name: all, one, or `/regex/`; sorted by name. */
function matchSensors(sensors: ReadonlyMap<string, Sensor>, pattern: Buffer | undefined): Sensor[] {
  let matched: Sensor[];
  if (pattern === undefined) matched = [...sensors.values()];
  else {
    const name = pattern.toString('utf8');
    if (name.length > 1 && name.startsWith('/') && name.endsWith('/')) {
      let re: RegExp;
      try {
        re = new RegExp(name.slice(1, -1));
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
