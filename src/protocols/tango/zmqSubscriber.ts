/**
 * The ZMQ SUB socket of Tango's event consumer (npm `zeromq`, libzmq prebuilt inside the package): one socket for
 * every server's heartbeat and event PUB sockets, connections and topic subscriptions counted by reference (two
 * subscriptions on one server share its endpoints), every multipart message handed to `onMessage` as it arrives.
 *
 * `connect()` resolves once the ZMTP handshake with the endpoint is done (or after `readyTimeoutMs`), so that the
 * topic subscription is on its way to the publisher before the caller makes the device push anything (a PUB socket
 * drops what it publishes before it knows the subscriber: ZMQ's "slow joiner"). That narrows the window without
 * closing it: the server takes in the subscription on its side of the connection, which can lag the subscriber's
 * handshake, and nothing on the wire says when it has (against the PyTango fixture on a loaded machine, about 1
 * push in 40 made right after the handshake was lost; none made 30 ms later). So `settled()` waits until
 * `settleMs` (default 60 ms) have passed since the handshake of the endpoint and the SUBSCRIBE of the topic a
 * subscription uses, when either is that recent: only a subscription on a new connection or topic waits (a
 * device's first LRC call lost its first statuses, or its terminal one, in that window); cppTango does not wait, and
 * its maintainers say a subscriber may then miss the first events (cppTango issue 524). Endpoints stay connected and
 * topics subscribed when their last user releases them (a later subscription on the same server or attribute is then
 * ready at once); `prune()` lets the unused ones go (the consumer calls it when a restarted server announced new
 * endpoints); an endpoint nobody uses whose connection is lost (its server is gone) is disconnected at once. libzmq
 * reconnects a lost TCP connection of an endpoint in use by itself. `close()` ends the receive loop and frees the
 * socket (linger 0); a `receive()` that fails closes the socket the same way, then reports the error to `onError`.
 */
import { Subscriber } from 'zeromq';

export class ZmqEventSocket {
  readonly #socket: Subscriber;
  readonly #endpoints = new Map<string, number>();
  readonly #topics = new Map<string, number>();
  readonly #loop: Promise<void>;
  readonly #waiting = new Map<string, Set<() => void>>();
  readonly #readyTimeoutMs: number;
  /**
   * Endpoints whose ZMTP handshake is done (until they disconnect), with when (performance.now()) it was; and when
   * each topic's SUBSCRIBE was sent.
   */
  readonly #handshakeAt = new Map<string, number>();
  readonly #subscribedAt = new Map<string, number>();
  readonly #settleMs: number;
  /** The waits of `settled()` (ended at once by `close()`). */
  readonly #settling = new Map<ReturnType<typeof setTimeout>, () => void>();
  #closed = false;

