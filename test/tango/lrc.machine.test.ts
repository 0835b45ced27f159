/**
 * The `lrc` machine's own bookkeeping, as mutation testing (issue 7 item 18) found no test watched it: the status
 * states of the statechart (what the inspector draws), the guards, the bound on events kept before the command id,
 * the warnings it emits, and its defaults when used without `invokeLrc`.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IO_NOT_PROVIDED, lrcMachine, MAX_BUFFERED_EVENTS } from '../../machines/tango/lrc.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { DevFailed, ProtocolVersionError, ResultCodeError } from '../../src/protocols/tango/errors.js';
import {
  cachedLrcNegotiation,
  invokeLrc,
  type LrcUpdate,
  lrcLogic,
  ResultCode,
  TaskStatus,
} from '../../src/protocols/tango/lrc/invokeLrc.js';
import { LongRunningCommand } from '../../src/protocols/tango/lrc/longRunningCommand.js';
import type { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { TestClock } from '../../src/testing/testClock.js';
import { devError, flush, referenceDevice, runFor, ScriptedPort } from './support/lrcHarness.js';

let clock: TestClock;
let system: OrrerySystem;
let device: SkaDeviceSimulator;

beforeEach(() => {
  clock = new TestClock();
  system = createSystem({ clock });
  device = referenceDevice({ clock, commands: { Quick: () => [ResultCode.OK, 'quick done'] } });
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
const messages = (warn: ReturnType<typeof vi.fn>) => warn.mock.calls.map((c) => c[1]);

describe('issue 7 item 18: the lrc machine', () => {
  it('issue 7 item 18: the statechart follows the status: submitted, staging, queued, inProgress (and back after a check)', async () => {
    const port = new ScriptedPort(device, { hold: true });
    const p = invokeLrc(() => {}, port, 'On', undefined, { system, reconcile: true });
    await flush();
    port.release((_e, i) => i === 0); // the subscription's first event only: no status known at submission
    const subs = await p;
    const value = () => subs.actor.getSnapshot().value;
    expect(value()).toEqual({ unbounded: { session: { monitoring: 'submitted' } } });
    const next = async (expected: string) => {
      port.release((_e, i) => i === 0);
      await flush();
      expect(value()).toEqual({ unbounded: { session: { monitoring: expected } } });
    };
    await next('staging');
    await next('queued');
    await runFor(clock, 10);
    await next('inProgress');
    // a check that finds the command still running goes back to the status state
    port.inject({ attribute: '_lrcEvent', errors: [devError('lost')] });
    port.release((e) => e.errors !== undefined);
    expect(value()).toEqual({ unbounded: { session: { monitoring: { reconciling: 'asked' } } } });
    await flush();
    expect(value()).toEqual({ unbounded: { session: { monitoring: 'inProgress' } } });
    // statuses can skip states: STAGING straight to IN_PROGRESS (Abort) and QUEUED straight to IN_PROGRESS
    const abortPort = new ScriptedPort(device, { hold: true });
    const a = invokeLrc(() => {}, abortPort, 'Abort', undefined, { system });
    await flush();
    abortPort.release((_e, i) => i < 2);
    const abort = await a;
    expect(abort.actor.getSnapshot().value).toEqual({ unbounded: { session: { monitoring: 'staging' } } });
    await flush();
    abortPort.release((e) => JSON.stringify(e.value).includes('"status\\":2'));
    await flush();
    expect(abort.actor.getSnapshot().value).toEqual({ unbounded: { session: { monitoring: 'inProgress' } } });
    abortPort.release();
    port.release();
    await runFor(clock, 400);
    port.release();
    await flush();
    expect(subs.active).toBe(false);
    const quick = new ScriptedPort(device, { hold: true });
    const q = invokeLrc(() => {}, quick, 'Quick', undefined, { system });
    await flush();
    quick.release((_e, i) => i < 3); // initial, STAGING, QUEUED
    const qs = await q;
    expect(qs.actor.getSnapshot().value).toEqual({ unbounded: { session: { monitoring: 'queued' } } });
    await flush();
    quick.release((e) => JSON.stringify(e.value).includes('"status\\":2'));
    expect(qs.actor.getSnapshot().value).toEqual({ unbounded: { session: { monitoring: 'inProgress' } } });
    quick.release();
    await flush();
    expect(qs.active).toBe(false);
  });

  it('issue 7 item 18: v1, the terminal status before its result is the fetchingResult state', async () => {
    const port = new ScriptedPort(device, { hold: true });
    const p = invokeLrc(() => {}, port, 'On', undefined, { system, clientVersions: [1, 1] });
    await flush();
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    const subs = await p;
    port.readAttribute = () => new Promise(() => {});
    await runFor(clock, 400);
    port.release((e) => e.attribute !== 'longRunningCommandResult');
    await flush();
    expect(subs.actor.getSnapshot().value).toEqual({ unbounded: { session: { fetchingResult: 'bounded' } } });
    port.release();
    await flush();
    expect(subs.actor.getSnapshot().value).toBe('finished');
  });

  it('issue 7 item 18: a client range above the server range is incompatible (both bounds are compared)', async () => {
    const v1only = referenceDevice({ clock, protocolVersions: null });
    try {
      await expect(
        invokeLrc(() => {}, v1only, 'On', undefined, { system, clientVersions: [2, 2] }),
      ).rejects.toThrow(
        new ProtocolVersionError(
          "This version of invokeLrc() is not compatible with any of the server's supported LRC protocols! " +
            'Client version min, max = (2, 2) - Server version min, max = (1, 1)',
        ),
      );
    } finally {
      await v1only.close();
    }
  });

  it('issue 7 item 18: the reply code of a refused call is kept (null when the reply had none)', async () => {
    const notAllowed = new ScriptedPort(device, { reply: [[ResultCode.NOT_ALLOWED], ['not now']] });
    const r = await new LongRunningCommand('On', { system }).run(notAllowed);
    expect(r.resultCode).toBe(ResultCode.NOT_ALLOWED);
    expect(r.exception).toBeInstanceOf(ResultCodeError);
    const garbage = new ScriptedPort(device, { reply: 'garbage' });
    const subs = invokeLrc(() => {}, garbage, 'On', undefined, { system });
    await expect(subs).rejects.toThrow('Unexpected result code for On command: no result code');
    const g = await new LongRunningCommand('On', { system }).run(garbage);
    expect(g.resultCode).toBe(ResultCode.UNKNOWN);
  });

  it(`issue 7 item 18: at most ${MAX_BUFFERED_EVENTS} events are kept before the command id, and none after`, async () => {
    let reply!: (r: unknown) => void;
    const port = new ScriptedPort(device, { commands: { On: () => new Promise((r) => (reply = r)) } });
    const updates: LrcUpdate[] = [];
    const p = invokeLrc((u) => updates.push(u), port, 'On', undefined, { system });
    await flush();
    for (let i = 0; i <= MAX_BUFFERED_EVENTS; i++)
      port.inject({ attribute: '_lrcEvent', errors: [devError(`${i}`)] });
    port.options.commands = undefined;
    reply(await device.commandInout('On'));
    const subs = await p;
    const errors = updates.filter((u) => u.error).map((u) => u.error![0].desc);
    expect(errors).toHaveLength(MAX_BUFFERED_EVENTS);
    expect(errors[0]).toBe('1'); // the oldest went
    expect(errors.at(-1)).toBe(String(MAX_BUFFERED_EVENTS));
    expect(subs.actor.getSnapshot().context.buffered).toEqual([]);
    subs.unsubscribe();
    // a refused call keeps nothing either
    const refused = new ScriptedPort(device, {
      reply: [[ResultCode.REJECTED], ['no']],
      errorDuringInvoke: true,
    });
    const actor = system.spawnDetached(lrcLogic, {
      input: { device: refused, command: 'On', callback: () => {} },
    });
    const snapshots: unknown[][] = [];
    actor.subscribe((s) => snapshots.push(s.context.buffered));
    await flush();
    expect(actor.getSnapshot().output?.outcome).toBe('notStarted');
    expect(snapshots.some((b) => b.length > 0)).toBe(true);
    expect(actor.getSnapshot().context.buffered).toEqual([]);
  });

  it('issue 7 item 18: warnings from monitored events, failed checks and fetched results are logged; none without cause', async () => {
    const { logger, warn } = warnLogger();
    const port = new ScriptedPort(device, { commands: { CheckLongRunningCommandStatus: () => 'BOGUS' } });
    const subs = await invokeLrc(() => {}, port, 'On', undefined, { system, logger, reconcile: true });
    await runFor(clock, 150);
    const id = subs.commandId;
    warn.mockClear();
    port.inject({ attribute: '_lrcEvent', value: [id, JSON.stringify({ progress: 'half' })] });
    expect(messages(warn)).toEqual([
      "'On' command's progress is not an int, but string. Its type may be checked and enforced in the future.",
    ]);
    port.inject({ attribute: '_lrcEvent', errors: [devError('lost')] });
    await flush();
    expect(messages(warn)[1]).toBe(`CheckLongRunningCommandStatus(${id}) failed.`);
    await runFor(clock, 300);
    expect(subs.active).toBe(false);

    // v1: the fetched result is not JSON (an {error} update and a warning), or is another command's (neither)
    for (const [value, warned] of [
      [(cid: string) => [cid, '{not json'], true],
      [() => ['other_Off', '[0, "ok"]'], false],
    ] as const) {
      warn.mockClear();
      const v1 = new ScriptedPort(device, { hold: true });
      const log: LrcUpdate[] = [];
      const command = device.state === 'ON' ? 'Off' : 'On';
      const q = invokeLrc((u) => log.push(u), v1, command, undefined, {
        system,
        logger,
        clientVersions: [1, 1],
      });
      await flush();
      v1.release((e) => e.attribute !== 'longRunningCommandResult');
      const s1 = await q;
      v1.readAttribute = async () => value(s1.commandId);
      await runFor(clock, 400);
      v1.release((e) => e.attribute !== 'longRunningCommandResult');
      await flush();
      expect(log.at(-1)).toEqual({ status: TaskStatus.COMPLETED });
      expect(log.slice(0, -1).some((u) => 'result' in u)).toBe(false);
      expect(log.at(-2)?.error !== undefined).toBe(warned);
      expect(messages(warn)).toEqual(
        warned ? [`Undecodable LRC event json for ${s1.commandId}: "{not json"`] : [],
      );
    }
  });

  it('issue 7 item 18: a terminal status found by a check ends the bookkeeping too', async () => {
    const port = new ScriptedPort(device, {
      drop: (e) => Array.isArray(e.value) && e.value.some((v) => String(v).includes('"status":5')),
    });
    const subs = await invokeLrc(() => {}, port, 'On', undefined, { system, reconcile: true });
    await runFor(clock, 400);
    port.inject({ attribute: '_lrcEvent', errors: [devError('lost')] });
    await flush();
    expect(subs.actor.getSnapshot().context).toMatchObject({ status: TaskStatus.COMPLETED, terminal: true });
  });

  it('issue 7 item 18: used on its own, the machine refuses a two-argument callback and needs its device I/O', async () => {
    const positional = system.spawnDetached(lrcLogic, {
      input: { device, command: 'On', callback: ((_s: unknown, _p: unknown) => {}) as never },
    });
    expect(positional.getSnapshot().output?.error).toBeInstanceOf(InvalidArgumentError);
    const bare = system.spawnDetached(lrcMachine, { input: { device, command: 'On', callback: () => {} } });
    const out = bare.getSnapshot().output!;
    expect(out.outcome).toBe('notStarted');
    expect(out.error).toBeInstanceOf(DevFailed);
    expect((out.error as DevFailed).errors[0].desc).toBe(IO_NOT_PROVIDED);
  });

  it('issue 7 item 18: used on its own, known versions skip the negotiation and nothing is cached by default', async () => {
    const list = vi.spyOn(device, 'attributeList');
    const actor = system.spawnDetached(lrcLogic, {
      input: { device, command: 'Quick', callback: () => {}, knownVersions: [1, 2] },
    });
    await runFor(clock, 20);
    expect(actor.getSnapshot().output).toMatchObject({ outcome: 'finished', protocolVersion: 2 });
    expect(list).not.toHaveBeenCalled();
    const negotiated = system.spawnDetached(lrcLogic, {
      input: { device, command: 'Quick', callback: () => {} },
    });
    await runFor(clock, 20);
    expect(negotiated.getSnapshot().output?.outcome).toBe('finished');
    expect(list).toHaveBeenCalledTimes(1);
    expect(cachedLrcNegotiation(device)).toBeUndefined();
  });
});
