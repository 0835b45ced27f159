/**
 * ophyd `StatusBase` as an XState v5 machine.
 *
 *   starting ──[timeout set]──► bounded ─┐   (unbounded: the same without the deadline)
 *   bounded | unbounded:                 │
 *     pending ──FINISH [settleTime > 0]──► settling ──after(settle)──► succeeded
 *        ├──FINISH──────────────────────────────────────────────────► succeeded
 *        └──FAIL(error)─────────────────────────────────────────────► failed
 *     bounded ──after(timeout + settleTime)─────────────────────────► timedOut
 *     any active state ──CANCEL(reason)──────────────────────────────► cancelled
 *
 * The failure deadline is `timeout + settleTime` from creation and covers settling too, so a FINISH at t settles
 * at t + settleTime and succeeds iff t < timeout (ophyd's race, `test_race_settle_time_and_timeout`). Settle time
 * delays success only. A deadline that is never (no timeout, or an infinite timeout or settle time) takes the
 * unbounded variant, so no delayed event is scheduled at all; an infinite settle time settles for ever (its
 * delayed event is one that the clocks never arm). The "at most one external completion" rule of ophyd lives in
 * the facade, which owns the caller's call history; the machine only sees legal events. PROGRESS records the
 * latest watcher update.
 */
import { type ActorRefFrom, assign, setup } from 'xstate';
import { StatusTimeoutError } from '../../src/errors.js';

export interface StatusInput {
  /** Milliseconds until the status fails with a timeout; null or Infinity waits for ever. */
  timeout: number | null;
  /** Milliseconds between setFinished() and success; Infinity never succeeds. */
  settleTime: number;
  /** The status' name, for the timeout message (the actor id otherwise). */
  name?: string;
}

export interface StatusProgress {
  current?: number;
  initial?: number;
  target?: number;
  name?: string;
  unit?: string;
  precision?: number;
  /** Fraction remaining, ophyd's MoveStatus convention (1 at start, 0 at target). */
  fraction?: number;
  [key: string]: unknown;
}

export interface StatusContext {
  timeout: number | null;
  settleTime: number;
  name: string | undefined;
  error: Error | null;
  progress: StatusProgress | null;
}

export type StatusEvent =
  | { type: 'FINISH' }
  | { type: 'FAIL'; error: Error }
  | { type: 'CANCEL'; error: Error }
  | { type: 'PROGRESS'; update: StatusProgress };

export type StatusOutcome = 'succeeded' | 'failed' | 'timedOut' | 'cancelled';

/** What a pending or settling status accepts, shared by the bounded and unbounded variants. */
const activeEvents = {
  CANCEL: { target: '#status.cancelled', actions: 'recordError' },
  PROGRESS: { actions: 'recordProgress' },
} as const;

const activeStates = {
  pending: {
    on: {
      FINISH: [{ guard: 'mustSettle', target: 'settling' }, { target: '#status.succeeded' }],
      FAIL: { target: '#status.failed', actions: 'recordError' },
    },
  },
  settling: {
    after: { settle: { target: '#status.succeeded' } },
  },
} as const;

export const statusMachine = setup({
  types: {
    context: {} as StatusContext,
    events: {} as StatusEvent,
    input: {} as StatusInput,
  },
  guards: {
    /** A deadline that can fall due: a timeout is set and timeout + settleTime is finite. */
    hasTimeout: ({ context }) =>
      context.timeout !== null && context.timeout + context.settleTime < Number.POSITIVE_INFINITY,
    mustSettle: ({ context }) => context.settleTime > 0,
  },
  delays: {
    deadline: ({ context }) => (context.timeout ?? 0) + context.settleTime,
    settle: ({ context }) => context.settleTime,
  },
  actions: {
    // only taken on FAIL/CANCEL and on PROGRESS respectively
    recordError: assign({
      error: ({ event }) => (event as Extract<StatusEvent, { error: Error }>).error,
    }),
    recordProgress: assign({
      progress: ({ event }) => (event as Extract<StatusEvent, { type: 'PROGRESS' }>).update,
    }),
    recordTimeout: assign({
      error: ({ context, self }) =>
        new StatusTimeoutError(
          `Status ${context.name === undefined ? self.id : `'${context.name}' (${self.id})`} failed to complete in specified timeout ` +
            `(timeout ${context.timeout} ms + settleTime ${context.settleTime} ms).`,
        ),
    }),
  },
}).createMachine({
  id: 'status',
  context: ({ input }) => ({
    timeout: input.timeout,
    settleTime: input.settleTime,
    name: input.name,
    error: null,
    progress: null,
  }),
  initial: 'starting',
  states: {
    /** Chooses once whether a deadline applies, so a status without timeout arms no timer at all. */
    starting: {
      always: [{ guard: 'hasTimeout', target: 'bounded' }, { target: 'unbounded' }],
    },
    /** Pending or settling, with the failure deadline running. */
    bounded: {
      initial: 'pending',
      after: { deadline: { target: 'timedOut', actions: 'recordTimeout' } },
      on: activeEvents,
      states: activeStates,
    },
    /** Pending or settling, without a deadline. */
    unbounded: {
      initial: 'pending',
      on: activeEvents,
      states: activeStates,
    },
    succeeded: { type: 'final' },
    failed: { type: 'final' },
    timedOut: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

export type StatusActor = ActorRefFrom<typeof statusMachine>;
