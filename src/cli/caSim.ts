/**
 * `orrery ca-sim [--port N] [--host H] [--interval ms] [--pvs FILE.json] [--prefix P]`: run the Channel Access
 * simulator (an IOC with a random-walk PV, see `src/protocols/ca/sim.ts`) until Ctrl+C (SIGINT or SIGTERM), then
 * exit 0. Loopback only unless `--allow-remote`. Bad options, a bad PV file or a taken port exit 2 with one line.
 */
import { InvalidArgumentError, ListenError, PortInUseError } from '../errors.js';
import { serverConfigFromEnv } from '../protocols/ca/addressList.js';
import { CaValueError } from '../protocols/ca/errors.js';
import { loadPvFile, type PvDefinition } from '../protocols/ca/server.js';
import { CaSimulator, checkPrefix } from '../protocols/ca/sim.js';
import { hostPort, isLoopback } from '../transport/address.js';
import { checkLogLevel, createCliLogger, LOG_LEVELS } from './log.js';
import { parseCommandArgs, parseDuration, parsePort, usageError } from './options.js';
import { runUntilStopped } from './simulatorRun.js';

const HELP = `usage: orrery ca-sim [options]

Runs a Channel Access server (an IOC simulator): <prefix>x is a random walk (mm), <prefix>counter counts the
updates, <prefix>waveform is a moving sine; <prefix>setpoint completes a put after --put-delay, then
<prefix>readback follows; also <prefix>step, interval, mode (enum), message (string), name (char array), serial
(read-only). Clients: EPICS_CA_ADDR_LIST=127.0.0.1:<port> EPICS_CA_AUTO_ADDR_LIST=NO. Stops on Ctrl+C.

options:
  --port <n>         UDP search and TCP port (default EPICS_CAS_SERVER_PORT, EPICS_CA_SERVER_PORT or 5064;
                     0 for any free port); a taken port is an error (exit 2)
  --host <addr>      interface to bind (default EPICS_CAS_INTF_ADDR_LIST, else 127.0.0.1)
  --allow-remote     allow a non-loopback interface (anyone who can reach it can write the PVs)
  --interval <ms>    time between updates in milliseconds (default 100)
  --put-delay <ms>   how long a put to <prefix>setpoint takes in milliseconds (default 1000)
  --prefix <p>       PV name prefix (default sim:)
  --pvs <file>       more PVs from a JSON file: [{"name","type","value",...}] (see the README)
  --log-level <l>    ${LOG_LEVELS.join('|')} (default warn)
  --json             log raw pino JSON lines
  -h, --help         show this help`;

/** Run the simulator until a signal; resolves the exit code. */
export async function caSimCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    'ca-sim',
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'allow-remote': { type: 'boolean' },
      interval: { type: 'string' },
      'put-delay': { type: 'string' },
      prefix: { type: 'string' },
      pvs: { type: 'string' },
      'log-level': { type: 'string' },
      json: { type: 'boolean' },
    },
    HELP,
  );
  if (typeof args === 'number') return args;
  const values = args.values;
  let port: number | undefined;
  let interval: number;
  let putDelay: number;
  let level: string;
  let interfaces: string[];
  let extra: PvDefinition[] = [];
  const prefix = (values.prefix as string | undefined) ?? 'sim:';
  try {
    // A prefix that makes a PV name no client can search for (not latin-1, too long) is bad usage: the
    // simulator would otherwise serve PVs nobody can find.
    checkPrefix(prefix, '--prefix');
    port = values.port === undefined ? undefined : parsePort('--port', values.port as string);
    const ms = { unitMs: 1, unit: 'milliseconds' };
    interval =
      values.interval === undefined ? 100 : parseDuration('--interval', values.interval as string, ms);
    if (interval === 0) throw new InvalidArgumentError('--interval must be more than 0 milliseconds');
    putDelay =
      values['put-delay'] === undefined
        ? 1000
        : parseDuration('--put-delay', values['put-delay'] as string, ms);
    if (!Number.isFinite(putDelay)) throw new InvalidArgumentError('--put-delay must be finite');
    level = checkLogLevel('--log-level', (values['log-level'] as string | undefined) ?? 'warn');
    const host = values.host as string | undefined;
    if (host === '') throw new InvalidArgumentError('--host needs an address');
    // the server's own default when --host is not given: EPICS_CAS_INTF_ADDR_LIST, else loopback
    interfaces = host !== undefined ? [host] : [...(serverConfigFromEnv().interfaces ?? ['127.0.0.1'])];
    const remote = interfaces.find((h) => !isLoopback(h));
    if (remote !== undefined && !values['allow-remote']) {
      throw new InvalidArgumentError(`${remote} is not a loopback address (add --allow-remote to allow it)`);
    }
    if (values.pvs !== undefined) extra = await loadPvFile(values.pvs as string);
  } catch (err) {
    if (err instanceof InvalidArgumentError) return usageError('ca-sim', err.message);
    throw err;
  }
  const logger = createCliLogger({ level, json: Boolean(values.json), destination: process.stderr });
  let sim: CaSimulator;
  try {
    sim = await CaSimulator.start({
      port,
      interfaces,
      prefix,
      updateIntervalMs: interval,
      putDelayMs: putDelay,
      pvs: extra,
      logger,
    });
  } catch (err) {
    if (err instanceof PortInUseError || err instanceof ListenError || err instanceof CaValueError) {
      console.error(`orrery ca-sim: ${err.message}`);
      return 2;
    }
    throw err;
  }
  console.log(`ca simulator listening on ${hostPort(sim.server.host, sim.port)}`);
  console.log(`PVs: ${sim.server.pvNames.join(' ')}`);
  return runUntilStopped('ca', sim, logger);
}
