/**
 * The objects an `InspectingClient` hands out for the device's model: the `Sensor` of `futureGetSensor` (updated by
 * `#sensor-status`) and the request object of `futureGetRequest`, each built once with the user's factory (or the
 * defaults here) and cached until the name leaves the model or, for a sensor, comes back with other metadata.
 */
import type {
  InspectionResult,
  InspectionScope,
  RequestInfo,
  SensorInfo,
} from '../../../machines/katcp/inspectingClient.js';
import type { Logger } from '../../engine/logging.js';
import { Sensor } from './sensor.js';
import { SENSOR_TYPES, type SensorType } from './wire.js';

/** A request of the device as `futureGetRequest` returns it (katcp-python's `Request` namedtuple). */
export interface KatcpRequest {
  readonly name: string;
  readonly description: string;
  /** Seconds, as the server's `?request-timeout-hint` gives it; null when none. */
  readonly timeoutHint: number | null;
}

/**
 * The default `sensorFactory`: a `Sensor` of the info's type (`string` if this version does not know it), named
 * as the device lists it (any name: `anyName`).
 */
export function defaultSensorFactory(info: SensorInfo): Sensor {
  const type = (SENSOR_TYPES as readonly string[]).includes(info.type) ? (info.type as SensorType) : 'string';
  return new Sensor({
    name: info.name,
    anyName: true,
    type,
    description: info.description,
    units: info.units,
    params: info.params,
  });
}

/** The default `requestFactory`: a frozen `{name, description, timeoutHint}`. */
export function defaultRequestFactory(info: RequestInfo): KatcpRequest {
  return Object.freeze({ name: info.name, description: info.description, timeoutHint: info.timeoutHint });
}

/** What the object cache needs from its client: the model as last inspected. */
export interface ModelObjectsHost {
  sensorInfo(name: string): SensorInfo | undefined;
  requestInfo(name: string): RequestInfo | undefined;
  readonly logger: Logger;
}

/** The cached Sensor and request objects of one client. */
export class ModelObjects {
  readonly #host: ModelObjectsHost;
  readonly #sensorFactory: (info: SensorInfo) => Sensor;
  readonly #requestFactory: (info: RequestInfo) => KatcpRequest;
  readonly #sensors = new Map<string, Sensor>();
  readonly #requests = new Map<string, KatcpRequest>();

  constructor(
    host: ModelObjectsHost,
    sensorFactory: (info: SensorInfo) => Sensor,
    requestFactory: (info: RequestInfo) => KatcpRequest,
  ) {
    this.#host = host;
    this.#sensorFactory = sensorFactory;
    this.#requestFactory = requestFactory;
  }

  /** The Sensor object of `name` if one was built. */
  cachedSensor(name: string): Sensor | undefined {
    return this.#sensors.get(name);
  }

  /** The Sensor object of `name`, built now if the model has it (null if not, or if the factory threw). */
  sensor(name: string): Sensor | null {
    let s = this.#sensors.get(name);
    if (s) return s;
    const info = this.#host.sensorInfo(name);
    if (!info) return null;
    try {
      s = this.#sensorFactory(info);
    } catch (err) {
      this.#host.logger.warn({ err, sensor: name }, 'sensorFactory threw');
      return null;
    }
    this.#sensors.set(name, s);
    return s;
  }

  /** The request object of `name`, built now if the model has it (null if not). */
  request(name: string): KatcpRequest | null {
    let r = this.#requests.get(name);
    const info = this.#host.requestInfo(name);
    if (!r && info) {
      r = this.#requestFactory(info);
      this.#requests.set(name, r);
    }
    return r ?? null;
  }

  forgetSensor(name: string): void {
    this.#sensors.delete(name);
  }

  forgetRequest(name: string): void {
    this.#requests.delete(name);
  }

  /** After a single-name lookup: drop the objects of names not found, and of sensors found with other metadata. */
  forgetStale(scope: InspectionScope, result: InspectionResult): void {
    if (Array.isArray(scope.sensors)) {
      for (const n of scope.sensors) {
        const found = result.sensors.find((s) => s.name === n);
        const old = this.#host.sensorInfo(n);
        if (!found || (old && JSON.stringify(old) !== JSON.stringify(found))) this.#sensors.delete(n);
      }
    }
    if (Array.isArray(scope.requests)) {
      for (const n of scope.requests) {
        if (!result.requests.some((r) => r.name === n)) this.#requests.delete(n);
      }
    }
  }
}
