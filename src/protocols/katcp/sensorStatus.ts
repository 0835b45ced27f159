/**
 * The hot path of an `InspectingClient`: `#sensor-status` (and `#sensor-value`) informs update the `Sensor`
 * objects and the sensor monitor directly, never through the machine. A reading of a sensor the model does not
 * have starts an on-demand lookup of that name (at most one per name until the model next changes, at most
 * `MAX_PENDING_LOOKUPS` at a time; the latest reading is held and applied if the lookup finds the sensor), so a
 * hostile server cannot flood the client with lookups. Readings are also folded into the machine's context for
 * the inspector (`SENSOR.READINGS`), at most once per `READINGS_INTERVAL`.
 */
import type { InspectionScope } from '../../../machines/katcp/inspectingClient.js';
import type { Clock } from '../../engine/clock.js';
import type { Logger } from '../../engine/logging.js';
import type { KatcpMessage } from './codec.js';
import { messageText } from './codec.js';
import type { ModelObjects } from './modelObjects.js';
import type { Sensor } from './sensor.js';
import type { SensorMonitor } from './sensorMonitor.js';
import { decodeInt, decodeStatus, decodeTimestamp } from './wire.js';

/** At most this many on-demand lookups of unknown sensors in `#sensor-status` run at a time. */
export const MAX_PENDING_LOOKUPS = 16;
/** Names found unknown by a lookup are not looked up again until the model changes (at most this many kept). */
const MAX_UNKNOWN_NAMES = 1024;
/** The inspector's sensor readings are folded into the machine at most this often (ms). */
const READINGS_INTERVAL = 1000;

/** What the dispatch needs from its client. */
export interface SensorStatusHost {
  /** Whether the client runs (not new, stopping or stopped). */
  running(): boolean;
  /** Whether the client's data is synced (S2, S3 or S4). */
  dataSynced(): boolean;
  /** The sensor watchers' monitor, if any watcher was added. */
  readonly monitor: SensorMonitor | null;
  readonly objects: ModelObjects;
  /** A single-name lookup (MODEL.UPDATE on the machine). */
  lookup(scope: InspectionScope): Promise<void>;
  /** Send an event to the machine. */
  send(event: { type: string; [k: string]: unknown }): void;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The `#sensor-status` dispatch of one client, its unknown-sensor lookups and the readings batch. */
export class SensorStatusDispatch {
  readonly #host: SensorStatusHost;
  readonly #lookups = new Map<string, Promise<void>>();
  readonly #unknown = new Set<string>();
  /** The latest reading of a sensor being looked up: applied when the lookup finds it. */
  readonly #held = new Map<string, [Buffer, Buffer, Buffer]>();
  /** Readings not yet folded into the machine's context for the inspector. */
  #readings = new Map<string, { status: string; value: unknown; timestamp: number }>();
  #readingsTimer: unknown = undefined;

  constructor(host: SensorStatusHost) {
    this.#host = host;
  }

  /** The model is fresh (S2/S3): names found unknown may be looked up again. */
  modelRefreshed(): void {
    this.#unknown.clear();
  }

  /** A sensor left the model: its pending reading for the inspector is dropped. */
  forgetSensor(name: string): void {
    this.#readings.delete(name);
  }

