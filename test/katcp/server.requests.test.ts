/**
 * issue 9 item 4: the device server's standard requests, user requests and connection informs over real TCP on
 * loopback, answered as aiokatcp 1.9 answers them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FailReply, InvalidReply } from '../../src/protocols/katcp/errors.js';
import { Sensor } from '../../src/protocols/katcp/sensor.js';
import { DeviceServer } from '../../src/protocols/katcp/server.js';
import { TestClock } from '../../src/testing/index.js';
import {
  closeAllRawClients,
  createExampleServer,
  type ExampleServer,
  RawClient,
} from './support/exampleServer.js';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await closeAllRawClients();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function example(): Promise<{ ex: ExampleServer; port: number; clock: TestClock }> {
  const clock = new TestClock();
  const ex = createExampleServer({ clock, now: () => 1795421238.5 });
  servers.push(ex);
  const { port } = await ex.server.listen();
  return { ex, port, clock };
}

async function connected(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.waitForLines(3);
  return c;
}

describe('issue 9 item 4: connecting', () => {
  it('sends the three #version-connect informs, then #client-connected to the other clients only', async () => {
    const { port } = await example();
    const a = await connected(port);
    expect(a.lines[0]).toBe('#version-connect katcp-protocol 5.1-MIB');
    expect(a.lines[1]).toMatch(/^#version-connect katcp-library orrery-\S+ orrery-\S+$/);
    expect(a.lines[2]).toBe('#version-connect katcp-device testapi-1.0 testapi-1.0.1');
    const b = await connected(port);
    const local = b.socket.localPort;
    expect(await a.waitFor((l) => l.startsWith('#client-connected'))).toBe(
      `#client-connected 127.0.0.1:${local}`,
    );
    await b.request('watchdog', 1);
    expect(b.lines.some((l) => l.startsWith('#client-connected'))).toBe(false);
  });

  it('advertises T when a request has a timeout hint, and answers ?request-timeout-hint', async () => {
    const server = new DeviceServer();
    servers.push(server);
    server.addRequest('slow', 'A slow one', () => {}, { timeoutHint: 2.5 });
    server.addRequest('fast', 'A fast one', () => {});
    const { port } = await server.listen();
    const c = await connected(port);
    expect(c.lines[0]).toBe('#version-connect katcp-protocol 5.1-MIBT');
    expect(c.lines[2]).toBe('#version-connect katcp-device orrery-device-1.0 orrery-device-1.0.0');
    expect(await c.request('request-timeout-hint', 1)).toEqual([
      '#request-timeout-hint[1] slow 2.5',
      '!request-timeout-hint[1] ok 1',
    ]);
    expect(await c.request('request-timeout-hint', 2, 'fast')).toEqual([
      '#request-timeout-hint[2] fast 0.0',
      '!request-timeout-hint[2] ok 1',
    ]);
    expect(await c.request('request-timeout-hint', 3, 'nope')).toEqual([
      '!request-timeout-hint[3] fail request\\_nope\\_is\\_not\\_known',
    ]);
  });
});

describe('issue 9 item 4: standard requests', () => {
  it('?help lists every request with the first line of its description, ?help name the whole of it', async () => {
    const { ex, port } = await example();
    ex.server.addRequest('multi', 'First line\nsecond line', () => {});
    const c = await connected(port);
    const all = await c.request('help', 1);
    const names = all.slice(0, -1).map((l) => l.split(' ')[1]);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(
      expect.arrayContaining([
        'client-list',
        'counter',
        'crash',
        'echo',
        'fail',
        'halt',
        'help',
        'log-level',
        'sensor-list',
        'sensor-sampling',
        'sensor-value',
        'sleep',
        'version-list',
        'watchdog',
        'multi',
      ]),
    );
    expect(all).toContain('#help[1] multi First\\_line');
    expect(all.at(-1)).toBe(`!help[1] ok ${names.length}`);
    expect(await c.request('help', 2, 'multi')).toEqual([
      '#help[2] multi First\\_line\\nsecond\\_line',
      '!help[2] ok 1',
    ]);
    expect(await c.request('help', 3, 'nosuch')).toEqual([
      '!help[3] fail request\\_nosuch\\_is\\_not\\_known',
    ]);
    expect(await c.request('help', 4, 'a', 'b')).toEqual([
      '!help[4] fail too\\_many\\_arguments\\_for\\_help',
    ]);
  });

  it('?sensor-list and ?sensor-value: all (sorted), by name, by /regex/, unknown, bad regex', async () => {
    const { port } = await example();
    const c = await connected(port);
    expect(await c.request('sensor-list', 1)).toEqual([
      '#sensor-list[1] counter-queries number\\_of\\_?counter\\_queries \\@ integer',
      '#sensor-list[1] foo nonsense \\@ discrete abc-def ghi-k',
      '#sensor-list[1] total \\@ \\@ integer',
      '!sensor-list[1] ok 3',
    ]);
    expect(await c.request('sensor-list', 2, '/o/')).toHaveLength(4);
    expect(await c.request('sensor-list', 3, '/^t/')).toEqual([
      '#sensor-list[3] total \\@ \\@ integer',
      '!sensor-list[3] ok 1',
    ]);
    expect(await c.request('sensor-list', 4, 'nosuch')).toEqual([
      "!sensor-list[4] fail Unknown\\_sensor\\_'nosuch'",
    ]);
    const bad = await c.request('sensor-list', 5, '/(/');
    expect(bad[0]).toMatch(/^!sensor-list\[5\] fail \S+/);
    expect(await c.request('sensor-value', 6)).toEqual([
      '#sensor-value[6] 1795421238.5 1 counter-queries nominal 0',
      '#sensor-value[6] 1795421238.5 1 foo unknown abc-def',
      '#sensor-value[6] 1795421238.5 1 total nominal 0',
      '!sensor-value[6] ok 3',
    ]);
    expect(await c.request('sensor-value', 7, 'foo')).toEqual([
      '#sensor-value[7] 1795421238.5 1 foo unknown abc-def',
      '!sensor-value[7] ok 1',
    ]);
    expect(await c.request('sensor-value', 8, 'nosuch')).toEqual([
      "!sensor-value[8] fail Unknown\\_sensor\\_'nosuch'",
    ]);
  });

  it('float sensor values and timestamps are written as aiokatcp writes them (1.0, inf, nan)', async () => {
    const server = new DeviceServer();
    servers.push(server);
    const t = new Sensor({ name: 't', type: 'float', initial: 2, status: 'nominal', now: () => 100 });
    server.addSensor(t);
    const { port } = await server.listen();
    const c = await connected(port);
    expect(await c.request('sensor-value', 1, 't')).toEqual([
      '#sensor-value[1] 100.0 1 t nominal 2.0',
      '!sensor-value[1] ok 1',
    ]);
    t.set(Number.POSITIVE_INFINITY, 'warn', 100.25);
    expect((await c.request('sensor-value', 2, 't'))[0]).toBe('#sensor-value[2] 100.25 1 t warn inf');
    t.set(Number.NaN, 'error', 101);
    expect((await c.request('sensor-value', 3, 't'))[0]).toBe('#sensor-value[3] 101.0 1 t error nan');
  });

  it('?watchdog, ?version-list, ?client-list, ?log-level (device-global), and argument counts', async () => {
    const { port } = await example();
    const c = await connected(port);
    const d = await connected(port);
    expect(await c.request('watchdog', 1)).toEqual(['!watchdog[1] ok']);
    expect(await c.request('watchdog', 2, 'x')).toEqual([
      '!watchdog[2] fail too\\_many\\_arguments\\_for\\_watchdog',
    ]);
    const versions = await c.request('version-list', 3);
    expect(versions[0]).toBe('#version-list[3] katcp-protocol 5.1-MIB');
    expect(versions[2]).toBe('#version-list[3] katcp-device testapi-1.0 testapi-1.0.1');
    expect(versions[3]).toBe('!version-list[3] ok 3');
    const clients = await c.request('client-list', 4);
    expect(clients.slice(0, -1).sort()).toEqual(
      [
        `#client-list[4] 127.0.0.1:${c.socket.localPort}`,
        `#client-list[4] 127.0.0.1:${d.socket.localPort}`,
      ].sort(),
    );
    expect(clients.at(-1)).toBe('!client-list[4] ok 2');
    expect(await c.request('log-level', 5)).toEqual(['!log-level[5] ok warn']);
    expect(await c.request('log-level', 6, 'debug')).toEqual(['!log-level[6] ok debug']);
    expect(await d.request('log-level', 7)).toEqual(['!log-level[7] ok debug']);
    expect((await c.request('log-level', 8, 'loud'))[0]).toMatch(/^!log-level\[8\] fail \\?'?loud/);
    expect(await c.request('sensor-sampling', 9)).toEqual([
      '!sensor-sampling[9] fail too\\_few\\_arguments\\_for\\_sensor-sampling',
    ]);
  });

  it('requests without a message id get replies without one', async () => {
    const { port } = await example();
    const c = await connected(port);
    c.send('?echo a\\_b \\@');
    expect(await c.waitFor((l) => l.startsWith('!echo'))).toBe('!echo ok a\\_b \\@');
  });
});

describe('issue 9 item 4: user requests', () => {
  it('return values, FailReply, InvalidReply, other errors, unknown requests, informs with the mid', async () => {
    const server = new DeviceServer();
    servers.push(server);
    server.addRequest('add', 'Add two integers', (_ctx, a, b) => [Number(a) + Number(b)], {
      minArgs: 2,
      maxArgs: 2,
    });
    server.addRequest('list', 'Informs then a count', (ctx) => {
      ctx.inform('one', 1);
      ctx.inform('two', 2.5);
      return [2];
    });
    server.addRequest('nope', 'Fails', () => {
      throw new FailReply('not today');
    });
    server.addRequest('bad', 'Invalid', () => {
      throw new InvalidReply('what is this');
    });
    server.addRequest('boom', 'Throws', () => {
      throw new TypeError('oops');
    });
    server.addRequest('later', 'Async', async () => {
      await Promise.resolve();
      throw new RangeError('later oops');
    });
    const { port } = await server.listen();
    const c = await connected(port);
    expect(await c.request('add', 1, '2', '3')).toEqual(['!add[1] ok 5']);
    expect(await c.request('add', 2, '2')).toEqual(['!add[2] fail too\\_few\\_arguments\\_for\\_add']);
    expect(await c.request('list', 3)).toEqual(['#list[3] one 1', '#list[3] two 2.5', '!list[3] ok 2']);
    expect(await c.request('nope', 4)).toEqual(['!nope[4] fail not\\_today']);
    expect(await c.request('bad', 5)).toEqual(['!bad[5] invalid what\\_is\\_this']);
    expect(await c.request('boom', 6)).toEqual(['!boom[6] fail TypeError:\\_oops']);
    expect(await c.request('later', 7)).toEqual(['!later[7] fail RangeError:\\_later\\_oops']);
    expect(await c.request('nosuch', 8)).toEqual(['!nosuch[8] invalid unknown\\_request\\_nosuch']);
  });

  it("handles one client's requests concurrently: an async reply can come after a later one", async () => {
    const clock = new TestClock();
    const ex = createExampleServer({ clock });
    servers.push(ex);
    const { port } = await ex.server.listen();
    const c = await connected(port);
    c.send('?sleep[1] 1');
    expect(await c.request('watchdog', 2)).toEqual(['!watchdog[2] ok']);
    expect(c.lines.some((l) => l.startsWith('!sleep'))).toBe(false);
    clock.advance(1000);
    expect(await c.waitFor((l) => l.startsWith('!sleep'))).toBe('!sleep[1] ok');
    const order = c.lines.filter((l) => l.startsWith('!')).map((l) => l.split(' ')[0]);
    expect(order).toEqual(['!watchdog[2]', '!sleep[1]']);
  });

  it('stops reading a client that has maxPending requests in flight, and resumes when one finishes', async () => {
    const clock = new TestClock();
    const ex = createExampleServer({ clock, maxPending: 2 });
    servers.push(ex);
    const { port } = await ex.server.listen();
    const c = await connected(port);
    c.send('?sleep[1] 1\n?sleep[2] 2\n?watchdog[3]');
    // the watchdog waits behind the two sleeps: a later request on another client proves the server ran meanwhile
    const other = await connected(port);
    await other.request('watchdog', 9);
    expect(c.lines.some((l) => l.startsWith('!watchdog[3]'))).toBe(false);
    clock.advance(1000);
    await c.waitFor((l) => l.startsWith('!watchdog[3]'));
    expect(c.lines.filter((l) => l.startsWith('!')).map((l) => l.split(' ')[0])).toEqual([
      '!sleep[1]',
      '!watchdog[3]',
    ]);
    clock.advance(1000);
    await c.waitFor((l) => l.startsWith('!sleep[2]'));
  });

  it('#interface-changed for requests and sensors added, replaced and removed while listening', async () => {
    const { ex, port } = await example();
    const c = await connected(port);
    ex.server.addRequest('extra', 'Extra', () => {});
    ex.server.addRequest('extra', 'Extra again', () => {});
    expect(ex.server.removeRequest('extra')).toBe(true);
    expect(ex.server.removeRequest('extra')).toBe(false);
    ex.server.addSensor(new Sensor({ name: 'fixed-value', type: 'integer' }));
    expect(ex.server.removeSensor('fixed-value')).toBe(true);
    await c.waitForLines(8);
    expect(c.lines.slice(3)).toEqual([
      '#interface-changed request extra added',
      '#interface-changed request extra modified',
      '#interface-changed request extra removed',
      '#interface-changed sensor fixed-value added',
      '#interface-changed sensor fixed-value removed',
    ]);
  });

  it('rejects bad declarations with InvalidArgumentError', () => {
    const server = new DeviceServer();
    expect(() => server.addRequest('bad name', 'x', () => {})).toThrow(/invalid request name/);
    expect(() => server.addRequest('ok', 'x', () => {}, { timeoutHint: -1 })).toThrow(/timeoutHint/);
    expect(() => new DeviceServer({ port: 70000 })).toThrow(/port/);
    expect(() => new DeviceServer({ maxBacklog: 0 })).toThrow(/maxBacklog/);
    expect(() => new DeviceServer({ flags: 'mi' })).toThrow(/flags/);
  });
});
