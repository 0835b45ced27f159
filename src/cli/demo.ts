/**
 * `orrery demo` (and `npm start`): the commissioning demo with its inspector, in one process. Ctrl+C (SIGINT or
 * SIGTERM), the end of --duration or a closed stdout (its logs' reader went away) stops everything and the process
 * exits by itself.
 */
import { startDemo } from '../demo/scenario.js';
import { InvalidArgumentError, PortInUseError } from '../errors.js';
import { isLoopback } from '../transport/address.js';
import { interruption } from './interrupt.js';
import { checkLogLevel, createCliLogger, LOG_LEVELS } from './log.js';
import { parseCommandArgs, parseDuration, parsePort, usageError } from './options.js';
import { streamingStdout } from './streamingOutput.js';

/** The inspector's port when --port is not given. */
export const DEFAULT_PORT = 7420;

const HELP = `usage: orrery demo [options]

Runs the built-in simulators and lifecycle actors under supervisors, and serves the inspector.

options:
  --port <n>        inspector port (default ${DEFAULT_PORT}, or a free port if it is taken; 0 for any free
                    port); a --port that is taken is an error (exit 2)
  --host <addr>     inspector address (default 127.0.0.1)
  --allow-remote    allow a non-loopback --host
  --read-write      let the page send events to actors (read-only by default)
  --duration <s>    stop by itself after <s> seconds (a decimal number, 0 or more)
  --log-level <l>   ${LOG_LEVELS.join('|')} (default info)
  --json            log raw pino JSON lines instead of pino-pretty's readable lines
  -h, --help        show this help`;

export async function demoCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    'demo',
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'allow-remote': { type: 'boolean' },
      'read-write': { type: 'boolean' },
      duration: { type: 'string' },
      'log-level': { type: 'string' },
      json: { type: 'boolean' },
    },
    HELP,
  );
  if (typeof args === 'number') return args;
  const values = args.values;
  let port: number | undefined;
  let durationMs: number | undefined;
  let level: string;
  try {
    port = values.port === undefined ? undefined : parsePort('--port', values.port as string);
    durationMs =
      values.duration === undefined
        ? undefined
        : parseDuration('--duration', values.duration as string, { unitMs: 1000, unit: 'seconds' });
    level = checkLogLevel('--log-level', (values['log-level'] as string | undefined) ?? 'info');
    // refused here in the CLI's words, as katcp-sim does (startInspector's message names its allowRemote option)
    const host = values.host as string | undefined;
    if (host === '') throw new InvalidArgumentError('--host needs an address');
    if (host !== undefined && !isLoopback(host) && !values['allow-remote']) {
      throw new InvalidArgumentError(
        `--host ${host} is not a loopback address (add --allow-remote to allow it)`,
      );
    }
  } catch (err) {
    if (err instanceof InvalidArgumentError) return usageError('demo', err.message);
    throw err;
  }
  // the demo's log lines stream for as long as it runs: behind a slow reader they are dropped past a bound
  const logger = createCliLogger({ level, json: Boolean(values.json), destination: streamingStdout('demo') });

  let demo: Awaited<ReturnType<typeof startDemo>>;
  try {
    demo = await startDemo({
      logger,
      host: values.host as string | undefined,
      allowRemote: Boolean(values['allow-remote']),
      readOnly: !values['read-write'],
      // `npm start` (no --port) must come up even when another program holds the default port
      port: port ?? DEFAULT_PORT,
      fallbackToFreePort: port === undefined,
    });
  } catch (err) {
    if (err instanceof InvalidArgumentError) return usageError('demo', err.message); // e.g. a --host it refuses
    if (!(err instanceof PortInUseError)) throw err;
    console.error(err.message); // the one line: `port 7420 is in use`
    return 2;
  }
  if (demo.portInUse)
    console.error(`${demo.portInUse.message}: serving the inspector on a free port instead`);
  console.log(`Orrery inspector: ${demo.url}`);
  console.log(`simulators: ${demo.simulators.join(', ') || 'none'} · Ctrl+C to stop`);

  return new Promise<number>((resolve) => {
    const clock = demo.system.clock;
    let timer: unknown;
    const interrupt = interruption(undefined, { output: true });
    const finish = (why: string) => {
      interrupt.release();
      clock.clearTimeout(timer);
      logger.info({ reason: why }, 'stopping the demo');
      demo.stop().then(
        () => resolve(0),
        (err) => {
          console.error(`orrery demo: stop failed: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    void interrupt.interrupted.then(finish);
    // the system clock: a --duration past Node's timer limit (about 24.8 days) still waits that long
    if (durationMs !== undefined) timer = clock.setTimeout(() => finish('duration'), durationMs);
  });
}
