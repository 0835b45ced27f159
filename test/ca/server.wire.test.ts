/**
 * issue 11 item 4: the CA server on the wire, against raw sockets (requests built with commands.ts): UDP search,
 * the TCP handshake, channels, reads of every DBR type with conversion and count rules, writes and put-completion,
 * monitors with masks, flow control, errors, extended headers, PV removal and access changes, beacons.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as cmd from '../../src/protocols/ca/commands.js';
import {
  ChannelType,
  Command,
  DbrType,
  Eca,
  SEARCH_DO_REPLY,
  SubscriptionType,
} from '../../src/protocols/ca/constants.js';
import { type CaArray, decodeDbr, encodeDbr } from '../../src/protocols/ca/dbr.js';
import type { CaFrame } from '../../src/protocols/ca/frame.js';
import { CaServer, type PvDefinition } from '../../src/protocols/ca/server.js';
import { closeAllRaw, RawCircuit, RawUdp } from './support/rawCa.js';

const { DBE_VALUE, DBE_LOG, DBE_ALARM, DBE_PROPERTY } = SubscriptionType;

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

let slowPut = deferred();
let slowCalls: CaArray[] = [];

const PVS: PvDefinition[] = [
  {
    name: 't:double',
    type: 'double',
    value: 1.5,
    units: 'mm',
    precision: 3,
    limits: { lowerCtrl: -10, upperCtrl: 10, lowerDisp: -5, upperDisp: 5, upperAlarm: 9, lowerAlarm: -9 },
  },
  { name: 't:short', type: 'short', value: 7 },
  { name: 't:float', type: 'float', value: 2.5, precision: 2 },
  { name: 't:enum', type: 'enum', value: 'on', enumStrings: ['off', 'on', 'fault'] },
  { name: 't:char', type: 'char', value: 'hello', maxCount: 16 },
  { name: 't:long', type: 'long', value: 42, units: 'cts' },
  { name: 't:string', type: 'string', value: 'hello world' },
  { name: 't:wave', type: 'double', value: [1, 2, 3], maxCount: 10 },
  { name: 't:big', type: 'double', value: Array.from({ length: 100_000 }, (_, i) => i) },
  { name: 't:ro', type: 'long', value: 5, access: 'read-only' },
  { name: 't:chars', type: 'char', value: 'x'.repeat(20_000) },
  {
    name: 't:slow',
    type: 'double',
    value: 0,
    onPut: (data) => {
      slowCalls.push(data);
      return slowPut.promise;
    },
  },
  {
    name: 't:fails',
    type: 'double',
    value: 0,
    onPut: () => {
      throw new Error('interlock');
    },
  },
];

let server: CaServer;
beforeEach(async () => {
  slowPut = deferred();
  slowCalls = [];
  server = await CaServer.start({ port: 0, env: {}, beaconAddresses: [], pvs: PVS });
});
afterEach(async () => {
  closeAllRaw();
  await server.close();
});

function decode(f: CaFrame) {
  return decodeDbr(f.dataType, f.count, Buffer.from(f.payload));
}

async function monitor(c: RawCircuit, sid: number, dataType: number, mask: number, count = 0) {
  const subid = c.id();
  const from = c.frames.length;
  c.send(cmd.eventAddRequest(dataType, count, sid, subid, mask));
  const first = await c.waitFor((f) => f.command === Command.EVENT_ADD && f.p2 === subid, from);
  return { subid, first };
}

/** Frames of `subid` received before the reply to an ECHO sent now (everything the server sent before it). */
async function eventsBeforeEcho(c: RawCircuit, subid: number, from: number): Promise<CaFrame[]> {
  c.send(cmd.echo());
  const echo = await c.waitFor((f) => f.command === Command.ECHO, from);
  return c.frames
    .slice(from, c.frames.indexOf(echo, from))
    .filter((f) => f.command === Command.EVENT_ADD && f.p2 === subid);
}

