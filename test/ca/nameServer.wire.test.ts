/**
 * The name-server link on the wire (issue 11 item 2), SearchEngine against a raw TCP peer: VERSION (priority 0),
 * CLIENT_NAME and HOST_NAME first; no SEARCH before the server's VERSION says minor >= 12 (libca `CA_V412`), then
 * every unanswered search at once and each later round; replies routed by cid, 0xFFFFFFFF meaning the name server
 * itself (host AND port, libca `tcpiiu::searchRespNotify`); a dropped link is opened again and searched again; an
 * idle link is probed with ECHO (libca's tcpiiu supervision): answered, it stays ready; unanswered, it is dropped
 * and connected again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../src/engine/clock.js';
import type { CaClientConfig } from '../../src/protocols/ca/addressList.js';
import { CircuitQueueFullError } from '../../src/protocols/ca/circuit.js';
import { echo, ipToU32, nameOf, searchResponse } from '../../src/protocols/ca/commands.js';
import { Command } from '../../src/protocols/ca/constants.js';
import { CaTimeoutError } from '../../src/protocols/ca/errors.js';
import { encodeFrame } from '../../src/protocols/ca/frame.js';
import { NameServerLink } from '../../src/protocols/ca/nameServer.js';
import { SearchEngine, type SearchResult } from '../../src/protocols/ca/search.js';
import { closedPort, RawTcpPeer } from './support/rawPeer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function config(nameServers: { host: string; port: number }[]): CaClientConfig {
  return {
    searchAddresses: [],
    autoAddressList: false,
    nameServers,
    serverPort: 5064,
    repeaterPort: 5065,
    connectionTimeoutMs: 2000,
    timeoutMs: 2000,
  };
}

function version(minor: number): Buffer {
  return encodeFrame({ command: Command.VERSION, dataType: 0, count: minor, p1: 0, p2: 0 });
}

async function engineFor(port: number) {
  const engine = new SearchEngine({
    config: config([{ host: '127.0.0.1', port }]),
    clock: realClock,
    beacons: false,
    hostName: 'h1',
    clientName: 'u1',
  });
  cleanups.push(() => engine.close());
  const results: SearchResult[] = [];
  engine.onResult((r) => results.push(r));
  await engine.start();
  return { engine, results };
}

/** Polls `check` every 5 ms until true (the test's own timeout bounds it). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

const searches = <F extends { command: number }>(frames: F[]) =>
  frames.filter((f) => f.command === Command.SEARCH);
const echoes = <F extends { command: number }>(frames: F[]) =>
  frames.filter((f) => f.command === Command.ECHO);

/** A link alone (real clock, small durations) and what it warned. */
function linkTo(port: number, silenceMs: number, echoTimeoutMs: number, maxQueuedBytes?: number) {
  const warnings: { obj: unknown; msg?: string }[] = [];
  const logger = {
    child: () => logger,
    trace() {},
    debug() {},
    info() {},
    warn: (obj: unknown, msg?: string) => void warnings.push({ obj, msg }),
    error() {},
  };
  let readies = 0;
  const link = new NameServerLink({
    address: { host: '127.0.0.1', port },
    clock: realClock,
    logger,
    connectTimeoutMs: 2000,
    maxRetryMs: 2000,
    silenceMs,
    echoTimeoutMs,
    maxQueuedBytes,
    hostName: 'h1',
    clientName: 'u1',
    onReady: () => void readies++,
    onSearchReply: () => {},
  });
  cleanups.push(() => link.close());
  link.start();
  return { link, warnings, readies: () => readies };
}

