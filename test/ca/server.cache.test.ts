/**
 * issue 11 item 4: the CA server's encoded-payload cache. A PV encodes a reply once per (dataType, count) and
 * version: repeated reads of an 800 kB array reuse one immutable buffer, a change (value, alarm, stamp, metadata)
 * makes new buffers and never rewrites one already handed to a socket, and the monitors of many clients of one
 * update get byte-identical payloads from a single encoding.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as cmd from '../../src/protocols/ca/commands.js';
import { Command, DbrType, Eca, SubscriptionType } from '../../src/protocols/ca/constants.js';
import { decodeDbr, encodeDbr } from '../../src/protocols/ca/dbr.js';
import type { CaFrame } from '../../src/protocols/ca/frame.js';
import { CaServer } from '../../src/protocols/ca/server.js';
import type { ServerPvImpl } from '../../src/protocols/ca/serverPv.js';
import { closeAllRaw, RawCircuit } from './support/rawCa.js';

const N = 100_000; // 800 kB of DOUBLE
const ramp = (offset: number) => Float64Array.from({ length: N }, (_, i) => i + offset);

let server: CaServer | undefined;
afterEach(async () => {
  closeAllRaw();
  vi.restoreAllMocks();
  await server?.close();
  server = undefined;
});

async function start(): Promise<{ server: CaServer; big: ServerPvImpl; scalar: ServerPvImpl }> {
  server = await CaServer.start({
    port: 0,
    env: {},
    beaconAddresses: [],
    pvs: [
      { name: 'c:big', type: 'double', value: ramp(0), units: 'mm', precision: 2 },
      { name: 'c:scalar', type: 'long', value: 1 },
    ],
  });
  return {
    server,
    big: server.pv('c:big') as ServerPvImpl,
    scalar: server.pv('c:scalar') as ServerPvImpl,
  };
}

const values = (f: CaFrame) => decodeDbr(f.dataType, f.count, Buffer.from(f.payload));
/** Identity without vitest's `.not.toBe`, which formats both 800 kB operands even when it passes (seconds). */
const same = (a: unknown, b: unknown) => Object.is(a, b);

