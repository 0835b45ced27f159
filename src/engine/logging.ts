import { pino } from 'pino';
import { InvalidArgumentError } from '../errors.js';

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
