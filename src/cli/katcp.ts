/**
 * `orrery katcp HOST:PORT ?request [args...]` sends one KATCP request and prints its informs and its reply;
 * `orrery katcp HOST:PORT --watch SENSOR...` samples sensors and prints every update until Ctrl+C.
 *
 * Output, on purpose like katcp-python's command-line clients (which print `str(msg)`): each message is printed as
 * its line on the wire, escapes kept (`!echo[1] ok a\_b \@`), so an argument with a space stays one field and the
 * output can be fed to any KATCP tool. `--json` prints one object per message instead, `{type, name, mid, args}`,
 * the arguments unescaped as UTF-8 text. Only the request's own informs and its reply are printed, not the
 * server's unsolicited informs (`#version-connect`, `#client-connected`, `#log`, `#interface-changed`).
 *
 * `--watch` sends `?sensor-sampling NAME event` (or `--strategy "period 0.5"`) for each sensor and prints each
 * `#sensor-status` as `timestamp name status value` (the value as on the wire), or with `--json` as
 * `{timestamp, name, status, value}` (timestamp a number in seconds, value the unescaped text). It runs until
 * SIGINT/SIGTERM or the `signal` given in-process (exit 0; the server drops the sampling when the client goes), or
 * until the connection is lost (exit 1).
 *
 * Exit codes: 0 the reply is `ok` (or a watch ended by the user); 1 the reply is `fail`, `invalid` or anything
 * else, no reply within the timeout, or the connection lost; 2 bad usage, a bad HOST:PORT, or no connection (refused,
 * unreachable, not KATCP v5, not negotiated within the timeout).
 */
import { isNever } from '../../machines/core/duration.js';
import { createSystem } from '../engine/system.js';
import { CancelledError, InvalidArgumentError, TimeoutError } from '../errors.js';
import { KatcpClient } from '../protocols/katcp/client.js';
import {
  argsText,
  escapeArg,
  isValidName,
  type KatcpMessage,
  messageText,
} from '../protocols/katcp/codec.js';
import { FailReply, InvalidReply, KatcpError, RequestTimeoutError } from '../protocols/katcp/errors.js';
import { decodeInt, decodeTimestamp, formatStrategy, parseStrategy } from '../protocols/katcp/wire.js';
import { hostPort } from '../transport/address.js';
import { interruption, stderrLine, stdoutLine } from './interrupt.js';
import { parseDuration, parsePort, refuseCredentials, scanLongOptions } from './options.js';
import { streamingStdout } from './streamingOutput.js';

const HELP = `usage: orrery katcp HOST:PORT ?request [args...] [--json] [--timeout ms|inf]
       orrery katcp HOST:PORT --watch SENSOR... [--strategy "event"] [--json] [--timeout ms|inf]

Sends one KATCP request (the leading '?' is optional) and prints the request's informs and its reply, each as its
line on the wire (escapes kept: a space inside an argument is \\_, an empty argument \\@).
  --json        one JSON object per message: {"type","name","mid","args"} (args unescaped, as UTF-8 text)
  --timeout     milliseconds to wait for the connection and for each reply (default 5000; 'inf' for never)
  --watch       sample each SENSOR and print every update as 'timestamp name status value' until Ctrl+C
                (with --json: {"timestamp","name","status","value"})
  --strategy    the sampling strategy for --watch, as KATCP writes it, seconds on the wire (default "event";
                e.g. "period 0.5", "event-rate 0.1 10", "differential 2", "auto")
  --            ends the options: what follows is the request's arguments, even when it starts with '-'
HOST:PORT is a host name or IPv4 address and a port (1-65535); an IPv6 address goes in brackets: [::1]:7147.
Exit code: 0 reply ok, 1 fail/invalid/no reply/connection lost, 2 bad usage or no connection.`;

/** Where `katcpCommand` writes, and what ends a watch (tests run it in-process). */
export interface KatcpCommandIO {
  /** One line of output (default: process.stdout). */
  stdout?: (line: string) => void;
  /** One line of diagnostics (default: process.stderr). */
  stderr?: (line: string) => void;
  /** Ends a `--watch` (as SIGINT does) or cancels the request when aborted. */
  signal?: AbortSignal;
}

interface Parsed {
  host: string;
  port: number;
  json: boolean;
  timeout: number;
  /** The request (without '?') and its arguments, or the sensors to watch. */
  request?: { name: string; args: string[] };
  watch?: { sensors: string[]; strategy: string[] };
}

