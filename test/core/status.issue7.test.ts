/**
 * Status: issue 7 ("Hardening: what a hostile review broke"), one named test per item, on a TestClock unless the
 * item is about the real clock.
 */
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AggregateStatusError,
  CancelledError,
  type Clock,
  createSystem,
  InvalidArgumentError,
  InvalidStateError,
  type OrrerySystem,
  Status,
  type StatusProgress,
  StatusTimeoutError,
  SystemStoppedError,
  UnknownStatusFailure,
  WaitTimeoutError,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { captureLogs } from '../support/taskFixtures.js';

let clock: TestClock;
let delays: number[];
let armed: unknown[];
let cleared: unknown[];
let system: OrrerySystem;
let warn: ReturnType<typeof vi.spyOn>;
const mk = (o: ConstructorParameters<typeof Status>[0] = {}) => new Status({ system, ...o });

/** A TestClock that records every delay it is asked to arm (XState `after` delays included) and every clear. */
function recordingClock(inner: TestClock): Clock {
  return {
    setTimeout: (fn, ms) => {
      delays.push(ms);
      const id = inner.setTimeout(fn, ms);
      armed.push(id);
      return id;
    },
    clearTimeout: (id) => {
      cleared.push(id);
      inner.clearTimeout(id);
    },
    now: () => inner.now(),
  };
}

/** Let pending promise reactions and I/O callbacks run. */
async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Updates that throw `thrown` once `gate` resolves, without yielding any. */
function throwsAfter(gate: Promise<void>, thrown: unknown): AsyncIterable<StatusProgress> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        await gate;
        throw thrown;
      },
    }),
  };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeEach(() => {
  clock = new TestClock();
  delays = [];
  armed = [];
  cleared = [];
  system = createSystem({ clock: recordingClock(clock) });
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
  // XState warns when an event is sent to a stopped actor: a done status must never send one
  warn = vi.spyOn(console, 'warn');
});
afterEach(async () => {
  await system.stop();
  await flush(2);
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
  expect(warn).not.toHaveBeenCalled();
  warn.mockRestore();
});

describe('issue 7 item 3: watchable errors fail the status, never the process', () => {
  it('issue 7 item 3: a watchable awaiting a timed-out child fails with its StatusTimeoutError', async () => {
    const child = mk({ timeout: 50 });
    const st = Status.watchable(
      (async function* () {
        yield { current: 0 };
        await child.wait();
        yield { current: 1 };
      })(),
      { system },
    );
    await flush();
    clock.advance(50);
    await flush();
    expect(st.done).toBe(true);
    expect(st.state).toBe('failed');
    expect(st.exception()).toBeInstanceOf(StatusTimeoutError);
    expect(st.exception()).toBe(child.exception());
    await expect(st.wait()).rejects.toBe(child.exception());
  });

  it("issue 7 item 3: a watchable whose iterator throws a caller's WaitTimeoutError fails with it", async () => {
    const child = mk();
    const st = Status.watchable(
      (async function* () {
        await child.wait(10);
        yield { current: 1 };
      })(),
      { system },
    );
    await flush();
    clock.advance(10);
    await flush();
    expect(st.exception()).toBeInstanceOf(WaitTimeoutError);
    // the ban on timeout errors still applies to callers of setException
    expect(() => mk().setException(new WaitTimeoutError('x'))).toThrow(InvalidArgumentError);
  });

  it('issue 7 item 3: a non-Error thrown by the iterator fails with UnknownStatusFailure, even one without toString', async () => {
    const thrown = Object.create(null);
    const st = Status.watchable(throwsAfter(Promise.resolve(), thrown), { system });
    await flush();
    expect(st.exception()).toBeInstanceOf(UnknownStatusFailure);
    expect(st.exception()?.cause).toBe(thrown);
  });

  it('review: a revoked Proxy thrown by the iterator fails with UnknownStatusFailure too (not left pending)', async () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const st = Status.watchable(throwsAfter(Promise.resolve(), revoked.proxy), { system });
    await flush();
    expect(st.exception()).toBeInstanceOf(UnknownStatusFailure);
    expect(st.exception()?.cause).toBe(revoked.proxy);
  });

  it('issue 7 item 3: the iterator ending or throwing after a setFinished (still settling) is no error', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const ends = Status.watchable(
      (async function* () {
        await gate;
        yield { current: 1 };
      })(),
      { system, settleTime: 100 },
    );
    const throws = Status.watchable(throwsAfter(gate, new Error('late')), { system, settleTime: 100 });
    ends.setFinished();
    throws.setFinished();
    release();
    await flush();
    clock.advance(100);
    expect(ends.success).toBe(true);
    expect(throws.success).toBe(true);
  });

  it('issue 7 item 3: an update that is not an object fails the status with InvalidArgumentError', async () => {
    const st = Status.watchable(
      (async function* () {
        yield 42 as never;
      })(),
      { system },
    );
    await flush();
    expect(st.exception()).toBeInstanceOf(InvalidArgumentError);
  });
});

