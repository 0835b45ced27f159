/** `orrery lrc` end to end, as a user runs it (node + tsx on src/cli/main.ts), against the built-in simulator. */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function orrery(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', main, ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('orrery lrc', () => {
  it('On --json: one JSON object per update, then the result; exit 0', async () => {
    const { code, stdout } = await orrery('lrc', 'On', '--json');
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const statuses = lines.filter((l) => l.status).map((l) => l.status);
    expect(statuses[0]).toBe('STAGING');
    expect(statuses.at(-1)).toBe('COMPLETED');
    const result = lines.at(-1).result;
    expect(result).toMatchObject({ command: 'On', resultCode: 0, exception: null });
    expect(result.commandId).toMatch(/^\d+\.\d+_\d+_On$/);
  });

  it('a failing command exits 1 and prints the error', async () => {
    const { code, stdout } = await orrery('lrc', 'Configure', '{"fail": true}');
    expect(code).toBe(1);
    expect(stdout).toMatch(/FAILED/);
  });

  it('bad usage exits 2 with the usage text', async () => {
    const { code, stderr } = await orrery('lrc', 'On', '--protocol', '7');
    expect(code).toBe(2);
    expect(stderr).toMatch(/--protocol must be 1 or 2/);
    expect((await orrery('nope')).code).toBe(2);
    const flag = await orrery('lrc', 'On', '--reconcile=yes');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--reconcile takes no value/);
  });

  it('a run past --timeout says the timeout the user gave, not what was left of it', async () => {
    const { code, stdout } = await orrery('lrc', 'Scan', '--timeout', '300');
    expect(code).toBe(1);
    expect(stdout).toMatch(/error: TimeoutError: Scan on sim\/ska\/1 did not finish within 300 ms/);
    const json = await orrery('lrc', 'Scan', '--timeout', '300', '--json');
    expect(json.code).toBe(1);
    const { result } = JSON.parse(json.stdout.trim().split('\n').at(-1) as string);
    expect(result.exception.message).toMatch(/^Scan on sim\/ska\/1 did not finish within 300 ms/);
  });

  it('--reconcile on the simulator: the run is the same, COMPLETED, exit 0', async () => {
    const { code, stdout } = await orrery('lrc', 'On', '--reconcile');
    expect(code).toBe(0);
    expect(stdout).toMatch(/COMPLETED/);
  });

  it('--inspect serves the inspector, keeps it up after the command, and quits on SIGINT', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'lrc', 'On', '--inspect'], {
      stdio: 'pipe',
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 20_000;
    while (!/still up/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const url = /Orrery inspector: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)?.[1];
    expect(url).toBeDefined();
    const page = await fetch(url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/Orrery inspector/);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
