import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // every core (Vitest's default leaves one idle: on a 2-core machine the suite ran one file at a time, 9 of
    // `.ci/run`'s 11 minutes; two at a time it takes about 6); no test asserts a duration, so sharing cores is safe
    maxWorkers: Math.max(1, availableParallelism()),
  },
});
