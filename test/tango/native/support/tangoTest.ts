/**
 * A real TangoTest device server for tests: no database, loopback only, a free port, `sys/tg_test/1`.
 * `startTangoTest()` resolves once it prints "Ready to accept request"; `pause()` / `resume()` send SIGSTOP /
 * SIGCONT (a server that no longer answers), `kill()` and `restart()` (same port) test reconnection, `stop()` (for
 * afterAll) kills it and waits for the exit. Never call set_attribute_config on it: it crashes in no-db mode.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export const TANGO_TEST_BINARY = '/usr/lib/tango/TangoTest';
export const TANGO_TEST_DEVICE = 'sys/tg_test/1';

export interface TangoTestServer {
  readonly port: number;
  /** `tango://127.0.0.1:PORT/sys/tg_test/1#dbase=no`. */
  readonly name: string;
  readonly pid: number;
  /** SIGSTOP, resolved once the kernel reports every thread of the server stopped (it can no longer answer). */
  pause(): Promise<void>;
  resume(): void;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** Start again on the same port (after `kill`). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Resolves once every thread of `pid` is stopped (`T` in /proc/<pid>/task/<tid>/stat): SIGSTOP is only pending until
 * the kernel gets to each thread, and on a loaded machine a thread may still read and answer a request meanwhile.
 */
async function stopped(pid: number): Promise<void> {
  const state = (stat: string) => stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  for (let i = 0; i < 500; i++) {
    let all = true;
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const s = state(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
        if (s !== 'T' && s !== 't') all = false;
      }
    } catch {
      return; // gone (or no /proc): nothing more to wait for
    }
    if (all) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`TangoTest (pid ${pid}) did not stop within 5 s of SIGSTOP`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    TANGO_TEST_BINARY,
    ['test', '-nodb', '-dlist', TANGO_TEST_DEVICE, '-ORBendPoint', `giop:tcp:127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept request')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        clearTimeout(timer);
        resolve(child);
      }
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`TangoTest did not start on port ${port}: ${output}`));
    }, 30_000);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`TangoTest exited (${code}) before it was ready: ${output}`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts TangoTest on a free loopback port (a few attempts if the port is taken meanwhile). */
export async function startTangoTest(): Promise<TangoTestServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      let child = await launch(port);
      const server: TangoTestServer = {
        port,
        name: `tango://127.0.0.1:${port}/${TANGO_TEST_DEVICE}#dbase=no`,
        get pid() {
          return child.pid ?? -1;
        },
        pause: async () => {
          child.kill('SIGSTOP');
          await stopped(child.pid ?? -1);
        },
        resume: () => child.kill('SIGCONT'),
        kill: async () => {
          child.kill('SIGKILL');
          await exited(child);
        },
        restart: async () => {
          child = await launch(port);
        },
        stop: async () => {
          child.kill('SIGCONT');
          child.kill('SIGKILL');
          await exited(child);
        },
      };
      return server;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
