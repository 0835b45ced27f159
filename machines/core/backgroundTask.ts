/**
 * PST `BackgroundTask` (ska_pst.lmc.util) as an XState v5 machine. RunState is carried by tags, so a state name
 * can say what the task is doing while the tag says which RunState that is:
 *
 *   stopped [STOPPED] ──RUN──► starting [STARTING] ──(always)──► running
 *   running:
 *     executing ── invoke 'action' ──done [periodic]──► waiting [RUNNING] ──after(1000/frequency ms)──► executing
 *       busy [RUNNING] ──STOP [finite stopTimeout]──► stoppingBounded [STOPPING]
 *            └─────────STOP────────────────────────► stopping [STOPPING] (waits as long as the action takes)
 *       stoppingBounded ──after(stopTimeout)──► errored (TimeoutError; the action's signal is aborted)
 *       executing ──done [stop requested] / done [one-shot]──► completed
 *     waiting ──STOP──► halting [STOPPING] ──(always)──► completed
 *   action throws/rejects (busy or stopping) ──► errored [ERRORED]
 *   completed [STOPPED] and errored [ERRORED] are final: a task completes exactly once and never runs again.
 *
 * Differences from upstream, on purpose: the wait between periodic runs is an XState delay that STOP interrupts
 * (upstream sleeps `1/frequency` s in a thread); STOPPING waits for an in-flight action, bounded by an optional
 * `stopTimeout` (upstream joins forever). STARTING is transient: in one event loop nothing can run between `run()`
 * and the first action, so it is visible to inspection (microsteps) only, like the halting STOPPING.
 *
 * The action is the invoked actor 'action' (a no-op here); a facade replaces it with `.provide()`.
 */
import { type ActorRefFrom, assign, fromPromise, type SnapshotFrom, setup } from 'xstate';
import { TimeoutError, toError } from '../../src/errors.js';
import { checkDuration, checkFrequency } from './duration.js';

/** PST RunState, numeric values as upstream. */
export const RunState = {
  STOPPED: 1,
  STARTING: 2,
  RUNNING: 3,
  STOPPING: 4,
  ERRORED: 5,
} as const;
export type RunState = (typeof RunState)[keyof typeof RunState];
export type RunStateName = keyof typeof RunState;

export interface BackgroundTaskInput {
  /** Runs per second for a periodic task (a positive finite number); null for a one-shot task. */
  frequency: number | null;
  /**
   * Milliseconds STOPPING waits for an in-flight action before giving up (ERRORED); null or Infinity waits
   * forever (no timer).
   */
  stopTimeout: number | null;
}

export interface BackgroundTaskContext extends BackgroundTaskInput {
  /** Completed runs of the action. */
  runs: number;
  /** STOP arrived while the action was in flight. */
  stopRequested: boolean;
  error: Error | null;
}

export type BackgroundTaskEvent = { type: 'RUN' } | { type: 'STOP' };

export interface BackgroundTaskOutput {
  runs: number;
  error: Error | null;
}

const STATE_NAMES = Object.keys(RunState) as RunStateName[];

/** The RunState of a backgroundTask snapshot (from its tags). */
export function runStateOf(snapshot: { hasTag(tag: string): boolean }): RunState {
  for (const name of STATE_NAMES) if (snapshot.hasTag(name)) return RunState[name];
  return RunState.STOPPED;
}

export const backgroundTaskMachine = setup({
  types: {
    context: {} as BackgroundTaskContext,
    events: {} as BackgroundTaskEvent,
    input: {} as BackgroundTaskInput,
    output: {} as BackgroundTaskOutput,
    tags: {} as RunStateName,
  },
  actors: {
    /**
     * The task's action; replaced by the facade. Resolves true once the action ran, false if it did not start (a
     * stop came first). Its AbortSignal is aborted if the task gives up on it.
     */
    action: fromPromise<boolean, void>(async () => true),
  },
  guards: {
    isPeriodic: ({ context }) => context.frequency !== null,
    stopRequested: ({ context }) => context.stopRequested,
    hasStopTimeout: ({ context }) =>
      context.stopTimeout !== null && context.stopTimeout !== Number.POSITIVE_INFINITY,
  },
  delays: {
    period: ({ context }) => 1000 / (context.frequency ?? 1),
    stopTimeout: ({ context }) => context.stopTimeout ?? 0,
  },
  actions: {
    requestStop: assign({ stopRequested: true }),
    countRun: assign({
      runs: ({ context, event }) => context.runs + ((event as { output?: unknown }).output === false ? 0 : 1),
    }),
    recordError: assign({
      error: ({ event }) => toError((event as { error?: unknown }).error),
    }),
    recordStopTimeout: assign({
      error: ({ context }) =>
        new TimeoutError(`Task did not stop within ${context.stopTimeout} ms; its action was abandoned.`),
    }),
  },
}).createMachine({
  id: 'backgroundTask',
  // bad input fails the actor at once with an InvalidArgumentError (a negative frequency used to spin)
  context: ({ input }) => ({
    frequency: checkFrequency('frequency', input?.frequency, true),
    stopTimeout: checkDuration('stopTimeout', input?.stopTimeout, true),
    runs: 0,
    stopRequested: false,
    error: null,
  }),
  initial: 'stopped',
  states: {
    stopped: {
      tags: 'STOPPED',
      on: { RUN: 'starting' },
    },
    starting: {
      tags: 'STARTING',
      always: 'running',
    },
    running: {
      initial: 'executing',
      states: {
        executing: {
          invoke: {
            src: 'action',
            onDone: [
              { guard: 'stopRequested', target: '#backgroundTask.completed', actions: 'countRun' },
              { guard: 'isPeriodic', target: 'waiting', actions: 'countRun' },
              { target: '#backgroundTask.completed', actions: 'countRun' },
            ],
            onError: { target: '#backgroundTask.errored', actions: 'recordError' },
          },
          initial: 'busy',
          states: {
            busy: {
              tags: 'RUNNING',
              on: {
                STOP: [
                  { guard: 'hasStopTimeout', target: 'stoppingBounded', actions: 'requestStop' },
                  { target: 'stopping', actions: 'requestStop' },
                ],
              },
            },
            /** Waiting for the in-flight action, without a deadline (no timer armed). */
            stopping: { tags: 'STOPPING' },
            /** Waiting for the in-flight action at most `stopTimeout` ms. */
            stoppingBounded: {
              tags: 'STOPPING',
              after: { stopTimeout: { target: '#backgroundTask.errored', actions: 'recordStopTimeout' } },
            },
          },
        },
        waiting: {
          tags: 'RUNNING',
          after: { period: 'executing' },
          on: { STOP: 'halting' },
        },
        halting: {
          tags: 'STOPPING',
          always: '#backgroundTask.completed',
        },
      },
    },
    completed: { type: 'final', tags: 'STOPPED' },
    errored: { type: 'final', tags: 'ERRORED' },
  },
  output: ({ context }) => ({ runs: context.runs, error: context.error }),
});

export type BackgroundTaskActor = ActorRefFrom<typeof backgroundTaskMachine>;
export type BackgroundTaskSnapshot = SnapshotFrom<typeof backgroundTaskMachine>;