describe('issue 11 item 4: CA server, UDP search', () => {
  it('answers VERSION(seq) + SEARCH for known names only, to the source, on the same port as TCP', async () => {
    const udp = await RawUdp.open();
    udp.send(Buffer.concat([cmd.udpVersion(0), cmd.searchRequest('nobody:here', 9)]), server.port);
    udp.send(
      Buffer.concat([cmd.udpVersion(7), cmd.searchRequest('t:double', 42), cmd.searchRequest('nope', 43)]),
      server.port,
    );
    const d = await udp.waitFor((f) => f.command === Command.SEARCH);
    expect(udp.datagrams.indexOf(d)).toBe(0); // the all-unknown datagram got no reply
    expect(d.frames.map((f) => f.command)).toEqual([Command.VERSION, Command.SEARCH]);
    expect(d.frames[0]).toMatchObject({ dataType: 1, count: 13, p1: 7 });
    expect(d.frames[1]).toMatchObject({ dataType: server.port, count: 0, p1: 0xffffffff, p2: 42 });
    expect(cmd.searchResponseMinor(d.frames[1])).toBe(13);
    expect(d.from).toBe(`127.0.0.1:${server.port}`);
  });

  it('splits a reply to many searches over datagrams of at most 1472 bytes', async () => {
    const udp = await RawUdp.open();
    const names = Array.from({ length: 80 }, (_, i) => PVS[i % PVS.length].name);
    const request = Buffer.concat([
      cmd.udpVersion(3),
      ...names.slice(0, 20).map((n, i) => cmd.searchRequest(n, 1000 + i)),
    ]);
    udp.send(request, server.port);
    const first = await udp.waitFor((f) => f.command === Command.SEARCH);
    expect(first.frames.length).toBe(21);
    const big = Buffer.concat([cmd.udpVersion(4), ...names.map((n, i) => cmd.searchRequest(n, 2000 + i))]);
    udp.send(big, server.port);
    let got = 0;
    for (let at = 1; got < 80; at++) {
      const d = await udp.waitFor((f) => f.command === Command.SEARCH && f.p2 >= 2000, at);
      at = udp.datagrams.indexOf(d);
      expect(d.frames.reduce((n, f) => n + 16 + f.payload.length, 0)).toBeLessThanOrEqual(1472);
      expect(d.frames[0]).toMatchObject({ command: Command.VERSION, p1: 4 });
      got += d.frames.length - 1;
    }
    expect(got).toBe(80);
  });

  it('answers a TCP SEARCH, and NOT_FOUND for an unknown name with DO_REPLY', async () => {
    const c = await RawCircuit.open(server.port);
    c.send(cmd.searchRequest('nope', 5, SEARCH_DO_REPLY), cmd.searchRequest('t:long', 6, SEARCH_DO_REPLY));
    const nf = await c.waitFor((f) => f.command === Command.NOT_FOUND);
    expect(nf).toMatchObject({ p1: 5, p2: 5 });
    const found = await c.waitFor((f) => f.command === Command.SEARCH);
    expect(found).toMatchObject({ dataType: server.port, p2: 6 });
  });
});

describe('issue 11 item 4: CA server, circuit and channels', () => {
  it('sends VERSION on accept, accepts HOST/CLIENT_NAME in either order, ACCESS_RIGHTS before CREATE_CHAN', async () => {
    const c = await RawCircuit.connect(server.port);
    const version = await c.waitFor((f) => f.command === Command.VERSION);
    expect(version.count).toBe(13);
    c.send(
      cmd.versionRequest(0),
      cmd.clientName('me'),
      cmd.hostName('box'),
      cmd.createChanRequest(1, 't:double'),
    );
    const created = await c.waitFor((f) => f.command === Command.CREATE_CHAN);
    const rights = c.frames.findIndex((f) => f.command === Command.ACCESS_RIGHTS);
    expect(rights).toBeLessThan(c.frames.indexOf(created));
    expect(c.frames[rights]).toMatchObject({ p1: 1, p2: 3 });
    expect(created).toMatchObject({ dataType: ChannelType.DOUBLE, count: 1, p1: 1 });
    expect(server.clients[0]).toMatchObject({ hostName: 'box', userName: 'me', channels: 1 });
    c.send(cmd.createChanRequest(2, 'missing:pv'));
    expect(await c.waitFor((f) => f.command === Command.CREATE_CH_FAIL)).toMatchObject({ p1: 2 });
    const ro = await c.createChannel('t:ro');
    expect(ro.rights).toBe(1);
  });

  it('echoes ECHO and READ_SYNC, and CLEAR_CHANNEL (after which the sid is unknown)', async () => {
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('t:long');
    c.send(cmd.echo());
    await c.waitFor((f) => f.command === Command.ECHO);
    c.send(cmd.clearChannelRequest(ch.sid, ch.cid));
    expect(await c.waitFor((f) => f.command === Command.CLEAR_CHANNEL)).toMatchObject({
      p1: ch.sid,
      p2: ch.cid,
    });
    const err = await c.read(ch.sid, DbrType.LONG);
    expect(err.command).toBe(Command.ERROR);
    expect(err.p2).toBe(Eca.BADCHID);
    expect(server.clients[0].channels).toBe(0);
  });
});

