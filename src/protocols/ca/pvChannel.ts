/**
 * The channel actor of one PV: `machines/ca/channel.ts` spawned under the context's supervisor, given its effects
 * (search, circuit, CLEAR_CHANNEL, the PV's announcements), and the channel's side of the circuit routing
 * (`ChannelRoute`). What the machine decides, the binding mirrors in plain fields (sid, native type and count,
 * circuit) so the hot path reads them without a snapshot.
 */
import type { Actor } from 'xstate';
import {
  type ChannelAddress,
  type ChannelContext,
  type ChannelEvent,
  type ChannelStateName,
  channelMachine,
} from '../../../machines/ca/channel.js';
import type { Logger } from '../../engine/logging.js';
import type { Supervisor } from '../../engine/supervisor.js';
import type { OrrerySystem } from '../../engine/system.js';
import type { CircuitChannels } from './circuitChannels.js';
import type { NativeType } from './constants.js';

/** What a channel needs from its Context. */
export interface ChannelHost {
  readonly system: OrrerySystem;
  readonly supervisor: Supervisor;
  readonly logger: Logger;
  searchAdd(cid: number, name: string): void;
  searchRemove(cid: number): void;
  /** The circuit for (address, priority), opened if there is none alive. */
  circuitFor(address: ChannelAddress, priority: number): CircuitChannels;
}

/** What the channel tells its PV. */
export interface ChannelListener {
  found(): void;
  /**
   * No circuit could be opened for the server found, or its TCP connect was refused or timed out (`error`): the
   * waits for the connection fail with it.
   */
  failed(error: Error): void;
  connected(): void;
  disconnected(): void;
  accessRightsChanged(rights: number): void;
}

export type ChannelLogic = typeof channelMachine;

type EffectName =
  | 'startSearch'
  | 'stopSearch'
  | 'createChannel'
  | 'forgetChannel'
  | 'clearChannel'
  | 'announceConnected'
  | 'announceDisconnected'
  | 'accessRightsChanged';

/** Live bindings by their actor's id: how the shared machine's effects find theirs. */
const bindings = new Map<string, ChannelBinding>();
let channelCount = 0;

const effect =
  (name: EffectName) =>
  ({ context, self }: { context: ChannelContext; self: { id: string } }): void =>
    bindings.get(self.id)?.effect(name, context);

/**
 * The channel machine with its effects, provided ONCE for every channel (one logic object: the inspector draws one
 * chart, and no machine is built per PV); each effect finds its binding by the actor's id.
 */
const channelLogic = channelMachine.provide({
  actions: {
    startSearch: effect('startSearch'),
    stopSearch: effect('stopSearch'),
    createChannel: effect('createChannel'),
    forgetChannel: effect('forgetChannel'),
    clearChannel: effect('clearChannel'),
    announceConnected: effect('announceConnected'),
    announceDisconnected: effect('announceDisconnected'),
    accessRightsChanged: effect('accessRightsChanged'),
  },
});

export class ChannelBinding {
  readonly cid: number;
  readonly name: string;
  readonly priority: number;
  /** The circuit the channel is created on (connecting, connected), else null. */
  circuit: CircuitChannels | null = null;
  sid = 0;
  nativeType: NativeType | undefined = undefined;
  nativeCount: number | undefined = undefined;
  rights = 0;
  connected = false;
  readonly #host: ChannelHost;
  readonly #actor: Actor<ChannelLogic>;
  readonly #stop: () => void;
  readonly #effects: (() => void)[] = [];
  readonly #actions: Record<EffectName, (context: ChannelContext) => void>;
  readonly #id: string;
  readonly #listener: ChannelListener;
  #sending = 0;

