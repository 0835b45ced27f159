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
 * Standard requests, replying as aiokatcp 1.9 does: `?help [name]`, `?halt`, `?watchdog`, `?version-list`,
 * `?client-list`, `?log-level [level]`, `?sensor-list [name|/regex/]`, `?sensor-value [name|/regex/]`,
 * `?sensor-sampling name[,name...] [strategy [params]]` (bulk form atomic), `?request-timeout-hint [name]`.
 * On connect: `#version-connect` x3 to the new client, `#client-connected addr` to the others. A line that does not
 * parse gets `#log error <ts> orrery.katcp <message>` (never a reply); an over-long line also disconnects.
 *
 * Differences from aiokatcp, on purpose: a handler's uncaught error replies `fail <Name>: <message>`, not the
 * server's traceback; the default line limit is 1 MiB (aiokatcp 16 MiB) and the write backlog limit 8 MiB
 * (aiokatcp twice the line limit), checked on every message written, not only on asynchronous informs; requests
 * are read with backpressure (not read while the client's replies are not drained); `?request-timeout-hint` is
 * always there (aiokatcp 1.9 has none), the `T` flag only when a request has a hint; `maxPending` is per client
 * (aiokatcp: per server); replies and informs from a client are ignored, as aiokatcp does.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { type Clock, checkClock, realClock } from '../../engine/clock.js';
import { checkLogger, type Logger, silentLogger } from '../../engine/logging.js';
import { InvalidArgumentError, InvalidStateError, ListenError, PortInUseError } from '../../errors.js';
import {
  type ArgValue,
  DEFAULT_MAX_LINE_LENGTH,
  formatMessage,
  isValidName,
  type KatcpMessage,
  KatcpParser,
} from './codec.js';
import {
  FailReply,
  InvalidReply,
  KatcpDecodeError,
  type KatcpSyntaxError,
  LineTooLongError,
} from './errors.js';
import {
  createSampler,
  formatPythonFloat,
  formatSamplingParameters,
  parseSamplingRequest,
  type SensorSampler,
} from './sampling.js';
import type { Reading, Sensor } from './sensor.js';
import { formatSensorValue, type SensorValue } from './wire.js';

/** Default write backlog (bytes queued for a client that does not read) before it is disconnected: 8 MiB. */
export const DEFAULT_MAX_BACKLOG = 8 * 1024 * 1024;
/** Default requests in flight per client before the server stops reading it (aiokatcp `max_pending`). */
export const DEFAULT_MAX_PENDING = 100;

/** KATCP log levels, most to least severe (`?log-level`). */
export const KATCP_LOG_LEVELS = ['off', 'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'all'] as const;
export type KatcpLogLevel = (typeof KATCP_LOG_LEVELS)[number];

/** A connected client as the server sees it. */
export interface ClientInfo {
  /** Sequence number, from 1, in connection order. */
  readonly id: number;
  /** `host:port` (`[v6]:port`), as in `#client-list` and `#client-connected`. */
  readonly address: string;
}

/** What a request handler gets besides the request's arguments. */
export interface RequestContext {
  readonly client: ClientInfo;
  /** The request's name. */
  readonly name: string;
  /** The request's message id, or null. */
  readonly mid: number | null;
  /** Send `#name[mid] args...` to the requester (before the reply). Throws InvalidStateError after it. */
  inform(...args: ArgValue[]): void;
  /** Send `#name args...` to every client (no message id). */
  informAll(...args: ArgValue[]): void;
  /** True once the reply was sent (the client went away or the handler finished). */
  readonly replied: boolean;
}

/**
 * A request handler: the arguments are the request's, as bytes. Its return value (or the promise's) is the reply's
 * arguments after `ok` (nothing: `!name ok`).
 */
export type RequestHandler = (
  ctx: RequestContext,
  ...args: Buffer[]
) => readonly ArgValue[] | void | Promise<readonly ArgValue[] | void>;

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
  /** Bytes queued for a client that does not read before it is disconnected (default 8 MiB). */
  maxBacklog?: number;
  /** Requests in flight per client before the server stops reading it (default 100). */
  maxPending?: number;
  /** Called once when `?halt` is received (after `!halt ok` is sent, as the server starts closing). */
  onHalt?: () => void;
  logger?: Logger;
}

interface RequestEntry {
  description: string;
  handler: RequestHandler;
  timeoutHint?: number;
  minArgs: number;
  maxArgs: number;
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

/** A sensor value as aiokatcp writes it (floats with Python's repr, `1.0`). */
function sensorValueText(sensor: Sensor, value: SensorValue): string {
  if ((sensor.type === 'float' || sensor.type === 'timestamp') && typeof value === 'number') {
    return formatPythonFloat(value);
  }
  return formatSensorValue(value);
}

function formatAddress(host: string | undefined, port: number | undefined): string {
  const h = host ?? 'unknown';
  const bare = h.startsWith('::ffff:') && h.includes('.') ? h.slice(7) : h;
  return `${bare.includes(':') ? `[${bare}]` : bare}:${port ?? 0}`;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** Server-side state of one client connection. */
class ClientConnection implements ClientInfo {
  readonly id: number;
  readonly address: string;
  readonly socket: Socket;
  readonly parser: KatcpParser;
  readonly samplers = new Map<string, SensorSampler>();
  /** Requests in flight. */
  pending = 0;
  /** Requests read but not started (maxPending reached, or the writes are not drained). */
  readonly queue: KatcpMessage[] = [];
  closed = false;

  constructor(id: number, socket: Socket, maxLineLength: number) {
    this.id = id;
    this.socket = socket;
    this.address = formatAddress(socket.remoteAddress, socket.remotePort);
    this.parser = new KatcpParser({ maxLineLength });
  }

  #info: ClientInfo | undefined;
  /** A frozen snapshot for handlers (made once). */
  info(): ClientInfo {
    this.#info ??= Object.freeze({ id: this.id, address: this.address });
    return this.#info;
  }

  setSampler(name: string, sampler: SensorSampler | null): void {
    this.samplers.get(name)?.close();
    this.samplers.delete(name);
    if (sampler) this.samplers.set(name, sampler);
  }

  closeSamplers(): void {
    for (const s of this.samplers.values()) s.close();
    this.samplers.clear();
  }
}

const STANDARD_HELP: Record<string, string> = {
  'client-list': 'Request the list of connected clients.',
  halt: 'Halt the device server.',
  help: 'Return help on the available requests.',
  'log-level': 'Query or set the current logging level.',
  'request-timeout-hint':
    'Return the suggested timeout (seconds) of a request, or of every request that has one.',
  'sensor-list': 'Request the list of sensors.',
  'sensor-sampling': 'Configure or query the way a sensor is sampled.',
  'sensor-value': 'Request the value of a sensor or sensors.',
  'version-list': 'Request the list of versions of roles and subcomponents.',
  watchdog: 'Check that the server is still alive.',
};

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

  /** Start listening; resolves the bound address. PortInUseError when the port is taken, ListenError otherwise. */
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
      const onError = (err: NodeJS.ErrnoException) => {
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
      server.listen(this.#port, this.#host, () => {
        server.off('error', onError);
        resolve();
      });
    });
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
    for (const c of [...this.#clients]) this.#write(c, bytes);
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
    const bye = formatMessage({
      type: 'inform',
      name: 'disconnect',
      mid: null,
      args: [Buffer.from('server shutting down')],
    });
    for (const c of [...this.#clients]) this.#disconnect(c, bye, 'server closing');
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

  #accept(socket: Socket): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const client = new ClientConnection(this.#nextClientId++, socket, this.#maxLineLength);
    const others = [...this.#clients];
    this.#clients.add(client);
    this.#sockets.add(socket);
    this.#logger.debug({ client: client.address }, 'katcp client connected');
    socket.on('data', (chunk: Buffer) => this.#onData(client, chunk));
    socket.on('drain', () => this.#pump(client));
    socket.on('error', (err) =>
      this.#logger.debug({ err, client: client.address }, 'katcp client socket error'),
    );
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.#drop(client);
    });
    for (const [name, ...args] of this.#versionInfo()) {
      this.#send(client, {
        type: 'inform',
        name: 'version-connect',
        mid: null,
        args: [name, ...args].map(toBuffer),
      });
    }
    const hello = formatMessage({
      type: 'inform',
      name: 'client-connected',
      mid: null,
      args: [Buffer.from(client.address)],
    });
    for (const c of others) this.#write(c, hello);
  }

  /** Forget a client: its samplers, its queue. */
  #drop(client: ClientConnection): void {
    if (!this.#clients.delete(client)) return;
    client.closed = true;
    client.queue.length = 0;
    client.socket.resume(); // let a paused socket see the peer's end
    client.closeSamplers();
    client.parser.reset();
    this.#logger.debug({ client: client.address }, 'katcp client gone');
  }

  /**
   * Send `last` (if any), end the socket and forget the client; the socket is destroyed if the peer does not close
   * its end within a second (a real timer, unref'ed: it is not device time).
   */
  #disconnect(client: ClientConnection, last: Buffer | null, why: string): void {
    const socket = client.socket;
    this.#drop(client);
    this.#logger.info({ client: client.address, reason: why }, 'disconnecting katcp client');
    if (socket.destroyed) return;
    if (last && socket.writableLength <= this.#maxBacklog) socket.end(last);
    else socket.end();
    const timer = setTimeout(() => socket.destroy(), 1000);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  #onData(client: ClientConnection, chunk: Buffer): void {
    if (client.closed) return;
    client.parser.push(
      chunk,
      (m) => {
        if (client.closed || m.type !== 'request') return;
        client.queue.push(m);
      },
      (err) => this.#onParseError(client, err),
    );
    this.#pump(client);
  }

  #onParseError(client: ClientConnection, err: KatcpSyntaxError): void {
    if (client.closed) return;
    this.#send(client, {
      type: 'inform',
      name: 'log',
      mid: null,
      args: ['error', formatPythonFloat(this.#now()), 'orrery.katcp', err.message].map(toBuffer),
    });
    if (err instanceof LineTooLongError) {
      const bye = formatMessage({
        type: 'inform',
        name: 'disconnect',
        mid: null,
        args: [Buffer.from(`line longer than ${err.limit} bytes`)],
      });
      this.#disconnect(client, bye, 'line too long');
    }
  }

  /** Start queued requests while there is room; read the socket only when nothing waits. */
  #pump(client: ClientConnection): void {
    while (
      !client.closed &&
      !this.#stopping &&
      client.queue.length > 0 &&
      client.pending < this.#maxPending &&
      !client.socket.writableNeedDrain
    ) {
      const m = client.queue.shift() as KatcpMessage;
      this.#handle(client, m);
    }
    if (client.closed) return;
    if (client.queue.length > 0) client.socket.pause();
    else if (client.socket.isPaused()) client.socket.resume();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Writing

  /** Write bytes to a client; over the backlog limit the client is disconnected (it does not read). */
  #write(client: ClientConnection, bytes: Buffer): void {
    if (client.closed) return;
    client.socket.write(bytes);
    if (client.socket.writableLength > this.#maxBacklog) {
      this.#logger.warn(
        { client: client.address, backlog: client.socket.writableLength },
        'disconnecting katcp client because it is too slow',
      );
      const socket = client.socket;
      this.#drop(client);
      socket.destroy();
    }
  }

  #send(client: ClientConnection, m: KatcpMessage): void {
    this.#write(client, formatMessage(m));
  }

  #sensorStatus(client: ClientConnection, sensor: Sensor, reading: Reading): void {
    this.#send(client, {
      type: 'inform',
      name: 'sensor-status',
      mid: null,
      args: [
        formatPythonFloat(reading.timestamp),
        '1',
        sensor.name,
        reading.status,
        sensorValueText(sensor, reading.value),
      ].map(toBuffer),
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Requests

  #handle(client: ClientConnection, req: KatcpMessage): void {
    let replied = false;
    const reply = (args: readonly ArgValue[]) => {
      if (replied) return;
      replied = true;
      this.#send(client, { type: 'reply', name: req.name, mid: req.mid, args: args.map(toBuffer) });
    };
    const ctx: RequestContext = {
      client: client.info(),
      name: req.name,
      mid: req.mid,
      inform: (...args) => {
        if (replied) throw new InvalidStateError(`request ?${req.name} has already been replied to`);
        this.#send(client, { type: 'inform', name: req.name, mid: req.mid, args: args.map(toBuffer) });
      },
      informAll: (...args) => this.massInform(req.name, ...args),
      get replied() {
        return replied;
      },
    };
    const entry = this.#requests.get(req.name);
    if (!entry) {
      reply(['invalid', `unknown request ${req.name}`]);
      return;
    }
    if (req.args.length > entry.maxArgs) {
      reply(['fail', `too many arguments for ${req.name}`]);
      return;
    }
    if (req.args.length < entry.minArgs) {
      reply(['fail', `too few arguments for ${req.name}`]);
      return;
    }
    const fail = (err: unknown) => reply(this.#failure(req.name, err));
    let result: ReturnType<RequestHandler>;
    try {
      result = entry.handler(ctx, ...req.args);
    } catch (err) {
      fail(err);
      return;
    }
    if (!isPromise(result)) {
      try {
        reply(['ok', ...replyArgs(result)]);
      } catch (err) {
        replied = false;
        fail(err);
      }
      return;
    }
    client.pending++;
    result
      .then((value) => {
        try {
          reply(['ok', ...replyArgs(value)]);
        } catch (err) {
          replied = false;
          fail(err);
        }
      }, fail)
      .finally(() => {
        client.pending--;
        replied = true; // late informs from the handler now throw
        this.#pump(client);
      });
  }

  /** The reply arguments for a handler's error. */
  #failure(name: string, err: unknown): ArgValue[] {
    if (err instanceof InvalidReply) return ['invalid', err.message];
    if (err instanceof FailReply) return ['fail', err.message];
    const e = err instanceof Error ? err : new Error(String(err));
    this.#logger.error({ err: e, request: name }, 'uncaught error in a KATCP request handler');
    return ['fail', `${e.name}: ${e.message}`];
  }

  #versionInfo(): string[][] {
    const anyHint = [...this.#requests.values()].some((r) => r.timeoutHint !== undefined);
    const flags = this.#flags ?? `MIB${anyHint ? 'T' : ''}`;
    return [
      ['katcp-protocol', flags ? `5.1-${flags}` : '5.1'],
      ['katcp-library', `orrery-${LIBRARY_VERSION}`, `orrery-${LIBRARY_VERSION}`],
      ['katcp-device', this.#deviceApi[0], this.#deviceApi[1]],
    ];
  }

  /** The sensors `?sensor-list` / `?sensor-value` name: all, one, or `/regex/`; sorted by name. */
  #matchSensors(pattern: Buffer | undefined): Sensor[] {
    let matched: Sensor[];
    if (pattern === undefined) matched = [...this.#sensors.values()];
    else {
      const name = pattern.toString('utf8');
      if (name.length > 1 && name.startsWith('/') && name.endsWith('/')) {
        let re: RegExp;
        try {
          re = new RegExp(name.slice(1, -1));
        } catch (err) {
          throw new FailReply((err as Error).message);
        }
        matched = [...this.#sensors.values()].filter((s) => re.test(s.name));
      } else {
        const s = this.#sensors.get(name);
        // the wording matters: katcp-python's inspecting client looks for "Unknown sensor"
        if (!s) throw new FailReply(`Unknown sensor '${name}'`);
        matched = [s];
      }
    }
    return matched.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  #addStandardRequests(): void {
    const std = (name: string, handler: RequestHandler, minArgs: number, maxArgs: number) =>
      this.#requests.set(name, { description: STANDARD_HELP[name], handler, minArgs, maxArgs });

    std(
      'help',
      (ctx, name) => {
        let rows: [string, string][];
        if (name === undefined) {
          rows = this.requests.map((n) => [
            n,
            (this.#requests.get(n) as RequestEntry).description.split('\n')[0],
          ]);
        } else {
          const key = name.toString('utf8');
          const entry = this.#requests.get(key);
          if (!entry) throw new FailReply(`request ${key} is not known`);
          rows = [[key, entry.description]];
        }
        for (const row of rows) ctx.inform(...row);
        return [rows.length];
      },
      0,
      1,
    );
    std(
      'halt',
      () => {
        if (!this.#halted) {
          this.#halted = true;
          // after `!halt ok` is written (the reply follows this synchronous return)
          queueMicrotask(() => {
            try {
              this.#onHalt?.();
            } catch (err) {
              this.#logger.error({ err }, 'onHalt threw');
            }
            void this.close();
          });
        }
      },
      0,
      0,
    );
    std('watchdog', () => {}, 0, 0);
    std(
      'version-list',
      (ctx) => {
        const rows = this.#versionInfo();
        for (const row of rows) ctx.inform(...row);
        return [rows.length];
      },
      0,
      0,
    );
    std(
      'client-list',
      (ctx) => {
        const clients = [...this.#clients];
        for (const c of clients) ctx.inform(c.address);
        return [clients.length];
      },
      0,
      0,
    );
    std(
      'log-level',
      (_ctx, level) => {
        if (level !== undefined) {
          const l = level.toString('utf8');
          if (!(KATCP_LOG_LEVELS as readonly string[]).includes(l)) {
            throw new FailReply(`'${l}' is not a valid value for LogLevel (${KATCP_LOG_LEVELS.join(', ')})`);
          }
          this.#logLevel = l as KatcpLogLevel;
        }
        return [this.#logLevel];
      },
      0,
      1,
    );
    std(
      'request-timeout-hint',
      (ctx, name) => {
        let rows: [string, string][];
        if (name === undefined) {
          rows = this.requests
            .map((n) => [n, this.#requests.get(n)?.timeoutHint] as const)
            .filter((r): r is readonly [string, number] => r[1] !== undefined)
            .map(([n, h]) => [n, formatPythonFloat(h)]);
        } else {
          const key = name.toString('utf8');
          const entry = this.#requests.get(key);
          if (!entry) throw new FailReply(`request ${key} is not known`);
          rows = [[key, formatPythonFloat(entry.timeoutHint ?? 0)]];
        }
        for (const row of rows) ctx.inform(...row);
        return [rows.length];
      },
      0,
      1,
    );
    std(
      'sensor-list',
      (ctx, name) => {
        const sensors = this.#matchSensors(name);
        for (const s of sensors) ctx.inform(s.name, s.description, s.units, s.type, ...s.params);
        return [sensors.length];
      },
      0,
      1,
    );
    std(
      'sensor-value',
      (ctx, name) => {
        const sensors = this.#matchSensors(name);
        for (const s of sensors) {
          const r = s.reading;
          ctx.inform(formatPythonFloat(r.timestamp), '1', s.name, r.status, sensorValueText(s, r.value));
        }
        return [sensors.length];
      },
      0,
      1,
    );
    std(
      'sensor-sampling',
      (ctx, nameArg, ...strategyWords) => {
        const name = nameArg.toString('utf8');
        const client = this.#clientOf(ctx.client.id);
        const names = strategyWords.length === 0 ? [name] : name.split(',');
        const sensors = names.map((n) => {
          const s = this.#sensors.get(n);
          if (!s) throw new FailReply(`Unknown sensor '${n}'`);
          return s;
        });
        if (strategyWords.length === 0) {
          const sampler = client?.samplers.get(sensors[0].name);
          return [name, ...(sampler ? formatSamplingParameters(sensors[0], sampler.strategy) : ['none'])];
        }
        // validate for every sensor first: the bulk form is atomic
        const strategies = sensors.map((s) => {
          try {
            return parseSamplingRequest(s, strategyWords);
          } catch (err) {
            if (err instanceof KatcpDecodeError) throw new FailReply(err.message);
            throw err;
          }
        });
        let params: string[] = ['none'];
        sensors.forEach((s, i) => {
          if (!client || client.closed) return;
          const sampler = createSampler(
            s,
            strategies[i],
            (sensor, reading) => this.#sensorStatus(client, sensor, reading),
            this.#clock,
          );
          client.setSampler(s.name, sampler);
          params = formatSamplingParameters(s, strategies[i]);
        });
        return [name, ...params];
      },
      1,
      Number.POSITIVE_INFINITY,
    );
  }

  #clientOf(id: number): ClientConnection | undefined {
    for (const c of this.#clients) if (c.id === id) return c;
    return undefined;
  }
}

function toBuffer(value: ArgValue): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'number')
    return Buffer.from(Number.isInteger(value) ? String(value) : formatPythonFloat(value));
  if (typeof value === 'boolean') return Buffer.from(value ? '1' : '0');
  if (typeof value === 'bigint') return Buffer.from(value.toString());
  throw new InvalidArgumentError(`cannot send a ${typeof value} as a KATCP argument`);
}

/** A handler's return value as reply arguments (a single value is one argument, as aiokatcp). */
function replyArgs(value: unknown): readonly ArgValue[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value as ArgValue];
}

function isPromise<T>(v: unknown): v is Promise<T> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}
