/**
 * Devices for the InspectingClient tests: a real `DeviceServer` declared with a few requests and sensors, that can
 * be restarted on the same port, and `KatcpProxy`, a line-level TCP proxy in front of it that can hold back the
 * server's `#version-connect` (checklist 9.5 item 1), answer chosen requests with `fail` in place of the server
 * (a broken `?help` / `?sensor-list`), never answer chosen requests (a server that never answers), hold chosen
 * requests back until the test lets them through (a reply that comes late), drop every connection, and records
 * every request line the clients wrote (to see what went on the wire).
 *
 * Everything listens on 127.0.0.1 port 0 and `close()` destroys every socket.
 */
import { createServer, type Server, Socket } from 'node:net';
import type { Clock } from '../../../src/engine/clock.js';
import { formatMessage, type KatcpMessage, KatcpParser } from '../../../src/protocols/katcp/codec.js';
import { Sensor } from '../../../src/protocols/katcp/sensor.js';
import { DeviceServer } from '../../../src/protocols/katcp/server.js';
import { decodeFloat } from '../../../src/protocols/katcp/wire.js';
import type { TestClock } from '../../../src/testing/index.js';

export interface DeviceOptions {
  clock?: Clock;
  /** Port to listen on (default 0: ephemeral). */
  port?: number;
  /** Protocol flags (default the server's: MIB). */
  flags?: string;
}

/** The requests every test device has (besides the standard ones). */
export const DEVICE_REQUESTS = ['add', 'echo'] as const;

/** A DeviceServer declared as the tests expect; `restart()` closes it and opens an identical one on its port. */
export class TestDevice {
  server: DeviceServer;
  port = 0;
  readonly #options: DeviceOptions;
  /** The sensors the next incarnation starts with (kept across restarts). */
  readonly #sensors: Sensor[];
  #extraRequests = new Map<string, string>();