describe('issue 11 item 4: CA server, reads', () => {
  it('reads every native type natively and with TIME/CTRL metadata', async () => {
    const c = await RawCircuit.open(server.port);
    const expectations: [string, number, unknown][] = [
      ['t:double', ChannelType.DOUBLE, 1.5],
      ['t:short', ChannelType.SHORT, 7],
      ['t:float', ChannelType.FLOAT, 2.5],
      ['t:enum', ChannelType.ENUM, 1],
      ['t:long', ChannelType.LONG, 42],
      ['t:string', ChannelType.STRING, 'hello world'],
    ];
    for (const [name, native, value] of expectations) {
      const ch = await c.createChannel(name);
      expect(ch.nativeType).toBe(native);
      for (const family of [0, 7, 14, 21, 28]) {
        const f = await c.read(ch.sid, native + family);
        expect(f.command, `${name} ${native + family}`).toBe(Command.READ_NOTIFY);
        expect(f.p1).toBe(Eca.NORMAL);
        expect(decode(f).data[0]).toBe(value);
      }
    }
    const chars = await c.createChannel('t:char');
    expect(chars).toMatchObject({ nativeType: ChannelType.CHAR, count: 16 });
    const f = await c.read(chars.sid, DbrType.CHAR);
    expect(f.count).toBe(6);
    expect(Buffer.from(decode(f).data as Uint8Array).toString('latin1')).toBe('hello\0');
    expect(decode(await c.read(chars.sid, DbrType.STRING)).data).toEqual(['hello']);
  });

  it('answers every DBR type 0..34 on every PV (conversions, or ECA_NOCONVERT for text that is no number)', async () => {
    const c = await RawCircuit.open(server.port);
    for (const def of PVS.filter((p) => p.name !== 't:big')) {
      const ch = await c.createChannel(def.name);
      for (let t = 0; t <= 34; t++) {
        const f = await c.read(ch.sid, t);
        expect(f.command, `${def.name} ${t}`).toBe(Command.READ_NOTIFY);
        // text that is no number converts to no numeric type but CHAR (its bytes)
        const expected = def.name === 't:string' && t % 7 !== 0 && t % 7 !== 4 ? Eca.NOCONVERT : Eca.NORMAL;
        expect(f.p1, `${def.name} ${t}`).toBe(expected);
        if (expected === Eca.NORMAL) expect(() => decode(f)).not.toThrow();
      }
    }
  });

  it('converts for the requested type: precision, enum state strings, CTRL metadata', async () => {
    const c = await RawCircuit.open(server.port);
    const dbl = await c.createChannel('t:double');
    expect(decode(await c.read(dbl.sid, DbrType.STRING)).data).toEqual(['1.500']);
    expect(decode(await c.read(dbl.sid, DbrType.LONG)).data[0]).toBe(1);
    const ctrl = decode(await c.read(dbl.sid, DbrType.CTRL_DOUBLE)).metadata;
    expect(ctrl).toMatchObject({
      units: 'mm',
      precision: 3,
      lowerCtrlLimit: -10,
      upperCtrlLimit: 10,
      upperDispLimit: 5,
      lowerDispLimit: -5,
      upperAlarmLimit: 9,
      lowerAlarmLimit: -9,
      status: 0,
      severity: 0,
    });
    const time = decode(await c.read(dbl.sid, DbrType.TIME_DOUBLE)).metadata;
    expect(Math.abs((time.timestamp ?? 0) - Date.now() / 1000)).toBeLessThan(3600);
    const en = await c.createChannel('t:enum');
    expect(decode(await c.read(en.sid, DbrType.STRING)).data).toEqual(['on']);
    expect(decode(await c.read(en.sid, DbrType.CTRL_ENUM)).metadata.enumStrings).toEqual([
      'off',
      'on',
      'fault',
    ]);
    const cls = await c.read(en.sid, DbrType.CLASS_NAME);
    expect(cls.p1).toBe(Eca.NORMAL);
  });

  it('count 0 is the current count, a larger count is zero-filled, more than the element count is ECA_BADCOUNT', async () => {
    const c = await RawCircuit.open(server.port);
    const w = await c.createChannel('t:wave');
    expect(w.count).toBe(10);
    const all = await c.read(w.sid, DbrType.DOUBLE, 0);
    expect(all.count).toBe(3);
    expect([...(decode(all).data as Float64Array)]).toEqual([1, 2, 3]);
    const five = await c.read(w.sid, DbrType.DOUBLE, 5);
    expect([...(decode(five).data as Float64Array)]).toEqual([1, 2, 3, 0, 0]);
    const two = await c.read(w.sid, DbrType.TIME_DOUBLE, 2);
    expect([...(decode(two).data as Float64Array)]).toEqual([1, 2]);
    const bad = await c.read(w.sid, DbrType.DOUBLE, 11);
    expect(bad).toMatchObject({ command: Command.ERROR, p1: w.cid, p2: Eca.BADCOUNT });
  });

  it('uses the extended header for a 100 000-element array, both ways', async () => {
    const c = await RawCircuit.open(server.port);
    const big = await c.createChannel('t:big');
    expect(big.count).toBe(100_000);
    const f = await c.read(big.sid, DbrType.DOUBLE);
    expect(f.count).toBe(100_000);
    expect(f.payload.length).toBe(800_000);
    const data = decode(f).data as Float64Array;
    expect(data[99_999]).toBe(99_999);
    const values = new Float64Array(100_000).fill(0.5);
    c.send(cmd.writeNotifyRequest(DbrType.DOUBLE, 100_000, big.sid, 77, encodeDbr(DbrType.DOUBLE, values)));
    const reply = await c.waitFor((g) => g.command === Command.WRITE_NOTIFY && g.p2 === 77);
    expect(reply.p1).toBe(Eca.NORMAL);
    expect((server.pv('t:big')!.data as Float64Array)[12_345]).toBe(0.5);
  });

  it('pads a large payload that is not a multiple of 8 (sent without a copy) and stays in step', async () => {
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('t:chars');
    expect(ch.count).toBe(20_001);
    for (let i = 0; i < 2; i++) {
      const f = await c.read(ch.sid, DbrType.TIME_CHAR);
      expect(f.payload.length).toBe(20_016); // 15 metadata + 20 001 values, padded to 8
      expect(decode(f).data.length).toBe(20_001);
      expect(f.payload.subarray(15 + 20_001).every((b) => b === 0)).toBe(true);
    }
    const from = c.frames.length;
    c.send(cmd.echo());
    expect((await c.waitFor((f) => f.command <= Command.SERVER_DISCONN, from)).command).toBe(Command.ECHO);
  });

  it('replies ERROR with the request header and a text for a bad sid or DBR type', async () => {
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('t:long');
    const bad = await c.read(12345, DbrType.LONG);
    expect(bad).toMatchObject({ command: Command.ERROR, p1: 0xffffffff, p2: Eca.BADCHID });
    expect(cmd.parseErrorResponse(bad).request).toMatchObject({ command: Command.READ_NOTIFY, p1: 12345 });
    const badType = await c.read(ch.sid, 99);
    expect(badType).toMatchObject({ command: Command.ERROR, p1: ch.cid, p2: Eca.BADTYPE });
    const parsed = cmd.parseErrorResponse(badType);
    expect(parsed.request).toMatchObject({ command: Command.READ_NOTIFY, dataType: 99, p1: ch.sid });
    expect(parsed.text).toMatch(/99/);
    // the circuit goes on
    expect((await c.read(ch.sid, DbrType.LONG)).p1).toBe(Eca.NORMAL);
  });
});

