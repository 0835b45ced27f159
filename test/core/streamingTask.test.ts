/**
 * PST StreamingTask (upstream source not available, behaviour from its API docs): consume a generator's items
 * until stopped or exhausted; stop() signals the generator through its abort signal; errors go to the
 * exception handler.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  InvalidArgumentError,
  StreamingTask,
  SystemStoppedError,
  streamingTaskMachine,
} from '../../src/index.js';
import { advance, flush } from '../support/simulatedTime.js';
import { useTestSystem } from '../support/testSystem.js';
import { recordTransitions } from '../support/transitions.js';

const sim = useTestSystem();

/** Items every `periodMs` of simulated time until the signal aborts (a monitoring stream). */
function ticker(periodMs: number, log: string[] = []) {
  return async function* (signal: AbortSignal) {
    try {
      for (let i = 0; !signal.aborted; i++) {
        await new Promise<void>((resolve) => sim.clock.setTimeout(resolve, periodMs));
        yield i;
      }
    } finally {
      log.push('generator closed');
    }
  };
}

describe('StreamingTask', () => {
  it('hands every item to the handler until the generator is exhausted', async () => {
    const items: number[] = [];
    const task = new StreamingTask(
      'health',
      () => [1, 2, 3],
      (i) => void items.push(i),
      { system: sim.start() },
    );
    expect(task.isRunning()).toBe(false);
    task.start();
    expect(task.isRunning()).toBe(true);
    await task.done;
    expect(items).toEqual([1, 2, 3]);
    expect(task.outcome).toBe('exhausted');
    expect(task.isRunning()).toBe(false);
    expect(sim.system?.detachedCount).toBe(0);
  });

  it('stop() aborts the generator signal; no item is handled after stop() resolves', async () => {
    const items: number[] = [];
    const log: string[] = [];
    let seen: AbortSignal | undefined;
    const gen = ticker(10, log);
    const task = new StreamingTask(
      'monitor',
      (signal) => {
        seen = signal;
        return gen(signal);
      },
      (i) => void items.push(i),
      { system: sim.start() },
    );
    task.start();
    await advance(sim.clock, 35);
    expect(items).toEqual([0, 1, 2]);
    const stopping = task.stop();
    expect(task.isRunning()).toBe(false);
    await stopping;
    expect(seen?.aborted).toBe(true);
    expect(task.outcome).toBe('stopped');
    await advance(sim.clock, 100);
    expect(items).toEqual([0, 1, 2]);
    expect(log).toEqual(['generator closed']);
    expect(sim.clock.pending).toBe(0);
  });

  it('stop() waits for the handler call in flight, but not for a generator that ignores the signal', async () => {
    let release = () => {};
    const handled: string[] = [];
    const never = async function* () {
      yield 'a';
      await new Promise(() => {}); // never yields again, ignores the signal
    };
    const task = new StreamingTask(
      'stuck',
      never,
      (item: string) =>
        new Promise<void>((resolve) => {
          release = () => {
            handled.push(item);
            resolve();
          };
        }),
      { system: sim.start() },
    );
    task.start();
    await flush();
    let stopped = false;
    const stopping = task.stop().then(() => {
      stopped = true;
    });
    await flush();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(handled).toEqual(['a']);
    expect(task.outcome).toBe('stopped');
  });

  it('a generator error goes to the exception handler and ends the stream', async () => {
    const errors: Error[] = [];
    const failing = async function* () {
      yield 1;
      throw new Error('grpc stream broke');
    };
    const task = new StreamingTask('monitor', failing, () => {}, {
      system: sim.start(),
      exceptionHandler: (e) => void errors.push(e),
    });
    task.start();
    await task.done;
    expect(errors.map((e) => e.message)).toEqual(['grpc stream broke']);
    expect(task.outcome).toBe('failed');
  });

  it('a handler error goes to the exception handler too; without one the error is logged', async () => {
    const errors: Error[] = [];
    const handlerFails = () => {
      throw new Error('handler failed');
    };
    const task = new StreamingTask('a', () => [1], handlerFails, {
      system: sim.start(),
      exceptionHandler: (e) => void errors.push(e),
    });
    task.start();
    await task.done;
    expect(errors.map((e) => e.message)).toEqual(['handler failed']);

    const lines: any[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()));
        cb();
      },
    });
    const logged = new StreamingTask('b', () => [1], handlerFails, { logger: pino(stream) as never });
    logged.start();
    await logged.done;
    expect(lines[0]).toMatchObject({
      msg: 'Error during processing of streamed items.',
      task: 'b',
      level: 50,
    });

    const throwingHandler = new StreamingTask('c', () => [1], handlerFails, {
      logger: pino(stream) as never,
      exceptionHandler: () => {
        throw new Error('handler of handler');
      },
    });
    throwingHandler.start();
    await throwingHandler.done;
    expect(lines[1]).toMatchObject({ msg: 'The exception handler of a streaming task threw.', task: 'c' });
  });

  it('start() is a no-op while running; a stopped task can be started again', async () => {
    const s = sim.start();
    const items: number[] = [];
    const task = new StreamingTask('monitor', ticker(10), (i) => void items.push(i), { system: s });
    task.start();
    const first = task.actor;
    task.start();
    expect(task.actor).toBe(first);
    await advance(sim.clock, 15);
    await task.stop();
    task.start();
    expect(task.actor).not.toBe(first);
    await advance(sim.clock, 15);
    await task[Symbol.asyncDispose]();
    expect(items).toEqual([0, 0]);
  });

  it('aborting the start() signal stops the task; an aborted signal does not start it', async () => {
    const controller = new AbortController();
    const task = new StreamingTask('monitor', ticker(10), () => {}, { system: sim.start() });
    task.start({ signal: controller.signal });
    await advance(sim.clock, 5);
    controller.abort();
    await task.done;
    expect(task.outcome).toBe('stopped');
    task.start({ signal: AbortSignal.abort() });
    expect(task.isRunning()).toBe(false);
  });

  it('system.stop() ends a running task and aborts its generator', async () => {
    const s = sim.start();
    const items: number[] = [];
    const log: string[] = [];
    const task = new StreamingTask('monitor', ticker(10, log), (i) => void items.push(i), { system: s });
    task.start();
    await advance(sim.clock, 15);
    await s.stop();
    await task.done;
    expect(task.outcome).toBe('stopped');
    expect(task.isRunning()).toBe(false);
    await advance(sim.clock, 50);
    expect(items).toEqual([0]);
    expect(log).toEqual(['generator closed']);
  });

  it('bad arguments throw InvalidArgumentError', async () => {
    const s = sim.start();
    const noItems = () => [];
    const ignore = () => {};
    expect(() => new StreamingTask(1 as never, noItems, ignore, { system: s })).toThrow(
      'taskName must be a non-empty string, got number',
    );
    expect(() => new StreamingTask('x', null as never, ignore, { system: s })).toThrow(
      'itemGenerator must be a function',
    );
    expect(() => new StreamingTask('x', noItems, 'no' as never, { system: s })).toThrow(
      'itemHandler must be a function',
    );
    expect(() => new StreamingTask('x', noItems, ignore, { exceptionHandler: 1 as never })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new StreamingTask('x', noItems, ignore, null as never)).toThrow(InvalidArgumentError);
    const errors: Error[] = [];
    const task = new StreamingTask('x', () => 42 as never, ignore, {
      system: s,
      exceptionHandler: (e) => void errors.push(e),
    });
    task.start();
    await task.done;
    expect(errors[0]).toBeInstanceOf(InvalidArgumentError);
  });

  it('the bare machine stops from idle on STOP', () => {
    const actor = createActor(streamingTaskMachine, { inspect: recordTransitions });
    actor.start();
    actor.send({ type: 'STOP' });
    expect(actor.getSnapshot().value).toBe('stopped');
  });
});