describe('issue 7 item 9: Infinity never arms a timer, long durations do not fire early', () => {
  it('issue 7 item 9: timeout Infinity is unbounded: no delayed event, no timer', () => {
    const st = mk({ timeout: Number.POSITIVE_INFINITY });
    expect(st.actor.getSnapshot().matches('unbounded')).toBe(true);
    expect(delays).toEqual([]);
    clock.advance(Number.MAX_SAFE_INTEGER);
    expect(st.state).toBe('pending');
    st.setFinished();
    expect(st.success).toBe(true);
  });

  it('issue 7 item 9: settleTime Infinity has no deadline and settles for ever without a timer', () => {
    const st = mk({ timeout: 100, settleTime: Number.POSITIVE_INFINITY });
    expect(st.actor.getSnapshot().matches('unbounded')).toBe(true);
    st.setFinished();
    expect(st.state).toBe('settling');
    expect(delays.filter(Number.isFinite)).toEqual([]);
    expect(clock.pending).toBe(0);
    clock.advance(Number.MAX_SAFE_INTEGER);
    expect(st.state).toBe('settling');
    st.cancel();
    expect(st.state).toBe('cancelled');
  });

  it('issue 7 item 9: wait(Infinity) arms no timer and waits for the outcome', async () => {
    const st = mk();
    const w = st.wait(Number.POSITIVE_INFINITY);
    expect(delays).toEqual([]);
    clock.advance(Number.MAX_SAFE_INTEGER);
    st.setFinished();
    await expect(w).resolves.toBeUndefined();
  });

  it('issue 7 item 9: timeout, settleTime and wait of 2^31 ms or more fire exactly when due (TestClock)', async () => {
    const big = 2 ** 31;
    const timed = mk({ timeout: big });
    const settled = mk({ settleTime: big + 5 });
    settled.setFinished();
    const pending = mk();
    let waitError: unknown;
    pending.wait(big * 2).catch((e) => {
      waitError = e;
    });
    clock.advance(big - 1);
    expect(timed.state).toBe('pending');
    clock.advance(1);
    expect(timed.exception()).toBeInstanceOf(StatusTimeoutError);
    expect(settled.state).toBe('settling');
    clock.advance(4);
    expect(settled.state).toBe('settling');
    clock.advance(1);
    expect(settled.success).toBe(true);
    clock.advance(big - 6);
    await flush(1);
    expect(waitError).toBeUndefined();
    clock.advance(1);
    await flush(1);
    expect(waitError).toBeInstanceOf(WaitTimeoutError);
  });

  it('issue 7 item 9: on the real clock, 2^31 ms or more stays pending and Infinity arms no Node timer', async () => {
    const real = createSystem();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    try {
      const before = timers();
      const never = new Status({ system: real, timeout: Number.POSITIVE_INFINITY });
      const neverWait = never.wait(Number.POSITIVE_INFINITY);
      const settlesNever = new Status({ system: real, settleTime: Number.POSITIVE_INFINITY });
      settlesNever.setFinished();
      expect(timers()).toBe(before);

      const long = new Status({ system: real, timeout: 2 ** 31, settleTime: 2 ** 31 });
      const longer = new Status({ system: real, timeout: 2 ** 40 });
      const longSettle = new Status({ system: real, settleTime: 2 ** 32 });
      longSettle.setFinished();
      const outcomes: string[] = [];
      const waits = [never, long, longer].map((s) =>
        s.wait(2 ** 31).then(
          () => outcomes.push('resolved'),
          (e: Error) => outcomes.push(e.name),
        ),
      );
      await new Promise((r) => setTimeout(r, 20));
      for (const s of [never, settlesNever, long, longer, longSettle]) expect(s.done).toBe(false);
      expect(longSettle.state).toBe('settling');
      expect(outcomes).toEqual([]);
      await real.stop();
      await Promise.all(waits);
      await expect(neverWait).rejects.toBeInstanceOf(SystemStoppedError);
      expect(outcomes).toEqual(['SystemStoppedError', 'SystemStoppedError', 'SystemStoppedError']);
    } finally {
      await real.stop();
    }
  });
});

