/**
 * Audit of the core facades (Status, BackgroundTask family, StreamingTask, TimeoutIterator): each test failed before
 * its fix. Simulated time where a clock is involved; real timers only where the point is the event loop itself.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  BackgroundTask,
  BackgroundTaskProcessor,
  InvalidArgumentError,
  Status,
  StreamingTask,
  SystemStoppedError,
  TimeoutIterator,
  WaitTimeoutError,
  type WatcherUpdate,
} from '../../src/index.js';
import { advance, flush } from '../support/simulatedTime.js';
import { useTestSystem } from '../support/testSystem.js';

const sim = useTestSystem();

describe('Status', () => {
  it('waitForException returns the WaitTimeoutError a status failed with; a pending one still throws its own', async () => {
    const s = sim.start();
    const child = new Status({ system: s });
    // a watchable whose iterator awaits a child's wait(5 ms): the child is still pending at 5 ms, so it fails
    const parent = Status.watchable(
      (async function* () {
        await child.wait(5);
        yield { current: 1 };
      })(),
      { system: s },
    );
    await advance(sim.clock, 5);
    expect(parent.done).toBe(true);
    const failure = parent.exception();
    expect(failure).toBeInstanceOf(WaitTimeoutError);
    // done: its error is the answer (it used to be thrown, as if the parent were still pending)
    await expect(parent.waitForException(100)).resolves.toBe(failure);
    await expect(parent.waitForException()).resolves.toBe(failure);
    // the caller's own wait giving up is still a throw
    const late = expect(child.waitForException(10)).rejects.toBeInstanceOf(WaitTimeoutError);
    await advance(sim.clock, 10);
    await late;
    expect(child.done).toBe(false);
  });

  it('a stopped system refuses a new Status, a combinator and a builder with SystemStoppedError, nothing started', async () => {
    const s = sim.start();
    const part = new Status({ system: s });
    await s.stop();
    expect(part.exception()).toBeInstanceOf(SystemStoppedError);
    // (the engine's ActorRegistryError used to come through, unlike BackgroundTask.run() or StreamingTask.start())
    expect(() => new Status({ system: s })).toThrow(SystemStoppedError);
    expect(() => Status.all([], { system: s })).toThrow(SystemStoppedError);
    expect(() => Status.any([part])).toThrow(SystemStoppedError);
    const factory = vi.fn(() => [{ current: 1 }]);
    expect(() => Status.watchable(factory, { system: s })).toThrow(SystemStoppedError);
    expect(factory).not.toHaveBeenCalled();
    const subscribe = vi.fn(() => () => {});
    expect(() => Status.fromSubscription(subscribe, () => true, { system: s })).toThrow(SystemStoppedError);
    expect(subscribe).not.toHaveBeenCalled();
    // bad options are still InvalidArgumentError first
    expect(() => new Status({ system: s, timeout: -1 })).toThrow(InvalidArgumentError);
  });

  it('progress updates that differ only in NaN, Infinity, -Infinity or null are not de-duplicated', async () => {
    const status = new Status({ system: sim.start() });
    const watcher = status.watch();
    const values = [
      Number.NaN,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      null,
      null,
      3,
    ];
    for (const current of values) status.update({ current: current as number });
    // JSON writes all three non-finite numbers as null: the last three updates used to be dropped as repeats
    expect(status.lastUpdate?.current).toBe(3);
    status.setFinished();
    const seen: unknown[] = [];
    for await (const u of watcher as AsyncIterable<WatcherUpdate>) seen.push(u.current);
    expect(seen).toEqual([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, null, 3]);
  });
});

describe('TimeoutIterator', () => {
  // upstream pulls on a thread; a `for await` over a source whose items are ready at once ran on microtasks only
  it('a source that is always ready: an abort from a real timer ends the iteration', async () => {
    let n = 0;
    const limit = 200_000;
    const source = (function* () {
      while (n < limit) yield n++;
    })();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 5);
    let items = 0;
    for await (const _ of new TimeoutIterator(source, { system: sim.start(), signal: controller.signal }))
      items++;
    expect(controller.signal.aborted).toBe(true);
    // before, the abort came only once every item of the source had been pulled
    expect(n).toBeLessThan(limit);
    expect(items).toBeLessThanOrEqual(n);
  });

  it('a source that is always ready: return() from a real timer ends the iteration and closes the source', async () => {
    let closed = false;
    const limit = 200_000;
    const source = (function* () {
      try {
        for (let i = 0; i < limit; i++) yield i;
      } finally {
        closed = true;
      }
    })();
    const iterator = new TimeoutIterator(source, { system: sim.start(), timeout: 1000 });
    setTimeout(() => void iterator.return(), 5);
    let items = 0;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) items++;
    await flush();
    expect(items).toBeGreaterThan(0);
    // before, return() came only once the source was exhausted
    expect(items).toBeLessThan(limit);
    expect(closed).toBe(true);
  });
});

describe('StreamingTask', () => {
  /** Items every `periodMs` of simulated time until the signal aborts; logs its runs' opening and closing. */
  const ticker = (periodMs: number, log: string[]) =>
    async function* (signal: AbortSignal) {
      const run = log.filter((l) => l.startsWith('open')).length + 1;
      log.push(`open ${run}`);
      try {
        for (let i = 0; !signal.aborted; i++) {
          await new Promise<void>((resolve) => sim.clock.setTimeout(resolve, periodMs));
          yield i;
        }
      } finally {
        log.push(`close ${run}`);
      }
    };

  it('start() while the last run is stopping starts a new run once it has ended (it used to do nothing)', async () => {
    const log: string[] = [];
    let handling = 0;
    let overlapped = false;
    const task = new StreamingTask(
      'restart',
      ticker(10, log),
      async (i) => {
        overlapped ||= handling > 0;
        handling++;
        log.push(`item ${i}`);
        await new Promise<void>((resolve) => sim.clock.setTimeout(resolve, 20));
        handling--;
      },
      { system: sim.start() },
    );
    task.start();
    await advance(sim.clock, 12); // the first item is being handled (until 30 ms)
    const first = task.actor;
    void task.stop();
    task.start();
    expect(task.actor).not.toBe(first);
    expect(task.isRunning()).toBe(true);
    expect(task.outcome).toBe(null);
    await advance(sim.clock, 50);
    expect(first?.getSnapshot().value).toBe('stopped');
    // the new run's generator was opened only after the first run closed
    expect(log.slice(0, 4)).toEqual(['open 1', 'item 0', 'close 1', 'open 2']);
    expect(log).toContain('item 0');
    expect(log.filter((l) => l === 'item 0')).toHaveLength(2);
    expect(overlapped).toBe(false);
    const stopped = task.stop();
    await advance(sim.clock, 30);
    await stopped;
    expect(task.outcome).toBe('stopped');
    expect(log.at(-1)).toBe('close 2');
  });

  it("a run's signal stops that run only, not one started while it was stopping", async () => {
    const log: string[] = [];
    const task = new StreamingTask('signals', ticker(10, log), () => {}, { system: sim.start() });
    const firstRun = new AbortController();
    task.start({ signal: firstRun.signal });
    await advance(sim.clock, 5);
    void task.stop();
    task.start();
    firstRun.abort();
    await advance(sim.clock, 25);
    expect(task.isRunning()).toBe(true);
    await task.stop();
  });

  it('stop() followed by stop() before the restart begins: the new run ends stopped, its generator never called', async () => {
    const log: string[] = [];
    const task = new StreamingTask(
      'cancelled-restart',
      ticker(10, log),
      () => new Promise<void>((resolve) => sim.clock.setTimeout(resolve, 20)),
      { system: sim.start() },
    );
    task.start();
    await advance(sim.clock, 12);
    void task.stop();
    task.start();
    const stopped = task.stop();
    await advance(sim.clock, 30);
    await stopped;
    expect(task.outcome).toBe('stopped');
    expect(log).toEqual(['open 1', 'close 1']);
  });

  it('an error the handler throws after stop() is reported, not swallowed (the run ends failed)', async () => {
    const errors: Error[] = [];
    const task = new StreamingTask(
      'late-handler-error',
      ticker(10, []),
      async (i) => {
        await new Promise<void>((resolve) => sim.clock.setTimeout(resolve, 20));
        throw new Error(`handler failed on ${i}`);
      },
      { system: sim.start(), exceptionHandler: (e) => errors.push(e) },
    );
    task.start();
    await advance(sim.clock, 12);
    const stopped = task.stop();
    await advance(sim.clock, 30);
    await stopped;
    expect(errors.map((e) => e.message)).toEqual(['handler failed on 0']);
    expect(task.outcome).toBe('failed');
  });

  it('an error the generator throws once stopped is still the stop it was asked for', async () => {
    const errors: Error[] = [];
    const task = new StreamingTask(
      'aborted-fetch',
      async function* (signal) {
        for (let i = 0; ; i++) {
          yield i;
          await new Promise<void>((resolve) => sim.clock.setTimeout(resolve, 5));
          if (signal.aborted) throw new Error('aborted fetch');
        }
      },
      () => new Promise<void>((resolve) => sim.clock.setTimeout(resolve, 10)),
      { system: sim.start(), exceptionHandler: (e) => errors.push(e) },
    );
    task.start();
    await advance(sim.clock, 2);
    const stopped = task.stop();
    await advance(sim.clock, 20);
    await stopped;
    expect(task.outcome).toBe('stopped');
    expect(errors).toEqual([]);
  });
});

describe('BackgroundTask family', () => {
  it('BackgroundTaskProcessor.stop() also stops a task submitted while it stops', async () => {
    const s = sim.start();
    const processor = new BackgroundTaskProcessor({ system: s });
    let followUp: BackgroundTask | undefined;
    processor.submitTask(async () => {
      await new Promise<void>((resolve) => sim.clock.setTimeout(resolve, 10));
      followUp = processor.submitTask(() => {}, { frequency: 100 });
    });
    await flush();
    const stopped = processor.stop();
    await advance(sim.clock, 10);
    await stopped;
    // the periodic follow-up used to be left running after stop() resolved
    expect(followUp?.completed).toBe(true);
    expect(processor.tasks).toEqual([]);
  });

  it('a frequency given as a string is shown quoted in the error, not as the number it looks like', () => {
    const s = sim.start();
    expect(() => new BackgroundTask(() => {}, { system: s, frequency: '10' as never })).toThrow(
      'frequency must be a positive finite number of Hz, got "10"',
    );
  });
});
