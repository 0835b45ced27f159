/**
 * Raw Channel Access peers for the server tests: a TCP circuit and a UDP socket that send bytes built with
 * commands.ts and collect every frame they receive, with waits that resolve on the frame (never on a timer).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import * as cmd from '../../../src/protocols/ca/commands.js';
import { Command } from '../../../src/protocols/ca/constants.js';
import { type CaFrame, decodeDatagram, FrameParser } from '../../../src/protocols/ca/frame.js';

type Waiter = { pred: (f: CaFrame) => boolean; from: number; resolve: (f: CaFrame) => void };

const open = new Set<{ close(): void }>();

/** Closes every raw peer a test left open (call in afterEach). */
export function closeAllRaw(): void {
  for (const p of [...open]) p.close();
}

export class RawCircuit {
  readonly frames: CaFrame[] = [];
  readonly socket: Socket;
  readonly closed: Promise<void>;
  #waiters: Waiter[] = [];
  #parser = new FrameParser();
  #nextId = 1;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.#parser.push(chunk, (f) => {
        // keep a copy: the payload is a view into the chunk and tests may decode it in place
        this.frames.push({ ...f, payload: Buffer.from(f.payload) });
        this.#check();
      });
    });
    socket.on('error', () => {});
    open.add(this);
    void this.closed.then(() => open.delete(this));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawCircuit> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawCircuit(socket));
      });
    });
  }

  /** Connects and sends VERSION, HOST_NAME, CLIENT_NAME (libca order differs; both are fine). */
  static async open(port: number): Promise<RawCircuit> {
    const c = await RawCircuit.connect(port);
    c.send(cmd.versionRequest(0), cmd.hostName('testhost'), cmd.clientName('tester'));
    await c.waitFor((f) => f.command === Command.VERSION);
    return c;
  }

  id(): number {
    return this.#nextId++;
  }

  send(...bytes: Uint8Array[]): void {
    for (const b of bytes) this.socket.write(b);
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      for (let i = w.from; i < this.frames.length; i++) {
        if (w.pred(this.frames[i])) {
          w.resolve(this.frames[i]);
          return false;
        }
      }
      return true;
    });
  }

  /** The first frame at index >= `from` matching `pred` (already received or the next one to come). */
  waitFor(pred: (f: CaFrame) => boolean, from = 0): Promise<CaFrame> {
    for (let i = from; i < this.frames.length; i++)
      if (pred(this.frames[i])) return Promise.resolve(this.frames[i]);
    return new Promise((resolve) => this.#waiters.push({ pred, from, resolve }));
  }

  /** Waits until `n` frames matching `pred` arrived from index `from`; returns them. */
  async waitForCount(pred: (f: CaFrame) => boolean, n: number, from = 0): Promise<CaFrame[]> {
    let at = from;
    const out: CaFrame[] = [];
    while (out.length < n) {
      const f = await this.waitFor(pred, at);
      out.push(f);
      at = this.frames.indexOf(f, at) + 1;
    }
    return out;
  }

  /** CREATE_CHAN and its ACCESS_RIGHTS + CREATE_CHAN reply (or CREATE_CH_FAIL). */
  async createChannel(
    name: string,
  ): Promise<{ cid: number; sid: number; nativeType: number; count: number; rights: number }> {
    const cid = this.id();
    const from = this.frames.length;
    this.send(cmd.createChanRequest(cid, name));
    const reply = await this.waitFor(
      (f) => (f.command === Command.CREATE_CHAN || f.command === Command.CREATE_CH_FAIL) && f.p1 === cid,
      from,
    );
    if (reply.command === Command.CREATE_CH_FAIL) throw new Error(`CREATE_CH_FAIL for ${name}`);
    const rights = await this.waitFor((f) => f.command === Command.ACCESS_RIGHTS && f.p1 === cid, from);
    return { cid, sid: reply.p2, nativeType: reply.dataType, count: reply.count, rights: rights.p2 };
  }

  /** READ_NOTIFY and its reply. */
  async read(sid: number, dataType: number, count = 0): Promise<CaFrame> {
    const ioid = this.id();
    const from = this.frames.length;
    this.send(cmd.readNotifyRequest(dataType, count, sid, ioid));
    return this.waitFor(
      (f) => (f.command === Command.READ_NOTIFY && f.p2 === ioid) || f.command === Command.ERROR,
      from,
    );
  }

  close(): void {
    this.socket.destroy();
    open.delete(this);
  }
}

export class RawUdp {
  readonly datagrams: { frames: CaFrame[]; from: string }[] = [];
  readonly socket: UdpSocket;
  #waiters: (() => void)[] = [];

  private constructor(socket: UdpSocket) {
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      this.datagrams.push({
        frames: decodeDatagram(Buffer.from(msg)),
        from: `${rinfo.address}:${rinfo.port}`,
      });
      for (const w of this.#waiters.splice(0)) w();
    });
    open.add(this);
  }

  static async open(port = 0): Promise<RawUdp> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', () => resolve()));
    return new RawUdp(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Buffer, port: number): void {
    this.socket.send(bytes, port, '127.0.0.1');
  }

  /** Waits for a datagram (index >= from) with a frame matching `pred`. */
  async waitFor(pred: (f: CaFrame) => boolean, from = 0): Promise<{ frames: CaFrame[]; from: string }> {
    for (;;) {
      for (let i = from; i < this.datagrams.length; i++) {
        if (this.datagrams[i].frames.some(pred)) return this.datagrams[i];
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // closed
    }
    open.delete(this);
  }
}
