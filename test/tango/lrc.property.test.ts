/**
 * Model-based test of the LRC client against the device simulator, under a TestClock. Each case is a random
 * device script: several LRCs (accepted, rejected on submission, rejected at execution, failing, unknown to the
 * device, or refused by a full queue) with random progress sequences, an optional Abort, and per-call transport
 * perturbations (events held and released later with cross-attribute reordering, every event duplicated, old
 * events delivered again late (stale), late subscriptions, unsubscribe or cancel mid-flight, a deadline) and, with
 * `reconcile`, lost events: every terminal status lost, or the device restarted mid-call (its value events gone,
 * CheckLongRunningCommandStatus answering NOT_FOUND), with an error event every 100 ms. Invariants:
 * - an accepted call that is not unsubscribed delivers exactly one terminal status, the one the script implies;
 * - the status sequence starts at STAGING and follows the SKA TaskStatus diagram (plus QUEUED -> FAILED, which
 *   upstream's own test_command_exception pins); repeats only in v1 parity mode; with lost events, statuses only
 *   move forward (the check's answer may skip states);
 * - a call whose device restarted either ended before the restart showed or ends `lost`: no terminal status, its
 *   last update the SKA_CommandNotFound error (LongRunningCommand: resultCode UNKNOWN); it never waits forever;
 * - nothing is delivered after the terminal status or after unsubscribe; a refused call delivers nothing;
 * - no subscription, timer or actor is left afterwards; LongRunningCommand.run settles exactly once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/engine/system.js';
import { TimeoutError } from '../../src/errors.js';
import { CommandError, DevFailed } from '../../src/protocols/tango/errors.js';
import {
  invokeLrc,
  type LrcOutput,
  type LrcSubscriptions,
  type LrcUpdate,
  ResultCode,
  TaskStatus,
} from '../../src/protocols/tango/lrc/invokeLrc.js';
import { LongRunningCommand, type LrcResult } from '../../src/protocols/tango/lrc/longRunningCommand.js';
import type { AttributeEvent } from '../../src/protocols/tango/port.js';
import { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { taskStatusRank } from '../../src/protocols/tango/wire.js';
import { TestClock } from '../../src/testing/testClock.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { devError, flush, ScriptedPort } from './support/lrcHarness.js';

type Kind = 'ok' | 'fail' | 'reject' | 'execRejected' | 'unknown';
const COMMAND: Record<Kind, string> = {
  ok: 'Work',
  fail: 'Crash',
  reject: 'Refuse',
  execRejected: 'Forbidden',
  unknown: 'NoSuchCommand',
};
const EXPECTED: Partial<Record<Kind, TaskStatus>> = {
  ok: TaskStatus.COMPLETED,
  fail: TaskStatus.FAILED,
  execRejected: TaskStatus.REJECTED,
};
const S = TaskStatus;
const LEGAL: Record<number, number[]> = {
  [S.STAGING]: [S.QUEUED, S.REJECTED, S.IN_PROGRESS],
  [S.QUEUED]: [S.REJECTED, S.ABORTED, S.IN_PROGRESS, S.FAILED],
  [S.IN_PROGRESS]: [S.ABORTED, S.FAILED, S.COMPLETED],
};
const TERMINAL: number[] = [S.COMPLETED, S.ABORTED, S.FAILED, S.REJECTED];

const callArb = fc.record({
  kind: fc.constantFrom<Kind>('ok', 'ok', 'fail', 'reject', 'execRejected', 'unknown'),
  steps: fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 4 }),
  stepMs: fc.integer({ min: 1, max: 40 }),
  startAt: fc.integer({ min: 0, max: 60 }),
  hold: fc.boolean(),
  duplicate: fc.boolean(),
  echo: fc.boolean(),
  late: fc.boolean(),
  stopAt: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
  viaLongRunningCommand: fc.boolean(),
  timeout: fc.option(fc.integer({ min: 20, max: 300 }), { nil: undefined }),
  /** `reconcile` and what is lost: nothing (no reconcile), every terminal status, or the device (restarted). */
  loss: fc.constantFrom<'none' | 'terminal' | 'restart'>('none', 'none', 'terminal', 'restart'),
  restartAt: fc.integer({ min: 0, max: 250 }),
});
const scenarioArb = fc.record({
  clientVersions: fc.constantFrom<readonly [number, number]>([1, 1], [1, 2]),
  parity: fc.boolean(),
  maxQueuedTasks: fc.integer({ min: 1, max: 3 }),
  calls: fc.array(callArb, { minLength: 1, maxLength: 4 }),
  abortAt: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined }),
  seed: fc.integer(),
});
type Call = typeof callArb extends fc.Arbitrary<infer T> ? T : never;

