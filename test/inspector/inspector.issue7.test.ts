/**
 * Issue 7 ("Hardening: what a hostile review broke"), the inspector's items: a port in use, hostile values in a
 * context, unbounded reply buffers, DNS rebinding, read-write reaching engine internals, secrets reaching the
 * page, and one serialisation per batch for every client.
 */
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { assign, fromCallback, setup } from 'xstate';
import { Status } from '../../src/api/status.js';
import type { Logger } from '../../src/engine/logging.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import {
  InspectorEventError,
  InvalidArgumentError,
  ListenError,
  OrreryError,
  PortInUseError,
} from '../../src/errors.js';
import { type Inspector, startInspector } from '../../src/inspector/server.js';
import { Tracker } from '../../src/inspector/tracker.js';
import { invokeLrc } from '../../src/protocols/tango/lrc/invokeLrc.js';
import { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { ResultCode } from '../../src/protocols/tango/wire.js';
import { connectPage, type Msg } from './support/pageClient.js';

let system: OrrerySystem;
let inspector: Inspector | undefined;
const sockets: WebSocket[] = [];
const servers: Server[] = [];
const devices: SkaDeviceSimulator[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const ws of sockets.splice(0)) ws.terminate();
  await inspector?.close();
  inspector = undefined;
  for (const d of devices.splice(0)) await d.close();
  await system?.stop();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

function connect(url: string, opts: WebSocket.ClientOptions & { origin?: string } = {}) {
  return connectPage(url, sockets, opts);
}

function httpGet(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const until = async (cond: () => boolean, what: string, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

async function listeningServers(): Promise<number> {
  await new Promise((r) => setImmediate(r));
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
}

function memoryLogger() {
  const lines: Array<{ level: string; obj: unknown; msg?: string }> = [];
  const logger: Logger = {
    child: () => logger,
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (obj, msg) => void lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => void lines.push({ level: 'error', obj, msg }),
  };
  return { logger, lines };
}

const counter = setup({
  types: { context: {} as { n: number }, events: {} as { type: 'INC' } | { type: 'RESET' } },
}).createMachine({
  id: 'counter7',
  context: { n: 0 },
  initial: 'counting',
  states: {
    counting: {
      on: {
        INC: { actions: assign({ n: ({ context }) => context.n + 1 }) },
        RESET: { actions: assign({ n: 0 }) },
      },
    },
  },
});

describe('issue 7: inspector', () => {
  it('issue 7 item 1: a port in use rejects with PortInUseError, no unhandled error, nothing left listening', async () => {
    system = createSystem();
    const blocker = createServer();
    servers.push(blocker);
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const before = await listeningServers();
    const err = await startInspector(system, { port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortInUseError);
    expect(err).toMatchObject({ code: 'ORRERY_PORT_IN_USE', port, host: '127.0.0.1' });
    expect((err as Error).message).toBe(`port ${port} is in use`);
    expect(await listeningServers()).toBe(before);
    // the same again: still typed, still nothing left behind (no engine subscription kept either)
    await expect(startInspector(system, { port })).rejects.toBeInstanceOf(PortInUseError);
    expect(await listeningServers()).toBe(before);

    // any other listen error is typed too: an address that is not on this machine (TEST-NET-1)
    const other = await startInspector(system, { host: '192.0.2.1', allowRemote: true }).catch((e) => e);
    expect(other).toBeInstanceOf(ListenError);
    expect(other).toBeInstanceOf(OrreryError);
    expect(await listeningServers()).toBe(before);

    // bad options are typed errors before anything listens
    for (const bad of [
      { port: -1 },
      { port: 70000 },
      { port: '7420' },
      { bufferSize: 0 },
      { highWaterMark: 1000, maxClientBuffer: 10 },
      { allowedHosts: 'evil.example' },
      { redact: [42] },
      { readOnly: 'no' },
    ]) {
      await expect(startInspector(system, bad as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(await listeningServers()).toBe(before);

    // and the port works once it is free
    await new Promise((r) => blocker.close(r));
    servers.length = 0;
    inspector = await startInspector(system, { port });
    expect(inspector.url).toBe(`http://127.0.0.1:${port}/`);
  });

  it('issue 7 item 2: a hostile value in an actor context or event never kills the process; shown as [unreadable]', async () => {
    const { logger, lines } = memoryLogger();
    system = createSystem({ logger });
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const hostile = {
      getter: {
        ok: 1,
        get boom(): number {
          throw new Error('getter says no');
        },
      },
      revoked,
      ownKeys: new Proxy(
        {},
        {
          ownKeys() {
            throw new Error('ownKeys says no');
          },
        },
      ),
      trapAll: new Proxy(
        {},
        {
          get() {
            throw new Error('get says no');
          },
          getPrototypeOf() {
            throw new Error('getPrototypeOf says no');
          },
        },
      ),
      fine: 'visible',
    };
    const holder = setup({
      types: { context: {} as Record<string, unknown> },
    }).createMachine({
      id: 'holder',
      context: () => ({ ...hostile }),
      initial: 'a',
      states: { a: { on: { GO: { target: 'b', actions: assign({ later: () => revoked }) } } }, b: {} },
    });
    const actor = system.spawn(holder, { systemId: 'holder' });
    inspector = await startInspector(system, { batchIntervalMs: 20 });
    const c = connect(inspector.url);
    await c.opened;
    const hello = await c.next((m) => m.type === 'hello');
    const ctx = hello.actors.find((a: Msg) => a.systemId === 'holder').context;
    expect(ctx).toEqual({
      getter: { ok: 1, boom: '[unreadable]' },
      revoked: '[unreadable]',
      ownKeys: '[unreadable]',
      trapAll: '[unreadable]',
      fine: 'visible',
    });
    // an event carrying hostile values, and a new hostile value in the context, while the page is connected
    actor.send({ type: 'GO', payload: revoked, other: hostile.ownKeys } as never);
    const batch = await c.next((m) => m.type === 'batch' && m.actors.some((a: Msg) => a.value === 'b'));
    expect(batch.actors.find((a: Msg) => a.value === 'b').context.later).toBe('[unreadable]');
    const go = batch.events.find((e: Msg) => e.type === 'GO');
    expect(go.data).toEqual({ payload: '[unreadable]', other: '[unreadable]' });

    // the flush timer itself never throws: a failing flush is logged and the next one goes on
    vi.spyOn(Tracker.prototype, 'flush').mockImplementationOnce(() => {
      throw new Error('flush exploded');
    });
    await until(() => lines.some((l) => l.msg === 'inspector: flush failed'), 'the flush failure log line');
    actor.send({ type: 'GO' } as never);
    system.spawn(counter, { systemId: 'after' });
    await c.next((m) => m.type === 'batch' && m.actors.some((a: Msg) => a.systemId === 'after'));
  });

  it('issue 7 item 4: a client flooding pings without reading is closed at its buffer cap; refusals and ids are bounded', async () => {
    system = createSystem();
    inspector = await startInspector(system, { highWaterMark: 16 * 1024, maxClientBuffer: 64 * 1024 });
    const flood = connect(inspector.url);
    await flood.opened;
    await flood.next((m) => m.type === 'hello');
    flood.ws.pause(); // never reads again
    const id = 'i'.repeat(128);
    const ping = JSON.stringify({ type: 'ping', id });
    let sent = 0;
    // enough pongs to fill both kernel socket buffers many times over; the server stops at its cap
    while (flood.ws.readyState === WebSocket.OPEN && sent < 400_000) {
      for (let i = 0; i < 1000; i++) flood.ws.send(ping);
      sent += 1000;
      // let the server read what was sent (on a loaded machine the client could otherwise queue all 400k)
      for (let spins = 0; flood.ws.bufferedAmount > 256 * 1024 && spins < 10_000; spins++) {
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setImmediate(r));
      const stats = inspector.stats().clients;
      if (stats.length === 0 || stats[0].closing) break;
      // what the server holds for this client never goes past the cap (plus one frame)
      expect(stats[0].bufferedAmount).toBeLessThanOrEqual(64 * 1024 + 512);
      if (sent % 20_000 === 0 && inspector.stats().clients.length === 0) break;
    }
    flood.ws.resume();
    const { code } = await flood.closed;
    expect(code).toBe(1013);
    expect(sent).toBeLessThan(400_000);

    // read-only refusals count towards the malformed-message limit
    const refused = connect(inspector.url);
    await refused.opened;
    for (let i = 0; i < 25; i++)
      refused.ws.send(JSON.stringify({ type: 'send', systemId: 'x', event: { type: 'GO' }, id: i }));
    expect((await refused.closed).code).toBe(1008);
    expect(refused.messages.filter((m) => m.type === 'error').length).toBeLessThanOrEqual(20);

    // an echoed id is bounded
    const c = connect(inspector.url);
    await c.opened;
    c.ws.send(JSON.stringify({ type: 'ping', id: 'x'.repeat(128) }));
    await c.next((m) => m.type === 'pong' && m.id === 'x'.repeat(128));
    c.ws.send(JSON.stringify({ type: 'ping', id: 'y'.repeat(129) }));
    const err = await c.next((m) => m.type === 'error' && /id must be/.test(m.message));
    expect(err.id).toBeUndefined();
    c.ws.send(JSON.stringify({ type: 'ping', id: { huge: 'z'.repeat(1000) } }));
    await c.next((m) => m.type === 'error' && m.message.includes('id must be') && m !== err);
    expect(c.raw.join('')).not.toContain('y'.repeat(129));
    expect(c.raw.join('')).not.toContain('z'.repeat(1000));
  });

  it('issue 7 item 5: Host and Origin must match the allow-list even with allowRemote (DNS rebinding)', async () => {
    system = createSystem();
    inspector = await startInspector(system, {
      host: '0.0.0.0',
      allowRemote: true,
      readOnly: false,
      allowedHosts: ['inspector.example.org'],
    });
    const port = new URL(inspector.url).port;
    const local = `http://127.0.0.1:${port}/`;
    // a page on evil.example whose name now resolves to the inspector
    expect((await httpGet(local, { host: `evil.example:${port}` })).status).toBe(421);
    expect((await httpGet(`${local}healthz`, { host: 'evil.example' })).status).toBe(421);
    const rebound = connect(local, { headers: { host: `evil.example:${port}` } });
    await expect(rebound.opened).rejects.toThrow();
    const foreignOrigin = connect(local, { origin: `http://evil.example:${port}` });
    await expect(foreignOrigin.opened).rejects.toThrow();
    const nullOrigin = connect(local, { origin: 'null' });
    await expect(nullOrigin.opened).rejects.toThrow();
    // an allowed name, with another allowed name's origin: not the same origin
    const crossed = connect(local, {
      headers: { host: `inspector.example.org:${port}` },
      origin: `http://localhost:${port}`,
    });
    await expect(crossed.opened).rejects.toThrow();

    // the allow-list: loopback names and addresses, allowedHosts (any case, trailing dot)
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `[::1]:${port}`,
      `inspector.example.org:${port}`,
      `INSPECTOR.Example.org.:${port}`,
    ]) {
      expect((await httpGet(local, { host })).status, host).toBe(200);
    }
    const same = connect(local, {
      headers: { host: `inspector.example.org:${port}` },
      origin: `http://inspector.example.org:${port}`,
    });
    await same.opened;
    await same.next((m) => m.type === 'hello');
    const upper = connect(local, {
      headers: { host: `INSPECTOR.example.org:${port}` },
      origin: `http://inspector.example.org:${port}`,
    });
    await upper.opened;

    // without allowRemote: loopback names only
    await inspector.close();
    inspector = await startInspector(system);
    expect((await httpGet(inspector.url, { host: 'evil.example' })).status).toBe(421);
    expect((await httpGet(inspector.url, { host: 'inspector.example.org' })).status).toBe(421);
    expect((await httpGet(inspector.url)).status).toBe(200);
  });

  it('issue 7 item 6: read-write sends a machine only its declared events, never to supervisors; an error field becomes an Error', async () => {
    system = createSystem();
    const count = system.spawn(counter, { systemId: 'count' });
    const status = new Status({ system, systemId: 'status-1', name: 'move' });
    const pending = new Status({ system, systemId: 'status-2', name: 'hold' });
    system.spawn(
      fromCallback(() => () => {}),
      { systemId: 'engine-io' },
    );
    inspector = await startInspector(system, { readOnly: false });
    const c = connect(inspector.url);
    await c.opened;
    await c.next((m) => m.type === 'hello');
    let id = 0;
    const send = async (systemId: string, event: Record<string, unknown>) => {
      const mine = ++id;
      c.ws.send(JSON.stringify({ type: 'send', systemId, event, id: mine }));
      return c.next((m) => (m.type === 'ack' || m.type === 'error') && m.id === mine);
    };

    // the supervisor tree is out of reach: the system stays up
    const bogus = await send('supervisor:root', {
      type: 'START_CHILDREN',
      specs: [{ id: 'x', logic: 'bogus' }],
    });
    expect(bogus).toMatchObject({ type: 'error', message: expect.stringMatching(/not allowed/) });
    expect((await send('supervisor:root', { type: 'SHUTDOWN' })).type).toBe('error');
    expect(system.supervisorActor('root')?.getSnapshot().status).toBe('active');
    expect(system.failure).toBeUndefined();
    // so are actors that are not state machines
    expect((await send('engine-io', { type: 'ANY' })).message).toMatch(/not allowed/);
    // only the machine's own event types
    expect((await send('count', { type: 'BOGUS' })).message).toMatch(/not allowed.*INC, RESET/);
    expect((await send('count', { type: 'xstate.stop' })).message).toMatch(/not allowed/);
    expect((await send('count', { type: 'INC' })).type).toBe('ack');
    expect(count.getSnapshot().context.n).toBe(1);

    // an error field is never a plain object
    expect((await send('status-1', { type: 'FAIL', error: {} })).message).toMatch(/error message/);
    expect((await send('status-1', { type: 'FAIL', error: 42 })).message).toMatch(/error message/);
    expect(status.done).toBe(false);
    expect((await send('status-1', { type: 'FAIL', error: 'operator aborted the move' })).type).toBe('ack');
    expect(status.done).toBe(true);
    const e = status.exception();
    expect(e).toBeInstanceOf(InspectorEventError);
    expect(e).toBeInstanceOf(OrreryError);
    expect(e?.message).toBe('operator aborted the move');
    expect((await send('status-2', { type: 'CANCEL', error: { message: 'from the page' } })).type).toBe(
      'ack',
    );
    expect(pending.exception()).toBeInstanceOf(InspectorEventError);
    // JSON payload checks: prototype keys, depth
    expect((await send('count', JSON.parse('{"type":"INC","__proto__":{"x":1}}'))).message).toMatch(
      /not allowed/,
    );
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 20; i++) deep = { deep };
    expect((await send('count', { type: 'INC', deep })).message).toMatch(/nested too deeply/);
    expect(count.getSnapshot().context.n).toBe(1);
    expect((await send('nobody', { type: 'INC' })).message).toMatch(/no actor/);
  });

  it('issue 7 item 8: a batch is serialised once for every up-to-date client', async () => {
    system = createSystem();
    const actor = system.spawn(counter, { systemId: 'count' });
    inspector = await startInspector(system, { batchIntervalMs: 50 });
    const clients = Array.from({ length: 5 }, () => connect(inspector!.url));
    for (const c of clients) {
      await c.opened;
      await c.next((m) => m.type === 'hello');
    }
    const stringify = vi.spyOn(JSON, 'stringify');
    actor.send({ type: 'INC' });
    const batches = await Promise.all(
      clients.map((c) => c.next((m) => m.type === 'batch' && m.events.some((e: Msg) => e.type === 'INC'))),
    );
    const serialisedBatches = stringify.mock.calls.filter(
      ([v]) => (v as { type?: string } | null)?.type === 'batch',
    ).length;
    stringify.mockRestore();
    expect(serialisedBatches).toBe(1);
    // and every client got the same bytes
    const texts = clients.map((c) => c.raw.find((r) => r.includes('"INC"')));
    expect(new Set(texts).size).toBe(1);
    expect(batches[0].events.find((e: Msg) => e.type === 'INC').targetId).toBe(actor.id);
  });
});

describe('issue 7 item 7: secrets never reach a WebSocket client', () => {
  it('issue 7 item 7: none of 34 planted secrets (context, events, errors, engine events, LRC views) reaches a page', async () => {
    const secret = (n: number) => `Zq${n}SECRETVALUE${n}xK`;
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvYnMtb3BzIn0.c2lnbmF0dXJlLXZhbHVl';
    const planted = [...Array.from({ length: 33 }, (_, i) => secret(i + 1)), jwt];
    system = createSystem();
    inspector = await startInspector(system, { batchIntervalMs: 20, redact: ['serial', 'device.host'] });
    const early = connect(inspector.url);
    await early.opened;
    await early.next((m) => m.type === 'hello');

    const vault = setup({
      types: { context: {} as Record<string, unknown>, input: {} as Record<string, unknown> },
      actions: {
        crash: ({ event }) => {
          throw new Error(`login to plc failed: secret=${secret((event as { n?: number }).n ?? 0)}`);
        },
      },
    }).createMachine({
      id: 'vault',
      context: ({ input }) => input,
      initial: 'open',
      states: {
        open: { on: { LOGIN: {}, NOTE: {}, CRASH: { actions: 'crash' }, FINISH: 'done' } },
        done: { type: 'final' },
      },
      output: ({ context }) => ({ ok: true, token: context.outToken, note: `api_key=${secret(27)}` }),
    });
    const context = {
      password: secret(1),
      jwt: secret(2),
      bearer: secret(3),
      privKey: secret(4),
      ssh_key: secret(5),
      otp: secret(6),
      sessionId: secret(7),
      headers: [['Authorization', `Bearer ${secret(8)}`]],
      rawHeaders: ['Host', 'plc', 'Cookie', `sid=${secret(9)}`],
      nested: { deep: { api_key: secret(10) } },
      map: new Map([['token', secret(11)]]),
      note: `connecting with password=${secret(12)} now`,
      json: `{"token":"${secret(13)}","user":"ops"}`,
      url: `https://ops:${secret(14)}@plc.example/`,
      err: new Error(`login failed: token: ${secret(15)}`),
      'PRIV-KEY': secret(16),
      pin: secret(17),
      serial: secret(18),
      device: { host: secret(19), port: 502 },
      python: `{'secret': '${secret(20)}'}`,
      escaped: JSON.stringify({ args: JSON.stringify({ token: secret(21) }) }),
      jwtText: `got ${jwt} from the IdP`,
      outToken: secret(26),
      spin: 3,
      passive: true,
    };
    const v = system.spawn(vault, { systemId: 'vault', input: context });
    v.send({ type: 'LOGIN', credentials: { user: 'ops', password: secret(22) } } as never);
    v.send({ type: 'NOTE', note: `Authorization: Bearer ${secret(23)}` } as never);
    v.send({
      type: 'NOTE',
      pairs: [['x-api-key', secret(24)]],
      header: `X-Auth-Token: ${secret(25)}`,
    } as never);
    v.send({ type: 'FINISH' } as never);
    // a detached actor crashing (its error, and the engine's actor.failed event) and a supervised one
    system.spawn(vault, { systemId: 'crash-1', input: {} }).send({ type: 'CRASH', n: 28 } as never);
    system.supervisor('rack');
    system
      .spawn(vault, { supervisor: 'rack', id: 'crash-2', restart: 'temporary', input: {} })
      .send({ type: 'CRASH', n: 29 } as never);
    // a Status that failed with a secret in its message
    new Status({ system, name: 'move' }).setException(new Error(`password: ${secret(30)}`));

    // LRCs: a v2 result holding a token, a rejection quoting one, arguments holding one, a v1 result
    const device = new SkaDeviceSimulator({
      name: 'test/vault/1',
      commands: {
        Scan: () => [ResultCode.OK, { token: secret(31), ok: true }],
        Login: {
          execute: () => [ResultCode.OK, 'never'],
          validate: () => `Login rejected: token=${secret(32)} is expired`,
        },
      },
    });
    const v1 = new SkaDeviceSimulator({
      name: 'test/vault/2',
      protocolVersions: null,
      commands: { Scan: () => [ResultCode.OK, { session_id: secret(33) }] },
    });
    devices.push(device, v1);
    const scan = await invokeLrc(() => {}, device, 'Scan', { password: 'Zq0argSECRETx' }, { system });
    await scan.finished;
    await invokeLrc(() => {}, device, 'Login', undefined, { system }).catch((e: unknown) => e);
    await (await invokeLrc(() => {}, v1, 'Scan', undefined, { system })).finished;

    // everything above reached the page
    await early.next(
      (m) => m.type === 'batch' && m.actors.some((a: Msg) => a.machine === 'vault' && a.output),
    );
    await early.next(
      (m) =>
        m.type === 'batch' && m.engine.some((e: Msg) => e.type === 'child.exited' && e.child === 'crash-2'),
    );
    await early.next((m) => m.type === 'batch' && m.engine.some((e: Msg) => e.type === 'actor.failed'));
    await early.next(
      (m) => m.type === 'batch' && m.actors.some((a: Msg) => a.machine === 'lrc' && a.summary?.error),
    );
    const withResult = () =>
      new Set(
        early.messages.flatMap((m) =>
          m.type === 'batch' ? m.actors.filter((a: Msg) => a.summary?.result).map((a: Msg) => a.key) : [],
        ),
      ).size;
    await until(() => withResult() >= 2, 'both LRC results');
    const late = connect(inspector.url);
    await late.opened;
    await late.next((m) => m.type === 'hello');

    const text = [...early.raw, ...late.raw].join('\n');
    // the things around the secrets did arrive (so the assertions below are not vacuous)
    expect(text).toContain('[REDACTED]');
    expect(text).toContain('"spin":3');
    expect(text).toContain('"passive":true');
    expect(text).toContain('login to plc failed');
    expect(text).toContain('Login rejected');
    expect(text).toContain('LOGIN');
    for (const place of [
      'DEVICE_EVENT',
      '_lrcEvent',
      'longRunningCommandResult',
      'child.exited',
      'actor.failed',
    ])
      expect(text).toContain(place);
    expect(text).not.toContain('SECRETVALUE');
    const leaked = [...planted, 'Zq0argSECRETx'].filter((s) => text.includes(s));
    expect(leaked).toEqual([]);
  });
});
