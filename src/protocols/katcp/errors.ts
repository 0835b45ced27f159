/**
 * The errors of the KATCP protocol stack (named classes with a stable `code`, as the core errors in
 * `src/errors.ts`). Pure: machines and the codec import this module.
 *
 * They keep aiokatcp's names where a user of it would branch on them: `ProtocolError` (bad version, garbage),
 * `FailReply` / `InvalidReply` (a reply other than `ok`), `ConnectionResetError` (the peer went away with
 * requests pending) and `BrokenPipeError` (a request on a connection that is not up).
 */
import { OrreryError, TimeoutError } from '../../errors.js';

/** Base class of every KATCP error. */
export class KatcpError extends OrreryError {
  override readonly code: string = 'ORRERY_KATCP';
}

/** A line that does not follow the KATCP v5 grammar (bad type character, name, message id or escape). */
export class KatcpSyntaxError extends KatcpError {
  override readonly code: string = 'ORRERY_KATCP_SYNTAX';
}

/** A line longer than the parser's `maxLineLength` (the rest of it, up to the next end of line, is discarded). */
export class LineTooLongError extends KatcpSyntaxError {
  override readonly code: string = 'ORRERY_KATCP_LINE_TOO_LONG';
  readonly limit: number;
  constructor(limit: number) {
    super(`KATCP line longer than ${limit} bytes`);
    this.limit = limit;
  }
}

/** An argument that does not decode as the KATCP type asked for (int, float, bool, discrete, ...). */
export class KatcpDecodeError extends KatcpError {
  override readonly code: string = 'ORRERY_KATCP_DECODE';
}

/** The peer broke the protocol: a `#version-connect` that is not `katcp-protocol 5.x`, or garbage (aiokatcp's). */
export class ProtocolError extends KatcpError {
  override readonly code: string = 'ORRERY_KATCP_PROTOCOL';
}

/**
 * The peer accepted the TCP connection but sent no `#version-connect katcp-protocol` within the client's
 * `negotiationTimeout` (the wrong port, a service that is not KATCP, a hung server), so the client dropped the
 * connection; it reconnects with its backoff as after any failed connect. A ProtocolError (the peer did not speak
 * KATCP), not a TimeoutError: a caller's own waits (`waitConnected({ timeout })`) still time out with TimeoutError.
 * aiokatcp has no such bound (its client stays connecting for ever).
 */
export class NegotiationTimeoutError extends ProtocolError {
  override readonly code: string = 'ORRERY_KATCP_NEGOTIATION_TIMEOUT';
  /** `host:port` of the peer. */
  readonly address: string;
  /** The negotiation timeout that expired, in ms. */
  readonly timeout: number;
  constructor(address: string, timeout: number) {
    super(`No #version-connect katcp-protocol from ${address} within ${timeout} ms (not a KATCP server?)`);
    this.address = address;
    this.timeout = timeout;
  }
}

/** The server answered `fail`: the message is the reply's second argument (aiokatcp `FailReply`). */
export class FailReply extends KatcpError {
  override readonly code: string = 'ORRERY_KATCP_FAIL_REPLY';
}

/** The server answered `invalid` or something that is neither `ok` nor `fail` (aiokatcp `InvalidReply`). */
export class InvalidReply extends KatcpError {
  override readonly code: string = 'ORRERY_KATCP_INVALID_REPLY';
}

/** A request was made while the connection is not up (aiokatcp `BrokenPipeError("Not connected")`). */
export class BrokenPipeError extends KatcpError {
  override readonly code: string = 'ORRERY_KATCP_NOT_CONNECTED';
}

/** The connection was lost with the request still pending (aiokatcp `ConnectionResetError`). */
export class ConnectionResetError extends KatcpError {
  override readonly code: string = 'ORRERY_KATCP_CONNECTION_RESET';
}

/**
 * The server stopped reading: the bytes the client could not send passed its `maxBacklog`, so the client dropped
 * the connection (its pending requests fail with this error; it reconnects as after any lost connection).
 */
export class WriteBacklogError extends ConnectionResetError {
  override readonly code: string = 'ORRERY_KATCP_WRITE_BACKLOG';
  readonly limit: number;
  constructor(limit: number, backlog: number) {
    super(
      `the KATCP server does not read: ${backlog} bytes unsent, over the client's maxBacklog of ${limit}`,
    );
    this.limit = limit;
  }
}

/** A TCP connection attempt failed (refused, unreachable, DNS): `cause` is the socket error. */
export class ConnectError extends KatcpError {
  override readonly code: string = 'ORRERY_KATCP_CONNECT';
}

/** A request got no reply within its timeout (katcp-python synthesises a `fail` reply; this is a typed error). */
export class RequestTimeoutError extends TimeoutError {
  override readonly code: string = 'ORRERY_KATCP_REQUEST_TIMEOUT';
}

/**
 * Inspection (`?help`, `?request-timeout-hint`, `?sensor-list`) failed or timed out (katcp-python `SyncError`).
 * The InspectingClient backs off and retries.
 */
export class SyncError extends KatcpError {
  override readonly code: string = 'ORRERY_KATCP_SYNC';
}
