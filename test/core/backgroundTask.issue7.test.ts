/**
 * Issue 7 ("Hardening: what a hostile review broke"), BackgroundTask's part:
 * - item 9: durations that used to fire at once (`stopTimeout` Infinity or >= 2^31 ms, `frequency: 1e-9` ran 155
 *   times in 200 ms) follow the one duration rule: Infinity never, long delays when due;
 * - item 11: `system.stop()` ends every task it owns, detached or supervised, and leaves nothing pending;
 * - item 12: every option is checked before anything is spawned or registered;
 * - item 18: the machine checks the input that reaches it directly.
 * Simulated time (TestClock) except where a real timer overflow is the point (short real waits, ended by a
 * sentinel timer, no wall-clock threshold).
 */
import { describe, expect, it } from 'vitest';
import { type AnyActorRef, createActor } from 'xstate';
import {
  ActorRegistryError,
  BackgroundTask,
  BackgroundTaskProcessor,
  backgroundTaskMachine,
  CancelledError,
  createSystem,
  InvalidArgumentError,
  type OrrerySystem,
  RunState,
  SystemStoppedError,
  TaskCompletedError,
  TimeoutError,
} from '../../src/index.js';
import { advance, flush } from '../support/simulatedTime.js';
import { captureLogs, controlled } from '../support/taskFixtures.js';
import { useTestSystem } from '../support/testSystem.js';

const sim = useTestSystem();

/** A real-time pause, ended by a timer (how long a test waits, not a threshold it asserts). */
const realPause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Node timers currently keeping the event loop alive. */
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** Run `body` with a real-time system, stopped afterwards. */
async function withRealSystem(body: (system: OrrerySystem) => Promise<void>): Promise<void> {
  const system = createSystem();
  try {
    await body(system);
  } finally {
    await system.stop();
  }
}

/** Count the system-stop listeners a system holds (by wrapping onStop). */
function countStopListeners(system: OrrerySystem): { readonly live: number } {
  const onStop = system.onStop.bind(system);
  let live = 0;
  system.onStop = (listener) => {
    live++;
    const remove = onStop(listener);
    let removed = false;
    return () => {
      if (!removed) live--;
      removed = true;
      remove();
    };
  };
  return {
    get live() {
      return live;
    },
  };
}

