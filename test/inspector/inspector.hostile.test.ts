/**
 * The inspector server and tracker under hostile or broken clients and actors: what a review found, each pinned
 * by a test that failed before its fix.
 */
import { request } from 'node:http';
import { type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { type AnyActorLogic, assign, createActor, fromTransition, setup, stopChild } from 'xstate';
import type { Logger } from '../../src/engine/logging.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { ChartRegistry } from '../../src/inspector/charts.js';
import { createInspector, type InspectorWithInspect } from '../../src/inspector/createInspector.js';
import { createRedactor } from '../../src/inspector/redact.js';
import { type Inspector, startInspector } from '../../src/inspector/server.js';
import { bridgeToStately } from '../../src/inspector/statelyBridge.js';
import { Tracker } from '../../src/inspector/tracker.js';
import { inspectorViews, registerInspectorView } from '../../src/inspector/views.js';
import { connectPage, type Msg } from './support/pageClient.js';

let system: OrrerySystem | undefined;
let inspector: Inspector | undefined;
let plain: InspectorWithInspect | undefined;
const sockets: WebSocket[] = [];
const raw: Socket[] = [];
const afterThis: Array<() => void> = [];

afterEach(async () => {
  for (const f of afterThis.splice(0)) f();
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const s of raw.splice(0)) s.destroy();
  await inspector?.close();
  inspector = undefined;
  await plain?.close();
  plain = undefined;
  await system?.stop();
  system = undefined;
});

function memoryLogger() {
  const lines: Array<{ level: string; msg?: string }> = [];
  const logger: Logger = {
    child: () => logger,
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (_obj, msg) => void lines.push({ level: 'warn', msg }),
    error: (_obj, msg) => void lines.push({ level: 'error', msg }),
  };
  return { logger, lines };
}

