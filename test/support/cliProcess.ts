/**
 * The CLI (`src/cli/main.ts` through tsx) in a child process, for tests that need a real process: exit codes,
 * signals, stderr, a closed stdout. Its output so far, its end (code and signal), a wait for a pattern in its output
 * and a bounded wait for its end. The process is killed by the cleanup pushed onto `cleanups` if still running.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface CliProcess {
  /** Spawned with stdin ignored, stdout and stderr piped. */
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** Everything it printed so far. */
  readonly out: { stdout: string; stderr: string };
  /** Its end, once its output is closed too. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The first match of `re` in its output (stdout then stderr), waited for; fails if it exits or `within` passes. */
  waitFor(re: RegExp, within?: number): Promise<RegExpExecArray>;
  /** Its end, or 'still running' after `ms`. */
  exit(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'>;
}

export function spawnCli(
  args: readonly string[],
  cleanups: Array<() => unknown>,
  env: Record<string, string> = {},
): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => {
    out.stdout += d;
  });
  child.stderr.on('data', (d) => {
    out.stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('close', (code, signal) => r({ code, signal })),
  );
  const waitFor = async (re: RegExp, within = 20_000): Promise<RegExpExecArray> => {
    const end = Date.now() + within;
    for (;;) {
      const m = re.exec(out.stdout + out.stderr);
      if (m) return m;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `exited (${child.exitCode ?? child.signalCode}) without ${re}:\n${out.stdout}\n${out.stderr}`,
        );
      if (Date.now() > end) throw new Error(`no ${re} in:\n${out.stdout}\n${out.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const exit = (ms: number) =>
    Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms))]);
  return { child, out, exited, waitFor, exit };
}
