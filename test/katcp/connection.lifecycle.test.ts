import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BACKOFF_MS } from '../../machines/katcp/connection.js';
import { CancelledError, TimeoutError } from '../../src/errors.js';
import { type ConnectionState, KatcpClient } from '../../src/protocols/katcp/client.js';
import { DEFAULT_MAX_LINE_LENGTH } from '../../src/protocols/katcp/codec.js';
import {
  BrokenPipeError,
  ConnectError,
  ConnectionResetError,
  LineTooLongError,
  ProtocolError,
} from '../../src/protocols/katcp/errors.js';
import { useTestSystem } from '../support/testSystem.js';
import { GREETING_MID, RawPeer, refusedPort, stateIs } from './support/peer.js';

const t = useTestSystem();
let peer: RawPeer | undefined;
const clients: KatcpClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await peer?.close();
  peer = undefined;
});

function track(client: KatcpClient): { client: KatcpClient; states: ConnectionState[] } {
  clients.push(client);
  const states: ConnectionState[] = [client.state];
  client.onStateChange((s) => states.push(s));
  return { client, states };
}

function sleepMs(client: KatcpClient): number {
  return client.actor.getSnapshot().context.sleepMs;
}

describe('issue 9 item 2: connection lifecycle over a real socket (aiokatcp test_client)', () => {
  it('connected only after #version-connect katcp-protocol 5.x, not on TCP alone', async () => {
    const system = t.start();
    peer = await RawPeer.start({ greeting: [] });
    const { client, states } = track(new KatcpClient('127.0.0.1', peer.port, { system }));
    const conn = await peer.nextConnection();
    await stateIs(client, 'negotiating');
    let connected = false;
    const waiting = client.waitConnected().then(() => (connected = true));
    conn.send('#version-connect katcp-library aiokatcp-1.9');
    await new Promise((r) => setImmediate(r));
    expect(connected).toBe(false);
    expect(client.isConnected).toBe(false);
    conn.send(GREETING_MID);
    await waiting;
    expect(client.protocol).toEqual({ major: 5, minor: 1, flags: 'MIB' });
    expect(client.lastError).toBeNull();
    expect(states).toEqual(['connecting', 'negotiating', 'connected']);
  });

  it('KatcpClient.connect waits for negotiation; on failure it closes the client and throws', async () => {
    const system = t.start();
    peer = await RawPeer.start();
    const client = await KatcpClient.connect('127.0.0.1', peer.port, { system });
    clients.push(client);
    expect(client.isConnected).toBe(true);
    const port = await refusedPort();
    const err = await KatcpClient.connect('127.0.0.1', port, { system, autoReconnect: false }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ConnectError);
    const slow = await RawPeer.start({ greeting: [] });
    const timedOut = KatcpClient.connect('127.0.0.1', slow.port, { system, timeout: 100 });
    await slow.nextConnection();
    t.clock.advance(100);
    await expect(timedOut).rejects.toBeInstanceOf(TimeoutError);
    await slow.close();
  });

  for (const [what, version, message] of [
    ['v4', '4.0-M', 'Unknown protocol version 4.0'],
    ['garbage', 'nonsense', 'Unparsable katcp-protocol "nonsense"'],
  ] as const) {
    it(`a ${what} version: ProtocolError to failed-connect callbacks and the connection closed`, async () => {
      const system = t.start();
      peer = await RawPeer.start({ greeting: [`#version-connect katcp-protocol ${version}`] });
      const { client, states } = track(new KatcpClient('127.0.0.1', peer.port, { system, random: () => 0 }));
      const failures: Error[] = [];
      client.addFailedConnectCallback((e) => failures.push(e));
      const conn = await peer.nextConnection();
      await conn.closed;
      await stateIs(client, 'sleeping');
      expect(failures).toHaveLength(1);
      expect(failures[0]).toBeInstanceOf(ProtocolError);
      expect(failures[0].message).toBe(message);
      expect(client.lastError).toBe(failures[0]);
      expect(states).toEqual(['connecting', 'negotiating', 'disconnecting', 'sleeping']);
    });
  }

  it('peer close: pending requests fail with ConnectionResetError, one disconnected callback, then it reconnects', async () => {
    const system = t.start();
    peer = await RawPeer.start();
    const { client, states } = track(new KatcpClient('127.0.0.1', peer.port, { system, random: () => 0.5 }));
    let disconnects = 0;
    client.addDisconnectedCallback(() => disconnects++);
    const conn = await peer.nextConnection();
    await client.waitConnected();
    const pending = [client.request('a'), client.request('b')];
    await conn.nextRequest();
    conn.end();
    for (const p of pending)
      await expect(p).rejects.toThrow(new ConnectionResetError('Connection reset by peer'));
    await stateIs(client, 'sleeping');
    expect(disconnects).toBe(1);
    expect(client.pendingCount).toBe(0);
    expect(sleepMs(client)).toBe(750); // backoff 1000 ms, (0.5 + 1) * 0.5 * 1000
    t.clock.advance(749);
    expect(client.state).toBe('sleeping');
    t.clock.advance(1);
    await peer.nextConnection();
    await client.waitConnected();
    expect(client.actor.getSnapshot().context.backoffMs).toBe(500);
    expect(states).toEqual([
      'connecting',
      'negotiating',
      'connected',
      'disconnecting',
      'sleeping',
      'connecting',
      'negotiating',
      'connected',
    ]);
  });

  it('a connection reset (RST, no EOF) while connected or negotiating: ConnectionResetError, sleeping or closed', async () => {
    const system = t.start();
    peer = await RawPeer.start();
    const { client } = track(new KatcpClient('127.0.0.1', peer.port, { system }));
    const conn = await peer.nextConnection();
    await client.waitConnected();
    const req = client.request('x');
    conn.socket.resetAndDestroy();
    // typed, as aiokatcp's: not Node's bare `Error: read ECONNRESET`, which it was (the socket error is the cause)
    const error = await req.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionResetError);
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    await stateIs(client, 'sleeping');
    expect(client.lastError).toBe(error);
    // negotiating, no auto-reconnect: closed
    peer.greeting = [];
    const { client: other } = track(
      new KatcpClient('127.0.0.1', peer.port, { system, autoReconnect: false }),
    );
    const c2 = await peer.nextConnection();
    await stateIs(other, 'negotiating');
    c2.socket.resetAndDestroy();
    await stateIs(other, 'closed');
    expect(other.lastError).not.toBeNull();
    await expect(other.waitConnected()).rejects.toBe(other.lastError);
    // negotiating, auto-reconnect: sleeping
    const { client: fourth } = track(new KatcpClient('127.0.0.1', peer.port, { system }));
    const c4 = await peer.nextConnection();
    await stateIs(fourth, 'negotiating');
    c4.socket.resetAndDestroy();
    await stateIs(fourth, 'sleeping');
    // connected, no auto-reconnect: closed
    peer.greeting = [GREETING_MID];
    const { client: third } = track(
      new KatcpClient('127.0.0.1', peer.port, { system, autoReconnect: false }),
    );
    const c3 = await peer.nextConnection();
    await third.waitConnected();
    c3.socket.resetAndDestroy();
    await stateIs(third, 'closed');
  });

  it('#disconnect: pending and later requests fail with BrokenPipeError', async () => {
    const system = t.start();
    peer = await RawPeer.start();
    const { client, states } = track(
      new KatcpClient('127.0.0.1', peer.port, { system, autoReconnect: false }),
    );
    const conn = await peer.nextConnection();
    await client.waitConnected();
    const pending = client.request('a');
    await conn.nextRequest();
    conn.send('#disconnect server\\_shutting\\_down');
    await expect(pending).rejects.toThrow(new BrokenPipeError('Server disconnected: server shutting down'));
    await expect(client.request('later')).rejects.toThrow(new BrokenPipeError('Not connected'));
    await stateIs(client, 'closed');
    expect(states).toEqual(['connecting', 'negotiating', 'connected', 'disconnecting', 'closed']);
  });

  it('#disconnect or EOF while negotiating: disconnecting, failed connect', async () => {
    const system = t.start();
    peer = await RawPeer.start({ greeting: ['#disconnect go\\_away'] });
    const { client } = track(new KatcpClient('127.0.0.1', peer.port, { system, autoReconnect: false }));
    const failures: Error[] = [];
    client.addFailedConnectCallback((e) => failures.push(e));
    await stateIs(client, 'closed');
    expect(failures.map((e) => e.message)).toEqual(['Server disconnected: go away']);
    peer.greeting = [];
    const { client: other, states } = track(
      new KatcpClient('127.0.0.1', peer.port, { system, autoReconnect: false }),
    );
    await peer.nextConnection(); // the first client's
    (await peer.nextConnection()).end();
    await stateIs(other, 'closed');
    expect(states).toEqual(['connecting', 'negotiating', 'disconnecting', 'closed']);
    expect(other.lastError).toBeInstanceOf(ConnectionResetError);
  });

  it('a bad address: ConnectError (with the socket error as cause) to failed-connect callbacks', async () => {
    const system = t.start();
    const port = await refusedPort();
    const { client, states } = track(new KatcpClient('127.0.0.1', port, { system, random: () => 0 }));
    const failures: Error[] = [];
    client.addFailedConnectCallback((e) => failures.push(e));
    await stateIs(client, 'sleeping');
    expect(failures[0]).toBeInstanceOf(ConnectError);
    expect((failures[0].cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(failures[0].message).toContain(`Failed to connect to 127.0.0.1:${port}`);
    expect(states).toEqual(['connecting', 'sleeping']);
    await client.close();
    expect(states.at(-1)).toBe('closed');
    expect(client.lastError).toBe(failures[0]); // closing a sleeping client keeps why it slept
  });

  it('jittered backoff: sleeps (random + 1) * 0.5 * backoff, backoff doubling from 0.5 s to 60 s', async () => {
    const system = t.start();
    const port = await refusedPort();
    const randoms = [0, 0.999, 0.5, 0.25, 0, 0.5, 0.75, 0.1, 0.9, 0.3];
    let i = 0;
    const { client } = track(new KatcpClient('127.0.0.1', port, { system, random: () => randoms[i++] }));
    const sleeps: number[] = [];
    let backoff = 500;
    for (let n = 0; n < randoms.length; n++) {
      await stateIs(client, 'sleeping');
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      const ms = sleepMs(client);
      expect(ms).toBeGreaterThanOrEqual(backoff / 2);
      expect(ms).toBeLessThanOrEqual(backoff);
      expect(ms).toBeCloseTo((randoms[n] + 1) * 0.5 * backoff, 9);
      sleeps.push(ms);
      t.clock.advance(ms - 1);
      expect(client.state).toBe('sleeping');
      t.clock.advance(1);
      expect(client.state).toBe('connecting');
    }
    expect(sleeps[0]).toBe(500);
    expect(client.actor.getSnapshot().context.backoffMs).toBe(MAX_BACKOFF_MS);
  });

  it('a jitter source that throws, gives NaN or leaves [0, 1] counts as 1: the sleep stays within [b/2, b]', async () => {
    const system = t.start();
    const port = await refusedPort();
    const bad: (() => number)[] = [
      () => 5,
      () => -1,
      () => Number.NaN,
      () => {
        throw new Error('no entropy');
      },
    ];
    for (const random of bad) {
      const { client } = track(new KatcpClient('127.0.0.1', port, { system, random }));
      // before, 5 slept 3000 ms, NaN slept NaN and a throw crashed the connection actor
      await stateIs(client, 'sleeping');
      expect(sleepMs(client)).toBe(1000);
      t.clock.advance(1000);
      expect(client.state).toBe('connecting');
      await client.close();
    }
  });

  it('close while connecting, with and without auto-reconnect: closed at once, no failed-connect callback', async () => {
    const system = t.start();
    peer = await RawPeer.start();
    for (const autoReconnect of [true, false]) {
      const { client, states } = track(new KatcpClient('127.0.0.1', peer.port, { system, autoReconnect }));
      const failed: Error[] = [];
      client.addFailedConnectCallback((e) => failed.push(e));
      const waiting = client.waitConnected().catch((e: unknown) => e);
      await client.close();
      expect(await waiting).toBeInstanceOf(BrokenPipeError);
      expect(states).toEqual(['connecting', 'closed']);
      expect(failed).toEqual([]);
      await client.close(); // idempotent
    }
  });

  it('close while negotiating, connected and disconnecting ends closed; requests fail with BrokenPipeError', async () => {
    const system = t.start();
    peer = await RawPeer.start({ greeting: [] });
    const { client: a, states: sa } = track(new KatcpClient('127.0.0.1', peer.port, { system }));
    await stateIs(a, 'negotiating');
    await a.close();
    expect(sa).toEqual(['connecting', 'negotiating', 'disconnecting', 'closed']);
    peer.greeting = [GREETING_MID];
    const { client: b, states: sb } = track(new KatcpClient('127.0.0.1', peer.port, { system }));
    await b.waitConnected();
    const req = b.request('x').catch((e: unknown) => e);
    await b.close();
    expect(await req).toEqual(new BrokenPipeError('Connection closed by client'));
    expect(sb.slice(-3)).toEqual(['connected', 'disconnecting', 'closed']);
    // CLOSE while already disconnecting (after #disconnect): no reconnect
    const { client: c, states: sc } = track(new KatcpClient('127.0.0.1', peer.port, { system }));
    c.onStateChange((s) => {
      if (s === 'disconnecting') void c.close();
    });
    await c.waitConnected();
    peer.connections.at(-1)!.send('#disconnect bye');
    await c.waitClosed();
    expect(sc.slice(-3)).toEqual(['connected', 'disconnecting', 'closed']);
  });

  it('a hostile peer sending a 1 MiB+ line without newline: LineTooLongError, dropped, memory bounded', async () => {
    const system = t.start();
    peer = await RawPeer.start();
    const { client } = track(new KatcpClient('127.0.0.1', peer.port, { system, autoReconnect: false }));
    const conn = await peer.nextConnection();
    await client.waitConnected();
    const failed = client.request('x').catch((e: unknown) => e);
    const heapBefore = process.memoryUsage().heapUsed;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let maxBuffered = 0;
    for (let sent = 0; sent < 4 * DEFAULT_MAX_LINE_LENGTH && !conn.isClosed; sent += chunk.length) {
      await conn.sendRaw(chunk);
      maxBuffered = Math.max(maxBuffered, client.bufferedBytes);
    }
    expect(await failed).toBeInstanceOf(LineTooLongError);
    await stateIs(client, 'closed');
    expect(client.lastError).toBeInstanceOf(LineTooLongError);
    expect(maxBuffered).toBeLessThanOrEqual(DEFAULT_MAX_LINE_LENGTH);
    await conn.closed;
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
  });

  it('waits: timeouts, signals, waitDisconnected; callback exceptions are logged, not thrown', async () => {
    const system = t.start();
    peer = await RawPeer.start({ greeting: [] });
    const { client } = track(new KatcpClient('127.0.0.1', peer.port, { system }));
    client.addConnectedCallback(() => {
      throw new Error('callback bug');
    });
    const timed = client.waitConnected({ timeout: 10 });
    t.clock.advance(10);
    await expect(timed).rejects.toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    const aborted = client.waitConnected({ signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toBeInstanceOf(CancelledError);
    await client.waitDisconnected();
    const conn = await peer.nextConnection();
    conn.send(GREETING_MID);
    await client.waitConnected();
    const disconnected = client.waitDisconnected();
    conn.end();
    await disconnected;
    expect(['sleeping', 'connecting']).toContain(client.state);
  });

  it('system stop fails pending requests with SystemStoppedError and releases the socket', async () => {
    const system = t.start();
    peer = await RawPeer.start();
    const { client } = track(new KatcpClient('127.0.0.1', peer.port, { system }));
    const conn = await peer.nextConnection();
    await client.waitConnected();
    const req = client.request('x').catch((e: unknown) => e);
    await system.stop();
    expect(await req).toMatchObject({ name: 'SystemStoppedError' });
    expect(client.state).toBe('closed');
    await conn.closed;
    await client.waitClosed();
  });

  it('spawned under a supervisor when asked', async () => {
    const system = t.start();
    peer = await RawPeer.start();
    const sup = system.supervisor('katcp');
    const { client } = track(
      new KatcpClient('127.0.0.1', peer.port, { system, supervisor: sup, id: 'dev-1' }),
    );
    await client.waitConnected();
    expect(system.actors().find((a) => a.id === 'dev-1')?.supervisor).toBe('katcp');
    // removed from its supervisor: the client is closed, pending requests fail, the socket is released
    const req = client.request('x').catch((e: unknown) => e);
    client.actor.stop();
    expect(await req).toBeInstanceOf(CancelledError);
    expect(client.state).toBe('closed');
    await client.waitClosed();
    await expect(client.waitConnected()).rejects.toBeInstanceOf(CancelledError);
  });
});