describe('issue 11 item 4: CA server, writes', () => {
  it('WRITE_NOTIFY stores and answers; libca short strings and enum state names convert', async () => {
    const c = await RawCircuit.open(server.port);
    const dbl = await c.createChannel('t:double');
    c.send(
      cmd.writeNotifyRequest(
        DbrType.DOUBLE,
        1,
        dbl.sid,
        1,
        encodeDbr(DbrType.DOUBLE, new Float64Array([2.5])),
      ),
    );
    expect(await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === 1)).toMatchObject({
      p1: Eca.NORMAL,
      dataType: DbrType.DOUBLE,
      count: 1,
    });
    expect(server.pv('t:double')!.data[0]).toBe(2.5);
    c.send(cmd.writeNotifyRequest(DbrType.STRING, 1, dbl.sid, 2, Buffer.from('3.25\0', 'latin1')));
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === 2)).p1).toBe(Eca.NORMAL);
    expect(server.pv('t:double')!.data[0]).toBe(3.25);
    const en = await c.createChannel('t:enum');
    c.send(cmd.writeNotifyRequest(DbrType.STRING, 1, en.sid, 3, Buffer.from('fault\0', 'latin1')));
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === 3)).p1).toBe(Eca.NORMAL);
    expect(server.pv('t:enum')!.data[0]).toBe(2);
    c.send(cmd.writeRequest(DbrType.STRING, 1, dbl.sid, 4, Buffer.from('not a number\0', 'latin1')));
    const err = await c.waitFor((f) => f.command === Command.ERROR);
    expect(err.p2).toBe(Eca.NOCONVERT);
    expect(server.pv('t:double')!.data[0]).toBe(3.25);
  });

  it('refuses writes without write access (WRITE_NOTIFY status, ERROR for WRITE) and bad counts', async () => {
    const c = await RawCircuit.open(server.port);
    const ro = await c.createChannel('t:ro');
    const payload = encodeDbr(DbrType.LONG, new Int32Array([9]));
    c.send(cmd.writeNotifyRequest(DbrType.LONG, 1, ro.sid, 1, payload));
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY)).p1).toBe(Eca.NOWTACCESS);
    c.send(cmd.writeRequest(DbrType.LONG, 1, ro.sid, 2, payload));
    const err = await c.waitFor((f) => f.command === Command.ERROR);
    expect(err).toMatchObject({ p1: ro.cid, p2: Eca.NOWTACCESS });
    expect(server.pv('t:ro')!.data[0]).toBe(5);
    const w = await c.createChannel('t:wave');
    c.send(
      cmd.writeNotifyRequest(DbrType.DOUBLE, 11, w.sid, 3, encodeDbr(DbrType.DOUBLE, new Float64Array(11))),
    );
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === 3)).p1).toBe(Eca.BADCOUNT);
    c.send(
      cmd.writeNotifyRequest(
        DbrType.DOUBLE,
        4,
        w.sid,
        4,
        encodeDbr(DbrType.DOUBLE, new Float64Array([4, 3, 2, 1])),
      ),
    );
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === 4)).p1).toBe(Eca.NORMAL);
    expect((await c.read(w.sid, DbrType.DOUBLE)).count).toBe(4);
  });

  it('answers a WRITE_NOTIFY when an async onPut settles, and ECA_PUTFAIL (nothing stored) when it fails', async () => {
    const c = await RawCircuit.open(server.port);
    const slow = await c.createChannel('t:slow');
    c.send(
      cmd.writeNotifyRequest(
        DbrType.DOUBLE,
        1,
        slow.sid,
        1,
        encodeDbr(DbrType.DOUBLE, new Float64Array([7])),
      ),
    );
    // the request reached onPut (an ECHO sent after it comes back first)
    const from = c.frames.length;
    c.send(cmd.echo());
    await c.waitFor((f) => f.command === Command.ECHO, from);
    expect(slowCalls.map((d) => d[0])).toEqual([7]);
    expect(c.frames.some((f) => f.command === Command.WRITE_NOTIFY)).toBe(false);
    expect(server.pv('t:slow')!.data[0]).toBe(0);
    slowPut.resolve();
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === 1)).p1).toBe(Eca.NORMAL);
    expect(server.pv('t:slow')!.data[0]).toBe(7);

    const fails = await c.createChannel('t:fails');
    c.send(
      cmd.writeNotifyRequest(
        DbrType.DOUBLE,
        1,
        fails.sid,
        2,
        encodeDbr(DbrType.DOUBLE, new Float64Array([1])),
      ),
    );
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === 2)).p1).toBe(Eca.PUTFAIL);
    expect(server.pv('t:fails')!.data[0]).toBe(0);
  });

  it('a rejected async onPut answers ECA_PUTFAIL', async () => {
    const c = await RawCircuit.open(server.port);
    const slow = await c.createChannel('t:slow');
    c.send(
      cmd.writeNotifyRequest(
        DbrType.DOUBLE,
        1,
        slow.sid,
        1,
        encodeDbr(DbrType.DOUBLE, new Float64Array([3])),
      ),
    );
    const from = c.frames.length;
    c.send(cmd.echo());
    await c.waitFor((f) => f.command === Command.ECHO, from);
    slowPut.reject(new Error('motor fault'));
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY)).p1).toBe(Eca.PUTFAIL);
    expect(server.pv('t:slow')!.data[0]).toBe(0);
  });
});

