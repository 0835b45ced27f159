/**
 * The compiled runner's lifecycle record (`Lifecycle`): the current state node, the context, the status and the
 * armed delays of one lifecycle of a compiled machine, and nothing per lifecycle beyond them (no closures; value,
 * tags and snapshots are built on demand). `step.ts` moves it by XState v5's step rules, following the plan
 * `compile.ts` built once per machine; delays are armed through a `LifecycleHost` on entry and cancelled on exit;
 * a top-level final state ends it with the machine's `output`. The differential test
 * (`test/engine/compiled/differential.property.test.ts`) holds it to XState's interpreter step by step.
 *
 * Timing as XState's actor: while running, custom actions and `log()` run inside the step; emitted events are
 * delivered when the step is over; at start every custom action and log runs after the initial step, then the
 * emitted events. An error (a throwing guard, action, delay, output or context) puts the lifecycle in status
 * 'error' with it (state and context as before the failing step), cancels its delays and is reported to
 * `onError`; it never throws out of `send`. Events sent from inside a step are queued, as in XState's mailbox.
 * Differences from XState's actor, on purpose: `self` is the lifecycle (`id`, `send`, `getSnapshot`);
 * `self.getSnapshot()` inside an action sees the step in progress; `spawn` in `assign` throws.
 */
import { type EventObject, matchesState, pathToStateValue, type StateValue } from 'xstate';
import type { DeadlineNode } from '../deadlines.js';
import { CompiledMachine, type CompiledNode } from './compile.js';
import {
  ACTIVE,
  DONE,
  ERROR,
  ended,
  initialStep,
  LIFECYCLE_ENDED,
  macrostep,
  NONE,
  STOPPED,
  type StepLifecycle,
} from './step.js';

/** What a lifecycle needs from its system: delays (one deadline structure per system) and logging. */
export interface LifecycleHost {
  /**
   * Arm a delayed event; returns a handle for `cancel`. `ms` may be Infinity (return null, arm nothing). When it
   * falls due, call `lifecycle.fire(event)`.
   */
  schedule(lifecycle: Lifecycle, ms: number, event: EventObject): unknown;
  /** Cancel an armed delay (null: nothing). */
  cancel(handle: unknown): void;
  /**
   * Optional, with `cancelOwn` and `ownDue`: arm a lifecycle's first delay on the lifecycle itself, a node of the
   * host's deadline structure (`DeadlineNode` of `deadlines.ts`), so a delay costs no handle object. Returns false
   * for Infinity (nothing armed). When it falls due the structure calls `lifecycle.deadlineDue()`, which hands its
   * event to `ownDue` (the host then sends it to the lifecycle).
   */
  armOwn?(lifecycle: Lifecycle, ms: number): boolean;
  cancelOwn?(lifecycle: Lifecycle): void;
  ownDue?(lifecycle: Lifecycle, event: EventObject): void;
  /** Where XState's `log()` goes: `(label, value)` or `(value)`, as XState's logger gets them. */
  log?(lifecycle: Lifecycle, args: unknown[]): void;
  /**
   * Called once when the lifecycle leaves 'active': done (before `onDone`), failed (before `onError`) or stopped
   * (by whoever called `stop()`), so a registry forgets it however it ends. What it throws is reported unhandled.
   */
  ended?(lifecycle: Lifecycle): void;
  /** Passed to actions as `system`. */
  readonly system?: unknown;
}

/**
 * Sees a lifecycle as XState's inspection sees an actor (called only while `lifecycle.observer` is set), in
 * XState's order: at start the eventless microsteps of the initial step, then `event` (xstate.init), then
 * `snapshot`; for an event, `event` (also for an event that is ignored or queued), each microstep, emitted
 * events, then `snapshot`. No `snapshot` after a step that failed (XState sends none either).
 */
