/** The handle users hold on a supervisor (`system.supervisor(name)`, `system.root`). */
import type { AnyActorRef } from 'xstate';
import {
  type ChildSpec,
  childrenOf,
  restartsOf,
  type SupervisorActor,
} from '../../machines/core/supervisor.js';
import { ActorRegistryError, InvalidArgumentError } from '../errors.js';

/** The systemId prefix of supervisors (`supervisor:<name>`): a naming convention, never used to recognise one. */
export const SUP_PREFIX = 'supervisor:';

/** What a Supervisor handle needs from its system (the system implements it; no import of the system here). */
export interface SupervisorHost {
  supervisorActor(name: string): SupervisorActor | undefined;
  startChild(sup: Supervisor, spec: ChildSpec): AnyActorRef;
  startChildren(sup: Supervisor, specs: ChildSpec[]): void;
}

/** A handle on a supervisor; resolves the live actor by systemId, so it survives the supervisor's restarts. */
export class Supervisor {
  readonly name: string;
  readonly #system: SupervisorHost;
  constructor(system: SupervisorHost, name: string) {
    this.#system = system;
    this.name = name;
  }
  get systemId(): string {
    return SUP_PREFIX + this.name;
  }
  /** The supervisor's current actor, or undefined while it is being restarted. */
  get ref(): SupervisorActor | undefined {
    return this.#system.supervisorActor(this.name);
  }
  /** Restart counts per child since this incarnation of the supervisor started (a removed child leaves none). */
  restarts(): Record<string, number> {
    return restartsOf(this.ref?.getSnapshot());
  }
  /** Ids of the children, in start order. */
  children(): string[] {
    return childrenOf(this.ref?.getSnapshot()).map((c) => c.id);
  }
  /** The current actor of a child. */
  child(id: string): AnyActorRef | undefined {
    return childrenOf(this.ref?.getSnapshot()).find((c) => c.id === id)?.ref;
  }
  /** 'running' | 'failed' | 'stopped' | 'missing'. */
  get state(): string {
    const snap = this.ref?.getSnapshot();
    if (!snap) return 'missing';
    if (snap.status === 'error') return 'failed';
    return String(snap.value);
  }
  startChild(spec: ChildSpec): AnyActorRef {
    return this.#system.startChild(this, spec);
  }
  startChildren(specs: ChildSpec[]): void {
    this.#system.startChildren(this, specs);
  }
  stopChild(id: string): void {
    this.ref?.send({ type: 'STOP_CHILD', id: checkId(id) });
  }
  /**
   * Stop child `id` and start it again: a new incarnation under the same id and systemId. A temporary child is
   * never restarted, as in OTP: restarting one throws ActorRegistryError and leaves it running. So does a child
   * the supervisor does not have, or a supervisor that is not running (OTP's restart_child answers not_found; this
   * did nothing, and a mistyped id went unnoticed).
   */
  restartChild(id: string): void {
    checkId(id);
    const snap = this.ref?.getSnapshot();
    if (snap?.status !== 'active' || snap.value !== 'running') {
      throw new ActorRegistryError(`supervisor '${this.name}' is not running`);
    }
    const child = childrenOf(snap).find((c) => c.id === id);
    if (!child) throw new ActorRegistryError(`supervisor '${this.name}' has no child '${id}' to restart`);
    if (child.restart === 'temporary') {
      throw new ActorRegistryError(
        `supervisor '${this.name}' does not restart '${id}': a temporary child is never restarted`,
      );
    }
    this.ref?.send({ type: 'RESTART_CHILD', id });
  }
}

function checkId(id: unknown): string {
  if (typeof id !== 'string') throw new InvalidArgumentError(`a child id must be a string, got ${typeof id}`);
  return id;
}
