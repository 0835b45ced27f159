/**
 * The simulated device's tasks and timers (issue 10 item 6: the simulator in the LRC benchmark loop): a task's
 * methods work unbound, and the device's timers (sleeping tasks, removal of finished commands from the v1
 * attributes) keep their order at the same millisecond, with one clock timer for all of them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttributeEvent } from '../../src/protocols/tango/port.js';
import { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { LRC_ATTRIBUTES, ResultCode, TaskStatus } from '../../src/protocols/tango/wire.js';
import { TestClock } from '../../src/testing/testClock.js';
import { flush } from './support/lrcHarness.js';

let clock: TestClock;
let device: SkaDeviceSimulator | undefined;

beforeEach(() => {
  clock = new TestClock();
});
afterEach(async () => {
  await device?.close();
  device = undefined;
  expect(clock.pending).toBe(0);
});

/** The events of `attributes`, as (attribute, value) pairs, from the subscription's first event on. */
async function record(d: SkaDeviceSimulator, attributes: string[]): Promise<[string, unknown][]> {
  const seen: [string, unknown][] = [];
  for (const a of attributes)
    await d.subscribeChangeEvent(a, (e: AttributeEvent) => seen.push([e.attribute, e.value]));
  seen.length = 0;
  return seen;
}

describe('issue 10 item 6: the simulated device', () => {
  it('issue 10 item 6: a task handler may take its methods unbound (destructured)', async () => {
    device = new SkaDeviceSimulator({
      name: 'sim/task/1',
      clock,
      epochMs: 0,
      uuid: () => 7,
      commands: {
        Go: async ({ id, command, inProgress, progress, update, sleep, signal }) => {
          expect(command).toBe('Go');
          expect(signal.aborted).toBe(false);
          inProgress();
          progress(10);
          await sleep(5);
          update({ progress: 20 });
          return [ResultCode.OK, `done ${id}`];
        },
      },
    });
    const seen = await record(device, [LRC_ATTRIBUTES.event]);
    const reply = (await device.commandInout('Go')) as [[number], [string]];
    const id = reply[1][0];
    await flush();
    clock.advance(5);
    await flush();
    expect(seen.map(([, v]) => JSON.parse((v as string[])[1]))).toEqual([
      { status: TaskStatus.STAGING },
      { status: TaskStatus.QUEUED },
      { status: TaskStatus.IN_PROGRESS },
      { progress: 10 },
      { progress: 20 },
      { status: TaskStatus.COMPLETED, result: [ResultCode.OK, `done ${id}`] },
    ]);
    expect(device.pendingTimers).toBe(1); // the removal of the finished command
  });

  it('issue 10 item 6: removals and sleeps due at the same millisecond fire in the order they were armed', async () => {
    const log: string[] = [];
    device = new SkaDeviceSimulator({
      name: 'sim/task/2',
      clock,
      removalTimeMs: 100,
      commands: {
        Quick: () => [ResultCode.OK, 'quick'],
        Sleepy: async (task) => {
          await task.sleep(100);
          log.push(`woke ${task.id}`);
          return [ResultCode.OK, 'sleepy'];
        },
      },
    });
    const seen = await record(device, [LRC_ATTRIBUTES.status]);
    await device.commandInout('Quick');
    await flush(); // Quick finished: its removal is armed for 100 ms from now
    await device.commandInout('Sleepy');
    await flush(); // Sleepy sleeps 100 ms from now too, armed after the removal
    expect(device.pendingTimers).toBe(2);
    expect(clock.pending).toBe(1); // one clock timer for the device
    seen.length = 0;
    clock.advance(100);
    // the removal first (the status list without Quick), then Sleepy wakes (its events after its handler goes on)
    const quickGone = seen.length;
    await flush();
    const lists = seen.map(([, v]) => (v as string[]).filter((_, i) => i % 2 === 0).length);
    expect(quickGone).toBe(1);
    expect(lists[0]).toBe(1); // only Sleepy listed
    expect(log).toHaveLength(1);
    expect(seen.at(-1)?.[1]).toContain('COMPLETED');
  });

  it('issue 10 item 6: close() cancels every timer of the device, sleeping tasks are aborted', async () => {
    let aborted = false;
    device = new SkaDeviceSimulator({
      name: 'sim/task/3',
      clock,
      commands: {
        Quick: () => [ResultCode.OK, 'quick'],
        Sleepy: async (task) => {
          try {
            await task.sleep(1000);
          } catch {
            aborted = task.aborted;
          }
        },
      },
    });
    await device.commandInout('Quick');
    await flush();
    await device.commandInout('Sleepy');
    await flush();
    expect(device.pendingTimers).toBe(2);
    await device.close();
    await flush();
    expect(aborted).toBe(true);
    expect(device.pendingTimers).toBe(0);
  });
});

describe('close() with an Abort in progress', () => {
  it('arms no timer once closed: the Abort that ends after close() records nothing (a removal timer was left armed)', async () => {
    let release!: () => void;
    const cleanedUp = new Promise<void>((resolve) => {
      release = resolve;
    });
    device = new SkaDeviceSimulator({
      name: 'sim/task/2',
      clock,
      commands: {
        // ends once its clean-up is done, after its abort: the Abort waits for it
        Slow: async (task) => {
          try {
            await task.sleep(1_000);
          } finally {
            await cleanedUp;
          }
        },
      },
    });
    await device.commandInout('Slow');
    await flush();
    await device.commandInout('Abort');
    await flush(); // the Abort runs: Slow aborted, its end awaited
    await device.close();
    release();
    await flush(); // Slow's end, then the Abort's
    expect(device.pendingTimers).toBe(0);
    expect(clock.pending).toBe(0);
  });
});
