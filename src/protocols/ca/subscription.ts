/**
 * A Channel Access monitor of a PV (caproto threading client's `Subscription`): `machines/ca/subscription.ts`
 * spawned under the context's supervisor decides when EVENT_ADD and EVENT_CANCEL go out; updates go from the
 * circuit to the callbacks here directly.
 *
 * - the first callback activates it (EVENT_ADD, also before the channel is connected: it goes out on connection);
 *   a later callback at once receives the most recent response; removing the last one sends EVENT_CANCEL, and
 *   nothing more is delivered from that moment (routing stops synchronously);
 * - after a reconnection (IOC restart) it re-activates by itself;
 * - an EVENT_ADD that cannot be sent (the circuit refuses it: CircuitQueueFullError when its server stopped
 *   reading; first activation or re-activation alike) ends the subscription with that error: `onClose` listeners
 *   get it, iterators throw it, `status()` fails with it and `lastError` keeps it; its subscription id is released,
 *   its actor removed and its PV forgets it (`pv.subscribe()` then makes a new one); the circuit is left as it is;
 *   so does an EVENT_ADD the server refuses (CA_PROTO_ERROR, `ErrorResponseReceived`: a count or type it cannot
 *   serve, no read access), as caproto's `block` raises it;
 * - `status(predicate)` is `Status.fromSubscription` over it; `for await (const r of sub)` reads a bounded queue
 *   that keeps the latest responses when full.
 *
 * Differences from upstream, on purpose: callbacks are held strongly (caproto keeps weak references: a lambda
 * vanishes) and removed by their token; a failed update (ECA status other than NORMAL) is logged and kept in
 * `lastError`, not delivered.
 */
import type { Actor } from 'xstate';
import { subscriptionMachine } from '../../../machines/ca/subscription.js';
import { Status, type StatusOptions } from '../../api/status.js';
import type { Logger } from '../../engine/logging.js';
import type { Supervisor } from '../../engine/supervisor.js';
import type { OrrerySystem } from '../../engine/system.js';
import { eventAddRequest, eventCancelRequest } from './commands.js';
import { DEFAULT_EVENT_MASK, type NativeType } from './constants.js';
import { decodeDbr } from './dbr.js';
import { CaError, CaStatusError, CaValueError, ContextDisconnectedError } from './errors.js';
import type { CaFrame } from './frame.js';
import type { PV } from './pv.js';
import type { ChannelBinding } from './pvChannel.js';
import { checkCount, describeArg, type EventResponse, readType } from './pvTypes.js';
import { SubscriptionQueue } from './subscriptionQueue.js';

export type { EventResponse } from './pvTypes.js';

export interface SubscribeOptions {
  /** DBR id or name, or a class ('time', 'control', ...); default the native type (ENUM as STRING). */
  dataType?: number | string;
  /** Elements per update; default 0 (as many as the server has). */
  dataCount?: number;
  low?: number;
  high?: number;
  to?: number;
  /** DBE_* bits; default DBE_VALUE | DBE_ALARM. */
  mask?: number;
  forceIntEnums?: boolean;
}

export type SubscriptionCallback = (sub: Subscription, response: EventResponse) => void;

/** @internal What a Subscription needs from its PV. */
export interface SubscriptionHost {
  readonly system: OrrerySystem;
  readonly supervisor: Supervisor;
  readonly logger: Logger;
  readonly channel: ChannelBinding;
  /** Wake an idle channel. */
  wake(): void;
}

/** The cache key of identical subscribe() arguments. */
export function subscriptionKey(o: SubscribeOptions): string {
  const mask = o.mask ?? DEFAULT_EVENT_MASK;
  if (!Number.isInteger(mask) || mask <= 0 || mask > 0xffff)
    throw new CaValueError(`bad event mask ${describeArg(mask)}`);
  if (o.dataType !== undefined) readType(o.dataType, 0);
  for (const k of ['low', 'high', 'to'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'number') throw new CaValueError(`${k} must be a number`);
  }
  return JSON.stringify([
    o.dataType ?? null,
    checkCount(o.dataCount) ?? 0,
    o.low ?? 0,
    o.high ?? 0,
    o.to ?? 0,
    mask,
    !!o.forceIntEnums,
  ]);
}