describe('issue 7 item 11: system.stop() ends every pending Status', () => {
  it('issue 7 item 11: a pending status fails with SystemStoppedError: callbacks once, waiters reject, watchers end', async () => {
    const st = mk({ timeout: 1000 });
    st.update({ current: 1 });
    const cb = vi.fn();
    st.addCallback(cb);
    const w = st.wait();
    const seen: unknown[] = [];
    const watching = (async () => {
      for await (const u of st.watch()) seen.push(u.current);
    })();
    await flush(1);
    await system.stop();
    expect(st.done).toBe(true);
    expect(st.success).toBe(false);
    expect(st.state).toBe('cancelled');
    const err = st.exception();
    expect(err).toBeInstanceOf(SystemStoppedError);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as SystemStoppedError).code).toBe('ORRERY_SYSTEM_STOPPED');
    expect(cb).toHaveBeenCalledTimes(1);
    await expect(w).rejects.toBe(err);
    await expect(watching).rejects.toBe(err);
    expect(seen).toEqual([1]);
    await expect(st.wait()).rejects.toBe(err);
    expect(clock.pending).toBe(0);
    // the ophyd late-call rule, as after a cancellation: the first late call is ignored, the second raises
    st.setFinished();
    expect(() => st.setFinished()).toThrow(InvalidStateError);
    expect(cb).toHaveBeenCalledTimes(1);
  });

  it('issue 7 item 11: a settling status fails with SystemStoppedError too', async () => {
    const st = mk({ settleTime: 100 });
    st.setFinished();
    const w = st.wait();
    await system.stop();
    await expect(w).rejects.toBeInstanceOf(SystemStoppedError);
    expect(st.state).toBe('cancelled');
  });

  it('issue 7 item 11: composed statuses fail with SystemStoppedError, not an aggregate of it', async () => {
    const [a, b, c] = [mk(), mk(), mk()];
    c.setFinished();
    const all = Status.all([a, b]);
    const any = Status.any([a, b]);
    const done = Status.all([c]);
    const cbs = [vi.fn(), vi.fn()];
    all.addCallback(cbs[0]);
    any.addCallback(cbs[1]);
    await system.stop();
    expect(all.exception()).toBeInstanceOf(SystemStoppedError);
    expect(any.exception()).toBeInstanceOf(SystemStoppedError);
    expect(done.success).toBe(true);
    for (const cb of cbs) expect(cb).toHaveBeenCalledTimes(1);
  });

  it("issue 7 item 11: a composite in a running system fails normally when its children's system stops", async () => {
    const other = createSystem({ clock });
    const a = new Status({ system: other });
    const all = Status.all([a], { system });
    await other.stop();
    expect(all.exception()).toBeInstanceOf(AggregateStatusError);
    expect((all.exception() as AggregateStatusError).errors[0]).toBeInstanceOf(SystemStoppedError);
  });

  it('issue 7 item 11: a status cannot be created in a stopped system', async () => {
    await system.stop();
    expect(() => mk()).toThrow(/stopped/);
  });
});

