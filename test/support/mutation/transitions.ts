/**
 * Mutation runs' stand-in for test/support/transitions.ts (vitest.mutation.config.ts aliases it): the same
 * inspection work, but nothing written. A Stryker sandbox symlinks node_modules, so the real recorder would append
 * transitions taken by mutated machines to the real node_modules/.orrery-transitions (and globalSetup would wipe
 * it under a concurrent `npm test`).
 */
import type { InspectionEvent } from 'xstate';
import { takenTransitions } from '../../../src/testing/transitionCoverage.js';

export const TRANSITIONS_DIR = '';

export function recordTransitions(event: InspectionEvent): void {
  takenTransitions(event);
}

export function flush(): void {}
