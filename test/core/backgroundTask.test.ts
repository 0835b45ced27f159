/**
 * PST BackgroundTask: checklist 9.2 items 1-2 (ported from ska-pst-lmc tests/unit/test_background_task.py) and
 * the improvements of 9.2.6 (interruptible waits, bounded stop, no reaper).
 * Simulated time (TestClock) throughout; an action's promise settles on the microtask queue, so time is walked
 * timer by timer with a macrotask flush in between (`advance`).
 */
import { describe, expect, it } from 'vitest';
import {
  BackgroundTask,
  BackgroundTaskProcessor,
  InvalidArgumentError,
  InvalidStateError,
  isErrored,
  isRunning,
  RunState,
  TaskCompletedError,
  TimeoutError,
} from '../../src/index.js';
import { advance, flush } from '../support/simulatedTime.js';
import { captureLogs, controlled } from '../support/taskFixtures.js';
import { useTestSystem } from '../support/testSystem.js';

const sim = useTestSystem();

describe('9.2.1 lifecycle (test_background_task.py)', () => {
  it('9.2.1 a new task is STOPPED and not running', () => {
    const task = new BackgroundTask(() => {}, { system: sim.start() });
    expect(task.state).toBe(RunState.STOPPED);
    expect(task.running()).toBe(false);
    expect(task.completed).toBe(false);
    expect(task.actor).toBeUndefined();
  });

  it('9.2.1 run() starts exactly one worker; a second run() while running keeps the same one', async () => {
    const s = sim.start();
    const { action, calls } = controlled();
    const task = new BackgroundTask(action, { system: s });
    task.run();
    const worker = task.actor;
    expect(worker).toBeDefined();
    expect(task.state).toBe(RunState.RUNNING);
    expect(task.running()).toBe(true);
    task.run();
    await flush();
    expect(task.actor).toBe(worker);
    expect(calls).toHaveLength(1);
    expect(s.detachedCount).toBe(1);
    calls[0].resolve();
    await task.done;
    expect(s.detachedCount).toBe(0);
  });

  it('9.2.1 stop() ends in STOPPED and completed', async () => {
    const task = new BackgroundTask(() => {}, { system: sim.start(), frequency: 10 });
    task.run();
    await flush();
    await task.stop();
    expect(task.state).toBe(RunState.STOPPED);
    expect(task.completed).toBe(true);
    expect(task.running()).toBe(false);
    expect(sim.clock.pending).toBe(0);
  });

  it('9.2.1 run() after completion throws "Task has already completed, cannot run it again."', async () => {
    const task = new BackgroundTask(() => {}, { system: sim.start(), frequency: 10 });
    task.run();
    await task.stop();
    expect(() => task.run()).toThrow(TaskCompletedError);
    expect(() => task.run()).toThrow('Task has already completed, cannot run it again.');
    expect(() => task.run()).toThrow(InvalidStateError);
  });

  it('stop() is idempotent: when never run, while stopping and after completion', async () => {
    const s = sim.start();
    const { action, calls } = controlled();
    const task = new BackgroundTask(action, { system: s });
    await task.stop();
    expect(task.completed).toBe(false); // upstream: stop() on a task that is not running returns at once
    task.run();
    await flush();
    const first = task.stop();
    expect(task.state).toBe(RunState.STOPPING);
    expect(task.running()).toBe(false);
    const second = task.stop();
    task.run(); // no-op while stopping
    calls[0].resolve();
    await Promise.all([first, second]);
    await task.stop();
    expect(task.state).toBe(RunState.STOPPED);
    expect(calls).toHaveLength(1);
  });
});

