/**
 * The repository's own chart upkeep (`npm run charts`, `npm run charts -- --check`): writes
 * `visualizations/<name>.mmd` (Mermaid source) and `visualizations/<name>.svg` for every machine in
 * `machines/index.ts`, into the repository's `visualizations/`. `--check` writes nothing and exits 1 when any file
 * is missing or stale (CI runs it). Either way it fails when README.md does not show a machine's statechart.
 *
 * Not part of the published `bin`: users draw their own machines with `orrery charts <module>#<export>`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import { machines } from '../../machines/index.js';
import { renderStatechart } from '../../src/charts/renderStatechart.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function current(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

export async function repositoryCharts(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length) {
    console.error(`npm run charts: unknown argument ${unknown[0]} (only --check)`);
    return 2;
  }
  const check = argv.includes('--check');
  const outDir = join(root, 'visualizations');
  const stale: string[] = [];
  for (const [name, machine] of Object.entries(machines) as Array<[string, AnyStateMachine]>) {
    for (const format of ['mmd', 'svg'] as const) {
      const path = join(outDir, `${name}.${format}`);
      const text = await renderStatechart(machine, { format });
      if ((await current(path)) === text) continue;
      stale.push(relative(root, path));
      if (!check) await writeFile(path, text);
    }
  }
  const readme = (await current(join(root, 'README.md'))) ?? '';
  const unlisted = Object.keys(machines).filter((name) => !readme.includes(`(visualizations/${name}.svg)`));
  if (unlisted.length) {
    console.error(`README.md does not show the statecharts of: ${unlisted.join(', ')}`);
    return 1;
  }
  if (check && stale.length > 0) {
    console.error(`stale statecharts (run \`npm run charts\`):\n  ${stale.join('\n  ')}`);
    return 1;
  }
  console.log(!check && stale.length ? `wrote ${stale.join(', ')}` : 'statecharts up to date');
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  repositoryCharts(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
