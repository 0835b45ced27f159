/**
 * A KATCP v5 device server (aiokatcp `DeviceServer` in TypeScript idiom): requests and sensors declared in code,
 * many clients, every sampling strategy on timers of the injected clock. It is Orrery's KATCP simulator
 * (`orrery katcp-sim`) and the peer of the client tests.
 *
 *   const server = new DeviceServer({ port: 0 });
 *   server.addRequest('echo', 'Return the arguments to the caller', (_ctx, ...args) => args);
 *   server.addSensor(new Sensor({ name: 'temperature', type: 'float', units: 'degC' }));
 *   const { port } = await server.listen();
 *   ...
 *   await server.close();
 *
 * A handler's return value is the reply's arguments after `ok`; throwing `FailReply(msg)` replies `fail msg`,
 * `InvalidReply(msg)` replies `invalid msg`, any other error `fail <ErrorName>: <message>`. Handlers may be async:
 * requests from one client run concurrently (replies can come back out of order, matched by message id) up to
 * `maxPending` in flight, then the server stops reading that client until one finishes.
 *
 * A pending async handler's `ctx.signal` is aborted (CancelledError) when its client goes away or the server
 * closes (aiokatcp cancels pending requests on stop), so `close()` leaves nothing of it scheduled.
 *
 * Standard requests (`standardRequests.ts`), replying as aiokatcp 1.9 does: `?help [name]`, `?halt`, `?watchdog`,
 * `?version-list`, `?client-list`, `?log-level [level]`, `?sensor-list [name|/regex/]`,
 * `?sensor-value [name|/regex/]`, `?sensor-sampling name[,name...] [strategy [params]]` (bulk form atomic),
 * `?request-timeout-hint [name]`. One client's reading, requests and output: `serverConnection.ts` (every line
 * produced for a client in one event-loop turn goes out in one socket write).
 * On connect: `#version-connect` x3 to the new client, `#client-connected addr` to the others. A line that does not
 * parse gets `#log error <ts> orrery.katcp <message>` (never a reply); an over-long line also disconnects.
 *
 * Differences from aiokatcp, on purpose: a handler's uncaught error replies `fail <Name>: <message>`, not the
 * server's traceback; the default line limit is 1 MiB (aiokatcp 16 MiB) and the write backlog limit 8 MiB
 * (aiokatcp twice the line limit), checked on every socket write (aiokatcp: after asynchronous informs only), but
 * against asynchronous output only, as aiokatcp's (a request's informs and reply never count: a reply larger than
 * the limit reaches a client that reads, the server reads no more requests until it drains); requests
 * are read with backpressure (not read while the client's replies are not drained); `?request-timeout-hint` is
 * always there (aiokatcp 1.9 has none), the `T` flag only when a request has a hint; `maxPending` is per client
 * (aiokatcp: per server); replies and informs from a client are ignored, as aiokatcp does; a `/regex/` of
 * `?sensor-list` / `?sensor-value` that could backtrack for too long (nested quantifiers, backreferences, more
 * than 2 quantifiers, over 256 characters: `unsafePatternReason` in `standardRequests.ts`) replies `fail`.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { type Clock, checkClock, realClock } from '../../engine/clock.js';
import { checkLogger, type Logger, silentLogger } from '../../engine/logging.js';
import {
  CancelledError,
  InvalidArgumentError,
  InvalidStateError,
  ListenError,
  PortInUseError,
} from '../../errors.js';
import { type ArgValue, DEFAULT_MAX_LINE_LENGTH, formatMessage, isValidName } from './codec.js';
import { formatPythonFloat } from './sampling.js';
import type { Sensor } from './sensor.js';
import {
  ClientConnection,
  type ClientInfo,
  type ConnectionHost,
  type RequestEntry,
  type RequestHandler,
} from './serverConnection.js';
import { formatLine, toBuffer } from './serverFormat.js';
import { KATCP_LOG_LEVELS, type KatcpLogLevel, standardRequests } from './standardRequests.js';

/**
 * Default write backlog (asynchronous output queued for a client that does not read: `#sensor-status`, mass
 * informs, `#log`) before it is disconnected: 8 MiB. A request's informs and reply do not count.
 */
