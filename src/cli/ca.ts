/**
 * `orrery ca get|put|monitor`: caproto-get, caproto-put and caproto-monitor over Orrery's Channel Access client
 * (the sync API on a Context of the command's own, disconnected at the end). Their flags where they make sense,
 * their output lines (see caFormat.ts), plus `--json` (one object per response).
 *
 * Differences from caproto, on purpose: durations are milliseconds (`--timeout 2000`, `--duration 5000`); errors
 * go to stderr with exit code 1 (caproto prints them to stdout and exits 0); usage errors exit 2; the PVs of a
 * `get` are read concurrently (printed in order); `-w` (seconds), `--no-repeater`, `--no-color`, `--file`,
 * `--array-pad`, `-s`, `-V` are not offered (there is no repeater to spawn).
 *
 * Exit codes: 0 every operation succeeded (a monitor ended by Ctrl+C, `--duration` or `--count`); 1 a PV not
 * found or not answering within `--timeout`, a refused or failed request, a monitor whose callback failed;
 * 2 bad usage.
 */
import type { Logger } from '../engine/logging.js';
import { InvalidArgumentError } from '../errors.js';
import type { CaEnv } from '../protocols/ca/addressList.js';
import { block, subscribe } from '../protocols/ca/block.js';
import { AccessRights, Eca } from '../protocols/ca/constants.js';
import { Context } from '../protocols/ca/context.js';
import { CaError, CaStatusError, CaTimeoutError, CaValueError } from '../protocols/ca/errors.js';
import { read, readWriteRead } from '../protocols/ca/sync.js';
import { type CaArgs, HELP, listTypes, parseCaArgs, USAGE } from './caArgs.js';
import {
  type DataFormat,
  lineTokens,
  PyTimeDelta,
  pyFormat,
  type ResponseLike,
  responseJson,
} from './caFormat.js';
import { interruption, stderrLine, stdoutLine } from './interrupt.js';
import { createCliLogger } from './log.js';
import { streamingStdout } from './streamingOutput.js';

export { literal, parseCaArgs } from './caArgs.js';

/** Where the command writes, its environment, and what ends a monitor (tests run it in-process). */
export interface CaCommandIO {
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
  /** Ends a monitor as Ctrl+C does. */
  signal?: AbortSignal;
  /** EPICS_CA_* variables (default process.env). */
  env?: CaEnv;
}

/**
 * The template of one line (caproto's defaults, or --format), with -F's separator between every two adjacent
 * fields (`{a} {b}` -> `{a}SEP{b}`), as caproto's format_str_adjust puts it (a brace in SEP is text here).
 */
function template(a: CaArgs, count: number): { text: string; fmt: DataFormat } {
  const t = baseTemplate(a, count);
  const sep = a.fmt.separator;
  if (sep === undefined) return t;
  const between = `}${sep.replace(/[{}]/g, '$&$&')}{`;
  return { ...t, text: t.text.replace(/\} *\{/g, () => between) };
}

function baseTemplate(a: CaArgs, count: number): { text: string; fmt: DataFormat } {
  const fmt: DataFormat = { ...a.fmt };
  if (a.format !== undefined) return { text: a.format, fmt };
  const sep = a.fmt.separator;
  const join = (fields: string[], dflt: string) => fields.join(sep ?? dflt);
  if (a.terse) {
    if (count === 1) fmt.noBrackets = true;
    return { text: '{response.data}', fmt };
  }
  if (a.wide)
    return {
      text: join(['{pv_name}', '{timestamp}', '{response.data}', '{response.status.name}'], ' '),
      fmt,
    };
  if (a.sub === 'put') return { text: `{which} : ${join(['{pv_name: <40}', '{response.data}'], '  ')}`, fmt };
  if (a.sub === 'monitor')
    return {
      text: join(
        [
          sep === undefined ? '{pv_name: <40}' : '{pv_name}',
          '{timestamp:%Y-%m-%d %H:%M:%S.%f} {response.data}',
        ],
        '  ',
      ),
      fmt,
    };
  return { text: join([sep === undefined ? '{pv_name: <40}' : '{pv_name}', '{response.data}'], '  '), fmt };
}

function line(a: CaArgs, pv: string, r: ResponseLike, extra: Record<string, unknown> = {}): string {
  if (a.json) return responseJson(pv, r, extra);
  const { text, fmt } = template(a, r.data.length);
  return pyFormat(text, lineTokens(pv, r, fmt, extra));
}

