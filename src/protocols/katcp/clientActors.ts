/**
 * The two actors behind an `InspectingClient`: the `inspectingClient` machine, given its effects (`inspect`,
 * `callbacksDone`, `reapplySampling`), and the `KatcpClient` connection, both spawned under one supervisor (a new
 * one named `katcp:<host>:<port>[:n]` unless the user gave one; that one is removed on stop). The connection's
 * states become CONNECTION.UP / READY / DOWN (one DOWN per drop), `#interface-changed` and `#device-changed` become
 * INTERFACE_CHANGED, `#sensor-status` (and `#sensor-value` if asked) go to the client's dispatch; the machine's
 * `state` emits go to the client, also from each new incarnation after a restart (which starts in S0).
 */
import type { AnyActorRef } from 'xstate';
import { fromPromise } from 'xstate';
import {
  type ClientState,
  type InspectingClientInput,
  type InspectionResult,
  type InspectionScope,
  inspectingClientMachine,
  type ModelChanges,
  type RequestInfo,
  type SensorInfo,
} from '../../../machines/katcp/inspectingClient.js';
import type { ActorHandle } from '../../engine/handle.js';
import type { Logger } from '../../engine/logging.js';
import type { Supervisor } from '../../engine/supervisor.js';
import type { OrrerySystem } from '../../engine/system.js';
import { KatcpClient } from './client.js';
import type { KatcpMessage } from './codec.js';
import type { InspectingClientOptions } from './inspectingClientOptions.js';
import { STATES } from './inspectingClientState.js';
import { type InspectedDevice, inspectDevice } from './inspection.js';
import type { StateCallbacks } from './stateCallbacks.js';
import { parseInterfaceChanged } from './wire.js';

const DEFAULT_SUPERVISOR_PREFIX = 'katcp';

/** The machine's logic as spawned. */
export type InspectingClientLogic = typeof inspectingClientMachine;
type Logic = InspectingClientLogic;

let supervisorCounter = 0;

/** What the actors need from their InspectingClient. */
export interface ClientActorsHost {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly system: OrrerySystem;
  readonly options: InspectingClientOptions;
  /** Whether the client runs (connection states are ignored otherwise). */
  running(): boolean;
  /** The device for the machine's `inspect` actor. */
  readonly device: InspectedDevice;
  /** The state-callback queue (`callbacksDone`; the S0 of each incarnation's start is queued here). */
  readonly callbacks: StateCallbacks;
  /** The machine's `reapplySampling` action (run in a microtask). */
  reapplySampling(): void;
  /** A state the machine entered. */
  onState(state: ClientState, modelChanges: ModelChanges | null): void;
  /** The machine's snapshot changed (or it ended): the waits are checked. */
  changed(): void;
  /** A `#sensor-status` (or `#sensor-value`) inform. */
  sensorStatus(m: KatcpMessage): void;
  /** The system stops: stop the client. */
  stop(): void;
  readonly logger: Logger;
}

/** The machine and the connection of one client. */
export class ClientActors {
  readonly #host: ClientActorsHost;
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
  /** The machine's inspections started so far (each run of its `inspect` actor, a retry included). */
  #inspectionsStarted = 0;

  constructor(host: ClientActorsHost, supervisor: Supervisor | string | undefined) {
    this.#host = host;
    this.#supervisor = supervisor;
  }

  /** The connection, once started. */
  get client(): KatcpClient | null {
    return this.#client;
  }
  /** The machine's handle, once started. */
  get handle(): ActorHandle<Logic> | null {
    return this.#handle;
  }
  /**
   * How many inspections the machine has started (runs of its `inspect` actor): an S2/S3 announced while this is
   * still the count seen at some moment ends an inspection that began before that moment.
   */
  get inspectionsStarted(): number {
    return this.#inspectionsStarted;
  }

