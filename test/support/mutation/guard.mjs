// The guard of the `vitest-guarded` Stryker test runner (see guardedVitestRunner.mjs), kept free of the runner so
// it can be unit-tested: test/support/mutation/guard.test.ts.
import path from 'node:path';
import { DryRunStatus, TestStatus } from '@stryker-mutator/api/test-runner';

/**
 * Failed files and suites with no failed test below them, one per broken subtree: the outermost that carries an
 * error of its own, or else the one with no failed suite below it to blame.
 */
export function brokenSuites(files) {
  const broken = [];
  const suites = (task) => (task.tasks ?? []).filter((child) => child.type === 'suite');
  const failed = (task) => task.result?.state === 'fail';
  const hasFailedTest = (task) =>
    task.type === 'test' ? failed(task) : (task.tasks ?? []).some((child) => hasFailedTest(child));
  const hasFailedSuite = (suite) => suites(suite).some((child) => failed(child) || hasFailedSuite(child));
  const visit = (suite, names) => {
    const here = typeof suite.filepath === 'string' ? names : [...names, suite.name]; // a file is no suite name
    const ownError = (suite.result?.errors ?? []).length > 0;
    if (failed(suite) && !hasFailedTest(suite) && (ownError || !hasFailedSuite(suite))) {
      broken.push({ suite, names: here });
      return;
    }
    for (const child of suites(suite)) visit(child, here);
  };
  for (const file of files) visit(file, []);
  return broken;
}

/** The runner's result, with a failed test added for each broken file or suite when no test failed. */
export function guardResult(result, files) {
  if (result.status !== DryRunStatus.Complete) return result;
  if (result.tests.some((t) => t.status === TestStatus.Failed)) return result;
  const broken = brokenSuites(files);
  if (broken.length === 0) return result;
  const added = broken.map(({ suite, names }) => {
    const fileName = path.resolve(suite.filepath ?? suite.file?.filepath ?? 'unknown');
    const what = names.length ? `suite "${names.join(' ')}"` : 'test file';
    const error = suite.result?.errors?.[0];
    const file = path.relative(process.cwd(), fileName).replace(/\\/g, '/');
    return {
      id: `${file}#[vitest-guarded] ${what} failed`,
      name: `[vitest-guarded] ${what} failed in ${file}`,
      status: TestStatus.Failed,
      failureMessage: `${what} failed (load, collection or hook error): ${error?.message ?? 'no error message'}`,
      timeSpentMs: suite.result?.duration ?? 0,
      fileName,
    };
  });
  return { ...result, tests: [...result.tests, ...added] };
}
