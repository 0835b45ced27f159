import { DryRunStatus, TestStatus } from '@stryker-mutator/api/test-runner';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM module without types (loaded by Stryker as a plugin helper)
import { guardResult } from './guard.mjs';

// Vitest task trees as the Stryker vitest runner sees them after a run (only the fields the guard reads).
const file = (name: string, state: string, tasks: object[] = [], message?: string) => ({
  type: 'suite',
  name,
  filepath: `/repo/${name}`,
  result: { state, errors: message ? [{ message }] : [] },
  tasks,
});
const test = (name: string, state: string) => ({ type: 'test', name, result: { state } });
const passed = { id: 'a.test.ts#ok', name: 'ok', status: TestStatus.Success, timeSpentMs: 1 };
const complete = (tests: object[]) => ({ status: DryRunStatus.Complete, tests });

describe('vitest-guarded (issue 7 item 18: a mutant that makes a module throw at load is Killed)', () => {
  it('issue 7 item 18: a test file whose import threw (no tests collected) becomes a failed test', () => {
    const files = [
      file('a.test.ts', 'pass', [test('ok', 'pass')]),
      file('b.test.ts', 'fail', [], 'boom at load'),
    ];
    const result = guardResult(complete([passed]), files);
    expect(result.status).toBe(DryRunStatus.Complete);
    expect(result.tests).toHaveLength(2);
    expect(result.tests[1]).toMatchObject({
      status: TestStatus.Failed,
      failureMessage: expect.stringContaining('boom at load'),
      fileName: '/repo/b.test.ts',
    });
  });

  it('issue 7 item 18: a describe() whose callback threw while collecting becomes a failed test', () => {
    const broken = {
      type: 'suite',
      name: 'inner',
      result: { state: 'fail', errors: [{ message: 'collect' }] },
    };
    const files = [file('a.test.ts', 'fail', [{ type: 'suite', name: 'outer', tasks: [broken] }])];
    const [added] = guardResult(complete([]), files).tests;
    expect(added).toMatchObject({
      status: TestStatus.Failed,
      failureMessage: expect.stringContaining('collect'),
    });
    expect(added.name).toContain('suite "outer inner"');
  });

  it('issue 7 item 18: results with a failed test, errors, or only passing files are left as they are', () => {
    const failedTest = { ...passed, status: TestStatus.Failed, failureMessage: 'x' };
    const brokenFiles = [file('b.test.ts', 'fail')];
    const withFailure = complete([failedTest]);
    expect(guardResult(withFailure, brokenFiles)).toBe(withFailure);
    const error = { status: DryRunStatus.Error, errorMessage: 'unhandled' };
    expect(guardResult(error, brokenFiles)).toBe(error);
    const fine = complete([passed]);
    expect(guardResult(fine, [file('a.test.ts', 'pass', [test('ok', 'pass')])])).toBe(fine);
  });
});
