/**
 * `NameServerLink`: the TCP connection of a client to one `EPICS_CA_NAME_SERVERS` entry (libca `SearchDestTCP`
 * and its `tcpiiu`), over which the searches go as well as over UDP (CA V4.12, for sites UDP does not reach: a
 * CA gateway, a name server, or any server that answers SEARCH on TCP, Orrery's `CaServer` included).
 *
 * - Opening: VERSION (priority 0) then CLIENT_NAME and HOST_NAME, as libca's circuits do. Searches are sent only
 *   once the server's VERSION reply says minor >= 12 (libca `SearchDestTCP::searchRequest`, `CA_V412`); a server
 *   that says less keeps the link, but gets no search (logged once).
 * - Searches: the SEARCH messages of each round of the UDP schedule (the caller's `send`), and every unanswered
 *   search at once when the link becomes ready (libca waits for its next search-timer round).
 * - Replies: SEARCH replies go to `onSearchReply`; the IP field 0xFFFFFFFF means "this sender": the name server's
 *   own host AND port are the channel's server (libca `tcpiiu::searchRespNotify`), else the IP field with the
 *   port of the dataType field. NOT_FOUND, ECHO and the like are ignored.
 * - Failures never throw: a refused, timed-out (connect bounded by `connectTimeoutMs`) or closed connection is
 *   retried after a back-off of 250 ms doubling to `maxRetryMs` (libca retries a name server's connect every
 *   `EPICS_CA_CONN_TMO`, and reopens a dropped one at its next search round); a link that became ready resets the
 *   back-off. The first failure of an outage is a warning, the others debug.
 * - Liveness (libca's tcpiiu echo, as the circuits): a ready (or not usable) link silent for `silenceMs` (the
 *   circuits' `EPICS_CA_CONN_TMO`) is sent an ECHO; if nothing at all arrives within `echoTimeoutMs` (libca 5 s)
 *   the link has failed (a CaTimeoutError, reported as any failure) and is reconnected with the back-off. Any bytes
 *   received count: the machine hears HEARD at most once per `min(1 s, silenceMs / 10)`, at once while an echo is
 *   outstanding (the server's ECHO reply is then dropped).
 * - `close()` destroys the socket and stops the link's actor; it resolves once the socket is released.
 *
 * The lifecycle (connecting bounded by `connectTimeoutMs`, open, ready, not usable, waiting with the back-off,
 * closed) is `machines/ca/nameServerLink.ts`, spawned as a `temporary` actor under a supervisor of the given system
 * (`ca:nameServers` unless one is given; a system of its own on `clock` when none is given, stopped by `close()`),
 * so its delays run on the system's clock. The socket is this class's: the machine's named actions (openSocket,
 * sendGreeting, sendEcho, destroySocket, notifyReady, warn, debug) call it back, and it sends the machine
 * SOCKET_CONNECTED, VERSION, HEARD and SOCKET_CLOSED. SEARCH requests and replies never pass through the machine.
 *
 * Differences from libca, on purpose: the link is a search-only connection: channels found through it open the
 * normal channel circuit to the server (a second TCP connection when the name server is that server; libca shares
 * its circuit of default priority). The UDP VERSION (sequence number) that leads libca's search datagram is not
 * copied onto the TCP stream (a TCP VERSION sets the circuit's priority).
 */
import { connect, type Socket } from 'node:net';
import {
  NAME_SERVER_FIRST_RETRY_MS,
  type NameServerLinkMachineState,
  type NameServerLinkReport,
  type NameServerSocketEvent,
  nameServerLinkMachine,
} from '../../../machines/ca/nameServerLink.js';
import type { Clock } from '../../engine/clock.js';
import type { ActorHandle } from '../../engine/handle.js';
import type { Logger } from '../../engine/logging.js';
import type { Supervisor } from '../../engine/supervisor.js';
import { createSystem, type OrrerySystem } from '../../engine/system.js';
import type { CaAddress } from './addressList.js';
import { CircuitQueueFullError, DEFAULT_MAX_QUEUED_BYTES } from './circuitSocket.js';
import { clientName, echo, hostName, u32ToIp, versionRequest } from './commands.js';
import { Command, ECHO_TIMEOUT_MS } from './constants.js';
import { type CaFrame, FrameParser } from './frame.js';
import { HeardThrottle, heardEveryMs } from './heard.js';

export { NAME_SERVER_FIRST_RETRY_MS };

const NO_IP = 0xffffffff;