/** `host:port`, `[v6]:port`; an InvalidArgumentError (one line) otherwise. */
export function parseHostPort(raw: string | undefined): { host: string; port: number } {
  if (raw === undefined || raw === '') throw new InvalidArgumentError('expected HOST:PORT');
  refuseCredentials('HOST:PORT', raw);
  const m = /^\[([^\]]+)\]:([^:]*)$/.exec(raw) ?? /^([^:[\]]+):([^:]*)$/.exec(raw);
  if (!m) {
    const hint = (raw.match(/:/g)?.length ?? 0) > 1 ? ' (an IPv6 address goes in brackets: [::1]:7147)' : '';
    throw new InvalidArgumentError(`expected HOST:PORT, got ${JSON.stringify(raw)}${hint}`);
  }
  const port = parsePort('the port', m[2]);
  if (port === 0) throw new InvalidArgumentError(`the port must be 1-65535, got ${JSON.stringify(m[2])}`);
  return { host: m[1], port };
}

/** The parsed command line; an InvalidArgumentError (one line) for bad usage. */
function parse(argv: string[]): Parsed {
  let json = false;
  let watch = false;
  let strategy: string | undefined;
  let timeout = 5000;
  const positional = scanLongOptions(argv, ({ name, value, flag }) => {
    if (name === '--json') json = flag();
    else if (name === '--watch') watch = flag();
    else if (name === '--timeout') {
      timeout = parseDuration('--timeout', value(), { unitMs: 1, unit: 'milliseconds', infinity: true });
    } else if (name === '--strategy') {
      strategy = value();
      if (strategy === undefined) throw new InvalidArgumentError('--strategy needs a value');
    } else throw new InvalidArgumentError(`unknown option ${name}`);
  });
  const { host, port } = parseHostPort(positional[0]);
  const rest = positional.slice(1);
  if (watch) {
    if (rest.length === 0) throw new InvalidArgumentError('--watch needs at least one sensor name');
    for (const s of rest) {
      if (s === '' || /[\s,\\]/.test(s) || s.startsWith('?')) {
        throw new InvalidArgumentError(`--watch: ${JSON.stringify(s)} is not a sensor name`);
      }
    }
    let words: string[];
    try {
      const chosen = parseStrategy(strategy ?? 'event');
      if (chosen.strategy === 'none') throw new InvalidArgumentError('none would never report anything');
      words = formatStrategy(chosen);
    } catch (err) {
      if (!(err instanceof KatcpError) && !(err instanceof InvalidArgumentError)) throw err;
      throw new InvalidArgumentError(`--strategy: ${err.message}`);
    }
    return { host, port, json, timeout, watch: { sensors: rest, strategy: words } };
  }
  if (strategy !== undefined) throw new InvalidArgumentError('--strategy goes with --watch');
  if (rest.length === 0) throw new InvalidArgumentError('expected a request after HOST:PORT (e.g. ?help)');
  const name = rest[0].startsWith('?') ? rest[0].slice(1) : rest[0];
  if (!isValidName(name)) {
    throw new InvalidArgumentError(
      `${JSON.stringify(rest[0])} is not a KATCP request name (a letter, then letters, digits and dashes)`,
    );
  }
  return { host, port, json, timeout, request: { name, args: rest.slice(1) } };
}

/** A message as one JSON line: `{"type","name","mid","args"}`, the arguments as UTF-8 text. */
export function messageJson(m: KatcpMessage): string {
  return JSON.stringify({ type: m.type, name: m.name, mid: m.mid, args: argsText(m) });
}

/** The `(name, status, value)` triples of a `#sensor-status` (or `#sensor-value`) inform. */
export function sensorUpdates(
  m: KatcpMessage,
): { timestamp: number; rawTimestamp: string; name: string; status: string; value: Buffer }[] {
  const [ts, n] = m.args;
  if (ts === undefined || n === undefined) throw new KatcpError(`#${m.name} with too few arguments`);
  const timestamp = decodeTimestamp(ts);
  const count = decodeInt(n);
  if (count < 1 || m.args.length !== 2 + 3 * count) {
    throw new KatcpError(`#${m.name} says ${count} sensor(s) but has ${m.args.length} arguments`);
  }
  const out = [];
  for (let i = 0; i < count; i++) {
    const [name, status, value] = m.args.slice(2 + 3 * i, 5 + 3 * i);
    out.push({
      timestamp,
      rawTimestamp: ts.toString('utf8'),
      name: name.toString('utf8'),
      status: status.toString('utf8'),
      value,
    });
  }
  return out;
}

const where = (p: Parsed) => hostPort(p.host, p.port);

/**
 * `orrery katcp`: the exit code (0 ok, 1 fail/invalid/no reply/connection lost, 2 bad usage or no connection).
 * `io` lets a caller run it in-process: where the lines go and an AbortSignal that ends a watch.
 */
