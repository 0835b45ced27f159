/**
 * The compiled runner: XState v5's step rules applied to a small record per lifecycle (`Lifecycle`), following
 * the plan `compile.ts` built once per machine. An event selects one transition (deepest active state first,
 * document order, guards with `{context, event}` and params); its exit set runs (innermost first), then its
 * actions, then its entry set (outermost first, entering the initial states of compound targets); then eventless
 * transitions and raised events run to quiescence, as XState's macrostep does. Delays are armed through a
 * `LifecycleHost` on entry and cancelled on exit; a top-level final state ends the lifecycle with the machine's
 * `output`. The differential test (`test/engine/compiled/differential.property.test.ts`) holds it to XState's
 * interpreter step by step.
 *
 * Timing as XState's actor: while running, custom actions and `log()` run inside the step; emitted events are
 * delivered when the step is over; at start every custom action and log runs after the initial step, then the
 * emitted events. An error (a throwing guard, action, delay, output or context) puts the lifecycle in status
 * 'error' with it, cancels its delays and is reported to `onError`; it never throws out of `send`. Differences
 * from XState's actor, on purpose: `self` is the lifecycle (`id`, `send`, `getSnapshot`); `self.getSnapshot()`
 * inside an action sees the step in progress; `spawn` in `assign` throws.
 */
import { type EventObject, matchesState, pathToStateValue, type StateValue } from 'xstate';
import {
  ActionKind,
  type CompiledAction,
  type CompiledGuard,
  CompiledMachine,
  type CompiledNode,
  type CompiledTransition,
  GuardKind,
  planOf,
} from './compile.js';

/** What a lifecycle needs from its system: delays (one deadline structure per system) and logging. */
export interface LifecycleHost {
  /**
   * Arm a delayed event; returns a handle for `cancel`. `ms` may be Infinity (return null, arm nothing). When it
   * falls due, call `lifecycle.fire(event)`.
   */
  schedule(lifecycle: Lifecycle, ms: number, event: EventObject): unknown;
  /** Cancel an armed delay (null: nothing). */
  cancel(handle: unknown): void;
  /** Where XState's `log()` goes: `(label, value)` or `(value)`, as XState's logger gets them. */
  log?(lifecycle: Lifecycle, args: unknown[]): void;
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
  id: string;
  input?: unknown;
  host: LifecycleHost;
  observer?: LifecycleObserver | null;
  /** Anything the caller wants to find from the lifecycle (its facade, say), so callbacks need no closure. */
  owner?: unknown;
  onDone?(lifecycle: Lifecycle): void;
  onEmit?(lifecycle: Lifecycle, emitted: EventObject): void;
  onError?(lifecycle: Lifecycle, error: unknown): void;
}

type Callbacks = Pick<LifecycleOptions, 'onDone' | 'onEmit' | 'onError'>;

const ACTIVE = 0;
const DONE = 1;
const ERROR = 2;
const STOPPED = 3;
const STATUS: readonly LifecycleStatus[] = ['active', 'done', 'error', 'stopped'];
const BUSY = 1;
const STOP_PENDING = 2;
const NONE: readonly unknown[] = Object.freeze([]);
const STOP_EVENT: EventObject = Object.freeze({ type: 'xstate.stop' });

function noSpawn(): never {
  throw new Error('spawn is not supported by the compiled runner');
}

/** XState's reportUnhandledError: a throwing listener fails in a macrotask of its own. */
function reportUnhandled(err: unknown): void {
  setTimeout(() => {
    throw err;
  });
}

/** Scratch state of one macrostep. */
class Step {
  queue: EventObject[] | null = null;
  emits: EventObject[] | null = null;
  /** At start: custom actions and logs, run after the initial step ([fn, info, params] or [null, args]). */
  deferred: unknown[][] | null = null;
  changed = false;
  constructor(readonly init: boolean) {}
  raise(event: EventObject): void {
    if (this.queue) this.queue.push(event);
    else this.queue = [event];
  }
  emit(event: EventObject): void {
    if (this.emits) this.emits.push(event);
    else this.emits = [event];
  }
  defer(call: unknown[]): void {
    if (this.deferred) this.deferred.push(call);
    else this.deferred = [call];
  }
}

/**
 * One running lifecycle of a compiled machine: the current state, the context, the status and the armed delays.
 * Create it with `startLifecycle`.
 */
