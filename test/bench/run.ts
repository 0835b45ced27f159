/**
 * `npm run bench`: prints a table of the engine's figures. Never part of `npm test` (no timed assertions).
 * Run with --expose-gc for the heap figures.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnSupervised } from './spawn.bench.js';
import {
  bareXStateLifecyclesPerSecond,
  pendingStatusHeap,
  statusLifecyclesPerSecond,
} from './status.bench.js';

type Row = [string, string, string];
const rows: Row[] = [];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

function section(): void {
  const lps = statusLifecyclesPerSecond();
  rows.push(['Status create+finish', `${fmt(lps)} /s`, '>= 200,000 /s']);
  rows.push(['  same machine, bare XState actors (floor)', `${fmt(bareXStateLifecyclesPerSecond())} /s`, '']);
  for (const n of [10_000, 100_000]) {
    const h = pendingStatusHeap(n);
    rows.push([
      `heap per pending Status @ ${fmt(n)}`,
      `${fmt(h.bytesPerStatus)} B`,
      n === 100_000 ? `total < 1 GiB (${fmt(h.heapMiB)} MiB heap)` : '',
    ]);
    rows.push([
      `create ${fmt(n)} pending Status`,
      `${fmt(h.createMs)} ms`,
      n === 100_000 ? '< 2,000 ms' : '',
    ]);
  }
  for (const n of [1_000, 10_000, 100_000]) {
    const s = spawnSupervised(n);
    rows.push([
      `spawn ${fmt(n)} supervised actors (${s.supervisors} supervisors)`,
      `${fmt(s.spawnMs)} ms`,
      n === 100_000 ? '< 2,000 ms' : '',
    ]);
    rows.push([`stop ${fmt(n)} supervised actors`, `${fmt(s.stopMs)} ms`, '']);
  }
}

async function main(): Promise<void> {
  if (!(globalThis as { gc?: unknown }).gc) console.warn('run with --expose-gc for heap figures');
  section();
  const lrc = fileURLToPath(new URL('./lrc.bench.js', import.meta.url));
  if (existsSync(lrc)) {
    const { benchLrc } = await import(lrc);
    const figures: Record<string, string | number> = await benchLrc();
    for (const [k, v] of Object.entries(figures)) rows.push([k, String(v), '']);
  }
  const w = [0, 1, 2].map((i) =>
    Math.max(...rows.map((r) => r[i].length), ['measure', 'result', 'target'][i].length),
  );
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  console.log(`Orrery benchmark, node ${process.version}, ${new Date().toISOString()}`);
  console.log(line(['measure', 'result', 'target']));
  console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

await main();
