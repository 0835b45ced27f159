/**
 * The waits on an `InspectingClient`'s state (`untilSynced`, `untilConnected`, `untilState`, `untilStopped`...):
 * each wait is a test of the client's state, checked now and again on every change the client reports (`check()`).
 * A wait takes `{timeout, signal}` and rejects with TimeoutError or CancelledError instead of hanging; once the
 * client is stopped every wait but `untilStopped` rejects with CancelledError.
 */
import type { Clock } from '../../engine/clock.js';
import { CancelledError, TimeoutError } from '../../errors.js';
import { checkWait, type WaitOptions } from './inspectingClientOptions.js';

/** What the waits need from their client. */
export interface StateWaitsHost {
  /** `host:port`, for the error messages. */
  readonly address: string;
  /** The clock of the timeouts. */
  readonly clock: Clock;
  /** Whether the client's `stop()` finished. */
  stopped(): boolean;
}

interface Waiter {
  test(): boolean;
  resolve(): void;
  reject(error: Error): void;
  /** Rejected with CancelledError when the client stops, unless it waits for the stop itself. */
  readonly untilStop: boolean;
}

/** The pending waits of one client. */
export class StateWaits {
  readonly #host: StateWaitsHost;
  readonly #waiters = new Set<Waiter>();

  constructor(host: StateWaitsHost) {
    this.#host = host;
  }

  /** Resolve when `test()` holds (now if it does); `untilStop`: the client's stop does not cancel it. */
  wait(test: () => boolean, what: string, options: WaitOptions, untilStop = false): Promise<void> {
    let timeout: number | null;
    let signal: AbortSignal | undefined;
    try {
      ({ timeout, signal } = checkWait(options));
    } catch (error) {
      return Promise.reject(error);
    }
    if (test()) return Promise.resolve();
    if (this.#host.stopped() && !untilStop) {
      return Promise.reject(new CancelledError(`InspectingClient ${this.#host.address} is stopped`));
    }
    if (signal?.aborted) return Promise.reject(new CancelledError(`waiting for ${what} was cancelled`));
    const clock = this.#host.clock;
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      const onAbort = () => settle(new CancelledError(`waiting for ${what} was cancelled`));
      const settle = (error: Error | null) => {
        this.#waiters.delete(waiter);
        if (timer !== undefined) clock.clearTimeout(timer as never);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const waiter: Waiter = {
        test,
        resolve: () => settle(null),
        reject: (e) => settle(e),
        untilStop,
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== null && timeout !== Number.POSITIVE_INFINITY) {
        timer = clock.setTimeout(
          () => settle(new TimeoutError(`${this.#host.address} not ${what} within ${timeout} ms`)),
          timeout,
        );
      }
    });
  }

  /** Settle the waits whose test now holds, and cancel the others once the client is stopped. */
  check(): void {
    for (const w of [...this.#waiters]) {
      if (w.test()) w.resolve();
      else if (this.#host.stopped() && !w.untilStop) {
        w.reject(new CancelledError(`InspectingClient ${this.#host.address} is stopped`));
      }
    }
  }
}
