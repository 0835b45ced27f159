/**
 * issue 8 item 6: `orrery charts <module>#<export> [--out dir] [--format svg|mmd]` draws the user's own machine, run
 * as a user runs it (node + tsx on src/cli/main.ts) from inside a scratch project; `renderStatechart` from
 * 'orrery' is the same renderer.
 */
import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { InvalidArgumentError, renderStatechart, statusMachine } from '../../src/index.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const main = join(repo, 'src/cli/main.ts');

const SHUTTER_JS = `import { createMachine } from 'xstate';
export const shutterMachine = createMachine({
  id: 'shutter',
  initial: 'closed',
  states: {
    closed: { on: { OPEN: 'opening' } },
    opening: { after: { 500: 'open' }, on: { FAULT: 'fault' } },
    open: { on: { CLOSE: 'closed' } },
    fault: { type: 'final' },
  },
});
export const notAMachine = { initial: 'closed' };
export default shutterMachine;
`;

const MOUNT_TS = `import { setup } from 'xstate';
type MountEvent = { type: 'SLEW'; ra: number } | { type: 'ARRIVED' };
export const mountMachine = setup({ types: {} as { events: MountEvent } }).createMachine({
  id: 'mount',
  initial: 'parked',
  states: { parked: { on: { SLEW: 'slewing' } }, slewing: { on: { ARRIVED: 'tracking' } }, tracking: {} },
});
`;

let project: string;

