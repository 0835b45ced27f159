/**
 * A KATCP sensor (aiokatcp `Sensor`, katcp-python `katcp.Sensor`): name, type, description, units, the discrete
 * values, and the current reading (value, status, timestamp) with listeners. The same class serves both sides:
 * a `DeviceServer` declares its sensors with it, an `InspectingClient` mirrors the device's sensors into it.
 *
 * Timestamps are KATCP's: seconds since the Unix epoch (a float).
 */
import { InvalidArgumentError } from '../../errors.js';
import {
  decodeSensorValue,
  decodeStatus,
  decodeTimestamp,
  formatSensorValue,
  SENSOR_TYPES,
  type SensorStatus,
  type SensorType,
  type SensorValue,
} from './wire.js';

/** One reading of a sensor. */
export interface Reading {
  /** Seconds since the Unix epoch. */
  readonly timestamp: number;
  readonly status: SensorStatus;
  readonly value: SensorValue;
}

export type SensorListener = (sensor: Sensor, reading: Reading) => void;

export interface SensorOptions {
  name: string;
  type: SensorType;
  description?: string;
  units?: string;
  /** The allowed values of a discrete sensor (lower-case); the optional nominal range of numeric ones. */
  params?: readonly string[];
  /** The first value (default: 0, false, '' or the first discrete value) with status `unknown`. */
  initial?: SensorValue;
  /** Initial status (default `unknown`). */
  status?: SensorStatus;
  /** Wall-clock source for `set` without a timestamp (seconds), default `Date.now() / 1000`. */
  now?: () => number;
  /**
   * Accept any non-empty name (default false: letters, digits, `.`, `_` and `-` only, the names a server declares
   * safely, with no `,` of the bulk `?sensor-sampling` form nor a `/regex/`). A client mirroring a device's sensor
   * takes the name the device lists, whatever it is (the default factory of `futureGetSensor` and `SensorWatcher`).
   */
  anyName?: boolean;
}

const NAME_RE = /^[A-Za-z0-9._-]+$/;

function defaultValue(type: SensorType, params: readonly string[]): SensorValue {
  switch (type) {
    case 'integer':
    case 'float':
    case 'timestamp':
      return 0;
    case 'boolean':
      return false;
    case 'discrete':
      return params[0] ?? '';
    case 'lru':
      return 'nominal';
    case 'address':
      return { host: '0.0.0.0', port: null };
    default:
      return '';
  }
}

export class Sensor {
  readonly name: string;
  readonly type: SensorType;
  readonly description: string;
  readonly units: string;
  readonly params: readonly string[];
  #reading: Reading;
  #listeners = new Set<SensorListener>();
  readonly #now: () => number;

  constructor(options: SensorOptions) {
    if (
      typeof options?.name !== 'string' ||
      !(options.anyName === true ? options.name !== '' : NAME_RE.test(options.name))
    ) {
      throw new InvalidArgumentError(`invalid sensor name ${JSON.stringify(options?.name)}`);
    }
    if (!(SENSOR_TYPES as readonly string[]).includes(options.type)) {
      throw new InvalidArgumentError(`invalid sensor type ${JSON.stringify(options.type)}`);
    }
    this.name = options.name;
    this.type = options.type;
    this.description = options.description ?? '';
    this.units = options.units ?? '';
    this.params = [...(options.params ?? [])];
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#reading = {
      timestamp: this.#now(),
      status: options.status ?? 'unknown',
      value: options.initial ?? defaultValue(this.type, this.params),
    };
  }

  get reading(): Reading {
    return this.#reading;
  }
  get value(): SensorValue {
    return this.#reading.value;
  }
  get status(): SensorStatus {
    return this.#reading.status;
  }
  get timestamp(): number {
    return this.#reading.timestamp;
  }

  /** Set a new reading (status `nominal` and the current time unless given) and tell every listener. */
  set(value: SensorValue, status: SensorStatus = 'nominal', timestamp: number = this.#now()): void {
    this.setReading({ value, status, timestamp });
  }

  /** Set a reading as it came on the wire (`#sensor-status timestamp n name status value`). */
  setFormatted(timestamp: Buffer | string, status: Buffer | string, value: Buffer | string): void {
    this.setReading({
      timestamp: decodeTimestamp(timestamp),
      status: decodeStatus(status),
      value: decodeSensorValue(this.type, value, this.params),
    });
  }

  /**
   * Set a reading and tell every listener, in attach order. A listener that throws does not keep the reading from
   * the ones after it (a server's samplers, the other watchers of a client's sensor): once all have heard it, the
   * first error is thrown to the caller.
   */
  setReading(reading: Reading): void {
    this.#reading = reading;
    let failed: { error: unknown } | null = null;
    for (const listener of [...this.#listeners]) {
      try {
        listener(this, reading);
      } catch (error) {
        failed ??= { error };
      }
    }
    if (failed) throw failed.error;
  }

  /** The reading's value as KATCP writes it. */
  formattedValue(): string {
    return formatSensorValue(this.#reading.value);
  }

  /** Call `listener(sensor, reading)` on every new reading; returns a function that removes it. */
  attach(listener: SensorListener): () => void {
    this.#listeners.add(listener);
    return () => this.detach(listener);
  }
  detach(listener: SensorListener): void {
    this.#listeners.delete(listener);
  }
  get listenerCount(): number {
    return this.#listeners.size;
  }
}
