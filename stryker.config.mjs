// Mutation testing (issue 7 item 18): `npm run mutation` (not in CI: it takes minutes). One file at a time:
// `npm run mutation -- --mutate src/api/status.ts --tempDirName .stryker-tmp-status --concurrency 1`.
// Tests: vitest.mutation.config.ts (the fast suites). Runner: `vitest-guarded`, the vitest runner plus a guard that
// counts a mutant breaking a test file before its tests exist (a throw at module load) as Killed, not Survived
// (test/support/mutation/guardedVitestRunner.mjs; proof: `node test/support/mutation/proveGuard.mjs`).
// The JSON report is named after the run: reports/mutation/<tempDirName without .stryker-tmp->.json
// (reports/mutation/status.json above; reports/mutation/mutation.json without --tempDirName), so concurrent runs
// with different temp dirs neither share a sandbox nor overwrite each other's report.
function cliValue(flag) {
  const argv = process.argv;
  const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) return undefined;
  return argv[i].startsWith(`${flag}=`) ? argv[i].slice(flag.length + 1) : argv[i + 1];
}
const runName = (cliValue('--tempDirName') ?? '').replace(/^\.?stryker-tmp-?/, '').replace(/[^\w.-]+/g, '_');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest-guarded',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner', './test/support/mutation/guardedVitestRunner.mjs'],
  mutate: [
    'src/inspector/redact.ts',
    'src/api/status.ts',
    'machines/core/supervisor.ts',
    'machines/tango/lrcReducer.ts',
    'machines/tango/lrc.ts',
    'machines/core/status.ts',
    'machines/core/backgroundTask.ts',
  ],
  coverageAnalysis: 'perTest',
  reporters: ['clear-text', 'progress', 'json'],
  // Survived and no-coverage mutants and the score table, without the list of every test.
  clearTextReporter: { reportTests: false, allowColor: false },
  jsonReporter: { fileName: `reports/mutation/${runName || 'mutation'}.json` },
  concurrency: 2,
  // A mutant is Timeout (counted as detected) after timeoutFactor x its tests' dry-run time + timeoutMS. Several
  // runs share 2 cores here: a generous margin keeps a slow-but-finishing mutant from passing as detected.
  timeoutFactor: 2,
  timeoutMS: 15000,
  ignorePatterns: [
    'test-results',
    'reports',
    '.stryker-tmp*',
    'dist',
    'visualizations/*.svg',
    'test/e2e',
    'test/cli',
    'test/examples',
  ],
  cleanTempDir: true,
};