interface Run {
  call: Call;
  port: ScriptedPort;
  updates: LrcUpdate[];
  invokeError?: unknown;
  subs?: LrcSubscriptions;
  stoppedAfter?: number;
  lrcResult?: LrcResult;
  settled: number;
  startedAt: number;
  started: boolean;
  abortCtl: AbortController;
  /** invokeLrc's outcome once the call ended. */
  output?: LrcOutput;
  restarted: boolean;
}

/** A value event carrying a terminal status (v2 json, or a v1 status list naming one). */
const TERMINAL_NAMES = ['COMPLETED', 'ABORTED', 'FAILED', 'REJECTED'];
function carriesTerminal(e: AttributeEvent): boolean {
  return (
    Array.isArray(e.value) &&
    e.value.some(
      (v) => typeof v === 'string' && (TERMINAL_NAMES.includes(v) || /"status": ?[3567]\b/.test(v)),
    )
  );
}
const notFound = (error: unknown) =>
  error instanceof DevFailed && error.errors.some((e) => e.reason === 'SKA_CommandNotFound');

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeDevice(clock: TestClock, maxQueuedTasks: number) {
  const work = async (task: import('../../src/protocols/tango/sim/skaDeviceSimulator.js').SimulatedTask) => {
    const { steps, stepMs, crash } = task.args as { steps: number[]; stepMs: number; crash: boolean };
    for (const p of steps) {
      await task.sleep(stepMs);
      task.progress(p);
    }
    await task.sleep(stepMs);
    if (crash) throw new Error('boom');
    return [ResultCode.OK, 'done'];
  };
  return new SkaDeviceSimulator({
    name: 'test/property/1',
    clock,
    maxQueuedTasks,
    epochMs: 1_700_000_000_000,
    uuid: (() => {
      let n = 0;
      return () => ++n;
    })(),
    commands: {
      Work: work,
      Crash: work,
      Refuse: { validate: () => 'not today', execute: work },
      Forbidden: { isCmdAllowed: () => false, execute: work },
    },
  });
}

function checkRun(r: Run, protocol: number, parity: boolean, aborted: boolean): void {
  const statuses = r.updates.filter((u) => u.status !== undefined).map((u) => u.status!);
  const terminalAt = r.updates.findIndex((u) => u.status !== undefined && TERMINAL.includes(u.status));
  // nothing after the terminal status, at most one terminal
  if (terminalAt >= 0) expect(terminalAt).toBe(r.updates.length - 1);
  expect(statuses.filter((s) => TERMINAL.includes(s)).length).toBeLessThanOrEqual(1);
  if (r.stoppedAfter !== undefined) expect(r.updates.length).toBe(r.stoppedAfter);
  // a legal sequence
  const lossy = r.call.loss !== 'none';
  if (statuses.length && !lossy) expect(statuses[0]).toBe(S.STAGING);
  for (let i = 1; i < statuses.length; i++) {
    const [a, b] = [statuses[i - 1], statuses[i]];
    if (a === b) expect(parity && protocol === 1, `repeat ${a}`).toBe(true);
    else if (lossy) expect(taskStatusRank(b), `${a} -> ${b}`).toBeGreaterThan(taskStatusRank(a));
    else expect(LEGAL[a], `${a} -> ${b}`).toContain(b);
  }
  const refused =
    r.invokeError !== undefined || (r.lrcResult !== undefined && r.lrcResult.commandId === null);
  if (refused) {
    // only the error events that came before its failure (upstream's wrapper delivers them as they come)
    for (const u of r.updates) expect(Object.keys(u)).toEqual(['error']);
    const err = r.invokeError ?? r.lrcResult?.exception;
    if (r.stoppedAfter !== undefined || err instanceof TimeoutError) return;
    expect(err).toBeInstanceOf(r.call.kind === 'unknown' ? DevFailed : CommandError);
    return;
  }
  const lost = r.lrcResult ? notFound(r.lrcResult.exception) : r.output?.outcome === 'lost';
  if (lost) {
    expect(r.restarted, 'lost without a restart').toBe(true);
    expect(terminalAt).toBe(-1);
    expect(notFound(new DevFailed(r.updates.at(-1)?.error ?? []))).toBe(true);
    if (r.lrcResult) expect(r.lrcResult.resultCode).toBe(ResultCode.UNKNOWN);
    else expect(notFound(r.output!.error)).toBe(true);
    return;
  }
  const timedOut = r.lrcResult?.exception instanceof TimeoutError;
  if (r.stoppedAfter === undefined && !timedOut) {
    expect(terminalAt, 'exactly one terminal status').toBeGreaterThanOrEqual(0);
    const expected = EXPECTED[r.call.kind]!;
    const last = statuses.at(-1)!;
    if (aborted) expect([expected, S.ABORTED]).toContain(last);
    else expect(last).toBe(expected);
  }
}

