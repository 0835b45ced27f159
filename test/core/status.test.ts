/**
 * Status: the behaviours pinned by ophyd's and ophyd-async's test suites (checklist 9.3 of the research file),
 * one named test each, on a TestClock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AggregateStatusError,
  CancelledError,
  createSystem,
  InvalidArgumentError,
  InvalidStateError,
  type OrrerySystem,
  Status,
  StatusTimeoutError,
  TimeoutError,
  UnknownStatusFailure,
  WaitTimeoutError,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

let clock: TestClock;
let system: OrrerySystem;
const mk = (o: ConstructorParameters<typeof Status>[0] = {}) => new Status({ system, ...o });

beforeEach(() => {
  clock = new TestClock();
  system = createSystem({ clock });
});
afterEach(async () => {
  await system.stop();
});

describe('9.3.1 callbacks', () => {
  it('test_status_post: a callback added before completion runs once, after setFinished', () => {
    const st = mk();
    const cb = vi.fn();
    st.addCallback(cb);
    expect(cb).not.toHaveBeenCalled();
    st.setFinished();
    expect(cb).toHaveBeenCalledTimes(1);
    expect(cb).toHaveBeenCalledWith(st);
  });

  it('test_status_pre: a callback added after completion runs immediately, exactly once', () => {
    const st = mk();
    st.setFinished();
    const cb = vi.fn();
    st.addCallback(cb);
    expect(cb).toHaveBeenCalledTimes(1);
    clock.runAll();
    expect(cb).toHaveBeenCalledTimes(1);
  });

  it('zero-argument callbacks work', () => {
    const st = mk();
    let called = 0;
    st.addCallback(() => called++);
    st.setFinished();
    expect(called).toBe(1);
  });

  it('callbacks run in registration order and a throwing callback does not stop the others', () => {
    const st = mk();
    const order: number[] = [];
    st.addCallback(() => order.push(1));
    st.addCallback(() => {
      throw new Error('callback bug');
    });
    st.addCallback(() => order.push(3));
    st.setFinished();
    expect(order).toEqual([1, 3]);
    expect(st.callbacks).toHaveLength(0);
  });
});

describe('9.3.2 completion is allowed once', () => {
  it('a second setFinished raises InvalidStateError', () => {
    const st = mk();
    st.setFinished();
    expect(() => st.setFinished()).toThrow(InvalidStateError);
  });

  it('a second setException raises InvalidStateError', () => {
    const st = mk();
    st.setException(new Error('first'));
    expect(() => st.setException(new Error('second'))).toThrow(InvalidStateError);
    expect(st.exception()?.message).toBe('first');
  });

  it('setFinished then setException raises InvalidStateError', () => {
    const st = mk({ settleTime: 100 });
    st.setFinished();
    expect(() => st.setException(new Error('late'))).toThrow(InvalidStateError);
    clock.advance(100);
    expect(st.success).toBe(true);
  });

  it('settleTime null is no settling, as ophyd settle_time=None (success at once on setFinished)', () => {
    const st = mk({ settleTime: null });
    expect(st.settleTime).toBe(0);
    st.setFinished();
    expect(st.success).toBe(true);
  });

  it('a non-Error exception is rejected with InvalidArgumentError', () => {
    const st = mk();
    expect(() => st.setException('boom' as never)).toThrow(InvalidArgumentError);
    expect(() => st.setException({ message: 'x' } as never)).toThrow(/Expected an Error/);
    expect(st.done).toBe(false);
  });

  it('StatusTimeoutError and WaitTimeoutError (class or instance) cannot be set', () => {
    const st = mk();
    expect(() => st.setException(StatusTimeoutError as never)).toThrow(/special significance/);
    expect(() => st.setException(new WaitTimeoutError('x'))).toThrow(InvalidArgumentError);
    expect(() => st.setException(WaitTimeoutError as never)).toThrow(InvalidArgumentError);
    expect(st.done).toBe(false);
  });

  it('test_exception_fail_path_with_class: an Error class is accepted and raised', async () => {
    class MotorError extends Error {}
    const st = mk();
    st.setException(MotorError);
    await expect(st.wait()).rejects.toBeInstanceOf(MotorError);
  });

  it('a plain TimeoutError can be set and surfaces as itself', async () => {
    const st = mk();
    const err = new TimeoutError('device timed out');
    st.setException(err);
    await expect(st.wait()).rejects.toBe(err);
    expect(st.exception()).toBe(err);
  });
});

describe('9.3.3 waiting and timeouts', () => {
  it('wait(10) and waitForException(10) reject with WaitTimeoutError while pending', async () => {
    const st = mk();
    const w = st.wait(10);
    const e = st.waitForException(10);
    clock.advance(10);
    await expect(w).rejects.toBeInstanceOf(WaitTimeoutError);
    await expect(e).rejects.toBeInstanceOf(WaitTimeoutError);
    expect(st.done).toBe(false);
  });

  it('timeout=0 gives StatusTimeoutError from wait() and exception()', async () => {
    const st = mk({ timeout: 0 });
    clock.advance(0);
    await expect(st.wait()).rejects.toBeInstanceOf(StatusTimeoutError);
    expect(st.exception()).toBeInstanceOf(StatusTimeoutError);
    expect(await st.waitForException()).toBeInstanceOf(StatusTimeoutError);
  });

  it('timeout=0, settleTime=1 s: pending at 10 ms, timed out by 2 s', () => {
    const st = mk({ timeout: 0, settleTime: 1000 });
    clock.advance(10);
    expect(st.done).toBe(false);
    clock.advance(1990);
    expect(st.done).toBe(true);
    expect(st.exception()).toBeInstanceOf(StatusTimeoutError);
  });

  it('test_race_settle_time_and_timeout: timeout=1 s, settle=3 s, finished at 0 succeeds at 3 s', async () => {
    const st = mk({ timeout: 1000, settleTime: 3000 });
    st.setFinished();
    clock.advance(1500);
    const w = st.wait(1);
    clock.advance(1);
    await expect(w).rejects.toBeInstanceOf(WaitTimeoutError);
    expect(st.state).toBe('settling');
    clock.advance(1499);
    expect(st.success).toBe(true);
    await expect(st.wait()).resolves.toBeUndefined();
  });

  it('a finish after the timeout loses the race: deadline is timeout + settleTime from creation', () => {
    const st = mk({ timeout: 1000, settleTime: 500 });
    clock.advance(1200);
    st.setFinished();
    expect(st.state).toBe('settling');
    clock.advance(300);
    expect(st.exception()).toBeInstanceOf(StatusTimeoutError);
  });

  it('no timeout and settle 1 s: callback not called at 0.5 s, called once by 1.1 s', () => {
    const st = mk({ settleTime: 1000 });
    const cb = vi.fn();
    st.addCallback(cb);
    st.setFinished();
    clock.advance(500);
    expect(cb).not.toHaveBeenCalled();
    clock.advance(600);
    expect(cb).toHaveBeenCalledTimes(1);
  });

  it('wait() resolves after the callbacks ran', async () => {
    const st = mk();
    const seen: string[] = [];
    st.addCallback(() => seen.push('callback'));
    const w = st.wait().then(() => seen.push('wait'));
    st.setFinished();
    await w;
    expect(seen).toEqual(['callback', 'wait']);
  });

  it('bad timeouts get a typed error with a clear message', () => {
    expect(() => mk({ timeout: -1 })).toThrow(InvalidArgumentError);
    expect(() => mk({ timeout: Number.NaN })).toThrow(/timeout must be a non-negative number/);
    expect(() => mk({ settleTime: -5 })).toThrow(/settleTime/);
    expect(() => mk({ timeout: '10' as never })).toThrow(InvalidArgumentError);
    expect(() => mk().wait(-1)).toThrow(InvalidArgumentError);
  });
});

describe('9.3.4 late completion after a timeout', () => {
  it('the first late setFinished/setException is ignored, the second raises', () => {
    const a = mk({ timeout: 100 });
    clock.advance(100);
    a.setFinished();
    expect(a.exception()).toBeInstanceOf(StatusTimeoutError);
    expect(() => a.setException(new Error('later'))).toThrow(InvalidStateError);

    const b = mk({ timeout: 100 });
    clock.advance(100);
    b.setException(new Error('late'));
    expect(b.exception()).toBeInstanceOf(StatusTimeoutError);
    expect(() => b.setFinished()).toThrow(InvalidStateError);
  });
});

describe('9.3.6 composition', () => {
  it('a & b finishes when both succeed', () => {
    const a = mk();
    const b = mk();
    const ab = a.and(b);
    a.setFinished();
    expect(ab.done).toBe(false);
    b.setFinished();
    expect(ab.success).toBe(true);
  });

  it('a & b fails as soon as one fails and keeps the child error (upstream loses it)', async () => {
    const a = mk();
    const b = mk();
    const ab = a.and(b);
    const err = new Error('axis fault');
    b.setException(err);
    expect(ab.done).toBe(true);
    const agg = ab.exception() as AggregateStatusError;
    expect(agg).toBeInstanceOf(AggregateStatusError);
    expect(agg.errors).toEqual([err]);
    await expect(ab.wait()).rejects.toBe(agg);
    a.setFinished();
    expect(ab.success).toBe(false);
  });

  it('nested composition and contains()', () => {
    const [a, b, c] = [mk(), mk(), mk()];
    const abc = a.and(b).and(c);
    expect(abc.contains(a)).toBe(true);
    expect(abc.contains(c)).toBe(true);
    expect(abc.contains(mk())).toBe(false);
    a.setFinished();
    b.setFinished();
    expect(abc.done).toBe(false);
    c.setFinished();
    expect(abc.success).toBe(true);
  });

  it('Status.any succeeds on the first success and fails only when all fail, with every error', () => {
    const [a, b] = [mk(), mk()];
    const any = Status.any([a, b]);
    a.setException(new Error('a'));
    expect(any.done).toBe(false);
    b.setException(new Error('b'));
    expect((any.exception() as AggregateStatusError).errors.map((e) => e.message)).toEqual(['a', 'b']);
    const [c, d] = [mk(), mk()];
    const any2 = Status.any([c, d]);
    d.setFinished();
    expect(any2.success).toBe(true);
  });

  it('Status.all of a timed-out child fails with its StatusTimeoutError', () => {
    const a = mk({ timeout: 50 });
    const all = Status.all([a, mk()]);
    clock.advance(50);
    expect((all.exception() as AggregateStatusError).errors[0]).toBeInstanceOf(StatusTimeoutError);
  });

  it('combinators reject non-Status input', () => {
    expect(() => Status.all([{} as Status])).toThrow(InvalidArgumentError);
  });
});

describe('9.3.8 cancellation and progress (ophyd-async)', () => {
  it('cancel via AbortSignal: done, not success, exception() is the cancellation, callbacks once', async () => {
    const ac = new AbortController();
    const st = mk({ signal: ac.signal, timeout: 1000 });
    const cb = vi.fn();
    st.addCallback(cb);
    ac.abort('operator');
    expect(st.done).toBe(true);
    expect(st.success).toBe(false);
    expect(st.exception()).toBeInstanceOf(CancelledError);
    expect(st.exception()?.message).toMatch(/operator/);
    ac.abort();
    st.cancel();
    expect(cb).toHaveBeenCalledTimes(1);
    // the system's deadline structure releases its clock timer at the end of the microtask checkpoint
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(clock.pending).toBe(0);
  });

  it('an already aborted signal cancels at once', () => {
    const st = mk({ signal: AbortSignal.abort() });
    expect(st.state).toBe('cancelled');
  });

  it('watch() replays the last update, then streams, de-duplicated, and ends on success', async () => {
    const st = mk();
    st.update({ name: 'x', current: 0, initial: 0, target: 10 });
    clock.advance(100);
    st.update({ name: 'x', current: 5, initial: 0, target: 10 });
    const seen: number[] = [];
    const it = st.watch();
    const done = (async () => {
      for await (const u of it) seen.push(u.fraction as number);
    })();
    st.update({ name: 'x', current: 5, initial: 0, target: 10 });
    st.update({ name: 'x', current: 10, initial: 0, target: 10 });
    st.setFinished();
    await done;
    expect(seen).toEqual([0.5, 0]);
    expect(st.lastUpdate?.elapsed).toBe(100);
  });

  it('remaining time is extrapolated from the fraction', () => {
    const st = mk();
    st.watch();
    clock.advance(200);
    st.update({ current: 2, initial: 0, target: 10 });
    expect(st.lastUpdate?.fraction).toBeCloseTo(0.8);
    expect(st.lastUpdate?.remaining).toBeCloseTo(800);
  });

  it('lastUpdate is there without a watcher, with the elapsed time of the update', () => {
    const st = mk();
    clock.advance(30);
    st.update({ current: 1 });
    clock.advance(70);
    expect(st.lastUpdate).toMatchObject({ current: 1, elapsed: 30 });
  });

  it('a watcher that does not keep up keeps the latest 1,000 updates, and sees the end once', async () => {
    const st = mk();
    const it = st.watch();
    for (let i = 0; i < 1500; i++) st.update({ current: i });
    st.setException(new Error('stalled'));
    const seen: number[] = [];
    await expect(
      (async () => {
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          seen.push(r.value.current as number);
        }
      })(),
    ).rejects.toThrow('stalled');
    expect(seen).toHaveLength(1000);
    expect(seen[0]).toBe(500);
    expect(seen.at(-1)).toBe(1499);
    await expect(it.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('a failing watchable iterator fails the status with its error after its updates', async () => {
    async function* moves() {
      yield { current: 1, initial: 0, target: 3 };
      yield { current: 2, initial: 0, target: 3 };
      yield { current: 3, initial: 0, target: 3 };
      throw new Error('encoder lost');
    }
    const st = Status.watchable(moves(), { system });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const u of st.watch()) seen.push(u.current as number);
      })(),
    ).rejects.toThrow('encoder lost');
    expect(st.done && !st.success).toBe(true);
    expect(seen.at(-1)).toBe(3);
  });

  it('a watchable iterator that ends finishes the status', async () => {
    async function* moves() {
      yield { current: 1 };
    }
    const st = Status.watchable(moves(), { system });
    await st.wait();
    expect(st.success).toBe(true);
  });
});

describe('engine integration', () => {
  it('statuses are live actors of the system until done; no timers are left', async () => {
    const sts = Array.from({ length: 5 }, () => mk({ timeout: 1000, settleTime: 10 }));
    // compiled lifecycles (issue 10), listed by system.actors() as virtual actors
    expect(system.compiledCount).toBe(5);
    expect(system.actors().filter((a) => a.machine === 'status')).toHaveLength(5);
    for (const s of sts) s.setFinished();
    clock.advance(10);
    expect(system.compiledCount).toBe(0);
    // the system's deadline structure releases its clock timer at the end of the microtask checkpoint
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(clock.pending).toBe(0);
  });

  it('stopping the system stops pending statuses and their timers', async () => {
    mk({ timeout: 1000 });
    await system.stop();
    expect(clock.pending).toBe(0);
  });

  it('a systemId registers the pending status in the system', () => {
    const st = mk({ systemId: 'motor-x-move' });
    expect(system.get('motor-x-move')).toBe(st.actor);
    st.setFinished();
    expect(system.get('motor-x-move')).toBeUndefined();
  });

  it('uses the default system when none is given', async () => {
    const st = new Status();
    st.setFinished();
    await st.wait();
    expect(String(st)).toMatch(/done=true, success=true/);
  });
});

describe('review: combined statuses leave nothing on parts that outlive them', () => {
  it('Status.all / Status.any remove their check from the parts still pending once they complete', () => {
    const longLived = mk();
    const own = () => {};
    longLived.addCallback(own);
    for (let i = 0; i < 1000; i++) {
      Status.all([longLived], { system, timeout: 10 });
      clock.advance(10);
    }
    expect(longLived.callbacks).toEqual([own]);
    // every way of completing: a part failing, cancel, a part succeeding (any), a status already done
    const other = mk();
    const all = Status.all([longLived, other, longLived]);
    other.setException(new Error('x'));
    expect(all.done).toBe(true);
    const cancelled = Status.any([longLived]);
    cancelled.cancel();
    const done = mk();
    done.setFinished();
    const any = Status.any([longLived, done, longLived]);
    expect(any.success).toBe(true);
    expect(longLived.callbacks).toEqual([own]);
    // a pending combination still sees its parts complete
    const pending = Status.all([longLived]);
    expect(longLived.callbacks).toHaveLength(2);
    longLived.setFinished();
    expect(pending.success).toBe(true);
  });
});

describe('review: watch() iterators', () => {
  it('next() calls made at once are each settled, in call order (as an async generator queues them)', async () => {
    const st = mk();
    const it = st.watch();
    const first = it.next();
    const second = it.next();
    const third = it.next();
    st.update({ current: 1 });
    st.update({ current: 2 });
    st.setFinished();
    const results = await Promise.all([first, second, third]);
    expect(results.map((r) => (r.done ? 'done' : r.value.current))).toEqual([1, 2, 'done']);
    // on failure: the waiting calls get the updates, the next one the error, later ones done
    const failing = mk();
    const it2 = failing.watch();
    const calls = [it2.next(), it2.next(), it2.next(), it2.next()];
    failing.update({ current: 1 });
    failing.setException(new Error('fault'));
    const settled = await Promise.allSettled(calls);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason.message).toBe('fault');
    expect((settled[2] as PromiseFulfilledResult<IteratorResult<unknown>>).value.done).toBe(true);
  });

  it('return() settles every waiting next() as done', async () => {
    const st = mk();
    const it = st.watch();
    const waiting = [it.next(), it.next()];
    await it.return?.();
    expect((await Promise.all(waiting)).map((r) => r.done)).toEqual([true, true]);
  });
});

describe('review: progress updates that cannot be progress', () => {
  it('update() with a BigInt or a cyclic value throws InvalidArgumentError before any state changes', async () => {
    const st = mk();
    const cyclic: Record<string, unknown> = { current: 1 };
    cyclic.self = cyclic;
    for (const bad of [
      { current: 10n },
      cyclic,
      {
        extra: {
          toJSON: () => {
            throw new Error('no');
          },
        },
      },
      {
        extra: {
          toJSON: () => {
            throw Object.create(null);
          },
        },
      },
    ]) {
      expect(() => st.update(bad as never)).toThrow(InvalidArgumentError);
      expect(st.lastUpdate).toBeUndefined();
      expect(st.actor.getSnapshot().context.progress).toBeNull();
    }
    st.update({ current: 2 });
    expect(() => st.update({ current: 3n } as never)).toThrow(
      'a progress update must be plain JSON-serialisable data',
    );
    expect(st.lastUpdate).toMatchObject({ current: 2 });
    expect(st.actor.getSnapshot().context.progress).toEqual({ current: 2 });
    const it = st.watch();
    st.setFinished();
    expect((await it.next()).value).toMatchObject({ current: 2 });
    expect((await it.next()).done).toBe(true);
  });
});

describe('review: watchable failures are Errors', () => {
  it('an update whose getter throws a non-Error fails the status with an UnknownStatusFailure (its cause)', async () => {
    const bad = {
      get current(): number {
        throw 'nope';
      },
    };
    const st = Status.watchable([bad], { system });
    await expect(st.wait()).rejects.toBeInstanceOf(UnknownStatusFailure);
    const error = st.exception();
    expect(error).toBeInstanceOf(UnknownStatusFailure);
    expect(error?.cause).toBe('nope');
    expect(error?.message).toBe('"nope"');
  });
});

describe('review: cancellation reasons that throw when looked at', () => {
  it("an abort reason that is a revoked Proxy cancels the status; the signal's listener does not throw", () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const ac = new AbortController();
    const st = mk({ signal: ac.signal });
    // a listener that throws is an uncaught exception of the process (Node's EventTarget reports it on the next
    // tick, and vitest fails the run for it), and the status stayed pending for ever
    ac.abort(revoked.proxy);
    expect(st.state).toBe('cancelled');
    expect(st.exception()).toBeInstanceOf(CancelledError);
    expect(st.exception()?.cause).toBe(revoked.proxy);
  });

  it('cancel() with a reason whose prototype or message cannot be read cancels, naming it as unreadable', () => {
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('trap');
        },
      },
    );
    const st = mk();
    expect(() => st.cancel(hostile)).not.toThrow();
    expect(st.exception()).toBeInstanceOf(CancelledError);
    expect(st.exception()?.cause).toBe(hostile);
    const badMessage = Object.defineProperty(new Error('x'), 'message', {
      get() {
        throw new Error('no message');
      },
    });
    const other = mk();
    expect(() => other.cancel(badMessage)).not.toThrow();
    expect(other.exception()?.message).toMatch(/was cancelled: an unreadable value$/);
  });
});

describe('review: hostile arguments get InvalidArgumentError', () => {
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const trapped = new Proxy(function Trapped() {}, {
    get() {
      throw new Error('trap');
    },
    getPrototypeOf() {
      throw new Error('trap');
    },
  });

  it('setException with a revoked Proxy or a trapping one throws InvalidArgumentError; the status stays pending', () => {
    const st = mk();
    for (const bad of [revoked.proxy, trapped]) {
      expect(() => st.setException(bad as never)).toThrow(InvalidArgumentError);
      expect(() => st.setException(bad as never)).toThrow(/Expected an Error, got/);
    }
    expect(st.done).toBe(false);
    st.setException(new RangeError('real'));
    expect(st.exception()).toBeInstanceOf(RangeError);
  });

  it('Status.all / Status.any of a list holding a revoked Proxy, or a revoked list, throw InvalidArgumentError', () => {
    for (const bad of [[mk(), revoked.proxy], revoked.proxy]) {
      expect(() => Status.all(bad as never)).toThrow(InvalidArgumentError);
      expect(() => Status.any(bad as never)).toThrow('expected an array of Status objects');
    }
  });
});
