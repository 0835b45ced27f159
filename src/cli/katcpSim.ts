/**
 * `orrery katcp-sim [--port N] [--host H] [--interval ms]`: run the KATCP simulator (a device server whose sensors
 * change on their own, see `src/protocols/katcp/sim.ts`) until Ctrl+C (SIGINT or SIGTERM) or a client's `?halt`;
 * either way the process exits 0 by itself. Bad options exit 2 with a one-line message, as does a taken port.
 */
import { InvalidArgumentError, ListenError, PortInUseError } from '../errors.js';
import { createKatcpSimulator } from '../protocols/katcp/sim.js';
import { hostPort, isLoopback } from '../transport/address.js';
import { checkLogLevel, createCliLogger, LOG_LEVELS } from './log.js';
import { parseCommandArgs, parseDuration, parsePort, usageError } from './options.js';
import { runUntilStopped } from './simulatorRun.js';

/** KATCP's customary port. */
export const DEFAULT_KATCP_PORT = 7147;

const HELP = `usage: orrery katcp-sim [options]

Runs a KATCP v5 device server with changing sensors (temperature, counter, mode, ok, when) and the requests
?bump, ?echo, ?add a b, ?sleep s besides the standard ones. Stops on Ctrl+C or a client's ?halt.

options:
  --port <n>        TCP port (default ${DEFAULT_KATCP_PORT}; 0 for any free port); a taken port is an error (exit 2)
  --host <addr>     address to listen on (default 127.0.0.1)
  --allow-remote    allow a non-loopback --host (anyone who can reach it can ?halt the simulator)
  --interval <ms>   time between sensor updates in milliseconds (default 100)
  --log-level <l>   ${LOG_LEVELS.join('|')} (default warn)
  --json            log raw pino JSON lines
  -h, --help        show this help`;

/** Run the simulator until a signal or `?halt`; resolves the exit code. */
export async function katcpSimCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    'katcp-sim',
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'allow-remote': { type: 'boolean' },
      interval: { type: 'string' },
      'log-level': { type: 'string' },
      json: { type: 'boolean' },
    },
    HELP,
  );
  if (typeof args === 'number') return args;
  const values = args.values;
  let port: number;
  let interval: number;
  let level: string;
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  try {
    port = values.port === undefined ? DEFAULT_KATCP_PORT : parsePort('--port', values.port as string);
    interval =
      values.interval === undefined
        ? 100
        : parseDuration('--interval', values.interval as string, { unitMs: 1, unit: 'milliseconds' });
    if (interval === 0) throw new InvalidArgumentError('--interval must be more than 0 milliseconds');
    level = checkLogLevel('--log-level', (values['log-level'] as string | undefined) ?? 'warn');
    if (host === '') throw new InvalidArgumentError('--host needs an address');
    if (!isLoopback(host) && !values['allow-remote']) {
      throw new InvalidArgumentError(
        `--host ${host} is not a loopback address (add --allow-remote to allow it)`,
      );
    }
  } catch (err) {
    if (err instanceof InvalidArgumentError) return usageError('katcp-sim', err.message);
    throw err;
  }
  const logger = createCliLogger({
    level,
    json: Boolean(values.json),
    destination: process.stderr,
  });
  const sim = createKatcpSimulator({ host, port, updateIntervalMs: interval, logger });
  let address: { host: string; port: number };
  try {
    address = await sim.listen();
  } catch (err) {
    await sim.close();
    if (err instanceof PortInUseError || err instanceof ListenError) {
      console.error(`orrery katcp-sim: ${err.message}`);
      return 2;
    }
    throw err;
  }
  console.log(`katcp simulator listening on ${hostPort(address.host, address.port)}`);
  const ended = sim.waitClosed().then(() => (sim.halted ? '?halt' : 'closed'));
  return runUntilStopped('katcp', sim, logger, ended);
}
