/**
 * `InspectingClient`: katcp-python's `InspectingClientAsync` in TypeScript idiom, on the `inspectingClient` machine
 * (`machines/katcp/inspectingClient.ts`) and a `KatcpClient` connection actor, both under one supervisor.
 *
 *   connection (KatcpClient)           machine (inspectingClient)                 user
 *   negotiating ──CONNECTION.UP──────► S0 ─► S1 ──inspect actor (?help, ?request-timeout-hint, ?sensor-list)
 *   connected ──CONNECTION.READY {flags}─►   S1 ──ok──► S2 / S3 ──callbacksDone──► S4      state callback
 *   left negotiating/connected ─DOWN─►  S0 (once per drop)                            (serialised, may be async)
 *   #interface-changed, #device-changed ─INTERFACE_CHANGED─► S4 ─► S1 (incremental re-inspection)
 *   #sensor-status (#sensor-value) ──────────────────────────────────► Sensor objects, sensor watchers (direct)
 *   stop() ──STOP──► S0 (once), final; connection closed; supervisor removed
 *
 * The machine owns the state and the model index (requests, sensors); this facade provides its effects: the
 * `inspect` actor (the wire side of an inspection), `callbacksDone` (the state-callback queue has drained, so S4 is
 * announced after the S2/S3 callback settled) and `reapplySampling` (run on every S2/S3: every cached strategy of a
 * sensor that still exists is sent again). Sensor readings never go through the machine: `#sensor-status` updates
 * the `Sensor` objects and the watchers directly (the hot path).
 *
 * Durations are milliseconds (`syncTimeout: 20_000` is katcp-python's 20 s); sampling strategy parameters stay
 * seconds, as on the wire (`'period 0.5'`).
 *
 * Differences from upstream, on purpose: every `until*` wait takes `{timeout, signal}` and rejects with
 * TimeoutError / CancelledError (and with CancelledError once the client is stopped) instead of hanging; a
 * state callback may await `futureGetSensor` in S2/S3 without deadlocking (data is synced there, and the machine
 * waits for the callback before S4); `simpleRequest` rejects with typed errors (RequestTimeoutError,
 * BrokenPipeError) instead of returning fake `fail` replies; `setSamplingStrategies` uses the bulk comma form
 * when the server has flag `B`; the resync backoff is reset after a successful sync (see the machine); unknown
 * sensors in `#sensor-status` cause at most one on-demand lookup per name until the model next changes, at most
 * `MAX_PENDING_LOOKUPS` at a time, so a hostile server cannot flood the client with lookups.
 */
import type { AnyActorRef } from 'xstate';
import { fromPromise } from 'xstate';
import { checkDuration } from '../../../machines/core/duration.js';
import {
  type ClientState,
  type InspectingClientInput,
  type InspectionResult,
  type InspectionScope,
  inspectingClientMachine,
  type ModelChanges,
  type RequestInfo,
  type SensorInfo,
  stateOf,
} from '../../../machines/katcp/inspectingClient.js';
import { checkSignal, checkSystem } from '../../api/lifecycle.js';
import type { ActorHandle } from '../../engine/handle.js';
import type { Logger } from '../../engine/logging.js';
import type { Supervisor } from '../../engine/supervisor.js';
import { getDefaultSystem, type OrrerySystem } from '../../engine/system.js';
import { CancelledError, InvalidArgumentError, InvalidStateError, TimeoutError } from '../../errors.js';
import { KatcpClient, type RawReply, type RequestOptions } from './client.js';
import { type ArgValue, argText, type KatcpMessage, messageText } from './codec.js';
import { BrokenPipeError, KatcpError, SyncError } from './errors.js';
import { Sensor } from './sensor.js';
import { type AbstractSensorWatcher, SensorMonitor, type SyncState } from './sensorWatcher.js';
import './view.js';
import {
  decodeFloat,
  decodeInt,
  decodeStatus,
  decodeTimestamp,
  formatStrategy,
  parseInterfaceChanged,
  parseStrategy,
  type SamplingStrategy,
  SENSOR_TYPES,
  type SensorType,
} from './wire.js';

export type { ClientState, RequestInfo, SensorInfo } from '../../../machines/katcp/inspectingClient.js';

/** A request of the device as `futureGetRequest` returns it (katcp-python's `Request` namedtuple). */
export interface KatcpRequest {
  readonly name: string;
  readonly description: string;
  /** Seconds, as the server's `?request-timeout-hint` gives it; null when none. */
  readonly timeoutHint: number | null;
}

/** Model changes as the state callback gets them: sets of names, only the non-empty parts (upstream). */
export interface ModelChangeSets {
  requests?: { added: Set<string>; removed: Set<string> };
  sensors?: { added: Set<string>; removed: Set<string> };
}

/** The user's state callback: `(state, modelChanges)`; may be async. Calls are serialised. */
export type StateCallback = (
  state: InspectingClientState,
  modelChanges: ModelChangeSets | null,
) => void | Promise<void>;

/** A strategy as the sampling calls accept it: `'period 0.5'`, `['period', 0.5]` or a SamplingStrategy. */
export type StrategyInput = string | readonly (string | number)[] | SamplingStrategy;

/** `[true, normalised strategy text]` or `[false, error message]` (katcp-python's resource layer; never throws). */
export type SamplingResult = [true, string] | [false, string];

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
}

/**
 * katcp-python's `InspectingClientStateType`: the four flags (only five combinations are legal: S0..S4) and its
 * `toString()`, e.g. `[connected !synced model_changed data_synced]`.
 */