describe('issue 11 item 4: CA server payload cache', () => {
  it('encodes once per version, type and count; a change makes new buffers and leaves the old ones as they were', async () => {
    const { big } = await start();
    const v0 = big.version;
    const a = big.encode(DbrType.DOUBLE, 0);
    expect(big.encode(DbrType.DOUBLE, 0)).toBe(a); // cached: the same buffer, no new encoding
    const time = big.encode(DbrType.TIME_DOUBLE, 0);
    expect(same(time, a)).toBe(false);
    expect(big.encode(DbrType.TIME_DOUBLE, 0)).toBe(time);
    const cut = big.encode(DbrType.DOUBLE, 10);
    expect(cut.count).toBe(10);
    expect(cut.payload.length).toBe(80);
    const snapshot = Buffer.from(a.payload);

    big.write(ramp(1));
    expect(big.version).toBe(v0 + 1);
    const b = big.encode(DbrType.DOUBLE, 0);
    expect(same(b, a)).toBe(false);
    expect(same(b.payload, a.payload)).toBe(false);
    expect(decodeDbr(DbrType.DOUBLE, N, Buffer.from(b.payload)).data[5]).toBe(6);
    // the buffer a socket may still hold was not touched
    expect(a.payload.equals(snapshot)).toBe(true);

    // an identical value still restamps (TIME payloads change), an alarm change and metadata change too
    big.write(ramp(1));
    expect(big.version).toBe(v0 + 2);
    expect(same(big.encode(DbrType.DOUBLE, 0), b)).toBe(false);
    const gr = big.encode(DbrType.GR_DOUBLE, 1);
    big.setMetadata({ units: 'um' });
    expect(big.version).toBe(v0 + 3);
    const gr2 = big.encode(DbrType.GR_DOUBLE, 1);
    expect(same(gr2, gr)).toBe(false);
    expect(decodeDbr(DbrType.GR_DOUBLE, 1, Buffer.from(gr2.payload)).metadata.units).toBe('um');
    expect(decodeDbr(DbrType.GR_DOUBLE, 1, Buffer.from(gr.payload)).metadata.units).toBe('mm');
  });

  it('bounds the cache: a client asking many counts cannot grow it, and answers stay right', async () => {
    const { big } = await start();
    for (let count = 1; count <= 50; count++) {
      const { payload, count: n } = big.encode(DbrType.DOUBLE, count);
      expect(n).toBe(count);
      expect(decodeDbr(DbrType.DOUBLE, count, Buffer.from(payload)).data[count - 1]).toBe(count - 1);
    }
  });

  it('a cached 800 kB read after a write (by the server or by a client) gets the new value, in two DBR types', async () => {
    const { server, big } = await start();
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('c:big');
    expect(ch.count).toBe(N);
    const encode = vi.spyOn(big, 'encode');

    // two reads of each type: the second is served from the cache (the very same buffer)
    const plain1 = await c.read(ch.sid, DbrType.DOUBLE);
    const plain2 = await c.read(ch.sid, DbrType.DOUBLE);
    const time1 = await c.read(ch.sid, DbrType.TIME_DOUBLE);
    const time2 = await c.read(ch.sid, DbrType.TIME_DOUBLE);
    expect(encode.mock.results[1].value).toBe(encode.mock.results[0].value);
    expect(encode.mock.results[3].value).toBe(encode.mock.results[2].value);
    for (const f of [plain1, plain2, time1, time2]) {
      expect(f.command).toBe(Command.READ_NOTIFY);
      expect(f.p1).toBe(Eca.NORMAL);
      expect(f.count).toBe(N);
      const d = values(f).data as Float64Array;
      expect([d[0], d[N - 1]]).toEqual([0, N - 1]);
    }
    expect(plain1.payload.equals(plain2.payload)).toBe(true);
    expect(time1.payload.equals(time2.payload)).toBe(true);
    const stamp1 = values(time1).metadata.timestamp;

    // the server writes: both types answer the new value (and the TIME read a new stamp)
    big.write(ramp(1000), { timestamp: (stamp1 ?? 0) + 1 });
    const plain3 = values(await c.read(ch.sid, DbrType.DOUBLE));
    const time3 = values(await c.read(ch.sid, DbrType.TIME_DOUBLE));
    expect((plain3.data as Float64Array)[0]).toBe(1000);
    expect((time3.data as Float64Array)[N - 1]).toBe(N - 1 + 1000);
    expect(time3.metadata.timestamp).toBeCloseTo((stamp1 ?? 0) + 1, 6);

    // a client writes with completion: the next read of the same (cached) type sees it
    const ioid = c.id();
    const from = c.frames.length;
    c.send(cmd.writeNotifyRequest(DbrType.DOUBLE, N, ch.sid, ioid, encodeDbr(DbrType.DOUBLE, ramp(-5))));
    const ack = await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === ioid, from);
    expect(ack.p1).toBe(Eca.NORMAL);
    const plain4 = values(await c.read(ch.sid, DbrType.DOUBLE));
    expect((plain4.data as Float64Array)[0]).toBe(-5);
    expect((plain4.data as Float64Array)[N - 1]).toBe(N - 6);
    // a read converted to another type is cached on its own and converted right
    const asLong = values(await c.read(ch.sid, DbrType.LONG, 3));
    expect([...(asLong.data as Int32Array)]).toEqual([-5, -4, -3]);
  });

  it('monitors of N clients on one update get identical bytes from one encoding', async () => {
    const { server, big } = await start();
    const clients = await Promise.all(Array.from({ length: 4 }, () => RawCircuit.open(server.port)));
    const subs: { c: RawCircuit; subid: number }[] = [];
    for (const c of clients) {
      const ch = await c.createChannel('c:big');
      const subid = c.id();
      c.send(cmd.eventAddRequest(DbrType.TIME_DOUBLE, 0, ch.sid, subid, SubscriptionType.DBE_VALUE));
      await c.waitFor((f) => f.command === Command.EVENT_ADD && f.p2 === subid);
      subs.push({ c, subid });
    }
    const encode = vi.spyOn(big, 'encode');
    const marks = subs.map(({ c }) => c.frames.length);
    big.write(ramp(7));
    const updates = await Promise.all(
      subs.map(({ c, subid }, i) =>
        c.waitFor((f) => f.command === Command.EVENT_ADD && f.p2 === subid, marks[i]),
      ),
    );
    // one encoding served every subscriber
    expect(encode).toHaveBeenCalledTimes(clients.length);
    const first = encode.mock.results[0].value;
    for (const r of encode.mock.results) expect(r.value).toBe(first);
    for (const u of updates) {
      expect(u.p1).toBe(Eca.NORMAL);
      expect(u.count).toBe(N);
      expect(u.payload.equals(updates[0].payload)).toBe(true);
    }
    const d = values(updates[0]);
    expect((d.data as Float64Array)[1]).toBe(8);
    expect(d.metadata.timestamp).toBe(big.metadata.timestamp);
  });

  it('small payloads (copied into the circuit buffer) are cached the same way and stay right after writes', async () => {
    const { server, scalar } = await start();
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('c:scalar');
    for (let v = 2; v < 12; v++) {
      expect(values(await c.read(ch.sid, DbrType.LONG)).data[0]).toBe(v - 1);
      expect(values(await c.read(ch.sid, DbrType.STRING)).data[0]).toBe(String(v - 1));
      scalar.write(v);
    }
  });
});
