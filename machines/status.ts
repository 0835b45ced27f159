/**
 * ophyd `StatusBase` as an XState v5 machine.
 *
 *   active ── pending ──FINISH [settleTime > 0]──► settling ──after(settle)──► succeeded
 *     │          ├──FINISH───────────────────────────────────────────────────► succeeded
 *     │          └──FAIL(error)──────────────────────────────────────────────► failed
 *     ├──after(timeout + settleTime) [timeout set]───────────────────────────► timedOut
 *     └──CANCEL(reason)──────────────────────────────────────────────────────► cancelled
 *
 * The failure deadline is `timeout + settleTime` from creation and covers settling too, so a FINISH at t settles
 * at t + settleTime and succeeds iff t < timeout (ophyd's race, `test_race_settle_time_and_timeout`). Settle time
 * delays success only. The "at most one external completion" rule of ophyd lives in the facade, which owns the
 * caller's call history; the machine only sees legal events. PROGRESS records the latest watcher update.
 */
import { type ActorRefFrom, assign, setup } from 'xstate';
import { StatusTimeoutError } from '../src/errors.js';

export interface StatusInput {
  /** Milliseconds until the status fails with a timeout; null waits forever. */
  timeout: number | null;
  /** Milliseconds between setFinished() and success. */
  settleTime: number;
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
  error: Error | null;
  progress: StatusProgress | null;
}

export type StatusEvent =
  | { type: 'FINISH' }
  | { type: 'FAIL'; error: Error }
  | { type: 'CANCEL'; error: Error }
  | { type: 'PROGRESS'; update: StatusProgress };

export type StatusOutcome = 'succeeded' | 'failed' | 'timedOut' | 'cancelled';


export const statusMachine = setup({
  types: {
    context: {} as StatusContext,
    events: {} as StatusEvent,
    input: {} as StatusInput,
  },
  guards: {
    hasTimeout: ({ context }) => context.timeout !== null,
    mustSettle: ({ context }) => context.settleTime > 0,
  },
  delays: {
    deadline: ({ context }) => (context.timeout ?? 0) + context.settleTime,
    settle: ({ context }) => context.settleTime,
  },
  actions: {
    recordError: assign({
      error: ({ event }) => (event.type === 'FAIL' || event.type === 'CANCEL' ? event.error : null),
    }),
    recordProgress: assign({
      progress: ({ event }) => (event.type === 'PROGRESS' ? event.update : null),
    }),
    recordTimeout: assign({
      error: ({ context, self }) =>
        new StatusTimeoutError(
          `Status ${self.id} failed to complete in specified timeout ` +
            `(timeout ${context.timeout} ms + settleTime ${context.settleTime} ms).`,
        ),
    }),
  },
}).createMachine({
  id: 'status',
  context: ({ input }) => ({ timeout: input.timeout, settleTime: input.settleTime, error: null, progress: null }),
  initial: 'active',
  states: {
    active: {
      initial: 'pending',
      after: { deadline: { guard: 'hasTimeout', target: 'timedOut', actions: 'recordTimeout' } },
      on: {
        CANCEL: { target: 'cancelled', actions: 'recordError' },
        PROGRESS: { actions: 'recordProgress' },
      },
      states: {
        pending: {
          on: {
            FINISH: [{ guard: 'mustSettle', target: 'settling' }, { target: '#status.succeeded' }],
            FAIL: { target: '#status.failed', actions: 'recordError' },
          },
        },
        settling: {
          after: { settle: { target: '#status.succeeded' } },
        },
      },
    },
    succeeded: { type: 'final' },
    failed: { type: 'final' },
    timedOut: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

export type StatusActor = ActorRefFrom<typeof statusMachine>;
