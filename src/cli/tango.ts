/**
 * `orrery tango DEVICE NAME [VALUE]` and `orrery tango DEVICE --watch ATTRIBUTE...`: a command line for any Tango
 * device over Orrery's native client (`DeviceProxy`, `TangoEventConsumer`; no PyTango, no CORBA library), in the
 * spirit of PyTango's `DeviceProxy` one-liners and cppTango's `tango_admin`-style tools.
 *
 * - NAME a command: runs it (`command_inout_4`, one round trip after the command list, fetched once); ARG is read
 *   by the command's input type (tangoArgs.ts) and the result printed (nothing for DevVoid).
 * - NAME an attribute: reads it (`read_attributes_5`) and prints `name  value  quality`; with VALUE, writes it
 *   (`write_attributes_4`, VALUE read by the attribute's type and format) and prints the value read back.
 * - `--watch`: subscribes to each attribute's change events (ZMQ) and prints one line per event, the current
 *   value first, until SIGINT/SIGTERM, the `signal` given in-process, `--count` events or `--duration` ms (exit 0).
 *   An error event (e.g. the server gone: API_EventTimeout) is printed and the watch goes on (the subscription
 *   re-subscribes by itself).
 *
 * Differences from PyTango, on purpose: a name is looked up among the device's commands first (`--command` /
 * `--attribute` force one); durations are milliseconds; errors go to stderr as the error stack's `reason: desc`.
 *
 * Exit codes: 0 ok; 1 DevFailed (the device refused or failed), a timeout, no connection, a subscription refused;
 * 2 bad usage (options, a device name that does not parse, TANGO_HOST unset, an ARG or VALUE that does not fit
 * the type).
 */
import { createSystem, type OrrerySystem } from '../engine/system.js';
import { InvalidArgumentError } from '../errors.js';
import { DeviceProxy } from '../protocols/tango/deviceProxy.js';
import { typeName } from '../protocols/tango/deviceValues.js';
import { type TangoEvent, TangoEventConsumer } from '../protocols/tango/events.js';
import { interruption, stderrLine, stdoutLine } from './interrupt.js';
import { refuseTangoHostCredentials } from './options.js';
import { streamingStdout } from './streamingOutput.js';
import { HELP, parseAttributeValue, parseCommandArg, parseTangoArgs, type TangoArgs } from './tangoArgs.js';
import { attributeLine, commandLine, errorText, eventLine } from './tangoFormat.js';

export { parseTangoArgs } from './tangoArgs.js';

/** Where `tangoCommand` writes, and what ends a watch (tests run it in-process). */
export interface TangoCommandIO {
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
  /** Ends a `--watch` as Ctrl+C does. */
  signal?: AbortSignal;
  /** `TANGO_HOST` for names without a host (default process.env.TANGO_HOST). */
  tangoHost?: string;
}

/** `orrery tango`: the exit code (0 ok, 1 failure, 2 bad usage). */
export async function tangoCommand(argv: string[], io: TangoCommandIO = {}): Promise<number> {
  const out = io.stdout ?? stdoutLine;
  const err = io.stderr ?? stderrLine;
  const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (argv.length === 0 || options.includes('--help') || options.includes('-h')) {
    out(HELP);
    return argv.length === 0 ? 2 : 0;
  }
  const usage = (message: string) => {
    err(`orrery tango: ${message}; see 'orrery tango --help'`);
    return 2;
  };
  let a: TangoArgs;
  try {
    a = parseTangoArgs(argv);
  } catch (e) {
    if (e instanceof InvalidArgumentError) return usage(e.message);
    throw e;
  }
  try {
    refuseTangoHostCredentials(a.device, io.tangoHost ?? process.env.TANGO_HOST);
  } catch (e) {
    if (e instanceof InvalidArgumentError) return usage(e.message);
    throw e;
  }
  const system = createSystem();
  let proxy: DeviceProxy | undefined;
  try {
    proxy = new DeviceProxy(a.device, { system, timeout: a.timeout, tangoHost: io.tangoHost });
    if (a.watch) {
      // a watch streams: behind a slow reader its lines are dropped past a bound (streamingOutput.ts)
      const lines = io.stdout ?? streamingStdout('tango --watch').line;
      return await runWatch(a, proxy, system, io.signal, io.stdout === undefined, lines, err);
    }
    return await runOnce(a, proxy, out);
  } catch (e) {
    if (e instanceof InvalidArgumentError) return usage(e.message);
    err(`orrery tango: ${errorText(e)}`);
    return 1;
  } finally {
    await proxy?.close();
    await system.stop();
  }
}

async function runOnce(a: TangoArgs, proxy: DeviceProxy, out: (l: string) => void): Promise<number> {
  const { name, value } = a.target as { name: string; value?: string };
  let command: string | undefined;
  if (a.kind !== 'attribute') {
    const commands = await proxy.commandListQuery();
    const info = commands.find((c) => c.cmdName.toLowerCase() === name.toLowerCase());
    if (info !== undefined) {
      command = info.cmdName;
      const arg = parseCommandArg(info.inType, value);
      const result = await proxy.commandInout(command, arg);
      const line = commandLine(proxy.name, command, result, a.json);
      if (line !== undefined) out(line);
      return 0;
    }
    if (a.kind === 'command') throw new InvalidArgumentError(`${proxy.name} has no command ${name}`);
  }
  if (value !== undefined) {
    const config = await proxy.getAttributeConfig(name);
    const type = typeName(config.data_type);
    await proxy.writeAttribute(name, parseAttributeValue(type, config.data_format, value));
  }
  out(attributeLine(proxy.name, await proxy.readAttribute(name), a.json));
  return 0;
}

async function runWatch(
  a: TangoArgs,
  proxy: DeviceProxy,
  system: OrrerySystem,
  signal: AbortSignal | undefined,
  toStdout: boolean,
  out: (l: string) => void,
  err: (l: string) => void,
): Promise<number> {
  const watch = a.watch as NonNullable<TangoArgs['watch']>;
  const stop = new AbortController();
  // Ctrl+C, SIGTERM, `signal`, or (writing to the real stdout) its reader going away
  const interrupt = interruption(signal, { output: toStdout });
  const onInterrupt = () => stop.abort();
  if (interrupt.signal.aborted) stop.abort();
  else interrupt.signal.addEventListener('abort', onInterrupt, { once: true });
  const timer =
    watch.duration === undefined ? undefined : system.clock.setTimeout(() => stop.abort(), watch.duration);
  const consumer = new TangoEventConsumer({ system });
  let count = 0;
  const print = (attribute: string) => (e: TangoEvent) => {
    if (stop.signal.aborted) return;
    const line = eventLine(proxy.name, attribute, e, a.json, Date.now());
    if (e.errors !== undefined && !a.json) err(line);
    else out(line);
    count++;
    if (watch.count !== undefined && count >= watch.count) stop.abort();
  };
  try {
    const stopped = new Promise<void>((resolve) => {
      if (stop.signal.aborted) resolve();
      else stop.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    // subscribe one after the other (each prints its current value first), unless stopped meanwhile
    for (const attribute of watch.attributes) {
      const subscribed = consumer.subscribe(proxy, attribute, print(attribute));
      const first = await Promise.race([subscribed, stopped]);
      if (first === undefined) {
        subscribed.catch(() => {});
        break;
      }
    }
    await stopped;
    return 0;
  } finally {
    if (timer !== undefined) system.clock.clearTimeout(timer);
    interrupt.signal.removeEventListener('abort', onInterrupt);
    interrupt.release();
    await consumer.close();
  }
}
