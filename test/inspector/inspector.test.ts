import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { assign, setup } from 'xstate';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { machineSvg, toMermaid } from '../../src/inspector/chart.js';
import { createRedactor } from '../../src/inspector/redact.js';
import { type Inspector, startInspector } from '../../src/inspector/server.js';
import { connectPage, type Msg } from './support/pageClient.js';

const counter = setup({
  types: {
    context: {} as { n: number; password: string; device: { host: string; port: number } },
    events: {} as
      | { type: 'INC' }
      | { type: 'LOGIN'; credentials: { user: string; password: string } }
      | { type: 'STOP' },
  },
}).createMachine({
  id: 'counter',
  // a literal secret in the machine config: must never reach the page (not even through the chart)
  context: { n: 0, password: 'hunter2', device: { host: 'plc.internal', port: 502 } },
  initial: 'counting',
  states: {
    counting: {
      on: {
        INC: { actions: assign({ n: ({ context }) => context.n + 1 }) },
        LOGIN: { actions: assign({ n: ({ context }) => context.n }) },
        STOP: 'stopped',
      },
    },
    stopped: { on: { INC: 'counting' } },
  },
});

let system: OrrerySystem;
let inspector: Inspector | undefined;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await inspector?.close();
  inspector = undefined;
  await system?.stop();
});

function connect(url: string, opts: WebSocket.ClientOptions & { origin?: string } = {}) {
  return connectPage(url, sockets, opts);
}

