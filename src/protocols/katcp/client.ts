/**
 * `KatcpClient`: a KATCP v5 client (aiokatcp `Client`) on the `katcpConnection` machine.
 *
 * The machine owns the connection's lifecycle (connect, negotiate `#version-connect`, disconnect, reconnect with
 * aiokatcp's jittered backoff, close); this facade owns the requests, whose bookkeeping (ids, the serialised
 * queue, timeouts, matching replies and informs) is `PendingRequests` (`pendingRequests.ts`). Requests, replies
 * and informs never pass through XState: the socket's messages come here directly (`KatcpTransportSink.message`)
 * and requests are written to the socket directly, so the hot path is a Map lookup.
 *
 * - Requests are accepted only while `connected` (else `BrokenPipeError('Not connected')`).
 * - A peer that accepts the TCP connection but sends no `#version-connect katcp-protocol` within
 *   `negotiationTimeout` (default 5000 ms) is dropped with a NegotiationTimeoutError (a ProtocolError): a failed
 *   connect, so the failed-connect callbacks get it, it is logged and the client reconnects with its backoff, or
 *   closes without `autoReconnect` (then `waitConnected()` rejects with it). A `waitConnected({ timeout })` that
 *   times out has the last such error as its TimeoutError's `cause`.
 * - With the server's `I` flag, requests are pipelined with message ids 1, 2, 3, ... (an explicit `mid` is
 *   respected); replies and their informs are matched by id, in any order.
 * - Without it, requests are serialised (one outstanding at a time, in call order) and matched by name; a request
 *   that timed out or was cancelled on the wire holds the next one back until its late reply (swallowed), for as
 *   long as its timeout again, else the connection is dropped with a ProtocolError (see `pendingRequests.ts`).
 * - A request's timeout (`requestTimeout`, default 5000 ms, Infinity for none) rejects with RequestTimeoutError
 *   and forgets the request (a late reply is ignored); an aborted `signal` rejects with CancelledError. Timeouts
 *   share one sweep timer on the system clock.
 * - Leaving `connected` fails every pending request with the machine's `lastError` (ConnectionResetError after a
 *   peer close, BrokenPipeError after `#disconnect` or `close()`, the ProtocolError or LineTooLongError that
 *   dropped the connection, WriteBacklogError when the server stops reading and more than `maxBacklog` bytes
 *   are left unsent); the system stopping fails them with SystemStoppedError.
 * - Informs that belong to no request go to `addInformHandler(name)` and `onInform` handlers; unsolicited replies,
 *   server requests and informs with an unknown id are logged at debug and ignored. Callback errors are logged.
 *
 * Differences from aiokatcp, on purpose: request timeouts are built in (typed, not a fake `fail` reply as in
 * katcp-python); a line over `maxLineLength` (1 MiB) drops the connection instead of being skipped; negotiation
 * is bounded by `negotiationTimeout` (aiokatcp waits for `#version-connect` for ever).
 */
import type { AnyActorRef } from 'xstate';
import { checkDuration, isNever } from '../../../machines/core/duration.js';
import {
  type KatcpConnectionContext,
  type KatcpConnectionState,
  katcpConnectionMachine,
} from '../../../machines/katcp/connection.js';
import { checkSignal, checkSystem } from '../../api/lifecycle.js';
import type { ActorHandle } from '../../engine/handle.js';
import type { Logger } from '../../engine/logging.js';
import type { Supervisor } from '../../engine/supervisor.js';
import { getDefaultSystem, type OrrerySystem } from '../../engine/system.js';
import { CancelledError, InvalidArgumentError, TimeoutError } from '../../errors.js';
import { type ArgValue, type KatcpMessage, MAX_MID, messageText } from './codec.js';
import { type KatcpLink, katcpTransport } from './connection.js';
import { BrokenPipeError } from './errors.js';
import { PendingRequests, type RawReply } from './pendingRequests.js';
import type { ProtocolVersion } from './wire.js';

export type { RawReply } from './pendingRequests.js';

export type ConnectionState = KatcpConnectionState;

