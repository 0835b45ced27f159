/**
 * A Channel Access client context (caproto threading client's `Context`): one SearchEngine (UDP, and TCP to each
 * `EPICS_CA_NAME_SERVERS` entry), one circuit per (server address, priority) shared by its channels, PVs cached
 * per (name, priority), and every channel, subscription and circuit an actor under the context's own supervisor
 * (`ca:context:<n>`).
 *
 *   getPv(name) ──► PV (channel actor: searching) ──SearchEngine result──► FOUND ──► circuitFor(address, priority)
 *   circuit closed ──► its channels re-search by themselves; the next FOUND opens a new circuit
 *   circuit never connected (TCP connect refused, or not answered within the connection timeout) ──► its
 *                      channels' waits fail with its error; they back off (1 s doubling to 30 s), then re-search
 *   disconnect() ──► every PV closed (EVENT_CANCEL, CLEAR_CHANNEL), circuits and search closed, actors removed;
 *                    terminal: any later use throws ContextDisconnectedError
 *
 * Differences from upstream, on purpose: no threads (everything runs on the event loop); EVENTS_OFF is
 * remembered and sent on circuits opened later too; durations are milliseconds.
 */
import './view.js';
import { hostname, userInfo } from 'node:os';
import type { ChannelAddress } from '../../../machines/ca/channel.js';
import { checkDuration } from '../../../machines/core/duration.js';
import { checkSystem } from '../../api/lifecycle.js';
import { type Clock, checkClock, realClock } from '../../engine/clock.js';
import { checkLogger, type Logger, silentLogger } from '../../engine/logging.js';
import type { Supervisor } from '../../engine/supervisor.js';
import { createSystem, type OrrerySystem } from '../../engine/system.js';
import { type CaClientConfig, type CaEnv, clientConfigFromEnv } from './addressList.js';
import { CircuitConnection } from './circuit.js';
import { CircuitChannels, type CircuitLike } from './circuitChannels.js';
import { checkPvName, eventsOff, eventsOn } from './commands.js';
import { MAX_PRIORITY } from './constants.js';
import { CaValueError, ContextDisconnectedError } from './errors.js';
import { type AccessRightsCallback, type ConnectionStateCallback, PV, type PvHost } from './pv.js';
import { checkOptions, describeArg } from './pvTypes.js';
import { SearchEngine, type SearchResult, type SearchStats } from './search.js';
import { UnrefClock } from './unrefClock.js';

export interface ContextOptions {
  /** ms; default config.timeoutMs (2000). */
  timeout?: number;
  /** 'host' or 'host:port'; default from env EPICS_CA_ADDR_LIST. */
  addressList?: readonly string[];
  autoAddressList?: boolean;
  /** 'host' or 'host:port' name servers searched over TCP; default from env EPICS_CA_NAME_SERVERS. */
  nameServers?: readonly string[];
  serverPort?: number;
  repeaterPort?: number;
  /**
   * Silence on a circuit before an echo probe, ms (EPICS_CA_CONN_TMO); also the bound on a circuit's TCP connect
   * (30 s when this is Infinity): a server that does not answer it closes the circuit with a CaTimeoutError.
   */
  connectionTimeout?: number;
  env?: CaEnv;
  hostName?: string;
  clientName?: string;
  /** Actors are spawned under it (default: a system of the context's own, stopped by disconnect()). */
  system?: OrrerySystem;
  clock?: Clock;
  logger?: Logger;
  /** The context's sockets and background timers do not keep the process alive (as `unref()`). */
  unref?: boolean;
  /** @internal Tests: the UDP search and the circuits (default SearchEngine and CircuitConnection). */
  transport?: ContextTransport;
}

/** What the context's search does (SearchEngine's API). */
export interface SearchLike {
  start(): Promise<void>;
  add(cid: number, name: string): void;
  remove(cid: number): void;
  onResult(listener: (result: SearchResult) => void): () => void;
  /** Resolves once the socket is released (SearchEngine); a fake may return nothing. */
  close(): void | Promise<void>;
  /** The schedule's figures (SearchEngine). */
  readonly stats?: SearchStats;
  /** Its sockets stop keeping the process alive (SearchEngine). */
  unref?(): void;
}

/** @internal Where the context gets its search and circuits (tests give fakes). */
export interface ContextTransport {
  createSearch(
    config: CaClientConfig,
    clock: Clock,
    logger: Logger,
    identity?: { hostName: string; clientName: string },
  ): SearchLike;
  openCircuit(options: {
    key: { host: string; port: number; priority: number };
    clock: Clock;
    hostName: string;
    clientName: string;
    connectionTimeoutMs: number;
    logger: Logger;
    system: OrrerySystem;
    supervisor: Supervisor;
    unref: boolean;
  }): CircuitLike;
}

