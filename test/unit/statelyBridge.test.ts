/**
 * The optional @statelyai/inspect bridge, against a local WebSocket server standing in for Stately's inspector
 * server: messages in @statelyai/inspect's format, secrets redacted (context, events and the machine definition's
 * literal initial context), buffered while disconnected, and nothing left running after stop().
 */
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
afterEach(async () => {
  await system?.stop();
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

  it('rejects a URL that is not ws:// or wss://', () => {
    system = createSystem();
    expect(() => bridgeToStately(system!, { url: 'http://stately.ai' })).toThrow(InvalidArgumentError);
  });
});
