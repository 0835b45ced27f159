/**
 * A restart-stable handle on a spawned actor, like an Erlang registered name: `send` and `getSnapshot` reach the
 * current incarnation, and a `subscribe` survives the supervisor's restarts of the actor.
 */
import type {
  Actor,
  AnyActorLogic,
  AnyActorRef,
  EventFromLogic,
  Observer,
  SnapshotFrom,
  Subscription,
} from 'xstate';
import { ActorRegistryError } from '../errors.js';

/** What happens to the actor behind a handle: a new incarnation started, or it is gone for good. */
export type HandleChange = { type: 'respawned'; ref: AnyActorRef } | { type: 'removed' };

/** Where a handle finds its actor (the system implements it). */
export interface HandleSource {
  /** The current incarnation, or undefined while it waits for a delayed restart or after it was removed. */
  current(): AnyActorRef | undefined;
  /** Whether a supervisor restarts the actor (false for a detached actor). */
  readonly supervised: boolean;
  /** Be told of new incarnations and of the removal; returns a function that stops telling. */
  watch(listener: (change: HandleChange) => void): () => void;
  /** Stop the actor for good (a supervised one is removed from its supervisor). */
  stop(): void;
}

export class ActorHandle<TLogic extends AnyActorLogic> {
  readonly id: string;
  readonly systemId: string | undefined;
  readonly #source: HandleSource;
  #last: AnyActorRef | undefined;

  constructor(id: string, systemId: string | undefined, source: HandleSource) {
    this.id = id;
    this.systemId = systemId;
    this.#source = source;
    this.#last = source.current();
  }

  /** The current incarnation (a different actor after each restart), or undefined while there is none. */
  get current(): Actor<TLogic> | undefined {
    const ref = this.#source.current();
    if (ref) this.#last = ref;
    return ref as Actor<TLogic> | undefined;
  }

  /** Send to the current incarnation; throws ActorRegistryError while there is none (restarting or removed). */
  send(event: EventFromLogic<TLogic>): void {
    const ref = this.current;
    if (!ref) {
      throw new ActorRegistryError(`actor '${this.id}' is not running (waiting for a restart, or removed)`);
    }
    ref.send(event);
  }

  /** Stop the actor for good: a detached actor stops, a supervised one is stopped and removed by its supervisor. */
  stop(): void {
    this.#source.stop();
  }

  /** The snapshot of the current incarnation (of the last one while there is none). */
  getSnapshot(): SnapshotFrom<TLogic> {
    const ref = this.current ?? this.#last;
    if (!ref) throw new ActorRegistryError(`actor '${this.id}' has no incarnation`);
    return ref.getSnapshot();
  }

  /**
   * Observe every incarnation: `next` gets each snapshot, and the first snapshot of every new incarnation; a
   * supervised actor's `error` or `complete` comes once, when it is gone for good (removed by its supervisor, or
   * the system stopped), with the error of its last crash if it crashed. A detached actor's come as XState sends
   * them.
   */
  subscribe(
    observerOrNext: Partial<Observer<SnapshotFrom<TLogic>>> | ((snapshot: SnapshotFrom<TLogic>) => void),
  ): Subscription {
    const observer: Partial<Observer<SnapshotFrom<TLogic>>> =
      typeof observerOrNext === 'function' ? { next: observerOrNext } : observerOrNext;
    if (!this.#source.supervised) {
      const ref = this.current ?? this.#last;
      if (!ref) throw new ActorRegistryError(`actor '${this.id}' has no incarnation`);
      return ref.subscribe(observer as Observer<any>);
    }
    let inner: Subscription | undefined;
    let lastError: { error: unknown } | undefined;
    let closed = false;
    const attach = (ref: AnyActorRef) => {
      inner?.unsubscribe();
      lastError = undefined;
      inner = ref.subscribe({
        next: (s) => observer.next?.(s as SnapshotFrom<TLogic>),
        error: (error) => {
          lastError = { error };
        },
      });
    };
    const stopWatching = this.#source.watch((change) => {
      if (closed) return;
      if (change.type === 'respawned') {
        attach(change.ref);
        this.#last = change.ref;
        observer.next?.(change.ref.getSnapshot() as SnapshotFrom<TLogic>);
        return;
      }
      close();
      if (lastError) observer.error?.(lastError.error);
      else observer.complete?.();
    });
    const close = () => {
      closed = true;
      inner?.unsubscribe();
      stopWatching();
    };
    const ref = this.current;
    if (ref) attach(ref);
    return { unsubscribe: close };
  }
}
