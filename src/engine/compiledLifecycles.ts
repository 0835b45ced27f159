/**
 * The compiled lifecycles of one actor system (issue 10 item 5): what `system.spawnCompiled` starts, keeps and
 * stops, and how they are seen as actors.
 *
 * A lifecycle is the compiled runner's small record (`src/engine/compiled/`); this registry keeps the live ones
 * in a doubly-linked list through the lifecycles' own registry slots (its entry: null, its `onSystemStop` hook, or
 * a registration with its `systemId`; a Map by systemId only for those), so `system.stop()` ends them (each
 * `onSystemStop` first, while it still runs, then `stop()`), `system.get(systemId)` finds them and
 * `system.actors()` lists them. Nothing else is kept per lifecycle: no closure, no actor, no subscription, no hash
 * table entry; lifecycles spawned with the same `onDone`/`onEmit` functions share one callbacks object. A lifecycle
 * leaves the registry however it ends (the runner's `ended` host hook): done, failed, or stopped (directly,
 * through `system.stopCompiled`, or its virtual actor's `stop()`). Its virtual actor (`virtualActor.ts`) is created when
 * something asks (`get`, `actors()`, an inspection observer); while it observes, the lifecycle's `observer` is
 * where it is found, otherwise a WeakMap beside the lifecycle keeps it (one entry per lifecycle while observed
 * would cost the GC more than the rest of the lifecycle).
 *
 * Inspection: the registry is one source of the system's inspection bus. When the bus becomes active (its first
 * observer), every live lifecycle gets its virtual actor as `observer` and an `@xstate.actor` event, so a late
 * inspector sees lifecycles that started before it; lifecycles spawned while it is active are announced as the
 * runner reports their initial step (before its first microstep or its init event), once their virtual actor has
 * its lifecycle. When the last observer leaves, each lifecycle's observer goes back to null (unless its virtual
 * actor has subscribers of its own).
 *
 * Timers: `host` arms the runner's delayed events on the system's `Deadlines` when it is given one (no closure
 * and no clock timer per lifecycle; a lifecycle's first delay on the lifecycle itself, a node of the structure, so
 * arming it allocates nothing), else as timers of the system's clock; either way a TestClock drives them. A
 * delayed event is delivered with `firing` set, so its `@xstate.event` comes from the actor itself, as XState's
 * scheduler reports it.
 */
import type { AnyStateMachine, EventObject, InspectionEvent, Observer, Subscription } from 'xstate';
import { InvalidArgumentError, type SystemStoppedError, toError } from '../errors.js';
import type { Clock } from './clock.js';
import {
  type CompiledMachine,
  compileMachine,
  type Lifecycle,
  type LifecycleCallbacks,
  type LifecycleHost,
  startLifecycle,
} from './compiled/index.js';
import type { EngineEvent } from './inspectionBus.js';
import { LazyActorLogger, type Logger, logSafely } from './logging.js';
import { VirtualActor, type VirtualActorHost, type VirtualActorSystem } from './virtualActor.js';

/** The options of `system.spawnCompiled(machine, options)`. */
export interface SpawnCompiledOptions {
  /**
   * The actor id the inspector shows (default `<machine id>-<n>`). A number `n` stands for `<machine id>-<n>`,
   * built only when the id is first asked for.
   */
  id?: string | number;
  /** Register it under this systemId: `system.get(systemId)` finds its virtual actor. */
  systemId?: string;
  /** The machine's input (its `context` function gets it, as with `createActor`). */
  input?: unknown;
  /**
   * Called by `system.stop()` while the lifecycle still runs, before it is stopped (as for `spawnDetached`):
   * the facade ends its lifecycle with this error. Errors thrown are logged. It gets the lifecycle too, so one
   * function can serve every lifecycle of a facade (with `owner`), without a closure each.
   */
  onSystemStop?: (error: SystemStoppedError, lifecycle: Lifecycle) => void;
  /** Called when the lifecycle reaches a final state (the runner's `onDone`). */
  onDone?: (lifecycle: Lifecycle) => void;
  /** Called with each event the machine emits (the runner's `onEmit`). */
  onEmit?: (lifecycle: Lifecycle, emitted: EventObject) => void;
  /** Kept as `lifecycle.owner` (its facade, say), so shared callbacks need no closure per lifecycle. */
  owner?: unknown;
}

const NO_OPTIONS: SpawnCompiledOptions = Object.freeze({});

