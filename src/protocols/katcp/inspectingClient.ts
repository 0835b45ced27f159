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
 * This file is the public face and the glue; each concept is a file of its own: `clientActors.ts` (the machine and
 * the connection under one supervisor), `inspection.ts` (the `inspect` actor's requests), `stateCallbacks.ts`
 * (the serialised callback queue, `callbacksDone`), `stateWaits.ts` (the `until*` waits), `modelObjects.ts` (the
 * Sensor and request objects), `samplingStrategies.ts` (the strategy cache, set, bulk set, re-apply),
 * `sensorStatus.ts` (the hot path, unknown-sensor lookups, readings for the inspector), `inspectingClientState.ts`
 * (the state value, S0..S4) and `inspectingClientOptions.ts` (options and argument checks). Every public name is
 * exported from here.
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
import {
  type ClientState,
  type InspectionScope,
  type ModelChanges,
  type RequestInfo,
  type SensorInfo,
  stateOf,
} from '../../../machines/katcp/inspectingClient.js';
import { checkSystem } from '../../api/lifecycle.js';
import type { ActorHandle } from '../../engine/handle.js';
import type { Logger } from '../../engine/logging.js';
import { getDefaultSystem, type OrrerySystem } from '../../engine/system.js';
import { CancelledError, InvalidArgumentError, InvalidStateError, TimeoutError } from '../../errors.js';
import type { KatcpClient, RawReply, RequestOptions } from './client.js';
import { ClientActors, type InspectingClientLogic as Logic } from './clientActors.js';
import type { ArgValue } from './codec.js';
import { BrokenPipeError, KatcpError } from './errors.js';
import {
  checkClientOptions,
  checkClientState,
  checkName,
  checkUpdate,
  checkWait,
  type InspectingClientOptions,
  type LookupOptions,
  type WaitOptions,
} from './inspectingClientOptions.js';
import { InspectingClientState, type ModelChangeSets, STATES, toSets } from './inspectingClientState.js';
import { type InspectedDevice, inspectDevice } from './inspection.js';
import {
  defaultRequestFactory,
  defaultSensorFactory,
  type KatcpRequest,
  ModelObjects,
} from './modelObjects.js';
import { type SamplingResult, SamplingStrategies, type StrategyInput } from './samplingStrategies.js';
import type { Sensor } from './sensor.js';
import { type AbstractSensorWatcher, SensorMonitor, type SyncState } from './sensorMonitor.js';
import { SensorStatusDispatch } from './sensorStatus.js';
import { type StateCallback, StateCallbacks } from './stateCallbacks.js';
import { StateWaits } from './stateWaits.js';
import './view.js';
import type { SamplingStrategy } from './wire.js';

export type { ClientState, RequestInfo, SensorInfo } from '../../../machines/katcp/inspectingClient.js';
export type { InspectingClientOptions, LookupOptions, WaitOptions } from './inspectingClientOptions.js';
export { InspectingClientState, type ModelChangeSets, STATES } from './inspectingClientState.js';
export type { KatcpRequest } from './modelObjects.js';
export type { SamplingResult, StrategyInput } from './samplingStrategies.js';
export { MAX_PENDING_LOOKUPS } from './sensorStatus.js';
export type { StateCallback } from './stateCallbacks.js';

type Phase = 'new' | 'running' | 'stopping' | 'stopped';

/** The facade: see the module comment. */
export class InspectingClient {
  readonly host: string;
  readonly port: number;
  readonly #system: OrrerySystem;
  readonly #options: InspectingClientOptions;
  readonly #callbacks: StateCallbacks;
  readonly #waits: StateWaits;
  readonly #objects: ModelObjects;
  readonly #strategies: SamplingStrategies;
  readonly #status: SensorStatusDispatch;
  readonly #actors: ClientActors;
  /** The device as the inspections see it: requests go through the connection while running. */
  readonly #device: InspectedDevice;
  #phase: Phase = 'new';
  /**
   * The pending `inspect()` calls: given the changes of an S2/S3, or the error that ends them. Each takes only the
   * S2/S3 of an inspection started after the call (false: not this one, wait on).
   */
  readonly #inspectWaiters = new Set<(outcome: ModelChangeSets | null | Error) => boolean>();
  #monitor: SensorMonitor | null = null;
  #stopped: Promise<void> | null = null;
  #logger: Logger | null = null;

  constructor(host: string, port: number, options: InspectingClientOptions = {}) {
    checkClientOptions(host, port, options);
    this.#system = checkSystem(options.system) ?? getDefaultSystem();
    this.host = host;
    this.port = port;
    this.#options = { ...options };
    const running = () => this.#phase === 'running';
    this.#device = {
      address: this.address,
      request: async (name, args, signal) => this.#requireClient().requestRaw(name, args, { signal }),
    };
    const log = () => this.#log();
    this.#callbacks = new StateCallbacks(options.stateCallback ?? null, log);
    this.#waits = new StateWaits({
      address: this.address,
      clock: this.#system.clock,
      stopped: () => this.#phase === 'stopped',
    });
    this.#objects = new ModelObjects(
      {
        sensorInfo: (name) => this.sensorInfo(name),
        requestInfo: (name) => this.requestInfo(name),
        get logger() {
          return log();
        },
      },
      options.sensorFactory ?? defaultSensorFactory,
      options.requestFactory ?? defaultRequestFactory,
    );
    const flags = () => this.flags;
    this.#strategies = new SamplingStrategies({
      get flags() {
        return flags();
      },
      running,
      sensors: () => this.#context()?.sensors ?? {},
      simpleRequest: (name, ...args) => this.simpleRequest(name, ...args),
      get logger() {
        return log();
      },
    });
    const monitor = () => this.#monitor;
    this.#status = new SensorStatusDispatch({
      running,
      dataSynced: () => this.state.dataSynced,
      get monitor() {
        return monitor();
      },
      objects: this.#objects,
      lookup: (scope) => this.#lookup(scope, undefined),
      send: (event) => this.#send(event),
      clock: this.#system.clock,
      get logger() {
        return log();
      },
    });
    const self = this;
    this.#actors = new ClientActors(
      {
        host,
        port,
        address: this.address,
        system: this.#system,
        options: this.#options,
        running,
        device: this.#device,
        callbacks: this.#callbacks,
        reapplySampling: () => this.reapplySamplingStrategies(),
        onState: (st, changes) => this.#onState(st, changes),
        changed: () => this.#waits.check(),
        sensorStatus: (m) => this.#status.dispatch(m),
        stop: () => this.stop(),
        get logger() {
          return self.#log();
        },
      },
      options.supervisor,
    );
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
    this.#actors.start();
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
    this.#actors.stopping();
    this.#monitor?.close();
    this.#status.stopTimer();
    await this.#actors.close();
    await this.#callbacks.settled;
    this.#phase = 'stopped';
    this.#status.clearLookups();
    for (const w of [...this.#inspectWaiters])
      w(new CancelledError(`InspectingClient ${this.address} is stopped`));
    this.#waits.check();
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
    const handle = this.#actors.handle;
    if (this.#phase !== 'running' || !handle) return STATES.disconnected;
    try {
      return new InspectingClientState(stateOf(handle.getSnapshot()));
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
    return this.#actors.client?.protocol?.flags ?? '';
  }
  /** The connection (a `KatcpClient`), once started. */
  get connection(): KatcpClient | null {
    return this.#actors.client;
  }
  /** The machine's actor handle, once started. */
  get actor(): ActorHandle<Logic> | null {
    return this.#actors.handle;
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
  /**
   * What the model says of a request (no lookup). Own entries only: the index is a plain object, so `toString`
   * or `constructor` would otherwise be found on its prototype.
   */
  requestInfo(name: string): RequestInfo | undefined {
    const requests = this.#context()?.requests;
    return requests && Object.hasOwn(requests, name) ? requests[name] : undefined;
  }
  /** What the model says of a sensor (no lookup; own entries only, as `requestInfo`). */
  sensorInfo(name: string): SensorInfo | undefined {
    const sensors = this.#context()?.sensors;
    return sensors && Object.hasOwn(sensors, name) ? sensors[name] : undefined;
  }

  /**
   * Set the state callback `cb(state, modelChanges)` (null removes it). Calls are serialised: the next state's
   * call comes only after the previous one settled (a returned promise is awaited), and the machine announces
   * S4 only after the S2/S3 call settled. A callback's exception is logged.
   */
  setStateCallback(cb: StateCallback | null): void {
    if (cb !== null && typeof cb !== 'function')
      throw new InvalidArgumentError('the state callback must be a function');
    this.#callbacks.callback = cb;
  }

  /**
   * Wait until the state equals `desired` (now if it does); rejects with InvalidArgumentError unless `desired` is
   * one of S0..S4 (katcp-python raises ValueError).
   */
  untilState(desired: ClientState, options: WaitOptions = {}): Promise<void> {
    let want: InspectingClientState;
    try {
      want = new InspectingClientState(checkClientState(desired));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#waits.wait(
      () => want.equals(this.state),
      `state ${want}`,
      options,
      want.equals(STATES.disconnected),
    );
  }
  /** Wait until S4. */
  untilSynced(options: WaitOptions = {}): Promise<void> {
    return this.#waits.wait(() => this.state.synced, 'synced', options);
  }
  /** Wait until not synced (any state but S4). */
  untilNotSynced(options: WaitOptions = {}): Promise<void> {
    return this.#waits.wait(() => !this.state.synced, 'not synced', options, true);
  }
  /** Wait until data is synced (S2, S3 or S4). */
  untilDataSynced(options: WaitOptions = {}): Promise<void> {
    return this.#waits.wait(() => this.state.dataSynced, 'data synced', options);
  }
  /** Wait until connected (S1..S4). */
  untilConnected(options: WaitOptions = {}): Promise<void> {
    return this.#waits.wait(() => this.state.connected, 'connected', options);
  }
  /** Wait until `stop()` finished. */
  untilStopped(options: WaitOptions = {}): Promise<void> {
    return this.#waits.wait(() => this.#phase === 'stopped', 'stopped', options, true);
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
      this.#requireClient();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#requireClient().requestRaw(name, args, options);
  }

  // ---- model lookups ----

  /**
   * Whether the device has the sensor (katcp-python `future_check_sensor`): waits until data is synced, then, if
   * the name is unknown and `update` (default true), asks the server about that name only, and answers from the
   * model once data is synced again (as upstream, which checks again without update): an `#interface-changed`
   * while the lookup was in flight re-inspects the device, and the answer is the model that re-inspection left.
   * A server that fails the lookup for another reason than not knowing the name rejects it with SyncError, as
   * katcp-python raises it.
   */
  async futureCheckSensor(name: string, options: LookupOptions = {}): Promise<boolean> {
    checkName('sensor name', name);
    const update = checkUpdate(options);
    await this.untilDataSynced(options);
    if (this.sensorInfo(name)) return true;
    if (!update) return false;
    await this.#lookup({ requests: null, sensors: [name] }, options.signal);
    await this.untilDataSynced(options);
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
    await this.untilDataSynced(options);
    return this.requestInfo(name) !== undefined;
  }

  /**
   * The Sensor object of `name`, or null when the device has no such sensor (katcp-python `future_get_sensor`):
   * built once with `sensorFactory` and cached; `#sensor-status` informs update it.
   */
  async futureGetSensor(name: string, options: LookupOptions = {}): Promise<Sensor | null> {
    if (!(await this.futureCheckSensor(name, options))) return null;
    return this.#objects.sensor(name);
  }

  /** The request object of `name`, or null (katcp-python `future_get_request`), built once with `requestFactory`. */
  async futureGetRequest(name: string, options: LookupOptions = {}): Promise<KatcpRequest | null> {
    if (!(await this.futureCheckRequest(name, options))) return null;
    return this.#objects.request(name);
  }

  /**
   * Re-inspect the whole device now (katcp-python `inspect`): resolves with the model changes of that inspection
   * (null when nothing changed), once it is data-synced. An inspection already in flight (an incremental one after
   * `#interface-changed`, say) began before the call: the full one follows it, and that one's changes are the answer. Rejects with TimeoutError after `timeout` ms (the
   * inspection itself goes on, retried with the backoff as any other), with CancelledError on `signal` and when
   * the client stops first (never a null that would say nothing changed).
   */
  inspect(options: WaitOptions = {}): Promise<ModelChangeSets | null> {
    const { timeout, signal } = checkWait(options);
    if (this.#phase !== 'running')
      return Promise.reject(new BrokenPipeError('InspectingClient is not running'));
    const clock = this.#system.clock;
    return new Promise<ModelChangeSets | null>((resolve, reject) => {
      let timer: unknown;
      const settle = () => {
        this.#inspectWaiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
        if (timer !== undefined) clock.clearTimeout(timer as never);
      };
      const onAbort = () => {
        settle();
        reject(new CancelledError('inspect was cancelled'));
      };
      // an inspection in flight now began before this call: its S2/S3 (maybe of a single sensor's lookup) is not
      // the full one asked for, which the INTERFACE_CHANGED below queues right after it
      const startedBefore = this.#actors.inspectionsStarted;
      const done = (outcome: ModelChangeSets | null | Error) => {
        if (!(outcome instanceof Error) && this.#actors.inspectionsStarted <= startedBefore) return false;
        settle();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
        return true;
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== null && timeout !== Number.POSITIVE_INFINITY) {
        timer = clock.setTimeout(() => {
          settle();
          reject(new TimeoutError(`inspection of ${this.address} not done within ${timeout} ms`));
        }, timeout);
      }
      this.#inspectWaiters.add(done);
      this.#send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'all' }] });
    });
  }

  // ---- sampling ----

  /** The cached strategies (set by the user), by sensor name. */
  get samplingStrategies(): ReadonlyMap<string, SamplingStrategy> {
    return this.#strategies.map;
  }

  /**
   * Set a sensor's sampling strategy (katcp-python resource `set_sampling_strategy`): normalised, cached BEFORE it
   * is sent (so it is re-applied after every reconnect even if this send fails), then `?sensor-sampling`.
   * Resolves `[true, 'period 0.5']` or `[false, message]`; never rejects.
   */
  setSamplingStrategy(name: string, strategy: StrategyInput): Promise<SamplingResult> {
    return this.#strategies.set(name, strategy);
  }

  /**
   * Set one strategy on many sensors: the bulk comma form `?sensor-sampling a,b,c ...` when the server has flag
   * `B` (one at a time if that fails, or without `B`). Each strategy is cached first. Never rejects.
   */
  setSamplingStrategies(
    names: readonly string[],
    strategy: StrategyInput,
  ): Promise<Map<string, SamplingResult>> {
    return this.#strategies.setMany(names, strategy);
  }

  /**
   * Re-send every cached strategy of a sensor that still exists (katcp-python `reapply_sampling_strategies`); the
   * machine runs it on every S2/S3, so strategies survive reconnects and server restarts. Bulk per strategy
   * when the server has flag `B`.
   */
  reapplySamplingStrategies(): Promise<Map<string, SamplingResult>> {
    return this.#strategies.reapply();
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
        hasUserStrategy: (name) => this.#strategies.map.has(name),
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
    const client = this.#actors.client;
    if (!client || this.#phase !== 'running') throw new BrokenPipeError('Not connected');
    return client;
  }

  #log(): Logger {
    this.#logger ??= this.#system.logger.child({ katcp: this.address, component: 'InspectingClient' });
    return this.#logger;
  }

  #context():
    | { requests: Record<string, RequestInfo>; sensors: Record<string, SensorInfo>; lastError?: unknown }
    | undefined {
    return this.#actors.context();
  }

  #send(event: { type: string; [k: string]: unknown }): void {
    this.#actors.send(event);
  }

  /** A state the machine entered: internal bookkeeping now, the user's callback queued. */
  #onState(st: ClientState, modelChanges: ModelChanges | null): void {
    const stateObj = new InspectingClientState(st);
    const changes = toSets(modelChanges);
    if (changes?.sensors) {
      for (const name of changes.sensors.removed) {
        this.#objects.forgetSensor(name);
        this.#status.forgetSensor(name);
      }
    }
    if (changes?.requests) for (const name of changes.requests.removed) this.#objects.forgetRequest(name);
    if (st.dataSynced && !st.synced) {
      // S2/S3: a fresh model
      this.#status.modelRefreshed();
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
    this.#callbacks.enqueue(stateObj, changes);
    this.#waits.check();
  }

  /** A single-name lookup outside the machine's inspections (futureGet*, unknown sensors): MODEL.UPDATE. */
  async #lookup(scope: InspectionScope, signal: AbortSignal | undefined): Promise<void> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await inspectDevice(this.#device, scope, this.flags, ac.signal);
      if (this.#phase !== 'running') return;
      this.#objects.forgetStale(scope, result);
      this.#send({ type: 'MODEL.UPDATE', result });
      if (this.#monitor && this.state.dataSynced) {
        this.#monitor.modelSynced(Object.values(this.#context()?.sensors ?? {}));
      }
      // a sensor that appeared with a strategy in the cache gets it now
      for (const s of result.sensors) {
        const strategy = this.#strategies.map.get(s.name);
        if (strategy) void this.#strategies.send(s.name, strategy);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** Whether `error` is one of the KATCP errors (a typed protocol, transport or reply error). */
export function isKatcpError(error: unknown): error is KatcpError {
  return error instanceof KatcpError;
}
