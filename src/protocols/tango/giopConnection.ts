/**
 * `GiopConnection`: one GIOP 1.2 connection to one Tango server endpoint (host:port), on the `giopConnection`
 * machine (its lifecycle: lazy connect, back-off after failed connects, reconnect on the next request after a
 * loss or the server's CloseConnection, close), spawned under a supervisor of an Orrery system.
 *
 * Requests never pass through XState: `request()` encodes the GIOP Request with a fresh id, writes it at once
 * when connected (writes of one turn are corked into one `socket.write`) or queues it and asks the machine to
 * connect; replies are matched by id in a Map, in any order (pipelined). GIOP 1.0/1.1 replies are accepted, as are
 * fragmented 1.2 replies (reassembled by the framer).
 *
 * - Each request has a timeout (the caller's, e.g. cppTango's 3 s): `TangoTimeoutError`, the request is
 *   forgotten (a late reply is dropped), the connection stays up.
 * - The socket lost with requests outstanding: those sent fail with `TangoConnectionError` (`sent: true`, they may
 *   have run); those waiting are sent on the next connection. A failed connect fails every waiting request with
 *   `TangoConnectionError` (`sent: false`). After the server's CloseConnection, unanswered requests are re-sent
 *   on the next connection (GIOP: the server did not process them), at most `MAX_RESENDS` (2) times each; a
 *   request the server closes on once more fails with `TangoConnectionError` (`sent: false`).
 * - Replies: DevFailed (with its stack), MultiDevFailedError, GiopSystemException, GiopUserException,
 *   LocationForward (followed by the caller, `giopRequests.ts`) reject the request; bad bytes drop the connection.
 * - The inspector (`nativeView.ts`) gets `pending` and `roundTrips` as a `tango.inspect.connection` event sent to
 *   the actor at most every 500 ms while replies arrive (the machine ignores it).
 * - At most `maxPending` requests outstanding (default 10 000; more: `TangoBusyError`), and at most
 *   `maxQueuedBytes` (16 MiB) written and not yet taken by a server that stops reading (requests that timed out
 *   stay in the socket): past it a request fails with `TangoBusyError`, unsent (a lone larger request still goes).
 *   `close()` fails what is pending with `TangoClosedError` and resolves once the socket is released; the system
 *   stopping does the same.
 */
import { checkDuration } from '../../../machines/core/duration.js';
import {
  type GiopConnectionContext,
  type GiopConnectionState,
  giopConnectionMachine,
} from '../../../machines/tango/giopConnection.js';
import type { ActorHandle } from '../../engine/handle.js';
import type { Supervisor } from '../../engine/supervisor.js';
import type { OrrerySystem } from '../../engine/system.js';
import { InvalidArgumentError } from '../../errors.js';
import { hostPort } from '../../transport/address.js';
import { TangoBusyError, TangoClosedError, TangoConnectionError, TangoTimeoutError } from './clientErrors.js';
import type { CdrReader, CdrWriter } from './giop/cdr.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from './giop/framer.js';
import type { GiopMessage } from './giop/giop.js';
import { encodeRequest } from './giop/giopEncode.js';
import { readReplyResult } from './giop/operations.js';
import { type PendingRequest, PendingRequests } from './giopPending.js';
import { type GiopLink, giopTransport } from './giopTransport.js';
import { TANGO_CONNECTION_SAMPLE } from './nativeView.js';

export type { GiopConnectionState } from '../../../machines/tango/giopConnection.js';

export const DEFAULT_MAX_PENDING = 10_000;
/** Bytes queued in the socket (written, not yet taken by the server) past which requests are refused: 16 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024;

export interface GiopConnectionOptions {
  system: OrrerySystem;
  /** Spawn the connection actor under this supervisor (default: detached). */
  supervisor?: Supervisor | string;
  /** Actor id (default `tango:<host>:<port>:<n>`). */
  id?: string;
  /** Bound on establishing the TCP connection, ms (default 3000). */
  connectTimeout?: number;
  /** Requests outstanding at once (default 10 000). */
  maxPending?: number;
  /** Bytes queued for a server that is not reading, past which requests fail with `TangoBusyError` (16 MiB). */
  maxQueuedBytes?: number;
  /** Largest reply accepted, bytes (default 64 MiB). */
  maxMessageSize?: number;
  /** Back-off jitter in [0, 1) (default Math.random). */
  random?: () => number;
}

/** An operation's request arguments and reply reader, as `giop/operations.ts` defines them. */
export interface RequestSpec<R> {
  objectKey: Uint8Array;
  operation: string;
  writeArgs?: (w: CdrWriter) => void;
  readResult: (r: CdrReader) => R;
  /** ms; Infinity for none (anything but a number >= 0: InvalidArgumentError). */
  timeout: number;
}

/** `value`, a positive integer, or `fallback` when it is undefined (else InvalidArgumentError naming it). */
function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    throw new InvalidArgumentError(
      `GiopConnection: ${name} must be a positive integer, got ${String(value)}`,
    );
  return value;
}

