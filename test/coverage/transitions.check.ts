/**
 * Transition coverage: every declared transition of every machine in `machines/index.ts` (as `xstate/graph`'s
 * `toDirectedGraph` finds them) must have been taken by at least one test of the preceding `vitest run`
 * (recorded by test/support/transitions.ts). Run by `npm test` after the main suite.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { machines } from '../../machines/index.js';
import { declaredTransitions } from '../../src/testing/transitionCoverage.js';
import { TRANSITIONS_DIR } from '../support/transitions.js';

function taken(): Set<string> {
  const keys = new Set<string>();
  let files: string[] = [];
  try {
    files = readdirSync(TRANSITIONS_DIR);
  } catch {
    // no records at all: every transition is reported missing below
  }
  for (const f of files) {
    for (const line of readFileSync(join(TRANSITIONS_DIR, f), 'utf8').split('\n')) if (line) keys.add(line);
  }
  return keys;
}

describe('transition coverage', () => {
  const seen = taken();
  for (const [name, machine] of Object.entries(machines)) {
    it(`every declared transition of '${name}' is taken by some test`, () => {
      const all = declaredTransitions(machine as never);
      expect(all.size).toBeGreaterThan(0);
      const missing = [...all].filter(([key]) => !seen.has(key)).map(([, label]) => label);
      expect(missing, `untaken transitions of ${name}`).toEqual([]);
    });
  }
});