export interface KatcpClientOptions {
  /** Reconnect after a lost or failed connection (default true). */
  autoReconnect?: boolean;
  /** Per-request timeout in ms (default 5000, katcp-python's 5 s); Infinity for none. */
  requestTimeout?: number;
  /**
   * ms the TCP-connected peer has to send `#version-connect katcp-protocol` before the connection is dropped with
   * a NegotiationTimeoutError and retried with the backoff (default 5000, `DEFAULT_NEGOTIATION_TIMEOUT_MS`);
   * Infinity waits for ever, as aiokatcp does.
   */
  negotiationTimeout?: number;
  /** Longest line accepted from the server, in bytes (default 1 MiB). */
  maxLineLength?: number;
  /**
   * Bytes the client may have unsent, a server that does not read, before it drops the connection with a
   * WriteBacklogError (default 16 MiB, `DEFAULT_CLIENT_MAX_BACKLOG`).
   */
  maxBacklog?: number;
  /** The system whose clock drives backoff and request timeouts (default: the process default). */
  system?: OrrerySystem;
  /** Spawn the connection actor under this supervisor (else detached). */
  supervisor?: Supervisor | string;
  /** Actor id (default `katcp:<host>:<port>:<n>`). */
  id?: string;
  /** Backoff jitter source in [0, 1) (default Math.random). */
  random?: () => number;
}

export interface RequestOptions {
  /** This request's timeout in ms (default the client's `requestTimeout`); Infinity for none. */
  timeout?: number;
  signal?: AbortSignal;
  /** Send with this message id (only with the server's `I` flag; must not be pending). */
  mid?: number;
}

export interface WaitOptions {
  timeout?: number;
  signal?: AbortSignal;
}

type ConnectionLogic = typeof katcpConnectionMachine;
type InformHandler = (msg: KatcpMessage) => void;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly until: (state: ConnectionState) => boolean;
}

let clientCount = 0;
const DEFAULT_REQUEST_TIMEOUT = 5000;

function safely(logger: () => Logger, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    logger().error({ err }, `${what} threw`);
  }
}

/** A client's host, port and options argument: InvalidArgumentError unless a host, a TCP port and an object. */
export function checkEndpoint(host: unknown, port: unknown, options: unknown): void {
  if (typeof host !== 'string' || host === '')
    throw new InvalidArgumentError('host must be a non-empty string');
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
    throw new InvalidArgumentError(`port must be an integer in 0..65535, got ${String(port)}`);
  }
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('options must be an object');
}

/** An optional count or size option: undefined, or a safe integer of 1 or more (else InvalidArgumentError). */
export function checkPositiveInteger(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value as number;
}

export class KatcpClient {
  readonly host: string;
  readonly port: number;
  readonly #system: OrrerySystem;
  readonly #requestTimeout: number;
  readonly #handle: ActorHandle<ConnectionLogic>;
  #ref: AnyActorRef | undefined;
  #log: Logger | undefined;
  #state: ConnectionState = 'connecting';
  #context: KatcpConnectionContext | null = null;
  #link: KatcpLink | null = null;
  readonly #links = new Set<Promise<void>>();
  readonly #pending: PendingRequests;
  /** Inform handlers by name, copied on change (dispatch iterates a snapshot without copying). */
  readonly #informHandlers = new Map<string, InformHandler[]>();
  #anyInform: InformHandler[] = [];
  readonly #stateListeners = new Set<(state: ConnectionState, error: Error | null) => void>();
  readonly #connected = new Set<() => void>();
  readonly #disconnected = new Set<() => void>();
  readonly #failedConnect = new Set<(error: Error) => void>();
  readonly #waiters = new Set<Waiter>();
  #forgetStop: () => void;
  #stopError: Error | null = null;