type Logic = typeof giopConnectionMachine;
let connectionCount = 0;
/** At most one inspector sample (`tango.inspect.connection`) per this many ms while replies arrive. */
const SAMPLE_MS = 500;

export class GiopConnection {
  readonly host: string;
  readonly port: number;
  /** `host:port`. */
  readonly endpoint: string;
  readonly #system: OrrerySystem;
  readonly #maxPending: number;
  readonly #maxQueuedBytes: number;
  readonly #handle: ActorHandle<Logic>;
  readonly #pending: PendingRequests;
  readonly #links = new Set<Promise<void>>();
  #link: GiopLink | null = null;
  #state: GiopConnectionState = 'idle';
  #context: GiopConnectionContext | null = null;
  #closedError: Error | null = null;
  #connectQueued = false;
  #roundTrips = 0;
  #sampledAt = Number.NEGATIVE_INFINITY;
  readonly #closedWaiters = new Set<() => void>();
  readonly #forgetStop: () => void;

  constructor(host: string, port: number, options: GiopConnectionOptions) {
    this.host = host;
    this.port = port;
    this.endpoint = hostPort(host, port);
    const connectTimeout = checkDuration('connectTimeout', options.connectTimeout, false) ?? undefined;
    // (NaN would lift a bound: no count is ever >= NaN)
    this.#maxPending = positiveInteger('maxPending', options.maxPending, DEFAULT_MAX_PENDING);
    this.#maxQueuedBytes = positiveInteger(
      'maxQueuedBytes',
      options.maxQueuedBytes,
      DEFAULT_MAX_QUEUED_BYTES,
    );
    const maxMessageSize = positiveInteger(
      'maxMessageSize',
      options.maxMessageSize,
      DEFAULT_MAX_MESSAGE_SIZE,
    );
    this.#system = options.system;
    this.#pending = new PendingRequests(options.system.clock, (p) =>
      p.settle(new TangoTimeoutError(this.endpoint, p.operation, p.timeoutMs), undefined),
    );
    const transport = giopTransport(
      {
        open: (link) => {
          this.#link = link;
          this.#links.add(link.closed);
          void link.closed.then(() => this.#links.delete(link.closed));
        },
        message: (m) => this.#reply(m),
      },
      { maxMessageSize },
    );
    const logic = giopConnectionMachine.provide({
      actors: { transport },
      actions: { enterState: ({ context }, params) => this.#enterState(params.state, context) },
    });
    const input = { host, port, connectTimeoutMs: connectTimeout, random: options.random };
    const id = options.id ?? `tango:${this.endpoint}:${++connectionCount}`;
    this.#forgetStop = options.system.onStop((error) => this.#gone(error));
    this.#handle = (options.supervisor === undefined
      ? options.system.spawn(logic, { id, input })
      : options.system.spawn(logic, {
          id,
          input,
          supervisor: options.supervisor,
          restart: 'transient',
        })) as unknown as ActorHandle<Logic>;
    this.#handle.subscribe({
      complete: () =>
        this.#gone(new TangoClosedError(`the GIOP connection actor for ${this.endpoint} was stopped`)),
      error: (err) => this.#gone(err instanceof Error ? err : new TangoClosedError(String(err))),
    });
  }

  get state(): GiopConnectionState {
    return this.#state;
  }
  /** The error that ended the last connection or connect attempt. */
  get lastError(): Error | null {
    return this.#closedError ?? this.#context?.lastError ?? null;
  }
  /** TCP connections opened so far. */
  get connections(): number {
    return this.#context?.connections ?? 0;
  }
  get pendingCount(): number {
    return this.#pending.size;
  }
  /** Replies received so far. */
  get roundTrips(): number {
    return this.#roundTrips;
  }
  /** Bytes the framer holds for a reply in progress. */
  get bufferedBytes(): number {
    return this.#link?.buffered ?? 0;
  }
  /** Bytes written and not yet taken by the server's side (the socket's write queue). */
  get queuedBytes(): number {
    return this.#link?.queued ?? 0;
  }
  get actor(): ActorHandle<Logic> {
    return this.#handle;
  }
  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Sends one request; resolves with its result or rejects with a typed error (see the header). */
  request<R>(spec: RequestSpec<R>): Promise<R> {
    try {
      // a deadline of NaN never falls due: the request would never time out
      checkDuration('timeout', spec.timeout, false);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#state === 'closed') {
      return Promise.reject(
        this.#closedError ?? new TangoClosedError(`connection to ${this.endpoint} is closed`),
      );
    }
    if (this.#pending.size >= this.#maxPending) {
      return Promise.reject(
        new TangoBusyError(`${this.#maxPending} requests already outstanding on ${this.endpoint}`),
      );
    }
    let message: Uint8Array;
    const id = this.#pending.nextId();
    try {
      message = encodeRequest(
        {
          minor: 2,
          requestId: id,
          responseExpected: true,
          objectKey: spec.objectKey,
          operation: spec.operation,
        },
        spec.writeArgs,
      );
    } catch (error) {
      return Promise.reject(error);
    }
    const queued = this.queuedBytes;
    if (queued > 0 && queued + message.length > this.#maxQueuedBytes) {
      return Promise.reject(
        new TangoBusyError(
          `${queued} bytes already queued for ${this.endpoint} (the server is not reading); ${spec.operation} not sent`,
        ),
      );
    }
    return new Promise<R>((resolve, reject) => {
      const connected = this.#state === 'connected' && this.#link !== null;
      const request: PendingRequest = {
        id,
        message,
        operation: spec.operation,
        timeoutMs: spec.timeout,
        deadline: this.#pending.deadline(spec.timeout),
        sent: connected,
        resends: 0,
        settle: (error, reply) => {
          if (error !== null) {
            reject(error);
            return;
          }
          try {
            resolve(readReplyResult(reply as Extract<GiopMessage, { type: 'Reply' }>, spec.readResult));
          } catch (e) {
            reject(e);
          }
        },
      };
      this.#pending.add(request);
      if (connected) this.#link?.write(message);
      else if (this.#state === 'idle') this.#connect();
    });
  }

  /** Closes for good (idempotent): fails what is pending, resolves once the socket is released. */
  async close(): Promise<void> {
    if (this.#state !== 'closed') {
      const current = this.#handle.current;
      if (current !== undefined) current.send({ type: 'CLOSE' });
      else {
        // the actor crashed and its supervisor waits to restart it: no incarnation would answer CLOSE, so the
        // connection ends here, and the restart is called off (the actor is removed for good)
        this.#gone(new TangoClosedError(`connection to ${this.endpoint} closed`));
        this.#handle.stop();
      }
    }
    if (this.#state !== 'closed') {
      await new Promise<void>((resolve) => this.#closedWaiters.add(resolve));
    }
    await Promise.all([...this.#links]);
  }

  // ---- the machine's enterState ----

  #enterState(state: GiopConnectionState, context: GiopConnectionContext): void {
    const old = this.#state;
    this.#state = state;
    this.#context = context;
    switch (state) {
      case 'connected':
        for (const p of this.#pending.drainUnsent()) this.#link?.write(p.message);
        return;
      case 'idle':
        this.#link = null;
        if (old === 'connected') {
          if (context.peerClosed) this.#requeueSent();
          else this.#failSent(context.lastError);
        }
        if (this.#pending.unsentCount > 0) this.#connect();
        return;
      case 'backoff':
        this.#link = null;
        this.#pending.fail(
          () =>
            new TangoConnectionError(
              this.endpoint,
              `cannot connect: ${context.lastError?.message ?? 'failed'}`,
              {
                cause: context.lastError,
              },
            ),
        );
        return;
      case 'closed':
        this.#link = null;
        this.#finish(new TangoClosedError(`connection to ${this.endpoint} closed`));
        return;
      default:
        return;
    }
  }

  #failSent(cause: Error | null): void {
    this.#pending.fail(
      () =>
        new TangoConnectionError(this.endpoint, `connection lost: ${cause?.message ?? 'closed'}`, {
          cause,
          sent: true,
        }),
      (p) => p.sent,
    );
  }

  /** After a CloseConnection: re-send what was sent, but fail what the server closed on too often (not run). */
  #requeueSent(): void {
    this.#pending.requeueSent(
      (p) =>
        new TangoConnectionError(
          this.endpoint,
          `the server sent CloseConnection ${p.resends + 1} times without answering ${p.operation}`,
          { sent: false },
        ),
    );
  }

  /** Asks the machine to connect, once per turn, if it is still idle then. */
  #connect(): void {
    if (this.#connectQueued) return;
    this.#connectQueued = true;
    queueMicrotask(() => {
      this.#connectQueued = false;
      if (this.#state === 'idle') this.#handle.current?.send({ type: 'CONNECT' });
    });
  }

  #reply(m: GiopMessage): void {
    if (m.type !== 'Reply') return; // LocateReply: never asked
    const p = this.#pending.take(m.requestId);
    this.#roundTrips++;
    if (p !== undefined) p.settle(null, m);
    const now = this.#system.clock.now();
    if (now - this.#sampledAt >= SAMPLE_MS) this.#sample(now);
  }

  /** The counters for the inspector's view (the machine ignores the event), at most every SAMPLE_MS. */
  #sample(now: number): void {
    this.#sampledAt = now;
    const actor = this.#handle.current;
    if (actor === undefined || actor.getSnapshot().status !== 'active') return;
    actor.send({
      type: TANGO_CONNECTION_SAMPLE,
      pending: this.#pending.size,
      roundTrips: this.#roundTrips,
    } as never);
  }

  #finish(error: Error): void {
    if (this.#closedError === null) this.#closedError = error;
    this.#forgetStop();
    this.#pending.fail(() => error);
    this.#pending.dispose();
    for (const resolve of [...this.#closedWaiters]) resolve();
    this.#closedWaiters.clear();
  }

  /** The system stopped or the actor is gone without reaching `closed`. */
  #gone(error: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#link = null;
    this.#finish(error);
  }
}
