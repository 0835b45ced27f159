/**
 * `orrery demo` as a user runs it: prints the inspector URL quickly, serves the page, and on Ctrl+C (SIGINT) or
 * at the end of --duration stops everything so the process exits by itself (no socket or timer left behind).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  // a demo that failed to exit must not outlive its test
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function startDemo(...args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'demo', '--port', '0', ...args], {
    stdio: 'pipe',
  });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = async (): Promise<string> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const m = /Orrery inspector: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) return m[1];
      if (Date.now() > deadline) throw new Error(`no inspector URL in:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, exited, url, output: () => out };
}

describe('orrery demo', () => {
  it('prints the inspector URL, serves it, and exits by itself on SIGINT', async () => {
    const t0 = Date.now();
    const demo = startDemo();
    const url = await demo.url();
    expect(Date.now() - t0).toBeLessThan(10_000);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    demo.child.kill('SIGINT');
    const code = await Promise.race([
      demo.exited,
      new Promise((r) => setTimeout(() => r('still running'), 10_000)),
    ]);
    expect(code).toBe(0);
    expect(demo.output()).toMatch(/stopping the demo/);
  });

  it('--duration stops it and the process exits by itself', async () => {
    const demo = startDemo('--duration', '2');
    await demo.url();
    const code = await Promise.race([
      demo.exited,
      new Promise((r) => setTimeout(() => r('still running'), 15_000)),
    ]);
    expect(code).toBe(0);
  });
  it("a --host that is empty or not loopback (without --allow-remote) is a usage error in the CLI's words, before anything starts", async () => {
    // it was the inspector API's message ('... without allowRemote: true', 'host must be a non-empty string'),
    // given once the simulators had started, as katcp-sim words it
    for (const [host, message] of [
      [
        '0.0.0.0',
        "orrery demo: --host 0.0.0.0 is not a loopback address (add --allow-remote to allow it); see 'orrery demo --help'",
      ],
      ['', "orrery demo: --host needs an address; see 'orrery demo --help'"],
    ]) {
      const demo = startDemo('--host', host);
      expect(await demo.exited).toBe(2);
      expect(demo.output()).toBe(`${message}\n`);
    }
  }, 40_000);
});
