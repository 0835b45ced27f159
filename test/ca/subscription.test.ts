/**
 * Subscriptions against Orrery's CA server (issue 11 items 2 and 3; checklist 9.4 items 4 and 7): callbacks held
 * strongly with tokens, the second callback replays the latest value, the last removal cancels and nothing more
 * arrives, identical options give the same object, EVENT_ADD before connection, events off/on, the async
 * iterator's bounded queue, `status(predicate)`, and put-completion Status objects.
 */
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/engine/system.js';
import { StatusTimeoutError } from '../../src/errors.js';
import { DbrType } from '../../src/protocols/ca/constants.js';
import { CaStatusError, CaTimeoutError, ContextDisconnectedError } from '../../src/protocols/ca/errors.js';
import type { EventResponse, Subscription } from '../../src/protocols/ca/subscription.js';
import { SubscriptionQueue } from '../../src/protocols/ca/subscriptionQueue.js';
import { deferred, useCaPeers } from './support/caContext.js';

const peers = useCaPeers();

const value = (r: EventResponse) => (r.data as Float64Array)[0];

/** Collect the values a subscription delivers; `until(n)` resolves once n have come. */
function collector(sub: Subscription) {
  const values: (number | string)[] = [];
  const waits: { n: number; resolve: () => void }[] = [];
  const token = sub.addCallback((_s, r) => {
    values.push(typeof r.data[0] === 'string' ? r.data[0] : Number(r.data[0]));
    for (const w of [...waits]) if (values.length >= w.n) w.resolve();
  });
  return {
    values,
    token,
    until(n: number): Promise<void> {
      if (values.length >= n) return Promise.resolve();
      return new Promise((resolve) => waits.push({ n, resolve }));
    },
  };
}

