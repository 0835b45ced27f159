/**
 * The Orrery actor system: one clock, one logger, one inspection bus, one registry, and a tree of OTP
 * supervisors (XState machines) under a root supervisor.
 *
 * Two kinds of actors live here:
 * - supervised actors, children of a supervisor machine, restarted per its strategy (device connections,
 *   background tasks, long-lived clients). Keep fan-out per supervisor to a few hundred: XState copies a
 *   parent's children record on every spawn and stop.
 * - detached lifecycle actors (a Status, one LRC call): root XState actors of their own, registered here so they
 *   are inspected, logged and stopped with the system. A crash is logged and reported, never thrown at the
 *   process. They are not children of one machine (that would make spawning quadratic), and not in one XState
 *   system either: XState's `cancelAll` scans every delayed event of a system when any of its actors stops.
 */
import {
  type Actor,
  type ActorRefFromLogic,
  type AnyActorLogic,
  type AnyActorRef,
  type AnyStateMachine,
  createActor,
  type InputFrom,
  type InspectionEvent,
  type Observer,
  type Subscription,
} from 'xstate';
import {
  type BackoffPolicy,
  type ChildSpec,
  checkChildSpec,
  checkSupervisorInput,
  childrenOf,
  RESTART_TYPES,
  type RestartStrategy,
  type RestartType,
  type SupervisorActor,
  type SupervisorEmitted,
  setOutsideSystemIds,
  supervisorMachine,
  supervisorNameOf,
} from '../../machines/core/supervisor.js';
import { type ActorLogFactory, actorLogger, logicId, logicOf } from '../../machines/core/xstateAdapter.js';
import {
  ActorRegistryError,
  describeValue,
  InvalidArgumentError,
  SystemStoppedError,
  textOf,
  toError,
} from '../errors.js';
import { type Clock, checkClock, realClock } from './clock.js';
import { Lifecycle } from './compiled/index.js';
import { CompiledLifecycles, checkSpawnCompiled, type SpawnCompiledOptions } from './compiledLifecycles.js';
import { Deadlines } from './deadlines.js';
import { globalInspectors } from './globalInspection.js';
import { ActorHandle, type HandleChange } from './handle.js';
import { type EngineEvent, InspectionBus } from './inspectionBus.js';
import { checkLogger, LazyActorLogger, type Logger, logSafely, silentLogger } from './logging.js';
import { SUP_PREFIX, Supervisor, type SupervisorHost } from './supervisor.js';
import { reportSupervisorEvents } from './supervisorEvents.js';

export interface SystemOptions {
  /** A pino logger (or compatible); silent by default. */
  logger?: Logger;
  /** Clock for every delay in the system; a `TestClock` from `orrery/testing` in tests. */
  clock?: Clock;
  /** Options of the root supervisor. */
  root?: SupervisorOptions;
}

export interface SupervisorOptions {
  strategy?: RestartStrategy;
  intensity?: number;
  periodMs?: number;
  backoff?: BackoffPolicy | null;
}

/** The options of `system.spawn` other than `input`. */
export interface SpawnBaseOptions {
  id?: string;
  systemId?: string;
  /** Supervise the actor under this supervisor (handle or name); detached when absent. */
  supervisor?: Supervisor | string;
  restart?: RestartType;
}

/** `input` typed as `createActor` types it: required when the logic's input cannot be undefined. */
export type InputOption<TLogic extends AnyActorLogic> =
  undefined extends InputFrom<TLogic> ? { input?: InputFrom<TLogic> } : { input: InputFrom<TLogic> };

/** The options of `system.spawn(logic, options)`. */
export type SpawnOptions<TLogic extends AnyActorLogic = AnyActorLogic> = SpawnBaseOptions &
  InputOption<TLogic>;

/** `spawn`'s options argument: optional unless the logic needs an input. */
export type SpawnArgs<TLogic extends AnyActorLogic> =
  undefined extends InputFrom<TLogic> ? [options?: SpawnOptions<TLogic>] : [options: SpawnOptions<TLogic>];

