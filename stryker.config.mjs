// Mutation testing (issue 7 item 18): `npm run mutation` (not in CI: it takes minutes). One file at a time:
// `npm run mutation -- --mutate src/api/status.ts --tempDirName .stryker-tmp-status`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'src/inspector/redact.ts',
    'src/api/status.ts',
    'machines/supervisor.ts',
    'machines/lrcReducer.ts',
    'machines/lrc.ts',
    'machines/status.ts',
    'machines/backgroundTask.ts',
  ],
  coverageAnalysis: 'perTest',
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  concurrency: 2,
  timeoutMS: 10000,
  ignorePatterns: ['test-results', 'reports', '.stryker-tmp*', 'dist', 'visualizations/*.svg'],
  cleanTempDir: true,
};
