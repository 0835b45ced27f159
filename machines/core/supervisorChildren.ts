/**
 * The supervisor's types and child bookkeeping: which children a failure affects, backoff delays, and how
 * children are created, started and stopped (in reverse order, reaping what a crashed child leaves running).
 * Used by `supervisor.ts`; plain functions, no I/O.
 */
import type { ActorSystem, AnyActorLogic, AnyActorRef } from 'xstate';
import { InvalidArgumentError } from '../../src/errors.js';
import { checkDuration, checkPeriod } from './duration.js';
import { createChildActor, stopActor } from './xstateAdapter.js';

export type RestartStrategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export type RestartType = 'permanent' | 'transient' | 'temporary';

export const RESTART_STRATEGIES: readonly RestartStrategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];
export const RESTART_TYPES: readonly RestartType[] = ['permanent', 'transient', 'temporary'];

export interface ChildSpec {
  /** Id of the child, unique within this supervisor (also its XState id). */
  id: string;
  /** Optional systemId, registered in the actor system while the child lives (kept across restarts). */
  systemId?: string;
  logic: AnyActorLogic;
  input?: unknown;
  restart?: RestartType;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export interface SupervisorInput {
  name?: string;
  strategy?: RestartStrategy;
  /** Maximum restarts within `periodMs` (OTP `intensity`, default 3). */
  intensity?: number;
  /** The restart window in milliseconds (OTP `period`, default 5000). */
  periodMs?: number;
  backoff?: BackoffPolicy | null;
  children?: ChildSpec[];
}

export interface Spec extends ChildSpec {
  restart: RestartType;
}

export interface SupervisorContext {
  name: string;
  strategy: RestartStrategy;
  intensity: number;
  periodMs: number;
  backoff: BackoffPolicy | null;
  specs: Spec[];
  refs: Record<string, AnyActorRef>;
  /** Restarts inside the current window. */
  recent: number;
  /** Restarts since the supervisor started, per child id (the crashed child that triggered them). */
  restarts: Record<string, number>;
  /** Consecutive restarts used for the backoff exponent; reset when the window empties. */
  streak: number;
  /** Children stopped and waiting for a delayed respawn. */
  waiting: string[];
  /** The child whose failure exceeded the intensity, and why. */
  failure: { child: string; error: unknown } | null;
}

export type SupervisorEvent =
  | { type: 'START_CHILD'; spec: ChildSpec }
  | { type: 'START_CHILDREN'; specs: ChildSpec[] }
  | { type: 'STOP_CHILD'; id: string }
  | { type: 'RESTART_CHILD'; id: string }
  | { type: 'RESPAWN'; ids: string[] }
  | { type: 'WINDOW_EXPIRED' }
  | { type: 'SHUTDOWN' }
  | { type: `xstate.error.actor.${string}`; actorId: string; error: unknown }
  | { type: `xstate.done.actor.${string}`; actorId: string; output: unknown };

export type SupervisorEmitted =
  | { type: 'child.started'; id: string; restart: RestartType }
  | { type: 'child.exited'; id: string; reason: 'normal' | 'crash'; error?: unknown }
  | { type: 'child.restarted'; ids: string[]; trigger: string; delayMs: number; error?: unknown }
  | { type: 'child.removed'; id: string }
  /**
   * A spec sent straight to the machine that it did not start, or a RESTART_CHILD of a temporary child (the engine's
   * own calls throw instead).
   */
  | { type: 'child.refused'; id: string; reason: string }
  | { type: 'child.respawned'; ids: string[] }
  | { type: 'supervisor.escalated'; child: string; error: unknown };

/** The ids a failure of `id` affects under `strategy`, in spec order. */
export function affectedIds(
  specs: readonly { id: string }[],
  strategy: RestartStrategy,
  id: string,
): string[] {
  if (strategy === 'one_for_one') return [id];
  if (strategy === 'one_for_all') return specs.map((s) => s.id);
  const at = specs.findIndex((s) => s.id === id);
  return at < 0 ? [id] : specs.slice(at).map((s) => s.id);
}

/** Backoff delay before the n-th consecutive restart (n >= 1); 0 without a policy. Never more than `maxMs`. */
export function backoffDelay(policy: BackoffPolicy | null, n: number): number {
  if (!policy) return 0;
  const delay = policy.initialMs * policy.factor ** Math.max(0, n - 1);
  // 0 * Infinity (a long streak with initialMs 0) is NaN: no delay then, as for every other restart
  return Number.isNaN(delay) ? 0 : Math.min(policy.maxMs, delay);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Object.prototype.toString.call(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/** The supervisor options with their defaults, checked (see `checkSupervisorInput`). */
export interface SupervisorSettings {
  name: string;
  strategy: RestartStrategy;
  intensity: number;
  periodMs: number;
  backoff: BackoffPolicy | null;
  children: ChildSpec[];
}

/**
 * Check a supervisor's options and apply the defaults; throws InvalidArgumentError naming the first bad option.
 * `intensity` is a whole number of restarts >= 0; `periodMs` a duration > 0 (Infinity: restarts are never
 * forgotten); `backoff` null or `{initialMs, maxMs, factor}` with finite durations, `maxMs >= initialMs` and a
 * finite `factor >= 1`; `children` valid specs with distinct ids and systemIds. A bad value here used to make the
 * supervisor restart a crashing child forever without escalating.
 */
export function checkSupervisorInput(input: unknown): SupervisorSettings {
  if (input === undefined || input === null) input = {};
  if (!isRecord(input))
    throw new InvalidArgumentError(`supervisor options must be an object, got ${show(input)}`);
  const { name = 'supervisor', strategy = 'one_for_one', intensity = 3, periodMs = 5000 } = input;
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(`supervisor name must be a non-empty string, got ${show(name)}`);
  }
  if (!RESTART_STRATEGIES.includes(strategy as RestartStrategy)) {
    throw new InvalidArgumentError(
      `strategy must be one of ${RESTART_STRATEGIES.join(', ')}, got ${show(strategy)}`,
    );
  }
  if (!Number.isInteger(intensity) || (intensity as number) < 0) {
    throw new InvalidArgumentError(
      `intensity must be a non-negative whole number of restarts, got ${show(intensity)}`,
    );
  }
  const period = checkPeriod('periodMs', periodMs) as number;
  return {
    name,
    strategy: strategy as RestartStrategy,
    intensity: intensity as number,
    periodMs: period,
    backoff: checkBackoff(input.backoff),
    children: checkChildSpecs(input.children),
  };
}

function checkBackoff(backoff: unknown): BackoffPolicy | null {
  if (backoff === undefined || backoff === null) return null;
  if (!isRecord(backoff)) {
    throw new InvalidArgumentError(
      `backoff must be null or {initialMs, maxMs, factor}, got ${show(backoff)}`,
    );
  }
  const finite = (key: string): number => {
    const ms = checkDuration(`backoff.${key}`, backoff[key], false);
    if (ms === null || !Number.isFinite(ms)) {
      throw new InvalidArgumentError(
        `backoff.${key} must be a finite number of milliseconds, got ${show(ms)}`,
      );
    }
    return ms;
  };
  const initialMs = finite('initialMs');
  const maxMs = finite('maxMs');
  if (maxMs < initialMs) {
    throw new InvalidArgumentError(
      `backoff.maxMs (${maxMs}) must not be less than backoff.initialMs (${initialMs})`,
    );
  }
  const { factor } = backoff;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) {
    throw new InvalidArgumentError(`backoff.factor must be a finite number >= 1, got ${show(factor)}`);
  }
  return { initialMs, maxMs, factor };
}

function checkChildSpecs(children: unknown): ChildSpec[] {
  if (children === undefined) return [];
  if (!Array.isArray(children))
    throw new InvalidArgumentError(`children must be an array, got ${show(children)}`);
  const ids = new Set<string>();
  const systemIds = new Set<string>();
  for (const spec of children) {
    checkChildSpec(spec);
    const problem = duplicate(spec, ids, systemIds);
    if (problem) throw new InvalidArgumentError(`children: ${problem}`);
  }
  return children;
}

/** What is wrong with a child spec, or null: an id, a logic, an optional systemId and restart type. */
export function specProblem(spec: unknown): string | null {
  if (!isRecord(spec)) return `a child spec must be an object, got ${show(spec)}`;
  if (typeof spec.id !== 'string' || spec.id === '') {
    return `a child spec needs a non-empty string id, got ${show(spec.id)}`;
  }
  const logic = spec.logic as { transition?: unknown } | undefined;
  if (!isRecord(logic) || typeof logic.transition !== 'function') {
    return `child '${spec.id}' needs an actor logic (a machine or an XState actor logic)`;
  }
  if (spec.systemId !== undefined && (typeof spec.systemId !== 'string' || spec.systemId === '')) {
    return `child '${spec.id}': systemId must be a non-empty string, got ${show(spec.systemId)}`;
  }
  if (spec.restart !== undefined && !RESTART_TYPES.includes(spec.restart as RestartType)) {
    return `child '${spec.id}': restart must be one of ${RESTART_TYPES.join(', ')}, got ${show(spec.restart)}`;
  }
  return null;
}

/** Throw InvalidArgumentError unless `spec` is a valid child spec. */
export function checkChildSpec(spec: unknown): asserts spec is ChildSpec {
  const problem = specProblem(spec);
  if (problem) throw new InvalidArgumentError(problem);
}

/** Claim the spec's id and systemId in the given sets; says which was already claimed, or null. */
function duplicate(spec: ChildSpec, ids: Set<string>, systemIds: Set<string>): string | null {
  if (ids.has(spec.id)) return `duplicate child id '${spec.id}'`;
  if (spec.systemId !== undefined && systemIds.has(spec.systemId)) {
    return `duplicate systemId '${spec.systemId}'`;
  }
  ids.add(spec.id);
  if (spec.systemId !== undefined) systemIds.add(spec.systemId);
  return null;
}

/**
 * The specs of a batch that can start now, in order, and why the others cannot: an invalid spec, an id this
 * supervisor already has (or that comes twice), a systemId an actor of the system holds (or that comes twice).
 * Deciding before any actor is created is what keeps a refused spec from leaving an actor behind that holds its
 * systemId and is never started or stopped.
 */
export function admit(
  context: SupervisorContext,
  system: ActorSystem<any>,
  batch: readonly unknown[],
): { accepted: Spec[]; refused: { id: string; reason: string }[] } {
  const ids = new Set(context.specs.map((s) => s.id));
  const systemIds = new Set<string>();
  const accepted: Spec[] = [];
  const refused: { id: string; reason: string }[] = [];
  for (const raw of batch) {
    const problem =
      specProblem(raw) ??
      duplicate(raw as ChildSpec, ids, systemIds) ??
      systemIdTaken(system, (raw as ChildSpec).systemId);
    if (problem) refused.push({ id: String((raw as { id?: unknown } | null)?.id), reason: problem });
    else accepted.push(normalise(raw as ChildSpec));
  }
  return { accepted, refused };
}

/**
 * Who else holds systemIds beside the actors of a supervisor's XState system, by that system: the engine registers
 * its detached actors and compiled lifecycles here. They run outside the supervisor tree's XState system, so its
 * `get` does not see them, and a child respawned after its backoff came back under a systemId one of them had
 * taken meanwhile (two live actors held one name; `system.get` found the other one).
 */
const outsideHolders = new WeakMap<object, (systemId: string) => boolean>();

/** Tell the supervisors of `system` which systemIds actors outside it hold (see `outsideHolders`). */
export function setOutsideSystemIds(system: ActorSystem<any>, taken: (systemId: string) => boolean): void {
  outsideHolders.set(system, taken);
}

function systemIdTaken(system: ActorSystem<any>, systemId: string | undefined): string | null {
  return systemId !== undefined && (system.get(systemId) || outsideHolders.get(system)?.(systemId))
    ? `systemId '${systemId}' is already registered`
    : null;
}

export function normalise(spec: ChildSpec): Spec {
  return { ...spec, restart: spec.restart ?? 'permanent' };
}

export interface EscalationInput {
  name: string;
  child: string;
  intensity: number;
  periodMs: number;
  error: unknown;
}

export type ExitEvent = Extract<SupervisorEvent, { actorId: string }>;

/**
 * Stop what a crashed actor leaves behind. XState stops an actor's children only when it stops normally; an
 * actor that crashed keeps its invoked and spawned children running (sockets, timers, callbacks), and stopping
 * the crashed actor again is a no-op. Reap them depth first.
 */
export function reapCrashedTree(ref: AnyActorRef): void {
  const snap = ref.getSnapshot() as
    | { children?: Record<string, AnyActorRef>; context?: Partial<SupervisorContext> }
    | undefined;
  const supervised = snap?.context?.specs && snap.context.refs ? Object.values(snap.context.refs) : [];
  for (const child of [...supervised.reverse(), ...Object.values(snap?.children ?? {})]) {
    if (!child) continue;
    reapCrashedTree(child);
    stopActor(child);
  }
}

/**
 * Stop an actor now. A supervisor child first stops its own children (they are not in XState's record, so
 * XState would not); a crashed actor is reaped (see reapCrashedTree).
 */
export function stopNow(ref: AnyActorRef): void {
  const snap = ref.getSnapshot() as { status?: string; context?: Partial<SupervisorContext> } | undefined;
  if (snap?.status === 'error') {
    reapCrashedTree(ref);
    return;
  }
  const ctx = snap?.context;
  if (ctx?.specs && ctx.refs) {
    for (const spec of [...ctx.specs].reverse()) {
      const child = ctx.refs[spec.id];
      if (child) stopNow(child);
    }
  }
  stopActor(ref);
}

/** Why a child whose logic XState cannot run (see `createChildActor`) is refused. */
export const UNSTARTABLE = 'its logic cannot be started (its initial snapshot is not an object)';

/** The child's actor, created (not started); undefined when XState cannot run its logic (`UNSTARTABLE`). */
export function createChild(parent: AnyActorRef, spec: Spec): AnyActorRef | undefined {
  return createChildActor(parent, spec);
}

export function startAll(refs: readonly AnyActorRef[]): void {
  for (const ref of refs) ref.start();
}

/**
 * Create (now) and start (when the actions run) the children `ids` that have no live actor, in spec order. A child
 * whose systemId another actor took while it was down (during a backoff delay) cannot come back under it: it is
 * removed and reported as refused, instead of failing the supervisor half way through the batch.
 */
export function enqueueRespawn(
  enqueue: any,
  context: SupervisorContext,
  self: AnyActorRef,
  ids: readonly string[],
): void {
  const refs = { ...context.refs };
  const created: AnyActorRef[] = [];
  const lost: string[] = [];
  for (const spec of context.specs) {
    if (!ids.includes(spec.id) || refs[spec.id]) continue;
    const taken = systemIdTaken(self.system, spec.systemId);
    if (taken) {
      lost.push(spec.id);
      enqueue.emit({ type: 'child.refused', id: spec.id, reason: taken });
      continue;
    }
    const ref = createChild(self, spec);
    if (!ref) {
      lost.push(spec.id);
      enqueue.emit({ type: 'child.refused', id: spec.id, reason: UNSTARTABLE });
      continue;
    }
    refs[spec.id] = ref;
    created.push(ref);
  }
  const specs = lost.length ? context.specs.filter((s) => !lost.includes(s.id)) : context.specs;
  enqueue.assign({ refs, specs, waiting: context.waiting.filter((id) => !ids.includes(id)) });
  enqueue(() => startAll(created));
  if (created.length) enqueue.emit({ type: 'child.respawned', ids: created.map((r) => r.id) });
}

/**
 * Enqueue the stop of `ids` in reverse spec order (carried out at once, in that order). Those also in `remove`
 * go for good: their specs are deleted and stopChild drops them from XState's children record. The others only
 * stop (to be respawned, which overwrites the record entry, or because the supervisor itself ends). Skipping
 * stopChild for them matters: it copies the children record once per child, which made stopping a full
 * supervisor quadratic.
 */
export function enqueueStop(
  enqueue: any,
  context: SupervisorContext,
  ids: readonly string[],
  remove: readonly string[] = [],
): void {
  const order = context.specs.filter((s) => ids.includes(s.id)).reverse();
  const refs = { ...context.refs };
  const stopping: AnyActorRef[] = [];
  for (const spec of order) {
    const ref = refs[spec.id];
    if (ref) stopping.push(ref);
    delete refs[spec.id];
  }
  if (stopping.length) enqueue(() => stopping.forEach(stopNow));
  if (remove.length === 0) {
    enqueue.assign({ refs, specs: context.specs });
  } else {
    // a removed child's restart count goes with it: counts are per child, and a supervisor whose children come
    // and go under new ids (temporary workers) would otherwise keep one entry per id it ever restarted
    const specs = context.specs.filter((s) => !remove.includes(s.id));
    let restarts = context.restarts;
    if (remove.some((id) => Object.hasOwn(restarts, id))) {
      restarts = { ...restarts };
      for (const id of remove) delete restarts[id];
    }
    enqueue.assign({ refs, specs, restarts });
  }
  for (const spec of order)
    if (remove.includes(spec.id)) enqueue.emit({ type: 'child.removed', id: spec.id });
}

/**
 * Report and remove the children of `started` that failed as they started (an entry action threw, a callback
 * threw). OTP's start_child returns such a child's error and leaves the supervisor as it was; restarting it instead
 * spent the restart intensity on a child that never ran, and could fail the supervisor and stop every sibling with
 * it. Its crash is reported (`child.exited`), what it left running is reaped and it is removed (`child.removed`);
 * its error event, still queued, is then ignored as stale. Restarts (`enqueueRespawn`) are not affected: a child
 * that fails as it restarts counts towards the intensity, as in OTP.
 */
export function enqueueRemoveFailedStarts(
  enqueue: any,
  context: SupervisorContext,
  started: readonly AnyActorRef[],
): void {
  const failed = started.filter(
    (ref) => context.refs[ref.id] === ref && ref.getSnapshot().status === 'error',
  );
  if (!failed.length) return;
  for (const ref of failed)
    enqueue.emit({ type: 'child.exited', id: ref.id, reason: 'crash', error: ref.getSnapshot().error });
  const ids = failed.map((ref) => ref.id);
  enqueueStop(enqueue, context, ids, ids);
}

/** What a child's exit asks of the supervisor: nothing, remove it, or restart a set of children. */
export function exitDecision(ctx: SupervisorContext, ev: ExitEvent): 'ignore' | 'remove' | 'restart' {
  const spec = ctx.specs.find((s) => s.id === ev.actorId);
  if (!spec || ctx.refs[ev.actorId] === undefined) return 'ignore';
  const crashed = ev.type.startsWith('xstate.error.actor.');
  if (spec.restart === 'temporary') return 'remove';
  if (spec.restart === 'transient' && !crashed) return 'remove';
  return 'restart';
}

export function exitedEvent(ev: ExitEvent): SupervisorEmitted {
  const crashed = ev.type.startsWith('xstate.error.actor.');
  return crashed
    ? { type: 'child.exited', id: ev.actorId, reason: 'crash', error: (ev as { error?: unknown }).error }
    : { type: 'child.exited', id: ev.actorId, reason: 'normal' };
}
