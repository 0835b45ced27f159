/**
 * The inspector's view of a running system, fed by XState inspection events and Orrery engine events.
 *
 * The engine-side cost is a few pointer writes per inspection event: events go into a bounded ring (oldest
 * dropped, rate-capped), snapshots are coalesced per actor (latest wins). Serialisation and redaction happen once
 * per flush (every batch interval), never on the engine's call stack, and never wait on a socket.
 */
import type { AnyActorRef, InspectionEvent, Subscription } from 'xstate';
import type { EngineEvent } from '../engine/inspectionBus.js';
import type { OrrerySystem } from '../engine/system.js';
import type { ChartRegistry } from './charts.js';
import { type LrcSummary, lrcFromContext, lrcFromDeviceEvent } from './lrcView.js';
import { copyStateValue, type Redactor } from './redact.js';

export interface ActorView {
  key: string;
  id: string;
  systemId?: string;
  parent?: string;
  supervisor?: string;
  machine: string;
  chart?: string;
  status: string;
  value?: unknown;
  context?: unknown;
  output?: unknown;
  error?: unknown;
  /** For LRC actors (machine 'lrc'): command, status, progress, result, outcome. */
  lrc?: LrcSummary;
  updatedAt: number;
}

export interface EventView {
  seq: number;
  t: number;
  type: string;
  target: string;
  targetId: string;
  source?: string;
  sourceId?: string;
  data?: unknown;
}

export interface EngineView {
  seq: number;
  t: number;
  type: string;
  [key: string]: unknown;
}

export interface Batch {
  actors: ActorView[];
  stopped: string[];
  events: EventView[];
  engine: EngineView[];
  /** Events dropped by the rate cap or the ring since the last flush. */
  dropped: number;
}

/** A fixed-capacity FIFO that drops its oldest item when full. */
export class Ring<T> {
  #items: (T | undefined)[];
  #start = 0;
  #size = 0;
  dropped = 0;
  constructor(readonly capacity: number) {
    this.#items = new Array(Math.max(1, capacity));
  }
  get size(): number {
    return this.#size;
  }
  push(item: T): void {
    const cap = this.#items.length;
    if (this.#size === cap) {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % cap;
      this.dropped++;
    } else {
      this.#items[(this.#start + this.#size) % cap] = item;
      this.#size++;
    }
  }
  /** Remove and return everything, oldest first. */
  drain(): T[] {
    const out = this.toArray();
    this.#items.fill(undefined);
    this.#start = 0;
    this.#size = 0;
    return out;
  }
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#size; i++) out.push(this.#items[(this.#start + i) % this.#items.length] as T);
    return out;
  }
}

interface RawEvent {
  t: number;
  event: { type: string };
  source: AnyActorRef | undefined;
  target: AnyActorRef;
}

export interface TrackerOptions {
  redact: Redactor;
  charts: ChartRegistry;
  /** Capacity of the event ring between flushes, and of the recent-log replay for late pages. */
  bufferSize: number;
  maxEventsPerSecond: number;
}

type Internal = AnyActorRef & { _parent?: AnyActorRef; logic?: unknown; src?: unknown; systemId?: string };

export class Tracker {
  readonly #system: OrrerySystem;
  readonly #opts: TrackerOptions;
  readonly #live = new Map<AnyActorRef, ActorView>();
  readonly #created = new Set<AnyActorRef>();
  readonly #dirty = new Map<AnyActorRef, unknown>();
  readonly #raw: Ring<RawEvent>;
  readonly #recentEvents: Ring<EventView>;
  readonly #recentEngine = new Ring<EngineView>(200);
  #pendingEngine: EngineView[] = [];
  #engineSub: Subscription;
  #inspectSub: Subscription | undefined;
  #seq = 0;
  #rateWindow = 0;
  #rateCount = 0;
  #rateDropped = 0;

  constructor(system: OrrerySystem, opts: TrackerOptions) {
    this.#system = system;
    this.#opts = opts;
    this.#raw = new Ring(opts.bufferSize);
    this.#recentEvents = new Ring(Math.min(opts.bufferSize, 500));
    this.#engineSub = system.onEngineEvent((e) => this.#onEngine(e));
  }

  get active(): boolean {
    return this.#inspectSub !== undefined;
  }

  get liveCount(): number {
    return this.#live.size;
  }

  /** Start observing inspection events (the engine attaches inspection lazily, on the first observer). */
  start(): void {
    if (this.#inspectSub) return;
    this.#inspectSub = this.#system.inspect(this.#onInspect);
    const seed = (ref: AnyActorRef) => {
      if (this.#live.has(ref) || this.#created.has(ref)) return;
      this.#created.add(ref);
      const children = (ref.getSnapshot() as { children?: Record<string, AnyActorRef> } | undefined)
        ?.children;
      for (const child of Object.values(children ?? {})) if (child) seed(child);
    };
    for (const info of this.#system.actors()) seed(info.ref);
  }

  /** Stop observing and forget the actor table (the engine detaches inspection after its last observer). */
  stop(): void {
    this.#inspectSub?.unsubscribe();
    this.#inspectSub = undefined;
    this.#live.clear();
    this.#created.clear();
    this.#dirty.clear();
    this.#raw.drain();
    this.#recentEvents.drain();
  }

  /** Detach from the engine for good. */
  dispose(): void {
    this.stop();
    this.#engineSub.unsubscribe();
  }

  // ------------------------------------------------------------------------------------------ engine call stack

  readonly #onInspect = (e: InspectionEvent): void => {
    switch (e.type) {
      case '@xstate.actor':
        this.#created.add(e.actorRef as AnyActorRef);
        return;
      case '@xstate.snapshot':
        this.#dirty.set(e.actorRef as AnyActorRef, e.snapshot);
        return;
      case '@xstate.event': {
        const t = Date.now();
        if (t - this.#rateWindow >= 1000) {
          this.#rateWindow = t;
          this.#rateCount = 0;
        }
        if (++this.#rateCount > this.#opts.maxEventsPerSecond) {
          this.#rateDropped++;
          return;
        }
        this.#raw.push({
          t,
          event: e.event as { type: string },
          source: e.sourceRef as AnyActorRef | undefined,
          target: e.actorRef as AnyActorRef,
        });
        return;
      }
    }
  };