describe('9.2.2 one-shot, periodic, errors (test_background_task.py)', () => {
  it('9.2.2 a one-shot action is called exactly once, then the task is STOPPED and completed', async () => {
    let calls = 0;
    const task = new BackgroundTask(() => void calls++, { system: sim.start() });
    task.run();
    await task.done;
    await advance(sim.clock, 1000);
    expect(calls).toBe(1);
    expect(task.runs).toBe(1);
    expect(task.state).toBe(RunState.STOPPED);
    expect(task.completed).toBe(true);
    expect(task.actor?.getSnapshot().status).toBe('done');
  });

  it('9.2.2 a periodic action at 1000 Hz is called more than once in 10 ms', async () => {
    let calls = 0;
    const task = new BackgroundTask(() => void calls++, { system: sim.start(), frequency: 1000 });
    task.run();
    await advance(sim.clock, 10);
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBe(11); // t = 0, 1, ..., 10 ms: one run per period of simulated time
    await task.stop();
    const after = calls;
    await advance(sim.clock, 100);
    expect(calls).toBe(after);
    expect(sim.clock.pending).toBe(0);
  });

  it('9.2.2 a throwing action ends ERRORED, exception() is the error, not running', async () => {
    const err = new Error('boom');
    const task = new BackgroundTask(
      () => {
        throw err;
      },
      { system: sim.start() },
    );
    task.run();
    await task.done;
    expect(task.hasErrored()).toBe(true);
    expect(task.state).toBe(RunState.ERRORED);
    expect(task.exception()).toBe(err);
    expect(task.running()).toBe(false);
    expect(task.completed).toBe(true);
    expect(() => task.run()).toThrow(TaskCompletedError);
  });

  it('9.2.2 a rejecting action ends a periodic task too (no further runs)', async () => {
    let calls = 0;
    const err = new Error('third run failed');
    const task = new BackgroundTask(
      async () => {
        if (++calls === 3) throw err;
      },
      { system: sim.start(), frequency: 100 },
    );
    task.run();
    await advance(sim.clock, 100);
    expect(calls).toBe(3);
    expect(task.exception()).toBe(err);
    expect(task.runs).toBe(2);
    expect(sim.clock.pending).toBe(0);
  });

  it('a non-Error thrown is wrapped in an Error that keeps it as cause', async () => {
    const task = new BackgroundTask(
      () => {
        throw 'text';
      },
      { system: sim.start() },
    );
    task.run();
    await task.done;
    expect(task.exception()).toBeInstanceOf(Error);
    expect(task.exception()?.cause).toBe('text');
  });

  it('a thrown value that String() cannot convert, or a revoked Proxy, is kept as the cause too', async () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    for (const thrown of [Object.create(null), revoked.proxy]) {
      const task = new BackgroundTask(
        () => {
          throw thrown;
        },
        { system: sim.start() },
      );
      task.run();
      await task.done;
      expect(task.hasErrored()).toBe(true);
      expect(task.exception()?.cause).toBe(thrown);
      expect(task.exception()?.message).toMatch(/^non-Error thrown: /);
    }
  });

  it('logs "Error during processing of task." through the actor-bound system logger', async () => {
    const { lines, logger } = captureLogs();
    const task = new BackgroundTask(() => Promise.reject(new Error('bad')), {
      system: sim.start({ logger }),
    });
    task.run();
    await task.done;
    const line = lines.find((l) => l.msg === 'Error during processing of task.');
    expect(line).toMatchObject({
      level: 50,
      actor: task.actor?.id,
      machine: 'backgroundTask',
      task: task.name,
    });
    expect(line.err.message).toBe('bad');
  });

  it('logs to the logger given to the task', async () => {
    const { lines, logger } = captureLogs();
    const task = new BackgroundTask(() => Promise.reject(new Error('bad')), { system: sim.start(), logger });
    task.run();
    await task.done;
    expect(lines.map((l) => l.msg)).toEqual(['Error during processing of task.']);
  });
});