function httpGet(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request(url, { headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe('inspector', () => {
  it('gives a late client a full snapshot first, then the stream', async () => {
    system = createSystem();
    const actor = system.spawn(counter, { systemId: 'counter-1' });
    inspector = await startInspector(system, { batchIntervalMs: 20 });
    for (let i = 0; i < 5; i++) actor.send({ type: 'INC' });
    const c = connect(inspector.url);
    await c.opened;
    const hello = await c.next((m) => m.type === 'hello');
    expect(c.messages[0].type).toBe('hello');
    const view = hello.actors.find((a: Msg) => a.systemId === 'counter-1');
    expect(view).toMatchObject({ machine: 'counter', chart: 'counter', status: 'active', value: 'counting' });
    expect(view.context.n).toBe(5);
    expect(hello.actors.some((a: Msg) => a.systemId === 'supervisor:root')).toBe(true);

    actor.send({ type: 'STOP' });
    const batch = await c.next((m) => m.type === 'batch' && m.actors.some((a: Msg) => a.value === 'stopped'));
    expect(batch.events.map((e: Msg) => e.type)).toContain('STOP');
    actor.stop();
    await c.next((m) => m.type === 'batch' && m.stopped.includes(view.key));
  });

  it('rejects oversized and malformed messages', async () => {
    system = createSystem();
    inspector = await startInspector(system, { maxPayload: 1024 });
    const c = connect(inspector.url);
    await c.opened;
    await c.next((m) => m.type === 'hello');
    c.ws.send('not json');
    await c.next((m) => m.type === 'error' && /not JSON/.test(m.message));
    c.ws.send('[1,2]');
    await c.next((m) => m.type === 'error' && /not an object/.test(m.message));
    c.ws.send(JSON.stringify({ type: 'bogus' }));
    await c.next((m) => m.type === 'error' && /unknown message type/.test(m.message));
    c.ws.send(Buffer.from([1, 2, 3]));
    await c.next((m) => m.type === 'error' && /binary/.test(m.message));
    c.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(4096) }));
    expect((await c.closed).code).toBe(1009);
  });

  it('read-only by default: send is refused; readOnly: false delivers it', async () => {
    system = createSystem();
    const actor = system.spawn(counter, { systemId: 'counter-1' });
    inspector = await startInspector(system);
    let c = connect(inspector.url);
    await c.opened;
    c.ws.send(JSON.stringify({ type: 'send', systemId: 'counter-1', event: { type: 'STOP' }, id: 1 }));
    await c.next((m) => m.type === 'error' && /read-only/.test(m.message));
    expect(actor.getSnapshot().value).toBe('counting');
    await inspector.close();

    inspector = await startInspector(system, { readOnly: false });
    c = connect(inspector.url);
    await c.opened;
    c.ws.send(JSON.stringify({ type: 'send', systemId: 'counter-1', event: { type: 'xstate.stop' }, id: 2 }));
    await c.next((m) => m.type === 'error' && /not allowed/.test(m.message));
    c.ws.send(JSON.stringify({ type: 'send', systemId: 'counter-1', event: { type: 'STOP' }, id: 3 }));
    await c.next((m) => m.type === 'ack' && m.id === 3);
    expect(actor.getSnapshot().value).toBe('stopped');
  });

  it('refuses a non-loopback bind without allowRemote', async () => {
    system = createSystem();
    await expect(startInspector(system, { host: '0.0.0.0' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(startInspector(system, { host: '192.168.1.10' })).rejects.toThrow(/allowRemote/);
    inspector = await startInspector(system, { host: '0.0.0.0', allowRemote: true });
    expect(inspector.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/$/);
  });

  it('redacts secrets in context and events, and never ships the literal config context', async () => {
    system = createSystem();
    const actor = system.spawn(counter, { systemId: 'counter-1' });
    inspector = await startInspector(system, { redact: ['device.host'], batchIntervalMs: 20 });
    const c = connect(inspector.url);
    await c.opened;
    const hello = await c.next((m) => m.type === 'hello');
    const ctx = hello.actors.find((a: Msg) => a.systemId === 'counter-1').context;
    expect(ctx).toEqual({ n: 0, password: '[REDACTED]', device: { host: '[REDACTED]', port: 502 } });
    actor.send({ type: 'LOGIN', credentials: { user: 'obs', password: 'hunter2' } });
    const batch = await c.next((m) => m.type === 'batch' && m.events.some((e: Msg) => e.type === 'LOGIN'));
    expect(batch.events.find((e: Msg) => e.type === 'LOGIN').data).toEqual({ credentials: '[REDACTED]' });
    const chart = await httpGet(`${inspector.url}charts/counter.svg`);
    expect(chart.status).toBe(200);
    expect(chart.body).toContain('data-path="counting"');
    for (const text of [...c.raw, chart.body]) {
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain('plc.internal');
    }
    const r = createRedactor([], { maxDepth: 3 });
    const cyclic: Record<string, unknown> = { apiKey: 'k', Authorization: 'Bearer x', ok: 1 };
    cyclic.self = cyclic;
    expect(r(cyclic)).toEqual({
      apiKey: '[REDACTED]',
      Authorization: '[REDACTED]',
      ok: 1,
      self: '[Circular]',
    });
    expect(r({ logic: counter, err: new Error('boom') })).toEqual({
      logic: { $logic: 'counter' },
      err: { $error: 'Error', message: 'boom' },
    });
  });

  it('serves local assets only, with a CSP, and refuses foreign Host headers and origins', async () => {
    system = createSystem();
    inspector = await startInspector(system);
    const page = await httpGet(inspector.url);
    expect(page.status).toBe(200);
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'none'");
    for (const asset of ['', 'app.js', 'panels.js', 'style.css']) {
      const { body } = await httpGet(inspector.url + asset);
      expect(body).not.toMatch(/https?:\/\//);
    }
    expect((await httpGet(inspector.url, { host: 'evil.example:80' })).status).toBe(421);
    expect((await httpGet(`${inspector.url}../package.json`)).status).toBe(404);
    const foreign = connect(inspector.url, { origin: 'http://evil.example' });
    await expect(foreign.opened).rejects.toThrow();
  });

  it('a stalled client neither loses engine events nor grows memory without bound', async () => {
    system = createSystem();
    const actor = system.spawn(counter, { systemId: 'busy' });
    const pad = 'x'.repeat(400); // ~0.5 kB per log line: 30k of them fill loopback socket buffers many times over
    // 30,000 events in bursts of 100, yielding to the event loop (and the inspector's flushes) between bursts;
    // returns the mean burst time, printed (a figure, not an assertion: no wall-clock thresholds in npm test)
    const pump = async (bursts: number) => {
      let total = 0;
      for (let b = 0; b < bursts; b++) {
        const t0 = performance.now();
        for (let i = 0; i < 100; i++) actor.send({ type: 'INC', pad } as never);
        total += performance.now() - t0;
        await new Promise((r) => setTimeout(r, 5));
      }
      return total / bursts;
    };
    const baseline = await pump(50);
    inspector = await startInspector(system, {
      bufferSize: 500,
      batchIntervalMs: 50,
      highWaterMark: 256 * 1024,
      maxEventsPerSecond: 1_000_000, // every log line is sent: what this client loses, it loses to backpressure
    });
    const c = connect(inspector.url);
    await c.opened;
    await c.next((m) => m.type === 'hello');
    c.ws.pause(); // never reads again
    const heap0 = process.memoryUsage().heapUsed;
    const sent0 = actor.getSnapshot().context.n;
    const stalled = await pump(300);
    const sent = actor.getSnapshot().context.n - sent0;
    const stats = inspector.stats();
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    console.info(
      `stalled client: mean burst of 100 events ${stalled.toFixed(2)} ms (uninspected ${baseline.toFixed(2)} ms)`,
    );
    // the engine processed every event
    expect(sent).toBe(30_000);
    // bounded: the client is kept (it sends nothing, so it never reaches its cap), the batches queued for it stay
    // near the high-water mark (past it they are dropped for a fresh snapshot), so does the socket buffer, and
    // the log lines it lost to the rate cap or to a resynchronisation are counted as dropped
    expect(stats.clients).toHaveLength(1);
    expect(stats.clients[0].queuedBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(stats.clients[0].bufferedAmount).toBeLessThan(4 * 1024 * 1024);
    expect(stats.clients[0].dropped).toBeGreaterThan(0);
    expect(heapGrowth).toBeLessThan(64 * 1024 * 1024);
    // once it reads again, it catches up with the current state (a fresh snapshot if it fell too far behind)
    c.ws.resume();
    const final = actor.getSnapshot().context.n;
    await c.next(
      (m) =>
        (m.type === 'hello' || m.type === 'batch') &&
        m.actors.some((a: Msg) => a.systemId === 'busy' && a.context.n === final),
      20_000,
    );
    // it fell so far behind that its queued batches were dropped for a fresh snapshot
    expect(c.messages.filter((m) => m.type === 'hello').length).toBeGreaterThanOrEqual(2);
  });

  it('renders deterministic charts and Mermaid from the machine definition', async () => {
    const a = await machineSvg(counter);
    const b = await machineSvg(counter);
    expect(a).toBe(b);
    expect(a).toContain('data-path="stopped"');
    expect(a).not.toContain('hunter2');
    const mmd = toMermaid(counter);
    expect(mmd).toContain('stateDiagram-v2');
    expect(mmd).toContain('counting --> stopped: STOP');
    expect(mmd).toContain('[*] --> counting');
  });

  it('shows an LRC actor with its status, progress and result', async () => {
    const { invokeLrc } = await import('../../src/protocols/tango/lrc/invokeLrc.js');
    system = createSystem();
    inspector = await startInspector(system, { batchIntervalMs: 20 });
    const c = connect(inspector.url);
    await c.opened;
    await c.next((m) => m.type === 'hello');
    const subscribers = new Map<string, (e: { attribute: string; value?: unknown }) => void>();
    const emit = (attribute: string, value: unknown) => subscribers.get(attribute)?.({ attribute, value });
    const device = {
      name: 'test/lrc/1',
      attributeList: async () => [
        'longRunningCommandStatus',
        'longRunningCommandProgress',
        'longRunningCommandResult',
      ],
      readAttribute: async () => [],
      commandInout: async () => [[2], ['1_Scan']],
      subscribeChangeEvent: async (
        attribute: string,
        cb: (e: { attribute: string; value?: unknown }) => void,
      ) => {
        subscribers.set(attribute, cb);
        cb({ attribute, value: [] });
        return () => subscribers.delete(attribute);
      },
    };
    await invokeLrc(() => {}, device, 'Scan', { token: 'abc' }, { system });
    emit('longRunningCommandStatus', ['1_Scan', 'IN_PROGRESS']);
    emit('longRunningCommandProgress', ['1_Scan', '40']);
    const live = await c.next(
      (m) => m.type === 'batch' && m.actors.some((a: Msg) => a.summary?.progress === 40),
    );
    expect(live.actors.find((a: Msg) => a.machine === 'lrc').summary).toMatchObject({
      command: 'Scan',
      commandId: '1_Scan',
      status: 'IN_PROGRESS',
      progress: 40,
    });
    emit('longRunningCommandResult', ['1_Scan', '[0, "scan done"]']);
    emit('longRunningCommandStatus', ['1_Scan', 'COMPLETED']);
    const done = await c.next(
      (m) => m.type === 'batch' && m.actors.some((a: Msg) => a.summary?.status === 'COMPLETED'),
    );
    expect(done.actors.find((a: Msg) => a.machine === 'lrc').summary.result).toEqual([0, 'scan done']);
    expect(c.raw.join('')).not.toContain('"abc"');
  });
});