export const DEFAULT_MAX_BACKLOG = 8 * 1024 * 1024;
/** Default requests in flight per client before the server stops reading it (aiokatcp `max_pending`). */
export const DEFAULT_MAX_PENDING = 100;

export type { ClientInfo, RequestContext, RequestHandler } from './serverConnection.js';
export { KATCP_LOG_LEVELS, type KatcpLogLevel } from './standardRequests.js';

export interface RequestOptions {
  /** `?request-timeout-hint`: how long a client should wait for the reply, in seconds (KATCP's unit). */
  timeoutHint?: number;
  /** Fewest arguments (default 0): fewer replies `fail too few arguments for <name>`. */
  minArgs?: number;
  /** Most arguments (default unlimited): more replies `fail too many arguments for <name>`. */
  maxArgs?: number;
}

export interface DeviceServerOptions {
  /** Address to listen on (default 127.0.0.1: loopback only). */
  host?: string;
  /** TCP port (default 0: any free port; `listen()` resolves the bound one). A taken port: PortInUseError. */
  port?: number;
  /** Drives every sampling timer (default the real clock; a TestClock in tests). */
  clock?: Clock;
  /** Wall clock in seconds for timestamps (`#log`), default `Date.now() / 1000`. */
  now?: () => number;
  /** Protocol flags advertised in `#version-connect katcp-protocol 5.1-<flags>` (default `MIB`, plus `T` when a request has a timeout hint). */
  flags?: string;
  /** `katcp-device` name-version and build (default `['orrery-device-1.0', 'orrery-device-1.0.0']`). */
  deviceApi?: readonly [string, string];
  /** Longest request line in bytes (default 1 MiB): longer gets `#log error` and a disconnect. */
  maxLineLength?: number;
  /**
   * Bytes of asynchronous output (`#sensor-status`, mass informs, `#log`) queued for a client that does not read
   * before it is disconnected (default 8 MiB). A request's own informs and reply do not count: requests are read
   * with backpressure, so one reply larger than this still reaches a client that reads.
   */
  maxBacklog?: number;
  /** Requests in flight per client before the server stops reading it (default 100). */
  maxPending?: number;
  /** Called once when `?halt` is received (after `!halt ok` is sent, as the server starts closing). */
  onHalt?: () => void;
  logger?: Logger;
}