describe('9.2.6 improvements over upstream', () => {
  it('STOP interrupts the wait between periodic runs at once (upstream sleeps 1/frequency)', async () => {
    let calls = 0;
    const task = new BackgroundTask(() => void calls++, { system: sim.start(), frequency: 0.001 });
    task.run();
    await advance(sim.clock, 10);
    expect(calls).toBe(1);
    await task.stop(); // no clock advance needed: the 1000 s wait is cancelled
    expect(task.state).toBe(RunState.STOPPED);
    expect(calls).toBe(1);
    expect(sim.clock.pending).toBe(0);
  });

  it('stop() while the action is in flight goes through STOPPING and waits for it, then STOPPED', async () => {
    const { action, calls } = controlled();
    const task = new BackgroundTask(action, { system: sim.start(), frequency: 1000 });
    task.run();
    await flush();
    let stopped = false;
    const stopping = task.stop().then(() => {
      stopped = true;
    });
    await advance(sim.clock, 50);
    expect(task.state).toBe(RunState.STOPPING);
    expect(stopped).toBe(false);
    calls[0].resolve();
    await stopping;
    expect(task.state).toBe(RunState.STOPPED);
    expect(task.runs).toBe(1);
    expect(calls).toHaveLength(1);
  });

  it('run() returns before any of the action runs; stop() before it started means it never runs', async () => {
    const s = sim.start();
    let calls = 0;
    const task = new BackgroundTask(() => void calls++, { system: s, frequency: 1000 });
    task.run();
    expect(calls).toBe(0);
    await task.stop();
    await advance(sim.clock, 10);
    expect(calls).toBe(0);
    expect(task.runs).toBe(0);
    expect(task.state).toBe(RunState.STOPPED);
  });

  it('an action failing while STOPPING ends ERRORED', async () => {
    const { action, calls } = controlled();
    const task = new BackgroundTask(action, { system: sim.start() });
    task.run();
    await flush();
    const stopping = task.stop();
    calls[0].reject(new Error('late failure'));
    await stopping;
    expect(task.state).toBe(RunState.ERRORED);
    expect(task.exception()?.message).toBe('late failure');
  });

  it('stopTimeout bounds STOPPING: ERRORED with TimeoutError, the action signal is aborted', async () => {
    const { action, calls } = controlled();
    const task = new BackgroundTask(action, { system: sim.start(), stopTimeout: 50 });
    task.run();
    await flush();
    const stopping = task.stop();
    await advance(sim.clock, 49);
    expect(task.state).toBe(RunState.STOPPING);
    await advance(sim.clock, 1);
    await stopping;
    expect(task.state).toBe(RunState.ERRORED);
    expect(task.exception()).toBeInstanceOf(TimeoutError);
    expect(task.exception()?.message).toBe('Task did not stop within 50 ms; its action was abandoned.');
    expect(calls[0].signal.aborted).toBe(true);
    calls[0].resolve(); // a late settlement changes nothing
    await flush();
    expect(task.state).toBe(RunState.ERRORED);
    expect(sim.clock.pending).toBe(0);
  });

  it('aborting the signal stops a running task; aborted before run() it completes without running', async () => {
    const s = sim.start();
    const controller = new AbortController();
    const task = new BackgroundTask(() => {}, { system: s, frequency: 10, signal: controller.signal });
    task.run();
    await flush();
    controller.abort();
    await task.done;
    expect(task.state).toBe(RunState.STOPPED);

    let calls = 0;
    const never = new BackgroundTask(() => void calls++, { system: s, signal: AbortSignal.abort() });
    expect(never.completed).toBe(true);
    expect(() => never.run()).toThrow(TaskCompletedError);
    expect(calls).toBe(0);
  });

  it('system.stop() completes a running task as STOPPED and resolves done', async () => {
    const s = sim.start();
    const task = new BackgroundTask(() => {}, { system: s, frequency: 10 });
    task.run();
    await flush();
    await s.stop();
    await task.done;
    expect(task.completed).toBe(true);
    expect(task.state).toBe(RunState.STOPPED);
    expect(sim.clock.pending).toBe(0);
  });

  it('runs as a temporary child of a supervisor, which does not restart it when it completes', async () => {
    const s = sim.start();
    const sup = s.supervisor('tasks');
    const task = new BackgroundTask(() => {}, { system: s, supervisor: sup, frequency: 100, name: 'poller' });
    task.run();
    expect(sup.children()).toEqual(['poller']);
    await advance(sim.clock, 25);
    expect(task.runs).toBe(3);
    await task.stop();
    expect(sup.children()).toEqual([]);
    expect(s.detachedCount).toBe(0);
  });

  it('[Symbol.asyncDispose] stops the task', async () => {
    const task = new BackgroundTask(() => {}, { system: sim.start(), frequency: 10 });
    task.run();
    await task[Symbol.asyncDispose]();
    expect(task.completed).toBe(true);
    expect(String(task)).toBe(`BackgroundTask(${task.name}, state=STOPPED, completed=true)`);
  });
});