describe('issue 7 item 9: BackgroundTask durations', () => {
  it('issue 7 item 9: stopTimeout Infinity waits for the in-flight action as long as it takes, no timer armed', async () => {
    const { action, calls } = controlled();
    const task = new BackgroundTask(action, { system: sim.start(), stopTimeout: Number.POSITIVE_INFINITY });
    expect(task.stopTimeout).toBe(Number.POSITIVE_INFINITY);
    task.run();
    await flush();
    const stopping = task.stop();
    expect(task.state).toBe(RunState.STOPPING);
    expect(sim.clock.pending).toBe(0);
    await advance(sim.clock, 1e15);
    expect(task.state).toBe(RunState.STOPPING);
    calls[0].resolve();
    await stopping;
    expect(task.state).toBe(RunState.STOPPED);
    expect(task.exception()).toBeNull();
  });

  it('issue 7 item 9: stopTimeout 2^31 ms gives up when due, not before (simulated time)', async () => {
    const { action } = controlled();
    const task = new BackgroundTask(action, { system: sim.start(), stopTimeout: 2 ** 31 });
    task.run();
    await flush();
    void task.stop();
    await advance(sim.clock, 2 ** 31 - 1);
    expect(task.state).toBe(RunState.STOPPING);
    await advance(sim.clock, 1);
    expect(task.state).toBe(RunState.ERRORED);
    expect(task.exception()).toBeInstanceOf(TimeoutError);
  });

  it('issue 7 item 9: on the real clock, stopTimeout Infinity or 2^31 ms does not give up after 1 ms', async () => {
    await withRealSystem(async (system) => {
      for (const stopTimeout of [Number.POSITIVE_INFINITY, 2 ** 31, 2 ** 40]) {
        const { action, calls } = controlled();
        const task = new BackgroundTask(action, { system, stopTimeout });
        task.run();
        await flush();
        const stopping = task.stop();
        await realPause(30);
        expect(task.state, `stopTimeout ${stopTimeout}`).toBe(RunState.STOPPING);
        calls[0].resolve();
        await stopping;
        expect(task.state, `stopTimeout ${stopTimeout}`).toBe(RunState.STOPPED);
        expect(task.exception()).toBeNull();
      }
    });
  });

  it('issue 7 item 9: frequency 1e-9 runs once and then waits (it used to run 155 times in 200 ms)', async () => {
    const before = activeTimers();
    await withRealSystem(async (system) => {
      let runs = 0;
      const task = new BackgroundTask(() => void runs++, { system, frequency: 1e-9 });
      task.run();
      await realPause(50);
      expect(runs).toBe(1);
      expect(task.state).toBe(RunState.RUNNING);
      await task.stop();
      expect(task.state).toBe(RunState.STOPPED);
    });
    expect(activeTimers()).toBe(before); // the chained 1e12 ms wait was cleared
  });

  it('issue 7 item 9: a period far past the timer limit runs when due (1e-9 Hz: every 1e12 ms)', async () => {
    let runs = 0;
    const task = new BackgroundTask(() => void runs++, { system: sim.start(), frequency: 1e-9 });
    task.run();
    await advance(sim.clock, 1e12 - 1);
    expect(runs).toBe(1);
    await advance(sim.clock, 1);
    expect(runs).toBe(2);
    await task.stop();
    expect(sim.clock.pending).toBe(0);
  });

  it('issue 7 item 9: frequency must be a positive finite number; stopTimeout a duration', () => {
    const s = sim.start();
    for (const frequency of [0, -1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, '10', {}, true]) {
      expect(() => new BackgroundTask(() => {}, { system: s, frequency: frequency as never })).toThrow(
        /^frequency must be a positive finite number of Hz, got /,
      );
    }
    for (const stopTimeout of [-1, Number.NaN, '100', {}, Number.NEGATIVE_INFINITY]) {
      expect(() => new BackgroundTask(() => {}, { system: s, stopTimeout: stopTimeout as never })).toThrow(
        /^stopTimeout must be a non-negative number of milliseconds \(or Infinity for never\), got /,
      );
    }
    expect(new BackgroundTask(() => {}, { system: s, frequency: 1e-300, stopTimeout: 0 }).frequency).toBe(
      1e-300,
    );
    expect(
      new BackgroundTask(() => {}, { system: s, frequency: null, stopTimeout: null }).frequency,
    ).toBeNull();
  });
});

