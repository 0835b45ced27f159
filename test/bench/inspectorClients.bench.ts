/**
 * Inspector fan-out benchmark (issue 7 item 8): engine throughput (events/s processed by one actor) while the
 * inspector serves 1 page, then 500 pages. The pages are WebSocket clients in a child process that read and
 * discard every frame, so only the server's cost is measured here. Target: 500 clients keep >= 80 % of the
 * one-client throughput.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { assign, setup } from 'xstate';
import { createSystem } from '../../src/engine/system.js';
import { startInspector } from '../../src/inspector/server.js';

const CLIENT_FLAG = '--inspector-clients';

const counter = setup({ types: { context: {} as { n: number } } }).createMachine({
  id: 'benchCounter',
  context: { n: 0 },
  initial: 'idle',
  states: {
    idle: { on: { PING: { target: 'busy', actions: assign({ n: ({ context }) => context.n + 1 }) } } },
    busy: { on: { PING: { target: 'idle', actions: assign({ n: ({ context }) => context.n + 1 }) } } },
  },
});

/** Child mode: open `n` pages on `url`, report once every one got its snapshot, then read and discard. */
function runClients(url: string, n: number): void {
  let ready = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url);
    let hello = false;
    ws.on('message', (data: Buffer) => {
      bytes += data.length;
      if (!hello) {
        hello = true;
        if (++ready === n) process.send?.({ ready });
      }
    });
    // a page the server refused (503 past its maxClients) would leave the parent waiting for ever: told instead
    ws.on('unexpected-response', (_req, res) => {
      process.send?.({ error: `page ${i} refused: HTTP ${res.statusCode}` });
      process.exit(1);
    });
    ws.on('error', (err) => {
      if (!hello) {
        process.send?.({ error: `page ${i}: ${err.message}` });
        process.exit(1);
      }
    });
  }
  process.on('message', (m) => {
    if (m === 'bytes') process.send?.({ bytes });
  });
  process.on('disconnect', () => process.exit(0));
}

/** Events per second one actor processes for `ms`, in bursts of 200 with a yield to the event loop between. */
async function throughput(send: () => void, ms: number): Promise<number> {
  let count = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 200; i++) send();
    count += 200;
    await new Promise((r) => setImmediate(r));
  }
  return (count * 1000) / (performance.now() - t0);
}

/** Engine throughput with `clients` inspector pages connected (0: no inspector at all). */
export async function engineThroughputWithClients(
  clients: number,
  ms = 3000,
): Promise<{ eventsPerSecond: number; bytesToClients: number }> {
  const system = createSystem();
  const actor = system.spawn(counter, { systemId: 'bench' });
  const send = () => actor.send({ type: 'PING' });
  if (clients === 0) {
    await throughput(send, 500);
    const eventsPerSecond = await throughput(send, ms);
    await system.stop();
    return { eventsPerSecond, bytesToClients: 0 };
  }
  // every page admitted (the server's default admits 32)
  const inspector = await startInspector(system, { port: 0, maxClients: clients });
  // the pages stand for browsers on other machines: their process runs at the lowest priority, so that what is
  // measured is the server's cost, not two processes sharing the cores
  const child = spawn(
    'nice',
    [
      '-n',
      '19',
      process.execPath,
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      CLIENT_FLAG,
      `${inspector.url.replace('http', 'ws')}ws`,
      String(clients),
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('message', (m) => {
        const error = (m as { error?: string }).error;
        if (error) reject(new Error(`inspector pages: ${error}`));
        else resolve();
      });
      child.once('exit', (code) => reject(new Error(`client process exited (${code})`)));
    });
    await throughput(send, 500); // warm up, with every page connected
    const eventsPerSecond = await throughput(send, ms);
    child.send('bytes');
    const { bytes } = await new Promise<{ bytes: number }>((resolve) =>
      child.once('message', (m) => resolve(m as { bytes: number })),
    );
    return { eventsPerSecond, bytesToClients: bytes };
  } finally {
    child.disconnect();
    child.kill();
    await inspector.close();
    await system.stop();
  }
}

type Row = [string, string, string];
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

/** Bench rows: engine events/s with 1 and 500 inspector pages, and their ratio. */
export async function inspectorClientRows(rounds = 3): Promise<Row[]> {
  // alternate the cases and keep each one's median: a shared machine's load drifts during the run
  const runs: Record<0 | 1 | 500, number[]> = { 0: [], 1: [], 500: [] };
  for (let r = 0; r < rounds; r++) {
    for (const n of [0, 1, 500] as const)
      runs[n].push((await engineThroughputWithClients(n)).eventsPerSecond);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [none, one, many] = [median(runs[0]), median(runs[1]), median(runs[500])];
  return [
    ['engine events/s, no inspector', `${fmt(none)} /s`, ''],
    ['engine events/s, inspector with 1 page', `${fmt(one)} /s`, ''],
    ['engine events/s, inspector with 500 pages', `${fmt(many)} /s`, ''],
    ['  500 pages vs 1 page', `${((100 * many) / one).toFixed(0)} %`, '>= 80 %'],
  ];
}

if (process.argv[2] === CLIENT_FLAG) runClients(process.argv[3], Number(process.argv[4]));
