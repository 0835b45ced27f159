/**
 * The device server against hostile request handlers (over real TCP): a handler that throws or rejects with
 * something that cannot be made a string, or returns a thenable whose `then` throws or calls back twice. Each
 * request still gets its `!reply fail`, nothing escapes as an uncaught exception or unhandled rejection, and
 * `maxPending` holds. The process listeners make a crash on the old code fail the test at once (not hang it).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeviceServer } from '../../src/protocols/katcp/server.js';
import { closeAllRawClients, RawClient } from './support/exampleServer.js';

const servers: DeviceServer[] = [];
const escaped: unknown[] = [];
let crashed: (err: unknown) => void = () => {};
/** Rejects on the first uncaught exception or unhandled rejection (raced against each reply). */
let crash: Promise<never>;
const onEscape = (err: unknown) => {
  escaped.push(err);
  crashed(err);
};

beforeEach(() => {
  escaped.length = 0;
  crash = new Promise<never>((_resolve, reject) => {
    crashed = reject;
  });
  crash.catch(() => {});
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
});
afterEach(async () => {
  await closeAllRawClients();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

async function start(server: DeviceServer): Promise<RawClient> {
  servers.push(server);
  const { port } = await server.listen();
  const c = await RawClient.connect(port);
  await c.waitForLines(3);
  return c;
}

/** `c.request(...)`, failing at once if the server crashed instead of replying. */
function ask(c: RawClient, name: string, mid: number): Promise<string[]> {
  return Promise.race([c.request(name, mid), crash]);
}

describe('hostile request handlers', () => {
  it('a handler throwing an object without a prototype gets !fail, and the server goes on', async () => {
    const server = new DeviceServer();
    server.addRequest('boom', 'x', () => {
      throw Object.create(null);
    });
    const c = await start(server);
    expect(await ask(c, 'boom', 1)).toEqual(['!boom[1] fail Error:\\_[object\\_Object]']);
    expect(await ask(c, 'watchdog', 2)).toEqual(['!watchdog[2] ok']);
    expect(escaped).toEqual([]);
  });

  it('a handler rejecting with an object without a prototype gets !fail, and the server goes on', async () => {
    const server = new DeviceServer({ maxPending: 1 });
    server.addRequest('aboom', 'x', async () => {
      throw Object.create(null);
    });
    const c = await start(server);
    expect(await ask(c, 'aboom', 1)).toEqual(['!aboom[1] fail Error:\\_[object\\_Object]']);
    // the request settled: with maxPending 1 the next one still runs
    expect(await ask(c, 'aboom', 2)).toEqual(['!aboom[2] fail Error:\\_[object\\_Object]']);
    expect(await ask(c, 'watchdog', 3)).toEqual(['!watchdog[3] ok']);
    expect(escaped).toEqual([]);
  });

  it('a thenable whose then() throws is a rejection: !fail, and the server goes on', async () => {
    const server = new DeviceServer({ maxPending: 1 });
    server.addRequest(
      'thenthrow',
      'x',
      () =>
        ({
          // biome-ignore lint/suspicious/noThenProperty: a hostile thenable, on purpose
          then() {
            throw new Error('hostile then');
          },
        }) as unknown as Promise<void>,
    );
    const c = await start(server);
    expect(await ask(c, 'thenthrow', 1)).toEqual(['!thenthrow[1] fail Error:\\_hostile\\_then']);
    expect(await ask(c, 'watchdog', 2)).toEqual(['!watchdog[2] ok']);
    expect(escaped).toEqual([]);
  });

  it('a thenable that calls back twice settles its request once: maxPending still holds', async () => {
    const server = new DeviceServer({ maxPending: 1 });
    let started = 0;
    server.addRequest(
      'dbl',
      'x',
      () =>
        ({
          // biome-ignore lint/suspicious/noThenProperty: a hostile thenable, on purpose
          then(ok: (v: unknown) => void, fail: (e: unknown) => void) {
            ok(['a']);
            ok(['b']);
            fail(new Error('late'));
          },
        }) as unknown as Promise<string[]>,
    );
    const gates: (() => void)[] = [];
    server.addRequest('hang', 'x', (ctx) => {
      started++;
      return new Promise<void>((resolve, reject) => {
        gates.push(resolve);
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      });
    });
    const c = await start(server);
    c.send('?dbl[1]\n?hang[2]\n?hang[3]\n?hang[4]');
    await Promise.race([c.waitFor((l) => l.startsWith('!dbl[1]')), crash]);
    // everything the server does for one batch of input is done before its first reply goes out
    expect(started).toBe(1);
    gates[0]();
    await Promise.race([c.waitFor((l) => l === '!hang[2] ok'), crash]);
    expect(started).toBe(2);
    expect(c.lines.filter((l) => l.startsWith('!dbl'))).toEqual(['!dbl[1] ok a']);
    expect(escaped).toEqual([]);
  });
});
