/**
 * LRC client: one named test per upstream-pinned behaviour of checklist 9.1 (research file), against the in-process
 * reference device on a TestClock. Update logs are flattened to `key=value` strings, several keys of one update
 * in their delivery order (progress, result, status).
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  CommandError,
  DevFailed,
  ProtocolVersionError,
  ResultCodeError,
} from '../../src/protocols/tango/errors.js';
import {
  invokeLrc,
  type LrcUpdate,
  ResultCode,
  TaskStatus,
  taskStatusName,
} from '../../src/protocols/tango/lrc/invokeLrc.js';
import type { AttributeEvent } from '../../src/protocols/tango/port.js';
import type { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { TestClock } from '../../src/testing/testClock.js';
import { devError, flush, referenceDevice, runFor, ScriptedPort } from './support/lrcHarness.js';

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

describe('9.1.1 callback validation (before any I/O)', () => {
  it('rejects a non-function and a positional-arguments callback without touching the device', async () => {
    const port = new ScriptedPort(device, { failAttributeList: new Error('no I/O expected') });
    await expect(invokeLrc(42 as never, port, 'On', undefined, { system })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    const positional = (_status: unknown, _progress: unknown) => {};
    await expect(invokeLrc(positional as never, port, 'On', undefined, { system })).rejects.toThrow(
      /one update object/,
    );
  });
});

describe('9.1.2 protocol negotiation', () => {
  const negotiate = async (server: readonly [number, number] | null, client?: readonly [number, number]) => {
    const d = referenceDevice({ clock, protocolVersions: server });
    try {
      const p = invokeLrc(() => {}, d, 'On', undefined, { system, clientVersions: client });
      await flush();
      const subs = await p;
      subs.unsubscribe();
      return subs.protocolVersion;
    } finally {
      await d.close();
    }
  };
  it('a server without lrcProtocolVersions is (1, 1): protocol v1', async () => {
    expect(await negotiate(null)).toBe(1);
  });
  it('server (1, 2) and client (1, 2): v2; client (1, 1): v1', async () => {
    expect(await negotiate([1, 2])).toBe(2);
    expect(await negotiate([1, 2], [1, 1])).toBe(1);
  });
  it('server (2, 3) with client (1, 2): v2', async () => {
    expect(await negotiate([2, 3])).toBe(2);
  });
  it('server (3, 4): ProtocolVersionError naming both ranges', async () => {
    await expect(negotiate([3, 4])).rejects.toThrow(
      new ProtocolVersionError(
        "This version of invokeLrc() is not compatible with any of the server's supported LRC protocols! " +
          'Client version min, max = (1, 2) - Server version min, max = (3, 4)',
      ),
    );
  });
  it('a device answering garbage for its attribute list or lrcProtocolVersions: a DevFailed saying so, nothing subscribed', async () => {
    // upstream unpacks `server_min, server_max = proxy.lrcProtocolVersions`: anything but two versions fails
    const cases: [unknown, unknown, string][] = [
      ['not a list', undefined, 'SKA_InvalidAttributeList'],
      [undefined, [1, 2, 3], 'SKA_InvalidProtocolVersions'],
      [undefined, [2], 'SKA_InvalidProtocolVersions'],
      [undefined, [1.5, 2], 'SKA_InvalidProtocolVersions'],
      [undefined, 'x', 'SKA_InvalidProtocolVersions'],
    ];
    for (const [names, versions, reason] of cases) {
      const port = new ScriptedPort(device);
      if (names !== undefined) port.attributeList = async () => names as string[];
      const read = port.readAttribute.bind(port);
      if (versions !== undefined)
        port.readAttribute = async (a) => (a === 'lrcProtocolVersions' ? versions : read(a));
      const err = await invokeLrc(() => {}, port, 'On', undefined, { system }).catch((e) => e);
      expect(err, JSON.stringify(versions)).toBeInstanceOf(DevFailed);
      expect(err.errors.map((e: { reason: string }) => e.reason)).toEqual([reason, 'SKA_InvokeLrcFailed']);
      expect(port.open).toBe(0);
    }
  });
  it('a failed read of the versions is a DevFailed with SKA_InvokeLrcFailed on top', async () => {
    const port = new ScriptedPort(device, { failAttributeList: new Error('connection lost') });
    const err = await invokeLrc(() => {}, port, 'On', undefined, { system }).catch((e) => e);
    expect(err).toBeInstanceOf(DevFailed);
    expect(err.errors.map((e: { desc: string }) => e.desc)).toEqual([
      'connection lost',
      "Reading 'lrcProtocolVersions' failed.",
    ]);
  });
});

describe('9.1.3 test_On: the exact sequence, then nothing', () => {
  for (const [label, clientVersions] of [
    ['v2', [1, 2]],
    ['v1', [1, 1]],
  ] as const) {
    it(`successful On (${label})`, async () => {
      const { log, cb } = recorder();
      const p = invokeLrc(cb, device, 'On', undefined, { system, clientVersions });
      await flush();
      const subs = await p;
      expect(subs.commandId.split('_', 3)[2]).toBe('On');
      await runFor(clock, 400);
      expect(log).toEqual(ON_SEQUENCE);
      expect(subs.active).toBe(false);
      expect(device.subscriptionCount).toBe(0);
      expect(await device.commandInout('CheckLongRunningCommandStatus', subs.commandId)).toBe('COMPLETED');
      expect((await subs.finished).status).toBe(TaskStatus.COMPLETED);
      await runFor(clock, 10_000, 1000);
      // removed from the v1 attributes, still in the finished list, which the check consults (ska-tango-base 1.2+)
      expect(await device.readAttribute('longRunningCommandStatus')).toEqual([]);
      expect(await device.commandInout('CheckLongRunningCommandStatus', subs.commandId)).toBe('COMPLETED');
      expect(await device.commandInout('CheckLongRunningCommandStatus', '1_2_On')).toBe('NOT_FOUND');
    });
  }
});

describe('9.1.4 REJECTED', () => {
  it('test_On: a second On is a CommandError, with no callbacks and no subscriptions left', async () => {
    device.state = 'ON';
    const { log, cb } = recorder();
    const p = invokeLrc(cb, device, 'On', undefined, { system });
    await expect(p).rejects.toThrow(new CommandError('On command rejected: Device is already in ON state.'));
    expect(log).toEqual([]);
    expect(device.subscriptionCount).toBe(0);
  });
  it('a full input queue rejects: CommandError "Input queue supports a maximum of N commands"', async () => {
    const d = referenceDevice({ clock, maxQueuedTasks: 1 });
    try {
      const first = invokeLrc(() => {}, d, 'On', undefined, { system });
      await runFor(clock, 10);
      await first; // executing: the queue is empty again
      const second = invokeLrc(() => {}, d, 'Standby', undefined, { system });
      await flush();
      await second;
      expect(d.queueLength).toBe(1);
      await expect(invokeLrc(() => {}, d, 'Standby', undefined, { system })).rejects.toThrow(
        'Standby command rejected: Input queue supports a maximum of 1 commands',
      );
    } finally {
      await d.close();
    }
  });
});

describe('9.1.5 unexpected result codes', () => {
  it('OK as the initial reply is a ResultCodeError', async () => {
    const port = new ScriptedPort(device, { reply: [[ResultCode.OK], ['done already']] });
    await expect(invokeLrc(() => {}, port, 'On', undefined, { system })).rejects.toThrow(
      new ResultCodeError('Unexpected result code for On command: 0 (OK)'),
    );
    expect(port.open).toBe(0);
  });
  it('a reply of another shape is a ResultCodeError too', async () => {
    const port = new ScriptedPort(device, { reply: 'not an LRC reply' });
    await expect(invokeLrc(() => {}, port, 'On', undefined, { system })).rejects.toBeInstanceOf(
      ResultCodeError,
    );
  });
});

describe('9.1.6 transport failures keep the device stack', () => {
  it('test_invoke_lrc_exception: an unknown command', async () => {
    const err = await invokeLrc(() => {}, device, 'DummyCmd', undefined, { system }).catch((e) => e);
    expect(err).toBeInstanceOf(DevFailed);
    expect(err.errors.map((e: { reason: string }) => e.reason)).toEqual([
      'API_CommandNotFound',
      'SKA_InvokeLrcFailed',
    ]);
    expect(err.errors[1].desc).toBe("Invocation of command 'DummyCmd' failed with args: None");
    expect(device.subscriptionCount).toBe(0);
  });
  it('test_Reset: is_allowed failure at invocation', async () => {
    const err = await invokeLrc(() => {}, device, 'Reset', undefined, { system }).catch((e) => e);
    expect(err).toBeInstanceOf(DevFailed);
    expect(err.errors[0].desc).toBe('Command Reset not allowed when the device is in OFF state');
    expect(err.errors.at(-1).reason).toBe('SKA_InvokeLrcFailed');
    expect(device.subscriptionCount).toBe(0);
  });
  it('a failed subscription unsubscribes what was subscribed and says which attribute', async () => {
    const port = new ScriptedPort(device, {
      failSubscribe: (a) => (a === 'longRunningCommandResult' ? new DevFailed([]) : undefined),
    });
    const err = await invokeLrc(() => {}, port, 'On', undefined, { system, clientVersions: [1, 1] }).catch(
      (e) => e,
    );
    expect(err.errors.at(-1).desc).toBe("Subscribing to 'longRunningCommandResult' change event failed.");
    expect(port.open).toBe(0);
  });
});

/** Run On, then Abort it once it is IN_PROGRESS; returns both logs (flattened). */
async function abortRunningOn(clientVersions: readonly [number, number], parity: boolean) {
  const on = recorder();
  const abort = recorder();
  const baseline = device.subscriptionCount;
  const onSubs = invokeLrc(on.cb, device, 'On', undefined, { system, clientVersions, parity });
  await runFor(clock, 150);
  await onSubs;
  const started = on.log.length;
  const abortSubs = invokeLrc(abort.cb, device, 'Abort', undefined, { system, clientVersions, parity });
  await runFor(clock, 100);
  const a = await abortSubs;
  expect(a.protocolVersion).toBeGreaterThanOrEqual(clientVersions[0]);
  expect(a.protocolVersion).toBeLessThanOrEqual(clientVersions[1]);
  expect(device.subscriptionCount).toBe(baseline);
  return { on: on.log.slice(started), onAll: on.log, abort: abort.log };
}