  private constructor(options: DeviceOptions) {
    this.#options = options;
    const now = () => 1_700_000_000;
    this.#sensors = [
      new Sensor({ name: 'temperature', type: 'float', description: 'air temperature', units: 'degC', now }),
      new Sensor({ name: 'count', type: 'integer', description: 'a counter', initial: 0, now }),
      new Sensor({
        name: 'mode',
        type: 'discrete',
        description: 'operating mode',
        params: ['idle', 'busy'],
        now,
      }),
    ];
    this.server = this.#build();
  }

  static async start(options: DeviceOptions = {}): Promise<TestDevice> {
    const d = new TestDevice(options);
    await d.#listen(options.port ?? 0);
    return d;
  }

  #build(port = 0): DeviceServer {
    const server = new DeviceServer({
      clock: this.#options.clock,
      now: () => 1_700_000_000,
      port,
      ...(this.#options.flags !== undefined ? { flags: this.#options.flags } : {}),
    });
    server.addRequest('echo', 'Return the arguments', (_ctx, ...args) => args);
    server.addRequest('add', 'Add two numbers', (_ctx, a, b) => [decodeFloat(a) + decodeFloat(b)], {
      minArgs: 2,
      maxArgs: 2,
    });
    for (const [name, description] of this.#extraRequests) server.addRequest(name, description, () => []);
    for (const s of this.#sensors) server.addSensor(s);
    return server;
  }

  async #listen(port: number): Promise<void> {
    this.server = this.#build(port);
    const address = await this.server.listen();
    this.port = address.port;
  }

  /** The names of the server's sensors, sorted. */
  get sensorNames(): string[] {
    return [...this.server.sensors.keys()].sort();
  }

  /** Add a sensor (clients get `#interface-changed sensor <name> added`); kept across restarts. */
  addSensor(sensor: Sensor): void {
    const i = this.#sensors.findIndex((s) => s.name === sensor.name);
    if (i >= 0) this.#sensors[i] = sensor;
    else this.#sensors.push(sensor);
    this.server.addSensor(sensor);
  }

  removeSensor(name: string): boolean {
    const i = this.#sensors.findIndex((s) => s.name === name);
    if (i >= 0) this.#sensors.splice(i, 1);
    return this.server.removeSensor(name);
  }

  /** Add a request that answers `ok` (kept across restarts). */
  addRequest(name: string, description = `the ${name} request`): void {
    this.#extraRequests.set(name, description);
    this.server.addRequest(name, description, () => []);
  }

  removeRequest(name: string): boolean {
    this.#extraRequests.delete(name);
    return this.server.removeRequest(name);
  }

  sensor(name: string): Sensor | undefined {
    return this.server.sensors.get(name);
  }

  /** Close the server (every client gets `#disconnect`) and open an identical one on the same port. */
  async restart(): Promise<void> {
    await this.server.close();
    await this.#listen(this.port);
  }

  /** Close only (a later `reopen()` listens again on the same port). */
  async stop(): Promise<void> {
    await this.server.close();
  }

  async reopen(): Promise<void> {
    await this.#listen(this.port);
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

interface ProxyLink {
  client: Socket;
  upstream: Socket;
  /** Server bytes held back until `release()` (while `holdGreeting`). */
  held: Buffer[] | null;
}

/**
 * A line-level proxy between InspectingClients and a device. Requests named in `failing` are answered
 * `!name[mid] fail <message>` by the proxy (the server never sees them); requests named in `silent` are swallowed
 * (never answered); requests named in `holding` reach the server only when `releaseRequests(name)` lets them
 * through. `holdGreeting` holds everything the server sends on a new connection until `release()`.
 */
export class KatcpProxy {
  readonly server: Server;
  port = 0;
  targetPort: number;
  readonly links = new Set<ProxyLink>();
  /** Every request the clients wrote, as text (`?sensor-list[3] temperature`). */
  readonly requests: string[] = [];
  readonly failing = new Map<string, string>();
  readonly silent = new Set<string>();
  readonly holding = new Set<string>();
  /** The requests kept back by `holding`, with the way to send each on to the server. */
  #heldRequests: Array<{ name: string; send(): void }> = [];
  holdGreeting = false;
  #listeners = new Set<() => void>();

  private constructor(targetPort: number) {
    this.targetPort = targetPort;
    this.server = createServer((socket) => this.#accept(socket));
  }

  static async start(targetPort: number): Promise<KatcpProxy> {
    const p = new KatcpProxy(targetPort);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = p.server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    p.port = address.port;
    return p;
  }

  /** Request names the clients sent, in order (without mids or arguments). */
  requestNames(): string[] {
    return this.requests.map((l) => l.slice(1).split(/[[ ]/)[0]);
  }

  /** Be told after every line the proxy sees (for waiting on wire events without timers). */
  onLine(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Send what the server sent so far on held connections, and stop holding. */
  release(): void {
    this.holdGreeting = false;
    for (const link of this.links) {
      const held = link.held;
      link.held = null;
      if (held && !link.client.destroyed) for (const b of held) link.client.write(b);
    }
  }

  /** Stop holding requests named `name`, and send those held so far on to the server, in order. */
  releaseRequests(name: string): void {
    this.holding.delete(name);
    const now = this.#heldRequests.filter((r) => r.name === name);
    this.#heldRequests = this.#heldRequests.filter((r) => r.name !== name);
    for (const r of now) r.send();
  }

  /** Destroy every proxied connection (both sides): the client sees the connection reset. */
  dropAll(): void {
    for (const link of [...this.links]) {
      link.client.destroy();
      link.upstream.destroy();
    }
  }

  get connectionCount(): number {
    return this.links.size;
  }

  async close(): Promise<void> {
    const closed = [...this.links]
      .flatMap((l) => [l.client, l.upstream])
      .map(
        (s) =>
          new Promise<void>((resolve) =>
            s.destroyed && s.closed ? resolve() : s.once('close', () => resolve()),
          ),
      );
    this.dropAll();
    await Promise.all(closed);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.setNoDelay(true);
    const upstream = new Socket();
    const link: ProxyLink = { client, upstream, held: this.holdGreeting ? [] : null };
    this.links.add(link);
    const drop = () => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', () => {});
    upstream.on('error', () => {});
    client.on('close', drop);
    upstream.on('close', drop);
    upstream.setNoDelay(true);
    upstream.connect(this.targetPort, '127.0.0.1');
    upstream.on('data', (chunk: Buffer) => {
      if (link.held) link.held.push(chunk);
      else if (!client.destroyed) client.write(chunk);
    });
    const pending: Buffer[] = [];
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      for (const b of pending.splice(0)) upstream.write(b);
    });
    const parser = new KatcpParser();
    client.on('data', (chunk: Buffer) => {
      parser.push(
        chunk,
        (m: KatcpMessage) =>
          this.#fromClient(link, m, (b) => (connected ? upstream.write(b) : pending.push(b))),
        () => {},
      );
    });
  }

  #fromClient(link: ProxyLink, m: KatcpMessage, forward: (b: Buffer) => void): void {
    const line = formatMessage(m);
    if (m.type === 'request') this.requests.push(line.toString('utf8').trimEnd());
    const fail = this.failing.get(m.name);
    if (m.type === 'request' && fail !== undefined) {
      const reply = formatMessage({
        type: 'reply',
        name: m.name,
        mid: m.mid,
        args: [Buffer.from('fail'), Buffer.from(fail)],
      });
      if (link.held) link.held.push(reply);
      else if (!link.client.destroyed) link.client.write(reply);
    } else if (m.type === 'request' && this.holding.has(m.name)) {
      this.#heldRequests.push({ name: m.name, send: () => forward(line) });
    } else if (!(m.type === 'request' && this.silent.has(m.name))) forward(line);
    for (const l of [...this.#listeners]) l();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Waiting in tests that mix real sockets with a TestClock: `pump(cond, {clock, step})` lets I/O run (a few event
// loop turns), then advances the TestClock by `step` ms, until `cond()` holds. Bounded by a number of rounds (never
// by wall time): a condition that never comes throws.

export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A few event-loop turns with real I/O (loopback replies arrive within them). */
export async function flush(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await turn();
}

export async function pump(
  cond: () => boolean,
  options: { clock?: TestClock; step?: number; rounds?: number; what?: string } = {},
): Promise<void> {
  const { clock, step = 0, rounds = 2000, what = 'condition' } = options;
  for (let i = 0; i < rounds; i++) {
    if (cond()) return;
    await turn();
    if (i % 4 === 3) await new Promise((r) => setTimeout(r, 1));
    if (clock && step > 0) clock.advance(step);
  }
  if (!cond()) throw new Error(`pump: ${what} did not come within ${rounds} rounds`);
}