/**
 * Check `spawnCompiled`'s arguments before anything is created (InvalidArgumentError naming the bad one): a state
 * machine, an options object, non-empty string ids, functions for the callbacks. Returns the options.
 */
export function checkSpawnCompiled(
  machine: unknown,
  options: SpawnCompiledOptions | undefined,
): SpawnCompiledOptions {
  const m = machine as { root?: unknown; transition?: unknown } | null;
  if (m === null || typeof m !== 'object' || typeof m.transition !== 'function' || m.root === undefined) {
    throw new InvalidArgumentError(
      'spawnCompiled needs a state machine (createMachine or setup().createMachine)',
    );
  }
  if (options === undefined) return NO_OPTIONS;
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('spawnCompiled options must be an object');
  }
  const { id, systemId, onSystemStop, onDone, onEmit } = options;
  if (
    id !== undefined &&
    !(typeof id === 'string' ? id !== '' : typeof id === 'number' && Number.isSafeInteger(id) && id >= 0)
  ) {
    throw new InvalidArgumentError(`id must be a non-empty string or a counter, got ${String(id)}`);
  }
  if (systemId !== undefined && (typeof systemId !== 'string' || systemId === '')) {
    throw new InvalidArgumentError(`systemId must be a non-empty string, got ${String(systemId)}`);
  }
  if (onSystemStop !== undefined && typeof onSystemStop !== 'function') {
    throw new InvalidArgumentError('onSystemStop must be a function');
  }
  if (onDone !== undefined && typeof onDone !== 'function')
    throw new InvalidArgumentError('onDone must be a function');
  if (onEmit !== undefined && typeof onEmit !== 'function')
    throw new InvalidArgumentError('onEmit must be a function');
  return options;
}

/** A live compiled lifecycle as `system.actors()` lists it. */
export interface CompiledActorInfo {
  id: string;
  systemId?: string;
  machine: string;
  ref: VirtualActor;
}

/** What the registry needs from its system (structural, so the engine has no import circle). */
export interface CompiledLifecyclesDeps {
  clock: Clock;
  logger: Logger;
  bus: {
    readonly active: boolean;
    dispatch(event: InspectionEvent): void;
    addSource(source: { system: { inspect(o: Observer<InspectionEvent>): Subscription } }): void;
    emitEngineEvent(event: EngineEvent): void;
  };
  /** The `system` object of every virtual actor and of the machine's actions (`get(systemId)`). */
  system: VirtualActorSystem;
  /** Where a lifecycle's `log()` goes: its `{actor, machine}` logger, as an XState actor's. */
  log?: (actor: string, machine: string, args: unknown[]) => void;
  /**
   * The system's deadline structure (`Deadlines` of `deadlines.ts`, on the same clock): delays are armed there
   * with no closure and no clock timer per lifecycle. Without it, each delay is a timer of `clock`.
   */
  deadlines?: DeadlineStructure;
}

/** What the registry uses of `Deadlines` (structural). */
export interface DeadlineStructure {
  arm<A>(ms: number, fire: (arg: A) => void, arg?: A): unknown;
  cancel(handle: never): void;
  /** A lifecycle's first delay is armed on the lifecycle itself (a `DeadlineNode`: no handle object). */
  armNode(node: Lifecycle, ms: number): boolean;
  cancelNode(node: Lifecycle): unknown;
}

type StopHook = (error: SystemStoppedError, lifecycle: Lifecycle) => void;

/** What the registry keeps of a lifecycle registered under a systemId. */
class Registration {
  constructor(
    readonly systemId: string,
    public onSystemStop: StopHook | undefined,
  ) {}
}

/** A live lifecycle's entry: nothing, its onSystemStop hook alone, or its registration (with a systemId). */
type Entry = Registration | StopHook | null;

const systemIdOf = (entry: Entry | undefined): string | undefined =>
  entry instanceof Registration ? entry.systemId : undefined;

const hookOf = (entry: Entry | undefined): StopHook | undefined =>
  entry instanceof Registration ? entry.onSystemStop : (entry ?? undefined);

let spawned = 0;