describe('issue 11 item 4: CA server, monitors', () => {
  it('sends an immediate update, then one per value change (none for an identical value), cmd-1 cancel ack', async () => {
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('t:double');
    const { subid, first } = await monitor(c, ch.sid, DbrType.TIME_DOUBLE, DBE_VALUE | DBE_ALARM);
    expect(first.p1).toBe(Eca.NORMAL);
    expect(decode(first).data[0]).toBe(1.5);
    const pv = server.pv('t:double')!;
    const from = c.frames.length;
    pv.write(2);
    pv.write(2);
    pv.write(3);
    const updates = await eventsBeforeEcho(c, subid, from);
    expect(updates.map((f) => decode(f).data[0])).toEqual([2, 3]);
    const at = c.frames.length;
    c.send(cmd.eventCancelRequest(DbrType.TIME_DOUBLE, 0, ch.sid, subid));
    const ack = await c.waitFor((f) => f.command === Command.EVENT_ADD && f.p2 === subid, at);
    expect(ack).toMatchObject({ p1: ch.sid, dataType: DbrType.TIME_DOUBLE, payload: Buffer.alloc(0) });
    const after = c.frames.length;
    pv.write(4);
    expect(await eventsBeforeEcho(c, subid, after)).toEqual([]);
    c.send(cmd.eventCancelRequest(DbrType.TIME_DOUBLE, 0, ch.sid, subid));
    expect(await c.waitFor((f) => f.command === Command.ERROR, after)).toMatchObject({ p2: Eca.BADMONID });
  });

  it('posts by mask: ALARM on status/severity change, PROPERTY on metadata change, VALUE|LOG on value change', async () => {
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('t:long');
    const alarm = await monitor(c, ch.sid, DbrType.STS_LONG, DBE_ALARM);
    const prop = await monitor(c, ch.sid, DbrType.CTRL_LONG, DBE_PROPERTY);
    const log = await monitor(c, ch.sid, DbrType.LONG, DBE_LOG);
    const pv = server.pv('t:long')!;
    const from = c.frames.length;
    pv.write(43);
    pv.write(44, { status: 3, severity: 2 });
    pv.setMetadata({ units: 'V' });
    c.send(cmd.echo());
    const echo = await c.waitFor((f) => f.command === Command.ECHO, from);
    const seen = c.frames.slice(from, c.frames.indexOf(echo));
    const of = (subid: number) => seen.filter((f) => f.p2 === subid).map(decode);
    expect(of(alarm.subid).map((d) => [d.data[0], d.metadata.severity])).toEqual([[44, 2]]);
    expect(of(prop.subid).map((d) => d.metadata.units)).toEqual(['V']);
    expect(of(log.subid).map((d) => d.data[0])).toEqual([43, 44]);
  });

  it('count 0 monitors carry the current element count', async () => {
    const c = await RawCircuit.open(server.port);
    const w = await c.createChannel('t:wave');
    const { subid, first } = await monitor(c, w.sid, DbrType.DOUBLE, DBE_VALUE);
    expect(first.count).toBe(3);
    const from = c.frames.length;
    server.pv('t:wave')!.write([5, 6, 7, 8, 9]);
    const [u] = await c.waitForCount((f) => f.p2 === subid && f.command === Command.EVENT_ADD, 1, from);
    expect(u.count).toBe(5);
    expect([...(decode(u).data as Float64Array)]).toEqual([5, 6, 7, 8, 9]);
  });

  it('EVENTS_OFF keeps only the latest update per subscription; EVENTS_ON sends it', async () => {
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('t:double');
    const { subid } = await monitor(c, ch.sid, DbrType.DOUBLE, DBE_VALUE);
    c.send(cmd.eventsOff());
    let from = c.frames.length;
    expect(await eventsBeforeEcho(c, subid, from)).toEqual([]); // the server has seen EVENTS_OFF
    const pv = server.pv('t:double')!;
    for (let i = 1; i <= 6; i++) pv.write(10 + i);
    from = c.frames.length;
    expect(await eventsBeforeEcho(c, subid, from)).toEqual([]);
    from = c.frames.length;
    c.send(cmd.eventsOn());
    const delivered = await eventsBeforeEcho(c, subid, from);
    expect(delivered.map((f) => decode(f).data[0])).toEqual([16]);
    from = c.frames.length;
    pv.write(17);
    expect((await eventsBeforeEcho(c, subid, from)).map((f) => decode(f).data[0])).toEqual([17]);
  });

  it('EVENT_ADD errors: bad mask, bad type, bad count; a subscription without read access reports ECA_NORDACCESS', async () => {
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('t:wave');
    c.send(cmd.eventAddRequest(DbrType.DOUBLE, 0, ch.sid, 1, 0));
    expect(await c.waitFor((f) => f.command === Command.ERROR)).toMatchObject({ p2: Eca.BADMASK });
    let from = c.frames.length;
    c.send(cmd.eventAddRequest(77, 0, ch.sid, 2, DBE_VALUE));
    expect(await c.waitFor((f) => f.command === Command.ERROR, from)).toMatchObject({ p2: Eca.BADTYPE });
    from = c.frames.length;
    c.send(cmd.eventAddRequest(DbrType.DOUBLE, 11, ch.sid, 3, DBE_VALUE));
    expect(await c.waitFor((f) => f.command === Command.ERROR, from)).toMatchObject({ p2: Eca.BADCOUNT });
    server.pv('t:wave')!.setAccess('write-only');
    const denied = await monitor(c, ch.sid, DbrType.DOUBLE, DBE_VALUE);
    expect(denied.first.p1).toBe(Eca.NORDACCESS);
    from = c.frames.length;
    server.pv('t:wave')!.setAccess('read-write');
    const again = await c.waitFor((f) => f.command === Command.EVENT_ADD && f.p2 === denied.subid, from);
    expect(again.p1).toBe(Eca.NORMAL);
  });
});

