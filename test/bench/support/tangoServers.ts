/**
 * The servers of `npm run bench -- tango`: TangoTest (no database, loopback, a free port; `startTangoTest` of the
 * test support) and the PyTango LRC fixture (`test/tango/fixtures/lrcDevice.py`, whose `PushCounter(n)` pushes n
 * change events of `counter`), found from the source tree or from `dist/` alike. Also where the PyTango peer
 * script is.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../tango/native/support/tangoTest.js';

export { startTangoTest, type TangoTestServer } from '../../tango/native/support/tangoTest.js';

export const PYTHON = '/usr/bin/python3';

/** A file of the repository's `test/` tree, whether this module runs from `test/` or `dist/test/`. */
function testFile(relative: string): string | undefined {
  return [
    fileURLToPath(new URL(`../../${relative}`, import.meta.url)),
    fileURLToPath(new URL(`../../../../test/${relative}`, import.meta.url)),
  ].find((p) => existsSync(p));
}

export const TANGO_PEER = () => testFile('bench/support/tangoPeer.py');

export interface PushingDevice {
  /** `tango://127.0.0.1:PORT/test/lrc/1#dbase=no`. */
  name: string;
  stop(): Promise<void>;
}

/** Starts the PyTango LRC fixture without a database (null when python3 or the fixture is missing). */
export async function startPushingDevice(): Promise<PushingDevice | null> {
  const fixture = testFile('tango/fixtures/lrcDevice.py');
  if (fixture === undefined || !existsSync(PYTHON)) return null;
  const port = await freePort();
  const child: ChildProcess = spawn(
    PYTHON,
    [fixture, 'bench', '-nodb', '-dlist', 'test/lrc/1', '-ORBendPoint', `giop:tcp:127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lrcDevice.py did not start: ${output}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept request')) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`lrcDevice.py exited (${code}): ${output}`));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
  return {
    name: `tango://127.0.0.1:${port}/test/lrc/1#dbase=no`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