describe('LRC client, model-based', () => {
  it('random device scripts keep every invariant', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (sc) => {
        const clock = new TestClock();
        const system = createSystem({ clock });
        const device = makeDevice(clock, sc.maxQueuedTasks);
        const random = rng(sc.seed);
        const options = { system, parity: sc.parity, clientVersions: sc.clientVersions };
        const runs: Run[] = sc.calls.map((call) => ({
          call,
          port: new ScriptedPort(device, {
            hold: call.hold,
            duplicate: call.duplicate,
            echo: call.echo,
            lateSubscription: call.late,
            drop: call.loss === 'terminal' ? carriesTerminal : undefined,
          }),
          updates: [],
          settled: 0,
          startedAt: 0,
          started: false,
          abortCtl: new AbortController(),
          restarted: false,
        }));
        const start = (r: Run) => {
          r.started = true;
          r.startedAt = clock.now();
          const { call } = r;
          const args = { steps: call.steps, stepMs: call.stepMs, crash: call.kind === 'fail' };
          const record = (u: LrcUpdate) => r.updates.push(u);
          const callOptions = { ...options, reconcile: call.loss !== 'none' };
          if (call.viaLongRunningCommand) {
            const lrc = new LongRunningCommand(COMMAND[call.kind], callOptions);
            lrc
              .run(r.port, { args, timeout: call.timeout, signal: r.abortCtl.signal, onUpdate: record })
              .then(
                (res) => {
                  r.lrcResult = res;
                  r.settled++;
                },
                () => r.settled++,
              );
          } else {
            invokeLrc(record, r.port, COMMAND[call.kind], args, callOptions).then(
              (s) => {
                r.subs = s;
                s.finished.then((o) => {
                  r.output = o;
                });
              },
              (e) => {
                r.invokeError = e;
              },
            );
          }
        };
        let abortSubs: Promise<LrcSubscriptions> | undefined;
        const abortLog: LrcUpdate[] = [];
        for (let t = 0; t <= 3000; t += 5) {
          for (const r of runs) {
            if (!r.started && t >= r.call.startAt) start(r);
            if (r.started && r.call.stopAt !== undefined && r.stoppedAfter === undefined) {
              if (t - r.startedAt >= r.call.stopAt) {
                if (r.call.viaLongRunningCommand) r.abortCtl.abort();
                else r.subs?.unsubscribe();
                if (r.subs || r.call.viaLongRunningCommand) r.stoppedAfter = r.updates.length;
              }
            }
            if (
              r.started &&
              r.call.loss === 'restart' &&
              !r.restarted &&
              t - r.startedAt >= r.call.restartAt
            ) {
              // the device restarted: its value events stop, and it never heard of the command
              r.restarted = true;
              r.port.options = {
                ...r.port.options,
                drop: (e) => e.errors === undefined,
                commands: { CheckLongRunningCommandStatus: () => 'NOT_FOUND' },
              };
            }
            if (r.started && r.call.loss !== 'none' && t % 100 === 0)
              r.port.inject({ attribute: 'any', errors: [devError('heartbeat lost')] });
            if (random() < 0.5) r.port.releaseSubscriptions();
            const attrs = new Set(
              [
                '_lrcEvent',
                'longRunningCommandStatus',
                'longRunningCommandProgress',
                'longRunningCommandResult',
              ].filter(() => random() < 0.5),
            );
            r.port.release((e) => attrs.has(e.attribute));
            if (random() < 0.2) r.port.echo(() => random() < 0.5);
          }
          if (sc.abortAt !== undefined && t === sc.abortAt) {
            abortSubs = invokeLrc((u) => abortLog.push(u), device, 'Abort', undefined, options);
          }
          await flush(8);
          clock.advance(5);
          await flush(8);
          const busy = runs.some(
            (r) =>
              !r.started ||
              (r.call.viaLongRunningCommand ? r.settled === 0 : !r.invokeError && (!r.subs || r.subs.active)),
          );
          if (!busy && t > (sc.abortAt ?? 0) + 50) break;
          if (t > 2000)
            for (const r of runs) {
              r.port.options = { ...r.port.options, hold: false, lateSubscription: false };
              r.port.releaseSubscriptions();
              r.port.release();
            }
        }
        const aborted = sc.abortAt !== undefined;
        for (const r of runs) {
          checkRun(r, Math.min(sc.clientVersions[1], 2), sc.parity, aborted);
          expect(r.port.open).toBe(0);
          if (r.call.viaLongRunningCommand) expect(r.settled).toBe(1);
        }
        if (abortSubs) {
          await abortSubs;
          expect(abortLog.at(-1)?.status).toBe(TaskStatus.COMPLETED);
        }
        expect(device.subscriptionCount).toBe(0);
        expect(system.detachedCount).toBe(0);
        await device.close();
        await system.stop();
        expect(clock.pending).toBe(0);
      }),
      { numRuns: propertyRuns(1000) },
    );
  }, 60_000);
});
