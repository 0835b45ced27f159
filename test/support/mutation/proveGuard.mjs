// Proof of the vitest-guarded runner (issue 7 item 18): `node test/support/mutation/proveGuard.mjs` (about 20 s).
// Runs Stryker on one load-time line of fixture/codes.ts twice, with the plain vitest runner and with
// vitest-guarded. The mutants that make codes.ts throw on import (`if (true)`, `===`) must be Survived with the
// plain runner (the spec file collects no tests) and Killed with the guard; exits 1 otherwise.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixture');
const stryker = join(fixture, '..', '..', '..', '..', 'node_modules', '.bin', 'stryker');
const loadTimeThrows = ['true', 'INDEX.size === CODES.length'];

function statuses(guard) {
  execFileSync(stryker, ['run', 'stryker.config.mjs'], {
    cwd: fixture,
    env: { ...process.env, ORRERY_GUARD: guard },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const report = JSON.parse(
    readFileSync(join(fixture, 'reports', guard === 'off' ? 'plain.json' : 'guarded.json')),
  );
  const mutants = Object.values(report.files).flatMap((f) => f.mutants);
  return loadTimeThrows.map((replacement) => mutants.find((m) => m.replacement === replacement)?.status);
}

const plain = statuses('off');
const guarded = statuses('on');
console.log(`load-time throwing mutants ${JSON.stringify(loadTimeThrows)}`);
console.log(`  plain vitest runner: ${plain.join(', ')}`);
console.log(`  vitest-guarded:      ${guarded.join(', ')}`);
const ok = plain.every((s) => s === 'Survived') && guarded.every((s) => s === 'Killed');
console.log(ok ? 'guard proven' : 'UNEXPECTED: guard not proven');
process.exit(ok ? 0 : 1);