export interface LifecycleObserver {
  event(lifecycle: Lifecycle, event: EventObject): void;
  /** XState's own TransitionDefinition objects taken (read with `microstepTransitions`-like code). */
  microstep(lifecycle: Lifecycle, event: EventObject, transitions: readonly unknown[]): void;
  snapshot(lifecycle: Lifecycle, event: EventObject): void;
  emitted?(lifecycle: Lifecycle, emitted: EventObject): void;
}

export type LifecycleStatus = 'active' | 'done' | 'error' | 'stopped';

/** A snapshot-like view of a lifecycle, built on demand. */
export interface LifecycleSnapshot {
  readonly status: LifecycleStatus;
  readonly value: StateValue;
  readonly context: any;
  readonly output: unknown;
  readonly error: unknown;
  readonly tags: ReadonlySet<string>;
  matches(value: StateValue): boolean;
  hasTag(tag: string): boolean;
}

export interface LifecycleOptions {
  /**
   * The id (`self.id`, the inspector's actor id). A number `n` stands for `<machine id>-<n>`, a string built the
   * first time the id is asked for (most lifecycles never are).
   */
  id: string | number;
  input?: unknown;
  host: LifecycleHost;
  observer?: LifecycleObserver | null;
  /**
   * Anything the caller wants to find from the lifecycle (its facade, say), so callbacks need no closure. An owner
   * with a `[LIFECYCLE_ENDED](lifecycle)` method (`LifecycleOwner`) is told when the lifecycle leaves 'active',
   * however it ends (done, failed, stopped), after the host's `ended` hook and before `onDone`/`onError`.
   */
  owner?: unknown;
  onDone?(lifecycle: Lifecycle): void;
  onEmit?(lifecycle: Lifecycle, emitted: EventObject): void;
  onError?(lifecycle: Lifecycle, error: unknown): void;
  /**
   * `onDone`, `onEmit` and `onError` in one object that many lifecycles share (it is kept as it is, so nothing is
   * kept per lifecycle for them); when given, the three options of the same names are ignored.
   */
  callbacks?: LifecycleCallbacks | null;
}

export { LIFECYCLE_ENDED };

/** An owner told when its lifecycle ends (see `LifecycleOptions.owner`). */
export interface LifecycleOwner {
  [LIFECYCLE_ENDED](lifecycle: Lifecycle): void;
}

/** The callbacks of a lifecycle (see `LifecycleOptions`); one object may serve many lifecycles. */
export type LifecycleCallbacks = Pick<LifecycleOptions, 'onDone' | 'onEmit' | 'onError'>;
type Callbacks = LifecycleCallbacks;

const STATUS: readonly LifecycleStatus[] = ['active', 'done', 'error', 'stopped'];
/** `bits`: the status (ACTIVE, DONE, ERROR, STOPPED) in the two low bits, then these flags. */
const STATE = 3;
const BUSY = 4;
const STOP_PENDING = 8;

/**
 * What many lifecycles share: their compiled machine, host and callbacks (one object per system, machine and set
 * of shared callbacks, so a lifecycle holds one field for the three).
 */
class Kind {
  constructor(
    readonly compiled: CompiledMachine,
    readonly host: LifecycleHost,
    readonly cb: Callbacks | null,
  ) {}
}

/** The kind of a lifecycle: the compiled machine's last one when it matches (one system, shared callbacks). */
function kindOf(compiled: CompiledMachine, host: LifecycleHost, options: LifecycleOptions): Kind {
  const shared = options.callbacks;
  if (shared === undefined) {
    const cb =
      options.onDone || options.onEmit || options.onError
        ? { onDone: options.onDone, onEmit: options.onEmit, onError: options.onError }
        : null;
    // callbacks of its own: a kind of its own (a plain lifecycle shares the last plain kind)
    if (cb !== null) return new Kind(compiled, host, cb);
  }
  const cb = shared ?? null;
  const last = compiled.lastKind as Kind | null;
  if (last !== null && last.host === host && last.cb === cb) return last;
  const kind = new Kind(compiled, host, cb);
  compiled.lastKind = kind;
  return kind;
}
const STOP_EVENT: EventObject = Object.freeze({ type: 'xstate.stop' });