export async function katcpCommand(argv: string[], io: KatcpCommandIO = {}): Promise<number> {
  const out = io.stdout ?? stdoutLine;
  const err = io.stderr ?? stderrLine;
  const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (options.includes('--help') || options.includes('-h')) {
    out(HELP);
    return 0;
  }
  if (argv.length === 0) {
    err(`orrery katcp: expected HOST:PORT and a request\n\n${HELP}`);
    return 2;
  }
  let parsed: Parsed;
  try {
    parsed = parse(argv);
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    err(`orrery katcp: ${e.message}; see 'orrery katcp --help'`);
    return 2;
  }
  const system = createSystem();
  // Ctrl+C, SIGTERM, io.signal, or (writing to the real stdout) its reader going away
  const stop = interruption(io.signal, { output: io.stdout === undefined });
  const interrupted = stop.interrupted.then(() => {});
  let client: KatcpClient | undefined;
  try {
    try {
      client = await KatcpClient.connect(parsed.host, parsed.port, {
        system,
        autoReconnect: false,
        requestTimeout: parsed.timeout,
        timeout: parsed.timeout,
        signal: stop.signal,
      });
    } catch (e) {
      if (e instanceof CancelledError) {
        err('orrery katcp: interrupted');
        return parsed.watch ? 0 : 1;
      }
      const why =
        e instanceof TimeoutError && !isNever(parsed.timeout)
          ? `not connected within ${parsed.timeout} ms`
          : e instanceof Error
            ? e.message
            : String(e);
      err(`orrery katcp: cannot connect to ${where(parsed)}: ${why}`);
      return 2;
    }
    if (parsed.request) return await runRequest(client, parsed, stop.signal, out, err);
    // a watch streams: behind a slow reader its lines are dropped past a bound (streamingOutput.ts)
    const lines = io.stdout ?? streamingStdout('katcp --watch').line;
    return await runWatch(client, parsed, interrupted, stop.signal, lines, err);
  } finally {
    stop.release();
    await client?.close();
    await system.stop();
  }
}

async function runRequest(
  client: KatcpClient,
  parsed: Parsed,
  signal: AbortSignal,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const { name, args } = parsed.request as { name: string; args: string[] };
  const show = (m: KatcpMessage) => out(parsed.json ? messageJson(m) : messageText(m));
  try {
    const { reply, informs } = await client.requestRaw(name, args, { timeout: parsed.timeout, signal });
    for (const m of informs) show(m);
    show(reply);
    return reply.args[0]?.toString('utf8') === 'ok' ? 0 : 1;
  } catch (e) {
    if (e instanceof RequestTimeoutError)
      err(`orrery katcp: no reply to ?${name} within ${parsed.timeout} ms`);
    else if (e instanceof CancelledError) err(`orrery katcp: ?${name} interrupted`);
    else if (e instanceof KatcpError) err(`orrery katcp: ?${name}: ${e.message}`);
    else throw e;
    return 1;
  }
}

async function runWatch(
  client: KatcpClient,
  parsed: Parsed,
  interrupted: Promise<void>,
  signal: AbortSignal,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const { sensors, strategy } = parsed.watch as { sensors: string[]; strategy: string[] };
  client.addInformHandler('sensor-status', (m) => {
    let updates: ReturnType<typeof sensorUpdates>;
    try {
      updates = sensorUpdates(m);
    } catch (e) {
      err(`orrery katcp: ignoring a malformed update (${(e as Error).message}): ${messageText(m)}`);
      return;
    }
    for (const u of updates) {
      if (parsed.json) {
        out(
          JSON.stringify({
            timestamp: u.timestamp,
            name: u.name,
            status: u.status,
            value: u.value.toString('utf8'),
          }),
        );
      } else out(`${u.rawTimestamp} ${u.name} ${u.status} ${escapeArg(u.value).toString('utf8')}`);
    }
  });
  let lost!: (error: Error | null) => void;
  const lostConnection = new Promise<Error | null>((resolve) => {
    lost = resolve;
  });
  client.onStateChange((state, error) => {
    if (state !== 'connected') lost(error ?? client.lastError);
  });
  if (!client.isConnected) lost(client.lastError);
  for (const sensor of sensors) {
    try {
      await client.requestWith({ timeout: parsed.timeout, signal }, 'sensor-sampling', sensor, ...strategy);
    } catch (e) {
      if (e instanceof CancelledError) return 0; // interrupted while setting up
      if (e instanceof FailReply || e instanceof InvalidReply) {
        err(`orrery katcp: cannot watch ${sensor}: ${e.message}`);
      } else if (e instanceof RequestTimeoutError) {
        err(`orrery katcp: no reply to ?sensor-sampling ${sensor} within ${parsed.timeout} ms`);
      } else if (e instanceof KatcpError)
        err(`orrery katcp: connection to ${where(parsed)} lost: ${e.message}`);
      else throw e;
      return 1;
    }
  }
  const ended = await Promise.race([interrupted.then(() => 'interrupted' as const), lostConnection]);
  if (ended === 'interrupted') return 0;
  err(`orrery katcp: connection to ${where(parsed)} lost${ended ? `: ${ended.message}` : ''}`);
  return 1;
}