export class CompiledLifecycles implements VirtualActorHost {
  /** The runner's host: delayed events on the system's clock. */
  readonly host: LifecycleHost;
  readonly system: VirtualActorSystem;
  readonly #deps: CompiledLifecyclesDeps;
  /**
   * The live lifecycles, in spawn order: a doubly-linked list through the lifecycles' registry slots (`_reg` is
   * the entry, `_prev`/`_next` the neighbours), so registering and releasing cost no hash table work (a Map that
   * goes from one entry to none reallocates its table on every delete).
   */
  #head: Lifecycle | null = null;
  #tail: Lifecycle | null = null;
  #size = 0;
  readonly #bySystemId = new Map<string, Lifecycle>();
  readonly #actors = new WeakMap<Lifecycle, VirtualActor>();
  readonly #fires = new WeakMap<EventObject, (lifecycle: Lifecycle) => void>();
  /** The runner's callbacks object for each (onDone, onEmit) pair, shared by every lifecycle spawned with it. */
  readonly #byDone = new WeakMap<object, LifecycleCallbacks>();
  readonly #byEmit = new WeakMap<object, WeakMap<object, LifecycleCallbacks>>();
  #plainCallbacks: LifecycleCallbacks | undefined;
  #inspecting = false;
  #firing: Lifecycle | null = null;

