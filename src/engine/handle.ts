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
import { ActorRegistryError, describeValue, InvalidArgumentError } from '../errors.js';

const CALLBACKS = ['next', 'error', 'complete'] as const;

/**
 * An observer as the engine's subscribe methods take it, checked at the call: a function (the `next` callback), or
 * an object whose `next`, `error` and `complete` are functions where present. Anything else is refused here with
 * an InvalidArgumentError naming `method`: XState takes it and fails later, inside its loop of observers, where it
 * rethrows the TypeError on a timer and so ends the process. Each callback is read once (a getter cannot pass the
 * check and give something else later) and called with the observer as `this`, as XState calls it.
 */
export function checkObserver<T>(method: string, observerOrNext: unknown): Partial<Observer<T>> {
  if (typeof observerOrNext === 'function') return { next: observerOrNext as (value: T) => void };
  if (observerOrNext === null || typeof observerOrNext !== 'object') {
    throw new InvalidArgumentError(
      `${method} needs an observer (a function, or an object with next, error or complete functions), got ${describeValue(observerOrNext)}`,
    );
  }
  const observer = observerOrNext as Record<string, unknown>;
  const checked: Partial<Observer<T>> = {};
  for (const name of CALLBACKS) {
    let callback: unknown;
    try {
      callback = observer[name];
    } catch (cause) {
      throw new InvalidArgumentError(`${method}: the observer's ${name} cannot be read`, { cause });
    }
    if (callback === undefined) continue;
    if (typeof callback !== 'function') {
      throw new InvalidArgumentError(
        `${method}: the observer's ${name} must be a function, got ${describeValue(callback)}`,
      );
    }
    checked[name] = (...args: unknown[]) => Reflect.apply(callback, observer, args);
  }
  return checked;
}

/** A listener (a function) checked at the call, for the same reason as `checkObserver`. */
export function checkListener<F extends (...args: never[]) => unknown>(method: string, listener: unknown): F {
  if (typeof listener !== 'function') {
    throw new InvalidArgumentError(`${method} needs a function, got ${describeValue(listener)}`);
  }
  return listener as F;
}

/** What happens to the actor behind a handle: a new incarnation started, or it is gone for good. */
export type HandleChange = { type: 'respawned'; ref: AnyActorRef } | { type: 'removed' };

/** Where a handle finds its actor (the system implements it). */
export interface HandleSource {
  /** The current incarnation, or undefined while it waits for a delayed restart or after it was removed. */
  current(): AnyActorRef | undefined;
  /** Whether a supervisor restarts the actor (false for a detached actor). */
  readonly supervised: boolean;
  /**
   * The actor as spawned, when there is one incarnation only (a detached actor): the last incarnation even if it
   * ended as it started, so its output or error can be read (`current()` is undefined by then).
   */
  readonly spawned?: AnyActorRef;
  /** Whether a supervised actor is gone for good: its supervisor has no such child (any more), or is not running. */
  gone?(): boolean;
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
    this.#last = source.current() ?? source.spawned;
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
   * supervised actor's `error` or `complete` comes once, when it is gone for good (removed by its supervisor,
   * stopped with it or with the system), with the error of its last crash if it crashed; a subscription made
   * after that completes at once. A detached actor's come as XState sends them. Anything but a function or an
   * observer object throws InvalidArgumentError (see `checkObserver`).
   */
  subscribe(
    observerOrNext: Partial<Observer<SnapshotFrom<TLogic>>> | ((snapshot: SnapshotFrom<TLogic>) => void),
  ): Subscription {
    const observer = checkObserver<SnapshotFrom<TLogic>>('ActorHandle.subscribe', observerOrNext);
    if (!this.#source.supervised) {
      const ref = this.current ?? this.#last;
      if (!ref) throw new ActorRegistryError(`actor '${this.id}' has no incarnation`);
      return ref.subscribe(observer as Observer<any>);
    }
    if (this.#source.gone?.()) {
      // no removal is coming to end it: it would wait, and be kept, until the system stopped
      observer.complete?.();
      return { unsubscribe: () => {} };
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