describe('issue 11 item 4: CA server, PV lifecycle, access rights, beacons', () => {
  it('removePv sends SERVER_DISCONN to every channel on it; setAccess re-sends ACCESS_RIGHTS', async () => {
    const a = await RawCircuit.open(server.port);
    const b = await RawCircuit.open(server.port);
    const ca = await a.createChannel('t:short');
    const cb = await b.createChannel('t:short');
    await monitor(a, ca.sid, DbrType.SHORT, DBE_VALUE);
    let from = a.frames.length;
    server.pv('t:short')!.setAccess('read-only');
    expect(await a.waitFor((f) => f.command === Command.ACCESS_RIGHTS, from)).toMatchObject({
      p1: ca.cid,
      p2: 1,
    });
    expect(server.removePv('t:short')).toBe(true);
    expect(server.removePv('t:short')).toBe(false);
    from = a.frames.length;
    expect(await a.waitFor((f) => f.command === Command.SERVER_DISCONN)).toMatchObject({ p1: ca.cid });
    expect(await b.waitFor((f) => f.command === Command.SERVER_DISCONN)).toMatchObject({ p1: cb.cid });
    expect(server.clients.map((c) => [c.channels, c.subscriptions])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    a.send(cmd.createChanRequest(99, 't:short'));
    expect(await a.waitFor((f) => f.command === Command.CREATE_CH_FAIL, from)).toMatchObject({ p1: 99 });
  });

  it('sends beacons to the beacon addresses: ids counting up from 0, the TCP port, the server address', async () => {
    const udp = await RawUdp.open();
    const s = await CaServer.start({
      port: 0,
      env: {},
      beaconAddresses: [{ host: '127.0.0.1', port: udp.port }],
      beaconPeriodMs: 50,
    });
    try {
      for (let i = 0; i < 4; i++) await udp.waitFor((f) => f.command === Command.RSRV_IS_UP, i);
      const beacons = udp.datagrams.slice(0, 4).map((d) => d.frames[0]);
      expect(beacons.map((f) => f.p1)).toEqual([0, 1, 2, 3]);
      for (const f of beacons) expect(f).toMatchObject({ dataType: 13, count: s.port, p2: 0x7f000001 });
    } finally {
      await s.close();
    }
    expect(s.beaconsSent).toBeGreaterThanOrEqual(4);
  });

  it('refuses a bad PV definition and a repeated name with CaValueError', async () => {
    expect(() => server.addPv({ name: 't:double', type: 'double', value: 1 })).toThrow(/already served/);
    expect(() => server.addPv({ name: 'x', type: 'nope' as 'double', value: 1 })).toThrow(
      /type must be one of/,
    );
    expect(() => server.addPv({ name: 'x', type: 'short', value: 70000 })).toThrow(/out of range/);
    expect(() => server.addPv({ name: 'x', type: 'double', value: [1, 2], maxCount: 1 })).toThrow(/maxCount/);
    const pv = server.addPv({ name: 'added', type: 'string', value: 'x' });
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('added');
    expect(decode(await c.read(ch.sid, DbrType.STRING)).data).toEqual(['x']);
    expect(() => pv.write('y'.repeat(40))).toThrow(/longer than 39/);
  });
});

describe('audit: puts at the edges of the C fields', () => {
  async function writeNotify(c: RawCircuit, sid: number, dataType: number, count: number, payload: Buffer) {
    const ioid = c.id();
    const from = c.frames.length;
    c.send(cmd.writeNotifyRequest(dataType, count, sid, ioid, payload));
    return c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === ioid, from);
  }

  it('a DBR_STRING put filling all 40 bytes (no NUL) is stored cut to 39, and the PV stays readable', async () => {
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('t:string');
    const { subid } = await monitor(c, ch.sid, DbrType.STRING, DBE_VALUE);
    const from = c.frames.length;
    expect((await writeNotify(c, ch.sid, DbrType.STRING, 1, Buffer.alloc(40, 0x41))).p1).toBe(Eca.NORMAL);
    expect(server.pv('t:string')!.data).toEqual(['A'.repeat(39)]);
    const read = await c.read(ch.sid, DbrType.STRING);
    expect(read.p1).toBe(Eca.NORMAL);
    expect(decode(read).data).toEqual(['A'.repeat(39)]);
    // the monitor got the value too, not ECA_GETFAIL
    const [update] = await eventsBeforeEcho(c, subid, from);
    expect(update!.p1).toBe(Eca.NORMAL);
    expect(decode(update!).data).toEqual(['A'.repeat(39)]);
    // a 40-byte string put to a CHAR array: cut to 39, then to the array
    const chars = await c.createChannel('t:char');
    expect((await writeNotify(c, chars.sid, DbrType.STRING, 1, Buffer.alloc(40, 0x42))).p1).toBe(Eca.NORMAL);
    expect(decode(await c.read(chars.sid, DbrType.STRING)).data).toEqual(['B'.repeat(15)]);
  });

  it('a string put to a CHAR array shorter than it keeps maxCount bytes, the last a NUL: never more than the channel was told', async () => {
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('t:char');
    expect(ch.count).toBe(16);
    const w = await writeNotify(
      c,
      ch.sid,
      DbrType.STRING,
      1,
      encodeDbr(DbrType.STRING, ['a rather long text']),
    );
    expect(w.p1).toBe(Eca.NORMAL);
    expect(server.pv('t:char')!.data).toHaveLength(16);
    const read = await c.read(ch.sid, DbrType.CHAR);
    expect(read.count).toBe(16);
    expect(decode(await c.read(ch.sid, DbrType.STRING)).data).toEqual(['a rather long t']);
    // a short one is stored as it is (bytes + NUL)
    await writeNotify(c, ch.sid, DbrType.STRING, 1, encodeDbr(DbrType.STRING, ['ok']));
    expect(Array.from(server.pv('t:char')!.data as Uint8Array)).toEqual([0x6f, 0x6b, 0]);
  });

  it('a write with a time stamp before the EPICS epoch is refused and changes nothing: the next write posts', async () => {
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('t:long');
    const { subid } = await monitor(c, ch.sid, DbrType.LONG, DBE_VALUE);
    const pv = server.pv('t:long')!;
    const version = pv.version;
    expect(() => pv.write(5, { timestamp: 100 })).toThrow(/outside the EPICS timestamp range/);
    expect(Array.from(pv.data as Int32Array)).toEqual([42]);
    expect(pv.version).toBe(version);
    expect(decode(await c.read(ch.sid, DbrType.LONG)).data[0]).toBe(42);
    const from = c.frames.length;
    pv.write(5);
    const [update] = await eventsBeforeEcho(c, subid, from);
    expect(decode(update!).data[0]).toBe(5);
  });

  it('units and enum state strings outside latin1 are refused: they went out as their low byte', () => {
    expect(() => server.addPv({ name: 'u', type: 'double', value: 1, units: '€' })).toThrow(
      /units must be a latin1 string/,
    );
    expect(() => server.addPv({ name: 'e', type: 'enum', value: 0, enumStrings: ['off', 'on €'] })).toThrow(
      /enumStrings\[1\] must be a latin1 string/,
    );
    const pv = server.addPv({ name: 'u2', type: 'double', value: 1, units: 'µm' });
    expect(() => pv.setMetadata({ units: 'ω' })).toThrow(/latin1/);
    expect(pv.metadata.units).toBe('µm');
  });
});