export interface GetPvOptions {
  priority?: number;
  connectionStateCallback?: ConnectionStateCallback;
  accessRightsCallback?: AccessRightsCallback;
  /** Accepted for caproto's signature; each operation has its own timeout. */
  timeout?: number;
}

const defaultTransport: ContextTransport = {
  createSearch: (config, clock, logger, identity) => new SearchEngine({ config, clock, logger, ...identity }),
  openCircuit: (options) => CircuitConnection.open(options),
};

let contextCount = 0;

function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** A connection timeout in ms: positive (Infinity for never), as every circuit requires (0 is EPICS_CA_CONN_TMO=0). */
function checkConnectionTimeout(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value > 0)) {
    throw new CaValueError(
      `connectionTimeout must be a positive number of ms (or Infinity for never), got ${describeArg(value)}`,
    );
  }
  return value;
}

/** An identity option (`hostName`, `clientName`): a string when given (it is sent in HOST_NAME / CLIENT_NAME). */
function checkName(name: string, value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') {
    throw new CaValueError(`${name} must be a string, got ${describeArg(value)}`);
  }
  return value;
}

/** The `env` option: an object of strings (the variables are parsed as text), or undefined for `process.env`. */
function checkEnv(env: unknown): CaEnv | undefined {
  if (env === undefined) return undefined;
  if (env === null || typeof env !== 'object') {
    throw new CaValueError(`env must be an object of strings (as process.env), got ${describeArg(env)}`);
  }
  for (const [variable, value] of Object.entries(env)) {
    if (value !== undefined && typeof value !== 'string') {
      throw new CaValueError(`env.${variable} must be a string, got ${describeArg(value)}`);
    }
  }
  return env as CaEnv;
}

/**
 * The options that are objects or names, checked before anything is made: a wrong one used to fail every later
 * read with a raw TypeError (a HOST_NAME of a number, `clock.now` missing) instead of the constructor.
 */
function checkObjects(options: ContextOptions): void {
  checkName('hostName', options.hostName);
  checkName('clientName', options.clientName);
  checkClock(options.clock);
  checkSystem(options.system);
  checkLogger('logger', options.logger);
}

/** The client configuration: the environment with the options on top. */
function configOf(options: ContextOptions): CaClientConfig {
  const config = clientConfigFromEnv(checkEnv(options.env) ?? process.env, options);
  return {
    ...config,
    connectionTimeoutMs: checkConnectionTimeout(options.connectionTimeout) ?? config.connectionTimeoutMs,
    timeoutMs: checkDuration('timeout', options.timeout, false) ?? config.timeoutMs,
  };
}

export class Context {
  readonly config: CaClientConfig;
  readonly #system: OrrerySystem;
  readonly #ownSystem: boolean;
  readonly #supervisor: Supervisor;
  readonly #clock: Clock;
  /** Background timers (search, beacons, and the actors of a system of the context's own): unref-able. */
  readonly #backgroundClock: UnrefClock;
  readonly #logger: Logger;
  readonly #transport: ContextTransport;
  readonly #hostName: string;
  readonly #clientName: string;
  readonly #search: SearchLike;
  #searchReady = false;
  /** Searches asked for before the UDP socket was bound. */
  readonly #searchQueue = new Map<number, string>();
  readonly #pvs = new Map<string, PV>();
  readonly #byCid = new Map<number, PV>();
  readonly #circuits = new Map<string, CircuitChannels>();
  /** Every circuit whose socket is not released yet (closed ones included): disconnect() waits for them. */
  readonly #unreleased = new Set<Promise<void>>();
  readonly #cleanups: (() => void)[] = [];
  readonly #host: PvHost;
  #nextCid = 1;
  #eventsOff = false;
  #disconnected = false;
  #unref = false;
  #closing: Promise<void> | undefined;

