/**
 * `orrery charts <module>[#<export>] [--out dir] [--format svg|mmd]`: draws the statechart of any XState machine
 * exported by one of your modules. `<module>` is a path relative to the working directory (`.js`/`.mjs`, or
 * `.ts`/`.mts` when `tsx` is installed in your project or Node strips types itself); `#<export>` names the export
 * (`#default` for the default export); without it every exported machine is drawn. Files are written as
 * `<out>/<export>.<format>` (default: the working directory, format `svg`). Bad input (no module, a module or
 * export that does not exist, a directory, an export that is not a machine, an unknown flag, an --out that is a
 * file) is a one-line error and exit 2; a module that throws while loading, or an --out that cannot be written,
 * exits 1.
 *
 * Orrery's own statecharts (`visualizations/`) are kept by the repository's `npm run charts`, not by this command.
 */

import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AnyStateMachine } from 'xstate';
import { isStateMachine, renderStatechart, type StatechartFormat } from '../charts/renderStatechart.js';
import { InvalidArgumentError, OrreryError } from '../errors.js';
import { parseCommandArgs, usageError } from './options.js';

export const CHARTS_HELP = `usage: orrery charts <module>[#<export>] [--out dir] [--format svg|mmd]

Draws the statechart of an XState machine exported by your module.
  <module>      path of a JS module (or a TS module when tsx is installed), relative to the working directory
  #<export>     the machine's export name (#default for the default export); without it, every exported machine
  --out dir     where to write <export>.svg or <export>.mmd (default: the working directory; created if missing)
  --format      svg (default: an SVG drawing) or mmd (Mermaid stateDiagram-v2 source)
  -h, --help    show this help
example: orrery charts src/shutter.ts#shutterMachine --out docs/charts`;

/** The module given to `orrery charts` could not be loaded (it threw while loading). */
export class ChartModuleLoadError extends OrreryError {
  override readonly code: string = 'ORRERY_CHART_MODULE_LOAD';
}

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);

interface ChartTarget {
  modulePath: string;
  exportName: string | undefined;
}

/** Splits `<module>#<export>`; the module part must be non-empty, the export part (when given) too. */
export function parseTarget(spec: string): ChartTarget {
  const hash = spec.lastIndexOf('#');
  const modulePath = hash < 0 ? spec : spec.slice(0, hash);
  const exportName = hash < 0 ? undefined : spec.slice(hash + 1);
  if (!modulePath)
    throw new InvalidArgumentError(`expected <module>#<export>, got '${spec}' (no module path)`);
  if (exportName === '')
    throw new InvalidArgumentError(`expected <module>#<export>, got '${spec}' (no export name)`);
  return { modulePath, exportName };
}

