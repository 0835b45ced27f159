/**
 * A Channel Access server (an IOC simulator, rsrv behaviour): PVs declared in code or a JSON file (`pvFile.ts`),
 * every DBR type, access rights, monitors with event masks, put-completion (async `onPut`), beacons. It is the
 * peer of Orrery's CA client tests, of the pyepics conformance test and of `orrery ca-sim` (`sim.ts`).
 *
 *   const server = await CaServer.start({ port: 0, pvs: [{ name: 'demo:x', type: 'double', value: 1.5 }] });
 *   server.pv('demo:x')!.write(2.5);            // posts to every monitor
 *   ... EPICS_CA_ADDR_LIST=127.0.0.1:${server.port} ...
 *   await server.close();
 *
 * Per interface it binds one UDP socket (name searches, `serverSearch.ts`) and one TCP listener on the same port;
 * each TCP client is a circuit (`serverCircuit.ts`). Port 0 picks a port free for both UDP and TCP.
 *
 * Differences from rsrv, on purpose: a taken TCP port is a PortInUseError (rsrv and caproto fall back to an
 * ephemeral TCP port); when every interface is loopback, beacons go to loopback addresses only (127.0.0.1 at the
 * beacon port when the environment names none), so nothing leaves the host; bounded memory per circuit (send
 * high-water mark and hard cap, channel and subscription limits, largest request) where rsrv has fixed buffers.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import { type Clock, checkClock, realClock } from '../../engine/clock.js';
import { checkLogger, type Logger, silentLogger } from '../../engine/logging.js';
import { InvalidArgumentError, ListenError, PortInUseError } from '../../errors.js';
import { isLoopback } from '../../transport/address.js';
import { type CaAddress, type CaEnv, envPort, serverConfigFromEnv } from './addressList.js';
import { BeaconSender } from './beaconSender.js';
import { ipToU32 } from './commands.js';
import { DbrType, DEFAULT_REPEATER_PORT } from './constants.js';
import { dbrSize } from './dbr.js';
import { CaValueError } from './errors.js';
import { type CircuitHost, ServerCircuit } from './serverCircuit.js';
import { type PvDefinition, type ServerPv, ServerPvImpl } from './serverPv.js';
import { answerSearches, type SearchHost } from './serverSearch.js';

export { loadPvFile, PvFileError } from './pvFile.js';
export type {
  PvAccess,
  PvDeadband,
  PvDefinition,
  PvLimits,
  PvProperties,
  PvType,
  ServerPv,
} from './serverPv.js';

export interface CaServerOptions {
  pvs?: readonly PvDefinition[];
  /** Interfaces to bind (UDP search + TCP): default EPICS_CAS_INTF_ADDR_LIST, else ['127.0.0.1']. */
  interfaces?: readonly string[];
  /** UDP search and TCP port: default EPICS_CAS_SERVER_PORT / EPICS_CA_SERVER_PORT / 5064; 0 = a free port (the
   *  same number for UDP and TCP). */
  port?: number;
  /** Default EPICS_CAS_BEACON_ADDR_LIST (+auto); loopback only when every interface is loopback. */
  beaconAddresses?: readonly CaAddress[];
  /** Default EPICS_CAS_BEACON_PERIOD (15 s). */
  beaconPeriodMs?: number;
  /** Default process.env. */
  env?: CaEnv;
  clock?: Clock;
  logger?: Logger;
  /** Wall clock in Unix seconds for time stamps (default `Date.now() / 1000`). */
  now?: () => number;
  /** Bytes owed to a client (socket backlog + queued) past which monitor updates are coalesced and requests wait
   *  (default 4 MiB). */
  highWaterBytes?: number;
  /** Bytes in a client's socket backlog, beyond the largest single message it was sent, past which it is
   *  disconnected (default 64 MiB). */
  maxBacklogBytes?: number;
  /** Channels per circuit (default 65536); more get CREATE_CH_FAIL. */
  maxChannelsPerCircuit?: number;
  /** Subscriptions per circuit (default 65536); more get ERROR ECA_ALLOCMEM. */
  maxSubscriptionsPerCircuit?: number;
  /** Largest request payload (default 16 MiB, or twice the largest PV when more); larger closes the circuit. */
  maxRequestBytes?: number;
}

const MiB = 1024 * 1024;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

interface Bound {
  tcp: Server[];
  udp: UdpSocket[];
  port: number;
}

function closeBound(b: Partial<Bound>): void {
  for (const s of b.tcp ?? []) s.close();
  for (const u of b.udp ?? []) {
    try {
      u.close();
    } catch {
      // already closed
    }
  }
}

function listenTcp(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}

