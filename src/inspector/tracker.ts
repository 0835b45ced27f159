/**
 * The inspector's view of a running system, fed by XState inspection events and Orrery engine events.
 *
 * The engine-side cost is a few pointer writes per inspection event: events go into a bounded ring (oldest
 * dropped, rate-capped), snapshots are coalesced per actor (latest wins), engine events are queued (bounded).
 * Serialisation and redaction happen once per flush (every batch interval), never on the engine's call stack, and
 * never wait on a socket. A value that cannot be read or redacted costs its own entry only ('[unreadable]'), never
 * the flush.
 *
 * Actors that start and end between two flushes (a Status created and finished at memory speed) are kept per
 * machine in a small ring (per logic object; past 64 distinct logics in one interval, per machine name, since logic
 * built per call is a new object for every actor): the last `FINISHED_SHOWN` of each machine are sent in full (the
 * page's lists of recent outcomes show fewer), the older ones only as counts per machine, final status and state
 * (`Batch.finished`). So a flush costs the same whether 20 or 200,000 lifecycles ended since the last one, and the
 * tracker holds no reference to an actor that ended unseen.
 */
import type { AnyActorRef, InspectionEvent, Subscription } from 'xstate';
import { logicId, logicOf, parentOf } from '../../machines/core/xstateAdapter.js';
import type { EngineEvent } from '../engine/inspectionBus.js';
import type { Logger } from '../engine/logging.js';
import type { ChartRegistry } from './charts.js';
import { isStateMachine } from './graph.js';
import { copyStateValue, type Redactor, UNREADABLE } from './redact.js';
import {
  type InspectorView,
  type InspectorViewInfo,
  inspectorPanelFor,
  inspectorViewFor,
  inspectorViews,
  inspectorViewsVersion,
} from './views.js';

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
  /** What the machine's registered inspector view shows of it (`views.ts`), redacted. */
  summary?: unknown;
  /** The page panel that lists this actor (its view's `panel.id`). */
  panel?: string;
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

/** Actors that started and ended since the last flush and are not in `actors`: how many, by machine and outcome. */
export interface FinishedCount {
  machine: string;
  /** The final snapshot status ('done', 'error', 'stopped'). */
  status: string;
  /** The final state, when it is a top-level state name. */
  value?: string;
  count: number;
}