describe('RunState and argument checks', () => {
  it('RunState has upstream values and helpers', () => {
    expect(RunState).toEqual({ STOPPED: 1, STARTING: 2, RUNNING: 3, STOPPING: 4, ERRORED: 5 });
    expect([1, 2, 3, 4, 5].map((s) => isRunning(s as RunState))).toEqual([false, true, true, false, false]);
    expect([1, 2, 3, 4, 5].map((s) => isErrored(s as RunState))).toEqual([false, false, false, false, true]);
  });

  it('bad arguments throw InvalidArgumentError with a clear message', () => {
    const s = sim.start();
    expect(() => new BackgroundTask(42 as never, { system: s })).toThrow(
      'action must be a function, got number',
    );
    expect(() => new BackgroundTask(null as never)).toThrow(InvalidArgumentError);
    for (const frequency of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10']) {
      expect(() => new BackgroundTask(() => {}, { system: s, frequency: frequency as never })).toThrow(
        `frequency must be a positive finite number of Hz, got ${typeof frequency === 'string' ? `"${frequency}"` : String(frequency)}`,
      );
    }
    expect(() => new BackgroundTask(() => {}, { system: s, stopTimeout: -1 })).toThrow(
      'stopTimeout must be a non-negative number of milliseconds (or Infinity for never), got -1',
    );
    expect(() => new BackgroundTask(() => {}, null as never)).toThrow(InvalidArgumentError);
    expect(() => new BackgroundTaskProcessor(null as never)).toThrow(InvalidArgumentError);
  });
});

describe('completion listeners and submitTask options (review)', () => {
  it('a throwing onCompleted listener is logged and the later listeners still run', async () => {
    const { lines, logger } = captureLogs();
    const task = new BackgroundTask(() => {}, { system: sim.start(), logger });
    const seen: string[] = [];
    task.onCompleted(() => {
      throw new Error('listener bad');
    });
    task.onCompleted((t) => seen.push(t.name));
    task.run();
    await task.done;
    await flush();
    expect(seen).toEqual([task.name]);
    const line = lines.find((l) => l.msg === 'An error was raised while running a task completion listener');
    expect(line.err.message).toBe('listener bad');
    expect(line.task).toBe(task.name);
    // on a completed task the listener runs at once, with the same protection
    task.onCompleted(() => {
      throw new Error('late listener bad');
    });
    expect(
      lines.filter((l) => l.msg === 'An error was raised while running a task completion listener'),
    ).toHaveLength(2);
  });

  it('an async onCompleted listener whose promise rejects is logged too, not left unhandled', async () => {
    const { lines, logger } = captureLogs();
    const task = new BackgroundTask(() => {}, { system: sim.start(), logger });
    task.onCompleted(async () => {
      throw new Error('async listener bad');
    });
    task.run();
    await task.done;
    await flush();
    const logged = lines.filter(
      (l) => l.msg === 'An error was raised while running a task completion listener',
    );
    expect(logged.map((l) => l.err.message)).toEqual(['async listener bad']);
    expect(logged[0].task).toBe(task.name);
  });

  it('onCompleted with a non-function throws InvalidArgumentError and registers nothing', async () => {
    const task = new BackgroundTask(() => {}, { system: sim.start() });
    expect(() => task.onCompleted(42 as never)).toThrow(InvalidArgumentError);
    expect(() => task.onCompleted(null as never)).toThrow('listener must be a function, got null');
    task.run();
    await task.done;
    expect(() => task.onCompleted('x' as never)).toThrow('listener must be a function, got string');
  });

  it('submitTask with non-object options throws InvalidArgumentError (undefined stays allowed)', async () => {
    const processor = new BackgroundTaskProcessor({ system: sim.start() });
    for (const options of [null, 42, 'x']) {
      expect(() => processor.submitTask(() => {}, options as never)).toThrow(InvalidArgumentError);
    }
    expect(processor.tasks).toHaveLength(0);
    const task = processor.submitTask(() => {}, undefined);
    await task.done;
    expect(processor.tasks).toHaveLength(0);
  });
});