export class Lifecycle {
  observer: LifecycleObserver | null;
  owner: unknown;
  /** The current atomic or final state. */
  node: CompiledNode;
  private ctx: any;
  private state = ACTIVE;
  private flags = 0;
  private out: unknown = undefined;
  private err: unknown = undefined;
  /** The first armed delay (its event and host handle), the others in pairs in `more`. */
  private t0ev: EventObject | null = null;
  private t0h: unknown = null;
  private more: unknown[] | null = null;
  private queue: EventObject[] | null = null;
  private cb: Callbacks | null;

  constructor(
    readonly compiled: CompiledMachine,
    readonly id: string,
    readonly host: LifecycleHost,
    options: LifecycleOptions,
  ) {
    this.observer = options.observer ?? null;
    this.owner = options.owner;
    this.cb = options.onDone || options.onEmit || options.onError ? options : null;
    this.node = compiled.initialLeaf;
    this.ctx = undefined;
  }

  get status(): LifecycleStatus {
    return STATUS[this.state];
  }
  get value(): StateValue {
    return stateValueOf(this.compiled, this.node);
  }
  get context(): any {
    return this.ctx;
  }
  get output(): unknown {
    return this.out;
  }
  get error(): unknown {
    return this.err;
  }

  hasTag(tag: string): boolean {
    return tagsOf(this.node).has(tag);
  }

  matches(value: StateValue): boolean {
    return matchesState(value, this.value);
  }

  /** A plain snapshot-like object of the current state. */
  snapshot(): LifecycleSnapshot {
    return new Snapshot(STATUS[this.state], this.value, this.ctx, this.out, this.err, tagsOf(this.node));
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
    if (this.state !== ACTIVE || this.flags & STOP_PENDING) return;
    if (this.flags & BUSY) {
      if (this.queue) this.queue.push(event);
      else this.queue = [event];
      return;
    }
    this.flags |= BUSY;
    try {
      macrostep(this, event);
    } finally {
      this.drain();
    }
  }

  /** Called by the host when the delay armed with `event` falls due; nothing if it is no longer armed. */
  fire(event: EventObject): void {
    if (this.t0ev === event) {
      this.t0ev = null;
      this.t0h = null;
    } else {
      const more = this.more;
      const i = more ? more.indexOf(event) : -1;
      if (i < 0) return;
      more!.splice(i, 2);
    }
    this.send(event);
  }

  /** Stops the lifecycle (status 'stopped', no exit actions, delays cancelled), as XState stops an actor. */
  stop(): void {
    if (this.state !== ACTIVE) return;
    if (this.flags & BUSY) {
      this.flags |= STOP_PENDING;
      this.queue = null;
      return;
    }
    this.finishStop();
  }

  private finishStop(): void {
    this.state = STOPPED;
    this.queue = null;
    cancelAllTimers(this);
    const o = this.observer;
    if (o) {
      o.microstep(this, STOP_EVENT, NONE);
      o.snapshot(this, STOP_EVENT);
    }
  }

  /** Processes the events queued during a step, then a pending stop. */
  drain(): void {
    for (;;) {
      const q = this.queue;
      if (this.state !== ACTIVE || !q || q.length === 0) break;
      macrostep(this, q.shift()!);
    }
    this.queue = null;
    this.flags &= ~BUSY;
    if (this.flags & STOP_PENDING) {
      this.flags &= ~STOP_PENDING;
      if (this.state === ACTIVE) this.finishStop();
    }
  }

  // --- internal, for the step functions below ---