export interface Batch {
  actors: ActorView[];
  stopped: string[];
  /**
   * Actors that started and ended since the last flush beyond the last `FINISHED_SHOWN` of their machine (those
   * are in `actors` and `stopped`), counted; present only when there are some.
   */
  finished?: FinishedCount[];
  events: EventView[];
  engine: EngineView[];
  /** Events dropped by the rate cap or the ring since the last flush. */
  dropped: number;
  /** The registered inspector views, when they changed since the last flush. */
  views?: InspectorViewInfo[];
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

/**
 * What the inspector observes: an `OrrerySystem`, or the actors of a `createInspector().inspect` function. Only
 * these members are used.
 */
export interface InspectedSystem {
  readonly logger: Logger;
  inspect(observer: (event: InspectionEvent) => void): Subscription;
  onEngineEvent(listener: (event: EngineEvent) => void): Subscription;
  actors(): Array<{ ref: AnyActorRef; systemId?: string; supervisor?: string }>;
  get(systemId: string): AnyActorRef | undefined;
}

export interface TrackerOptions {
  redact: Redactor;
  charts: ChartRegistry;
  /** Capacity of the event ring between flushes, and of the recent-log replay for late pages. */
  bufferSize: number;
  maxEventsPerSecond: number;
  /** Where a failure to show one actor or event is reported (it is skipped, the flush goes on). */
  logger?: Logger;
}

/** Engine events kept between flushes (oldest dropped). */
const MAX_PENDING_ENGINE = 1000;
/** Actors of one machine that started and ended within one flush interval sent in full (the page lists 12). */
export const FINISHED_SHOWN = 20;
/** Distinct logics whose ended actors are kept apart within one flush interval; past it, by machine name. */
const MAX_FINISHED_LOGICS = 64;
/** Names (event types, actor ids) remembered as shown, and the longest remembered. */
const MAX_CACHED_NAMES = 4096;
const MAX_CACHED_NAME = 100;

/**
 * The actors of one machine (logic) that started and ended since the last flush: the last `FINISHED_SHOWN` with
 * their final snapshot (and creation order), the older ones counted by final status and top-level state.
 */
class Finished {
  readonly refs: (AnyActorRef | undefined)[] = new Array(FINISHED_SHOWN);
  readonly snapshots: unknown[] = new Array(FINISHED_SHOWN);
  readonly order: number[] = new Array(FINISHED_SHOWN).fill(0);
  start = 0;
  size = 0;
  /** status -> top-level state ('' for none) -> how many were not kept. */
  counts: Map<string, Map<string, number>> | undefined;
  push(ref: AnyActorRef, snapshot: unknown, order: number): void {
    let i: number;
    if (this.size === FINISHED_SHOWN) {
      i = this.start;
      this.#count(this.snapshots[i]);
      this.start = (i + 1) % FINISHED_SHOWN;
    } else i = (this.start + this.size++) % FINISHED_SHOWN;
    this.refs[i] = ref;
    this.snapshots[i] = snapshot;
    this.order[i] = order;
  }
  #count(snapshot: unknown): void {
    let status = 'stopped';
    let value = '';
    try {
      const s = snapshot as { status?: unknown; value?: unknown };
      if (typeof s.status === 'string') status = s.status;
      if (typeof s.value === 'string') value = s.value;
    } catch {
      // a snapshot that cannot be read is counted as a stopped actor
    }
    this.counts ??= new Map();
    let byValue = this.counts.get(status);
    if (!byValue) {
      byValue = new Map();
      this.counts.set(status, byValue);
    }
    byValue.set(value, (byValue.get(value) ?? 0) + 1);
  }
}

type Internal = AnyActorRef & { src?: unknown; systemId?: string };

/** Whether a snapshot says its actor has ended (a snapshot that cannot be read is left to the flush). */
function hasEnded(snapshot: unknown): boolean {
  try {
    const status = (snapshot as { status?: unknown } | undefined)?.status;
    return typeof status === 'string' && status !== 'active';
  } catch {
    return false;
  }
}

/** The event XState sends an actor it stops (its last `@xstate.snapshot` is caused by it). */
const XSTATE_STOP = 'xstate.stop';

/**
 * Whether an inspection event is the last snapshot of an actor being stopped. Logic that ignores XState's stop
 * event (`fromTransition`, hand-written logic) keeps `status: 'active'` in its snapshot for ever, although the
 * actor is stopped: this event is the only sign of it.
 */
export function isStopSnapshot(e: InspectionEvent): boolean {
  try {
    return e.type === '@xstate.snapshot' && (e.event as { type?: unknown } | undefined)?.type === XSTATE_STOP;
  } catch {
    return false;
  }
}

/** The snapshot of a `@xstate.snapshot` event; for a stopped actor's last one, with `status: 'stopped'`. */
function stopped(e: InspectionEvent & { snapshot: unknown }): unknown {
  const snapshot = e.snapshot;
  if (!isStopSnapshot(e) || hasEnded(snapshot)) return snapshot;
  try {
    return { ...(snapshot as object), status: 'stopped' };
  } catch {
    return { status: 'stopped' };
  }
}