export interface NameServerLinkOptions {
  address: CaAddress;
  /** The clock of the link's timers (a system made here runs on it). */
  clock: Clock;
  logger: Logger;
  /** Bound on one connection attempt, ms. */
  connectTimeoutMs: number;
  /** Largest wait between attempts, ms. */
  maxRetryMs: number;
  /** Silence on a connected link before an ECHO probe (`EPICS_CA_CONN_TMO`), ms; Infinity for never. */
  silenceMs: number;
  /** ECHO reply deadline, ms (default libca's 5000). */
  echoTimeoutMs?: number;
  hostName: string;
  clientName: string;
  /** The link can take searches (again). */
  onReady(): void;
  /** A SEARCH reply, with the server it names (already resolved against this name server's address). */
  onSearchReply(frame: CaFrame, server: CaAddress, minorVersion: number): void;
  /** Bytes the socket may hold unsent (a name server that stops reading) before the link fails (default 16 MiB). */
  maxQueuedBytes?: number;
  /** The system to spawn the link's actor in (default a system of its own on `clock`, stopped by `close()`). */
  system?: OrrerySystem;
  /** Supervisor to spawn it under (default `ca:nameServers` of the system, created when missing). */
  supervisor?: Supervisor | string;
}

type State = 'idle' | 'connecting' | 'open' | 'ready' | 'waiting' | 'closed';
type NameServerLinkLogic = typeof nameServerLinkMachine;

/** The supervisor links go under when none is given. */
export const NAME_SERVER_SUPERVISOR = 'ca:nameServers';

let linkCount = 0;

/** Live links by actor id: how the shared machine's effects find theirs. */
const links = new Map<string, NameServerLink>();

/** The machine with its effects, provided ONCE for every link (one logic object: one chart in the inspector). */
const nameServerLinkLogic = nameServerLinkMachine.provide({
  actions: {
    enterState: ({ self }, params) => links.get(self.id)?.enterState(params.state),
    openSocket: ({ self }) => links.get(self.id)?.openSocket(),
    sendGreeting: ({ self }) => links.get(self.id)?.sendGreeting(),
    sendEcho: ({ self }) => links.get(self.id)?.sendEcho(),
    destroySocket: ({ self }) => links.get(self.id)?.destroySocket(),
    notifyReady: ({ self }) => links.get(self.id)?.notifyReady(),
    warn: ({ self }, report) => links.get(self.id)?.report('warn', report),
    debug: ({ self }, report) => links.get(self.id)?.report('debug', report),
  },
});

export class NameServerLink {
  readonly address: CaAddress;
  readonly #o: NameServerLinkOptions;
  #state: State = 'idle';
  #socket: Socket | undefined;
  #minor = 0;
  #unref = false;
  #socketClosed: Promise<void> = Promise.resolve();
  #connects = 0;
  #echoes = 0;
  /** The current socket's HEARD throttle (at once while an ECHO is outstanding), as the circuits'. */
  #heard: HeardThrottle | undefined;
  #actorId: string | undefined;
  #handle: ActorHandle<NameServerLinkLogic> | undefined;
  #system: OrrerySystem | undefined;
  #ownSystem = false;
  #closing: Promise<void> | undefined;

  constructor(options: NameServerLinkOptions) {
    this.#o = options;
    this.address = options.address;
  }

  /** 'ready' once the server's VERSION allows TCP search ('open' while it says minor < 12). */
  get state(): State {
    return this.#state;
  }

  /** Connection attempts so far (tests). */
  get connects(): number {
    return this.#connects;
  }

  /** ECHO probes written so far (tests). */
  get echoes(): number {
    return this.#echoes;
  }

  /** The link's actor (a `caNameServerLink` machine), once started. */
  get actor(): ActorHandle<NameServerLinkLogic> | undefined {
    return this.#handle;
  }

