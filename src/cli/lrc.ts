/**
 * `orrery lrc <command> [args] [--device NAME] [--json] [--protocol 1|2] [--timeout ms|inf] [--reconcile]
 * [--inspect [port]]`: run a long running command on the built-in SKA device simulator (commands On, Off,
 * Standby, Scan, Configure, Reset, Abort), or with `--device` on a real Tango device
 * (`tango://host:port/dom/fam/member[#dbase=no]`, or `dom/fam/member` through TANGO_HOST) over the native client.
 * `args` is JSON when it parses, a string otherwise. On a TTY a live progress bar, otherwise one plain line per
 * update (`IN_PROGRESS`, `progress 33%`); `--json` prints one JSON object per update and a final
 * `{"result": ...}` line. `--timeout` bounds the whole command, connecting to `--device` included. Ctrl+C or
 * SIGTERM during the run cancels it (one line on stderr; the device is not asked to abort). Exit code 0 when the
 * command completed OK, 1 otherwise (2 for bad usage).
 */

import { isNever } from '../../machines/core/duration.js';
import { lrcErrors } from '../../machines/tango/lrcErrors.js';
import { builtInDevice } from '../demo/lrcDemo.js';
import { createSystem } from '../engine/system.js';
import { InvalidArgumentError, PortInUseError, TimeoutError } from '../errors.js';
import { type Inspector, startInspector } from '../inspector/server.js';
import { TangoNameError } from '../protocols/tango/clientErrors.js';
import { DEFAULT_TIMEOUT_MS } from '../protocols/tango/deviceProxy.js';
import { DevFailed } from '../protocols/tango/errors.js';
import { type LrcUpdate, resultCodeName, taskStatusName } from '../protocols/tango/lrc/invokeLrc.js';
import { LongRunningCommand, type LrcResult } from '../protocols/tango/lrc/longRunningCommand.js';
import { NativeDevicePort } from '../protocols/tango/nativePort.js';
import type { DevicePort } from '../protocols/tango/port.js';
import { interruption, isClosed } from './interrupt.js';
import {
  onlyOnce,
  parseDuration,
  parsePort,
  refuseCredentials,
  refuseTangoHostCredentials,
  usageError,
} from './options.js';

const HELP = `usage: orrery lrc <command> [args] [--device NAME] [--json] [--protocol 1|2] [--timeout ms|inf] [--reconcile] [--inspect [port]]

Runs a long running command on the built-in SKA device simulator 'sim/ska/1' (state OFF at start), or on a real
Tango device with --device.
commands: On, Off, Standby, Scan, Configure ('{"fail": true}' makes it fail), Reset, Abort
  --device      a Tango device (tango://host:port/dom/fam/member, '#dbase=no' for a server without a database,
                or dom/fam/member through TANGO_HOST; a name with no '/' is a device alias, resolved by the
                database), reached with Orrery's native Tango client
  --json        one JSON object per update, then {"result": ...} (otherwise a live progress bar on a terminal,
                one plain line per update when piped)
  --protocol    LRC protocol version to use, 1 or 2 (default: negotiated, 2)
  --timeout     give up after this many milliseconds, reaching --device included (a decimal number, 0 or
                more; 'inf' for never; default 60000)
  --reconcile   after an error event (a lost connection, missed events), ask the device for the command's status
                (CheckLongRunningCommandStatus): a status whose event was lost still ends the run, and a device
                that restarted meanwhile (NOT_FOUND) ends it with SKA_CommandNotFound
  --inspect     serve the inspector on 127.0.0.1 (port 0 = any free port, the default), print its URL on
                stderr, and keep it up after the command until Ctrl+C; a port that is taken is an error (exit 2)
options take their value as the next argument or after '=' (--timeout=5000)`;

interface Parsed {
  command: string;
  args?: unknown;
  json: boolean;
  protocol?: 1 | 2;
  timeout: number;
  reconcile: boolean;
  inspect?: number;
  device?: string;
}

/** Does `next` look like --inspect's optional port (rather than the command or its argument)? */
function looksLikePort(next: string | undefined): next is string {
  return next !== undefined && (next === '' || /^[-+.\d]|^(nan|[+-]?inf(inity)?)$/i.test(next));
}

