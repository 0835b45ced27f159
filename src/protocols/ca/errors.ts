/**
 * The errors of the Channel Access stack (named classes with a stable `code`, as the core errors in
 * `src/errors.ts`). Pure: machines and the codec import this module.
 *
 * They keep caproto's names where a user of it would branch on them: `CaTimeoutError` (caproto's
 * `CaprotoTimeoutError`, a `TimeoutError`), `ErrorResponseReceived` (the server sent CA_PROTO_ERROR),
 * `ContextDisconnectedError` (a `Context` used after `disconnect()`), `CaValueError` (caproto's
 * `CaprotoValueError`: bad arguments). The ECA code of a failed operation is on `eca` with its name.
 */
import { InvalidArgumentError, OrreryError, TimeoutError } from '../../errors.js';
import { ecaMessage, ecaName } from './constants.js';

/** Base class of every Channel Access error. */
export class CaError extends OrreryError {
  override readonly code: string = 'ORRERY_CA';
}

/** Bytes that do not follow the CA protocol (truncated datagram, oversized payload, bad DBR layout). */
export class CaProtocolError extends CaError {
  override readonly code: string = 'ORRERY_CA_PROTOCOL';
}

/** A search, connection, read or write did not complete in its timeout (caproto `CaprotoTimeoutError`). */
export class CaTimeoutError extends TimeoutError {
  override readonly code: string = 'ORRERY_CA_TIMEOUT';
}

/** A bad argument: data that does not fit the channel's type, `notify: false` with `wait`, a bad address list. */
export class CaValueError extends InvalidArgumentError {
  override readonly code: string = 'ORRERY_CA_VALUE';
}

/** No reasonable conversion between the requested and the native type (ECA_NOCONVERT / ECA_BADTYPE). */
export class CaConversionError extends CaError {
  override readonly code: string = 'ORRERY_CA_NO_CONVERT';
}

/** An operation completed with a failure ECA status (READ_NOTIFY, WRITE_NOTIFY, EVENT_ADD status field). */
export class CaStatusError extends CaError {
  override readonly code: string = 'ORRERY_CA_STATUS';
  readonly eca: number;
  readonly ecaName: string;
  constructor(eca: number, context: string) {
    super(`${context}: ${ecaName(eca)} (${ecaMessage(eca)})`);
    this.eca = eca;
    this.ecaName = ecaName(eca);
  }
}

/** The server answered with CA_PROTO_ERROR (caproto `ErrorResponseReceived`): its ECA code and message. */
export class ErrorResponseReceived extends CaStatusError {
  override readonly code: string = 'ORRERY_CA_ERROR_RESPONSE';
  readonly serverMessage: string;
  constructor(eca: number, serverMessage: string, context = 'server error') {
    super(eca, serverMessage === '' ? context : `${context}: ${serverMessage}`);
    this.serverMessage = serverMessage;
  }
}

/** The circuit carrying an operation died before its reply (caproto `DeadCircuitError`, retried internally). */
export class CaDisconnectedError extends CaError {
  override readonly code: string = 'ORRERY_CA_DISCONNECTED';
}

/** The `Context` was disconnected by its user: it is terminal (caproto `ContextDisconnectedError`). */
export class ContextDisconnectedError extends CaError {
  override readonly code: string = 'ORRERY_CA_CONTEXT_DISCONNECTED';
  constructor(message = 'This Context is no longer usable.') {
    super(message);
  }
}
