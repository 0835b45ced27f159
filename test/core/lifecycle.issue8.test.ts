/**
 * Issue 8 item 5: the one lifecycle-facade helper (`src/api/lifecycle.ts`) and the one duration validator, as the
 * core facades use them; on a TestClock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Lifecycle, nextId, resolveSystem } from '../../src/api/lifecycle.js';
import {
  BackgroundTask,
  createSystem,
  getDefaultSystem,
  InvalidArgumentError,
  type OrrerySystem,
  Status,
  StreamingTask,
  SystemStoppedError,
  TimeoutIterator,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

let clock: TestClock;
let system: OrrerySystem;

beforeEach(() => {
  clock = new TestClock();
  system = createSystem({ clock });
});
afterEach(async () => {
  await system.stop();
});

/** An AbortController whose signal counts the abort listeners added and removed. */
function countedSignal() {
  const controller = new AbortController();
  const { signal } = controller;
  const added = vi.spyOn(signal, 'addEventListener');
  const removed = vi.spyOn(signal, 'removeEventListener');
  return { controller, signal, added, removed };
}

describe('issue 8 item 5: Lifecycle', () => {
  it('issue 8 item 5: ends once, keeping the first outcome (the shadow copy of the final state)', () => {
    const life = new Lifecycle<string>();
    expect(life.ended).toBe(false);
    expect(life.outcome).toBeUndefined();
    expect(life.end('succeeded')).toBe(true);
    expect(life.end('failed')).toBe(false);
    expect(life.ended).toBe(true);
    expect(life.outcome).toBe('succeeded');
  });

  it('issue 8 item 5: adds the abort listener once and removes it once when the lifecycle ends', () => {
    const { signal, added, removed } = countedSignal();
    const onAbort = vi.fn();
    const life = new Lifecycle<void>();
    life.onAbort(signal, onAbort);
    expect(added).toHaveBeenCalledTimes(1);
    life.end();
    life.end();
    expect(removed).toHaveBeenCalledTimes(1);
    expect(onAbort).not.toHaveBeenCalled();
  });

  it('issue 8 item 5: an already aborted signal calls back at once and adds no listener', () => {
    const { controller, signal, added } = countedSignal();
    controller.abort('gone');
    const onAbort = vi.fn();
    new Lifecycle<void>().onAbort(signal, onAbort);
    expect(onAbort).toHaveBeenCalledWith('gone');
    expect(added).not.toHaveBeenCalled();
  });

  it('issue 8 item 5: an abort calls back once with the reason', () => {
    const { controller, signal } = countedSignal();
    const onAbort = vi.fn();
    new Lifecycle<void>().onAbort(signal, onAbort);
    controller.abort('operator');
    controller.abort('again');
    expect(onAbort).toHaveBeenCalledTimes(1);
    expect(onAbort).toHaveBeenCalledWith('operator');
  });

  it('issue 8 item 5: the system-stop hook runs on stop while running, and is forgotten once ended', async () => {
    const other = createSystem({ clock });
    const running = vi.fn();
    const ended = vi.fn();
    const a = new Lifecycle<void>();
    a.onSystemStop(system, running);
    const b = new Lifecycle<void>();
    b.onSystemStop(system, ended);
    b.end();
    await system.stop();
    expect(running).toHaveBeenCalledTimes(1);
    expect(running.mock.calls[0][0]).toBeInstanceOf(SystemStoppedError);
    expect(ended).not.toHaveBeenCalled();
    await other.stop();
  });

  it('issue 8 item 5: nextId counts per prefix; resolveSystem checks the option and defaults', () => {
    const first = nextId('issue8-lifecycle');
    expect(first).toBe('issue8-lifecycle-1');
    expect(nextId('issue8-lifecycle')).toBe('issue8-lifecycle-2');
    expect(nextId('issue8-other')).toBe('issue8-other-1');
    expect(resolveSystem(system)).toBe(system);
    expect(resolveSystem(undefined)).toBe(getDefaultSystem());
    expect(() => resolveSystem({})).toThrow(InvalidArgumentError);
  });
});

describe('issue 8 item 5: the core facades use it', () => {
  it('issue 8 item 5: Status, BackgroundTask, StreamingTask and TimeoutIterator remove their abort listener once done', async () => {
    const s = countedSignal();
    const st = new Status({ system, signal: s.signal });
    st.setFinished();
    expect(s.added).toHaveBeenCalledTimes(1);
    expect(s.removed).toHaveBeenCalledTimes(1);

    const b = countedSignal();
    const task = new BackgroundTask(() => {}, { system, signal: b.signal });
    task.run();
    await task.done;
    expect(b.added).toHaveBeenCalledTimes(1);
    expect(b.removed).toHaveBeenCalledTimes(1);

    const t = countedSignal();
    const streaming = new StreamingTask(
      'issue8-stream',
      () => [1, 2],
      () => {},
      { system },
    );
    streaming.start({ signal: t.signal });
    await streaming.done;
    expect(t.added).toHaveBeenCalledTimes(1);
    expect(t.removed).toHaveBeenCalledTimes(1);

    const i = countedSignal();
    const it = new TimeoutIterator([1], { system, signal: i.signal });
    expect(await it.next()).toEqual({ done: false, value: 1 });
    expect(await it.next()).toEqual({ done: true, value: undefined });
    expect(i.added).toHaveBeenCalledTimes(1);
    expect(i.removed).toHaveBeenCalledTimes(1);
  });

  it('issue 8 item 5: one duration validator: every core duration option rejects "100" with the same message', () => {
    const message = /must be a non-negative number of milliseconds \(or Infinity for never\), got "100"/;
    const bad = '100' as never;
    expect(() => new Status({ system, timeout: bad })).toThrow(message);
    expect(() => new Status({ system, settleTime: bad })).toThrow(message);
    expect(() => new Status({ system }).wait(bad)).toThrow(message);
    expect(() => new BackgroundTask(() => {}, { system, stopTimeout: bad })).toThrow(message);
    expect(() => new TimeoutIterator([], { system, timeout: bad })).toThrow(message);
    expect(() => new TimeoutIterator([], { system, expectedRate: bad })).toThrow(message);
    expect(() =>
      Status.fromSubscription(
        () => () => {},
        () => true,
        { system, timeout: bad },
      ),
    ).toThrow(message);
  });
});
