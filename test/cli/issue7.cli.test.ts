/**
 * Issue 7 ("Hardening: what a hostile review broke"), the CLI's items: a port that is taken (item 1), strict
 * numeric options (item 9), and the demo's logs and `orrery lrc` piped (item 17). Usage errors are checked by
 * calling the command functions; whatever needs a real process (exit code, stderr, signals) spawns the CLI through
 * tsx, as the other CLI tests do.
 */
import { createServer, type Server } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_PORT, demoCommand } from '../../src/cli/demo.js';
import { createCliLogger, LOG_LEVELS, prettyLines } from '../../src/cli/log.js';
import { lrcCommand } from '../../src/cli/lrc.js';
import { startDemo } from '../../src/demo/scenario.js';
import type { Logger } from '../../src/engine/logging.js';
import { TestClock } from '../../src/testing/testClock.js';
import { spawnCli } from '../support/cliProcess.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  vi.restoreAllMocks();
});

/** Hold `port` on 127.0.0.1 for the test; if another program already holds it, it is taken all the same. */
async function holdPort(port = 0): Promise<number> {
  const server: Server = createServer();
  const bound = await new Promise<number | undefined>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err),
    );
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
  if (bound === undefined) return port;
  cleanups.push(() => new Promise((r) => server.close(r)));
  return bound;
}

/** The CLI in a child process (see test/support/cliProcess.ts). */
function orrery(...args: string[]) {
  return spawnCli(args, cleanups);
}

/** Run a command function in-process with console output captured. */
async function capture(run: () => Promise<number>) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  const code = await run();
  vi.restoreAllMocks();
  return { code, out, err };
}

describe('issue 7 item 1: a port that is taken', () => {
  it('issue 7 item 1: demo --port <busy> prints `port N is in use` on stderr, nothing else, and exits 2', async () => {
    const port = await holdPort();
    const demo = orrery('demo', '--port', String(port));
    expect((await demo.exited).code).toBe(2);
    expect(demo.out.stderr).toBe(`port ${port} is in use\n`);
  });

  it('issue 7 item 1: lrc --inspect <busy> prints `port N is in use` on stderr, nothing else, and exits 2', async () => {
    const port = await holdPort();
    const lrc = orrery('lrc', 'On', '--inspect', String(port));
    expect((await lrc.exited).code).toBe(2);
    expect(lrc.out.stderr).toBe(`port ${port} is in use\n`);
  });

  it('issue 7 item 1: npm start (demo without --port) falls back to a free port when 7420 is taken, and says so', async () => {
    expect(DEFAULT_PORT).toBe(7420);
    await holdPort(DEFAULT_PORT);
    const demo = orrery('demo', '--duration', '0', '--log-level', 'warn');
    const [, port] = await demo.waitFor(/Orrery inspector: http:\/\/127\.0\.0\.1:(\d+)\//);
    expect(Number(port)).not.toBe(DEFAULT_PORT);
    expect((await demo.exited).code).toBe(0);
    expect(demo.out.stderr).toBe(
      `port ${DEFAULT_PORT} is in use: serving the inspector on a free port instead\n`,
    );
  });
});

describe('issue 7 item 9: numeric CLI options are parsed strictly', () => {
  it.each([
    [['--timeout', '']],
    [['--timeout', '1e400']],
    [['--timeout', '-1']],
    [['--timeout', 'NaN']],
    [['--timeout', 'abc']],
    [['--timeout', '0x10']],
    [['--timeout', ' 5']],
    [['--timeout=']],
    [['--timeout']],
    [['--protocol', '']],
    [['--protocol', ' 1']],
    [['--inspect', '']],
    [['--inspect', '70000']],
    [['--inspect', '1.5']],
    [['--inspect', '-1']],
    [['--inspect', '1e400']],
  ])('issue 7 item 9: lrc On %j is a one-line usage error, exit 2', async (args) => {
    const { code, out, err } = await capture(() => lrcCommand(['On', ...args]));
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^orrery lrc: --(timeout|protocol|inspect) .*see 'orrery lrc --help'$/);
    expect(err[0]).not.toMatch(/\n/);
  });

  it.each([
    [['--duration', '']],
    [['--duration', '1e400']],
    [['--duration', '1e306']], // finite seconds, but not as milliseconds
    [['--duration', 'inf']], // not documented for --duration
    [['--duration', '-2']],
    [['--duration', '2s']],
    [['--port', '']],
    [['--port', '65536']],
    [['--port', '80.5']],
    [['--port', '1e400']],
    [['--port']],
  ])('issue 7 item 9: demo %j is a one-line usage error, exit 2, nothing started', async (args) => {
    const { code, out, err } = await capture(() => demoCommand(args));
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^orrery demo: .*see 'orrery demo --help'$/);
    expect(err[0]).not.toMatch(/\n/);
  });

  it('issue 7 item 9: lrc --timeout inf (never) and a timeout past the timer limit let the command complete', async () => {
    for (const timeout of ['inf', 'Infinity', '3e9']) {
      const { code, out } = await capture(() => lrcCommand(['Standby', '--timeout', timeout]));
      expect(code, `--timeout ${timeout}`).toBe(0);
      expect(out.at(-1)).toMatch(/^Standby \S+: OK\n/);
    }
  });

  it('issue 7 item 9: demo --duration past the timer limit does not stop the demo at once', async () => {
    // 3e6 s is 3e9 ms, past Node's 2^31-1 ms timer limit: a bare setTimeout fires it after 1 ms
    const demo = orrery('demo', '--port', '0', '--duration', '3e6', '--json');
    await demo.waitFor(/Orrery inspector: /);
    await new Promise((r) => setTimeout(r, 300)); // give a wrongly armed 1 ms timer time to fire
    demo.child.kill('SIGINT');
    expect((await demo.exited).code).toBe(0);
    const stopping = demo.out.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .filter((r) => r.msg === 'stopping the demo');
    expect(stopping.map((r) => r.reason)).toEqual(['SIGINT']);
  });
});