describe('issue 7 item 12: options are validated before anything is registered', () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['signal {}', { signal: {} }, /signal must be an AbortSignal/],
    ['signal null', { signal: null }, /signal must be an AbortSignal/],
    ['name 42', { name: 42 }, /name must be a string/],
    ['systemId 42', { systemId: 42 }, /systemId must be a non-empty string/],
    ["systemId ''", { systemId: '' }, /systemId must be a non-empty string/],
    ['system {}', { system: {} }, /system must be an OrrerySystem/],
    ['timeout "10"', { timeout: '10' }, /timeout must be a non-negative number/],
    ['settleTime -1', { settleTime: -1 }, /settleTime must be a non-negative number/],
    ['settleTime NaN', { settleTime: Number.NaN }, /settleTime/],
  ];

  it.each(bad)(
    'issue 7 item 12: new Status({%s}) throws InvalidArgumentError and registers nothing',
    (_, o, msg) => {
      const before = system.detachedCount;
      const err = (() => {
        try {
          mk({ systemId: 'motor-x', ...o } as never);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message).toMatch(msg);
      expect(system.detachedCount).toBe(before);
      expect(system.get('motor-x')).toBeUndefined();
      // the systemId can be used
      expect(mk({ systemId: 'motor-x' }).actor).toBe(system.get('motor-x'));
    },
  );

  it('issue 7 item 12: options that are not an object are refused', () => {
    expect(() => new Status(null as never)).toThrow(InvalidArgumentError);
    expect(() => new Status('fast' as never)).toThrow(/options must be an object/);
    expect(() => Status.all([], 'fast' as never)).toThrow(/options must be an object/);
    expect(() => Status.watchable([], null as never)).toThrow(/options must be an object/);
  });

  it('issue 7 item 12: Status.all/any/watchable validate every argument before spawning', () => {
    const a = mk();
    const before = system.detachedCount;
    expect(() => Status.all('ab' as never)).toThrow(/expected an array of Status objects/);
    expect(() => Status.all([a, null as never])).toThrow(InvalidArgumentError);
    expect(() => Status.any(undefined as never)).toThrow(InvalidArgumentError);
    expect(() => Status.all([a], { signal: {} as never, systemId: 'comb' })).toThrow(/signal/);
    expect(() => Status.any([a], { timeout: -1, systemId: 'comb' })).toThrow(/timeout/);
    for (const src of [42, null, undefined, 'abc', {}, { [Symbol.asyncIterator]: 1 }]) {
      expect(() => Status.watchable(src as never, { system })).toThrow(InvalidArgumentError);
    }
    const factory = vi.fn(async function* () {});
    expect(() => Status.watchable(factory, { system, name: 5 as never, systemId: 'w' })).toThrow(/name/);
    expect(factory).not.toHaveBeenCalled();
    expect(() => Status.watchable(() => 42 as never, { system })).toThrow(/iterable/);
    expect(system.detachedCount).toBe(before);
    expect(system.get('comb')).toBeUndefined();
    expect(system.get('w')).toBeUndefined();
  });

  it('issue 7 item 12: a watchable whose status cannot be registered aborts its producer', () => {
    mk({ systemId: 'taken' });
    let signal: AbortSignal | undefined;
    const ret = vi.fn(async () => ({ done: true as const, value: undefined }));
    const iterator = { next: vi.fn(), return: ret, [Symbol.asyncIterator]: () => iterator };
    expect(() =>
      Status.watchable(
        (s) => {
          signal = s;
          return iterator as never;
        },
        { system, systemId: 'taken' },
      ),
    ).toThrow(/already registered/);
    expect(signal?.aborted).toBe(true);
    expect(ret).toHaveBeenCalledTimes(1);
    expect(iterator.next).not.toHaveBeenCalled();
  });

  it('issue 7 item 12: an Error class whose constructor throws is refused with InvalidArgumentError', () => {
    class NeedsArgs extends Error {
      constructor(code: { text: string }) {
        super(code.text);
      }
    }
    const st = mk();
    expect(() => st.setException(NeedsArgs as never)).toThrow(InvalidArgumentError);
    expect(st.done).toBe(false);
    st.setException(new NeedsArgs({ text: 'x' }));
    expect(st.exception()?.message).toBe('x');
  });
});

