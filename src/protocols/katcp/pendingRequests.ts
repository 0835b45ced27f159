/**
 * The request bookkeeping of a `KatcpClient` connection (aiokatcp `Client`'s `_future_map` and `_request_lock`):
 * pending requests, message ids, the serialised queue of a server without the `I` flag, timeouts, cancellation,
 * and the matching of replies and informs. No sockets and no logging: lines go out through `write`, messages come
 * in through `take`, time is the system clock's.
 *
 *   send(name, args) ──► pending (by mid with `I`; else by a private key, in call order)
 *        │  with `I`: written at once (the writes of one turn leave in one system call, see connection.ts)
 *        │  without:  written when it reaches the head of the queue (one outstanding request at a time)
 *        ▼
 *   take(#name[mid] ...)  ──► appended to its request's informs
 *   take(!name[mid] ...)  ──► settled: `ok` -> [args after ok, informs]; `fail` -> FailReply; else InvalidReply
 *                             (`sendRaw`: the reply and informs as they came)
 *   deadline passed  ──► RequestTimeoutError     signal aborted ──► CancelledError     failAll(e) ──► e
 *
 * Without ids a reply is matched by name alone, so a timed-out or cancelled request that is already on the wire
 * stays at the head of the queue as a placeholder (rejected at once, no longer counted in `size`): it swallows
 * its own late informs and reply, and the next request is written only after that reply. If the reply does not
 * come within the request's timeout again, every request fails with a ProtocolError and `drop` is called (the
 * client drops the connection and reconnects): the replies on that connection can no longer be matched. With an
 * infinite timeout a cancelled request's placeholder waits for its reply for ever (as the request would have).
 *
 * Cost per request (the hot path): one Map entry, one promise, one line written; a reply is one Map lookup by
 * mid. Timeouts share one sweep timer armed for the earliest deadline; it is not re-armed per request (deadlines
 * only grow for a given timeout) and, once nothing is pending, it is released at the end of the current
 * microtask checkpoint, so a request awaited in a loop keeps the same timer and an idle client holds none.
 *
 * Differences from aiokatcp, on purpose: request timeouts are built in (aiokatcp has none; katcp-python fakes a
 * `fail` reply); a timed out or cancelled request is forgotten (its late reply is ignored, as with an unknown id;
 * without ids it is swallowed by the placeholder above).
 */
import type { Clock } from '../../engine/clock.js';
import { CancelledError, InvalidArgumentError } from '../../errors.js';
import { DeadlineSweep } from '../../transport/deadlineSweep.js';
import { type ArgValue, encodeArg, formatMessage, isValidName, type KatcpMessage, MAX_MID } from './codec.js';
import { FailReply, InvalidReply, KatcpSyntaxError, ProtocolError, RequestTimeoutError } from './errors.js';

/** A reply and the informs that came before it, as they came. */
export interface RawReply {
  reply: KatcpMessage;
  informs: KatcpMessage[];
}

/** What `send` resolves with: the reply's arguments after `ok`, and the informs. */
export type RequestResult = [Buffer[], KatcpMessage[]];

interface Pending {
  readonly name: string;
  readonly key: number;
  /** The request line, kept until it is written (serialised mode). */
  line: Buffer | string | null;
  readonly informs: KatcpMessage[];
  /** The request's timeout in ms (a placeholder waits as long again for the late reply). */
  readonly timeout: number;
  deadline: number;
  /** Resolve with the raw reply (`sendRaw`) or check its code (`send`). */
  readonly raw: boolean;
  resolve: (value: never) => void;
  reject: (error: Error) => void;
  abort: { signal: AbortSignal; listener: () => void } | null;
}

const O = 0x6f;
const K = 0x6b;

/** The pending requests of one client; `reset` starts each new connection (ids from 1). */
export class PendingRequests {
  readonly #clock: Clock;
  readonly #write: (line: Buffer | string) => void;
  /** The last request name found valid (a loop of the same request checks it once). */
  #validName = '';
  /** By message id with `I`, else by a private key in call order (the first is the one on the wire). */
  readonly #pending = new Map<number, Pending>();
  /** Without ids: the timed-out or cancelled request on the wire, kept at the head until its late reply. */
  #placeholder: Pending | null = null;
  readonly #drop: (error: Error) => void;
  #midMode = false;
  #nextMid = 1;
  #nextKey = 1;
  /** One timer for every request timeout, armed for the earliest deadline. */
  readonly #sweep: DeadlineSweep<Pending>;
  #idleCheck = false;
  readonly #releaseIfIdle = () => {
    this.#idleCheck = false;
    if (this.#pending.size === 0) this.#sweep.clear();
  };