/**
 * One running lifecycle of a compiled machine: the current state, the context, the status and the armed delays.
 * Create it with `startLifecycle`.
 */
export class Lifecycle implements StepLifecycle, DeadlineNode {
  owner: unknown;
  /** The current atomic or final state. */
  node: CompiledNode;
  private readonly kind: Kind;
  private _id: string | number;
  private ctx: any;
  /** The status and the BUSY and STOP_PENDING flags. */
  private bits = ACTIVE;
  /**
   * The first delay's event when it is armed on the lifecycle itself (a host with `armOwn`); every other armed
   * delay is an (event, host handle) pair in `x.more`.
   */
  private t0ev: EventObject | null = null;
  /** @internal The lifecycle as a node of its host's deadline structure (`DeadlineNode`): the structure's fields. */
  dlPrev: DeadlineNode | null = null;
  /** @internal */ dlNext: DeadlineNode | null = null;
  /** @internal */ dlList: unknown = null;
  /** @internal */ dlDueAt: number | null = null;
  /**
   * What few lifecycles use, made on first use (`extras()`): the observer (while inspected), the output (a
   * machine's with an output, once done), the error, the delays beyond the first, the events sent during a step. One
   * field instead of five keeps a lifecycle 32 bytes smaller (each field is 8 bytes on Node's V8, which has no
   * pointer compression).
   */
  private x: Extras | null = null;
  /**
   * @internal Slots of the registry that keeps the lifecycle (`CompiledLifecycles`): its entry there (undefined
   * while not registered) and its neighbours in the registry's list, so registering is no hash table entry.
   */
  _reg: unknown = undefined;
  /** @internal */ _prev: Lifecycle | null = null;
  /** @internal */ _next: Lifecycle | null = null;

  constructor(
    compiled: CompiledMachine,
    id: string | number,
    host: LifecycleHost,
    options: LifecycleOptions,
  ) {
    this.kind = kindOf(compiled, host, options);
    this._id = id;
    this.observer = options.observer ?? null;
    this.owner = options.owner;
    this.node = compiled.initialLeaf;
    this.ctx = undefined;
  }

  /** Who sees its steps as XState's inspection sees an actor's (its virtual actor while inspected), or null. */
  get observer(): LifecycleObserver | null {
    const x = this.x;
    return x === null ? null : x.observer;
  }
  set observer(observer: LifecycleObserver | null) {
    if (observer !== null) this.extras().observer = observer;
    else if (this.x !== null) this.x.observer = null;
  }

  get compiled(): CompiledMachine {
    return this.kind.compiled;
  }
  get host(): LifecycleHost {
    return this.kind.host;
  }

  /** The id: as given, or `<machine id>-<n>` for a number `n` (built once, on first use). */
  get id(): string {
    const id = this._id;
    if (typeof id === 'string') return id;
    const machineId = (this.compiled.machine as { id?: unknown }).id;
    const built = `${typeof machineId === 'string' && machineId !== '' ? machineId : 'machine'}-${id}`;
    this._id = built;
    return built;
  }

  get status(): LifecycleStatus {
    return STATUS[this._state];
  }
  get value(): StateValue {
    return stateValueOf(this.compiled, this.node);
  }
  get context(): any {
    return this.ctx;
  }
  get output(): unknown {
    return this.x === null ? undefined : this.x.out;
  }
  get error(): unknown {
    return this.x === null ? undefined : this.x.err;
  }

  hasTag(tag: string): boolean {
    return tagsOf(this.node).has(tag);
  }

  matches(value: StateValue): boolean {
    return matchesState(value, this.value);
  }

  /** A plain snapshot-like object of the current state. */
  snapshot(): LifecycleSnapshot {
    return new Snapshot(
      STATUS[this._state],
      this.value,
      this.ctx,
      this.output,
      this.error,
      tagsOf(this.node),
    );
  }