/** The parsed command line; an InvalidArgumentError (one line) for bad usage. */
function parse(argv: string[]): Parsed {
  const rest: string[] = [];
  const out: Partial<Parsed> = { json: false, timeout: 60_000, reconcile: false };
  // no option repeats: the last one would silently win (`--timeout 5 --timeout 500`)
  const once = onlyOnce();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (arg.startsWith('--')) once(name);
    if (name === '--json') {
      if (inline !== undefined) throw new InvalidArgumentError('--json takes no value');
      out.json = true;
    } else if (name === '--reconcile') {
      if (inline !== undefined) throw new InvalidArgumentError('--reconcile takes no value');
      out.reconcile = true;
    } else if (name === '--protocol') {
      const v = value();
      if (v !== '1' && v !== '2') {
        throw new InvalidArgumentError(
          `--protocol must be 1 or 2, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`,
        );
      }
      out.protocol = v === '1' ? 1 : 2;
    } else if (name === '--timeout') {
      out.timeout = parseDuration('--timeout', value(), { unitMs: 1, unit: 'milliseconds', infinity: true });
    } else if (name === '--device') {
      const v = value();
      if (v === undefined || v === '') throw new InvalidArgumentError('--device needs a Tango device name');
      refuseCredentials('--device', v);
      out.device = v;
    } else if (name === '--inspect') {
      const v = inline !== undefined ? inline : looksLikePort(argv[i + 1]) ? argv[++i] : undefined;
      out.inspect = v === undefined ? 0 : parsePort('--inspect', v);
    } else if (arg.startsWith('--')) throw new InvalidArgumentError(`unknown option ${name}`);
    else rest.push(arg);
  }
  if (rest.length < 1 || rest.length > 2) {
    throw new InvalidArgumentError('expected a command and at most one argument');
  }
  // An empty name is bad usage, found here before any I/O: LongRunningCommand would refuse it only after --device
  // was reached, its InvalidArgumentError escaping the command (main.ts's 'orrery: ...', exit 1).
  if (rest[0] === '') throw new InvalidArgumentError('expected a command name, got an empty one');
  out.command = rest[0];
  if (rest.length === 2) {
    try {
      out.args = JSON.parse(rest[1]);
    } catch {
      out.args = rest[1];
    }
  }
  return out as Parsed;
}

function describe(u: LrcUpdate): Record<string, unknown> {
  const o: Record<string, unknown> = { ...u };
  if (u.status !== undefined) o.status = taskStatusName(u.status);
  return o;
}

