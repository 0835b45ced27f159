import { setup } from 'xstate';

/** A supervised child for tests: CRASH throws in an action, EXIT ends normally. */
export const workerMachine = setup({
  actions: {
    crash: () => {
      throw new Error('worker crashed');
    },
  },
}).createMachine({
  id: 'worker',
  initial: 'working',
  states: {
    working: { on: { CRASH: { actions: 'crash' }, EXIT: 'exited' } },
    exited: { type: 'final' },
  },
});
