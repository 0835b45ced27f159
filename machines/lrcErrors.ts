/**
 * Reply parsing and the errors of the `lrc` machine (kept apart so the machine reads as a protocol).
 */
import { LRC_ATTRIBUTES, ResultCode, resultCodeName } from '../src/devices/lrcWire.js';
import {
  CommandError,
  DevFailed,
  InvalidArgumentError,
  ProtocolVersionError,
  ResultCodeError,
  TimeoutError,
} from '../src/errors.js';

/** A DevFailed keeping the device's stack, with an `SKA_InvokeLrcFailed` entry on top. */
export function invokeLrcFailure(error: unknown, desc: string, origin: string): DevFailed {
  const entry = { reason: 'SKA_InvokeLrcFailed', desc, origin, severity: 'ERR' as const };
  if (error instanceof DevFailed) return error.rethrow(entry);
  const e = error instanceof Error ? error : new Error(String(error));
  return new DevFailed([{ reason: e.name, desc: e.message, origin, severity: 'ERR' }, entry], {
    cause: error,
  });
}

/** `[[resultCode], [commandIdOrReason]]`, or undefined when the reply has another shape. */
export function parseReply(reply: unknown): { code: number; text: string } | undefined {
  if (!Array.isArray(reply) || !Array.isArray(reply[0]) || !Array.isArray(reply[1])) return undefined;
  const code = reply[0][0];
  if (!Number.isInteger(code)) return undefined;
  return { code, text: String(reply[1][0] ?? '') };
}

/** The command id of an accepted (QUEUED or STARTED) reply; undefined otherwise. */
export function acceptedCommandId(reply: unknown): string | undefined {
  const r = parseReply(reply);
  return r && (r.code === ResultCode.QUEUED || r.code === ResultCode.STARTED) ? r.text : undefined;
}

const range = (r: readonly [number, number] | null) => (r ? `(${r[0]}, ${r[1]})` : '(1, 1)');
const origin = (device: string, command: string) => `invokeLrc(${device}, ${command})`;

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
      `Invocation of command '${command}' failed with args: ${JSON.stringify(args) ?? 'None'}`,
      origin(device, command),
    ),
  rejected: (command: string, reply: unknown) =>
    new CommandError(`${command} command rejected: ${parseReply(reply)?.text}`),
  unexpectedCode: (command: string, reply: unknown) => {
    const code = parseReply(reply)?.code;
    const name = code === undefined ? 'no result code' : `${code} (${resultCodeName(code)})`;
    return new ResultCodeError(`Unexpected result code for ${command} command: ${name}`);
  },
  statusCheck: (error: unknown, commandId: string, device: string, command: string) =>
    invokeLrcFailure(error, `CheckLongRunningCommandStatus(${commandId}) failed.`, origin(device, command)),
  timeout: (command: string, device: string, deadline: number | null, commandId: string | null) =>
    new TimeoutError(
      `${command} on ${device} did not finish within ${deadline} ms` +
        (commandId ? ` (command id ${commandId})` : ''),
    ),
};
