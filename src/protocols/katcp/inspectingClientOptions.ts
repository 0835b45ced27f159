/**
 * The options of an `InspectingClient` and the argument checks of its API: everything a caller passes is checked
 * here before anything is created or sent, and bad input throws `InvalidArgumentError`. Durations are milliseconds.
 */

import { checkDuration } from '../../../machines/core/duration.js';
import {
  type ClientState,
  checkInspectingClientInput,
  clientStateName,
  type RequestInfo,
  type SensorInfo,
} from '../../../machines/katcp/inspectingClient.js';
import { checkSignal } from '../../api/lifecycle.js';
import type { Supervisor } from '../../engine/supervisor.js';
import type { OrrerySystem } from '../../engine/system.js';
import { describeValue, InvalidArgumentError } from '../../errors.js';
import { checkEndpoint, checkPositiveInteger } from './client.js';
import type { KatcpRequest } from './modelObjects.js';
import type { Sensor } from './sensor.js';
import type { StateCallback } from './stateCallbacks.js';

export interface WaitOptions {
  /** Milliseconds (Infinity: none). */
  timeout?: number;
  signal?: AbortSignal;
}

export interface LookupOptions extends WaitOptions {
  /** Ask the server when the name is not known (default true, katcp-python's `_update_on_lookup`). */
  update?: boolean;
}

export interface InspectingClientOptions {
  /** The system whose clock drives backoff, timeouts and sampling (default: the process default system). */
  system?: OrrerySystem;
  /** Spawn both actors under this supervisor (default: a new supervisor `katcp:<host>:<port>[:n]`, removed on stop). */
  supervisor?: Supervisor | string;
  /** Reconnect after a lost connection (default true). */
  autoReconnect?: boolean;
  /** Per-request timeout in ms (default 5000), also for the inspection's requests. */
  requestTimeout?: number;
  /**
   * ms the peer has to send `#version-connect katcp-protocol` once TCP is up, before the connection is dropped
   * with a NegotiationTimeoutError and retried (default 5000; Infinity: for ever; see `KatcpClient`).
   */
  negotiationTimeout?: number;
  /** One bound over a whole inspection, ms (default 20_000, katcp-python's sync_timeout). */
  syncTimeout?: number;
  /** First resync delay after a failed inspection, ms (default 5_000). */
  initialResyncDelay?: number;
  /** Longest resync delay, ms (default 90_000). */
  maxResyncDelay?: number;
  /** Random source in [0, 1) for the resync and reconnect jitter (default Math.random). */
  random?: () => number;
  /** Inspect on the first connection (default true); false skips the first inspection exactly once. */
  initialInspection?: boolean;
  /** Route `#sensor-value` informs like `#sensor-status` (katcp-python's `handle_sensor_value()`). */
  handleSensorValue?: boolean;
  /** Builds the Sensor objects of `futureGetSensor` (default: a `Sensor` of the info's type, `string` if unknown). */
  sensorFactory?: (info: SensorInfo) => Sensor;
  /** Builds the request objects of `futureGetRequest` (default: a frozen `{name, description, timeoutHint}`). */
  requestFactory?: (info: RequestInfo) => KatcpRequest;
  /** The state callback (see `setStateCallback`). */
  stateCallback?: StateCallback;
  /** Longest line accepted from the server, bytes (default 1 MiB). */
  maxLineLength?: number;
  /** Unsent bytes before the connection is dropped with WriteBacklogError (default 16 MiB; see `KatcpClient`). */
  maxBacklog?: number;
}

/** Check the constructor's arguments (the options' types and ranges; the system is checked by the caller). */
export function checkClientOptions(host: string, port: number, options: InspectingClientOptions): void {
  checkEndpoint(host, port, options);
  // as the connection and the machine will check them when `connect()` spawns them (null is no duration there):
  // refused here, before anything is spawned, not later with the machine left running
  checkDuration('requestTimeout', options.requestTimeout, false);
  checkDuration('negotiationTimeout', options.negotiationTimeout, false);
  checkPositiveInteger('maxBacklog', options.maxBacklog);
  if (
    options.initialResyncDelay !== undefined &&
    options.maxResyncDelay !== undefined &&
    options.initialResyncDelay > options.maxResyncDelay
  ) {
    throw new InvalidArgumentError('initialResyncDelay must not exceed maxResyncDelay');
  }
  if (options.random !== undefined && typeof options.random !== 'function') {
    throw new InvalidArgumentError('random must be a function');
  }
  // the machine's own input check (syncTimeout, the finite resync delays, initialInspection)
  checkInspectingClientInput({
    syncTimeout: options.syncTimeout,
    initialResyncDelay: options.initialResyncDelay,
    maxResyncDelay: options.maxResyncDelay,
    random: options.random,
    initialInspection: options.initialInspection,
  });
  for (const key of ['sensorFactory', 'requestFactory', 'stateCallback'] as const) {
    if (options[key] !== undefined && options[key] !== null && typeof options[key] !== 'function') {
      throw new InvalidArgumentError(`${key} must be a function`);
    }
  }
  for (const key of ['autoReconnect', 'initialInspection', 'handleSensorValue'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw new InvalidArgumentError(`${key} must be a boolean`);
    }
  }
  const max = options.maxLineLength;
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
    throw new InvalidArgumentError(`maxLineLength must be a positive integer, got ${String(max)}`);
  }
  const sup = options.supervisor;
  if (sup !== undefined && typeof sup !== 'string' && (typeof sup !== 'object' || sup === null)) {
    throw new InvalidArgumentError('supervisor must be a Supervisor or a supervisor name');
  }
}

/** A non-empty string, or InvalidArgumentError naming `what`. */
export function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(`${what} must be a non-empty string, got ${String(name)}`);
  }
  return name;
}

/** `{timeout, signal}` of a wait, checked: timeout null when none. */
export function checkWait(options: WaitOptions | undefined): {
  timeout: number | null;
  signal: AbortSignal | undefined;
} {
  if (options === undefined) return { timeout: null, signal: undefined };
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('options must be an object');
  return { timeout: checkDuration('timeout', options.timeout, true), signal: checkSignal(options.signal) };
}

/** The `update` option of the lookups (default true). */
export function checkUpdate(options: LookupOptions): boolean {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('options must be an object');
  if (options.update !== undefined && typeof options.update !== 'boolean') {
    throw new InvalidArgumentError('update must be a boolean');
  }
  return options.update ?? true;
}

/**
 * The state `untilState` waits for: its four flags read once each, booleans, and one of the five legal
 * combinations S0..S4 (katcp-python's `until_state` raises ValueError for any other), since a wait for a state
 * the client can never be in would never end.
 */
export function checkClientState(desired: unknown): ClientState {
  if (desired === null || typeof desired !== 'object')
    throw new InvalidArgumentError('untilState needs a state');
  let flags: ClientState;
  try {
    const d = desired as ClientState;
    flags = {
      connected: d.connected,
      synced: d.synced,
      modelChanged: d.modelChanged,
      dataSynced: d.dataSynced,
    };
  } catch (error) {
    throw new InvalidArgumentError('untilState: the state could not be read', { cause: error });
  }
  if (!Object.values(flags).every((f) => typeof f === 'boolean') || clientStateName(flags) === null) {
    // (each flag described: JSON.stringify throws on a BigInt)
    const got = Object.entries(flags)
      .map(([name, value]) => `${name}: ${describeValue(value)}`)
      .join(', ');
    throw new InvalidArgumentError(`untilState needs one of the five states S0..S4, got {${got}}`);
  }
  return flags;
}
