/**
 * `SensorWatcher` (aiokatcp `SensorWatcher`): a sensor watcher that mirrors the device's sensors into `Sensor`
 * objects, on top of an `InspectingClient`: `client.addSensorWatcher(new SensorWatcher())`. The watcher interface
 * (`AbstractSensorWatcher`), the synchronisation states and the monitor that drives every watcher and keeps the
 * device's sampling as they want it are in `sensorMonitor.ts`, re-exported here.
 */
import type { SensorInfo } from '../../../machines/katcp/inspectingClient.js';
import { type Clock, realClock } from '../../engine/clock.js';
import type { Logger } from '../../engine/logging.js';
import { CancelledError, InvalidArgumentError, TimeoutError } from '../../errors.js';
import { checkWait } from './inspectingClientOptions.js';
import { Sensor } from './sensor.js';
import type { AbstractSensorWatcher, SyncState } from './sensorMonitor.js';
import { decodeSensorValue, SENSOR_TYPES, type SensorStatus, type SensorType } from './wire.js';

export {
  type AbstractSensorWatcher,
  SensorMonitor,
  type SensorMonitorHost,
  type SyncState,
} from './sensorMonitor.js';

export interface SensorWatcherOptions {
  /** Which sensors to mirror (default: all). */
  filter?: (info: SensorInfo) => boolean;
  /** Name(s) under which a device sensor is mirrored (aiokatcp `rewrite_name`; default: its own name). */
  rewriteName?: (name: string) => string | readonly string[];
  /** Wall clock in seconds for the `unreachable` readings on disconnection (default `Date.now() / 1000`). */
  now?: () => number;
  /** Clock for `untilSynced`'s timeout (default the real clock; pass `system.clock` under a TestClock). */
  clock?: Clock;
  logger?: Logger;
}

const closedError = () => new CancelledError('the sensor watcher is closed: its client was stopped');

/**
 * A watcher that mirrors the device's sensors into `sensors` (a Map of `Sensor`s, aiokatcp `SensorWatcher`):
 * added and removed with the device, readings decoded with the sensor's type, every sensor `unreachable` while
 * disconnected, and `synced` true while the monitor is synced. Sensors of a type this version does not know
 * are skipped (logged). Values that do not decode are logged and ignored.
 */
export class SensorWatcher implements AbstractSensorWatcher {
  readonly sensors = new Map<string, Sensor>();
  readonly #filter: ((info: SensorInfo) => boolean) | undefined;
  readonly #rewrite: ((name: string) => string | readonly string[]) | undefined;
  readonly #now: () => number;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  #state: SyncState = 'disconnected';
  /** The pending `untilSynced` calls: given null once synced, or the error that ends them. */
  readonly #waiters = new Set<(error: Error | null) => void>();

  constructor(options: SensorWatcherOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('SensorWatcher options must be an object');
    }
    for (const key of ['filter', 'rewriteName', 'now'] as const) {
      if (options[key] !== undefined && typeof options[key] !== 'function') {
        throw new InvalidArgumentError(`SensorWatcher ${key} must be a function`);
      }
    }
    this.#filter = options.filter;
    this.#rewrite = options.rewriteName;
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#clock = options.clock ?? realClock;
    this.#logger = options.logger;
  }

  /** The monitor's state as last told. */
  get state(): SyncState {
    return this.#state;
  }
  /** True while the state is `synced` (aiokatcp's `synced` event is set). */
  get synced(): boolean {
    return this.#state === 'synced';
  }

  /**
   * Resolves when the state is `synced` (at once if it is); TimeoutError / CancelledError otherwise, and
   * CancelledError once the state is `closed` (the client stopped: it can never be synced again).
   */
  untilSynced(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    let timeout: number | null;
    let signal: AbortSignal | undefined;
    try {
      // checked as the client's waits are: bad options reject (a null was a TypeError thrown at the caller)
      ({ timeout, signal } = checkWait(options));
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.synced) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(new CancelledError('untilSynced was cancelled'));
    if (this.#state === 'closed') return Promise.reject(closedError());
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      const done = () => {
        this.#waiters.delete(waiter);
        if (timer !== undefined) this.#clock.clearTimeout(timer as never);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter = (error: Error | null) => {
        done();
        if (error) reject(error);
        else resolve();
      };
      const onAbort = () => {
        done();
        reject(new CancelledError('untilSynced was cancelled'));
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== null && timeout !== Number.POSITIVE_INFINITY) {
        timer = this.#clock.setTimeout(() => {
          done();
          reject(new TimeoutError(`sensor watcher not synced within ${timeout} ms`));
        }, timeout);
      }
    });
  }

  filter(info: SensorInfo): boolean {
    return this.#filter ? this.#filter(info) : true;
  }

  sensorAdded(info: SensorInfo): void {
    if (!(SENSOR_TYPES as readonly string[]).includes(info.type)) {
      this.#logger?.warn(
        { sensor: info.name, type: info.type },
        'sensor type not recognised, sensor skipped',
      );
      return;
    }
    for (const name of this.#names(info.name)) {
      this.sensors.set(
        name,
        new Sensor({
          name,
          anyName: true, // the device's name (or the rewritten one), whatever it is
          type: info.type as SensorType,
          description: info.description,
          units: info.units,
          params: info.params,
          now: this.#now,
        }),
      );
    }
  }

  sensorRemoved(name: string): void {
    for (const n of this.#names(name)) this.sensors.delete(n);
  }

  sensorUpdated(name: string, value: Buffer, status: SensorStatus, timestamp: number): void {
    for (const n of this.#names(name)) {
      const sensor = this.sensors.get(n);
      if (!sensor) continue;
      let decoded: ReturnType<typeof decodeSensorValue>;
      try {
        decoded = decodeSensorValue(sensor.type, value, sensor.params);
      } catch (err) {
        this.#logger?.warn({ err, sensor: name }, 'sensor value does not match its type; ignored');
        continue;
      }
      sensor.setReading({ value: decoded, status, timestamp });
    }
  }

  stateUpdated(state: SyncState): void {
    this.#state = state;
    if (state === 'disconnected') {
      const now = this.#now();
      for (const s of this.sensors.values())
        s.setReading({ value: s.value, status: 'unreachable', timestamp: now });
    }
    if (state === 'synced') for (const w of [...this.#waiters]) w(null);
    else if (state === 'closed') for (const w of [...this.#waiters]) w(closedError());
  }

  #names(name: string): readonly string[] {
    if (!this.#rewrite) return [name];
    const r = this.#rewrite(name);
    return typeof r === 'string' ? [r] : r;
  }
}
