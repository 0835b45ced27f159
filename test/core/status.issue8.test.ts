/**
 * Issue 8 item 10 (ophyd habits): Status.fromSubscription (ophyd SubscriptionStatus) and Status.fromActor (ophyd
 * MoveStatus), the timeout message naming the status; all on a TestClock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { assign, createActor, type Observer, setup } from 'xstate';
import {
  CancelledError,
  createSystem,
  InvalidArgumentError,
  InvalidStateError,
  type OrrerySystem,
  Status,
  StatusTimeoutError,
  SystemStoppedError,
  UnknownStatusFailure,
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

/** A tiny observable: `subscribe` counts live subscribers, `emit` calls them. */
function source<T>(initial?: T) {
  const callbacks = new Set<(v: T) => void>();
  const unsubscribe = vi.fn();
  return {
    callbacks,
    unsubscribe,
    emit: (v: T) => {
      for (const cb of [...callbacks]) cb(v);
    },
    subscribe: (cb: (v: T) => void) => {
      callbacks.add(cb);
      if (initial !== undefined) cb(initial);
      return () => {
        unsubscribe();
        callbacks.delete(cb);
      };
    },
  };
}

describe('issue 8 item 10: Status.fromSubscription', () => {
  it('issue 8 item 10: finishes when the predicate holds, then releases the subscription once', async () => {
    const src = source<number>();
    const st = Status.fromSubscription(src.subscribe, (v) => v >= 10, { system, name: 'motor' });
    src.emit(3);
    expect(st.done).toBe(false);
    src.emit(12);
    expect(st.success).toBe(true);
    expect(src.unsubscribe).toHaveBeenCalledTimes(1);
    expect(src.callbacks.size).toBe(0);
    await expect(st.wait()).resolves.toBeUndefined();
  });

  it('issue 8 item 10: a value delivered during subscribe finishes it, and the subscription is still released', () => {
    const src = source<number>(42);
    const st = Status.fromSubscription(src.subscribe, (v) => v === 42, { system });
    expect(st.success).toBe(true);
    expect(src.unsubscribe).toHaveBeenCalledTimes(1);
  });

  it('issue 8 item 10: accepts an {unsubscribe} object (RxJS, XState)', () => {
    const unsubscribe = vi.fn();
    let cb: (v: string) => void = () => {};
    const st = Status.fromSubscription(
      (c: (v: string) => void) => {
        cb = c;
        return { unsubscribe };
      },
      (v) => v === 'open',
      { system },
    );
    cb('closed');
    expect(unsubscribe).not.toHaveBeenCalled();
    cb('open');
    expect(st.success).toBe(true);
    expect(unsubscribe).toHaveBeenCalledTimes(1);
  });

  it('issue 8 item 10: a status cancelled at birth by an aborted signal never subscribes', () => {
    const subscribe = vi.fn(() => () => {});
    const st = Status.fromSubscription(subscribe, () => true, { system, signal: AbortSignal.abort('no') });
    expect(st.exception()).toBeInstanceOf(CancelledError);
    expect(subscribe).not.toHaveBeenCalled();
  });

  it('issue 8 item 10: a timeout fails it with a message naming the status, and releases the subscription', async () => {
    const src = source<number>();
    const st = Status.fromSubscription(src.subscribe, () => false, { system, name: 'shutter', timeout: 50 });
    clock.advance(49);
    expect(st.done).toBe(false);
    clock.advance(1);
    expect(st.exception()).toBeInstanceOf(StatusTimeoutError);
    expect(st.exception()?.message).toContain("Status 'shutter' (");
    expect(src.unsubscribe).toHaveBeenCalledTimes(1);
    src.emit(1);
    expect(st.state).toBe('timedOut');
  });

  it('issue 8 item 10: cancel and an aborted signal release the subscription', () => {
    const a = source<number>();
    const sa = Status.fromSubscription(a.subscribe, () => false, { system });
    sa.cancel('operator');
    expect(sa.exception()).toBeInstanceOf(CancelledError);
    expect(a.unsubscribe).toHaveBeenCalledTimes(1);

    const b = source<number>();
    const controller = new AbortController();
    const sb = Status.fromSubscription(b.subscribe, () => false, { system, signal: controller.signal });
    controller.abort();
    expect(sb.exception()).toBeInstanceOf(CancelledError);
    expect(b.unsubscribe).toHaveBeenCalledTimes(1);
  });

  it('issue 8 item 10: a throwing predicate fails the status with that error and releases the subscription', () => {
    const src = source<number>();
    const boom = new RangeError('bad reading');
    const st = Status.fromSubscription(
      src.subscribe,
      () => {
        throw boom;
      },
      { system },
    );
    src.emit(1);
    expect(st.exception()).toBe(boom);
    expect(src.unsubscribe).toHaveBeenCalledTimes(1);
  });

  it('issue 8 item 10: the system stop fails it with SystemStoppedError and releases the subscription', async () => {
    const src = source<number>();
    const st = Status.fromSubscription(src.subscribe, () => false, { system });
    await system.stop();
    expect(st.exception()).toBeInstanceOf(SystemStoppedError);
    expect(src.unsubscribe).toHaveBeenCalledTimes(1);
  });

  it("issue 8 item 10: a caller's setFinished ends it and releases; a later setFinished throws as in ophyd", () => {
    const src = source<number>();
    const st = Status.fromSubscription(src.subscribe, () => false, { system, settleTime: 5 });
    st.setFinished();
    clock.advance(5);
    expect(st.success).toBe(true);
    expect(src.unsubscribe).toHaveBeenCalledTimes(1);
    expect(() => st.setFinished()).toThrow(InvalidStateError);
  });

  it('issue 8 item 10: bad arguments throw InvalidArgumentError before subscribing; a bad release fails the status', () => {
    const subscribe = vi.fn(() => () => {});
    expect(() => Status.fromSubscription(null as never, () => true, { system })).toThrow(
      InvalidArgumentError,
    );
    expect(() => Status.fromSubscription(subscribe, 'x' as never, { system })).toThrow(InvalidArgumentError);
    expect(() => Status.fromSubscription(subscribe, () => true, { system, timeout: -1 })).toThrow(
      InvalidArgumentError,
    );
    expect(subscribe).not.toHaveBeenCalled();
    expect(() =>
      Status.fromSubscription(
        () => 42 as never,
        () => true,
        { system },
      ),
    ).toThrow(InvalidArgumentError);
    const failing = new Error('no such attribute');
    expect(() =>
      Status.fromSubscription(
        () => {
          throw failing;
        },
        () => true,
        { system },
      ),
    ).toThrow(failing);
  });
});

