#!/usr/bin/env node
/**
 * `orrery <command>`: one file per subcommand, dispatched here. Subcommand modules are loaded on demand so a
 * command starts without loading the others. A standard output whose reader goes away (`orrery ... | head -1`)
 * stops the command (see interrupt.ts) and is reported here in one line, exit 1 (or the command's own non-zero
 * code).
 */
import { outputClosed, outputClosedReason, watchOutput } from './interrupt.js';

const commands: Record<
  string,
  { summary: string; load: () => Promise<(argv: string[]) => Promise<number>> }
> = {
  demo: {
    summary: 'run the built-in simulators and lifecycles under a supervisor, with the inspector',
    load: async () => (await import('./demo.js')).demoCommand,
  },
  charts: {
    summary:
      'draw the statechart of your machine: orrery charts <module>#<export> [--out dir] [--format svg|mmd]',
    load: async () => (await import('./charts.js')).chartsCommand,
  },
  lrc: {
    summary: 'invoke a long running command on the built-in SKA device simulator',
    load: async () => (await import('./lrc.js')).lrcCommand,
  },
  katcp: {
    summary:
      'send a KATCP request or watch sensors: orrery katcp HOST:PORT ?request [args] | --watch SENSOR...',
    load: async () => (await import('./katcp.js')).katcpCommand,
  },
  ca: {
    summary: 'Channel Access like caproto-get/put/monitor: orrery ca get PV... | put PV DATA | monitor PV...',
    load: async () => (await import('./ca.js')).caCommand,
  },
  tango: {
    summary:
      'a Tango device, natively: orrery tango DEVICE COMMAND [ARG] | ATTRIBUTE [VALUE] | --watch ATTRIBUTE...',
    load: async () => (await import('./tango.js')).tangoCommand,
  },
  'katcp-sim': {
    summary: 'run a KATCP device simulator with changing sensors: orrery katcp-sim [--port N] [--host H]',
    load: async () => (await import('./katcpSim.js')).katcpSimCommand,
  },
  'ca-sim': {
    summary:
      'run a Channel Access server (IOC simulator) with a random-walk PV: orrery ca-sim [--port N] [--pvs FILE]',
    load: async () => (await import('./caSim.js')).caSimCommand,
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return [
    'usage: orrery <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'orrery <command> --help for options',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`orrery: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return (await command.load())(rest);
}

/** The one line for a stdout closed under the command (during its run, or while its last output drains). */
function outputClosedLine(): void {
  const [name] = process.argv.slice(2);
  const known = name !== undefined && name in commands;
  console.error(
    `orrery${known ? ` ${name}` : ''}: standard output closed (${outputClosedReason()}); stopped`,
  );
}

watchOutput();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    const closed = outputClosed();
    const onClosed = () => {
      outputClosedLine();
      if (process.exitCode === 0) process.exitCode = 1;
    };
    // output the command wrote may still be draining into the pipe, and fail once its reader is gone
    if (closed.aborted) onClosed();
    else closed.addEventListener('abort', onClosed, { once: true });
  },
  (err) => {
    console.error(err instanceof Error ? `orrery: ${err.message}` : err);
    process.exitCode = 1;
  },
);