describe('issue 7 item 11: system.stop() ends every task', () => {
  it('issue 7 item 11: a detached task waiting between runs ends STOPPED, done resolves, nothing pending', async () => {
    const s = sim.start();
    const task = new BackgroundTask(() => {}, { system: s, frequency: 10 });
    task.run();
    await advance(sim.clock, 5);
    await s.stop();
    expect(task.completed).toBe(true);
    expect(task.state).toBe(RunState.STOPPED);
    expect(task.exception()).toBeNull();
    await task.done;
    expect(sim.clock.pending).toBe(0);
    expect(s.detachedCount).toBe(0);
  });

  it('issue 7 item 11: an action in flight is abandoned: ERRORED with the SystemStoppedError, its signal aborted', async () => {
    const { lines, logger } = captureLogs();
    const s = sim.start({ logger });
    const { action, calls } = controlled();
    const task = new BackgroundTask(action, { system: s, frequency: 10, stopTimeout: 1000 });
    task.run();
    await flush();
    await s.stop();
    expect(task.state).toBe(RunState.ERRORED);
    expect(task.exception()).toBeInstanceOf(SystemStoppedError);
    expect(calls[0].signal.aborted).toBe(true);
    await task.done;
    expect(sim.clock.pending).toBe(0);
    calls[0].resolve(); // a late settlement changes nothing
    await flush();
    expect(task.state).toBe(RunState.ERRORED);
    const line = lines.find((l) => l.msg === 'Task abandoned: the actor system was stopped.');
    expect(line).toMatchObject({ level: 40, task: task.name });
    expect(lines.some((l) => l.msg === 'Error during processing of task.')).toBe(false);
  });

  it('issue 7 item 11: a task STOPPING with a stop timeout ends with the SystemStoppedError, its timer gone', async () => {
    const s = sim.start();
    const { action } = controlled();
    const task = new BackgroundTask(action, { system: s, stopTimeout: 5000 });
    task.run();
    await flush();
    void task.stop();
    expect(sim.clock.pending).toBe(1);
    await s.stop();
    expect(task.state).toBe(RunState.ERRORED);
    expect(task.exception()).toBeInstanceOf(SystemStoppedError);
    expect(sim.clock.pending).toBe(0);
  });

  it('issue 7 item 11: a task whose action has not started yet ends STOPPED and the action never runs', async () => {
    const s = sim.start();
    let calls = 0;
    const task = new BackgroundTask(() => void calls++, { system: s });
    task.run();
    await s.stop();
    await flush();
    expect(task.state).toBe(RunState.STOPPED);
    expect(calls).toBe(0);
  });

  it('issue 7 item 11: supervised tasks end too (waiting: STOPPED, in flight: ERRORED), nothing pending', async () => {
    const s = sim.start();
    const listeners = countStopListeners(s);
    const rack = s.supervisor('rack');
    const waiting = new BackgroundTask(() => {}, {
      system: s,
      supervisor: rack,
      frequency: 10,
      name: 'waiting',
    });
    const { action, calls } = controlled();
    const busy = new BackgroundTask(action, { system: s, supervisor: 'rack', frequency: 10, name: 'busy' });
    waiting.run();
    busy.run();
    await advance(sim.clock, 5);
    expect(listeners.live).toBe(2);
    await s.stop();
    expect(waiting.state).toBe(RunState.STOPPED);
    expect(waiting.exception()).toBeNull();
    expect(busy.state).toBe(RunState.ERRORED);
    expect(busy.exception()).toBeInstanceOf(SystemStoppedError);
    expect(calls[0].signal.aborted).toBe(true);
    await Promise.all([waiting.done, busy.done]);
    expect(listeners.live).toBe(0);
    expect(sim.clock.pending).toBe(0);
  });

  it('review: a supervisor stopping the actor of a task whose action is in flight ends it ERRORED, not STOPPED', async () => {
    const s = sim.start();
    const rack = s.supervisor('rack');
    const { action, calls } = controlled();
    const busy = new BackgroundTask(action, { system: s, supervisor: rack, frequency: 10, name: 'busy' });
    const waiting = new BackgroundTask(() => {}, {
      system: s,
      supervisor: rack,
      frequency: 10,
      name: 'idle',
    });
    busy.run();
    waiting.run();
    await advance(sim.clock, 5);
    expect(busy.state).toBe(RunState.RUNNING);
    rack.stopChild('busy');
    rack.stopChild('idle');
    await busy.done;
    await waiting.done;
    // the action was abandoned (its signal aborted): the task did not stop cleanly
    expect(calls[0].signal.aborted).toBe(true);
    expect(busy.state).toBe(RunState.ERRORED);
    expect(busy.exception()).toBeInstanceOf(CancelledError);
    expect(busy.exception()?.message).toMatch(/action was abandoned/);
    // between runs nothing is abandoned: a clean stop
    expect(waiting.state).toBe(RunState.STOPPED);
    expect(waiting.exception()).toBeNull();
  });

  it('issue 7 item 11: a supervised task that completes on its own lets go of its system-stop listener', async () => {
    const s = sim.start();
    const listeners = countStopListeners(s);
    for (let i = 0; i < 50; i++) {
      const task = new BackgroundTask(() => {}, { system: s, supervisor: 'root' });
      task.run();
      await task.done;
    }
    const periodic = new BackgroundTask(() => {}, { system: s, supervisor: 'root', frequency: 100 });
    periodic.run();
    await advance(sim.clock, 30);
    await periodic.stop();
    expect(listeners.live).toBe(0);
  });

  it('issue 7 item 11: run() on a stopped system throws SystemStoppedError and the task completes ERRORED', async () => {
    const s = sim.start();
    const task = new BackgroundTask(() => {}, { system: s, frequency: 10 });
    await s.stop();
    expect(() => task.run()).toThrow(SystemStoppedError);
    expect(task.state).toBe(RunState.ERRORED);
    expect(task.exception()).toBeInstanceOf(SystemStoppedError);
    await task.done; // resolves: nothing is left pending
    expect(() => task.run()).toThrow(TaskCompletedError);
    const processor = new BackgroundTaskProcessor({ system: s });
    expect(() => processor.submitTask(() => {})).toThrow(SystemStoppedError);
    expect(processor.tasks).toEqual([]);
  });
});

