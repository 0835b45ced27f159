/**
 * A streaming command behind a reader that does not keep up (`orrery ca monitor PV | less`, paused): a pipe is
 * written asynchronously on Linux, so what the reader has not taken waits in the process. Past a bound of pending
 * output the command drops its lines, and once the reader has caught up says on stderr how many it dropped; the
 * lines that reach stdout are whole. One-shot output (stdoutLine) is not bounded.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PENDING_BYTES, streamingStdout } from '../../src/cli/streamingOutput.js';
import { CaServer } from '../../src/protocols/ca/server.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A stdout whose reader takes nothing until `drain()`: what is written waits, counted in writableLength. */
class PausedPipe extends EventEmitter {
  readonly chunks: string[] = [];
  writableLength = 0;
  writableNeedDrain = false;
  write(text: string): boolean {
    this.chunks.push(text);
    this.writableLength += Buffer.byteLength(text);
    if (this.writableLength >= 16_384) this.writableNeedDrain = true;
    return !this.writableNeedDrain;
  }
  /** The reader takes everything. */
  drain(): void {
    this.writableLength = 0;
    if (this.writableNeedDrain) {
      this.writableNeedDrain = false;
      this.emit('drain');
    }
  }
}

describe('streaming output to a slow reader', () => {
  it('past the bound lines are dropped until the reader caught up, then one note says how many', () => {
    const pipe = new PausedPipe();
    const notes: string[] = [];
    const out = streamingStdout('ca monitor', pipe, (l) => notes.push(l));
    const line = `${'x'.repeat(1023)}`;
    const fill = Math.ceil(MAX_PENDING_BYTES / 1024);
    for (let i = 0; i < fill; i++) out.line(line);
    expect(pipe.chunks).toHaveLength(fill);
    // past the bound: dropped, whole lines (a multi-line chunk counts its lines)
    out.line(line);
    out.write('a\nb\n');
    expect(pipe.chunks).toHaveLength(fill);
    expect(notes).toEqual([]);
    pipe.drain();
    expect(notes).toEqual([
      'orrery ca monitor: 3 lines dropped: standard output was not read fast enough (over 1 MiB waiting)',
    ]);
    out.line('after');
    expect(pipe.chunks.at(-1)).toBe('after\n');
    // caught up and behind again: a new count
    pipe.writableLength = MAX_PENDING_BYTES;
    pipe.writableNeedDrain = true;
    out.line('lost');
    pipe.drain();
    expect(notes.at(-1)).toMatch(/: 1 line dropped:/);
  });

  it('ca monitor behind a paused pipe: its pending output stays bounded, and stderr says what was dropped', async () => {
    const server = await CaServer.start({
      port: 0,
      interfaces: ['127.0.0.1'],
      pvs: [{ name: 'slow:wave', type: 'double', value: new Float64Array(2000) }],
    });
    cleanups.push(() => server.close());
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'ca', 'monitor', 'slow:wave'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, EPICS_CA_ADDR_LIST: `127.0.0.1:${server.port}`, EPICS_CA_AUTO_ADDR_LIST: 'NO' },
    });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // the first update (the value at connection), then the reader pauses
    let stdout = await new Promise<string>((resolve) => child.stdout.once('data', (d) => resolve(String(d))));
    child.stdout.pause();
    // about 10 kB a line: 800 updates are 8 MB the paused reader does not take
    const wave = new Float64Array(2000);
    for (let i = 1; i <= 800; i++) {
      wave.fill(i + 0.123456789);
      server.pv('slow:wave')!.write(wave);
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 1000));
    // the reader comes back and takes everything
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stdout.resume();
    const deadline = Date.now() + 20_000;
    while (!/lines dropped/.test(stderr) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const dropped = Number(
      /^orrery ca monitor: (\d+) lines dropped: standard output was not read fast enough/m.exec(stderr)?.[1],
    );
    expect(dropped, stderr).toBeGreaterThan(0);
    const lines = stdout.trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(/^slow:wave +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \[.*\]$/);
    // update i fills the array with i.123...: the lines up to the first gap (or all, when no update came after the
    // reader was back) are what waited for it while it was away: about the bound (plus the pipe's own buffer),
    // where all 800 would be about 12 MB
    const values = lines.map((l) => Math.round(Number(/\[\s*([-+\d.e]+)/.exec(l)?.[1])));
    let k = 1;
    while (k < values.length && values[k] === (values[k - 1] as number) + 1) k++;
    expect(Buffer.byteLength(lines.slice(0, k).join('\n'))).toBeLessThan(MAX_PENDING_BYTES + 256 * 1024);
  }, 60_000);
});
