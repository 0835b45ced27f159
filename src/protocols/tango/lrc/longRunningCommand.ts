/**
 * `LongRunningCommand`: ska-pst-lmc's wrapper that runs an LRC to its end and returns an `LrcResult`.
 *
 *   const lrc = new LongRunningCommand('ConfigureScan');
 *   const result = await lrc.run(device, { args: scanConfiguration, timeout: 60_000 });
 *   if (result.resultCode !== ResultCode.OK) ...
 *
 * The constructor checks the command name and every option, `run()` the device and its own options, before anything
 * is spawned (InvalidArgumentError). `run()` settles exactly once and only rejects on such a programming error;
 * every outcome of the command itself is an `LrcResult`: a rejection (`CommandError`, resultCode REJECTED), an
 * unexpected reply code (`ResultCodeError`, that code; UNKNOWN for an accepted reply without a command id), a
 * transport failure (`DevFailed`, FAILED), a timeout (`TimeoutError`, UNKNOWN), a cancellation (`CancelledError`,
 * UNKNOWN), the system stopping (`SystemStoppedError`, UNKNOWN), a command the device no longer knows (`reconcile`:
 * `DevFailed` SKA_CommandNotFound, UNKNOWN), or a terminal status with its result (and, v1, the error of a result
 * read that failed or timed out).
 */

import { checkDuration } from '../../../../machines/core/duration.js';
import type { Logger } from '../../../engine/logging.js';
import type { OrrerySystem } from '../../../engine/system.js';
import { InvalidArgumentError } from '../../../errors.js';
import { DevFailed } from '../errors.js';
import type { DevicePort } from '../port.js';
import { type LrcUpdate, launchLrc, ResultCode, resultCodeOf, TaskStatus } from './invokeLrc.js';
import { checkCommandName, checkDevicePort, checkLrcOptions } from './lrcOptions.js';
import { isErrorStack } from './portGuards.js';

export interface LrcResult {
  /** The name of the command. */
  command: string;
  /** The id the device gave the command; null if it was never submitted. */
  commandId: string | null;
  resultCode: number;
  /** The command's result (usually `[ResultCode, message]`). */
  result: unknown;
  exception: Error | null;
  /** Every status delivered, in order. */
  taskStatusEvents: TaskStatus[];
}

export interface LongRunningCommandOptions {
  logger?: Logger;
  system?: OrrerySystem;
  /** Protocol v1 parity mode (status repeats delivered). */
  parity?: boolean;
  /** The client's supported protocol range, default (1, 2), within (1, 2); see `InvokeLrcOptions.clientVersions`. */
  clientVersions?: readonly [number, number];
  /** 'perCall' (default) or 'cached' protocol negotiation; see `InvokeLrcOptions.negotiation`. */
  negotiation?: 'perCall' | 'cached';
  /** Check the command's status after an error event; see `InvokeLrcOptions.reconcile`. */
  reconcile?: boolean;
  /** v1: bound of the result read after a terminal status; see `InvokeLrcOptions.resultTimeout`. */
  resultTimeout?: number | null;
}

export interface RunOptions {
  args?: unknown;
  /**
   * Milliseconds (not seconds: `timeout: 5` is 5 ms) the whole run may take: at its deadline (`run()` + timeout) it gives up (a
   * TimeoutError in the result); exactly invokeLrc's `timeout`. Absent, null or Infinity: no deadline.
   */
  timeout?: number | null;
  signal?: AbortSignal;
  /** Also receive every update as it arrives. */
  onUpdate?: (update: LrcUpdate) => void;
}

const COMMAND_OPTIONS = new Set([
  'logger',
  'system',
  'parity',
  'clientVersions',
  'negotiation',
  'reconcile',
  'resultTimeout',
]);
const COMMAND_HINTS: Record<string, string> = {
  timeout: 'run(device, {timeout})',
  deadline: 'run(device, {timeout})',
  signal: 'run(device, {signal})',
};
const RUN_OPTIONS = new Set(['args', 'timeout', 'signal', 'onUpdate']);
const RUN_HINTS: Record<string, string> = {
  deadline: "'timeout' (the run's duration in ms; its deadline is the moment the timeout falls due)",
};

const BY_STATUS: Partial<Record<TaskStatus, number>> = {
  [TaskStatus.COMPLETED]: ResultCode.OK,
  [TaskStatus.ABORTED]: ResultCode.ABORTED,
  [TaskStatus.FAILED]: ResultCode.FAILED,
  [TaskStatus.REJECTED]: ResultCode.REJECTED,
};

export class LongRunningCommand {
  readonly command: string;
  readonly #options: LongRunningCommandOptions;

  constructor(command: string, options: LongRunningCommandOptions = {}) {
    checkCommandName('LongRunningCommand', command);
    checkLrcOptions('LongRunningCommand', options, COMMAND_OPTIONS, COMMAND_HINTS);
    this.command = command;
    this.#options = { ...options };
  }

  /** Run the command on `device` until it ends; see the module comment for what each outcome gives. */
  async run(device: DevicePort, options: RunOptions = {}): Promise<LrcResult> {
    checkDevicePort('LongRunningCommand.run', device);
    // the run's own options: args, timeout, signal, onUpdate
    const run = checkLrcOptions(
      'LongRunningCommand.run',
      omit(options, 'args', 'timeout', 'onUpdate'),
      RUN_OPTIONS,
      RUN_HINTS,
    );
    const timeout = checkDuration('timeout', options?.timeout, true);
    const onUpdate = options?.onUpdate;
    if (onUpdate !== undefined && typeof onUpdate !== 'function')
      throw new InvalidArgumentError('LongRunningCommand.run: onUpdate must be a function');
    const statuses: TaskStatus[] = [];
    let result: unknown;
    let errors: LrcUpdate['error'];
    const { finished } = launchLrc(
      (update) => {
        if (update.status !== undefined) statuses.push(update.status);
        if ('result' in update) result = update.result;
        // (a v2 event may carry an `error` key of its own, passed on as upstream does: only a stack is one)
        if (isErrorStack(update.error)) errors = update.error;
        // returned: an async onUpdate's rejection is reported as the callback's own (never left unhandled)
        return onUpdate?.(update);
      },
      device,
      this.command,
      options?.args,
      { ...this.#options, timeout, signal: run.signal },
    );
    const out = await finished;
    const base = { command: this.command, commandId: out.commandId, taskStatusEvents: statuses };
    if (out.outcome === 'finished') {
      const code = resultCodeOf(result) ?? BY_STATUS[out.status!] ?? ResultCode.UNKNOWN;
      const exception = out.error ?? (errors ? new DevFailed(errors) : null);
      return { ...base, resultCode: code, result, exception };
    }
    let code: number = ResultCode.UNKNOWN;
    if (out.outcome === 'notStarted') {
      const accepted = out.replyCode === ResultCode.QUEUED || out.replyCode === ResultCode.STARTED;
      code = accepted
        ? ResultCode.UNKNOWN
        : (out.replyCode ?? (out.error instanceof DevFailed ? ResultCode.FAILED : ResultCode.UNKNOWN));
    }
    return { ...base, resultCode: code, result, exception: out.error };
  }
}

/** `options` without the given keys (checked separately); anything that is not an object is passed as is. */
function omit(options: unknown, ...keys: string[]): unknown {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return options;
  const rest: Record<string, unknown> = { ...(options as Record<string, unknown>) };
  for (const k of keys) delete rest[k];
  return rest;
}
