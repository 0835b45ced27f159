/**
 * The errors of the native Tango client (GIOP connection, DeviceProxy, names), named classes with a stable `code`.
 * Tango's own `DevFailed` is in `errors.ts`; CORBA system exceptions are `GiopSystemException` (giop/errors.ts).
 * Pure: machines may import this module.
 */
import { InvalidArgumentError, OrreryError, TimeoutError } from '../../errors.js';
import { type DevError, DevFailed } from './errors.js';

/** A request got no reply within its timeout (cppTango's default: 3 s). The connection stays up. */
export class TangoTimeoutError extends TimeoutError {
  override readonly code: string = 'ORRERY_TANGO_TIMEOUT';
  /** `host:port` of the server. */
  readonly endpoint: string;
  /** The GIOP operation, e.g. `command_inout_4`. */
  readonly operation: string;
  readonly timeoutMs: number;
  constructor(endpoint: string, operation: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(`${operation} on ${endpoint}: no reply within ${timeoutMs} ms`, options);
    this.endpoint = endpoint;
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The TCP connection to a server could not be made or was lost with the request outstanding (cppTango's
 * `API_CorbaException` TRANSIENT / COMM_FAILURE). `sent` tells whether the request had left (it may have run).
 */
export class TangoConnectionError extends OrreryError {
  override readonly code: string = 'ORRERY_TANGO_CONNECTION';
  readonly endpoint: string;
  readonly sent: boolean;
  constructor(endpoint: string, message: string, options?: { cause?: unknown; sent?: boolean }) {
    super(`${endpoint}: ${message}`, options);
    this.endpoint = endpoint;
    this.sent = options?.sent ?? false;
  }
}

/** The connection or proxy was closed (by `close()` or the system stopping) before the request completed. */
export class TangoClosedError extends OrreryError {
  override readonly code: string = 'ORRERY_TANGO_CLOSED';
}

/** Too many requests outstanding on one connection (the bound on its queue). */
export class TangoBusyError extends OrreryError {
  override readonly code: string = 'ORRERY_TANGO_BUSY';
}

/** A Tango device name or `TANGO_HOST` that does not parse. */
export class TangoNameError extends InvalidArgumentError {
  override readonly code: string = 'ORRERY_TANGO_NAME';
}

/**
 * The device has no attribute of that name (reason `API_AttrNotFound`). `read_attributes_5` reports it inside the
 * element, not as an exception; the proxy raises this `DevFailed` with the element's error stack.
 */
export class AttributeNotFoundError extends DevFailed {
  override readonly code: string = 'ORRERY_TANGO_ATTR_NOT_FOUND';
  readonly attribute: string;
  constructor(attribute: string, errors: readonly DevError[]) {
    super(errors);
    this.attribute = attribute;
  }
}

/** A value that does not fit the command's or attribute's Tango type. */
export class TangoTypeError extends InvalidArgumentError {
  override readonly code: string = 'ORRERY_TANGO_TYPE';
}