describe('issue 7 item 17: the demo and the CLI make a good first impression', () => {
  it("issue 7 item 17: the demo logs a Status's failure reason (an Error, not an empty message)", async () => {
    const records: Array<Record<string, any>> = [];
    const logger = pino(
      { level: 'info', base: undefined },
      { write: (line: string) => void records.push(JSON.parse(line)) },
    ) as unknown as Logger;
    const clock = new TestClock();
    const demo = await startDemo({ logger, clock, port: 0 });
    /** Simulated time passes until `until()` (the demo's simulator sleeps on the clock, even while stopping). */
    const run = async (until: () => boolean) => {
      for (let i = 0; i < 1000 && !until(); i++) {
        clock.advance(100);
        await new Promise((r) => setImmediate(r));
      }
    };
    cleanups.push(async () => {
      let stopped = false;
      const stopping = demo.stop().then(() => {
        stopped = true;
      });
      await run(() => stopped);
      await stopping;
    });
    const statusDone = () => records.filter((r) => r.msg === 'Status done');
    await run(() => statusDone().length >= 4);
    const byOutcome = Object.fromEntries(statusDone().map((r) => [r.outcome, r]));
    expect(Object.keys(byOutcome).sort()).toEqual(['cancelled', 'failed', 'succeeded', 'timedOut']);
    expect(byOutcome.succeeded.err).toBeUndefined();
    expect(byOutcome.failed.err).toMatchObject({ type: 'Error', message: 'motor stalled' });
    expect(byOutcome.cancelled.err.message).toMatch(/operator abort/);
    expect(byOutcome.timedOut.err.type).toBe('StatusTimeoutError');
    // and the readable line (pino-pretty) shows it
    const line = prettyLines({ level: 'info', colorize: false })(`${JSON.stringify(byOutcome.failed)}\n`);
    expect(line).toMatch(/INFO.*Status done \(Error: motor stalled\)/);
    expect(line).not.toMatch(/err=Error: $/m);
  });

  it('issue 7 item 17: readable logs are pino-pretty lines, coloured only on a TTY; --json keeps raw pino JSON', () => {
    const lines = (json: boolean, isTTY: boolean, level = 'info') => {
      const written: string[] = [];
      const logger = createCliLogger({ level, json, destination: { isTTY, write: (t) => written.push(t) } });
      logger.child({ actor: 'move-1', machine: 'status' }).info({ outcome: 'failed' }, 'Status done');
      logger.error(new Error('motor stalled'));
      return written;
    };
    const piped = lines(false, false);
    expect(piped).toHaveLength(2);
    expect(piped[0]).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[move-1\] Status done \{"outcome":"failed"\}\n$/,
    );
    expect(piped[1]).toMatch(/ERROR: Error: motor stalled\n$/);
    const ESC = '\u001b[';
    expect(piped.join('')).not.toContain(ESC);
    expect(lines(false, true).join('')).toContain(ESC);
    expect(lines(false, false, 'debug').join('')).toMatch(/at .*issue7\.cli\.test\.ts/); // stacks at debug
    const raw = lines(true, true).map((l) => JSON.parse(l));
    expect(raw[0]).toMatchObject({ level: 30, actor: 'move-1', machine: 'status', msg: 'Status done' });
    expect(raw[1].err).toMatchObject({ type: 'Error', message: 'motor stalled' });
    expect(raw[1].err.stack).toMatch(/motor stalled/);
  });

  it('issue 7 item 17: --log-level nonsense lists the valid levels (one line, exit 2)', async () => {
    const { code, out, err } = await capture(() => demoCommand(['--log-level', 'nonsense']));
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(LOG_LEVELS).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);
    expect(err).toEqual([
      `orrery demo: --log-level must be one of trace, debug, info, warn, error, fatal, silent, got "nonsense"; see 'orrery demo --help'`,
    ]);
  });

  it('issue 7 item 17: lrc piped prints plain lines, and real JSON lines with --json', async () => {
    const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
    cleanups.push(() =>
      tty ? Object.defineProperty(process.stdout, 'isTTY', tty) : delete (process.stdout as any).isTTY,
    );
    const plain = await capture(() => lrcCommand(['On']));
    expect(plain.code).toBe(0);
    const updates = plain.out.slice(0, -1);
    expect(updates.slice(0, 3)).toEqual(['STAGING', 'QUEUED', 'IN_PROGRESS']);
    expect(updates).toContain('progress 33%');
    expect(updates.at(-1)).toBe('COMPLETED result [0,"On command completed OK"]');
    for (const line of plain.out) expect(line).not.toMatch(/^"|"\w+":/);
    expect(plain.out.at(-1)).toMatch(/^On \S+_On: OK\nresult: /);

    const json = await capture(() => lrcCommand(['Configure', '{"fail": true}', '--json']));
    expect(json.code).toBe(1);
    const records = json.out.map((l) => JSON.parse(l));
    expect(records[0]).toEqual({ status: 'STAGING' });
    expect(records.at(-2)).toMatchObject({ status: 'FAILED' });
    expect(records.at(-1).result).toMatchObject({ command: 'Configure', resultCode: 3 });
  });
});
