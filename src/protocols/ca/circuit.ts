/**
 * `CircuitConnection`: one Channel Access TCP virtual circuit per (server address, priority), shared by its
 * channels. The lifecycle is `machines/ca/circuit.ts` (connecting, connected, probing with an ECHO after
 * `connectionTimeoutMs` of silence, unresponsive after `echoTimeoutMs` without a reply, closed), spawned as a
 * `temporary` actor under a supervisor of the given system (`ca:circuits` unless one is given; a system of its
 * own on `clock` when none is given, stopped when the circuit closes). The socket and its FrameParser are the
 * machine's `socket` actor (`circuitSocket.ts`); frames and writes never pass through XState.
 *
 * - `send(bytes)` queues whole messages: before the connection they wait (bounded by `maxQueuedBytes`, a
 *   CircuitQueueFullError beyond) behind the handshake VERSION(priority), HOST_NAME, CLIENT_NAME; once connected
 *   the writes of one turn leave in one `socket.write`, and the bytes the socket has not written yet stay bounded
 *   by `maxQueuedBytes` too (a server that stops reading: CircuitQueueFullError). After the circuit closed it
 *   returns false.
 * - The TCP connect is bounded by `connectTimeoutMs` (default `connectionTimeoutMs`, 30 s when that is Infinity):
 *   a server whose SYN goes unanswered closes the circuit with a CaTimeoutError then (reason `connect-failed`,
 *   the socket destroyed), not after the kernel's ~127 s.
 * - `onFrame` listeners get every frame but VERSION and ECHO replies, in order (a throwing listener is logged).
 * - `onState` listeners hear each state once, `closed` exactly once with its error: CaDisconnectedError (connect
 *   failure, peer close, `close()` without an error), CaProtocolError (malformed frame), CaTimeoutError
 *   (unresponsive, or the connect not answered in time), SystemStoppedError (the system stopped), or the error
 *   given to `close(error)`.
 * - After `closed` no socket and no timer of the circuit is left (`closed` promise: the socket is released).
 *
 * Differences from caproto, on purpose: one actor per circuit with an explicit state (caproto keeps flags and an
 * Event); the echo probe is per circuit (see the machine's header).
 */
import {
  type CircuitCloseReason,
  type CircuitMachineState,
  circuitMachine,
} from '../../../machines/ca/circuit.js';
import type { Clock } from '../../engine/clock.js';
import type { ActorHandle } from '../../engine/handle.js';
import { type Logger, silentLogger } from '../../engine/logging.js';
import type { Supervisor } from '../../engine/supervisor.js';
import { createSystem, type OrrerySystem } from '../../engine/system.js';
import {
  type CircuitLink,
  type CircuitSocketSink,
  circuitSocket,
  DEFAULT_MAX_QUEUED_BYTES,
} from './circuitSocket.js';
import { clientName, hostName, versionRequest } from './commands.js';
import { DEFAULT_CONN_TMO_MS, ECHO_TIMEOUT_MS, MAX_PRIORITY } from './constants.js';
import { CaDisconnectedError, CaValueError } from './errors.js';
import type { CaFrame } from './frame.js';
import { heardEveryMs } from './heard.js';

export type { CircuitCloseReason } from '../../../machines/ca/circuit.js';
export { CircuitQueueFullError } from './circuitSocket.js';

export interface CircuitKey {
  host: string;
  port: number;
  priority: number;
}

export type CircuitState = 'connecting' | 'connected' | 'unresponsive' | 'closed';

