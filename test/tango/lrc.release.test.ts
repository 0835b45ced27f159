/**
 * Issue 7 item 11 / item 18: only the system stopping tells a submitted call's callback that it is no longer
 * followed; the caller's own unsubscribe() or AbortSignal, and a stop before submission, deliver nothing (mutation
 * testing showed no test measured the updates before the release itself).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { SystemStoppedError } from '../../src/errors.js';
import { invokeLrc, type LrcUpdate } from '../../src/protocols/tango/lrc/invokeLrc.js';
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
});
