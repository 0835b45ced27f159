/**
 * The negotiation timeout: a peer that accepts the TCP connection but never sends `#version-connect katcp-protocol`
 * (the wrong port, a service that is not KATCP) must not leave the client in `negotiating` for ever. Against a real
 * TCP server on 127.0.0.1 that accepts and stays silent: on the real clock with a short `negotiationTimeout` (the
 * end-to-end behaviour), and on the TestClock for the exact boundaries, the default and `Infinity`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_NEGOTIATION_TIMEOUT_MS } from '../../machines/katcp/connection.js';
import type { Logger } from '../../src/engine/logging.js';
import { InvalidArgumentError, TimeoutError } from '../../src/errors.js';
import { createSystem, type OrrerySystem } from '../../src/index.js';
import { type ConnectionState, KatcpClient } from '../../src/protocols/katcp/client.js';
import { NegotiationTimeoutError, ProtocolError } from '../../src/protocols/katcp/errors.js';
import { InspectingClient } from '../../src/protocols/katcp/inspectingClient.js';
import { useTestSystem } from '../support/testSystem.js';
import { GREETING_MID, RawPeer, stateIs, until } from './support/peer.js';

/** A TCP server on 127.0.0.1 that accepts every connection and never writes a byte. */
interface SilentServer {
  readonly port: number;
  /** Every accepted socket, in order. */
  readonly sockets: Socket[];
  /** Resolves when the n-th connection (from 1) has been accepted. */
  accepted(n: number): Promise<Socket>;
  /** Resolves when every accepted socket is closed. */
  allClosed(): Promise<void>;
  close(): Promise<void>;
}

