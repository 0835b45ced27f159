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
 * - built-in action objects (`assign`, `raise`, `emit`, `cancel`, `log`, ...): functions whose hidden `resolve`
 *   tells them apart from custom actions, with their arguments in hidden fields (`assignment`, `event`, `id`,
 *   `delay`, `sendId`, `value`, `label`, `collect`) and their kind in `type` (the compiled runner reads them).
 * - built-in guards (`not`, `and`, `or`, `stateIn`): functions whose hidden `check` tells them apart, with their
 *   operands in `guards`.
 * - `system.getSnapshot()._scheduledEvents`: the delayed events an actor system has armed (the differential test).
 */
import {
  type Actor,
  type AnyActorLogic,
  type AnyActorRef,
  and,
  assign,
  cancel,
  createActor,
  emit,
  enqueueActions,
  log,
  not,
  or,
  raise,
} from 'xstate';

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
 * logger when the parent's carries a log factory (see `actorLogger`). Undefined when XState cannot run the logic:
 * its initial snapshot is no object, and XState reads its status (the constructor threw for a child with a
 * systemId, after registering the systemId for good; start() threw for one without). The systemId is therefore
 * given once the snapshot is known to be one; XState registers it as the actor starts (`start()` sets it).
 */
export function createChildActor(
  parent: AnyActorRef,
  options: { logic: AnyActorLogic; id: string; systemId?: string; input?: unknown },
): AnyActorRef | undefined {
  const factory = logFactoryOf(parent);
  const ref = createActor(options.logic, {
    parent,
    id: options.id,
    input: options.input,
    ...(factory ? { logger: actorLogger(factory, options.id, logicId(options.logic)) } : {}),
  } as never) as AnyActorRef;
  let snapshot: unknown;
  try {
    snapshot = ref.getSnapshot();
  } catch {
    // XState's development build throws here for a snapshot that is not there (falsy)
  }
  if (snapshot === null || typeof snapshot !== 'object') return undefined;
  if (options.systemId !== undefined) (ref as { systemId?: string }).systemId = options.systemId;
  return ref;
}

/** What an action object is, as the compiled runner needs to know it (see `describeAction`). */
export type ActionDescription =
  | { kind: 'custom' }
  | { kind: 'assign'; assignment: unknown }
  | { kind: 'raise'; event: unknown; id: unknown; delay: unknown }
  | { kind: 'emit'; event: unknown }
  | { kind: 'cancel'; sendId: unknown }
  | { kind: 'log'; value: unknown; label: unknown }
  /** `enqueueActions(collect)`: `collect` is called with `({context, event, enqueue, check, self, system}, params)`. */
  | { kind: 'enqueueActions'; collect: unknown }
  /** Any other XState built-in (sendTo, spawnChild, stopChild, enqueueActions, ...), by its `type`. */
  | { kind: 'builtin'; type: string };

type Hidden = Record<string, unknown>;
const hiddenOf = (f: unknown): Hidden => f as Hidden;
const RESOLVE = {
  assign: hiddenOf(assign({})).resolve,
  raise: hiddenOf(raise({ type: 'x' })).resolve,
  emit: hiddenOf(emit({ type: 'x' })).resolve,
  cancel: hiddenOf(cancel('x')).resolve,
  log: hiddenOf(log('x')).resolve,
  enqueueActions: hiddenOf(enqueueActions(() => {})).resolve,
};

/** A custom action's description: one object (descriptions are read, never changed). */
const CUSTOM: ActionDescription = Object.freeze({ kind: 'custom' as const });

/**
 * Tells an action (the function in a state node's `entry`/`exit`, a transition's `actions`, or a machine's
 * `implementations.actions`) apart: a custom action (a plain function XState calls with `({context, event, self,
 * system}, params)`) or one of XState's built-ins with the arguments it was created with.
 */
export function describeAction(action: unknown): ActionDescription {
  if (typeof action !== 'function' || !('resolve' in action)) return CUSTOM;
  const a = hiddenOf(action);
  switch (a.resolve) {
    case RESOLVE.assign:
      return { kind: 'assign', assignment: a.assignment };
    case RESOLVE.raise:
      return { kind: 'raise', event: a.event, id: a.id, delay: a.delay };
    case RESOLVE.emit:
      return { kind: 'emit', event: a.event };
    case RESOLVE.cancel:
      return { kind: 'cancel', sendId: a.sendId };
    case RESOLVE.log:
      return { kind: 'log', value: a.value, label: a.label };
    case RESOLVE.enqueueActions:
      return { kind: 'enqueueActions', collect: a.collect };
    default:
      return { kind: 'builtin', type: String(a.type) };
  }
}

/** What a guard function is (see `describeGuard`). */
export type GuardDescription =
  | { kind: 'function' }
  | { kind: 'not' | 'and' | 'or'; guards: readonly unknown[] }
  /** `stateIn` or any other XState built-in guard. */
  | { kind: 'builtin' };

const CHECK = {
  not: hiddenOf(not('x')).check,
  and: hiddenOf(and(['x'])).check,
  or: hiddenOf(or(['x'])).check,
};

/**
 * Tells a guard function apart: a plain function XState calls with `({context, event}, params)`, or the built-in
 * `not`/`and`/`or` with their operand guards (references as written: names, `{type, params}` or functions).
 */
export function describeGuard(guard: unknown): GuardDescription {
  if (typeof guard !== 'function' || !('check' in guard)) return { kind: 'function' };
  const g = hiddenOf(guard);
  const guards = Array.isArray(g.guards) ? (g.guards as unknown[]) : [];
  if (g.check === CHECK.not) return { kind: 'not', guards };
  if (g.check === CHECK.and) return { kind: 'and', guards };
  if (g.check === CHECK.or) return { kind: 'or', guards };
  return { kind: 'builtin' };
}

/** One delayed event an actor has armed: its scheduling id, the event and the delay it was armed with. */
export interface ScheduledEvent {
  id: string;
  event: { type: string };
  delay: number;
}

/** The delayed events `actor` has armed and not yet delivered or cancelled (`after` timers, delayed sends). */
export function scheduledEventsOf(actor: AnyActorRef): ScheduledEvent[] {
  const snapshot = (
    actor.system as unknown as { getSnapshot(): { _scheduledEvents?: Record<string, Hidden> } }
  ).getSnapshot();
  const out: ScheduledEvent[] = [];
  for (const entry of Object.values(snapshot._scheduledEvents ?? {})) {
    if (entry.source !== actor) continue;
    out.push({ id: String(entry.id), event: entry.event as { type: string }, delay: entry.delay as number });
  }
  return out;
}