  /** Same as `snapshot()`, so `self.getSnapshot()` works in actions. */
  getSnapshot(): LifecycleSnapshot {
    return this.snapshot();
  }

  /** Processes an event (queued when sent from inside a step; ignored once done, stopped or failed). */
  send(event: EventObject): void {
    if (typeof event !== 'object' || event === null) {
      throw new Error(
        `Only event objects may be sent to actors; use .send({ type: "${String(event)}" }) instead`,
      );
    }
    if (this.observer) this.observer.event(this, event);
    const bits = this.bits;
    // not active (the status bits), or a stop pending
    if (bits & (STATE | STOP_PENDING)) return;
    if (bits & BUSY) {
      const x = this.extras();
      if (x.queue) x.queue.push(event);
      else x.queue = [event];
      return;
    }
    this.bits = bits | BUSY;
    try {
      macrostep(this, event);
    } finally {
      this.drain();
    }
  }

  /** Called by the host when the delay armed with `event` falls due; nothing if it is no longer armed. */
  fire(event: EventObject): void {
    const more = this.x === null ? null : this.x.more;
    const i = more ? more.indexOf(event) : -1;
    if (i < 0) return;
    more!.splice(i, 2);
    this.send(event);
  }

  /** @internal Called by the host's deadline structure: the first delay, armed on the lifecycle itself, is due. */
  deadlineDue(): void {
    const event = this.t0ev;
    if (event === null) return;
    this.t0ev = null;
    this.host.ownDue!(this, event);
  }

  /** Stops the lifecycle (status 'stopped', no exit actions, delays cancelled), as XState stops an actor. */
  stop(): void {
    if (this._state !== ACTIVE) return;
    if (this.bits & BUSY) {
      this.bits |= STOP_PENDING;
      this.dropQueue();
      return;
    }
    this.finishStop();
  }

  private finishStop(): void {
    this.setState(STOPPED);
    this.dropQueue();
    cancelAllTimers(this);
    ended(this);
    const o = this.observer;
    if (o) {
      o.microstep(this, STOP_EVENT, NONE);
      o.snapshot(this, STOP_EVENT);
    }
  }

  /** Processes the events queued during a step, then a pending stop. */
  drain(): void {
    for (;;) {
      const q = this.x === null ? null : this.x.queue;
      if (this._state !== ACTIVE || !q || q.length === 0) break;
      macrostep(this, q.shift()!);
    }
    this.dropQueue();
    this.bits &= ~BUSY;
    if (this.bits & STOP_PENDING) {
      this.bits &= ~STOP_PENDING;
      if (this._state === ACTIVE) this.finishStop();
    }
  }

  // --- internal, for the step functions below ---

  private extras(): Extras {
    if (this.x === null) this.x = new Extras();
    return this.x;
  }

  /** The events queued during a step are dropped (or were all processed). */
  private dropQueue(): void {
    if (this.x !== null) this.x.queue = null;
  }