  /** Starts connecting at once (every option is checked first: InvalidArgumentError). */
  constructor(host: string, port: number, options: KatcpClientOptions = {}) {
    checkEndpoint(host, port, options);
    const timeout = checkDuration('requestTimeout', options.requestTimeout, false);
    const negotiationTimeout = checkDuration('negotiationTimeout', options.negotiationTimeout, false);
    if (options.random !== undefined && typeof options.random !== 'function') {
      throw new InvalidArgumentError('random must be a function');
    }
    const max = options.maxLineLength;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      throw new InvalidArgumentError(`maxLineLength must be a positive integer, got ${String(max)}`);
    }
    const maxBacklog = checkPositiveInteger('maxBacklog', options.maxBacklog);
    const system = checkSystem(options.system) ?? getDefaultSystem();
    this.host = host;
    this.port = port;
    this.#system = system;
    this.#requestTimeout = timeout ?? DEFAULT_REQUEST_TIMEOUT;
    this.#pending = new PendingRequests(
      system.clock,
      (line) => this.#link?.write(line),
      (error) => this.#link?.abort(error),
    );
    const transport = katcpTransport(
      {
        open: (link) => this.#open(link),
        message: (m) => this.#dispatch(m),
        logger: () => this.#logger(),
      },
      { maxLineLength: max, maxBacklog },
    );
    const logic = katcpConnectionMachine.provide({
      actors: { transport },
      actions: { enterState: ({ context }, params) => this.#enterState(params.state, context) },
    });
    const input = {
      host,
      port,
      autoReconnect: options.autoReconnect ?? true,
      random: options.random,
      negotiationTimeoutMs: negotiationTimeout ?? undefined,
    };
    const id = options.id ?? `katcp:${host}:${port}:${++clientCount}`;
    this.#forgetStop = system.onStop((error) => this.#systemStopped(error));
    this.#handle = (options.supervisor === undefined
      ? system.spawn(logic, { id, input })
      : system.spawn(logic, {
          id,
          input,
          supervisor: options.supervisor,
          restart: 'transient',
        })) as unknown as ActorHandle<ConnectionLogic>;
    this.#ref = this.#handle.current;
    // the actor stopped or removed without reaching `closed` (a supervisor stopped it): the client is closed
    this.#handle.subscribe({
      complete: () => this.#gone(new CancelledError('the KATCP connection actor was stopped')),
      error: (err) => this.#gone(err instanceof Error ? err : new CancelledError(String(err))),
    });
  }

  /** Construct and wait for the negotiation (`waitConnected`); on failure the client is closed and the error thrown. */
  static async connect(
    host: string,
    port: number,
    options: KatcpClientOptions & WaitOptions = {},
  ): Promise<KatcpClient> {
    const { timeout, signal, ...rest } = options ?? {};
    checkDuration('timeout', timeout, false);
    checkSignal(signal);
    const client = new KatcpClient(host, port, rest);
    try {
      await client.waitConnected({ timeout, signal });
      return client;
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get isConnected(): boolean {
    return this.#state === 'connected';
  }

  /** The server's protocol (`flags` has 'I', 'B', 'T', ...), known once negotiated. */
  get protocol(): ProtocolVersion | null {
    return this.#context?.protocol ?? null;
  }

  get lastError(): Error | null {
    return this.#stopError ?? this.#context?.lastError ?? null;
  }

  /** The connection actor (its handle). */
  get actor(): ActorHandle<ConnectionLogic> {
    return this.#handle;
  }

  /** Pending requests (sent or queued). */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Bytes the parser holds for the line in progress (bounded by `maxLineLength`). */
  get bufferedBytes(): number {
    return this.#link?.buffered ?? 0;
  }

  /** `ok` -> the arguments after `ok` and the informs; `fail` -> FailReply; anything else -> InvalidReply. */
  request(name: string, ...args: ArgValue[]): Promise<[Buffer[], KatcpMessage[]]> {
    try {
      this.#ready(name, undefined);
      return this.#pending.send(name, args, this.#requestTimeout);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `request` with a timeout, an AbortSignal or an explicit message id. */
  requestWith(
    options: RequestOptions,
    name: string,
    ...args: ArgValue[]
  ): Promise<[Buffer[], KatcpMessage[]]> {
    try {
      return this.#pending.send(name, args, this.#checked(name, options), options.signal, options.mid);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Send a request and get its reply and informs, whatever the reply code. */
  requestRaw(name: string, args: readonly ArgValue[] = [], options: RequestOptions = {}): Promise<RawReply> {
    try {
      // an array of arguments (`requestRaw('echo', 'a b')` would split a string into characters, or send none)
      if (!Array.isArray(args)) {
        throw new InvalidArgumentError(
          `args must be an array of arguments, got ${args === null ? 'null' : typeof args}`,
        );
      }
      return this.#pending.sendRaw(name, args, this.#checked(name, options), options.signal, options.mid);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Handle unsolicited informs named `name`; returns a function that removes the handler. */
  addInformHandler(name: string, handler: (msg: KatcpMessage) => void): () => void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    // a handler of its own, so the same function added twice is removed once per remover
    const h: InformHandler = (msg) => handler(msg);
    this.#informHandlers.set(name, [...(this.#informHandlers.get(name) ?? []), h]);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const rest = (this.#informHandlers.get(name) ?? []).filter((x) => x !== h);
      if (rest.length === 0) this.#informHandlers.delete(name);
      else this.#informHandlers.set(name, rest);
    };
  }

  /** Handle every unsolicited inform. */
  onInform(handler: (msg: KatcpMessage) => void): () => void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('callback must be a function');
    // a set of functions: the same one added twice runs once
    if (!this.#anyInform.includes(handler)) this.#anyInform = [...this.#anyInform, handler];
    return () => {
      this.#anyInform = this.#anyInform.filter((x) => x !== handler);
    };
  }

  onStateChange(listener: (state: ConnectionState, error: Error | null) => void): () => void {
    return this.#addTo(this.#stateListeners, listener);
  }

  addConnectedCallback(cb: () => void): () => void {
    return this.#addTo(this.#connected, cb);
  }

  addDisconnectedCallback(cb: () => void): () => void {
    return this.#addTo(this.#disconnected, cb);
  }

  addFailedConnectCallback(cb: (error: Error) => void): () => void {
    return this.#addTo(this.#failedConnect, cb);
  }

  /**
   * Resolves once connected (now if already), waiting through reconnects; rejects with `lastError` when closed,
   * CancelledError, or TimeoutError (its `cause` the last failure, e.g. a NegotiationTimeoutError, if any).
   */
  waitConnected(options: WaitOptions = {}): Promise<void> {
    return this.#wait((s) => s === 'connected', 'connected', options);
  }

  /** Resolves once there is no connection (sleeping, connecting or closed). */
  waitDisconnected(options: WaitOptions = {}): Promise<void> {
    return this.#wait(
      (s) => s === 'sleeping' || s === 'connecting' || s === 'closed',
      'disconnected',
      options,
    );
  }

  /** Close for good (idempotent): resolves when the state is `closed` and the socket is released. */
  async close(): Promise<void> {
    if (this.#state !== 'closed') this.#handle.current?.send({ type: 'CLOSE' });
    await this.waitClosed();
  }

  /** Resolves when the client is closed and its sockets are released. */
  async waitClosed(): Promise<void> {
    if (this.#state !== 'closed') {
      await new Promise<void>((resolve) => {
        this.#waiters.add({ resolve, reject: () => resolve(), until: (s) => s === 'closed' });
      });
    }
    await Promise.all([...this.#links]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- lifecycle (the machine's enterState: aiokatcp `_set_state`) ----

  #enterState(state: ConnectionState, context: KatcpConnectionContext): void {
    const old = this.#state;
    this.#state = state;
    this.#context = context;
    const error = context.lastError;
    if (state === 'connected') this.#pending.reset(context.protocol?.flags.includes('I') ?? false);
    if (old === 'connected' && state !== 'connected') {
      this.#pending.failAll(error ?? new BrokenPipeError('Not connected'));
      for (const cb of [...this.#disconnected]) safely(() => this.#logger(), 'disconnected callback', cb);
    }
    if ((old === 'connecting' || old === 'negotiating') && state !== 'negotiating' && state !== 'connected') {
      if (context.autoReconnect && error) {
        this.#logger().warn({ err: error }, `Failed to connect to ${this.host}:${this.port}`);
      }
      if (error && !this.#closing(error)) {
        for (const cb of [...this.#failedConnect]) {
          safely(
            () => this.#logger(),
            'failed-connect callback',
            () => cb(error),
          );
        }
      }
    }
    if (
      state !== 'connecting' &&
      state !== 'negotiating' &&
      state !== 'connected' &&
      state !== 'disconnecting'
    ) {
      this.#link = null;
    }
    for (const w of [...this.#waiters]) {
      if (w.until(state)) {
        this.#waiters.delete(w);
        w.resolve();
      } else if (state === 'closed') {
        this.#waiters.delete(w);
        w.reject(error ?? new BrokenPipeError('Connection closed'));
      }
    }
    if (state === 'connected') {
      for (const cb of [...this.#connected]) safely(() => this.#logger(), 'connected callback', cb);
    }
    if (state === 'closed') this.#forgetStop();
    for (const l of [...this.#stateListeners]) {
      safely(
        () => this.#logger(),
        'state listener',
        () => l(state, error),
      );
    }
  }

  /** A `close()` while connecting is not a failed connect (its error is the client's own BrokenPipeError). */
  #closing(error: Error): boolean {
    return error instanceof BrokenPipeError && error.message === 'Connection closed by client';
  }

  #gone(error: Error): void {
    if (this.#state !== 'closed') this.#systemStopped(error);
  }

  /** The system stopped (or the actor is gone): the client is closed with `error`, nothing is left pending. */
  #systemStopped(error: Error): void {
    if (this.#stopError) return;
    this.#forgetStop();
    this.#stopError = error;
    const old = this.#state;
    this.#state = 'closed';
    if (old === 'connected') this.#pending.failAll(error);
    for (const w of [...this.#waiters]) {
      this.#waiters.delete(w);
      if (w.until('closed')) w.resolve();
      else w.reject(error);
    }
    this.#pending.dispose();
    for (const l of [...this.#stateListeners])
      safely(
        () => this.#logger(),
        'state listener',
        () => l('closed', error),
      );
  }

  #open(link: KatcpLink): void {
    this.#link = link;
    const closed = link.closed;
    this.#links.add(closed);
    void closed.then(() => this.#links.delete(closed));
  }

  // ---- requests ----

  /**
   * A request's options checked (InvalidArgumentError), then the connection (BrokenPipeError) and the signal
   * (CancelledError): nothing is sent when this throws. Returns the request's timeout in ms.
   */
  #checked(name: string, options: RequestOptions): number {
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentError('options must be an object');
    const timeout = checkDuration('timeout', options.timeout, false) ?? this.#requestTimeout;
    const signal = checkSignal(options.signal);
    const mid = options.mid;
    if (mid !== undefined && (!Number.isInteger(mid) || mid < 1 || mid > MAX_MID)) {
      throw new InvalidArgumentError(`mid must be an integer in 1..${MAX_MID}, got ${String(mid)}`);
    }
    this.#ready(name, signal);
    return timeout;
  }

  #ready(name: string, signal: AbortSignal | undefined): void {
    if (this.#state !== 'connected' || this.#link === null) throw new BrokenPipeError('Not connected');
    if (signal?.aborted) throw new CancelledError(`request ${name} was cancelled`);
  }

  // ---- messages from the socket (not XState events) ----

  #dispatch(m: KatcpMessage): void {
    if (this.#pending.take(m)) return;
    if (m.type !== 'inform') {
      if (m.type === 'request') this.#debug(m, 'request from the server ignored');
      else this.#debug(m, 'reply to no pending request ignored (possibly cancelled or timed out)');
      return;
    }
    if (m.mid !== null) {
      this.#debug(m, 'inform for no pending request ignored');
      return;
    }
    const named = this.#informHandlers.get(m.name);
    const any = this.#anyInform;
    if (named !== undefined) {
      for (let i = 0; i < named.length; i++) {
        try {
          named[i](m);
        } catch (err) {
          this.#logger().error({ err }, `inform handler for ${m.name} threw`);
        }
      }
    }
    for (let i = 0; i < any.length; i++) {
      try {
        any[i](m);
      } catch (err) {
        this.#logger().error({ err }, 'inform handler threw');
      }
    }
    if (named === undefined && any.length === 0) this.#debug(m, 'unhandled inform');
  }

  // ---- helpers ----

  #wait(until: (s: ConnectionState) => boolean, what: string, options: WaitOptions): Promise<void> {
    try {
      if (options === null || typeof options !== 'object')
        throw new InvalidArgumentError('options must be an object');
      const timeout = checkDuration('timeout', options.timeout, false);
      const signal = checkSignal(options.signal);
      if (until(this.#state)) return Promise.resolve();
      if (this.#state === 'closed') throw this.lastError ?? new BrokenPipeError('Connection closed');
      if (signal?.aborted) throw new CancelledError(`wait for ${what} was cancelled`);
      return new Promise<void>((resolve, reject) => {
        const clock = this.#system.clock;
        let timer: unknown;
        const done = () => {
          this.#waiters.delete(w);
          if (timer !== undefined) clock.clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        };
        const w: Waiter = {
          until,
          resolve: () => {
            done();
            resolve();
          },
          reject: (e) => {
            done();
            reject(e);
          },
        };
        const onAbort = () => w.reject(new CancelledError(`wait for ${what} was cancelled`));
        signal?.addEventListener('abort', onAbort, { once: true });
        if (!isNever(timeout)) {
          timer = clock.setTimeout(() => {
            // why it is not there yet (a refused connect, a silent peer...), when there was a failure
            const cause = this.lastError ?? undefined;
            w.reject(new TimeoutError(`not ${what} within ${timeout} ms`, cause && { cause }));
          }, timeout as number);
        }
        this.#waiters.add(w);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #addTo<T>(set: Set<T>, fn: T): () => void {
    if (typeof fn !== 'function') throw new InvalidArgumentError('callback must be a function');
    set.add(fn);
    return () => void set.delete(fn);
  }

  #logger(): Logger {
    if (!this.#log) {
      const ref = this.#ref ?? this.#handle?.current;
      if (!ref) return this.#system.logger;
      this.#log = this.#system.loggerFor(ref, 'katcpConnection').logger;
    }
    return this.#log;
  }

  #debug(m: KatcpMessage, what: string): void {
    const log = this.#logger();
    if (log.isLevelEnabled?.('debug') ?? true) log.debug({ message: messageText(m) }, what);
  }
}
