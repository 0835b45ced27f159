/**
 * The optional @statelyai/inspect bridge, against a local WebSocket server standing in for Stately's inspector
 * server: messages in @statelyai/inspect's format, secrets redacted (context, events and the machine definition's
 * literal initial context), buffered while disconnected, and nothing left running after stop().
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { assign, setup } from 'xstate';
import { bridgeToStately, createSystem, InvalidArgumentError, type OrrerySystem } from '../../src/index.js';

const vault = setup({
  types: { context: {} as { password: string; user: string; n: number } },
}).createMachine({
  id: 'vault',
  context: { password: 'hunter2', user: 'ops', n: 0 },
  initial: 'locked',
  states: {
    locked: { on: { UNLOCK: { target: 'open', actions: assign({ n: ({ context }) => context.n + 1 }) } } },
    open: {},
  },
});

let server: WebSocketServer | undefined;
let system: OrrerySystem | undefined;
let tcp: { server: Server; sockets: Socket[] } | undefined;
afterEach(async () => {
  for (const s of tcp?.sockets ?? []) s.destroy();
  await new Promise((r) => (tcp ? tcp.server.close(r) : r(undefined)));
  tcp = undefined;
  await system?.stop();
  for (const client of server?.clients ?? []) client.terminate(); // a failed test's bridge must not hang close()
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
});

function listen(): Promise<{ url: string; messages: any[]; raw: string[] }> {
  return new Promise((resolve) => {
    const messages: any[] = [];
    const raw: string[] = [];
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server!.address() as { port: number };
      resolve({ url: `ws://127.0.0.1:${port}`, messages, raw });
    });
    server.on('connection', (ws) =>
      ws.on('message', (data) => {
        raw.push(String(data));
        messages.push(JSON.parse(String(data)));
      }),
    );
  });
}

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('bridgeToStately', () => {
  it('streams actors, events and snapshots in the @statelyai/inspect format, with secrets redacted', async () => {
    const { url, messages, raw } = await listen();
    system = createSystem();
    const bridge = bridgeToStately(system, { url });
    await until(() => bridge.connected);
    const actor = system.spawn(vault, { supervisor: 'root', id: 'vault', systemId: 'vault' });
    actor.send({ type: 'UNLOCK', token: 's3cret' } as never);
    await until(() => messages.some((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'open'));
    const created = messages.find((m) => m.type === '@xstate.actor' && m.name === 'vault');
    expect(created).toMatchObject({ type: '@xstate.actor', _version: expect.any(String) });
    expect(JSON.parse(created.definition)).toMatchObject({
      id: 'vault',
      context: { password: '[REDACTED]', user: 'ops' },
    });
    expect(messages.some((m) => m.type === '@xstate.event' && m.event?.type === 'UNLOCK')).toBe(true);
    expect(raw.join('\n')).not.toMatch(/hunter2|s3cret/);
    bridge.stop();
  });

  it('buffers while the server is not there yet, bounded, and stop() leaves nothing running', async () => {
    system = createSystem();
    // reserve a port, then start the server on it only after some events were sent
    const probe = await listen();
    const port = Number(new URL(probe.url).port);
    await new Promise((r) => server!.close(r));
    server = undefined;
    const bridge = bridgeToStately(system, { url: probe.url, reconnectMs: 50, maxDeferredEvents: 5 });
    for (let i = 0; i < 4; i++) system.spawn(vault, { id: `v${i}` }).send({ type: 'UNLOCK' });
    await new Promise((r) => setTimeout(r, 120));
    expect(bridge.connected).toBe(false);
    expect(bridge.dropped).toBeGreaterThan(0);
    const messages: any[] = [];
    server = new WebSocketServer({ host: '127.0.0.1', port });
    server.on('connection', (ws) => ws.on('message', (d) => messages.push(JSON.parse(String(d)))));
    await until(() => bridge.connected, 5000);
    await until(() => messages.length >= 5);
    expect(messages.length).toBe(5);
    bridge.stop();
    expect(bridge.connected).toBe(false);
    // no reconnection after stop (reconnectMs is 50)
    await until(() => server!.clients.size === 0);
    await new Promise((r) => setTimeout(r, 200));
    expect(server!.clients.size).toBe(0);
  });

  it('issue 7 item 7: the bridge redacts outputs, errors (their own fields too) and literal input/params in definitions', async () => {
    const { url, messages, raw } = await listen();
    system = createSystem();
    const bridge = bridgeToStately(system, { url });
    await until(() => bridge.connected);
    const child = setup({}).createMachine({ id: 'child', initial: 'a', states: { a: {} } });
    const leaky = setup({
      types: { context: {} as { n: number }, input: {} as { n: number } },
      actors: { child },
      actions: {
        note: () => {},
        boom: () => {
          throw Object.assign(new Error('login failed: password=Zq1SECRETxK'), {
            errors: [{ desc: 'token=Zq2SECRETxK' }],
          });
        },
      },
    }).createMachine({
      id: 'leaky',
      context: ({ input }) => ({ n: input.n }),
      invoke: { src: 'child', input: { apiKey: 'Zq3SECRETxK' } },
      initial: 'idle',
      states: {
        idle: {
          entry: { type: 'note', params: { token: 'Zq4SECRETxK' } } as never,
          on: { DONE: 'done', BOOM: { actions: 'boom' } },
        },
        done: { type: 'final' },
      },
      output: () => ({ session_token: 'Zq5SECRETxK', ok: true }),
    });
    // one finishes with an output, one crashes with an error carrying its own fields
    system.spawn(leaky, { id: 'fine', input: { n: 1 } }).send({ type: 'DONE' });
    system.spawn(leaky, { id: 'crashing', input: { n: 2 } }).send({ type: 'BOOM' });
    await until(() => messages.some((m) => m.type === '@xstate.snapshot' && m.snapshot?.status === 'done'));
    // XState sends no snapshot inspection event for an error; the actor's own event (converted after the crash,
    // off the engine's call stack) carries the error snapshot
    await until(() => messages.some((m) => m.snapshot?.status === 'error'));
    const text = raw.join('\n');
    expect(text).toContain('login failed');
    expect(text).toContain('[REDACTED]');
    expect(text).not.toMatch(/Zq\dSECRETxK/);
    bridge.stop();
  });

  it('issue 7 item 2: a hostile value in a context costs the bridge nothing (shown as [unreadable])', async () => {
    const { url, messages } = await listen();
    system = createSystem();
    const bridge = bridgeToStately(system, { url });
    await until(() => bridge.connected);
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const hostile = setup({ types: { context: {} as Record<string, unknown> } }).createMachine({
      id: 'hostile',
      context: () => ({
        revoked: proxy,
        nested: {
          get boom(): number {
            throw new Error('no');
          },
        },
        ok: 1,
      }),
      initial: 'a',
      states: { a: { on: { GO: 'b' } }, b: {} },
    });
    system.spawn(hostile, { id: 'h' }).send({ type: 'GO', payload: proxy } as never);
    await until(() => messages.some((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'b'));
    const snap = messages.find((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'b');
    expect(snap.snapshot.context).toEqual({
      revoked: '[unreadable]',
      nested: { boom: '[unreadable]' },
      ok: 1,
    });
    expect(messages.find((m) => m.type === '@xstate.event' && m.event?.type === 'GO').event.payload).toBe(
      '[unreadable]',
    );
    bridge.stop();
  });

  it('a server that does not read costs bounded memory (events past the limit are dropped and counted), and stop() drops its socket', async () => {
    const { url } = await listen();
    server!.on('connection', (ws) => (ws as unknown as { _socket: { pause(): void } })._socket.pause());
    system = createSystem();
    const bridge = bridgeToStately(system, { url });
    await until(() => bridge.connected);
    // each event carries a snapshot of about 25 kB (the redactor keeps 50 keys of 450 characters)
    const big = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'x'.repeat(450)]));
    const flood = setup({ types: { context: {} as Record<string, unknown> } }).createMachine({
      id: 'flood',
      context: () => ({ ...big, n: 0 }),
      on: { TICK: { actions: assign({ n: ({ context }) => (context.n as number) + 1 }) } },
    });
    const actor = system.spawn(flood, { id: 'flood' });
    // 4000 events, about 100 MB of messages: far more than the kernel's socket buffers take
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 500; i++) actor.send({ type: 'TICK' });
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => bridge.dropped > 0, 3000);
    expect(bridge.connected).toBe(true);
    // stop() leaves no socket behind although the server never answers the close frame (ws would wait 30 s)
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    bridge.stop();
    await until(() => sockets() < before, 3000);
  });

  it('rejects bad options with InvalidArgumentError and starts nothing', () => {
    system = createSystem();
    const bad: unknown[] = [
      null,
      'ws://localhost:8080',
      { url: 'ws://' }, // not a URL: was a SyntaxError from ws
      { url: 'ws://a b' },
      { reconnectMs: Number.NaN }, // was accepted: a reconnection every millisecond
      { reconnectMs: -5 },
      { reconnectMs: '100' },
      { maxDeferredEvents: Number.NaN }, // was accepted: a queue without bound while disconnected
      { maxDeferredEvents: -1 },
      { maxDeferredEvents: 1.5 },
      { redact: 'password' }, // was a TypeError
      { redact: [42] },
    ];
    for (const options of bad)
      expect(() => bridgeToStately(system!, options as never), JSON.stringify(options)).toThrow(
        InvalidArgumentError,
      );
    // what held: the defaults and plain values
    bridgeToStately(system, { url: 'ws://127.0.0.1:1', reconnectMs: 50, maxDeferredEvents: 0 }).stop();
  });

  it('rejects a URL that is not ws:// or wss://', () => {
    system = createSystem();
    expect(() => bridgeToStately(system!, { url: 'http://stately.ai' })).toThrow(InvalidArgumentError);
  });

  it('a server that accepts the connection but never answers the upgrade is given up after handshakeTimeoutMs, then retried', async () => {
    // No handshake timeout was set: a server that accepts TCP and never answers left the bridge connecting for ever.
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    tcp = { server: silent, sockets };
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    system = createSystem();
    const bridge = bridgeToStately(system, {
      url: `ws://127.0.0.1:${port}`,
      reconnectMs: 50,
      handshakeTimeoutMs: 200,
    });
    await until(() => sockets.length >= 3, 3000); // the first attempt and at least two retries
    expect(bridge.connected).toBe(false);
    bridge.stop();
    for (const options of [
      { handshakeTimeoutMs: 0 },
      { handshakeTimeoutMs: 1.5 },
      { handshakeTimeoutMs: 2 ** 31 },
    ])
      expect(() => bridgeToStately(system!, options), JSON.stringify(options)).toThrow(InvalidArgumentError);
  });

  it('a message from the server larger than 1 MiB closes the socket (1009) instead of being taken whole; the bridge reconnects', async () => {
    // Messages from the server are never used, yet ws took them up to its default of 100 MiB each.
    const { url } = await listen();
    const closes: number[] = [];
    let connections = 0;
    server!.on('connection', (ws) => {
      ws.on('close', (code) => closes.push(code));
      if (++connections === 1) ws.send('x'.repeat(2 * 1024 * 1024));
    });
    system = createSystem();
    const bridge = bridgeToStately(system, { url, reconnectMs: 50 });
    await until(() => connections >= 2 && bridge.connected, 3000);
    expect(closes[0]).toBe(1009);
    bridge.stop();
  });

  it("a machine's meta (the machine's and its states') is redacted in the definition, like its literal context", async () => {
    // Only context, input, params and output of a definition were redacted: meta went to Stately as it was.
    const { url, messages, raw } = await listen();
    system = createSystem();
    const bridge = bridgeToStately(system, { url });
    await until(() => bridge.connected);
    const dome = setup({}).createMachine({
      id: 'dome',
      meta: { label: 'Dome', apiKey: 'Zq6SECRETxK' },
      initial: 'closed',
      states: {
        closed: { meta: { help: 'open with token=Zq7SECRETxK', view: { password: 'Zq8SECRETxK' } } },
      },
    });
    system.spawn(dome, { id: 'dome' });
    await until(() => messages.some((m) => m.type === '@xstate.actor' && m.name === 'dome'));
    const definition = JSON.parse(messages.find((m) => m.name === 'dome').definition);
    expect(definition.meta).toEqual({ label: 'Dome', apiKey: '[REDACTED]' });
    expect(definition.states.closed.meta).toEqual({
      help: 'open with token=[REDACTED]',
      view: { password: '[REDACTED]' },
    });
    expect(raw.join('\n')).not.toMatch(/Zq\dSECRETxK/);
    bridge.stop();
  });
});
