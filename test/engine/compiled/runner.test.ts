/**
 * issue 10 item 2: the compiled runner's lifecycle record: the host contract (arm, cancel, fire), done, stop,
 * errors reported and never thrown, events sent from inside a step, the observer's order, snapshots.
 */
import { describe, expect, it } from 'vitest';
import { assign, type EventObject, enqueueActions, setup } from 'xstate';
import { statusMachine } from '../../../machines/core/status.js';
import {
  type CompiledMachine,
  compileMachine,
  type Lifecycle,
  type LifecycleHost,
  startLifecycle,
} from '../../../src/engine/compiled/index.js';

class RecordingHost implements LifecycleHost {
  armed = new Map<number, { lc: Lifecycle; ms: number; event: EventObject }>();
  cancelled: number[] = [];
  logs: unknown[][] = [];
  private seq = 0;
  schedule(lc: Lifecycle, ms: number, event: EventObject): unknown {
    if (ms === Number.POSITIVE_INFINITY) return null;
    const h = ++this.seq;
    this.armed.set(h, { lc, ms, event });
    return h;
  }
  cancel(handle: unknown): void {
    if (handle === null) return;
    this.cancelled.push(handle as number);
    this.armed.delete(handle as number);
  }
  log(_lc: Lifecycle, args: unknown[]): void {
    this.logs.push(args);
  }
  /** Fires every armed delay (as a clock would when they fall due). */
  fireAll(): void {
    for (const [h, { lc, event }] of [...this.armed]) {
      this.armed.delete(h);
      lc.fire(event);
    }
  }
}

const status = compileMachine(statusMachine) as CompiledMachine;

