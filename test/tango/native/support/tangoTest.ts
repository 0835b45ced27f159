/**
 * A real TangoTest device server for tests: no database, loopback only, a free port, `sys/tg_test/1`.
 * `startTangoTest()` resolves once it prints "Ready to accept request"; `pause()` / `resume()` send SIGSTOP /
 * SIGCONT (a server that no longer answers), `kill()` and `restart()` (same port) test reconnection, `stop()` (for
 * afterAll) kills it and waits for the exit. Never call set_attribute_config on it: it crashes in no-db mode.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export const TANGO_TEST_BINARY = '/usr/lib/tango/TangoTest';
export const TANGO_TEST_DEVICE = 'sys/tg_test/1';

export interface TangoTestServer {
  readonly port: number;
  /** `tango://127.0.0.1:PORT/sys/tg_test/1#dbase=no`. */
  readonly name: string;
  readonly pid: number;
  pause(): void;
  resume(): void;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** Start again on the same port (after `kill`). */
  restart(): Promise<void>;
  stop(): Promise<void>;
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
        pause: () => child.kill('SIGSTOP'),
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
