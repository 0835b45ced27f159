/**
 * issue 11 items 4 and 6 (server part): hostile and slow clients. A malformed frame closes THAT circuit (logged)
 * while others keep being served; a client that never reads gets its monitor updates coalesced (bounded memory)
 * and is disconnected past the hard cap; random bytes never crash the server; close() leaves no socket or timer.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import * as cmd from '../../src/protocols/ca/commands.js';
import { Command, DbrType, Eca, SubscriptionType } from '../../src/protocols/ca/constants.js';
import { decodeDbr, encodeDbr } from '../../src/protocols/ca/dbr.js';
import { encodeFrame } from '../../src/protocols/ca/frame.js';
import { CaServer, type CaServerOptions } from '../../src/protocols/ca/server.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { closeAllRaw, RawCircuit } from './support/rawCa.js';

/** A pino-shaped logger that records what it is given. */
function recordingLogger() {
  const lines: { level: string; msg: string }[] = [];
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      const line = { level, msg: typeof obj === 'string' ? obj : (msg ?? '') };
      lines.push(line);
      for (const w of waiters.filter((w) => w.re.test(line.msg))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    };
  /** Resolves once a line matching `re` was logged. */
  const logged = (re: RegExp): Promise<void> =>
    lines.some((l) => re.test(l.msg))
      ? Promise.resolve()
      : new Promise((resolve) => waiters.push({ re, resolve }));
  const logger = {
    child: () => logger,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return { logger, lines, logged };
}

const servers: CaServer[] = [];
async function start(options: CaServerOptions = {}): Promise<CaServer> {
  const s = await CaServer.start({
    port: 0,
    env: {},
    beaconAddresses: [],
    pvs: [
      { name: 'h:long', type: 'long', value: 1 },
      { name: 'h:wave', type: 'double', value: new Float64Array(10_000) },
      { name: 'h:big', type: 'double', value: new Float64Array(100_000).fill(1) },
    ],
    ...options,
  });
  servers.push(s);
  return s;
}
afterEach(async () => {
  closeAllRaw();
  for (const s of servers.splice(0)) await s.close();
});

/** An extended WRITE header announcing a 100 MB payload (never sent). */
function hugeHeader(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt16BE(Command.WRITE, 0);
  h.writeUInt16BE(0xffff, 2);
  h.writeUInt16BE(DbrType.DOUBLE, 4);
  h.writeUInt32BE(100_000_000, 16);
  h.writeUInt32BE(12_500_000, 20);
  return h;
}

/** The bystander still gets answers. */
async function stillServed(server: CaServer): Promise<void> {
  const c = await RawCircuit.open(server.port);
  const ch = await c.createChannel('h:long');
  const f = await c.read(ch.sid, DbrType.LONG);
  expect(f.p1).toBe(Eca.NORMAL);
}

describe('issue 11 item 6: malformed frames close that circuit only', () => {
  it('an oversized payload, an unknown command, a server-only command, a short EVENT_ADD each close their circuit', async () => {
    const { logger, lines } = recordingLogger();
    const server = await start({ logger, maxRequestBytes: 4096 });
    const bystander = await RawCircuit.open(server.port);
    const ch = await bystander.createChannel('h:long');
    const attacks: Buffer[] = [
      hugeHeader(),
      encodeFrame({ command: 99, dataType: 0, count: 0, p1: 0, p2: 0 }),
      cmd.accessRightsResponse(1, 3),
      encodeFrame({ command: Command.EVENT_ADD, dataType: 6, count: 1, p1: 1, p2: 1 }, Buffer.alloc(8)),
    ];
    for (const attack of attacks) {
      const c = await RawCircuit.open(server.port);
      if (attack.readUInt16BE(0) === Command.EVENT_ADD) await c.createChannel('h:long');
      c.send(attack);
      await c.closed;
      const f = await bystander.read(ch.sid, DbrType.LONG);
      expect(f.p1).toBe(Eca.NORMAL);
    }
    const closing = lines.filter((l) => l.level === 'warn' && l.msg.startsWith('closing CA circuit'));
    expect(closing).toHaveLength(4);
    expect(closing[0].msg).toMatch(/exceeds the limit of/);
    expect(closing[1].msg).toMatch(/CMD_99/);
    expect(lines.some((l) => l.level === 'error')).toBe(false);
    expect(server.clientCount).toBe(1);
  });

  it('an unknown command gets ERROR ECA_INTERNAL before the close', async () => {
    const server = await start();
    const c = await RawCircuit.open(server.port);
    c.send(encodeFrame({ command: 42, dataType: 0, count: 0, p1: 0, p2: 0 }));
    await c.closed;
    const err = c.frames.find((f) => f.command === Command.ERROR);
    expect(err?.p2).toBe(Eca.INTERNAL);
    expect(cmd.parseErrorResponse(err!).text).toMatch(/Invalid Request Code 42/);
  });

  it('random bytes from clients never crash the server', async () => {
    const server = await start({ maxRequestBytes: 65536 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 8 }),
        async (chunks) => {
          const c = await RawCircuit.connect(server.port);
          for (const chunk of chunks) c.send(chunk);
          // the server closes on our end (whatever it made of the bytes), or earlier on its own
          c.socket.end();
          await c.closed;
        },
      ),
      { numRuns: propertyRuns(40) },
    );
    await stillServed(server);
  });
});

