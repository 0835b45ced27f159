/**
 * An LRC call followed with `reconcile` while its device server dies and comes back, end to end over the native
 * Tango client against the PyTango LRC fixture (a server of its own: this file kills it). The restarted server's
 * command tracker is empty, so CheckLongRunningCommandStatus answers NOT_FOUND for the command the call followed:
 * the call ends `lost` (an `{error}` update SKA_CommandNotFound, nothing left subscribed) instead of waiting for an
 * event that will never come. The heartbeat timeout is short so the loss shows in a second, not in 15.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DevFailed } from '../../../src/protocols/tango/errors.js';
import { invokeLrc, type LrcUpdate, TaskStatus } from '../../../src/protocols/tango/lrc/invokeLrc.js';
import { type LrcFixture, startLrcFixture } from './support/lrcDevice.js';

let fixture: LrcFixture;

beforeAll(async () => {
  // a slow On (three 30 s steps): it is still running on the device when the server dies
  fixture = await startLrcFixture(
    { env: { LRC_STEP_S: '30' } },
    { heartbeatTimeoutMs: 1500, resubscribeMs: 500 },
    { timeout: 3000 },
  );
}, 30_000);
afterAll(async () => {
  await fixture?.close();
});

it('reconcile: the server killed and restarted under a running command: the check answers NOT_FOUND, the call ends lost', async () => {
  const { server, system, device } = fixture;
  const updates: LrcUpdate[] = [];
  const subs = await invokeLrc((u) => updates.push(u), device, 'On', undefined, { system, reconcile: true });
  const until = async (what: () => boolean) => {
    for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 50));
  };
  await until(() => updates.some((u) => u.status === TaskStatus.IN_PROGRESS));
  expect(updates.filter((u) => u.status !== undefined).map((u) => u.status)).toEqual([
    TaskStatus.STAGING,
    TaskStatus.QUEUED,
    TaskStatus.IN_PROGRESS,
  ]);
  await server.restart(); // killed with SIGKILL, then started again on the same port: a device with no commands
  const out = await subs.finished;
  expect(out.outcome).toBe('lost');
  expect(out.status).toBe(TaskStatus.IN_PROGRESS);
  expect(out.commandId).toBe(subs.commandId);
  expect(out.error).toBeInstanceOf(DevFailed);
  expect((out.error as DevFailed).errors.map((e) => e.reason)).toEqual(['SKA_CommandNotFound']);
  // the heartbeat loss came as an error event; the last update says the command is lost
  const reasons = updates.flatMap((u) => (u.error ? [u.error[0].reason] : []));
  expect(reasons).toContain('API_EventTimeout');
  expect(reasons.at(-1)).toBe('SKA_CommandNotFound');
  expect(subs.active).toBe(false);
  // the restarted device answers for itself: it never heard of the command
  expect(await device.commandInout('CheckLongRunningCommandStatus', subs.commandId)).toBe('NOT_FOUND');
}, 60_000);
