/**
 * CircuitConnection against a raw TCP peer on loopback (unit tests of the wire behaviour; the real CA server is
 * tested elsewhere): handshake, queue while connecting, corked writes, frame routing, echo liveness on a
 * TestClock, every way a circuit closes, and nothing left behind.
 */
import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSystem, type OrrerySystem } from '../../src/index.js';
import {
  CircuitConnection,
  CircuitQueueFullError,
  type CircuitState,
} from '../../src/protocols/ca/circuit.js';
import {
  accessRightsResponse,
  createChanRequest,
  echo,
  readNotifyRequest,
  versionResponse,
} from '../../src/protocols/ca/commands.js';
import { Command } from '../../src/protocols/ca/constants.js';
import { CaDisconnectedError, CaProtocolError, CaTimeoutError } from '../../src/protocols/ca/errors.js';
import { type CaFrame, encodeFrame } from '../../src/protocols/ca/frame.js';
import { TestClock } from '../../src/testing/index.js';
import { blackholePort, closedPort, RawTcpPeer } from './support/rawPeer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  vi.restoreAllMocks();
});

interface Harness {
  peer: RawTcpPeer;
  clock: TestClock;
  system: OrrerySystem;
  circuit: CircuitConnection;
  states: [CircuitState, Error | undefined][];
  frames: CaFrame[];
}

async function open(
  options: {
    port?: number;
    priority?: number;
    maxQueuedBytes?: number;
    connectionTimeoutMs?: number;
    connectTimeoutMs?: number;
  } = {},
): Promise<Harness> {
  const peer = await RawTcpPeer.start();
  const clock = new TestClock();
  const system = createSystem({ clock });
  const circuit = CircuitConnection.open({
    key: { host: '127.0.0.1', port: options.port ?? peer.port, priority: options.priority ?? 0 },
    clock,
    system,
    hostName: 'testhost',
    clientName: 'tester',
    connectionTimeoutMs: options.connectionTimeoutMs ?? 30_000,
    connectTimeoutMs: options.connectTimeoutMs,
    maxQueuedBytes: options.maxQueuedBytes,
  });
  const states: [CircuitState, Error | undefined][] = [];
  const frames: CaFrame[] = [];
  circuit.onState((s, e) => states.push([s, e]));
  circuit.onFrame((f) => frames.push(f));
  cleanups.push(async () => {
    circuit.close();
    await circuit.closed;
    await peer.close();
    await system.stop();
  });
  return { peer, clock, system, circuit, states, frames };
}

function waitState(circuit: CircuitConnection, state: CircuitState): Promise<Error | undefined> {
  if (circuit.state === state) return Promise.resolve(circuit.error);
  return new Promise((resolve) => {
    const off = circuit.onState((s, e) => {
      if (s === state) {
        off();
        resolve(e);
      }
    });
  });
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setImmediate(r));
};