  /** Connects (idempotent): spawns the link's actor. */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'connecting';
    this.#ownSystem = this.#o.system === undefined;
    const system = this.#o.system ?? createSystem({ clock: this.#o.clock, logger: this.#o.logger });
    this.#system = system;
    const id = `ca:nameServer:${this.#text()}:${++linkCount}`;
    this.#actorId = id;
    links.set(id, this);
    this.#handle = system.spawn(nameServerLinkLogic, {
      supervisor: this.#o.supervisor ?? this.#defaultSupervisor(system),
      id,
      systemId: id,
      restart: 'temporary',
      input: {
        address: this.#text(),
        linkId: id,
        connectTimeoutMs: this.#o.connectTimeoutMs,
        maxRetryMs: this.#o.maxRetryMs,
        silenceMs: this.#o.silenceMs,
        echoTimeoutMs: this.#o.echoTimeoutMs ?? ECHO_TIMEOUT_MS,
      },
    }) as unknown as ActorHandle<NameServerLinkLogic>;
    this.#handle.subscribe({ complete: () => this.#gone(), error: () => this.#gone() });
  }

  /**
   * Sends SEARCH messages if the link is ready; false otherwise. A server that stops reading fails the link (a
   * CircuitQueueFullError, reconnected with the back-off) once its socket would hold over `maxQueuedBytes` unsent.
   */
  send(requests: readonly Buffer[]): boolean {
    const socket = this.#socket;
    if (this.#state !== 'ready' || !socket || requests.length === 0) return false;
    const bytes = requests.length === 1 ? requests[0] : Buffer.concat(requests);
    const limit = this.#o.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    if (socket.writableLength + bytes.length > limit) {
      const error = new CircuitQueueFullError(
        `CA name server ${this.#text()} reads nothing: ${socket.writableLength} bytes unsent ` +
          `(limit ${limit}); ${bytes.length} more refused`,
      );
      this.#handle?.current?.send({ type: 'SOCKET_CLOSED', error });
      return false;
    }
    socket.write(bytes);
    return true;
  }

  unref(): void {
    this.#unref = true;
    this.#socket?.unref();
  }

  /** Destroys the socket and stops the actor (idempotent); resolves once the socket is released. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#state !== 'closed') {
      this.#handle?.current?.send({ type: 'CLOSE' });
      this.#gone();
    }
    const system = this.#system;
    const own = this.#ownSystem;
    this.#closing = this.#socketClosed.then(async () => {
      if (own && system && !system.stopped) await system.stop();
    });
    return this.#closing;
  }

  // ---- the machine's effects ----

  /** @internal The machine entered `state`. */
  enterState(state: NameServerLinkMachineState): void {
    if (this.#state === 'closed') return;
    this.#state = state === 'notUsable' ? 'open' : state;
    if (state === 'closed') this.#gone();
  }

  /** @internal */
  openSocket(): void {
    this.#connects++;
    this.#minor = 0;
    const clock = this.#o.clock;
    const heard = new HeardThrottle(heardEveryMs(this.#o.silenceMs));
    this.#heard = heard;
    const socket = connect({ host: this.address.host, port: this.address.port });
    this.#socket = socket;
    if (this.#unref) socket.unref();
    this.#socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    const parser = new FrameParser();
    const tell = (event: NameServerSocketEvent) => {
      if (this.#socket === socket) this.#handle?.current?.send(event);
    };
    socket.on('connect', () => tell({ type: 'SOCKET_CONNECTED' }));
    socket.on('data', (chunk: Buffer) => {
      if (this.#socket !== socket) return;
      if (heard.heard(clock.now())) tell({ type: 'HEARD' });
      try {
        parser.push(chunk, (frame) => this.#frame(socket, frame));
      } catch (err) {
        tell({ type: 'SOCKET_CLOSED', error: err instanceof Error ? err : new Error(String(err)) });
      }
    });
    socket.on('error', (error) => tell({ type: 'SOCKET_CLOSED', error }));
    socket.on('close', () => tell({ type: 'SOCKET_CLOSED', error: new Error('connection closed') }));
  }

  /** @internal VERSION (priority 0), CLIENT_NAME, HOST_NAME. */
  sendGreeting(): void {
    const socket = this.#socket;
    if (!socket) return;
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    socket.write(
      Buffer.concat([versionRequest(0), clientName(this.#o.clientName), hostName(this.#o.hostName)]),
    );
  }

  /** @internal An ECHO (header only); the reply, as any bytes, is HEARD. */
  sendEcho(): void {
    const socket = this.#socket;
    if (!socket) return;
    this.#echoes++;
    this.#heard?.echoSent();
    socket.write(echo());
  }

  /** @internal */
  destroySocket(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
  }

  /** @internal */
  notifyReady(): void {
    this.#o.onReady();
  }

  /** @internal The machine's `warn` and `debug` reports. */
  report(level: 'warn' | 'debug', report: NameServerLinkReport): void {
    const log = this.#o.logger;
    const nameServer = this.#text();
    switch (report.what) {
      case 'failed': {
        const fields = { nameServer, err: report.error, retryInMs: report.retryInMs };
        if (level === 'warn') log.warn(fields, 'CA name server connection failed or closed; retrying');
        else log.debug(fields, 'CA name server connection failed');
        return;
      }
      case 'ready':
        log[level]({ nameServer, minor: report.minor }, 'CA name server connected');
        return;
      case 'noTcpSearch':
        log[level](
          { nameServer, minor: report.minor },
          'CA name server does not support TCP search (needs protocol minor >= 12): no search sent to it',
        );
        return;
    }
  }

  #text(): string {
    return `${this.address.host}:${this.address.port}`;
  }

  #frame(socket: Socket, frame: CaFrame): void {
    switch (frame.command) {
      case Command.VERSION:
        this.#minor = frame.count;
        if (this.#socket === socket) this.#handle?.current?.send({ type: 'VERSION', minor: frame.count });
        return;
      case Command.SEARCH: {
        const server: CaAddress =
          frame.p1 === NO_IP ? this.address : { host: u32ToIp(frame.p1), port: frame.dataType };
        const minor = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : this.#minor;
        this.#o.onSearchReply(frame, server, minor);
        return;
      }
      default:
        return; // NOT_FOUND (DO_REPLY only), ECHO (the reply to our probe: HEARD already), ...
    }
  }

  /** The actor is done (closed, stopped, or its system stopped): release the socket, forget the link. */
  #gone(): void {
    this.#state = 'closed';
    this.destroySocket();
    if (this.#actorId !== undefined) links.delete(this.#actorId);
  }

  #defaultSupervisor(system: OrrerySystem): string {
    if (system.supervisorActor(NAME_SERVER_SUPERVISOR) === undefined) {
      system.supervisor(NAME_SERVER_SUPERVISOR, { strategy: 'one_for_one' });
    }
    return NAME_SERVER_SUPERVISOR;
  }
}
