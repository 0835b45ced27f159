/**
 * Promises waiting for a PV's channel (found by a search, connected), each with its deadline on the clock and an
 * optional AbortSignal. Every way out (settled, failed, timed out, aborted) releases the timer and the listener.
 */
import type { Clock } from '../../engine/clock.js';
import { CancelledError } from '../../errors.js';
import { holdProcess } from './unrefClock.js';

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class Waiters {
  readonly #clock: Clock;
  readonly #what: string;
  readonly #set = new Set<Waiter>();

  /** `what` names the waits in a CancelledError (`<pv>: wait aborted`). */
  constructor(clock: Clock, what: string) {
    this.#clock = clock;
    this.#what = what;
  }

  get size(): number {
    return this.#set.size;
  }

  /** Resolves on `settleAll`; rejects on `failAll`, with `onTimeout()` at `deadline`, or when `signal` aborts. */
  wait(deadline: number, signal: AbortSignal | undefined, onTimeout: () => Error): Promise<void> {
    if (signal?.aborted) {
      return Promise.reject(new CancelledError(`${this.#what}: wait aborted`, { cause: signal.reason }));
    }
    const clock = this.#clock;
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      let release: (() => void) | undefined;
      const done = () => {
        this.#set.delete(waiter);
        if (timer !== undefined) clock.clearTimeout(timer);
        release?.();
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = () =>
        waiter.reject(new CancelledError(`${this.#what}: wait aborted`, { cause: signal?.reason }));
      this.#set.add(waiter);
      const left = deadline - clock.now();
      if (left !== Number.POSITIVE_INFINITY) {
        timer = clock.setTimeout(() => waiter.reject(onTimeout()), Math.max(0, left));
      } else {
        release = holdProcess();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  settleAll(): void {
    for (const w of [...this.#set]) w.resolve();
  }

  failAll(error: Error): void {
    for (const w of [...this.#set]) w.reject(error);
  }
}