describe('issue 11 item 2: CircuitConnection (unit tests of the wire behaviour against a raw TCP peer)', () => {
  it('sends VERSION(priority), HOST_NAME, CLIENT_NAME first, then what was queued while connecting', async () => {
    const h = await open({ priority: 7 });
    expect(h.circuit.state).toBe('connecting');
    expect(h.circuit.send(createChanRequest(1, 'pv:a'))).toBe(true);
    expect(h.circuit.send(createChanRequest(2, 'pv:b'))).toBe(true);
    await waitState(h.circuit, 'connected');
    const conn = await h.peer.connection();
    const frames = await conn.received(5);
    expect(frames.map((f) => f.command)).toEqual([
      Command.VERSION,
      Command.HOST_NAME,
      Command.CLIENT_NAME,
      Command.CREATE_CHAN,
      Command.CREATE_CHAN,
    ]);
    expect(frames[0].dataType).toBe(7); // priority
    expect(frames[0].count).toBe(13);
    expect(frames[1].payload.toString('latin1').replace(/\0+$/, '')).toBe('testhost');
    expect(frames[2].payload.toString('latin1').replace(/\0+$/, '')).toBe('tester');
    expect(frames.slice(3).map((f) => f.p1)).toEqual([1, 2]);
    expect(h.states).toEqual([['connected', undefined]]);
    expect(h.circuit.actorId).toMatch(/^ca:circuit:127\.0\.0\.1:\d+:7:\d+$/);
    expect(h.system.get(h.circuit.actorId)).toBeDefined();
  });

  it('writes a burst of one turn with one socket.write', async () => {
    const h = await open();
    await waitState(h.circuit, 'connected');
    const conn = await h.peer.connection();
    await conn.received(3);
    const write = vi.spyOn(Socket.prototype, 'write');
    for (let i = 0; i < 100; i++) h.circuit.send(readNotifyRequest(6, 1, 1, i));
    await conn.received(103);
    expect(write).toHaveBeenCalledTimes(1);
    expect(conn.frames.slice(3).map((f) => f.p2)).toEqual([...Array(100).keys()]);
  });

  it('routes every frame but VERSION and ECHO to onFrame, and records the server version', async () => {
    const h = await open();
    const conn = await h.peer.connection();
    conn.send(Buffer.concat([versionResponse(), echo(), accessRightsResponse(5, 3)]));
    await until(() => h.frames.length === 1);
    expect(h.frames[0].command).toBe(Command.ACCESS_RIGHTS);
    expect(h.frames[0].p1).toBe(5);
    expect(h.circuit.serverMinorVersion).toBe(13);
  });

  it('probes with ECHO after connectionTimeoutMs of silence and stays connected when answered', async () => {
    const h = await open();
    await waitState(h.circuit, 'connected');
    const conn = await h.peer.connection();
    await conn.received(3);
    h.clock.advance(29_999);
    expect(h.circuit.machineState).toBe('connected');
    h.clock.advance(1);
    expect(h.circuit.machineState).toBe('probing');
    await conn.until((f) => f.some((x) => x.command === Command.ECHO));
    conn.send(echo());
    await until(() => h.circuit.machineState === 'connected');
    expect(h.frames).toEqual([]); // the echo reply is not a frame for the channels
    expect(h.states).toEqual([['connected', undefined]]); // probing is invisible in `state`
  });

  it('becomes unresponsive 5 s after an unanswered ECHO and closes with a CaTimeoutError', async () => {
    const h = await open();
    await waitState(h.circuit, 'connected');
    const conn = await h.peer.connection();
    h.clock.advance(30_000);
    h.clock.advance(5_000);
    const error = await waitState(h.circuit, 'closed');
    expect(error).toBeInstanceOf(CaTimeoutError);
    expect(h.circuit.closeReason).toBe('unresponsive');
    expect(h.states.map(([s]) => s)).toEqual(['connected', 'unresponsive', 'closed']);
    await conn.closed;
    await h.circuit.closed;
    expect(h.clock.pending).toBe(0);
    expect(h.circuit.send(echo())).toBe(false);
  });

  it('a peer close ends the circuit with CaDisconnectedError, told exactly once', async () => {
    const h = await open();
    await waitState(h.circuit, 'connected');
    (await h.peer.connection()).end();
    const error = await waitState(h.circuit, 'closed');
    expect(error).toBeInstanceOf(CaDisconnectedError);
    expect(h.circuit.closeReason).toBe('peer-closed');
    h.circuit.close(new Error('late'));
    await h.circuit.closed;
    expect(h.states.filter(([s]) => s === 'closed')).toHaveLength(1);
    expect(h.system.get(h.circuit.actorId)).toBeUndefined();
  });

  it('a malformed frame closes that circuit with CaProtocolError', async () => {
    const h = await open();
    await waitState(h.circuit, 'connected');
    const conn = await h.peer.connection();
    // an extended header announcing a payload far over the 64 MiB limit
    const bad = Buffer.alloc(24);
    bad.writeUInt16BE(Command.READ_NOTIFY, 0);
    bad.writeUInt16BE(0xffff, 2);
    bad.writeUInt32BE(0xfffffff0, 16);
    conn.send(bad);
    const error = await waitState(h.circuit, 'closed');
    expect(error).toBeInstanceOf(CaProtocolError);
    expect(h.circuit.closeReason).toBe('protocol-error');
    await conn.closed;
  });

  it('a refused connection closes with CaDisconnectedError naming the address', async () => {
    const port = await closedPort();
    const h = await open({ port });
    const error = await waitState(h.circuit, 'closed');
    expect(error).toBeInstanceOf(CaDisconnectedError);
    expect(error?.message).toContain(`127.0.0.1:${port}`);
    expect(h.circuit.closeReason).toBe('connect-failed');
  });

  it('a connect the server never answers (blackholed SYN) is bounded: at connectTimeoutMs the socket is destroyed, CaTimeoutError', async () => {
    const hole = await blackholePort();
    cleanups.push(() => hole.close());
    const h = await open({ port: hole.port, connectTimeoutMs: 500 });
    // real time passes and the SYN stays unanswered: without a bound the kernel would wait ~127 s
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(h.circuit.state).toBe('connecting');
    expect(h.clock.pending).toBe(1); // the connect deadline, on the system's clock
    h.clock.advance(499);
    expect(h.circuit.state).toBe('connecting');
    h.clock.advance(1);
    expect(h.circuit.state).toBe('closed');
    expect(h.circuit.error).toBeInstanceOf(CaTimeoutError);
    expect(h.circuit.error?.message).toContain(`127.0.0.1:${hole.port}`);
    expect(h.circuit.error?.message).toContain('500 ms');
    expect(h.circuit.closeReason).toBe('connect-failed');
    expect(h.states).toEqual([['closed', h.circuit.error]]);
    expect(h.circuit.send(echo())).toBe(false);
    await h.circuit.closed; // the socket is released
    expect(h.clock.pending).toBe(0);
    expect(h.system.get(h.circuit.actorId)).toBeUndefined();
  });

  it('the connect is bounded by connectionTimeoutMs by default, by 30 s when that is Infinity; the deadline goes once connected', async () => {
    const hole = await blackholePort();
    cleanups.push(() => hole.close());
    const byConnTmo = await open({ port: hole.port, connectionTimeoutMs: 2000 });
    expect(byConnTmo.clock.nextAt()).toBe(2000);
    const never = await open({ port: hole.port, connectionTimeoutMs: Number.POSITIVE_INFINITY });
    expect(never.clock.nextAt()).toBe(30_000);
    // a circuit that connects cancels its connect deadline (nothing runs in connected with Infinity)
    const up = await open({ connectionTimeoutMs: Number.POSITIVE_INFINITY, connectTimeoutMs: 1000 });
    expect(up.clock.pending).toBe(1);
    await waitState(up.circuit, 'connected');
    expect(up.clock.pending).toBe(0);
  });

  it('close(): listeners hear closed once with the error given, send returns false, nothing is left', async () => {
    const h = await open();
    await waitState(h.circuit, 'connected');
    const conn = await h.peer.connection();
    const reason = new Error('bye');
    h.circuit.close(reason);
    h.circuit.close();
    expect(h.states).toEqual([
      ['connected', undefined],
      ['closed', reason],
    ]);
    expect(h.circuit.send(echo())).toBe(false);
    await h.circuit.closed;
    await conn.closed;
    expect(h.clock.pending).toBe(0);
    expect(h.system.get(h.circuit.actorId)).toBeUndefined();
  });

  it('close() while connecting: CaDisconnectedError by default, no socket left', async () => {
    const h = await open();
    h.circuit.close();
    expect(h.states).toHaveLength(1);
    expect(h.states[0][0]).toBe('closed');
    expect(h.states[0][1]).toBeInstanceOf(CaDisconnectedError);
    await h.circuit.closed;
    expect(h.clock.pending).toBe(0);
  });

  it('the queue while connecting is bounded: CircuitQueueFullError beyond maxQueuedBytes', async () => {
    const h = await open({ maxQueuedBytes: 64 });
    expect(h.circuit.send(Buffer.alloc(48))).toBe(true);
    expect(() => h.circuit.send(Buffer.alloc(24))).toThrow(CircuitQueueFullError);
  });

  it('a message larger than maxQueuedBytes goes into an empty queue (an array of any size can be written); the bound holds beyond it', async () => {
    const h = await open({ maxQueuedBytes: 64 });
    const big = encodeFrame(
      { command: Command.WRITE, dataType: 6, count: 16, p1: 1, p2: 0 },
      Buffer.alloc(128, 7),
    );
    expect(h.circuit.send(big)).toBe(true); // connecting: queued alone
    expect(() => h.circuit.send(Buffer.alloc(8))).toThrow(CircuitQueueFullError);
    await waitState(h.circuit, 'connected');
    const conn = await h.peer.connection();
    await conn.until((frames) => frames.some((f) => f.command === Command.WRITE));
    // connected, nothing unsent: another one larger than the bound is written too
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.circuit.send(big)).toBe(true);
    await conn.until((frames) => frames.filter((f) => f.command === Command.WRITE).length === 2);
    const writes = conn.frames.filter((f) => f.command === Command.WRITE);
    expect(writes.map((f) => f.payload.length)).toEqual([128, 128]);
  });

  it('once connected, unsent bytes are bounded too: a server that reads nothing gets CircuitQueueFullError', async () => {
    const limit = 1024 * 1024;
    const h = await open({ maxQueuedBytes: limit });
    await waitState(h.circuit, 'connected');
    const conn = await h.peer.connection();
    conn.socket.pause(); // accepts, never reads
    const chunk = Buffer.alloc(256 * 1024);
    let error: unknown;
    let sent = 0;
    // the kernel's buffers take some MB first; past them the socket may hold at most `limit` unsent bytes
    while (sent < 256 * 1024 * 1024) {
      try {
        h.circuit.send(chunk);
      } catch (err) {
        error = err;
        break;
      }
      sent += chunk.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(error).toBeInstanceOf(CircuitQueueFullError);
    expect(h.circuit.queuedBytes).toBeLessThanOrEqual(limit);
    expect(h.circuit.state).toBe('connected');
  });

  it('without a system it makes its own on the clock and stops it when closed', async () => {
    const peer = await RawTcpPeer.start();
    cleanups.push(() => peer.close());
    const clock = new TestClock();
    const circuit = CircuitConnection.open({
      key: { host: '127.0.0.1', port: peer.port, priority: 0 },
      clock,
      hostName: 'h',
      clientName: 'c',
      connectionTimeoutMs: 1000,
    });
    await waitState(circuit, 'connected');
    circuit.close();
    await circuit.closed;
    expect(clock.pending).toBe(0);
  });

  it('bad options are a CaValueError', () => {
    const clock = new TestClock();
    const base = { clock, hostName: 'h', clientName: 'c', connectionTimeoutMs: 1000 };
    expect(() => CircuitConnection.open({ ...base, key: { host: '', port: 1, priority: 0 } })).toThrow(
      /host/,
    );
    expect(() => CircuitConnection.open({ ...base, key: { host: 'a', port: 0, priority: 0 } })).toThrow(
      /port/,
    );
    expect(() => CircuitConnection.open({ ...base, key: { host: 'a', port: 1, priority: 100 } })).toThrow(
      /priority/,
    );
    expect(() =>
      CircuitConnection.open({ ...base, connectionTimeoutMs: -1, key: { host: 'a', port: 1, priority: 0 } }),
    ).toThrow(/connectionTimeoutMs/);
    expect(() =>
      CircuitConnection.open({ ...base, connectTimeoutMs: 0, key: { host: 'a', port: 1, priority: 0 } }),
    ).toThrow(/connectTimeoutMs/);
  });

  it('the system stopping closes the circuit once and releases the socket', async () => {
    const h = await open();
    await waitState(h.circuit, 'connected');
    const conn = await h.peer.connection();
    await h.system.stop();
    expect(h.circuit.state).toBe('closed');
    expect(h.states.filter(([s]) => s === 'closed')).toHaveLength(1);
    await conn.closed;
  });
});
