/**
 * The errors of the `lrc` machine (kept apart so the machine reads as a protocol).
 *
 * No error built here carries a command argument's value as text (arguments may hold credentials): the invocation
 * failure names the argument's type and size only.
 */

import { InvalidArgumentError, TimeoutError } from '../../src/errors.js';
import {
  CommandError,
  DevFailed,
  ProtocolVersionError,
  ResultCodeError,
} from '../../src/protocols/tango/errors.js';
import { LRC_ATTRIBUTES, type LrcReply, ResultCode, resultCodeName } from '../../src/protocols/tango/wire.js';

/** A DevFailed keeping the device's stack, with an `SKA_InvokeLrcFailed` entry on top. */
export function invokeLrcFailure(error: unknown, desc: string, origin: string): DevFailed {
  const entry = { reason: 'SKA_InvokeLrcFailed', desc, origin, severity: 'ERR' as const };
  if (error instanceof DevFailed) return error.rethrow(entry);
  const e = error instanceof Error ? error : new Error(describeThrown(error));
  return new DevFailed([{ reason: e.name, desc: e.message, origin, severity: 'ERR' }, entry], {
    cause: error,
  });
}

/** What was thrown when it is not an Error: its type only for objects (their content may be anything). */
function describeThrown(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object' || typeof value === 'function') return `non-Error thrown (${typeof value})`;
  return String(value);
}

/** The type and size of a command's arguments, never their values. */
export function describeArgs(args: unknown): string {
  if (args === undefined || args === null) return 'None';
  if (Array.isArray(args)) return `<array of ${args.length}, values not shown>`;
  return `<${typeof args}, value not shown>`;
}

const range = (r: readonly [number, number] | null) => (r ? `(${r[0]}, ${r[1]})` : '(1, 1)');
const origin = (device: string, command: string) => `invokeLrc(${device}, ${command})`;
const READ_RESULT_DESC = `Reading '${LRC_ATTRIBUTES.result}' failed.`;

export const lrcErrors = {
  invalidCallback: () =>
    new InvalidArgumentError(
      'the lrc callback must be a function taking one update object ({status, progress, result, error, ...})',
    ),
  incompatible: (client: readonly [number, number], server: readonly [number, number] | null) =>
    new ProtocolVersionError(
      "This version of invokeLrc() is not compatible with any of the server's supported LRC protocols! " +
        `Client version min, max = ${range(client)} - Server version min, max = ${range(server)}`,
    ),
  negotiation: (error: unknown, device: string, command: string) =>
    invokeLrcFailure(error, `Reading '${LRC_ATTRIBUTES.versions}' failed.`, origin(device, command)),
  subscribe: (error: unknown, attribute: string | undefined, device: string, command: string) =>
    invokeLrcFailure(error, `Subscribing to '${attribute}' change event failed.`, origin(device, command)),
  invoke: (error: unknown, args: unknown, device: string, command: string) =>
    invokeLrcFailure(
      error,
      `Invocation of command '${command}' failed with args: ${describeArgs(args)}`,
      origin(device, command),
    ),
  rejected: (command: string, reply: LrcReply | null) =>
    new CommandError(`${command} command rejected: ${reply?.text ?? '(no reason given)'}`),
  /** `reply` as `parseLrcReply` gave it (null: not a reply of the `[[code], [text]]` shape). */
  unexpectedCode: (command: string, reply: LrcReply | null) => {
    const code = reply?.code;
    if (code === ResultCode.QUEUED || code === ResultCode.STARTED) {
      return new ResultCodeError(
        `Malformed reply to ${command} command: ${code} (${resultCodeName(code)}) without a command id`,
      );
    }
    const name = code === undefined ? 'no result code' : `${code} (${resultCodeName(code)})`;
    return new ResultCodeError(`Unexpected result code for ${command} command: ${name}`);
  },
  statusCheck: (error: unknown, commandId: string, device: string, command: string) =>
    invokeLrcFailure(error, `CheckLongRunningCommandStatus(${commandId}) failed.`, origin(device, command)),
  /**
   * `reconcile`: CheckLongRunningCommandStatus answered NOT_FOUND for a command the device had accepted (a DevFailed
   * whose one entry says so; the callback's last `{error}` update and the outcome's error).
   */
  lost: (commandId: string, device: string, command: string) =>
    new DevFailed([
      {
        reason: 'SKA_CommandNotFound',
        desc:
          `CheckLongRunningCommandStatus(${commandId}) answered NOT_FOUND: ${device} no longer knows the command ` +
          '(it restarted, or forgot the command after it ended); how the command ended is unknown.',
        origin: origin(device, command),
        severity: 'ERR',
      },
    ]),
  /** v1: the result read after a terminal status failed. */
  resultRead: (error: unknown, device: string, command: string) =>
    invokeLrcFailure(error, READ_RESULT_DESC, origin(device, command)),
  /** v1: the result read after a terminal status did not answer within `ms`. */
  resultTimeout: (command: string, device: string, ms: number, commandId: string | null) =>
    new TimeoutError(
      `Reading '${LRC_ATTRIBUTES.result}' of ${command} on ${device}` +
        (commandId ? ` (command id ${commandId})` : '') +
        ` did not answer within ${ms} ms`,
    ),
  /** The error stack a TimeoutError of the result read gives the callback (`{error}` update). */
  resultTimeoutStack: (error: TimeoutError, device: string, command: string) =>
    invokeLrcFailure(error, READ_RESULT_DESC, origin(device, command)).errors,
  /** The call ended while its command went on (the system stopped): the `{error}` update telling the callback. */
  released: (error: Error, device: string, command: string) =>
    invokeLrcFailure(error, `${command} is no longer followed.`, origin(device, command)),
  /** The call's `timeout` (ms) expired: its deadline came before the call ended. */
  timeout: (command: string, device: string, timeout: number | null, commandId: string | null) =>
    new TimeoutError(
      `${command} on ${device} did not finish within ${timeout} ms` +
        (commandId ? ` (command id ${commandId})` : ''),
    ),
};