/** One line for an error (caproto prints `str(exc)`). */
function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `orrery ca`: the exit code (0 ok, 1 failure, 2 bad usage). `io` lets a caller run it in-process. */
export async function caCommand(argv: string[], io: CaCommandIO = {}): Promise<number> {
  const out = io.stdout ?? stdoutLine;
  const err = io.stderr ?? stderrLine;
  const sub = argv[0];
  const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    out(`${USAGE}\n\n${HELP.get}\n\n${HELP.put}\n\n${HELP.monitor}`);
    return sub === undefined ? 2 : 0;
  }
  if (
    (sub === 'get' || sub === 'put' || sub === 'monitor') &&
    (options.includes('--help') || options.includes('-h'))
  ) {
    out(HELP[sub]);
    return 0;
  }
  let a: CaArgs;
  try {
    a = parseCaArgs(argv);
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    err(
      `orrery ca${sub === 'get' || sub === 'put' || sub === 'monitor' ? ` ${sub}` : ''}: ${e.message}; see 'orrery ca ${['get', 'put', 'monitor'].includes(sub) ? `${sub} ` : ''}--help'`,
    );
    return 2;
  }
  if (a.listTypes) {
    out(listTypes());
    return 0;
  }
  const logger: Logger | undefined =
    a.verbose > 0
      ? createCliLogger({
          level: a.verbose > 1 ? 'trace' : 'debug',
          json: a.json,
          destination: process.stderr,
        })
      : undefined;
  let context: Context;
  try {
    context = new Context({ env: io.env ?? process.env, timeout: a.timeout, logger });
  } catch (e) {
    // a malformed EPICS_CA_* variable: bad usage (exit 2), as `orrery ca-sim` reports EPICS_CAS_*
    if (!(e instanceof InvalidArgumentError || e instanceof CaValueError)) throw e;
    err(`orrery ca ${a.sub}: ${errorText(e)}; see 'orrery ca ${a.sub} --help'`);
    return 2;
  }
  const fail = (e: unknown): number => {
    if (
      e instanceof CaError ||
      e instanceof CaTimeoutError ||
      e instanceof CaValueError ||
      e instanceof InvalidArgumentError
    ) {
      err(`orrery ca ${a.sub}: ${errorText(e)}`);
      return 1;
    }
    throw e;
  };
  try {
    if (a.sub === 'get') return await runGet(a, context, out, fail);
    if (a.sub === 'put') return await runPut(a, context, out, fail);
    // a monitor streams: behind a slow reader its lines are dropped past a bound (streamingOutput.ts)
    const lines = io.stdout ?? streamingStdout('ca monitor').line;
    return await runMonitor(a, context, io.signal, io.stdout === undefined, lines, fail);
  } catch (e) {
    // a `--format` field a response turned out not to have (`{response.metadata.units}` of a type without units):
    // one line, exit 1, as caproto's AttributeError ends it
    return fail(e);
  } finally {
    await context.disconnect();
  }
}

async function runGet(
  a: CaArgs,
  context: Context,
  out: (l: string) => void,
  fail: (e: unknown) => number,
): Promise<number> {
  const dataType = a.wide ? 'time' : a.dataType;
  const reads = a.pvs.map((pv) =>
    read(pv, {
      context,
      timeout: a.timeout,
      priority: a.priority,
      dataType,
      dataCount: a.dataCount,
      forceIntEnums: a.forceIntEnums,
    }).then(
      (r) => ({ r }),
      (e: unknown) => ({ e }),
    ),
  );
  let code = 0;
  for (let i = 0; i < reads.length; i++) {
    const result = await reads[i];
    if ('e' in result) code = Math.max(code, fail(result.e));
    else out(line(a, a.pvs[i], result.r));
  }
  return code;
}

async function runPut(
  a: CaArgs,
  context: Context,
  out: (l: string) => void,
  fail: (e: unknown) => number,
): Promise<number> {
  const pv = a.pvs[0];
  try {
    // a plain WRITE (no -c) gets no answer: a PV the server does not let us write would print Old/New and exit 0
    const started = Date.now();
    const channel = context.getPv(pv, { priority: a.priority });
    await channel.waitForConnection({ timeout: a.timeout });
    if ((channel.accessRights & AccessRights.WRITE) === 0)
      throw new CaStatusError(Eca.NOWTACCESS, `write to ${pv}`);
    const [initial, , final] = await readWriteRead(pv, a.data, {
      context,
      timeout: Math.max(0, a.timeout - (Date.now() - started)),
      priority: a.priority,
      notify: a.notify,
      forceIntEnums: a.forceIntEnums,
      readDataType: a.wide ? 'time' : undefined,
    });
    out(line(a, pv, initial, { which: 'Old' }));
    out(line(a, pv, final, { which: 'New' }));
    return 0;
  } catch (e) {
    return fail(e);
  }
}

async function runMonitor(
  a: CaArgs,
  context: Context,
  signal: AbortSignal | undefined,
  toStdout: boolean,
  out: (l: string) => void,
  fail: (e: unknown) => number,
): Promise<number> {
  // Ctrl+C, SIGTERM, `signal`, or (writing to the real stdout) its reader going away
  const stop = interruption(signal, { output: toStdout });
  let count = 0;
  let previous: number | undefined;
  const subs = a.pvs.map((pv) =>
    subscribe(pv, { priority: a.priority, dataType: a.dataType, dataCount: a.dataCount, mask: a.mask }),
  );
  for (const s of subs) {
    s.addCallback((_sub, r) => {
      count++;
      const t = r.metadata.timestamp;
      const extra: Record<string, unknown> = { callback_count: count };
      if (t !== undefined) {
        extra.timedelta = new PyTimeDelta(previous === undefined ? Date.now() / 1000 - t : t - previous);
        previous = t;
      }
      out(line(a, s.pvName, r, a.json ? { callback_count: count } : extra));
      if (a.count !== undefined && count >= a.count) running.interrupt();
    });
  }
  const running = block(subs, {
    context,
    timeout: a.timeout,
    duration: a.duration,
    forceIntEnums: a.forceIntEnums,
    signal: stop.signal,
  });
  try {
    await running;
    return 0;
  } catch (e) {
    return fail(e);
  } finally {
    stop.release();
  }
}
