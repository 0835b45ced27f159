/**
 * An Erlang/OTP supervisor as an XState v5 machine.
 *
 * - Strategies `one_for_one`, `one_for_all`, `rest_for_one`; child restart types `permanent` (always restarted),
 *   `transient` (restarted only after a crash), `temporary` (never restarted, removed when it ends).
 * - Children start in spec order and are stopped in reverse order.
 * - Restart intensity: more than `intensity` restarts within `periodMs` makes the supervisor stop every child
 *   and fail; the failure (a `SupervisorEscalationError`) reaches its parent as `xstate.error.actor.<id>`, exactly
 *   like any other crashed child, so supervisors nest.
 * - Optional exponential backoff between a crash and the respawn.
 *
 * The restart window is counted with XState delays only (each restart raises a delayed `WINDOW_EXPIRED`), so the
 * machine needs no wall clock and runs unchanged under a simulated clock.
 *
 * Children are actors of the supervisor's system whose parent is the supervisor (so their crashes and exits
 * arrive as `xstate.error.actor.<id>` / `xstate.done.actor.<id>`), kept as refs in context, but not in XState's
 * `snapshot.children` record: XState copies that record on every spawn and stop, and stopping a machine with
 * 250 children that way took 39 ms (1,000 children: 1.3 s). The supervisor therefore stops its children itself,
 * in reverse order, on every way out (SHUTDOWN, escalation, and being stopped by its own supervisor).
 */
import {
  type ActorRefFrom,
  type AnyActorLogic,
  type AnyActorRef,
  assign,
  emit,
  enqueueActions,
  fromCallback,
  setup,
} from 'xstate';
import { SupervisorEscalationError } from '../../src/errors.js';

import {
  admit,
  affectedIds,
  backoffDelay,
  checkSupervisorInput,
  createChild,
  type EscalationInput,
  type ExitEvent,
  enqueueRemoveFailedStarts,
  enqueueRespawn,
  enqueueStop,
  exitDecision,
  exitedEvent,
  type RestartType,
  type SupervisorContext,
  type SupervisorEmitted,
  type SupervisorEvent,
  type SupervisorInput,
  startAll,
  UNSTARTABLE,
} from './supervisorChildren.js';

