/**
 * One client of the device server, server side: it reads the client's requests (with backpressure), runs them
 * (concurrently up to `maxPending`), and writes its replies and informs through one output queue.
 *
 *   socket 'data' -> parser -> queue -> pump -> handler -> reply/informs -> out queue -> one socket.write per turn
 *                                        ^ stops while maxPending are in flight or the socket needs a drain
 *
 * Output: every line for a client (replies, informs, `#sensor-status` from its samplers, mass informs) is queued
 * and the queue goes out in one `socket.write` at the end of the current turn (a microtask), or at once when it
 * holds 64 KiB. The backlog limit is checked after every socket write, against the socket's own backlog less the
 * bytes of request output (a request's informs and reply) not yet handed to the kernel: a client that does not
 * read is dropped once its asynchronous output (`#sensor-status`, mass informs, `#log`) passes `maxBacklog`. Request
 * output is bounded by reading requests with backpressure instead, so one reply larger than `maxBacklog` (a
 * `?sensor-list` of 100k sensors) reaches a client that reads, and so do the informs queued behind it (aiokatcp
 * too applies `max_backlog` to asynchronous informs only).
 *
 * Requests: a handler that returns synchronously is replied to synchronously (no promise in between); an async
 * one counts against `maxPending` until it settles (a returned thenable is adopted by a promise, so one whose
 * `then` throws or calls back twice settles its request once). Whatever a handler throws, the request gets its
 * `!reply fail` (an error that cannot be made a string included) and nothing escapes to the process. Every
 * request's context has a lazily made `signal`, aborted when the client goes away or the server closes, so a
 * pending handler can stop its timers and work.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../engine/logging.js';
import { CancelledError, InvalidStateError } from '../../errors.js';
import { hostPort } from '../../transport/address.js';
import { type ArgValue, type KatcpMessage, KatcpParser } from './codec.js';
import { FailReply, InvalidReply, type KatcpSyntaxError, LineTooLongError } from './errors.js';
import { formatPythonFloat, type SensorSampler } from './sampling.js';
import { formatLine, replyArgs } from './serverFormat.js';

/** A connected client as the server sees it. */
export interface ClientInfo {
  /** Sequence number, from 1, in connection order. */
  readonly id: number;
  /** `host:port` (`[v6]:port`), as in `#client-list` and `#client-connected`. */
  readonly address: string;
}

/** What a request handler gets besides the request's arguments. */
export interface RequestContext {
  readonly client: ClientInfo;
  /** The request's name. */
  readonly name: string;
  /** The request's message id, or null. */
  readonly mid: number | null;
  /** Send `#name[mid] args...` to the requester (before the reply). Throws InvalidStateError after it. */
  inform(...args: ArgValue[]): void;
  /** Send `#name args...` to every client (no message id). */
  informAll(...args: ArgValue[]): void;
  /** True once the reply was sent (the client went away or the handler finished). */
  readonly replied: boolean;
  /**
   * Aborted (with a CancelledError) when the client disconnects or the server closes while the request is
   * pending (aiokatcp cancels pending requests on stop): an async handler stops its timers and work on it.
   */
  readonly signal: AbortSignal;
}

/**
 * A request handler: the arguments are the request's, as bytes. Its return value (or the promise's) is the reply's
 * arguments after `ok` (nothing: `!name ok`).
 */
export type RequestHandler = (
  ctx: RequestContext,
  ...args: Buffer[]
) => readonly ArgValue[] | void | Promise<readonly ArgValue[] | void>;

/** A declared request (internal). */
export interface RequestEntry {
  description: string;
  handler: RequestHandler;
  timeoutHint?: number;
  minArgs: number;
  maxArgs: number;
}

/** What a connection needs from its server (internal). */
export interface ConnectionHost {
  readonly maxLineLength: number;
  readonly maxBacklog: number;
  readonly maxPending: number;
  readonly logger: Logger;
  /** True once the server is closing: no more requests are started. */
  readonly stopping: boolean;
  /** Wall clock in seconds (`#log` timestamps). */
  now(): number;
  request(name: string): RequestEntry | undefined;
  massInform(name: string, ...args: ArgValue[]): void;
  /** The connection is gone (forget it). */
  forget(client: ClientConnection): void;
}

