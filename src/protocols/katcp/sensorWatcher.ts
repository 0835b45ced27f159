/**
 * Sensor watchers (aiokatcp `AbstractSensorWatcher`, `SensorWatcher` and its private `_SensorMonitor`), on top of
 * an `InspectingClient`: `client.addSensorWatcher(watcher)`.
 *
 *   SyncState:  disconnected ──(connection up)──► syncing ──(model inspected + sampling set)──► synced
 *                    ▲                               ▲                                          │
 *                    └────────(connection lost)──────┴──(re-inspection, a watcher needs (un)subscribing)─┘
 *               any ──(client stopped)──► closed
 *
 * The monitor keeps one entry per sensor of the device (name, description, units, type, params), the watchers
 * that want it (`filter`), whether the device samples it for this client (`no | yes | unknown`) and its last raw
 * reading. It never lists sensors itself: it is fed the InspectingClient's model after every inspection (S2/S3,
 * incremental re-inspections included), so there is one `?sensor-list` loop, the client's.
 *
 * Subscription rule (aiokatcp): a sensor is sampled `auto` iff some watcher wants it, `none` otherwise, with the
 * bulk form `?sensor-sampling a,b,c auto` when the server has flag `B` (one at a time if that fails). A sensor for
 * which the user set a strategy (`client.setSamplingStrategy`) is left alone: the user's strategy wins and is
 * re-applied by the client after every reconnect. A replaced sensor (same name, other description, units, type
 * or params) is reported as removed then added, and re-subscribed even if it was subscribed (a concurrent
 * `?sensor-sampling` may have reached the old one). A sensor gone from the model is removed. After a reconnect
 * every sensor counts as unsubscribed (the server forgets sampling with the connection) and is re-subscribed.
 * A `#sensor-status` for a sensor believed unsubscribed marks it subscribed. New watchers are replayed the
 * current state, sensors and last readings.
 *
 * Differences from aiokatcp, on purpose: a replaced sensor is `sensorRemoved` then `sensorAdded` (aiokatcp calls
 * only `sensor_added` unless the filter rejects the new version), so a watcher never has to compare versions;
 * `filter` and `sensorAdded` get one `SensorInfo` object instead of positional arguments; the user's own
 * sampling strategies take precedence over the watchers' `auto`/`none`; a watcher's exception is logged and the
 * other watchers still run.
 */
import type { SensorInfo } from '../../../machines/katcp/inspectingClient.js';
import { type Clock, realClock } from '../../engine/clock.js';
import type { Logger } from '../../engine/logging.js';
import { CancelledError, InvalidArgumentError, TimeoutError } from '../../errors.js';
import { FailReply, InvalidReply } from './errors.js';
import { Sensor } from './sensor.js';
import { decodeSensorValue, SENSOR_TYPES, type SensorStatus, type SensorType } from './wire.js';

/** The synchronisation state of the sensor monitor (aiokatcp `SyncState`). */
export type SyncState = 'disconnected' | 'syncing' | 'synced' | 'closed';

/**
 * What a sensor watcher may implement (every method is optional; aiokatcp `AbstractSensorWatcher`). Calls to
 * `sensorAdded`, `sensorRemoved` and `sensorUpdated` are always between `batchStart` and `batchStop`;
 * `stateUpdated` is not. The initial state is `disconnected`.
 */
export interface AbstractSensorWatcher {
  /** Whether this watcher wants the sensor (default: every sensor). Rejected sensors get no other call. */
  filter?(info: SensorInfo): boolean;
  /** A sensor appeared on the device (or was replaced: then `sensorRemoved` came first). */
  sensorAdded?(info: SensorInfo): void;
  /** A sensor disappeared from the device (or is being replaced). */
  sensorRemoved?(name: string): void;
  /** A new reading: the value as sent (undecoded bytes), its status and timestamp (seconds). */
  sensorUpdated?(name: string, value: Buffer, status: SensorStatus, timestamp: number): void;
  batchStart?(): void;
  batchStop?(): void;
  stateUpdated?(state: SyncState): void;
}