/** Registry entry of a live actor. */
export interface ActorInfo {
  id: string;
  systemId?: string;
  machine: string;
  supervisor?: string;
  ref: AnyActorRef;
}

const machineId = logicId;

/**
 * A log value as text: strings as they are, anything else as JSON when it can be, else as `textOf` gives it. Never
 * throws: it runs inside the actor's log action, and a `String()` that threw there (a circular object with no
 * prototype) crashed the actor over a log line.
 */
function logText(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    if (value instanceof Error) return value.stack ?? value.message;
    return JSON.stringify(value) ?? textOf(value);
  } catch {
    return textOf(value);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/** An options argument: absent gives `{}`, anything but an object throws. */
function checkOptions<T>(what: string, options: T | undefined): T {
  if (options === undefined) return {} as T;
  if (!isObject(options)) throw new InvalidArgumentError(`${what} options must be an object`);
  return options;
}

/**
 * Check a supervisor's options (strategy, intensity, periodMs, backoff) before anything is created; throws
 * InvalidArgumentError naming the bad one. Returns the machine's input.
 */
function supervisorInput(name: string, options: unknown): SupervisorOptions & { name: string } {
  const opts = checkOptions<Record<string, unknown>>(`supervisor '${name}'`, options as never);
  const { strategy, intensity, periodMs, backoff } = checkSupervisorInput({
    ...opts,
    name,
    children: undefined,
  });
  return { name, strategy, intensity, periodMs, backoff };
}

/**
 * `value` if it is a compiled lifecycle; anything else is an InvalidArgumentError naming `method` (it used to fail
 * inside the registry with a TypeError, or, for a virtual actor, to be stopped through its own `stop`).
 */
function checkLifecycle(method: string, value: unknown): Lifecycle {
  if (!(value instanceof Lifecycle)) {
    throw new InvalidArgumentError(
      `${method} needs a lifecycle (what spawnCompiled returned), got ${describeValue(value)}`,
    );
  }
  return value;
}

/** Check the id, systemId and restart type of `spawn()` options. */
function checkSpawnOptions(logic: unknown, options: SpawnBaseOptions): void {
  if (!isObject(logic) || typeof logic.transition !== 'function') {
    throw new InvalidArgumentError('spawn needs an actor logic (a machine or an XState actor logic)');
  }
  for (const key of ['id', 'systemId'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new InvalidArgumentError(`${key} must be a non-empty string, got ${String(value)}`);
    }
  }
  if (options.restart !== undefined && !RESTART_TYPES.includes(options.restart)) {
    throw new InvalidArgumentError(
      `restart must be one of ${RESTART_TYPES.join(', ')}, got ${String(options.restart)}`,
    );
  }
}

export class OrrerySystem implements SupervisorHost {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly bus = new InspectionBus();
  readonly root: Supervisor;
  readonly #rootActor: Actor<typeof supervisorMachine>;
  readonly #detached = new Map<AnyActorRef, ActorInfo>();
  readonly #bySystemId = new Map<string, AnyActorRef>();
  readonly #loggers = new WeakMap<AnyActorRef, LazyActorLogger>();
  readonly #hooked = new WeakSet<AnyActorRef>();
  readonly #stopHooks = new Map<AnyActorRef, (error: SystemStoppedError) => void>();
  readonly #stopListeners = new Set<(error: SystemStoppedError) => void>();
  /** Handles watching supervised children, by supervisor name and child id. */
  readonly #watchers = new Map<string, Set<(change: HandleChange) => void>>();
  /** Where XState's `log()` of each actor goes: its own `{actor, machine}` child logger, at info level. */
  readonly #logFactory: ActorLogFactory = (actor, machine) => {
    const log = new LazyActorLogger(this.logger, actor, machine);
    return (args) => {
      if (log.enabled('info')) log.logger.info(args.map(logText).join(' '));
    };
  };
  /** Compiled lifecycles (issue 10 item 5): `spawnCompiled`, found and listed as virtual actors. */
  readonly #compiled: CompiledLifecycles;
  readonly #deadlines: Deadlines;
  #stopped = false;
  /** The error every lifecycle of this system ends with when it stops. */
  #stopError: SystemStoppedError | undefined;
  #failure: unknown;

  constructor(options: SystemOptions = {}) {
    // every option is checked before anything is created
    options = checkOptions('createSystem', options);
    const logger = checkLogger('logger', options.logger);
    const clock = checkClock(options.clock);
    const rootInput = supervisorInput('root', options.root);
    this.logger = logger ?? silentLogger();
    this.clock = clock ?? realClock;
    for (const fn of globalInspectors) this.bus.observe(fn);
    // one deadline structure for every compiled lifecycle's delays (one clock timer, O(1) arm and cancel)
    this.#deadlines = new Deadlines(this.clock, {
      onError: (err) => logSafely(this.logger, 'error', { err: toError(err) }, 'a delayed event failed'),
    });
    this.#compiled = new CompiledLifecycles({
      deadlines: this.#deadlines,
      clock: this.clock,
      logger: this.logger,
      bus: this.bus,
      system: { get: (systemId) => this.get(systemId) },
      log: (actor, machine, args) => this.#logFactory(actor, machine)(args),
    });
    this.#rootActor = createActor(supervisorMachine, {
      id: SUP_PREFIX + 'root',
      systemId: SUP_PREFIX + 'root',
      clock: this.clock,
      logger: actorLogger(this.#logFactory, SUP_PREFIX + 'root', 'supervisor'),
      input: rootInput,
    });
    this.bus.addSource(this.#rootActor);
    // a supervised child respawned after a backoff must not take a systemId a detached actor or a compiled
    // lifecycle took meanwhile: they are not in the tree's XState system, whose `get` the supervisors ask
    setOutsideSystemIds(this.#rootActor.system, (id) => this.#bySystemId.has(id) || this.#compiled.has(id));
    this.#rootActor.subscribe({
      error: (err) => {
        this.#failure = err;
        logSafely(
          this.logger,
          'fatal',
          { err, actor: 'supervisor:root' },
          'root supervisor failed; system is down',
        );
        this.bus.emitEngineEvent({ type: 'actor.failed', actor: 'supervisor:root', error: err });
      },
    });
    this.#hookSupervisor(this.#rootActor, 'root');
    this.#rootActor.start();
    this.root = new Supervisor(this, 'root');
  }

  /** The error that brought the root supervisor down, if it escalated. */
  get failure(): unknown {
    return this.#failure;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * Find a live actor by systemId (supervised or detached): its current incarnation. Typed by the logic you pass
   * (or name as the type argument); with `logic`, an actor that runs other logic is an ActorRegistryError.
   */
  get<TLogic extends AnyActorLogic = AnyActorLogic>(
    systemId: string,
    logic?: TLogic,
  ): ActorRefFromLogic<TLogic> | undefined {
    const ref: AnyActorRef | undefined =
      this.#bySystemId.get(systemId) ??
      (this.#compiled.get(systemId) as AnyActorRef | undefined) ??
      this.#rootActor.system.get(systemId);
    if (ref && logic !== undefined && logicOf(ref) !== logic) {
      throw new ActorRegistryError(
        `'${systemId}' runs ${machineId(logicOf(ref))}, not the ${machineId(logic)} logic asked for`,
      );
    }
    return ref as ActorRefFromLogic<TLogic> | undefined;
  }

  /** Every live actor that Orrery knows of: supervised children (walking the supervisor tree) and detached. */
  actors(): ActorInfo[] {
    const out: ActorInfo[] = [];
    const walk = (ref: SupervisorActor, name: string) => {
      for (const child of childrenOf(ref.getSnapshot())) {
        if (!child.ref) continue;
        out.push({
          id: child.id,
          systemId: child.systemId,
          machine: machineId(child.logic),
          supervisor: name,
          ref: child.ref,
        });
        if (child.isSupervisor) {
          const sup = child.ref as SupervisorActor;
          walk(sup, supervisorNameOf(sup.getSnapshot()) ?? child.id);
        }
      }
    };
    out.push({
      id: SUP_PREFIX + 'root',
      systemId: SUP_PREFIX + 'root',
      machine: 'supervisor',
      ref: this.#rootActor,
    });
    walk(this.#rootActor, 'root');
    out.push(...this.#detached.values());
    for (const info of this.#compiled.infos()) out.push(info as unknown as ActorInfo);
    return out;
  }

  /** The current actor of the named supervisor (the root one even after it failed). */
  supervisorActor(name: string): SupervisorActor | undefined {
    return name === 'root' ? this.#rootActor : this.get(SUP_PREFIX + name, supervisorMachine);
  }

  /** Number of live detached lifecycle actors. */
  get detachedCount(): number {
    return this.#detached.size;
  }

  /** The `{actor, machine}`-bound child logger of an actor (created lazily). */
  loggerFor(ref: AnyActorRef, machine?: string): LazyActorLogger {
    let l = this.#loggers.get(ref);
    if (!l) {
      l = new LazyActorLogger(this.logger, ref.id, machine ?? machineId(logicOf(ref)));
      this.#loggers.set(ref, l);
    }
    return l;
  }

  /**
   * Observe every XState inspection event of the system (attaches lazily; zero cost without observers). What is
   * not an observer throws InvalidArgumentError.
   */
  inspect(observer: Observer<InspectionEvent> | ((event: InspectionEvent) => void)): Subscription {
    return this.bus.observe(observer, 'system.inspect');
  }

  /** Observe supervisor restarts, escalations and detached-actor crashes; a listener must be a function. */
  onEngineEvent(listener: (event: EngineEvent) => void): Subscription {
    return this.bus.onEngineEvent(listener, 'system.onEngineEvent');
  }

  /** Create a supervisor under `parent` (root by default). Supervisors are permanent children. */
  supervisor(name: string, options: SupervisorOptions & { parent?: Supervisor | string } = {}): Supervisor {
    if (typeof name !== 'string' || name === '') {
      throw new InvalidArgumentError(`a supervisor name must be a non-empty string, got ${String(name)}`);
    }
    const { parent, ...rest } = checkOptions(`supervisor '${name}'`, options);
    const input = supervisorInput(name, rest);
    this.#assertRunning();
    const parentSup = this.#resolveSupervisor(parent ?? this.root);
    const systemId = SUP_PREFIX + name;
    if (this.get(systemId)) throw new ActorRegistryError(`a supervisor named '${name}' already exists`);
    this.startChild(parentSup, {
      id: systemId,
      systemId,
      logic: supervisorMachine,
      input,
      restart: 'permanent',
    });
    return new Supervisor(this, name);
  }

  /**
   * Spawn a lifecycle actor. With `supervisor`, it becomes a supervised child (restart type `restart`, default
   * `permanent`); without, a detached actor that lives until it reaches a final state, errors, or the system stops.
   * `input` is typed as `createActor` types it (required when the logic needs one). Returns a handle that follows
   * restarts: `send` and `getSnapshot` reach the current incarnation, `subscribe` survives restarts, `current` is
   * the incarnation itself.
   */
  spawn<TLogic extends AnyActorLogic>(logic: TLogic, ...[options]: SpawnArgs<TLogic>): ActorHandle<TLogic> {
    const opts = checkOptions<SpawnOptions>('spawn', options as SpawnOptions | undefined);
    checkSpawnOptions(logic, opts);
    this.#assertRunning();
    if (opts.supervisor !== undefined) {
      const sup = this.#resolveSupervisor(opts.supervisor);
      const id = opts.id ?? opts.systemId ?? `${machineId(logic)}-${Math.random().toString(36).slice(2, 10)}`;
      this.startChild(sup, { id, systemId: opts.systemId, logic, input: opts.input, restart: opts.restart });
      return new ActorHandle<TLogic>(id, opts.systemId, {
        supervised: true,
        current: () =>
          childrenOf(this.supervisorActor(sup.name)?.getSnapshot()).find((c) => c.id === id)?.ref,
        gone: () => {
          const snapshot = this.supervisorActor(sup.name)?.getSnapshot();
          return snapshot?.status !== 'active' || !childrenOf(snapshot).some((c) => c.id === id);
        },
        watch: (listener) => this.#watch(sup.name, id, listener),
        stop: () => this.supervisorActor(sup.name)?.send({ type: 'STOP_CHILD', id }),
      });
    }
    const actor = this.spawnDetached(logic, opts);
    return new ActorHandle<TLogic>(actor.id, opts.systemId, {
      supervised: false,
      spawned: actor,
      current: () => (this.#detached.has(actor) ? actor : undefined),
      watch: () => () => {},
      stop: () => actor.stop(),
    });
  }

  /** A root XState actor registered with this system (see the module comment). Started before it returns. */
  spawnDetached<TLogic extends AnyActorLogic>(
    logic: TLogic,
    options: {
      id?: string;
      systemId?: string;
      input?: unknown;
      observer?: Partial<Observer<any>>;
      /**
       * Called by `system.stop()` while the actor is still running, before it is stopped: the facade ends its
       * lifecycle with this error (a Status fails, an LRC releases its subscriptions). Errors thrown are logged.
       */
      onSystemStop?: (error: SystemStoppedError) => void;
    } = {},
  ): Actor<TLogic> {
    options = checkOptions('spawnDetached', options);
    checkSpawnOptions(logic, options);
    if (options.onSystemStop !== undefined && typeof options.onSystemStop !== 'function') {
      throw new InvalidArgumentError('onSystemStop must be a function');
    }
    this.#assertRunning();
    if (options.systemId !== undefined && this.get(options.systemId)) {
      throw new ActorRegistryError(`systemId '${options.systemId}' is already registered`);
    }
    const machine = machineId(logic);
    const self: { id?: string } = {};
    const actor = createActor(logic, {
      id: options.id,
      input: options.input,
      clock: this.clock,
      // the id XState gives an actor without one is known once it is created (before it can log)
      logger: actorLogger(this.#logFactory, () => self.id ?? options.id ?? machine, machine),
      inspect: this.bus.active ? this.bus.dispatch : undefined,
    } as never) as Actor<TLogic>;
    self.id = actor.id;
    const info: ActorInfo = {
      id: actor.id,
      systemId: options.systemId,
      machine: machineId(logic),
      ref: actor,
    };
    this.#detached.set(actor, info);
    if (options.onSystemStop) this.#stopHooks.set(actor, options.onSystemStop);
    if (options.systemId !== undefined) this.#bySystemId.set(options.systemId, actor);
    if (!this.bus.active) this.bus.addSource(actor);
    const release = () => {
      this.#detached.delete(actor);
      this.#stopHooks.delete(actor);
      if (options.systemId !== undefined && this.#bySystemId.get(options.systemId) === actor) {
        this.#bySystemId.delete(options.systemId);
      }
      this.bus.removeSource(actor);
    };
    const observer = options.observer;
    actor.subscribe({
      next: observer?.next,
      complete: () => {
        release();
        observer?.complete?.();
      },
      error: (err) => {
        release();
        observer?.error?.(err);
        logSafely(
          this.loggerFor(actor, info.machine).logger,
          'error',
          { err: toError(err) },
          'actor crashed',
        );
        this.bus.emitEngineEvent({ type: 'actor.failed', actor: actor.id, error: err });
      },
    });
    try {
      actor.start();
    } catch (err) {
      // XState's start() throws only for a logic it cannot run (an initial snapshot that is no object: it reads its
      // status); the actor was registered by then, and stayed so for good (its systemId taken, counted as live)
      release();
      throw new InvalidArgumentError(
        `spawn: the ${machine} logic cannot be started (${toError(err).message})`,
        { cause: err },
      );
    }
    if ((actor.getSnapshot() as { status?: string }).status !== 'active') release();
    return actor;
  }

  // ---------------------------------------------------------------- compiled lifecycles (issue 10 item 5)

  /**
   * Start a lifecycle of `machine` on the compiled runner: a small record, not an XState actor, registered with
   * this system as `spawnDetached` registers an actor. `system.get(systemId)` and `system.actors()` show it as a
   * virtual actor, the inspector and `system.inspect` see it (XState's inspection events, built only while someone
   * observes), `system.stop()` calls `onSystemStop` and stops it. Throws InvalidArgumentError for a machine the
   * runner refuses (spawn it with `spawnDetached`), ActorRegistryError for a taken systemId or a stopped system.
   */
  spawnCompiled(machine: AnyStateMachine, options?: SpawnCompiledOptions): Lifecycle {
    const opts = checkSpawnCompiled(machine, options);
    this.#assertRunning();
    if (opts.systemId !== undefined && this.get(opts.systemId)) {
      throw new ActorRegistryError(`systemId '${opts.systemId}' is already registered`);
    }
    return this.#compiled.spawn(machine, opts);
  }

  /** Stop a compiled lifecycle and forget it (its timers are cancelled; its virtual actor's observers complete). */
  stopCompiled(lifecycle: Lifecycle): void {
    this.#compiled.stop(checkLifecycle('stopCompiled', lifecycle));
  }

  /** Number of live compiled lifecycles. */
  get compiledCount(): number {
    return this.#compiled.size;
  }

  /** The virtual actor of a compiled lifecycle (what `system.get` and the inspector see). */
  actorOf(lifecycle: Lifecycle): AnyActorRef {
    return this.#compiled.actorOf(checkLifecycle('actorOf', lifecycle)) as unknown as AnyActorRef;
  }

  // ---------------------------------------------------------------- end of compiled lifecycles

  /** Start a child under a supervisor; returns its actor. Throws on a duplicate id or systemId. */
  startChild(sup: Supervisor, spec: ChildSpec): AnyActorRef {
    checkChildSpec(spec);
    if (spec.logic === supervisorMachine) checkSupervisorInput(spec.input);
    this.#assertRunning();
    const ref = this.#supervisorRef(sup);
    if (childrenOf(ref.getSnapshot()).some((c) => c.id === spec.id)) {
      throw new ActorRegistryError(`supervisor '${sup.name}' already has a child '${spec.id}'`);
    }
    if (spec.systemId !== undefined && this.get(spec.systemId)) {
      throw new ActorRegistryError(`systemId '${spec.systemId}' is already registered`);
    }
    // a child that fails as it starts is removed at once (OTP's start_child): its crash is the error thrown here
    let crash: { error: unknown } | undefined;
    let refusal: string | undefined;
    const listening = ref.on('child.exited', (e) => {
      if (e.id === spec.id && e.reason === 'crash') crash = { error: e.error };
    });
    // (the checks above leave one reason to refuse it: a logic XState cannot run)
    const refusing = ref.on('child.refused', (e) => {
      if (e.id === spec.id) refusal = e.reason;
    });
    try {
      ref.send({ type: 'START_CHILD', spec });
    } finally {
      listening.unsubscribe();
      refusing.unsubscribe();
    }
    const child = childrenOf(ref.getSnapshot()).find((c) => c.id === spec.id)?.ref;
    if (!child) {
      const why = crash
        ? `: it failed as it started (${toError(crash.error).message})`
        : refusal
          ? `: ${refusal}`
          : '';
      throw new ActorRegistryError(
        `supervisor '${sup.name}' did not start '${spec.id}'${why}`,
        crash && { cause: crash.error },
      );
    }
    if (spec.logic === supervisorMachine) this.#hookChildSupervisor(child, spec.id);
    this.bus.emitEngineEvent({
      type: 'actor.spawned',
      actor: spec.id,
      systemId: spec.systemId,
      machine: machineId(spec.logic),
      supervisor: sup.name,
    });
    return child;
  }

  /** Start many children in one supervisor event (one copy of the children record for the whole batch). */
  startChildren(sup: Supervisor, specs: ChildSpec[]): void {
    if (!Array.isArray(specs)) throw new InvalidArgumentError('startChildren needs an array of child specs');
    for (const spec of specs) {
      checkChildSpec(spec);
      if (spec.logic === supervisorMachine) checkSupervisorInput(spec.input);
    }
    this.#assertRunning();
    const ref = this.#supervisorRef(sup);
    const seen = new Set<string>(childrenOf(ref.getSnapshot()).map((c) => c.id));
    const systemIds = new Set<string>();
    for (const spec of specs) {
      if (seen.has(spec.id))
        throw new ActorRegistryError(`supervisor '${sup.name}' already has a child '${spec.id}'`);
      seen.add(spec.id);
      if (spec.systemId === undefined) continue;
      if (systemIds.has(spec.systemId) || this.get(spec.systemId)) {
        throw new ActorRegistryError(`systemId '${spec.systemId}' is already registered`);
      }
      systemIds.add(spec.systemId);
    }
    ref.send({ type: 'START_CHILDREN', specs });
    for (const child of childrenOf(ref.getSnapshot())) {
      if (child.isSupervisor && child.ref && specs.some((s) => s.id === child.id)) {
        this.#hookChildSupervisor(child.ref, child.id);
      }
    }
  }

  /**
   * Run `listener(error)` when the system stops, before any actor is stopped (for facades of supervised
   * lifecycles; detached ones pass `onSystemStop` to `spawnDetached`). Returns a function that removes it.
   */
  onStop(listener: (error: SystemStoppedError) => void): () => void {
    if (typeof listener !== 'function') throw new InvalidArgumentError('onStop needs a function');
    if (this.#stopped) {
      // too late to wait for the stop: it happened, so the listener runs now (once)
      this.#runStopHook(listener, 'system', this.#stopError!);
      return () => {};
    }
    this.#stopListeners.add(listener);
    return () => void this.#stopListeners.delete(listener);
  }

  /**
   * Stop everything. First every pending lifecycle is ended with a SystemStoppedError while its actor still runs
   * (a pending Status fails and runs its callbacks once, pending LRCs release their subscriptions, tasks stop),
   * then detached actors are stopped, then the supervisor tree (children in reverse start order).
   * Idempotent. Pending timers of stopped actors are cancelled by XState.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const error = new SystemStoppedError('the actor system was stopped');
    this.#stopError = error;
    // each hook and listener runs once; one removed meanwhile (its lifecycle ended) does not run, one added
    // meanwhile runs at once (see onStop)
    for (const [actor, hook] of [...this.#stopHooks]) {
      if (this.#stopHooks.get(actor) !== hook) continue;
      this.#stopHooks.delete(actor);
      this.#runStopHook(hook, actor.id, error);
    }
    this.#compiled.runStopHooks(error);
    for (const listener of [...this.#stopListeners]) {
      if (!this.#stopListeners.delete(listener)) continue;
      this.#runStopHook(listener, 'system', error);
    }
    for (const actor of [...this.#detached.keys()]) (actor as Actor<AnyActorLogic>).stop();
    this.#compiled.stopAll();
    this.#deadlines.clear();
    this.#detached.clear();
    this.#bySystemId.clear();
    if (this.#rootActor.getSnapshot().status === 'active') this.#rootActor.send({ type: 'SHUTDOWN' });
    this.#rootActor.stop();
    // handles of supervised actors: their subscriptions complete
    const watchers = [...this.#watchers.values()].flatMap((set) => [...set]);
    this.#watchers.clear();
    for (const listener of watchers) this.#runStopHook(() => listener({ type: 'removed' }), 'system', error);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #runStopHook(fn: (error: SystemStoppedError) => void, actor: string, error: SystemStoppedError): void {
    try {
      fn(error);
    } catch (err) {
      logSafely(
        this.logger,
        'error',
        { err: toError(err), actor },
        'ending a lifecycle on system stop failed',
      );
    }
  }

  #assertRunning(): void {
    if (this.#stopped) throw new ActorRegistryError('the actor system has been stopped');
  }

  #resolveSupervisor(sup: Supervisor | string): Supervisor {
    if (sup instanceof Supervisor) return sup;
    if (typeof sup !== 'string') throw new InvalidArgumentError('supervisor must be a Supervisor or a name');
    return sup === 'root' ? this.root : new Supervisor(this, sup);
  }

  #supervisorRef(sup: Supervisor): SupervisorActor {
    const ref = this.supervisorActor(sup.name);
    const snap = ref?.getSnapshot();
    if (!ref || snap?.status !== 'active' || snap.value !== 'running') {
      throw new ActorRegistryError(`supervisor '${sup.name}' is not running`);
    }
    return ref;
  }

  #hookChildSupervisor(ref: AnyActorRef, id: string): void {
    const sup = ref as SupervisorActor;
    this.#hookSupervisor(sup, supervisorNameOf(sup.getSnapshot()) ?? id);
  }

  /** Tell the handles of child `id` of supervisor `name` about its incarnations; returns the unwatch function. */
  #watch(name: string, id: string, listener: (change: HandleChange) => void): () => void {
    const key = `${name}\u0000${id}`;
    let set = this.#watchers.get(key);
    if (!set) {
      set = new Set();
      this.#watchers.set(key, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#watchers.get(key) === set) this.#watchers.delete(key);
    };
  }

  #tellHandles(name: string, id: string, change: HandleChange): void {
    const set = this.#watchers.get(`${name}\u0000${id}`);
    if (!set) return;
    if (change.type === 'removed') this.#watchers.delete(`${name}\u0000${id}`);
    for (const listener of [...set]) {
      try {
        listener(change);
      } catch (err) {
        logSafely(this.logger, 'error', { err: toError(err), actor: id }, 'a handle subscriber threw');
      }
    }
  }

  /**
   * Tell the handles of every child of supervisor `name` that it is gone: its children were stopped and, spawned
   * into this incarnation, do not come back with the next one.
   */
  #removeChildrenOf(name: string): void {
    for (const key of [...this.#watchers.keys()]) {
      if (key.startsWith(`${name}\u0000`))
        this.#tellHandles(name, key.slice(name.length + 1), { type: 'removed' });
    }
  }

  /** Log a supervisor's emitted events and relay them on the bus (re-hooked when the supervisor restarts). */
  #hookSupervisor(ref: SupervisorActor, name: string): void {
    if (this.#hooked.has(ref)) return;
    this.#hooked.add(ref);
    reportSupervisorEvents(
      ref,
      name,
      this.loggerFor(ref, 'supervisor').logger,
      this.bus,
      (child, childName) => this.#hookSupervisor(child, childName),
    );
    // a supervisor that escalates, is stopped by its parent (removed, or restarted with a sibling) or shuts down
    // takes its children with it, and they do not come back with a next incarnation: before, only escalation was
    // seen here and the handles' subscriptions of the others stayed open until the system stopped. (An observer
    // without `error` would make XState report the escalation as an unhandled error.)
    ref.subscribe({
      complete: () => this.#removeChildrenOf(name),
      error: () => this.#removeChildrenOf(name),
    });
    ref.on('*', (e: SupervisorEmitted) => {
      if (e.type === 'child.respawned') {
        for (const child of childrenOf(ref.getSnapshot())) {
          if (child.ref && e.ids.includes(child.id)) {
            this.#tellHandles(name, child.id, { type: 'respawned', ref: child.ref });
          }
        }
      } else if (e.type === 'child.removed' || e.type === 'child.refused') {
        // a refused duplicate names a child that is still here: only a child that is gone is removed
        if (!childrenOf(ref.getSnapshot()).some((c) => c.id === e.id)) {
          this.#tellHandles(name, e.id, { type: 'removed' });
        }
      }
    });
  }
}

/** Create an Orrery actor system. */
export function createSystem(options?: SystemOptions): OrrerySystem {
  return new OrrerySystem(options);
}

let defaultSystem: OrrerySystem | undefined;

/** The process-wide system used by facades created without `{system}` (like ophyd's module-level objects). */
export function getDefaultSystem(): OrrerySystem {
  if (!defaultSystem || defaultSystem.stopped) defaultSystem = new OrrerySystem();
  return defaultSystem;
}

/** Replace the process-wide default system (for example with one that has your logger). */
export function setDefaultSystem(system: OrrerySystem): void {
  defaultSystem = system;
}