let subscriptionCount = 0;

/** What `status()` hears when the subscription closes. */
const CLOSED: unique symbol = Symbol('closed');

type SubscriptionEffect = 'sendEventAdd' | 'sendEventCancel' | 'forgetSubscription';

/** Live subscriptions by their actor's id: how the shared machine's effects find theirs. */
const subscriptions = new Map<string, Subscription>();

const effect =
  (name: SubscriptionEffect) =>
  ({ self }: { self: { id: string } }): void =>
    subscriptions.get(self.id)?.effect(name);

/** The subscription machine with its effects, provided ONCE for every monitor (one logic, one chart). */
const subscriptionLogic = subscriptionMachine.provide({
  actions: {
    sendEventAdd: effect('sendEventAdd'),
    sendEventCancel: effect('sendEventCancel'),
    forgetSubscription: effect('forgetSubscription'),
  },
});

export class Subscription {
  readonly pv: PV;
  readonly options: Readonly<SubscribeOptions>;
  readonly #host: SubscriptionHost;
  readonly #callbacks = new Map<number, SubscriptionCallback>();
  #nextToken = 1;
  readonly #actor: Actor<typeof subscriptionMachine>;
  readonly #stop: () => void;
  #subid: number | null = null;
  #dataType = 0;
  #dataCount = 0;
  #mostRecent: EventResponse | undefined;
  #lastError: Error | undefined;
  #updates = 0;
  readonly #closeListeners = new Set<(error?: Error) => void>();
  #closed = false;
  /** The error the subscription ended with (a refused EVENT_ADD), if it did. */
  #endError: Error | undefined;

  /** @internal Made by `PV.subscribe`. */
  constructor(pv: PV, options: SubscribeOptions, host: SubscriptionHost) {
    this.pv = pv;
    this.options = { ...options };
    this.#host = host;
    const id = `ca-subscription:${pv.name}@${pv.priority}#${++subscriptionCount}`;
    subscriptions.set(id, this);
    const handle = host.system.spawn(subscriptionLogic, {
      supervisor: host.supervisor,
      id,
      input: { channelConnected: host.channel.connected },
      restart: 'temporary',
    });
    this.#actor = handle.current as Actor<typeof subscriptionMachine>;
    const forget = () => {
      if (subscriptions.get(id) === this) subscriptions.delete(id);
    };
    this.#actor.subscribe({ complete: forget, error: forget });
    this.#stop = () => handle.stop();
  }