export interface CircuitOptions {
  key: CircuitKey;
  /** The clock of `lastHeardMs` and HEARD throttling: the system's clock (a system made here runs on it). */
  clock: Clock;
  hostName: string;
  clientName: string;
  /** Silence before an ECHO probe (`EPICS_CA_CONN_TMO`), ms; Infinity for never. */
  connectionTimeoutMs: number;
  /** ECHO reply deadline, ms (default libca's 5000). */
  echoTimeoutMs?: number;
  /**
   * Bound on the TCP connect, ms: a server that does not answer by then closes the circuit with a CaTimeoutError
   * (the socket destroyed). Default `connectionTimeoutMs`, or `EPICS_CA_CONN_TMO`'s default 30 s when that is
   * Infinity (the echo probe can be turned off, the connect bound cannot).
   */
  connectTimeoutMs?: number;
  logger?: Logger;
  system?: OrrerySystem;
  /** Supervisor to spawn the circuit under (default `ca:circuits` of the system, created when missing). */
  supervisor?: Supervisor | string;
  /** Bytes `send` may queue unsent, while connecting or once connected (default 16 MiB); one message larger than
   *  that is taken into an empty queue. */
  maxQueuedBytes?: number;
  /** Largest payload accepted from the server (default the FrameParser's 64 MiB). */
  maxPayload?: number;
  /** The socket does not keep the process alive (as `unref()`). */
  unref?: boolean;
}

type CircuitLogic = typeof circuitMachine;

/** The supervisor circuits go under when none is given. */
export const CIRCUIT_SUPERVISOR = 'ca:circuits';

let circuitCount = 0;

/** Live connections by actor id: how the shared machine's effects find theirs. */
const connections = new Map<string, CircuitConnection>();

/**
 * The circuit machine with its effects, provided ONCE for every circuit (one logic object: the inspector draws one
 * chart); per-circuit things travel in the input (`circuitId`) and are looked up here.
 */
const circuitLogic = circuitMachine.provide({
  actors: { socket: circuitSocket((input) => connections.get(input.circuitId ?? '')?.sink) },
  actions: {
    enterState: ({ context, self }, params) =>
      connections.get(self.id)?.enterState(params.state, context.reason, context.error),
  },
});

function checkOptions(options: CircuitOptions): void {
  if (options === null || typeof options !== 'object') throw new CaValueError('options must be an object');
  const key = options.key;
  if (key === null || typeof key !== 'object') throw new CaValueError('key must be { host, port, priority }');
  if (typeof key.host !== 'string' || key.host === '') throw new CaValueError('key.host must be a host name');
  if (!Number.isInteger(key.port) || key.port < 1 || key.port > 65535) {
    throw new CaValueError(`key.port must be a TCP port 1..65535, got ${String(key.port)}`);
  }
  if (!Number.isInteger(key.priority) || key.priority < 0 || key.priority > MAX_PRIORITY) {
    throw new CaValueError(`key.priority must be an integer 0..${MAX_PRIORITY}, got ${String(key.priority)}`);
  }
  for (const name of ['connectionTimeoutMs', 'echoTimeoutMs', 'connectTimeoutMs'] as const) {
    const v = options[name];
    if (v === undefined && name !== 'connectionTimeoutMs') continue;
    if (typeof v !== 'number' || !(v > 0)) throw new CaValueError(`${name} must be a positive number of ms`);
  }
}

/** The connect bound of a circuit (see `CircuitOptions.connectTimeoutMs`): always finite unless given so. */
function connectTimeoutOf(options: CircuitOptions): number {
  if (options.connectTimeoutMs !== undefined) return options.connectTimeoutMs;
  const t = options.connectionTimeoutMs;
  return Number.isFinite(t) ? t : DEFAULT_CONN_TMO_MS;
}

export class CircuitConnection {
  readonly key: CircuitKey;
  readonly actorId: string;
  /** @internal What the shared socket actor uses of this connection. */
  readonly sink: CircuitSocketSink;
  readonly #clock: Clock;
  readonly #system: OrrerySystem;
  readonly #ownSystem: boolean;
  readonly #log: Logger;
  readonly #handle: ActorHandle<CircuitLogic>;
  #state: CircuitState = 'connecting';
  #machineState: CircuitMachineState = 'connecting';
  #closeReason: CircuitCloseReason | undefined;
  #error: Error | undefined;
  #link: CircuitLink | null = null;
  #serverMinorVersion: number | undefined;
  #lastHeardMs: number;
  #frameListeners: ((frame: CaFrame) => void)[] = [];
  readonly #stateListeners = new Set<(state: CircuitState, error?: Error) => void>();
  #forgetStop: () => void = () => {};
  #resolveClosed!: () => void;
  /** Settles once the circuit is closed, its socket released and its actor stopped. */
  readonly closed: Promise<void>;

