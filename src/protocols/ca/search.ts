/**
 * `SearchEngine`: the UDP name search of a Channel Access client (caproto threading `SharedBroadcaster`, libca
 * `udpiiu`). ONE UDP socket per Context: searches go out from it, replies, repeater confirmations and forwarded
 * beacons come back to it.
 *
 * - The socket binds 127.0.0.1:0 when every search address is loopback, else 0.0.0.0:0 (broadcast allowed).
 * - Schedule: caproto's exactly (`searchSchedule.ts`): every unanswered search at once on `add`, then back-off
 *   30 ms doubling to 5 s, retirement after 480 s to one resend per 60 s, un-retired by a new server
 *   (`beacons.ts`).
 * - A round is packed into datagrams of at most 1472 bytes, each a VERSION (sequence number) followed by as many
 *   SEARCH messages as fit, and each datagram goes to every `config.searchAddresses` entry (host:port honoured).
 * - Replies are routed by cid (p2): the server is p1, or the datagram's source when p1 is 0xFFFFFFFF; the TCP
 *   port is the dataType field; the minor version the payload's first u16. The first answer wins (`onResult`,
 *   once per cid, and the search stops); a later answer from another server is a warning "found on multiple
 *   servers". Malformed datagrams are logged at debug and ignored.
 * - Name servers (`config.nameServers`, `EPICS_CA_NAME_SERVERS`): one `NameServerLink` (TCP, `nameServer.ts`)
 *   each; every round's SEARCH messages also go over each ready link (libca sends each round to every search
 *   destination, UDP and TCP), a link that becomes ready gets every unanswered search at once, and its replies are
 *   routed like UDP ones.
 * Every timer runs on the injected clock (a TestClock drives the whole schedule in tests).
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Clock } from '../../engine/clock.js';
import { type Logger, silentLogger } from '../../engine/logging.js';
import { isLoopback } from '../../transport/address.js';
import type { CaAddress, CaClientConfig } from './addressList.js';
import { BeaconMonitor, closeUdp } from './beacons.js';
import { searchRequest, searchResponseMinor, u32ToIp, udpVersion } from './commands.js';
import { Command, SEARCH_MAX_DATAGRAM_BYTES } from './constants.js';
import { CaValueError } from './errors.js';
import { type CaFrame, decodeDatagram } from './frame.js';
import { NameServerLink } from './nameServer.js';
import { type PendingSearch, SearchSchedule } from './searchSchedule.js';

export interface SearchResult {
  cid: number;
  name: string;
  address: CaAddress;
  minorVersion: number;
}

export interface SearchEngineOptions {
  config: CaClientConfig;
  clock: Clock;
  logger?: Logger;
  /** Register with the repeater / listen for beacons (default true). */
  beacons?: boolean;
  /** Sent to name servers (CLIENT_NAME, HOST_NAME) when their link opens. */
  hostName?: string;
  clientName?: string;
}

export interface SearchStats {
  unanswered: number;
  retired: number;
  intervalMs: number;
  datagramsSent: number;
}

/** Answered cids remembered for the "found on multiple servers" warning (oldest forgotten first). */
const MAX_ANSWERED = 4096;
const NO_IP = 0xffffffff;

function addressText(a: CaAddress): string {
  return `${a.host}:${a.port}`;
}

export class SearchEngine {
  readonly #config: CaClientConfig;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #schedule: SearchSchedule;
  readonly #beacons: BeaconMonitor | undefined;
  readonly #loopbackOnly: boolean;
  readonly #answered = new Map<number, { name: string; address: CaAddress }>();
  #resultListeners: ((result: SearchResult) => void)[] = [];
  #serverListeners: ((address: CaAddress) => void)[] = [];
  #socket: Socket | undefined;
  #starting: Promise<void> | undefined;
  #sequence = 0;
  #datagramsSent = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  #unref = false;
  readonly #sendFailures = new Set<string>();
  readonly #nameServers: readonly NameServerLink[];

