/**
 * caproto's search retry schedule (threading client `SharedBroadcaster._retry_unanswered_searches`), on an
 * injected clock and without sockets: which unanswered searches are (re)sent when.
 *
 * - Adding searches (or a new server: `unretireAll`) resends ALL unanswered ones at once (coalesced: every add
 *   of one synchronous burst makes one round, in a microtask) and resets the back-off to 30 ms.
 * - Then a round every 30, 60, 120, ... ms, doubling up to 5 s, resends every search younger than 480 s.
 * - Searches older than 480 s are "retired": they go out only in a round at least 60 s after the last round
 *   that sent the retired ones (or in the round of an add). With only retired searches left, the timer sleeps
 *   until that round instead of waking every 5 s.
 * - No timer is armed while nothing is unanswered.
 *
 * Differences from caproto, on purpose: a new server (beacon) also resends at once with the back-off reset (libca
 * boosts its search period on a beacon anomaly; caproto only moves the retirement deadlines and waits for its
 * next round, up to 5 s).
 */
import type { Clock } from '../../engine/clock.js';
import {
  MAX_RETRY_SEARCHES_INTERVAL_MS,
  MIN_RETRY_SEARCHES_INTERVAL_MS,
  RETRY_RETIRED_SEARCHES_INTERVAL_MS,
  SEARCH_RETIREMENT_AGE_MS,
} from './constants.js';

/** One unanswered search. */
export interface PendingSearch {
  readonly cid: number;
  readonly name: string;
  /** The encoded SEARCH message. */
  readonly request: Buffer;
  /** Clock time after which the search is retired. */
  retireAt: number;
}

export interface SearchScheduleOptions {
  clock: Clock;
  /** Send one round: the SEARCH messages due now (never empty). */
  send(searches: readonly PendingSearch[]): void;
}

export class SearchSchedule {
  readonly #clock: Clock;
  readonly #send: (searches: readonly PendingSearch[]) => void;
  readonly #pending = new Map<number, PendingSearch>();
  /** The wait after the next timed round. */
  #nextIntervalMs = MIN_RETRY_SEARCHES_INTERVAL_MS;
  /** The wait of the armed timer (stats). */
  #armedMs = MIN_RETRY_SEARCHES_INTERVAL_MS;
  #lastRetiredRound = Number.NEGATIVE_INFINITY;
  #timer: unknown;
  #searchNow = false;
  #closed = false;

  constructor(options: SearchScheduleOptions) {
    this.#clock = options.clock;
    this.#send = options.send;
  }

  get unanswered(): number {
    return this.#pending.size;
  }

  /** Unanswered searches older than the retirement age. */
  get retired(): number {
    const now = this.#clock.now();
    let n = 0;
    for (const s of this.#pending.values()) if (s.retireAt <= now) n++;
    return n;
  }

  /** The current wait between rounds (30 ms after an add, doubling to 5 s). */
  get intervalMs(): number {
    return this.#armedMs;
  }

  /** Every unanswered search, in the order added (a name server that just connected gets them all). */
  all(): PendingSearch[] {
    return [...this.#pending.values()];
  }

  get(cid: number): PendingSearch | undefined {
    return this.#pending.get(cid);
  }

  /** Start (or restart) a search; every unanswered one goes out in this turn's round. */
  add(cid: number, name: string, request: Buffer): void {
    if (this.#closed) return;
    this.#pending.set(cid, { cid, name, request, retireAt: this.#clock.now() + SEARCH_RETIREMENT_AGE_MS });
    this.#soon();
  }

  /** Forget a search (answered or given up); the timer stops with the last one. */
  remove(cid: number): boolean {
    const had = this.#pending.delete(cid);
    if (this.#pending.size === 0) this.#disarm();
    return had;
  }

  /** A new server appeared: every search is young again, and all go out in this turn's round. */
  unretireAll(): void {
    if (this.#closed || this.#pending.size === 0) return;
    const retireAt = this.#clock.now() + SEARCH_RETIREMENT_AGE_MS;
    for (const s of this.#pending.values()) s.retireAt = retireAt;
    this.#soon();
  }

  close(): void {
    this.#closed = true;
    this.#pending.clear();
    this.#disarm();
  }

  #soon(): void {
    if (this.#searchNow) return;
    this.#searchNow = true;
    queueMicrotask(() => {
      this.#searchNow = false;
      if (this.#closed || this.#pending.size === 0) return;
      this.#nextIntervalMs = MIN_RETRY_SEARCHES_INTERVAL_MS;
      this.#round(true);
    });
  }

  #round(all: boolean): void {
    this.#disarm();
    const now = this.#clock.now();
    const retiredToo = all || now - this.#lastRetiredRound >= RETRY_RETIRED_SEARCHES_INTERVAL_MS;
    const due: PendingSearch[] = [];
    let active = 0;
    let retired = 0;
    for (const s of this.#pending.values()) {
      if (s.retireAt > now) {
        active++;
        due.push(s);
      } else {
        retired++;
        if (retiredToo) due.push(s);
      }
    }
    if (retiredToo && retired > 0) this.#lastRetiredRound = now;
    if (all) this.#lastRetiredRound = now;
    if (due.length > 0) this.#send(due);
    if (this.#pending.size === 0 || this.#closed) return;
    let wait = this.#nextIntervalMs;
    this.#nextIntervalMs = Math.min(2 * this.#nextIntervalMs, MAX_RETRY_SEARCHES_INTERVAL_MS);
    if (active === 0) {
      // only retired searches: sleep until their next round
      wait = Math.max(wait, this.#lastRetiredRound + RETRY_RETIRED_SEARCHES_INTERVAL_MS - now);
    }
    this.#armedMs = wait;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#round(false);
    }, wait);
  }

  #disarm(): void {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
