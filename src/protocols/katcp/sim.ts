/**
 * The KATCP simulator: a DeviceServer with sensors that change on their own, for `orrery katcp-sim`, the
 * `npm start` demo and tests. Every `updateIntervalMs` (default 100 ms) on the injected clock:
 *
 *   temperature  float      degC  a random walk around 20 (warn above 30, error above 40)
 *   counter      integer          +1 each update (and `?bump`)
 *   mode         discrete         idle -> slewing -> tracking -> idle, one step every 20 updates
 *   ok           boolean          false while the temperature is not nominal
 *   when         timestamp  s     the time of the update
 *
 * Requests besides the standard ones: `?bump` (counter + 1, replies the new value), `?echo args...`,
 * `?add a b` (replies the sum), `?sleep s` (replies after s seconds of the clock).
 *
 * The updater starts with `listen()` and stops with `close()` (or `?halt`), so nothing is left scheduled.
 * A `random` that throws, or gives something not a number in [0, 1] (NaN included), is a step of 0, as the
 * connection's backoff counts a bad jitter draw (`drawUnit`): nothing escapes the updater's timer into the process.
 */
import type { Clock } from '../../engine/clock.js';
import { realClock } from '../../engine/clock.js';
import { InvalidArgumentError } from '../../errors.js';
import { FailReply } from './errors.js';
import { Sensor } from './sensor.js';
import { DeviceServer, type DeviceServerOptions } from './server.js';
import { decodeFloat } from './wire.js';

export interface KatcpSimulatorOptions extends DeviceServerOptions {
  /** Time between sensor updates, ms of the clock (default 100). */
  updateIntervalMs?: number;
  /** Random source in [0, 1) for the temperature walk (default Math.random); a bad draw or a throw is no step. */
  random?: () => number;
}

const MODES = ['idle', 'slewing', 'tracking'] as const;

/** One step of the temperature walk in [-0.5, 0.5]: 0 when `random` throws or leaves [0, 1] (NaN, a non-number). */
function walkStep(random: () => number): number {
  let u: unknown;
  try {
    u = random();
  } catch {
    return 0;
  }
  return typeof u === 'number' && u >= 0 && u <= 1 ? u - 0.5 : 0;
}

/** A DeviceServer whose sensors change on the clock; `close()` also stops the updater. */
export class KatcpSimulator extends DeviceServer {
  readonly temperature: Sensor;
  readonly counter: Sensor;
  readonly mode: Sensor;
  readonly ok: Sensor;
  readonly when: Sensor;
  readonly #clock: Clock;
  readonly #interval: number;
  readonly #random: () => number;
  readonly #now: () => number;
  #timer: unknown = undefined;
  #running = false;
  #ticks = 0;

  constructor(options: KatcpSimulatorOptions = {}) {
    const { updateIntervalMs = 100, random = Math.random, ...serverOptions } = options;
    if (!(Number.isFinite(updateIntervalMs) && updateIntervalMs > 0)) {
      throw new InvalidArgumentError(
        `updateIntervalMs must be a number of milliseconds > 0, got ${String(updateIntervalMs)}`,
      );
    }
    if (typeof random !== 'function') throw new InvalidArgumentError('random must be a function');
    super({ deviceApi: ['orrery-katcp-sim-1.0', 'orrery-katcp-sim-1.0.0'], ...serverOptions });
    this.#clock = serverOptions.clock ?? realClock;
    this.#interval = updateIntervalMs;
    this.#random = random;
    const now = serverOptions.now ?? (() => Date.now() / 1000);
    this.#now = now;
    this.temperature = new Sensor({
      name: 'temperature',
      type: 'float',
      description: 'Simulated temperature (a random walk)',
      units: 'degC',
      initial: 20,
      status: 'nominal',
      now,
    });
    this.counter = new Sensor({
      name: 'counter',
      type: 'integer',
      description: 'Updates since start, plus ?bump',
      initial: 0,
      status: 'nominal',
      now,
    });
    this.mode = new Sensor({
      name: 'mode',
      type: 'discrete',
      description: 'Simulated operating mode',
      params: MODES,
      initial: 'idle',
      status: 'nominal',
      now,
    });
    this.ok = new Sensor({
      name: 'ok',
      type: 'boolean',
      description: 'True while the temperature is nominal',
      initial: true,
      status: 'nominal',
      now,
    });
    this.when = new Sensor({
      name: 'when',
      type: 'timestamp',
      description: 'Time of the last update',
      units: 's',
      initial: now(),
      status: 'nominal',
      now,
    });
    for (const s of [this.temperature, this.counter, this.mode, this.ok, this.when]) this.addSensor(s);

    this.addRequest(
      'bump',
      'Add one to the counter sensor and reply its new value',
      () => {
        this.counter.set((this.counter.value as number) + 1);
        return [this.counter.value as number];
      },
      { maxArgs: 0 },
    );
    this.addRequest('echo', 'Return the arguments to the caller', (_ctx, ...args) => args);
    this.addRequest(
      'add',
      'Add two numbers: ?add a b replies a+b',
      (_ctx, a, b) => {
        let x: number;
        let y: number;
        try {
          x = decodeFloat(a);
          y = decodeFloat(b);
        } catch (err) {
          throw new FailReply((err as Error).message);
        }
        return [x + y];
      },
      { minArgs: 2, maxArgs: 2 },
    );
    this.addRequest(
      'sleep',
      'Reply after the given number of seconds',
      (ctx, seconds) => {
        let s: number;
        try {
          s = decodeFloat(seconds);
        } catch (err) {
          throw new FailReply((err as Error).message);
        }
        if (!(Number.isFinite(s) && s >= 0)) throw new FailReply(`seconds must be >= 0, got ${seconds}`);
        // the timer goes when the client leaves or the server closes (ctx.signal), so nothing stays scheduled
        const signal = ctx.signal;
        return new Promise<void>((resolve, reject) => {
          const timer = this.#clock.setTimeout(() => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          }, s * 1000);
          const onAbort = () => {
            this.#clock.clearTimeout(timer);
            reject(signal.reason);
          };
          signal.addEventListener('abort', onAbort, { once: true });
        });
      },
      { minArgs: 1, maxArgs: 1, timeoutHint: 60 },
    );
  }

  /** Listen and start changing the sensors. */
  override async listen(): Promise<{ host: string; port: number }> {
    const address = await super.listen();
    this.#running = true;
    this.#schedule();
    return address;
  }

  /** Stop the updater and close the server. */
  override close(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    return super.close();
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#running) return;
      this.update();
      this.#schedule();
    }, this.#interval);
  }

  /** One update of every sensor (the updater calls it; tests may too). */
  update(): void {
    this.#ticks++;
    const t = (this.temperature.value as number) + walkStep(this.#random);
    const temp = Math.round(t * 1000) / 1000;
    const status = temp > 40 ? 'error' : temp > 30 ? 'warn' : 'nominal';
    this.temperature.set(temp, status);
    this.ok.set(status === 'nominal');
    this.counter.set((this.counter.value as number) + 1);
    if (this.#ticks % 20 === 0) {
      const i = MODES.indexOf(this.mode.value as (typeof MODES)[number]);
      this.mode.set(MODES[(i + 1) % MODES.length]);
    }
    this.when.set(this.#now());
  }
}

/**
 * A KATCP simulator (not yet listening: call `listen()`), e.g.
 * `const sim = createKatcpSimulator({ port: 0 }); const { port } = await sim.listen(); ... await sim.close();`
 */
export function createKatcpSimulator(options: KatcpSimulatorOptions = {}): KatcpSimulator {
  return new KatcpSimulator(options);
}
