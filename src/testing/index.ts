// Test support shipped with Orrery (import from 'orrery/testing').
export { TestClock } from './testClock.js';
export {
  declaredTransitions,
  machineEventTypes,
  type TransitionCoverage,
  takenTransitions,
  transitionCoverage,
  transitionKey,
  transitionRecorder,
} from './transitionCoverage.js';
export { runWalk, type WalkOptions, type WalkStep } from './walk.js';
