/**
 * Issue 7 ("Hardening: what a hostile review broke"), the long running command side: items 7, 9, 11, 12, 13 and 16,
 * one named test (or group) per item, against the reference device on a TestClock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EngineEvent } from '../../src/engine/inspectionBus.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { InvalidArgumentError, SystemStoppedError, TimeoutError } from '../../src/errors.js';
import { DevFailed, ResultCodeError } from '../../src/protocols/tango/errors.js';
import {
  DEFAULT_RESULT_TIMEOUT_MS,
  invokeLrc,
  type LrcUpdate,
  lrcLogic,
  ResultCode,
  TaskStatus,
  taskStatusName,
} from '../../src/protocols/tango/lrc/invokeLrc.js';
import { LongRunningCommand } from '../../src/protocols/tango/lrc/longRunningCommand.js';
import type { AttributeEvent, DevicePort } from '../../src/protocols/tango/port.js';
import { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { TestClock } from '../../src/testing/testClock.js';
import { devError, flush, referenceDevice, runFor, ScriptedPort } from './support/lrcHarness.js';

/** A TestClock that also remembers every delay it was asked for (to see that none was armed for Infinity). */
class RecordingClock extends TestClock {
  readonly delays: number[] = [];
  override setTimeout(fn: (...args: any[]) => void, ms: number): number {
    this.delays.push(ms);
    return super.setTimeout(fn, ms);
  }
}

let clock: RecordingClock;
let system: OrrerySystem;
let device: SkaDeviceSimulator;
let crashes: EngineEvent[];

beforeEach(() => {
  clock = new RecordingClock();
  system = createSystem({ clock });
  crashes = [];
  system.onEngineEvent((e) => {
    if (e.type === 'actor.failed') crashes.push(e);
  });
  device = referenceDevice({
    clock,
    commands: {
      Quick: () => [ResultCode.OK, 'quick done'],
      Silent: async (task) => {
        task.inProgress();
        await task.sleep(10);
      },
      Combined: async (task) => {
        task.update({ status: TaskStatus.IN_PROGRESS, progress: 10 });
        await task.sleep(10);
        task.update({ progress: 50 });
        await task.sleep(10);
        return [ResultCode.OK, 'combined done'];
      },
      Overreach: async (task) => {
        task.update({ status: TaskStatus.COMPLETED as never });
      },
    },
  });
});
afterEach(async () => {
  await device.close();
  await system.stop();
  expect(crashes).toEqual([]);
  expect(clock.pending).toBe(0);
});

const statuses = (updates: LrcUpdate[]) =>
  updates.filter((u) => u.status !== undefined).map((u) => taskStatusName(u.status!));

/** Every text an error carries: message, stack, its Tango stack, and the same for its causes. */
function allText(err: unknown, depth = 0): string {
  if (!(err instanceof Error) || depth > 5) return String(err);
  const e = err as Error & { errors?: readonly { desc: string; reason: string; origin: string }[] };
  const stack = (e.errors ?? []).map((x) => `${x.reason} ${x.desc} ${x.origin}`).join('\n');
  return [e.message, e.stack, stack, e.cause === undefined ? '' : allText(e.cause, depth + 1)].join('\n');
}

/** A DevicePort in front of `inner` whose listed methods throw synchronously (not a rejected promise). */
function throwingPort(
  inner: DevicePort,
  throws: Partial<Record<keyof DevicePort, (arg: unknown) => boolean>>,
) {
  const port = new ScriptedPort(inner);
  const wrap = <K extends 'commandInout' | 'readAttribute' | 'attributeList' | 'subscribeChangeEvent'>(
    name: K,
  ) => {
    const original = (port[name] as (...a: unknown[]) => unknown).bind(port);
    (port as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      if (throws[name]?.(args[0])) throw new Error(`${name} exploded`);
      return original(...args);
    };
  };
  wrap('commandInout');
  wrap('readAttribute');
  wrap('attributeList');
  wrap('subscribeChangeEvent');
  return port;
}

describe('issue 7 item 7: no command argument value in error text', () => {
  const secret = { password: 'hunter2', params: [{ serial: 'SN-0042' }] };
  it('issue 7 item 7: an invocation failure names the argument type, never its values', async () => {
    const err = await invokeLrc(() => {}, device, 'DummyCmd', secret, { system }).catch((e) => e);
    expect(err).toBeInstanceOf(DevFailed);
    expect(err.errors.at(-1).desc).toBe(
      "Invocation of command 'DummyCmd' failed with args: <object, value not shown>",
    );
    const arrayErr = await invokeLrc(() => {}, device, 'DummyCmd', ['hunter2', 7], { system }).catch(
      (e) => e,
    );
    expect(arrayErr.errors.at(-1).desc).toBe(
      "Invocation of command 'DummyCmd' failed with args: <array of 2, values not shown>",
    );
    // a transport failure, a throwing port and LongRunningCommand's result: nowhere either
    const failing = new ScriptedPort(device, {
      commands: { On: () => Promise.reject(new Error('link down')) },
    });
    const viaPort = await invokeLrc(() => {}, failing, 'On', secret, { system }).catch((e) => e);
    const thrower = throwingPort(device, { commandInout: () => true });
    const viaThrow = await invokeLrc(() => {}, thrower, 'On', 'hunter2', { system }).catch((e) => e);
    const run = await new LongRunningCommand('DummyCmd', { system }).run(device, { args: secret });
    for (const e of [err, arrayErr, viaPort, viaThrow, run.exception]) {
      expect(e).toBeInstanceOf(DevFailed);
      expect(allText(e)).not.toMatch(/hunter2|SN-0042/);
    }
    expect(JSON.stringify(run)).not.toMatch(/hunter2|SN-0042/);
  });
});