describe('issue 7: StreamingTask hardening', () => {
  it('issue 7 item 11: start() on a stopped system throws SystemStoppedError and leaves done settled', async () => {
    const s = sim.start();
    const task = new StreamingTask('late', ticker(10), () => {}, { system: s });
    await s.stop();
    expect(() => task.start()).toThrow(SystemStoppedError);
    expect(() => task.start()).toThrow('the actor system has been stopped');
    let settled = false;
    void task.done.then(() => {
      settled = true;
    });
    await flush();
    expect(settled).toBe(true);
    expect(task.outcome).toBeNull();
    expect(task.isRunning()).toBe(false);
  });

  it('issue 7 item 11: system.stop() with a handler call in flight ends the run stopped; the generator is closed once it returns', async () => {
    const s = sim.start();
    const log: string[] = [];
    let release = () => {};
    let seen: AbortSignal | undefined;
    const gen = ticker(10, log);
    const handled: number[] = [];
    const task = new StreamingTask(
      'busy',
      (signal) => {
        seen = signal;
        return gen(signal);
      },
      (i: number) =>
        new Promise<void>((resolve) => {
          release = () => {
            handled.push(i);
            resolve();
          };
        }),
      { system: s },
    );
    task.start();
    await advance(sim.clock, 15);
    await s.stop();
    await task.done;
    expect(task.outcome).toBe('stopped');
    expect(seen?.aborted).toBe(true);
    release();
    await advance(sim.clock, 50);
    expect(handled).toEqual([0]);
    expect(log).toEqual(['generator closed']);
    expect(sim.clock.pending).toBe(0);
  });

  it('issue 7 item 12: a bad logger, system or start signal is refused before anything is spawned', () => {
    const s = sim.start();
    const noItems = () => [];
    const ignore = () => {};
    expect(() => new StreamingTask('x', noItems, ignore, { system: {} as never })).toThrow(
      'system must be an OrrerySystem (from createSystem())',
    );
    expect(() => new StreamingTask('x', noItems, ignore, { system: s, logger: {} as never })).toThrow(
      /logger must be a pino logger/,
    );
    const task = new StreamingTask('x', noItems, ignore, { system: s });
    expect(() => task.start({ signal: 'stop' as never })).toThrow('signal must be an AbortSignal');
    expect(() => task.start(null as never)).toThrow(InvalidArgumentError);
    expect(task.actor).toBeUndefined();
    expect(s.detachedCount).toBe(0);
  });
});