  constructor(deps: CompiledLifecyclesDeps) {
    this.#deps = deps;
    this.system = deps.system;
    const { clock, deadlines } = deps;
    this.host = {
      schedule: deadlines
        ? (lifecycle, ms, event) => deadlines.arm(ms, this.#fireOf(event), lifecycle)
        : (lifecycle, ms, event) => {
            if (ms === Number.POSITIVE_INFINITY) return null;
            return clock.setTimeout(() => this.#deliverDelayed(lifecycle, event), ms);
          },
      cancel: deadlines
        ? (handle) => deadlines.cancel(handle as never)
        : (handle) => {
            if (handle !== null && handle !== undefined) clock.clearTimeout(handle);
          },
      // a lifecycle's first delay: the lifecycle itself is the deadline structure's node
      armOwn: deadlines ? (lifecycle, ms) => deadlines.armNode(lifecycle, ms) : undefined,
      cancelOwn: deadlines ? (lifecycle) => deadlines.cancelNode(lifecycle) : undefined,
      ownDue: (lifecycle, event) => this.#deliverDelayed(lifecycle, event, true),
      log: (lifecycle, args) => deps.log?.(lifecycle.id, machineName(lifecycle.compiled.machine), args),
      // however a lifecycle ends (done, failed, stopped directly or through here), it leaves the registry
      ended: (lifecycle) => this.#release(lifecycle),
      system: deps.system,
    };
    // told when the bus gets its first observer and when its last one leaves
    deps.bus.addSource({
      system: {
        inspect: () => {
          this.#startInspecting();
          return { unsubscribe: () => this.#stopInspecting() };
        },
      },
    });
  }

  // ------------------------------------------------------------------------------------------ VirtualActorHost

  get inspecting(): boolean {
    return this.#inspecting;
  }

  get firing(): Lifecycle | null {
    return this.#firing;
  }

  readonly dispatch = (event: InspectionEvent): void => {
    this.#deps.bus.dispatch(event);
  };

  // ------------------------------------------------------------------------------------------ registry

  /** Number of live compiled lifecycles. */
  get size(): number {
    return this.#size;
  }

  /** Whether `systemId` names a live compiled lifecycle. */
  has(systemId: string): boolean {
    return this.#bySystemId.has(systemId);
  }

  /** The virtual actor of the live lifecycle registered as `systemId`. */
  get(systemId: string): VirtualActor | undefined {
    const lc = this.#bySystemId.get(systemId);
    return lc ? this.actorOf(lc) : undefined;
  }

  /** The virtual actor of a lifecycle (created on first use, then kept beside it). */
  actorOf(lifecycle: Lifecycle): VirtualActor {
    const observer = lifecycle.observer;
    if (observer instanceof VirtualActor) return observer;
    let actor = this.#actors.get(lifecycle);
    if (!actor) {
      actor = new VirtualActor(
        this,
        lifecycle.compiled.machine as AnyStateMachine,
        lifecycle,
        systemIdOf(this.#entryOf(lifecycle)),
      );
      this.#actors.set(lifecycle, actor);
    }
    return actor;
  }

  /** Every live compiled lifecycle, as `system.actors()` lists actors. */
  infos(): CompiledActorInfo[] {
    const out: CompiledActorInfo[] = [];
    for (let lc = this.#head; lc; lc = lc._next) {
      const entry = lc._reg as Entry;
      const info: CompiledActorInfo = {
        id: lc.id,
        machine: machineName(lc.compiled.machine),
        ref: this.actorOf(lc),
      };
      const systemId = systemIdOf(entry);
      if (systemId !== undefined) info.systemId = systemId;
      out.push(info);
    }
    return out;
  }

  /**
   * Start a lifecycle of `machine` (compiled once per machine by the runner). The caller checks that the system
   * runs and that `systemId` is free in the whole system. Throws InvalidArgumentError when the runner refuses the
   * machine (it uses what the runner does not support: spawn it with `spawnDetached` instead).
   */
  spawn(machine: AnyStateMachine, options: SpawnCompiledOptions = NO_OPTIONS): Lifecycle {
    const compiled = compileMachine(machine);
    if ('refused' in compiled) {
      throw new InvalidArgumentError(
        `machine '${machineName(machine)}' cannot be compiled (${compiled.refused}); spawn it with spawnDetached`,
      );
    }
    return this.#start(compiled, options);
  }

  /**
   * End every live lifecycle for `system.stop()`: each `onSystemStop` hook first (once, while its lifecycle still
   * runs; a hook that throws is logged), then every lifecycle still active is stopped (its timers cancelled).
   */
  runStopHooks(error: SystemStoppedError): void {
    for (const lc of this.#list()) {
      const entry = lc._reg as Entry | undefined;
      const hook = hookOf(entry);
      if (!hook) continue;
      // each hook runs once
      if (entry instanceof Registration) entry.onSystemStop = undefined;
      else lc._reg = null;
      try {
        hook(error, lc);
      } catch (err) {
        logSafely(
          this.#deps.logger,
          'error',
          { err: toError(err), actor: lc.id },
          'ending a lifecycle on system stop failed',
        );
      }
    }
  }

  /** Stop every live lifecycle (after `runStopHooks`); the registry is empty afterwards. */
  stopAll(): void {
    for (const lc of this.#list()) this.stop(lc);
    for (let lc = this.#head; lc; ) {
      const next: Lifecycle | null = lc._next;
      lc._reg = undefined;
      lc._prev = lc._next = null;
      lc = next;
    }
    this.#head = this.#tail = null;
    this.#size = 0;
    this.#bySystemId.clear();
  }

  /**
   * Stop one lifecycle (its timers are cancelled; its virtual actor, when observing, reports it as XState reports
   * a stopped actor) and forget it.
   */
  stop(lifecycle: Lifecycle): void {
    lifecycle.stop();
    this.#release(lifecycle);
  }

  // ------------------------------------------------------------------------------------------ internals

  #start(compiled: CompiledMachine, options: SpawnCompiledOptions): Lifecycle {
    const { systemId, onSystemStop, onDone, onEmit } = options;
    const id = options.id ?? ++spawned;
    const entry: Entry =
      systemId !== undefined ? new Registration(systemId, onSystemStop) : (onSystemStop ?? null);
    // while inspected, the virtual actor observes from the start; the lifecycle does not exist yet: the actor adopts
    // it on the runner's first call and only then announces itself (`@xstate.actor`), before its first microstep or
    // init event. Announced earlier, an inspection observer got an actor with no lifecycle behind it: its snapshot
    // was undefined and send, subscribe and on threw a TypeError.
    const observing = this.#inspecting
      ? new VirtualActor(this, compiled.machine as AnyStateMachine, null, systemId)
      : null;
    // while it observes, the lifecycle's observer is where its virtual actor is found (see `park`)
    const lc = startLifecycle(compiled, {
      id,
      input: options.input,
      host: this.host,
      owner: options.owner,
      observer: observing,
      callbacks: this.#callbacksFor(onDone, onEmit),
    });
    if (lc.status !== 'active') return lc; // ended while starting: never registered
    this.#link(lc, entry);
    if (systemId !== undefined) this.#bySystemId.set(systemId, lc);
    return lc;
  }

  /** Keep the virtual actor of a live lifecycle it no longer observes, so it is the same actor next time. */
  park(lifecycle: Lifecycle, actor: VirtualActor): void {
    if (this.#entryOf(lifecycle) !== undefined) this.#actors.set(lifecycle, actor);
  }

  /**
   * The deadline callback that delivers `event` to the lifecycle it is armed with. The runner's delayed events are
   * the machine's own objects (one per `after` of a state), so one function per event serves every lifecycle.
   */
  #fireOf(event: EventObject): (lifecycle: Lifecycle) => void {
    let fire = this.#fires.get(event);
    if (!fire) {
      fire = (lifecycle: Lifecycle) => this.#deliverDelayed(lifecycle, event);
      this.#fires.set(event, fire);
    }
    return fire;
  }

  /** A delay of `lifecycle` fell due: `own`, its first, armed on the lifecycle itself (already disarmed there). */
  #deliverDelayed(lifecycle: Lifecycle, event: EventObject, own = false): void {
    const previous = this.#firing;
    this.#firing = lifecycle;
    try {
      if (own) lifecycle.send(event);
      else lifecycle.fire(event);
    } finally {
      this.#firing = previous;
    }
  }

  /**
   * The runner's callbacks for `onDone` and `onEmit` (the host's `ended` releases the lifecycle before either
   * runs): one object per distinct pair, so lifecycles spawned with shared functions keep nothing of their own.
   */
  #callbacksFor(
    onDone: SpawnCompiledOptions['onDone'],
    onEmit: SpawnCompiledOptions['onEmit'],
  ): LifecycleCallbacks {
    if (!onEmit) {
      if (!onDone) {
        this.#plainCallbacks ??= { onError: this.#onError };
        return this.#plainCallbacks;
      }
      let made = this.#byDone.get(onDone);
      if (!made) {
        made = { onDone, onError: this.#onError };
        this.#byDone.set(onDone, made);
      }
      return made;
    }
    let byDone = this.#byEmit.get(onEmit);
    if (!byDone) {
      byDone = new WeakMap();
      this.#byEmit.set(onEmit, byDone);
    }
    const key: object = onDone ?? NO_OPTIONS;
    let made = byDone.get(key);
    if (!made) {
      made = { onDone, onEmit, onError: this.#onError };
      byDone.set(key, made);
    }
    return made;
  }

  readonly #onError = (lifecycle: Lifecycle, error: unknown): void => {
    const err = error ?? lifecycle.error;
    const observer = lifecycle.observer;
    (observer instanceof VirtualActor ? observer : this.#actors.get(lifecycle))?.failed(err);
    const machine = machineName(lifecycle.compiled.machine);
    logSafely(
      new LazyActorLogger(this.#deps.logger, lifecycle.id, machine).logger,
      'error',
      { err: toError(err) },
      'actor crashed',
    );
    this.#deps.bus.emitEngineEvent({ type: 'actor.failed', actor: lifecycle.id, error: err });
  };

  /** The registry entry of a live lifecycle of this registry; undefined for any other. */
  #entryOf(lifecycle: Lifecycle): Entry | undefined {
    return lifecycle.host === this.host ? (lifecycle._reg as Entry | undefined) : undefined;
  }

  /** Register a lifecycle at the end of the list. */
  #link(lifecycle: Lifecycle, entry: Entry): void {
    lifecycle._reg = entry;
    lifecycle._next = null;
    lifecycle._prev = this.#tail;
    if (this.#tail) this.#tail._next = lifecycle;
    else this.#head = lifecycle;
    this.#tail = lifecycle;
    this.#size++;
  }

  /** The live lifecycles now, in spawn order (a copy: walking it may release them). */
  #list(): Lifecycle[] {
    const out: Lifecycle[] = [];
    for (let lc = this.#head; lc; lc = lc._next) out.push(lc);
    return out;
  }

  #release(lifecycle: Lifecycle): void {
    const entry = this.#entryOf(lifecycle);
    if (entry === undefined) return;
    const { _prev: prev, _next: next } = lifecycle;
    if (prev) prev._next = next;
    else this.#head = next;
    if (next) next._prev = prev;
    else this.#tail = prev;
    lifecycle._reg = undefined;
    lifecycle._prev = lifecycle._next = null;
    this.#size--;
    const systemId = systemIdOf(entry);
    if (systemId !== undefined && this.#bySystemId.get(systemId) === lifecycle) {
      this.#bySystemId.delete(systemId);
    }
  }

  #startInspecting(): void {
    if (this.#inspecting) return;
    this.#inspecting = true;
    for (const lc of this.#list()) {
      const actor = this.actorOf(lc);
      actor.announced = false;
      actor.sync();
      actor.announce();
    }
  }

  #stopInspecting(): void {
    if (!this.#inspecting) return;
    this.#inspecting = false;
    for (let lc = this.#head; lc; lc = lc._next) {
      const observer = lc.observer;
      const actor = observer instanceof VirtualActor ? observer : this.#actors.get(lc);
      if (actor) {
        actor.announced = false;
        actor.sync();
      } else if (observer) lc.observer = null;
    }
  }
}

function machineName(machine: unknown): string {
  const id = (machine as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id !== '' ? id : 'machine';
}