/** Write `text` on a raw TCP connection; resolves with what came back once the server closes it (or after `ms`). */
function rawExchange(url: string, text: string, ms = 2000): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const s = tcpConnect(Number(port), '127.0.0.1', () => s.write(text));
    raw.push(s);
    let out = '';
    const timer = setTimeout(() => resolve(`${out}[still open]`), ms);
    s.setEncoding('latin1');
    s.on('data', (d) => (out += d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

const statusLine = (response: string) => response.split('\r\n')[0];

function httpGet(url: string) {
  return new Promise<number>((resolve, reject) => {
    const req = request(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Custom logic whose snapshot cannot tell its children: reading `children` throws. */
function unreadableChildren(): AnyActorLogic {
  const snapshot = { status: 'active', output: undefined, error: undefined, context: { n: 1 } };
  Object.defineProperty(snapshot, 'children', {
    enumerable: false,
    get() {
      throw new Error('children says no');
    },
  });
  return {
    transition: (s: unknown) => s,
    getInitialSnapshot: () => snapshot,
    getPersistedSnapshot: (s: unknown) => s,
  } as unknown as AnyActorLogic;
}

const ticker = fromTransition((n: number) => n + 1, 0);

describe('the inspector under hostile or broken clients and actors', () => {
  it('a page connecting while an actor cannot tell its children neither crashes the process nor loses the page', async () => {
    // unit: seeding the tracker reads every live actor's children; an unreadable one must cost that actor only
    const sys = {
      logger: memoryLogger().logger,
      inspect: () => ({ unsubscribe: () => {} }),
      onEngineEvent: () => ({ unsubscribe: () => {} }),
      actors: () => [{ ref: createActor(unreadableChildren()).start() }],
      get: () => undefined,
    };
    const t = new Tracker(sys, {
      redact: createRedactor([]),
      charts: new ChartRegistry(),
      bufferSize: 100,
      maxEventsPerSecond: 1000,
    });
    expect(() => t.start()).not.toThrow();
    expect(t.flush().actors).toHaveLength(1);
    t.dispose();

    // end to end: the seeding runs in the WebSocket upgrade handler, where a throw is an uncaught exception
    plain = await createInspector({ batchIntervalMs: 20 });
    createActor(unreadableChildren(), { inspect: plain.inspect, systemId: 'odd' }).start();
    const c = connectPage(plain.url, sockets);
    const hello = await c.next((m) => m.type === 'hello', 3000);
    expect(hello.actors.some((a: Msg) => a.systemId === 'odd' && a.context?.n === 1)).toBe(true);
  });

  it('stopped actors whose logic ignores the stop (fromTransition, custom logic) are shown stopped and forgotten', async () => {
    // createInspector: 200 transition actors started and stopped while a page watches
    plain = await createInspector({ batchIntervalMs: 20 });
    const c = connectPage(plain.url, sockets);
    await c.next((m) => m.type === 'hello');
    const stoppedKeys = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const a = createActor(ticker, { inspect: plain.inspect }).start();
      a.send({ type: 'TICK' });
      stoppedKeys.add(a.sessionId);
      a.stop();
    }
    // the page is told: each one is in a batch's `stopped` (or ended within a flush and counted)
    const told = () => {
      const keys = new Set<string>();
      let counted = 0;
      for (const m of c.messages) {
        if (m.type !== 'batch') continue;
        for (const key of m.stopped as string[]) if (stoppedKeys.has(key)) keys.add(key);
        for (const f of (m.finished ?? []) as Msg[]) counted += f.count;
      }
      return keys.size + counted;
    };
    const until = Date.now() + 3000;
    while (told() < 200 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(told()).toBe(200);
    expect(plain.stats().liveActors).toBe(0);
    // a page that connects later sees none of them, and the inspect function holds none of them
    sockets.splice(0).forEach((ws) => {
      ws.terminate();
    });
    await new Promise((r) => setTimeout(r, 50));
    const late = connectPage(plain.url, sockets);
    const hello = await late.next((m) => m.type === 'hello');
    expect(hello.actors.filter((a: Msg) => stoppedKeys.has(a.key))).toEqual([]);

    // an Orrery system: a machine spawning and stopping transition children while a page watches
    system = createSystem();
    const parent = setup({ actors: { ticker } }).createMachine({
      id: 'spawner',
      context: { n: 0 },
      on: {
        SPAWN: {
          actions: assign(({ spawn, context }) => {
            spawn('ticker', { id: `t${context.n}` });
            return { n: context.n + 1 };
          }),
        },
        STOP: { actions: stopChild(({ context }) => `t${context.n - 1}`) },
      },
    });
    const p = system.spawn(parent, { systemId: 'spawner' });
    inspector = await startInspector(system, { batchIntervalMs: 20 });
    const page = connectPage(inspector.url, sockets);
    await page.next((m) => m.type === 'hello');
    const base = inspector.stats().liveActors;
    for (let i = 0; i < 100; i++) {
      p.send({ type: 'SPAWN' });
      await new Promise((r) => setTimeout(r, 0));
      p.send({ type: 'STOP' });
    }
    // the page saw the last one come and go; the tracker holds none of them
    await page.next((m) => m.type === 'batch' && m.actors.some((a: Msg) => a.id === 't99'));
    await new Promise((r) => setTimeout(r, 150));
    expect(inspector.stats().liveActors).toBe(base);
  });

  it('a message the server fails on is answered (with its id), counted as refused, and not a log line each', async () => {
    const { logger, lines } = memoryLogger();
    system = createSystem({ logger });
    inspector = await startInspector(system, { batchIntervalMs: 20 });
    const c = connectPage(inspector.url, sockets);
    await c.next((m) => m.type === 'hello');
    // a `type` nested so deeply that turning it into text overflows the stack
    const deep = `${'['.repeat(30_000)}${']'.repeat(30_000)}`;
    for (let i = 0; i < 20; i++) c.ws.send(`{"id":${i},"type":${deep}}`);
    const closed = await Promise.race([
      c.closed,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000)),
    ]);
    for (let i = 0; i < 20; i++) expect(c.messages.some((m) => m.type === 'error' && m.id === i)).toBe(true);
    expect(closed?.code).toBe(1008);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('a request target that is not a URL gets 400, not 500; traversal and odd requests stay 4xx', async () => {
    system = createSystem();
    inspector = await startInspector(system);
    const url = inspector.url;
    const get = (target: string, extra = '') =>
      rawExchange(url, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extra}\r\n`);
    expect(statusLine(await get('//['))).toBe('HTTP/1.1 400 Bad Request');
    expect(statusLine(await get('http://[/'))).toBe('HTTP/1.1 400 Bad Request');
    // what already held: traversal, encoded traversal, unknown methods, huge headers, no Host
    expect(statusLine(await get('/../../etc/passwd'))).toBe('HTTP/1.1 404 Not Found');
    expect(statusLine(await get('/%2e%2e/%2e%2e/etc/passwd'))).toBe('HTTP/1.1 404 Not Found');
    expect(statusLine(await get('/charts/..%2f..%2fpackage.json.svg'))).toBe('HTTP/1.1 400 Bad Request');
    expect(statusLine(await get('/', `X-Pad: ${'a'.repeat(20_000)}\r\n`))).toMatch(/ 431 /);
    expect(
      statusLine(await rawExchange(url, 'BREW / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')),
    ).toMatch(/ 4\d\d /);
    expect(
      statusLine(await rawExchange(url, 'DELETE / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')),
    ).toMatch(/ 405 /);
    expect(statusLine(await rawExchange(url, 'GET / HTTP/1.0\r\n\r\n'))).toMatch(/ 421 /);
    expect(await httpGet(url)).toBe(200); // and it still serves
  });

  it('WebSocket upgrades with bad or missing headers are refused with a 4xx', async () => {
    system = createSystem();
    inspector = await startInspector(system);
    const upgrade = (lines: string[]) =>
      rawExchange(inspector!.url, `${['GET /ws HTTP/1.1', ...lines].join('\r\n')}\r\n\r\n`);
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';
    const base = ['Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade'];
    expect(statusLine(await upgrade([...base, 'Sec-WebSocket-Version: 13']))).toMatch(/ 400 /);
    expect(statusLine(await upgrade([...base, key, 'Sec-WebSocket-Version: 99']))).toMatch(/ 400 /);
    expect(statusLine(await upgrade([...base.slice(1), key, 'Sec-WebSocket-Version: 13']))).toMatch(/ 401 /);
    expect(
      statusLine(await upgrade([...base, key, 'Sec-WebSocket-Version: 13', 'Origin: http://evil.example'])),
    ).toMatch(/ 401 /);
    // protocol version 8 names its origin Sec-WebSocket-Origin (all ws looks at then): a foreign Origin is still refused
    expect(
      statusLine(await upgrade([...base, key, 'Sec-WebSocket-Version: 8', 'Origin: http://evil.example'])),
    ).toMatch(/ 401 /);
    expect(
      statusLine(
        await upgrade([
          ...base,
          key,
          'Sec-WebSocket-Version: 8',
          'Sec-WebSocket-Origin: http://evil.example',
        ]),
      ),
    ).toMatch(/ 401 /);
    expect(inspector.stats().clients).toEqual([]);
  });

  it('connections opened and abandoned are closed (no request, half a request); pages are not', async () => {
    system = createSystem();
    inspector = await startInspector(system, { idleTimeoutMs: 300, batchIntervalMs: 50 });
    const page = connectPage(inspector.url, sockets);
    await page.next((m) => m.type === 'hello');
    const t0 = Date.now();
    const [silent, half, halfUpgrade] = await Promise.all([
      rawExchange(inspector.url, '', 3000),
      rawExchange(inspector.url, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n', 3000),
      rawExchange(inspector.url, 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n', 3000),
    ]);
    expect(silent).not.toContain('[still open]');
    expect(half).not.toContain('[still open]');
    expect(halfUpgrade).not.toContain('[still open]');
    expect(Date.now() - t0).toBeLessThan(2500);
    // the page idled past the timeout too (it sends nothing): still served
    await new Promise((r) => setTimeout(r, 200));
    expect(page.ws.readyState).toBe(page.ws.OPEN);
    page.ws.send(JSON.stringify({ type: 'ping', id: 'still-there' }));
    await page.next((m) => m.type === 'pong' && m.id === 'still-there');
    expect(await httpGet(inspector.url)).toBe(200);
  });

  it('an actor whose state value is cyclic or a huge shared tree (hand-written logic) is shown; no page is closed', async () => {
    // hand-written logic may keep anything as its snapshot's `value`; the copy of it must stay JSON-safe and bounded
    const cyclic: Record<string, unknown> = { phase: 'slewing' };
    cyclic.self = cyclic;
    let shared: unknown = 'leaf';
    for (let i = 0; i < 18; i++) shared = { a: shared, b: shared }; // 2^18 leaves when copied in full
    const logicWithValue = (value: unknown): AnyActorLogic =>
      ({
        transition: (s: unknown) => s,
        getInitialSnapshot: () => ({
          status: 'active',
          output: undefined,
          error: undefined,
          context: {},
          value,
        }),
        getPersistedSnapshot: (s: unknown) => s,
      }) as unknown as AnyActorLogic;
    plain = await createInspector({ batchIntervalMs: 20 });
    createActor(logicWithValue(cyclic), { inspect: plain.inspect, systemId: 'cyclic' }).start();
    createActor(logicWithValue(shared), { inspect: plain.inspect, systemId: 'shared' }).start();
    const c = connectPage(plain.url, sockets);
    const outcome = await Promise.race([
      c.next((m) => m.type === 'hello', 3000),
      c.closed.then(({ code }) => ({ type: `closed ${code}` }) as Msg),
    ]);
    expect(outcome.type).toBe('hello');
    const shown = (id: string) => outcome.actors.find((a: Msg) => a.systemId === id);
    expect(shown('cyclic').value.phase).toBe('slewing');
    expect(JSON.stringify(shown('shared').value).length).toBeLessThan(100_000);
    // and the page goes on receiving batches
    c.ws.send(JSON.stringify({ type: 'ping', id: 'alive' }));
    await c.next((m) => m.type === 'pong' && m.id === 'alive');
  });

  it('WebSocket pages are capped: past maxClients an upgrade gets 503 and holds nothing; a freed slot is reusable', async () => {
    system = createSystem();
    inspector = await startInspector(system, { batchIntervalMs: 20 });
    const pages = Array.from({ length: 40 }, () => connectPage(inspector!.url, sockets));
    const results = await Promise.allSettled(pages.map((p) => p.opened));
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    expect(accepted).toBe(32);
    expect(inspector.stats().clients).toHaveLength(32);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(String(refused.reason)).toMatch(/503/);
    // one leaves: its slot is free again
    const open = pages.filter((_p, i) => results[i].status === 'fulfilled');
    open[0].ws.close();
    await open[0].closed;
    const deadline = Date.now() + 2000;
    while (inspector.stats().clients.length > 31 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    const again = connectPage(inspector.url, sockets);
    await again.opened;
    await again.next((m) => m.type === 'hello');
    // the limits are checked like every other option
    await expect(startInspector(system, { maxClients: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(startInspector(system, { idleTimeoutMs: 1.5 })).rejects.toThrow(InvalidArgumentError);
  });

  it("timer options past Node's limit (2^31 - 1 ms) are refused with InvalidArgumentError, not clamped to 1 ms", async () => {
    // Node fires a timer of more than 2^31 - 1 ms after 1 ms: a batchIntervalMs of 30 days flushed every
    // millisecond, an idleTimeoutMs of 30 days closed every HTTP connection at once, a reconnectMs of 30 days
    // reconnected the Stately bridge every millisecond
    system = createSystem();
    const month = 30 * 24 * 3600 * 1000;
    for (const name of ['batchIntervalMs', 'idleTimeoutMs'] as const) {
      const started = startInspector(system, { [name]: month });
      await expect(started).rejects.toThrow(InvalidArgumentError);
      await expect(started).rejects.toThrow(name);
      await started.then((i) => i.close()).catch(() => {}); // before the fix: it listened
    }
    expect(() => bridgeToStately(system!, { url: 'ws://127.0.0.1:9', reconnectMs: month })).toThrow(
      InvalidArgumentError,
    );
    // the limit itself is a legal timer
    inspector = await startInspector(system, { batchIntervalMs: 2 ** 31 - 1, idleTimeoutMs: 2 ** 31 - 1 });
    const bridge = bridgeToStately(system, { url: 'ws://127.0.0.1:9', reconnectMs: 2 ** 31 - 1 });
    bridge.stop();
  });

  it('pages that stop reading are closed after stallTimeoutMs (1013) and free their slots; a reading page stays', async () => {
    // A page whose socket is not read waited for a fresh snapshot for ever and kept its slot: maxClients such
    // pages locked every other page out (503) until the process ended.
    system = createSystem();
    inspector = await startInspector(system, { batchIntervalMs: 20, maxClients: 3, stallTimeoutMs: 400 });
    const [stalledA, stalledB, reading] = [0, 1, 2].map(() => connectPage(inspector!.url, sockets));
    for (const p of [stalledA, stalledB, reading]) await p.next((m) => m.type === 'hello');
    stalledA.ws.pause(); // never reads again
    stalledB.ws.pause(); // never reads again, but sends pongs nobody asked for: they must not keep it
    const pongs = setInterval(() => stalledB.ws.pong(Buffer.from('alive')), 50);
    afterThis.push(() => clearInterval(pongs));
    const locked = connectPage(inspector.url, sockets);
    await expect(locked.opened).rejects.toThrow(/503/);
    const t0 = Date.now();
    while (inspector.stats().clients.length > 1 && Date.now() - t0 < 5000)
      await new Promise((r) => setTimeout(r, 20));
    expect(inspector.stats().clients).toHaveLength(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    // the slots are free again; the page that reads was kept
    const late = connectPage(inspector.url, sockets);
    await late.next((m) => m.type === 'hello');
    reading.ws.send(JSON.stringify({ type: 'ping', id: 'still-served' }));
    await reading.next((m) => m.type === 'pong' && m.id === 'still-served');
    // a stalled page that reads again finds the close frame: the slow-consumer code, with the reason
    stalledA.ws.resume();
    const closed = await stalledA.closed;
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/not read/);
    // the timeout is checked like every other timer option
    await expect(startInspector(system, { stallTimeoutMs: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(startInspector(system, { stallTimeoutMs: 2 ** 31 })).rejects.toThrow(InvalidArgumentError);
  });

  it('engine events beyond what a flush keeps are counted as dropped, not lost silently', () => {
    // A burst of supervisor events between two flushes kept the last 1000 and forgot the others without a trace:
    // the page's "dropped" counter said nothing was lost.
    let listener: ((e: { type: string; actor: string; error: unknown }) => void) | undefined;
    const sys = {
      logger: memoryLogger().logger,
      inspect: () => ({ unsubscribe: () => {} }),
      onEngineEvent: (l: typeof listener) => {
        listener = l;
        return { unsubscribe: () => {} };
      },
      actors: () => [],
      get: () => undefined,
    };
    const t = new Tracker(sys as never, {
      redact: createRedactor([]),
      charts: new ChartRegistry(),
      bufferSize: 100,
      maxEventsPerSecond: 1000,
    });
    t.start();
    t.flush();
    for (let i = 0; i < 1500; i++) listener!({ type: 'actor.failed', actor: `a${i}`, error: null });
    const batch = t.flush();
    expect(batch.engine).toHaveLength(1000);
    expect((batch.engine[0] as { actor?: string }).actor).toBe('a500');
    expect((batch.engine[999] as { actor?: string }).actor).toBe('a1499');
    expect(batch.dropped).toBe(500);
    // counted once: the next flush starts from nothing
    listener!({ type: 'actor.failed', actor: 'b', error: null });
    const next = t.flush();
    expect(next.engine).toHaveLength(1);
    expect(next.dropped).toBe(0);
    t.dispose();
  });

  it('machine names are scrubbed and cut as actor ids are', () => {
    // A machine's id (or an actor's src) went out as it was with every view of every actor of that machine, and in
    // the counts of ended ones: 100 000 characters each, and a secret in it reached the page.
    system = createSystem();
    const t = new Tracker(system, {
      redact: createRedactor([]),
      charts: new ChartRegistry(),
      bufferSize: 1000,
      maxEventsPerSecond: 100_000,
    });
    t.start();
    t.flush();
    const name = `M token=Zq3SECRETxK ${'m'.repeat(100_000)}`;
    const machine = setup({}).createMachine({ id: name, initial: 'idle', states: { idle: {} } });
    const actor = system.spawn(machine, { id: 'long-machine' });
    const quick = setup({}).createMachine({ id: name, initial: 'done', states: { done: { type: 'final' } } });
    for (let i = 0; i < 30; i++) system.spawn(quick, { id: `quick-${i}` });
    const batch = t.flush();
    expect(JSON.stringify(batch).length).toBeLessThan(100_000);
    const view = batch.actors.find((a) => a.id === 'long-machine')!;
    expect(view.machine.length).toBeLessThan(600);
    expect(view.machine.startsWith('M token=[REDACTED]')).toBe(true);
    // (its chart key is an identifier, not text: the name's first 90 characters made URL-safe, as before)
    expect(view.chart!.length).toBeLessThanOrEqual(90);
    expect(batch.finished!.length).toBeGreaterThan(0);
    for (const f of batch.finished!) {
      expect(f.machine.length).toBeLessThan(600);
      expect(f.machine).not.toMatch(/Zq\dSECRETxK/);
    }
    // a plain name is shown as it is
    actor.send({ type: 'X' } as never);
    const plainMachine = setup({}).createMachine({
      id: 'plain.name-1',
      initial: 'idle',
      states: { idle: {} },
    });
    system.spawn(plainMachine, { id: 'plain-actor' });
    expect(t.flush().actors.find((a) => a.id === 'plain-actor')!.machine).toBe('plain.name-1');
    t.dispose();
  });

  it('event types, actor ids and system ids are scrubbed and cut as other text is', () => {
    // They were sent as they were: a long event type went out with every one of the ~1000 events of a batch (at
    // half a megabyte, longer than any string V8 can build: JSON.stringify threw, which closed every page at every
    // flush), and a secret in an event type or an id reached the page.
    system = createSystem();
    const t = new Tracker(system, {
      redact: createRedactor([]),
      charts: new ChartRegistry(),
      bufferSize: 1000,
      maxEventsPerSecond: 100_000,
    });
    t.start();
    t.flush();
    const machine = setup({}).createMachine({ id: 'names', initial: 'idle', states: { idle: {} } });
    const id = `I${'d'.repeat(100_000)}`;
    const systemId = `db password=Zq1SECRETxK ${'s'.repeat(100_000)}`;
    const actor = system.spawn(machine, { id, systemId });
    const hugeType = 'E'.repeat(100_000);
    for (let i = 0; i < 200; i++) actor.send({ type: hugeType } as never);
    actor.send({ type: 'login token=Zq2SECRETxK' } as never);
    const batch = t.flush();
    const text = JSON.stringify(batch);
    expect(text).not.toMatch(/Zq\dSECRETxK/);
    expect(text.length).toBeLessThan(300_000); // 200 events of a 500-character type at most, not 20 MB
    const view = batch.actors.find((a) => a.id.startsWith('Iddd'))!;
    expect(view.id.length).toBeLessThan(600);
    expect(view.systemId!.length).toBeLessThan(600);
    expect(view.systemId).toContain('[REDACTED]');
    const events = batch.events.filter((e) => e.targetId === view.id && e.type !== 'xstate.init');
    expect(events).toHaveLength(201);
    for (const e of events) expect(e.type.length).toBeLessThan(600);
    expect(events[0].type.startsWith('EEEE')).toBe(true);
    expect(events[200].type).toBe('login token=[REDACTED]');
    // a short plain name is shown as it is
    actor.send({ type: 'OPEN' } as never);
    expect(t.flush().events.map((e) => e.type)).toEqual(['OPEN']);
    t.dispose();
  });

  it('a view panel that is not plain JSON is refused at registration; one changed afterwards breaks no page', async () => {
    // Panels were sent as registered, unknown fields included: a BigInt or a cycle in one view's panel made
    // JSON.stringify throw for every snapshot and batch, so every page was closed (1011) and every new one too.
    const cyclic: Record<string, unknown> = { id: 'cyclic', title: 'Cyclic' };
    cyclic.self = cyclic;
    const bad = [
      cyclic,
      { id: 'big', title: 'Big', count: 10n },
      { id: 'card', title: 'Card', card: { status: 'phase', limit: 10n } },
      { id: 'typo', title: 'Typo', card: { feilds: ['a'] } },
    ];
    for (const panel of bad)
      expect(() => registerInspectorView({ machine: `badPanel-${panel.id}`, panel: panel as never })).toThrow(
        InvalidArgumentError,
      );
    expect(inspectorViews().some((v) => v.machine.startsWith('badPanel-'))).toBe(false);
    // a panel changed after its registration: the page is sent it as it was registered
    const panel = { id: 'later', title: 'Later', card: { status: 'phase', fields: ['a'] } };
    afterThis.push(registerInspectorView({ machine: 'laterPanel', panel }));
    Object.assign(panel, { count: 10n });
    Object.assign(panel.card, { self: panel.card });
    panel.card.fields.push(10n as never);
    plain = await createInspector({ batchIntervalMs: 20 });
    const c = connectPage(plain.url, sockets);
    const outcome = await Promise.race([
      c.next((m) => m.type === 'hello', 3000),
      c.closed.then(({ code }) => ({ type: `closed ${code}` }) as Msg),
    ]);
    expect(outcome.type).toBe('hello');
    expect(outcome.views).toContainEqual({
      machine: 'laterPanel',
      panel: { id: 'later', title: 'Later', card: { status: 'phase', fields: ['a'] } },
    });
  });
});

describe('a page that falls behind', () => {
  it('is not closed when a batch or snapshot does not fit beside bytes still in flight; they wait, then it catches up', async () => {
    system = createSystem();
    // actors whose contexts change every few ms: batches of ~100 kB every flush
    const ticker = setup({
      types: { context: {} as Record<string, unknown>, events: {} as { type: 'TICK'; n: number } },
    }).createMachine({
      id: 'ticker',
      context: { n: 0 },
      on: {
        TICK: {
          actions: assign(({ event }) =>
            Object.fromEntries([
              ['n', event.n],
              ...Array.from({ length: 20 }, (_, i) => [`p${i}`, `${event.n}`.padEnd(500, 'y')]),
            ]),
          ),
        },
      },
    });
    const tickers = Array.from({ length: 10 }, (_, i) => system!.spawn(ticker, { systemId: `ticker-${i}` }));
    let n = 0;
    const timer = setInterval(() => {
      n++;
      for (const t of tickers) t.send({ type: 'TICK', n });
    }, 3);
    afterThis.push(() => clearInterval(timer));
    const highWaterMark = 512 * 1024;
    inspector = await startInspector(system, {
      batchIntervalMs: 10,
      highWaterMark,
      maxClientBuffer: highWaterMark,
      stallTimeoutMs: 600_000,
    });
    const client = () => inspector!.stats().clients[0];
    const until = async (cond: () => boolean, what: string) => {
      for (const end = Date.now() + 20_000; !cond(); await new Promise((r) => setTimeout(r, 2)))
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    };

    // a raw WebSocket client, so that what it reads is exactly controlled
    const { port } = new URL(inspector.url);
    const s = tcpConnect(Number(port), '127.0.0.1', () =>
      s.write(
        'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    raw.push(s);
    s.on('error', () => {});
    let closedSocket = false;
    s.on('close', () => (closedSocket = true));
    // frames as they arrive: the type of each text message, and the code of a close frame
    const frames: string[] = [];
    let pending = Buffer.alloc(0);
    let skip = 0; // payload bytes of the current frame still to pass over
    let upgraded = false;
    s.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      if (!upgraded) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        upgraded = true;
        pending = pending.subarray(end + 4);
      }
      for (;;) {
        if (skip > 0) {
          const n = Math.min(skip, pending.length);
          skip -= n;
          pending = pending.subarray(n);
          if (skip > 0) return;
        }
        if (pending.length < 2) return;
        const len7 = pending[1] & 0x7f;
        const head = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
        if (pending.length < head) return;
        const len =
          len7 === 126 ? pending.readUInt16BE(2) : len7 === 127 ? Number(pending.readBigUInt64BE(2)) : len7;
        if (pending.length < head + Math.min(len, 32)) return;
        const opcode = pending[0] & 0x0f;
        const body = pending.subarray(head, head + Math.min(len, 32));
        if (opcode === 1) frames.push(/^\{"type":"(\w+)"/.exec(body.toString())?.[1] ?? '?');
        else if (opcode === 8) frames.push(`close ${body.readUInt16BE(0)}`);
        skip = len;
        pending = pending.subarray(head);
      }
    });

    await until(() => frames.includes('hello'), 'the snapshot');
    // the page stops reading: batches fill both kernel buffers, then wait in the server's socket, a few at a
    // time (each sent while what waits is under the high-water mark), then are queued, then dropped for a fresh
    // snapshot; it does not flood requests, so it is never closed for its buffer cap
    s.pause();
    await until(() => client()?.closing || client()?.dropped > 0, 'the queued batches to be dropped');
    expect(client().closing).toBe(false);
    // it reads again: what waited in its socket, then the fresh snapshot
    s.resume();
    await until(() => frames.filter((f) => f === 'hello').length >= 2 || closedSocket, 'a fresh snapshot');
    expect(frames.filter((f) => f.startsWith('close'))).toEqual([]);
    expect(frames.filter((f) => f === 'hello')).toHaveLength(2);
    expect(client().closing).toBe(false);
  });
});
