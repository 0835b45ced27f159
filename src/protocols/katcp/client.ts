/**
 * `KatcpClient`: a KATCP v5 client (aiokatcp `Client`) on the `katcpConnection` machine.
 *
 * The machine owns the connection's lifecycle (connect, negotiate `#version-connect`, disconnect, reconnect with
 * aiokatcp's jittered backoff, close); this facade owns the requests. Requests, replies and informs never pass
 * through XState: the socket's messages come here directly (`KatcpTransportSink.message`) and requests are written
 * to the socket directly, so the hot path is a Map lookup.
 *
 * - Requests are accepted only while `connected` (else `BrokenPipeError('Not connected')`).
 * - With the server's `I` flag, requests are pipelined with message ids 1, 2, 3, ... (an explicit `mid` is
 *   respected); replies and their informs are matched by id, in any order.
 * - Without it, requests are serialised (one outstanding at a time, in call order) and matched by name.
 * - A request's timeout (`requestTimeout`, default 5000 ms, Infinity for none) rejects with RequestTimeoutError
 *   and forgets the request (a late reply is ignored); an aborted `signal` rejects with CancelledError. Timeouts
 *   share one sweep timer on the system clock.
 * - Leaving `connected` fails every pending request with the machine's `lastError` (ConnectionResetError after a
 *   peer close, BrokenPipeError after `#disconnect` or `close()`, the ProtocolError or LineTooLongError that
 *   dropped the connection); the system stopping fails them with SystemStoppedError.
 * - Informs that belong to no request go to `addInformHandler(name)` and `onInform` handlers; unsolicited replies,
 *   server requests and informs with an unknown id are logged at debug and ignored. Callback errors are logged.
 *
 * Differences from aiokatcp, on purpose: request timeouts are built in (typed, not a fake `fail` reply as in
 * katcp-python); a line over `maxLineLength` (1 MiB) drops the connection instead of being skipped.
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
import { type ArgValue, encodeArg, formatMessage, type KatcpMessage, MAX_MID, messageText } from './codec.js';
import { type KatcpLink, katcpTransport } from './connection.js';
import { BrokenPipeError, FailReply, InvalidReply, RequestTimeoutError } from './errors.js';
import type { ProtocolVersion } from './wire.js';

export type ConnectionState = KatcpConnectionState;

export interface KatcpClientOptions {
  /** Reconnect after a lost or failed connection (default true). */
  autoReconnect?: boolean;
  /** Per-request timeout in ms (default 5000, katcp-python's 5 s); Infinity for none. */
  requestTimeout?: number;
  /** Longest line accepted from the server, in bytes (default 1 MiB). */
  maxLineLength?: number;
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

export interface RawReply {
  reply: KatcpMessage;
  informs: KatcpMessage[];
}

export interface WaitOptions {
  timeout?: number;
  signal?: AbortSignal;
}

type ConnectionLogic = typeof katcpConnectionMachine;