describe('issue 7 item 14: cancelling a watchable status stops its producer', () => {
  /** A producer that yields once, then waits (cooperatively) for more work that never comes. */
  function producer() {
    const log: string[] = [];
    let signal: AbortSignal | undefined;
    const factory = async function* (s: AbortSignal): AsyncGenerator<StatusProgress> {
      signal = s;
      try {
        yield { current: 0 };
        await new Promise((_, reject) => s.addEventListener('abort', () => reject(s.reason), { once: true }));
        log.push('worked on after abort');
        yield { current: 1 };
      } catch (err) {
        log.push(`stopped: ${(err as Error).name}`);
        throw err;
      } finally {
        log.push('finally');
      }
    };
    return { log, factory, signal: () => signal };
  }

  it('issue 7 item 14: cancel() aborts the signal given to the factory and returns its iterator', async () => {
    const p = producer();
    const st = Status.watchable(p.factory, { system });
    await flush();
    expect(st.lastUpdate?.current).toBe(0);
    expect(p.signal()?.aborted).toBe(false);
    st.cancel('operator');
    expect(p.signal()?.aborted).toBe(true);
    expect(p.signal()?.reason).toBe(st.exception());
    expect(p.signal()?.reason).toBeInstanceOf(CancelledError);
    await flush();
    expect(p.log).toEqual(['stopped: CancelledError', 'finally']);
    expect(st.state).toBe('cancelled');
  });

  it.each([
    ['timeout', (st: Status) => void st, StatusTimeoutError],
    ['setException', (st: Status) => st.setException(new RangeError('limit')), RangeError],
    ['options.signal', (_: Status, ac: AbortController) => ac.abort('estop'), CancelledError],
    ['system stop', () => void system.stop(), SystemStoppedError],
  ] as const)(
    'issue 7 item 14: completion by %s aborts the producer with the status error',
    async (_, end, type) => {
      const p = producer();
      const ac = new AbortController();
      const st = Status.watchable(p.factory, { system, timeout: 100, signal: ac.signal });
      await flush();
      end(st, ac);
      clock.advance(100);
      expect(st.exception()).toBeInstanceOf(type);
      expect(p.signal()?.reason).toBe(st.exception());
      await flush();
      expect(p.log).toEqual([`stopped: ${st.exception()?.name}`, 'finally']);
    },
  );

  it('issue 7 item 14: a user setFinished aborts the producer with a CancelledError once the status succeeds', async () => {
    const p = producer();
    const st = Status.watchable(p.factory, { system, settleTime: 10 });
    await flush();
    st.setFinished();
    expect(p.signal()?.aborted).toBe(false);
    clock.advance(10);
    expect(st.success).toBe(true);
    expect(p.signal()?.reason).toBeInstanceOf(CancelledError);
    await flush();
    expect(p.log).toEqual(['stopped: CancelledError', 'finally']);
  });

  it('issue 7 item 14: return() of a hand-written iterator is called at once, even while next() is pending', async () => {
    const ret = vi.fn(() => Promise.reject(new Error('return failed')));
    const iterator = {
      next: vi.fn(() => new Promise<IteratorResult<StatusProgress>>(() => {})),
      return: ret,
      [Symbol.asyncIterator]: () => iterator,
    };
    const { lines, logger } = captureLogs();
    const sys = createSystem({ clock, logger });
    const st = Status.watchable(iterator, { system: sys });
    await flush();
    st.cancel();
    expect(ret).toHaveBeenCalledTimes(1);
    await flush();
    expect(iterator.next).toHaveBeenCalledTimes(1);
    expect(
      lines.some((l) => l.level === 40 && /iterator/.test(l.msg) && l.err.message === 'return failed'),
    ).toBe(true);
    await sys.stop();
  });

  it('issue 7 item 14: an iterator that ends or throws by itself is not aborted nor returned', async () => {
    let signal: AbortSignal | undefined;
    const ok = Status.watchable(
      async function* (s) {
        signal = s;
        yield { current: 1 };
      },
      { system },
    );
    await ok.wait();
    expect(signal?.aborted).toBe(false);
    const ret = vi.fn();
    const failing = {
      next: () => Promise.reject(new Error('encoder lost')),
      return: ret,
      [Symbol.asyncIterator]: () => failing,
    };
    const bad = Status.watchable(failing, { system });
    await expect(bad.wait()).rejects.toThrow('encoder lost');
    expect(ret).not.toHaveBeenCalled();
  });

  it('issue 7 item 14: a watchable created with an aborted signal never starts its iterator', async () => {
    const next = vi.fn();
    const ret = vi.fn();
    const iterator = { next, return: ret, [Symbol.asyncIterator]: () => iterator };
    const st = Status.watchable(iterator as never, { system, signal: AbortSignal.abort() });
    await flush();
    expect(st.state).toBe('cancelled');
    expect(next).not.toHaveBeenCalled();
    expect(ret).toHaveBeenCalledTimes(1);
  });

  it('issue 7 item 14: the iterable form and sync iterables still work', async () => {
    const fromArray = Status.watchable([{ current: 1 }, { current: 2 }], { system });
    await fromArray.wait();
    expect(fromArray.lastUpdate?.current).toBe(2);
  });
});

describe('issue 7 item 15: late successes of a settling combinator are not errors', () => {
  it('issue 7 item 15: Status.any with settleTime: a second success while settling logs nothing', () => {
    const { lines, logger } = captureLogs();
    const sys = createSystem({ clock, logger });
    const [a, b] = [new Status({ system: sys }), new Status({ system: sys })];
    const any = Status.any([a, b], { settleTime: 20 });
    a.setFinished();
    expect(any.state).toBe('settling');
    b.setFinished();
    clock.advance(20);
    expect(any.success).toBe(true);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    // a user may still not complete it a second time
    expect(() => any.setFinished()).toThrow(InvalidStateError);
    void sys.stop();
  });

  it('issue 7 item 15: Status.any with settleTime: a child failing while it settles logs nothing either', () => {
    const { lines, logger } = captureLogs();
    const sys = createSystem({ clock, logger });
    const [a, b] = [new Status({ system: sys }), new Status({ system: sys, timeout: 10 })];
    const any = Status.any([a, b], { settleTime: 20 });
    a.setFinished();
    clock.advance(10);
    expect(b.exception()).toBeInstanceOf(StatusTimeoutError);
    clock.advance(10);
    expect(any.success).toBe(true);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    void sys.stop();
  });
});