  /** @internal */ _busy(): void {
    this.flags |= BUSY;
  }
  /** @internal */ _setContext(ctx: unknown): void {
    this.ctx = ctx;
  }
  /** @internal */ _fail(err: unknown): void {
    this.state = ERROR;
    this.err = err;
    this.queue = null;
    cancelAllTimers(this);
  }
  /** @internal */ _done(output: unknown): void {
    this.state = DONE;
    this.out = output;
  }
  /** @internal */ _reset(node: CompiledNode, ctx: unknown): void {
    this.node = node;
    this.ctx = ctx;
    this.state = ACTIVE;
    this.out = undefined;
  }
  /** @internal */ get _state(): number {
    return this.state;
  }
  /** @internal */ get _cb(): Callbacks | null {
    return this.cb;
  }
  /** @internal */ _arm(event: EventObject, handle: unknown): void {
    if (this.t0ev === null) {
      this.t0ev = event;
      this.t0h = handle;
    } else if (this.more) this.more.push(event, handle);
    else this.more = [event, handle];
  }
  /** @internal */ _disarm(type: string): void {
    if (this.t0ev !== null && this.t0ev.type === type) {
      const h = this.t0h;
      this.t0ev = null;
      this.t0h = null;
      this.host.cancel(h);
      return;
    }
    const more = this.more;
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
      const h = this.t0h;
      this.t0ev = null;
      this.t0h = null;
      this.host.cancel(h);
    }
    const more = this.more;
    if (more) {
      this.more = null;
      for (let i = 1; i < more.length; i += 2) this.host.cancel(more[i]);
    }
  }
  /** The delays armed now: their events, in arming order. */
  armedEvents(): EventObject[] {
    const out: EventObject[] = [];
    if (this.t0ev) out.push(this.t0ev);
    if (this.more) for (let i = 0; i < this.more.length; i += 2) out.push(this.more[i] as EventObject);
    return out;
  }
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
  const initEvent: EventObject = { type: 'xstate.init', input: options.input } as EventObject;
  const cfg = compiled.context;
  let preCtx: unknown = typeof cfg !== 'function' && cfg ? cfg : {};
  lc._setContext(preCtx);
  const step = new Step(true);
  lc._busy();
  let failed = false;
  try {
    if (typeof cfg === 'function') {
      preCtx = Object.assign({}, preCtx, cfg({ spawn: noSpawn, input: options.input, self: lc }));
      lc._setContext(preCtx);
    }
    const entry = compiled.initialEntry;
    for (let i = 0; i < entry.length; i++) {
      const n = entry[i];
      runActions(lc, step, n.entry, initEvent);
      if (n.initialActions.length) runActions(lc, step, n.initialActions, initEvent);
      if (n.isFinal) enterFinal(lc, step, n, initEvent);
    }
    lc.node = compiled.initialLeaf;
    if (lc._state === DONE) exitAll(lc, step, initEvent);
    settle(lc, step, initEvent);
  } catch (err) {
    lc._reset(compiled.initialLeaf, preCtx);
    lc._fail(err);
    failed = true;
  }
  if (lc.observer) lc.observer.event(lc, initEvent);
  if (failed) {
    report(lc, lc.error);
    lc.drain();
    return lc;
  }
  complete(lc, step, initEvent);
  lc.drain();
  return lc;
}

function report(lc: Lifecycle, err: unknown): void {
  const onError = lc._cb?.onError;
  if (onError) {
    try {
      onError(lc, err);
    } catch (e) {
      reportUnhandled(e);
    }
  }
}

/** One macrostep for an external event (the lifecycle is active and marked busy). */
function macrostep(lc: Lifecycle, event: EventObject): void {
  const prevNode = lc.node;
  const prevCtx = lc.context;
  const step = new Step(false);
  try {
    if (event.type === '*') throw new Error(`An event cannot have the wildcard type ('*')`);
    const t = select(lc, event);
    if (!t && typeof event.type === 'string' && event.type.startsWith('xstate.error.actor')) {
      if (lc.observer) lc.observer.microstep(lc, event, NONE);
      lc._fail((event as { error?: unknown }).error);
      report(lc, lc.error);
      if (lc.observer) lc.observer.snapshot(lc, event);
      return;
    }
    microstep(lc, step, t, event);
    if (lc.observer) lc.observer.microstep(lc, event, t ? t.defs : NONE);
    settle(lc, step, event);
  } catch (err) {
    lc._reset(prevNode, prevCtx);
    lc._fail(err);
    report(lc, err);
    return;
  }
  complete(lc, step, event);
}

/** Eventless transitions and raised events, to quiescence (XState's macrostep loop). */
function settle(lc: Lifecycle, step: Step, event: EventObject): void {
  let ev = event;
  let eventless = true;
  let iterations = 0;
  const max = lc.compiled.maxIterations;
  while (lc._state === ACTIVE) {
    if (++iterations > max) {
      throw new Error(
        `Infinite loop detected: the machine has processed more than ${max} microsteps without reaching a stable state. This usually happens when there's a cycle of transitions (e.g., eventless transitions or raised events causing state A -> B -> C -> A).`,
      );
    }
    let t: CompiledTransition | null = eventless ? selectEventless(lc, ev) : null;
    const fromEventless: boolean = t !== null;
    if (!fromEventless) {
      const q = step.queue;
      if (!q || q.length === 0) break;
      ev = q.shift()!;
      t = select(lc, ev);
    }
    step.changed = false;
    microstep(lc, step, t, ev);
    eventless = fromEventless ? step.changed : true;
    if (lc.observer) lc.observer.microstep(lc, ev, t ? t.defs : NONE);
  }
}