async function silentServer(): Promise<SilentServer> {
  const sockets: Socket[] = [];
  const closed: Promise<void>[] = [];
  let wake: (() => void) | null = null;
  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    closed.push(new Promise((resolve) => socket.on('close', () => resolve())));
    socket.resume(); // read (and drop) whatever comes, so the client's FIN is seen
    sockets.push(socket);
    const w = wake;
    wake = null;
    w?.();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    sockets,
    async accepted(n) {
      while (sockets.length < n) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      return sockets[n - 1];
    },
    async allClosed() {
      await Promise.all(closed);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(closed);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function memoryLogger(): { logger: Logger; warnings: { obj: unknown; msg?: string }[] } {
  const warnings: { obj: unknown; msg?: string }[] = [];
  const logger: Logger = {
    child: () => logger,
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (obj, msg) => void warnings.push({ obj, msg }),
    error: () => {},
  };
  return { logger, warnings };
}

function track(client: KatcpClient): ConnectionState[] {
  const states: ConnectionState[] = [client.state];
  client.onStateChange((s) => states.push(s));
  return states;
}

const t = useTestSystem();
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function silent(): Promise<SilentServer> {
  const s = await silentServer();
  cleanups.push(() => s.close());
  return s;
}

function realSystem(options: { logger?: Logger } = {}): OrrerySystem {
  const system = createSystem(options); // the real clock
  cleanups.push(() => system.stop());
  return system;
}

function client(host: string, port: number, options: ConstructorParameters<typeof KatcpClient>[2]) {
  const c = new KatcpClient(host, port, options);
  cleanups.push(() => c.close());
  return c;
}

// on the code before the negotiation timeout these hung in `negotiating`: the per-test timeout makes them fail
// fast instead of after the suite's 60 s
const FAST = { timeout: 10_000 };

describe('negotiation timeout against a real silent TCP server (real clock)', () => {
  it(
    'without auto-reconnect: dropped after negotiationTimeout, NegotiationTimeoutError to waiters and failed-connect callbacks, nothing leaked',
    FAST,
    async () => {
      const server = await silent();
      const system = realSystem();
      const c = client('127.0.0.1', server.port, { system, autoReconnect: false, negotiationTimeout: 100 });
      const states = track(c);
      const failures: Error[] = [];
      c.addFailedConnectCallback((e) => failures.push(e));
      const outcome = await c.waitConnected().then(
        () => 'connected',
        (e: unknown) => e,
      );
      expect(outcome).toBeInstanceOf(NegotiationTimeoutError);
      const error = outcome as NegotiationTimeoutError;
      expect(error).toBeInstanceOf(ProtocolError);
      expect(error.code).toBe('ORRERY_KATCP_NEGOTIATION_TIMEOUT');
      expect(error.timeout).toBe(100);
      expect(error.message).toBe(
        `No #version-connect katcp-protocol from 127.0.0.1:${server.port} within 100 ms (not a KATCP server?)`,
      );
      expect(failures).toEqual([error]);
      expect(c.lastError).toBe(error);
      expect(c.state).toBe('closed');
      expect(states).toEqual(['connecting', 'negotiating', 'disconnecting', 'closed']);
      // the socket is released on both sides: the client's is closed, the server saw the connection dropped
      await c.waitClosed();
      expect(server.sockets).toHaveLength(1);
      await server.allClosed();
      expect(c.actor.getSnapshot().children.transport).toBeUndefined();
    },
  );

  it(
    'with auto-reconnect: logged, then the exponential random backoff applies and it reconnects, as after a failed connect',
    FAST,
    async () => {
      const server = await silent();
      const { logger, warnings } = memoryLogger();
      const system = realSystem({ logger });
      const c = client('127.0.0.1', server.port, { system, negotiationTimeout: 50, random: () => 0 });
      const states = track(c);
      const failures: Error[] = [];
      c.addFailedConnectCallback((e) => failures.push(e));
      const waiting = c.waitConnected().then(
        () => 'connected',
        (e: unknown) => e,
      );
      await until(
        (l) => c.onStateChange(l),
        () => c.state === 'sleeping',
      );
      expect(failures).toHaveLength(1);
      expect(failures[0]).toBeInstanceOf(NegotiationTimeoutError);
      expect(c.lastError).toBe(failures[0]);
      expect(warnings).toEqual([
        { obj: { err: failures[0] }, msg: `Failed to connect to 127.0.0.1:${server.port}` },
      ]);
      // aiokatcp's backoff: 500 ms doubled to 1000, slept (random() + 1) * 0.5 * 1000
      expect(c.actor.getSnapshot().context.sleepMs).toBe(500);
      await server.allClosed(); // the first connection was dropped
      // it reconnects after the backoff and times out again, now with the doubled backoff
      await server.accepted(2);
      await until(
        (l) => c.onStateChange(l),
        () => failures.length === 2 && c.state === 'sleeping',
      );
      expect(failures[1]).toBeInstanceOf(NegotiationTimeoutError);
      expect(c.actor.getSnapshot().context.sleepMs).toBe(1000);
      expect(states).toEqual([
        'connecting',
        'negotiating',
        'disconnecting',
        'sleeping',
        'connecting',
        'negotiating',
        'disconnecting',
        'sleeping',
      ]);
      // a waiter without a timeout waits through the reconnects; closing ends it with why it slept
      await c.close();
      expect(await waiting).toBe(failures[1]);
      await server.allClosed();
      expect(server.sockets).toHaveLength(2);
    },
  );

  it(
    'KatcpClient.connect with a timeout: TimeoutError whose cause is the NegotiationTimeoutError',
    FAST,
    async () => {
      const server = await silent();
      const system = realSystem();
      const err = await KatcpClient.connect('127.0.0.1', server.port, {
        system,
        negotiationTimeout: 50,
        random: () => 0,
        timeout: 300,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as Error).cause).toBeInstanceOf(NegotiationTimeoutError);
      await server.allClosed();
    },
  );
});

describe('negotiation timeout on the TestClock', () => {
  it('fires exactly at negotiationTimeout, default 5000 ms; the timer exists only while negotiating', async () => {
    expect(DEFAULT_NEGOTIATION_TIMEOUT_MS).toBe(5000);
    const system = t.start();
    const server = await silent();
    const c = client('127.0.0.1', server.port, { system, autoReconnect: false });
    await server.accepted(1);
    await stateIs(c, 'negotiating');
    expect(t.clock.pending).toBe(1);
    t.clock.advance(DEFAULT_NEGOTIATION_TIMEOUT_MS - 1);
    expect(c.state).toBe('negotiating');
    t.clock.advance(1);
    expect(c.state).toBe('disconnecting');
    await c.waitClosed();
    expect(c.lastError).toBeInstanceOf(NegotiationTimeoutError);
    expect(c.lastError?.message).toContain('within 5000 ms');
    expect(t.clock.pending).toBe(0);
    await server.allClosed();
  });

  it('a greeting in time cancels it; Infinity arms none', async () => {
    const system = t.start();
    const peer = await RawPeer.start({ greeting: [] });
    cleanups.push(() => peer.close());
    const c = client('127.0.0.1', peer.port, { system, negotiationTimeout: 1000 });
    const conn = await peer.nextConnection();
    await stateIs(c, 'negotiating');
    t.clock.advance(999);
    conn.send(GREETING_MID);
    await c.waitConnected();
    expect(t.clock.pending).toBe(0);
    t.clock.advance(10_000);
    expect(c.state).toBe('connected');
    const never = client('127.0.0.1', peer.port, { system, negotiationTimeout: Number.POSITIVE_INFINITY });
    await peer.nextConnection();
    await stateIs(never, 'negotiating');
    expect(t.clock.pending).toBe(0);
    t.clock.advance(24 * 3600 * 1000);
    expect(never.state).toBe('negotiating');
  });

  it('the InspectingClient passes its negotiationTimeout to its connection', FAST, async () => {
    const system = t.start();
    const server = await silent();
    const ic = new InspectingClient('127.0.0.1', server.port, {
      system,
      autoReconnect: false,
      negotiationTimeout: 200,
    });
    cleanups.push(() => ic.stop());
    await ic.connect();
    await server.accepted(1);
    await stateIs(ic.connection!, 'negotiating');
    t.clock.advance(200);
    await ic.connection!.waitClosed();
    expect(ic.connection!.lastError).toBeInstanceOf(NegotiationTimeoutError);
  });

  it('a bad negotiationTimeout is an InvalidArgumentError naming it, before anything is spawned', () => {
    const system = t.start();
    const before = system.actors().length;
    for (const bad of [-1, Number.NaN, '100', null, {}]) {
      expect(() => new KatcpClient('127.0.0.1', 1, { system, negotiationTimeout: bad as never })).toThrow(
        /negotiationTimeout must be a non-negative number of milliseconds/,
      );
      expect(
        () => new InspectingClient('127.0.0.1', 1, { system, negotiationTimeout: bad as never }),
      ).toThrow(InvalidArgumentError);
    }
    expect(system.actors()).toHaveLength(before);
  });
});
