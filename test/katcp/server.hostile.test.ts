/**
 * issue 9 items 4 and 7: the device server against bad and hostile clients over real TCP: garbage, a 1 MiB line
 * without a newline, a client that never reads, 50 clients at once, `?halt`, and `close()` with clients connected
 * (every socket closed, every sampling timer cleared).
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidStateError, PortInUseError } from '../../src/errors.js';
import { Sensor } from '../../src/protocols/katcp/sensor.js';
import { DeviceServer } from '../../src/protocols/katcp/server.js';
import { TestClock } from '../../src/testing/index.js';
import { closeAllRawClients, createExampleServer, RawClient } from './support/exampleServer.js';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await closeAllRawClients();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: ConstructorParameters<typeof DeviceServer>[0] = {}) {
  const clock = new TestClock();
  const ex = createExampleServer({ clock, now: () => 1000, ...options });
  servers.push(ex);
  const { port } = await ex.server.listen();
  return { ...ex, port, clock };
}

async function connected(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.waitForLines(3);
  return c;
}

describe('issue 9 item 4: malformed input', () => {
  it('answers a line that does not parse with #log error (never a reply) and goes on', async () => {
    const { port } = await start();
    const c = await connected(port);
    c.send('hello there');
    c.send('?bad a\\qb');
    c.send('?1abc');
    c.send(Buffer.from([0x3f, 0x61, 0x20, 0x00, 0x0a, 0xff, 0xfe, 0x0a]));
    c.send('!reply-from-client ok');
    c.send('#inform-from-client');
    c.send('   ');
    expect(await c.request('watchdog', 1)).toEqual(['!watchdog[1] ok']);
    const logs = c.lines.filter((l) => l.startsWith('#log'));
    expect(logs).toHaveLength(5);
    for (const l of logs) expect(l).toMatch(/^#log error 1000\.0 orrery\.katcp \S+$/);
    expect(logs[0]).toContain('message\\_does\\_not\\_start\\_with\\_a\\_message\\_type');
    expect(logs[1]).toContain('invalid\\_escape');
    expect(c.lines.filter((l) => l.startsWith('!'))).toEqual(['!watchdog[1] ok']);
  });

  it('a 1 MiB line without a newline: #log error, #disconnect, the client closed, the server unharmed', async () => {
    const { server, port } = await start();
    const c = await connected(port);
    const other = await connected(port);
    c.socket.write(Buffer.alloc(1024 * 1024 + 1, 0x61)); // 'aaa...' past the default 1 MiB limit, no newline
    await c.closed;
    expect(c.lines.slice(3).filter((l) => !l.startsWith('#client-connected'))).toEqual([
      expect.stringMatching(
        /^#log error 1000\.0 orrery\.katcp KATCP\\_line\\_longer\\_than\\_1048576\\_bytes$/,
      ),
      '#disconnect line\\_longer\\_than\\_1048576\\_bytes',
    ]);
    expect(await other.request('watchdog', 1)).toEqual(['!watchdog[1] ok']);
    expect(server.clients).toHaveLength(1);
  });

  it('a long line that ends is refused the same way (maxLineLength option)', async () => {
    const { port } = await start({ maxLineLength: 100 });
    const c = await connected(port);
    c.send(`?echo ${'x'.repeat(200)}`);
    await c.closed;
    expect(c.lines.at(-1)).toBe('#disconnect line\\_longer\\_than\\_100\\_bytes');
  });
});

describe('a client regex that would backtrack for ever (ReDoS)', () => {
  it('?sensor-list / ?sensor-value refuse nested quantifiers and the like with !fail; plain ones still match', async () => {
    const { server, port } = await start();
    // 18 characters: the old code ran the evil regex to the end (milliseconds here; a 34-character name froze it)
    server.addSensor(new Sensor({ name: 'antenna-positioner', type: 'integer', initial: 0 }));
    server.addSensor(new Sensor({ name: 'a-temp-b', type: 'integer', initial: 0 }));
    const c = await connected(port);
    const evil = [
      '/^([a-z-]+)+X$/',
      '/^(a|a)*X$/',
      '/((\\\\w|-))+X/', // KATCP escapes a backslash
      '/(.*)*X/',
      '/^.*.*.*.*X$/',
      '/^.?.?.?.?.?.?X$/',
      '/(a)\\\\1/',
      '/(?=.*X)/',
      `/${'a'.repeat(257)}/`,
    ];
    let mid = 0;
    for (const re of evil)
      for (const req of ['sensor-list', 'sensor-value']) {
        const reply = await c.request(req, ++mid, re);
        expect(reply).toHaveLength(1);
        expect(reply[0]).toMatch(new RegExp(`^!${req}\\[${mid}\\] fail refused\\\\_regex:`));
      }
    expect(await c.request('watchdog', ++mid)).toEqual([`!watchdog[${mid}] ok`]);
    expect((await c.request('sensor-list', ++mid, '/temp/')).at(-1)).toBe(`!sensor-list[${mid}] ok 1`);
    expect((await c.request('sensor-value', ++mid, '/^a.*b$/')).at(-1)).toBe(`!sensor-value[${mid}] ok 1`);
    expect((await c.request('sensor-list', ++mid, '/^(antenna|a)-/')).at(-1)).toBe(
      `!sensor-list[${mid}] ok 2`,
    );
  });
});

describe('issue 9 item 4: flood', () => {
  it('disconnects a client that never reads once its backlog passes maxBacklog (memory bounded)', async () => {
    const { server, port } = await start({ maxBacklog: 256 * 1024 });
    const big = new Sensor({ name: 'big', type: 'string', initial: 'x', status: 'nominal' });
    server.addSensor(big);
    const c = await connected(port);
    await c.request('sensor-sampling', 1, 'big', 'auto');
    c.socket.pause(); // never reads again
    const payload = 'y'.repeat(64 * 1024);
    let updates = 0;
    while (server.clients.length > 0 && updates < 100_000) {
      big.set(`${payload}${updates++}`);
      if (updates % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(server.clients).toHaveLength(0);
    // far fewer updates than the cap: the socket buffers of loopback plus 256 KiB, not everything
    expect(updates).toBeLessThan(100_000);
    expect(big.listenerCount).toBe(0);
    c.socket.resume();
    await c.closed;
  });

  it('a reply far larger than maxBacklog reaches a client that reads, and so do the informs queued behind it', async () => {
    // maxBacklog bounds what piles up for a client that does not read; a request's own informs and reply are
    // read with backpressure instead (as aiokatcp applies max_backlog to asynchronous informs only). The old code
    // checked the backlog right after writing the reply, in the same turn, and dropped a client reading normally.
    const { server, port, counter } = await start({ maxBacklog: 256 * 1024 });
    const description = 'd'.repeat(4096);
    for (let i = 0; i < 2000; i++)
      server.addSensor(new Sensor({ name: `s${i}`, type: 'integer', initial: 0, description }));
    const c = await connected(port);
    await c.request('sensor-sampling', 1, 'counter-queries', 'auto');
    const from = c.lines.length;
    c.send('?sensor-list[2]\n?counter[3]'); // about 8 MiB of reply, then a #sensor-status behind it
    await c.waitFor((l) => l === '#sensor-status 1000.0 1 counter-queries nominal 1', from);
    expect(c.lines.filter((l) => l.startsWith('#sensor-list[2]'))).toHaveLength(2003);
    expect(c.lines).toContain('!sensor-list[2] ok 2003');
    expect(c.lines).toContain('!counter[3] ok');
    expect(counter.value).toBe(1);
    expect(server.clients).toHaveLength(1);
  });

  it('a client that pipelines requests without reading is read with backpressure, and loses no reply', async () => {
    const { port } = await start();
    const c = await connected(port);
    const other = await connected(port);
    c.socket.pause(); // stops reading: its replies pile up until the server stops reading its requests
    const n = 50_000;
    let batch = '';
    for (let i = 1; i <= n; i++) batch += `?watchdog[${i}]\n`;
    c.socket.write(batch);
    // meanwhile the server serves others
    expect(await other.request('watchdog', 1)).toEqual(['!watchdog[1] ok']);
    c.socket.resume();
    await c.waitFor((l) => l === `!watchdog[${n}] ok`);
    const replies = c.lines.filter((l) => l.startsWith('!watchdog'));
    expect(replies).toHaveLength(n);
    expect(replies[0]).toBe('!watchdog[1] ok');
  });

  it('serves 50 concurrent clients, each with its own requests and sampling', async () => {
    const { server, port, counter } = await start();
    const clients = await Promise.all(Array.from({ length: 50 }, () => connected(port)));
    const replies = await Promise.all(
      clients.map((c, i) => c.request('sensor-sampling', i + 1, 'counter-queries', 'event')),
    );
    expect(replies).toEqual(replies.map((_r, i) => [`!sensor-sampling[${i + 1}] ok counter-queries event`]));
    await clients[0].request('counter', 999);
    expect(counter.value).toBe(1);
    await Promise.all(
      clients.map((c) => c.waitFor((l) => l === '#sensor-status 1000.0 1 counter-queries nominal 1')),
    );
    const list = await clients[49].request('client-list', 7);
    expect(list.at(-1)).toBe('!client-list[7] ok 50');
    expect(server.clients).toHaveLength(50);
    // the first client saw every later one connect
    await clients[0].waitFor((l) => l === `#client-connected 127.0.0.1:${clients[49].socket.localPort}`);
    expect(clients[0].lines.filter((l) => l.startsWith('#client-connected'))).toHaveLength(49);
  });
});

describe('issue 9 item 4: stopping', () => {
  it('close() with clients connected: #disconnect to each, every socket closed, every timer cleared', async () => {
    const { server, port, clock, counter } = await start();
    const clients = await Promise.all(Array.from({ length: 5 }, () => connected(port)));
    for (const [i, c] of clients.entries())
      await c.request('sensor-sampling', i + 1, 'counter-queries', 'period', '1');
    expect(clock.pending).toBe(5);
    await server.close();
    expect(clock.pending).toBe(0);
    expect(counter.listenerCount).toBe(1); // only the example's own `total` aggregate
    expect(server.clients).toHaveLength(0);
    expect(server.address).toBeNull();
    await Promise.all(clients.map((c) => c.closed));
    for (const c of clients) expect(c.lines.at(-1)).toBe('#disconnect server\\_shutting\\_down');
    await expect(RawClient.connect(port)).rejects.toThrow();
    await server.close(); // idempotent
  });

  it('?halt: !halt ok, then #disconnect, then the server closes (onHalt called, waitClosed resolves)', async () => {
    let halts = 0;
    const { server, port } = await start({ onHalt: () => halts++ });
    const c = await connected(port);
    expect(await c.request('halt', 1, 'now')).toEqual(['!halt[1] fail too\\_many\\_arguments\\_for\\_halt']);
    expect(await c.request('halt', 2)).toEqual(['!halt[2] ok']);
    await server.waitClosed();
    await c.closed;
    expect(c.lines.slice(-2)).toEqual(['!halt[2] ok', '#disconnect server\\_shutting\\_down']);
    expect(halts).toBe(1);
    expect(server.halted).toBe(true);
  });

  it('close() while listen() is binding: listen() rejects with InvalidStateError (it never settled)', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const server = new DeviceServer({ host });
      servers.push(server);
      let outcome: unknown = 'pending';
      const listening = server.listen();
      listening.then(
        (a) => (outcome = a),
        (err: unknown) => (outcome = err),
      );
      await server.close();
      await new Promise((r) => setImmediate(r));
      expect(outcome).toBeInstanceOf(InvalidStateError);
      expect((outcome as Error).message).toMatch(/closed before it was listening/);
      expect(server.address).toBeNull();
      await expect(server.listen()).rejects.toBeInstanceOf(InvalidStateError);
    }
  });

  it('a taken port rejects listen() with PortInUseError and leaves nothing listening', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const server = new DeviceServer({ port });
      servers.push(server);
      await expect(server.listen()).rejects.toBeInstanceOf(PortInUseError);
      await expect(server.listen()).rejects.toThrow(/port \d+ is in use/);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
