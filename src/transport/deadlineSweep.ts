/**
 * One timer for the timeouts of a connection's pending requests (KATCP's and GIOP's request tables), armed for the
 * earliest deadline on the system clock; a sweep takes every request whose deadline has passed and arms the timer
 * again for the earliest one left. Not re-armed per request: with one timeout for all, deadlines come in order,
 * so a request added after another only arms the timer when the table was empty. Pure bookkeeping; no protocol.
 *
 *   armFor(deadline) ──► armed for min(deadline, the one armed)     (Infinity arms nothing)
 *   clock fires      ──► onExpired(the requests past their deadline) ──► armed for the earliest one left
 *   clear()          ──► no timer (the table is empty, or closed)
 *
 * An `onExpired` that throws does not end the sweep: the timer is armed again all the same, and the error is
 * rethrown in a microtask of its own (an uncaught exception, as a throwing timer callback's would be).
 */
import type { Clock } from '../engine/clock.js';

/** A request with an absolute deadline on the clock, ms (Infinity: none). */
export interface HasDeadline {
  readonly deadline: number;
}

export class DeadlineSweep<T extends HasDeadline> {
  readonly #clock: Clock;
  readonly #pending: Map<unknown, T>;
  readonly #onExpired: (expired: T[]) => void;
  #at = Number.POSITIVE_INFINITY;
  #timer: unknown = undefined;
  readonly #fire = () => this.#sweep();

  /**
   * `pending` is the table swept (read at each sweep, never changed here); `onExpired` gets the requests past
   * their deadline, oldest entry first, and settles them (taking them out of `pending`).
   */
  constructor(clock: Clock, pending: Map<unknown, T>, onExpired: (expired: T[]) => void) {
    this.#clock = clock;
    this.#pending = pending;
    this.#onExpired = onExpired;
  }

  /** Whether the timer is armed. */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * A request with this deadline was added (or given a new one): the timer fires by then. (Infinity, no deadline,
   * is never earlier than the one armed: it arms nothing.)
   */
  armFor(deadline: number): void {
    if (deadline >= this.#at) return;
    this.clear();
    const clock = this.#clock;
    this.#at = deadline;
    this.#timer = clock.setTimeout(this.#fire, Math.max(0, deadline - clock.now()));
  }

  /** No timer. */
  clear(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    let next = Number.POSITIVE_INFINITY;
    const expired: T[] = [];
    for (const p of this.#pending.values()) {
      if (p.deadline <= now) expired.push(p);
      else if (p.deadline < next) next = p.deadline;
    }
    if (expired.length > 0) {
      try {
        this.#onExpired(expired);
      } catch (err) {
        // A throwing callback must not stop the sweep: thrown through the clock's timer, it left the timer unarmed
        // and every other request without a timeout. It surfaces later, unhandled, as the engine's Deadlines do.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    // (settling may have emptied the table, or armed an earlier deadline)
    if (this.#pending.size > 0) this.armFor(next);
  }
}
