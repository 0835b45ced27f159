/**
 * `npm run charts`: writes `visualizations/<name>.mmd` (Mermaid source) and `visualizations/<name>.svg` (elkjs
 * layout rendered by `src/inspector/chart.ts`) for every machine in `machines/index.ts`.
 * `npm run charts -- --check` writes nothing and exits 1 when any file is missing or stale (CI runs it).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import { machines } from '../machines/index.js';
import { layoutMachine, renderSvg, toMermaid } from '../src/inspector/chart.js';

const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'visualizations');
const check = process.argv.includes('--check');

async function current(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

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

if (check && stale.length > 0) {
  console.error(`stale statecharts (run \`npm run charts\`):\n  ${stale.join('\n  ')}`);
  process.exitCode = 1;
} else if (!check) {
  console.log(stale.length ? `wrote ${stale.join(', ')}` : 'statecharts up to date');
} else {
  console.log('statecharts up to date');
}
