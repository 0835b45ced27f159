/**
 * Feeds the Channel Access inspector view (`view.ts`) what no machine carries: monitor updates go from the circuit
 * to the callbacks directly, and a circuit's channel count lives in its routing tables. A `CaInspectorFeed` READS
 * them every `periodMs` on the context's clock (pull: the monitor hot path is untouched) and sends each channel
 * actor a `ca.inspect.monitor` sample (updates counter, newest value shortened, its type) and each circuit actor a
 * `ca.inspect.circuit` sample (channels, monitors, pending requests); each channel still searching gets the
 * context's real search schedule (`Context.searchStats`) as `ca.inspect.search` when it changes. The machines
 * ignore these events;
 * the inspector's view folds them in and computes the monitor rate from the counters.
 *
 * A channel whose counter did not move is re-sampled only every RATE_WINDOW_MS (so its rate decays to 0 without an
 * event per period); a circuit whose counts did not change is not re-sent. The feed stops by itself when the
 * context disconnects or its system stops; `close()` stops it at once. It holds no reference to a monitor after
 * `unwatch` / `close`.
 *
 * @example
 * const feed = new CaInspectorFeed(context);   // circuits are watched by themselves
 * const sub = context.getPv('sim:x').subscribe();
 * sub.addCallback(() => {});
 * feed.watch(sub);                             // its channel's card shows the value and updates/s
 */
import type { AnyActorRef } from 'xstate';
import type { Clock } from '../../engine/clock.js';
import type { OrrerySystem } from '../../engine/system.js';
import { dbrName } from './constants.js';
import type { Context } from './context.js';
import type { Subscription } from './subscription.js';
import {
  CA_CIRCUIT_SAMPLE,
  CA_MONITOR_SAMPLE,
  CA_SEARCH_SAMPLE,
  type CaCircuitSample,
  type CaMonitorSample,
  type CaSearchSample,
  RATE_WINDOW_MS,
  shortValue,
} from './view.js';

export interface CaInspectorFeedOptions {
  /** How often the feed reads the monitors and circuits (ms, default 500). */
  periodMs?: number;
}

interface Sent {
  t: number;
  updates: number;
}

const isLive = (ref: AnyActorRef | undefined) => ref !== undefined && ref.getSnapshot()?.status === 'active';

export class CaInspectorFeed {
  readonly #context: Context;
  readonly #system: OrrerySystem;
  readonly #clock: Clock;
  readonly #periodMs: number;
  readonly #watched = new Set<Subscription>();
  /** Per channel actor id: what was last sent. */
  readonly #sentChannel = new Map<string, Sent>();
  /** Per searching channel actor id: the search figures last sent. */
  readonly #sentSearch = new Map<string, string>();
  /** Per circuit actor id: the counts last sent. */
  readonly #sentCircuit = new Map<string, string>();
  readonly #refs = new Map<string, AnyActorRef>();
  #timer: unknown;
  #closed = false;
  readonly #offStop: () => void;

  constructor(context: Context, options: CaInspectorFeedOptions = {}) {
    const period = options.periodMs ?? 500;
    if (typeof period !== 'number' || !(period > 0) || !Number.isFinite(period))
      throw new RangeError('periodMs must be a positive number of ms');
    this.#context = context;
    this.#system = context.system;
    this.#clock = context.system.clock;
    this.#periodMs = period;
    this.#offStop = this.#system.onStop(() => this.close());
    this.#arm();
  }