function bindUdp(socket: UdpSocket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

export class CaServer {
  readonly port: number;
  readonly host: string;
  readonly #pvs = new Map<string, ServerPvImpl>();
  readonly #circuits = new Set<ServerCircuit>();
  readonly #sockets = new Set<Socket>();
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #bound: Bound;
  readonly #beacons: BeaconSender;
  readonly #circuitHost: CircuitHost;
  readonly #searchHost: SearchHost;
  readonly #maxRequestBytes: number;
  #largestPv = 0;
  #nextCircuitId = 1;
  #closing: Promise<void> | undefined;

  private constructor(init: {
    host: string;
    bound: Bound;
    logger: Logger;
    now: () => number;
    clock: Clock;
    options: CaServerOptions;
    beaconAddresses: readonly CaAddress[];
    beaconPeriodMs: number;
    ignoreAddresses: readonly string[];
  }) {
    const { options } = init;
    this.host = init.host;
    this.port = init.bound.port;
    this.#bound = init.bound;
    this.#logger = init.logger;
    this.#now = init.now;
    this.#maxRequestBytes = positive('maxRequestBytes', options.maxRequestBytes, 16 * MiB);
    const server = this;
    this.#circuitHost = {
      logger: this.#logger,
      tcpPort: this.port,
      highWaterBytes: positive('highWaterBytes', options.highWaterBytes, 4 * MiB),
      maxBacklogBytes: positive('maxBacklogBytes', options.maxBacklogBytes, 64 * MiB),
      maxChannels: positive('maxChannelsPerCircuit', options.maxChannelsPerCircuit, 65536),
      maxSubscriptions: positive('maxSubscriptionsPerCircuit', options.maxSubscriptionsPerCircuit, 65536),
      get maxRequestBytes() {
        return Math.max(server.#maxRequestBytes, 2 * server.#largestPv + 1024);
      },
      pv: (name) => this.#pvs.get(name),
      forget: (circuit) => {
        this.#circuits.delete(circuit);
      },
    };
    this.#searchHost = {
      logger: this.#logger,
      tcpPort: this.port,
      ignoreAddresses: new Set(init.ignoreAddresses),
      has: (name) => this.#pvs.has(name),
    };
    const ip = isIP(init.host) === 4 && init.host !== '0.0.0.0' ? ipToU32(init.host) : 0;
    this.#beacons = new BeaconSender({
      socket: init.bound.udp[0],
      clock: init.clock,
      logger: this.#logger,
      addresses: init.beaconAddresses,
      periodMs: init.beaconPeriodMs,
      tcpPort: this.port,
      serverIp: ip,
    });
    for (const def of options.pvs ?? []) this.addPv(def);
    for (const tcp of init.bound.tcp) {
      tcp.on('connection', (socket) => this.#accept(socket));
      tcp.on('error', (err) => this.#logger.error({ err }, 'CA server TCP listener error'));
    }
    for (const udp of init.bound.udp) {
      udp.on('message', (msg, rinfo) => answerSearches(udp, this.#searchHost, msg, rinfo));
      udp.on('error', (err) => this.#logger.warn({ err }, 'CA server UDP socket error'));
    }
    this.#beacons.start();
    this.#logger.info({ host: this.host, port: this.port, pvs: this.#pvs.size }, 'CA server listening');
  }

  /** Binds the sockets and starts answering. CaValueError for bad options or environment, PortInUseError when
   *  the TCP port is taken, ListenError for other bind failures. */
  static async start(options: CaServerOptions = {}): Promise<CaServer> {
    const env = options.env ?? process.env;
    const config = serverConfigFromEnv(env);
    const clock = checkClock(options.clock) ?? realClock;
    const logger = (checkLogger('logger', options.logger) ?? silentLogger()).child({
      component: 'ca-server',
    });
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new InvalidArgumentError('now must be a function returning Unix seconds');
    }
    const now = options.now ?? (() => Date.now() / 1000);
    const interfaces = [...(options.interfaces ?? config.interfaces ?? ['127.0.0.1'])];
    if (interfaces.length === 0 || interfaces.some((h) => typeof h !== 'string' || h === '')) {
      throw new CaValueError('interfaces must be a non-empty list of addresses');
    }
    const port = options.port ?? config.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new CaValueError(`port must be an integer 0..65535, got ${String(port)}`);
    }
    const periodMs = options.beaconPeriodMs ?? config.beaconPeriodMs;
    if (!(Number.isFinite(periodMs) && periodMs > 0)) {
      throw new CaValueError(`beaconPeriodMs must be a number of ms > 0, got ${String(periodMs)}`);
    }
    let beaconAddresses = options.beaconAddresses ?? config.beaconAddresses;
    if (options.beaconAddresses === undefined && interfaces.every(isLoopback)) {
      beaconAddresses = beaconAddresses.filter((a) => isLoopback(a.host));
      if (beaconAddresses.length === 0) {
        const beaconPort = envPort(
          env,
          'EPICS_CAS_BEACON_PORT',
          envPort(env, 'EPICS_CA_REPEATER_PORT', DEFAULT_REPEATER_PORT),
        );
        beaconAddresses = [{ host: '127.0.0.1', port: beaconPort }];
      }
    }
    const bound = await CaServer.#bind(interfaces, port);
    try {
      return new CaServer({
        host: interfaces[0],
        bound,
        logger,
        now,
        clock,
        options,
        beaconAddresses,
        beaconPeriodMs: periodMs,
        ignoreAddresses: config.ignoreAddresses,
      });
    } catch (err) {
      closeBound(bound);
      throw err;
    }
  }

  static async #bind(interfaces: readonly string[], port: number): Promise<Bound> {
    for (let attempt = 0; ; attempt++) {
      const partial: Bound = { tcp: [], udp: [], port };
      try {
        for (const host of interfaces) {
          const tcp = createServer();
          partial.tcp.push(tcp);
          partial.port = await listenTcp(tcp, partial.port, host);
        }
        for (const host of interfaces) {
          const udp = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', reuseAddr: port !== 0 });
          partial.udp.push(udp);
          await bindUdp(udp, partial.port, host);
          try {
            udp.setBroadcast(true);
          } catch {
            // not every socket may broadcast; beacons then report it
          }
        }
        return partial;
      } catch (err) {
        closeBound(partial);
        const code = (err as NodeJS.ErrnoException).code;
        // port 0: the TCP port we got may be taken for UDP; try another one
        if (port === 0 && code === 'EADDRINUSE' && attempt < 20) continue;
        const host = interfaces.join(' ');
        if (code === 'EADDRINUSE') throw new PortInUseError(port, host, { cause: err });
        throw new ListenError(
          `the CA server cannot bind ${host} port ${port}: ${code ?? (err as Error).message}`,
          port,
          host,
          { cause: err },
        );
      }
    }
  }

  /** The PV called `name`, or undefined. */
  pv(name: string): ServerPv | undefined {
    return this.#pvs.get(name);
  }

  /** PV names, sorted. */
  get pvNames(): string[] {
    return [...this.#pvs.keys()].sort();
  }

  /** Adds a PV; CaValueError for a bad definition or a name already served. */
  addPv(def: PvDefinition): ServerPv {
    if (this.#closing) throw new CaValueError('the CA server is closed');
    const pv = new ServerPvImpl(def, this.#now);
    if (this.#pvs.has(pv.name)) throw new CaValueError(`pv ${pv.name} is already served`);
    this.#pvs.set(pv.name, pv);
    // the largest write a client may send it: its elements as DBR_STRING (40 bytes each: caput -a of text to a
    // numeric array) or as CTRL_DOUBLE, whichever is larger
    const largestWrite = Math.max(
      dbrSize(DbrType.CTRL_DOUBLE, pv.maxCount),
      dbrSize(DbrType.STRING, pv.maxCount),
    );
    this.#largestPv = Math.max(this.#largestPv, largestWrite);
    return pv;
  }

  /** Removes a PV: every channel on it gets SERVER_DISCONN. False if there was none. */
  removePv(name: string): boolean {
    const pv = this.#pvs.get(name);
    if (pv === undefined) return false;
    this.#pvs.delete(name);
    pv.remove();
    return true;
  }

  /** Connected circuits (TCP clients). */
  get clientCount(): number {
    return this.#circuits.size;
  }

  /** One line per circuit, for logs and the inspector. */
  get clients(): {
    id: number;
    address: string;
    hostName: string;
    userName: string;
    channels: number;
    subscriptions: number;
    backlog: number;
  }[] {
    return [...this.#circuits].map((c) => ({
      id: c.id,
      address: c.address,
      hostName: c.hostName,
      userName: c.userName,
      channels: c.channelCount,
      subscriptions: c.subscriptionCount,
      backlog: c.backlog,
    }));
  }

  /** Beacons sent so far. */
  get beaconsSent(): number {
    return this.#beacons.sent;
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    const circuit = new ServerCircuit(this.#nextCircuitId++, socket, this.#circuitHost);
    this.#circuits.add(circuit);
    this.#sockets.add(socket);
    this.#logger.debug({ client: circuit.address }, 'CA client connected');
    socket.on('data', (chunk: Buffer) => circuit.onData(chunk));
    socket.on('drain', () => circuit.resume());
    socket.on('error', (err) =>
      this.#logger.debug({ err, client: circuit.address }, 'CA client socket error'),
    );
    socket.on('close', () => {
      this.#sockets.delete(socket);
      circuit.close();
      this.#logger.debug({ client: circuit.address }, 'CA client gone');
    });
  }

  /** Stops: beacons, listeners, every circuit, the UDP sockets. Resolves once every socket is closed.
   *  Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #doClose(): Promise<void> {
    this.#beacons.stop();
    const listeners = this.#bound.tcp.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    const udp = this.#bound.udp.map(
      (u) =>
        new Promise<void>((resolve) => {
          try {
            u.close(() => resolve());
          } catch {
            resolve();
          }
        }),
    );
    const sockets = [...this.#sockets].map(
      (s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve()))),
    );
    for (const c of [...this.#circuits]) c.close();
    for (const s of this.#sockets) s.destroy();
    await Promise.all([...listeners, ...udp, ...sockets]);
    this.#logger.info('CA server closed');
  }
}
