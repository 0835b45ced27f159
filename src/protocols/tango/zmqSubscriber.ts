/**
 * The ZMQ SUB socket of Tango's event consumer (npm `zeromq`, libzmq prebuilt inside the package): one socket for
 * every server's heartbeat and event PUB sockets, connections and topic subscriptions counted by reference (two
 * subscriptions on one server share its endpoints), every multipart message handed to `onMessage` as it arrives.
 * libzmq reconnects a lost TCP connection by itself; endpoints a restarted server no longer uses are disconnected
 * by the consumer (`release`). `close()` ends the receive loop and frees the socket (linger 0).
 */
import { Subscriber } from 'zeromq';

export class ZmqEventSocket {
  readonly #socket: Subscriber;
  readonly #endpoints = new Map<string, number>();
  readonly #topics = new Map<string, number>();
  readonly #loop: Promise<void>;
  #closed = false;

  constructor(
    onMessage: (frames: Buffer[]) => void,
    onError: (error: unknown) => void = () => {},
    options: { receiveHighWaterMark?: number } = {},
  ) {
    // 1000: what servers announce as zmq_sub_event_hwm
    this.#socket = new Subscriber({ linger: 0, receiveHighWaterMark: options.receiveHighWaterMark ?? 1000 });
    this.#loop = this.#receive(onMessage, onError);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Endpoints connected (by reference count). */
  get endpoints(): ReadonlyMap<string, number> {
    return this.#endpoints;
  }

  /** Topic prefixes subscribed (by reference count). */
  get topics(): ReadonlyMap<string, number> {
    return this.#topics;
  }

  async #receive(onMessage: (frames: Buffer[]) => void, onError: (error: unknown) => void): Promise<void> {
    while (!this.#closed) {
      let frames: Buffer[];
      try {
        frames = await this.#socket.receive();
      } catch (error) {
        if (!this.#closed) onError(error);
        return;
      }
      try {
        onMessage(frames);
      } catch (error) {
        onError(error);
      }
    }
  }

  connect(endpoint: string): void {
    if (this.#closed) return;
    const n = this.#endpoints.get(endpoint) ?? 0;
    if (n === 0) this.#socket.connect(endpoint);
    this.#endpoints.set(endpoint, n + 1);
  }

  disconnect(endpoint: string): void {
    const n = this.#endpoints.get(endpoint);
    if (n === undefined) return;
    if (n > 1) {
      this.#endpoints.set(endpoint, n - 1);
      return;
    }
    this.#endpoints.delete(endpoint);
    if (!this.#closed) {
      try {
        this.#socket.disconnect(endpoint);
      } catch {
        // libzmq forgot it already (ENOENT)
      }
    }
  }

  subscribe(topic: string): void {
    if (this.#closed) return;
    const n = this.#topics.get(topic) ?? 0;
    if (n === 0) this.#socket.subscribe(topic);
    this.#topics.set(topic, n + 1);
  }

  unsubscribe(topic: string): void {
    const n = this.#topics.get(topic);
    if (n === undefined) return;
    if (n > 1) {
      this.#topics.set(topic, n - 1);
      return;
    }
    this.#topics.delete(topic);
    if (!this.#closed) this.#socket.unsubscribe(topic);
  }

  /** Closes the socket and waits for the receive loop to end. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#endpoints.clear();
      this.#topics.clear();
      this.#socket.close();
    }
    await this.#loop;
  }
}