  constructor(options: ContextOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new CaValueError('Context options must be an object');
    checkObjects(options);
    this.config = configOf(options);
    this.#ownSystem = options.system === undefined;
    this.#clock = options.clock ?? options.system?.clock ?? realClock;
    this.#backgroundClock = new UnrefClock(this.#clock);
    this.#system = options.system ?? createSystem({ clock: this.#backgroundClock, logger: options.logger });
    this.#logger = (options.logger ?? this.#system.logger ?? silentLogger()).child({ ca: 'context' });
    this.#transport = options.transport ?? defaultTransport;
    this.#hostName = options.hostName ?? hostname();
    this.#clientName = options.clientName ?? userName();
    let name = `ca:context:${++contextCount}`;
    while (this.#system.supervisorActor(name) !== undefined) name = `ca:context:${++contextCount}`;
    this.#supervisor = this.#system.supervisor(name, { strategy: 'one_for_one' });
    this.#search = this.#transport.createSearch(this.config, this.#backgroundClock, this.#logger, {
      hostName: this.#hostName,
      clientName: this.#clientName,
    });
    if (options.unref) this.unref();
    this.#cleanups.push(
      this.#search.onResult((r) => this.#byCid.get(r.cid)?.foundAt(r.address, r.minorVersion)),
      this.#system.onStop(() => void this.disconnect()),
    );
    this.#search.start().then(
      () => {
        if (this.#disconnected) return;
        this.#searchReady = true;
        for (const [cid, pvName] of this.#searchQueue) {
          // one refused name never keeps the others from being searched
          try {
            this.#search.add(cid, pvName);
          } catch (err) {
            this.#logger.error({ err, pv: pvName }, 'a queued search could not start');
          }
        }
        this.#searchQueue.clear();
      },
      (err: unknown) => this.#logger.error({ err }, 'the UDP search socket could not start'),
    );
    const self = this;
    this.#host = {
      context: this,
      get system() {
        return self.#system;
      },
      get supervisor() {
        return self.#supervisor;
      },
      get logger() {
        return self.#logger;
      },
      get clock() {
        return self.#clock;
      },
      get timeoutMs() {
        return self.config.timeoutMs;
      },
      checkOpen: () => this.#checkOpen(),
      searchAdd: (cid, pvName) => {
        if (this.#disconnected) return;
        if (this.#searchReady) this.#search.add(cid, pvName);
        else this.#searchQueue.set(cid, pvName);
      },
      searchRemove: (cid) => {
        this.#searchQueue.delete(cid);
        if (this.#searchReady && !this.#disconnected) this.#search.remove(cid);
      },
      circuitFor: (address, priority) => this.#circuitFor(address, priority),
    };
  }

  /** The actor system the context's actors run in. */
  get system(): OrrerySystem {
    return this.#system;
  }
  /** The clock every deadline of the context's requests and waits runs on. */
  get clock(): Clock {
    return this.#clock;
  }
  /** The supervisor of the context's channels, subscriptions and circuits. */
  get supervisor(): Supervisor {
    return this.#supervisor;
  }
  get disconnected(): boolean {
    return this.#disconnected;
  }
  /** The live circuits (inspection, tests). */
  get circuits(): readonly CircuitChannels[] {
    return [...this.#circuits.values()];
  }
  /** The UDP search schedule: unanswered and retired searches, the current back-off, datagrams sent. */
  get searchStats(): SearchStats {
    return this.#search.stats ?? { unanswered: 0, retired: 0, intervalMs: 0, datagramsSent: 0 };
  }
  /** True once `unref()` was called. */
  get unrefd(): boolean {
    return this.#unref;
  }

  /**
   * The context's UDP, beacon and circuit sockets and its background timers (search schedule, echo probes,
   * back-offs) stop keeping the process alive, now and for sockets opened later: a script exits by itself when
   * nothing else is pending. A read or write being awaited still keeps it alive until its reply or deadline, a
   * running `block` until it ends. Idempotent. With a `system` of your own, the timers of its clock are yours to
   * manage.
   */
  unref(): void {
    if (this.#unref) return;
    this.#unref = true;
    this.#backgroundClock.unref();
    this.#search.unref?.();
    for (const c of this.#circuits.values()) (c.circuit as { unref?: () => void }).unref?.();
  }

  /** Every PV made so far. */
  get pvs(): readonly PV[] {
    return [...this.#pvs.values()];
  }

  /** PVs for `names`, cached per (name, priority): the same objects for the same names. Callbacks are added. */
  getPvs(names: readonly string[], options: GetPvOptions = {}): PV[] {
    this.#checkOpen();
    if (!Array.isArray(names)) throw new CaValueError('getPvs needs an array of names');
    checkOptions(options, 'getPvs');
    const priority = options.priority ?? 0;
    if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
      throw new CaValueError(`priority must be an integer 0..${MAX_PRIORITY}, got ${describeArg(priority)}`);
    }
    return names.map((name) => {
      if (typeof name !== 'string' || name === '' || name.length > 500) {
        throw new CaValueError(
          `a PV name must be a non-empty string of at most 500 characters, got ${describeArg(name)}`,
        );
      }
      checkPvName(name); // a NUL: no SEARCH could carry it
      const key = `${priority}\u0000${name}`;
      let pv = this.#pvs.get(key);
      if (!pv) {
        const cid = this.#nextCid++;
        pv = new PV(this.#host, cid, name, priority);
        this.#pvs.set(key, pv);
        this.#byCid.set(cid, pv);
      }
      if (options.connectionStateCallback) pv.onConnectionState(options.connectionStateCallback);
      if (options.accessRightsCallback) pv.onAccessRights(options.accessRightsCallback);
      return pv;
    });
  }

  getPv(name: string, options: GetPvOptions = {}): PV {
    return this.getPvs([name], options)[0] as PV;
  }

  /** EVENTS_OFF on every circuit (and on circuits opened later) until eventsOn(). */
  eventsOff(): void {
    this.#checkOpen();
    this.#eventsOff = true;
    this.#sendToEveryCircuit(eventsOff);
  }

  /**
   * One message to every circuit: a circuit that refuses it (CircuitQueueFullError: its server stopped reading)
   * does not keep it from the others; the first refusal is thrown once every circuit was tried.
   */
  #sendToEveryCircuit(message: () => Buffer): void {
    let refused: unknown;
    for (const c of this.#circuits.values()) {
      try {
        c.send(message());
      } catch (err) {
        refused ??= err;
      }
    }
    if (refused !== undefined) throw refused;
  }

  /** EVENTS_ON on every circuit: the server sends the latest value of each monitor, then resumes. */
  eventsOn(): void {
    this.#checkOpen();
    this.#eventsOff = false;
    this.#sendToEveryCircuit(eventsOn);
  }

  /** Terminal: closes every PV, circuit and the search; later use throws ContextDisconnectedError. */
  disconnect(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#disconnected = true;
    this.#closing = this.#close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  async #close(): Promise<void> {
    const error = new ContextDisconnectedError();
    for (const off of this.#cleanups.splice(0)) off();
    for (const pv of this.#pvs.values()) pv.close(error);
    const circuits = [...this.#circuits.values()];
    this.#circuits.clear();
    for (const c of circuits) c.close(error);
    let searchClosed: Promise<void> | undefined;
    try {
      searchClosed = Promise.resolve(this.#search.close()).catch((err: unknown) => {
        this.#logger.warn({ err }, 'closing the search failed');
      });
    } catch (err) {
      this.#logger.warn({ err }, 'closing the search failed');
    }
    // resolves once every socket is released: the search's and every circuit's, closed earlier ones included
    await Promise.all([searchClosed, ...this.#unreleased]);
    try {
      if (this.#ownSystem) await this.#system.stop();
      else if (!this.#system.stopped) this.#system.root.stopChild(this.#supervisor.systemId);
    } catch (err) {
      // the user's system is stopping by itself: it removes the supervisor
      this.#logger.debug({ err }, 'the context supervisor was already going');
    }
  }

  #checkOpen(): void {
    if (this.#disconnected) throw new ContextDisconnectedError();
  }

  #circuitFor(address: ChannelAddress, priority: number): CircuitChannels {
    const key = `${address.host}:${address.port}:${priority}`;
    const existing = this.#circuits.get(key);
    if (existing && !existing.closed) return existing;
    const circuit = this.#transport.openCircuit({
      key: { host: address.host, port: address.port, priority },
      clock: this.#clock,
      hostName: this.#hostName,
      clientName: this.#clientName,
      connectionTimeoutMs: this.config.connectionTimeoutMs,
      logger: this.#logger,
      system: this.#system,
      supervisor: this.#supervisor,
      unref: this.#unref,
    });
    const released = (circuit as { closed?: Promise<void> }).closed;
    if (released) {
      const tracked = released.then(
        () => void this.#unreleased.delete(tracked),
        () => void this.#unreleased.delete(tracked),
      );
      this.#unreleased.add(tracked);
    }
    const channels = new CircuitChannels(circuit, this.#logger, (self, error) => {
      if (this.#circuits.get(key) === self) this.#circuits.delete(key);
      if (!this.#disconnected) this.#logger.info({ circuit: key, err: error }, 'circuit closed');
    });
    this.#circuits.set(key, channels);
    if (this.#eventsOff) channels.send(eventsOff());
    return channels;
  }
}
