/**
 * `LongRunningCommand`: ska-pst-lmc's wrapper that runs an LRC to its end and returns an `LrcResult`.
 *
 *   const lrc = new LongRunningCommand('ConfigureScan');
 *   const result = await lrc.run(device, { args: scanConfiguration, timeout: 60_000 });
 *   if (result.resultCode !== ResultCode.OK) ...
 *
 * `run()` settles exactly once and only rejects on a programming error (bad callback or arguments); every outcome
 * of the command itself is an `LrcResult`: a rejection (`CommandError`, resultCode REJECTED), an unexpected reply
 * code (`ResultCodeError`, that code), a transport failure (`DevFailed`, FAILED), a timeout (`TimeoutError`,
 * UNKNOWN), a cancellation (`CancelledError`, UNKNOWN), or a terminal status with its result.
 */
import type { DevicePort } from '../devices/port.js';
import type { Logger } from '../engine/logging.js';
import type { OrrerySystem } from '../engine/system.js';
import { DevFailed, InvalidArgumentError } from '../errors.js';
import { checkDuration } from './duration.js';
import { type LrcUpdate, launchLrc, ResultCode, resultCodeOf, TaskStatus } from './lrc.js';

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
  /** The client's supported protocol range, default (1, 2). */
  clientVersions?: readonly [number, number];
  /** 'perCall' (default) or 'cached' protocol negotiation; see `InvokeLrcOptions.negotiation`. */
  negotiation?: 'perCall' | 'cached';
  /** Check the command's status after an error event; see `InvokeLrcOptions.reconcile`. */
  reconcile?: boolean;
}

export interface RunOptions {
  args?: unknown;
  /** Milliseconds until the run gives up (TimeoutError in the result). */
  timeout?: number | null;
  signal?: AbortSignal;
  /** Also receive every update as it arrives. */
  onUpdate?: (update: LrcUpdate) => void;
}

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
    if (typeof command !== 'string' || !command)
      throw new InvalidArgumentError('LongRunningCommand needs a command');
    this.command = command;
    this.#options = options;
  }

  /** Run the command on `device` until it ends; see the module comment for what each outcome gives. */
  async run(device: DevicePort, options: RunOptions = {}): Promise<LrcResult> {
    const timeout = checkDuration('timeout', options.timeout, true);
    const statuses: TaskStatus[] = [];
    let result: unknown;
    let errors: LrcUpdate['error'];
    const onUpdate = options.onUpdate;
    const { finished } = launchLrc(
      (update) => {
        if (update.status !== undefined) statuses.push(update.status);
        if ('result' in update) result = update.result;
        if (update.error) errors = update.error;
        onUpdate?.(update);
      },
      device,
      this.command,
      options.args,
      { ...this.#options, deadline: timeout, signal: options.signal },
    );
    const out = await finished;
    if (out.error instanceof InvalidArgumentError) throw out.error;
    const base = { command: this.command, commandId: out.commandId, taskStatusEvents: statuses };
    if (out.outcome === 'finished') {
      const code = resultCodeOf(result) ?? BY_STATUS[out.status!] ?? ResultCode.UNKNOWN;
      return { ...base, resultCode: code, result, exception: errors ? new DevFailed(errors) : null };
    }
    let code: number = ResultCode.UNKNOWN;
    if (out.outcome === 'notStarted') {
      code = out.replyCode ?? (out.error instanceof DevFailed ? ResultCode.FAILED : ResultCode.UNKNOWN);
    }
    return { ...base, resultCode: code, result, exception: out.error };
  }
}
