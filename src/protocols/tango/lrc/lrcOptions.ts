/**
 * The arguments of the LRC facades (`invokeLrc`, `LongRunningCommand`): their options and the checks every one of
 * them goes through before anything is spawned (InvalidArgumentError naming the facade, the option and what it
 * got; durations through `checkDuration`, `signal` and `system` through the core facades' checks).
 */
import { checkDuration } from '../../../../machines/core/duration.js';
import { checkSignal, checkSystem } from '../../../api/lifecycle.js';
import type { Logger } from '../../../engine/logging.js';
import type { OrrerySystem } from '../../../engine/system.js';
import { InvalidArgumentError } from '../../../errors.js';
import type { DevicePort } from '../port.js';
import { CLIENT_PROTOCOL_VERSIONS, describeValue } from '../wire.js';

export interface InvokeLrcOptions {
  /** pino-compatible logger; the system's (bound to the actor) otherwise. */
  logger?: Logger;
  /** Aborting unsubscribes (before submission, invokeLrc rejects with CancelledError). Does not abort the command. */
  signal?: AbortSignal;
  /** Actor system to run in; the process default otherwise. */
  system?: OrrerySystem;
  /** Protocol v1: deliver repeated statuses as upstream does. */
  parity?: boolean;
  /**
   * Milliseconds (not seconds: `timeout: 5` is 5 ms) the whole call (negotiation, submission and monitoring) may
   * take; at its deadline (this call + timeout) it gives up with a TimeoutError. The same `timeout` as
   * `LongRunningCommand.run`'s. Absent, null or Infinity: no deadline (no timer armed). Checked like every Orrery
   * duration (`checkDuration`).
   */
  timeout?: number | null;
  /**
   * Protocol v1: milliseconds the result read after a terminal status may take (absent or null: the default
   * `DEFAULT_RESULT_TIMEOUT_MS`, 3000, Tango's client timeout; Infinity: no bound). When it expires the callback gets an `{error}` update
   * and the terminal status, and the outcome's `error` is a TimeoutError.
   */
  resultTimeout?: number | null;
  /**
   * After an error event while monitoring (events may have been lost), or as monitoring starts when one came before
   * the command id was known, ask the device `CheckLongRunningCommandStatus(commandId)`: a terminal status not yet delivered is delivered (v1: after reading
   * the result) and the call finishes; NOT_FOUND (the device no longer knows the command it accepted: it restarted,
   * or forgot the command once it ended) ends the call with outcome `lost`, an `{error}` update and a DevFailed
   * (`SKA_CommandNotFound`) as the outcome's error; a non-terminal status: monitoring goes on; a failed check is an
   * `{error}` update, and the check is made again 1 s later, then 2, 4, ... up to 30 s apart, until the device
   * answers (a device down for a while: the call still learns how its command ended). Default false (upstream does
   * not check).
   */
  reconcile?: boolean;
  /**
   * The client's supported protocol range, default (1, 2); e.g. (1, 1) forces protocol v1. Within (1, 2): the
   * client speaks no other protocol.
   */
  clientVersions?: readonly [number, number];
  /**
   * 'perCall' (default, as upstream's `invoke_lrc`): read the device's protocol versions on every call.
   * 'cached': reuse them from an earlier call on the same DevicePort (as `connect_lrc_interface` does); the cache
   * entry is dropped on a transport error or an error event, and by `forgetLrcNegotiation(device)`.
   */
  negotiation?: 'perCall' | 'cached';
}

const INVOKE_OPTIONS = new Set([
  'logger',
  'signal',
  'system',
  'parity',
  'timeout',
  'resultTimeout',
  'reconcile',
  'clientVersions',
  'negotiation',
]);
/** Options of the other LRC facade, named in the error when given to this one. */
const HINTS: Record<string, string> = {
  deadline: "'timeout' (the call's duration in ms; its deadline is the moment the timeout falls due)",
};

