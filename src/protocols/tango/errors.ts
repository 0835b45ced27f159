/**
 * The errors of the Tango protocol stack (named classes with a stable `code`, as the core errors in
 * `src/errors.ts`): `DevFailed` keeps a Tango error stack; `CommandError`, `ResultCodeError` and
 * `ProtocolVersionError` are ska-tango-base's LRC client errors. Pure: machines may import this module.
 */
import { OrreryError } from '../../errors.js';

/** One entry of a Tango error stack (`DevError`). */
export interface DevError {
  reason: string;
  desc: string;
  origin: string;
  severity: 'WARN' | 'ERR' | 'PANIC';
}

/**
 * A device-side or transport failure, keeping the whole Tango error stack (`DevFailed`).
 * The first entry is the original error; wrappers append their own entries (`Except.re_throw_exception`).
 */
export class DevFailed extends OrreryError {
  override readonly code: string = 'ORRERY_DEV_FAILED';
  readonly errors: readonly DevError[];
  constructor(errors: readonly DevError[], options?: { cause?: unknown }) {
    super(errors.length ? errors[errors.length - 1].desc : 'DevFailed', options);
    this.errors = errors;
  }
  /** A new DevFailed with one more entry on top of this stack. */
  rethrow(entry: DevError): DevFailed {
    return new DevFailed([...this.errors, entry], { cause: this });
  }
}

/** ska-tango-base `CommandError`: the device rejected the command. */
export class CommandError extends OrreryError {
  override readonly code: string = 'ORRERY_COMMAND_REJECTED';
}

/** ska-tango-base `ResultCodeError`: the command returned a result code other than QUEUED or STARTED. */
export class ResultCodeError extends OrreryError {
  override readonly code: string = 'ORRERY_RESULT_CODE';
}

/** Client and server LRC protocol version ranges do not overlap (upstream raises a RuntimeError). */
export class ProtocolVersionError extends OrreryError {
  override readonly code: string = 'ORRERY_PROTOCOL_VERSION';
}
