/**
 * The sensor monitor behind sensor watchers (aiokatcp `AbstractSensorWatcher` and its private `_SensorMonitor`), on
 * top of an `InspectingClient`: `client.addSensorWatcher(watcher)`. The ready-made watcher that mirrors sensors,
 * `SensorWatcher`, is in `sensorWatcher.ts` (which also re-exports what is here).
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
import type { Logger } from '../../engine/logging.js';
import { InvalidArgumentError } from '../../errors.js';
import { FailReply, InvalidReply } from './errors.js';
import type { SensorStatus } from './wire.js';

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