/** Queued output is written at once past this many bytes (else at the end of the turn). */
const FLUSH_AT = 64 * 1024;

function formatAddress(host: string | undefined, port: number | undefined): string {
  const h = host ?? 'unknown';
  const bare = h.startsWith('::ffff:') && h.includes('.') ? h.slice(7) : h;
  return hostPort(bare, port ?? 0);
}

function isPromise<T>(v: unknown): v is Promise<T> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

/** `String(err)` that never throws (an object without a prototype, a throwing `toString`, a hostile proxy). */
function describeError(err: unknown): string {
  try {
    return String(err);
  } catch {
    try {
      return Object.prototype.toString.call(err);
    } catch {
      return 'unprintable error';
    }
  }
}

/** One request being handled: its context for the handler, and its reply (sent once). */
class ServerRequest implements RequestContext {
  readonly #conn: ClientConnection;
  readonly name: string;
  readonly mid: number | null;
  #replied = false;
  #controller: AbortController | null = null;

  constructor(conn: ClientConnection, name: string, mid: number | null) {
    this.#conn = conn;
    this.name = name;
    this.mid = mid;
  }

  get client(): ClientInfo {
    return this.#conn.info();
  }

  get replied(): boolean {
    return this.#replied;
  }

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#conn.closed) this.#controller.abort(this.#conn.closedReason());
    }
    return this.#controller.signal;
  }

  inform(...args: ArgValue[]): void {
    if (this.#replied) throw new InvalidStateError(`request ?${this.name} has already been replied to`);
    this.#conn.write(formatLine('inform', this.name, this.mid, args), true);
  }

  informAll(...args: ArgValue[]): void {
    this.#conn.host.massInform(this.name, ...args);
  }

  /** Reply `!name[mid] <first> <rest...>` unless already replied (formatting errors propagate, nothing sent). */
  reply(first: string, rest: readonly ArgValue[]): void {
    if (this.#replied) return;
    const bytes = formatLine('reply', this.name, this.mid, [first, ...rest]);
    this.#replied = true;
    this.#conn.write(bytes, true);
  }

  /** Reply `ok` with a handler's value, or the failure it raises while being written. */
  replyValue(value: unknown): void {
    try {
      this.reply('ok', replyArgs(value));
    } catch (err) {
      this.fail(err);
    }
  }

  /** Reply the failure for a handler's error (nothing once the client is gone). Never throws: any error is one. */
  fail(err: unknown): void {
    if (this.#replied || this.#conn.closed) return;
    try {
      if (err instanceof InvalidReply) this.reply('invalid', [err.message]);
      else if (err instanceof FailReply) this.reply('fail', [err.message]);
      else {
        const e = err instanceof Error ? err : new Error(describeError(err));
        this.#conn.host.logger.error(
          { err: e, request: this.name },
          'uncaught error in a KATCP request handler',
        );
        this.reply('fail', [`${e.name}: ${e.message}`]);
      }
    } catch {
      // a hostile error object (throwing getters, a proxy): reply what can be said of it
      this.reply('fail', [`Error: ${describeError(err)}`]);
    }
  }

  /** The handler settled: late informs now throw. */
  settle(): void {
    this.#replied = true;
  }

  abort(reason: Error): void {
    if (this.#controller === null) this.#controller = new AbortController();
    this.#controller.abort(reason);
  }
}

/** Server-side state of one client connection. */
export class ClientConnection implements ClientInfo {
  readonly id: number;
  readonly address: string;
  readonly socket: Socket;
  readonly host: ConnectionHost;
  readonly parser: KatcpParser;
  readonly samplers = new Map<string, SensorSampler>();
  /** Requests in flight (async handlers not settled). */
  pending = 0;
  /** Requests read but not started (maxPending reached, or the writes are not drained). */
  readonly queue: KatcpMessage[] = [];
  closed = false;
  #queueHead = 0;
  #out: Buffer[] = [];
  #outBytes = 0;
  /** Bytes of request output (informs and replies of requests) in `#out`. */
  #outRequestBytes = 0;
  /** Bytes of request output written to the socket and not yet handed to the kernel (not held against maxBacklog). */
  #requestBacklog = 0;
  #flushQueued = false;
  readonly #inFlight = new Set<ServerRequest>();
  #closedReason: Error | null = null;
  #info: ClientInfo | undefined;

  constructor(id: number, socket: Socket, host: ConnectionHost) {
    this.id = id;
    this.socket = socket;
    this.host = host;
    this.address = formatAddress(socket.remoteAddress, socket.remotePort);
    this.parser = new KatcpParser({ maxLineLength: host.maxLineLength });
  }

  /** A frozen snapshot for handlers (made once). */
  info(): ClientInfo {
    this.#info ??= Object.freeze({ id: this.id, address: this.address });
    return this.#info;
  }

  /** Why the client is closed (the abort reason of its requests' signals). */
  closedReason(): Error {
    this.#closedReason ??= new CancelledError('the KATCP client has disconnected');
    return this.#closedReason;
  }

  setSampler(name: string, sampler: SensorSampler | null): void {
    this.samplers.get(name)?.close();
    this.samplers.delete(name);
    if (sampler) this.samplers.set(name, sampler);
  }

  // ----------------------------------------------------------------------------------------------------------
  // Writing

  /**
   * Queue bytes for the client; they go out at the end of the turn (or now, past 64 KiB). `request` marks a
   * request's own informs and reply, which do not count against `maxBacklog` (they are bounded by backpressure).
   */
  write(bytes: Buffer, request = false): void {
    if (this.closed) return;
    this.#out.push(bytes);
    this.#outBytes += bytes.length;
    if (request) this.#outRequestBytes += bytes.length;
    if (this.#outBytes >= FLUSH_AT) this.flush();
    else if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
  }

  readonly #flushTask = (): void => {
    this.#flushQueued = false;
    this.flush();
  };

  /** Write the queued bytes now; over the backlog limit the client is disconnected (it does not read). */
  flush(): void {
    if (this.closed || this.#outBytes === 0) return;
    const out = this.#out;
    const bytes = out.length === 1 ? out[0] : Buffer.concat(out, this.#outBytes);
    const requestBytes = this.#outRequestBytes;
    this.#out = [];
    this.#outBytes = 0;
    this.#outRequestBytes = 0;
    if (requestBytes === 0) this.socket.write(bytes);
    else {
      // the callback runs once the chunk has left the socket's buffer (or the socket failed)
      this.#requestBacklog += requestBytes;
      this.socket.write(bytes, () => {
        this.#requestBacklog -= requestBytes;
      });
    }
    const backlog = this.backlog();
    if (backlog > this.host.maxBacklog) {
      this.host.logger.warn(
        { client: this.address, backlog },
        'disconnecting katcp client because it is too slow',
      );
      this.drop();
      this.socket.destroy();
    }
  }

  /** The socket's unsent bytes that count against maxBacklog: all but request output. */
  backlog(): number {
    return this.socket.writableLength - this.#requestBacklog;
  }

  // ----------------------------------------------------------------------------------------------------------
  // Reading

  onData(chunk: Buffer): void {
    if (this.closed) return;
    this.parser.push(chunk, this.#onMessage, this.#onParseError);
    this.pump();
  }

  readonly #onMessage = (m: KatcpMessage): void => {
    if (this.closed || m.type !== 'request') return;
    this.queue.push(m);
  };

  readonly #onParseError = (err: KatcpSyntaxError): void => {
    if (this.closed) return;
    this.write(
      formatLine('inform', 'log', null, [
        'error',
        formatPythonFloat(this.host.now()),
        'orrery.katcp',
        err.message,
      ]),
    );
    if (err instanceof LineTooLongError) {
      const bye = formatLine('inform', 'disconnect', null, [`line longer than ${err.limit} bytes`]);
      this.disconnect(bye, 'line too long');
    }
  };

  /** Start queued requests while there is room; read the socket only when nothing waits. */
  pump(): void {
    const queue = this.queue;
    const host = this.host;
    while (
      !this.closed &&
      !host.stopping &&
      this.#queueHead < queue.length &&
      this.pending < host.maxPending &&
      !this.socket.writableNeedDrain
    ) {
      const m = queue[this.#queueHead];
      queue[this.#queueHead++] = undefined as unknown as KatcpMessage;
      this.#handle(m);
    }
    if (this.#queueHead >= queue.length) {
      queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024) {
      queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    if (this.closed) return;
    if (queue.length > 0) this.socket.pause();
    else if (this.socket.isPaused()) this.socket.resume();
  }

  #handle(m: KatcpMessage): void {
    const req = new ServerRequest(this, m.name, m.mid);
    const entry = this.host.request(m.name);
    if (!entry) {
      req.reply('invalid', [`unknown request ${m.name}`]);
      return;
    }
    if (m.args.length > entry.maxArgs) {
      req.reply('fail', [`too many arguments for ${m.name}`]);
      return;
    }
    if (m.args.length < entry.minArgs) {
      req.reply('fail', [`too few arguments for ${m.name}`]);
      return;
    }
    let result: ReturnType<RequestHandler>;
    let thenable: boolean;
    try {
      result = entry.handler(req, ...m.args);
      thenable = isPromise(result); // a throwing `then` getter is the handler's error
    } catch (err) {
      req.fail(err);
      return;
    }
    if (!thenable) {
      req.replyValue(result);
      return;
    }
    this.pending++;
    this.#inFlight.add(req);
    // adopted, not `result.then(...)`: a hostile thenable's `then` may throw (a rejection) or call back twice
    // (only the first counts); the request settles exactly once whatever happens while replying
    Promise.resolve()
      .then(() => result)
      .then(
        (value) => req.replyValue(value),
        (err: unknown) => req.fail(err),
      )
      .finally(() => this.#settled(req))
      .catch((err: unknown) =>
        this.host.logger.error({ err, request: req.name }, 'error while replying to a KATCP request'),
      );
  }

  /** An async request settled (once per request: it leaves `#inFlight` once). */
  #settled(req: ServerRequest): void {
    if (!this.#inFlight.delete(req)) return;
    this.pending--;
    req.settle(); // late informs from the handler now throw
    this.pump();
  }

  // ----------------------------------------------------------------------------------------------------------
  // Ending

  /** Forget the client: its samplers, its queues; its pending requests' signals are aborted. Idempotent. */
  drop(reason?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (reason) this.#closedReason ??= reason;
    this.queue.length = 0;
    this.#queueHead = 0;
    this.#out = [];
    this.#outBytes = 0;
    this.#outRequestBytes = 0;
    this.host.forget(this);
    this.socket.resume(); // let a paused socket see the peer's end
    for (const s of this.samplers.values()) s.close();
    this.samplers.clear();
    this.parser.reset();
    this.host.logger.debug({ client: this.address }, 'katcp client gone');
    if (this.#inFlight.size > 0) {
      const why = this.closedReason();
      const inFlight = [...this.#inFlight];
      for (const req of inFlight) req.abort(why);
    }
  }

  /**
   * Write what is queued and `last` (if any), end the socket and forget the client; the socket is destroyed if the
   * peer does not close its end within a second (a real timer, unref'ed: it is not device time).
   */
  disconnect(last: Buffer | null, why: string, reason?: Error): void {
    this.flush();
    const socket = this.socket;
    this.drop(reason);
    this.host.logger.info({ client: this.address, reason: why }, 'disconnecting katcp client');
    if (socket.destroyed) return;
    if (last && this.backlog() <= this.host.maxBacklog) socket.end(last);
    else socket.end();
    const timer = setTimeout(() => socket.destroy(), 1000);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }
}
