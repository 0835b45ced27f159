/**
 * A scripted raw KATCP peer for client tests: a real TCP server on 127.0.0.1, ephemeral port, that sends whatever
 * a test tells it (lines or raw bytes, valid or not) and records what the client wrote, line by line.
 *
 *   const peer = await RawPeer.start();                 // every connection is greeted with GREETING_MID
 *   const client = new KatcpClient('127.0.0.1', peer.port, { system });
 *   const conn = await peer.nextConnection();
 *   const req = await conn.nextRequest();               // ?echo[1] a
 *   conn.send(`!echo[${req.mid}] ok a`);
 *   await peer.close();                                 // every socket destroyed, server closed
 */
import { createServer, type Server, type Socket } from 'node:net';
import { type KatcpMessage, parseLine } from '../../../src/protocols/katcp/codec.js';

/** `#version-connect` of an aiokatcp 1.9 server (message ids, multi-client, bulk sampling). */
export const GREETING_MID = '#version-connect katcp-protocol 5.1-MIB';
/** A v5 server without message ids. */
export const GREETING_NO_MID = '#version-connect katcp-protocol 5.0-M';

export interface RawPeerOptions {
  /** Lines sent on accept (default [GREETING_MID]; [] to hold the greeting back). */
  greeting?: readonly string[];
}

/** One accepted connection. */
export class PeerConnection {
  readonly socket: Socket;
  /** Every line the client wrote, in order. */
  readonly lines: string[] = [];
  readonly closed: Promise<void>;
  #partial = '';
  #read = 0;
  #waiting: (() => void) | null = null;
  #isClosed = false;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      const text = this.#partial + chunk.toString('latin1');
      const parts = text.split('\n');
      this.#partial = parts.pop() ?? '';
      for (const line of parts) this.lines.push(line);
      this.#wake();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#isClosed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Send lines (each gets a LF). */
  send(...lines: string[]): void {
    if (!this.socket.destroyed) this.socket.write(lines.map((l) => `${l}\n`).join(''), 'latin1');
  }

  /** Send raw bytes. */
  sendRaw(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.write(bytes, () => resolve());
    });
  }

  /** The next line the client wrote that was not read yet (rejects if the connection closes first). */
  async nextLine(): Promise<string> {
    while (this.#read >= this.lines.length) {
      if (this.#isClosed) throw new Error('peer connection closed');
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
      });
    }
    return this.lines[this.#read++];
  }

  /** The next line, parsed. */
  async nextRequest(): Promise<KatcpMessage> {
    const m = parseLine(Buffer.from(await this.nextLine(), 'latin1'));
    if (!m) throw new Error('blank line from the client');
    return m;
  }

  /** Lines written but not read yet. */
  get unread(): number {
    return this.lines.length - this.#read;
  }

  /** Half-close (the client sees EOF). */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const w = this.#waiting;
    this.#waiting = null;
    w?.();
  }
}

export class RawPeer {
  readonly port: number;
  readonly connections: PeerConnection[] = [];
  greeting: readonly string[];
  #server: Server | null;
  readonly #closing: Promise<void>[] = [];
  #taken = 0;
  #waiting: (() => void) | null = null;

  private constructor(server: Server, port: number, options: RawPeerOptions) {
    this.port = port;
    this.greeting = options.greeting ?? [GREETING_MID];
    this.#server = server;
    this.#serve(server);
  }

  static async start(options: RawPeerOptions = {}): Promise<RawPeer> {
    const server = await listen(0);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    return new RawPeer(server, address.port, options);
  }

  /** The next accepted connection not taken yet. */
  async nextConnection(): Promise<PeerConnection> {
    while (this.#taken >= this.connections.length) {
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
      });
    }
    return this.connections[this.#taken++];
  }

  /** Stop listening: new connections are refused, open ones stay. */
  refuse(): void {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    this.#closing.push(new Promise((resolve) => server.close(() => resolve())));
  }

  /** Listen again on the same port. */
  async accept(): Promise<void> {
    if (this.#server) return;
    this.#server = await listen(this.port);
    this.#serve(this.#server);
  }

  /** Destroy every connection and close the server. */
  async close(): Promise<void> {
    this.refuse();
    for (const c of this.connections) c.destroy();
    await Promise.all(this.connections.map((c) => c.closed));
    await Promise.all(this.#closing);
  }

  #serve(server: Server): void {
    server.on('connection', (socket) => {
      const conn = new PeerConnection(socket);
      this.connections.push(conn);
      if (this.greeting.length) conn.send(...this.greeting);
      const w = this.#waiting;
      this.#waiting = null;
      w?.();
    });
  }
}

function listen(port: number): Promise<Server> {
  const server = createServer();
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** A port on 127.0.0.1 with nothing listening (a server is opened and closed): connecting is refused. */
export async function refusedPort(): Promise<number> {
  const peer = await RawPeer.start();
  const port = peer.port;
  await peer.close();
  return port;
}

/** Resolve when `cond()` holds, checking after every state change of the client (no timers). */
export function until(subscribe: (listener: () => void) => () => void, cond: () => boolean): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve) => {
    const off = subscribe(() => {
      if (cond()) {
        off();
        resolve();
      }
    });
  });
}

/** Resolve when the client is in `state` (now or after a state change). */
export function stateIs<S extends string>(
  client: { state: S; onStateChange(l: (s: S, e: Error | null) => void): () => void },
  state: NoInfer<S>,
): Promise<void> {
  return until(
    (l) => client.onStateChange(l),
    () => client.state === state,
  );
}