describe('issue 11 item 4: a client that does not read', () => {
  it('gets its monitor updates coalesced (bounded backlog), then the latest value once it reads', async () => {
    const highWaterBytes = 256 * 1024;
    const server = await start({ highWaterBytes });
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('h:wave');
    const subid = c.id();
    c.send(cmd.eventAddRequest(DbrType.DOUBLE, 0, ch.sid, subid, SubscriptionType.DBE_VALUE));
    await c.waitFor((f) => f.command === Command.EVENT_ADD && f.p2 === subid);
    c.socket.pause();
    const pv = server.pv('h:wave')!;
    const updates = 400; // 80 kB each: 32 MB offered, far more than the socket buffers hold
    let maxBacklog = 0;
    for (let i = 1; i <= updates; i++) {
      pv.write(new Float64Array(10_000).fill(i));
      if (i % 10 === 0) {
        await new Promise((r) => setImmediate(r));
        maxBacklog = Math.max(maxBacklog, server.clients[0].backlog);
      }
    }
    expect(maxBacklog).toBeGreaterThan(0);
    expect(maxBacklog).toBeLessThan(highWaterBytes + 512 * 1024);
    c.socket.resume();
    const last = await c.waitFor(
      (f) =>
        f.command === Command.EVENT_ADD &&
        f.p2 === subid &&
        decodeDbr(f.dataType, f.count, Buffer.from(f.payload)).data[0] === updates,
    );
    const values = c.frames
      .slice(0, c.frames.indexOf(last) + 1)
      .filter((f) => f.command === Command.EVENT_ADD && f.p2 === subid)
      .map((f) => decodeDbr(f.dataType, f.count, Buffer.from(f.payload)).data[0] as number);
    expect(values.length).toBeLessThan(updates);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]); // in order
    // and requests are answered again
    expect((await c.read(ch.sid, DbrType.DOUBLE, 1)).p1).toBe(Eca.NORMAL);
  });

  it('is disconnected past the hard cap, logged, while others keep being served', async () => {
    const { logger, logged } = recordingLogger();
    const server = await start({ logger, highWaterBytes: 64 * 1024 * 1024, maxBacklogBytes: 512 * 1024 });
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('h:big');
    c.socket.pause();
    for (let i = 0; i < 100; i++) c.send(cmd.readNotifyRequest(DbrType.DOUBLE, 0, ch.sid, 1000 + i)); // 80 MB
    await logged(/does not read/);
    c.socket.resume(); // to see the end
    await c.closed;
    expect(server.clientCount).toBe(0);
    await stillServed(server);
  });
});

describe('issue 11 item 6: IOC restart', () => {
  it('a server restarted on the same port serves again (TCP and UDP), and a client reconnects', async () => {
    const first = await start();
    const port = first.port;
    const c = await RawCircuit.open(port);
    await c.createChannel('h:long');
    await first.close();
    await c.closed;
    const second = await start({ port });
    expect(second.port).toBe(port);
    await stillServed(second);
  });
});

