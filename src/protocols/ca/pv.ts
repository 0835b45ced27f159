/**
 * A Channel Access PV of a `Context` (caproto threading client's `PV`): a channel actor (`pvChannel.ts`) that
 * searches, connects and reconnects by itself, reads and writes with per-request deadlines (`pendingOps.ts`),
 * cached subscriptions, put-completion as a Status, and connection / access-rights callbacks held strongly.
 *
 * Differences from upstream, on purpose: callbacks are held strongly and removed with the function `on...`
 * returned; durations are milliseconds; a request's ioid is freed at its deadline (caproto keeps it until the
 * circuit dies); an AbortSignal cancels a wait or a request.
 */
import type { ChannelStateName } from '../../../machines/ca/channel.js';
import { checkDuration } from '../../../machines/core/duration.js';
import type { Status, StatusOptions } from '../../api/status.js';
import type { Clock } from '../../engine/clock.js';
import type { Logger } from '../../engine/logging.js';
import { readNotifyRequest, writeNotifyRequest, writeRequest } from './commands.js';
import { type NativeType, nativeOf } from './constants.js';
import { toNativeArray } from './convert.js';
import { decodeDbr, encodeDbr } from './dbr.js';
import { CaDisconnectedError, CaStatusError, CaTimeoutError, CaValueError } from './errors.js';
import type { CaFrame } from './frame.js';
import { PendingOps, seconds } from './pendingOps.js';
import { putStatus } from './putStatus.js';
import { ChannelBinding, type ChannelHost } from './pvChannel.js';
import {
  checkCount,
  checkOptions,
  checkSignal,
  type ReadResponse,
  readType,
  type WriteResponse,
  writeType,
} from './pvTypes.js';
import { type SubscribeOptions, Subscription, subscriptionKey } from './subscription.js';
import { Waiters } from './waiters.js';

export type { ReadResponse, WriteResponse } from './pvTypes.js';

export type ConnectionState = 'connected' | 'disconnected';
export type ConnectionStateCallback = (pv: PV, state: ConnectionState) => void;
export type AccessRightsCallback = (pv: PV, rights: number) => void;

/** What a PV needs from its Context besides the channel's needs. */
export interface PvHost extends ChannelHost {
  readonly context: import('./context.js').Context;
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** Throws ContextDisconnectedError once the context is disconnected. */
  checkOpen(): void;
}

export interface ReadOptions {
  timeout?: number | null;
  dataType?: number | string;
  dataCount?: number;
  /** READ_NOTIFY (default true); false is accepted and still uses READ_NOTIFY (READ is deprecated). */
  notify?: boolean;
  forceIntEnums?: boolean;
  signal?: AbortSignal;
}
export interface WriteOptions {
  wait?: boolean;
  notify?: boolean;
  timeout?: number | null;
  dataType?: number | string;
  dataCount?: number;
  signal?: AbortSignal;
}
export interface PutOptions extends Omit<StatusOptions, 'system' | 'signal' | 'timeout'> {
  timeout?: number | null;
  dataType?: number | string;
}

export class PV {
  readonly name: string;
  readonly priority: number;
  readonly context: import('./context.js').Context;
  readonly #host: PvHost;
  readonly #channel: ChannelBinding;
  readonly #ops: PendingOps;
  readonly #connectionCallbacks = new Set<ConnectionStateCallback>();
  readonly #rightsCallbacks = new Set<AccessRightsCallback>();
  readonly #connectWaiters: Waiters;
  readonly #searchWaiters: Waiters;
  readonly #subscriptions = new Map<string, Subscription>();
  #lastState: ConnectionState | undefined;
  readonly #log: Logger;

