/**
 * Server beacons for a Channel Access client (libca `repeaterSubscribeTimer` + `bhe`; caproto
 * `SharedBroadcaster`): where beacons come from and what they mean.
 *
 * - Registration: REPEATER_REGISTER goes from the search socket to 127.0.0.1:repeaterPort; a REPEATER_CONFIRM
 *   (handed in by the SearchEngine, which owns that socket) means a repeater forwards beacons to it.
 * - Without a confirmation within `confirmWaitMs` (1 s), the monitor listens on the repeater port itself (UDP,
 *   `reuseAddr`, 127.0.0.1 when every search address is loopback); if that bind fails it retries the
 *   registration (and the bind) every `retryMs` (caproto's 10 s) until one works.
 * - Per server (`host:tcpPort`; the beacon's address field, or the datagram's source when it is 0) the last
 *   beacon time and interval are kept: a server never seen, or a beacon interval under a quarter of the previous
 *   one ("beacon anomaly": the server restarted), is a new server (`onNewServer`). A repeated beacon id (the same
 *   beacon heard twice: through the repeater and directly) is ignored. At most `maxServers` (4096) servers are
 *   remembered (the oldest heard is forgotten first), so spoofed beacons cannot grow memory without bound.
 *
 * Every timer is on the injected clock; malformed datagrams are logged at debug and dropped.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Clock } from '../../engine/clock.js';
import type { Logger } from '../../engine/logging.js';
import type { CaAddress } from './addressList.js';
import { ipToU32, repeaterRegister, u32ToIp } from './commands.js';
import { Command } from './constants.js';
import { type CaHeader, decodeDatagram } from './frame.js';

const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Closes a UDP socket; resolves once its handle is gone from the event loop: its 'close' event comes on the next
 * tick, libuv drops the handle in the loop's close phase, which the second `setImmediate` is after.
 */
export async function closeUdp(socket: Socket): Promise<void> {
  await new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed (a failed bind closes it)
    }
  });
  await nextImmediate();
  await nextImmediate();
}

export interface BeaconMonitorOptions {
  clock: Clock;
  logger: Logger;
  repeaterPort: number;
  /** Send a datagram from the search socket (registration). */
  send(bytes: Buffer, port: number, host: string): void;
  /** Bind the fallback listener to 127.0.0.1 (else 0.0.0.0). */
  loopbackOnly: boolean;
  /** Listen on the repeater port when no repeater confirms (default true). */
  listenFallback?: boolean;
  confirmWaitMs?: number;
  retryMs?: number;
  maxServers?: number;
}

interface ServerBeacons {
  lastAt: number;
  intervalMs: number | undefined;
  beaconId: number;
}

const CONFIRM_WAIT_MS = 1000;
const REGISTRATION_RETRY_MS = 10_000;
const MAX_SERVERS = 4096;

export class BeaconMonitor {
  readonly #o: BeaconMonitorOptions;
  readonly #servers = new Map<string, ServerBeacons>();
  #listeners: ((address: CaAddress) => void)[] = [];
  #timer: unknown;
  #socket: Socket | undefined;
  #registered = false;
  #bound = false;
  #boundWaiters: (() => void)[] = [];
  #released: Promise<void> | undefined;
  #closed = false;
  #started = false;
  #unref = false;
  /** Beacons taken (stats). */
  beaconsSeen = 0;

  constructor(options: BeaconMonitorOptions) {
    this.#o = options;
  }

