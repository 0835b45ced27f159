import { afterEach, describe, expect, it } from 'vitest';
import { CancelledError, InvalidArgumentError } from '../../src/errors.js';
import { KatcpClient } from '../../src/protocols/katcp/client.js';
import {
  BrokenPipeError,
  ConnectionResetError,
  FailReply,
  InvalidReply,
  ProtocolError,
  RequestTimeoutError,
  WriteBacklogError,
} from '../../src/protocols/katcp/errors.js';
import { InspectingClient } from '../../src/protocols/katcp/inspectingClient.js';
import { useTestSystem } from '../support/testSystem.js';
import { GREETING_MID, GREETING_NO_MID, RawPeer, stateIs } from './support/peer.js';

const t = useTestSystem();
let peer: RawPeer | undefined;
let client: KatcpClient | undefined;

afterEach(async () => {
  await client?.close();
  await peer?.close();
  client = undefined;
  peer = undefined;
});

async function setup(greeting = [GREETING_MID]) {
  const system = t.start();
  peer = await RawPeer.start({ greeting });
  client = new KatcpClient('127.0.0.1', peer.port, { system });
  const conn = await peer.nextConnection();
  await client.waitConnected();
  return { system, conn, client };
}

describe('issue 9 item 2: KatcpClient requests over a real socket (aiokatcp test_client request tests)', () => {
  it('ok: the arguments after ok and the informs, with message ids from 1', async () => {
    const { conn, client } = await setup();
    const pending = client.request('echo', 'a b', 3, true);
    const req = await conn.nextRequest();
    expect(req).toMatchObject({ type: 'request', name: 'echo', mid: 1 });
    expect(req.args.map(String)).toEqual(['a b', '3', '1']);
    conn.send('#echo[1] informed', '!echo[1] ok a\\_b 3 1');
    const [args, informs] = await pending;
    expect(args.map(String)).toEqual(['a b', '3', '1']);
    expect(informs.map((m) => m.args.map(String))).toEqual([['informed']]);
    expect(client.pendingCount).toBe(0);
  });

  it('fail -> FailReply with the message; invalid or no code -> InvalidReply', async () => {
    const { conn, client } = await setup();
    const fail = client.request('fail');
    const invalid = client.request('nosuch');
    const nocode = client.request('nocode');
    await conn.nextRequest();
    await conn.nextRequest();
    await conn.nextRequest();
    conn.send(
      '!fail[1] fail x\\_is\\_no\\_good',
      '!nosuch[2] invalid unknown\\_request\\_nosuch',
      '!nocode[3]',
    );
    await expect(fail).rejects.toThrow(new FailReply('x is no good'));
    await expect(fail).rejects.toBeInstanceOf(FailReply);
    await expect(invalid).rejects.toBeInstanceOf(InvalidReply);
    await expect(invalid).rejects.toThrow('unknown request nosuch');
    await expect(nocode).rejects.toBeInstanceOf(InvalidReply);
  });

  it('requestRaw gives any reply as it came', async () => {
    const { conn, client } = await setup();
    const pending = client.requestRaw('thing', ['x']);
    await conn.nextRequest();
    conn.send('#thing[1] i', '!thing[1] weird 1');
    const { reply, informs } = await pending;
    expect(reply.args.map(String)).toEqual(['weird', '1']);
    expect(informs).toHaveLength(1);
  });

  it('pipelined with increasing ids; out-of-order replies and informs are matched by id', async () => {
    const { conn, client } = await setup();
    const a = client.request('a');
    const b = client.request('b');
    const c = client.requestWith({ mid: 40 }, 'c');
    const sent = [await conn.nextRequest(), await conn.nextRequest(), await conn.nextRequest()];
    expect(sent.map((m) => [m.name, m.mid])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 40],
    ]);
    conn.send('#c[40] x', '!c[40] ok c', '#b[2] y', '!b[2] ok b', '!a[1] ok a');
    expect((await a)[0].map(String)).toEqual(['a']);
    expect((await b)[1]).toHaveLength(1);
    expect((await c)[0].map(String)).toEqual(['c']);
    await expect(client.requestWith({ mid: 0 }, 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('no-mid server: two concurrent requests are serialised, the second written only after the first reply', async () => {
    const { conn, client } = await setup([GREETING_NO_MID]);
    expect(client.protocol).toEqual({ major: 5, minor: 0, flags: 'M' });
    const first = client.request('first');
    const second = client.request('second');
    const r1 = await conn.nextRequest();
    expect(r1).toMatchObject({ name: 'first', mid: null });
    // round trip through the client: a request to it is answered only after 'first' is done
    conn.send('#first informed');
    await new Promise((r) => setImmediate(r));
    expect(conn.unread).toBe(0);
    conn.send('!first ok 1');
    expect((await first)[1]).toHaveLength(1);
    const r2 = await conn.nextRequest();
    expect(r2).toMatchObject({ name: 'second', mid: null });
    conn.send('!second ok 2');
    expect((await second)[0].map(String)).toEqual(['2']);
  });

  it('no-mid server: a late reply to a timed-out request is not taken for the next one (held until it comes)', async () => {
    const { conn, client } = await setup([GREETING_NO_MID]);
    const temp = client.requestWith({ timeout: 1000 }, 'sensor-value', 'temp');
    const pressure = client.request('sensor-value', 'pressure');
    expect((await conn.nextRequest()).args.map(String)).toEqual(['temp']);
    t.clock.advance(1000);
    await expect(temp).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(client.pendingCount).toBe(1);
    // the server answers temp late: its reply and inform are swallowed, then pressure goes out
    conn.send('#sensor-value 1.0 1 temp nominal 21.5', '!sensor-value ok 1');
    expect((await conn.nextRequest()).args.map(String)).toEqual(['pressure']);
    conn.send('#sensor-value 1.0 1 pressure nominal 1013', '!sensor-value ok 1');
    const [, informs] = await pressure;
    expect(informs.map((m) => m.args.map(String)[2])).toEqual(['pressure']);
  });

  it('no-mid server: no late reply within the timeout again: the connection is dropped with ProtocolError', async () => {
    const { conn, client } = await setup([GREETING_NO_MID]);
    const a = client.requestWith({ timeout: 1000 }, 'a');
    let b: unknown = 'pending';
    client.request('b').catch((e: unknown) => {
      b = e;
    });
    await conn.nextRequest();
    t.clock.advance(1000);
    await expect(a).rejects.toBeInstanceOf(RequestTimeoutError);
    t.clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    expect(b).toBeInstanceOf(ProtocolError);
    await conn.closed;
    await client.waitDisconnected();
    expect(client.lastError).toBeInstanceOf(ProtocolError);
    expect(conn.lines).toEqual(['?a']);
  });

  it('a timeout rejects with RequestTimeoutError (server never answers) and a late reply is ignored', async () => {
    const { conn, client } = await setup();
    const slow = client.requestWith({ timeout: 1000 }, 'slow');
    const other = client.request('other');
    await conn.nextRequest();
    await conn.nextRequest();
    t.clock.advance(999);
    expect(client.pendingCount).toBe(2);
    t.clock.advance(1);
    await expect(slow).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(client.pendingCount).toBe(1);
    t.clock.advance(4000);
    await expect(other).rejects.toBeInstanceOf(RequestTimeoutError);
    conn.send('!slow[1] ok late', '!other[2] ok late');
    const next = client.request('next');
    expect((await conn.nextRequest()).mid).toBe(3);
    conn.send('!next[3] ok');
    await expect(next).resolves.toEqual([[], []]);
    expect(t.clock.pending).toBe(0);
  });

  it('an AbortSignal rejects with CancelledError and drops the request; Infinity timeout arms no timer', async () => {
    const { conn, client } = await setup();
    const ac = new AbortController();
    const req = client.requestWith({ signal: ac.signal, timeout: Number.POSITIVE_INFINITY }, 'cancel-me');
    await conn.nextRequest();
    expect(t.clock.pending).toBe(0);
    ac.abort();
    await expect(req).rejects.toBeInstanceOf(CancelledError);
    expect(client.pendingCount).toBe(0);
    await expect(client.requestWith({ signal: ac.signal }, 'x')).rejects.toBeInstanceOf(CancelledError);
  });

  it('unsolicited informs reach handlers by name and onInform; replies and requests from the server are ignored', async () => {
    const { conn, client } = await setup();
    const byName: string[] = [];
    const all: string[] = [];
    const off = client.addInformHandler('hello', (m) => byName.push(String(m.args[0])));
    client.onInform((m) => all.push(m.name));
    client.addInformHandler('boom', () => {
      throw new Error('handler bug');
    });
    conn.send('!unsolicited ok', '?server-request', '#boom', '#hello[99] unknown-mid', '#hello there');
    const done = client.request('sync');
    await conn.nextRequest();
    conn.send('!sync[1] ok');
    await done;
    expect(byName).toEqual(['there']);
    expect(all).toEqual(['boom', 'hello']);
    off();
    conn.send('#hello again', '!sync[2] ok');
    await client.request('sync');
    expect(byName).toEqual(['there']);
  });

  it('bad arguments are typed errors, before anything is sent', async () => {
    const { client } = await setup();
    await expect(client.request('bad name')).rejects.toThrow('invalid message name');
    await expect(client.requestWith({ timeout: -1 }, 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => new KatcpClient('127.0.0.1', 1, { requestTimeout: Number.NaN })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new KatcpClient('', 1)).toThrow(InvalidArgumentError);
    // requestRaw's arguments are an array: a string or a bare value was a TypeError (`args.map is not a function`),
    // and a string of length 0 was sent as a request without arguments
    for (const args of ['abc', '', 7, null, { length: 1 }]) {
      await expect(client.requestRaw('x', args as never), String(args)).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
    }
    expect(client.pendingCount).toBe(0);
  });

  it('a request before negotiation is a BrokenPipeError', async () => {
    const system = t.start();
    peer = await RawPeer.start({ greeting: [] });
    client = new KatcpClient('127.0.0.1', peer.port, { system });
    const conn = await peer.nextConnection();
    await expect(client.request('early')).rejects.toThrow(new BrokenPipeError('Not connected'));
    await stateIs(client, 'negotiating');
    await expect(client.request('early')).rejects.toThrow(new BrokenPipeError('Not connected'));
    conn.send(GREETING_MID);
    await client.waitConnected();
  });
});

describe('a server that stops reading (the write backlog)', () => {
  it('drops the connection with WriteBacklogError past maxBacklog unsent bytes: memory bounded, requests fail typed', async () => {
    const system = t.start();
    peer = await RawPeer.start();
    client = new KatcpClient('127.0.0.1', peer.port, {
      system,
      maxBacklog: 1024 * 1024,
      requestTimeout: Number.POSITIVE_INFINITY,
      autoReconnect: false,
    });
    const conn = await peer.nextConnection();
    await client.waitConnected();
    conn.socket.pause(); // greets, then never reads again
    const arg = Buffer.alloc(256 * 1024, 0x61);
    const outcomes: Promise<unknown>[] = [];
    // the loopback's socket buffers hold a few MiB: past them 1 MiB more, not everything (the old code went on)
    const cap = 200;
    while (client.state === 'connected' && outcomes.length < cap) {
      outcomes.push(
        client.request('put', arg).then(
          () => 'ok',
          (err: unknown) => err,
        ),
      );
      await new Promise((r) => setImmediate(r)); // let the batch go out
    }
    expect(outcomes.length).toBeLessThan(cap);
    await client.waitClosed();
    expect(client.lastError).toBeInstanceOf(WriteBacklogError);
    expect(client.lastError).toBeInstanceOf(ConnectionResetError);
    for (const outcome of await Promise.all(outcomes)) expect(outcome).toBeInstanceOf(WriteBacklogError);
    expect(client.pendingCount).toBe(0);
    expect(() => new KatcpClient('127.0.0.1', 1, { system, maxBacklog: 0 })).toThrow(InvalidArgumentError);
  });
});

describe('the InspectingClient and a server that stops reading', () => {
  it('its maxBacklog reaches its connection: past it, WriteBacklogError; a bad value is refused at construction', async () => {
    const system = t.start();
    peer = await RawPeer.start();
    expect(() => new InspectingClient('127.0.0.1', peer!.port, { system, maxBacklog: 0 })).toThrow(
      InvalidArgumentError,
    );
    const ic = new InspectingClient('127.0.0.1', peer.port, {
      system,
      maxBacklog: 1024 * 1024,
      autoReconnect: false,
      requestTimeout: Number.POSITIVE_INFINITY,
      syncTimeout: Number.POSITIVE_INFINITY,
    });
    try {
      const connecting = ic.connect();
      const conn = await peer.nextConnection();
      await connecting;
      await ic.connection!.waitConnected();
      conn.socket.pause(); // greets, then never reads again (the inspection's ?help waits for ever)
      const arg = Buffer.alloc(256 * 1024, 0x61);
      const outcomes: Promise<unknown>[] = [];
      // 15 MiB: past what the loopback's buffers take plus 1 MiB, short of the 16 MiB default
      const cap = 60;
      while (ic.connection?.state === 'connected' && outcomes.length < cap) {
        outcomes.push(
          ic.simpleRequest('put', arg).then(
            () => 'ok',
            (err: unknown) => err,
          ),
        );
        await new Promise((r) => setImmediate(r));
      }
      expect(outcomes.length).toBeLessThan(cap);
      for (const outcome of await Promise.all(outcomes)) expect(outcome).toBeInstanceOf(WriteBacklogError);
    } finally {
      await ic.stop();
    }
  });
});