describe('issue 11 item 3: Subscription against a real CaServer', () => {
  it('delivers [1, 2, 3] after writes, replays the latest to a second callback, and nothing after clear()', async () => {
    const server = await peers.server({ pvs: [{ name: 'S:X', type: 'double', value: 0 }] });
    const ctx = peers.context(server);
    const pv = ctx.getPv('S:X');
    const sub = pv.subscribe();
    expect(pv.subscribe()).toBe(sub);
    expect(pv.subscribe({ dataType: 'time' })).not.toBe(sub);
    const c = collector(sub);
    await c.until(1);
    for (const v of [1, 2, 3]) await pv.write(v);
    await c.until(4);
    expect(c.values).toEqual([0, 1, 2, 3]);
    let replayed: number | undefined;
    const second = sub.addCallback((_s, r) => {
      replayed = value(r);
    });
    expect(replayed).toBe(3);
    expect(sub.state).toBe('active');
    sub.removeCallback(second);
    expect(sub.state).toBe('active');
    sub.clear();
    expect(sub.state).toBe('inactive');
    await pv.write(4);
    await pv.read(); // the reply comes after any update the server had queued before it
    expect(c.values).toEqual([0, 1, 2, 3]);
    expect(sub.mostRecentResponse && value(sub.mostRecentResponse)).toBe(3);
  });

  it('subscribes before the channel is connected (EVENT_ADD on connection)', async () => {
    const server = await peers.server({ pvs: [{ name: 'S:EARLY', type: 'long', value: 5 }] });
    const ctx = peers.context(server);
    const pv = ctx.getPv('S:EARLY');
    const sub = pv.subscribe({ dataType: 'time' });
    const c = collector(sub);
    expect(['pending', 'active']).toContain(sub.state);
    await c.until(1);
    expect(c.values).toEqual([5]);
    expect(sub.mostRecentResponse?.dataType).toBe(DbrType.TIME_LONG);
    expect(sub.activations).toBe(1);
  });

  it('eventsOff suppresses updates; eventsOn delivers only the latest value, then resumes', async () => {
    const server = await peers.server({ pvs: [{ name: 'S:FLOW', type: 'double', value: 0 }] });
    const ctx = peers.context(server);
    const pv = ctx.getPv('S:FLOW');
    const c = collector(pv.subscribe());
    await c.until(1);
    ctx.eventsOff();
    for (const v of [1, 2, 3, 4, 5, 6]) await pv.write(v);
    ctx.eventsOn();
    await c.until(2);
    await pv.write(7);
    await c.until(3);
    expect(c.values).toEqual([0, 6, 7]);
  });

  it('iterates as an async iterator; break cancels the monitor', async () => {
    const server = await peers.server({ pvs: [{ name: 'S:ITER', type: 'double', value: 0 }] });
    const ctx = peers.context(server);
    const pv = ctx.getPv('S:ITER');
    const sub = pv.subscribe();
    const seen: number[] = [];
    for await (const r of sub) {
      seen.push(value(r));
      if (seen.length === 3) break;
      await pv.write(seen.length * 10);
    }
    expect(seen).toEqual([0, 10, 20]);
    expect(sub.callbackCount).toBe(0);
    expect(sub.state).toBe('inactive');
  });

  it("the iterator's queue is bounded: a slow consumer gets the latest responses, the oldest are dropped", async () => {
    const server = await peers.server({ pvs: [{ name: 'S:BOUND', type: 'double', value: 0 }] });
    const ctx = peers.context(server);
    const pv = ctx.getPv('S:BOUND');
    const sub = pv.subscribe();
    const c = collector(sub);
    await c.until(1);
    const queue = sub.values({ capacity: 2 });
    for (const v of [1, 2, 3, 4, 5]) await pv.write(v);
    await c.until(6);
    const seen: number[] = [];
    for (let n = 0; n < 2; n++) seen.push(value((await queue.next()).value as EventResponse));
    expect(seen).toEqual([4, 5]);
    expect(queue.dropped).toBe(4);
    await queue.return?.();
    expect((await queue.next()).done).toBe(true);
    expect(sub.callbackCount).toBe(1);
  });

  it('next() called again before the last settled: each gets its own response in order; the end settles every one', async () => {
    let deliver: (r: EventResponse) => void = () => {};
    let closeListener: () => void = () => {};
    const stub = {
      onClose: (listener: () => void) => {
        closeListener = listener;
        return () => {};
      },
      addCallback: (cb: (sub: unknown, r: EventResponse) => void) => {
        deliver = (r) => cb(stub, r);
        return 1;
      },
      removeCallback: () => {},
    };
    const track = (p: Promise<IteratorResult<EventResponse>>) => {
      const o: { result?: IteratorResult<EventResponse> } = {};
      void p.then((result) => {
        o.result = result;
      });
      return o;
    };
    const response = (v: number) => ({ data: Float64Array.of(v) }) as unknown as EventResponse;
    const queue = new SubscriptionQueue(stub as unknown as Subscription, 10);
    const waiting = [queue.next(), queue.next(), queue.next()].map(track);
    deliver(response(1));
    deliver(response(2));
    await new Promise((resolve) => setImmediate(resolve));
    expect(waiting.map((o) => o.result && value(o.result.value as EventResponse))).toEqual([1, 2, undefined]);
    await queue.return();
    await new Promise((resolve) => setImmediate(resolve));
    expect(waiting[2]!.result).toEqual({ value: undefined, done: true });
    // and when the subscription closes (its Context disconnected)
    const other = new SubscriptionQueue(stub as unknown as Subscription, 10);
    const ends = [other.next(), other.next()].map(track);
    closeListener();
    await new Promise((resolve) => setImmediate(resolve));
    expect(ends.map((o) => o.result)).toEqual([
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
  });

  it('status(predicate) fails with ContextDisconnectedError when the Context disconnects (system of the caller)', async () => {
    const server = await peers.server({ pvs: [{ name: 'S:GONE', type: 'double', value: 0 }] });
    const system = createSystem();
    try {
      const ctx = peers.context(server, { system });
      const sub = ctx.getPv('S:GONE').subscribe();
      const status = sub.status(() => false);
      await ctx.disconnect();
      await new Promise((resolve) => setImmediate(resolve));
      expect(status.done).toBe(true);
      expect(status.exception()).toBeInstanceOf(ContextDisconnectedError);
    } finally {
      await system.stop();
    }
  });

  it('status(predicate) finishes at the first accepted response and releases its callback', async () => {
    const server = await peers.server({ pvs: [{ name: 'S:ST', type: 'double', value: 0 }] });
    const ctx = peers.context(server);
    const pv = ctx.getPv('S:ST');
    const sub = pv.subscribe();
    const status = sub.status((r) => value(r) >= 2, { timeout: 20_000 });
    await pv.write(1);
    expect(status.done).toBe(false);
    await pv.write(2);
    await status.wait();
    expect(status.success).toBe(true);
    expect(sub.callbackCount).toBe(0);
    const never = sub.status(() => false, { timeout: 50 });
    await expect(never.wait()).rejects.toBeInstanceOf(StatusTimeoutError);
    expect(sub.callbackCount).toBe(0);
  });
});

describe('issue 11 item 3: PV.put returns a Status finishing on WRITE_NOTIFY', () => {
  it('finishes when the server completes the put; fails with CaStatusError on a failed put', async () => {
    const gate = deferred();
    const server = await peers.server({
      pvs: [
        { name: 'P:SLOW', type: 'double', value: 0, onPut: () => gate.promise },
        { name: 'P:FAIL', type: 'double', value: 0, onPut: () => Promise.reject(new Error('refused')) },
      ],
    });
    const ctx = peers.context(server);
    const [slow, fail] = ctx.getPvs(['P:SLOW', 'P:FAIL']);
    const status = slow!.put(3);
    await slow!.waitForConnection();
    await slow!.read();
    expect(status.done).toBe(false);
    gate.resolve();
    await status.wait();
    expect(status.success).toBe(true);
    const failed = fail!.put(1);
    await expect(failed.wait()).rejects.toBeInstanceOf(CaStatusError);
  });

  it('fails with CaTimeoutError when WRITE_NOTIFY does not come in time, leaving no ioid', async () => {
    const server = await peers.server({
      pvs: [{ name: 'P:HANG', type: 'double', value: 0, onPut: () => new Promise<void>(() => {}) }],
    });
    const ctx = peers.context(server);
    const pv = ctx.getPv('P:HANG');
    await pv.waitForConnection();
    const status = pv.put(1, { timeout: 100 });
    await expect(status.wait()).rejects.toBeInstanceOf(CaTimeoutError);
    expect(pv.pendingRequests).toBe(0);
    expect(ctx.circuits[0]?.pendingOps).toBe(0);
  });
});
