/**
 * Beacons (`beacons.ts`): per-server interval tracking and anomalies on a TestClock, repeater registration
 * against a raw UDP peer acting as the repeater, and the fallback listener on the repeater port (unit tests of the
 * wire behaviour; loopback, random ports).
 */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logging.js';
import type { CaAddress } from '../../src/protocols/ca/addressList.js';
import { BeaconMonitor } from '../../src/protocols/ca/beacons.js';
import { beacon, ipToU32, repeaterConfirm, searchResponse } from '../../src/protocols/ca/commands.js';
import { Command } from '../../src/protocols/ca/constants.js';
import { decodeDatagram } from '../../src/protocols/ca/frame.js';
import { SearchEngine } from '../../src/protocols/ca/search.js';
import { TestClock } from '../../src/testing/index.js';
import { RawUdpPeer } from './support/rawPeer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const header = (bytes: Buffer) => decodeDatagram(bytes)[0];

function monitor(options: Partial<ConstructorParameters<typeof BeaconMonitor>[0]> = {}) {
  const clock = new TestClock();
  const sent: { bytes: Buffer; port: number; host: string }[] = [];
  const m = new BeaconMonitor({
    clock,
    logger: silentLogger(),
    repeaterPort: 1,
    loopbackOnly: true,
    listenFallback: false,
    send: (bytes, port, host) => sent.push({ bytes, port, host }),
    ...options,
  });
  const servers: CaAddress[] = [];
  m.onNewServer((a) => servers.push(a));
  cleanups.push(() => m.close());
  return { clock, m, sent, servers };
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind({ port: 0, address: '127.0.0.1' }, () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('issue 11 item 2: beacons (interval tracking, anomalies, repeater)', () => {
  it('a new server, then steady or growing intervals are quiet, an interval under 1/4 is an anomaly', () => {
    const { clock, m, servers } = monitor();
    const from = (id: number) => header(beacon(5064, id, 0));
    m.beacon(from(1), '127.0.0.1');
    expect(servers).toEqual([{ host: '127.0.0.1', port: 5064 }]);
    for (const [id, wait] of [
      [2, 20],
      [3, 40],
      [4, 80],
      [5, 15_000],
      [6, 15_000],
    ] as const) {
      clock.advance(wait);
      m.beacon(from(id), '127.0.0.1');
    }
    expect(servers).toHaveLength(1);
    clock.advance(3_749); // < 15000 / 4: the server restarted
    m.beacon(from(1), '127.0.0.1');
    expect(servers).toHaveLength(2);
    clock.advance(3_749 / 4 + 1); // not under a quarter of the last interval
    m.beacon(from(2), '127.0.0.1');
    expect(servers).toHaveLength(2);
  });

  it('the same beacon heard twice is ignored; the address field wins over the source; bad ports dropped', () => {
    const { clock, m, servers } = monitor();
    m.beacon(header(beacon(5064, 7, ipToU32('10.0.0.5'))), '127.0.0.1');
    clock.advance(15_000);
    m.beacon(header(beacon(5064, 8, ipToU32('10.0.0.5'))), '127.0.0.1');
    m.beacon(header(beacon(5064, 8, ipToU32('10.0.0.5'))), '127.0.0.1'); // via the repeater and directly
    m.beacon(header(beacon(0, 9, 0)), '127.0.0.1');
    expect(servers).toEqual([{ host: '10.0.0.5', port: 5064 }]);
    expect(m.servers).toBe(1);
  });

  it('remembers at most maxServers servers', () => {
    const { m, servers } = monitor({ maxServers: 10 });
    for (let port = 1; port <= 50; port++) m.beacon(header(beacon(port, 1, 0)), '127.0.0.1');
    expect(m.servers).toBe(10);
    expect(servers).toHaveLength(50);
  });

  it('registers with a repeater: REPEATER_REGISTER to it, confirmed, forwarded beacons un-retire searches', async () => {
    const repeater = await RawUdpPeer.start();
    cleanups.push(() => repeater.close());
    const clock = new TestClock();
    const engine = new SearchEngine({
      config: {
        searchAddresses: [{ host: '127.0.0.1', port: repeater.port }],
        autoAddressList: false,
        serverPort: 5064,
        repeaterPort: repeater.port,
        connectionTimeoutMs: 30_000,
        timeoutMs: 2000,
      },
      clock,
    });
    cleanups.push(() => engine.close());
    const news: CaAddress[] = [];
    engine.onNewServer((a) => news.push(a));
    await engine.start();
    await repeater.until((ds) => ds.some((d) => d.frames[0]?.command === Command.REPEATER_REGISTER));
    const register = repeater.datagrams.find((d) => d.frames[0]?.command === Command.REPEATER_REGISTER)!;
    await repeater.send(repeaterConfirm(ipToU32('127.0.0.1')), register.from.port);
    while (!engine.beacons!.registered) await new Promise((r) => setImmediate(r));
    clock.advance(60_000);
    expect(engine.beacons!.listening).toBe(false); // confirmed: no fallback, no retries
    expect(clock.pending).toBe(0);
    engine.add(1, 'waiting');
    clock.advance(600_000); // the search retires
    expect(engine.stats.retired).toBe(1);
    await repeater.send(beacon(6064, 1, 0), register.from.port);
    while (news.length === 0) await new Promise((r) => setImmediate(r));
    expect(news).toEqual([{ host: '127.0.0.1', port: 6064 }]);
    expect(engine.stats.retired).toBe(0);
    expect(engine.stats.intervalMs).toBe(30);
    // and a search reply still lands
    const results: number[] = [];
    engine.onResult((r) => results.push(r.cid));
    await repeater.send(searchResponse(6064, 1), register.from.port);
    while (results.length === 0) await new Promise((r) => setImmediate(r));
  });

  it('without a repeater it listens on the repeater port itself after 1 s, and hears beacons there', async () => {
    const port = await freeUdpPort();
    const { clock, m, sent, servers } = monitor({ repeaterPort: port, listenFallback: true });
    m.start();
    expect(sent.map((s) => [header(s.bytes).command, s.port, s.host])).toEqual([
      [Command.REPEATER_REGISTER, port, '127.0.0.1'],
    ]);
    clock.advance(1000);
    await m.whenListening();
    expect(clock.pending).toBe(0); // bound: no registration retries
    const server = await RawUdpPeer.start();
    cleanups.push(() => server.close());
    await server.send(Buffer.from([0, 1, 2]), port); // malformed: ignored
    await server.send(beacon(7064, 1, 0), port);
    while (servers.length === 0) await new Promise((r) => setImmediate(r));
    expect(servers).toEqual([{ host: '127.0.0.1', port: 7064 }]);
  });

  it('keeps retrying the registration every 10 s while nothing works', () => {
    const { clock, m, sent } = monitor();
    m.start();
    clock.advance(1000 + 10_000);
    expect(sent).toHaveLength(2);
    clock.advance(11_000);
    expect(sent).toHaveLength(3);
    m.close();
    expect(clock.pending).toBe(0);
  });
});