/** After a successful macrostep: deferred actions (at start), emitted events, done, observers. */
function complete(lc: Lifecycle, step: Step, event: EventObject): void {
  if (lc._state === DONE) cancelAllTimers(lc);
  const deferred = step.deferred;
  if (deferred) {
    try {
      for (const d of deferred) {
        if (d[0] === null) lc.host.log?.(lc, d[1] as unknown[]);
        else (d[0] as (a: unknown, p: unknown) => void)(d[1], d[2]);
      }
    } catch (err) {
      lc._fail(err);
      if (lc.observer) lc.observer.snapshot(lc, event);
      report(lc, err);
      return;
    }
  }
  const emits = step.emits;
  if (emits) {
    const onEmit = lc._cb?.onEmit;
    for (const e of emits) {
      if (lc.observer?.emitted) lc.observer.emitted(lc, e);
      if (onEmit) {
        try {
          onEmit(lc, e);
        } catch (err) {
          reportUnhandled(err);
        }
      }
    }
  }
  if (lc._state === DONE) {
    const onDone = lc._cb?.onDone;
    if (onDone) {
      try {
        onDone(lc);
      } catch (err) {
        reportUnhandled(err);
      }
    }
  }
  if (lc.observer) lc.observer.snapshot(lc, event);
}

function matchesDescriptor(type: string, descriptor: string): boolean {
  if (descriptor === '*') return true;
  const partial = descriptor.split('.');
  const tokens = type.split('.');
  for (let i = 0; i < partial.length; i++) {
    if (partial[i] === '*') return i === partial.length - 1;
    if (partial[i] !== tokens[i]) return false;
  }
  return true;
}

function guardPasses(lc: Lifecycle, t: CompiledTransition, event: EventObject, node: CompiledNode): boolean {
  if (t.guard === null) return true;
  try {
    return !!evalGuard(t.guard, lc.context, event);
  } catch (err) {
    const name = t.guardName;
    throw new Error(
      `Unable to evaluate guard ${name ? `'${name}' ` : ''}in transition for event '${event.type}' in state node '${node.id}':\n${(err as { message: string }).message}`,
    );
  }
}

/** The transition an event selects: deepest active state first, then its ancestors; document order. */
function select(lc: Lifecycle, event: EventObject): CompiledTransition | null {
  const type = event.type;
  for (let n: CompiledNode | null = lc.node; n; n = n.parent) {
    const exact = n.on.get(type);
    if (exact) for (const t of exact) if (guardPasses(lc, t, event, n)) return t;
    const wild = n.wildcards;
    for (let i = 0; i < wild.length; i++) {
      if (wild[i][0] === type || !matchesDescriptor(type, wild[i][0])) continue;
      for (const t of wild[i][1]) if (guardPasses(lc, t, event, n)) return t;
    }
  }
  return null;
}

function selectEventless(lc: Lifecycle, event: EventObject): CompiledTransition | null {
  for (let n: CompiledNode | null = lc.node; n; n = n.parent) {
    const always = n.always;
    if (!always) continue;
    for (const t of always) if (t.guard === null || evalGuard(t.guard, lc.context, event)) return t;
  }
  return null;
}

function evalGuard(g: CompiledGuard, context: unknown, event: EventObject): unknown {
  const params =
    g.hasParams && typeof g.params === 'function'
      ? (g.params as (a: unknown) => unknown)({ context, event })
      : g.params;
  switch (g.kind) {
    case GuardKind.fn:
      return g.impl({ context, event }, params);
    case GuardKind.not:
      return !evalGuard(g.operands![0], context, event);
    case GuardKind.and:
      return g.operands!.every((o) => evalGuard(o, context, event));
    case GuardKind.or:
      return g.operands!.some((o) => evalGuard(o, context, event));
    default:
      throw new Error(`Guard '${g.impl}' is not implemented.'.`);
  }
}

/** One microstep: exit set, transition actions, entry set (XState's microstep for one transition). */
function microstep(lc: Lifecycle, step: Step, t: CompiledTransition | null, event: EventObject): void {
  if (t === null) return;
  const prevNode = lc.node;
  if (t.target === null) {
    runActions(lc, step, t.actions, event);
    return;
  }
  const plan = planOf(t, lc.compiled.root);
  const domain = plan.domain;
  for (let n: CompiledNode | null = lc.node; n !== domain && n; n = n.parent)
    runActions(lc, step, n.exit, event);
  if (plan.exitDomain) runActions(lc, step, domain!.exit, event);
  runActions(lc, step, t.actions, event);
  const entry = plan.entry;
  for (let i = 0; i < entry.length; i++) {
    const n = entry[i];
    runActions(lc, step, n.entry, event);
    if (plan.defaultEntry[i] && n.initialActions.length) runActions(lc, step, n.initialActions, event);
    if (n.isFinal) enterFinal(lc, step, n, event);
  }
  lc.node = plan.leaf;
  if (lc._state === DONE) exitAll(lc, step, event);
  if (lc.node !== prevNode) step.changed = true;
}