describe('issue 7 item 12: BackgroundTask validates every option before it registers anything', () => {
  it('issue 7 item 12: each bad option throws InvalidArgumentError and leaves no actor and no id taken', () => {
    const s = sim.start();
    const before = s.actors().length;
    const bad: [string, object, RegExp][] = [
      ['system', { system: {} }, /system must be an OrrerySystem/],
      ['supervisor', { supervisor: 42 }, /supervisor must be a Supervisor or the name of one/],
      ['supervisor ""', { supervisor: '' }, /supervisor must be/],
      ['signal', { signal: { aborted: false } }, /signal must be an AbortSignal/],
      ['logger', { logger: { error: () => {} } }, /logger must be a pino logger/],
      ['name ""', { name: '' }, /name must be a non-empty string/],
      ['name 5', { name: 5 }, /name must be a non-empty string/],
      ['frequency', { frequency: -1 }, /frequency/],
      ['stopTimeout', { stopTimeout: Number.NaN }, /stopTimeout/],
    ];
    for (const [what, options, message] of bad) {
      expect(
        () => new BackgroundTask(() => {}, { system: s, name: 'same', ...options } as never),
        what,
      ).toThrow(message);
      expect(
        () => new BackgroundTask(() => {}, { system: s, name: 'same', ...options } as never),
        what,
      ).toThrow(InvalidArgumentError);
    }
    expect(() => new BackgroundTask(undefined as never, { system: s })).toThrow(InvalidArgumentError);
    expect(s.actors()).toHaveLength(before);
    expect(s.detachedCount).toBe(0);
    // the name was never taken
    const task = new BackgroundTask(() => {}, { system: s, supervisor: 'root', name: 'same' });
    task.run();
    expect(s.root.children()).toEqual(['same']);
  });

  it('issue 7 item 12: the processor validates its options too', () => {
    expect(() => new BackgroundTaskProcessor({ system: 'default' as never })).toThrow(InvalidArgumentError);
    expect(() => new BackgroundTaskProcessor({ supervisor: {} as never })).toThrow(InvalidArgumentError);
    expect(() => new BackgroundTaskProcessor({ logger: console as never })).toThrow(InvalidArgumentError);
  });

  it('issue 7 item 12: run() under a missing supervisor throws, registers nothing, and the task can run later', async () => {
    const s = sim.start();
    const task = new BackgroundTask(() => {}, { system: s, supervisor: 'later', name: 'job' });
    expect(() => task.run()).toThrow(ActorRegistryError);
    expect(task.completed).toBe(false);
    expect(task.actor).toBeUndefined();
    s.supervisor('later');
    task.run();
    await task.done;
    expect(task.state).toBe(RunState.STOPPED);
    expect(task.runs).toBe(1);
  });
});