describe('issue 7 item 18: behaviours the mutation run found unpinned', () => {
  it('issue 7 item 18: Status.all([]) succeeds at once and Status.any([]) fails with an empty aggregate', async () => {
    const all = Status.all([], { system });
    expect(all.success).toBe(true);
    await expect(all.wait()).resolves.toBeUndefined();
    const any = Status.any([], { system });
    expect(any.done).toBe(true);
    expect(any.exception()).toBeInstanceOf(AggregateStatusError);
    expect((any.exception() as AggregateStatusError).errors).toEqual([]);
  });

  it('issue 7 item 18: addCallback refuses anything but a function', () => {
    const st = mk();
    for (const cb of [42, null, undefined, 'cb', {}]) {
      expect(() => st.addCallback(cb as never)).toThrow(InvalidArgumentError);
    }
    expect(st.callbacks).toHaveLength(0);
    st.setFinished();
    expect(() => st.addCallback(42 as never)).toThrow(/addCallback needs a function/);
  });

  it('issue 7 item 18: watch() replays the latest update to a new watcher', async () => {
    const st = mk();
    st.update({ current: 1, initial: 0, target: 4 });
    st.update({ current: 3, initial: 0, target: 4 });
    const it = st.watch();
    const first = await it.next();
    expect(first.value?.current).toBe(3);
    expect(first.value?.fraction).toBeCloseTo(0.25);
    // a second watcher gets the same latest update; a third after completion too, then the end
    const second = await st.watch().next();
    expect(second.value).toEqual(first.value);
    st.setFinished();
    const late = st.watch();
    expect((await late.next()).value?.current).toBe(3);
    expect((await late.next()).done).toBe(true);
    expect((await it.next()).done).toBe(true);
  });

  it('issue 7 item 18: the StatusTimeoutError message names the timeout and the settle time', () => {
    const st = mk({ timeout: 50, settleTime: 7 });
    clock.advance(57);
    expect(st.exception()?.message).toBe(
      `Status ${st.actor.id} failed to complete in specified timeout (timeout 50 ms + settleTime 7 ms).`,
    );
  });

  it('issue 7 item 18: ids, getters, names and toString', () => {
    const [a, b] = [mk({ timeout: 5, settleTime: 2, name: 'move-x' }), mk()];
    expect(a.actor.id).toMatch(/^status-\d+$/);
    expect(Number(b.actor.id.slice(7))).toBe(Number(a.actor.id.slice(7)) + 1);
    expect([a.timeout, a.settleTime, b.timeout, b.settleTime]).toEqual([5, 2, null, 0]);
    expect(a.name).toBe('move-x');
    expect(String(a)).toBe(`Status(name=move-x, id=${a.actor.id}, done=false, success=false)`);
    expect(String(b)).toBe(`Status(id=${b.actor.id}, done=false, success=false)`);
    expect([a.state, b.state]).toEqual(['pending', 'pending']);
  });

  it('issue 7 item 18: cancellation messages name the reason and keep it as cause', () => {
    const cases: [unknown, string][] = [
      [undefined, ''],
      ['operator', ': operator'],
      [new RangeError('limit'), ': limit'],
      [42, ': 42'],
      [Object.create(null), ': [object Object]'],
    ];
    for (const [reason, text] of cases) {
      const st = mk();
      const before = String(st);
      st.cancel(reason);
      const err = st.exception() as CancelledError;
      expect(err.message).toBe(`${before} was cancelled${text}`);
      expect(err.cause).toBe(reason);
    }
    const own = new CancelledError('mine');
    const st = mk();
    st.cancel(own);
    expect(st.exception()).toBe(own);
    // no-op once done: no event is sent to the stopped actor (the afterEach checks XState's warning)
    st.cancel('again');
    expect(st.exception()).toBe(own);
  });

  it('issue 7 item 18: completion messages and the errors of setException', () => {
    const st = mk();
    st.setFinished();
    expect(() => st.setFinished()).toThrow(
      new RegExp(
        `^Either setFinished\\(\\) or setException\\(\\) has already been called on Status\\(id=${st.actor.id}`,
      ),
    );
    const other = mk();
    expect(() => other.setException(null as never)).toThrow(/^Expected an Error, got object: null$/);
    expect(() => other.setException('boom' as never)).toThrow(/^Expected an Error, got string: "boom"$/);
    expect(() => other.setException(StatusTimeoutError as never)).toThrow(
      /^StatusTimeoutError has special significance and cannot be set as the exception. Use a plain TimeoutError instead.$/,
    );
    class NeedsArgs extends Error {
      constructor(code: { text: string }) {
        super(code.text);
      }
    }
    const err = (() => {
      try {
        other.setException(NeedsArgs as never);
      } catch (e) {
        return e as InvalidArgumentError;
      }
    })();
    expect(err?.message).toBe('could not instantiate NeedsArgs without arguments; pass an instance instead');
    expect(err?.cause).toBeInstanceOf(TypeError);
    expect(other.done).toBe(false);
  });

  it('issue 7 item 18: wait(null) waits for ever; wait timers are cleared and timed-out waiters forgotten', async () => {
    const st = mk();
    const forever = st.wait(null as never);
    expect(delays).toEqual([]);
    expect(() => st.wait('1' as never)).toThrow(/^wait timeout must be a non-negative number/);
    const short = st.wait(10);
    const shortTimer = armed.at(-1);
    const long = st.wait(100);
    const longTimer = armed.at(-1);
    clock.advance(10);
    await expect(short).rejects.toThrow(
      new RegExp(`^Status\\(id=${st.actor.id}, .*\\) has not completed yet\\.$`),
    );
    st.setFinished();
    await expect(forever).resolves.toBeUndefined();
    await expect(long).resolves.toBeUndefined();
    expect(cleared).toContain(longTimer);
    expect(cleared).not.toContain(shortTimer);
    expect(clock.pending).toBe(0);
  });

  it('issue 7 item 18: update() refuses null and is ignored once done; lastUpdate is undefined before any', () => {
    const st = mk();
    expect(st.lastUpdate).toBeUndefined();
    expect(() => st.update(null as never)).toThrow(/^update needs an object$/);
    expect(() => st.update(3 as never)).toThrow(InvalidArgumentError);
    st.update({ current: 1 });
    st.setFinished();
    st.update({ current: 2 });
    expect(st.lastUpdate?.current).toBe(1);
  });

  it('issue 7 item 18: watch() of a status that ended without a watcher ends or throws at once', async () => {
    const failed = mk();
    const err = new Error('fault');
    failed.setException(err);
    await expect(failed.watch().next()).rejects.toBe(err);
    const ok = mk();
    ok.setFinished();
    await expect(ok.watch().next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('issue 7 item 18: aggregate messages', () => {
    const [a, b, c] = [mk(), mk(), mk()];
    const all = Status.all([a, b, c]);
    const any = Status.any([a, b]);
    a.setException(new Error('a'));
    b.setException(new Error('b'));
    expect(all.exception()?.message).toBe('1 of 3 statuses failed');
    expect(any.exception()?.message).toBe('all 2 statuses failed');
    expect(Status.any([], { system }).exception()?.message).toBe('Status.any of no statuses');
    expect(all.exception()?.cause).toBe(a.exception());
  });

  it('issue 7 item 18: a throwing callback is logged with its error on the status logger', () => {
    const { lines, logger } = captureLogs();
    const sys = createSystem({ clock, logger });
    const st = new Status({ system: sys });
    st.addCallback(() => {
      throw new Error('callback bug');
    });
    st.setFinished();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 50,
      machine: 'status',
      actor: st.actor.id,
      msg: 'An error was raised while running a Status callback',
      err: { message: 'callback bug' },
    });
    void sys.stop();
  });

  it('review: an async callback whose promise rejects is logged as a throwing one is, not left unhandled', async () => {
    const { lines, logger } = captureLogs();
    const sys = createSystem({ clock, logger });
    const st = new Status({ system: sys });
    const after = vi.fn();
    st.addCallback(async () => {
      throw new Error('async callback bug');
    });
    st.addCallback(after);
    st.setFinished();
    // a callback added once done runs at once, with the same protection
    st.addCallback(() => Promise.reject(new Error('late async callback bug')));
    await flush();
    expect(after).toHaveBeenCalledTimes(1);
    expect(lines.map((l) => [l.msg, l.err?.message])).toEqual([
      ['An error was raised while running a Status callback', 'async callback bug'],
      ['An error was raised while running a Status callback', 'late async callback bug'],
    ]);
    void sys.stop();
  });

  it("issue 7 item 18: the signal's abort listener is removed when the status completes", () => {
    const ac = new AbortController();
    const st = mk({ signal: ac.signal });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    st.setFinished();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    ac.abort();
    expect(st.success).toBe(true);
  });

  it('issue 7 item 18: watchable argument errors name what was given', () => {
    expect(() => Status.watchable(42 as never, { system })).toThrow(
      /^Status.watchable needs an async iterable of progress updates, or a function \(signal\) => one; got 42$/,
    );
    expect(() => Status.watchable({} as never, { system })).toThrow(/got \[object Object\]$/);
    let signal: AbortSignal | undefined;
    const broken = new Error('cannot iterate');
    const throwing = {
      [Symbol.asyncIterator]: () => {
        throw broken;
      },
    };
    expect(() =>
      Status.watchable(
        (s) => {
          signal = s;
          return throwing;
        },
        { system },
      ),
    ).toThrow(broken);
    expect(signal?.reason).toBe(broken);
    const noNext = { [Symbol.asyncIterator]: () => ({}) };
    expect(() => Status.watchable(noNext as never, { system })).toThrow(
      /^the updates' iterator has no next\(\) method: \[object Object\]$/,
    );
    for (const bad of [null, 42]) {
      const it = { [Symbol.asyncIterator]: () => bad };
      expect(() => Status.watchable(it as never, { system })).toThrow(
        `the updates' iterator has no next() method: ${bad}`,
      );
    }
    expect(() => Status.watchable((() => () => 1) as never, { system })).toThrow(/got \[object Function\]$/);
    expect(system.detachedCount).toBe(0);
  });

  it('issue 7 item 18: cancelling a watchable whose iterator has no return() logs nothing', async () => {
    const { lines, logger } = captureLogs();
    const sys = createSystem({ clock, logger });
    const iterator = {
      next: () => new Promise<IteratorResult<StatusProgress>>(() => {}),
      [Symbol.asyncIterator]: () => iterator,
    };
    const st = Status.watchable(iterator, { system: sys });
    st.cancel();
    await flush();
    expect(st.state).toBe('cancelled');
    expect(lines).toEqual([]);
    void sys.stop();
  });

  it('issue 7 item 18: a watchable stops consuming its iterator once the status is done', async () => {
    let n = 0;
    const iterator = {
      next: vi.fn(
        async (): Promise<IteratorResult<{ current: number }>> =>
          n < 100 ? { done: false, value: { current: n++ } } : { done: true, value: undefined },
      ),
      [Symbol.asyncIterator]: () => iterator,
    };
    const st = Status.watchable(iterator, { system });
    st.cancel();
    await flush();
    expect(iterator.next).toHaveBeenCalledTimes(1);
    expect(st.lastUpdate).toBeUndefined();
  });

  it('issue 7 item 3: an iterator breaking the protocol fails the status with InvalidArgumentError', async () => {
    for (const result of [undefined, null, 42]) {
      const iterator = { next: async () => result, [Symbol.asyncIterator]: () => iterator };
      const st = Status.watchable(iterator as never, { system });
      await flush();
      expect(st.exception()).toBeInstanceOf(InvalidArgumentError);
      expect(st.exception()?.message).toBe(
        `the updates' iterator gave ${String(result)}, not an iterator result`,
      );
    }
  });

  it('issue 7 item 18: a sync iterable of promises has its values awaited, as for await does', async () => {
    const st = Status.watchable([Promise.resolve({ current: 1 }), { current: 2 }] as never, { system });
    const seen: unknown[] = [];
    st.watch();
    await st.wait();
    seen.push(st.lastUpdate?.current);
    expect(seen).toEqual([2]);
    const first = Status.watchable([Promise.resolve({ current: 7 })] as never, { system });
    await first.wait();
    expect(first.lastUpdate?.current).toBe(7);
  });

  it('issue 7 item 18: a watchable ended by setFinished aborts with a named CancelledError; a throwing return() is logged', async () => {
    const { lines, logger } = captureLogs();
    const sys = createSystem({ clock, logger });
    let signal: AbortSignal | undefined;
    const iterator = {
      next: () => new Promise<IteratorResult<StatusProgress>>(() => {}),
      return: () => {
        throw new Error('sync return failure');
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    const st = Status.watchable(
      (s) => {
        signal = s;
        return iterator;
      },
      { system: sys },
    );
    st.setFinished();
    expect(signal?.reason).toBeInstanceOf(CancelledError);
    expect(signal?.reason.message).toBe(`${st} completed before its updates ended`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      machine: 'status',
      msg: 'closing the updates iterator of a watchable Status failed',
      err: { message: 'sync return failure' },
    });
    void sys.stop();
  });
});

describe('review: a watchable whose updates are ready at once does not starve the event loop', () => {
  it('a sync iterable of updates that never ends: cancel() from a real timer ends the status', async () => {
    const limit = 1_000_000;
    let n = 0;
    const st = Status.watchable(
      (function* () {
        while (n < limit) yield { current: n++, target: limit };
      })(),
      { system },
    );
    await new Promise<void>((resolve) => setTimeout(() => resolve(st.cancel()), 5));
    expect(st.done).toBe(true);
    expect(st.success).toBe(false);
    // before, the timer fired only once every update was consumed (the status had succeeded)
    expect(n).toBeLessThan(limit);
  });
});
