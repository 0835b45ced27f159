import { pino } from 'pino';
import { describeValue, InvalidArgumentError, textOf } from '../errors.js';

/**
 * The structural subset of a pino logger that Orrery uses. Pass your own `pino()` instance; Orrery never
 * creates transports. Without one, everything is silent.
 */
export interface Logger {
  child(bindings: Record<string, unknown>): Logger;
  trace(obj: unknown, msg?: string, ...args: unknown[]): void;
  debug(obj: unknown, msg?: string, ...args: unknown[]): void;
  info(obj: unknown, msg?: string, ...args: unknown[]): void;
  warn(obj: unknown, msg?: string, ...args: unknown[]): void;
  error(obj: unknown, msg?: string, ...args: unknown[]): void;
  fatal?(obj: unknown, msg?: string, ...args: unknown[]): void;
  isLevelEnabled?(level: string): boolean;
}

let silent: Logger | undefined;

/** A pino logger at level `silent`: the default for every Orrery object. */
export function silentLogger(): Logger {
  silent ??= pino({ level: 'silent' }) as unknown as Logger;
  return silent;
}

/**
 * A child logger bound to `{actor, machine}`, created on first use only: a Status that never logs costs no
 * pino child (pino children cost about 25 us each, more than the whole Status lifecycle).
 */
export class LazyActorLogger {
  #base: Logger;
  #bindings: { actor: string; machine: string };
  #child: Logger | undefined;
  constructor(base: Logger, actor: string, machine: string) {
    this.#base = base;
    this.#bindings = { actor, machine };
  }
  get logger(): Logger {
    this.#child ??= this.#base.child(this.#bindings);
    return this.#child;
  }
  enabled(level: string): boolean {
    return this.#base.isLevelEnabled ? this.#base.isLevelEnabled(level) : true;
  }
}

const LOGGER_METHODS = ['child', 'trace', 'debug', 'info', 'warn', 'error'] as const;

/** `value` if it is a Logger (a pino logger or one with the same methods), undefined if absent; else throws. */
export function checkLogger(name: string, value: unknown): Logger | undefined {
  if (value === undefined) return undefined;
  const missing =
    value === null || typeof value !== 'object'
      ? 'child'
      : LOGGER_METHODS.find((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  if (missing) {
    throw new InvalidArgumentError(
      `${name} must be a pino logger (or have its methods ${LOGGER_METHODS.join(', ')}); ${missing} is missing`,
    );
  }
  return value as Logger;
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** A property of `value` that is a string, or undefined (read under a try: a getter or a Proxy trap may throw). */
function readText(value: unknown, key: string): string | undefined {
  try {
    const text = (value as Record<string, unknown>)[key];
    return typeof text === 'string' ? text : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What can be logged of an error pino cannot serialise: its name, message and stack as text, each read safely. No
 * prototype: pino's err serializer names an object by its constructor ('Object'), one without by its `name`.
 */
function plainError(value: unknown): Record<string, string> {
  const plain: Record<string, string> = Object.create(null);
  plain.name = readText(value, 'name') ?? describeValue(value);
  plain.message = readText(value, 'message') ?? textOf(value);
  const stack = readText(value, 'stack');
  if (stack !== undefined) plain.stack = stack;
  return plain;
}

/**
 * `logger[level](fields, msg)`, never throwing. Pino's err serializer reads every enumerable property of `err`, so an
 * error with a getter that throws (or a Proxy) made the call throw; where the engine logs a crash (inside XState's
 * emit and observer loops, a compiled lifecycle's onError, a deadline's error report) that throw became an uncaught
 * exception that ended the process, and the log line and the engine event reported after it were lost. Such a
 * line is written again with `err` as plain text (name, message, stack); when even that throws (the logger itself
 * throws), nothing is logged.
 */
export function logSafely(logger: Logger, level: Level, fields: Record<string, unknown>, msg: string): void {
  try {
    logger[level]?.(fields, msg);
    return;
  } catch {
    // written again below without what pino could not serialise
  }
  try {
    logger[level]?.({ ...fields, err: plainError(fields.err) }, msg);
  } catch {
    // the logger itself throws: a log line is not worth the process
  }
}
