/**
 * A virtual actor: what a compiled lifecycle (`src/engine/compiled/`) looks like to everyone who looks at it as
 * an actor (issue 10 item 5): the inspector's tree and chart highlight, `@statelyai/inspect`, `system.get`,
 * `system.actors()`, transition coverage, and code that holds an `ActorRef` (`send`, `getSnapshot`, `subscribe`,
 * `on`, `stop`).
 *
 * It costs nothing while nobody looks. The lifecycle is the small record; its virtual actor is created the first
 * time something asks for it (`system.get`, `system.actors()`, an inspection observer) and is kept beside the
 * lifecycle (see `compiledLifecycles.ts`). It is the lifecycle's `observer` only while it has something to do:
 * the system's inspection bus is active, or it has subscribers or emitted-event listeners. With `observer` null,
 * the runner builds no event, snapshot or inspection object at all.
 *
 * Inspection events are XState's, in XState's order and shape, with XState's snapshot (a copy of the one the
 * machine's public `resolveState` builds once per state node, with the lifecycle's status, context, output, error):
 * `@xstate.actor` (when observation starts, or, for one started while observed, as the runner reports its initial
 * step: it has its lifecycle by then, so an observer can read, send to and subscribe to it at once),
 * `@xstate.event` (the init event `{type: 'xstate.init', input}` first; a delayed `after` event comes from the
 * actor itself, `sourceRef` = the actor, as XState's scheduler relays it), `@xstate.microstep` (the runner's
 * TransitionDefinitions as `_transitions`, so transition coverage counts them) and `@xstate.snapshot` (after an
 * event; none when the lifecycle errors, like XState's actor; `status: 'stopped'` with event `xstate.stop` when it
 * is stopped while active). `@xstate.action` is not produced (the runner reports no actions).
 * Subscribers are told as XState tells them: `next` for active and done snapshots (before the inspection
 * snapshot event), then `complete` when done or stopped, `error` when it errored.
 */
import type {
  AnyActorLogic,
  AnyActorRef,
  AnyStateMachine,
  EventObject,
  InspectionEvent,
  Observer,
  Subscription,
} from 'xstate';
import { InvalidArgumentError } from '../errors.js';
import type { Lifecycle, LifecycleObserver } from './compiled/index.js';
import { checkListener, checkObserver } from './handle.js';

/** The `system` a virtual actor exposes (XState actors expose their actor system there): lookups by systemId. */
export interface VirtualActorSystem {
  get(systemId: string): AnyActorRef | undefined;
}

/** What a virtual actor needs from the system that keeps its lifecycle (`CompiledLifecycles`). */
export interface VirtualActorHost {
  /** Whether someone observes the system's inspection events: they are built only then. */
  readonly inspecting: boolean;
  /** Deliver an inspection event to the system's observers. */
  dispatch(event: InspectionEvent): void;
  /** The lifecycle whose delayed (`after`) event is being delivered now, if any. */
  readonly firing: Lifecycle | null;
  readonly system: VirtualActorSystem;
  /** Keep `actor` for `lifecycle` when it stops being its observer (it is found there while it observes). */
  park(lifecycle: Lifecycle, actor: VirtualActor): void;
  /** Stop the lifecycle and forget it (the runner reports the stop to this actor while it observes). */
  stop(lifecycle: Lifecycle): void;
}

let sessions = 0;

/**
 * XState's snapshot of each state node a lifecycle can be in (by the runner's node), built once by the machine's
 * `resolveState`: a lifecycle's snapshot is a copy with its own status, context, output and error. XState's
 * snapshot methods (`matches`, `hasTag`, `can`, `getMeta`, `toJSON`) are shared functions that read `this`.
 */
const templates = new WeakMap<object, Record<string, unknown>>();

function templateOf(machine: AnyStateMachine, lc: Lifecycle): Record<string, unknown> {
  const node = lc.node as object;
  let template = templates.get(node);
  if (!template) {
    template = machine.resolveState({ value: lc.value, context: {} as never }) as unknown as Record<
      string,
      unknown
    >;
    templates.set(node, template);
  }
  return template;
}

export class VirtualActor implements LifecycleObserver {
  /** Unique in the process, like XState's `x:N` session ids (`v:N`). */
  readonly sessionId = `v:${++sessions}`;
  readonly systemId: string | undefined;
  /** The machine it runs (XState's `Actor#logic`; read through `logicOf` like any actor's). */
  readonly logic: AnyStateMachine;
  readonly #host: VirtualActorHost;
  #lifecycle: Lifecycle;
  #observers: Set<Observer<any>> | undefined;
  #listeners: Map<string, Set<(emitted: EventObject) => void>> | undefined;
  /** The last snapshot built, reused while the lifecycle's node, status and context are the same. */
  #built: { status: string; context: unknown } | undefined;
  #builtNode: object | undefined;
  /** Whether `@xstate.actor` went out for it while the current observation lasts. */
  announced = false;