export class InspectingClientState implements ClientState {
  readonly connected: boolean;
  readonly synced: boolean;
  readonly modelChanged: boolean;
  readonly dataSynced: boolean;
  constructor(state: ClientState) {
    this.connected = state.connected;
    this.synced = state.synced;
    this.modelChanged = state.modelChanged;
    this.dataSynced = state.dataSynced;
  }
  /** Whether `other` has the same four flags. */
  equals(other: ClientState): boolean {
    return (
      this.connected === other.connected &&
      this.synced === other.synced &&
      this.modelChanged === other.modelChanged &&
      this.dataSynced === other.dataSynced
    );
  }
  toString(): string {
    const w = (on: boolean, word: string) => (on ? word : `!${word}`);
    return `[${w(this.connected, 'connected')} ${w(this.synced, 'synced')} ${w(this.modelChanged, 'model_changed')} ${w(this.dataSynced, 'data_synced')}]`;
  }
}

const state = (connected: boolean, synced: boolean, modelChanged: boolean, dataSynced: boolean) =>
  Object.freeze(new InspectingClientState({ connected, synced, modelChanged, dataSynced }));

/** The five legal states, katcp-python's `valid_states`. */
export const STATES = Object.freeze({
  /** S0: disconnected or stopped. */
  disconnected: state(false, false, false, false),
  /** S1: connected, inspecting. */
  inspecting: state(true, false, false, false),
  /** S2: inspected, model changes being delivered. */
  modelChanged: state(true, false, true, true),
  /** S3: inspected, no changes. */
  dataSynced: state(true, false, false, true),
  /** S4: synced. */
  synced: state(true, true, false, true),
});

/** At most this many on-demand lookups of unknown sensors in `#sensor-status` run at a time. */
export const MAX_PENDING_LOOKUPS = 16;
/** Names found unknown by a lookup are not looked up again until the model changes (at most this many kept). */
const MAX_UNKNOWN_NAMES = 1024;
/** The inspector's sensor readings are folded into the machine at most this often (ms). */
const READINGS_INTERVAL = 1000;

const DEFAULT_SUPERVISOR_PREFIX = 'katcp';

type Logic = typeof inspectingClientMachine;
type Phase = 'new' | 'running' | 'stopping' | 'stopped';

function toSets(changes: ModelChanges | null | undefined): ModelChangeSets | null {
  if (!changes) return null;
  const out: ModelChangeSets = {};
  if (changes.requests) {
    out.requests = { added: new Set(changes.requests.added), removed: new Set(changes.requests.removed) };
  }
  if (changes.sensors) {
    out.sensors = { added: new Set(changes.sensors.added), removed: new Set(changes.sensors.removed) };
  }
  return out.requests || out.sensors ? out : null;
}

function isOk(reply: KatcpMessage): boolean {
  return reply.args[0]?.toString('utf8') === 'ok';
}

function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgumentError(`${what} must be a non-empty string, got ${String(name)}`);
  }
  return name;
}

function checkWait(options: WaitOptions | undefined): {
  timeout: number | null;
  signal: AbortSignal | undefined;
} {
  if (options === undefined) return { timeout: null, signal: undefined };
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('options must be an object');
  return { timeout: checkDuration('timeout', options.timeout, true), signal: checkSignal(options.signal) };
}

function defaultSensorFactory(info: SensorInfo): Sensor {
  const type = (SENSOR_TYPES as readonly string[]).includes(info.type) ? (info.type as SensorType) : 'string';
  return new Sensor({
    name: info.name,
    type,
    description: info.description,
    units: info.units,
    params: info.params,
  });
}

function defaultRequestFactory(info: RequestInfo): KatcpRequest {
  return Object.freeze({ name: info.name, description: info.description, timeoutHint: info.timeoutHint });
}

function normalise(strategy: StrategyInput): SamplingStrategy {
  return parseStrategy(strategy as Parameters<typeof parseStrategy>[0]);
}

interface Waiter {
  test(): boolean;
  resolve(): void;
  reject(error: Error): void;
  /** Rejected with CancelledError when the client stops, unless it waits for the stop itself. */
  readonly untilStop: boolean;
}

let supervisorCounter = 0;

/** The facade: see the module comment. */
export class InspectingClient {
  readonly host: string;
  readonly port: number;
  readonly #system: OrrerySystem;
  readonly #options: InspectingClientOptions;
  readonly #sensorFactory: (info: SensorInfo) => Sensor;
  readonly #requestFactory: (info: RequestInfo) => KatcpRequest;
  #stateCallback: StateCallback | null;
  #phase: Phase = 'new';
  #supervisor: Supervisor | string | undefined;
  #ownSupervisor: Supervisor | undefined;
  #client: KatcpClient | null = null;
  #handle: ActorHandle<Logic> | null = null;
  #actor: AnyActorRef | null = null;
  #offState: (() => void) | null = null;
  #unsubscribe: { unsubscribe(): void } | null = null;
  readonly #cleanups: (() => void)[] = [];
  /** Whether the connection is in negotiating or connected (a DOWN is owed when it leaves). */
  #up = false;
  /** The state-callback queue (serialised, settled in order). */
  #queue: Promise<void> = Promise.resolve();
  readonly #waiters = new Set<Waiter>();
  readonly #sensorObjects = new Map<string, Sensor>();
  readonly #requestObjects = new Map<string, KatcpRequest>();
  readonly #strategies = new Map<string, SamplingStrategy>();
  readonly #lookups = new Map<string, Promise<void>>();
  readonly #unknown = new Set<string>();
  /** The latest reading of a sensor being looked up: applied when the lookup finds it. */
  readonly #held = new Map<string, [Buffer, Buffer, Buffer]>();
  readonly #inspectWaiters = new Set<(changes: ModelChangeSets | null) => void>();
  #monitor: SensorMonitor | null = null;
  #stopped: Promise<void> | null = null;
  /** Readings not yet folded into the machine's context for the inspector. */
  #readings = new Map<string, { status: string; value: unknown; timestamp: number }>();
  #readingsTimer: unknown = undefined;
  #logger: Logger | null = null;