describe('issue 7 item 9: one duration rule for the LRC facades', () => {
  const BAD = [Number.NaN, -1, '100', {}, Number.NEGATIVE_INFINITY, null as unknown];
  it('issue 7 item 9: a bad timeout (invokeLrc, run) or resultTimeout is an InvalidArgumentError before anything is spawned', async () => {
    const spawn = vi.spyOn(system, 'spawnDetached');
    const port = new ScriptedPort(device, { failAttributeList: new Error('no I/O expected') });
    for (const value of BAD) {
      if (value !== null) {
        await expect(
          invokeLrc(() => {}, port, 'On', undefined, { system, timeout: value as number }),
        ).rejects.toThrow(/^timeout must be a non-negative number of milliseconds \(or Infinity for never\)/);
        await expect(
          new LongRunningCommand('On', { system }).run(port, { timeout: value as number }),
        ).rejects.toThrow(/^timeout must be a non-negative number of milliseconds/);
      }
      if (value !== null)
        await expect(
          invokeLrc(() => {}, port, 'On', undefined, { system, resultTimeout: value as number }),
        ).rejects.toBeInstanceOf(InvalidArgumentError);
      if (value !== null)
        expect(() => new LongRunningCommand('On', { system, resultTimeout: value as number })).toThrow(
          InvalidArgumentError,
        );
    }
    expect(spawn).not.toHaveBeenCalled();
    expect(port.open).toBe(0);
  });

  it('issue 7 item 9: Infinity means never: no timer is armed for a deadline or a result read', async () => {
    const port = new ScriptedPort(device, { hold: true });
    const log: LrcUpdate[] = [];
    const p = invokeLrc((u) => log.push(u), port, 'On', undefined, {
      system,
      clientVersions: [1, 1],
      timeout: Number.POSITIVE_INFINITY,
      resultTimeout: Number.POSITIVE_INFINITY,
    });
    await flush();
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    const subs = await p;
    // the terminal status comes, its result never does, the read never answers
    port.readAttribute = () => new Promise(() => {});
    await runFor(clock, 400);
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    await runFor(clock, 100_000, 10_000);
    expect(subs.active).toBe(true);
    expect(clock.delays).not.toContain(Number.POSITIVE_INFINITY);
    subs.unsubscribe();
    expect(port.open).toBe(0);
    // null and undefined are "not set" too
    const q = await invokeLrc(() => {}, device, 'Quick', undefined, { system, timeout: null });
    await runFor(clock, 20);
    expect((await q.finished).outcome).toBe('finished');
  });

  it("issue 7 item 9, issue 8 item 5: 'timeout' means the same in invokeLrc and LongRunningCommand.run, and 'deadline' is refused by both", async () => {
    await expect(
      invokeLrc(() => {}, device, 'On', undefined, { system, deadline: 50 } as never),
    ).rejects.toThrow("invokeLrc has no option 'deadline' (did you mean 'timeout'");
    await expect(
      new LongRunningCommand('On', { system }).run(device, { deadline: 50 } as never),
    ).rejects.toThrow("LongRunningCommand.run has no option 'deadline' (did you mean 'timeout'");
    expect(() => new LongRunningCommand('On', { system, timeout: 50 } as never)).toThrow(
      "LongRunningCommand has no option 'timeout' (did you mean run(device, {timeout})?)",
    );
    // both count from the call, through negotiation, submission and monitoring, and say so alike
    const late = new ScriptedPort(device, { lateSubscription: true });
    const a = invokeLrc(() => {}, late, 'On', undefined, { system, timeout: 50 }).catch((e) => e);
    const b = new LongRunningCommand('On', { system }).run(late, { timeout: 50 });
    await runFor(clock, 49, 1);
    expect(late.open).toBe(0);
    await runFor(clock, 1, 1);
    const [ea, rb] = [await a, await b];
    expect(ea).toBeInstanceOf(TimeoutError);
    expect(rb.exception).toBeInstanceOf(TimeoutError);
    expect(ea.message).toBe('On on test/reference/1 did not finish within 50 ms');
    expect(rb.exception?.message).toBe(ea.message);
    late.releaseSubscriptions();
    await flush();
    expect(late.open).toBe(0);
  });
});