  /** @internal */ _busy(): void {
    this.bits |= BUSY;
  }
  /** @internal */ _setContext(ctx: unknown): void {
    this.ctx = ctx;
  }
  /** @internal */ _fail(err: unknown): void {
    this.setState(ERROR);
    const x = this.extras();
    x.err = err;
    x.queue = null;
    cancelAllTimers(this);
  }
  /** @internal */ _done(output: unknown): void {
    this.setState(DONE);
    // (a machine without an output is done with undefined: nothing to keep)
    if (output !== undefined || this.x !== null) this.extras().out = output;
  }
  /** @internal */ _reset(node: CompiledNode, ctx: unknown): void {
    this.node = node;
    this.ctx = ctx;
    this.setState(ACTIVE);
    if (this.x !== null) this.x.out = undefined;
  }
  /** @internal */ get _state(): number {
    return this.bits & STATE;
  }
  /** The status (ACTIVE, DONE, ERROR, STOPPED), the flags kept. */
  private setState(state: number): void {
    this.bits = (this.bits & ~STATE) | state;
  }
  /** @internal */ get _cb(): Callbacks | null {
    return this.kind.cb;
  }
  /** @internal Arm a delayed event: on the lifecycle itself when the host can and no delay is there yet. */
  _armDelay(ms: number, event: EventObject): void {
    const host = this.host;
    if (this.t0ev === null && host.armOwn !== undefined) {
      if (host.armOwn(this, ms)) this.t0ev = event;
      return;
    }
    const handle = host.schedule(this, ms, event);
    if (handle === null || handle === undefined) return;
    const x = this.extras();
    if (x.more) x.more.push(event, handle);
    else x.more = [event, handle];
  }
  /** @internal */ _disarm(type: string): void {
    if (this.t0ev !== null && this.t0ev.type === type) {
      this.t0ev = null;
      this.host.cancelOwn!(this);
      return;
    }
    const more = this.x === null ? null : this.x.more;
    if (!more) return;
    for (let i = 0; i < more.length; i += 2) {
      if ((more[i] as EventObject).type === type) {
        const h = more[i + 1];
        more.splice(i, 2);
        this.host.cancel(h);
        return;
      }
    }
  }
  /** @internal */ _disarmAll(): void {
    if (this.t0ev !== null) {
      this.t0ev = null;
      this.host.cancelOwn!(this);
    }
    const more = this.x === null ? null : this.x.more;
    if (more) {
      this.x!.more = null;
      for (let i = 1; i < more.length; i += 2) this.host.cancel(more[i]);
    }
  }
  /** The delays armed now: their events (the one armed on the lifecycle itself first, then in arming order). */
  armedEvents(): EventObject[] {
    const out: EventObject[] = [];
    if (this.t0ev) out.push(this.t0ev);
    const more = this.x === null ? null : this.x.more;
    if (more) for (let i = 0; i < more.length; i += 2) out.push(more[i] as EventObject);
    return out;
  }
}

/** A lifecycle's rarely used parts (see `Lifecycle.x`). */
class Extras {
  observer: LifecycleObserver | null = null;
  out: unknown = undefined;
  err: unknown = undefined;
  more: unknown[] | null = null;
  queue: EventObject[] | null = null;
}

class Snapshot implements LifecycleSnapshot {
  constructor(
    readonly status: LifecycleStatus,
    readonly value: StateValue,
    readonly context: any,
    readonly output: unknown,
    readonly error: unknown,
    readonly tags: ReadonlySet<string>,
  ) {}
  matches(value: StateValue): boolean {
    return matchesState(value, this.value);
  }
  hasTag(tag: string): boolean {
    return this.tags.has(tag);
  }
}

function cancelAllTimers(lc: Lifecycle): void {
  lc._disarmAll();
}

function stateValueOf(cm: CompiledMachine, node: CompiledNode): StateValue {
  if (node.value === undefined) {
    node.value = node === cm.root ? {} : pathToStateValue(node.node.path as string[]);
  }
  return node.value as StateValue;
}

function tagsOf(node: CompiledNode): ReadonlySet<string> {
  if (node.tags === null) {
    const tags = new Set<string>();
    const chain: CompiledNode[] = [];
    for (let n: CompiledNode | null = node; n; n = n.parent) chain.unshift(n);
    for (const n of chain) for (const t of n.node.tags as string[]) tags.add(t);
    node.tags = tags;
  }
  return node.tags;
}

/**
 * Starts a lifecycle of `compiled`: the context from `input`, the initial states entered, eventless transitions
 * and raised events to quiescence, delays armed on `host`.
 */
export function startLifecycle(compiled: CompiledMachine, options: LifecycleOptions): Lifecycle {
  if (!(compiled instanceof CompiledMachine)) throw new TypeError('startLifecycle needs a compiled machine');
  const lc = new Lifecycle(compiled, options.id, options.host, options);
  lc._busy();
  try {
    initialStep(lc, options.input);
  } finally {
    lc.drain();
  }
  return lc;
}