  constructor(host: string, port: number, options: InspectingClientOptions = {}) {
    if (typeof host !== 'string' || host === '')
      throw new InvalidArgumentError('host must be a non-empty string');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidArgumentError(`port must be an integer in 0..65535, got ${String(port)}`);
    }
    if (options === null || typeof options !== 'object')
      throw new InvalidArgumentError('options must be an object');
    checkDuration('requestTimeout', options.requestTimeout, true);
    checkDuration('syncTimeout', options.syncTimeout, true);
    checkDuration('initialResyncDelay', options.initialResyncDelay, true);
    checkDuration('maxResyncDelay', options.maxResyncDelay, true);
    if (
      options.initialResyncDelay !== undefined &&
      options.maxResyncDelay !== undefined &&
      options.initialResyncDelay > options.maxResyncDelay
    ) {
      throw new InvalidArgumentError('initialResyncDelay must not exceed maxResyncDelay');
    }
    for (const key of ['random', 'sensorFactory', 'requestFactory', 'stateCallback'] as const) {
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
    this.#system = checkSystem(options.system) ?? getDefaultSystem();
    this.host = host;
    this.port = port;
    this.#options = { ...options };
    this.#supervisor = sup;
    this.#sensorFactory = options.sensorFactory ?? defaultSensorFactory;
    this.#requestFactory = options.requestFactory ?? defaultRequestFactory;
    this.#stateCallback = options.stateCallback ?? null;
  }

