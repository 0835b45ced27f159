/**
 * A tiny raw Channel Access peer for the transport's unit tests (not a server: it only records what arrives and
 * sends what a test tells it to), built on `commands.ts` and the frame codec. Loopback only, random ports.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { type CaFrame, decodeDatagram, FrameParser } from '../../../src/protocols/ca/frame.js';

/** Resolves when `check()` holds, re-checked on every `poke` (no sleeps). */
class Waiters {
  #list: { check: () => boolean; resolve: () => void }[] = [];
  wait(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.#list.push({ check, resolve }));
  }
  poke(): void {
    for (const w of [...this.#list]) {
      if (w.check()) {
        this.#list.splice(this.#list.indexOf(w), 1);
        w.resolve();
      }
    }
  }
}

export interface ReceivedDatagram {
  bytes: Buffer;
  frames: CaFrame[];
  from: RemoteInfo;
}

/** A UDP peer on 127.0.0.1: records datagrams, answers with `send`. */
export class RawUdpPeer {
  readonly datagrams: ReceivedDatagram[] = [];
  readonly #socket: UdpSocket;
  readonly #waiters = new Waiters();
  private constructor(socket: UdpSocket) {
    this.#socket = socket;
    socket.on('message', (bytes, from) => {
      let frames: CaFrame[] = [];
      try {
        frames = decodeDatagram(bytes);
      } catch {
        // kept with no frames: a test may look at the bytes
      }
      this.datagrams.push({ bytes, frames, from });
      this.#waiters.poke();
    });
  }
  static async start(port = 0): Promise<RawUdpPeer> {
    const socket = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port, address: '127.0.0.1' }, () => resolve());
    });
    return new RawUdpPeer(socket);
  }
  get port(): number {
    return this.#socket.address().port;
  }
  /** Waits until at least `n` datagrams arrived in total. */
  async received(n: number): Promise<ReceivedDatagram[]> {
    await this.#waiters.wait(() => this.datagrams.length >= n);
    return this.datagrams;
  }
  /** Waits until `check` holds over the datagrams so far. */
  until(check: (datagrams: ReceivedDatagram[]) => boolean): Promise<void> {
    return this.#waiters.wait(() => check(this.datagrams));
  }
  send(bytes: Uint8Array, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#socket.send(bytes, port, host, (err) => (err ? reject(err) : resolve())),
    );
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/** One accepted TCP connection of a RawTcpPeer. */
export class RawConnection {
  readonly frames: CaFrame[] = [];
  /** Sizes of the 'data' chunks received. */
  readonly chunks: number[] = [];
  readonly socket: Socket;
  readonly closed: Promise<void>;
  #ended = false;
  readonly #waiters = new Waiters();
  constructor(socket: Socket) {
    this.socket = socket;
    const parser = new FrameParser();
    socket.on('data', (chunk) => {
      this.chunks.push(chunk.length);
      parser.push(chunk, (f) => this.frames.push({ ...f, payload: Buffer.from(f.payload) }));
      this.#waiters.poke();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#ended = true;
        this.#waiters.poke();
        resolve();
      }),
    );
  }
  get isClosed(): boolean {
    return this.#ended;
  }
  /** Waits until at least `n` frames arrived. */
  async received(n: number): Promise<CaFrame[]> {
    await this.#waiters.wait(() => this.frames.length >= n || this.#ended);
    return this.frames;
  }
  until(check: (frames: CaFrame[]) => boolean): Promise<void> {
    return this.#waiters.wait(() => check(this.frames) || this.#ended);
  }
  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }
  end(): void {
    this.socket.end();
  }
  reset(): void {
    this.socket.resetAndDestroy();
  }
}

/** A TCP listener on 127.0.0.1 that records each connection's frames. */
export class RawTcpPeer {
  readonly connections: RawConnection[] = [];
  readonly #server: Server;
  readonly #waiters = new Waiters();
  private constructor(server: Server) {
    this.#server = server;
    server.on('connection', (socket) => {
      this.connections.push(new RawConnection(socket));
      this.#waiters.poke();
    });
  }
  static async start(): Promise<RawTcpPeer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return new RawTcpPeer(server);
  }
  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }
  /** The `n`th connection (0-based), once accepted. */
  async connection(n = 0): Promise<RawConnection> {
    await this.#waiters.wait(() => this.connections.length > n);
    return this.connections[n];
  }
  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A free TCP port on 127.0.0.1 with nobody listening (for connection-refused tests). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The listener of `blackholePort`: it runs in a worker whose event loop is blocked, so it never accepts. */
const BLACKHOLE_WORKER = `
const { createServer } = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const server = createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  // blocked until released: nothing is ever accepted, so the kernel's accept queue fills and stays full
  Atomics.wait(new Int32Array(workerData), 0, 0);
  server.close();
});
`;

/**
 * A loopback port whose SYNs go unanswered, as a blackholed address (a firewall dropping packets), without root: a
 * listener with a backlog of 1 that never accepts, its accept queue filled by two connections made here (Linux
 * drops a SYN while the queue is full; the client retries it for ~127 s). `close()` releases everything.
 */
export async function blackholePort(): Promise<{ port: number; close(): Promise<void> }> {
  const release = new SharedArrayBuffer(4);
  const worker = new Worker(BLACKHOLE_WORKER, { eval: true, workerData: release });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const socket = connect(port, '127.0.0.1');
    fillers.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
  }
  return {
    port,
    async close() {
      for (const s of fillers) s.destroy();
      Atomics.store(new Int32Array(release), 0, 1);
      Atomics.notify(new Int32Array(release), 0);
      await exited;
    },
  };
}
