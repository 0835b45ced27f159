/**
 * The errors of the native Tango codec (GIOP/CDR), named classes with a stable `code` like the rest of Orrery.
 * Bytes that break the protocol raise `GiopProtocolError` and nothing else; a value that cannot be encoded raises
 * `GiopEncodeError`; a reply carrying a CORBA system exception or a non-Tango user exception decodes to
 * `GiopSystemException` / `GiopUserException`. Tango's own `DevFailed` is the class in `../errors.ts` (a
 * `DevFailed` user exception decodes to it). Pure: machines may import this module.
 */
import { InvalidArgumentError, OrreryError } from '../../../errors.js';
import { type DevError, DevFailed } from '../errors.js';
import type { Ior } from './ior.js';

/** Bytes that do not follow GIOP/CDR/Tango IDL: truncated, oversized, bad magic, unknown discriminator. */
export class GiopProtocolError extends OrreryError {
  override readonly code: string = 'ORRERY_TANGO_GIOP_PROTOCOL';
}

/** A value that cannot be written as CDR (a string with NUL, a number out of range, an unknown TypeCode kind). */
export class GiopEncodeError extends InvalidArgumentError {
  override readonly code: string = 'ORRERY_TANGO_GIOP_ENCODE';
}

/** `completion_status` of a CORBA system exception. */
export type CompletionStatus = 'COMPLETED_YES' | 'COMPLETED_NO' | 'COMPLETED_MAYBE';

/** The peer answered with a CORBA system exception (reply status SYSTEM_EXCEPTION), e.g. `OBJECT_NOT_EXIST`. */
export class GiopSystemException extends OrreryError {
  override readonly code: string = 'ORRERY_TANGO_SYSTEM_EXCEPTION';
  readonly repoId: string;
  readonly minor: number;
  readonly completed: CompletionStatus;
  constructor(repoId: string, minor: number, completed: CompletionStatus) {
    super(`CORBA system exception ${repoId} (minor 0x${minor.toString(16)}, ${completed})`);
    this.repoId = repoId;
    this.minor = minor;
    this.completed = completed;
  }
}

/** A user exception other than `DevFailed` (its body is left undecoded). */
export class GiopUserException extends OrreryError {
  override readonly code: string = 'ORRERY_TANGO_USER_EXCEPTION';
  readonly repoId: string;
  constructor(repoId: string) {
    super(`CORBA user exception ${repoId}`);
    this.repoId = repoId;
  }
}

/** One entry of `MultiDevFailed` (write_attributes_4): the attribute's name, its index in the call, its stack. */
export interface NamedDevError {
  name: string;
  indexInCall: number;
  errors: DevError[];
}

/**
 * `Tango::MultiDevFailed`: some attributes of a `write_attributes_4` call failed. A `DevFailed` whose stack is the
 * one PyTango's `write_attribute` raises (the first failure's stack, then `API_AttributeFailed`), so that a write
 * the device refuses is caught as every other device error; `failures` keeps each attribute's own stack.
 */
export class MultiDevFailedError extends DevFailed {
  override readonly code: string = 'ORRERY_TANGO_MULTI_DEV_FAILED';
  readonly failures: readonly NamedDevError[];
  constructor(failures: readonly NamedDevError[]) {
    const first = failures[0];
    super([
      ...(first?.errors ?? []),
      {
        reason: 'API_AttributeFailed',
        desc:
          first === undefined
            ? 'MultiDevFailed'
            : `writing ${failures.map((f) => f.name).join(', ')} failed: ${first.errors.at(-1)?.desc ?? ''}`,
        origin: 'DeviceProxy::write_attributes',
        severity: 'ERR',
      },
    ]);
    this.failures = failures;
  }
}

/** The reply forwards the call to another object (LOCATION_FORWARD / _PERM): the caller retries there. */
export class LocationForward extends OrreryError {
  override readonly code: string = 'ORRERY_TANGO_LOCATION_FORWARD';
  readonly ior: Ior;
  readonly permanent: boolean;
  constructor(ior: Ior, permanent: boolean) {
    super(`request forwarded to ${ior.iiop ? `${ior.iiop.host}:${ior.iiop.port}` : ior.typeId}`);
    this.ior = ior;
    this.permanent = permanent;
  }
}