  /** The client is stopping: no more readings batch. */
  stopTimer(): void {
    if (this.#readingsTimer !== undefined) this.#host.clock.clearTimeout(this.#readingsTimer as never);
    this.#readingsTimer = undefined;
  }

  /** The client stopped: forget the pending lookups and held readings. */
  clearLookups(): void {
    this.#lookups.clear();
    this.#held.clear();
  }

  /** One `#sensor-status` (or `#sensor-value`) inform. */
  dispatch(m: KatcpMessage): void {
    const args = m.args;
    let n: number;
    let timestamp: number;
    try {
      timestamp = decodeTimestamp(args[0] ?? '');
      n = decodeInt(args[1] ?? '');
    } catch (err) {
      this.#host.logger.warn({ err, line: messageText(m) }, `malformed #${m.name}`);
      return;
    }
    if (n < 0 || args.length !== 2 + 3 * n) {
      this.#host.logger.warn({ line: messageText(m) }, `#${m.name}: wrong number of arguments`);
      return;
    }
    const monitor = this.#host.monitor;
    monitor?.batchStart();
    try {
      for (let i = 0; i < n; i++) {
        const nameBuf = args[2 + 3 * i];
        const statusBuf = args[3 + 3 * i];
        const valueBuf = args[4 + 3 * i];
        const name = nameBuf.toString('utf8');
        const sensor = this.#host.objects.cachedSensor(name) ?? this.#host.objects.sensor(name);
        if (sensor) this.#apply(name, sensor, args[0], statusBuf, valueBuf);
        else this.#unknownSensor(name, args[0], statusBuf, valueBuf);
        if (monitor) {
          let status: ReturnType<typeof decodeStatus>;
          try {
            status = decodeStatus(statusBuf);
          } catch {
            continue;
          }
          monitor.sensorUpdated(name, valueBuf, status, timestamp);
        }
      }
    } finally {
      monitor?.batchStop();
    }
  }

  #unknownSensor(name: string, ts: Buffer, status: Buffer, value: Buffer): void {
    if (!this.#host.running() || !this.#host.dataSynced()) return;
    if (this.#unknown.has(name)) return;
    if (this.#lookups.has(name)) {
      this.#held.set(name, [ts, status, value]);
      return;
    }
    if (this.#lookups.size >= MAX_PENDING_LOOKUPS) {
      this.#host.logger.warn(
        { sensor: name },
        'reading of an unknown sensor dropped (too many lookups pending)',
      );
      return;
    }
    this.#held.set(name, [ts, status, value]);
    const p = this.#host
      .lookup({ requests: null, sensors: [name] })
      .then(
        () => {
          const held = this.#held.get(name);
          const sensor = this.#host.objects.sensor(name);
          if (sensor && held) this.#apply(name, sensor, held[0], held[1], held[2]);
          else if (!sensor) {
            if (this.#unknown.size >= MAX_UNKNOWN_NAMES) this.#unknown.clear();
            this.#unknown.add(name);
            this.#host.logger.warn({ sensor: name }, 'reading of a sensor the device does not list');
          }
        },
        (err) => this.#host.logger.warn({ err, sensor: name }, 'lookup of an unknown sensor failed'),
      )
      .finally(() => {
        this.#lookups.delete(name);
        this.#held.delete(name);
      });
    this.#lookups.set(name, p);
  }

  /**
   * A reading as it came on the wire, to the Sensor object: one that does not decode is ignored; one that does is
   * the sensor's reading (and the inspector's) even when one of the user's listeners on it throws (logged).
   */
  #apply(name: string, sensor: Sensor, ts: Buffer, status: Buffer, value: Buffer): void {
    const before = sensor.reading;
    try {
      sensor.setFormatted(ts, status, value);
    } catch (err) {
      if (sensor.reading === before) {
        this.#host.logger.warn({ err, sensor: name }, 'bad sensor reading ignored');
        return;
      }
      this.#host.logger.warn({ err, sensor: name }, 'a listener of the sensor threw');
    }
    this.#noteReading(name, sensor);
  }

  /** Fold readings into the machine's context for the inspector, at most once per READINGS_INTERVAL. */
  #noteReading(name: string, sensor: Sensor): void {
    this.#readings.set(name, sensor.reading);
    if (this.#readingsTimer !== undefined || !this.#host.running()) return;
    this.#readingsTimer = this.#host.clock.setTimeout(() => {
      this.#readingsTimer = undefined;
      if (!this.#host.running() || this.#readings.size === 0) return;
      const readings: Record<string, { status: string; value: unknown; timestamp: number }> = {};
      for (const [n, r] of this.#readings)
        readings[n] = { status: r.status, value: r.value, timestamp: r.timestamp };
      this.#readings = new Map();
      this.#host.send({ type: 'SENSOR.READINGS', readings });
    }, READINGS_INTERVAL);
  }
}
