/** The README's example programs run as written (through tsx) and print what the README says. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

it('lrc-simulator.ts prints the On command sequence of the SKA simulator', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', here('./lrc-simulator.ts')], {
    timeout: 30_000,
  });
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^STAGING/);
  expect(lines[1]).toMatch(/^QUEUED/);
  expect(lines[2]).toMatch(/^IN_PROGRESS/);
  expect(lines.some((l) => /progress: 33/.test(l))).toBe(true);
  expect(lines.some((l) => /progress: 66/.test(l))).toBe(true);
  expect(lines.at(-1)).toMatch(/^COMPLETED.*On command completed OK/s);
});

it('status-and-tasks.ts: callback, Status.all keeping the child timeout, a supervised periodic task', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', here('./status-and-tasks.ts')], {
    timeout: 30_000,
  });
  expect(stdout.trim().split('\n')).toEqual([
    'callback Status(name=move-x, id=status-1, done=true, success=true)',
    "all failed: [ 'StatusTimeoutError' ]",
    'polled true state 1',
  ]);
});

it("issue 8 item 11: own-machine.ts: a user's machine under a supervisor logs with its own bindings and is inspected", async () => {
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', here('./own-machine.ts')], {
    timeout: 30_000,
  });
  const logs = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(logs.map((l) => [l.actor, l.machine, l.msg])).toEqual([
    ['shutter-1', 'shutter', 'closed'],
    ['shutter-1', 'shutter', 'opening'],
    ['shutter-1', 'shutter', 'open'],
  ]);
  expect(stderr).toMatch(/^inspector: http:\/\/127\.0\.0\.1:\d+\/$/m);
  expect(stderr).toMatch(/^state: open$/m);
});

it('issue 9: katcp-client.ts: S0, S1, S2 with every simulator sensor added, S4, a sampled sensor, a request, one S0 on stop', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', here('./katcp-client.ts')], {
    timeout: 30_000,
  });
  expect(stdout.trim().split('\n').map((l) => l.trimEnd())).toEqual([
    '[!connected !synced !model_changed !data_synced]',
    '[connected !synced !model_changed !data_synced]',
    '[connected !synced model_changed data_synced] counter mode ok temperature when',
    '[connected synced !model_changed data_synced]',
    'counter nominal',
    'add ok 5',
    '[!connected !synced !model_changed !data_synced]',
  ]);
});

it('issue 11 item 3: ca-client.ts reads with metadata, puts with completion, monitors and reads through the sync API', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', here('./ca-client.ts')], {
    timeout: 30_000,
  });
  expect(stdout.trim().split('\n')).toEqual(['read 21.5 degC', 'monitor idle -> busy', 'sync read 21.5']);
});
