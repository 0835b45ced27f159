// Test support shipped with Orrery (import from 'orrery/testing').
export { TestClock } from './testClock.js';
export {
  declaredTransitions,
  machineEventTypes,
  type TransitionCoverage,
  takenTransitions,
  transitionCoverage,
  transitionKey,
} from './transitionCoverage.js';