describe('compiled runner', () => {
  it('issue 10 item 2: a Status lifecycle arms its deadline on the host, FINISH cancels it and ends done', () => {
    const host = new RecordingHost();
    const done: Lifecycle[] = [];
    const lc = startLifecycle(status, {
      id: 's1',
      input: { timeout: 60_000, settleTime: 0 },
      host,
      onDone: (l) => done.push(l),
    });
    expect(lc.status).toBe('active');
    expect(lc.value).toEqual({ bounded: 'pending' });
    expect([...host.armed.values()].map((a) => [a.ms, a.event.type])).toEqual([
      [60_000, 'xstate.after.deadline.status.bounded'],
    ]);
    lc.send({ type: 'FINISH' });
    expect(lc.status).toBe('done');
    expect(lc.value).toBe('succeeded');
    expect(host.armed.size).toBe(0);
    expect(host.cancelled).toHaveLength(1);
    expect(done).toEqual([lc]);
    lc.send({ type: 'FAIL', error: new Error('late') } as EventObject); // ignored once done
    expect(lc.value).toBe('succeeded');
    expect(done).toHaveLength(1);
  });

  it('issue 10 item 2: the deadline falling due times the Status out; a fire for a delay no longer armed is ignored', () => {
    const host = new RecordingHost();
    const lc = startLifecycle(status, { id: 's2', input: { timeout: 5, settleTime: 0, name: 'dome' }, host });
    const [{ event }] = [...host.armed.values()];
    host.fireAll();
    expect(lc.value).toBe('timedOut');
    expect((lc.context.error as Error).message).toMatch(/Status 'dome' \(s2\) failed to complete/);
    const other = startLifecycle(status, { id: 's3', input: { timeout: 5, settleTime: 0 }, host });
    other.send({ type: 'FINISH' });
    other.fire(event); // stale: nothing happens
    expect(other.value).toBe('succeeded');
  });

  it('issue 10 item 2: without a timeout nothing is armed; Infinity asks the host, which arms nothing', () => {
    const host = new RecordingHost();
    startLifecycle(status, { id: 's4', input: { timeout: null, settleTime: 0 }, host });
    expect(host.armed.size).toBe(0);
    const lc = startLifecycle(status, { id: 's5', input: { timeout: null, settleTime: Infinity }, host });
    lc.send({ type: 'FINISH' });
    expect(lc.value).toEqual({ unbounded: 'settling' });
    expect(host.armed.size).toBe(0);
  });

  it('issue 10 item 2: stop() ends a lifecycle as XState stops an actor: no exit actions, delays cancelled', () => {
    const host = new RecordingHost();
    const seen: string[] = [];
    const lc = startLifecycle(status, {
      id: 's6',
      input: { timeout: 100, settleTime: 0 },
      host,
      observer: {
        event: (_l, e) => seen.push(`event ${e.type}`),
        microstep: (_l, e, t) => seen.push(`microstep ${e.type} ${t.length}`),
        snapshot: (_l, e) => seen.push(`snapshot ${e.type}`),
      },
    });
    expect(seen).toEqual(['microstep xstate.init 1', 'event xstate.init', 'snapshot xstate.init']);
    seen.length = 0;
    lc.stop();
    expect(lc.status).toBe('stopped');
    expect(host.armed.size).toBe(0);
    expect(seen).toEqual(['microstep xstate.stop 0', 'snapshot xstate.stop']);
    lc.send({ type: 'FINISH' });
    expect(lc.status).toBe('stopped');
  });

  it('issue 10 item 2: an action that throws puts the lifecycle in error, reported to onError, never thrown', () => {
    const m = setup({}).createMachine({
      initial: 'a',
      context: { n: 0 },
      states: {
        a: {
          after: { 1000: 'b' },
          on: {
            INC: { actions: assign({ n: ({ context }) => context.n + 1 }) },
            BOOM: {
              target: 'b',
              actions: () => {
                throw new RangeError('boom');
              },
            },
          },
        },
        b: {},
      },
    });
    const host = new RecordingHost();
    const errors: unknown[] = [];
    const lc = startLifecycle(compileMachine(m) as CompiledMachine, {
      id: 'e1',
      host,
      onError: (_l, err) => errors.push(err),
    });
    lc.send({ type: 'INC' });
    expect(() => lc.send({ type: 'BOOM' })).not.toThrow();
    expect(lc.status).toBe('error');
    expect(lc.error).toBeInstanceOf(RangeError);
    expect(errors).toEqual([lc.error]);
    expect(lc.value).toBe('a'); // the state and context before the failing step, as XState keeps them
    expect(lc.context).toEqual({ n: 1 });
    expect(host.armed.size).toBe(0);
  });

  it('issue 10 item 2: an event sent from inside a step is processed after it (XState mailbox order)', () => {
    const order: string[] = [];
    const m = setup({}).createMachine({
      initial: 'a',
      states: {
        a: {
          on: {
            GO: {
              target: 'b',
              actions: ({ self }) => {
                self.send({ type: 'NEXT' });
                order.push('go');
              },
            },
          },
        },
        b: {
          entry: () => order.push('enter b'),
          on: { NEXT: { target: 'c', actions: () => order.push('next') } },
        },
        c: {},
      },
    });
    const lc = startLifecycle(compileMachine(m) as CompiledMachine, { id: 'q1', host: new RecordingHost() });
    lc.send({ type: 'GO' });
    expect(order).toEqual(['go', 'enter b', 'next']);
    expect(lc.value).toBe('c');
  });

  it('issue 10 item 2: snapshot() is a plain snapshot-like object (matches, hasTag, tags); owner is kept', () => {
    const m = setup({}).createMachine({
      id: 'tagged',
      initial: 'outer',
      states: { outer: { tags: ['busy'], initial: 'inner', states: { inner: { tags: ['deep'] } } } },
    });
    const owner = { name: 'facade' };
    const lc = startLifecycle(compileMachine(m) as CompiledMachine, {
      id: 't1',
      host: new RecordingHost(),
      owner,
    });
    const snap = lc.snapshot();
    expect(snap.status).toBe('active');
    expect(snap.value).toEqual({ outer: 'inner' });
    expect(snap.matches('outer')).toBe(true);
    expect(snap.matches({ outer: 'inner' })).toBe(true);
    expect(snap.hasTag('deep') && snap.hasTag('busy') && lc.hasTag('busy')).toBe(true);
    expect([...snap.tags].sort()).toEqual(['busy', 'deep']);
    expect(lc.owner).toBe(owner);
    expect(lc.getSnapshot().value).toEqual(snap.value);
  });

  it('issue 10 item 2: enqueueActions runs what it enqueues; an action the runner cannot run fails the lifecycle', () => {
    const m = setup({}).createMachine({
      context: { n: 0 },
      on: {
        ADD: {
          actions: enqueueActions(({ enqueue }) =>
            enqueue.assign({ n: ({ context }: { context: { n: number } }) => context.n + 1 }),
          ),
        },
        TELL: { actions: enqueueActions(({ enqueue }) => enqueue.sendTo('someone', { type: 'X' })) },
      },
    });
    const errors: unknown[] = [];
    const lc = startLifecycle(compileMachine(m) as CompiledMachine, {
      id: 'q2',
      host: new RecordingHost(),
      onError: (_l, e) => errors.push(e),
    });
    lc.send({ type: 'ADD' });
    expect(lc.context).toEqual({ n: 1 });
    lc.send({ type: 'TELL' });
    expect(lc.status).toBe('error');
    expect((errors[0] as Error).message).toBe('not supported by the compiled runner: enqueue.sendTo');
  });

  it('issue 10: lifecycles of one machine on different hosts, with shared or own callbacks, each keep their own', () => {
    const hosts = [new RecordingHost(), new RecordingHost()];
    const seen: string[] = [];
    const shared = { onDone: (l: Lifecycle) => seen.push(`shared ${l.id}`) };
    const start = (id: string, host: RecordingHost, own: boolean) =>
      startLifecycle(status, {
        id,
        input: { timeout: 1000, settleTime: 0 },
        host,
        ...(own ? { onDone: (l: Lifecycle) => seen.push(`own ${l.id}`) } : { callbacks: shared }),
      });
    // alternating hosts and callbacks: every lifecycle arms on its own host and reports to its own callbacks
    const lcs = [
      start('a', hosts[0], false),
      start('b', hosts[1], false),
      start('c', hosts[0], true),
      start('d', hosts[0], false),
      start('e', hosts[1], true),
    ];
    expect(lcs.map((lc) => hosts.indexOf(lc.host as RecordingHost))).toEqual([0, 1, 0, 0, 1]);
    expect([...hosts[0].armed.values()].map((a) => a.lc.id)).toEqual(['a', 'c', 'd']);
    expect([...hosts[1].armed.values()].map((a) => a.lc.id)).toEqual(['b', 'e']);
    for (const lc of lcs) lc.send({ type: 'FINISH' });
    expect(seen).toEqual(['shared a', 'shared b', 'own c', 'shared d', 'own e']);
    expect(hosts[0].armed.size + hosts[1].armed.size).toBe(0);
    expect(lcs.every((lc) => lc.compiled === status && lc.status === 'done')).toBe(true);
  });
});
