/**
 * `orrery lrc <command> [args] [--json] [--protocol 1|2] [--timeout ms]`: run a long running command on the
 * built-in SKA device simulator (commands On, Off, Standby, Scan, Configure, Reset, Abort). `args` is JSON when it
 * parses, a string otherwise. On a TTY a live progress bar, otherwise one line per update; `--json` prints one JSON
 * object per update and a final `{"result": ...}` line. Exit code 0 when the command completed OK, 1 otherwise.
 */
import { LongRunningCommand, type LrcResult } from '../api/longRunningCommand.js';
import { type LrcUpdate, resultCodeName, taskStatusName } from '../api/lrc.js';
import { builtInDevice } from '../demo/lrcDemo.js';
import { createSystem } from '../engine/system.js';
import { DevFailed } from '../errors.js';
import { startInspector } from '../inspector/server.js';

const HELP = `usage: orrery lrc <command> [args] [--json] [--protocol 1|2] [--timeout ms] [--inspect [port]]

Runs a long running command on the built-in SKA device simulator 'sim/ska/1' (state OFF at start).
commands: On, Off, Standby, Scan, Configure ('{"fail": true}' makes it fail), Reset, Abort
  --json        one JSON object per update, then {"result": ...}
  --protocol    LRC protocol version to use (default: negotiated, 2)
  --timeout     give up after this many milliseconds (default 60000)
  --inspect     serve the inspector on 127.0.0.1 (port 0 = any free port), print its URL on stderr, and keep it
                up after the command until Ctrl+C`;

interface Parsed {
  command: string;
  args?: unknown;
  json: boolean;
  protocol?: 1 | 2;
  timeout: number;
  inspect?: number;
}

function parse(argv: string[]): Parsed | string {
  const rest: string[] = [];
  const out: Partial<Parsed> = { json: false, timeout: 60_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') out.json = true;
    else if (a === '--protocol') {
      const v = Number(argv[++i]);
      if (v !== 1 && v !== 2) return '--protocol must be 1 or 2';
      out.protocol = v;
    } else if (a === '--timeout') {
      const v = Number(argv[++i]);
      if (!(v >= 0)) return '--timeout must be a number of milliseconds';
      out.timeout = v;
    } else if (a === '--inspect') {
      const next = argv[i + 1];
      out.inspect = next !== undefined && /^\d+$/.test(next) ? Number(argv[++i]) : 0;
    } else if (a.startsWith('--')) return `unknown option ${a}`;
    else rest.push(a);
  }
  if (rest.length < 1 || rest.length > 2) return 'expected a command and at most one argument';
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

function untilInterrupted(message: string): Promise<void> {
  console.error(message);
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

export async function lrcCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const parsed = parse(argv);
  if (typeof parsed === 'string') {
    console.error(`orrery lrc: ${parsed}\n\n${HELP}`);
    return 2;
  }
  const system = createSystem();
  const device = builtInDevice({ system });
  const inspector =
    parsed.inspect === undefined ? undefined : await startInspector(system, { port: parsed.inspect });
  if (inspector) console.error(`Orrery inspector: ${inspector.url}`);
  const tty = !parsed.json && process.stdout.isTTY === true;
  let status = 'STAGING';
  let progress = 0;
  const draw = () => process.stdout.write(`\r${parsed.command} ${bar(progress)} ${status.padEnd(12)}`);
  const onUpdate = (u: LrcUpdate) => {
    if (u.status !== undefined) status = taskStatusName(u.status);
    if (typeof u.progress === 'number') progress = u.progress;
    if (parsed.json) console.log(JSON.stringify(describe(u)));
    else if (tty) draw();
    else console.log(JSON.stringify(describe(u)).replace(/^\{|\}$/g, ''));
  };
  try {
    const lrc = new LongRunningCommand(parsed.command, {
      system,
      clientVersions: parsed.protocol ? [parsed.protocol, parsed.protocol] : undefined,
    });
    const result = await lrc.run(device, { args: parsed.args, timeout: parsed.timeout, onUpdate });
    if (tty) process.stdout.write('\n');
    if (parsed.json) {
      const { exception, ...rest } = result;
      const err = exception && { ...exception, name: exception.name, message: exception.message };
      console.log(JSON.stringify({ result: { ...rest, exception: err ?? null } }));
    } else console.log(summary(result));
    const code = result.exception === null && result.resultCode === 0 ? 0 : 1;
    if (inspector) await untilInterrupted('inspector still up: Ctrl+C to quit');
    return code;
  } finally {
    await inspector?.close();
    await device.close();
    await system.stop();
  }
}
