/**
 * PST `TimeoutIterator` (ska_pst.lmc.util) as an XState v5 machine: one pull of the wrapped iterator per NEXT,
 * each bounded by a per-item deadline.
 *
 *   waiting ──NEXT [timeout > 0]──► pullingBounded ─┐ (pulling: the same without a deadline, no timer armed)
 *           └─NEXT───────────────► pulling ────────┤
 *   pulling | pullingBounded ── invoke 'pull' ──done(item)──► waiting (item in context)
 *                                              ├─done(end)──► exhausted
 *                                              └─error──────► failed (the source's error)
 *   pullingBounded ──after(deadline)──► timedOut (TimeoutError)
 *   ABORT (waiting or pulling) ──► aborted
 *   exhausted, failed, timedOut and aborted are final: the iterator ends.
 *
 * Upstream pulls on a thread into an unbounded queue, polls its abort event every `expected_rate` seconds and
 * sleeps `2*expected_rate` before the first item. Here items are pulled on demand (no queue, back-pressure for
 * free), an abort is an event honoured at once, and the first pull's deadline gets `2*expectedRate` of grace
 * instead of a sleep. `timeout = 0` waits forever, as upstream (and `Infinity`, Orrery's never).
 */
import { type ActorRefFrom, assign, fromPromise, type SnapshotFrom, setup } from 'xstate';
import { TimeoutError, toError } from '../../src/errors.js';
import { checkDuration } from './duration.js';

export interface TimeoutIteratorInput {
  /** Milliseconds a pull may take; 0 or Infinity waits forever (no timer). */
  timeout: number;
  /** The producer's period in milliseconds (upstream `expected_rate`); the first pull gets 2x this as grace. */
  expectedRate: number;
}

export interface TimeoutIteratorContext extends TimeoutIteratorInput {
  /** Items delivered so far; the latest is `item`. */
  count: number;
  item: unknown;
  error: Error | null;
}

export type TimeoutIteratorEvent = { type: 'NEXT' } | { type: 'ABORT' };

export type TimeoutIteratorOutcome = 'exhausted' | 'failed' | 'timedOut' | 'aborted';

/** One pull of the source, shared by both pulling states. */
const pull = {
  src: 'pull',
  onDone: [
    { guard: 'isEnd', target: 'exhausted' },
    { target: 'waiting', actions: 'storeItem' },
  ],
  onError: { target: 'failed', actions: 'recordError' },
} as const;

export const timeoutIteratorMachine = setup({
  types: {
    context: {} as TimeoutIteratorContext,
    events: {} as TimeoutIteratorEvent,
    input: {} as TimeoutIteratorInput,
  },
  actors: {
    /** One `next()` of the wrapped iterator; replaced by the facade. */
    pull: fromPromise<IteratorResult<unknown>, void>(async () => ({ done: true, value: undefined })),
  },
  guards: {
    hasTimeout: ({ context }) => context.timeout > 0 && context.timeout !== Number.POSITIVE_INFINITY,
    isEnd: ({ event }) => (event as { output?: IteratorResult<unknown> }).output?.done === true,
  },
  delays: {
    deadline: ({ context }) => context.timeout + (context.count === 0 ? 2 * context.expectedRate : 0),
  },
  actions: {
    storeItem: assign({
      item: ({ event }) => (event as { output?: IteratorResult<unknown> }).output?.value,
      count: ({ context }) => context.count + 1,
    }),
    recordError: assign({ error: ({ event }) => toError((event as { error?: unknown }).error) }),
    recordTimeout: assign({
      error: ({ context }) => new TimeoutError(`No item received within ${context.timeout} ms.`),
    }),
  },
}).createMachine({
  id: 'timeoutIterator',
  // bad input fails the actor at once with an InvalidArgumentError
  context: ({ input }) => ({
    timeout: checkDuration('timeout', input?.timeout, false) ?? 0,
    expectedRate: checkDuration('expectedRate', input?.expectedRate, false) ?? 0,
    count: 0,
    item: undefined,
    error: null,
  }),
  initial: 'waiting',
  on: { ABORT: '.aborted' },
  states: {
    waiting: {
      on: { NEXT: [{ guard: 'hasTimeout', target: 'pullingBounded' }, { target: 'pulling' }] },
    },
    pulling: {
      invoke: pull,
    },
    pullingBounded: {
      invoke: pull,
      after: { deadline: { target: 'timedOut', actions: 'recordTimeout' } },
    },
    exhausted: { type: 'final' },
    failed: { type: 'final' },
    timedOut: { type: 'final' },
    aborted: { type: 'final' },
  },
});

export type TimeoutIteratorActor = ActorRefFrom<typeof timeoutIteratorMachine>;
export type TimeoutIteratorSnapshot = SnapshotFrom<typeof timeoutIteratorMachine>;