describe('9.1.7 / 9.1.8 Abort', () => {
  it('test_Abort (1, 1) parity: status repeats as upstream delivers them', async () => {
    const { on, abort } = await abortRunningOn([1, 1], true);
    expect(on).toEqual([
      'status=IN_PROGRESS',
      'status=IN_PROGRESS',
      'result=[7,"Command has been aborted"]',
      'status=ABORTED',
    ]);
    expect(abort).toEqual([
      'status=STAGING',
      'status=IN_PROGRESS',
      'status=IN_PROGRESS',
      'result=[0,"Abort completed OK"]',
      'status=COMPLETED',
    ]);
  });
  it('test_Abort (1, 1) de-duplicated: the same without repeats', async () => {
    const { on, abort } = await abortRunningOn([1, 1], false);
    expect(on).toEqual(['result=[7,"Command has been aborted"]', 'status=ABORTED']);
    expect(abort).toEqual([
      'status=STAGING',
      'status=IN_PROGRESS',
      'result=[0,"Abort completed OK"]',
      'status=COMPLETED',
    ]);
  });
  it('test_Abort (1, 2): no duplicates, result and status of one update together', async () => {
    const { on, abort } = await abortRunningOn([1, 2], false);
    expect(on).toEqual(['result=[7,"Command has been aborted"]', 'status=ABORTED']);
    expect(abort).toEqual([
      'status=STAGING',
      'status=IN_PROGRESS',
      'result=[0,"Abort completed OK"]',
      'status=COMPLETED',
    ]);
  });
  it('longRunningCommandInProgress goes (On) -> (On, Abort) -> () ', async () => {
    const seen: unknown[] = [];
    const unsub = await device.subscribeChangeEvent('longRunningCommandInProgress', (e) =>
      seen.push(e.value),
    );
    await abortRunningOn([1, 2], false);
    unsub();
    const distinct = seen.filter((v, i) => JSON.stringify(v) !== JSON.stringify(seen[i - 1]));
    expect(distinct).toEqual([[], ['On'], ['On', 'Abort'], ['Abort'], []]);
  });
});