  /** `host:port`. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  // ---- lifecycle ----

  /**
   * Start: spawn the connection actor and the machine under one supervisor and begin connecting (katcp-python
   * `connect` / `start`). With a `timeout`, also wait until connected (TimeoutError otherwise; the client keeps
   * running, as upstream). Throws InvalidStateError when already started.
   */
  async connect(options: WaitOptions = {}): Promise<void> {
    const { timeout, signal } = checkWait(options);
    if (this.#phase !== 'new')
      throw new InvalidStateError(`InspectingClient ${this.address} was already started`);
    this.#start();
    if (timeout !== null || signal !== undefined) await this.untilConnected(options);
  }

  /** Alias of `connect` (katcp-python `start`). */
  start(options: WaitOptions = {}): Promise<void> {
    return this.connect(options);
  }

  #start(): void {
    this.#phase = 'running';
    const system = this.#system;
    let supervisor = this.#supervisor;
    let base: string;
    if (supervisor === undefined) {
      let name = `${DEFAULT_SUPERVISOR_PREFIX}:${this.host}:${this.port}`;
      for (let n = 2; system.supervisorActor(name) !== undefined; n++) {
        name = `${DEFAULT_SUPERVISOR_PREFIX}:${this.host}:${this.port}:${n}`;
      }
      this.#ownSupervisor = system.supervisor(name, { strategy: 'one_for_one' });
      supervisor = this.#ownSupervisor;
      base = name;
    } else {
      base = `katcp:${this.host}:${this.port}:${++supervisorCounter}`;
    }
    this.#supervisor = supervisor;
    const o = this.#options;
    const input: InspectingClientInput = {
      address: this.address,
      syncTimeout: o.syncTimeout,
      initialResyncDelay: o.initialResyncDelay,
      maxResyncDelay: o.maxResyncDelay,
      random: o.random,
      initialInspection: o.initialInspection,
    };
    for (const key of Object.keys(input) as (keyof InspectingClientInput)[]) {
      if (input[key] === undefined) delete input[key];
    }
    const logic = inspectingClientMachine.provide({
      actors: {
        inspect: fromPromise<InspectionResult, { scope: InspectionScope; flags: string }>(
          ({ input, signal }) => this.#inspect(input.scope, input.flags, signal),
        ),
        callbacksDone: fromPromise<void, void>(() => this.#callbacksDone()),
      },
      actions: {
        reapplySampling: () => {
          queueMicrotask(() => void this.reapplySamplingStrategies());
        },
      },
    } as never) as Logic;
    this.#handle = system.spawn(logic, {
      supervisor,
      id: `${base}:inspector`,
      input,
      restart: 'transient',
    } as never) as ActorHandle<Logic>;
    // the machine entered S0 on start, before anyone could listen: that first S0 goes to the callback here
    this.#enqueue(STATES.disconnected, null);
    this.#attach();
    this.#unsubscribe = this.#handle.subscribe({
      next: () => {
        if (this.#handle?.current && this.#handle.current !== this.#actor) {
          this.#attach();
          this.#enqueue(STATES.disconnected, null);
        }
        this.#checkWaiters();
      },
      error: () => this.#checkWaiters(),
      complete: () => this.#checkWaiters(),
    });
    const client = new KatcpClient(this.host, this.port, {
      system,
      supervisor,
      id: `${base}:connection`,
      autoReconnect: o.autoReconnect,
      requestTimeout: o.requestTimeout,
      maxLineLength: o.maxLineLength,
      random: o.random,
    });
    this.#client = client;
    this.#cleanups.push(
      client.onStateChange((s, error) => this.#connectionState(s, error)),
      client.addInformHandler('interface-changed', (m) =>
        this.#send({ type: 'INTERFACE_CHANGED', changes: parseInterfaceChanged(m.args) }),
      ),
      client.addInformHandler('device-changed', () => {
        this.#log().warn('#device-changed is deprecated; re-inspecting everything');
        this.#send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'all' }] });
      }),
      client.addInformHandler('sensor-status', (m) => this.#sensorStatus(m)),
      this.#system.onStop(() => void this.stop()),
    );
    if (o.handleSensorValue) {
      this.#cleanups.push(client.addInformHandler('sensor-value', (m) => this.#sensorStatus(m)));
    }
    this.#connectionState(client.state, client.lastError);
  }

  #attach(): void {
    this.#offState?.();
    const actor = this.#handle?.current;
    this.#actor = actor ?? null;
    if (!actor) return;
    const sub = actor.on('state', (e: { state: ClientState; modelChanges: ModelChanges | null }) =>
      this.#onState(e.state, e.modelChanges),
    );
    this.#offState = () => sub.unsubscribe();
  }

  /**
   * Stop (katcp-python `stop`): the machine ends (one S0 callback), the connection is closed, both actors and the
   * supervisor this client created are removed. Resolves when no socket, timer or listener is left and the last
   * state callback settled. Idempotent.
   */
  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped;
    if (this.#phase === 'new') {
      this.#phase = 'stopped';
      this.#stopped = Promise.resolve();
      return this.#stopped;
    }
    this.#phase = 'stopping';
    this.#stopped = this.#doStop();
    return this.#stopped;
  }

  async #doStop(): Promise<void> {
    this.#send({ type: 'STOP' });
    for (const c of this.#cleanups.splice(0)) c();
    this.#monitor?.close();
    if (this.#readingsTimer !== undefined) this.#system.clock.clearTimeout(this.#readingsTimer as never);
    this.#readingsTimer = undefined;
    try {
      await this.#client?.close();
    } catch (err) {
      this.#log().warn({ err }, 'closing the connection failed');
    }
    this.#offState?.();
    this.#offState = null;
    this.#unsubscribe?.unsubscribe();
    this.#unsubscribe = null;
    if (!this.#system.stopped) {
      this.#handle?.stop();
      if (this.#ownSupervisor) {
        const parent = this.#system.root;
        parent.stopChild(this.#ownSupervisor.systemId);
      }
    }
    await this.#queue;
    this.#phase = 'stopped';
    this.#lookups.clear();
    this.#held.clear();
    for (const w of [...this.#inspectWaiters]) w(null);
    this.#checkWaiters();
  }

  /** Alias of `stop`. */
  close(): Promise<void> {
    return this.stop();
  }

  /** Resolves when stopped (after `stop()`); same as `untilStopped()` without a timeout. */
  join(options: WaitOptions = {}): Promise<void> {
    return this.untilStopped(options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // ---- state ----

  /** The current state (S0 before `connect` and after `stop`). */
  get state(): InspectingClientState {
    if (this.#phase !== 'running' || !this.#handle) return STATES.disconnected;
    try {
      return new InspectingClientState(stateOf(this.#handle.getSnapshot()));
    } catch {
      return STATES.disconnected;
    }
  }
  get connected(): boolean {
    return this.state.connected;
  }
  get synced(): boolean {
    return this.state.synced;
  }
  /** Whether `stop()` finished. */
  get stopped(): boolean {
    return this.#phase === 'stopped';
  }
  /** The connection's protocol flags (`''` while not connected). */
  get flags(): string {
    return this.#client?.protocol?.flags ?? '';
  }
  /** The connection (a `KatcpClient`), once started. */
  get connection(): KatcpClient | null {
    return this.#client;
  }
  /** The machine's actor handle, once started. */
  get actor(): ActorHandle<Logic> | null {
    return this.#handle;
  }
  /** The last error of the machine (a failed inspection) or null. */
  get lastError(): Error | null {
    return (this.#context()?.lastError as Error | null | undefined) ?? null;
  }

  /** The names of the device's requests (as last inspected), sorted. */
  get requests(): string[] {
    return Object.keys(this.#context()?.requests ?? {}).sort();
  }
  /** The names of the device's sensors (as last inspected), sorted. */
  get sensors(): string[] {
    return Object.keys(this.#context()?.sensors ?? {}).sort();
  }
  /** What the model says of a request (no lookup). */
  requestInfo(name: string): RequestInfo | undefined {
    return this.#context()?.requests[name];
  }
  /** What the model says of a sensor (no lookup). */
  sensorInfo(name: string): SensorInfo | undefined {
    return this.#context()?.sensors[name];
  }

  /**
   * Set the state callback `cb(state, modelChanges)` (null removes it). Calls are serialised: the next state's
   * call comes only after the previous one settled (a returned promise is awaited), and the machine announces
   * S4 only after the S2/S3 call settled. A callback's exception is logged.
   */
  setStateCallback(cb: StateCallback | null): void {
    if (cb !== null && typeof cb !== 'function')
      throw new InvalidArgumentError('the state callback must be a function');
    this.#stateCallback = cb;
  }

  /** Wait until the state equals `desired` (now if it does). */
  untilState(desired: ClientState, options: WaitOptions = {}): Promise<void> {
    if (desired === null || typeof desired !== 'object')
      throw new InvalidArgumentError('untilState needs a state');
    const want = new InspectingClientState(desired);
    return this.#wait(
      () => want.equals(this.state),
      `state ${want}`,
      options,
      want.equals(STATES.disconnected),
    );
  }
  /** Wait until S4. */
  untilSynced(options: WaitOptions = {}): Promise<void> {
    return this.#wait(() => this.state.synced, 'synced', options);
  }
  /** Wait until not synced (any state but S4). */
  untilNotSynced(options: WaitOptions = {}): Promise<void> {
    return this.#wait(() => !this.state.synced, 'not synced', options, true);
  }
  /** Wait until data is synced (S2, S3 or S4). */
  untilDataSynced(options: WaitOptions = {}): Promise<void> {
    return this.#wait(() => this.state.dataSynced, 'data synced', options);
  }
  /** Wait until connected (S1..S4). */
  untilConnected(options: WaitOptions = {}): Promise<void> {
    return this.#wait(() => this.state.connected, 'connected', options);
  }
  /** Wait until `stop()` finished. */
  untilStopped(options: WaitOptions = {}): Promise<void> {
    return this.#wait(() => this.#phase === 'stopped', 'stopped', options, true);
  }

  #wait(test: () => boolean, what: string, options: WaitOptions, untilStop = false): Promise<void> {
    let timeout: number | null;
    let signal: AbortSignal | undefined;
    try {
      ({ timeout, signal } = checkWait(options));
    } catch (error) {
      return Promise.reject(error);
    }
    if (test()) return Promise.resolve();
    if (this.#phase === 'stopped' && !untilStop) {
      return Promise.reject(new CancelledError(`InspectingClient ${this.address} is stopped`));
    }
    if (signal?.aborted) return Promise.reject(new CancelledError(`waiting for ${what} was cancelled`));
    const clock = this.#system.clock;
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      const onAbort = () => settle(new CancelledError(`waiting for ${what} was cancelled`));
      const settle = (error: Error | null) => {
        this.#waiters.delete(waiter);
        if (timer !== undefined) clock.clearTimeout(timer as never);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const waiter: Waiter = {
        test,
        resolve: () => settle(null),
        reject: (e) => settle(e),
        untilStop,
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== null && timeout !== Number.POSITIVE_INFINITY) {
        timer = clock.setTimeout(
          () => settle(new TimeoutError(`${this.address} not ${what} within ${timeout} ms`)),
          timeout,
        );
      }
    });
  }

  #checkWaiters(): void {
    for (const w of [...this.#waiters]) {
      if (w.test()) w.resolve();
      else if (this.#phase === 'stopped' && !w.untilStop) {
        w.reject(new CancelledError(`InspectingClient ${this.address} is stopped`));
      }
    }
  }

  // ---- requests ----

  /**
   * Send a request and get the reply and its informs, whatever the reply code (katcp-python `simple_request`).
   * Rejects with BrokenPipeError when not connected, RequestTimeoutError after the request timeout.
   */
  simpleRequest(name: string, ...args: ArgValue[]): Promise<RawReply> {
    return this.simpleRequestWith({}, name, ...args);
  }

  /** `simpleRequest` with `{timeout, signal, mid}`. */
  simpleRequestWith(options: RequestOptions, name: string, ...args: ArgValue[]): Promise<RawReply> {
    try {
      checkName('request name', name);
      if (!this.#client || this.#phase !== 'running') throw new BrokenPipeError('Not connected');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#client.requestRaw(name, args, options);
  }

  // ---- model lookups ----

  /**
   * Whether the device has the sensor (katcp-python `future_check_sensor`): waits until data is synced, then, if
   * the name is unknown and `update` (default true), asks the server about that name only.
   */
  async futureCheckSensor(name: string, options: LookupOptions = {}): Promise<boolean> {
    checkName('sensor name', name);
    const update = checkUpdate(options);
    await this.untilDataSynced(options);
    if (this.sensorInfo(name)) return true;
    if (!update) return false;
    await this.#lookup({ requests: null, sensors: [name] }, options.signal);
    return this.sensorInfo(name) !== undefined;
  }

  /** Whether the device has the request (katcp-python `future_check_request`), as `futureCheckSensor`. */
  async futureCheckRequest(name: string, options: LookupOptions = {}): Promise<boolean> {
    checkName('request name', name);
    const update = checkUpdate(options);
    await this.untilDataSynced(options);
    if (this.requestInfo(name)) return true;
    if (!update) return false;
    await this.#lookup({ requests: [name], sensors: null }, options.signal);
    return this.requestInfo(name) !== undefined;
  }

  /**
   * The Sensor object of `name`, or null when the device has no such sensor (katcp-python `future_get_sensor`):
   * built once with `sensorFactory` and cached; `#sensor-status` informs update it.
   */
  async futureGetSensor(name: string, options: LookupOptions = {}): Promise<Sensor | null> {
    if (!(await this.futureCheckSensor(name, options))) return null;
    return this.#sensorObject(name);
  }

  /** The request object of `name`, or null (katcp-python `future_get_request`), built once with `requestFactory`. */
  async futureGetRequest(name: string, options: LookupOptions = {}): Promise<KatcpRequest | null> {
    if (!(await this.futureCheckRequest(name, options))) return null;
    let r = this.#requestObjects.get(name);
    const info = this.requestInfo(name);
    if (!r && info) {
      r = this.#requestFactory(info);
      this.#requestObjects.set(name, r);
    }
    return r ?? null;
  }

  /**
   * Re-inspect the whole device now (katcp-python `inspect`): resolves with the model changes of that inspection
   * (null when nothing changed), once it is data-synced.
   */
  inspect(options: WaitOptions = {}): Promise<ModelChangeSets | null> {
    const { signal } = checkWait(options);
    if (this.#phase !== 'running')
      return Promise.reject(new BrokenPipeError('InspectingClient is not running'));
    return new Promise<ModelChangeSets | null>((resolve, reject) => {
      const onAbort = () => {
        this.#inspectWaiters.delete(done);
        reject(new CancelledError('inspect was cancelled'));
      };
      const done = (changes: ModelChangeSets | null) => {
        this.#inspectWaiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve(changes);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#inspectWaiters.add(done);
      this.#send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'all' }] });
    });
  }

  // ---- sampling ----

  /** The cached strategies (set by the user), by sensor name. */
  get samplingStrategies(): ReadonlyMap<string, SamplingStrategy> {
    return this.#strategies;
  }

  /**
   * Set a sensor's sampling strategy (katcp-python resource `set_sampling_strategy`): normalised, cached BEFORE it
   * is sent (so it is re-applied after every reconnect even if this send fails), then `?sensor-sampling`.
   * Resolves `[true, 'period 0.5']` or `[false, message]`; never rejects.
   */
  async setSamplingStrategy(name: string, strategy: StrategyInput): Promise<SamplingResult> {
    let s: SamplingStrategy;
    try {
      checkName('sensor name', name);
      s = normalise(strategy);
    } catch (error) {
      return [false, (error as Error).message];
    }
    this.#strategies.set(name, s);
    return this.#sendStrategy(name, s);
  }

  /**
   * Set one strategy on many sensors: the bulk comma form `?sensor-sampling a,b,c ...` when the server has flag
   * `B` (one at a time if that fails, or without `B`). Each strategy is cached first. Never rejects.
   */
  async setSamplingStrategies(
    names: readonly string[],
    strategy: StrategyInput,
  ): Promise<Map<string, SamplingResult>> {
    const out = new Map<string, SamplingResult>();
    let s: SamplingStrategy;
    try {
      if (!Array.isArray(names)) throw new InvalidArgumentError('names must be an array of sensor names');
      for (const n of names) checkName('sensor name', n);
      s = normalise(strategy);
    } catch (error) {
      for (const n of Array.isArray(names) ? names : [])
        out.set(String(n), [false, (error as Error).message]);
      return out;
    }
    const unique = [...new Set(names)];
    for (const n of unique) this.#strategies.set(n, s);
    if (unique.length === 0) return out;
    const words = formatStrategy(s);
    if (unique.length > 1 && this.flags.includes('B')) {
      try {
        const { reply } = await this.simpleRequest('sensor-sampling', unique.join(','), ...words);
        if (isOk(reply)) {
          for (const n of unique) out.set(n, [true, words.join(' ')]);
          return out;
        }
      } catch {
        // one at a time below
      }
    }
    const results = await Promise.all(unique.map((n) => this.#sendStrategy(n, s)));
    for (const [i, n] of unique.entries()) out.set(n, results[i]);
    return out;
  }

  /**
   * Re-send every cached strategy of a sensor that still exists (katcp-python `reapply_sampling_strategies`); the
   * machine runs it on every S2/S3, so strategies survive reconnects and server restarts. Bulk per strategy
   * when the server has flag `B`.
   */
  async reapplySamplingStrategies(): Promise<Map<string, SamplingResult>> {
    const out = new Map<string, SamplingResult>();
    if (this.#phase !== 'running') return out;
    const sensors = this.#context()?.sensors ?? {};
    const groups = new Map<string, { strategy: SamplingStrategy; names: string[] }>();
    for (const [name, strategy] of this.#strategies) {
      if (!(name in sensors)) continue;
      const key = formatStrategy(strategy).join(' ');
      let g = groups.get(key);
      if (!g) {
        g = { strategy, names: [] };
        groups.set(key, g);
      }
      g.names.push(name);
    }
    const bulk = this.flags.includes('B');
    await Promise.all(
      [...groups.entries()].map(async ([key, g]) => {
        if (bulk && g.names.length > 1) {
          try {
            const { reply } = await this.simpleRequest(
              'sensor-sampling',
              g.names.join(','),
              ...key.split(' '),
            );
            if (isOk(reply)) {
              for (const n of g.names) out.set(n, [true, key]);
              return;
            }
          } catch {
            // one at a time below
          }
        }
        const results = await Promise.all(g.names.map((n) => this.#sendStrategy(n, g.strategy)));
        for (const [i, n] of g.names.entries()) out.set(n, results[i]);
      }),
    );
    for (const [name, r] of out) {
      if (!r[0]) this.#log().warn({ sensor: name, error: r[1] }, 'could not re-apply the sampling strategy');
    }
    return out;
  }

  async #sendStrategy(name: string, s: SamplingStrategy): Promise<SamplingResult> {
    const words = formatStrategy(s);
    try {
      const { reply } = await this.simpleRequest('sensor-sampling', name, ...words);
      if (isOk(reply)) return [true, words.join(' ')];
      return [false, `${messageText(reply)}`];
    } catch (error) {
      return [false, (error as Error).message];
    }
  }

  // ---- sensor watchers ----

  /** Add a sensor watcher (aiokatcp `add_sensor_watcher`): it is replayed the current state first. */
  addSensorWatcher(watcher: AbstractSensorWatcher): void {
    if (watcher === null || typeof watcher !== 'object')
      throw new InvalidArgumentError('a watcher must be an object');
    if (this.#phase === 'stopping' || this.#phase === 'stopped') {
      throw new InvalidStateError(`InspectingClient ${this.address} is stopped`);
    }
    if (!this.#monitor) {
      const sample = async (names: string, strategy: 'auto' | 'none') => {
        await this.#requireClient().request('sensor-sampling', names, strategy);
      };
      const flags = () => this.flags;
      const log = () => this.#log();
      this.#monitor = new SensorMonitor({
        get flags() {
          return flags();
        },
        sample,
        hasUserStrategy: (name) => this.#strategies.has(name),
        get logger() {
          return log();
        },
      });
      const st = this.state;
      if (st.dataSynced) this.#monitor.modelSynced(Object.values(this.#context()?.sensors ?? {}));
      else if (st.connected) this.#monitor.syncing();
    }
    this.#monitor.addWatcher(watcher);
  }

  /** Remove a sensor watcher; the sensors only it wanted go back to `none`. */
  removeSensorWatcher(watcher: AbstractSensorWatcher): boolean {
    return this.#monitor?.removeWatcher(watcher) ?? false;
  }

  /** The watchers' synchronisation state (`disconnected` when there is no watcher). */
  get sensorSyncState(): SyncState {
    return this.#monitor?.state ?? 'disconnected';
  }

  // ---- internals ----

  #requireClient(): KatcpClient {
    if (!this.#client || this.#phase !== 'running') throw new BrokenPipeError('Not connected');
    return this.#client;
  }

  #log(): Logger {
    this.#logger ??= this.#system.logger.child({ katcp: this.address, component: 'InspectingClient' });
    return this.#logger;
  }

  #context():
    | { requests: Record<string, RequestInfo>; sensors: Record<string, SensorInfo>; lastError?: unknown }
    | undefined {
    const actor = this.#actor ?? this.#handle?.current;
    if (!actor) return undefined;
    return (actor.getSnapshot() as { context?: any }).context;
  }

  #send(event: { type: string; [k: string]: unknown }): void {
    const actor = this.#handle?.current;
    if (!actor) return;
    try {
      actor.send(event as never);
    } catch (err) {
      this.#log().warn({ err, event: event.type }, 'could not send to the InspectingClient machine');
    }
  }

  #connectionState(s: string, error: Error | null): void {
    if (this.#phase !== 'running') return;
    if (s === 'negotiating') {
      if (!this.#up) {
        this.#up = true;
        this.#send({ type: 'CONNECTION.UP' });
      }
    } else if (s === 'connected') {
      this.#up = true;
      this.#send({ type: 'CONNECTION.READY', flags: this.#client?.protocol?.flags ?? '' });
    } else if (this.#up) {
      this.#up = false;
      this.#send({ type: 'CONNECTION.DOWN', error });
    }
  }

  /** A state the machine entered: internal bookkeeping now, the user's callback queued. */
  #onState(st: ClientState, modelChanges: ModelChanges | null): void {
    const stateObj = new InspectingClientState(st);
    const changes = toSets(modelChanges);
    if (changes?.sensors) {
      for (const name of changes.sensors.removed) {
        this.#sensorObjects.delete(name);
        this.#readings.delete(name);
      }
    }
    if (changes?.requests) for (const name of changes.requests.removed) this.#requestObjects.delete(name);
    if (st.dataSynced && !st.synced) {
      // S2/S3: a fresh model
      this.#unknown.clear();
      for (const w of [...this.#inspectWaiters]) w(changes);
    }
    const monitor = this.#monitor;
    if (monitor) {
      if (!st.connected) monitor.disconnected();
      else if (!st.dataSynced) monitor.syncing();
      else if (!st.synced || monitor.state === 'disconnected') {
        monitor.modelSynced(Object.values(this.#context()?.sensors ?? {}));
      }
    }
    this.#enqueue(stateObj, changes);
    this.#checkWaiters();
  }

  #enqueue(st: InspectingClientState, changes: ModelChangeSets | null): void {
    this.#queue = this.#queue.then(async () => {
      const cb = this.#stateCallback;
      if (!cb) return;
      try {
        await cb(st, changes);
      } catch (err) {
        this.#log().error({ err, state: String(st) }, 'state callback threw');
      }
    });
  }

  async #callbacksDone(): Promise<void> {
    // the emit of the state being entered may reach #onState after this actor started: let it queue first
    await Promise.resolve();
    let q: Promise<void>;
    do {
      q = this.#queue;
      await q;
    } while (q !== this.#queue);
  }

  // ---- the inspect actor: the wire side of an inspection ----

  async #inspect(scope: InspectionScope, flags: string, signal: AbortSignal): Promise<InspectionResult> {
    const requests: RequestInfo[] = [];
    const sensors: SensorInfo[] = [];
    try {
      if (scope.requests === 'all') requests.push(...(await this.#inspectRequests(null, flags, signal)));
      else if (scope.requests) {
        const found = await Promise.all(scope.requests.map((n) => this.#inspectRequests(n, flags, signal)));
        for (const f of found) requests.push(...f);
      }
      if (scope.sensors === 'all') sensors.push(...(await this.#inspectSensors(null, signal)));
      else if (scope.sensors) {
        const found = await Promise.all(scope.sensors.map((n) => this.#inspectSensors(n, signal)));
        for (const f of found) sensors.push(...f);
      }
    } catch (error) {
      if (error instanceof SyncError) throw error;
      const e = error as Error;
      throw new SyncError(`Sync of ${this.address} failed: ${e?.message ?? String(e)}`, { cause: error });
    }
    return { scope, requests, sensors };
  }

  async #request(name: string, args: ArgValue[], signal: AbortSignal | undefined): Promise<RawReply> {
    return this.#requireClient().requestRaw(name, args, { signal });
  }

  async #inspectRequests(name: string | null, flags: string, signal?: AbortSignal): Promise<RequestInfo[]> {
    const { reply, informs } = await this.#request('help', name === null ? [] : [name], signal);
    if (!isOk(reply)) {
      if (name !== null) return []; // a named lookup the server does not know: removed
      throw new SyncError(`Error reply during sync process for ${this.address}: ${messageText(reply)}`);
    }
    const infos = new Map<string, RequestInfo>();
    for (const m of informs) {
      if (m.name !== 'help' || m.args.length < 1) continue;
      const n = argText(m, 0);
      if (name !== null && n !== name) continue;
      infos.set(n, { name: n, description: argText(m, 1), timeoutHint: null });
    }
    if (flags.includes('T') && infos.size > 0) {
      const hint = await this.#request('request-timeout-hint', name === null ? [] : [name], signal);
      if (!isOk(hint.reply)) {
        throw new SyncError(
          `Error retrieving request timeout hints for ${this.address}: ${messageText(hint.reply)}`,
        );
      }
      for (const m of hint.informs) {
        if (m.name !== 'request-timeout-hint' || m.args.length < 2) continue;
        const info = infos.get(argText(m, 0));
        if (!info) continue;
        let h: number;
        try {
          h = decodeFloat(m.args[1]);
        } catch {
          continue;
        }
        if (h > 0) info.timeoutHint = h;
      }
    }
    return [...infos.values()];
  }

  async #inspectSensors(name: string | null, signal?: AbortSignal): Promise<SensorInfo[]> {
    const { reply, informs } = await this.#request('sensor-list', name === null ? [] : [name], signal);
    if (!isOk(reply)) {
      if (name !== null) return [];
      throw new SyncError(`Error reply during sync process for ${this.address}: ${messageText(reply)}`);
    }
    const out: SensorInfo[] = [];
    for (const m of informs) {
      if (m.name !== 'sensor-list' || m.args.length < 4) continue;
      const n = argText(m, 0);
      if (name !== null && n !== name) continue;
      out.push({
        name: n,
        description: argText(m, 1),
        units: argText(m, 2),
        type: argText(m, 3),
        params: m.args.slice(4).map((a) => a.toString('utf8')),
      });
    }
    return out;
  }

  /** A single-name lookup outside the machine's inspections (futureGet*, unknown sensors): MODEL.UPDATE. */
  async #lookup(scope: InspectionScope, signal: AbortSignal | undefined): Promise<void> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await this.#inspect(scope, this.flags, ac.signal);
      if (this.#phase !== 'running') return;
      if (Array.isArray(scope.sensors)) {
        for (const n of scope.sensors) {
          const found = result.sensors.find((s) => s.name === n);
          const old = this.sensorInfo(n);
          if (!found || (old && JSON.stringify(old) !== JSON.stringify(found))) this.#sensorObjects.delete(n);
        }
      }
      if (Array.isArray(scope.requests)) {
        for (const n of scope.requests) {
          if (!result.requests.some((r) => r.name === n)) this.#requestObjects.delete(n);
        }
      }
      this.#send({ type: 'MODEL.UPDATE', result });
      if (this.#monitor && this.state.dataSynced) {
        this.#monitor.modelSynced(Object.values(this.#context()?.sensors ?? {}));
      }
      // a sensor that appeared with a strategy in the cache gets it now
      for (const s of result.sensors) {
        const strategy = this.#strategies.get(s.name);
        if (strategy) void this.#sendStrategy(s.name, strategy);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #sensorObject(name: string): Sensor | null {
    let s = this.#sensorObjects.get(name);
    if (s) return s;
    const info = this.sensorInfo(name);
    if (!info) return null;
    try {
      s = this.#sensorFactory(info);
    } catch (err) {
      this.#log().warn({ err, sensor: name }, 'sensorFactory threw');
      return null;
    }
    this.#sensorObjects.set(name, s);
    return s;
  }

  // ---- the hot path: #sensor-status ----

  #sensorStatus(m: KatcpMessage): void {
    const args = m.args;
    let n: number;
    let timestamp: number;
    try {
      timestamp = decodeTimestamp(args[0] ?? '');
      n = decodeInt(args[1] ?? '');
    } catch (err) {
      this.#log().warn({ err, line: messageText(m) }, `malformed #${m.name}`);
      return;
    }
    if (n < 0 || args.length !== 2 + 3 * n) {
      this.#log().warn({ line: messageText(m) }, `#${m.name}: wrong number of arguments`);
      return;
    }
    const monitor = this.#monitor;
    monitor?.batchStart();
    try {
      for (let i = 0; i < n; i++) {
        const nameBuf = args[2 + 3 * i];
        const statusBuf = args[3 + 3 * i];
        const valueBuf = args[4 + 3 * i];
        const name = nameBuf.toString('utf8');
        const sensor = this.#sensorObjects.get(name) ?? this.#sensorObject(name);
        if (sensor) {
          try {
            sensor.setFormatted(args[0], statusBuf, valueBuf);
            this.#noteReading(name, sensor);
          } catch (err) {
            this.#log().warn({ err, sensor: name }, 'bad sensor reading ignored');
          }
        } else this.#unknownSensor(name, args[0], statusBuf, valueBuf);
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
    if (this.#phase !== 'running' || !this.state.dataSynced) return;
    if (this.#unknown.has(name)) return;
    if (this.#lookups.has(name)) {
      this.#held.set(name, [ts, status, value]);
      return;
    }
    if (this.#lookups.size >= MAX_PENDING_LOOKUPS) {
      this.#log().warn({ sensor: name }, 'reading of an unknown sensor dropped (too many lookups pending)');
      return;
    }
    this.#held.set(name, [ts, status, value]);
    const p = this.#lookup({ requests: null, sensors: [name] }, undefined)
      .then(
        () => {
          const held = this.#held.get(name);
          const sensor = this.#sensorObject(name);
          if (sensor && held) {
            try {
              sensor.setFormatted(held[0], held[1], held[2]);
              this.#noteReading(name, sensor);
            } catch (err) {
              this.#log().warn({ err, sensor: name }, 'bad sensor reading ignored');
            }
          } else if (!sensor) {
            if (this.#unknown.size >= MAX_UNKNOWN_NAMES) this.#unknown.clear();
            this.#unknown.add(name);
            this.#log().warn({ sensor: name }, 'reading of a sensor the device does not list');
          }
        },
        (err) => this.#log().warn({ err, sensor: name }, 'lookup of an unknown sensor failed'),
      )
      .finally(() => {
        this.#lookups.delete(name);
        this.#held.delete(name);
      });
    this.#lookups.set(name, p);
  }

  /** Fold readings into the machine's context for the inspector, at most once per READINGS_INTERVAL. */
  #noteReading(name: string, sensor: Sensor): void {
    this.#readings.set(name, sensor.reading);
    if (this.#readingsTimer !== undefined || this.#phase !== 'running') return;
    this.#readingsTimer = this.#system.clock.setTimeout(() => {
      this.#readingsTimer = undefined;
      if (this.#phase !== 'running' || this.#readings.size === 0) return;
      const readings: Record<string, { status: string; value: unknown; timestamp: number }> = {};
      for (const [n, r] of this.#readings)
        readings[n] = { status: r.status, value: r.value, timestamp: r.timestamp };
      this.#readings = new Map();
      this.#send({ type: 'SENSOR.READINGS', readings });
    }, READINGS_INTERVAL);
  }
}

function checkUpdate(options: LookupOptions): boolean {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('options must be an object');
  if (options.update !== undefined && typeof options.update !== 'boolean') {
    throw new InvalidArgumentError('update must be a boolean');
  }
  return options.update ?? true;
}

/** Whether `error` is one of the KATCP errors (a typed protocol, transport or reply error). */
export function isKatcpError(error: unknown): error is KatcpError {
  return error instanceof KatcpError;
}
