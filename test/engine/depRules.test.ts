/**
 * issue 8 item 4: each import rule of .dependency-cruiser.cjs catches a violation. A small fixture tree (one
 * violation per rule, plus the imports the rules allow) is cruised with the project's own config by the same
 * command CI runs (`depcruise src machines --config .dependency-cruiser.cjs`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const depcruise = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

/** path -> source; every import names its target with .js, as the project does. */
const fixture: Record<string, string> = {
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
    include: ['src', 'machines'],
  }),
  'src/errors.ts': 'export class E extends Error {}\n',
  'machines/core/duration.ts': "import { E } from '../../src/errors.js';\nexport const d = E;\n",
  'src/api/facade.ts': "import { w } from '../protocols/alpha/wire.js';\nexport const f = w;\n",
  'src/protocols/alpha/wire.ts': 'export const w = 1;\n',
  'src/protocols/alpha/port.ts': 'export interface Port { x: number }\nexport const live = 1;\n',
  'src/protocols/alpha/session.ts': "import { b } from '../beta/wire.js';\nexport const s = b;\n",
  'src/protocols/beta/wire.ts': 'export const b = 2;\n',
  'src/inspector/page.ts': "import { w } from '../protocols/alpha/wire.js';\nexport const p = w;\n",
  'src/engine/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
  'src/engine/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
  'src/engine/clean.ts': "import { E } from '../errors.js';\nexport const c = E;\n",
  // allowed: xstate, errors, a protocol's wire module, a port for types, the duration validator, other machines
  'machines/alpha/good.ts': [
    "import { setup } from 'xstate';",
    "import { E } from '../../src/errors.js';",
    "import { d } from '../../machines/core/duration.js';",
    "import { w } from '../../src/protocols/alpha/wire.js';",
    "import type { Port } from '../../src/protocols/alpha/port.js';",
    "import { core } from '../core/core.js';",
    'export const good = [setup, E, d, w, core] as unknown as Port;',
    '',
  ].join('\n'),
  'machines/core/core.ts': "import { setup } from 'xstate';\nexport const core = setup;\n",
  // violations
  'machines/alpha/impure.ts': "import { f } from '../../src/api/facade.js';\nexport const i = f;\n",
  'machines/alpha/livePort.ts':
    "import { live } from '../../src/protocols/alpha/port.js';\nexport const l = live;\n",
  'machines/alpha/crossMachine.ts': "import { bm } from '../beta/m.js';\nexport const x = bm;\n",
  'machines/beta/m.ts': 'export const bm = 3;\n',
  'machines/core/usesProtocol.ts':
    "import { w } from '../../src/protocols/alpha/wire.js';\nexport const u = w;\n",
};

let dir: string;
let violations: { rule: string; from: string; to: string }[];

beforeAll(() => {
  // inside the repository, so that `xstate` resolves to node_modules as it does for the real tree
  dir = mkdtempSync(join(root, 'test/engine/.depfixture-'));
  for (const [path, text] of Object.entries(fixture)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  let out: string;
  try {
    out = execFileSync(
      process.execPath,
      [
        depcruise,
        'src',
        'machines',
        '--config',
        join(root, '.dependency-cruiser.cjs'),
        '--output-type',
        'json',
      ],
      { cwd: dir, encoding: 'utf8' },
    );
  } catch (err) {
    // depcruise exits non-zero when it finds violations; its report is still on stdout
    out = (err as { stdout: string }).stdout;
  }
  violations = JSON.parse(out).summary.violations.map(
    (v: { rule: { name: string }; from: string; to: string }) => ({
      rule: v.rule.name,
      from: v.from,
      to: v.to,
    }),
  );
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const by = (rule: string) => violations.filter((v) => v.rule === rule);

describe('import rules', () => {
  it('issue 8 item 4: machines import only xstate, errors, machines and pure protocol modules', () => {
    expect(by('machines-are-pure')).toEqual([
      { rule: 'machines-are-pure', from: 'machines/alpha/impure.ts', to: 'src/api/facade.ts' },
      { rule: 'machines-are-pure', from: 'machines/alpha/livePort.ts', to: 'src/protocols/alpha/port.ts' },
    ]);
    expect(violations.filter((v) => v.from === 'machines/alpha/good.ts')).toEqual([]);
  });

  it('issue 8 item 4: src/engine, src/api and machines/core never import a protocol', () => {
    expect(by('core-never-imports-a-protocol').map((v) => [v.from, v.to])).toEqual([
      ['machines/core/usesProtocol.ts', 'src/protocols/alpha/wire.ts'],
      ['src/api/facade.ts', 'src/protocols/alpha/wire.ts'],
    ]);
  });

  it('issue 8 item 4: a protocol never imports another protocol (sources or machines)', () => {
    expect(by('protocols-are-independent').map((v) => [v.from, v.to])).toEqual([
      ['src/protocols/alpha/session.ts', 'src/protocols/beta/wire.ts'],
    ]);
    expect(by('protocol-machines-are-independent').map((v) => [v.from, v.to])).toEqual([
      ['machines/alpha/crossMachine.ts', 'machines/beta/m.ts'],
    ]);
  });

  it('issue 8 item 4: src/inspector never imports a protocol', () => {
    expect(by('inspector-names-no-protocol').map((v) => [v.from, v.to])).toEqual([
      ['src/inspector/page.ts', 'src/protocols/alpha/wire.ts'],
    ]);
  });

  it('issue 8 item 4: src/engine has no import circle', () => {
    // depcruise reports each circle once
    const circles = by('no-engine-circles');
    expect(circles).toHaveLength(1);
    expect([circles[0].from, circles[0].to].sort()).toEqual(['src/engine/a.ts', 'src/engine/b.ts']);
  });
});
