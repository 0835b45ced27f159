/**
 * Model-based test of BackgroundTask against a small reference model of PST's RunState lifecycle, under a
 * TestClock: random sequences of run() / stop() / the in-flight action succeeding or throwing / advance(ms), for
 * one-shot and periodic tasks, with and without a stop timeout.
 * Invariants: state, runs and action calls match the model; only legal RunState transitions occur (every microstep
 * of the actor is recorded); completed and ERRORED are absorbing; run() after completion always throws; the action
 * never starts after stop(); exactly one completion; no timer outlives the task.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BackgroundTask,
  createSystem,
  type OrrerySystem,
  RunState,
  runStateOf,
  TaskCompletedError,
  TimeoutError,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { advance, flush } from '../support/simulatedTime.js';

type Phase = 'idle' | 'busy' | 'waiting' | 'stopping' | 'completed' | 'errored';

const RUN_STATE: Record<Phase, RunState> = {
  idle: RunState.STOPPED,
  busy: RunState.RUNNING,
  waiting: RunState.RUNNING,
  stopping: RunState.STOPPING,
  completed: RunState.STOPPED,
  errored: RunState.ERRORED,
};
/** Upstream's transitions (8.2), as RunState pairs. */
const LEGAL = new Set(['1>2', '2>3', '3>1', '3>4', '3>5', '4>1', '4>5']);

interface Model {
  now: number;
  phase: Phase;
  period: number | null;
  stopTimeout: number | null;
  nextRunAt: number;
  stopDeadline: number;
  runs: number;
  actionCalls: number;
  error: 'thrown' | 'timeout' | null;
}

interface Real {
  clock: TestClock;
  system: OrrerySystem;
  task: BackgroundTask;
  calls: { resolve: () => void; reject: (e: Error) => void }[];
  /** Every RunState the actor passed through, one entry per microstep. */
  states: RunState[];
  completions: number;
  callsAtStop: number | null;
  thrown: Error | null;
}

const terminal = (m: Model) => m.phase === 'completed' || m.phase === 'errored';
const inFlight = (m: Model) => m.phase === 'busy' || m.phase === 'stopping';

function check(m: Model, r: Real): void {
  expect(r.task.state).toBe(RUN_STATE[m.phase]);
  expect(r.task.completed).toBe(terminal(m));
  expect(r.task.runs).toBe(m.runs);
  expect(r.calls.length).toBe(m.actionCalls);
  expect(r.completions).toBe(terminal(m) ? 1 : 0);
  if (r.callsAtStop !== null) expect(r.calls.length).toBeLessThanOrEqual(r.callsAtStop);
  if (m.error === 'thrown') expect(r.task.exception()).toBe(r.thrown);
  if (m.error === 'timeout') expect(r.task.exception()).toBeInstanceOf(TimeoutError);
  if (m.error === null) expect(r.task.exception()).toBeNull();
  if (terminal(m)) expect(r.clock.pending).toBe(0);
  const path = r.states.filter((s, i) => i === 0 || s !== r.states[i - 1]);
  for (let i = 1; i < path.length; i++) expect(LEGAL.has(`${path[i - 1]}>${path[i]}`)).toBe(true);
  // absorbing: nothing follows a terminal RunState reached by a completed task
  if (terminal(m)) expect(path[path.length - 1]).toBe(RUN_STATE[m.phase]);
}

class Run implements fc.Command<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    if (terminal(m)) {
      expect(() => r.task.run()).toThrow(TaskCompletedError);
    } else {
      r.task.run();
      if (m.phase === 'idle') {
        m.phase = 'busy';
        m.actionCalls++;
      }
    }
    await flush();
    check(m, r);
  }
  toString = () => 'run';
}

class Stop implements fc.Command<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    void r.task.stop();
    if (m.phase === 'busy') {
      m.phase = 'stopping';
      m.stopDeadline = m.stopTimeout === null ? Number.POSITIVE_INFINITY : m.now + m.stopTimeout;
    } else if (m.phase === 'waiting') m.phase = 'completed';
    if (m.phase !== 'idle') r.callsAtStop ??= r.calls.length;
    await flush();
    check(m, r);
  }
  toString = () => 'stop';
}

/** run() and stop() in the same tick: the action must never start. */
class RunThenStop implements fc.Command<Model, Real> {
  check = (m: Readonly<Model>) => m.phase === 'idle';
  async run(m: Model, r: Real): Promise<void> {
    r.task.run();
    void r.task.stop();
    r.callsAtStop ??= r.calls.length;
    m.phase = 'completed';
    await flush();
    check(m, r);
  }
  toString = () => 'run+stop';
}

class ActionSettles implements fc.Command<Model, Real> {
  constructor(readonly fails: boolean) {}
  check = (m: Readonly<Model>) => inFlight(m);
  async run(m: Model, r: Real): Promise<void> {
    const call = r.calls[r.calls.length - 1];
    if (this.fails) {
      r.thrown = new Error(`run ${r.calls.length} failed`);
      call.reject(r.thrown);
      m.phase = 'errored';
      m.error = 'thrown';
    } else {
      call.resolve();
      m.runs++;
      if (m.phase === 'busy' && m.period !== null) {
        m.phase = 'waiting';
        m.nextRunAt = m.now + m.period;
      } else m.phase = 'completed';
    }
    await flush();
    check(m, r);
  }
  toString = () => (this.fails ? 'actionThrows' : 'actionSucceeds');
}

class Advance implements fc.Command<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const end = m.now + this.ms;
    if (m.phase === 'waiting' && m.nextRunAt <= end) {
      m.phase = 'busy';
      m.actionCalls++;
    } else if (m.phase === 'stopping' && m.stopDeadline <= end) {
      m.phase = 'errored';
      m.error = 'timeout';
    }
    m.now = end;
    await advance(r.clock, this.ms);
    check(m, r);
  }
  toString = () => `advance(${this.ms})`;
}

const commands = fc.commands(
  [
    fc.constant(new Run()),
    fc.constant(new Stop()),
    fc.constant(new RunThenStop()),
    fc.constant(new ActionSettles(false)),
    fc.constant(new ActionSettles(true)),
    fc.integer({ min: 1, max: 25 }).map((ms) => new Advance(ms)),
  ],
  { maxCommands: 25 },
);

const config = fc.record({
  frequency: fc.constantFrom(null, 1000, 200, 100),
  stopTimeout: fc.constantFrom(null, 5, 20),
});

describe('BackgroundTask model', () => {
  it('matches the RunState model (1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(config, commands, async ({ frequency, stopTimeout }, cmds) => {
        const clock = new TestClock();
        const system = createSystem({ clock });
        const calls: Real['calls'] = [];
        const task = new BackgroundTask(
          () =>
            new Promise<void>((resolve, reject) => {
              calls.push({ resolve, reject });
            }),
          { system, frequency, stopTimeout },
        );
        const real: Real = {
          clock,
          system,
          task,
          calls,
          states: [RunState.STOPPED],
          completions: 0,
          callsAtStop: null,
          thrown: null,
        };
        task.onCompleted(() => real.completions++);
        system.inspect((e) => {
          if (e.type === '@xstate.microstep' && e.actorRef === task.actor)
            real.states.push(runStateOf(e.snapshot as never));
        });
        const model: Model = {
          now: 0,
          phase: 'idle',
          period: frequency === null ? null : 1000 / frequency,
          stopTimeout,
          nextRunAt: 0,
          stopDeadline: 0,
          runs: 0,
          actionCalls: 0,
          error: null,
        };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
        } finally {
          await system.stop();
        }
      }),
      { numRuns: propertyRuns(1000) },
    );
  });
});