function exitAll(lc: Lifecycle, step: Step, event: EventObject): void {
  for (let n: CompiledNode | null = lc.node; n; n = n.parent) runActions(lc, step, n.exit, event);
}

function resolveOutput(mapper: unknown, context: unknown, event: unknown, self: Lifecycle): unknown {
  return typeof mapper === 'function' ? mapper({ context, event, self }) : mapper;
}

/** A final state was entered: its parent's done event; the lifecycle is done when the parent is the root. */
function enterFinal(lc: Lifecycle, step: Step, n: CompiledNode, event: EventObject): void {
  const parent = n.parent!;
  const own = n.node.output;
  const output = own !== undefined ? resolveOutput(own, lc.context, event, lc) : undefined;
  step.raise({ type: parent.doneType, output } as EventObject);
  if (parent.parent) return;
  const machineOutput = lc.compiled.output;
  if (machineOutput === undefined) {
    lc._done(undefined);
    return;
  }
  const doneOutput = own !== undefined ? resolveOutput(own, lc.context, event, lc) : undefined;
  const doneEvent = { type: n.doneType, output: doneOutput };
  lc._done(resolveOutput(machineOutput, lc.context, doneEvent, lc));
}

function paramsOf(a: CompiledAction, context: unknown, event: EventObject): unknown {
  if (!a.hasParams) return undefined;
  return typeof a.params === 'function'
    ? (a.params as (x: unknown) => unknown)({ context, event })
    : a.params;
}

function runActions(lc: Lifecycle, step: Step, actions: readonly CompiledAction[], event: EventObject): void {
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i];
    switch (a.kind) {
      case ActionKind.after: {
        const delay = a.extra;
        let ms: unknown = delay;
        if (typeof delay === 'string') {
          const cfg = lc.compiled.delays[delay];
          ms =
            typeof cfg === 'function'
              ? cfg({ context: lc.context, event, self: lc, system: lc.host.system }, undefined)
              : cfg;
        }
        if (typeof ms !== 'number') step.raise(a.impl);
        else {
          const handle = lc.host.schedule(lc, ms, a.impl);
          if (handle !== null && handle !== undefined) lc._arm(a.impl, handle);
        }
        break;
      }
      case ActionKind.afterCancel:
        lc._disarm(a.extra);
        break;
      case ActionKind.assign: {
        const context = lc.context;
        const params = paramsOf(a, context, event);
        const args = { context, event, spawn: noSpawn, self: lc, system: lc.host.system };
        const assignment = a.impl;
        let partial: Record<string, unknown>;
        if (typeof assignment === 'function') partial = assignment(args, params);
        else {
          partial = {};
          for (const key of Object.keys(assignment)) {
            const p = assignment[key];
            partial[key] = typeof p === 'function' ? p(args, params) : p;
          }
        }
        lc._setContext(Object.assign({}, context, partial));
        step.changed = true;
        break;
      }
      case ActionKind.custom: {
        const context = lc.context;
        const info = { context, event, self: lc, system: lc.host.system };
        const params = paramsOf(a, context, event);
        if (step.init) step.defer([a.impl, info, params]);
        else a.impl(info, params);
        break;
      }
      case ActionKind.raise: {
        const context = lc.context;
        const params = paramsOf(a, context, event);
        const spec = a.impl;
        if (typeof spec === 'string') {
          throw new Error(
            `Only event objects may be used with raise; use raise({ type: "${spec}" }) instead`,
          );
        }
        const raised =
          typeof spec === 'function'
            ? spec({ context, event, self: lc, system: lc.host.system }, params)
            : spec;
        step.raise(raised);
        break;
      }
      case ActionKind.emit: {
        const context = lc.context;
        const params = paramsOf(a, context, event);
        const spec = a.impl;
        const emitted =
          typeof spec === 'function'
            ? spec({ context, event, self: lc, system: lc.host.system }, params)
            : spec;
        step.emit(emitted);
        break;
      }
      case ActionKind.log: {
        const context = lc.context;
        const params = paramsOf(a, context, event);
        const spec = a.impl;
        const value =
          typeof spec === 'function'
            ? spec({ context, event, self: lc, system: lc.host.system }, params)
            : spec;
        const args = a.extra ? [a.extra, value] : [value];
        if (step.init) step.defer([null, args]);
        else lc.host.log?.(lc, args);
        break;
      }
      default:
        break;
    }
  }
}