function libraryVersion(): string {
  for (const rel of ['../../../package.json', '../../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'orrery' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here
    }
  }
  return '0.0.0';
}
const LIBRARY_VERSION = libraryVersion();

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export class DeviceServer {
  readonly #host: string;
  readonly #port: number;
  readonly #clock: Clock;
  readonly #now: () => number;
  readonly #flags: string | undefined;
  readonly #deviceApi: readonly [string, string];
  readonly #maxLineLength: number;
  readonly #maxBacklog: number;
  readonly #maxPending: number;
  readonly #onHalt: (() => void) | undefined;
  readonly #logger: Logger;
  readonly #requests = new Map<string, RequestEntry>();
  readonly #sensors = new Map<string, Sensor>();
  readonly #clients = new Set<ClientConnection>();
  /** Sockets that are closing (ended, waiting for the peer), so close() can wait for them too. */
  readonly #sockets = new Set<Socket>();
  #server: Server | null = null;
  #address: { host: string; port: number } | null = null;
  readonly #host_: ConnectionHost;
  #nextClientId = 1;
  #logLevel: KatcpLogLevel = 'warn';
  #stopping = false;
  #closing: Promise<void> | null = null;
  #halted = false;
  #closedResolve!: () => void;
  readonly #closed = new Promise<void>((resolve) => {
    this.#closedResolve = resolve;
  });

  constructor(options: DeviceServerOptions = {}) {
    this.#host = options.host ?? '127.0.0.1';
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidArgumentError(`port must be an integer in 0..65535, got ${String(port)}`);
    }
    this.#port = port;
    this.#clock = checkClock(options.clock) ?? realClock;
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new InvalidArgumentError('now must be a function returning seconds since the epoch');
    }
    this.#now = options.now ?? (() => Date.now() / 1000);
    if (options.flags !== undefined && !/^[A-Z]*$/.test(options.flags)) {
      throw new InvalidArgumentError(
        `flags must be upper-case letters, got ${JSON.stringify(options.flags)}`,
      );
    }
    this.#flags = options.flags;
    this.#deviceApi = options.deviceApi ?? ['orrery-device-1.0', 'orrery-device-1.0.0'];
    this.#maxLineLength = positiveInt('maxLineLength', options.maxLineLength, DEFAULT_MAX_LINE_LENGTH);
    this.#maxBacklog = positiveInt('maxBacklog', options.maxBacklog, DEFAULT_MAX_BACKLOG);
    this.#maxPending = positiveInt('maxPending', options.maxPending, DEFAULT_MAX_PENDING);
    this.#onHalt = options.onHalt;
    this.#logger = (checkLogger('logger', options.logger) ?? silentLogger()).child({
      component: 'katcp-server',
    });
    this.#host_ = this.#connectionHost();
    this.#addStandardRequests();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Declaring the device

  /**
   * Declare (or replace) request `name`. When the server is listening, every client gets
   * `#interface-changed request <name> added` (or `modified`).
   */
  addRequest(name: string, description: string, handler: RequestHandler, options: RequestOptions = {}): void {
    if (typeof name !== 'string' || !isValidName(name)) {
      throw new InvalidArgumentError(`invalid request name ${JSON.stringify(name)}`);
    }
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    const hint = options.timeoutHint;
    if (hint !== undefined && !(Number.isFinite(hint) && hint >= 0)) {
      throw new InvalidArgumentError(`timeoutHint must be a number of seconds >= 0, got ${String(hint)}`);
    }
    const minArgs = options.minArgs ?? 0;
    const maxArgs = options.maxArgs ?? Number.POSITIVE_INFINITY;
    if (!(Number.isInteger(minArgs) && minArgs >= 0) || !(maxArgs >= minArgs)) {
      throw new InvalidArgumentError(`need 0 <= minArgs <= maxArgs, got ${minArgs} ${maxArgs}`);
    }
    const existed = this.#requests.has(name);
    this.#requests.set(name, {
      description: String(description ?? ''),
      handler,
      timeoutHint: hint,
      minArgs,
      maxArgs,
    });
    if (this.#server) this.massInform('interface-changed', 'request', name, existed ? 'modified' : 'added');
  }

  /** Remove request `name`; false if there was none. Clients get `#interface-changed request <name> removed`. */
  removeRequest(name: string): boolean {
    if (!this.#requests.delete(name)) return false;
    if (this.#server) this.massInform('interface-changed', 'request', name, 'removed');
    return true;
  }

  /** Request names, sorted. */
  get requests(): readonly string[] {
    return [...this.#requests.keys()].sort();
  }

  /**
   * Add (or replace) a sensor. When the server is listening, every client gets
   * `#interface-changed sensor <name> added` (`modified` when it replaces one, whose samplers are closed).
   */
  addSensor(sensor: Sensor): void {
    if (!sensor || typeof sensor.attach !== 'function' || typeof sensor.name !== 'string') {
      throw new InvalidArgumentError('addSensor expects a Sensor');
    }
    const old = this.#sensors.get(sensor.name);
    if (old === sensor) return;
    if (old) this.#dropSamplers(sensor.name);
    this.#sensors.set(sensor.name, sensor);
    if (this.#server) this.massInform('interface-changed', 'sensor', sensor.name, old ? 'modified' : 'added');
  }

  /** Remove sensor `name` (every client's sampler of it closes); false if there was none. */
  removeSensor(name: string): boolean {
    if (!this.#sensors.delete(name)) return false;
    this.#dropSamplers(name);
    if (this.#server) this.massInform('interface-changed', 'sensor', name, 'removed');
    return true;
  }

  /** The sensors by name. */
  get sensors(): ReadonlyMap<string, Sensor> {
    return this.#sensors;
  }

  /** The device-global `?log-level`. */
  get logLevel(): KatcpLogLevel {
    return this.#logLevel;
  }

  #dropSamplers(name: string): void {
    for (const c of this.#clients) c.setSampler(name, null);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Running

  /**
   * Start listening; resolves the bound address. PortInUseError when the port is taken, ListenError otherwise,
   * InvalidStateError when the server is (or gets) closed before it listens.
   */
  async listen(): Promise<{ host: string; port: number }> {
    if (this.#server || this.#stopping) {
      throw new InvalidStateError(
        this.#stopping ? 'the server is closed' : 'the server is already listening',
      );
    }
    const server = createServer((socket) => this.#accept(socket));
    server.on('error', (err) => this.#logger.error({ err }, 'katcp server error'));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      // close() while binding: Node then emits neither 'listening' nor 'error', only 'close'
      const onClose = () => {
        server.off('error', onError);
        reject(new InvalidStateError('the server was closed before it was listening'));
      };
      const onError = (err: NodeJS.ErrnoException) => {
        server.off('close', onClose);
        this.#server = null;
        server.close();
        if (err.code === 'EADDRINUSE') reject(new PortInUseError(this.#port, this.#host, { cause: err }));
        else
          reject(
            new ListenError(
              `the KATCP server cannot listen on ${this.#host}:${this.#port}: ${err.code ?? err.message}`,
              this.#port,
              this.#host,
              { cause: err },
            ),
          );
      };
      server.once('error', onError);
      server.once('close', onClose);
      server.listen(this.#port, this.#host, () => {
        server.off('error', onError);
        server.off('close', onClose);
        resolve();
      });
    });
    if (this.#stopping) throw new InvalidStateError('the server was closed before it was listening');
    const bound = server.address();
    const port = typeof bound === 'object' && bound ? bound.port : this.#port;
    this.#address = { host: this.#host, port };
    this.#logger.info({ host: this.#host, port }, 'katcp server listening');
    return { ...this.#address };
  }

  /** Where the server listens, or null before `listen()` and after `close()`. */
  get address(): { host: string; port: number } | null {
    return this.#address ? { ...this.#address } : null;
  }

  /** The connected clients, in connection order. */
  get clients(): readonly ClientInfo[] {
    return [...this.#clients].map((c) => c.info());
  }

  /** Resolves once the server has closed (by `close()` or `?halt`). */
  waitClosed(): Promise<void> {
    return this.#closed;
  }

  /** True once `?halt` was received. */
  get halted(): boolean {
    return this.#halted;
  }

  /** Send `#name args...` to every client. */
  massInform(name: string, ...args: ArgValue[]): void {
    const bytes = formatMessage({ type: 'inform', name, mid: null, args: args.map(toBuffer) });
    for (const c of [...this.#clients]) c.write(bytes);
  }

  /**
   * Send `#log level timestamp name message` to every client when `level` is at or above the `?log-level`
   * (aiokatcp's `LogHandler`).
   */
  log(level: Exclude<KatcpLogLevel, 'off' | 'all'>, message: string, loggerName = 'orrery.katcp'): void {
    const current = KATCP_LOG_LEVELS.indexOf(this.#logLevel);
    if (this.#logLevel === 'off' || KATCP_LOG_LEVELS.indexOf(level) > current) return;
    this.massInform('log', level, formatPythonFloat(this.#now()), loggerName, message);
  }

  /**
   * Stop: no new connections, every client gets `#disconnect server shutting down` and is closed, every sampler
   * timer is cleared. Resolves once every socket is closed (a client that does not close its end within 1 s is
   * destroyed). Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#stopping = true;
    this.#closing = this.#doClose();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #doClose(): Promise<void> {
    const server = this.#server;
    const serverClosed = server
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    const bye = formatLine('inform', 'disconnect', null, ['server shutting down']);
    const why = new CancelledError('the KATCP server is closing');
    for (const c of [...this.#clients]) c.disconnect(bye, 'server closing', why);
    const sockets = [...this.#sockets].map(
      (s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve()))),
    );
    await Promise.all([serverClosed, ...sockets]);
    this.#server = null;
    this.#address = null;
    this.#logger.info('katcp server closed');
    this.#closedResolve();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Connections

  /** What each connection uses of the server. */
  #connectionHost(): ConnectionHost {
    const server = this;
    return {
      maxLineLength: this.#maxLineLength,
      maxBacklog: this.#maxBacklog,
      maxPending: this.#maxPending,
      logger: this.#logger,
      get stopping() {
        return server.#stopping;
      },
      now: this.#now,
      request: (name) => this.#requests.get(name),
      massInform: (name, ...args) => this.massInform(name, ...args),
      forget: (client) => {
        this.#clients.delete(client);
      },
    };
  }

  #accept(socket: Socket): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const client = new ClientConnection(this.#nextClientId++, socket, this.#host_);
    const others = [...this.#clients];
    this.#clients.add(client);
    this.#sockets.add(socket);
    this.#logger.debug({ client: client.address }, 'katcp client connected');
    socket.on('data', (chunk: Buffer) => client.onData(chunk));
    socket.on('drain', () => client.pump());
    socket.on('error', (err) =>
      this.#logger.debug({ err, client: client.address }, 'katcp client socket error'),
    );
    socket.on('close', () => {
      this.#sockets.delete(socket);
      client.drop();
    });
    for (const row of this.#versionInfo()) client.write(formatLine('inform', 'version-connect', null, row));
    const hello = formatLine('inform', 'client-connected', null, [client.address]);
    for (const c of others) c.write(hello);
  }

  #versionInfo(): string[][] {
    let anyHint = false;
    for (const r of this.#requests.values()) if (r.timeoutHint !== undefined) anyHint = true;
    const flags = this.#flags ?? `MIB${anyHint ? 'T' : ''}`;
    return [
      ['katcp-protocol', flags ? `5.1-${flags}` : '5.1'],
      ['katcp-library', `orrery-${LIBRARY_VERSION}`, `orrery-${LIBRARY_VERSION}`],
      ['katcp-device', this.#deviceApi[0], this.#deviceApi[1]],
    ];
  }

  #halt(): void {
    if (this.#halted) return;
    this.#halted = true;
    // after `!halt ok` is written (the reply follows the handler's synchronous return)
    queueMicrotask(() => {
      try {
        this.#onHalt?.();
      } catch (err) {
        this.#logger.error({ err }, 'onHalt threw');
      }
      void this.close();
    });
  }

  #addStandardRequests(): void {
    const server = this;
    const entries = standardRequests({
      clock: this.#clock,
      requests: this.#requests,
      sensors: this.#sensors,
      clients: () => this.#clients,
      clientOf: (id) => {
        for (const c of this.#clients) if (c.id === id) return c;
        return undefined;
      },
      versionInfo: () => this.#versionInfo(),
      get logLevel() {
        return server.#logLevel;
      },
      set logLevel(level: KatcpLogLevel) {
        server.#logLevel = level;
      },
      halt: () => this.#halt(),
    });
    for (const [name, entry] of entries) this.#requests.set(name, entry);
  }
}
