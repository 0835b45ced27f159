/**
 * Long Running Commands end to end over the native Tango client (`NativeDevicePort`: DeviceProxy + ZMQ change
 * events) against the PyTango LRC fixture, with the expectations of the simulator's tests
 * (`test/tango/lrc.named.test.ts`, ska-tango-base's `test_base_device.py`): test_On in v2 and v1, REJECTED,
 * unknown command and is_allowed failures, test_Abort in (1, 1) and (1, 2), execution failures, non-integer
 * progress, and LongRunningCommand's results.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OrrerySystem } from '../../../src/engine/system.js';
import { CommandError, DevFailed } from '../../../src/protocols/tango/errors.js';
import {
  invokeLrc,
  type LrcUpdate,
  ResultCode,
  TaskStatus,
  taskStatusName,
} from '../../../src/protocols/tango/lrc/invokeLrc.js';
import { LongRunningCommand } from '../../../src/protocols/tango/lrc/longRunningCommand.js';
import type { NativeDevicePort } from '../../../src/protocols/tango/nativePort.js';
import { type LrcFixture, startLrcFixture } from './support/lrcDevice.js';

let fixture: LrcFixture;
let system: OrrerySystem;
let device: NativeDevicePort;

beforeAll(async () => {
  fixture = await startLrcFixture();
  ({ system, device } = fixture);
}, 30_000);
afterAll(async () => {
  await fixture?.close();
});
beforeEach(async () => {
  // every scenario starts from the reference device's state, with nothing running
  await device.commandInout('SetState', 'OFF');
});

function flat(update: LrcUpdate): string[] {
  return Object.entries(update).map(([k, v]) =>
    k === 'status' ? `status=${taskStatusName(v as TaskStatus)}` : `${k}=${JSON.stringify(v)}`,
  );
}
function recorder() {
  const log: string[] = [];
  const cb = (u: LrcUpdate) => log.push(...flat(u));
  return { log, cb };
}
const ON_SEQUENCE = [
  'status=STAGING',
  'status=QUEUED',
  'status=IN_PROGRESS',
  'progress=33',
  'progress=66',
  'result=[0,"On command completed OK"]',
  'status=COMPLETED',
];
const T = 30_000;

describe('issue 12 item 4: invokeLrc against a real Tango device (the simulator scenarios)', () => {
  for (const [label, clientVersions] of [
    ['v2', [1, 2]],
    ['v1', [1, 1]],
  ] as const) {
    it(
      `issue 12 item 4: test_On (${label}): the exact sequence, then COMPLETED by CheckLongRunningCommandStatus`,
      async () => {
        const { log, cb } = recorder();
        const subs = await invokeLrc(cb, device, 'On', undefined, { system, clientVersions });
        expect(subs.protocolVersion).toBe(clientVersions[1]);
        expect(subs.commandId.split('_', 3)[2]).toBe('On');
        const out = await subs.finished;
        expect(out.status).toBe(TaskStatus.COMPLETED);
        expect(log).toEqual(ON_SEQUENCE);
        expect(subs.active).toBe(false);
        expect(device.subscriptionCount).toBe(0);
        expect(await device.commandInout('CheckLongRunningCommandStatus', subs.commandId)).toBe('COMPLETED');
        expect(await device.commandInout('CheckLongRunningCommandStatus', '1_2_On')).toBe('NOT_FOUND');
      },
      T,
    );
  }

  it(
    'issue 12 item 4: REJECTED: a second On is a CommandError, no callbacks, no subscriptions left',
    async () => {
      await device.commandInout('SetState', 'ON');
      const { log, cb } = recorder();
      await expect(invokeLrc(cb, device, 'On', undefined, { system })).rejects.toThrow(
        new CommandError('On command rejected: Device is already in ON state.'),
      );
      expect(log).toEqual([]);
      expect(device.subscriptionCount).toBe(0);
    },
    T,
  );

  it(
    'issue 12 item 4: transport failures keep the device stack (unknown command; is_allowed false)',
    async () => {
      const unknown = await invokeLrc(() => {}, device, 'DummyCmd', undefined, { system }).catch((e) => e);
      expect(unknown).toBeInstanceOf(DevFailed);
      expect(unknown.errors.map((e: { reason: string }) => e.reason)).toEqual([
        'API_CommandNotFound',
        'SKA_InvokeLrcFailed',
      ]);
      expect(unknown.errors[1].desc).toBe("Invocation of command 'DummyCmd' failed with args: None");
      const reset = await invokeLrc(() => {}, device, 'Reset', undefined, { system }).catch((e) => e);
      expect(reset).toBeInstanceOf(DevFailed);
      expect(reset.errors[0].desc).toBe('Command Reset not allowed when the device is in OFF state');
      expect(reset.errors.at(-1).reason).toBe('SKA_InvokeLrcFailed');
      expect(device.subscriptionCount).toBe(0);
    },
    T,
  );

  /** Run On, then Abort it once it is IN_PROGRESS; returns both logs from Abort on. */
  async function abortRunningOn(clientVersions: readonly [number, number]) {
    const on = recorder();
    const abort = recorder();
    let running!: () => void;
    const inProgress = new Promise<void>((r) => {
      running = r;
    });
    const onSubs = await invokeLrc(
      (u) => {
        on.cb(u);
        if (u.status === TaskStatus.IN_PROGRESS) running();
      },
      device,
      'On',
      undefined,
      { system, clientVersions },
    );
    await inProgress;
    const started = on.log.length;
    const abortSubs = await invokeLrc(abort.cb, device, 'Abort', undefined, { system, clientVersions });
    expect(abortSubs.protocolVersion).toBe(clientVersions[1]);
    expect((await onSubs.finished).status).toBe(TaskStatus.ABORTED);
    expect((await abortSubs.finished).status).toBe(TaskStatus.COMPLETED);
    expect(device.subscriptionCount).toBe(0);
    return { on: on.log.slice(started).filter((l) => !l.startsWith('progress')), abort: abort.log };
  }

  for (const versions of [
    [1, 1],
    [1, 2],
  ] as const) {
    it(
      `issue 12 item 4: test_Abort (${versions}): the On aborted, the Abort completed`,
      async () => {
        const { on, abort } = await abortRunningOn(versions);
        expect(on).toEqual(['result=[7,"Command has been aborted"]', 'status=ABORTED']);
        expect(abort).toEqual([
          'status=STAGING',
          'status=IN_PROGRESS',
          'result=[0,"Abort completed OK"]',
          'status=COMPLETED',
        ]);
      },
      T,
    );
  }

  it(
    'issue 12 item 4: test_command_exception: STAGING, QUEUED, result [3, ...], FAILED (no IN_PROGRESS)',
    async () => {
      const { log, cb } = recorder();
      await (await invokeLrc(cb, device, 'SimulateCommandError', undefined, { system })).finished;
      expect(log).toEqual([
        'status=STAGING',
        'status=QUEUED',
        'result=[3,"Unhandled exception during execution: Command encountered unexpected error"]',
        'status=FAILED',
      ]);
    },
    T,
  );

  it(
    'issue 12 item 4: is_cmd_allowed raising at execution (v1): STAGING, QUEUED, result [5, ...], REJECTED',
    async () => {
      const { log, cb } = recorder();
      const subs = await invokeLrc(cb, device, 'SimulateIsCmdAllowedError', undefined, {
        system,
        clientVersions: [1, 1],
      });
      await subs.finished;
      expect(log).toEqual([
        'status=STAGING',
        'status=QUEUED',
        `result=[5,"Exception from 'is_cmd_allowed' method: Error from is_cmd_allowed"]`,
        'status=REJECTED',
      ]);
    },
    T,
  );

  it(
    'issue 12 item 4: non-integer progress is delivered as it is',
    async () => {
      const updates: LrcUpdate[] = [];
      await (await invokeLrc((u) => updates.push(u), device, 'Chatty', undefined, { system })).finished;
      expect(updates).toContainEqual({ progress: 'ProgressMsg command has started' });
      expect(updates.at(-1)).toEqual({ result: [0, 'chatty done'], status: TaskStatus.COMPLETED });
    },
    T,
  );
});

