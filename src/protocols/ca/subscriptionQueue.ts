/**
 * `for await (const response of subscription)`: a callback on the subscription feeding a bounded queue. When the
 * consumer falls behind by `capacity` responses the oldest are dropped (`dropped` counts them), so memory stays
 * bounded and the consumer always reaches the latest value. `return()` (a `break`) removes the callback (the last
 * one sends EVENT_CANCEL); the iterator ends when the subscription closes (context disconnected). A subscription
 * that ends with an error (its EVENT_ADD refused: CircuitQueueFullError) makes the iterator throw that error once
 * the responses already queued were read (a waiting `next()` rejects with it); it is done after.
 */
import { CaValueError } from './errors.js';
import { describeArg, type EventResponse } from './pvTypes.js';
import type { Subscription } from './subscription.js';

export class SubscriptionQueue implements AsyncIterableIterator<EventResponse> {
  readonly #sub: Subscription;
  readonly #capacity: number;
  readonly #queue: EventResponse[] = [];
  #head = 0;
  /** `next()` calls waiting for a response, oldest first. */
  #waiting: {
    resolve: (result: IteratorResult<EventResponse>) => void;
    reject: (error: Error) => void;
  }[] = [];
  #token: number | null;
  #offClose: () => void;
  #done = false;
  /** The error the subscription ended with, until a `next()` has thrown it. */
  #error: Error | undefined;
  /** Responses dropped because the queue was full. */
  dropped = 0;

  constructor(sub: Subscription, capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new CaValueError(`capacity must be a positive integer, got ${describeArg(capacity)}`);
    }
    this.#sub = sub;
    this.#capacity = capacity;
    this.#offClose = sub.onClose((error) => this.#end(error));
    this.#token = sub.addCallback((_s, response) => this.#push(response));
  }

  #push(response: EventResponse): void {
    const waiter = this.#waiting.shift();
    if (waiter) {
      waiter.resolve({ value: response, done: false });
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
    const error = this.#error;
    if (error !== undefined) {
      this.#error = undefined;
      return Promise.reject(error);
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
    });
  }

  return(): Promise<IteratorResult<EventResponse>> {
    this.#end();
    this.#error = undefined;
    this.#queue.length = 0;
    this.#head = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<EventResponse> {
    return this;
  }

  /** No more responses: the subscription closed (with `error` if it failed) or the consumer stopped. */
  #end(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#offClose();
    if (this.#token !== null) this.#sub.removeCallback(this.#token);
    this.#token = null;
    const waiting = this.#waiting;
    this.#waiting = [];
    // the first waiting next() throws the error (a waiter means the queue is empty); later ones are done
    const first = error === undefined ? undefined : waiting.shift();
    if (first) first.reject(error as Error);
    else this.#error = error;
    for (const w of waiting) w.resolve({ value: undefined, done: true });
  }
}
