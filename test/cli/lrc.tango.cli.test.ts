/** `orrery lrc --device`: the same command line against a real Tango device (the PyTango LRC fixture, no database). */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LrcDeviceServer } from '../tango/native/support/lrcDevice.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function orrery(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', main, ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

let server: LrcDeviceServer;
beforeAll(async () => {
  server = await LrcDeviceServer.start({ instance: 'cli' });
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

describe('issue 12 item 4: orrery lrc accepts a Tango device name', () => {
  it('On --device tango://...#dbase=no --json: the updates from the real device, COMPLETED, exit 0', async () => {
    const { code, stdout, stderr } = await orrery('lrc', 'On', '--device', server.name, '--json');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const statuses = lines.filter((l) => l.status).map((l) => l.status);
    expect(statuses).toContain('COMPLETED');
    expect(lines.at(-1).result).toMatchObject({ command: 'On', resultCode: 0, exception: null });
  }, 60_000);

  it('a device nobody serves: one line naming it, exit 1', async () => {
    const { code, stderr } = await orrery(
      'lrc',
      'On',
      '--device',
      'tango://127.0.0.1:1/test/none/1#dbase=no',
      '--timeout',
      '3000',
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot reach tango:\/\/127\.0\.0\.1:1\/test\/none\/1/);
  }, 60_000);

  it('--device without a name is a usage error (exit 2)', async () => {
    const { code, stderr } = await orrery('lrc', 'On', '--device=');
    expect(code).toBe(2);
    expect(stderr).toMatch(/--device needs a Tango device name/);
  }, 60_000);
});

describe('orrery lrc --reconcile against a real device that restarts', () => {
  let slow: LrcDeviceServer;
  beforeAll(async () => {
    // a slow On (three 30 s steps): still running when its server is killed
    slow = await LrcDeviceServer.start({ instance: 'cliRestart', env: { LRC_STEP_S: '30' } });
  }, 60_000);
  afterAll(async () => {
    await slow?.stop();
  });

  it('the server killed and restarted mid-command: the heartbeat loss, the check, SKA_CommandNotFound, exit 1', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        main,
        'lrc',
        'On',
        '--device',
        slow.name,
        '--json',
        '--reconcile',
        '--timeout',
        'inf',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          if (stdout.includes('"IN_PROGRESS"')) resolve();
        });
        void exited.then(() => resolve());
      });
      await slow.restart(); // a device that never heard of the command; no event will end the run
      // the consumer's default heartbeat timeout (15 s) shows the loss, then the check answers NOT_FOUND
      const code = await exited;
      expect(stderr).toBe('');
      expect(code).toBe(1);
      const lines = stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const reasons = lines.flatMap((l) => (l.error ? [l.error[0].reason] : []));
      expect(reasons).toContain('API_EventTimeout');
      expect(reasons.at(-1)).toBe('SKA_CommandNotFound');
      const result = lines.at(-1).result;
      expect(result).toMatchObject({ command: 'On', resultCode: 4 }); // ResultCode.UNKNOWN
      expect(result.exception.message).toMatch(/NOT_FOUND/);
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);
});