  /** Show this monitor's value and rate on its channel's card; returns a function that stops that. */
  watch(subscription: Subscription): () => void {
    if (!this.#closed) this.#watched.add(subscription);
    return () => this.unwatch(subscription);
  }

  unwatch(subscription: Subscription): void {
    this.#watched.delete(subscription);
  }

  get watching(): number {
    return this.#watched.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Read everything now and send what changed (the timer does this every period). */
  sample(): void {
    if (this.#closed) return;
    if (this.#context.disconnected) {
      this.close();
      return;
    }
    const now = this.#clock.now();
    this.#sampleMonitors(now);
    this.#sampleSearches(now);
    this.#sampleCircuits(now);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watched.clear();
    this.#sentChannel.clear();
    this.#sentCircuit.clear();
    this.#sentSearch.clear();
    this.#refs.clear();
    this.#offStop();
  }

  #arm(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.sample();
      if (!this.#closed) this.#arm();
    }, this.#periodMs);
  }

  #sampleMonitors(now: number): void {
    const byChannel = new Map<string, Subscription[]>();
    for (const sub of this.#watched) {
      if (sub.state === 'closed') {
        this.#watched.delete(sub);
        continue;
      }
      const id = sub.pv.actorId;
      const list = byChannel.get(id);
      if (list) list.push(sub);
      else byChannel.set(id, [sub]);
    }
    for (const [id, subs] of byChannel) {
      let updates = 0;
      let monitors = 0;
      let newest: Subscription | undefined;
      for (const sub of subs) {
        updates += sub.updates;
        if (sub.callbackCount > 0) monitors++;
        if (sub.mostRecentResponse && (!newest || sub.updates >= newest.updates)) newest = sub;
      }
      const last = this.#sentChannel.get(id);
      if (last && last.updates === updates && now - last.t < RATE_WINDOW_MS) continue;
      const sample: CaMonitorSample = { type: CA_MONITOR_SAMPLE, t: now, updates, monitors };
      const response = newest?.mostRecentResponse;
      if (response) {
        sample.value = shortValue(response.data);
        sample.dataType = dbrName(response.dataType);
        sample.count = response.data.length;
        if (typeof response.metadata.severity === 'number') sample.severity = response.metadata.severity;
      }
      if (this.#send(id, sample, false)) this.#sentChannel.set(id, { t: now, updates });
    }
    for (const id of this.#sentChannel.keys()) if (!byChannel.has(id)) this.#sentChannel.delete(id);
  }

  /** Each searching channel gets the context's real search schedule when it changed. */
  #sampleSearches(now: number): void {
    const stats = this.#context.searchStats;
    const key = `${stats.intervalMs},${stats.unanswered},${stats.retired}`;
    const searching = new Set<string>();
    for (const pv of this.#context.pvs) {
      if (pv.channelState !== 'searching') continue;
      const id = pv.actorId;
      searching.add(id);
      if (this.#sentSearch.get(id) === key) continue;
      const sample: CaSearchSample = {
        type: CA_SEARCH_SAMPLE,
        t: now,
        intervalMs: stats.intervalMs,
        unanswered: stats.unanswered,
        retired: stats.retired,
      };
      if (this.#send(id, sample, false)) this.#sentSearch.set(id, key);
    }
    for (const id of this.#sentSearch.keys()) if (!searching.has(id)) this.#sentSearch.delete(id);
  }

  #sampleCircuits(now: number): void {
    const seen = new Set<string>();
    for (const channels of this.#context.circuits) {
      const circuit = channels.circuit as { actorId?: unknown; key: { priority: number } };
      if (typeof circuit.actorId !== 'string') continue;
      const id = circuit.actorId;
      seen.add(id);
      const counts = [channels.channelCount, channels.subscriptionCount, channels.pendingOps];
      const key = counts.join(',');
      if (this.#sentCircuit.get(id) === key) continue;
      const sample: CaCircuitSample = {
        type: CA_CIRCUIT_SAMPLE,
        t: now,
        priority: circuit.key.priority,
        channels: channels.channelCount,
        subscriptions: channels.subscriptionCount,
        pendingOps: channels.pendingOps,
      };
      if (this.#send(id, sample, true)) this.#sentCircuit.set(id, key);
    }
    for (const id of this.#sentCircuit.keys()) if (!seen.has(id)) this.#sentCircuit.delete(id);
  }

  /** Send to the actor `id` (a circuit is registered under its id as systemId; a channel is found by id). */
  #send(id: string, event: CaMonitorSample | CaSearchSample | CaCircuitSample, bySystemId: boolean): boolean {
    let ref = this.#refs.get(id);
    if (!isLive(ref)) {
      this.#refs.delete(id);
      ref = bySystemId ? this.#system.get(id) : this.#system.actors().find((a) => a.ref.id === id)?.ref;
      if (!isLive(ref)) return false;
      this.#refs.set(id, ref as AnyActorRef);
    }
    (ref as AnyActorRef).send(event);
    return true;
  }
}