describe('9.1.9 execution failures', () => {
  it('test_command_exception: STAGING, QUEUED, result [3, ...], FAILED (no IN_PROGRESS)', async () => {
    const { log, cb } = recorder();
    await invokeLrc(cb, device, 'SimulateCommandError', undefined, { system });
    await runFor(clock, 50);
    expect(log).toEqual([
      'status=STAGING',
      'status=QUEUED',
      'result=[3,"Unhandled exception during execution: Command encountered unexpected error"]',
      'status=FAILED',
    ]);
  });
  it('is_cmd_allowed raising at execution: STAGING, QUEUED, result [5, ...], REJECTED', async () => {
    const { log, cb } = recorder();
    await invokeLrc(cb, device, 'SimulateIsCmdAllowedError', undefined, { system, clientVersions: [1, 1] });
    await runFor(clock, 50);
    expect(log).toEqual([
      'status=STAGING',
      'status=QUEUED',
      `result=[5,"Exception from 'is_cmd_allowed' method: Error from is_cmd_allowed"]`,
      'status=REJECTED',
    ]);
  });
});

describe('9.1.11 unknown status: an {error} update, then (parity, v1) {status: undefined}; subscription kept', () => {
  /** Inject an unknown status for the running On, return the updates it gave; the call then goes on to its end. */
  const unknownStatus = async (clientVersions: readonly [number, number], parity: boolean) => {
    device.state = 'OFF';
    const port = new ScriptedPort(device);
    const updates: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => updates.push(u), port, 'On', undefined, {
      system,
      clientVersions,
      parity,
    });
    await runFor(clock, 150);
    const before = updates.length;
    port.inject(
      subs.protocolVersion === 1
        ? { attribute: 'longRunningCommandStatus', value: [subs.commandId, 'BOGUS'] }
        : { attribute: '_lrcEvent', value: [subs.commandId, JSON.stringify({ status: 'BOGUS' })] },
      true,
    );
    await flush();
    const added = updates.slice(before);
    expect(subs.active).toBe(true);
    await runFor(clock, 300);
    expect(updates.at(-1)?.status).toBe(TaskStatus.COMPLETED);
    expect(port.open).toBe(0);
    const error = [
      {
        reason: 'SKA_InvokeLrcFailed',
        desc: `Unknown task status "BOGUS" for ${subs.commandId}.`,
        origin: 'invokeLrc',
        severity: 'ERR',
      },
    ];
    return { added, error };
  };
  it('v1 parity: the error update, then a status: undefined update (upstream cb(status=None))', async () => {
    const { added, error } = await unknownStatus([1, 1], true);
    expect(added).toStrictEqual([{ error }, { status: undefined }]);
  });
  it('v1 de-duplicated, and v2 in either mode: the error update only', async () => {
    for (const [clientVersions, parity] of [
      [[1, 1], false],
      [[1, 2], true],
      [[1, 2], false],
    ] as const) {
      const { added, error } = await unknownStatus(clientVersions, parity);
      expect(added).toStrictEqual([{ error }]);
    }
  });
});

