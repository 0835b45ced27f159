/**
 * `orrery demo` (and `npm start`): the commissioning demo with its inspector, in one process. Ctrl+C (SIGINT or
 * SIGTERM) stops everything and the process exits by itself.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { type Demo, startDemo } from '../demo/scenario.js';
import type { Logger } from '../engine/logging.js';

const HELP = `usage: orrery demo [options]

Runs the built-in simulators and lifecycle actors under supervisors, and serves the inspector.

options:
  --port <n>        inspector port (default 7420; a free port if 7420 is taken; 0 for any)
  --host <addr>     inspector address (default 127.0.0.1)
  --allow-remote    allow a non-loopback --host
  --read-write      let the page send events to actors (read-only by default)
  --duration <s>    stop by itself after <s> seconds
  --log-level <l>   trace|debug|info|warn|error|silent (default info)
  --json            log pino JSON lines instead of the readable format
  -h, --help        show this help`;

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'actor', 'machine', 'err']);

/** A small readable formatter for pino lines (pino-pretty is not a dependency). */
export function formatLogLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch {
    return line;
  }
  const time = new Date(Number(o.time) || Date.now()).toISOString().slice(11, 23);
  const who = o.actor ? ` [${String(o.actor)}]` : '';
  const extras = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const err = o.err as { message?: string; type?: string } | undefined;
  if (err) extras.push(`err=${err.type ?? 'Error'}: ${err.message ?? ''}`);
  return `${time} ${LEVELS[Number(o.level)] ?? o.level}${who} ${String(o.msg ?? '')}${extras.length ? `  ${extras.join(' ')}` : ''}\n`;
}

function makeLogger(level: string, json: boolean): Logger {
  const out = json
    ? { write: (line: string) => void process.stdout.write(line) }
    : { write: (line: string) => void process.stdout.write(formatLogLine(line)) };
  return pino({ level, base: undefined }, out) as unknown as Logger;
}

export async function demoCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'allow-remote': { type: 'boolean' },
        'read-write': { type: 'boolean' },
        duration: { type: 'string' },
        'log-level': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`orrery demo: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    console.error(`orrery demo: invalid --port '${values.port}'`);
    return 2;
  }
  if (duration !== undefined && !(duration > 0)) {
    console.error(`orrery demo: invalid --duration '${values.duration}'`);
    return 2;
  }
  const logger = makeLogger(String(values['log-level'] ?? 'info'), Boolean(values.json));
  const common = {
    logger,
    host: values.host as string | undefined,
    allowRemote: Boolean(values['allow-remote']),
    readOnly: !values['read-write'],
  };

  let demo: Demo;
  try {
    demo = await startDemo({ ...common, port: port ?? 7420 });
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE' || port !== undefined) throw err;
    demo = await startDemo({ ...common, port: 0 });
  }
  console.log(`Orrery inspector: ${demo.url}`);
  console.log(`simulators: ${demo.simulators.join(', ') || 'none'} · Ctrl+C to stop`);

  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (why: string) => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      clearTimeout(timer);
      logger.info({ reason: why }, 'stopping the demo');
      demo.stop().then(
        () => resolve(0),
        (err) => {
          console.error(`orrery demo: stop failed: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    const onSigint = () => finish('SIGINT');
    const onSigterm = () => finish('SIGTERM');
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigterm);
    if (duration !== undefined) timer = setTimeout(() => finish('duration'), duration * 1000);
  });
}