export {
  affectedIds,
  type BackoffPolicy,
  backoffDelay,
  type ChildSpec,
  checkChildSpec,
  checkSupervisorInput,
  type EscalationInput,
  RESTART_STRATEGIES,
  RESTART_TYPES,
  type RestartStrategy,
  type RestartType,
  reapCrashedTree,
  type SupervisorContext,
  type SupervisorEmitted,
  type SupervisorEvent,
  type SupervisorInput,
  type SupervisorSettings,
  setOutsideSystemIds,
  stopNow,
} from './supervisorChildren.js';

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
    emitted: {} as SupervisorEmitted,
  },
  actors: {
    /** Fails as soon as it starts: the supervisor's way to crash after its children were stopped. */
    escalation: fromCallback<any, EscalationInput>(({ input }) => {
      throw new SupervisorEscalationError(
        input.name,
        input.child,
        input.intensity,
        input.periodMs,
        input.error,
      );
    }),
  },
  guards: {
    exitIgnored: ({ context, event }) => exitDecision(context, event as ExitEvent) === 'ignore',
    exitRemoves: ({ context, event }) => exitDecision(context, event as ExitEvent) === 'remove',
    intensityExceeded: ({ context }) => context.recent + 1 > context.intensity,
    /** The child a RESTART_CHILD names is temporary, which OTP never restarts. */
    temporaryChild: ({ context, event }) =>
      context.specs.some((s) => s.id === (event as { id?: unknown }).id && s.restart === 'temporary'),
  },
  delays: {
    period: ({ context }) => context.periodMs,
  },
  actions: {
    /**
     * Spawn the given specs (in order) and record them; one assign, one children copy. Specs that cannot start
     * (invalid, an id already here, a systemId already taken) are refused before any actor is created, so none
     * is left behind. `announce` emits `child.started` for each child started. `dynamic` (START_CHILD,
     * START_CHILDREN: OTP's start_child) removes a child that fails as it starts instead of restarting it (see
     * `enqueueRemoveFailedStarts`).
     */
    startChildren: enqueueActions(
      (
        { context, enqueue, self },
        params: { specs: readonly unknown[]; announce?: boolean; dynamic?: boolean },
      ) => {
        const { accepted, refused } = admit(context, self.system, params.specs);
        for (const r of refused) enqueue.emit({ type: 'child.refused', id: r.id, reason: r.reason });
        const refs = { ...context.refs };
        const created: AnyActorRef[] = [];
        // a logic XState cannot run is refused too (creating or starting it threw inside this action: a crash)
        const started = accepted.filter((spec) => {
          const ref = createChild(self, spec);
          if (!ref) enqueue.emit({ type: 'child.refused', id: spec.id, reason: UNSTARTABLE });
          else {
            refs[spec.id] = ref;
            created.push(ref);
          }
          return ref !== undefined;
        });
        enqueue.assign({ specs: [...context.specs, ...started], refs });
        enqueue(() => startAll(created));
        if (params.announce) {
          for (const spec of started)
            enqueue.emit({ type: 'child.started', id: spec.id, restart: spec.restart });
        }
        if (params.dynamic && created.length) {
          // a nested action: it is resolved after the children above were started, so it sees which failed
          enqueue(
            enqueueActions(({ context: now, enqueue: next }: any) =>
              enqueueRemoveFailedStarts(next, now, created),
            ),
          );
        }
      },
    ),
    /** Stop children in reverse spec order (they stay in `specs` unless `remove`). */
    stopChildren: enqueueActions(({ context, enqueue }, params: { ids: string[]; remove: boolean }) =>
      enqueueStop(enqueue, context, params.ids, params.remove ? params.ids : []),
    ),
    /** Respawn stopped children in spec order; specs removed meanwhile are skipped. */
    respawn: enqueueActions(({ context, enqueue, self }, params: { ids: string[] }) =>
      enqueueRespawn(enqueue, context, self, params.ids),
    ),
    reportExit: emit(({ event }) => exitedEvent(event as ExitEvent)),
    refuseRestart: emit(({ event }) => ({
      type: 'child.refused' as const,
      id: (event as { id: string }).id,
      reason: 'a temporary child is never restarted',
    })),
    removeExited: enqueueActions(({ context, event, enqueue }) => {
      const id = (event as ExitEvent).actorId;
      enqueueStop(enqueue, context, [id], [id]);
    }),
    countRestart: assign(({ context, event }) => {
      const id = (event as ExitEvent).actorId;
      return {
        recent: context.recent + 1,
        streak: context.streak + 1,
        restarts: { ...context.restarts, [id]: (context.restarts[id] ?? 0) + 1 },
      };
    }),
    /** Forget this restart after `periodMs` (never with an infinite period: no timer, no pending event). */
    scheduleWindowExpiry: enqueueActions(({ context, enqueue }) => {
      if (context.periodMs !== Number.POSITIVE_INFINITY)
        enqueue.raise({ type: 'WINDOW_EXPIRED' }, { delay: 'period' });
    }),
    /**
     * Stop the children the strategy affects (reverse order); temporary ones are removed for good, the others
     * are respawned in spec order, at once or after the backoff delay.
     */
    restartAffected: enqueueActions(({ context, event, enqueue }) => {
      const ev = event as ExitEvent;
      const error = 'error' in ev ? ev.error : undefined;
      enqueue.emit(exitedEvent(ev));
      const ids = affectedIds(context.specs, context.strategy, ev.actorId);
      const keep = context.specs
        .filter((s) => ids.includes(s.id) && s.restart !== 'temporary')
        .map((s) => s.id);
      const drop = ids.filter((id) => !keep.includes(id));
      enqueueStop(enqueue, context, ids, drop);
      const delayMs = backoffDelay(context.backoff, context.streak);
      if (delayMs > 0) {
        enqueue.assign({ waiting: [...context.waiting, ...keep] });
        enqueue.raise({ type: 'RESPAWN', ids: keep }, { delay: delayMs });
      } else {
        // a nested action: it is resolved after the stops above have run, so the old systemIds are free again
        enqueue(
          enqueueActions(({ context: now, enqueue: next, self: me }: any) =>
            enqueueRespawn(next, now, me, keep),
          ),
        );
      }
      enqueue.emit({ type: 'child.restarted', ids: keep, trigger: ev.actorId, delayMs, error });
    }),
    expireOne: assign(({ context }) => {
      const recent = Math.max(0, context.recent - 1);
      return { recent, streak: recent === 0 ? 0 : context.streak };
    }),
    recordFailure: assign(({ event }) => ({
      failure: { child: (event as ExitEvent).actorId, error: (event as any).error },
    })),
  },
}).createMachine({
  id: 'supervisor',
  // a bad option fails the supervisor at once with an InvalidArgumentError (the engine checks them before it gets here)
  context: ({ input }) => {
    const { name, strategy, intensity, periodMs, backoff } = checkSupervisorInput(input);
    return {
      name,
      strategy,
      intensity,
      periodMs,
      backoff,
      specs: [],
      refs: {},
      recent: 0,
      restarts: {},
      streak: 0,
      waiting: [],
      failure: null,
    };
  },
  initial: 'running',
  entry: [
    { type: 'startChildren', params: ({ event }) => ({ specs: (event as any).input?.children ?? [] }) },
  ],
  states: {
    running: {
      on: {
        START_CHILD: {
          actions: {
            type: 'startChildren',
            params: ({ event }) => ({ specs: [event.spec], announce: true, dynamic: true }),
          },
        },
        START_CHILDREN: {
          actions: {
            type: 'startChildren',
            params: ({ event }) => ({ specs: event.specs, dynamic: true }),
          },
        },
        STOP_CHILD: {
          actions: { type: 'stopChildren', params: ({ event }) => ({ ids: [event.id], remove: true }) },
        },
        // a temporary child is refused and runs on (the engine's restartChild throws instead of sending this)
        RESTART_CHILD: [
          { guard: 'temporaryChild', actions: 'refuseRestart' },
          {
            actions: [
              { type: 'stopChildren', params: ({ event }) => ({ ids: [event.id], remove: false }) },
              { type: 'respawn', params: ({ event }) => ({ ids: [event.id] }) },
            ],
          },
        ],
        RESPAWN: {
          actions: { type: 'respawn', params: ({ event }) => ({ ids: event.ids }) },
        },
        WINDOW_EXPIRED: { actions: 'expireOne' },
        // a child ended, normally or by crashing: ignore a stale exit, remove the child, or restart per strategy
        'xstate.done.actor.*': [
          { guard: 'exitIgnored' },
          { guard: 'exitRemoves', actions: ['reportExit', 'removeExited'] },
          { target: 'restarting' },
        ],
        'xstate.error.actor.*': [
          { guard: 'exitIgnored' },
          { guard: 'exitRemoves', actions: ['reportExit', 'removeExited'] },
          { target: 'restarting' },
        ],
        SHUTDOWN: { target: 'stopped' },
      },
    },
    /** Transient: decide between restart (now or after backoff) and escalation, then go back to running. */
    restarting: {
      always: [
        { guard: 'intensityExceeded', target: 'failed', actions: 'recordFailure' },
        { target: 'running', actions: ['countRestart', 'scheduleWindowExpiry', 'restartAffected'] },
      ],
    },
    /**
     * Stop every child (reverse order), then crash: the invoked `escalation` actor throws once the stops are
     * carried out, and since nothing here handles its error, the supervisor fails with it and its parent
     * receives `xstate.error.actor.<id>` carrying the SupervisorEscalationError.
     */
    failed: {
      entry: [
        {
          type: 'stopChildren',
          params: ({ context }) => ({ ids: context.specs.map((s) => s.id), remove: false }),
        },
        // failure is set by recordFailure on the way in
        emit(({ context }) => ({
          type: 'supervisor.escalated' as const,
          child: context.failure!.child,
          error: context.failure!.error,
        })),
      ],
      invoke: {
        id: 'escalation',
        src: 'escalation',
        input: ({ context }) => ({
          name: context.name,
          child: context.failure!.child,
          intensity: context.intensity,
          periodMs: context.periodMs,
          error: context.failure!.error,
        }),
      },
    },
    stopped: {
      type: 'final',
      entry: {
        type: 'stopChildren',
        params: ({ context }) => ({ ids: context.specs.map((s) => s.id), remove: false }),
      },
    },
  },
});

