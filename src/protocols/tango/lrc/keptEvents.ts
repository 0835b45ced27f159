/**
 * The value events a shared subscription keeps for the calls that do not know their command id yet (at most
 * `limit`, oldest dropped first), with their arrival numbers, and an index from each id an event names at an even
 * index of its (id, value, ...) spectrum to where those events are: a call learning its id finds the events naming
 * it without scanning every kept event's list (v1 status lists name every command the device tracks).
 *
 * Positions are absolute (`first` is the position of the oldest kept event); an index entry older than `first` is
 * stale and skipped. The index is rebuilt from the kept events when stale entries outnumber the live ones (so it
 * stays within a constant factor of the kept events, however long calls keep waiting).
 */
import type { AttributeEvent } from '../port.js';

export class KeptEvents {
  readonly #limit: number;
  #events: AttributeEvent[] = [];
  #seqs: number[] = [];
  /** Position of `#events[0]`. */
  #first = 0;
  /** Absolute positions of the kept events naming each id, ascending, one per event. */
  #byId = new Map<string, number[]>();
  /** Index entries of each kept event (parallel to `#events`), their sum, and the index's entries in all. */
  #entries: number[] = [];
  #live = 0;
  #indexed = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get length(): number {
    return this.#events.length;
  }

  /** Keep `event` (arrival number `seq`, above every kept one); the oldest goes when `limit` are kept. */
  push(seq: number, event: AttributeEvent): void {
    if (this.#events.length >= this.#limit) {
      this.#events.shift();
      this.#seqs.shift();
      this.#live -= this.#entries.shift() ?? 0;
      this.#first++;
      if (this.#indexed > 2 * this.#live + 64) this.#reindex();
    }
    const pos = this.#first + this.#events.length;
    this.#events.push(event);
    this.#seqs.push(seq);
    const n = this.#index(event.value, pos);
    this.#entries.push(n);
    this.#live += n;
    this.#indexed += n;
  }

  /** Forget every kept event. */
  clear(): void {
    if (this.#events.length === 0 && this.#indexed === 0) return;
    this.#events = [];
    this.#seqs = [];
    this.#entries = [];
    this.#byId = new Map();
    this.#first = 0;
    this.#live = 0;
    this.#indexed = 0;
  }

  /** Position of the first kept event that arrived after `seq` (`end` when none). */
  firstAfter(seq: number): number {
    const seqs = this.#seqs;
    let lo = 0;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqs[mid] > seq) hi = mid;
      else lo = mid + 1;
    }
    return this.#first + lo;
  }

  /** Position after the newest kept event. */
  get end(): number {
    return this.#first + this.#events.length;
  }

  /** The positions from `from` on of the kept events naming `id`, ascending (shared: not to be changed). */
  positionsOf(id: string, from: number): readonly number[] {
    const list = this.#byId.get(id);
    if (list === undefined) return NONE;
    const start = Math.max(from, this.#first);
    if (list.length === 0 || list[0] >= start) return list;
    let i = 0;
    while (i < list.length && list[i] < start) i++;
    return list.slice(i);
  }

  eventAt(pos: number): AttributeEvent {
    return this.#events[pos - this.#first];
  }

  seqAt(pos: number): number {
    return this.#seqs[pos - this.#first];
  }

  /** Index entries for the ids `value` names at even indexes (each id once): how many. */
  #index(value: unknown, pos: number): number {
    if (!Array.isArray(value)) return 0;
    let n = 0;
    for (let i = 0; i < value.length; i += 2) {
      const id = value[i];
      if (typeof id !== 'string') continue;
      const list = this.#byId.get(id);
      if (list === undefined) this.#byId.set(id, [pos]);
      else if (list[list.length - 1] !== pos) list.push(pos);
      else continue;
      n++;
    }
    return n;
  }

  #reindex(): void {
    this.#byId = new Map();
    let n = 0;
    for (let i = 0; i < this.#events.length; i++) n += this.#index(this.#events[i].value, this.#first + i);
    this.#indexed = n;
  }
}

const NONE: readonly number[] = Object.freeze([]);
