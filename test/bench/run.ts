/**
 * `npm run bench`: prints a table of the engine's figures. Never part of `npm test` (no timed assertions).
 * Each case runs in a fresh node process (with --expose-gc for the heap figures), so one case's garbage and heap
 * growth do not slow the next.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inspectorClientRows } from './inspectorClients.bench.js';
import { benchLrc } from './lrc.bench.js';
import { spawnSupervised } from './spawn.bench.js';
import {
  bareXStateLifecyclesPerSecond,
  pendingStatusHeap,
  statusLifecyclesPerSecond,
} from './status.bench.js';

type Row = [string, string, string];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

const cases: Record<string, () => Promise<Row[]> | Row[]> = {
  status: () => [
    ['Status create+finish', `${fmt(statusLifecyclesPerSecond())} /s`, '>= 200,000 /s'],
    ['  same machine, bare XState actors (floor)', `${fmt(bareXStateLifecyclesPerSecond())} /s`, ''],
  ],
  'status-heap-10k': () => heapRows(10_000),
  'status-heap-100k': () => heapRows(100_000),
  'spawn-1k': () => spawnRows(1_000),
  'spawn-10k': () => spawnRows(10_000),
  'spawn-100k': () => spawnRows(100_000),
  lrc: async () => Object.entries(await benchLrc()).map(([k, v]): Row => [k, String(v), '']),
  'inspector-clients': () => inspectorClientRows(),
};

function heapRows(n: number): Row[] {
  const h = pendingStatusHeap(n);
  const big = n === 100_000;
  return [
    [
      `heap per pending Status @ ${fmt(n)}`,
      `${fmt(h.bytesPerStatus)} B`,
      big ? `total < 1 GiB (${fmt(h.heapMiB)} MiB heap)` : '',
    ],
    [`create ${fmt(n)} pending Status`, `${fmt(h.createMs)} ms`, big ? '< 2,000 ms' : ''],
  ];
}

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

async function main(): Promise<void> {
  const only = process.argv.indexOf('--case');
  if (only >= 0) {
    // child mode: one case, rows as JSON on stdout
    process.stdout.write(JSON.stringify(await cases[process.argv[only + 1]]()));
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const rows: Row[] = [];
  for (const name of Object.keys(cases)) {
    const out = execFileSync(process.execPath, ['--expose-gc', self, '--case', name], { encoding: 'utf8' });
    rows.push(...(JSON.parse(out) as Row[]));
  }
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
