/**
 * A controllable async producer for model-based tests on a TestClock: items, errors and the end arrive now
 * (`arrive`) or after a delay on the clock (`schedule`); a pull waits for the next arrival. It closes (pending
 * pulls end, scheduled arrivals are cancelled) after its end or error was pulled, or when the consumer calls
 * return().
 */
import type { TestClock } from '../../src/testing/index.js';

/** What can arrive: one of the item kinds `K`, a producer error, or the end. */
export type Arrival<K extends string = 'item'> = K | 'error' | 'end';

export interface ControlledProducerOptions<T, K extends string> {
  /** The value of the item numbered `index` (0, 1, 2, ... in arrival order) arriving as `kind`. */
  item: (index: number, kind: K) => T;
  /** The message of the producer's `k`-th error (1, 2, ...). */
  errorMessage: (k: number) => string;
}

type Produced<T> = { kind: 'item'; value: T } | { kind: 'error'; error: Error } | { kind: 'end' };
type Pull<T> = { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void };
const DONE = { done: true, value: undefined } as const;

export class ControlledProducer<T, K extends string = 'item'> implements AsyncIterableIterator<T> {
  /** The numbers of the items that arrived, in order. */
  readonly arrived: number[] = [];
  /** Scheduled arrivals not yet due (TestClock timer ids). */
  readonly timers = new Set<number>();
  #buffer: Produced<T>[] = [];
  #pulls: Pull<T>[] = [];
  #items = 0;
  #errors = 0;
  closed = false;
  returnCalls = 0;

  constructor(
    readonly clock: TestClock,
    readonly options: ControlledProducerOptions<T, K>,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  arrive(kind: Arrival<K>): void {
    if (this.closed) return;
    let event: Produced<T>;
    if (kind === 'error') {
      const error = new Error(this.options.errorMessage(++this.#errors));
      event = { kind: 'error', error };
    } else if (kind === 'end') event = { kind: 'end' };
    else {
      const index = this.#items++;
      event = { kind: 'item', value: this.options.item(index, kind as K) };
      this.arrived.push(index);
    }
    const pull = this.#pulls.shift();
    if (pull) this.#deliver(event, pull);
    else this.#buffer.push(event);
  }

  schedule(kind: Arrival<K>, delay: number): void {
    if (this.closed) return;
    const id = this.clock.setTimeout(() => {
      this.timers.delete(id);
      this.arrive(kind);
    }, delay);
    this.timers.add(id);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.closed) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      const event = this.#buffer.shift();
      if (event) this.#deliver(event, { resolve, reject });
      else this.#pulls.push({ resolve, reject });
    });
  }

  async return(): Promise<IteratorResult<T>> {
    this.returnCalls++;
    this.#close();
    return DONE;
  }

  #deliver(event: Produced<T>, pull: Pull<T>): void {
    if (event.kind === 'item') pull.resolve({ done: false, value: event.value });
    else if (event.kind === 'end') {
      pull.resolve(DONE);
      this.#close();
    } else {
      pull.reject(event.error);
      this.#close();
    }
  }

  #close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of this.timers) this.clock.clearTimeout(id);
    this.timers.clear();
    this.#buffer = [];
    for (const pull of this.#pulls.splice(0)) pull.resolve(DONE);
  }
}