  /** @internal The machine ran effect `name` (the shared logic's action). */
  effect(name: SubscriptionEffect): void {
    this.#guard(name, () => {
      if (name === 'sendEventAdd') this.#eventAdd();
      else if (name === 'sendEventCancel') this.#eventCancel();
      else this.#forget();
    });
  }

  /** The machine's state: inactive, pending, active or closed. */
  get state(): string {
    const v = this.#actor.getSnapshot().value;
    return typeof v === 'string' ? v : 'closed';
  }
  get actorId(): string {
    return this.#actor.id;
  }
  get callbackCount(): number {
    return this.#callbacks.size;
  }
  get mostRecentResponse(): EventResponse | undefined {
    return this.#mostRecent;
  }
  /** The last failed update or EVENT_ADD error (the error the subscription ended with, if one did). */
  get lastError(): Error | undefined {
    return this.#lastError;
  }
  /** Updates received since the subscription was made. */
  get updates(): number {
    return this.#updates;
  }
  /** EVENT_ADD requests sent (1 + re-activations). */
  get activations(): number {
    return this.#actor.getSnapshot().context.activations;
  }

  /** Add a callback (held strongly); returns its token. The first activates; a later one gets the latest now. */
  addCallback(callback: SubscriptionCallback): number {
    if (typeof callback !== 'function') throw new CaValueError('addCallback needs a function');
    if (this.#closed || this.state === 'closed') {
      const why = this.#endError;
      throw new CaValueError(
        `the subscription of ${this.pv.name} is closed${why ? `: ${why.message}` : ''}`,
        why ? { cause: why } : undefined,
      );
    }
    const token = this.#nextToken++;
    this.#callbacks.set(token, callback);
    if (this.#callbacks.size === 1) {
      this.#host.wake();
      this.#send('ACTIVATE');
    } else if (this.#mostRecent) {
      this.#call(callback, this.#mostRecent);
    }
    return token;
  }

  /** Remove a callback by its token; the last one sends EVENT_CANCEL. Unknown tokens are ignored. */
  removeCallback(token: number): void {
    if (!this.#callbacks.delete(token)) return;
    if (this.#callbacks.size === 0) this.#send('DEACTIVATE');
  }

  /** Remove every callback (EVENT_CANCEL if active). The subscription can be used again. */
  clear(): void {
    if (this.#callbacks.size === 0) return;
    this.#callbacks.clear();
    this.#send('DEACTIVATE');
  }

  /**
   * A Status that finishes at the first response `predicate` accepts (`Status.fromSubscription`); it fails with
   * ContextDisconnectedError if the subscription closes first (its Context disconnected), or with the error the
   * subscription ended with (an EVENT_ADD the circuit refused).
   */
  status(predicate: (response: EventResponse) => boolean, options: StatusOptions = {}): Status {
    if (typeof predicate !== 'function') throw new CaValueError('status needs a predicate function');
    let ended: Error | undefined;
    return Status.fromSubscription<EventResponse | typeof CLOSED>(
      (cb) => {
        const token = this.addCallback((_sub, response) => cb(response));
        const offClose = this.onClose((error) => {
          ended = error;
          cb(CLOSED);
        });
        return () => {
          offClose();
          this.removeCallback(token);
        };
      },
      (response) => {
        if (response === CLOSED) {
          throw ended ?? new ContextDisconnectedError(`the monitor of ${this.pv.name} closed`);
        }
        return predicate(response);
      },
      { system: this.#host.system, name: `${this.pv.name} monitor`, ...options },
    );
  }

  /** Updates as an async iterator over a bounded queue (default 1000; the oldest are dropped when full). */
  values(options: { capacity?: number } = {}): SubscriptionQueue {
    return new SubscriptionQueue(this, options.capacity ?? 1000);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<EventResponse> {
    return this.values();
  }

  /** @internal The channel connected. */
  channelConnected(): void {
    this.#send('CONNECTED');
  }
  /** @internal The channel was lost. */
  channelLost(): void {
    this.#send('LOST');
  }
  /**
   * `listener` is called once when the subscription ends: with the error it ended with (its EVENT_ADD could not be
   * sent, e.g. a CircuitQueueFullError), or without one when its Context disconnects. Iterators, `status()` and
   * `block` end through it. Not called when added after the end. Returns its removal.
   */
  onClose(listener: (error?: Error) => void): () => void {
    if (typeof listener !== 'function') throw new CaValueError('onClose needs a function');
    if (this.#closed) return () => {};
    this.#closeListeners.add(listener);
    return () => void this.#closeListeners.delete(listener);
  }

  /** @internal The context ends (no error), or the subscription failed (`error`, also kept in `lastError`). */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (error) {
      this.#lastError = error;
      this.#endError = error;
    }
    this.#callbacks.clear();
    for (const listener of [...this.#closeListeners]) {
      try {
        listener(error);
      } catch (err) {
        this.#host.logger.error({ err, pv: this.pv.name }, 'a subscription close listener threw');
      }
    }
    this.#closeListeners.clear();
    this.#send('CLOSE');
    if (subscriptions.get(this.actorId) === this) subscriptions.delete(this.actorId);
    try {
      this.#stop();
    } catch (err) {
      this.#host.logger.debug({ err }, 'subscription actor already gone');
    }
  }

  #send(type: 'ACTIVATE' | 'DEACTIVATE' | 'CONNECTED' | 'LOST' | 'CLOSE'): void {
    if (this.#actor.getSnapshot().status !== 'active') return;
    this.#actor.send({ type });
  }

  /**
   * EVENT_ADD on the channel's circuit (the machine entered `active`: the first activation or one after a
   * reconnection). A request the circuit refuses (CircuitQueueFullError) or that cannot be built releases its
   * subscription id at once and ends the subscription with the error; a circuit already closed sends nothing and
   * routes nothing (the channel's loss follows, and its reconnection re-activates).
   */
  #eventAdd(): void {
    const ch = this.#host.channel;
    const circuit = ch.circuit;
    if (!circuit) return;
    const o = this.options;
    let subid: number | null = null;
    try {
      this.#dataType = readType(o.dataType, ch.nativeType as NativeType, o.forceIntEnums);
      this.#dataCount = o.dataCount ?? 0;
      subid = circuit.addSubscription({
        event: (frame) => this.#event(frame),
        failed: (error) => this.#refused(error),
      });
      this.#subid = subid;
      const sent = circuit.send(
        eventAddRequest(
          this.#dataType,
          this.#dataCount,
          ch.sid,
          subid,
          o.mask ?? DEFAULT_EVENT_MASK,
          o.low ?? 0,
          o.high ?? 0,
          o.to ?? 0,
        ),
      );
      if (!sent) {
        circuit.removeSubscription(subid);
        this.#subid = null;
      }
    } catch (err) {
      if (subid !== null) circuit.removeSubscription(subid);
      this.#subid = null;
      this.#activationFailed(
        err instanceof Error ? err : new CaError(`EVENT_ADD for ${this.pv.name} failed: ${String(err)}`),
      );
    }
  }

  /**
   * The EVENT_ADD could not be sent: the subscription ends with `error`. Closing runs after the machine's step (a
   * microtask): an action must not stop its own actor.
   */
  #activationFailed(error: Error, why = 'monitor could not be subscribed (EVENT_ADD not sent)'): void {
    this.#lastError = error;
    this.#host.logger.warn({ err: error, pv: this.pv.name }, `${why}: the subscription ends`);
    queueMicrotask(() => this.close(error));
  }

  /**
   * The server refused the EVENT_ADD (CA_PROTO_ERROR: a count or type it cannot serve, no read access): no update
   * will ever come, so the subscription ends with that error as one whose EVENT_ADD could not be sent (caproto's
   * `block` raises it). Its id is forgotten first: the server holds nothing to cancel.
   */
  #refused(error: Error): void {
    this.#forget();
    this.#activationFailed(error, 'monitor refused by the server (EVENT_ADD answered with an error)');
  }

  #eventCancel(): void {
    const ch = this.#host.channel;
    const circuit = ch.circuit;
    if (this.#subid !== null && circuit) {
      circuit.removeSubscription(this.#subid);
      circuit.send(eventCancelRequest(this.#dataType, this.#dataCount, ch.sid, this.#subid));
    }
    this.#subid = null;
  }

  #forget(): void {
    if (this.#subid !== null) this.#host.channel.circuit?.removeSubscription(this.#subid);
    this.#subid = null;
  }

  #event(frame: CaFrame): void {
    if (frame.p1 !== 1) {
      this.#failed(new CaStatusError(frame.p1, `monitor of ${this.pv.name}`));
      return;
    }
    if (frame.payload.length === 0) return; // an EVENT_CANCEL acknowledgement
    const value = decodeDbr(frame.dataType, frame.count, frame.payload);
    const response: EventResponse = {
      data: value.data,
      dataType: frame.dataType,
      dataCount: frame.count,
      status: frame.p1,
      metadata: value.metadata,
      subscriptionId: frame.p2,
    };
    this.#updates++;
    this.#mostRecent = response;
    for (const [token, cb] of [...this.#callbacks]) if (this.#callbacks.has(token)) this.#call(cb, response);
  }

  #failed(error: Error): void {
    this.#lastError = error;
    this.#host.logger.warn({ err: error, pv: this.pv.name }, 'monitor update failed');
  }

  #call(cb: SubscriptionCallback, response: EventResponse): void {
    try {
      cb(this, response);
    } catch (err) {
      this.#host.logger.error({ err, pv: this.pv.name }, 'a subscription callback threw');
    }
  }

  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#host.logger.error({ err, pv: this.pv.name }, `subscription action ${what} failed`);
    }
  }
}
