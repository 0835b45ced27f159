/**
 * `for await (const response of subscription)`: a callback on the subscription feeding a bounded queue. When the
 * consumer falls behind by `capacity` responses the oldest are dropped (`dropped` counts them), so memory stays
 * bounded and the consumer always reaches the latest value. `return()` (a `break`) removes the callback (the last
 * one sends EVENT_CANCEL); the iterator ends when the subscription closes (context disconnected).
 */
import { CaValueError } from './errors.js';
import type { EventResponse } from './pvTypes.js';
import type { Subscription } from './subscription.js';

export class SubscriptionQueue implements AsyncIterableIterator<EventResponse> {
  readonly #sub: Subscription;
  readonly #capacity: number;
  readonly #queue: EventResponse[] = [];
  #head = 0;
  /** `next()` calls waiting for a response, oldest first. */
  #waiting: ((result: IteratorResult<EventResponse>) => void)[] = [];
  #token: number | null;
  #offClose: () => void;
  #done = false;
  /** Responses dropped because the queue was full. */
  dropped = 0;

  constructor(sub: Subscription, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new CaValueError(`capacity must be a positive integer, got ${String(capacity)}`);
    }
    this.#sub = sub;
    this.#capacity = capacity;
    this.#offClose = sub.onClose(() => this.#end());
    this.#token = sub.addCallback((_s, response) => this.#push(response));
  }

  #push(response: EventResponse): void {
    const resolve = this.#waiting.shift();
    if (resolve) {
      resolve({ value: response, done: false });
      return;
    }
    this.#queue.push(response);
    if (this.#queue.length - this.#head > this.#capacity) {
      this.#head++;
      this.dropped++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  next(): Promise<IteratorResult<EventResponse>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head++] as EventResponse;
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
    });
  }

  return(): Promise<IteratorResult<EventResponse>> {
    this.#end();
    this.#queue.length = 0;
    this.#head = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<EventResponse> {
    return this;
  }

  #end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#offClose();
    if (this.#token !== null) this.#sub.removeCallback(this.#token);
    this.#token = null;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve({ value: undefined, done: true });
  }
}