describe('issue 7 item 18: the backgroundTask machine checks its own input', () => {
  it('issue 7 item 18: bad input fails the bare machine at once with InvalidArgumentError', () => {
    for (const input of [
      { frequency: -1, stopTimeout: null },
      { frequency: 0, stopTimeout: null },
      { frequency: null, stopTimeout: -5 },
      { frequency: null, stopTimeout: Number.NaN },
    ]) {
      const actor = createActor(backgroundTaskMachine, { input: input as never });
      const snapshot = actor.getSnapshot() as unknown as { status: string; error: unknown };
      expect(snapshot.status).toBe('error');
      expect(snapshot.error).toBeInstanceOf(InvalidArgumentError);
    }
    const bare = createActor(backgroundTaskMachine, { input: undefined as never });
    expect(bare.getSnapshot().context).toMatchObject({ frequency: null, stopTimeout: null, runs: 0 });
    const error = (input: object) =>
      String((createActor(backgroundTaskMachine, { input: input as never }).getSnapshot() as any).error);
    expect(error({ frequency: -1 })).toMatch(
      /^InvalidArgumentError: frequency must be a positive finite number/,
    );
    expect(error({ stopTimeout: -1 })).toMatch(
      /^InvalidArgumentError: stopTimeout must be a non-negative number/,
    );
  });

  it('issue 7 item 18: the bare machine runs its default action once and outputs {runs, error}', async () => {
    const actor = createActor(backgroundTaskMachine, { input: { frequency: null, stopTimeout: null } });
    actor.start();
    actor.send({ type: 'RUN' });
    await flush();
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('completed');
    expect(actor.getSnapshot().output).toEqual({ runs: 1, error: null });
  });

  it('issue 7 item 18: every state of the bare machine carries its RunState tag, transient ones included', async () => {
    const { TestClock } = await import('../../src/testing/index.js');
    const { runStateOf } = await import('../../src/index.js');
    const seen = new Map<string, string[]>();
    const record = (snapshot: { value: unknown; tags: Set<string> }) =>
      seen.set(JSON.stringify(snapshot.value), [...snapshot.tags]);
    const actor = createActor(backgroundTaskMachine, {
      clock: new TestClock(),
      input: { frequency: 1, stopTimeout: null },
      inspect: (e) => {
        const isMachine = (e.actorRef as AnyActorRef).src === backgroundTaskMachine;
        if (isMachine && (e.type === '@xstate.microstep' || e.type === '@xstate.snapshot')) {
          record(e.snapshot as never);
        }
      },
    });
    actor.start();
    expect(actor.getSnapshot().hasTag('STOPPED')).toBe(true);
    actor.send({ type: 'RUN' });
    await flush();
    actor.send({ type: 'STOP' });
    expect(actor.getSnapshot().hasTag('STOPPED')).toBe(true);
    expect(Object.fromEntries(seen)).toEqual({
      '"stopped"': ['STOPPED'],
      '"starting"': ['STARTING'],
      '{"running":{"executing":"busy"}}': ['RUNNING'],
      '{"running":"waiting"}': ['RUNNING'],
      '{"running":"halting"}': ['STOPPING'],
      '"completed"': ['STOPPED'],
    });
    expect(runStateOf(actor.getSnapshot())).toBe(RunState.STOPPED);
    expect(actor.getSnapshot().output).toEqual({ runs: 1, error: null });
  });

  it('issue 7 item 18: the bare machine with stopTimeout Infinity stops unbounded (no timer)', async () => {
    const { TestClock } = await import('../../src/testing/index.js');
    const clock = new TestClock();
    const actor = createActor(backgroundTaskMachine, {
      clock,
      input: { frequency: null, stopTimeout: Number.POSITIVE_INFINITY },
    });
    actor.start();
    actor.send({ type: 'RUN' });
    actor.send({ type: 'STOP' });
    expect(actor.getSnapshot().value).toEqual({ running: { executing: 'stopping' } });
    expect(clock.pending).toBe(0);
    actor.stop();
  });
});