/** What the monitor needs from its InspectingClient. */
export interface SensorMonitorHost {
  /** The server's protocol flags ('' while not connected). */
  readonly flags: string;
  /** `?sensor-sampling <names> <strategy>`: resolves on `ok`, rejects with FailReply, InvalidReply or a transport error. */
  sample(names: string, strategy: 'auto' | 'none'): Promise<void>;
  /** Whether the user set a sampling strategy of their own for this sensor (the monitor leaves it alone then). */
  hasUserStrategy(name: string): boolean;
  readonly logger: Logger;
}

type Subscribed = 'no' | 'yes' | 'unknown';

interface RawReading {
  value: Buffer;
  status: SensorStatus;
  timestamp: number;
}

interface Monitored {
  info: SensorInfo;
  watchers: Set<AbstractSensorWatcher>;
  subscribed: Subscribed;
  reading: RawReading | null;
}

function sameInfo(a: SensorInfo, b: SensorInfo): boolean {
  return (
    a.name === b.name &&
    a.description === b.description &&
    a.units === b.units &&
    a.type === b.type &&
    a.params.length === b.params.length &&
    a.params.every((p, i) => p === b.params[i])
  );
}

/**
 * The one monitor of an InspectingClient (aiokatcp `_SensorMonitor`): distributes the client's sensor model,
 * readings and state to the watchers and keeps the device's sampling as the watchers want it. Internal: users
 * call `client.addSensorWatcher` / `removeSensorWatcher`.
 */
export class SensorMonitor {
  readonly #host: SensorMonitorHost;
  #state: SyncState = 'disconnected';
  readonly #sensors = new Map<string, Monitored>();
  readonly #watchers = new Set<AbstractSensorWatcher>();
  readonly #needSubscribe = new Set<Monitored>();
  /** True between a data-synced model and the next disconnection. */
  #live = false;
  #running = false;
  #inBatch = false;
  /** Bumped on every disconnection: a sampling pass of an older connection stops. */
  #generation = 0;

  constructor(host: SensorMonitorHost) {
    this.#host = host;
  }

