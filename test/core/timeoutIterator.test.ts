/**
 * PST TimeoutIterator: checklist 9.2 item 3, ported from ska-pst-lmc tests/unit/test_timeout_iterator.py, on
 * simulated time (the producers sleep on the system's TestClock), plus one short real-time test.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import {
  createSystem,
  InvalidArgumentError,
  SystemStoppedError,
  TimeoutError,
  TimeoutIterator,
  timeoutIteratorMachine,
} from '../../src/index.js';
import { advance, flush } from '../support/simulatedTime.js';
import { useTestSystem } from '../support/testSystem.js';
import { recordTransitions } from '../support/transitions.js';

const sim = useTestSystem();

const sleep = (ms: number) => new Promise<void>((resolve) => sim.clock.setTimeout(resolve, ms));

/** An async generator yielding `count` numbers, one every `periodMs` of simulated time. */
async function* producer(count: number, periodMs: number, log: string[] = []) {
  try {
    for (let i = 0; i < count; i++) {
      await sleep(periodMs);
      yield i;
    }
  } finally {
    log.push('closed');
  }
}

/** Collect every item while walking simulated time; returns items and the error, if any. */
async function drain<T>(iterator: AsyncIterator<T>, stepMs = 1, limitMs = 10_000) {
  const items: T[] = [];
  let error: unknown;
  let finished = false;
  const consumer = (async () => {
    try {
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) items.push(r.value);
    } catch (err) {
      error = err;
    } finally {
      finished = true;
    }
  })();
  for (let t = 0; !finished && t < limitMs; t += stepMs) await advance(sim.clock, stepMs);
  await consumer;
  return { items, error };
}

