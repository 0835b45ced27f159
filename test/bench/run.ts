/**
 * `npm run bench`: prints a table of the engine's figures. Never part of `npm test` (no timed assertions).
 * Each case runs in a fresh node process (with --expose-gc for the heap figures), so one case's garbage and heap
 * growth do not slow the next.
 *
 * `npm run bench -- <case> [args...]` runs one case (e.g. `npm run bench -- katcp`); cases that are not part of
 * the default run (`katcp-soak <seconds>`) only run that way.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { caRows } from './ca.bench.js';
import { deadlineRows } from './floor.bench.js';
import { inspectorClientRows } from './inspectorClients.bench.js';
import { katcpRows, katcpSoakRows } from './katcp.bench.js';
import { benchLrc, benchLrcDevices, benchLrcFloor, benchLrcSession, lrcCostRows } from './lrc.bench.js';
import { benchLrcMachine } from './lrcMachine.bench.js';
import { spawnSupervised } from './spawn.bench.js';
import { heapRows, statusInspectorRows, statusRows } from './status.bench.js';
import { tangoRows } from './tango.bench.js';

type Row = [string, string, string];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

const cases: Record<string, (args: string[]) => Promise<Row[]> | Row[]> = {
  status: () => statusRows(),
  'status-inspector': () => statusInspectorRows(),
  'status-heap-10k': () => heapRows(10_000),
  'status-heap-100k': () => heapRows(100_000),
  deadlines: () => deadlineRows(),
  'spawn-1k': () => spawnRows(1_000),
  'spawn-10k': () => spawnRows(10_000),
  'spawn-100k': () => spawnRows(100_000),
  'lrc-devices-v2': () => benchLrcDevices(2),
  'lrc-devices-v1': () => benchLrcDevices(1),
  'lrc-floor-v2': () => benchLrcFloor(2),
  'lrc-floor-v1': () => benchLrcFloor(1),
  'lrc-session-v2': () => benchLrcSession(2),
  'lrc-session-v1': () => benchLrcSession(1),
  'lrc-machine-v2': () => benchLrcMachine(2),
  'lrc-machine-v1': () => benchLrcMachine(1),
  'lrc-v2': () => benchLrc(2, 'perCall'),
  'lrc-v1': () => benchLrc(1, 'perCall'),
  'lrc-v2-cached': () => benchLrc(2, 'cached'),
  'lrc-v1-cached': () => benchLrc(1, 'cached'),
  'inspector-clients': () => inspectorClientRows(),
  katcp: () => katcpRows(),
  ca: (args) => caRows(args),
  tango: (args) => tangoRows(args),
};

function spawnRows(n: number): Row[] {
  const s = spawnSupervised(n);
  return [
    [
      `spawn ${fmt(n)} supervised actors (${s.supervisors} supervisors)`,
      `${fmt(s.spawnMs)} ms`,
      n === 100_000 ? '< 2,000 ms' : '',
    ],
    [`stop ${fmt(n)} supervised actors`, `${fmt(s.stopMs)} ms`, ''],
  ];
}

/** Names that stand for several cases (each still in a process of its own). */
const groups: Record<string, string[]> = {
  lrc: [
    'lrc-devices-v2',
    'lrc-devices-v1',
    'lrc-floor-v2',
    'lrc-floor-v1',
    'lrc-session-v2',
    'lrc-session-v1',
    'lrc-machine-v2',
    'lrc-machine-v1',
    'lrc-v2',
    'lrc-v1',
    'lrc-v2-cached',
    'lrc-v1-cached',
  ],
};

/** Cases run only when named on the command line (long soaks). */
const onDemand: Record<string, (args: string[]) => Promise<Row[]> | Row[]> = {
  'katcp-soak': (args) => katcpSoakRows(args),
};

async function main(): Promise<void> {
  const only = process.argv.indexOf('--case');
  if (only >= 0) {
    // child mode: one case, rows as JSON on stdout (progress, if any, on stderr)
    const name = process.argv[only + 1];
    const run = cases[name] ?? onDemand[name];
    process.stdout.write(JSON.stringify(await run(process.argv.slice(only + 2))));
    return;
  }
  const [named, ...args] = process.argv.slice(2);
  if (named !== undefined && !cases[named] && !onDemand[named] && !groups[named]) {
    const all = [...Object.keys(cases), ...Object.keys(groups), ...Object.keys(onDemand)].join(', ');
    console.error(`bench: unknown case '${named}' (cases: ${all})`);
    process.exitCode = 2;
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const rows: Row[] = [];
  for (const name of named === undefined ? Object.keys(cases) : (groups[named] ?? [named])) {
    const out = execFileSync(process.execPath, ['--expose-gc', self, '--case', name, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    });
    rows.push(...(JSON.parse(out) as Row[]));
  }
  rows.push(...lrcCostRows(rows));
  const w = [0, 1, 2].map((i) =>
    Math.max(...rows.map((r) => r[i].length), ['measure', 'result', 'target'][i].length),
  );
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  console.log(`Orrery benchmark, node ${process.version}, ${new Date().toISOString()}, one process per case`);
  console.log(line(['measure', 'result', 'target']));
  console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

await main();
