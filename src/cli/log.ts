/**
 * The CLI's pino logger: raw pino JSON lines with `--json`, otherwise lines formatted by pino-pretty, the
 * ecosystem's formatter, in-process and synchronously (its `prettyFactory`, no worker thread), so lines keep
 * their order with the CLI's own output and nothing is pending when the process exits. Colour only on a TTY.
 *
 * Readable lines are one per record: `[12:00:01.250] INFO: [actor] message (Type: reason) {"key":"value"}`. An
 * error's stack is shown (pino-pretty's error block) only at levels trace and debug; `--json` always has it.
 */
import { levels, pino } from 'pino';
import { prettyFactory } from 'pino-pretty';
import type { Logger } from '../engine/logging.js';
import { InvalidArgumentError } from '../errors.js';
import { isClosed } from './interrupt.js';

/** Every level `--log-level` accepts, most verbose first. */
export const LOG_LEVELS: readonly string[] = [
  ...Object.entries(levels.values)
    .sort(([, a], [, b]) => a - b)
    .map(([name]) => name),
  'silent',
];

/** `raw` if it is a pino level, else an InvalidArgumentError listing the valid ones. */
export function checkLogLevel(option: string, raw: string): string {
  if (LOG_LEVELS.includes(raw)) return raw;
  throw new InvalidArgumentError(
    `${option} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw)}`,
  );
}

interface SerializedError {
  type?: string;
  message?: string;
}

/** `Type: message` of a pino-serialized error, or the value itself when a string was logged as `err`. */
function errorText(err: unknown): string {
  if (err && typeof err === 'object') {
    const { type, message } = err as SerializedError;
    return `${type ?? 'Error'}: ${message ?? ''}`;
  }
  return String(err);
}

/** A line formatter: a pino JSON line in, a readable line out (pino-pretty). */
export function prettyLines(options: { level: string; colorize: boolean }): (line: string) => string {
  const stacks = options.level === 'trace' || options.level === 'debug';
  return prettyFactory({
    colorize: options.colorize,
    translateTime: 'HH:MM:ss.l',
    singleLine: true,
    ignore: stacks ? 'actor,machine' : 'actor,machine,err',
    messageFormat: (log: Record<string, unknown>, messageKey: string) => {
      const who = log.actor === undefined ? '' : `[${String(log.actor)}] `;
      const msg = String(log[messageKey] ?? '');
      if (stacks || log.err === undefined) return `${who}${msg}`;
      const err = errorText(log.err);
      // pino's `logger.error(err)` makes the error's message the record's message: do not print it twice
      return `${who}${err.endsWith(`: ${msg}`) ? err : `${msg} (${err})`}`;
    },
  }) as (line: string) => string;
}

export interface CliLoggerOptions {
  level: string;
  /** Raw pino JSON lines. */
  json: boolean;
  /** Where lines go (default process.stdout); colour follows its `isTTY`. */
  destination?: { write(text: string): unknown; isTTY?: boolean };
}

/** The logger of a CLI command (see the module comment). `level` must have passed `checkLogLevel`. */
export function createCliLogger(options: CliLoggerOptions): Logger {
  const out = options.destination ?? process.stdout;
  const format = options.json
    ? undefined
    : prettyLines({ level: options.level, colorize: out.isTTY === true });
  // nothing once the destination is closed (stdout whose reader went away: see interrupt.ts)
  const stream = {
    write: (line: string) => {
      if (!isClosed(out)) out.write(format ? format(line) : line);
    },
  };
  return pino({ level: options.level, base: undefined }, stream) as unknown as Logger;
}
