import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

// Mutation runs only (stryker.config.mjs, `npm run mutation`): the fast suites (core, engine, tango, inspector, testing; not e2e,
// cli, examples or the transition-coverage check), property tests at ORRERY_PROPERTY_RUNS runs (200 unless set),
// transitions inspected but not recorded (test/support/mutation/transitions.ts), and a vite cache of its own so
// concurrent Stryker sandboxes (which symlink node_modules) do not share one. ORRERY_MUTATION_EXCLUDE (globs, comma
// separated) leaves test files out, e.g. another helper's work in progress that fails the initial run.
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  cacheDir: here('.stryker-tmp-vite'),
  resolve: {
    alias: [{ find: '../support/transitions.js', replacement: here('test/support/mutation/transitions.ts') }],
  },
  test: {
    include: [
      'test/core/**/*.test.ts',
      'test/engine/**/*.test.ts',
      'test/tango/**/*.test.ts',
      'test/inspector/**/*.test.ts',
      'test/testing/**/*.test.ts',
    ],
    exclude: [
      ...configDefaults.exclude,
      ...(process.env.ORRERY_MUTATION_EXCLUDE ?? '')
        .split(',')
        .map((glob) => glob.trim())
        .filter(Boolean),
    ],
    setupFiles: ['test/support/mutation/setup.ts'],
    env: { ORRERY_PROPERTY_RUNS: process.env.ORRERY_PROPERTY_RUNS ?? '200' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