async function importModule(file: string, cwd: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  if (TS_EXTENSIONS.has(extname(file))) {
    const tsImport = await findTsx(cwd);
    if (tsImport)
      return (await tsImport(url, pathToFileURL(join(cwd, 'index.js')).href)) as Record<string, unknown>;
  }
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new InvalidArgumentError(
        `cannot load ${relative(cwd, file)}: a TypeScript module needs tsx (npm install --save-dev tsx), or give the compiled .js file`,
      );
    }
    throw new ChartModuleLoadError(`${relative(cwd, file)} failed to load: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

type TsImport = (specifier: string, parent: string) => Promise<unknown>;

/** tsx's `tsImport`, from the user's project first, then from beside Orrery; undefined when neither has it. */
async function findTsx(cwd: string): Promise<TsImport | undefined> {
  for (const base of [join(cwd, 'package.json'), fileURLToPath(import.meta.url)]) {
    try {
      // the ESM entry of `tsx/esm/api` (require.resolve would give its CommonJS one)
      const manifestPath = createRequire(base).resolve('tsx/package.json');
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
        exports?: Record<string, { import?: { default?: string } }>;
      };
      const entry = manifest.exports?.['./esm/api']?.import?.default;
      if (!entry) continue;
      const api = (await import(pathToFileURL(join(dirname(manifestPath), entry)).href)) as {
        tsImport?: TsImport;
      };
      if (typeof api.tsImport === 'function') return api.tsImport;
    } catch {
      // not installed there
    }
  }
  return undefined;
}

/**
 * Loads `target` from `cwd` and returns the machines to draw, by export name. Throws `InvalidArgumentError` for a
 * missing module or export, or an export that is not a machine; `ChartModuleLoadError` when the module throws.
 */
export async function loadMachines(
  target: ChartTarget,
  cwd: string = process.cwd(),
): Promise<Array<[string, AnyStateMachine]>> {
  const file = resolve(cwd, target.modulePath);
  if (!existsSync(file))
    throw new InvalidArgumentError(`module not found: ${target.modulePath} (looked for ${file})`);
  // Node refuses a directory import with an error that would pass for the module throwing while it loads (exit 1).
  if (statSync(file).isDirectory())
    throw new InvalidArgumentError(`${target.modulePath} is a directory, not a module`);
  const mod = await importModule(file, cwd);
  if (target.exportName !== undefined) {
    if (!(target.exportName in mod)) {
      const names = Object.keys(mod).filter((k) => k !== '__esModule');
      throw new InvalidArgumentError(
        `${target.modulePath} has no export '${target.exportName}' (its exports: ${names.join(', ') || 'none'})`,
      );
    }
    const value = mod[target.exportName];
    if (!isStateMachine(value)) {
      throw new InvalidArgumentError(
        `${target.modulePath}#${target.exportName} is not an XState machine (from createMachine or setup().createMachine)`,
      );
    }
    return [[chartName(target.exportName, file), value]];
  }
  // named exports first; `export default machine` beside `export { machine }` is drawn once, under its name
  const entries = Object.entries(mod).filter(
    ([name, value]) => name !== '__esModule' && isStateMachine(value),
  );
  const named = entries.filter(([name]) => name !== 'default');
  const unique = [
    ...named,
    ...entries.filter(([name, value]) => name === 'default' && !named.some(([, m]) => m === value)),
  ].map(([name, value]) => [chartName(name, file), value] as [string, AnyStateMachine]);
  if (unique.length === 0) throw new InvalidArgumentError(`${target.modulePath} exports no XState machine`);
  return unique;
}

function chartName(exportName: string, file: string): string {
  return exportName === 'default' ? basename(file, extname(file)) : exportName;
}

export async function chartsCommand(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    'charts',
    argv,
    {
      out: { type: 'string' },
      format: { type: 'string' },
    },
    CHARTS_HELP,
    true,
  );
  if (typeof args === 'number') return args;
  const { positionals } = args;
  const values = args.values as { out?: string; format?: string };
  if (positionals.length !== 1) {
    return usageError(
      'charts',
      positionals.length === 0
        ? 'expected <module>#<export>'
        : `expected one <module>#<export>, got ${positionals.length}`,
    );
  }
  const format = (values.format ?? 'svg') as StatechartFormat;
  if (format !== 'svg' && format !== 'mmd')
    return usageError('charts', `--format must be svg or mmd, got '${values.format}'`);
  if (values.out === '') return usageError('charts', '--out needs a directory');
  const cwd = process.cwd();
  let found: Array<[string, AnyStateMachine]>;
  try {
    found = await loadMachines(parseTarget(positionals[0] as string), cwd);
  } catch (err) {
    if (err instanceof InvalidArgumentError) return usageError('charts', err.message);
    if (err instanceof ChartModuleLoadError) {
      console.error(`orrery charts: ${err.message}`);
      return 1;
    }
    throw err;
  }
  const outDir = resolve(cwd, values.out ?? '.');
  const written: string[] = [];
  try {
    await mkdir(outDir, { recursive: true });
    for (const [name, machine] of found) {
      const path = join(outDir, `${name}.${format}`);
      await writeFile(path, await renderStatechart(machine, { format }));
      written.push(relative(cwd, path) || path);
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // An --out that is a file, or a path through one, is bad usage (exit 2); any other file system error is one
    // line naming the command (exit 1) rather than main.ts's bare 'orrery: EACCES: ...'.
    if (code === 'EEXIST' || code === 'ENOTDIR')
      return usageError('charts', `--out ${values.out ?? '.'} is not a directory`);
    if (typeof code !== 'string') throw err;
    console.error(
      `orrery charts: cannot write into ${relative(cwd, outDir) || outDir}: ${(err as Error).message}`,
    );
    return 1;
  }
  console.log(`wrote ${written.join(', ')}`);
  return 0;
}