describe('issue 11 item 2: the name-server link on the wire', () => {
  it('a name server that reads nothing fails the link with CircuitQueueFullError; it is connected again', async () => {
    const peer = await RawTcpPeer.start();
    cleanups.push(() => peer.close());
    const { link, warnings } = linkTo(peer.port, 60_000, 60_000, 1024 * 1024);
    const conn = await peer.connection();
    await conn.received(3);
    conn.send(version(13));
    await until(() => link.state === 'ready');
    conn.socket.pause(); // accepts, never reads
    const chunk = Buffer.alloc(256 * 1024);
    let sent = 0;
    // the kernel's buffers take some MB first; past them the link refuses and fails
    while (sent < 256 * 1024 * 1024 && link.send([chunk])) {
      sent += chunk.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(link.state).not.toBe('ready');
    await until(() => warnings.length > 0);
    expect((warnings[0]!.obj as { err: unknown }).err).toBeInstanceOf(CircuitQueueFullError);
    await peer.connection(1); // reconnected after the back-off
  });

  it('issue 11 item 2: opens with VERSION/CLIENT_NAME/HOST_NAME, searches only after a V4.12+ VERSION, routes replies', async () => {
    const peer = await RawTcpPeer.start();
    cleanups.push(() => peer.close());
    const { engine, results } = await engineFor(peer.port);
    engine.add(7, 'A');
    engine.add(8, 'B');
    const conn = await peer.connection();
    const opening = await conn.received(3);
    expect(opening.slice(0, 3).map((f) => f.command)).toEqual([
      Command.VERSION,
      Command.CLIENT_NAME,
      Command.HOST_NAME,
    ]);
    expect(opening[0].dataType).toBe(0); // priority 0
    expect(nameOf(opening[1].payload)).toBe('u1');
    expect(nameOf(opening[2].payload)).toBe('h1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(searches(conn.frames)).toEqual([]); // no VERSION reply yet
    conn.send(version(13));
    await conn.until((f) => searches(f).length >= 2);
    expect(searches(conn.frames).map((f) => [nameOf(f.payload), f.p1])).toEqual([
      ['A', 7],
      ['B', 8],
    ]);
    // 0xFFFFFFFF: the name server itself (its port, not the dataType field); an address: that server
    conn.send(searchResponse(9999, 7));
    conn.send(searchResponse(6001, 8, ipToU32('127.0.0.3')));
    await until(() => results.length >= 2);
    expect(results.map((r) => [r.cid, r.name, r.address, r.minorVersion])).toEqual([
      [7, 'A', { host: '127.0.0.1', port: peer.port }, 13],
      [8, 'B', { host: '127.0.0.3', port: 6001 }, 13],
    ]);
    expect(engine.stats.unanswered).toBe(0);
  });

  it('issue 11 item 2: a server below V4.12 gets no search', async () => {
    const peer = await RawTcpPeer.start();
    cleanups.push(() => peer.close());
    const { engine } = await engineFor(peer.port);
    engine.add(1, 'A');
    const conn = await peer.connection();
    await conn.received(3);
    conn.send(version(11));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(searches(conn.frames)).toEqual([]);
    expect(engine.nameServers[0].state).toBe('open');
  });

  it('issue 11 item 2: refused, then dropped: the link connects again and re-sends the unanswered searches', async () => {
    const port = await closedPort();
    const { engine } = await engineFor(port);
    engine.add(1, 'A');
    const link = engine.nameServers[0];
    await until(() => link.connects >= 2); // refused, retried after the 250 ms back-off, never thrown
    expect(['waiting', 'connecting']).toContain(link.state);
    // the drop: a second engine whose name server is a live peer that resets the connection
    const peer = await RawTcpPeer.start();
    cleanups.push(() => peer.close());
    const second = await engineFor(peer.port);
    second.engine.add(1, 'A');
    const first = await peer.connection(0);
    await first.received(3);
    first.send(version(13));
    await first.until((f) => searches(f).length >= 1);
    first.reset(); // the name server drops the connection
    const again = await peer.connection(1);
    await again.received(3);
    again.send(version(13));
    await again.until((f) => searches(f).length >= 1);
    expect(nameOf(searches(again.frames)[0].payload)).toBe('A');
    expect(second.engine.nameServers[0].connects).toBe(2);
  });

  it('idle link: the ECHO after silenceMs is answered, the link stays ready on its one connection', async () => {
    const peer = await RawTcpPeer.start();
    cleanups.push(() => peer.close());
    const { link, warnings, readies } = linkTo(peer.port, 30, 500);
    const conn = await peer.connection();
    await conn.received(3);
    conn.send(version(13));
    await until(() => link.state === 'ready');
    for (let n = 1; n <= 3; n++) {
      await conn.until((f) => echoes(f).length >= n);
      const probe = echoes(conn.frames)[n - 1];
      expect([probe.dataType, probe.count, probe.p1, probe.p2, probe.payload.length]).toEqual([
        0, 0, 0, 0, 0,
      ]);
      conn.send(echo()); // the server's reply
    }
    expect(link.state).toBe('ready');
    expect(link.connects).toBe(1);
    expect(link.echoes).toBeGreaterThanOrEqual(3);
    expect(peer.connections).toHaveLength(1);
    expect(conn.isClosed).toBe(false);
    expect(readies()).toBe(1);
    expect(warnings).toEqual([]);
  });

  it('idle link: an ECHO never answered drops the link (CaTimeoutError warned) and it connects again', async () => {
    const peer = await RawTcpPeer.start();
    cleanups.push(() => peer.close());
    const { link, warnings, readies } = linkTo(peer.port, 30, 40);
    const first = await peer.connection(0);
    await first.received(3);
    first.send(version(13));
    await first.until((f) => echoes(f).length >= 1); // read, never answered
    await first.closed; // the client gave up on it
    expect(echoes(first.frames)).toHaveLength(1); // exactly one ECHO per probe
    expect(warnings).toHaveLength(1);
    const err = (warnings[0].obj as { err: Error }).err;
    expect(err).toBeInstanceOf(CaTimeoutError);
    expect(err.message).toBe(
      `Name server 127.0.0.1:${peer.port} did not answer an echo within 40 ms (after 30 ms of silence)`,
    );
    const again = await peer.connection(1); // after the 250 ms back-off
    await again.received(3);
    again.send(version(13));
    await until(() => readies() === 2);
    expect(link.state).toBe('ready');
    expect(link.connects).toBe(2);
  });
});