describe('issue 7 item 11: system.stop() ends pending LRCs', () => {
  it('issue 7 item 11: a monitored LRC ends with SystemStoppedError and releases every subscription (v1 and v2)', async () => {
    const ports = [new ScriptedPort(device), new ScriptedPort(device)];
    const logs: LrcUpdate[][] = [[], []];
    const subs = await Promise.all(
      ports.map((port, i) =>
        invokeLrc((u) => logs[i].push(u), port, i ? 'Standby' : 'On', undefined, {
          system,
          clientVersions: [1, i ? 1 : 2],
        }),
      ),
    );
    await runFor(clock, 50);
    expect(device.subscriptionCount).toBe(4);
    await system.stop();
    for (const [i, s] of subs.entries()) {
      const out = await s.finished;
      expect(out.outcome).toBe('released');
      expect(out.error).toBeInstanceOf(SystemStoppedError);
      expect(out.commandId).toBe(s.commandId);
      expect(ports[i].open).toBe(0);
      // the callback learns it too: a last {error} update
      expect(logs[i].at(-1)).toEqual({
        error: [
          {
            reason: 'SystemStoppedError',
            desc: 'the actor system was stopped',
            origin: `invokeLrc(test/reference/1, ${i ? 'Standby' : 'On'})`,
            severity: 'ERR',
          },
          {
            reason: 'SKA_InvokeLrcFailed',
            desc: `${i ? 'Standby' : 'On'} is no longer followed.`,
            origin: `invokeLrc(test/reference/1, ${i ? 'Standby' : 'On'})`,
            severity: 'ERR',
          },
        ],
      });
    }
    expect(device.subscriptionCount).toBe(0);
    expect(system.detachedCount).toBe(0);
  });

  it('issue 7 item 11: before submission invokeLrc rejects with SystemStoppedError; LongRunningCommand gives it as the exception', async () => {
    const late = new ScriptedPort(device, { lateSubscription: true });
    const p = invokeLrc(() => {}, late, 'On', undefined, { system }).catch((e) => e);
    const run = new LongRunningCommand('Standby', { system }).run(device, { timeout: 1000 });
    await flush();
    await system.stop();
    expect(await p).toBeInstanceOf(SystemStoppedError);
    const r = await run;
    expect(r.exception).toBeInstanceOf(SystemStoppedError);
    expect(r.resultCode).toBe(ResultCode.UNKNOWN);
    late.releaseSubscriptions(); // a subscription completing after the stop is released at once
    await flush();
    expect(late.open).toBe(0);
    expect(device.subscriptionCount).toBe(0);
  });

  it('on a system already stopped, invokeLrc rejects with SystemStoppedError and LongRunningCommand gives it as the exception, nothing sent', async () => {
    await system.stop();
    const port = new ScriptedPort(device);
    const err = await invokeLrc(() => {}, port, 'On', undefined, { system }).catch((e) => e);
    expect(err).toBeInstanceOf(SystemStoppedError);
    const r = await new LongRunningCommand('Standby', { system }).run(port);
    expect(r.exception).toBeInstanceOf(SystemStoppedError);
    expect(r).toMatchObject({ resultCode: ResultCode.UNKNOWN, commandId: null, taskStatusEvents: [] });
    expect(port.open).toBe(0);
    expect(device.queueLength).toBe(0);
  });

  it('issue 7 item 11: a v1 call waiting for its result read is released too', async () => {
    const port = new ScriptedPort(device, { hold: true });
    const p = invokeLrc(() => {}, port, 'On', undefined, { system, clientVersions: [1, 1] });
    await flush();
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    const subs = await p;
    port.readAttribute = () => new Promise(() => {});
    await runFor(clock, 400);
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    await flush();
    expect(subs.actor.getSnapshot().matches({ unbounded: { session: 'fetchingResult' } })).toBe(true);
    await system.stop();
    expect((await subs.finished).error).toBeInstanceOf(SystemStoppedError);
    expect(port.open).toBe(0);
  });
});

describe('issue 7 item 12: facades check everything before they spawn', () => {
  it('issue 7 item 12: invokeLrc checks the device port, command, callback and every option first', async () => {
    const spawn = vi.spyOn(system, 'spawnDetached');
    const port = new ScriptedPort(device, { failAttributeList: new Error('no I/O expected') });
    const { subscribeChangeEvent: _, ...noSubscribe } = {
      name: 'x',
      commandInout: async () => 0,
      readAttribute: async () => 0,
      attributeList: async () => [],
      subscribeChangeEvent: async () => () => {},
    };
    const cases: [unknown, unknown, unknown, unknown, RegExp][] = [
      [() => {}, null, 'On', {}, /needs a DevicePort .*got null/],
      [() => {}, {}, 'On', {}, /its name is not a string/],
      [() => {}, noSubscribe, 'On', {}, /missing: subscribeChangeEvent/],
      [() => {}, port, '', {}, /needs a command name/],
      [() => {}, port, 42, {}, /needs a command name/],
      [42, port, 'On', {}, /one update object/],
      [(_a: unknown, _b: unknown) => {}, port, 'On', {}, /one update object/],
      [() => {}, port, 'On', 'fast', /options must be an object/],
      [() => {}, port, 'On', { parity: 'yes' }, /parity must be a boolean/],
      [() => {}, port, 'On', { reconcile: 1 }, /reconcile must be a boolean/],
      [() => {}, port, 'On', { clientVersions: [2, 1] }, /clientVersions must be a \(min, max\) pair/],
      [() => {}, port, 'On', { clientVersions: [1] }, /clientVersions/],
      // the client speaks v1 and v2 only: claiming v3 would make a (1, 3) server choose a protocol it cannot follow
      [() => {}, port, 'On', { clientVersions: [1, 3] }, /clientVersions must be .*from 1 to 2/],
      [() => {}, port, 'On', { clientVersions: [3, 3] }, /clientVersions must be .*from 1 to 2/],
      [() => {}, port, 'On', { negotiation: 'sometimes' }, /negotiation must be 'perCall' or 'cached'/],
      [() => {}, port, 'On', { signal: {} }, /signal must be an AbortSignal/],
      [() => {}, port, 'On', { system: {} }, /system must be an OrrerySystem/],
      [() => {}, port, 'On', { logger: {} }, /logger must be a pino-compatible logger/],
      [() => {}, port, 'On', { timeout: -1 }, /timeout must be/],
      [() => {}, port, 'On', { resultTimeout: '1s' }, /resultTimeout must be/],
      [() => {}, port, 'On', { retries: 3 }, /invokeLrc has no option 'retries'/],
    ];
    for (const [callback, dev, command, options, message] of cases) {
      const opts = typeof options === 'object' ? { system, ...(options as object) } : options;
      const err = await invokeLrc(
        callback as never,
        dev as never,
        command as never,
        undefined,
        opts as never,
      ).catch((e) => e);
      expect(err, String(message)).toBeInstanceOf(InvalidArgumentError);
      expect(err.message).toMatch(message);
    }
    expect(spawn).not.toHaveBeenCalled();
  });

  it('issue 7 item 12: LongRunningCommand checks its command and options in the constructor, run() the rest', async () => {
    const spawn = vi.spyOn(system, 'spawnDetached');
    expect(() => new LongRunningCommand('')).toThrow(InvalidArgumentError);
    expect(() => new LongRunningCommand('On', { parity: 1 } as never)).toThrow(/parity must be a boolean/);
    expect(() => new LongRunningCommand('On', { negotiation: 'x' } as never)).toThrow(InvalidArgumentError);
    expect(() => new LongRunningCommand('On', { system: 'default' } as never)).toThrow(InvalidArgumentError);
    const lrc = new LongRunningCommand('On', { system });
    await expect(lrc.run(null as never)).rejects.toThrow(/LongRunningCommand.run needs a DevicePort/);
    await expect(lrc.run(device, { onUpdate: 'log' } as never)).rejects.toThrow(
      /onUpdate must be a function/,
    );
    await expect(lrc.run(device, { signal: true } as never)).rejects.toThrow(/signal must be an AbortSignal/);
    await expect(lrc.run(device, 5 as never)).rejects.toThrow(/options must be an object/);
    expect(spawn).not.toHaveBeenCalled();
    // an aborted signal: cancelled, still without spawning or touching the device
    const ctl = new AbortController();
    ctl.abort();
    const list = vi.spyOn(device, 'attributeList');
    const r = await lrc.run(device, { signal: ctl.signal });
    expect(r.exception?.name).toBe('CancelledError');
    expect(spawn).not.toHaveBeenCalled();
    expect(list).not.toHaveBeenCalled();
  });

  it('issue 7 item 12: SkaDeviceSimulator checks its options before it exists', () => {
    const ok = { name: 'test/x/1', clock, commands: {} };
    const bad: [object, RegExp][] = [
      [{ ...ok, name: '' }, /name must be a non-empty string/],
      [{ ...ok, commands: null }, /commands must be an object/],
      [{ ...ok, commands: { On: 42 } }, /command 'On' must be a handler/],
      [{ ...ok, commands: { On: { execute: () => 0, validate: 'no' } } }, /command 'On' must be/],
      [{ ...ok, commands: { Abort: () => 0 } }, /'Abort' is a built-in command/],
      [{ ...ok, maxQueuedTasks: -1 }, /maxQueuedTasks/],
      [{ ...ok, maxQueuedTasks: 1.5 }, /maxQueuedTasks/],
      [{ ...ok, removalTimeMs: -5 }, /removalTimeMs must be a non-negative number/],
      [{ ...ok, removalTimeMs: '10s' }, /removalTimeMs/],
      [{ ...ok, protocolVersions: [2] }, /protocolVersions/],
      [{ ...ok, clock: {} }, /clock must be a Clock/],
      [{ ...ok, uuid: 7 }, /uuid must be a function/],
      [{ ...ok, epochMs: Number.NaN }, /epochMs/],
      [{ ...ok, state: 1 }, /state must be a string/],
    ];
    for (const [options, message] of bad) {
      expect(() => new SkaDeviceSimulator(options as never), String(message)).toThrow(InvalidArgumentError);
      expect(() => new SkaDeviceSimulator(options as never)).toThrow(message);
    }
    expect(() => new SkaDeviceSimulator(undefined as never)).toThrow(InvalidArgumentError);
  });

  it('the lrc machine on its own still refuses a bad callback (validating -> notStarted)', async () => {
    const actor = system.spawnDetached(lrcLogic, {
      input: { device, command: 'On', callback: 42 as never },
    });
    expect(actor.getSnapshot().output).toMatchObject({ outcome: 'notStarted' });
    expect(actor.getSnapshot().output?.error).toBeInstanceOf(InvalidArgumentError);
  });
});

