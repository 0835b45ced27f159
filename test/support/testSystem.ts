/**
 * A system on simulated time per test: `start()` creates a fresh TestClock and a system on it; the system is
 * stopped after each test (registered here, so call `useTestSystem()` at the top level of a test file).
 */
import { afterEach } from 'vitest';
import { createSystem, type OrrerySystem, type SystemOptions } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

export interface TestSystem {
  /** Create a TestClock and a system on it (the options besides the clock go to createSystem). */
  start(options?: Omit<SystemOptions, 'clock'>): OrrerySystem;
  /** The clock of the last start(). */
  readonly clock: TestClock;
  /** The system of the last start(), until it is stopped after the test. */
  readonly system: OrrerySystem | undefined;
}

export function useTestSystem(): TestSystem {
  let system: OrrerySystem | undefined;
  let clock: TestClock | undefined;
  afterEach(async () => {
    await system?.stop();
    system = undefined;
  });
  return {
    start(options = {}) {
      clock = new TestClock();
      system = createSystem({ clock, ...options });
      return system;
    },
    get clock() {
      if (!clock) throw new Error('useTestSystem: start() was not called');
      return clock;
    },
    get system() {
      return system;
    },
  };
}
