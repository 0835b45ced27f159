/**
 * aiokatcp 1.9's `examples/example_server.py` as a DeviceServer: the server the transcripts in
 * `test/katcp/fixtures` were captured from. Requests `?echo`, `?sleep`, `?fail`, `?crash`, `?counter`; sensors
 * `counter-queries` (integer, nominal 0), `foo` (discrete abc-def/ghi-k, unknown) and `total` (integer, the sum of
 * the other integer sensors). With `serviceTask`, every `serviceIntervalMs` on the clock it sends `#hello` and
 * adds or removes a `fixed-value` sensor, as the example's service task does.
 */
import { createConnection, type Socket } from 'node:net';
import type { Clock } from '../../../src/engine/clock.js';
import { FailReply } from '../../../src/protocols/katcp/errors.js';
import { Sensor } from '../../../src/protocols/katcp/sensor.js';
import { DeviceServer, type DeviceServerOptions } from '../../../src/protocols/katcp/server.js';
import { decodeFloat } from '../../../src/protocols/katcp/wire.js';

export interface ExampleServer {
  server: DeviceServer;
  counter: Sensor;
  foo: Sensor;
  total: Sensor;
  /** Stop the service task and close the server. */
  close(): Promise<void>;
}

export interface ExampleServerOptions extends DeviceServerOptions {
  serviceTask?: boolean;
  serviceIntervalMs?: number;
}

export function createExampleServer(options: ExampleServerOptions = {}): ExampleServer {
  const { serviceTask = false, serviceIntervalMs = 10_000, ...serverOptions } = options;
  const now = options.now ?? (() => Date.now() / 1000);
  const clock: Clock | undefined = options.clock;
  const server = new DeviceServer({ deviceApi: ['testapi-1.0', 'testapi-1.0.1'], ...serverOptions });
  const counter = new Sensor({
    name: 'counter-queries',
    type: 'integer',
    description: 'number of ?counter queries',
    initial: 0,
    status: 'nominal',
    now,
  });
  const foo = new Sensor({
    name: 'foo',
    type: 'discrete',
    description: 'nonsense',
    params: ['abc-def', 'ghi-k'],
    now,
  });
  const total = new Sensor({ name: 'total', type: 'integer', initial: 0, status: 'nominal', now });
  const updateTotal = () => {
    let sum = 0;
    for (const s of server.sensors.values())
      if (s !== total && s.type === 'integer') sum += s.value as number;
    total.set(sum);
  };
  counter.attach(updateTotal);
  server.addSensor(counter);
  server.addSensor(foo);
  server.addSensor(total);

  server.addRequest('echo', 'Return the arguments to the caller', (_ctx, ...args) => args);
  server.addRequest(
    'sleep',
    'Sleep for some amount of time',
    (ctx, time) => {
      const seconds = decodeFloat(time);
      const c: Clock = clock ?? { setTimeout, clearTimeout, now: () => performance.now() };
      // the timer goes when the client leaves or the server closes, so nothing stays scheduled
      const signal = ctx.signal;
      return new Promise<void>((resolve, reject) => {
        const timer = c.setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, seconds * 1000);
        const onAbort = () => {
          c.clearTimeout(timer);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
    { minArgs: 1, maxArgs: 1 },
  );
  server.addRequest(
    'fail',
    'Request that always returns a failure reply',
    (_ctx, arg) => {
      throw new FailReply(`${arg.toString('utf8')} is no good`);
    },
    { minArgs: 1, maxArgs: 1 },
  );
  server.addRequest(
    'crash',
    'Request that always raises an exception',
    () => {
      throw new Error("help I've fallen over and can't get up");
    },
    { maxArgs: 0 },
  );
  server.addRequest(
    'counter',
    'Increment counter-queries',
    () => {
      counter.set((counter.value as number) + 1);
    },
    { maxArgs: 0 },
  );

  let timer: unknown;
  let running = serviceTask;
  const fixed = new Sensor({
    name: 'fixed-value',
    type: 'integer',
    description: 'this one is fixed',
    initial: 7,
    status: 'nominal',
    now,
  });
  const tick = () => {
    if (!running || !clock) return;
    server.massInform('hello', 'Hi I am a service task');
    if (server.sensors.has('fixed-value')) server.removeSensor('fixed-value');
    else server.addSensor(fixed);
    updateTotal();
    timer = clock.setTimeout(tick, serviceIntervalMs);
  };
  if (running && clock) timer = clock.setTimeout(tick, serviceIntervalMs);

  return {
    server,
    counter,
    foo,
    total,
    close: async () => {
      running = false;
      if (clock && timer !== undefined) clock.clearTimeout(timer);
      await server.close();
    },
  };
}

/**
 * A raw KATCP peer for tests: a TCP socket that records every line the server sends, as text (escapes kept), and
 * waits for lines by event (never by time: a test that waits for a line that never comes hits vitest's timeout).
 */
export class RawClient {
  readonly socket: Socket;
  readonly lines: string[] = [];
  #partial = '';
  #waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop() ?? '';
      for (const p of parts) if (p.length) this.lines.push(p);
      this.#wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#wake();
        resolve();
      }),
    );
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = createConnection({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    openClients.add(client);
    return client;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves on the next line or close. */
  #next(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  send(line: string | Buffer): void {
    this.socket.write(typeof line === 'string' ? `${line}\n` : line);
  }

  /** The first line (from index `from`) that satisfies `pred`, waiting for it. */
  async waitFor(pred: (line: string) => boolean, from = 0): Promise<string> {
    for (;;) {
      const found = this.lines.slice(from).find(pred);
      if (found !== undefined) return found;
      if (this.socket.destroyed)
        throw new Error(`connection closed; lines so far:\n${this.lines.join('\n')}`);
      await this.#next();
    }
  }

  /** Wait until at least `n` lines arrived. */
  async waitForLines(n: number): Promise<void> {
    while (this.lines.length < n) {
      if (this.socket.destroyed) throw new Error(`closed after ${this.lines.length} lines`);
      await this.#next();
    }
  }

  /** Send `?name[mid] args` and resolve every line carrying `[mid]` up to and including the reply. */
  async request(name: string, mid: number, ...args: string[]): Promise<string[]> {
    const from = this.lines.length;
    this.send(`?${name}[${mid}]${args.map((a) => ` ${a}`).join('')}`);
    await this.waitFor((l) => l.startsWith(`!${name}[${mid}]`), from);
    return this.lines
      .slice(from)
      .filter((l) => l.startsWith(`#${name}[${mid}]`) || l.startsWith(`!${name}[${mid}]`));
  }

  async close(): Promise<void> {
    openClients.delete(this);
    this.socket.destroy();
    await this.closed;
  }
}

const openClients = new Set<RawClient>();

/** Destroy every RawClient still open (call in afterEach). */
export async function closeAllRawClients(): Promise<void> {
  await Promise.all([...openClients].map((c) => c.close()));
}
