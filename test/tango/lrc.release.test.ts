/**
 * Issue 7 item 11 / item 18: only the system stopping tells a submitted call's callback that it is no longer
 * followed; the caller's own unsubscribe() or AbortSignal, and a stop before submission, deliver nothing (mutation
 * testing showed no test measured the updates before the release itself).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { SystemStoppedError } from '../../src/errors.js';
import {
  invokeLrc,
  type LrcSubscriptions,
  type LrcUpdate,
  TaskStatus,
} from '../../src/protocols/tango/lrc/invokeLrc.js';
import type { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { TestClock } from '../../src/testing/testClock.js';
import { flush, referenceDevice, runFor, ScriptedPort } from './support/lrcHarness.js';

let clock: TestClock;
let system: OrrerySystem;
let device: SkaDeviceSimulator;

beforeEach(() => {
  clock = new TestClock();
  system = createSystem({ clock });
  device = referenceDevice({ clock });
});
afterEach(async () => {
  await device.close();
  await system.stop();
  expect(clock.pending).toBe(0);
});

describe('issue 7 item 11: who hears of the end of a call', () => {
  it('issue 7 item 11: unsubscribe() and an AbortSignal end a submitted call without a callback', async () => {
    for (const how of ['unsubscribe', 'signal'] as const) {
      const updates: LrcUpdate[] = [];
      const ctl = new AbortController();
      const subs = await invokeLrc(
        (u) => updates.push(u),
        device,
        device.state === 'ON' ? 'Off' : 'On',
        undefined,
        {
          system,
          signal: ctl.signal,
        },
      );
      await runFor(clock, 50);
      const before = updates.length;
      if (how === 'unsubscribe') subs.unsubscribe();
      else ctl.abort();
      expect(updates.length, how).toBe(before);
      expect((await subs.finished).outcome).toBe('released');
      await runFor(clock, 400);
      expect(updates.length, how).toBe(before);
    }
  });

  it('issue 7 item 11: the system stopping before submission rejects the call and calls back nothing', async () => {
    const late = new ScriptedPort(device, { lateSubscription: true });
    const updates: LrcUpdate[] = [];
    const p = invokeLrc((u) => updates.push(u), late, 'On', undefined, { system }).catch((e) => e);
    await flush();
    await system.stop();
    expect(await p).toBeInstanceOf(SystemStoppedError);
    expect(updates).toEqual([]);
    late.releaseSubscriptions();
    await flush();
    expect(late.open).toBe(0);
  });

  it('unsubscribe() from inside the callback: nothing more of the batch it came in (v1 result with its held status)', async () => {
    // the result event is lost: the terminal status waits for the read, whose answer comes with it as one batch
    const port = new ScriptedPort(device, { drop: (e) => e.attribute === 'longRunningCommandResult' });
    const updates: LrcUpdate[] = [];
    let subs: LrcSubscriptions | undefined;
    subs = await invokeLrc(
      (u) => {
        updates.push(u);
        if ('result' in u) subs!.unsubscribe();
      },
      port,
      'On',
      undefined,
      { system, clientVersions: [1, 1] },
    );
    await runFor(clock, 400);
    expect(updates.at(-1)).toEqual({ result: [0, 'On command completed OK'] });
    expect(updates.some((u) => u.status === TaskStatus.COMPLETED)).toBe(false);
    expect(subs.active).toBe(false);
    // the step that delivered the batch also ended the call: its output still says how the command ended
    expect(await subs.finished).toMatchObject({ outcome: 'finished', status: TaskStatus.COMPLETED });
    expect(port.open).toBe(0);
  });

  it('an AbortSignal aborted inside the callback: nothing more of the events replayed at submission', async () => {
    const ctl = new AbortController();
    const updates: LrcUpdate[] = [];
    const p = invokeLrc(
      (u) => {
        updates.push(u);
        ctl.abort();
      },
      device,
      'On',
      undefined,
      { system, signal: ctl.signal },
    ).catch((e) => e);
    await runFor(clock, 400);
    // STAGING, QUEUED and IN_PROGRESS came before the command id: replayed together; the abort after the first ends it
    expect(updates).toEqual([{ status: TaskStatus.STAGING }]);
    const subs = (await p) as LrcSubscriptions;
    expect((await subs.finished).outcome).toBe('released');
    expect(device.subscriptionCount).toBe(0);
  });
});
