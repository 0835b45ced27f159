/**
 * Reads and writes in flight for one PV, each with its deadline on the context's clock (caproto threading
 * client's `ensure_connected` + ioid bookkeeping, without its leak):
 *
 *   operate(what, timeout, attempt)
 *     └─ up to CIRCUIT_DEATH_ATTEMPTS (3) attempts within ONE overall deadline:
 *          wait for the channel (CaTimeoutError "<pv> could not connect within N-second timeout.")
 *          request(): an ioid on the channel's circuit, one clock timer at the deadline, an abort listener
 *             reply ─────────► resolve / reject (failure ECA)       (timer and listener released)
 *             deadline ──────► ioid dropped at once, CaTimeoutError; a reply after it finds no ioid: dropped
 *             abort ─────────► ioid dropped, CancelledError
 *             circuit or channel lost ──► CaDisconnectedError ──► next attempt with the time left
 *
 * Nothing outlives its deadline: a request that never gets a reply holds no ioid and no timer after it.
 */
import type { Clock } from '../../engine/clock.js';
import { CancelledError } from '../../errors.js';
import type { CircuitChannels, PendingOp } from './circuitChannels.js';
import { CaDisconnectedError, CaTimeoutError } from './errors.js';
import type { CaFrame } from './frame.js';
import { holdProcess } from './unrefClock.js';

/** caproto `CIRCUIT_DEATH_ATTEMPTS`. */
export const CIRCUIT_DEATH_ATTEMPTS = 3;

/** Seconds as caproto prints them in its messages. */
export function seconds(ms: number): string {
  return String(ms / 1000);
}

interface InFlight {
  circuit: CircuitChannels;
  ioid: number;
  op: PendingOp;
}

/** What a PV gives the bookkeeping: its name, the clock, and a wait for its channel. */
export interface OperationsHost {
  readonly name: string;
  readonly clock: Clock;
  /** Resolves once connected; rejects with CaTimeoutError at `deadline` (abs. clock time) or on abort. */
  connected(deadline: number, totalMs: number, signal: AbortSignal | undefined): Promise<void>;
}

export class PendingOps {
  readonly #host: OperationsHost;
  readonly #inFlight = new Set<InFlight>();
  /** Operations between start and end (go_idle waits for none). */
  #busy = 0;

  constructor(host: OperationsHost) {
    this.#host = host;
  }

  get busy(): boolean {
    return this.#busy > 0;
  }
  /** Requests waiting for a reply. */
  get size(): number {
    return this.#inFlight.size;
  }

  /**
   * Run `attempt` once the channel is connected, retrying when the circuit dies, all within `totalMs` (Infinity:
   * no deadline). `attempt` gets the absolute deadline.
   */
  async operate<T>(
    totalMs: number,
    signal: AbortSignal | undefined,
    attempt: (deadline: number) => Promise<T>,
  ): Promise<T> {
    const clock = this.#host.clock;
    const deadline = clock.now() + totalMs;
    this.#checkAborted(signal);
    this.#busy++;
    let lost: CaDisconnectedError | undefined;
    try {
      for (let n = 1; ; n++) {
        try {
          await this.#host.connected(deadline, totalMs, signal);
        } catch (err) {
          // after a circuit death, the timeout says what killed the circuit
          if (lost && err instanceof CaTimeoutError) throw new CaTimeoutError(err.message, { cause: lost });
          throw err;
        }
        // aborted while waiting for the channel (or before an already-connected channel's turn came)
        this.#checkAborted(signal);
        try {
          return await attempt(deadline);
        } catch (err) {
          if (err instanceof CaDisconnectedError && n < CIRCUIT_DEATH_ATTEMPTS && clock.now() < deadline) {
            lost = err;
            continue;
          }
          throw err;
        }
      }
    } finally {
      this.#busy--;
    }
  }

  /**
   * Send one request on `circuit` with a fresh ioid and wait for its reply until `deadline`. `build(ioid)` makes
   * the bytes; `onReply` turns the reply into the result (or throws). `timeoutText(ioid)` is the timeout's message.
   */
  request<T>(
    circuit: CircuitChannels,
    deadline: number,
    signal: AbortSignal | undefined,
    build: (ioid: number) => Uint8Array,
    onReply: (frame: CaFrame) => T,
    timeoutText: (ioid: number) => string,
  ): Promise<T> {
    const clock = this.#host.clock;
    return new Promise<T>((resolve, reject) => {
      // an abort listener added to an aborted signal never runs: refuse before taking an ioid
      if (signal?.aborted) {
        reject(this.#cancelled(signal));
        return;
      }
      let timer: unknown;
      let release: (() => void) | undefined;
      let entry: InFlight | undefined;
      const onAbort = () => {
        circuit.dropOp(ioid);
        finish();
        reject(this.#cancelled(signal));
      };
      const finish = () => {
        if (timer !== undefined) clock.clearTimeout(timer);
        timer = undefined;
        release?.();
        release = undefined;
        signal?.removeEventListener('abort', onAbort);
        if (entry) this.#inFlight.delete(entry);
      };
      const op: PendingOp = {
        reply: (frame) => {
          finish();
          try {
            resolve(onReply(frame));
          } catch (err) {
            reject(err);
          }
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      const ioid = circuit.addOp(op);
      entry = { circuit, ioid, op };
      this.#inFlight.add(entry);
      const left = deadline - clock.now();
      if (left !== Number.POSITIVE_INFINITY) {
        timer = clock.setTimeout(
          () => {
            timer = undefined;
            circuit.dropOp(ioid);
            finish();
            reject(new CaTimeoutError(timeoutText(ioid)));
          },
          Math.max(0, left),
        );
      } else {
        release = holdProcess();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      let sent: boolean;
      try {
        sent = circuit.send(build(ioid));
      } catch (err) {
        // a refused write (CircuitQueueFullError, a bad argument): the ioid and the timer are freed
        circuit.dropOp(ioid);
        finish();
        reject(err);
        return;
      }
      if (!sent) {
        circuit.dropOp(ioid);
        finish();
        reject(new CaDisconnectedError(`${this.#host.name}: the circuit is closed`));
      }
    });
  }

  #checkAborted(signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw this.#cancelled(signal);
  }

  #cancelled(signal: AbortSignal | undefined): CancelledError {
    return new CancelledError(`${this.#host.name}: operation aborted`, { cause: signal?.reason });
  }

  /** The channel was lost on a live circuit (SERVER_DISCONN, idle): its requests fail and are retried. */
  failAll(error: Error): void {
    for (const entry of [...this.#inFlight]) {
      entry.circuit.dropOp(entry.ioid);
      entry.op.fail(error);
    }
  }
}