describe('9.2.3 TimeoutIterator (test_timeout_iterator.py)', () => {
  it('9.2.3 returns all items of a fast producer', async () => {
    const items: number[] = [];
    for await (const i of new TimeoutIterator([0, 1, 2, 3, 4], { timeout: 100, system: sim.start() }))
      items.push(i);
    expect(items).toEqual([0, 1, 2, 3, 4]);
    expect(sim.clock.pending).toBe(0);
    expect(sim.system?.detachedCount).toBe(0);
  });

  it('9.2.3 returns all items of a slow producer (50 ms per item, timeout 100 ms)', async () => {
    const it = new TimeoutIterator(producer(5, 50), { timeout: 100, system: sim.start() });
    const { items, error } = await drain(it);
    expect(error).toBeUndefined();
    expect(items).toEqual([0, 1, 2, 3, 4]);
    expect(sim.clock.now()).toBeGreaterThanOrEqual(250);
    expect(sim.clock.pending).toBe(0);
  });

  it('9.2.3 abort after the first item: the next call is done (StopIteration)', async () => {
    const controller = new AbortController();
    const log: string[] = [];
    const it = new TimeoutIterator(producer(5, 10, log), { signal: controller.signal, system: sim.start() });
    const first = it.next();
    await advance(sim.clock, 10);
    expect(await first).toEqual({ done: false, value: 0 });
    controller.abort();
    expect(await it.next()).toEqual({ done: true, value: undefined });
    await advance(sim.clock, 10);
    expect(log).toEqual(['closed']); // the wrapped generator is released
    expect(sim.clock.pending).toBe(0);
  });

  it('9.2.3 producer slower than the timeout (100 ms): first next() throws TimeoutError, the second is done', async () => {
    const it = new TimeoutIterator(producer(5, 200), { timeout: 100, system: sim.start() });
    const first = it.next();
    first.catch(() => {});
    await advance(sim.clock, 99);
    await advance(sim.clock, 1);
    await expect(first).rejects.toThrow(TimeoutError);
    await expect(first).rejects.toThrow('No item received within 100 ms.');
    expect(await it.next()).toEqual({ done: true, value: undefined });
    await advance(sim.clock, 200);
    expect(sim.clock.pending).toBe(0);
  });

  it('9.2.3 abort with expectedRate = 1000 ms set at 300 ms ends the pending next() within 400 ms', async () => {
    const controller = new AbortController();
    const it = new TimeoutIterator(producer(5, 10_000), {
      signal: controller.signal,
      expectedRate: 1000,
      system: sim.start(),
    });
    let endedAt: number | undefined;
    const pending = it.next().then((r) => {
      endedAt = sim.clock.now();
      return r;
    });
    await advance(sim.clock, 300);
    controller.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(endedAt).toBe(300); // upstream polls the abort event every expected_rate; here it is an event
    expect(endedAt).toBeLessThan(400);
  });

  it('the first item gets 2 * expectedRate of grace on top of the timeout, later items do not', async () => {
    const slowStart = async function* () {
      await sleep(150);
      yield 'first';
      await sleep(150);
      yield 'second';
    };
    const it = new TimeoutIterator(slowStart(), { timeout: 100, expectedRate: 50, system: sim.start() });
    const { items, error } = await drain(it);
    expect(items).toEqual(['first']);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(sim.clock.now()).toBeGreaterThanOrEqual(250);
  });

  it('timeout 0 waits forever', async () => {
    const it = new TimeoutIterator(producer(1, 100_000), { system: sim.start() });
    const first = it.next();
    await advance(sim.clock, 100_000);
    expect(await first).toEqual({ done: false, value: 0 });
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('an error of the source is thrown once, then the iterator is done', async () => {
    const failing = async function* () {
      yield 1;
      throw new Error('source failed');
    };
    const s = sim.start();
    for (const timeout of [10, 0]) {
      const it = new TimeoutIterator(failing(), { timeout, system: s });
      expect(await it.next()).toEqual({ done: false, value: 1 });
      await expect(it.next()).rejects.toThrow('source failed');
      expect(await it.next()).toEqual({ done: true, value: undefined });
    }
    expect(sim.clock.pending).toBe(0);
  });

  it('overlapping next() calls are served in order; break out of for-await closes the source', async () => {
    const log: string[] = [];
    const it = new TimeoutIterator(producer(10, 5, log), { timeout: 50, system: sim.start() });
    const calls = [it.next(), it.next(), it.next()];
    await advance(sim.clock, 15);
    expect((await Promise.all(calls)).map((r) => r.value)).toEqual([0, 1, 2]);
    const consumer = (async () => {
      for await (const i of it) if (i === 4) break;
    })();
    await advance(sim.clock, 10);
    await consumer;
    await advance(sim.clock, 10);
    expect(log).toEqual(['closed']);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('an already aborted signal ends at once without spawning an actor; sync iterators are accepted', async () => {
    const s = sim.start();
    const aborted = new TimeoutIterator([1, 2], { signal: AbortSignal.abort(), system: s });
    expect(await aborted.next()).toEqual({ done: true, value: undefined });
    expect(aborted.actor).toBeUndefined();
    const fromIterator = new TimeoutIterator([7, 8][Symbol.iterator](), { system: s });
    expect(await fromIterator.next()).toEqual({ done: false, value: 7 });
    await fromIterator[Symbol.asyncDispose]();
    expect(await fromIterator.next()).toEqual({ done: true, value: undefined });
    expect(await fromIterator.return()).toEqual({ done: true, value: undefined });
  });

  it('system.stop() ends the iteration: a pending next() is done', async () => {
    const s = sim.start();
    const it = new TimeoutIterator(producer(5, 100), { timeout: 1000, system: s });
    const pending = it.next();
    await advance(sim.clock, 10);
    await s.stop();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(sim.clock.pending).toBe(1); // the producer's own sleep; the iterator's deadline is gone
  });

  it('bad arguments throw InvalidArgumentError with a clear message', () => {
    const s = sim.start();
    expect(() => new TimeoutIterator([], { timeout: -1, system: s })).toThrow(
      'timeout must be a non-negative number of milliseconds (or Infinity for never), got -1',
    );
    expect(() => new TimeoutIterator([], { expectedRate: Number.NaN, system: s })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new TimeoutIterator(42 as never, { system: s })).toThrow(
      'TimeoutIterator needs an iterable, an async iterable or an iterator',
    );
    expect(() => new TimeoutIterator([], null as never)).toThrow(InvalidArgumentError);
  });

  it('real time: a producer slower than a 20 ms timeout times out', async () => {
    const real = createSystem();
    try {
      const slow = (async function* () {
        await new Promise((resolve) => setTimeout(resolve, 200));
        yield 1;
      })();
      const started = performance.now();
      await expect(new TimeoutIterator(slow, { timeout: 20, system: real }).next()).rejects.toThrow(
        TimeoutError,
      );
      expect(performance.now() - started).toBeLessThan(150);
    } finally {
      await real.stop();
    }
  });

  it('the bare machine ends in aborted on ABORT', async () => {
    const actor = createActor(timeoutIteratorMachine, {
      input: { timeout: 0, expectedRate: 0 },
      inspect: recordTransitions,
    });
    actor.start();
    actor.send({ type: 'ABORT' });
    expect(actor.getSnapshot().value).toBe('aborted');
    await flush();
  });
});

describe('issue 7: TimeoutIterator hardening', () => {
  it('issue 7 item 9: timeout Infinity waits forever with no timer; bad durations are refused', async () => {
    const s = sim.start();
    const it = new TimeoutIterator(producer(1, 1e9), { timeout: Number.POSITIVE_INFINITY, system: s });
    const pending = it.next();
    await advance(sim.clock, 10);
    expect(sim.clock.pending).toBe(1); // the producer's own sleep, no deadline
    await advance(sim.clock, 1e9);
    expect(await pending).toEqual({ done: false, value: 0 });
    for (const timeout of [Number.NaN, -1, '5', null, {}]) {
      expect(() => new TimeoutIterator([], { timeout: timeout as never, system: s })).toThrow(
        /^timeout must be a non-negative number of milliseconds \(or Infinity for never\), got /,
      );
    }
    expect(() => new TimeoutIterator([], { expectedRate: -1, system: s })).toThrow(/^expectedRate must be/);
    expect(new TimeoutIterator([], { expectedRate: Number.POSITIVE_INFINITY, system: s }).expectedRate).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it('issue 7 item 9: a timeout of 2^31 ms is due at 2^31 ms (simulated), not after 1 ms (real clock)', async () => {
    const s = sim.start();
    const late = new TimeoutIterator(producer(1, 2 ** 32), { timeout: 2 ** 31, system: s });
    const result = late.next().then(
      (r) => r,
      (e: unknown) => e,
    );
    await advance(sim.clock, 2 ** 31 - 1);
    expect(late.actor?.getSnapshot().value).toBe('pullingBounded');
    await advance(sim.clock, 1);
    expect(await result).toBeInstanceOf(TimeoutError);

    const real = createSystem();
    try {
      const slow = (async function* () {
        await new Promise((resolve) => setTimeout(resolve, 30));
        yield 'in time';
      })();
      expect(await new TimeoutIterator(slow, { timeout: 2 ** 31, system: real }).next()).toEqual({
        done: false,
        value: 'in time',
      });
    } finally {
      await real.stop();
    }
  });

  it('issue 7 item 11: next() on a stopped system rejects with SystemStoppedError once, releases the source, then is done', async () => {
    const s = sim.start();
    const calls: string[] = [];
    const source: AsyncIterator<number> = {
      next: async () => {
        calls.push('next');
        return { done: false, value: 1 };
      },
      return: async () => {
        calls.push('return');
        return { done: true, value: undefined };
      },
    };
    const it = new TimeoutIterator(source, { timeout: 100, system: s });
    await s.stop();
    await expect(it.next()).rejects.toThrow(SystemStoppedError);
    await expect(it.next()).resolves.toEqual({ done: true, value: undefined });
    await flush();
    expect(calls).toEqual(['return']);
    expect(sim.clock.pending).toBe(0);
  });

  it('issue 7 item 11: system.stop() during a pull resolves every pending next() and leaves no deadline armed', async () => {
    const s = sim.start();
    const log: string[] = [];
    const it = new TimeoutIterator(producer(5, 100, log), { timeout: 1000, system: s });
    const first = it.next();
    const second = it.next();
    await advance(sim.clock, 10);
    await s.stop();
    expect(await first).toEqual({ done: true, value: undefined });
    expect(await second).toEqual({ done: true, value: undefined });
    await advance(sim.clock, 100); // the producer's sleep ends; the abandoned pull settles into nothing
    expect(log).toEqual(['closed']);
    expect(sim.clock.pending).toBe(0);
  });

  it('issue 7 item 12: a bad signal or system is refused before the source is touched or anything spawned', () => {
    const s = sim.start();
    let touched = 0;
    const iterable = {
      [Symbol.asyncIterator]() {
        touched++;
        return producer(1, 1);
      },
    };
    expect(() => new TimeoutIterator(iterable, { signal: {} as never, system: s })).toThrow(
      'signal must be an AbortSignal',
    );
    expect(() => new TimeoutIterator(iterable, { system: {} as never })).toThrow(
      'system must be an OrrerySystem (from createSystem())',
    );
    expect(() => new TimeoutIterator(iterable, { timeout: -1, system: s })).toThrow(InvalidArgumentError);
    expect(touched).toBe(0);
    expect(s.detachedCount).toBe(0);
  });

  it('issue 7 item 18: the bare machine refuses bad input and waits unbounded with timeout Infinity', () => {
    const bad = createActor(timeoutIteratorMachine, { input: { timeout: -1, expectedRate: 0 } });
    expect((bad.getSnapshot() as unknown as { error: unknown }).error).toBeInstanceOf(InvalidArgumentError);
    const actor = createActor(timeoutIteratorMachine, {
      input: { timeout: Number.POSITIVE_INFINITY, expectedRate: 0 },
      inspect: recordTransitions,
    });
    actor.start();
    actor.send({ type: 'NEXT' });
    expect(actor.getSnapshot().value).toBe('pulling');
    actor.stop();
  });
});

describe('review: a source that breaks the iterator protocol', () => {
  it('a next() result that is not an object fails the iteration with InvalidArgumentError once, then it is done', async () => {
    const system = sim.start();
    for (const bad of [42, null, undefined, 'x']) {
      let pulls = 0;
      const source = {
        next: () => {
          pulls++;
          return bad as never;
        },
      };
      const it = new TimeoutIterator<number>(source, { system });
      const first = it.next();
      await expect(first).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(first).rejects.toThrow('not an iterator result');
      await expect(it.next()).resolves.toEqual({ done: true, value: undefined });
      expect(pulls).toBe(1);
    }
  });
});