  /**
   * `write` sends one line (LF-terminated; a string is ASCII) on the current connection; `drop` drops it (without
   * ids, a placeholder's late reply did not come: see above).
   */
  constructor(clock: Clock, write: (line: Buffer | string) => void, drop: (error: Error) => void = () => {}) {
    this.#clock = clock;
    this.#write = write;
    this.#drop = drop;
    this.#sweep = new DeadlineSweep(clock, this.#pending, (expired) => {
      for (const p of expired) this.#fail(p, new RequestTimeoutError(`Request ${p.name} timed out`));
    });
  }

  /** Requests sent or queued (not a placeholder). */
  get size(): number {
    return this.#pending.size - (this.#placeholder === null ? 0 : 1);
  }

  /** True when requests carry message ids (the server has the `I` flag). */
  get midMode(): boolean {
    return this.#midMode;
  }

  /** A new connection: message ids (with `I`) or serialised requests (without), ids from 1 again. */
  reset(midMode: boolean): void {
    this.#midMode = midMode;
    this.#nextMid = 1;
  }

  /**
   * Send `?name args...`: `ok` -> the arguments after `ok` and the informs; `fail` -> FailReply; anything else
   * -> InvalidReply. `timeout` is in ms (Infinity for none: RequestTimeoutError after it), `signal` cancels
   * (CancelledError), `mid` is an explicit message id (with `I` only; 1..MAX_MID, checked by the caller). Throws
   * (synchronously) InvalidArgumentError for a message id already pending and KatcpSyntaxError for a bad name or
   * argument; nothing is sent then.
   */
  send(
    name: string,
    args: readonly ArgValue[],
    timeout: number,
    signal?: AbortSignal,
    mid?: number,
  ): Promise<RequestResult> {
    return this.#add(name, args, timeout, signal, mid, false) as Promise<RequestResult>;
  }

  /** `send`, resolving with the reply and informs whatever the reply code. */
  sendRaw(
    name: string,
    args: readonly ArgValue[],
    timeout: number,
    signal?: AbortSignal,
    mid?: number,
  ): Promise<RawReply> {
    return this.#add(name, args, timeout, signal, mid, true) as Promise<RawReply>;
  }

  /**
   * A message from the server: true when it belongs to a pending request (an inform is kept with it, a reply
   * settles it); false for anything else (unsolicited informs, unknown ids, late replies, server requests).
   */
  take(m: KatcpMessage): boolean {
    if (m.type === 'request') return false;
    let p: Pending | undefined;
    if (this.#midMode) {
      if (m.mid === null) return false;
      p = this.#pending.get(m.mid);
      if (p === undefined || p.name !== m.name) return false;
    } else {
      if (this.#pending.size === 0) return false;
      p = this.#pending.values().next().value as Pending;
      if (p.line !== null || p.name !== m.name) return false;
    }
    if (p === this.#placeholder) {
      // the late informs and reply of a request that timed out or was cancelled: swallowed
      if (m.type === 'reply') {
        this.#placeholder = null;
        this.#settle(p);
        this.#whenIdle();
      }
      return true;
    }
    if (m.type === 'inform') {
      p.informs.push(m);
      return true;
    }
    this.#settle(p);
    if (p.raw) p.resolve({ reply: m, informs: p.informs } as never);
    else this.#conclude(p, m);
    this.#whenIdle();
    return true;
  }

  /** Settle a `send` by its reply code. */
  #conclude(p: Pending, m: KatcpMessage): void {
    const a = m.args;
    const code = a[0];
    if (code !== undefined && code.length === 2 && code[0] === O && code[1] === K) {
      p.resolve([a.length === 1 ? [] : a.slice(1), p.informs] as never);
    } else {
      const text = a[1]?.toString('utf8');
      const c = code?.toString('utf8');
      if (c === 'fail') p.reject(new FailReply(text ?? 'Unknown error'));
      else
        p.reject(
          new InvalidReply(text ?? (c === undefined ? 'Reply without a code' : `Unknown reply code ${c}`)),
        );
    }
  }

  /** Fail every pending request with `error` (the connection is gone); releases the sweep timer. */
  failAll(error: Error): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    this.#placeholder = null;
    this.#sweep.clear();
    for (const p of all) {
      if (p.abort) p.abort.signal.removeEventListener('abort', p.abort.listener);
      p.reject(error);
    }
  }

  /** Release the sweep timer (the client is closed). */
  dispose(): void {
    this.#sweep.clear();
  }

  #add(
    name: string,
    args: readonly ArgValue[],
    timeout: number,
    signal: AbortSignal | undefined,
    explicitMid: number | undefined,
    raw: boolean,
  ): Promise<unknown> {
    let mid: number | null;
    let key: number;
    if (this.#midMode) {
      mid = explicitMid ?? this.#allocateMid();
      if (this.#pending.has(mid)) throw new InvalidArgumentError(`message id ${mid} is already pending`);
      key = mid;
    } else {
      mid = explicitMid ?? null;
      key = this.#nextKey++;
    }
    let line: Buffer | string;
    if (args.length === 0) {
      // the hot path (`?watchdog`): the line as ASCII text, no Buffer of its own (the batch is one write)
      if (name !== this.#validName) {
        if (typeof name !== 'string' || !isValidName(name)) {
          throw new KatcpSyntaxError(`invalid message name ${JSON.stringify(String(name))}`);
        }
        this.#validName = name;
      }
      line = mid === null ? `?${name}\n` : `?${name}[${mid}]\n`;
    } else line = formatMessage({ type: 'request', name, mid, args: args.map(encodeArg) });
    const deadline = timeout === Number.POSITIVE_INFINITY ? timeout : this.#clock.now() + timeout;
    const p: Pending = {
      name,
      key,
      line,
      informs: [],
      timeout,
      deadline,
      raw,
      resolve: undefined as unknown as Pending['resolve'],
      reject: undefined as unknown as Pending['reject'],
      abort: null,
    };
    const promise = new Promise<unknown>((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
    });
    if (signal) {
      const listener = () => this.#fail(p, new CancelledError(`request ${name} was cancelled`));
      signal.addEventListener('abort', listener, { once: true });
      p.abort = { signal, listener };
    }
    this.#pending.set(key, p);
    if (this.#midMode || this.#pending.size === 1) this.#send(p);
    this.#sweep.armFor(deadline);
    return promise;
  }

  #allocateMid(): number {
    let mid = this.#nextMid;
    while (this.#pending.has(mid)) mid = mid >= MAX_MID ? 1 : mid + 1;
    this.#nextMid = mid >= MAX_MID ? 1 : mid + 1;
    return mid;
  }

  #send(p: Pending): void {
    const line = p.line;
    p.line = null;
    if (line) this.#write(line);
  }

  /** Forget `p` (false if it was already settled); write the next queued request in serialised mode. */
  #settle(p: Pending): boolean {
    if (this.#pending.get(p.key) !== p) return false;
    this.#pending.delete(p.key);
    if (p.abort) p.abort.signal.removeEventListener('abort', p.abort.listener);
    if (this.#pending.size !== 0 && !this.#midMode) {
      const next = this.#pending.values().next().value as Pending;
      if (next.line) this.#send(next);
    }
    return true;
  }

  #fail(p: Pending, error: Error): void {
    if (!this.#midMode && p.line === null && this.#pending.get(p.key) === p) {
      if (p === this.#placeholder) {
        this.#lost(p);
        return;
      }
      // on the wire without an id: its late reply would be taken for the next request's (matched by name)
      this.#placeholder = p;
      if (p.abort) p.abort.signal.removeEventListener('abort', p.abort.listener);
      p.abort = null;
      p.deadline = p.timeout === Number.POSITIVE_INFINITY ? p.timeout : this.#clock.now() + p.timeout;
      this.#sweep.armFor(p.deadline);
      p.reject(error);
      return;
    }
    if (!this.#settle(p)) return;
    p.reject(error);
    this.#whenIdle();
  }

  /** A placeholder's late reply did not come either: the replies on this connection cannot be matched. */
  #lost(p: Pending): void {
    const error = new ProtocolError(
      `no reply to ?${p.name} within twice its timeout from a server without message ids: ` +
        'the connection is dropped, a late reply would be taken for the next request',
    );
    this.failAll(error);
    this.#drop(error);
  }

  /**
   * Nothing pending: release the sweep timer at the end of this microtask checkpoint, after the reactions to the
   * request just settled (queued before this), so a caller that awaits it and sends the next keeps the timer.
   */
  #whenIdle(): void {
    if (this.#pending.size === 0 && this.#sweep.armed && !this.#idleCheck) {
      this.#idleCheck = true;
      queueMicrotask(this.#releaseIfIdle);
    }
  }
}
