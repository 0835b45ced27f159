/**
 * The Tango event consumer's ZMQ socket waits out the slow-joiner window (`ZmqEventSocket.settled`) only for a
 * subscription on a new connection or topic, against a real ZMQ PUB socket on loopback: the first wait lasts the
 * settle time from the handshake, a later subscription on the same connection and topic does not wait, a new topic
 * waits again, `close()` ends the waits in progress, and what the publisher sends once the wait is over arrives.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { Publisher } from 'zeromq';
import { ZmqEventSocket } from '../../src/protocols/tango/zmqSubscriber.js';

const SETTLE_MS = 80;
const opened: { close(): unknown }[] = [];

afterEach(async () => {
  for (const o of opened.splice(0)) await o.close();
});

async function publisher(): Promise<{ pub: Publisher; endpoint: string }> {
  const pub = new Publisher({ linger: 0 });
  opened.push(pub);
  await pub.bind('tcp://127.0.0.1:*');
  return { pub, endpoint: pub.lastEndpoint as string };
}

function socket(received: Buffer[][] = []): ZmqEventSocket {
  const s = new ZmqEventSocket((frames) => received.push(frames), undefined, { settleMs: SETTLE_MS });
  opened.push(s);
  return s;
}

describe('the Tango event socket and the slow joiner', () => {
  it('a subscription on a new connection waits the settle time from the handshake; one on the same connection and topic does not', async () => {
    const { endpoint } = await publisher();
    const s = socket();
    s.subscribe('dev/a.change');
    await s.connect(endpoint);
    const t0 = performance.now();
    await s.settled(endpoint, 'dev/a.change');
    const first = performance.now() - t0;
    // (the handshake was done just before `connect` resolved: almost all of the settle time is left)
    expect(first).toBeGreaterThanOrEqual(SETTLE_MS - 20);
    expect(first).toBeLessThan(SETTLE_MS + 500);

    s.subscribe('dev/a.change');
    await s.connect(endpoint);
    const t1 = performance.now();
    await s.settled(endpoint, 'dev/a.change');
    expect(performance.now() - t1).toBeLessThan(SETTLE_MS / 2);
    expect(s.settling).toBe(0);
  });

  it('a new topic on a connection made long ago waits again', async () => {
    const { endpoint } = await publisher();
    const s = socket();
    s.subscribe('dev/a.change');
    await s.connect(endpoint);
    await s.settled(endpoint, 'dev/a.change');
    s.subscribe('dev/b.change');
    const t0 = performance.now();
    await s.settled(endpoint, 'dev/b.change');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(SETTLE_MS - 20);
  });

  it('close() ends the waits in progress and leaves no timer', async () => {
    const { endpoint } = await publisher();
    const s = socket();
    s.subscribe('dev/a.change');
    await s.connect(endpoint);
    const waiting = s.settled(endpoint, 'dev/a.change');
    expect(s.settling).toBe(1);
    const t0 = performance.now();
    await s.close();
    await waiting;
    expect(performance.now() - t0).toBeLessThan(SETTLE_MS);
    expect(s.settling).toBe(0);
    // closed: nothing to wait for
    await s.settled(endpoint, 'dev/a.change');
  });

  it('what the publisher sends once the wait is over arrives', async () => {
    const { pub, endpoint } = await publisher();
    const received: Buffer[][] = [];
    const s = socket(received);
    s.subscribe('dev/a.change');
    await s.connect(endpoint);
    await s.settled(endpoint, 'dev/a.change');
    await pub.send(['dev/a.change', 'value']);
    const deadline = performance.now() + 2000;
    while (received.length === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(received.map((f) => f.map((b) => b.toString()))).toEqual([['dev/a.change', 'value']]);
  });
});

describe('the Tango event socket and endpoints that went away', () => {
  /** Polls `done` every 5 ms, at most 3 s (libzmq reports a lost connection on its own thread). */
  async function eventually(done: () => boolean): Promise<boolean> {
    const deadline = performance.now() + 3000;
    while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    return done();
  }

  it('an endpoint nobody uses is disconnected once its publisher is gone (libzmq would retry it every 100 ms for ever)', async () => {
    const { pub, endpoint } = await publisher();
    const s = socket();
    await s.connect(endpoint);
    s.release(endpoint);
    // a live endpoint nobody uses stays connected, for the next subscription on that server
    expect(s.endpoints.get(endpoint)).toBe(0);
    pub.close();
    expect(await eventually(() => !s.endpoints.has(endpoint))).toBe(true);
  });

  it('an endpoint whose publisher is gone is disconnected when its last user releases it', async () => {
    const { pub, endpoint } = await publisher();
    const s = socket();
    await s.connect(endpoint);
    pub.close();
    expect(await eventually(() => !s.connected(endpoint))).toBe(true);
    // still in use (a subscription waiting for its server to come back): kept, libzmq reconnects
    expect(s.endpoints.get(endpoint)).toBe(1);
    s.release(endpoint);
    expect(s.endpoints.has(endpoint)).toBe(false);
  });
});
