/**
 * A loopback proxy in front of a real CaServer, for fault tests: UDP searches are forwarded and the replies
 * rewritten to name the proxy's TCP port, TCP circuits are piped both ways. `corrupt()` sends every client a
 * header announcing a 2 GiB payload (a malformed frame: the client's parser must refuse it) and `kill()` makes the
 * proxy answer nothing any more.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';

export class CaProxy {
  readonly #udp: UdpSocket;
  readonly #upstream: UdpSocket;
  readonly #tcp: Server;
  readonly #clients = new Set<Socket>();
  readonly #target: number;
  #lastClient: RemoteInfo | undefined;
  #dead = false;

  private constructor(target: number, udp: UdpSocket, upstream: UdpSocket, tcp: Server) {
    this.#target = target;
    this.#udp = udp;
    this.#upstream = upstream;
    this.#tcp = tcp;
    udp.on('message', (bytes, from) => {
      if (this.#dead) return;
      this.#lastClient = from;
      upstream.send(bytes, target, '127.0.0.1');
    });
    upstream.on('message', (bytes) => {
      const client = this.#lastClient;
      if (this.#dead || !client) return;
      udp.send(this.#rewrite(Buffer.from(bytes)), client.port, client.address);
    });
    tcp.on('connection', (client) => {
      if (this.#dead) {
        client.destroy();
        return;
      }
      const server = connect(target, '127.0.0.1');
      this.#clients.add(client);
      client.pipe(server);
      server.pipe(client);
      const end = () => {
        this.#clients.delete(client);
        client.destroy();
        server.destroy();
      };
      client.on('close', end).on('error', end);
      server.on('close', end).on('error', end);
    });
  }

  /** A proxy for the server on `target` (its UDP and TCP port). */
  static async start(target: number): Promise<CaProxy> {
    const bind = (s: UdpSocket) =>
      new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, '127.0.0.1', () => resolve());
      });
    const udp = createSocket('udp4');
    const upstream = createSocket('udp4');
    await bind(udp);
    await bind(upstream);
    const tcp = createServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve()));
    return new CaProxy(target, udp, upstream, tcp);
  }

  get udpPort(): number {
    return this.#udp.address().port;
  }
  get tcpPort(): number {
    const a = this.#tcp.address();
    return typeof a === 'object' && a ? a.port : 0;
  }
  get clientCount(): number {
    return this.#clients.size;
  }

  /** Every client gets a header announcing a 2 GiB READ_NOTIFY payload. */
  corrupt(): void {
    const frame = Buffer.alloc(24);
    frame.writeUInt16BE(15, 0);
    frame.writeUInt16BE(0xffff, 2);
    frame.writeUInt16BE(6, 4);
    frame.writeUInt16BE(0, 6);
    frame.writeUInt32BE(1, 8);
    frame.writeUInt32BE(1, 12);
    frame.writeUInt32BE(0x7ffffff8, 16);
    frame.writeUInt32BE(1, 20);
    for (const c of this.#clients) c.write(frame);
  }

  /** From now on: no search answers, no new circuits. */
  kill(): void {
    this.#dead = true;
  }

  async close(): Promise<void> {
    this.#dead = true;
    for (const c of this.#clients) c.destroy();
    this.#udp.close();
    this.#upstream.close();
    await new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
  }

  /** SEARCH replies: the TCP port becomes the proxy's, the server address "use the sender". */
  #rewrite(bytes: Buffer): Buffer {
    for (let at = 0; at + 16 <= bytes.length; ) {
      const command = bytes.readUInt16BE(at);
      const size = bytes.readUInt16BE(at + 2);
      if (command === 6) {
        bytes.writeUInt16BE(this.tcpPort, at + 4);
        bytes.writeUInt32BE(0xffffffff, at + 8);
      }
      at += 16 + size;
    }
    return bytes;
  }

  /** The server's port this proxy forwards to. */
  get target(): number {
    return this.#target;
  }
}
