/**
 * The Channel Access simulator: a CaServer with a random-walk PV like caproto's `random_walk` example, for
 * `orrery ca-sim`, the `npm start` demo and tests. Every `updateIntervalMs` (default 100 ms) on the injected clock:
 *
 *   <prefix>x          DOUBLE   mm     a random walk (steps of at most <prefix>step); alarms past +-80 / +-90
 *   <prefix>counter    LONG            +1 each update
 *   <prefix>waveform   DOUBLE[128]     a sine whose phase moves each update
 *
 * and, changed only by clients (or code):
 *
 *   <prefix>step       DOUBLE   mm     largest walk step (default 1; a put of NaN, Inf or < 0 fails with ECA_PUTFAIL)
 *   <prefix>interval   DOUBLE   ms     time between updates (a put of <= 0 fails with ECA_PUTFAIL)
 *   <prefix>setpoint   DOUBLE   mm     a put completes after `putDelayMs` (default 1000), then readback follows
 *   <prefix>readback   DOUBLE   mm     read-only
 *   <prefix>mode       ENUM            idle | moving | fault (moving while any setpoint put is in progress)
 *   <prefix>message    STRING          any text up to 39 bytes
 *   <prefix>name       CHAR[64]        'orrery ca-sim' as a char array
 *   <prefix>serial     STRING          read-only
 *
 * The updater starts with `start()` and stops with `close()`, which also drops pending put delays: nothing is
 * left scheduled.
 */
import { type Clock, checkClock, realClock } from '../../engine/clock.js';
import { CancelledError, InvalidArgumentError } from '../../errors.js';
import { checkPvName } from './commands.js';
import { AlarmSeverity } from './constants.js';
import type { CaArray } from './dbr.js';
import { CaValueError } from './errors.js';
import { CaServer, type CaServerOptions, type PvDefinition, type ServerPv } from './server.js';

export interface CaSimulatorOptions extends CaServerOptions {
  /** PV name prefix (default `sim:`). */
  prefix?: string;
  /** Time between updates, ms of the clock (default 100). */
  updateIntervalMs?: number;
  /** How long a put to <prefix>setpoint takes to complete, ms of the clock (default 1000). */
  putDelayMs?: number;
  /** Random source in [0, 1) for the walk (default Math.random). */
  random?: () => number;
}

const WAVE_LENGTH = 128;
/** HIGH/LOW, HIHI/LOLO alarm status codes (alarm.h). */
const STATUS = { HIHI: 3, HIGH: 4, LOLO: 5, LOW: 6 };

function positiveMs(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(`${name} must be a number of milliseconds > 0, got ${String(value)}`);
  }
  return value;
}

/**
 * Throws InvalidArgumentError, naming `option`, for a prefix that is no string or makes one of the simulator's PV
 * names one no client can search for: each name goes through the client's own rule (`checkPvName`: no NUL,
 * latin-1, at most 500 bytes), so `start` never serves a PV nobody can find.
 */
export function checkPrefix(prefix: unknown, option = 'prefix'): asserts prefix is string {
  if (typeof prefix !== 'string') throw new InvalidArgumentError(`${option} must be a string`);
  for (const { name } of simulatorPvs(prefix, 1, () => {})) {
    try {
      checkPvName(name);
    } catch (err) {
      if (!(err instanceof CaValueError)) throw err;
      throw new InvalidArgumentError(`${option}: ${err.message}`);
    }
  }
}

export class CaSimulator {
  readonly server: CaServer;
  readonly prefix: string;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #putDelayMs: number;
  #intervalMs: number;
  #timer: unknown = undefined;
  /** Pending setpoint puts: their timer and how to fail them when the simulator closes. */
  readonly #putTimers = new Map<unknown, (err: Error) => void>();
  #ticks = 0;
  #closed = false;
  readonly #x: ServerPv;
  readonly #counter: ServerPv;
  readonly #waveform: ServerPv;

  private constructor(server: CaServer, prefix: string, clock: Clock, options: CaSimulatorOptions) {
    this.server = server;
    this.prefix = prefix;
    this.#clock = clock;
    this.#random = options.random ?? Math.random;
    this.#putDelayMs = options.putDelayMs ?? 1000;
    this.#intervalMs = options.updateIntervalMs ?? 100;
    this.#x = server.pv(`${prefix}x`)!;
    this.#counter = server.pv(`${prefix}counter`)!;
    this.#waveform = server.pv(`${prefix}waveform`)!;
  }

  /** Starts the server and the updater. */
  static async start(options: CaSimulatorOptions = {}): Promise<CaSimulator> {
    const { prefix = 'sim:', updateIntervalMs = 100, putDelayMs = 1000, random = Math.random } = options;
    checkPrefix(prefix);
    positiveMs('updateIntervalMs', updateIntervalMs);
    if (!(Number.isFinite(putDelayMs) && putDelayMs >= 0)) {
      throw new InvalidArgumentError(
        `putDelayMs must be a number of milliseconds >= 0, got ${String(putDelayMs)}`,
      );
    }
    if (typeof random !== 'function') throw new InvalidArgumentError('random must be a function');
    const clock = checkClock(options.clock) ?? realClock;
    let sim: CaSimulator | undefined;
    const server = await CaServer.start({
      ...options,
      pvs: [
        ...simulatorPvs(prefix, updateIntervalMs, (pv, data) => sim!.onPut(pv, data)),
        ...(options.pvs ?? []),
      ],
    });
    sim = new CaSimulator(server, prefix, clock, options);
    sim.#schedule();
    return sim;
  }

