// Test support shipped with Orrery (import from 'orrery/testing').
export { TestClock } from './testClock.js';