describe('issue 11 item 4: close()', () => {
  it('closes every circuit and socket and leaves no timer', async () => {
    const kinds = ['TCPServerWrap', 'TCPSocketWrap', 'UDPWrap', 'Timeout'];
    const count = () => {
      const info = process.getActiveResourcesInfo();
      return Object.fromEntries(kinds.map((k) => [k, info.filter((r) => r === k).length]));
    };
    const before = count();
    const server = await CaServer.start({
      port: 0,
      env: {},
      beaconAddresses: [{ host: '127.0.0.1', port: 9 }],
      beaconPeriodMs: 10,
      pvs: [{ name: 'x', type: 'long', value: 1 }],
    });
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('x');
    c.send(cmd.eventAddRequest(DbrType.LONG, 0, ch.sid, 1, SubscriptionType.DBE_VALUE));
    await c.waitFor((f) => f.command === Command.EVENT_ADD);
    expect(server.clientCount).toBe(1);
    await server.close();
    await c.closed;
    expect(server.clientCount).toBe(0);
    await server.close(); // idempotent
    expect(() => server.pv('x')!.write(2)).not.toThrow(); // nobody left to post to
    const after = count();
    for (const k of kinds) expect(after[k], k).toBeLessThanOrEqual(before[k]);
  });
});

describe('audit: a circuit blocked by put-completions (1024 pending) goes on', () => {
  /**
   * A server whose `p:slow` puts complete when the test says. `block(...after)` sends the 1024 puts that block a
   * circuit, the last one in the same write as `after` (so those requests are parsed right after it, and wait in
   * the queue), and resolves once every put is pending.
   */
  async function withSlowPuts() {
    let pending: (() => void)[] = [];
    let waiting: { n: number; resolve: () => void } | undefined;
    const server = await start({
      pvs: [
        {
          name: 'p:slow',
          type: 'double',
          value: 0,
          onPut: () =>
            new Promise<void>((resolve) => {
              pending.push(resolve);
              if (pending.length === waiting?.n) waiting.resolve();
            }),
        },
        { name: 'p:x', type: 'double', value: 1 },
      ],
    });
    const c = await RawCircuit.open(server.port);
    const slow = await c.createChannel('p:slow');
    const x = await c.createChannel('p:x');
    const payload = encodeDbr(DbrType.DOUBLE, Float64Array.of(1));
    const put = () => cmd.writeNotifyRequest(DbrType.DOUBLE, 1, slow.sid, c.id(), payload);
    const pendingPuts = (n: number) =>
      new Promise<void>((resolve) => {
        waiting = { n, resolve };
      });
    const block = async (...after: Buffer[]) => {
      const first = pendingPuts(1023);
      c.send(Buffer.concat(Array.from({ length: 1023 }, put)));
      await first;
      const all = pendingPuts(1024);
      c.send(Buffer.concat([put(), ...after]));
      await all;
    };
    const settle = () => {
      const now = pending;
      pending = [];
      for (const resolve of now) resolve();
    };
    return { server, c, x, block, settle };
  }

  it('its queued requests are answered once the puts settle, even when their PV was removed meanwhile', async () => {
    const { server, c, x, block, settle } = await withSlowPuts();
    const from = c.frames.length;
    await block(cmd.readNotifyRequest(DbrType.DOUBLE, 1, x.sid, 5)); // the READ waits behind the pending puts
    server.removePv('p:slow'); // their channel is gone: no WRITE_NOTIFY reply will go out
    await c.waitFor((f) => f.command === Command.SERVER_DISCONN, from);
    settle();
    const reply = await c.waitFor((f) => f.command === Command.READ_NOTIFY && f.p2 === 5, from);
    expect(reply.p1).toBe(Eca.NORMAL);
    expect(c.frames.slice(from).some((f) => f.command === Command.WRITE_NOTIFY)).toBe(false);
  }, 10_000);

  it('an EVENTS_ON that waited in the queue sends the coalesced update at once, before the next reply', async () => {
    const { server, c, x, block, settle } = await withSlowPuts();
    const subid = c.id();
    c.send(cmd.eventAddRequest(DbrType.DOUBLE, 1, x.sid, subid, SubscriptionType.DBE_VALUE));
    await c.waitFor((f) => f.command === Command.EVENT_ADD && f.p2 === subid);
    c.send(cmd.eventsOff());
    expect((await c.read(x.sid, DbrType.DOUBLE)).p1).toBe(Eca.NORMAL); // EVENTS_OFF is in force
    server.pv('p:x')!.write(2); // coalesced
    const from = c.frames.length;
    await block(cmd.eventsOn(), cmd.echo()); // both wait in the queue
    settle();
    const echo = await c.waitFor((f) => f.command === Command.ECHO, from);
    const update = c.frames
      .slice(from, c.frames.indexOf(echo, from))
      .find((f) => f.command === Command.EVENT_ADD && f.p2 === subid);
    expect(update).toBeDefined();
    expect(decodeDbr(update!.dataType, update!.count, Buffer.from(update!.payload)).data[0]).toBe(2);
  }, 10_000);
});