export class Tracker {
  readonly #system: InspectedSystem;
  readonly #opts: TrackerOptions;
  readonly #live = new Map<AnyActorRef, ActorView>();
  /**
   * Actors announced since the last flush, in order (`#createdOrder`: their announcement numbers). One that ends
   * while it is the latest announced leaves the list for `#finished` (no lookup by actor on the engine's stack).
   */
  #created: AnyActorRef[] = [];
  #createdOrder: number[] = [];
  #createdSeq = 0;
  #lastLogic: unknown;
  #lastFinished: Finished | undefined;
  /** Events dropped by the rate cap since the clock was last read. */
  #rateSkip = 0;
  readonly #dirty = new Map<AnyActorRef, unknown>();
  /** Per logic: the actors that started and ended since the last flush (never entered `#live`). */
  #finished = new Map<unknown, Finished>();
  readonly #raw: Ring<RawEvent>;
  readonly #recentEvents: Ring<EventView>;
  readonly #recentEngine = new Ring<EngineView>(200);
  /** Engine events since the last flush (the oldest dropped, and counted, past `MAX_PENDING_ENGINE`). */
  readonly #pendingEngine = new Ring<{ t: number; event: EngineEvent }>(MAX_PENDING_ENGINE);
  #engineSub: Subscription;
  #inspectSub: Subscription | undefined;
  #seq = 0;
  #rateWindow = 0;
  #rateCount = 0;
  #rateDropped = 0;
  #viewsVersion = inspectorViewsVersion();
  /** Event types and actor ids as the page is sent them (`#name`). */
  readonly #names = new Map<string, string>();