/** The checked options of one call (what the machine is given). */
export interface CheckedLrcOptions {
  logger?: Logger;
  signal?: AbortSignal;
  system?: OrrerySystem;
  parity?: boolean;
  timeout: number | null;
  resultTimeout: number | null;
  reconcile?: boolean;
  clientVersions?: readonly [number, number];
  negotiation?: 'perCall' | 'cached';
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/**
 * Check every option of an LRC call (`who` names the facade in messages): InvalidArgumentError for an unknown
 * key or a value of the wrong type; durations through `checkDuration`. `allowed` defaults to invokeLrc's options.
 */
export function checkLrcOptions(
  who: string,
  options: unknown,
  allowed: ReadonlySet<string> = INVOKE_OPTIONS,
  hints: Record<string, string> = HINTS,
): CheckedLrcOptions {
  if (options === undefined || options === null) options = {};
  if (!isObject(options) || Array.isArray(options))
    throw new InvalidArgumentError(`${who} options must be an object, got ${describeValue(options)}`);
  // (own enumerable keys, as Object.keys has them, without the array)
  for (const key in options) {
    if (!hasOwn.call(options, key)) continue;
    if (!allowed.has(key)) {
      const hint = hints[key] ? ` (did you mean ${hints[key]}?)` : '';
      throw new InvalidArgumentError(`${who} has no option '${key}'${hint}`);
    }
  }
  const o = options as InvokeLrcOptions & Record<string, unknown>;
  if (o.parity !== undefined && typeof o.parity !== 'boolean') throw badOption(who, o, 'parity', 'a boolean');
  if (o.reconcile !== undefined && typeof o.reconcile !== 'boolean')
    throw badOption(who, o, 'reconcile', 'a boolean');
  if (o.logger !== undefined) {
    const l = o.logger as unknown as Record<string, unknown>;
    if (!isObject(l) || typeof l.warn !== 'function' || typeof l.error !== 'function')
      throw badOption(who, o, 'logger', 'a pino-compatible logger (warn, error, ...)');
  }
  try {
    // the core facades' checks, so `signal` and `system` mean the same everywhere
    checkSignal(o.signal);
    checkSystem(o.system);
  } catch (err) {
    throw new InvalidArgumentError(`${who}: ${(err as Error).message}`);
  }
  if (o.clientVersions !== undefined) {
    const v = o.clientVersions as unknown;
    if (!Array.isArray(v) || v.length !== 2 || !isVersion(v[0]) || !isVersion(v[1]) || v[0] > v[1])
      throw badOption(
        who,
        o,
        'clientVersions',
        `a (min, max) pair of protocol versions the client speaks (integers from ${CLIENT_MIN} to ${CLIENT_MAX}, min <= max)`,
      );
  }
  if (o.negotiation !== undefined && o.negotiation !== 'perCall' && o.negotiation !== 'cached')
    throw badOption(who, o, 'negotiation', "'perCall' or 'cached'");
  return {
    logger: o.logger,
    signal: o.signal,
    system: o.system,
    parity: o.parity,
    timeout: checkDuration('timeout', o.timeout, true),
    resultTimeout: checkDuration('resultTimeout', o.resultTimeout, true),
    reconcile: o.reconcile,
    clientVersions: o.clientVersions,
    negotiation: o.negotiation,
  };
}

const hasOwn = Object.prototype.hasOwnProperty;

const CLIENT_MIN = CLIENT_PROTOCOL_VERSIONS[0];
const CLIENT_MAX = CLIENT_PROTOCOL_VERSIONS[1];
/**
 * A protocol version this client speaks: a narrower range forces one (upstream's tests monkeypatch
 * `_SUPPORTED_LRC_PROTOCOL_VERSIONS` to (1, 1)); a version above it would let a newer server choose a protocol the
 * client cannot follow (it would speak v2 to it and report the other version).
 */
const isVersion = (x: unknown): boolean =>
  Number.isInteger(x) && (x as number) >= CLIENT_MIN && (x as number) <= CLIENT_MAX;

function badOption(
  who: string,
  o: Record<string, unknown>,
  name: string,
  what: string,
): InvalidArgumentError {
  return new InvalidArgumentError(`${who}: ${name} must be ${what}, got ${describeValue(o[name])}`);
}

const PORT_METHODS = ['commandInout', 'readAttribute', 'attributeList', 'subscribeChangeEvent'] as const;

/** InvalidArgumentError unless `device` has the DevicePort shape (a string name and the four methods). */
export function checkDevicePort(who: string, device: unknown): asserts device is DevicePort {
  const d = device as Record<string, unknown>;
  if (isObject(d) && typeof d.name === 'string' && hasPortMethods(d)) return;
  const missing = isObject(d) ? PORT_METHODS.filter((m) => typeof d[m] !== 'function') : [...PORT_METHODS];
  if (!isObject(d) || typeof d.name !== 'string' || missing.length) {
    const what = !isObject(d)
      ? `got ${describeValue(device)}`
      : typeof d.name !== 'string'
        ? 'its name is not a string'
        : `missing: ${missing.join(', ')}`;
    throw new InvalidArgumentError(`${who} needs a DevicePort ({name, ${PORT_METHODS.join(', ')}}); ${what}`);
  }
}

function hasPortMethods(d: Record<string, unknown>): boolean {
  for (let i = 0; i < PORT_METHODS.length; i++) if (typeof d[PORT_METHODS[i]] !== 'function') return false;
  return true;
}

/** InvalidArgumentError unless `command` is a non-empty string. */
export function checkCommandName(who: string, command: unknown): asserts command is string {
  if (typeof command !== 'string' || !command)
    throw new InvalidArgumentError(
      `${who} needs a command name (a non-empty string), got ${describeValue(command)}`,
    );
}