  get port(): number {
    return this.server.port;
  }

  /** Updates so far. */
  get ticks(): number {
    return this.#ticks;
  }

  /** Time between updates now (ms). */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(this.#tick, this.#intervalMs);
  }

  readonly #tick = (): void => {
    if (this.#closed) return;
    this.#ticks++;
    const step = Number(this.server.pv(`${this.prefix}step`)?.data[0] ?? 1);
    const x = Number(this.#x.data[0]) + (this.#random() * 2 - 1) * step;
    const magnitude = Math.abs(x);
    const [status, severity] =
      magnitude > 90
        ? [x > 0 ? STATUS.HIHI : STATUS.LOLO, AlarmSeverity.MAJOR_ALARM]
        : magnitude > 80
          ? [x > 0 ? STATUS.HIGH : STATUS.LOW, AlarmSeverity.MINOR_ALARM]
          : [0, AlarmSeverity.NO_ALARM];
    this.#x.write(x, { status, severity });
    this.#counter.write(this.#ticks);
    const wave = new Float64Array(WAVE_LENGTH);
    for (let i = 0; i < WAVE_LENGTH; i++) wave[i] = Math.sin((2 * Math.PI * (i + this.#ticks)) / WAVE_LENGTH);
    this.#waveform.write(wave);
    this.#schedule();
  };

  /** Puts with side effects (interval, setpoint); others store as they are. */
  onPut(pv: ServerPv, data: CaArray): void | Promise<void> {
    const p = this.prefix;
    if (pv.name === `${p}step`) {
      // a NaN or infinite step made x NaN for good (every later step added to NaN); a negative one is a step
      const step = Number(data[0]);
      if (!(Number.isFinite(step) && step >= 0)) throw new InvalidArgumentError('step must be a number >= 0');
      return;
    }
    if (pv.name === `${p}interval`) {
      const ms = Number(data[0]);
      if (!(Number.isFinite(ms) && ms > 0)) throw new InvalidArgumentError('interval must be > 0 ms');
      this.#intervalMs = ms;
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
      this.#schedule();
      return;
    }
    if (pv.name === `${p}setpoint`) {
      const mode = this.server.pv(`${p}mode`);
      mode?.write('moving');
      return new Promise<void>((resolve, reject) => {
        const timer = this.#clock.setTimeout(() => {
          this.#putTimers.delete(timer);
          this.server.pv(`${p}readback`)?.write(data);
          // idle once no setpoint put is in progress (an earlier one completing while a later one moves does not
          // end the move)
          if (this.#putTimers.size === 0) mode?.write('idle');
          resolve();
        }, this.#putDelayMs);
        this.#putTimers.set(timer, reject);
      });
    }
  }

  /** Stops the updater, fails pending setpoint puts (`CancelledError`), closes the server. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [t, reject] of this.#putTimers) {
      this.#clock.clearTimeout(t);
      reject(new CancelledError(`${this.prefix}setpoint put cancelled: the simulator closed`));
    }
    this.#putTimers.clear();
    await this.server.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function simulatorPvs(
  p: string,
  intervalMs: number,
  onPut: (pv: ServerPv, data: CaArray) => void | Promise<void>,
): PvDefinition[] {
  const mm = { units: 'mm', precision: 3 };
  const put = (_data: CaArray, pv: ServerPv) => onPut(pv, _data);
  return [
    {
      name: `${p}x`,
      type: 'double',
      value: 0,
      ...mm,
      limits: {
        lowerDisp: -100,
        upperDisp: 100,
        lowerAlarm: -90,
        lowerWarning: -80,
        upperWarning: 80,
        upperAlarm: 90,
        lowerCtrl: -100,
        upperCtrl: 100,
      },
    },
    { name: `${p}counter`, type: 'long', value: 0 },
    { name: `${p}waveform`, type: 'double', value: new Float64Array(WAVE_LENGTH), precision: 3 },
    {
      name: `${p}step`,
      type: 'double',
      value: 1,
      ...mm,
      limits: { lowerCtrl: 0, upperCtrl: 10 },
      onPut: put,
    },
    { name: `${p}interval`, type: 'double', value: intervalMs, units: 'ms', precision: 0, onPut: put },
    { name: `${p}setpoint`, type: 'double', value: 0, ...mm, onPut: put },
    { name: `${p}readback`, type: 'double', value: 0, ...mm, access: 'read-only' },
    { name: `${p}mode`, type: 'enum', value: 'idle', enumStrings: ['idle', 'moving', 'fault'] },
    { name: `${p}message`, type: 'string', value: 'hello from orrery' },
    { name: `${p}name`, type: 'char', value: 'orrery ca-sim', maxCount: 64 },
    { name: `${p}serial`, type: 'string', value: 'ORR-0001', access: 'read-only' },
  ];
}
