/**
 * The KatcpClient hot path over a real socket (issue 9 item 8's figures rest on it): the lines written in one turn
 * leave together and arrive whole and in order, replies in any order reach their own request, a request awaited
 * in a loop reuses the one timeout timer, and unsolicited informs reach their handlers with snapshot semantics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KatcpClient } from '../../src/protocols/katcp/client.js';
import type { KatcpMessage } from '../../src/protocols/katcp/codec.js';
import { RequestTimeoutError } from '../../src/protocols/katcp/errors.js';
import { useTestSystem } from '../support/testSystem.js';
import { RawPeer } from './support/peer.js';

const t = useTestSystem();
let peer: RawPeer | undefined;
let client: KatcpClient | undefined;

afterEach(async () => {
  await client?.close();
  await peer?.close();
  client = undefined;
  peer = undefined;
});

async function setup() {
  const system = t.start();
  peer = await RawPeer.start();
  client = new KatcpClient('127.0.0.1', peer.port, { system });
  const conn = await peer.nextConnection();
  await client.waitConnected();
  return { conn, client };
}

describe('issue 9 item 8: KatcpClient hot path over a real socket', () => {
  it('a burst of 3,000 pipelined requests (with and without arguments) arrives whole and in order; replies in reverse order settle each its own', async () => {
    const { conn, client } = await setup();
    const n = 3000;
    const all: Promise<[Buffer[], KatcpMessage[]]>[] = [];
    for (let i = 0; i < n; i++) {
      all.push(i % 3 === 0 ? client.request('watchdog') : client.request('echo', `v ${i}`, i));
    }
    expect(client.pendingCount).toBe(n);
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(await conn.nextLine());
    expect(lines).toEqual(
      Array.from({ length: n }, (_, i) =>
        i % 3 === 0 ? `?watchdog[${i + 1}]` : `?echo[${i + 1}] v\\_${i} ${i}`,
      ),
    );
    const replies: string[] = [];
    for (let i = n - 1; i >= 0; i--) {
      if (i % 3 === 0) replies.push(`!watchdog[${i + 1}] ok`);
      else replies.push(`#echo[${i + 1}] seen\\_${i}`, `!echo[${i + 1}] ok ${i}`);
    }
    conn.send(...replies);
    const results = await Promise.all(all);
    results.forEach(([args, informs], i) => {
      if (i % 3 === 0) {
        expect(args).toEqual([]);
        expect(informs).toEqual([]);
      } else {
        expect(args.map(String)).toEqual([String(i)]);
        expect(informs.map((m) => String(m.args[0]))).toEqual([`seen ${i}`]);
      }
    });
    expect(client.pendingCount).toBe(0);
  });

  it('a request awaited in a loop keeps the one timeout timer (armed for the first deadline); none is left once idle', async () => {
    const { conn, client } = await setup();
    const answer = async () => {
      for (let i = 1; i <= 20; i++) {
        const req = await conn.nextRequest();
        t.clock.advance(10);
        conn.send(`!watchdog[${req.mid}] ok`);
      }
    };
    const answering = answer();
    const seen = new Set<number | undefined>();
    for (let i = 0; i < 20; i++) {
      const pending = client.request('watchdog');
      seen.add(t.clock.nextAt());
      expect(t.clock.pending).toBe(1);
      await pending;
    }
    await answering;
    // re-armed per request, the deadlines would have been 5000, 5010, ...: it stayed at the first one
    expect([...seen]).toEqual([5000]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.clock.pending).toBe(0);
    // and the timer still times out what is late: one request due at 200 + 5000
    const late = client.request('late');
    await conn.nextRequest();
    t.clock.advance(4999);
    expect(client.pendingCount).toBe(1);
    t.clock.advance(1);
    await expect(late).rejects.toBeInstanceOf(RequestTimeoutError);
  });

  it('inform handlers run on a snapshot: one removed while an inform is dispatched still gets it, one added then does not', async () => {
    const { conn, client } = await setup();
    const calls: string[] = [];
    let offB: () => void = () => {};
    const offA = client.addInformHandler('tick', (m) => {
      calls.push(`a ${m.args[0]}`);
      offB();
      client.addInformHandler('tick', (m2) => calls.push(`late ${m2.args[0]}`));
    });
    offB = client.addInformHandler('tick', (m) => calls.push(`b ${m.args[0]}`));
    const twice = (m: KatcpMessage) => calls.push(`any ${m.args[0]}`);
    const offAny = client.onInform(twice);
    client.onInform(twice); // the same function again: a set, it runs once
    const roundTrip = async (inform: string) => {
      conn.send(inform);
      const sync = client.request('sync');
      const req = await conn.nextRequest();
      conn.send(`!sync[${req.mid}] ok`);
      await sync; // the inform came first on the same socket: it has been dispatched
    };
    await roundTrip('#tick 1');
    await roundTrip('#tick 2');
    offA();
    offAny();
    expect(calls.filter((c) => c.endsWith(' 1'))).toEqual(['a 1', 'b 1', 'any 1']);
    expect(calls.filter((c) => c.endsWith(' 2'))).toEqual(['a 2', 'late 2', 'any 2']);
  });
});
