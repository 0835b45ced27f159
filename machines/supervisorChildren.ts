/**
 * The supervisor's types and child bookkeeping: which children a failure affects, backoff delays, and how
 * children are created, started and stopped (in reverse order, reaping what a crashed child leaves running).
 * Used by `supervisor.ts`; plain functions, no I/O.
 */
import { type AnyActorLogic, type AnyActorRef, createActor } from 'xstate';

export type RestartStrategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export type RestartType = 'permanent' | 'transient' | 'temporary';

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

/** Backoff delay before the n-th consecutive restart (n >= 1); 0 without a policy. */
export function backoffDelay(policy: BackoffPolicy | null, n: number): number {
  if (!policy) return 0;
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, n - 1));
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
    (child as unknown as { _stop?: () => void })._stop?.();
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
  (ref as unknown as { _stop?: () => void })._stop?.();
}

export function createChild(parent: AnyActorRef, spec: Spec): AnyActorRef {
  return createActor(spec.logic, {
    parent,
    id: spec.id,
    systemId: spec.systemId,
    input: spec.input,
  } as never);
}

export function startAll(refs: readonly AnyActorRef[]): void {
  for (const ref of refs) ref.start();
}

/** Create (now) and start (when the actions run) the children `ids` that have no live actor, in spec order. */
export function enqueueRespawn(
  enqueue: any,
  context: SupervisorContext,
  self: AnyActorRef,
  ids: readonly string[],
): void {
  const refs = { ...context.refs };
  const created: AnyActorRef[] = [];
  for (const spec of context.specs) {
    if (!ids.includes(spec.id) || refs[spec.id]) continue;
    refs[spec.id] = createChild(self, spec);
    created.push(refs[spec.id]);
  }
  enqueue.assign({ refs, waiting: context.waiting.filter((id) => !ids.includes(id)) });
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
  const specs = remove.length ? context.specs.filter((s) => !remove.includes(s.id)) : context.specs;
  enqueue.assign({ refs, specs });
  for (const spec of order)
    if (remove.includes(spec.id)) enqueue.emit({ type: 'child.removed', id: spec.id });
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
