/**
 * LRC client beyond the upstream-pinned sequences (checklist 9.1 items 10-14): warnings, error events, buffering,
 * v1 result ordering, deadline, unsubscribe and cancellation, LongRunningCommand results, and the simulator's own
 * attributes.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { CancelledError, TimeoutError } from '../../src/errors.js';
import {
  CommandError,
  DevFailed,
  ProtocolVersionError,
  ResultCodeError,
} from '../../src/protocols/tango/errors.js';
import {
  cachedLrcNegotiation,
  forgetLrcNegotiation,
  invokeLrc,
  type LrcUpdate,
  ResultCode,
  TaskStatus,
} from '../../src/protocols/tango/lrc/invokeLrc.js';
import { LongRunningCommand } from '../../src/protocols/tango/lrc/longRunningCommand.js';
import { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { TestClock } from '../../src/testing/testClock.js';
import { devError, flush, referenceDevice, runFor, ScriptedPort } from './support/lrcHarness.js';

let clock: TestClock;
let system: OrrerySystem;
let device: SkaDeviceSimulator;

beforeEach(() => {
  clock = new TestClock();
  system = createSystem({ clock });
  device = referenceDevice({
    clock,
    commands: {
      Chatty: async (task) => {
        task.progress('ProgressMsg command has started');
        await task.sleep(10);
        return [ResultCode.OK, 'chatty done'];
      },
    },
  });
});
afterEach(async () => {
  await device.close();
  await system.stop();
  expect(clock.pending).toBe(0);
});

const warnLogger = () => {
  const warn = vi.fn();
  const logger = { warn, error: vi.fn(), info: vi.fn(), debug: vi.fn(), trace: vi.fn(), child: () => logger };
  return { logger, warn };
};

describe('9.1.10 non-integer progress', () => {
  it('is delivered as-is, with a warning', async () => {
    const { logger, warn } = warnLogger();
    const updates: LrcUpdate[] = [];
    await invokeLrc((u) => updates.push(u), device, 'Chatty', undefined, { system, logger });
    await runFor(clock, 20);
    expect(updates).toContainEqual({ progress: 'ProgressMsg command has started' });
    expect(warn.mock.calls[0][1]).toBe(
      "'Chatty' command's progress is not an int, but string. Its type may be checked and enforced in the future.",
    );
  });
});

describe('9.1.12 error events', () => {
  it('become {error} updates and keep the subscription', async () => {
    const port = new ScriptedPort(device);
    const updates: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => updates.push(u), port, 'On', undefined, { system });
    const errors = [
      {
        reason: 'API_EventTimeout',
        desc: 'Event channel is not responding anymore',
        origin: 'x',
        severity: 'ERR' as const,
      },
    ];
    port.inject({ attribute: '_lrcEvent', errors });
    expect(updates.at(-1)).toEqual({ error: errors });
    expect(subs.active).toBe(true);
    await runFor(clock, 400);
    expect(updates.at(-1)?.status).toBe(TaskStatus.COMPLETED);
  });
  it('error events before the command id is known are kept and delivered once it is', async () => {
    const port = new ScriptedPort(device, { errorOnSubscribe: true, errorDuringInvoke: true });
    const updates: LrcUpdate[] = [];
    await invokeLrc((u) => updates.push(u), port, 'On', undefined, { system });
    expect(updates.slice(0, 2).map((u) => u.error?.[0].desc)).toEqual([
      'subscribing _lrcEvent',
      'during invoke',
    ]);
    expect(updates[2]).toEqual({ status: TaskStatus.STAGING });
  });
  it('error events before the command id reach the callback, in order, before the failure of a call never submitted', async () => {
    // upstream's wrapper calls cb(error=event.errors) as each error event arrives, command id or not
    const failures: [string, (port: ScriptedPort) => Promise<unknown>, new (...a: never[]) => Error][] = [
      ['REJECTED', (port) => invokeLrc((u) => log.push(u), port, 'Off', undefined, { system }), CommandError],
      [
        'invoke failure',
        (port) => invokeLrc((u) => log.push(u), port, 'Nope', undefined, { system }),
        DevFailed,
      ],
      [
        'unexpected code',
        (port) => {
          port.options.reply = [[ResultCode.OK], ['done at once']];
          return invokeLrc((u) => log.push(u), port, 'On', undefined, { system });
        },
        ResultCodeError,
      ],
      [
        'v1 subscribe failure',
        (port) => {
          port.options.failSubscribe = (a) =>
            a === 'longRunningCommandResult' ? new Error('no result') : undefined;
          return invokeLrc((u) => log.push(u), port, 'On', undefined, { system, clientVersions: [1, 1] });
        },
        DevFailed,
      ],
      [
        'deadline before submission',
        (port) => {
          port.commandInout = () => new Promise(() => {});
          return invokeLrc((u) => log.push(u), port, 'On', undefined, { system, timeout: 50 });
        },
        TimeoutError,
      ],
    ];
    const log: unknown[] = [];
    for (const [name, call, type] of failures) {
      log.length = 0;
      const port = new ScriptedPort(device, { errorOnSubscribe: true, errorDuringInvoke: true });
      const p = call(port).then(
        () => log.push('submitted'),
        (err) => log.push(err),
      );
      await runFor(clock, 60);
      await p;
      const descs = log.map((u) => (u instanceof Error ? u : (u as LrcUpdate).error?.[0].desc));
      expect(descs.at(-1), name).toBeInstanceOf(type);
      expect(descs.slice(0, -1), name).toEqual(
        name === 'v1 subscribe failure'
          ? ['subscribing longRunningCommandStatus', 'subscribing longRunningCommandProgress']
          : name === 'deadline before submission'
            ? ['subscribing _lrcEvent']
            : ['subscribing _lrcEvent', 'during invoke'],
      );
      expect(port.open, name).toBe(0);
    }
    // LongRunningCommand's onUpdate hears of them too
    const updates: LrcUpdate[] = [];
    const r = await new LongRunningCommand('Off', { system }).run(
      new ScriptedPort(device, { errorDuringInvoke: true }),
      { onUpdate: (u) => updates.push(u) },
    );
    expect(r.exception).toBeInstanceOf(CommandError);
    expect(updates.map((u) => u.error?.[0].desc)).toEqual(['during invoke']);
  });
  it('a throwing callback is logged and the monitoring goes on', async () => {
    const { logger } = warnLogger();
    let calls = 0;
    const subs = await invokeLrc(
      () => {
        calls++;
        throw new Error('user bug');
      },
      device,
      'On',
      undefined,
      { system, logger },
    );
    await runFor(clock, 400);
    expect(calls).toBe(6); // v2: result and COMPLETED in one update
    expect(logger.error).toHaveBeenCalled();
    expect((await subs.finished).outcome).toBe('finished');
  });
});

describe('9.1.13 buffering and v1 ordering', () => {
  it('events before the command id are replayed; QUEUED arriving after the reply still counts', async () => {
    const port = new ScriptedPort(device, { hold: true });
    const statuses: number[] = [];
    const p = invokeLrc((u) => u.status !== undefined && statuses.push(u.status), port, 'Abort', undefined, {
      system,
    });
    await flush();
    // the initial event and STAGING only: the machine learns the id with nothing else known
    port.release((_e, i) => i < 2);
    await flush();
    await p;
    expect(statuses).toEqual([TaskStatus.STAGING]);
    port.release();
    await runFor(clock, 10);
    expect(statuses).toEqual([TaskStatus.STAGING, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED]);
  });
  it('staging, then queued, then in progress, one event at a time', async () => {
    const port = new ScriptedPort(device, { hold: true });
    const statuses: number[] = [];
    const p = invokeLrc((u) => u.status !== undefined && statuses.push(u.status), port, 'On', undefined, {
      system,
    });
    await flush();
    port.release((_e, i) => i < 2);
    await flush();
    const subs = await p;
    for (let i = 0; i < 10; i++) {
      port.release((_e, j) => j === 0);
      await runFor(clock, 100);
    }
    port.release();
    await flush();
    expect(statuses).toEqual([
      TaskStatus.STAGING,
      TaskStatus.QUEUED,
      TaskStatus.IN_PROGRESS,
      TaskStatus.COMPLETED,
    ]);
    expect(subs.active).toBe(false);
  });
  it('v1: a terminal status before its result, the result unreadable: the status is delivered anyway', async () => {
    const port = new ScriptedPort(device, { hold: true, failReadResult: new Error('read failed') });
    const log: LrcUpdate[] = [];
    const p = invokeLrc((u) => log.push(u), port, 'On', undefined, { system, clientVersions: [1, 1] });
    await flush();
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    const subs = await p;
    await runFor(clock, 400);
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    await flush();
    expect(log.at(-1)).toEqual({ status: TaskStatus.COMPLETED });
    expect(log.some((u) => 'result' in u)).toBe(false);
    expect(subs.active).toBe(false);
    expect(port.open).toBe(0);
  });
  it('v1: a terminal status before its result: the result is read and delivered first', async () => {
    const port = new ScriptedPort(device, { hold: true });
    const log: LrcUpdate[] = [];
    const p = invokeLrc((u) => log.push(u), port, 'On', undefined, { system, clientVersions: [1, 1] });
    await flush();
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    await p;
    await runFor(clock, 400);
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    await flush();
    expect(log.slice(-2)).toEqual([
      { result: [0, 'On command completed OK'] },
      { status: TaskStatus.COMPLETED },
    ]);
  });
});

describe('9.1.14 lifetime: deadline, unsubscribe, signal', () => {
  it("the call's timeout ends it at its deadline with a TimeoutError", async () => {
    const updates: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => updates.push(u), device, 'On', undefined, { system, timeout: 150 });
    await runFor(clock, 200);
    const out = await subs.finished;
    expect(out.outcome).toBe('timedOut');
    expect(out.error).toBeInstanceOf(TimeoutError);
    expect(device.subscriptionCount).toBe(0);
    await runFor(clock, 300);
    expect(updates.some((u) => u.status === TaskStatus.COMPLETED)).toBe(false);
  });
  it('a deadline (the timeout falling due) before submission rejects invokeLrc', async () => {
    const port = new ScriptedPort(device, { lateSubscription: true });
    const p = invokeLrc(() => {}, port, 'On', undefined, { system, timeout: 50 });
    await runFor(clock, 60);
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    port.releaseSubscriptions();
    await flush();
    expect(port.open).toBe(0);
  });
  it('unsubscribe() and `using` stop the updates; the command goes on', async () => {
    const updates: LrcUpdate[] = [];
    {
      using subs = await invokeLrc((u) => updates.push(u), device, 'On', undefined, { system });
      expect(subs.active).toBe(true);
    }
    const n = updates.length;
    await runFor(clock, 400);
    expect(updates.length).toBe(n);
    expect(device.subscriptionCount).toBe(0);
    expect(device.state).toBe('ON');
  });
  it('an aborted signal before submission rejects with CancelledError', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(
      invokeLrc(() => {}, device, 'On', undefined, { system, signal: ctl.signal }),
    ).rejects.toBeInstanceOf(CancelledError);
    expect(device.subscriptionCount).toBe(0);
  });
});

describe('LongRunningCommand', () => {
  it('runs to the end and gives an LrcResult', async () => {
    const run = new LongRunningCommand('On', { system }).run(device, { timeout: 1000 });
    await runFor(clock, 400);
    const r = await run;
    expect(r).toMatchObject({
      command: 'On',
      resultCode: ResultCode.OK,
      result: [0, 'On command completed OK'],
      exception: null,
      taskStatusEvents: [TaskStatus.STAGING, TaskStatus.QUEUED, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED],
    });
    expect(r.commandId?.endsWith('_On')).toBe(true);
  });
  it('a rejection, a transport failure and a timeout are results too', async () => {
    device.state = 'ON';
    const rejected = await new LongRunningCommand('On', { system }).run(device);
    expect(rejected.resultCode).toBe(ResultCode.REJECTED);
    expect(rejected.exception).toBeInstanceOf(CommandError);
    const failed = await new LongRunningCommand('Nope', { system }).run(device);
    expect(failed.resultCode).toBe(ResultCode.FAILED);
    expect(failed.exception).toBeInstanceOf(DevFailed);
    const slow = new LongRunningCommand('Off', { system }).run(device, { timeout: 100 });
    await runFor(clock, 150);
    const timedOut = await slow;
    expect(timedOut.resultCode).toBe(ResultCode.UNKNOWN);
    expect(timedOut.exception).toBeInstanceOf(TimeoutError);
    await runFor(clock, 300);
  });
});

describe('LongRunningCommand with reconcile', () => {
  it('a lost terminal event is found by the check after an error event', async () => {
    const port = new ScriptedPort(device, {
      drop: (e) => Array.isArray(e.value) && e.value.some((v) => String(v).includes('"status":5')),
    });
    const run = new LongRunningCommand('On', { system, reconcile: true }).run(port, { timeout: 1000 });
    await runFor(clock, 400);
    port.inject({ attribute: '_lrcEvent', errors: [devError('event channel lost')] });
    const r = await run;
    expect(r.resultCode).toBe(ResultCode.OK);
    expect(r.taskStatusEvents.at(-1)).toBe(TaskStatus.COMPLETED);
    expect(port.open).toBe(0);
  });

  it('an error event while a check is on its way makes another check once it answers (its answer may predate the loss)', async () => {
    let outage = false;
    let answer: (() => void) | undefined;
    const port = new ScriptedPort(device, {
      drop: (e) => outage && e.errors === undefined,
      commands: {
        // the device answers at once (the command still IN_PROGRESS), the answer reaches the client late
        CheckLongRunningCommandStatus: (id) => {
          const status = device.commandInout('CheckLongRunningCommandStatus', id);
          if (answer) return status;
          return new Promise((resolve) => {
            answer = () => resolve(status);
          });
        },
      },
    });
    const statuses: TaskStatus[] = [];
    const run = new LongRunningCommand('On', { system, reconcile: true }).run(port, {
      onUpdate: (u) => u.status !== undefined && statuses.push(u.status),
    });
    await runFor(clock, 50);
    port.inject({ attribute: '_lrcEvent', errors: [devError('API_EventTimeout')] });
    await flush();
    expect(answer).toBeDefined();
    // the command ends while the check's answer is on its way, and its events are lost: a second error event says so
    outage = true;
    await runFor(clock, 400);
    port.inject({ attribute: '_lrcEvent', errors: [devError('API_EventTimeout')] });
    outage = false;
    answer!(); // IN_PROGRESS, out of date
    await runFor(clock, 50);
    const r = await Promise.race([run, flush().then(() => 'still running')]);
    expect(r).toMatchObject({ resultCode: ResultCode.OK, exception: expect.any(DevFailed) });
    expect(statuses.at(-1)).toBe(TaskStatus.COMPLETED);
    expect(port.open).toBe(0);
  });

  it('a device that restarted (its tracker empty) answers NOT_FOUND: the run ends with SKA_CommandNotFound, resultCode UNKNOWN', async () => {
    // the restarted device: a fresh simulator of the same name answers the check; the old one's events stop
    const restarted = referenceDevice({ clock });
    try {
      const port = new ScriptedPort(device, {
        drop: (e) => e.errors === undefined, // the old device's value events
        commands: {
          CheckLongRunningCommandStatus: (id) => restarted.commandInout('CheckLongRunningCommandStatus', id),
        },
      });
      const statuses: TaskStatus[] = [];
      const run = new LongRunningCommand('On', { system, reconcile: true }).run(port, {
        onUpdate: (u) => u.status !== undefined && statuses.push(u.status),
      });
      await runFor(clock, 50);
      port.inject({ attribute: '_lrcEvent', errors: [devError('API_EventTimeout')] });
      const r = await run;
      expect(r.resultCode).toBe(ResultCode.UNKNOWN);
      expect(r.exception).toBeInstanceOf(DevFailed);
      expect((r.exception as DevFailed).errors.map((e) => e.reason)).toEqual(['SKA_CommandNotFound']);
      expect(r.commandId).toMatch(/_On$/);
      expect(statuses).toEqual([]); // every event of the old device was lost
      expect(port.open).toBe(0);
    } finally {
      await restarted.close();
    }
  });
});

describe('the simulator', () => {
  it('lrcProtocolVersions, lrcFinished and the removal of finished commands after 10 s', async () => {
    expect(await device.readAttribute('lrcProtocolVersions')).toEqual([1, 2]);
    expect(await device.readAttribute('_lrcEvent')).toEqual([]);
    const subs = await invokeLrc(() => {}, device, 'On', undefined, { system });
    await runFor(clock, 400);
    const finished = (await device.readAttribute('lrcFinished')) as string[];
    expect(JSON.parse(finished[0])).toMatchObject({ uid: subs.commandId, name: 'On', status: 'COMPLETED' });
    expect(await device.readAttribute('longRunningCommandStatus')).toEqual([subs.commandId, 'COMPLETED']);
    await runFor(clock, 10_000, 1000);
    expect(await device.readAttribute('longRunningCommandStatus')).toEqual([]);
    expect((await device.readAttribute('lrcFinished')) as string[]).toHaveLength(1);
  });
  it('close() aborts running tasks, clears timers and refuses further calls', async () => {
    await invokeLrc(() => {}, device, 'On', undefined, { system });
    await runFor(clock, 50);
    expect(device.pendingTimers).toBeGreaterThan(0);
    await device.close();
    expect(device.pendingTimers).toBe(0);
    await expect(device.commandInout('On')).rejects.toBeInstanceOf(DevFailed);
  });
});

describe('protocol negotiation cache', () => {
  const cached = { negotiation: 'cached' as const };
  const run = async (port: import('../../src/protocols/tango/port.js').DevicePort, options = {}) => {
    const subs = await invokeLrc(() => {}, port, 'Chatty', undefined, { system, ...options });
    await runFor(clock, 20);
    return subs.finished;
  };

  it('per call by default, as upstream: every call reads the versions', async () => {
    const list = vi.spyOn(device, 'attributeList');
    await run(device);
    await run(device);
    expect(list).toHaveBeenCalledTimes(2);
    expect(cachedLrcNegotiation(device)).toBeUndefined();
  });
  it("'cached': one negotiation per device, shared by concurrent calls and reused by later ones", async () => {
    const list = vi.spyOn(device, 'attributeList');
    const finished = await Promise.all([run(device, cached), run(device, cached)]);
    expect(list).toHaveBeenCalledTimes(1);
    expect(cachedLrcNegotiation(device)).toEqual([1, 2]);
    const later = await run(device, cached);
    expect(list).toHaveBeenCalledTimes(1);
    expect([...finished, later].map((o) => [o.outcome, o.protocolVersion])).toEqual([
      ['finished', 2],
      ['finished', 2],
      ['finished', 2],
    ]);
    // the cached versions still meet the client's range
    expect((await run(device, { ...cached, clientVersions: [1, 1] })).protocolVersion).toBe(1);
  });
  it('a device without lrcProtocolVersions is cached as v1-only', async () => {
    const old = new SkaDeviceSimulator({
      name: 'test/old/1',
      clock,
      protocolVersions: null,
      commands: { Chatty: () => [ResultCode.OK, 'ok'] },
    });
    await run(old, cached);
    expect(cachedLrcNegotiation(old)).toBeNull();
    const list = vi.spyOn(old, 'attributeList');
    expect((await run(old, cached)).protocolVersion).toBe(1);
    expect(list).not.toHaveBeenCalled();
    await old.close();
  });
  it('cached incompatible versions reject the next call without reading them again', async () => {
    const v3 = new SkaDeviceSimulator({
      name: 'test/v3/1',
      clock,
      protocolVersions: [3, 3],
      commands: { Chatty: () => [ResultCode.OK, 'ok'] },
    });
    const call = () => invokeLrc(() => {}, v3, 'Chatty', undefined, { system, ...cached });
    await expect(call()).rejects.toBeInstanceOf(ProtocolVersionError);
    const list = vi.spyOn(v3, 'attributeList');
    await expect(call()).rejects.toThrow('Server version min, max = (3, 3)');
    expect(list).not.toHaveBeenCalled();
    await v3.close();
  });
  it('a failed negotiation is not kept', async () => {
    const port = new ScriptedPort(device, { failAttributeList: new Error('no device') });
    await expect(invokeLrc(() => {}, port, 'Chatty', undefined, { system, ...cached })).rejects.toThrow(
      "Reading 'lrcProtocolVersions' failed.",
    );
    expect(cachedLrcNegotiation(port)).toBeUndefined();
    port.options = {};
    expect((await run(port, cached)).outcome).toBe('finished');
    expect(cachedLrcNegotiation(port)).toEqual([1, 2]);
  });
  it('dropped on a transport error, so the next call negotiates again', async () => {
    await run(device, cached);
    await expect(
      invokeLrc(() => {}, device, 'NoSuchCommand', undefined, { system, ...cached }),
    ).rejects.toThrow(DevFailed);
    expect(cachedLrcNegotiation(device)).toBeUndefined();
    const failing = new ScriptedPort(device);
    await run(failing, cached);
    expect(cachedLrcNegotiation(failing)).toEqual([1, 2]);
    failing.options = { failSubscribe: () => new Error('event system down') };
    await expect(invokeLrc(() => {}, failing, 'Chatty', undefined, { system, ...cached })).rejects.toThrow(
      DevFailed,
    );
    expect(cachedLrcNegotiation(failing)).toBeUndefined();
  });
  it('dropped when a per-call negotiation on the same device fails (a transport error of any call)', async () => {
    const port = new ScriptedPort(device);
    await run(port, cached);
    expect(cachedLrcNegotiation(port)).toEqual([1, 2]);
    port.options = { failAttributeList: new Error('connection lost') };
    await expect(invokeLrc(() => {}, port, 'Chatty', undefined, { system })).rejects.toThrow(DevFailed);
    expect(cachedLrcNegotiation(port)).toBeUndefined();
    // the next cached call reads the versions again
    port.options = {};
    const list = vi.spyOn(port, 'attributeList');
    await run(port, cached);
    expect(list).toHaveBeenCalledTimes(1);
    expect(cachedLrcNegotiation(port)).toEqual([1, 2]);
  });
  it('a negotiation that never answers is not kept once the call waiting for it ends: the next call asks again', async () => {
    const port = new ScriptedPort(device);
    let hung = true;
    const list = port.attributeList.bind(port);
    port.attributeList = () => (hung ? new Promise<never>(() => {}) : list());
    const first = invokeLrc(() => {}, port, 'Chatty', undefined, { system, ...cached, timeout: 1000 });
    await runFor(clock, 1000);
    await expect(first).rejects.toBeInstanceOf(TimeoutError);
    // the device answers again: a later call is not left waiting on the lost negotiation
    hung = false;
    const second = invokeLrc(() => {}, port, 'Chatty', undefined, { system, ...cached, timeout: 1000 });
    await runFor(clock, 20);
    const answered = await Promise.race([
      second.then((subs) => subs.protocolVersion),
      flush().then(() => 'still negotiating'),
    ]);
    expect(answered).toBe(2);
    expect(cachedLrcNegotiation(port)).toEqual([1, 2]);
    await runFor(clock, 20);
  });
  it('dropped on an error event (the device may have restarted) and by forgetLrcNegotiation()', async () => {
    const port = new ScriptedPort(device);
    const subs = await invokeLrc(() => {}, port, 'Chatty', undefined, { system, ...cached });
    expect(cachedLrcNegotiation(port)).toEqual([1, 2]);
    port.inject({ attribute: '_lrcEvent', errors: [devError('API_EventTimeout')] });
    expect(cachedLrcNegotiation(port)).toBeUndefined();
    await runFor(clock, 20);
    await subs.finished;
    await run(port, cached);
    expect(cachedLrcNegotiation(port)).toEqual([1, 2]);
    forgetLrcNegotiation(port);
    expect(cachedLrcNegotiation(port)).toBeUndefined();
  });
});
