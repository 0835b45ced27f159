/**
 * SearchEngine over real loopback UDP against raw peers (unit tests of the wire behaviour): datagram layout,
 * routing of replies by cid, several addresses with host:port, batching of many names, first answer wins,
 * malformed datagrams, resends on the TestClock, and nothing left after close.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CaAddress, CaClientConfig } from '../../src/protocols/ca/addressList.js';
import { ipToU32, nameOf, searchResponse, udpVersion } from '../../src/protocols/ca/commands.js';
import { Command, SEARCH_MAX_DATAGRAM_BYTES } from '../../src/protocols/ca/constants.js';
import { CaValueError } from '../../src/protocols/ca/errors.js';
import {
  type SearchEngine as Engine,
  SearchEngine,
  type SearchResult,
} from '../../src/protocols/ca/search.js';
import { TestClock } from '../../src/testing/index.js';
import { RawUdpPeer, type ReceivedDatagram } from './support/rawPeer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function config(addresses: CaAddress[]): CaClientConfig {
  return {
    searchAddresses: addresses,
    autoAddressList: false,
    serverPort: 5064,
    repeaterPort: 5065,
    connectionTimeoutMs: 30_000,
    timeoutMs: 2000,
  };
}

/** A logger recording warnings (the "found on multiple servers" one). */
function recordingLogger() {
  const warnings: string[] = [];
  const logger = {
    child: () => logger,
    trace() {},
    debug() {},
    info() {},
    warn: (_obj: unknown, msg?: string) => void warnings.push(msg ?? ''),
    error() {},
  };
  return { logger, warnings };
}

async function start(peers: RawUdpPeer[], logger?: ReturnType<typeof recordingLogger>['logger']) {
  const clock = new TestClock();
  const engine = new SearchEngine({
    config: config(peers.map((p) => ({ host: '127.0.0.1', port: p.port }))),
    clock,
    logger,
    beacons: false,
  });
  await engine.start();
  const results: SearchResult[] = [];
  engine.onResult((r) => results.push(r));
  cleanups.push(() => engine.close());
  return { clock, engine, results };
}

async function peers(n: number): Promise<RawUdpPeer[]> {
  const list = await Promise.all(Array.from({ length: n }, () => RawUdpPeer.start()));
  for (const p of list) cleanups.push(() => p.close());
  return list;
}

const searches = (d: ReceivedDatagram) => d.frames.filter((f) => f.command === Command.SEARCH);

async function resultCount(results: SearchResult[], n: number): Promise<void> {
  while (results.length < n) await new Promise((r) => setImmediate(r));
}