  private constructor(options: CircuitOptions) {
    checkOptions(options);
    this.key = { host: options.key.host, port: options.key.port, priority: options.key.priority };
    this.#clock = options.clock;
    this.#ownSystem = options.system === undefined;
    this.#system = options.system ?? createSystem({ clock: options.clock, logger: options.logger });
    const { host, port, priority } = this.key;
    this.#log = (options.logger ?? this.#system.logger ?? silentLogger()).child({
      circuit: `${host}:${port}`,
      priority,
    });
    this.#lastHeardMs = this.#clock.now();
    this.closed = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.actorId = `ca:circuit:${host}:${port}:${priority}:${++circuitCount}`;
    const connectionTimeoutMs = options.connectionTimeoutMs;
    const handshake = Buffer.concat([
      versionRequest(priority),
      hostName(options.hostName),
      clientName(options.clientName),
    ]);
    this.sink = {
      host,
      port,
      handshake,
      clock: this.#clock,
      heardEveryMs: heardEveryMs(connectionTimeoutMs),
      maxQueuedBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      maxPayload: options.maxPayload,
      unref: options.unref === true,
      open: (link) => {
        this.#link = link;
      },
      heard: (now) => {
        this.#lastHeardMs = now;
      },
      version: (minor) => {
        this.#serverMinorVersion = minor;
      },
      frame: (frame) => this.#dispatch(frame),
      logger: () => this.#log,
    };
    const supervisor = options.supervisor ?? this.#defaultSupervisor();
    this.#forgetStop = this.#system.onStop((error) => this.#gone(error));
    connections.set(this.actorId, this);
    this.#handle = this.#system.spawn(circuitLogic, {
      supervisor,
      id: this.actorId,
      systemId: this.actorId,
      restart: 'temporary',
      input: {
        address: `${host}:${port}`,
        priority,
        circuitId: this.actorId,
        connectionTimeoutMs,
        echoTimeoutMs: options.echoTimeoutMs ?? ECHO_TIMEOUT_MS,
        connectTimeoutMs: connectTimeoutOf(options),
      },
    }) as unknown as ActorHandle<CircuitLogic>;
    this.#handle.subscribe({
      complete: () => this.#gone(new CaDisconnectedError(`the circuit actor ${this.actorId} was stopped`)),
      error: (err) =>
        this.#gone(
          err instanceof Error ? err : new CaDisconnectedError(`circuit actor failed: ${String(err)}`),
        ),
    });
  }

  /** Connects at once; sends VERSION(priority), HOST_NAME, CLIENT_NAME first. Bad options: CaValueError. */
  static open(options: CircuitOptions): CircuitConnection {
    return new CircuitConnection(options);
  }

  get state(): CircuitState {
    return this.#state;
  }
  /** The machine's state (`probing` shows as `connected` in `state`). */
  get machineState(): CircuitMachineState {
    return this.#machineState;
  }
  /** Why the circuit closed, once closed. */
  get closeReason(): CircuitCloseReason | undefined {
    return this.#closeReason;
  }
  /** The error the circuit closed with, once closed. */
  get error(): Error | undefined {
    return this.#error;
  }
  get serverMinorVersion(): number | undefined {
    return this.#serverMinorVersion;
  }
  /** Clock time (`clock.now()`) when bytes last arrived (the open time before any). */
  get lastHeardMs(): number {
    return this.#lastHeardMs;
  }
  /** Bytes waiting to be written (queued while connecting, or in this turn's batch). */
  get queuedBytes(): number {
    return this.#link?.queuedBytes ?? 0;
  }
  /** The machine's actor (its handle). */
  get actor(): ActorHandle<CircuitLogic> {
    return this.#handle;
  }

  /** The circuit's socket stops keeping the process alive (its echo timer runs on the system's clock). */
  unref(): void {
    this.#link?.unref();
  }

  /** Queue whole messages; false when the circuit is closed; CircuitQueueFullError over `maxQueuedBytes` unsent. */
  send(bytes: Uint8Array): boolean {
    if (this.#state === 'closed' || this.#link === null) return false;
    return this.#link.write(bytes);
  }

  onFrame(listener: (frame: CaFrame) => void): () => void {
    if (typeof listener !== 'function') throw new CaValueError('onFrame needs a function');
    const own = (frame: CaFrame) => listener(frame);
    this.#frameListeners = [...this.#frameListeners, own];
    return () => {
      this.#frameListeners = this.#frameListeners.filter((l) => l !== own);
    };
  }

  onState(listener: (state: CircuitState, error?: Error) => void): () => void {
    if (typeof listener !== 'function') throw new CaValueError('onState needs a function');
    const own = (state: CircuitState, error?: Error) => listener(state, error);
    this.#stateListeners.add(own);
    return () => void this.#stateListeners.delete(own);
  }

  /** Close the circuit (idempotent): listeners hear `closed` with `error` (default a CaDisconnectedError). */
  close(error?: Error): void {
    if (this.#state === 'closed') return;
    this.#handle.current?.send({ type: 'CLOSE', error: error ?? null });
  }

  // ---- the machine's enterState ----

  /** @internal The machine entered `state` (its shared `enterState` action). */
  enterState(state: CircuitMachineState, reason: CircuitCloseReason | null, error: Error | null): void {
    this.#machineState = state;
    const outer: CircuitState = state === 'probing' ? 'connected' : state;
    if (state === 'closed') {
      this.#finish(reason ?? 'closed-by-client', error ?? new CaDisconnectedError('circuit closed'));
      return;
    }
    if (outer === this.#state) return;
    this.#state = outer;
    this.#tell(outer, undefined);
  }

  #gone(error: Error): void {
    if (this.#state !== 'closed') this.#finish(this.#closeReason ?? 'closed-by-client', error);
  }

  #finish(reason: CircuitCloseReason, error: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#machineState = 'closed';
    this.#closeReason = reason;
    this.#error = error;
    this.#forgetStop();
    connections.delete(this.actorId);
    const link = this.#link;
    this.#link = null;
    this.#tell('closed', error);
    this.#stateListeners.clear();
    this.#frameListeners = [];
    // the actor reached its final state (or is gone): remove it, then release the socket and our own system
    queueMicrotask(() => {
      try {
        if (!this.#system.stopped) this.#handle.stop();
      } catch (err) {
        this.#log.debug({ err }, 'circuit actor already removed');
      }
      void (link?.closed ?? Promise.resolve()).then(async () => {
        if (this.#ownSystem) await this.#system.stop();
        this.#resolveClosed();
      });
    });
  }

  #tell(state: CircuitState, error: Error | undefined): void {
    for (const l of [...this.#stateListeners]) {
      try {
        l(state, error);
      } catch (err) {
        this.#log.error({ err }, 'circuit state listener threw');
      }
    }
  }

  #dispatch(frame: CaFrame): void {
    const listeners = this.#frameListeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i](frame);
      } catch (err) {
        this.#log.error({ err }, 'circuit frame listener threw');
      }
    }
  }

  #defaultSupervisor(): string {
    if (this.#system.supervisorActor(CIRCUIT_SUPERVISOR) === undefined) {
      this.#system.supervisor(CIRCUIT_SUPERVISOR, { strategy: 'one_for_one' });
    }
    return CIRCUIT_SUPERVISOR;
  }
}