  /** @internal Made by `Context.getPvs`. */
  constructor(host: PvHost, cid: number, name: string, priority: number) {
    this.name = name;
    this.priority = priority;
    this.context = host.context;
    this.#host = host;
    this.#log = host.logger;
    this.#connectWaiters = new Waiters(host.clock, name);
    this.#searchWaiters = new Waiters(host.clock, name);
    this.#ops = new PendingOps({
      name,
      clock: host.clock,
      connected: (deadline, total, signal) => this.#connected(deadline, total, signal),
    });
    this.#channel = new ChannelBinding(host, cid, name, priority, {
      found: () => this.#searchWaiters.settleAll(),
      failed: (error) => this.#connectWaiters.failAll(error),
      connected: () => this.#onConnected(),
      disconnected: () => this.#onDisconnected(),
      accessRightsChanged: (rights) => this.#emitRights(rights),
    });
  }

  get connected(): boolean {
    return this.#channel.connected;
  }
  get accessRights(): number {
    return this.#channel.rights;
  }
  get nativeType(): NativeType | undefined {
    return this.#channel.connected ? this.#channel.nativeType : undefined;
  }
  get nativeCount(): number | undefined {
    return this.#channel.connected ? this.#channel.nativeCount : undefined;
  }
  /** The channel machine's state: searching, connecting, connected, backingOff, idle, closed. */
  get channelState(): ChannelStateName {
    return this.#channel.state;
  }
  /** The channel's cid and its actor's id (inspection, tests). */
  get cid(): number {
    return this.#channel.cid;
  }
  get actorId(): string {
    return this.#channel.actorId;
  }
  /** The server the last search found, as `host:port`. */
  get serverAddress(): string | undefined {
    const a = this.#channel.details.address;
    return a ? `${a.host}:${a.port}` : undefined;
  }
  /**
   * The subscriptions `subscribe` made (cached: one per distinct options), until the context disconnects; one that
   * ended with an error (its EVENT_ADD refused) is no longer among them.
   */
  get subscriptions(): readonly Subscription[] {
    return [...this.#subscriptions.values()];
  }
  /** Requests of this PV waiting for a reply. */
  get pendingRequests(): number {
    return this.#ops.size;
  }

  /** Resolves once a server answered the search (caproto `wait_for_search`). */
  async waitForSearch(options: { timeout?: number | null; signal?: AbortSignal } = {}): Promise<void> {
    this.#host.checkOpen();
    checkOptions(options, 'waitForSearch');
    checkSignal(options.signal);
    const total = this.#timeout(options.timeout);
    this.#wake();
    const s = this.#channel.state;
    if (s !== 'searching' && s !== 'backingOff' && s !== 'idle') return;
    return this.#searchWaiters.wait(
      this.#host.clock.now() + total,
      options.signal,
      () =>
        new CaTimeoutError(
          `No servers responded to a search for a channel named ${this.name} within ${seconds(total)}-second timeout.`,
        ),
    );
  }

  /** Resolves once the channel is connected (caproto `wait_for_connection`). */
  async waitForConnection(options: { timeout?: number | null; signal?: AbortSignal } = {}): Promise<void> {
    this.#host.checkOpen();
    checkOptions(options, 'waitForConnection');
    checkSignal(options.signal);
    const total = this.#timeout(options.timeout);
    return this.#connected(this.#host.clock.now() + total, total, options.signal);
  }

  /** READ_NOTIFY; a failure ECA -> CaStatusError; no reply by the deadline -> CaTimeoutError. */
  async read(options: ReadOptions = {}): Promise<ReadResponse> {
    this.#host.checkOpen();
    checkOptions(options, 'read');
    checkSignal(options.signal);
    const total = this.#timeout(options.timeout);
    const count = checkCount(options.dataCount);
    if (options.dataType !== undefined) readType(options.dataType, 0); // bad types fail before any I/O
    return this.#ops.operate(total, options.signal, (deadline) => {
      const ch = this.#channel;
      const circuit = this.#circuit();
      const dataType = readType(options.dataType, ch.nativeType as NativeType, options.forceIntEnums);
      const dataCount =
        count ?? ((circuit.circuit.serverMinorVersion ?? 13) >= 13 ? 0 : (ch.nativeCount ?? 1));
      return this.#ops.request(
        circuit,
        deadline,
        options.signal,
        (ioid) => readNotifyRequest(dataType, dataCount, ch.sid, ioid),
        (frame) => this.#readReply(frame),
        (ioid) => this.#lateText('read', total, ioid),
      );
    });
  }

  /**
   * WRITE_NOTIFY (wait, or notify) or WRITE. Resolves with the WRITE_NOTIFY response when waiting, else undefined;
   * a failure ECA -> CaStatusError.
   */
  async write(data: unknown, options: WriteOptions = {}): Promise<WriteResponse | undefined> {
    this.#host.checkOpen();
    checkOptions(options, 'write');
    checkSignal(options.signal);
    const wait = options.wait ?? true;
    const notify = options.notify ?? wait;
    if (wait && !notify) throw new CaValueError('Must set notify=true in order to use wait=true.');
    const total = this.#timeout(options.timeout);
    const count = checkCount(options.dataCount);
    if (options.dataType !== undefined) writeType(options.dataType, 0, data);
    const run = this.#ops.operate(total, options.signal, async (deadline) => {
      const ch = this.#channel;
      const circuit = this.#circuit();
      const dataType = writeType(options.dataType, ch.nativeType as NativeType, data);
      let array = toNativeArray(nativeOf(dataType), data);
      if (count !== undefined && count > 0 && count < array.length)
        array = array.slice(0, count) as typeof array;
      const payload = encodeDbr(dataType, array);
      const n = array.length;
      if (!notify) {
        if (!circuit.send(writeRequest(dataType, n, ch.sid, 0, payload))) {
          throw new CaDisconnectedError(`${this.name}: the circuit is closed`);
        }
        return undefined;
      }
      return this.#ops.request(
        circuit,
        deadline,
        options.signal,
        (ioid) => writeNotifyRequest(dataType, n, ch.sid, ioid, payload),
        (frame) => this.#writeReply(frame),
        (ioid) => this.#lateText('write to', total, ioid),
      );
    });
    if (wait || !notify) return run;
    run.catch((err) => this.#log.debug({ err, pv: this.name }, 'unawaited write failed'));
    return undefined;
  }

  /** Put with completion as a Status: finishes on WRITE_NOTIFY ECA_NORMAL, fails with CaStatusError / CaTimeoutError. */
  put(data: unknown, options: PutOptions = {}): Status {
    this.#host.checkOpen();
    checkOptions(options, 'put');
    return putStatus(this, this.#host.system, data, options);
  }

  /**
   * The subscription for these options (the same object for identical options, caproto's cache, until it ends:
   * one whose EVENT_ADD was refused is replaced by a new one).
   */
  subscribe(options: SubscribeOptions = {}): Subscription {
    this.#host.checkOpen();
    checkOptions(options, 'subscribe');
    const key = subscriptionKey(options);
    let sub = this.#subscriptions.get(key);
    if (!sub) {
      sub = new Subscription(this, options, {
        system: this.#host.system,
        supervisor: this.#host.supervisor,
        logger: this.#log,
        channel: this.#channel,
        wake: () => this.#wake(),
      });
      this.#subscriptions.set(key, sub);
      // one that ended (its EVENT_ADD refused) is forgotten: the next subscribe() makes a new one
      const made = sub;
      made.onClose(() => {
        if (this.#subscriptions.get(key) === made) this.#subscriptions.delete(key);
      });
    }
    return sub;
  }

  /** Remove every callback of every subscription (EVENT_CANCEL for the active ones), synchronously. */
  unsubscribeAll(): void {
    for (const sub of this.#subscriptions.values()) sub.clear();
  }

  /** Clear the channel to save resources, unless a subscription has callbacks or a request is in flight. */
  goIdle(): void {
    if (this.#ops.busy) return;
    for (const sub of this.#subscriptions.values()) if (sub.callbackCount > 0) return;
    this.#channel.send({ type: 'GO_IDLE' });
  }

  /** ms since the channel's circuit last received anything (Infinity without a circuit). */
  timeSinceLastHeard(): number {
    const circuit = this.#channel.circuit;
    return circuit ? this.#host.clock.now() - circuit.circuit.lastHeardMs : Number.POSITIVE_INFINITY;
  }

  /** `cb(pv, 'connected' | 'disconnected')` on every change, and at once with the last state if there was one. */
  onConnectionState(cb: ConnectionStateCallback): () => void {
    if (typeof cb !== 'function') throw new CaValueError('onConnectionState needs a function');
    if (!this.#connectionCallbacks.has(cb)) {
      this.#connectionCallbacks.add(cb);
      if (this.#lastState !== undefined) this.#call(() => cb(this, this.#lastState as ConnectionState));
    }
    return () => void this.#connectionCallbacks.delete(cb);
  }

  /** `cb(pv, rights)` on every ACCESS_RIGHTS while connected, and at once when connected. */
  onAccessRights(cb: AccessRightsCallback): () => void {
    if (typeof cb !== 'function') throw new CaValueError('onAccessRights needs a function');
    if (!this.#rightsCallbacks.has(cb)) {
      this.#rightsCallbacks.add(cb);
      if (this.connected) this.#call(() => cb(this, this.accessRights));
    }
    return () => void this.#rightsCallbacks.delete(cb);
  }

  /** @internal The context ends: subscriptions, channel, waiters and requests. */
  close(error: Error): void {
    for (const sub of this.#subscriptions.values()) sub.close();
    this.#subscriptions.clear();
    this.#channel.close();
    this.#ops.failAll(error);
    this.#connectWaiters.failAll(error);
    this.#searchWaiters.failAll(error);
    this.#connectionCallbacks.clear();
    this.#rightsCallbacks.clear();
  }

  /** @internal The search found the channel at `address`. */
  foundAt(address: { host: string; port: number }, minorVersion: number): void {
    this.#channel.foundAt(address, minorVersion);
  }

  toString(): string {
    return `<PV name=${JSON.stringify(this.name)} priority=${this.priority} state=${this.channelState}>`;
  }

  #timeout(timeout: number | null | undefined): number {
    const t = checkDuration('timeout', timeout, true);
    if (timeout === undefined) return this.#host.timeoutMs;
    return t ?? Number.POSITIVE_INFINITY;
  }

  #circuit() {
    const circuit = this.#channel.circuit;
    if (!this.#channel.connected || !circuit || circuit.closed) {
      throw new CaDisconnectedError(`${this.name}: the channel is not connected`);
    }
    return circuit;
  }

  #lateText(verb: string, total: number, ioid: number): string {
    const c = this.#channel.circuit?.circuit.key;
    const at = c ? `${c.host}:${c.port}` : 'unknown';
    return `Server at ${at} did not respond to attempt to ${verb} channel named ${this.name} within ${seconds(total)}-second timeout. The ioid of the expected response is ${ioid}.`;
  }

  #readReply(frame: CaFrame): ReadResponse {
    if (frame.p1 !== 1) throw new CaStatusError(frame.p1, `read of ${this.name}`);
    const value = decodeDbr(frame.dataType, frame.count, frame.payload);
    return {
      data: value.data,
      dataType: frame.dataType,
      dataCount: frame.count,
      status: frame.p1,
      metadata: value.metadata,
    };
  }

  #writeReply(frame: CaFrame): WriteResponse {
    if (frame.p1 !== 1) throw new CaStatusError(frame.p1, `write to ${this.name}`);
    return { status: frame.p1, dataType: frame.dataType, dataCount: frame.count };
  }

  #wake(): void {
    if (this.#channel.state === 'idle') this.#channel.send({ type: 'WAKE' });
  }

  #connected(deadline: number, total: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#channel.connected) return Promise.resolve();
    this.#host.checkOpen();
    this.#wake();
    return this.#connectWaiters.wait(
      deadline,
      signal,
      () => new CaTimeoutError(`${this.name} could not connect within ${seconds(total)}-second timeout.`),
    );
  }

  #onConnected(): void {
    this.#searchWaiters.settleAll();
    this.#connectWaiters.settleAll();
    for (const sub of this.#subscriptions.values()) sub.channelConnected();
    this.#emitState('connected');
    this.#emitRights(this.accessRights);
  }

  #onDisconnected(): void {
    // requests on a channel lost while its circuit lives (SERVER_DISCONN, idle) are retried on the next channel
    this.#ops.failAll(new CaDisconnectedError(`${this.name}: the channel disconnected`));
    for (const sub of this.#subscriptions.values()) sub.channelLost();
    this.#emitState('disconnected');
  }

  #emitState(state: ConnectionState): void {
    this.#lastState = state;
    for (const cb of [...this.#connectionCallbacks]) this.#call(() => cb(this, state));
  }

  #emitRights(rights: number): void {
    for (const cb of [...this.#rightsCallbacks]) this.#call(() => cb(this, rights));
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error({ err, pv: this.name }, 'a PV callback threw');
    }
  }
}