describe('review: a start() that cannot spawn loses no outcome', () => {
  it('an empty taskName is refused with InvalidArgumentError before anything is spawned', () => {
    const s = sim.start();
    const unnamed = () =>
      new StreamingTask(
        '',
        () => [],
        () => {},
        { system: s },
      );
    expect(unnamed).toThrow(InvalidArgumentError);
    expect(unnamed).toThrow('taskName must be a non-empty string');
    expect(s.detachedCount).toBe(0);
  });

  it('when spawning throws, done and stop() stay settled and the last outcome is kept', async () => {
    const s = sim.start();
    const task = new StreamingTask(
      'once',
      () => [1],
      () => {},
      { system: s },
    );
    task.start();
    await task.done;
    expect(task.outcome).toBe('exhausted');
    const failure = new InvalidArgumentError('spawn refused');
    s.spawnDetached = () => {
      throw failure;
    };
    expect(() => task.start()).toThrow(failure);
    let settled = 0;
    void task.done.then(() => settled++);
    void task.stop().then(() => settled++);
    await flush();
    expect(settled).toBe(2);
    expect(task.outcome).toBe('exhausted');
  });
});

describe('review: an item generator that breaks the iterator protocol', () => {
  it('a next() result that is not an object fails the run with InvalidArgumentError, the handler never called', async () => {
    const s = sim.start();
    for (const bad of [42, null, undefined, 'x']) {
      const errors: Error[] = [];
      let handled = 0;
      let pulls = 0;
      const source = {
        [Symbol.iterator]: () => ({
          next: () => {
            // a guard, so that the test fails instead of spinning for ever when the result is not checked
            if (++pulls > 100) throw new Error('pulled 100 times');
            return bad as never;
          },
        }),
      };
      const task = new StreamingTask<number>(
        'broken',
        () => source,
        () => void handled++,
        { system: s, exceptionHandler: (e) => errors.push(e) },
      );
      task.start();
      await task.done;
      expect(task.outcome).toBe('failed');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(InvalidArgumentError);
      expect(errors[0].message).toMatch('not an iterator result');
      expect(handled).toBe(0);
      expect(pulls).toBe(1);
    }
  });

  it('an iterable whose iterator has no next() fails the run with InvalidArgumentError', async () => {
    const errors: Error[] = [];
    const task = new StreamingTask<number>(
      'no-next',
      () => ({ [Symbol.asyncIterator]: () => ({}) as never }),
      () => {},
      { system: sim.start(), exceptionHandler: (e) => errors.push(e) },
    );
    task.start();
    await task.done;
    expect(task.outcome).toBe('failed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(InvalidArgumentError);
    expect(errors[0].message).toMatch('has no next() method');
  });
});

describe('review: an async exception handler', () => {
  it('whose promise rejects is logged as a throwing one is, not left unhandled', async () => {
    const lines: any[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()));
        cb();
      },
    });
    const task = new StreamingTask(
      'async-handler',
      () => [1],
      () => {
        throw new Error('handler failed');
      },
      {
        system: sim.start(),
        logger: pino(stream) as never,
        exceptionHandler: async () => {
          throw new Error('async handler of handler');
        },
      },
    );
    task.start();
    await task.done;
    await flush();
    expect(lines.map((l) => [l.msg, l.err?.message])).toEqual([
      ['The exception handler of a streaming task threw.', 'async handler of handler'],
    ]);
  });
});

describe('review: a generator whose items are ready at once does not starve the event loop', () => {
  // upstream runs the generator on a thread of its own; here a loop of sync items (or async ones ready at once)
  // would run on microtasks only: no timer fires, so a stop() from a timer (or any I/O) waits for the generator
  it('a sync generator that never ends: stop() from a real timer ends the run', async () => {
    const limit = 2_000_000;
    let n = 0;
    const task = new StreamingTask(
      'tight',
      function* () {
        while (n < limit) yield n++;
      },
      () => {},
      { system: sim.start() },
    );
    task.start();
    const stopped = new Promise<void>((resolve) => setTimeout(() => resolve(task.stop()), 5));
    await stopped;
    await task.done;
    expect(task.outcome).toBe('stopped');
    // before, the timer fired only once the 2,000,000 items were all handled (outcome 'exhausted')
    expect(n).toBeLessThan(limit);
  });

  it('an async generator whose items are ready at once: stop() from a real timer ends the run', async () => {
    const limit = 1_000_000;
    let n = 0;
    const task = new StreamingTask(
      'tight-async',
      async function* () {
        while (n < limit) yield n++;
      },
      () => {},
      { system: sim.start() },
    );
    task.start();
    await new Promise<void>((resolve) => setTimeout(() => resolve(task.stop()), 5));
    await task.done;
    expect(task.outcome).toBe('stopped');
    expect(n).toBeLessThan(limit);
  });
});
