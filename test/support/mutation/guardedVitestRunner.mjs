// Stryker test runner `vitest-guarded` (issue 7 item 18): the vitest runner, plus a guard against a mutant that
// breaks a test file before any of its tests exist.
//
// @stryker-mutator/vitest-runner 9.x builds its result only from the tests vitest collected
// (`ctx.state.getFiles()` -> tests). A test file whose import throws (a mutant in load-time code of a module it
// imports), or whose describe() callback throws while collecting, has no tests: no failure is recorded and the
// mutant is reported Survived although `npm test` fails on it. The guard keeps the runner's result whenever a test
// failed; otherwise, if any test file or suite ended in state `fail` (import, collection or hook error), it adds one
// failed test per such file or suite, so the mutant is Killed (and the dry run on unmutated code fails loudly).

import { commonTokens, declareFactoryPlugin, PluginKind, tokens } from '@stryker-mutator/api/plugin';
import { strykerPlugins as vitestPlugins } from '@stryker-mutator/vitest-runner';
import { guardResult } from './guard.mjs';

const vitestPlugin = vitestPlugins.find((p) => p.kind === PluginKind.TestRunner && p.name === 'vitest');
if (!vitestPlugin)
  throw new Error('vitest-guarded: @stryker-mutator/vitest-runner declares no "vitest" test runner');

function createGuardedVitestRunner(injector) {
  const runner = vitestPlugin.factory(injector);
  const run = runner.run.bind(runner);
  // dryRun() and mutantRun() both go through run(); ctx.state still holds the files of that run afterwards.
  runner.run = async (options) => guardResult(await run(options), runner.ctx.state.getFiles());
  return runner;
}
createGuardedVitestRunner.inject = tokens(commonTokens.injector);

export const strykerPlugins = [
  declareFactoryPlugin(PluginKind.TestRunner, 'vitest-guarded', createGuardedVitestRunner),
];