  constructor(
    onMessage: (frames: Buffer[]) => void,
    onError: (error: unknown) => void = () => {},
    options: { receiveHighWaterMark?: number; readyTimeoutMs?: number; settleMs?: number } = {},
  ) {
    // 1000: what servers announce as zmq_sub_event_hwm
    this.#socket = new Subscriber({ linger: 0, receiveHighWaterMark: options.receiveHighWaterMark ?? 1000 });
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 2000;
    this.#settleMs = options.settleMs ?? 60;
    this.#socket.events.on('handshake', ({ address }) => {
      // (libzmq sends every subscription again on a new connection)
      this.#handshakeAt.set(address, performance.now());
      for (const resolve of this.#waiting.get(address) ?? []) resolve();
    });
    this.#socket.events.on('disconnect', ({ address }) => {
      this.#handshakeAt.delete(address);
      // nobody uses it: let it go, as `release` does an endpoint that is not connected
      if (this.#endpoints.get(address) === 0) this.#forget(address);
    });
    this.#loop = this.#receive(onMessage, onError);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Endpoints connected, with their users (0: kept connected until `prune()`). */
  get endpoints(): ReadonlyMap<string, number> {
    return this.#endpoints;
  }

  /** Topic prefixes subscribed, with their users (0: kept subscribed until `prune()`). */
  get topics(): ReadonlyMap<string, number> {
    return this.#topics;
  }

  async #receive(onMessage: (frames: Buffer[]) => void, onError: (error: unknown) => void): Promise<void> {
    while (!this.#closed) {
      let frames: Buffer[];
      try {
        frames = await this.#socket.receive();
      } catch (error) {
        if (this.#closed) return;
        // the socket receives nothing more: it is freed now and reports `closed`, so that its user makes a new one
        // instead of routing later subscriptions to a socket nobody reads (close() waits for this loop, which ends
        // here)
        void this.close();
        onError(error);
        return;
      }
      try {
        onMessage(frames);
      } catch (error) {
        onError(error);
      }
    }
  }

  /** Use an endpoint; resolves once its handshake is done (at most `readyTimeoutMs` later). */
  connect(endpoint: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const n = this.#endpoints.get(endpoint);
    if (n === undefined) this.#socket.connect(endpoint);
    this.#endpoints.set(endpoint, (n ?? 0) + 1);
    if (this.#handshakeAt.has(endpoint)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let waiters = this.#waiting.get(endpoint);
      if (!waiters) {
        waiters = new Set();
        this.#waiting.set(endpoint, waiters);
      }
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (!waiters.size && this.#waiting.get(endpoint) === waiters) this.#waiting.delete(endpoint);
        resolve();
      };
      const timer = setTimeout(done, this.#readyTimeoutMs);
      waiters.add(done);
    });
  }

  /**
   * Stop using an endpoint. A connected one stays connected until `prune()` (or until its connection is lost); one
   * that is not (its server is gone) is disconnected now: libzmq would otherwise try it again every 100 ms for as long
   * as the socket lives, and reach whatever process is given that port later.
   */
  release(endpoint: string): void {
    const n = this.#endpoints.get(endpoint);
    if (n === undefined || n <= 0) return;
    this.#endpoints.set(endpoint, n - 1);
    if (n === 1 && !this.#handshakeAt.has(endpoint)) this.#forget(endpoint);
  }

  /** Whether the endpoint's ZMTP handshake is done and its connection not lost since. */
  connected(endpoint: string): boolean {
    return this.#handshakeAt.has(endpoint);
  }

  /** Disconnects an endpoint and forgets it. */
  #forget(endpoint: string): void {
    this.#endpoints.delete(endpoint);
    this.#handshakeAt.delete(endpoint);
    if (this.#closed) return;
    try {
      this.#socket.disconnect(endpoint);
    } catch {
      // libzmq forgot it already (ENOENT)
    }
  }

  /** Disconnect every endpoint and unsubscribe every topic nobody uses. */
  prune(): void {
    for (const [topic, n] of [...this.#topics]) {
      if (n > 0) continue;
      this.#topics.delete(topic);
      this.#subscribedAt.delete(topic);
      if (!this.#closed) this.#socket.unsubscribe(topic);
    }
    for (const [endpoint, n] of [...this.#endpoints]) if (n <= 0) this.#forget(endpoint);
  }

  subscribe(topic: string): void {
    if (this.#closed) return;
    const n = this.#topics.get(topic);
    if (n === undefined) {
      this.#socket.subscribe(topic);
      this.#subscribedAt.set(topic, performance.now());
    }
    this.#topics.set(topic, (n ?? 0) + 1);
  }

  /**
   * Resolves once `settleMs` have passed since the handshake of `endpoint` and the SUBSCRIBE of `topic` (at once
   * when both are older, or on `close()`): time for the publisher to take the subscription in before the caller
   * makes the device push (see the header).
   */
  settled(endpoint: string, topic: string): Promise<void> {
    const latest = Math.max(
      this.#handshakeAt.get(endpoint) ?? Number.NEGATIVE_INFINITY,
      this.#subscribedAt.get(topic) ?? Number.NEGATIVE_INFINITY,
    );
    const wait = latest + this.#settleMs - performance.now();
    if (this.#closed || !(wait > 0)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#settling.delete(timer);
        resolve();
      }, wait);
      this.#settling.set(timer, resolve);
    });
  }

  /** Waits of `settled()` in progress. */
  get settling(): number {
    return this.#settling.size;
  }

  /**
   * Stop using a topic. It stays subscribed (until `prune()`): a later subscription to it then needs no new
   * SUBSCRIBE to reach the publisher before the device pushes. Its messages are dropped by the consumer's routing,
   * and the server stops publishing it 600 s after the last EventConfirmSubscription.
   */
  unsubscribe(topic: string): void {
    const n = this.#topics.get(topic);
    if (n !== undefined && n > 0) this.#topics.set(topic, n - 1);
  }

  /** Closes the socket and waits for the receive loop to end. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const waiters of [...this.#waiting.values()]) for (const done of [...waiters]) done();
      for (const [timer, resolve] of [...this.#settling]) {
        clearTimeout(timer);
        resolve();
      }
      this.#settling.clear();
      this.#handshakeAt.clear();
      this.#subscribedAt.clear();
      this.#endpoints.clear();
      this.#topics.clear();
      this.#socket.close();
    }
    await this.#loop;
  }
}
