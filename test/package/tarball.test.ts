/**
 * issue 8 item 12: the packed tarball is what a user installs. The repository's tree (tracked and new files, as a
 * clean clone has them: no dist/) is copied to a scratch directory and packed there (`prepack` builds), then:
 * the tarball ships code, LICENSE, README and package.json with a repository field, and neither tests nor bench;
 * every source map points at a file inside the tarball; a scratch project installs the .tgz (npm, preferring the
 * local cache), type-checks a consumer of 'orrery', 'orrery/testing' and 'orrery/tango' with this repository's
 * tsc, and runs `npx orrery --help` and `npx orrery charts` on a machine of its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

let scratch: string;
let packageDir: string; // the unpacked tarball
let consumer: string;
let tarball: string;
let packedFiles: string[];

/** The environment for child npm runs: none of the npm_* variables of an enclosing `npm test`. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  timeout = 180_000,
): { code: number; out: string; stdout: string } {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout });
  const stdout = r.stdout ?? '';
  return { code: r.status ?? 1, stdout, out: `${stdout}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** The files of a clean clone: git's tracked and untracked-but-not-ignored files that exist on disk. */
function treeFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repo,
    encoding: 'utf8',
  });
  return [...new Set(out.split('\0').filter(Boolean))].filter((f) => {
    const path = join(repo, f);
    return existsSync(path) && statSync(path).isFile();
  });
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'orrery-pack-'));
  const clone = join(scratch, 'clone');
  for (const f of treeFiles()) {
    mkdirSync(dirname(join(clone, f)), { recursive: true });
    cpSync(join(repo, f), join(clone, f));
  }
  symlinkSync(join(repo, 'node_modules'), join(clone, 'node_modules'), 'dir');
  const pack = run('npm', ['pack', '--json', '--pack-destination', scratch], clone);
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.out}`);
  const report = JSON.parse(pack.stdout.slice(pack.stdout.search(/^\[/m))) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  tarball = join(scratch, report[0]?.filename as string);
  packedFiles = (report[0]?.files ?? []).map((f) => f.path).sort();
  mkdirSync(join(scratch, 'unpacked'));
  execFileSync('tar', ['-xzf', tarball, '-C', join(scratch, 'unpacked')]);
  packageDir = join(scratch, 'unpacked', 'package');

  consumer = join(scratch, 'consumer');
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  // from the local npm cache only (`npm ci` put xstate, pino, ws, elkjs there); only when something is not cached
  // does npm go to the registry
  const install = (mode: string) =>
    run('npm', ['install', mode, '--no-audit', '--no-fund', '--no-package-lock', tarball], consumer);
  let installed = install('--offline');
  if (installed.code !== 0 && /ENOTCACHED/.test(installed.out)) installed = install('--prefer-offline');
  if (installed.code !== 0) throw new Error(`npm install of the tarball failed:\n${installed.out}`);
}, 300_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the packed tarball (issue 8 item 12)', () => {
  it('issue 8 item 12: npm pack of a clean tree builds (prepack) and ships code, LICENSE, README and the repository field', () => {
    for (const f of [
      'package.json',
      'LICENSE',
      'README.md',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/main.js',
      'dist/src/protocols/tango/index.js',
      'dist/src/protocols/tango/index.d.ts',
      'dist/src/protocols/katcp/index.js',
      'dist/src/protocols/katcp/index.d.ts',
      'dist/src/testing/index.js',
      'dist/src/testing/index.d.ts',
      'visualizations/inspector/index.html',
    ]) {
      expect(packedFiles).toContain(f);
    }
    expect(readFileSync(join(packageDir, 'LICENSE'), 'utf8')).toMatch(
      /^BSD 3-Clause License\n\nCopyright \(c\) \d{4}, The Orrery authors\n/,
    );
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
    expect(manifest.license).toBe('BSD-3-Clause');
    expect(manifest.repository).toMatchObject({
      type: 'git',
      url: expect.stringMatching(/^git\+https:\/\//),
    });
    expect(manifest.bin).toEqual({ orrery: 'dist/src/cli/main.js' });
    expect(manifest.scripts.charts).not.toMatch(/src\/cli/); // the repository's chart upkeep is not the bin
  });

  it('issue 8 item 12: ships what users need and nothing else (no tests, no bench, no dev config)', () => {
    const unexpected = packedFiles.filter(
      (f) =>
        !/^(package\.json|LICENSE|README\.md)$/.test(f) &&
        !/^(dist\/src|dist\/machines|src|machines|visualizations)\//.test(f),
    );
    expect(unexpected).toEqual([]);
    expect(packedFiles.filter((f) => /(^|\/)(test|bench)\//.test(f) || /\.test\.[jt]s$/.test(f))).toEqual([]);
  });

  it('issue 8 item 12: every source map points at files inside the tarball', () => {
    const maps = walk(packageDir).filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(10);
    const dangling: string[] = [];
    for (const map of maps) {
      const { sources = [], sourceRoot = '' } = JSON.parse(readFileSync(map, 'utf8')) as {
        sources?: string[];
        sourceRoot?: string;
      };
      for (const source of sources) {
        const target = resolve(dirname(map), sourceRoot, source);
        if (!target.startsWith(packageDir) || !existsSync(target)) {
          dangling.push(`${relative(packageDir, map)} -> ${source}`);
        }
      }
    }
    expect(dangling).toEqual([]);
  });

  it("issue 8 item 12: a scratch project installs the tarball and type-checks against 'orrery', 'orrery/testing', 'orrery/tango', 'orrery/katcp' and 'orrery/ca'", () => {
    writeFileSync(
      join(consumer, 'consumer.ts'),
      `import { createMachine } from 'xstate';