interface Pending {
  readonly name: string;
  readonly key: number;
  /** The request line, kept until it is written (serialised mode). */
  line: Buffer | null;
  readonly informs: KatcpMessage[];
  readonly deadline: number;
  readonly resolve: (reply: RawReply) => void;
  readonly reject: (error: Error) => void;
  abort: { signal: AbortSignal; listener: () => void } | null;
}

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
  #midMode = false;
  #nextMid = 1;
  #nextKey = 1;
  /** Pending requests: by message id with `I`, else by a private key in call order (the first is on the wire). */
  readonly #pending = new Map<number, Pending>();
  #sweepAt = Number.POSITIVE_INFINITY;
  #sweepTimer: unknown = undefined;
  readonly #informHandlers = new Map<string, Set<(msg: KatcpMessage) => void>>();
  readonly #anyInform = new Set<(msg: KatcpMessage) => void>();
  readonly #stateListeners = new Set<(state: ConnectionState, error: Error | null) => void>();
  readonly #connected = new Set<() => void>();
  readonly #disconnected = new Set<() => void>();
  readonly #failedConnect = new Set<(error: Error) => void>();
  readonly #waiters = new Set<Waiter>();
  #forgetStop: () => void;
  #stopError: Error | null = null;

  /** Starts connecting at once (every option is checked first: InvalidArgumentError). */
  constructor(host: string, port: number, options: KatcpClientOptions = {}) {
    if (typeof host !== 'string' || host === '')
      throw new InvalidArgumentError('host must be a non-empty string');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidArgumentError(`port must be an integer in 0..65535, got ${String(port)}`);
    }
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentError('options must be an object');
    const timeout = checkDuration('requestTimeout', options.requestTimeout, false);
    if (options.random !== undefined && typeof options.random !== 'function') {
      throw new InvalidArgumentError('random must be a function');
    }
    const max = options.maxLineLength;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      throw new InvalidArgumentError(`maxLineLength must be a positive integer, got ${String(max)}`);
    }
    const system = checkSystem(options.system) ?? getDefaultSystem();
    this.host = host;
    this.port = port;
    this.#system = system;
    this.#requestTimeout = timeout ?? DEFAULT_REQUEST_TIMEOUT;
    const transport = katcpTransport(
      {
        open: (link) => this.#open(link),
        message: (m) => this.#dispatch(m),
        logger: () => this.#logger(),
      },
      { maxLineLength: max },
    );
    const logic = katcpConnectionMachine.provide({
      actors: { transport },
      actions: { enterState: ({ context }, params) => this.#enterState(params.state, context) },
    });
    const input = { host, port, autoReconnect: options.autoReconnect ?? true, random: options.random };
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
    return this.requestWith({}, name, ...args);
  }

  /** `request` with a timeout, an AbortSignal or an explicit message id. */
  async requestWith(
    options: RequestOptions,
    name: string,
    ...args: ArgValue[]
  ): Promise<[Buffer[], KatcpMessage[]]> {
    const { reply, informs } = await this.requestRaw(name, args, options);
    const code = reply.args[0]?.toString('utf8');
    if (code === 'ok') return [reply.args.slice(1) as Buffer[], informs];
    if (code === 'fail') throw new FailReply(reply.args[1]?.toString('utf8') ?? 'Unknown error');
    const text = reply.args[1]?.toString('utf8');
    throw new InvalidReply(
      text ?? (code === undefined ? 'Reply without a code' : `Unknown reply code ${code}`),
    );
  }

  /** Send a request and get its reply and informs, whatever the reply code. */
  requestRaw(name: string, args: readonly ArgValue[] = [], options: RequestOptions = {}): Promise<RawReply> {
    let line: Buffer;
    let timeout: number;
    let mid: number | null = null;
    try {
      if (options === null || typeof options !== 'object')
        throw new InvalidArgumentError('options must be an object');
      timeout = checkDuration('timeout', options.timeout, false) ?? this.#requestTimeout;
      checkSignal(options.signal);
      if (
        options.mid !== undefined &&
        (!Number.isInteger(options.mid) || options.mid < 1 || options.mid > MAX_MID)
      ) {
        throw new InvalidArgumentError(`mid must be an integer in 1..${MAX_MID}, got ${String(options.mid)}`);
      }
      if (this.#state !== 'connected' || this.#link === null) throw new BrokenPipeError('Not connected');
      if (options.signal?.aborted) throw new CancelledError(`request ${name} was cancelled`);
      if (this.#midMode) {
        mid = options.mid ?? this.#allocateMid();
        if (this.#pending.has(mid)) throw new InvalidArgumentError(`message id ${mid} is already pending`);
      } else mid = options.mid ?? null;
      line = formatMessage({ type: 'request', name, mid, args: args.map(encodeArg) });
    } catch (error) {
      return Promise.reject(error);
    }
    const key = this.#midMode ? (mid as number) : this.#nextKey++;
    return new Promise<RawReply>((resolve, reject) => {
      const deadline = isNever(timeout) ? Number.POSITIVE_INFINITY : this.#system.clock.now() + timeout;
      const p: Pending = { name, key, line, informs: [], deadline, resolve, reject, abort: null };
      if (options.signal) {
        const signal = options.signal;
        const listener = () => this.#fail(p, new CancelledError(`request ${name} was cancelled`));
        signal.addEventListener('abort', listener, { once: true });
        p.abort = { signal, listener };
      }
      this.#pending.set(key, p);
      if (this.#midMode || this.#pending.size === 1) this.#send(p);
      if (deadline < this.#sweepAt) this.#armSweep(deadline);
    });
  }

  /** Handle unsolicited informs named `name`; returns a function that removes the handler. */
  addInformHandler(name: string, handler: (msg: KatcpMessage) => void): () => void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    let set = this.#informHandlers.get(name);
    if (!set) {
      set = new Set();
      this.#informHandlers.set(name, set);
    }
    const h = (msg: KatcpMessage) => handler(msg);
    set.add(h);
    return () => {
      set.delete(h);
      if (set.size === 0 && this.#informHandlers.get(name) === set) this.#informHandlers.delete(name);
    };
  }

  /** Handle every unsolicited inform. */
  onInform(handler: (msg: KatcpMessage) => void): () => void {
    return this.#addTo(this.#anyInform, handler);
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

  /** Resolves once connected (now if already); rejects with `lastError` when closed, TimeoutError, CancelledError. */
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
    if (state === 'connected') {
      this.#midMode = context.protocol?.flags.includes('I') ?? false;
      this.#nextMid = 1;
    }
    if (old === 'connected' && state !== 'connected') {
      this.#failAll(error ?? new BrokenPipeError('Not connected'));
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
    if (old === 'connected') this.#failAll(error);
    for (const w of [...this.#waiters]) {
      this.#waiters.delete(w);
      if (w.until('closed')) w.resolve();
      else w.reject(error);
    }
    this.#clearSweep();
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

  #allocateMid(): number {
    let mid = this.#nextMid;
    while (this.#pending.has(mid)) mid = mid >= MAX_MID ? 1 : mid + 1;
    this.#nextMid = mid >= MAX_MID ? 1 : mid + 1;
    return mid;
  }

  #send(p: Pending): void {
    const line = p.line;
    p.line = null;
    if (line && this.#link) this.#link.write(line);
  }

  #settle(p: Pending): boolean {
    if (this.#pending.get(p.key) !== p) return false;
    this.#pending.delete(p.key);
    if (p.abort) p.abort.signal.removeEventListener('abort', p.abort.listener);
    if (this.#pending.size === 0) {
      if (this.#sweepTimer !== undefined) this.#clearSweep();
    } else if (!this.#midMode) {
      const next = this.#pending.values().next().value as Pending;
      if (next.line) this.#send(next);
    }
    return true;
  }

  #fail(p: Pending, error: Error): void {
    if (this.#settle(p)) p.reject(error);
  }

  #failAll(error: Error): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    this.#clearSweep();
    for (const p of all) {
      if (p.abort) p.abort.signal.removeEventListener('abort', p.abort.listener);
      p.reject(error);
    }
  }

  /** One timer for every request timeout: armed for the earliest deadline, re-armed after each sweep. */
  #armSweep(at: number): void {
    this.#clearSweep();
    if (at === Number.POSITIVE_INFINITY) return;
    const clock = this.#system.clock;
    this.#sweepAt = at;
    this.#sweepTimer = clock.setTimeout(() => this.#sweep(), Math.max(0, at - clock.now()));
  }

  #clearSweep(): void {
    if (this.#sweepTimer !== undefined) this.#system.clock.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
  }

  #sweep(): void {
    this.#sweepTimer = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
    const now = this.#system.clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const p of [...this.#pending.values()]) {
      if (p.deadline <= now) {
        this.#fail(p, new RequestTimeoutError(`Request ${p.name} timed out`));
      } else if (p.deadline < next) next = p.deadline;
    }
    if (next < this.#sweepAt) this.#armSweep(next);
  }

  // ---- messages from the socket (not XState events) ----

  #dispatch(m: KatcpMessage): void {
    if (m.type === 'request') {
      this.#debug(m, 'request from the server ignored');
      return;
    }
    const p = this.#owner(m);
    if (m.type === 'reply') {
      if (p && this.#settle(p)) p.resolve({ reply: m, informs: p.informs });
      else this.#debug(m, 'reply to no pending request ignored (possibly cancelled or timed out)');
      return;
    }
    if (p) {
      p.informs.push(m);
      return;
    }
    if (m.mid !== null) {
      this.#debug(m, 'inform for no pending request ignored');
      return;
    }
    const set = this.#informHandlers.get(m.name);
    if (set)
      for (const h of [...set])
        safely(
          () => this.#logger(),
          `inform handler for ${m.name}`,
          () => h(m),
        );
    for (const h of [...this.#anyInform])
      safely(
        () => this.#logger(),
        'inform handler',
        () => h(m),
      );
    if (!set && this.#anyInform.size === 0) this.#debug(m, 'unhandled inform');
  }

  /** The pending request a reply or inform belongs to: by id with `I`, else the one on the wire, by name. */
  #owner(m: KatcpMessage): Pending | undefined {
    if (this.#midMode) {
      if (m.mid === null) return undefined;
      const p = this.#pending.get(m.mid);
      return p && p.name === m.name ? p : undefined;
    }
    if (this.#pending.size === 0) return undefined;
    const p = this.#pending.values().next().value as Pending;
    return p.line === null && p.name === m.name ? p : undefined;
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
          timer = clock.setTimeout(
            () => w.reject(new TimeoutError(`not ${what} within ${timeout} ms`)),
            timeout as number,
          );
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