  /**
   * `lifecycle` is null for an actor made before its lifecycle exists (spawned while inspected): it adopts the
   * lifecycle on the runner's first call, and only then announces itself (see `microstep` and `event`).
   */
  constructor(
    host: VirtualActorHost,
    machine: AnyStateMachine,
    lifecycle: Lifecycle | null,
    systemId: string | undefined,
  ) {
    this.#host = host;
    this.logic = machine;
    this.#lifecycle = lifecycle as Lifecycle;
    this.systemId = systemId;
  }

  /** The lifecycle this actor shows. */
  get lifecycle(): Lifecycle {
    return this.#lifecycle;
  }

  get id(): string {
    return this.#lifecycle?.id ?? this.sessionId;
  }

  /** As XState's `Actor#src`: the logic. */
  get src(): AnyActorLogic {
    return this.logic;
  }

  /** A root: no parent (the inspector's tree shows it at the top, as a detached actor). */
  get _parent(): AnyActorRef | undefined {
    return undefined;
  }

  get system(): VirtualActorSystem {
    return this.#host.system;
  }

  send(event: EventObject): void {
    this.#lifecycle.send(event);
  }

  /** A compiled lifecycle starts when it is spawned; nothing to do (as `start()` of a started XState actor). */
  start(): void {}

  /** Stop the lifecycle (its timers are cancelled); observers complete, as for a stopped XState actor. */
  stop(): void {
    if (this.#lifecycle) this.#host.stop(this.#lifecycle);
  }

  /** The XState snapshot of the lifecycle now (built lazily, reused while the lifecycle has not changed). */
  getSnapshot(): any {
    const lc = this.#lifecycle;
    if (!lc) return undefined; // not reachable before its lifecycle exists: it is announced after that
    const built = this.#built;
    const status = lc.status;
    const context = lc.context;
    if (built && built.status === status && built.context === context && this.#builtNode === lc.node) {
      return built;
    }
    const snapshot = {
      ...templateOf(this.logic, lc),
      status,
      output: lc.output,
      error: lc.error,
      context,
      children: {},
    };
    this.#built = snapshot;
    this.#builtNode = lc.node;
    return snapshot;
  }

  getPersistedSnapshot(): any {
    return this.logic.getPersistedSnapshot(this.getSnapshot());
  }

  toJSON(): { xstate$$type: number; id: string } {
    return { xstate$$type: 1, id: this.id };
  }

  /**
   * As XState's `Actor#subscribe`: an observer, or up to three callbacks. What is not one is refused at the call
   * (InvalidArgumentError): a callback that is no function would throw inside `snapshot()`'s loop of observers,
   * rethrown on a microtask, where it ends the process.
   */
  subscribe(
    nextOrObserver?: Observer<any> | ((snapshot: any) => void),
    error?: (err: unknown) => void,
    complete?: () => void,
  ): Subscription {
    const observer: Observer<any> =
      error === undefined && complete === undefined
        ? checkObserver('actor.subscribe', nextOrObserver)
        : checkObserver('actor.subscribe', { next: nextOrObserver, error, complete });
    const status = this.#lifecycle.status;
    if (status !== 'active') {
      // as XState's stopped actor: complete when done, error when it errored, nothing when stopped
      if (status === 'done') observer.complete?.();
      else if (status === 'error') observer.error?.(this.#lifecycle.error);
      return { unsubscribe: () => {} };
    }
    this.#observers ??= new Set();
    this.#observers.add(observer);
    this.#lifecycle.observer = this;
    return {
      unsubscribe: () => {
        if (this.#observers?.delete(observer)) this.sync();
      },
    };
  }

  /**
   * Listen to the machine's emitted events of one type (`'*'`: every type), as XState's `Actor#on`. A type that is
   * no string or a handler that is no function is refused at the call (InvalidArgumentError), as in `subscribe`.
   */
  on(type: string, handler: (emitted: any) => void): Subscription {
    if (typeof type !== 'string') throw new InvalidArgumentError('actor.on needs an event type (a string)');
    checkListener('actor.on', handler);
    const wrapped = (emitted: EventObject) => handler(emitted);
    if (this.#lifecycle.status === 'active') {
      this.#listeners ??= new Map();
      let set = this.#listeners.get(type);
      if (!set) {
        set = new Set();
        this.#listeners.set(type, set);
      }
      set.add(wrapped);
      this.#lifecycle.observer = this;
    }
    return {
      unsubscribe: () => {
        const set = this.#listeners?.get(type);
        if (!set?.delete(wrapped)) return;
        if (set.size === 0) this.#listeners!.delete(type);
        this.sync();
      },
    };
  }

  /** As XState's `Actor#select`: the selected value, told when it changes. Bad arguments throw at the call. */
  select<T>(selector: (snapshot: any) => T, equal: (a: T, b: T) => boolean = Object.is) {
    checkListener('actor.select', selector);
    checkListener('actor.select (its equality)', equal);
    return {
      subscribe: (observerOrFn: Observer<T> | ((value: T) => void)) => {
        const observer = checkObserver<T>('actor.select().subscribe', observerOrFn);
        let previous = selector(this.getSnapshot());
        return this.subscribe((snapshot) => {
          const next = selector(snapshot);
          if (!equal(previous, next)) {
            previous = next;
            observer.next?.(next);
          }
        });
      },
      get: () => selector(this.getSnapshot()),
    };
  }

  [Symbol.observable](): this {
    return this;
  }

  /** Whether it has subscribers or emitted-event listeners (then it stays the lifecycle's observer). */
  get watched(): boolean {
    return (this.#observers?.size ?? 0) > 0 || (this.#listeners?.size ?? 0) > 0;
  }

  /** Be the lifecycle's observer exactly while there is something to tell (inspection, subscribers, listeners). */
  sync(): void {
    const lc = this.#lifecycle;
    const wanted = lc.status === 'active' && (this.#host.inspecting || this.watched);
    if (wanted) lc.observer = this;
    else if (lc.observer === this) {
      lc.observer = null;
      this.#host.park(lc, this);
    }
  }

  // --------------------------------------------------------------------------- LifecycleObserver (the runner)

  event(lc: Lifecycle, event: EventObject): void {
    this.#lifecycle ??= lc;
    if (!this.#host.inspecting) return;
    this.#announce();
    this.#host.dispatch({
      type: '@xstate.event',
      sourceRef: this.#host.firing === lc ? this : undefined,
      actorRef: this,
      event,
      rootId: this.sessionId,
    } as InspectionEvent);
  }

  microstep(lc: Lifecycle, event: EventObject, transitions: readonly unknown[]): void {
    this.#lifecycle ??= lc;
    if (!this.#host.inspecting) return;
    // an eventless transition of the initial step comes before the init event: the actor is announced here then
    this.#announce();
    this.#host.dispatch({
      type: '@xstate.microstep',
      actorRef: this,
      event,
      snapshot: this.getSnapshot(),
      _transitions: transitions,
      rootId: this.sessionId,
    } as unknown as InspectionEvent);
  }

  snapshot(lc: Lifecycle, event: EventObject): void {
    this.#lifecycle ??= lc;
    const status = lc.status;
    if (status === 'error') {
      this.#fail(lc.error);
      return;
    }
    const snapshot = this.#observers?.size || this.#host.inspecting ? this.getSnapshot() : undefined;
    if (this.#observers && (status === 'active' || status === 'done')) {
      for (const observer of [...this.#observers]) guarded(() => observer.next?.(snapshot));
    }
    if (this.#host.inspecting) {
      this.#host.dispatch({
        type: '@xstate.snapshot',
        actorRef: this,
        event,
        snapshot,
        rootId: this.sessionId,
      } as InspectionEvent);
    }
    if (status !== 'active') this.#complete();
  }

  emitted(lc: Lifecycle, emitted: EventObject): void {
    this.#lifecycle ??= lc;
    const listeners = this.#listeners;
    if (!listeners) return;
    const handlers = [...(listeners.get(emitted.type) ?? []), ...(listeners.get('*') ?? [])];
    for (const handler of handlers) guarded(() => handler(emitted));
  }

  /** The lifecycle failed outside a step the runner reports (its subscribers get the error, as XState's). */
  failed(error: unknown): void {
    this.#fail(error);
  }

  /** Tell the inspection observers it exists (once per observation: see `CompiledLifecycles`). */
  announce(): void {
    this.#announce();
  }

  #announce(): void {
    if (this.announced || !this.#host.inspecting) return;
    this.announced = true;
    this.#host.dispatch({ type: '@xstate.actor', actorRef: this, rootId: this.sessionId } as InspectionEvent);
  }

  #complete(): void {
    const observers = this.#observers;
    this.#observers = undefined;
    this.#listeners = undefined;
    if (this.#lifecycle.observer === this) this.#lifecycle.observer = null;
    if (observers) for (const observer of observers) guarded(() => observer.complete?.());
  }

  #fail(error: unknown): void {
    const observers = this.#observers;
    this.#observers = undefined;
    this.#listeners = undefined;
    if (this.#lifecycle.observer === this) this.#lifecycle.observer = null;
    if (observers) for (const observer of observers) guarded(() => observer.error?.(error));
  }
}

/** Run an observer's callback; what it throws must not break the lifecycle (XState reports it the same way). */
function guarded(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