import { createSystem, InvalidArgumentError, renderStatechart, Status, type StatechartFormat } from 'orrery';
import { TestClock, transitionCoverage } from 'orrery/testing';
import { invokeLrc, type LrcUpdate, ResultCode, SkaDeviceSimulator } from 'orrery/tango';
import { DeviceServer, InspectingClient, KatcpClient, Sensor, type SensorStatus } from 'orrery/katcp';
import { CaServer, Context, type ReadResponse, read as caRead } from 'orrery/ca';
import { DeviceProxy } from 'orrery/tango';

const shutter = createMachine({ id: 'shutter', initial: 'closed', states: { closed: { on: { OPEN: 'open' } }, open: {} } });
const clock = new TestClock();
const system = createSystem({ clock });
const status: Status = new Status({ system, timeout: 5000, name: 'shutter' });
const format: StatechartFormat = 'mmd';
export const chart: Promise<string> = renderStatechart(shutter, { format });
export const coverage = transitionCoverage();
export const device = new SkaDeviceSimulator({ name: 'test/lrc/1', commands: {} });
export const ok: number = ResultCode.OK;
export const updates = (u: LrcUpdate) => u.status;
export const call: typeof invokeLrc = invokeLrc;
export const code: string = new InvalidArgumentError('x').code;
export const katcpServer = new DeviceServer({ clock });
katcpServer.addSensor(new Sensor({ name: 'temp', type: 'float' }));
export const katcp: typeof KatcpClient.connect = KatcpClient.connect;
export const inspecting = (port: number) => new InspectingClient('127.0.0.1', port, { system });
export const nominal: SensorStatus = 'nominal';
// @ts-expect-error a sensor status is one of KATCP's words
export const bogus: SensorStatus = 'green';
// the types are real, not any:
// @ts-expect-error timeout is a number of milliseconds
new Status({ system, timeout: '5s' });
// @ts-expect-error 'png' is not a chart format
renderStatechart(shutter, { format: 'png' });
export const caServer: Promise<CaServer> = CaServer.start({ port: 0, pvs: [{ name: 'x', type: 'double', value: 1 }] });
export const caContext = new Context({ addressList: ['127.0.0.1:5064'], autoAddressList: false, system });
export const caGet: (pv: string) => Promise<ReadResponse> = (pv) => caRead(pv, { timeout: 1000 });
// @ts-expect-error a PV type is one of the CA native types
CaServer.start({ pvs: [{ name: 'y', type: 'quaternion', value: 1 }] });
export const proxy = new DeviceProxy('tango://127.0.0.1:10000/sys/tg_test/1#dbase=no', { system });
status.setFinished();
`,
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(repo, 'node_modules/@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const check = run(process.execPath, [tsc, '-p', 'tsconfig.json'], consumer);
    expect(check.out).toBe('');
    expect(check.code).toBe(0);
  }, 180_000);

  it('issue 8 item 12: npx orrery --help runs from the scratch project; orrery charts draws its own machine', () => {
    const help = run('npx', ['--no-install', 'orrery', '--help'], consumer);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: orrery <command> \[options\]/);
    expect(help.out).toMatch(/charts +draw the statechart of your machine/);

    writeFileSync(
      join(consumer, 'shutter.js'),
      `import { createMachine } from 'xstate';
export const shutterMachine = createMachine({ id: 'shutter', initial: 'closed', states: { closed: { on: { OPEN: 'open' } }, open: {} } });
`,
    );
    const charts = run(
      'npx',
      ['--no-install', 'orrery', 'charts', 'shutter.js#shutterMachine', '--format', 'mmd'],
      consumer,
    );
    expect(charts.out.trim()).toBe('wrote shutterMachine.mmd');
    expect(charts.code).toBe(0);
    expect(readFileSync(join(consumer, 'shutterMachine.mmd'), 'utf8')).toMatch(/closed --> open\s*:\s*OPEN/);
    expect(existsSync(join(consumer, 'visualizations'))).toBe(false);
  }, 180_000);
});