/** A motor: MOVE to a target, then one step per TICK. */
const motor = setup({
  types: {
    context: {} as { position: number; target: number },
    events: {} as { type: 'MOVE'; to: number } | { type: 'TICK' } | { type: 'JAM' } | { type: 'PARK' },
  },
}).createMachine({
  context: { position: 0, target: 0 },
  initial: 'idle',
  states: {
    idle: { on: { MOVE: { target: 'moving', actions: assign({ target: ({ event }) => event.to }) } } },
    moving: {
      on: {
        TICK: [
          {
            guard: ({ context }) => context.position + 1 >= context.target,
            target: 'idle',
            actions: assign({ position: ({ context }) => context.target }),
          },
          { actions: assign({ position: ({ context }) => context.position + 1 }) },
        ],
        JAM: {
          actions: () => {
            throw new Error('motor jammed');
          },
        },
        PARK: 'parked',
      },
    },
    parked: { type: 'final' },
  },
});

describe('issue 8 item 10: Status.fromActor', () => {
  it('issue 8 item 10: finishes when the snapshot satisfies the predicate (MoveStatus) and unsubscribes', () => {
    const actor = createActor(motor).start();
    actor.send({ type: 'MOVE', to: 3 });
    const st = Status.fromActor(actor, (s) => s.matches('idle') && s.context.position === 3, { system });
    actor.send({ type: 'TICK' });
    actor.send({ type: 'TICK' });
    expect(st.done).toBe(false);
    actor.send({ type: 'TICK' });
    expect(st.success).toBe(true);
    actor.stop();
    expect(st.success).toBe(true);
  });

  it('issue 8 item 10: the subscription to the actor is released on success, failure and timeout', () => {
    const actor = createActor(motor).start();
    const unsubscribed = vi.fn();
    const spied = {
      id: actor.id,
      getSnapshot: () => actor.getSnapshot(),
      subscribe: (o: Observer<ReturnType<typeof actor.getSnapshot>>) => {
        const sub = actor.subscribe(o as never);
        return {
          unsubscribe: () => {
            unsubscribed();
            sub.unsubscribe();
          },
        };
      },
    };
    actor.send({ type: 'MOVE', to: 1 });
    const ok = Status.fromActor(spied, (s) => s.matches('idle'), { system });
    const late = Status.fromActor(spied, () => false, { system, timeout: 10 });
    actor.send({ type: 'TICK' });
    expect(ok.success).toBe(true);
    expect(unsubscribed).toHaveBeenCalledTimes(1);
    clock.advance(10);
    expect(late.state).toBe('timedOut');
    expect(unsubscribed).toHaveBeenCalledTimes(2);
    const stopped = Status.fromActor(spied, () => false, { system });
    actor.stop();
    expect(stopped.exception()).toBeInstanceOf(UnknownStatusFailure);
    expect(unsubscribed).toHaveBeenCalledTimes(3);
  });

  it('issue 8 item 10: a snapshot that already satisfies the predicate finishes it at once', () => {
    const actor = createActor(motor).start();
    const st = Status.fromActor(actor, (s) => s.matches('idle'), { system });
    expect(st.success).toBe(true);
    actor.stop();
  });

  it('issue 8 item 10: fails with the actor error if the actor errors before', () => {
    const actor = createActor(motor).start();
    actor.subscribe({ error: () => {} });
    actor.send({ type: 'MOVE', to: 3 });
    const st = Status.fromActor(actor, (s) => s.context.position === 3, { system });
    actor.send({ type: 'JAM' });
    expect(st.exception()?.message).toBe('motor jammed');
  });

  it('issue 8 item 10: fails with UnknownStatusFailure if the actor stops or finishes before', () => {
    const a = createActor(motor).start();
    a.send({ type: 'MOVE', to: 3 });
    const sa = Status.fromActor(a, (s) => s.context.position === 3, { system, name: 'stopped' });
    a.stop();
    expect(sa.exception()).toBeInstanceOf(UnknownStatusFailure);

    const b = createActor(motor).start();
    b.send({ type: 'MOVE', to: 3 });
    const sb = Status.fromActor(b, (s) => s.context.position === 3, { system });
    b.send({ type: 'PARK' });
    expect(sb.exception()).toBeInstanceOf(UnknownStatusFailure);
  });

  it('issue 8 item 10: an actor that already ended is judged by its last snapshot', () => {
    const parked = createActor(motor).start();
    parked.send({ type: 'MOVE', to: 3 });
    parked.send({ type: 'PARK' });
    expect(Status.fromActor(parked, (s) => s.matches('parked'), { system }).success).toBe(true);
    expect(Status.fromActor(parked, (s) => s.matches('idle'), { system }).exception()).toBeInstanceOf(
      UnknownStatusFailure,
    );
    const stopped = createActor(motor).start();
    stopped.stop();
    expect(Status.fromActor(stopped, () => false, { system }).exception()).toBeInstanceOf(
      UnknownStatusFailure,
    );
  });

  it('issue 8 item 10: times out on the TestClock with the status name, leaving the actor running', () => {
    const actor = createActor(motor).start();
    actor.send({ type: 'MOVE', to: 3 });
    const st = Status.fromActor(actor, (s) => s.context.position === 3, { system, name: 'dome', timeout: 5 });
    clock.advance(5);
    expect(st.exception()).toBeInstanceOf(StatusTimeoutError);
    expect(st.exception()?.message).toMatch(/^Status 'dome' \(status-\d+\) failed to complete/);
    expect(actor.getSnapshot().status).toBe('active');
    actor.send({ type: 'TICK' });
    expect(st.state).toBe('timedOut');
    actor.stop();
  });

  it('issue 8 item 10: a throwing predicate fails it; a non-actor throws InvalidArgumentError', () => {
    const actor = createActor(motor).start();
    const oops = new TypeError('oops');
    const st = Status.fromActor(
      actor,
      () => {
        throw oops;
      },
      { system },
    );
    expect(st.exception()).toBe(oops);
    actor.stop();
    expect(() => Status.fromActor({} as never, () => true, { system })).toThrow(InvalidArgumentError);
    expect(() => Status.fromActor(actor, null as never, { system })).toThrow(InvalidArgumentError);
  });
});

describe('review: a predicate that throws a value String() cannot convert', () => {
  it('fails the status with an Error keeping it as cause, instead of throwing into the source', () => {
    const src = source<number>();
    const thrown = Object.create(null) as object;
    const st = Status.fromSubscription(
      src.subscribe,
      () => {
        throw thrown;
      },
      { system },
    );
    expect(() => src.emit(1)).not.toThrow();
    expect(st.state).toBe('failed');
    expect(st.exception()?.cause).toBe(thrown);
    expect(st.exception()?.message).toBe('non-Error thrown: [object Object]');
    expect(src.unsubscribe).toHaveBeenCalledTimes(1);
  });
});
