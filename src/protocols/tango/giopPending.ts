/**
 * The requests of one GIOP connection: ids, the queue of requests waiting for a socket, the ones sent and
 * awaiting a reply, and their timeouts. Timeouts share one timer on the system clock armed for the earliest
 * deadline (`DeadlineSweep`, as KATCP's requests). Pure bookkeeping: the connection facade writes and reads the
 * socket.
 */
import type { Clock } from '../../engine/clock.js';
import { DeadlineSweep } from '../../transport/deadlineSweep.js';

/**
 * Times one request is re-sent after the server's CloseConnection before it fails instead: a server that closes
 * every connection without answering must not make the client reconnect and re-send forever.
 */
export const MAX_RESENDS = 2;

export interface PendingRequest {
  readonly id: number;
  /** The encoded GIOP Request (kept to be re-sent after a CloseConnection). */
  readonly message: Uint8Array;
  readonly operation: string;
  /** Absolute deadline on the clock, ms (Infinity: none). */
  readonly deadline: number;
  readonly timeoutMs: number;
  /** Whether it was written to a socket (a lost socket then fails it: it may have run). */
  sent: boolean;
  /** Times it was re-sent after a CloseConnection (at most `MAX_RESENDS`). */
  resends: number;
  /** Called once with the Reply's body reader outcome. */
  settle(error: Error | null, reply: unknown): void;
}

export class PendingRequests {
  readonly #clock: Clock;
  readonly #onTimeout: (request: PendingRequest) => void;
  readonly #pending = new Map<number, PendingRequest>();
  /** Requests waiting for a socket, in call order (may hold ids already timed out: skipped). */
  #unsent: PendingRequest[] = [];
  #nextId = 1;
  readonly #sweep: DeadlineSweep<PendingRequest>;

  constructor(clock: Clock, onTimeout: (request: PendingRequest) => void) {
    this.#clock = clock;
    this.#onTimeout = onTimeout;
    this.#sweep = new DeadlineSweep(clock, this.#pending, (expired) => this.#expired(expired));
  }

  get size(): number {
    return this.#pending.size;
  }
  get unsentCount(): number {
    let n = 0;
    for (const p of this.#unsent) if (this.#pending.get(p.id) === p) n++;
    return n;
  }

  /** The next request id (GIOP ulong, wraps, skips ids still pending). */
  nextId(): number {
    let id = this.#nextId;
    while (this.#pending.has(id)) id = id >= 0xffffffff ? 1 : id + 1;
    this.#nextId = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }

  deadline(timeoutMs: number): number {
    return timeoutMs === Number.POSITIVE_INFINITY ? timeoutMs : this.#clock.now() + timeoutMs;
  }

  /** Records a request; `sent` says whether it already went to a socket (else it waits in the queue). */
  add(request: PendingRequest): void {
    this.#pending.set(request.id, request);
    if (!request.sent) this.#unsent.push(request);
    this.#sweep.armFor(request.deadline);
  }

  /** Removes and returns the request a reply answers (undefined: unknown or already timed out). */
  take(id: number): PendingRequest | undefined {
    const p = this.#pending.get(id);
    if (p !== undefined) {
      this.#pending.delete(id);
      if (this.#pending.size === 0) this.#sweep.clear();
    }
    return p;
  }

  /** The requests waiting for a socket, in order; they are marked sent and leave the queue. */
  drainUnsent(): PendingRequest[] {
    const out = this.#unsent.filter((p) => this.#pending.get(p.id) === p);
    this.#unsent = [];
    for (const p of out) p.sent = true;
    return out;
  }

  /**
   * Sent requests go back to the queue, ahead of the waiting ones (the server closed without answering); those
   * already re-sent `MAX_RESENDS` times fail instead, with the error `exhausted` gives each.
   */
  requeueSent(exhausted: (request: PendingRequest) => Error): void {
    this.fail(exhausted, (p) => p.sent && p.resends >= MAX_RESENDS);
    const sent = [...this.#pending.values()].filter((p) => p.sent);
    for (const p of sent) {
      p.sent = false;
      p.resends++;
    }
    const waiting = this.#unsent.filter((p) => this.#pending.get(p.id) === p);
    this.#unsent = [...sent, ...waiting];
  }

  /** Fails the requests chosen by `which` (all by default) with the error `errorFor` gives each. */
  fail(
    errorFor: (request: PendingRequest) => Error,
    which: (request: PendingRequest) => boolean = () => true,
  ): void {
    const chosen = [...this.#pending.values()].filter(which);
    for (const p of chosen) this.#pending.delete(p.id);
    if (chosen.length > 0) this.#unsent = this.#unsent.filter((p) => this.#pending.get(p.id) === p);
    if (this.#pending.size === 0) this.#sweep.clear();
    for (const p of chosen) p.settle(errorFor(p), undefined);
  }

  /** Releases the timer (nothing may be pending). */
  dispose(): void {
    this.#sweep.clear();
  }

  /** Requests past their deadline: forgotten (a late reply is unknown), then each told. */
  #expired(expired: PendingRequest[]): void {
    for (const p of expired) this.#pending.delete(p.id);
    for (const p of expired) this.#onTimeout(p);
  }
}