  /** Spawn the machine and the connection under the supervisor and listen to them. */
  start(): void {
    const system = this.#host.system;
    let supervisor = this.#supervisor;
    let base: string;
    if (supervisor === undefined) {
      let name = `${DEFAULT_SUPERVISOR_PREFIX}:${this.#host.host}:${this.#host.port}`;
      for (let n = 2; system.supervisorActor(name) !== undefined; n++) {
        name = `${DEFAULT_SUPERVISOR_PREFIX}:${this.#host.host}:${this.#host.port}:${n}`;
      }
      this.#ownSupervisor = system.supervisor(name, { strategy: 'one_for_one' });
      supervisor = this.#ownSupervisor;
      base = name;
    } else {
      base = `katcp:${this.#host.host}:${this.#host.port}:${++supervisorCounter}`;
    }
    this.#supervisor = supervisor;
    const o = this.#host.options;
    const input: InspectingClientInput = {
      address: this.#host.address,
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
          ({ input, signal }) => {
            this.#inspectionsStarted++;
            return inspectDevice(this.#host.device, input.scope, input.flags, signal);
          },
        ),
        callbacksDone: fromPromise<void, void>(() => this.#host.callbacks.done()),
      },
      actions: {
        reapplySampling: () => {
          queueMicrotask(() => void this.#host.reapplySampling());
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
    this.#host.callbacks.enqueue(STATES.disconnected, null);
    this.#attach();
    this.#unsubscribe = this.#handle.subscribe({
      next: () => {
        if (this.#handle?.current && this.#handle.current !== this.#actor) {
          this.#attach();
          this.#host.callbacks.enqueue(STATES.disconnected, null);
        }
        this.#host.changed();
      },
      error: () => this.#host.changed(),
      complete: () => this.#host.changed(),
    });
    const client = new KatcpClient(this.#host.host, this.#host.port, {
      system,
      supervisor,
      id: `${base}:connection`,
      autoReconnect: o.autoReconnect,
      requestTimeout: o.requestTimeout,
      negotiationTimeout: o.negotiationTimeout,
      maxLineLength: o.maxLineLength,
      maxBacklog: o.maxBacklog,
      random: o.random,
    });
    this.#client = client;
    this.#cleanups.push(
      client.onStateChange((s, error) => this.#connectionState(s, error)),
      client.addInformHandler('interface-changed', (m) =>
        this.send({ type: 'INTERFACE_CHANGED', changes: parseInterfaceChanged(m.args) }),
      ),
      client.addInformHandler('device-changed', () => {
        this.#host.logger.warn('#device-changed is deprecated; re-inspecting everything');
        this.send({ type: 'INTERFACE_CHANGED', changes: [{ kind: 'all' }] });
      }),
      client.addInformHandler('sensor-status', (m) => this.#host.sensorStatus(m)),
      system.onStop(() => void this.#host.stop()),
    );
    if (o.handleSensorValue) {
      this.#cleanups.push(client.addInformHandler('sensor-value', (m) => this.#host.sensorStatus(m)));
    }
    this.#connectionState(client.state, client.lastError);
  }

  #attach(): void {
    this.#offState?.();
    const actor = this.#handle?.current;
    this.#actor = actor ?? null;
    if (!actor) return;
    const sub = actor.on('state', (e: { state: ClientState; modelChanges: ModelChanges | null }) =>
      this.#host.onState(e.state, e.modelChanges),
    );
    this.#offState = () => sub.unsubscribe();
  }

  /** The machine's context (of the incarnation listened to), once started. */
  context():
    | { requests: Record<string, RequestInfo>; sensors: Record<string, SensorInfo>; lastError?: unknown }
    | undefined {
    const actor = this.#actor ?? this.#handle?.current;
    if (!actor) return undefined;
    return (actor.getSnapshot() as { context?: any }).context;
  }

  /** Send an event to the machine's current incarnation (a failure is logged). */
  send(event: { type: string; [k: string]: unknown }): void {
    const actor = this.#handle?.current;
    if (!actor) return;
    try {
      actor.send(event as never);
    } catch (err) {
      this.#host.logger.warn({ err, event: event.type }, 'could not send to the InspectingClient machine');
    }
  }

  #connectionState(s: string, error: Error | null): void {
    if (!this.#host.running()) return;
    if (s === 'negotiating') {
      if (!this.#up) {
        this.#up = true;
        this.send({ type: 'CONNECTION.UP' });
      }
    } else if (s === 'connected') {
      this.#up = true;
      this.send({ type: 'CONNECTION.READY', flags: this.#client?.protocol?.flags ?? '' });
    } else if (this.#up) {
      this.#up = false;
      this.send({ type: 'CONNECTION.DOWN', error });
    }
  }

  /** Stopping, first step: STOP to the machine, the connection's listeners and the system's onStop removed. */
  stopping(): void {
    this.send({ type: 'STOP' });
    for (const c of this.#cleanups.splice(0)) c();
  }

  /** Stopping, last step: close the connection, stop listening, remove the machine and our own supervisor. */
  async close(): Promise<void> {
    try {
      await this.#client?.close();
    } catch (err) {
      this.#host.logger.warn({ err }, 'closing the connection failed');
    }
    this.#offState?.();
    this.#offState = null;
    this.#unsubscribe?.unsubscribe();
    this.#unsubscribe = null;
    if (!this.#host.system.stopped) {
      this.#handle?.stop();
      if (this.#ownSupervisor) {
        const parent = this.#host.system.root;
        parent.stopChild(this.#ownSupervisor.systemId);
      }
    }
  }
}