describe('issue 12 item 4: LongRunningCommand against a real Tango device', () => {
  const run = (command: string, args?: unknown) =>
    new LongRunningCommand(command, { system }).run(device, { args, timeout: 20_000 });

  it(
    'issue 12 item 4: complete, with progress',
    async () => {
      const progress: unknown[] = [];
      const result = await new LongRunningCommand('Slow', { system }).run(device, {
        args: 0.5,
        onUpdate: (u) => u.progress !== undefined && progress.push(u.progress),
      });
      expect(result).toMatchObject({ command: 'Slow', resultCode: ResultCode.OK, exception: null });
      expect(result.result).toEqual([0, 'Slow completed OK']);
      expect(result.taskStatusEvents).toEqual([
        TaskStatus.STAGING,
        TaskStatus.QUEUED,
        TaskStatus.IN_PROGRESS,
        TaskStatus.COMPLETED,
      ]);
      expect(progress).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    },
    T,
  );

  it(
    'issue 12 item 4: reject, fail (an exception and a FAILED result code)',
    async () => {
      await device.commandInout('SetState', 'ON');
      const rejected = await run('On');
      expect(rejected.resultCode).toBe(ResultCode.REJECTED);
      expect(rejected.exception).toBeInstanceOf(CommandError);
      const failed = await run('SimulateCommandError');
      expect(failed.resultCode).toBe(ResultCode.FAILED);
      expect(failed.taskStatusEvents.at(-1)).toBe(TaskStatus.FAILED);
      const failResult = await run('FailResult');
      expect(failResult).toMatchObject({
        resultCode: ResultCode.FAILED,
        result: [3, 'the hardware said no'],
      });
      expect(failResult.taskStatusEvents.at(-1)).toBe(TaskStatus.FAILED);
    },
    T,
  );

  it(
    'issue 12 item 4: abort: a long command aborted by Abort ends ABORTED',
    async () => {
      // the Abort's own reply is kept and awaited: the device may push the ABORTED status before it answers the
      // Abort, and a reply still pending when the device is closed rejects (TangoClosedError), unhandled if dropped
      let abort: Promise<unknown> | undefined;
      const slow = new LongRunningCommand('Slow', { system }).run(device, {
        args: 5,
        onUpdate: (u) => {
          if (u.progress !== 10 || abort) return;
          abort = device.commandInout('Abort');
          abort.catch(() => {}); // (awaited below: a failure fails the test there)
        },
      });
      const result = await slow;
      expect(result.resultCode).toBe(ResultCode.ABORTED);
      expect(result.result).toEqual([7, 'Command has been aborted']);
      expect(result.taskStatusEvents.at(-1)).toBe(TaskStatus.ABORTED);
      expect(abort).toBeDefined();
      const [[code], [abortId]] = (await abort) as [number[], string[]];
      expect(code).toBe(ResultCode.STARTED);
      expect(abortId.split('_', 3)[2]).toBe('Abort');
    },
    T,
  );
});