export type SupervisorActor = ActorRefFrom<typeof supervisorMachine>;

/** One child of a supervisor, as `childrenOf` reports it. */
export interface SupervisedChild {
  id: string;
  systemId?: string;
  logic: AnyActorLogic;
  restart: RestartType;
  /** The current actor; undefined while the child waits for a delayed restart. */
  ref: AnyActorRef | undefined;
  /** Whether the child is itself a supervisor (its logic is `supervisorMachine`). */
  isSupervisor: boolean;
}

type SupervisorSnapshotLike = { context: SupervisorContext } | undefined | null;

/**
 * The children of a supervisor, in start order, from its snapshot (typed; the engine and the inspector use this
 * instead of reading the supervisor's context). An empty list for anything but a supervisor snapshot.
 */
export function childrenOf(snapshot: SupervisorSnapshotLike): SupervisedChild[] {
  const ctx = snapshot?.context;
  if (!ctx || !Array.isArray(ctx.specs) || ctx.refs === null || typeof ctx.refs !== 'object') return [];
  return ctx.specs.map((spec) => ({
    id: spec.id,
    systemId: spec.systemId,
    logic: spec.logic,
    restart: spec.restart,
    ref: ctx.refs[spec.id],
    isSupervisor: spec.logic === supervisorMachine,
  }));
}

/** The name a supervisor was started with, from its snapshot. */
export function supervisorNameOf(snapshot: SupervisorSnapshotLike): string | undefined {
  return snapshot?.context?.name;
}

/** Restart counts per child of a supervisor, from its snapshot (a copy). */
export function restartsOf(snapshot: SupervisorSnapshotLike): Record<string, number> {
  return { ...(snapshot?.context?.restarts ?? {}) };
}