  get state(): SyncState {
    return this.#state;
  }
  get watcherCount(): number {
    return this.#watchers.size;
  }
  /** Names of the sensors the monitor knows, sorted. */
  get sensorNames(): string[] {
    return [...this.#sensors.keys()].sort();
  }
  /** Whether the device is believed to sample `name` for this client (`yes`, `no` or `unknown`). */
  subscription(name: string): Subscribed | undefined {
    return this.#sensors.get(name)?.subscribed;
  }

  addWatcher(watcher: AbstractSensorWatcher): void {
    if (this.#state === 'closed')
      throw new InvalidArgumentError('the client was stopped: no watcher can be added');
    if (this.#watchers.has(watcher)) return;
    this.#watchers.add(watcher);
    if (this.#state !== 'disconnected')
      this.#call(watcher, 'stateUpdated', () => watcher.stateUpdated?.(this.#state));
    this.#batch([watcher], () => {
      for (const s of this.#sensors.values()) {
        if (!this.#wants(watcher, s.info)) continue;
        this.#call(watcher, 'sensorAdded', () => watcher.sensorAdded?.(s.info));
        s.watchers.add(watcher);
        this.#updateSensorState(s);
        const r = s.reading;
        if (r)
          this.#call(watcher, 'sensorUpdated', () =>
            watcher.sensorUpdated?.(s.info.name, r.value, r.status, r.timestamp),
          );
      }
    });
  }

  removeWatcher(watcher: AbstractSensorWatcher): boolean {
    if (!this.#watchers.delete(watcher)) return false;
    for (const s of this.#sensors.values()) {
      if (s.watchers.delete(watcher)) this.#updateSensorState(s);
    }
    return true;
  }

  /** The connection went down (S0): every sensor counts as unsubscribed from now on. */
  disconnected(): void {
    if (this.#state === 'closed') return;
    this.#live = false;
    this.#generation++;
    this.#needSubscribe.clear();
    for (const s of this.#sensors.values()) {
      s.subscribed = 'no';
      s.reading = null;
    }
    this.#setState('disconnected');
  }

  /** The connection is up and the client inspects (S1). */
  syncing(): void {
    if (this.#state === 'closed') return;
    this.#setState('syncing');
  }

  /**
   * The client's model is data-synced (S2, S3, or S4 without an inspection): diff it against the monitor's
   * sensors (added, removed, replaced), then bring the sampling in line and report `synced`.
   */
  modelSynced(model: Iterable<SensorInfo>): void {
    if (this.#state === 'closed') return;
    this.#live = true;
    const seen = new Set<string>();
    this.#batch([...this.#watchers], () => {
      for (const info of model) {
        seen.add(info.name);
        const old = this.#sensors.get(info.name);
        if (old && sameInfo(old.info, info)) continue;
        if (old) {
          for (const w of old.watchers) this.#call(w, 'sensorRemoved', () => w.sensorRemoved?.(info.name));
          this.#needSubscribe.delete(old);
        }
        const s: Monitored = { info, watchers: new Set(), subscribed: old ? 'unknown' : 'no', reading: null };
        for (const w of this.#watchers) {
          if (!this.#wants(w, info)) continue;
          this.#call(w, 'sensorAdded', () => w.sensorAdded?.(info));
          s.watchers.add(w);
        }
        this.#sensors.set(info.name, s);
        this.#updateSensorState(s);
      }
      for (const [name, s] of [...this.#sensors]) {
        if (seen.has(name)) continue;
        for (const w of s.watchers) this.#call(w, 'sensorRemoved', () => w.sensorRemoved?.(name));
        this.#needSubscribe.delete(s);
        this.#sensors.delete(name);
      }
    });
    // after a reconnect every sensor counts as unsubscribed: bring them all in line
    for (const s of this.#sensors.values()) this.#updateSensorState(s);
    this.#trigger(true);
  }

  /** Start a batch of readings (one `#sensor-status` inform). */
  batchStart(): void {
    if (this.#inBatch) return;
    this.#inBatch = true;
    for (const w of this.#watchers) this.#call(w, 'batchStart', () => w.batchStart?.());
  }
  batchStop(): void {
    if (!this.#inBatch) return;
    this.#inBatch = false;
    for (const w of this.#watchers) this.#call(w, 'batchStop', () => w.batchStop?.());
  }

  /** One reading of `#sensor-status` (call between batchStart and batchStop). */
  sensorUpdated(name: string, value: Buffer, status: SensorStatus, timestamp: number): void {
    const s = this.#sensors.get(name);
    if (!s) return;
    s.reading = { value, status, timestamp };
    if (s.subscribed !== 'yes') {
      // a value came, so the device samples it, whatever we thought
      s.subscribed = 'yes';
      this.#updateSensorState(s);
    }
    for (const w of s.watchers)
      this.#call(w, 'sensorUpdated', () => w.sensorUpdated?.(name, value, status, timestamp));
  }

  /** The client stopped: state `closed`, nothing more is sent. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#live = false;
    this.#generation++;
    this.#needSubscribe.clear();
    this.#setState('closed');
    this.#sensors.clear();
  }

  #wants(watcher: AbstractSensorWatcher, info: SensorInfo): boolean {
    if (!watcher.filter) return true;
    try {
      return watcher.filter(info) === true;
    } catch (err) {
      this.#host.logger.warn({ err, sensor: info.name }, 'sensor watcher filter threw; sensor skipped');
      return false;
    }
  }

  #call(watcher: AbstractSensorWatcher, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#host.logger.warn({ err, watcher: watcher.constructor?.name }, `sensor watcher ${what} threw`);
    }
  }

  #batch(watchers: AbstractSensorWatcher[], body: () => void): void {
    for (const w of watchers) this.#call(w, 'batchStart', () => w.batchStart?.());
    try {
      body();
    } finally {
      for (const w of watchers) this.#call(w, 'batchStop', () => w.batchStop?.());
    }
  }

  #setState(state: SyncState): void {
    if (state === this.#state) return;
    this.#state = state;
    for (const w of [...this.#watchers]) this.#call(w, 'stateUpdated', () => w.stateUpdated?.(state));
  }

  /** Keep `#needSubscribe` consistent with `s` (aiokatcp `_update_sensor_state`), and start a pass if needed. */
  #updateSensorState(s: Monitored): void {
    let need: boolean;
    if (this.#host.hasUserStrategy(s.info.name)) need = false;
    else if (s.subscribed === 'yes') need = s.watchers.size === 0;
    else if (s.subscribed === 'no') {
      need = s.watchers.size > 0;
      s.reading = null;
    } else {
      need = true;
      s.reading = null;
    }
    if (need) {
      this.#needSubscribe.add(s);
      this.#trigger(false);
    } else this.#needSubscribe.delete(s);
  }

  /** Start a sampling pass: always after a model sync (`force`), else only when synced (a pass is not running). */
  #trigger(force: boolean): void {
    if (!this.#live || this.#state === 'closed') return;
    if (!force && this.#state !== 'synced') return;
    this.#setState('syncing');
    if (this.#running) return;
    this.#running = true;
    void this.#pass(this.#generation).finally(() => {
      this.#running = false;
    });
  }

  async #pass(generation: number): Promise<void> {
    // let the current batch of model changes finish before sending anything
    await Promise.resolve();
    try {
      while (this.#needSubscribe.size > 0 && generation === this.#generation) {
        const add: Monitored[] = [];
        const remove: Monitored[] = [];
        for (const s of this.#needSubscribe) (s.watchers.size > 0 ? add : remove).push(s);
        const byName = (a: Monitored, b: Monitored) => (a.info.name < b.info.name ? -1 : 1);
        if (add.length) await this.#setSampling(add.sort(byName), 'auto', generation);
        if (remove.length && generation === this.#generation) {
          await this.#setSampling(remove.sort(byName), 'none', generation);
        }
      }
    } catch (err) {
      // the connection went away (or a request timed out): the next model sync starts over
      this.#host.logger.warn({ err }, 'sensor sampling update stopped');
      return;
    }
    if (generation === this.#generation && this.#live && this.#state === 'syncing') this.#setState('synced');
  }

  async #setSampling(sensors: Monitored[], strategy: 'auto' | 'none', generation: number): Promise<void> {
    const state: Subscribed = strategy === 'none' ? 'no' : 'yes';
    const settle = (s: Monitored) => {
      if (generation !== this.#generation || this.#sensors.get(s.info.name) !== s) return;
      s.subscribed = state;
      this.#updateSensorState(s);
    };
    if (sensors.length > 1 && this.#host.flags.includes('B')) {
      try {
        await this.#host.sample(sensors.map((s) => s.info.name).join(','), strategy);
        for (const s of sensors) settle(s);
        return;
      } catch (err) {
        if (!(err instanceof FailReply || err instanceof InvalidReply)) throw err;
        this.#host.logger.debug({ err }, 'bulk sensor sampling failed, one at a time');
      }
    }
    const results = await Promise.allSettled(sensors.map((s) => this.#host.sample(s.info.name, strategy)));
    let fatal: unknown;
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        if (r.reason instanceof FailReply || r.reason instanceof InvalidReply) {
          this.#host.logger.warn(
            { err: r.reason, sensor: sensors[i].info.name },
            `failed to set sampling strategy ${strategy}`,
          );
        } else {
          fatal ??= r.reason;
          return;
        }
      }
      settle(sensors[i]);
    });
    if (fatal !== undefined) throw fatal;
  }
}

// ---------------------------------------------------------------------------------------------------------------

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
  readonly #waiters = new Set<() => void>();

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

  /** Resolves when the state is `synced` (at once if it is); TimeoutError / CancelledError otherwise. */
  untilSynced(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (this.synced) return Promise.resolve();
    const { timeout, signal } = options;
    if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0)) {
      throw new InvalidArgumentError(`timeout must be a number >= 0 (ms), got ${String(timeout)}`);
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError('signal must be an AbortSignal');
    }
    if (signal?.aborted) return Promise.reject(new CancelledError('untilSynced was cancelled'));
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      const done = () => {
        this.#waiters.delete(waiter);
        if (timer !== undefined) this.#clock.clearTimeout(timer as never);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter = () => {
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(new CancelledError('untilSynced was cancelled'));
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== undefined && timeout !== Number.POSITIVE_INFINITY) {
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
    if (state === 'synced') for (const w of [...this.#waiters]) w();
  }

  #names(name: string): readonly string[] {
    if (!this.#rewrite) return [name];
    const r = this.#rewrite(name);
    return typeof r === 'string' ? [r] : r;
  }
}
