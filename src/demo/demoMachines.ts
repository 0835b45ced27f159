/**
 * Small machines for the demo (`orrery demo`): a telescope mount poller whose context carries a credential (to
 * show redaction in the inspector) and a controller that crashes periodically (to show supervisor restarts).
 */
import { assign, setup } from 'xstate';

export interface MountInput {
  periodMs: number;
  credentials: { user: string; password: string };
}

export const mountPollerMachine = setup({
  types: {
    context: {} as MountInput & { azimuth: number; elevation: number; polls: number },
    input: {} as MountInput,
    events: {} as { type: 'PARK' } | { type: 'TRACK' },
  },
  delays: { period: ({ context }) => context.periodMs },
  actions: {
    step: assign(({ context }) => ({
      polls: context.polls + 1,
      azimuth: Math.round(((context.azimuth + 1.5) % 360) * 10) / 10,
      elevation: Math.round((45 + 30 * Math.sin(context.polls / 10)) * 10) / 10,
    })),
  },
}).createMachine({
  id: 'mountPoller',
  context: ({ input }) => ({ ...input, azimuth: 0, elevation: 45, polls: 0 }),
  initial: 'tracking',
  states: {
    tracking: {
      after: { period: { target: 'tracking', reenter: true, actions: 'step' } },
      on: { PARK: 'parked' },
    },
    parked: { on: { TRACK: 'tracking' } },
  },
});

export interface FlakyInput {
  crashAfterMs: number;
  host: string;
  token: string;
}

export const flakyControllerMachine = setup({
  types: { context: {} as FlakyInput, input: {} as FlakyInput },
  delays: { crash: ({ context }) => context.crashAfterMs },
  actions: {
    fault: ({ context }) => {
      throw new Error(`simulated controller fault on ${context.host}`);
    },
  },
}).createMachine({
  id: 'flakyController',
  context: ({ input }) => ({ ...input }),
  initial: 'connecting',
  states: {
    connecting: { after: { 300: 'online' } },
    online: { after: { crash: 'faulted' } },
    faulted: { entry: 'fault' },
  },
});