  /** A repeater confirmed the registration. */
  get registered(): boolean {
    return this.#registered;
  }
  /** The monitor listens on the repeater port itself. */
  get listening(): boolean {
    return this.#socket !== undefined;
  }
  /** Resolves once the fallback listener is bound to the repeater port. */
  whenListening(): Promise<void> {
    if (this.#bound) return Promise.resolve();
    return new Promise((resolve) => this.#boundWaiters.push(resolve));
  }
  /** Servers whose beacons are tracked. */
  get servers(): number {
    return this.#servers.size;
  }

  onNewServer(listener: (address: CaAddress) => void): () => void {
    const own = (address: CaAddress) => listener(address);
    this.#listeners = [...this.#listeners, own];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== own);
    };
  }

  /** Register with the repeater (and fall back to listening after `confirmWaitMs`). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#register();
  }

  /** A REPEATER_CONFIRM arrived on the search socket. */
  confirmed(): void {
    if (this.#closed || this.#registered) return;
    this.#registered = true;
    this.#disarm();
    this.#o.logger.debug({ repeaterPort: this.#o.repeaterPort }, 'registered with the CA repeater');
  }

  /** A beacon (RSRV_IS_UP) from the datagram source `sourceHost`. */
  beacon(header: CaHeader, sourceHost: string): void {
    if (this.#closed) return;
    const port = header.count;
    if (port < 1 || port > 65535) return;
    const host = header.p2 === 0 ? sourceHost : u32ToIp(header.p2);
    const key = `${host}:${port}`;
    const now = this.#o.clock.now();
    this.beaconsSeen++;
    const known = this.#servers.get(key);
    if (known === undefined) {
      if (this.#servers.size >= (this.#o.maxServers ?? MAX_SERVERS)) {
        const oldest = this.#servers.keys().next().value;
        if (oldest !== undefined) this.#servers.delete(oldest);
      }
      this.#servers.set(key, { lastAt: now, intervalMs: undefined, beaconId: header.p1 });
      this.#newServer({ host, port }, 'new server');
      return;
    }
    if (header.p1 === known.beaconId) return; // the same beacon heard twice
    const interval = now - known.lastAt;
    const anomaly = known.intervalMs !== undefined && interval < known.intervalMs / 4;
    known.lastAt = now;
    known.intervalMs = interval;
    known.beaconId = header.p1;
    // most recently heard last: the oldest heard is evicted first
    this.#servers.delete(key);
    this.#servers.set(key, known);
    if (anomaly) this.#newServer({ host, port }, 'beacon anomaly');
  }

  /** The fallback listener stops keeping the process alive (now, or when it binds later). */
  unref(): void {
    this.#unref = true;
    this.#socket?.unref();
  }

  /** Stops the timer at once; resolves once the fallback listener (if any) is released. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return this.#released ?? Promise.resolve();
    this.#closed = true;
    this.#disarm();
    this.#listeners = [];
    this.#boundWaiters = [];
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) this.#released = closeUdp(socket);
    return this.#released ?? Promise.resolve();
  }

  #newServer(address: CaAddress, why: string): void {
    this.#o.logger.debug({ server: `${address.host}:${address.port}` }, `${why}: searches resume`);
    for (const l of this.#listeners) {
      try {
        l(address);
      } catch (err) {
        this.#o.logger.error({ err }, 'new-server listener threw');
      }
    }
  }

  #register(): void {
    if (this.#closed || this.#registered) return;
    try {
      this.#o.send(repeaterRegister(ipToU32('127.0.0.1')), this.#o.repeaterPort, '127.0.0.1');
    } catch (err) {
      this.#o.logger.debug({ err }, 'repeater registration could not be sent');
    }
    this.#arm(this.#o.confirmWaitMs ?? CONFIRM_WAIT_MS, () => {
      if (this.#registered || this.#closed) return;
      if (this.#o.listenFallback !== false && this.#socket === undefined) this.#listen();
      this.#arm(this.#o.retryMs ?? REGISTRATION_RETRY_MS, () => this.#register());
    });
  }

  #listen(): void {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    this.#socket = socket;
    if (this.#unref) socket.unref();
    socket.on('error', (err) => {
      this.#o.logger.debug({ err, port: this.#o.repeaterPort }, 'cannot listen on the repeater port');
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      try {
        socket.close();
      } catch {
        // already closed
      }
    });
    socket.on('listening', () => {
      if (this.#socket !== socket) return;
      this.#disarm(); // beacons come straight here: no more registration retries
      this.#bound = true;
      for (const w of this.#boundWaiters.splice(0)) w();
    });
    socket.on('message', (msg, rinfo) => {
      let frames: ReturnType<typeof decodeDatagram>;
      try {
        frames = decodeDatagram(msg);
      } catch (err) {
        this.#o.logger.debug({ err, from: rinfo.address }, 'malformed datagram on the repeater port ignored');
        return;
      }
      for (const f of frames) if (f.command === Command.RSRV_IS_UP) this.beacon(f, rinfo.address);
    });
    socket.bind({ port: this.#o.repeaterPort, address: this.#o.loopbackOnly ? '127.0.0.1' : '0.0.0.0' });
  }

  #arm(ms: number, fn: () => void): void {
    this.#disarm();
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      fn();
    }, ms);
  }

  #disarm(): void {
    if (this.#timer !== undefined) {
      this.#o.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