/** One update as a plain line: `IN_PROGRESS`, `progress 33%`, `COMPLETED result [0,"On command completed OK"]`. */
export function plainLine(u: LrcUpdate): string {
  const { status, progress, result, error, ...extra } = u;
  const parts: string[] = [];
  if (status !== undefined) parts.push(taskStatusName(status));
  else if ('status' in u) parts.push('status unknown');
  if (progress !== undefined)
    parts.push(typeof progress === 'number' ? `progress ${progress}%` : `progress ${progress}`);
  if (result !== undefined) parts.push(`result ${JSON.stringify(result)}`);
  for (const e of error ?? []) parts.push(`error ${e.reason}: ${e.desc}`);
  for (const [key, v] of Object.entries(extra)) {
    if (v !== undefined) parts.push(`${key} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.join(' ');
}

function bar(progress: number, width = 30): string {
  const n = Math.max(0, Math.min(width, Math.round((progress / 100) * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${String(progress).padStart(3)}%`;
}

function summary(r: LrcResult): string {
  const lines = [`${r.command} ${r.commandId ?? '(not submitted)'}: ${resultCodeName(r.resultCode)}`];
  if (r.result !== undefined) lines.push(`result: ${JSON.stringify(r.result)}`);
  if (r.exception) {
    lines.push(`error: ${r.exception.name}: ${r.exception.message}`);
    if (r.exception instanceof DevFailed) {
      for (const e of r.exception.errors) lines.push(`  ${e.reason}: ${e.desc} (${e.origin})`);
    }
  }
  return lines.join('\n');
}

/** Waits, with the message on stderr, for Ctrl+C, SIGTERM or a closed stdout. */
async function untilInterrupted(message: string): Promise<void> {
  console.error(message);
  const interrupt = interruption(undefined, { output: true });
  await interrupt.interrupted;
}

export async function lrcCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  if (argv.length === 0) {
    console.error(`orrery lrc: expected a command\n\n${HELP}`);
    return 2;
  }
  let parsed: Parsed;
  try {
    parsed = parse(argv);
    if (parsed.device !== undefined) refuseTangoHostCredentials(parsed.device, process.env.TANGO_HOST);
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) throw err;
    return usageError('lrc', err.message);
  }
  const system = createSystem();
  const clock = system.clock;
  const started = clock.now();
  // --timeout bounds the whole command: connecting to --device, then the run gets what is left
  const remaining = () =>
    isNever(parsed.timeout) ? parsed.timeout : Math.max(0, parsed.timeout - (clock.now() - started));
  // Ctrl+C, SIGTERM or a closed stdout: stop connecting, cancel the run (the device is closed, not left behind)
  const interrupt = interruption(undefined, { output: true });
  const interruptedLine = () => {
    const why = interrupt.reason();
    if (why === 'SIGINT' || why === 'SIGTERM')
      console.error(`orrery lrc: ${parsed.command} interrupted (${why})`);
  };
  let device: DevicePort & { close(): Promise<void> };
  if (parsed.device === undefined) device = builtInDevice({ system });
  else {
    const name = parsed.device;
    const connecting = NativeDevicePort.connect(name, {
      system,
      timeout: Math.min(DEFAULT_TIMEOUT_MS, parsed.timeout),
    });
    let timer: unknown;
    const gaveUp = new Promise<'timeout' | 'interrupted'>((resolve) => {
      if (!isNever(parsed.timeout)) timer = clock.setTimeout(() => resolve('timeout'), parsed.timeout);
      void interrupt.interrupted.then(() => resolve('interrupted'));
    });
    const first = await Promise.race([
      connecting.then(
        (port) => ({ port }),
        (error: unknown) => ({ error }),
      ),
      gaveUp,
    ]);
    clock.clearTimeout(timer);
    if (typeof first === 'string' || 'error' in first) {
      interrupt.release();
      void connecting.then(
        (port) => port.close(),
        () => {},
      );
      await system.stop();
      // a name (or TANGO_HOST) that does not parse is bad usage, as `orrery tango` reports it: nothing was reached
      if (typeof first !== 'string' && first.error instanceof TangoNameError)
        return usageError('lrc', `--device: ${first.error.message}`);
      if (first === 'interrupted') interruptedLine();
      else {
        const why =
          first === 'timeout'
            ? `no answer within ${parsed.timeout} ms`
            : first.error instanceof Error
              ? first.error.message
              : String(first.error);
        console.error(`orrery lrc: cannot reach ${name}: ${why}`);
      }
      return 1;
    }
    device = first.port;
  }
  let inspector: Inspector | undefined;
  try {
    if (parsed.inspect !== undefined) {
      try {
        inspector = await startInspector(system, { port: parsed.inspect });
      } catch (err) {
        if (!(err instanceof PortInUseError)) throw err;
        console.error(err.message); // the one line: `port 7420 is in use`
        return 2;
      }
      console.error(`Orrery inspector: ${inspector.url}`);
    }
    const tty = !parsed.json && process.stdout.isTTY === true;
    let status = 'STAGING';
    let progress = 0;
    const draw = () => {
      if (!isClosed(process.stdout))
        process.stdout.write(`\r${parsed.command} ${bar(progress)} ${status.padEnd(12)}`);
    };
    const onUpdate = (u: LrcUpdate) => {
      if (u.status !== undefined) status = taskStatusName(u.status);
      if (typeof u.progress === 'number') progress = u.progress;
      if (parsed.json) console.log(JSON.stringify(describe(u)));
      else if (tty) draw();
      else console.log(plainLine(u));
    };
    const lrc = new LongRunningCommand(parsed.command, {
      system,
      clientVersions: parsed.protocol ? [parsed.protocol, parsed.protocol] : undefined,
      reconcile: parsed.reconcile,
    });
    const budget = remaining();
    const result = await lrc.run(device, {
      args: parsed.args,
      timeout: budget,
      onUpdate,
      signal: interrupt.signal,
    });
    // The run was given what was left of --timeout, so its own TimeoutError says that unrounded rest ("within
    // 297.49 ms"), a number the user never wrote: it says the user's --timeout instead.
    const ranOut = lrcErrors.timeout(parsed.command, device.name, budget, result.commandId);
    if (result.exception instanceof TimeoutError && result.exception.message === ranOut.message)
      result.exception = lrcErrors.timeout(parsed.command, device.name, parsed.timeout, result.commandId);
    interrupt.release();
    if (tty && !isClosed(process.stdout)) process.stdout.write('\n');
    interruptedLine();
    if (parsed.json) {
      const { exception, ...rest } = result;
      const err = exception && { ...exception, name: exception.name, message: exception.message };
      console.log(JSON.stringify({ result: { ...rest, exception: err ?? null } }));
    } else console.log(summary(result));
    const code = result.exception === null && result.resultCode === 0 ? 0 : 1;
    if (inspector && interrupt.reason() === undefined)
      await untilInterrupted('inspector still up: Ctrl+C to quit');
    return code;
  } finally {
    interrupt.release();
    await inspector?.close();
    await device.close();
    await system.stop();
  }
}
