/**
 * PST `StreamingTask` (ska_pst.lmc.util) as an XState v5 machine: one run of a consumer that pulls items from a
 * generator and hands each to a handler, until the generator ends, fails, or the task is stopped.
 *
 *   idle ──START──► running ── invoke 'consume' (input: the task's AbortSignal)
 *                     streaming ──STOP──► stopping (entry: abort the signal)
 *                     consume done [stopping] ──► stopped
 *                     consume done ──────────────► exhausted
 *                     consume error ─────────────► failed (error in context)
 *   idle ──STOP──► stopped
 *
 * Stopping aborts the signal the generator was given and waits for the consumer to return (the facade's consumer
 * stops waiting for a pending item when the signal aborts, so this is bounded by one in-flight handler call).
 * One lifecycle per actor: a facade spawns a fresh actor for every `start()`.
 */
import { type ActorRefFrom, assign, fromPromise, type SnapshotFrom, setup, stateIn } from 'xstate';
import { toError } from '../../src/errors.js';

export interface StreamingTaskContext {
  /** Aborted when the task is asked to stop; handed to the consumer (and by it to the generator). */
  controller: AbortController;
  error: Error | null;
}

export type StreamingTaskEvent = { type: 'START' } | { type: 'STOP' };

export type StreamingTaskOutcome = 'stopped' | 'exhausted' | 'failed';

export const streamingTaskMachine = setup({
  types: {
    context: {} as StreamingTaskContext,
    events: {} as StreamingTaskEvent,
  },
  actors: {
    /** Consume the stream until it ends or `signal` aborts; replaced by the facade. */
    consume: fromPromise<void, { signal: AbortSignal }>(async () => {}),
  },
  guards: {
    stopRequested: stateIn('#streamingTask.running.stopping'),
  },
  actions: {
    abortStream: ({ context }) => context.controller.abort(),
    recordError: assign({ error: ({ event }) => toError((event as { error?: unknown }).error) }),
  },
}).createMachine({
  id: 'streamingTask',
  context: () => ({ controller: new AbortController(), error: null }),
  initial: 'idle',
  states: {
    idle: {
      on: { START: 'running', STOP: 'stopped' },
    },
    running: {
      invoke: {
        src: 'consume',
        input: ({ context }) => ({ signal: context.controller.signal }),
        onDone: [{ guard: 'stopRequested', target: 'stopped' }, { target: 'exhausted' }],
        onError: { target: 'failed', actions: 'recordError' },
      },
      initial: 'streaming',
      states: {
        streaming: { on: { STOP: 'stopping' } },
        stopping: { entry: 'abortStream' },
      },
    },
    stopped: { type: 'final' },
    exhausted: { type: 'final' },
    failed: { type: 'final' },
  },
});

export type StreamingTaskActor = ActorRefFrom<typeof streamingTaskMachine>;
export type StreamingTaskSnapshot = SnapshotFrom<typeof streamingTaskMachine>;