  constructor(options: SearchEngineOptions) {
    if (options === null || typeof options !== 'object') throw new CaValueError('options must be an object');
    this.#config = options.config;
    this.#clock = options.clock;
    this.#log = (options.logger ?? silentLogger()).child({ component: 'ca-search' });
    const addresses = this.#config.searchAddresses;
    this.#loopbackOnly = addresses.length > 0 && addresses.every((a) => isLoopback(a.host));
    this.#schedule = new SearchSchedule({ clock: this.#clock, send: (due) => this.#sendRound(due) });
    if (options.beacons !== false) {
      this.#beacons = new BeaconMonitor({
        clock: this.#clock,
        logger: this.#log,
        repeaterPort: this.#config.repeaterPort,
        loopbackOnly: this.#loopbackOnly,
        send: (bytes, port, host) => this.#sendTo(bytes, { host, port }),
      });
      this.#beacons.onNewServer((address) => this.#newServer(address));
    }
    this.#nameServers = (this.#config.nameServers ?? []).map((address) => {
      const link: NameServerLink = new NameServerLink({
        address,
        clock: this.#clock,
        logger: this.#log,
        connectTimeoutMs: this.#config.connectionTimeoutMs,
        maxRetryMs: this.#config.connectionTimeoutMs,
        silenceMs: this.#config.connectionTimeoutMs,
        hostName: options.hostName ?? 'localhost',
        clientName: options.clientName ?? 'orrery',
        onReady: () => {
          if (!this.#closed) link.send(this.#schedule.all().map((p) => p.request));
        },
        onSearchReply: (frame, server, minor) => {
          if (!this.#closed) this.#searchReply(frame, server, minor, addressText(address));
        },
      });
      return link;
    });
  }

  /** The name-server links (`config.nameServers`), in order. */
  get nameServers(): readonly NameServerLink[] {
    return this.#nameServers;
  }

  get stats(): SearchStats {
    return {
      unanswered: this.#schedule.unanswered,
      retired: this.#schedule.retired,
      intervalMs: this.#schedule.intervalMs,
      datagramsSent: this.#datagramsSent,
    };
  }

  /** The bound UDP address (after `start`). */
  get localAddress(): CaAddress | undefined {
    if (!this.#socket) return undefined;
    const a = this.#socket.address();
    return { host: a.address, port: a.port };
  }

  /** The beacon monitor (undefined with `beacons: false`). */
  get beacons(): BeaconMonitor | undefined {
    return this.#beacons;
  }

  /** Binds the UDP socket and starts the beacon monitor; searches added before go out then. Idempotent. */
  start(): Promise<void> {
    if (!this.#closed) for (const link of this.#nameServers) link.start();
    this.#starting ??= this.#bind();
    return this.#starting;
  }

  async #bind(): Promise<void> {
    const socket = createSocket({ type: 'udp4' });
    socket.on('message', (msg, rinfo) => this.#onDatagram(msg, rinfo.address));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: 0, address: this.#loopbackOnly ? '127.0.0.1' : '0.0.0.0' }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.#log.warn({ err }, 'CA search socket error'));
    if (this.#closed) {
      await closeUdp(socket);
      return;
    }
    if (this.#unref) socket.unref();
    if (!this.#loopbackOnly) socket.setBroadcast(true);
    this.#socket = socket;
    this.#beacons?.start();
    if (this.#schedule.unanswered > 0) this.#schedule.unretireAll();
  }

  /** Start searching `name` for channel `cid` (every unanswered search goes out again in this turn). */
  add(cid: number, name: string): void {
    if (!Number.isInteger(cid) || cid < 0 || cid > 0xffffffff) {
      throw new CaValueError(`cid must be an integer 0..2^32-1, got ${String(cid)}`);
    }
    if (typeof name !== 'string' || name === '')
      throw new CaValueError('a PV name must be a non-empty string');
    const request = searchRequest(name, cid); // CaValueError for an unreasonably long name
    if (this.#closed) return;
    this.#answered.delete(cid);
    this.#schedule.add(cid, name, request);
  }

  /** Stop searching for `cid` (answered or given up). */
  remove(cid: number): void {
    this.#schedule.remove(cid);
  }

  /** First answer per cid only; returns a remover. */
  onResult(listener: (result: SearchResult) => void): () => void {
    if (typeof listener !== 'function') throw new CaValueError('onResult needs a function');
    const own = (r: SearchResult) => listener(r);
    this.#resultListeners = [...this.#resultListeners, own];
    return () => {
      this.#resultListeners = this.#resultListeners.filter((l) => l !== own);
    };
  }

  /** A beacon from a new server, or a beacon anomaly (the unanswered searches were un-retired). */
  onNewServer(listener: (address: CaAddress) => void): () => void {
    if (typeof listener !== 'function') throw new CaValueError('onNewServer needs a function');
    const own = (a: CaAddress) => listener(a);
    this.#serverListeners = [...this.#serverListeners, own];
    return () => {
      this.#serverListeners = this.#serverListeners.filter((l) => l !== own);
    };
  }

  /** The sockets (search, beacon fallback) stop keeping the process alive, now and when bound later. */
  unref(): void {
    this.#unref = true;
    this.#socket?.unref();
    this.#beacons?.unref();
    for (const link of this.#nameServers) link.unref();
  }

  /** Stop everything (idempotent): no timer is left at once; resolves once every socket is released (a bind in
   *  progress included). */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#schedule.close();
    const beaconsClosed = this.#beacons?.close();
    this.#answered.clear();
    this.#resultListeners = [];
    this.#serverListeners = [];
    const socket = this.#socket;
    this.#socket = undefined;
    const socketClosed = socket ? closeUdp(socket) : undefined;
    // a bind in progress closes its socket when it ends (see #bind)
    const bound = this.#starting?.catch(() => {});
    const linksClosed = this.#nameServers.map((link) => link.close());
    this.#closing = Promise.all([beaconsClosed, socketClosed, bound, ...linksClosed]).then(() => {});
    return this.#closing;
  }

  // ---- sending ----

  #sendRound(due: readonly PendingSearch[]): void {
    if (this.#nameServers.length > 0) {
      const requests = due.map((p) => p.request);
      for (const link of this.#nameServers) link.send(requests);
    }
    if (!this.#socket) return; // not bound yet: start() sends them
    let i = 0;
    while (i < due.length) {
      const parts: Buffer[] = [udpVersion(this.#sequence)];
      this.#sequence = (this.#sequence + 1) >>> 0;
      let size = parts[0].length;
      // at least one SEARCH per datagram (a name of up to 500 bytes always fits)
      while (i < due.length) {
        const request = due[i].request;
        if (parts.length > 1 && size + request.length > SEARCH_MAX_DATAGRAM_BYTES) break;
        parts.push(request);
        size += request.length;
        i++;
      }
      const datagram = Buffer.concat(parts, size);
      for (const address of this.#config.searchAddresses) this.#sendTo(datagram, address);
    }
  }

  #sendTo(bytes: Buffer, address: CaAddress): void {
    const socket = this.#socket;
    if (!socket) return;
    this.#datagramsSent++;
    socket.send(bytes, address.port, address.host, (err) => {
      if (!err) return;
      const key = addressText(address);
      // once per address: an unreachable destination would otherwise log every round
      if (this.#sendFailures.has(key)) return;
      this.#sendFailures.add(key);
      this.#log.warn({ err, address: key }, 'CA search datagram could not be sent');
    });
  }

  // ---- receiving ----

  #onDatagram(msg: Buffer, source: string): void {
    if (this.#closed) return;
    let frames: CaFrame[];
    try {
      frames = decodeDatagram(msg);
    } catch (err) {
      this.#log.debug({ err, from: source, bytes: msg.length }, 'malformed CA datagram ignored');
      return;
    }
    for (const frame of frames) {
      switch (frame.command) {
        case Command.SEARCH:
          this.#udpSearchReply(frame, source);
          break;
        case Command.RSRV_IS_UP:
          this.#beacons?.beacon(frame, source);
          break;
        case Command.REPEATER_CONFIRM:
          this.#beacons?.confirmed();
          break;
        case Command.VERSION:
        case Command.NOT_FOUND:
          break;
        default:
          this.#log.debug(
            { from: source, command: frame.command },
            'unexpected CA message on the search socket',
          );
      }
    }
  }

  #udpSearchReply(frame: CaFrame, source: string): void {
    const host = frame.p1 === NO_IP || frame.p1 === 0 ? source : u32ToIp(frame.p1);
    this.#searchReply(frame, { host, port: frame.dataType }, searchResponseMinor(frame), source);
  }

  /** A SEARCH reply (UDP or a name server's) naming `address` as the PV's server. */
  #searchReply(frame: CaFrame, address: CaAddress, minorVersion: number, source: string): void {
    const cid = frame.p2;
    if (address.port < 1) {
      this.#log.debug({ from: source, cid }, 'search reply without a TCP port ignored');
      return;
    }
    const pending = this.#schedule.get(cid);
    if (pending === undefined) {
      const earlier = this.#answered.get(cid);
      if (earlier && addressText(earlier.address) !== addressText(address)) {
        this.#log.warn(
          { pv: earlier.name, accepted: addressText(earlier.address), also: addressText(address) },
          `PV ${earlier.name} found on multiple servers. Accepted address is ${addressText(earlier.address)}. ` +
            `Also found on ${addressText(address)}`,
        );
      }
      return;
    }
    this.#schedule.remove(cid);
    if (this.#answered.size >= MAX_ANSWERED) {
      const oldest = this.#answered.keys().next().value;
      if (oldest !== undefined) this.#answered.delete(oldest);
    }
    this.#answered.set(cid, { name: pending.name, address });
    const result: SearchResult = {
      cid,
      name: pending.name,
      address,
      minorVersion,
    };
    for (const l of this.#resultListeners) {
      try {
        l(result);
      } catch (err) {
        this.#log.error({ err }, 'search result listener threw');
      }
    }
  }

  #newServer(address: CaAddress): void {
    this.#schedule.unretireAll();
    for (const l of this.#serverListeners) {
      try {
        l(address);
      } catch (err) {
        this.#log.error({ err }, 'new-server listener threw');
      }
    }
  }
}