  #onEngine(e: EngineEvent): void {
    const view = { seq: ++this.#seq, t: Date.now(), ...(this.#opts.redact(e) as object) } as EngineView;
    view.type = e.type;
    this.#recentEngine.push(view);
    this.#pendingEngine.push(view);
    if (this.#pendingEngine.length > 1000) this.#pendingEngine.shift();
  }

  // ------------------------------------------------------------------------------------------ flush (timer)

  /** Everything that changed since the last flush, serialised and redacted. */
  flush(): Batch {
    const now = Date.now();
    const changed = new Map<AnyActorRef, ActorView>();
    let infos: Map<AnyActorRef, { systemId?: string; supervisor?: string }> | undefined;
    const info = (ref: AnyActorRef) => {
      infos ??= new Map(this.#system.actors().map((i) => [i.ref, i]));
      return infos.get(ref);
    };
    for (const ref of this.#created) {
      if (this.#live.has(ref)) continue;
      const view = this.#newView(ref, info(ref), now);
      this.#live.set(ref, view);
      this.#update(view, ref.getSnapshot(), now);
      changed.set(ref, view);
    }
    this.#created.clear();
    for (const [ref, snapshot] of this.#dirty) {
      let view = this.#live.get(ref);
      if (!view) {
        view = this.#newView(ref, info(ref), now);
        this.#live.set(ref, view);
      }
      this.#update(view, snapshot, now);
      changed.set(ref, view);
    }
    this.#dirty.clear();
    const events: EventView[] = [];
    for (const raw of this.#raw.drain()) {
      const { type, ...data } = raw.event;
      const view: EventView = {
        seq: ++this.#seq,
        t: raw.t,
        type: String(type),
        target: raw.target.sessionId,
        targetId: raw.target.id,
      };
      if (raw.source) {
        view.source = raw.source.sessionId;
        view.sourceId = raw.source.id;
      }
      if (Object.keys(data).length > 0) view.data = this.#opts.redact(data);
      events.push(view);
      if (type === 'DEVICE_EVENT') this.#lrcEvent(raw, changed);
      this.#recentEvents.push(view);
    }
    const stopped: string[] = [];
    for (const [ref, view] of this.#live) {
      const status = (ref.getSnapshot() as { status?: string } | undefined)?.status ?? 'stopped';
      if (status === 'active') continue;
      if (view.status !== status) {
        this.#update(view, ref.getSnapshot(), now);
        changed.set(ref, view);
      }
      stopped.push(view.key);
      this.#live.delete(ref);
    }
    const dropped = this.#raw.dropped + this.#rateDropped;
    this.#raw.dropped = 0;
    this.#rateDropped = 0;
    const engine = this.#pendingEngine;
    this.#pendingEngine = [];
    return { actors: [...changed.values()], stopped, events, engine, dropped };
  }

  /** The full picture for a page that connects now: every live actor, recent engine events and log lines. */
  snapshot(): { actors: ActorView[]; engine: EngineView[]; events: EventView[] } {
    return {
      actors: [...this.#live.values()],
      engine: this.#recentEngine.toArray(),
      events: this.#recentEvents.toArray(),
    };
  }

  #newView(
    ref: AnyActorRef,
    info: { systemId?: string; supervisor?: string } | undefined,
    now: number,
  ): ActorView {
    const r = ref as Internal;
    const chart = this.#opts.charts.keyFor(r.logic);
    const machine =
      (r.logic as { id?: string } | undefined)?.id && chart
        ? (r.logic as { id: string }).id
        : typeof r.src === 'string'
          ? r.src
          : 'actor';
    const view: ActorView = { key: ref.sessionId, id: ref.id, machine, status: 'active', updatedAt: now };
    const systemId = info?.systemId ?? r.systemId;
    if (systemId) view.systemId = systemId;
    if (r._parent) view.parent = r._parent.sessionId;
    if (info?.supervisor) view.supervisor = info.supervisor;
    if (chart) view.chart = chart;
    return view;
  }

  #lrcEvent(raw: RawEvent, changed: Map<AnyActorRef, ActorView>): void {
    const view = this.#live.get(raw.target);
    if (view?.machine !== 'lrc') return;
    const commandId = (raw.target.getSnapshot() as { context?: { commandId?: unknown } }).context?.commandId;
    const next = lrcFromDeviceEvent(view.lrc ?? {}, raw.event as never, commandId, this.#opts.redact);
    if (!next) return;
    view.lrc = next;
    changed.set(raw.target, view);
  }

  #update(view: ActorView, snapshot: unknown, now: number): void {
    const s = (snapshot ?? {}) as {
      status?: string;
      value?: unknown;
      context?: unknown;
      output?: unknown;
      error?: unknown;
    };
    view.status = s.status ?? view.status;
    view.updatedAt = now;
    if (s.value !== undefined) view.value = copyStateValue(s.value);
    if (s.context !== undefined) view.context = this.#opts.redact(s.context);
    if (s.output !== undefined) view.output = this.#opts.redact(s.output);
    if (s.error !== undefined) view.error = this.#opts.redact(s.error);
    if (view.machine === 'lrc') view.lrc = lrcFromContext(view.lrc ?? {}, s.context);
  }
}