  constructor(host: ChannelHost, cid: number, name: string, priority: number, listener: ChannelListener) {
    this.cid = cid;
    this.name = name;
    this.priority = priority;
    this.#host = host;
    this.#listener = listener;
    this.#actions = {
      startSearch: () => host.searchAdd(cid, name),
      stopSearch: () => host.searchRemove(cid),
      createChannel: (context) => {
        listener.found();
        const address = context.address as ChannelAddress;
        let circuit: CircuitChannels;
        try {
          circuit = host.circuitFor(address, priority);
        } catch (err) {
          host.logger.warn({ err, pv: name }, 'could not open a circuit');
          listener.failed(err instanceof Error ? err : new Error(String(err)));
          // backs off before searching again (CIRCUIT_LOST would re-search at once, and fail again, forever)
          queueMicrotask(() => this.send({ type: 'CREATE_FAILED' }));
          return;
        }
        this.circuit = circuit;
        circuit.addChannel(cid, name, this);
      },
      forgetChannel: () => {
        this.circuit?.removeChannel(cid);
        this.circuit = null;
      },
      clearChannel: () => {
        this.circuit?.clearChannel(cid, this.sid);
        this.circuit = null;
      },
      announceConnected: (context) => {
        this.sid = context.sid as number;
        this.nativeType = context.nativeType as NativeType;
        this.nativeCount = context.nativeCount as number;
        this.rights = context.accessRights;
        this.connected = true;
        listener.connected();
      },
      announceDisconnected: () => {
        this.connected = false;
        listener.disconnected();
      },
      accessRightsChanged: (context) => {
        this.rights = context.accessRights;
        listener.accessRightsChanged(context.accessRights);
      },
    };
    this.#id = `ca-channel:${name}@${priority}#${++channelCount}`;
    bindings.set(this.#id, this);
    const handle = host.system.spawn(channelLogic, {
      supervisor: host.supervisor,
      id: this.#id,
      input: { name, priority },
      restart: 'temporary',
    });
    this.#actor = handle.current as Actor<ChannelLogic>;
    const forget = () => {
      if (bindings.get(this.#id) === this) bindings.delete(this.#id);
    };
    this.#actor.subscribe({ complete: forget, error: forget });
    this.#stop = () => handle.stop();
    this.#drain();
  }

  /**
   * @internal The machine ran effect `name` (the shared logic's action). Effects run after the machine's step,
   * outside XState's action context: they send to other actors (the subscriptions, a new circuit's machine), which
   * XState does not allow from inside a custom action.
   */
  effect(name: EffectName, context: ChannelContext): void {
    this.#effect(() => {
      try {
        this.#actions[name](context);
      } catch (err) {
        this.#host.logger.error({ err, pv: this.name }, `channel action ${name} failed`);
      }
    });
  }

  /** The machine's state name. */
  get state(): ChannelStateName {
    const snapshot = this.#actor.getSnapshot();
    return (typeof snapshot.value === 'string' ? snapshot.value : 'closed') as ChannelStateName;
  }

  /** The machine's context (address, minor version, counters). */
  get details() {
    return this.#actor.getSnapshot().context;
  }

  get actorId(): string {
    return this.#actor.id;
  }

  send(event: ChannelEvent): void {
    if (this.#actor.getSnapshot().status !== 'active') return;
    this.#sending++;
    try {
      this.#actor.send(event);
    } finally {
      this.#sending--;
    }
    this.#drain();
  }

  /** Run `fn` once the current step is over: after `send` returns, or in a microtask for a timer's step. */
  #effect(fn: () => void): void {
    this.#effects.push(fn);
    if (this.#sending === 0 && this.#effects.length === 1) queueMicrotask(() => this.#drain());
  }

  #drain(): void {
    if (this.#sending > 0) return;
    for (let fn = this.#effects.shift(); fn; fn = this.#effects.shift()) fn();
  }

  /** The search answered: where the channel lives. */
  foundAt(address: ChannelAddress, minorVersion: number): void {
    this.send({ type: 'FOUND', address, minorVersion });
  }

  /** CLOSE, then remove the actor from the supervisor. */
  close(): void {
    this.send({ type: 'CLOSE' });
    if (bindings.get(this.#id) === this) bindings.delete(this.#id);
    try {
      this.#stop();
    } catch (err) {
      this.#host.logger.debug({ err, pv: this.name }, 'channel actor already gone');
    }
  }

  // ChannelRoute (frames of the circuit)
  created(sid: number, nativeType: number, nativeCount: number): void {
    this.send({ type: 'CREATED', sid, nativeType, nativeCount });
  }
  accessRights(rights: number): void {
    this.send({ type: 'ACCESS_RIGHTS', rights });
  }
  createFailed(): void {
    this.send({ type: 'CREATE_FAILED' });
  }
  serverDisconnected(): void {
    this.send({ type: 'SERVER_DISCONNECTED' });
  }
  circuitLost(): void {
    this.send({ type: 'CIRCUIT_LOST' });
  }
  /** The circuit never connected: as when it cannot be opened, the waits fail with `error` and the channel backs off. */
  connectFailed(error: Error): void {
    if (this.state !== 'connecting') {
      this.send({ type: 'CIRCUIT_LOST' });
      return;
    }
    this.#host.logger.debug({ err: error, pv: this.name }, 'the circuit could not connect: backing off');
    this.#listener.failed(error);
    this.send({ type: 'CREATE_FAILED' });
  }
}