describe('issue 11 item 2: SearchEngine (unit tests of the wire behaviour against raw UDP peers)', () => {
  it('binds loopback and sends VERSION(sequence) + SEARCH(cid, name) with DONT_REPLY', async () => {
    const [peer] = await peers(1);
    const { engine } = await start([peer]);
    expect(engine.localAddress?.host).toBe('127.0.0.1');
    engine.add(42, 'sim:A');
    const [d] = await peer.received(1);
    expect(d.frames.map((f) => f.command)).toEqual([Command.VERSION, Command.SEARCH]);
    expect(d.frames[0]).toMatchObject({ dataType: 1, count: 13 });
    expect(d.frames[1]).toMatchObject({ dataType: 5, count: 13, p1: 42, p2: 42 });
    expect(nameOf(d.frames[1].payload)).toBe('sim:A');
    expect(engine.stats).toMatchObject({ unanswered: 1, retired: 0, intervalMs: 30, datagramsSent: 1 });
  });

  it('routes a reply by cid: p1 0xFFFFFFFF means the datagram source, port is the dataType field', async () => {
    const [peer] = await peers(1);
    const { engine, results } = await start([peer]);
    engine.add(1, 'a');
    engine.add(2, 'b');
    const [d] = await peer.received(1);
    const reply = Buffer.concat([
      udpVersion(0),
      searchResponse(6000, 2),
      searchResponse(6001, 1, ipToU32('10.9.8.7')),
    ]);
    await peer.send(reply, d.from.port);
    await resultCount(results, 2);
    expect(results).toEqual([
      { cid: 2, name: 'b', address: { host: '127.0.0.1', port: 6000 }, minorVersion: 13 },
      { cid: 1, name: 'a', address: { host: '10.9.8.7', port: 6001 }, minorVersion: 13 },
    ]);
    expect(engine.stats.unanswered).toBe(0);
  });

  it('sends every datagram to every address (host:port entries honoured)', async () => {
    const list = await peers(3);
    const { engine } = await start(list);
    engine.add(5, 'x');
    const got = await Promise.all(list.map((p) => p.received(1)));
    for (const [d] of got) expect(searches(d).map((f) => f.p2)).toEqual([5]);
    expect(engine.stats.datagramsSent).toBe(3);
  });

  it('batches many names into datagrams of at most 1472 bytes, each led by VERSION', async () => {
    const [peer] = await peers(1);
    const { engine } = await start([peer]);
    const names = Array.from(
      { length: 300 },
      (_, i) => `beamline:motor:${String(i).padStart(4, '0')}:position`,
    );
    for (const [cid, n] of names.entries()) engine.add(cid, n);
    await peer.until((ds) => ds.reduce((n, d) => n + searches(d).length, 0) >= 300);
    const ds = peer.datagrams;
    expect(ds.length).toBeGreaterThan(1);
    for (const d of ds) {
      expect(d.bytes.length).toBeLessThanOrEqual(SEARCH_MAX_DATAGRAM_BYTES);
      expect(d.frames[0].command).toBe(Command.VERSION);
      expect(d.frames.slice(1).every((f) => f.command === Command.SEARCH)).toBe(true);
    }
    const sent = ds.flatMap((d) => searches(d).map((f) => nameOf(f.payload)));
    expect(sent).toEqual(names);
    const sequences = ds.map((d) => d.frames[0].p1);
    expect(new Set(sequences).size).toBe(sequences.length);
    // a full datagram leaves no room for one more search
    const first = ds[0].bytes.length;
    expect(first + 16 + 48).toBeGreaterThan(SEARCH_MAX_DATAGRAM_BYTES);
  });

  it('first answer wins; a later one from another server is a warning, not a second result', async () => {
    const [peer, other] = await peers(2);
    const { logger, warnings } = recordingLogger();
    const { engine, results } = await start([peer, other], logger);
    engine.add(9, 'dup:pv');
    const [d] = await peer.received(1);
    const [d2] = await other.received(1);
    await peer.send(searchResponse(7000, 9), d.from.port);
    await resultCount(results, 1);
    await other.send(searchResponse(7001, 9, ipToU32('127.0.0.2')), d2.from.port);
    while (warnings.length === 0) await new Promise((r) => setImmediate(r));
    expect(results).toHaveLength(1);
    expect(results[0].address).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(warnings[0]).toContain('PV dup:pv found on multiple servers. Accepted address is 127.0.0.1:7000');
    expect(warnings[0]).toContain('127.0.0.2:7001');
  });

  it('ignores malformed datagrams and replies for unknown cids, and keeps working', async () => {
    const [peer] = await peers(1);
    const { engine, results } = await start([peer]);
    engine.add(3, 'c');
    const [d] = await peer.received(1);
    await peer.send(Buffer.from([1, 2, 3, 4, 5]), d.from.port);
    await peer.send(Buffer.alloc(15), d.from.port);
    const truncated = searchResponse(6000, 3).subarray(0, 20);
    await peer.send(truncated, d.from.port);
    await peer.send(searchResponse(6000, 999), d.from.port);
    await peer.send(searchResponse(6002, 3), d.from.port);
    await resultCount(results, 1);
    expect(results.map((r) => [r.cid, r.address.port])).toEqual([[3, 6002]]);
  });

  it('resends on the TestClock: 30 ms, then 60 ms later; remove stops them', async () => {
    const [peer] = await peers(1);
    const { engine, clock } = await start([peer]);
    engine.add(1, 'slow');
    await peer.received(1);
    clock.advance(29);
    clock.advance(1);
    await peer.received(2);
    clock.advance(60);
    await peer.received(3);
    expect(engine.stats.intervalMs).toBe(120);
    engine.remove(1);
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(engine.stats.datagramsSent).toBe(3);
  });

  it('bad arguments are CaValueError; after close nothing is sent and no timer is left', async () => {
    const [peer] = await peers(1);
    const { engine, clock } = await start([peer]);
    expect(() => engine.add(-1, 'x')).toThrow(CaValueError);
    expect(() => engine.add(1, '')).toThrow(CaValueError);
    expect(() => engine.add(1, 'x'.repeat(501))).toThrow(CaValueError);
    engine.add(1, 'x');
    engine.close();
    engine.close();
    engine.add(2, 'y');
    await new Promise((r) => setImmediate(r));
    expect(clock.pending).toBe(0);
    expect(engine.stats.unanswered).toBe(0);
    expect(engine.localAddress).toBeUndefined();
  });

  it('searches added before start go out once bound', async () => {
    const [peer] = await peers(1);
    const clock = new TestClock();
    const engine: Engine = new SearchEngine({
      config: config([{ host: '127.0.0.1', port: peer.port }]),
      clock,
      beacons: false,
    });
    cleanups.push(() => engine.close());
    engine.add(11, 'early');
    await engine.start();
    const [d] = await peer.received(1);
    expect(searches(d).map((f) => f.p2)).toEqual([11]);
  });
});