  constructor(system: InspectedSystem, opts: TrackerOptions) {
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

  /**
   * Start observing inspection events (the engine attaches inspection lazily, on the first observer). Never
   * throws: an actor whose children cannot be read is shown without them (it runs in the WebSocket upgrade
   * handler, where a throw would be an uncaught exception), and the tree is walked without recursion.
   */
  start(): void {
    if (this.#inspectSub) return;
    this.#inspectSub = this.#system.inspect(this.#onInspect);
    const seen = new Set<AnyActorRef>();
    let stack: AnyActorRef[];
    try {
      stack = this.#system.actors().map((info) => info.ref);
    } catch (err) {
      this.#warn(err, 'inspector: the live actors could not be listed');
      return;
    }
    stack.reverse(); // depth first, in the system's order
    while (stack.length > 0) {
      const ref = stack.pop()!;
      if (!ref || this.#live.has(ref) || seen.has(ref)) continue;
      seen.add(ref);
      this.#announce(ref);
      try {
        const children = (ref.getSnapshot() as { children?: Record<string, AnyActorRef> } | undefined)
          ?.children;
        const list = Object.values(children ?? {});
        for (let i = list.length - 1; i >= 0; i--) if (list[i]) stack.push(list[i]);
      } catch {
        // an actor whose snapshot cannot tell its children is shown without them
      }
    }
  }

  /** Stop observing and forget the actor table (the engine detaches inspection after its last observer). */
  stop(): void {
    this.#inspectSub?.unsubscribe();
    this.#inspectSub = undefined;
    this.#live.clear();
    this.#created = [];
    this.#createdOrder = [];
    this.#dirty.clear();
    this.#finished = new Map();
    this.#lastLogic = undefined;
    this.#lastFinished = undefined;
    this.#raw.drain();
    this.#recentEvents.drain();
  }

  /** Detach from the engine for good. */
  dispose(): void {
    this.stop();
    this.#pendingEngine.drain();
    this.#pendingEngine.dropped = 0;
    this.#engineSub.unsubscribe();
  }

  // ------------------------------------------------------------------------------------------ engine call stack

  readonly #onInspect = (e: InspectionEvent): void => {
    switch (e.type) {
      case '@xstate.actor':
        this.#announce(e.actorRef as AnyActorRef);
        return;
      case '@xstate.snapshot': {
        const ref = e.actorRef as AnyActorRef;
        const snapshot = stopped(e);
        const last = this.#created.length - 1;
        if (last >= 0 && this.#created[last] === ref && !this.#live.has(ref)) {
          // announced since the last flush: the flush shows its snapshot then; if it has ended already, it is
          // kept per machine (the last few in full, the rest counted) and leaves the list
          if (hasEnded(snapshot) && this.#ended(ref, snapshot, this.#createdOrder[last])) {
            this.#created.pop();
            this.#createdOrder.pop();
          } else if (this.#dirty.size > 0) this.#dirty.delete(ref); // an older one must not be shown instead
          return;
        }
        this.#dirty.set(ref, snapshot);
        return;
      }
      case '@xstate.event': {
        // past the cap the clock is read once per 256 dropped events (the window ends that much later at most)
        if (this.#rateCount >= this.#opts.maxEventsPerSecond && (++this.#rateSkip & 255) !== 0) {
          this.#rateDropped++;
          return;
        }
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

  /** An actor that started and ended since the last flush: kept per machine (the last few, the rest counted). */
  #ended(ref: AnyActorRef, snapshot: unknown, order: number): boolean {
    let logic: unknown;
    try {
      logic = logicOf(ref);
    } catch {
      return false; // shown as any other actor, at flush time
    }
    if (this.#dirty.size > 0) this.#dirty.delete(ref);
    let finished = logic === this.#lastLogic ? this.#lastFinished : this.#finished.get(logic);
    if (!finished) {
      // Logic built per call (an inline fromPromise or machine) is a new object for every actor: kept per logic,
      // each was its machine's only one and sent in full, so the flush grew with the rate again. Past a few
      // distinct logics in one interval, actors are kept per machine name instead (the name the page shows).
      const key = this.#finished.size < MAX_FINISHED_LOGICS ? logic : this.#nameKey(ref, logic);
      finished = this.#finished.get(key);
      if (!finished) {
        finished = new Finished();
        this.#finished.set(key, finished);
      }
    }
    this.#lastLogic = logic;
    this.#lastFinished = finished;
    finished.push(ref, snapshot, order);
    return true;
  }

  /** The machine name an actor is shown under, as a key of `#finished` (its logic when the name cannot be read). */
  #nameKey(ref: AnyActorRef, logic: unknown): unknown {
    try {
      return `machine:${this.#machineOf(ref, logic)}`;
    } catch {
      return logic;
    }
  }

  #announce(ref: AnyActorRef): void {
    this.#created.push(ref);
    this.#createdOrder.push(++this.#createdSeq);
  }

  #onEngine(e: EngineEvent): void {
    // redacted at flush time, like everything else (an engine event may hold an error with any content)
    this.#pendingEngine.push({ t: Date.now(), event: e });
  }

  #engineView(t: number, e: EngineEvent): EngineView {
    const redacted = this.#opts.redact(e);
    const fields = redacted && typeof redacted === 'object' && !Array.isArray(redacted) ? redacted : {};
    return { ...fields, seq: ++this.#seq, t, type: typeof e.type === 'string' ? e.type : UNREADABLE };
  }

  /** Run one step of a flush; a failure (a hostile value) is logged and skips that item only. */
  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#warn(err, `inspector: ${what} skipped`);
    }
  }

  #warn(err: unknown, msg: string): void {
    try {
      this.#opts.logger?.warn({ err: err instanceof Error ? err : String(err) }, msg);
    } catch {
      // not even the error can be shown
    }
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
    // in announcement order: the actors announced since the last flush, and the last few of each machine among
    // those that have ended since (with their final snapshot); the older ones of those are only counted
    const created: Array<{ ref: AnyActorRef; order: number; ended: boolean; snapshot?: unknown }> = [];
    for (let i = 0; i < this.#created.length; i++)
      created.push({ ref: this.#created[i], order: this.#createdOrder[i], ended: false });
    this.#created = [];
    this.#createdOrder = [];
    const finished = this.#finished;
    const counted: Array<{ ref: AnyActorRef; counts: Map<string, Map<string, number>> }> = [];
    if (finished.size > 0) {
      this.#finished = new Map();
      this.#lastLogic = undefined;
      this.#lastFinished = undefined;
      for (const f of finished.values()) {
        for (let j = 0; j < f.size; j++) {
          const i = (f.start + j) % FINISHED_SHOWN;
          created.push({ ref: f.refs[i]!, order: f.order[i], ended: true, snapshot: f.snapshots[i] });
        }
        if (f.counts)
          counted.push({ ref: f.refs[(f.start + f.size - 1) % FINISHED_SHOWN]!, counts: f.counts });
      }
      created.sort((a, b) => a.order - b.order);
    }
    for (const c of created) {
      const ref = c.ref;
      if (this.#live.has(ref)) continue; // shown already (announced twice)
      this.#guard('an actor', () => {
        const view = this.#newView(ref, info(ref), now);
        this.#live.set(ref, view);
        changed.set(ref, view);
        // a running actor's latest snapshot, if it changed since, is shown once below
        if (c.ended) this.#update(view, c.snapshot, now);
        else if (!this.#dirty.has(ref)) this.#update(view, ref.getSnapshot(), now);
      });
    }
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    for (const [ref, snapshot] of dirty) {
      this.#guard('an actor snapshot', () => {
        let view = this.#live.get(ref);
        if (!view) {
          view = this.#newView(ref, info(ref), now);
          this.#live.set(ref, view);
        }
        changed.set(ref, view);
        this.#update(view, snapshot, now);
      });
    }
    const finishedCounts: FinishedCount[] = [];
    for (const { ref, counts } of counted) {
      this.#guard('a count of finished actors', () => {
        const machine = this.#machineOf(ref, logicOf(ref));
        for (const [status, byValue] of counts)
          for (const [value, count] of byValue) {
            const fc: FinishedCount = { machine, status, count };
            if (value) fc.value = value;
            finishedCounts.push(fc);
          }
      });
    }
    const events: EventView[] = [];
    for (const raw of this.#raw.drain()) this.#guard('an event', () => this.#event(raw, events, changed));
    const stopped: string[] = [];
    for (const [ref, view] of this.#live) {
      this.#guard('an actor status', () => {
        // an ended status is final (a stopped actor whose logic ignores the stop still says 'active' itself)
        const status =
          view.status !== 'active'
            ? view.status
            : ((ref.getSnapshot() as { status?: string } | undefined)?.status ?? 'stopped');
        if (status === 'active') return;
        this.#live.delete(ref);
        stopped.push(view.key);
        if (view.status !== status) {
          changed.set(ref, view);
          this.#update(view, ref.getSnapshot(), now);
        }
      });
    }
    const dropped = this.#raw.dropped + this.#rateDropped + this.#pendingEngine.dropped;
    this.#raw.dropped = 0;
    this.#pendingEngine.dropped = 0;
    this.#rateDropped = 0;
    const engine: EngineView[] = [];
    for (const { t, event } of this.#pendingEngine.drain()) {
      this.#guard('an engine event', () => {
        const view = this.#engineView(t, event);
        engine.push(view);
        this.#recentEngine.push(view);
      });
    }
    const batch: Batch = { actors: [...changed.values()], stopped, events, engine, dropped };
    if (finishedCounts.length > 0) batch.finished = finishedCounts;
    if (this.#viewsVersion !== inspectorViewsVersion()) {
      this.#viewsVersion = inspectorViewsVersion();
      batch.views = inspectorViews();
    }
    return batch;
  }

  #event(raw: RawEvent, events: EventView[], changed: Map<AnyActorRef, ActorView>): void {
    const view: EventView = {
      seq: ++this.#seq,
      t: raw.t,
      type: UNREADABLE,
      target: raw.target.sessionId,
      targetId: this.#name(raw.target.id),
    };
    if (raw.source) {
      view.source = raw.source.sessionId;
      view.sourceId = this.#name(raw.source.id);
    }
    events.push(view);
    this.#recentEvents.push(view);
    let type: unknown;
    let data: Record<string, unknown> = {};
    try {
      ({ type, ...data } = raw.event as { type: unknown });
    } catch {
      view.data = UNREADABLE;
      return;
    }
    view.type = typeof type === 'string' ? this.#name(type) : String(this.#opts.redact(type));
    if (type === 'xstate.init' && data.input !== undefined) {
      // an actor's input usually becomes its context: `redact` paths apply from the input's root too
      const { input, ...rest } = data;
      view.data = { ...(this.#opts.redact(rest) as object), input: this.#opts.redact(input) };
    } else if (Object.keys(data).length > 0) view.data = this.#opts.redact(data);
    // the view is given the event as it is (its own code, in the process), its type too
    this.#viewEvent(raw, typeof type === 'string' ? type : view.type, changed);
  }

  /**
   * A name as the page is sent it (an event type, an actor's id or system id): scrubbed and cut by the redactor as
   * any text is. Names were sent as they were: a secret in one reached the page, and a long event type went out
   * with each of the ~1000 events of a batch (at half a megabyte, the batch was longer than any string V8 can
   * build, so JSON.stringify threw and every page was closed at every flush).
   */
  #name(name: string): string {
    let shown = this.#names.get(name);
    if (shown === undefined) {
      const redacted = this.#opts.redact(name);
      shown = typeof redacted === 'string' ? redacted : UNREADABLE;
      // remembered: the same few event types and target ids come back with every event (a redactor call costs
      // microseconds, a flush shows up to `bufferSize` events); bounded like the redactor's own key cache
      if (name.length <= MAX_CACHED_NAME) {
        if (this.#names.size >= MAX_CACHED_NAMES) this.#names.clear();
        this.#names.set(name, shown);
      }
    }
    return shown;
  }

  /** The full picture for a page that connects now: every live actor, recent engine events and log lines. */
  snapshot(): { actors: ActorView[]; engine: EngineView[]; events: EventView[]; views: InspectorViewInfo[] } {
    this.#viewsVersion = inspectorViewsVersion();
    return {
      views: inspectorViews(),
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
    const logic = logicOf(ref);
    const chart = this.#opts.charts.keyFor(logic);
    const machine = this.#machineOf(ref, logic, chart);
    const view: ActorView = {
      key: ref.sessionId,
      id: this.#name(ref.id),
      machine,
      status: 'active',
      updatedAt: now,
    };
    const systemId = info?.systemId ?? r.systemId;
    if (systemId) view.systemId = this.#name(systemId);
    const parent = parentOf(ref);
    if (parent) view.parent = parent.sessionId;
    if (info?.supervisor) view.supervisor = this.#name(info.supervisor);
    if (chart) view.chart = chart;
    return view;
  }

  /**
   * The machine name the page shows for an actor (and its inspector view's key): its machine's id for a state
   * machine (with or without a chart: a full chart registry must not hide its card), else its `src`.
   */
  #machineOf(ref: AnyActorRef, logic: unknown, chart = this.#opts.charts.keyFor(logic)): string {
    const src = (ref as Internal).src;
    const name =
      logicId(logic) !== 'actor' && (chart !== undefined || isStateMachine(logic))
        ? logicId(logic)
        : typeof src === 'string'
          ? src
          : 'actor';
    // scrubbed and cut as an actor id is: it goes out with every view of the machine's actors
    return this.#name(name);
  }

  /** Let the actor's registered view fold an event it received into its summary. */
  #viewEvent(raw: RawEvent, type: string, changed: Map<AnyActorRef, ActorView>): void {
    const view = this.#live.get(raw.target);
    if (!view) return;
    const iv = inspectorViewFor(view.machine);
    if (!iv?.onEvent) return;
    const onEvent = iv.onEvent;
    this.#summarise(view, iv, () => {
      const context = (raw.target.getSnapshot() as { context?: unknown } | undefined)?.context;
      return onEvent(type, raw.event, {
        context,
        summary: view.summary as object | undefined,
        redact: this.#opts.redact,
      });
    }) && changed.set(raw.target, view);
  }

  /** Run a view's function; a new summary is redacted and kept. False when it had nothing new (or threw). */
  #summarise(view: ActorView, iv: InspectorView<object>, fn: () => object | undefined): boolean {
    let next: object | undefined;
    try {
      next = fn();
    } catch (err) {
      try {
        this.#opts.logger?.warn(
          { err: err instanceof Error ? err : String(err), machine: iv.machine },
          'inspector: a view failed; its summary is unchanged',
        );
      } catch {
        // not even the error can be shown
      }
      return false;
    }
    if (next === undefined) return false;
    view.summary = this.#opts.redact(next);
    return true;
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
    const panel = inspectorPanelFor(view.machine); // as checked at registration: plain JSON
    if (panel) view.panel = panel.id;
    const iv = inspectorViewFor(view.machine);
    if (iv?.summarise) {
      const summarise = iv.summarise;
      this.#summarise(view, iv, () =>
        summarise(s.context, view.summary as object | undefined, this.#opts.redact, {
          value: s.value,
          status: s.status,
        }),
      );
    }
  }
}
