/**
 * Starts and stops the PyTango LRC fixture (`test/tango/fixtures/lrcDevice.py`) without a database, on 127.0.0.1
 * at a free port: `/usr/bin/python3 lrcDevice.py inst -nodb -dlist test/lrc/1 -ORBendPoint giop:tcp:127.0.0.1:PORT`.
 * `start()` resolves once the server printed "Ready to accept request"; `kill()` ends it abruptly (SIGKILL),
 * `restart()` starts it again on the same port, `stop()` ends it for good (idempotent).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSystem, type OrrerySystem } from '../../../../src/engine/system.js';
import type { DeviceProxyOptions } from '../../../../src/protocols/tango/deviceTypes.js';
import {
  TangoEventConsumer,
  type TangoEventConsumerOptions,
} from '../../../../src/protocols/tango/events.js';
import { NativeDevicePort } from '../../../../src/protocols/tango/nativePort.js';

export const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/lrcDevice.py');
export const PYTHON = '/usr/bin/python3';
const READY = 'Ready to accept request';

export interface LrcDeviceOptions {
  /** Device name (default `test/lrc/1`). */
  device?: string;
  /** Server instance (default `inst`): the admin device is `dserver/lrcdevice/<instance>`. */
  instance?: string;
  /** Environment of the fixture: LRC_PROTOCOL_VERSIONS, LRC_MAX_QUEUED, LRC_STEP_S, LRC_REMOVAL_S, LRC_STATE. */
  env?: Record<string, string>;
  /** How long start() waits for the server (default 20 s: a loaded CI machine). */
  startTimeoutMs?: number;
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export class LrcDeviceServer {
  readonly device: string;
  readonly instance: string;
  port = 0;
  #child: ChildProcess | null = null;
  #output = '';
  readonly #options: LrcDeviceOptions;

  constructor(options: LrcDeviceOptions = {}) {
    this.#options = options;
    this.device = options.device ?? 'test/lrc/1';
    this.instance = options.instance ?? 'inst';
  }

  /** `tango://127.0.0.1:PORT/<device>#dbase=no`. */
  get name(): string {
    return `tango://127.0.0.1:${this.port}/${this.device}#dbase=no`;
  }

  /** The admin device's name (`dserver/lrcdevice/<instance>`), no database. */
  get adminName(): string {
    return `tango://127.0.0.1:${this.port}/dserver/lrcdevice/${this.instance}#dbase=no`;
  }

  /** What the server printed (stdout and stderr), for failure messages. */
  get output(): string {
    return this.#output;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  static async start(options: LrcDeviceOptions = {}): Promise<LrcDeviceServer> {
    const server = new LrcDeviceServer(options);
    server.port = await freePort();
    await server.#launch();
    return server;
  }

  async #launch(): Promise<void> {
    const args = [FIXTURE, this.instance, '-nodb', '-dlist', this.device];
    args.push('-ORBendPoint', `giop:tcp:127.0.0.1:${this.port}`);
    const child = spawn(PYTHON, args, {
      env: { ...process.env, ...this.#options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#output = '';
    const timeoutMs = this.#options.startTimeoutMs ?? 20_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error(`lrcDevice.py did not start in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        this.#output += chunk.toString();
        if (this.#output.includes(READY)) done();
      };
      const onExit = (code: number | null) =>
        fail(new Error(`lrcDevice.py exited (${code}): ${this.#output}`));
      const cleanup = () => {
        clearTimeout(timer);
        child.off('exit', onExit);
      };
      const done = () => {
        cleanup();
        resolve();
      };
      const fail = (error: Error) => {
        cleanup();
        child.kill('SIGKILL');
        reject(error);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', onExit);
    });
  }

  /** Ends the server abruptly (SIGKILL) and waits for its exit. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Starts the server again on the same port (after kill()). */
  async restart(): Promise<void> {
    await this.kill();
    // the port may linger for a moment after the kill: try again a few times
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#launch();
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async stop(): Promise<void> {
    await this.kill();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** A fixture server with what a test follows it through: a system, an event consumer and a NativeDevicePort. */
export interface LrcFixture {
  server: LrcDeviceServer;
  system: OrrerySystem;
  consumer: TangoEventConsumer;
  device: NativeDevicePort;
  /** Closes the port and the consumer, stops the system, then the server. */
  close(): Promise<void>;
}

/** Starts the fixture server (`options`), then a system, a consumer (`consumerOptions`) and a port on it. */
export async function startLrcFixture(
  options: LrcDeviceOptions = {},
  consumerOptions: Omit<TangoEventConsumerOptions, 'system'> = {},
  portOptions: DeviceProxyOptions = {},
): Promise<LrcFixture> {
  const server = await LrcDeviceServer.start(options);
  const system = createSystem();
  const consumer = new TangoEventConsumer({ system, ...consumerOptions });
  const device = await NativeDevicePort.connect(server.name, { system, consumer, ...portOptions });
  const close = async () => {
    await device.close();
    await consumer.close();
    await system.stop();
    await server.stop();
  };
  return { server, system, consumer, device, close };
}