describe('issue 7 item 13: device faults end with a typed error and no subscription', () => {
  it('issue 7 item 13: a port that throws synchronously never crashes the call', async () => {
    // commandInout at invocation: a DevFailed keeping the error, nothing subscribed
    const invoke = throwingPort(device, { commandInout: (c) => c === 'On' });
    const err = await invokeLrc(() => {}, invoke, 'On', undefined, { system }).catch((e) => e);
    expect(err).toBeInstanceOf(DevFailed);
    expect(err.errors.map((e: { desc: string }) => e.desc)).toEqual([
      'commandInout exploded',
      "Invocation of command 'On' failed with args: None",
    ]);
    expect(invoke.open).toBe(0);
    // attributeList and subscribeChangeEvent
    for (const throws of [{ attributeList: () => true }, { subscribeChangeEvent: () => true }]) {
      const port = throwingPort(device, throws);
      await expect(invokeLrc(() => {}, port, 'On', undefined, { system })).rejects.toBeInstanceOf(DevFailed);
      expect(port.open).toBe(0);
    }
    // CheckLongRunningCommandStatus with reconcile: an {error} update, monitoring goes on, the call finishes
    const check = throwingPort(device, { commandInout: (c) => c === 'CheckLongRunningCommandStatus' });
    const updates: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => updates.push(u), check, 'On', undefined, { system, reconcile: true });
    await runFor(clock, 150);
    check.inject({ attribute: '_lrcEvent', errors: [devError('lost')] });
    await flush();
    expect(updates.at(-1)?.error?.map((e) => e.desc)).toEqual([
      'commandInout exploded',
      `CheckLongRunningCommandStatus(${subs.commandId}) failed.`,
    ]);
    expect(subs.active).toBe(true);
    await runFor(clock, 300);
    expect(await subs.finished).toMatchObject({ outcome: 'finished', status: TaskStatus.COMPLETED });
    expect(check.open).toBe(0);
    // the v1 result read: its error, then the terminal status
    const read = throwingPort(device, { readAttribute: (a) => a === 'longRunningCommandResult' });
    read.options.hold = true;
    const log: LrcUpdate[] = [];
    const p = invokeLrc((u) => log.push(u), read, 'Off', undefined, { system, clientVersions: [1, 1] });
    await flush();
    read.release((e) => e.attribute !== 'longRunningCommandResult');
    const v1 = await p;
    await runFor(clock, 400);
    read.release((e) => e.attribute !== 'longRunningCommandResult');
    await flush();
    expect(log.slice(-2)).toEqual([
      {
        error: [
          expect.objectContaining({ desc: 'readAttribute exploded' }),
          expect.objectContaining({ desc: "Reading 'longRunningCommandResult' failed." }),
        ],
      },
      { status: TaskStatus.COMPLETED },
    ]);
    expect((await v1.finished).error).toBeInstanceOf(DevFailed);
    expect(read.open).toBe(0);
    await system.stop();
    expect(device.subscriptionCount).toBe(0);
  });

  it('issue 7 item 13: an accepted reply without a command id is a ResultCodeError, not a call that never ends', async () => {
    for (const reply of [
      [[2], []],
      [[2], [null]],
      [[2], [{ x: 1 }]],
      [[1], ['']],
      [[2], [42]],
    ]) {
      const port = new ScriptedPort(device, { reply });
      const err = await invokeLrc(() => {}, port, 'On', undefined, { system }).catch((e) => e);
      expect(err).toBeInstanceOf(ResultCodeError);
      expect(err.message).toMatch(
        /^Malformed reply to On command: [12] \((QUEUED|STARTED)\) without a command id$/,
      );
      expect(port.open).toBe(0);
      const r = await new LongRunningCommand('On', { system }).run(port);
      expect(r).toMatchObject({ commandId: null, resultCode: ResultCode.UNKNOWN });
      expect(r.exception).toBeInstanceOf(ResultCodeError);
    }
    // a rejection without a reason string still reads well
    const rejected = new ScriptedPort(device, { reply: [[ResultCode.REJECTED], [{}]] });
    await expect(invokeLrc(() => {}, rejected, 'On', undefined, { system })).rejects.toThrow(
      'On command rejected: (no reason given)',
    );
  });

  it('an answer the client cannot read (a throwing getter, a revoked Proxy) is a DevFailed, never a hung call', async () => {
    const revoked = () => {
      const { proxy, revoke } = Proxy.revocable([[2], ['id']], {});
      revoke();
      return proxy;
    };
    const throwing = (value: unknown[]) => {
      Object.defineProperty(value, 0, {
        get() {
          throw new Error('unreadable');
        },
      });
      return value;
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const cases: [string, (port: ScriptedPort) => void][] = [
        ['reply (revoked)', (p) => (p.options.reply = revoked())],
        ['reply (getter)', (p) => (p.options.reply = throwing([[2], ['id']]))],
        ['attributeList (revoked)', (p) => (p.attributeList = async () => revoked() as unknown as string[])],
        [
          'attributeList (getter)',
          (p) => (p.attributeList = async () => throwing(['lrcProtocolVersions']) as string[]),
        ],
        [
          'lrcProtocolVersions (getter)',
          (p) => {
            const read = p.readAttribute.bind(p);
            p.readAttribute = async (a) => (a === 'lrcProtocolVersions' ? throwing([1, 2]) : read(a));
          },
        ],
      ];
      for (const [label, spoil] of cases) {
        const port = new ScriptedPort(device);
        spoil(port);
        const p = invokeLrc(() => {}, port, 'On', undefined, { system }).catch((e) => e);
        const settled = await Promise.race([p, flush(60).then(() => 'still pending')]);
        expect(settled, label).toBeInstanceOf(DevFailed);
        expect((settled as DevFailed).errors[0].desc, label).toMatch(/unreadable|revoked/);
        expect(port.open, label).toBe(0);
      }
      await flush();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('issue 7 item 13: v1, a failing result read after the terminal status delivers its error first', async () => {
    const port = new ScriptedPort(device, {
      hold: true,
      failReadResult: new DevFailed([devError('read timed out')]),
    });
    const log: LrcUpdate[] = [];
    const p = invokeLrc((u) => log.push(u), port, 'On', undefined, { system, clientVersions: [1, 1] });
    await flush();
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    const subs = await p;
    await runFor(clock, 400);
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    await flush();
    expect(log.slice(-2)).toEqual([
      {
        error: [
          devError('read timed out'),
          {
            reason: 'SKA_InvokeLrcFailed',
            desc: "Reading 'longRunningCommandResult' failed.",
            origin: 'invokeLrc(test/reference/1, On)',
            severity: 'ERR',
          },
        ],
      },
      { status: TaskStatus.COMPLETED },
    ]);
    const out = await subs.finished;
    expect(out).toMatchObject({ outcome: 'finished', status: TaskStatus.COMPLETED });
    expect(out.error).toBeInstanceOf(DevFailed);
    expect(port.open).toBe(0);
  });

  for (const [label, resultTimeout, after] of [
    ['the default bound', undefined, DEFAULT_RESULT_TIMEOUT_MS],
    ['an explicit bound', 100, 100],
  ] as const) {
    it(`issue 7 item 13: v1, a result read that never answers ends after ${label} with a TimeoutError`, async () => {
      const port = new ScriptedPort(device, { hold: true });
      const log: LrcUpdate[] = [];
      const p = invokeLrc((u) => log.push(u), port, 'On', undefined, {
        system,
        clientVersions: [1, 1],
        resultTimeout,
      });
      await flush();
      port.release((e) => e.attribute !== 'longRunningCommandResult');
      const subs = await p;
      await runFor(clock, 400);
      port.readAttribute = () => new Promise(() => {});
      port.release((e) => e.attribute !== 'longRunningCommandResult');
      await flush();
      await runFor(clock, after - 1, 1);
      expect(subs.active).toBe(true);
      expect(statuses(log)).toEqual(['STAGING', 'QUEUED', 'IN_PROGRESS']);
      await runFor(clock, 1, 1);
      expect(subs.active).toBe(false);
      expect(log.at(-2)?.error?.map((e) => [e.reason, e.desc])).toEqual([
        [
          'TimeoutError',
          `Reading 'longRunningCommandResult' of On on test/reference/1 (command id ${subs.commandId}) did not answer within ${after} ms`,
        ],
        ['SKA_InvokeLrcFailed', "Reading 'longRunningCommandResult' failed."],
      ]);
      expect(log.at(-1)).toEqual({ status: TaskStatus.COMPLETED });
      const out = await subs.finished;
      expect(out).toMatchObject({ outcome: 'finished', status: TaskStatus.COMPLETED });
      expect(out.error).toBeInstanceOf(TimeoutError);
      expect(port.open).toBe(0);
    });
  }

  it("v1: the call's deadline during the result read still delivers the terminal status the device sent (the read's error first)", async () => {
    // the result event is lost and its read never answers: the call's deadline comes first (before resultTimeout)
    const port = new ScriptedPort(device, { drop: (e) => e.attribute === 'longRunningCommandResult' });
    const read = port.readAttribute.bind(port);
    port.readAttribute = (a) => (a === 'longRunningCommandResult' ? new Promise(() => {}) : read(a));
    const log: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => log.push(u), port, 'On', undefined, {
      system,
      clientVersions: [1, 1],
      timeout: 1000,
    });
    await runFor(clock, 400);
    expect(statuses(log)).toEqual(['STAGING', 'QUEUED', 'IN_PROGRESS']); // COMPLETED came, held for its result
    await runFor(clock, 600, 1);
    expect(log.at(-2)?.error?.map((e) => [e.reason, e.desc])).toEqual([
      ['TimeoutError', `On on test/reference/1 did not finish within 1000 ms (command id ${subs.commandId})`],
      ['SKA_InvokeLrcFailed', "Reading 'longRunningCommandResult' failed."],
    ]);
    expect(log.at(-1)).toEqual({ status: TaskStatus.COMPLETED });
    const out = await subs.finished;
    expect(out).toMatchObject({ outcome: 'finished', status: TaskStatus.COMPLETED });
    expect(out.error).toBeInstanceOf(TimeoutError);
    expect(port.open).toBe(0);
    // LongRunningCommand: the command's own end, with the deadline as its exception
    const r = new LongRunningCommand('Off', { system, clientVersions: [1, 1] }).run(port, { timeout: 1000 });
    await runFor(clock, 1000, 1);
    expect(await r).toMatchObject({ resultCode: ResultCode.OK, exception: expect.any(TimeoutError) });
    expect((await r).taskStatusEvents.at(-1)).toBe(TaskStatus.COMPLETED);
  });

  it('issue 7 item 13: the result read timeout goes when the result comes first', async () => {
    const port = new ScriptedPort(device, { hold: true });
    const log: LrcUpdate[] = [];
    const p = invokeLrc((u) => log.push(u), port, 'On', undefined, { system, clientVersions: [1, 1] });
    await flush();
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    const subs = await p;
    await runFor(clock, 400);
    port.readAttribute = () => new Promise(() => {});
    const pending = clock.pending; // the device's removal timer
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    await flush();
    expect(clock.pending).toBe(pending + 1); // the bound of the read
    port.release(); // the result event arrives after all
    await flush();
    expect(log.slice(-2)).toEqual([
      { result: [0, 'On command completed OK'] },
      { status: TaskStatus.COMPLETED },
    ]);
    expect((await subs.finished).error).toBeNull();
    expect(clock.pending).toBe(pending);
  });

  it('issue 7 item 13: malformed events and answers become {error} updates, never a crash', async () => {
    const port = new ScriptedPort(device, {
      commands: { CheckLongRunningCommandStatus: () => 5n },
    });
    const updates: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => updates.push(u), port, 'On', undefined, { system, reconcile: true });
    await runFor(clock, 150);
    const before = updates.length;
    const id = subs.commandId;
    port.inject(null as never);
    port.inject({ attribute: '_lrcEvent', errors: [] } as never);
    port.inject({ attribute: '_lrcEvent', value: [id, JSON.stringify({ status: 'BOGUS' })] });
    port.inject({ attribute: 'longRunningCommandStatus', value: [id, 5n] }, true); // not subscribed in v2
    await flush();
    const added = updates.slice(before);
    const reasons = added.map((u) => u.error?.map((e) => e.reason).join(','));
    // two malformed events (the first starts a check), an unknown status, then the check's answer: 5n, no status
    expect(reasons).toEqual([
      'SKA_InvalidEvent',
      'SKA_InvalidEvent',
      'SKA_InvokeLrcFailed',
      'SKA_InvalidTaskStatus,SKA_InvokeLrcFailed',
    ]);
    expect(added[0].error?.[0].desc).toBe('a malformed change event from test/reference/1: null');
    expect(added[1].error?.[0].desc).toBe('a malformed change event from test/reference/1: errors is empty');
    expect(added[3].error?.[0].desc).toBe('CheckLongRunningCommandStatus answered 5n, not a task status');
    expect(subs.active).toBe(true);
    await runFor(clock, 300);
    expect(statuses(updates).at(-1)).toBe('COMPLETED');
    expect(port.open).toBe(0);

    // v1 values of the wrong type: a BigInt status, a Symbol progress, a result that is no JSON
    const v1 = new ScriptedPort(device);
    const log: LrcUpdate[] = [];
    const s1 = await invokeLrc((u) => log.push(u), v1, 'Off', undefined, { system, clientVersions: [1, 1] });
    await runFor(clock, 150);
    const n = log.length;
    const c = s1.commandId;
    v1.inject({ attribute: 'longRunningCommandStatus', value: [c, 5n] }, true);
    v1.inject({ attribute: 'longRunningCommandProgress', value: [c, Symbol('x')] }, true);
    v1.inject({ attribute: 'longRunningCommandResult', value: [c, { toString: () => '{' }] }, true);
    await flush();
    expect(log.slice(n).map((u) => Object.keys(u).join())).toEqual(['error', 'progress', 'error']);
    expect(log[n].error?.[0].desc).toBe(`Unknown task status 5n for ${c}.`);
    await runFor(clock, 300);
    expect(statuses(log).at(-1)).toBe('COMPLETED');
    expect(v1.open).toBe(0);
  });

  it('an error event whose stack has an entry that is no error object is a malformed event (LongRunningCommand still resolves)', async () => {
    const port = new ScriptedPort(device);
    const updates: LrcUpdate[] = [];
    const run = new LongRunningCommand('On', { system }).run(port, { onUpdate: (u) => updates.push(u) });
    await runFor(clock, 50);
    port.inject({ attribute: '_lrcEvent', errors: [devError('before a hole'), null] } as never);
    await runFor(clock, 400);
    const r = await run;
    expect(r.taskStatusEvents.at(-1)).toBe(TaskStatus.COMPLETED);
    expect(r.resultCode).toBe(ResultCode.OK);
    expect(r.exception).toBeInstanceOf(DevFailed);
    const errors = updates.filter((u) => u.error).map((u) => u.error);
    expect(errors).toEqual([[expect.objectContaining({ reason: 'SKA_InvalidEvent' })]]);
    expect(errors[0]?.[0].desc).toBe(
      'a malformed change event from test/reference/1: errors has an entry that is not an error (null)',
    );
    expect(port.open).toBe(0);
  });

  it("a v2 event's own 'error' key that is no error stack does not make LongRunningCommand.run reject", async () => {
    const port = new ScriptedPort(device);
    const updates: LrcUpdate[] = [];
    const run = new LongRunningCommand('On', { system }).run(port, { onUpdate: (u) => updates.push(u) });
    await runFor(clock, 50);
    const executing = (await device.readAttribute('lrcExecuting')) as string[];
    const commandId = JSON.parse(executing[0]).uid as string;
    port.inject({ attribute: '_lrcEvent', value: [commandId, '{"progress": 1, "error": [null]}'] });
    await runFor(clock, 400);
    const r = await run;
    // upstream's cb(**event) passes the key on as it is; the run still ends with its result, no stack to keep
    expect(updates.some((u) => Array.isArray(u.error) && u.error[0] === null)).toBe(true);
    expect(r.taskStatusEvents.at(-1)).toBe(TaskStatus.COMPLETED);
    expect(r).toMatchObject({ resultCode: ResultCode.OK, exception: null });
  });

  it("a v2 event's '__proto__' key is one more key of the update, never the update's prototype", async () => {
    const port = new ScriptedPort(device);
    const updates: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => updates.push(u), port, 'On', undefined, { system });
    await runFor(clock, 50);
    const before = updates.length;
    port.inject({
      attribute: '_lrcEvent',
      value: [subs.commandId, '{"__proto__": {"status": 5, "result": [0, "forged"]}, "progress": 7}'],
    });
    await flush();
    // upstream's cb(**event) passes the key through as any other; the device said nothing of a status
    const update = updates[before];
    expect(Object.getPrototypeOf(update)).toBe(Object.prototype);
    expect(Object.keys(update)).toEqual(['progress', '__proto__']);
    expect(update.status).toBeUndefined();
    expect('result' in update).toBe(false);
    expect(subs.active).toBe(true);
    await runFor(clock, 400);
    expect(statuses(updates).at(-1)).toBe('COMPLETED');
    expect(await subs.finished).toMatchObject({ outcome: 'finished', status: TaskStatus.COMPLETED });
  });

  it("a v2 event whose json holds NaN or Infinity (Python's json.dumps of a float result) ends the call as upstream's json.loads reads it", async () => {
    const port = new ScriptedPort(device);
    const log: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => log.push(u), port, 'Silent', undefined, { system });
    port.inject(
      {
        attribute: '_lrcEvent',
        value: [subs.commandId, '{"status": 5, "result": [0, {"mean": NaN, "peak": Infinity}]}'],
      },
      true,
    );
    await flush();
    expect(log.at(-1)).toEqual({
      result: [0, { mean: Number.NaN, peak: Number.POSITIVE_INFINITY }],
      status: TaskStatus.COMPLETED,
    });
    expect(await subs.finished).toMatchObject({
      outcome: 'finished',
      status: TaskStatus.COMPLETED,
      error: null,
    });
    expect(port.open).toBe(0);
    await runFor(clock, 20);
  });

  it('issue 7 item 13: a subscription without an unsubscribe function is a failed subscription', async () => {
    const port = new ScriptedPort(device);
    const real = port.subscribeChangeEvent.bind(port);
    port.subscribeChangeEvent = async (attribute, cb) => {
      await real(attribute, cb);
      return 'subscription-7' as never;
    };
    const err = await invokeLrc(() => {}, port, 'On', undefined, { system }).catch((e) => e);
    expect(err).toBeInstanceOf(DevFailed);
    expect(err.errors.map((e: { reason: string }) => e.reason)).toEqual([
      'SKA_InvalidSubscription',
      'SKA_InvokeLrcFailed',
    ]);
  });

  it('issue 7 item 13: a throwing callback and a throwing logger do not end the call', async () => {
    const explode = () => {
      throw new Error('logger down');
    };
    const logger = {
      warn: explode,
      error: explode,
      info: explode,
      debug: explode,
      trace: explode,
      child: () => logger,
    };
    const subs = await invokeLrc(
      () => {
        throw new Error('callback bug');
      },
      device,
      'On',
      undefined,
      { system, logger },
    );
    await runFor(clock, 400);
    expect(await subs.finished).toMatchObject({ outcome: 'finished', status: TaskStatus.COMPLETED });
    // the machine on its own, with a report that throws as well: every update is still offered
    let calls = 0;
    const actor = system.spawnDetached(lrcLogic, {
      input: {
        device,
        command: 'Quick',
        callback: () => {
          calls++;
          throw new Error('callback bug');
        },
        onCallbackError: explode,
      },
    });
    await runFor(clock, 20);
    expect(actor.getSnapshot().output).toMatchObject({ outcome: 'finished', status: TaskStatus.COMPLETED });
    expect(calls).toBe(4); // STAGING, QUEUED, IN_PROGRESS, result with COMPLETED
  });

  it("an async callback's (or onUpdate's) rejection is logged as a throw is, never an unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const logged: unknown[] = [];
      const logger = {
        warn: () => {},
        error: (o: { err: unknown }) => logged.push(o.err),
        info: () => {},
        debug: () => {},
        trace: () => {},
        child: () => logger,
      };
      const subs = await invokeLrc(
        async (u: LrcUpdate) => {
          if (u.status === TaskStatus.QUEUED) throw new Error('async callback bug');
        },
        device,
        'On',
        undefined,
        { system, logger },
      );
      const run = new LongRunningCommand('Standby', { system, logger }).run(device, {
        onUpdate: async (u) => {
          if (u.status === TaskStatus.QUEUED) throw new Error('async onUpdate bug');
        },
      });
      await runFor(clock, 800);
      expect(await subs.finished).toMatchObject({ outcome: 'finished', status: TaskStatus.COMPLETED });
      expect((await run).taskStatusEvents.at(-1)).toBe(TaskStatus.COMPLETED);
      await new Promise((resolve) => setTimeout(resolve, 5)); // unhandled rejections are reported after a turn
      expect(unhandled).toEqual([]);
      expect(logged.map((e) => (e as Error).message)).toEqual(['async callback bug', 'async onUpdate bug']);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('issue 7 item 16: the simulator, closer to ska-tango-base', () => {
  it('issue 7 item 16: CheckLongRunningCommandStatus consults the last 100 finished commands (removal time 0)', async () => {
    const d = referenceDevice({ clock, removalTimeMs: 0, commands: { Quick: () => [ResultCode.OK, 'ok'] } });
    try {
      const subs = await invokeLrc(() => {}, d, 'On', undefined, { system });
      await runFor(clock, 400);
      expect((await subs.finished).status).toBe(TaskStatus.COMPLETED);
      expect(await d.readAttribute('longRunningCommandStatus')).toEqual([]);
      expect(await d.commandInout('CheckLongRunningCommandStatus', subs.commandId)).toBe('COMPLETED');
      for (let i = 0; i < 100; i++) {
        await d.commandInout('Quick');
        await flush(5);
        await d.whenIdle();
        clock.advance(0);
      }
      expect(await d.commandInout('CheckLongRunningCommandStatus', subs.commandId)).toBe('NOT_FOUND');
      expect((await d.readAttribute('lrcFinished')) as string[]).toHaveLength(100);
    } finally {
      await d.close();
    }
  });

  it('issue 7 item 16: a task reports status and progress in one update (task_callback)', async () => {
    const raw: unknown[] = [];
    const unsub = await device.subscribeChangeEvent('_lrcEvent', (e: AttributeEvent) => raw.push(e.value));
    const updates: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => updates.push(u), device, 'Combined', undefined, { system });
    await runFor(clock, 30);
    unsub();
    expect(
      raw.filter((v) => Array.isArray(v) && v[0] === subs.commandId).map((v) => (v as string[])[1]),
    ).toEqual([
      '{"status":0}',
      '{"status":1}',
      '{"status":2,"progress":10}',
      '{"progress":50}',
      '{"status":5,"result":[0,"combined done"]}',
    ]);
    expect(updates).toEqual([
      { status: TaskStatus.STAGING },
      { status: TaskStatus.QUEUED },
      { progress: 10, status: TaskStatus.IN_PROGRESS },
      { progress: 50 },
      { result: [0, 'combined done'], status: TaskStatus.COMPLETED },
    ]);
    // a task cannot end itself through update(): that is a failure of the task
    const over: LrcUpdate[] = [];
    await invokeLrc((u) => over.push(u), device, 'Overreach', undefined, { system });
    await runFor(clock, 10);
    expect(over.at(-1)?.status).toBe(TaskStatus.FAILED);
    expect(over.at(-1)?.result).toEqual([
      ResultCode.FAILED,
      'Unhandled exception during execution: task.update: a task reports only IN_PROGRESS; its end is what the handler returns or throws',
    ]);
  });

  it('issue 7 item 16: a handler that returns nothing completes with no result', async () => {
    for (const clientVersions of [
      [1, 2],
      [1, 1],
    ] as const) {
      const updates: LrcUpdate[] = [];
      const subs = await invokeLrc((u) => updates.push(u), device, 'Silent', undefined, {
        system,
        clientVersions,
      });
      await runFor(clock, 20);
      expect(statuses(updates)).toEqual(['STAGING', 'QUEUED', 'IN_PROGRESS', 'COMPLETED']);
      expect(updates.some((u) => 'result' in u)).toBe(false);
      expect((await subs.finished).error).toBeNull();
      const finished = ((await device.readAttribute('lrcFinished')) as string[]).map((j) => JSON.parse(j));
      expect(finished.find((f) => f.uid === subs.commandId)).not.toHaveProperty('result');
    }
  });

  it('issue 7 item 16: a full input queue rejects with the upstream wording', async () => {
    const d = referenceDevice({ clock, maxQueuedTasks: 1 });
    const results: unknown[] = [];
    const unsub = await d.subscribeChangeEvent('longRunningCommandResult', (e) => results.push(e.value));
    try {
      await d.commandInout('On');
      await flush();
      await d.commandInout('Standby'); // queued behind the running On
      const reply = await d.commandInout('Standby');
      expect(reply).toEqual([[ResultCode.REJECTED], ['Input queue supports a maximum of 1 commands']]);
      expect(JSON.parse((results.at(-1) as string[])[1])).toEqual([
        ResultCode.REJECTED,
        'Input queue supports a maximum of 1 commands',
      ]);
    } finally {
      unsub();
      await d.close();
    }
  });

  it('issue 7 item 16: removalTimeMs Infinity keeps finished commands listed and arms no timer', async () => {
    const d = referenceDevice({ clock, removalTimeMs: Number.POSITIVE_INFINITY });
    try {
      const subs = await invokeLrc(() => {}, d, 'On', undefined, { system });
      await runFor(clock, 400);
      expect(d.pendingTimers).toBe(0);
      expect(await d.readAttribute('longRunningCommandStatus')).toEqual([subs.commandId, 'COMPLETED']);
    } finally {
      await d.close();
    }
  });
});
