/**
 * One Channel Access monitor of a client `Subscription` (caproto threading client's `Subscription`: EVENT_ADD on
 * the first callback, EVENT_CANCEL on removing the last one, re-activation after a reconnection) as an XState v5
 * machine. Monitor updates themselves never pass through it: they go from the circuit to the facade's callbacks.
 *
 *                 ┌────────────────────── DEACTIVATE ───────────────────────┐
 *                 ▼                                                         │
 *   ──► inactive ──ACTIVATE [channel connected]──────────────────────► active ──DEACTIVATE──► inactive
 *          │   └──ACTIVATE [not connected]──► pending ──CONNECTED──►   (entry: sendEventAdd)  (sendEventCancel)
 *          │                                   ▲  │                     │
 *          │                                   │  └──DEACTIVATE──► inactive
 *          │                                   └──────── LOST ──────────┘ (forgetSubscription)
 *   CLOSE from inactive, pending or active ──► closed (final; from active: sendEventCancel).
 *   CONNECTED / LOST in inactive and pending only track the channel (no I/O).
 *
 * `active` means an EVENT_ADD was sent on the channel's current circuit; leaving it through LOST forgets the
 * subscription id there (the circuit or the server channel is gone, nothing to cancel), and the next CONNECTED
 * sends a new EVENT_ADD without any user action (caproto's `needs_reactivation`).
 *
 * Effects are named actions with default no-ops, supplied by the Subscription facade with `.provide()`:
 * `sendEventAdd` (allocate a subscription id on the channel's circuit, route it, send EVENT_ADD),
 * `sendEventCancel` (send EVENT_CANCEL and stop routing), `forgetSubscription` (stop routing only).
 *
 * Differences from upstream, on purpose:
 * - a subscription on an unconnected channel waits in `pending` and sends EVENT_ADD when the channel connects
 *   (caproto queues the request in the circuit's batch; the wire is the same);
 * - there is no 0.1 s re-subscription poll: re-activation is the CONNECTED event itself.
 */
import { assign, setup } from 'xstate';

export interface SubscriptionInput {
  /** Whether the channel is connected when the subscription is made. */
  channelConnected: boolean;
}

export interface SubscriptionContext {
  channelConnected: boolean;
  /** EVENT_ADD requests sent (1 + re-activations). */
  activations: number;
}

export type SubscriptionEvent =
  | { type: 'ACTIVATE' }
  | { type: 'DEACTIVATE' }
  | { type: 'CONNECTED' }
  | { type: 'LOST' }
  | { type: 'CLOSE' };

export type SubscriptionStateName = 'inactive' | 'pending' | 'active' | 'closed';

export const subscriptionMachine = setup({
  types: {
    context: {} as SubscriptionContext,
    events: {} as SubscriptionEvent,
    input: {} as SubscriptionInput,
  },
  actions: {
    sendEventAdd: () => {},
    sendEventCancel: () => {},
    forgetSubscription: () => {},
    markConnected: assign({ channelConnected: true }),
    markLost: assign({ channelConnected: false }),
    countActivation: assign({ activations: ({ context }) => context.activations + 1 }),
  },
  guards: {
    channelConnected: ({ context }) => context.channelConnected,
  },
}).createMachine({
  id: 'caSubscription',
  initial: 'inactive',
  context: ({ input }) => ({ channelConnected: input.channelConnected, activations: 0 }),
  states: {
    inactive: {
      on: {
        ACTIVATE: [{ guard: 'channelConnected', target: 'active' }, { target: 'pending' }],
        CONNECTED: { actions: 'markConnected' },
        LOST: { actions: 'markLost' },
        CLOSE: 'closed',
      },
    },
    pending: {
      on: {
        CONNECTED: { target: 'active', actions: 'markConnected' },
        LOST: { actions: 'markLost' },
        DEACTIVATE: 'inactive',
        CLOSE: 'closed',
      },
    },
    active: {
      entry: ['countActivation', 'sendEventAdd'],
      on: {
        LOST: { target: 'pending', actions: ['markLost', 'forgetSubscription'] },
        DEACTIVATE: { target: 'inactive', actions: 'sendEventCancel' },
        CLOSE: { target: 'closed', actions: 'sendEventCancel' },
      },
    },
    closed: { type: 'final' },
  },
});
