/**
 * Every use of XState internals in Orrery, in one place. `test/engine/xstateAdapter.test.ts` pins what each
 * function relies on, so an XState upgrade that changes one of them fails that test, not the product.
 *
 * Relied on (XState 5.x):
 * - `Actor#_stop()`: stops a child actor now; the public `stop()` throws for non-root actors.
 * - `createActor(logic, {parent})`: the `parent` option makes the actor a child (its exit reaches the parent as
 *   `xstate.done.actor.<id>` / `xstate.error.actor.<id>`) without entering XState's children record.
 * - `Actor#logic`, a machine's `id`: what an actor runs and its name; `Actor#_parent`: its parent.
 * - `Actor#logger` and the `logger` option: the function XState's `log()` action calls; per actor when given.
 * - the `_transitions` of a `@xstate.microstep` inspection event: the transition definitions it took.
 */
import { type Actor, type AnyActorLogic, type AnyActorRef, createActor } from 'xstate';

/** The function XState's `log()` action calls with its label and value. */
export type XStateLogFunction = (...args: unknown[]) => void;

/** Makes the log function of one actor (`actor` its id, `machine` its machine id). */
export type ActorLogFactory = (actor: string, machine: string) => (args: unknown[]) => void;

const FACTORY = Symbol.for('orrery.actorLogFactory');

/**
 * The XState `logger` option for the actor `actor` running `machine`: every `log()` of that actor goes to
 * `factory(actor, machine)`. Children created with `createChildActor` inherit the factory and get their own.
 */
export function actorLogger(
  factory: ActorLogFactory,
  actor: string | (() => string),
  machine: string,
): XStateLogFunction {
  let write: ((args: unknown[]) => void) | undefined;
  const fn = (...args: unknown[]) => {
    write ??= factory(typeof actor === 'function' ? actor() : actor, machine);
    write(args);
  };
  Object.defineProperty(fn, FACTORY, { value: factory });
  return fn;
}

/** The log factory an actor's logger carries (set by `actorLogger`), if any. */
export function logFactoryOf(ref: AnyActorRef): ActorLogFactory | undefined {
  const logger = (ref as unknown as { logger?: { [FACTORY]?: ActorLogFactory } }).logger;
  return logger?.[FACTORY];
}

/** The name of a logic: a machine's id; 'actor' for logic without one. */
export function logicId(logic: unknown): string {
  const id = (logic as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id !== '' ? id : 'actor';
}

/** The logic an actor runs (undefined for a ref that is not a local actor). */
export function logicOf(ref: AnyActorRef): AnyActorLogic | undefined {
  return (ref as Partial<Actor<AnyActorLogic>>).logic;
}

/** The parent of an actor (`Actor#_parent`): undefined for a root actor. */
export function parentOf(ref: AnyActorRef): AnyActorRef | undefined {
  return (ref as unknown as { _parent?: AnyActorRef })._parent;
}

/** The transition definitions a `@xstate.microstep` inspection event took (empty for any other event). */
export function microstepTransitions(event: { type: string }): readonly unknown[] {
  if (event.type !== '@xstate.microstep') return [];
  const taken = (event as { _transitions?: unknown })._transitions;
  return Array.isArray(taken) ? taken : [];
}

/** Stop an actor now, a child as well as a root actor (the public `stop()` refuses children). */
export function stopActor(ref: AnyActorRef): void {
  (ref as unknown as { _stop?: () => void })._stop?.();
}

/**
 * Create (not start) a child of `parent` that is not in the parent's children record; it logs through its own
 * logger when the parent's carries a log factory (see `actorLogger`).
 */
export function createChildActor(
  parent: AnyActorRef,
  options: { logic: AnyActorLogic; id: string; systemId?: string; input?: unknown },
): AnyActorRef {
  const factory = logFactoryOf(parent);
  return createActor(options.logic, {
    parent,
    id: options.id,
    systemId: options.systemId,
    input: options.input,
    ...(factory ? { logger: actorLogger(factory, options.id, logicId(options.logic)) } : {}),
  } as never);
}
