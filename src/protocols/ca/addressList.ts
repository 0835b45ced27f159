/**
 * EPICS address lists and the environment that configures Channel Access (CAref "WAN Environment"; caproto
 * `_utils.py`). Pure: the environment is passed in (tests never mutate `process.env`).
 *
 * Differences from upstream, on purpose: caproto falls back to 255.255.255.255 when `EPICS_CA_ADDR_LIST` is empty
 * even with `EPICS_CA_AUTO_ADDR_LIST=NO`; Orrery follows libca (no destinations at all, searches then time out).
 * `EPICS_CA_NAME_SERVERS` (libca `cac::cac`: host[:port] entries, default port `EPICS_CA_SERVER_PORT`, duplicates
 * dropped) rejects the broadcast address 255.255.255.255 with a `CaValueError` (CAref: name servers are TCP hosts;
 * libca does not check and retries the impossible connection forever).
 */
import { isIP } from 'node:net';
import { describeValue } from '../../errors.js';
import {
  DEFAULT_CONN_TMO_MS,
  DEFAULT_REPEATER_PORT,
  DEFAULT_SERVER_PORT,
  DEFAULT_TIMEOUT_MS,
} from './constants.js';
import { CaValueError } from './errors.js';

/** One destination or binding: an IPv4 address (or host name) and a port. */
export interface CaAddress {
  readonly host: string;
  readonly port: number;
}

export type CaEnv = Readonly<Record<string, string | undefined>>;

/**
 * Parses an EPICS address list: whitespace-separated `host` or `host:port` entries (`port` defaults to
 * `defaultPort`). Throws `CaValueError` naming the variable for an entry with a bad port.
 */
export function parseAddressList(
  text: string | undefined,
  defaultPort: number,
  variable = 'address list',
): CaAddress[] {
  if (text === undefined) return [];
  const out: CaAddress[] = [];
  for (const entry of text.split(/\s+/)) {
    if (entry === '') continue;
    const colon = entry.lastIndexOf(':');
    if (colon === -1 || isIP(entry) === 6) {
      out.push({ host: entry, port: defaultPort });
      continue;
    }
    const host = entry.slice(0, colon);
    const portText = entry.slice(colon + 1);
    const port = Number(portText);
    if (host === '' || !/^\d+$/.test(portText) || port < 1 || port > 65535) {
      throw new CaValueError(`${variable}: bad entry ${JSON.stringify(entry)} (expected host or host:port)`);
    }
    out.push({ host, port });
  }
  return out;
}

const BROADCAST = '255.255.255.255';

/**
 * Parses an `EPICS_CA_NAME_SERVERS`-style list: `host` or `host:port` entries (default `defaultPort`), duplicates
 * dropped (libca `removeDuplicateAddresses`). Throws `CaValueError` for a bad entry or the broadcast address (a
 * name server is reached over TCP).
 */
export function parseNameServers(
  text: string | undefined,
  defaultPort: number,
  variable = 'EPICS_CA_NAME_SERVERS',
): CaAddress[] {
  const out: CaAddress[] = [];
  const seen = new Set<string>();
  for (const a of parseAddressList(text, defaultPort, variable)) {
    if (a.host === BROADCAST) {
      throw new CaValueError(
        `${variable}: ${BROADCAST} is a broadcast address, a name server must be a host`,
      );
    }
    const key = `${a.host}:${a.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(a);
  }
  return out;
}

/** EPICS boolean: only NO/no/No/false/0 (case-insensitive) are false; unset gives `fallback`. */
export function envFlag(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value.trim() === '') return fallback;
  return !/^(no|false|0)$/i.test(value.trim());
}

/** A port variable: unset gives `fallback`; anything but 1..65535 throws `CaValueError`. */
export function envPort(env: CaEnv, variable: string, fallback: number): number {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return fallback;
  const port = Number(raw.trim());
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CaValueError(`${variable} must be a port number 1..65535, got ${JSON.stringify(raw)}`);
  }
  return port;
}

/** A seconds variable converted to ms: unset gives `fallbackMs`; not a positive number throws `CaValueError`. */
export function envSecondsAsMs(env: CaEnv, variable: string, fallbackMs: number): number {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return fallbackMs;
  const seconds = Number(raw.trim());
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new CaValueError(`${variable} must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  }
  return seconds * 1000;
}

/** What a client reads from the environment (all overridable per Context). */
export interface CaClientConfig {
  /** Where searches go: `EPICS_CA_ADDR_LIST` (+ 255.255.255.255 when `autoAddressList`). */
  readonly searchAddresses: readonly CaAddress[];
  readonly autoAddressList: boolean;
  /** `EPICS_CA_NAME_SERVERS`: searches also go over a TCP connection to each (CA V4.12; absent = none). */
  readonly nameServers?: readonly CaAddress[];
  readonly serverPort: number;
  readonly repeaterPort: number;
  /** `EPICS_CA_CONN_TMO` in ms: silence on a circuit before an echo probe. */
  readonly connectionTimeoutMs: number;
  /** caproto `CAPROTO_DEFAULT_TIMEOUT` in ms (2 s). */
  readonly timeoutMs: number;
}

/** What a `Context`'s options put on top of the environment (each one replaces its variable). */
export interface ClientConfigOverrides {
  /** Replaces `EPICS_CA_ADDR_LIST`: `host` or `host:port` entries. */
  readonly addressList?: readonly string[];
  readonly autoAddressList?: boolean;
  /** Replaces `EPICS_CA_NAME_SERVERS`: `host` or `host:port` entries. */
  readonly nameServers?: readonly string[];
  readonly serverPort?: number;
  readonly repeaterPort?: number;
}