function orrery(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', main, ...args],
      { cwd: project, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

beforeAll(() => {
  // a user's project: its own machines, xstate (and tsx) in its node_modules, no visualizations/ of Orrery's
  project = mkdtempSync(join(tmpdir(), 'orrery-charts-'));
  symlinkSync(join(repo, 'node_modules'), join(project, 'node_modules'), 'dir');
  mkdirSync(join(project, 'src'));
  writeFileSync(join(project, 'package.json'), '{"name":"user-project","private":true,"type":"module"}\n');
  writeFileSync(join(project, 'src/shutter.js'), SHUTTER_JS);
  writeFileSync(join(project, 'src/mount.ts'), MOUNT_TS);
  writeFileSync(join(project, 'src/broken.js'), "throw new Error('no config file');\n");
  writeFileSync(join(project, 'README.md'), '# my beamline\n');
});

afterAll(() => {
  rmSync(project, { recursive: true, force: true });
});

const userFiles = () => readdirSync(project).sort();

describe('orrery charts (issue 8 item 6)', () => {
  it('issue 8 item 6: charts --help prints the help and exits 0 without drawing anything', async () => {
    const before = userFiles();
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await orrery('charts', flag);
      expect(code).toBe(0);
      expect(stdout).toMatch(
        /^usage: orrery charts <module>\[#<export>\] \[--out dir\] \[--format svg\|mmd\]/,
      );
      expect(stderr).toBe('');
    }
    // even with a target, --help only prints help
    expect((await orrery('charts', 'src/shutter.js#shutterMachine', '--help')).code).toBe(0);
    expect(userFiles()).toEqual(before);
  });

  it("issue 8 item 6: draws the user's JS machine as SVG into the working directory, and nothing of Orrery's", async () => {
    const { code, stdout } = await orrery('charts', 'src/shutter.js#shutterMachine');
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('wrote shutterMachine.svg');
    const svg = readFileSync(join(project, 'shutterMachine.svg'), 'utf8');
    expect(svg).toMatch(
      /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" class="orrery-chart" data-machine="shutter"/,
    );
    for (const state of ['closed', 'opening', 'open', 'fault']) expect(svg).toContain(`data-path="${state}"`);
    // the same bytes as the public renderer
    const mod = await import(join(project, 'src/shutter.js'));
    expect(svg).toBe(await renderStatechart(mod.shutterMachine));
    // no Orrery chart files, no README check in the user's project
    expect(userFiles()).not.toContain('visualizations');
    expect(readFileSync(join(project, 'README.md'), 'utf8')).toBe('# my beamline\n');
    rmSync(join(project, 'shutterMachine.svg'));
  });

  it('issue 8 item 6: --out dir --format mmd writes Mermaid source into a created directory', async () => {
    const { code, stdout } = await orrery(
      'charts',
      'src/shutter.js#shutterMachine',
      '--out',
      'docs/charts',
      '--format',
      'mmd',
    );
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(`wrote ${join('docs', 'charts', 'shutterMachine.mmd')}`);
    const mmd = readFileSync(join(project, 'docs/charts/shutterMachine.mmd'), 'utf8');
    expect(mmd).toMatch(/^stateDiagram-v2/);
    expect(mmd).toMatch(/closed --> opening\s*:\s*OPEN/);
    rmSync(join(project, 'docs'), { recursive: true });
  });

  it('issue 8 item 6: a TypeScript module (setup().createMachine) is loaded through tsx; #default and no export name work', async () => {
    expect((await orrery('charts', 'src/mount.ts#mountMachine', '--format=mmd', '--out=out')).code).toBe(0);
    expect(readFileSync(join(project, 'out/mountMachine.mmd'), 'utf8')).toMatch(
      /parked --> slewing\s*:\s*SLEW/,
    );
    // #default is named after the module; without #export every exported machine is drawn once
    expect((await orrery('charts', 'src/shutter.js#default', '--out', 'out')).stdout.trim()).toBe(
      `wrote ${join('out', 'shutter.svg')}`,
    );
    expect((await orrery('charts', 'src/shutter.js', '--out', 'out')).stdout.trim()).toBe(
      `wrote ${join('out', 'shutterMachine.svg')}`,
    );
    rmSync(join(project, 'out'), { recursive: true });
  });

  it('issue 8 item 6: a missing module or export, a non-machine, bad flags: one clear line, exit 2, nothing written', async () => {
    const before = userFiles();
    const cases: Array<[string[], RegExp]> = [
      [
        ['src/nope.js#m'],
        /^orrery charts: module not found: src\/nope\.js \(looked for .*nope\.js\); see 'orrery charts --help'\n$/,
      ],
      [
        ['src/shutter.js#doorMachine'],
        /has no export 'doorMachine' \(its exports: default, notAMachine, shutterMachine\)/,
      ],
      [['src/shutter.js#notAMachine'], /src\/shutter\.js#notAMachine is not an XState machine/],
      [['src/shutter.js#'], /no export name/],
      [['#shutterMachine'], /no module path/],
      [[], /expected <module>#<export>/],
      [['a.js', 'b.js'], /expected one <module>#<export>, got 2/],
      [['src/shutter.js#shutterMachine', '--format', 'png'], /--format must be svg or mmd, got 'png'/],
      [['src/shutter.js#shutterMachine', '--check'], /Unknown option '--check'/],
      [['src/shutter.js#shutterMachine', '--out'], /--out/],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await orrery('charts', ...args);
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(stderr).toMatch(message);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stdout).toBe('');
    }
    expect(userFiles()).toEqual(before);
  });

  it('an --out that is a file (or under one) and a module path that is a directory: one usage line, exit 2', async () => {
    const before = userFiles();
    const cases: Array<[string[], RegExp]> = [
      [
        ['src/shutter.js#shutterMachine', '--out', 'README.md'],
        /^orrery charts: --out README\.md is not a directory; see 'orrery charts --help'\n$/,
      ],
      [
        ['src/shutter.js#shutterMachine', '--out', 'README.md/charts'],
        /^orrery charts: --out README\.md\/charts is not a directory; see 'orrery charts --help'\n$/,
      ],
      [
        ['src#shutterMachine'],
        /^orrery charts: src is a directory, not a module; see 'orrery charts --help'\n$/,
      ],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await orrery('charts', ...args);
      expect({ args, code, stderr }).toEqual({ args, code: 2, stderr: expect.stringMatching(message) });
      expect(stdout).toBe('');
    }
    expect(userFiles()).toEqual(before);
    expect(readFileSync(join(project, 'README.md'), 'utf8')).toBe('# my beamline\n');
  });

  it('issue 8 item 6: a module that throws while loading exits 1 with its error', async () => {
    const { code, stderr } = await orrery('charts', 'src/broken.js#m');
    expect(code).toBe(1);
    expect(stderr).toMatch(/^orrery charts: src\/broken\.js failed to load: no config file/);
  });
});

describe('renderStatechart (issue 8 item 6)', () => {
  it("issue 8 item 6: renderStatechart from 'orrery' draws SVG by default and Mermaid with format 'mmd', as visualizations/ holds", async () => {
    expect(await renderStatechart(statusMachine)).toBe(
      readFileSync(join(repo, 'visualizations/status.svg'), 'utf8'),
    );
    expect(await renderStatechart(statusMachine, { format: 'svg' })).toBe(
      readFileSync(join(repo, 'visualizations/status.svg'), 'utf8'),
    );
    expect(await renderStatechart(statusMachine, { format: 'mmd' })).toBe(
      readFileSync(join(repo, 'visualizations/status.mmd'), 'utf8'),
    );
    const own = createMachine({
      id: 'door',
      initial: 'shut',
      states: { shut: { on: { OPEN: 'ajar' } }, ajar: {} },
    });
    expect(await renderStatechart(own, { format: 'mmd' })).toMatch(/shut --> ajar\s*:\s*OPEN/);
  });

  it('issue 8 item 6: renderStatechart rejects a non-machine and an unknown format with InvalidArgumentError', async () => {
    for (const bad of [undefined, null, 42, 'status', {}, { config: {} }, () => statusMachine]) {
      const err = await renderStatechart(bad as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).code).toBe('ORRERY_INVALID_ARGUMENT');
      expect((err as Error).message).toMatch(/^renderStatechart: expected an XState machine/);
    }
    await expect(renderStatechart(statusMachine, { format: 'png' as never })).rejects.toThrow(
      /^renderStatechart: format must be 'svg' or 'mmd', got "png"$/,
    );
    await expect(renderStatechart(statusMachine, null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