describe('9.1.14 reconciliation via CheckLongRunningCommandStatus after an error event (reconcile: true)', () => {
  const S = TaskStatus;
  const lost = [devError('Event channel is not responding anymore')];
  /** The COMPLETED status event (v2: with its result) and every v1 result event never arrive. */
  const lostTerminal = (e: AttributeEvent) =>
    Array.isArray(e.value) &&
    (e.attribute === 'longRunningCommandResult' ||
      e.value.some((v) => v === 'COMPLETED' || (typeof v === 'string' && v.includes('"status":5'))));
  /** A port losing the terminal events, whose status checks are counted (and answered by `answer` if given). */
  const lossyPort = (answer?: (id: unknown) => unknown) => {
    const checks: unknown[] = [];
    const port = new ScriptedPort(device, {
      drop: lostTerminal,
      commands: {
        CheckLongRunningCommandStatus: (id) => {
          checks.push(id);
          return answer ? answer(id) : device.commandInout('CheckLongRunningCommandStatus', id);
        },
      },
    });
    return { port, checks };
  };
  const statuses = (updates: LrcUpdate[]) =>
    updates.filter((u) => u.status !== undefined).map((u) => taskStatusName(u.status!));

  for (const [label, clientVersions, after] of [
    ['v2', [1, 2], [{ status: S.COMPLETED }]],
    [
      'v1: the result read and delivered first; one check for the three error events',
      [1, 1],
      [{ error: lost }, { error: lost }, { result: [0, 'On command completed OK'] }, { status: S.COMPLETED }],
    ],
  ] as const) {
    it(`finds COMPLETED after a lost terminal event (${label})`, async () => {
      const { port, checks } = lossyPort();
      const updates: LrcUpdate[] = [];
      const subs = await invokeLrc((u) => updates.push(u), port, 'On', undefined, {
        system,
        clientVersions,
        reconcile: true,
      });
      await runFor(clock, 400);
      expect(statuses(updates)).toEqual(['STAGING', 'QUEUED', 'IN_PROGRESS']);
      expect(subs.active).toBe(true); // it would wait forever without reconciliation
      const before = updates.length;
      port.inject({ attribute: 'any', errors: lost }); // to every subscription: v1 has three
      await flush();
      expect(updates.slice(before)).toEqual([{ error: lost }, ...after]);
      expect(checks).toEqual([subs.commandId]);
      expect(subs.active).toBe(false);
      expect(port.open).toBe(0);
      expect(await subs.finished).toMatchObject({ outcome: 'finished', status: S.COMPLETED });
    });
  }

  it('finds a status still running and keeps monitoring; without reconcile, no check', async () => {
    const { port, checks } = lossyPort();
    port.options.drop = undefined; // nothing lost here
    const updates: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => updates.push(u), port, 'On', undefined, { system, reconcile: true });
    await runFor(clock, 150);
    port.inject({ attribute: '_lrcEvent', errors: lost });
    await flush();
    expect(checks).toEqual([subs.commandId]); // the device's own answer: IN_PROGRESS
    expect(updates.at(-1)).toEqual({ error: lost });
    expect(subs.active).toBe(true);
    await runFor(clock, 300);
    expect(statuses(updates)).toEqual(['STAGING', 'QUEUED', 'IN_PROGRESS', 'COMPLETED']);
    expect(port.open).toBe(0);

    const plain = await invokeLrc(() => {}, port, 'Off', undefined, { system });
    port.inject({ attribute: '_lrcEvent', errors: lost });
    await runFor(clock, 400);
    expect(checks).toHaveLength(1);
    expect((await plain.finished).status).toBe(S.COMPLETED);
  });

  for (const [label, clientVersions] of [
    ['v2', [1, 2]],
    ['v1', [1, 1]],
  ] as const) {
    it(`finds NOT_FOUND (the device restarted and forgot the command): the call ends, outcome lost, an {error} update, nothing left subscribed (${label})`, async () => {
      // the device's answer once it restarted: its tracker never heard of the command (no event will end the call)
      const { port, checks } = lossyPort(() => 'NOT_FOUND');
      const updates: LrcUpdate[] = [];
      const subs = await invokeLrc((u) => updates.push(u), port, 'On', undefined, {
        system,
        clientVersions,
        reconcile: true,
      });
      await runFor(clock, 150);
      expect(statuses(updates)).toEqual(['STAGING', 'QUEUED', 'IN_PROGRESS']);
      const before = updates.length;
      port.inject({ attribute: 'any', errors: lost }); // to every subscription: v1 has three, one check
      await flush();
      const id = subs.commandId;
      const notFound = {
        reason: 'SKA_CommandNotFound',
        desc:
          `CheckLongRunningCommandStatus(${id}) answered NOT_FOUND: test/reference/1 no longer knows the command ` +
          '(it restarted, or forgot the command after it ended); how the command ended is unknown.',
        origin: 'invokeLrc(test/reference/1, On)',
        severity: 'ERR',
      };
      const errorEvents = clientVersions[1] === 1 ? 3 : 1;
      expect(checks).toEqual([id]);
      expect(updates.slice(before)).toEqual([
        ...Array(errorEvents).fill({ error: lost }),
        { error: [notFound] },
      ]);
      expect(subs.active).toBe(false);
      expect(port.open).toBe(0);
      const out = await subs.finished;
      expect(out).toMatchObject({ outcome: 'lost', status: S.IN_PROGRESS, commandId: id });
      expect(out.error).toBeInstanceOf(DevFailed);
      expect((out.error as DevFailed).errors).toEqual([notFound]);
      await runFor(clock, 400); // the command's own end (its events still come): nothing more is delivered
      expect(updates.length).toBe(before + errorEvents + 1);
    });
  }

  it('the device does not answer the check (an outage): asked again 1 s, 2 s, 4 s later until it does; its answer ends the call', async () => {
    const down = {
      reason: 'API_CantConnectToDevice',
      desc: 'Failed to connect to device test/reference/1',
      origin: 'Connection::connect',
      severity: 'ERR' as const,
    };
    let answering = false;
    const { port, checks } = lossyPort((id) => {
      if (!answering) throw new DevFailed([down]);
      return device.commandInout('CheckLongRunningCommandStatus', id);
    });
    const updates: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => updates.push(u), port, 'On', undefined, { system, reconcile: true });
    await runFor(clock, 400); // the command completes on the device; its terminal event is lost
    expect(statuses(updates)).toEqual(['STAGING', 'QUEUED', 'IN_PROGRESS']);
    port.inject({ attribute: '_lrcEvent', errors: lost });
    await flush();
    expect(checks).toHaveLength(1);
    await runFor(clock, 990);
    expect(checks).toHaveLength(1);
    await runFor(clock, 10); // 1 s after the first failure
    expect(checks).toHaveLength(2);
    await runFor(clock, 2000); // 2 s after the second
    expect(checks).toHaveLength(3);
    answering = true; // the device is back, and says no event about it
    await runFor(clock, 3990);
    expect(checks).toHaveLength(3);
    expect(subs.active).toBe(true);
    await runFor(clock, 10); // 4 s after the third
    expect(checks).toEqual([subs.commandId, subs.commandId, subs.commandId, subs.commandId]);
    // the error event's update, one per failed check with the device's stack, then the status the check found
    const errors = updates.filter((u) => u.error !== undefined);
    expect(errors).toHaveLength(4);
    expect(errors.slice(1).map((u) => u.error![0].reason)).toEqual(Array(3).fill('API_CantConnectToDevice'));
    expect(updates.at(-1)).toEqual({ status: S.COMPLETED });
    expect(subs.active).toBe(false);
    expect(port.open).toBe(0);
    expect(await subs.finished).toMatchObject({ outcome: 'finished', status: S.COMPLETED });
  });

  it('the check itself fails: an {error} update with the stack, and monitoring goes on', async () => {
    const timeout = {
      reason: 'API_DeviceTimedOut',
      desc: 'Timeout (3000 mS) exceeded on device test/reference/1',
      origin: 'Connection::command_inout',
      severity: 'ERR' as const,
    };
    const answers: ((id: unknown) => unknown)[] = [
      () => {
        throw new DevFailed([timeout]);
      },
      () => 'BOGUS',
      (id) => device.commandInout('CheckLongRunningCommandStatus', id),
    ];
    const { port, checks } = lossyPort((id) => answers[checks.length - 1](id));
    const updates: LrcUpdate[] = [];
    const subs = await invokeLrc((u) => updates.push(u), port, 'On', undefined, { system, reconcile: true });
    await runFor(clock, 150);
    const before = updates.length;
    port.inject({ attribute: '_lrcEvent', errors: lost });
    await flush();
    port.inject({ attribute: '_lrcEvent', errors: lost });
    await flush();
    const id = subs.commandId;
    expect(updates.slice(before)).toEqual([
      { error: lost },
      {
        error: [
          timeout,
          {
            reason: 'SKA_InvokeLrcFailed',
            desc: `CheckLongRunningCommandStatus(${id}) failed.`,
            origin: 'invokeLrc(test/reference/1, On)',
            severity: 'ERR',
          },
        ],
      },
      { error: lost },
      {
        error: [
          expect.objectContaining({
            reason: 'SKA_InvalidTaskStatus',
            desc: 'CheckLongRunningCommandStatus answered "BOGUS", not a task status',
          }),
          expect.objectContaining({ reason: 'SKA_InvokeLrcFailed' }),
        ],
      },
    ]);
    expect(subs.active).toBe(true);
    await runFor(clock, 300); // the terminal event is lost; the next error event's check finds it
    expect(statuses(updates)).toEqual(['STAGING', 'QUEUED', 'IN_PROGRESS']);
    port.inject({ attribute: '_lrcEvent', errors: lost });
    await flush();
    expect(updates.at(-1)).toEqual({ status: S.COMPLETED });
    expect(checks).toHaveLength(3);
    expect(port.open).toBe(0);
  });

  for (const [label, clientVersions, after] of [
    ['v2', [1, 2], [{ status: S.COMPLETED }]],
    [
      'v1: the result read and delivered first',
      [1, 1],
      [{ result: [0, 'On command completed OK'] }, { status: S.COMPLETED }],
    ],
  ] as const) {
    it(`an error event before the command id is known also asks: the command ended in the outage, every event of it lost (${label})`, async () => {
      const during = [devError('during invoke')];
      let outage = true;
      let answer!: () => void;
      const checks: unknown[] = [];
      const port: ScriptedPort = new ScriptedPort(device, {
        errorDuringInvoke: true, // an error event while the command is being invoked
        drop: (e) => outage && e.errors === undefined, // and every value event until its reply comes
        commands: {
          // the device runs the command; its reply reaches the client only once the command has ended
          On: (args) => slowReply('On', args),
          Off: (args) => slowReply('Off', args),
          CheckLongRunningCommandStatus: (id) => {
            checks.push(id);
            return device.commandInout('CheckLongRunningCommandStatus', id);
          },
        },
      });
      async function slowReply(command: string, args: unknown) {
        port.options.errorDuringInvoke = false;
        const reply = await device.commandInout(command, args);
        await new Promise<void>((r) => {
          answer = r;
        });
        return reply;
      }
      const run = async (command: string, reconcile: boolean) => {
        const updates: LrcUpdate[] = [];
        const p = invokeLrc((u) => updates.push(u), port, command, undefined, {
          system,
          clientVersions,
          reconcile,
          // v1 with a deadline (the call's `bounded` states), v2 without (`unbounded`)
          timeout: clientVersions[1] === 1 ? 60_000 : undefined,
        });
        await runFor(clock, 400); // the command runs to its end on the device; the client hears nothing of it
        outage = false;
        answer();
        const subs = await p;
        await flush();
        return { updates, subs };
      };
      const { updates, subs } = await run('On', true);
      expect(checks).toEqual([subs.commandId]);
      const errorEvents = clientVersions[1] === 1 ? 3 : 1;
      expect(updates).toEqual([...Array(errorEvents).fill({ error: during }), ...after]);
      expect(subs.active).toBe(false);
      expect(port.open).toBe(0);
      expect(await subs.finished).toMatchObject({ outcome: 'finished', status: S.COMPLETED });
      // without reconcile: no check, and nothing will ever end the call
      outage = true;
      port.options.errorDuringInvoke = true;
      const plain = await run('Off', false);
      expect(checks).toHaveLength(1);
      expect(plain.subs.active).toBe(true);
      plain.subs.unsubscribe();
      expect(port.open).toBe(0);
    });
  }
});

describe('the trace of a real Tango 9.3 LRC (test/tango/fixtures/lrc_v1_trace.json)', () => {
  it('v1: old ids ignored, the status repeat dropped, a result after COMPLETED still comes before it', async () => {
    const trace = JSON.parse(readFileSync(new URL('./fixtures/lrc_v1_trace.json', import.meta.url), 'utf8'));
    const { replayPort } = await import('./support/lrcReplay.js');
    const port = replayPort(trace);
    const { log, cb } = recorder();
    const subs = await invokeLrc(cb, port, 'Slow', undefined, { system });
    expect(subs.commandId).toBe(trace.commandId);
    port.play();
    await flush();
    expect(log).toEqual(trace.expected);
    expect(port.open).toBe(0);
  });
});