describe('audit: the request size limit follows the PVs', () => {
  it('a client connected before a large PV was added may write it whole', async () => {
    const server = await start({ maxRequestBytes: 4096, pvs: [{ name: 'h:long', type: 'long', value: 1 }] });
    const c = await RawCircuit.open(server.port);
    server.addPv({ name: 'h:later', type: 'double', value: new Float64Array(2000) }); // 16 kB writes
    const ch = await c.createChannel('h:later');
    const ioid = c.id();
    const data = new Float64Array(2000).fill(3);
    c.send(cmd.writeNotifyRequest(DbrType.DOUBLE, 2000, ch.sid, ioid, encodeDbr(DbrType.DOUBLE, data)));
    const reply = await Promise.race([
      c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === ioid),
      c.closed.then(() => Promise.reject(new Error('the server closed the circuit'))),
    ]);
    expect(reply.p1).toBe(Eca.NORMAL);
    expect(Array.from(server.pv('h:later')!.data as Float64Array)).toEqual(Array.from(data));
    // the limit still holds for what no PV needs
    const other = await RawCircuit.open(server.port);
    other.send(hugeHeader());
    await other.closed;
  });
});

describe('audit: one reply larger than the backlog cap', () => {
  it('a client that reads is not disconnected for one reply larger than maxBacklogBytes', async () => {
    const server = await start({
      highWaterBytes: 256 * 1024,
      maxBacklogBytes: 512 * 1024,
      pvs: [{ name: 'h:huge', type: 'double', value: new Float64Array(2_000_000).fill(7) }], // 16 MB
    });
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('h:huge');
    for (let i = 0; i < 2; i++) {
      const reply = await Promise.race([
        c.read(ch.sid, DbrType.DOUBLE),
        c.closed.then(() => Promise.reject(new Error('the server disconnected a client that reads'))),
      ]);
      expect(reply.count).toBe(2_000_000);
    }
    expect(server.clientCount).toBe(1);
  });
});

describe('audit: the request size limit covers text writes', () => {
  it('a numeric array PV may be written whole as DBR_STRING (40 bytes an element)', async () => {
    const server = await start({
      maxRequestBytes: 4096,
      pvs: [{ name: 'h:shorts', type: 'short', value: new Int16Array(1000) }],
    });
    const c = await RawCircuit.open(server.port);
    const ch = await c.createChannel('h:shorts');
    const ioid = c.id();
    const text = Array.from({ length: 1000 }, (_, i) => String(i));
    c.send(cmd.writeNotifyRequest(DbrType.STRING, 1000, ch.sid, ioid, encodeDbr(DbrType.STRING, text)));
    const reply = await Promise.race([
      c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === ioid),
      c.closed.then(() => Promise.reject(new Error('the server closed the circuit'))),
    ]);
    expect(reply.p1).toBe(Eca.NORMAL);
    expect((server.pv('h:shorts')!.data as Int16Array)[999]).toBe(999);
  });
});
