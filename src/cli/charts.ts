/**
 * `orrery charts` (`npm run charts`): writes `visualizations/<name>.mmd` (Mermaid source) and
 * `visualizations/<name>.svg` (elkjs layout rendered by `src/inspector/chart.ts`) for every machine in
 * `machines/index.ts`, into `./visualizations` of the working directory (npm runs it from the package root).
 * `--check` writes nothing and exits 1 when any file is missing or stale (CI runs it). Either way it fails when
 * README.md does not show a machine's statechart.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { AnyStateMachine } from 'xstate';
import { machines } from '../../machines/index.js';
import { layoutMachine, renderSvg, toMermaid } from '../inspector/chart.js';

async function current(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

export async function chartsCommand(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const outDir = join(process.cwd(), 'visualizations');
  const stale: string[] = [];
  for (const [name, machine] of Object.entries(machines) as Array<[string, AnyStateMachine]>) {
    const laidOut = await layoutMachine(machine);
    const files: Array<[string, string]> = [
      [join(outDir, `${name}.mmd`), toMermaid(laidOut.chart)],
      [join(outDir, `${name}.svg`), renderSvg(laidOut)],
    ];
    for (const [path, text] of files) {
      if ((await current(path)) === text) continue;
      stale.push(relative(process.cwd(), path));
      if (!check) await writeFile(path, text);
    }
  }
  const readme = (await current(join(process.cwd(), 'README.md'))) ?? '';
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