/**
 * A port option: undefined, or an integer 1..65535. Checked here, as the variables are: a port out of range would
 * make every UDP search throw a RangeError from a timer.
 */
function portOption(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new CaValueError(`${name} must be a port number 1..65535, got ${describeValue(value)}`);
  }
  return value;
}

/** A list option (`host` or `host:port` strings) as the text of the variable it replaces. */
function listOption(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) {
    throw new CaValueError(
      `${name} must be an array of 'host' or 'host:port' strings, got ${describeValue(value)}`,
    );
  }
  return value.join(' ');
}

/**
 * The client configuration from `env` (default `process.env`), with `overrides` on top. The environment is read
 * (and checked) even where an override replaces it; so are the overrides (CaValueError).
 */
export function clientConfigFromEnv(
  env: CaEnv = process.env,
  overrides: ClientConfigOverrides = {},
): CaClientConfig {
  const envServerPort = envPort(env, 'EPICS_CA_SERVER_PORT', DEFAULT_SERVER_PORT);
  const envAuto = envFlag(env.EPICS_CA_AUTO_ADDR_LIST, true);
  const envListed = parseAddressList(env.EPICS_CA_ADDR_LIST, envServerPort, 'EPICS_CA_ADDR_LIST');
  const envRepeaterPort = envPort(env, 'EPICS_CA_REPEATER_PORT', DEFAULT_REPEATER_PORT);
  const envNameServers = parseNameServers(env.EPICS_CA_NAME_SERVERS, envServerPort);
  const serverPort = portOption('serverPort', overrides.serverPort) ?? envServerPort;
  const repeaterPort = portOption('repeaterPort', overrides.repeaterPort) ?? envRepeaterPort;
  const addressList = listOption('addressList', overrides.addressList);
  const nameServerList = listOption('nameServers', overrides.nameServers);
  const autoAddressList = overrides.autoAddressList ?? envAuto;
  const listed =
    addressList !== undefined
      ? parseAddressList(addressList, serverPort, 'addressList')
      : overrides.serverPort !== undefined
        ? parseAddressList(env.EPICS_CA_ADDR_LIST, serverPort, 'EPICS_CA_ADDR_LIST')
        : envListed;
  const nameServers =
    nameServerList !== undefined
      ? parseNameServers(nameServerList, serverPort, 'nameServers')
      : overrides.serverPort !== undefined
        ? parseNameServers(env.EPICS_CA_NAME_SERVERS, serverPort)
        : envNameServers;
  const searchAddresses = autoAddressList
    ? [...listed, { host: '255.255.255.255', port: serverPort }]
    : listed;
  return {
    searchAddresses,
    autoAddressList,
    nameServers,
    serverPort,
    repeaterPort,
    connectionTimeoutMs: envSecondsAsMs(env, 'EPICS_CA_CONN_TMO', DEFAULT_CONN_TMO_MS),
    timeoutMs: envSecondsAsMs(env, 'CAPROTO_DEFAULT_TIMEOUT', DEFAULT_TIMEOUT_MS),
  };
}

/** What a server reads from the environment (all overridable per CaServer). */
export interface CaServerConfig {
  /** `EPICS_CAS_INTF_ADDR_LIST` (hosts only), or undefined when unset. */
  readonly interfaces: readonly string[] | undefined;
  /** `EPICS_CAS_SERVER_PORT`, else `EPICS_CA_SERVER_PORT`, else 5064. */
  readonly port: number;
  /** `EPICS_CAS_BEACON_ADDR_LIST` (+ 255.255.255.255 when `EPICS_CAS_AUTO_BEACON_ADDR_LIST` is not NO). */
  readonly beaconAddresses: readonly CaAddress[];
  /** `EPICS_CAS_BEACON_PERIOD` in ms (15 s). */
  readonly beaconPeriodMs: number;
  /** `EPICS_CAS_IGNORE_ADDR_LIST`: searches from these hosts are dropped. */
  readonly ignoreAddresses: readonly string[];
}

/** The server configuration from `env` (default `process.env`). */
export function serverConfigFromEnv(env: CaEnv = process.env): CaServerConfig {
  const caPort = envPort(env, 'EPICS_CA_SERVER_PORT', DEFAULT_SERVER_PORT);
  const port = envPort(env, 'EPICS_CAS_SERVER_PORT', caPort);
  const beaconPort = envPort(
    env,
    'EPICS_CAS_BEACON_PORT',
    envPort(env, 'EPICS_CA_REPEATER_PORT', DEFAULT_REPEATER_PORT),
  );
  const listed = parseAddressList(env.EPICS_CAS_BEACON_ADDR_LIST, beaconPort, 'EPICS_CAS_BEACON_ADDR_LIST');
  const auto = envFlag(env.EPICS_CAS_AUTO_BEACON_ADDR_LIST, true);
  const intf = env.EPICS_CAS_INTF_ADDR_LIST;
  return {
    interfaces:
      intf === undefined || intf.trim() === ''
        ? undefined
        : parseAddressList(intf, port, 'EPICS_CAS_INTF_ADDR_LIST').map((a) => a.host),
    port,
    beaconAddresses: auto ? [...listed, { host: '255.255.255.255', port: beaconPort }] : listed,
    beaconPeriodMs: envSecondsAsMs(env, 'EPICS_CAS_BEACON_PERIOD', 15_000),
    ignoreAddresses: parseAddressList(env.EPICS_CAS_IGNORE_ADDR_LIST, port, 'EPICS_CAS_IGNORE_ADDR_LIST').map(
      (a) => a.host,
    ),
  };
}
