/**
 * XState v5's action and guard semantics for the compiled runner (`step.ts` decides which run, in which order):
 * built-in actions (assign, raise, emit, log, delays and their cancellation), custom actions (run at once, or
 * deferred to the end of the initial step as XState's start() does), `enqueueActions` (collected, then run in
 * order, with `check` for guards), and guards (`{context, event}` and params; not/and/or). Each function mirrors
 * the XState function it is named after (`evaluateGuard`, `resolveActionsAndContext`, `resolveEnqueueActions`).
 */
import { type EventObject, raise } from 'xstate';
import { describeAction } from '../../../machines/core/xstateAdapter.js';
import {
  ActionKind,
  type CompiledAction,
  type CompiledGuard,
  compileAtRunTime,
  GuardKind,
} from './compile.js';
import { hasShape, mergeFor } from './contextCopy.js';
import { noSpawn, type Step, type StepLifecycle } from './stepTypes.js';

/**
 * The `{context, event}` last given to a guard (or a guard's params function): given again to the next one with the
 * same context and event (a lifecycle checks several guards against the same pair at every step). It is never
 * changed once made, so sharing it is invisible to the guards.
 */
let lastGuardArgs: { context: unknown; event: EventObject } = { context: undefined, event: { type: '' } };

function guardArgs(context: unknown, event: EventObject): { context: unknown; event: EventObject } {
  const last = lastGuardArgs;
  if (last.context === context && last.event === event) return last;
  const made = { context, event };
  lastGuardArgs = made;
  return made;
}

export function evalGuard(g: CompiledGuard, context: unknown, event: EventObject): unknown {
  const params =
    g.hasParams && typeof g.params === 'function'
      ? (g.params as (a: unknown) => unknown)(guardArgs(context, event))
      : g.params;
  switch (g.kind) {
    case GuardKind.fn:
      return g.impl(guardArgs(context, event), params);
    case GuardKind.not:
      return !evalGuard(g.operands![0], context, event);
    case GuardKind.and:
      return g.operands!.every((o) => evalGuard(o, context, event));
    case GuardKind.or:
      return g.operands!.some((o) => evalGuard(o, context, event));
    default:
      throw new Error(`Guard '${g.impl}' is not implemented.'.`);
  }
}

function paramsOf(a: CompiledAction, context: unknown, event: EventObject): unknown {
  if (!a.hasParams) return undefined;
  return typeof a.params === 'function'
    ? (a.params as (x: unknown) => unknown)({ context, event })
    : a.params;
}

/**
 * A copy of `context` (XState's `Object.assign({}, context)`): the machine's literal copy when the context has its
 * fields, the machine's spread when its contexts are small (`contextCopy.ts`), otherwise into its `ContextObject`.
 */
export function copyContext(compiled: StepLifecycle['compiled'], context: object): Record<string, unknown> {
  const shape = compiled.shape;
  return copyChecked(compiled, context, shape != null && hasShape(context, shape.keys));
}

/** `copyContext` once it is known whether `context` has the machine's shape. */
function copyChecked(
  compiled: StepLifecycle['compiled'],
  context: object,
  shaped: boolean,
): Record<string, unknown> {
  if (shaped) return compiled.shape!.copy(context);
  const spread = compiled.spread;
  if (spread !== null && !hasOwn.call(context, '__proto__')) return spread(context);
  return Object.assign(new compiled.ContextObject(), context) as Record<string, unknown>;
}

function applyAssign(
  lc: StepLifecycle,
  step: Step,
  assignment: any,
  params: unknown,
  event: EventObject,
): void {
  const context = lc.context;
  let next: Record<string, unknown>;
  if (typeof assignment === 'function') {
    // (the assignment runs before the copy is made, as in XState)
    const partial = assignment(assignerArgs(context, lc, event), params);
    next = Object.assign(copyContext(lc.compiled, context), partial);
  } else if (hasOwn.call(assignment, '__proto__')) {
    applyAssignSlowly(lc, step, assignment, params, event);
    return;
  } else {
    const shape = lc.compiled.shape;
    const shaped = shape != null && hasShape(context, shape.keys);
    if (shaped) {
      // the context and the assignment's fields in one literal (`mergeFor`), as XState's copy below comes to
      const merge = mergeFor(shape, assignment);
      if (merge !== null) {
        lc._setContext(merge(context, assignment, params, assignerArgs, lc, event));
        step.changed = true;
        return;
      }
    }
    // XState builds the partial context from `Object.keys(assignment)` (each function given the same arguments,
    // with the context before this assign), then copies it over a copy of the context: written straight into the
    // copy here, in the same order (no partial object, no key array, the arguments made only for a function); the
    // shape was checked above
    next = copyChecked(lc.compiled, context, shaped);
    let args: object | undefined;
    for (const key in assignment) {
      if (!hasOwn.call(assignment, key)) continue;
      const p = assignment[key];
      if (typeof p !== 'function') next[key] = p;
      else {
        if (args === undefined) args = assignerArgs(context, lc, event);
        next[key] = p(args, params);
      }
    }
  }
  lc._setContext(next);
  step.changed = true;
}

/** What an assign's function (or an assignment object's assigners) is given, made once per assign. */
function assignerArgs(context: object, lc: unknown, event: unknown): object {
  const self = lc as StepLifecycle;
  return { context, event, spawn: noSpawn, self, system: self.host.system };
}

/** `applyAssign` for an assignment object with an own `__proto__` key: through a partial object, as XState does. */
function applyAssignSlowly(
  lc: StepLifecycle,
  step: Step,
  assignment: any,
  params: unknown,
  event: EventObject,
): void {
  const context = lc.context;
  const args = assignerArgs(context, lc, event);
  const partial: Record<string, unknown> = {};
  for (const key of Object.keys(assignment)) {
    const p = assignment[key];
    partial[key] = typeof p === 'function' ? p(args, params) : p;
  }
  lc._setContext(Object.assign(new lc.compiled.ContextObject(), context, partial));
  step.changed = true;
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The `{context, event, self, system}` last given to a custom action: given again to the next one of the same
 * lifecycle with the same context and event (entry actions of several states, an action list). Never changed once
 * made, so sharing it is invisible to the actions (one that keeps it keeps what it was given).
 */
let lastInfo: { context: unknown; event: EventObject; self: StepLifecycle; system: unknown } | null = null;

function runCustom(lc: StepLifecycle, step: Step, fn: any, params: unknown, event: EventObject): void {
  const context = lc.context;
  let info = lastInfo;
  if (info === null || info.context !== context || info.event !== event || info.self !== lc) {
    info = { context, event, self: lc, system: lc.host.system };
    lastInfo = info;
  }
  if (step.init) step.defer([fn, info, params]);
  else fn(info, params);
}

/** An event (or emitted event) as given, or what its function returns. */
function resolveSpec(lc: StepLifecycle, spec: any, params: unknown, event: EventObject): EventObject {
  return typeof spec === 'function'
    ? spec({ context: lc.context, event, self: lc, system: lc.host.system }, params)
    : spec;
}

function applyRaise(lc: StepLifecycle, step: Step, spec: any, params: unknown, event: EventObject): void {
  if (typeof spec === 'string') {
    throw new Error(`Only event objects may be used with raise; use raise({ type: "${spec}" }) instead`);
  }
  step.raise(resolveSpec(lc, spec, params, event));
}

export function runActions(
  lc: StepLifecycle,
  step: Step,
  actions: readonly CompiledAction[],
  event: EventObject,
): void {
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i];
    switch (a.kind) {
      case ActionKind.after: {
        const delay = a.extra;
        let ms: unknown = delay;
        if (typeof delay === 'string') {
          const cfg = lc.compiled.delays[delay];
          ms =
            typeof cfg === 'function'
              ? cfg({ context: lc.context, event, self: lc, system: lc.host.system }, undefined)
              : cfg;
        }
        if (typeof ms !== 'number') step.raise(a.impl);
        else lc._armDelay(ms, a.impl);
        break;
      }
      case ActionKind.afterCancel:
        lc._disarm(a.extra);
        break;
      case ActionKind.assign:
        applyAssign(lc, step, a.impl, paramsOf(a, lc.context, event), event);
        break;
      case ActionKind.custom:
        runCustom(lc, step, a.impl, paramsOf(a, lc.context, event), event);
        break;
      case ActionKind.raise:
        applyRaise(lc, step, a.impl, paramsOf(a, lc.context, event), event);
        break;
      case ActionKind.emit:
        step.emit(resolveSpec(lc, a.impl, paramsOf(a, lc.context, event), event));
        break;
      case ActionKind.log: {
        const context = lc.context;
        const params = paramsOf(a, context, event);
        const spec = a.impl;
        const value =
          typeof spec === 'function'
            ? spec({ context, event, self: lc, system: lc.host.system }, params)
            : spec;
        const args = a.extra ? [a.extra, value] : [value];
        if (step.init) step.defer([null, args]);
        else lc.host.log?.(lc, args);
        break;
      }
      case ActionKind.enqueue:
        runEnqueued(lc, step, a, event);
        break;
      default:
        break;
    }
  }
}

function unsupported(name: string): () => never {
  return () => {
    throw new Error(`not supported by the compiled runner: enqueue.${name}`);
  };
}

/**
 * What `enqueueActions` collects, flat: (kind, what, options) triples. `enqueue.assign/raise/emit` are recorded as
 * they are (no XState action object is made, none compiled) and run as the runner's own assign/raise/emit; other
 * references (`enqueue(fn)`, `enqueue('name')`, XState action objects) go through `compileAtRunTime`, except plain
 * functions, which run as custom actions. One `enqueue` and one `check` serve every lifecycle: the collecting
 * list and the guard's context and event are module state, saved and restored around each collection.
 */
const ENQ_REF = 0;
const ENQ_ASSIGN = 1;
const ENQ_RAISE = 2;
const ENQ_EMIT = 3;
/** A collection's triples (`n` values of `items`); kept for the next collection once run (no array each time). */
class Collected {
  readonly items: unknown[] = [];
  n = 0;
}
const spareCollections: Collected[] = [];
let collecting: Collected | null = null;
let checkMachine: StepLifecycle['compiled']['machine'] | null = null;
let checkContext: unknown;
let checkEvent: EventObject | undefined;

function collected(kind: number, what: unknown, options: unknown): void {
  const c = collecting;
  if (c) {
    const items = c.items;
    items[c.n++] = kind;
    items[c.n++] = what;
    items[c.n++] = options;
  }
}

const ENQUEUE = Object.assign((action: unknown) => collected(ENQ_REF, action, undefined), {
  assign: (assignment: unknown) => collected(ENQ_ASSIGN, assignment, undefined),
  raise: (event: unknown, options?: unknown) => collected(ENQ_RAISE, event, options),
  emit: (event: unknown) => collected(ENQ_EMIT, event, undefined),
  cancel: unsupported('cancel'),
  sendTo: unsupported('sendTo'),
  sendParent: unsupported('sendParent'),
  spawnChild: unsupported('spawnChild'),
  stopChild: unsupported('stopChild'),
});

function CHECK(guard: unknown): unknown {
  if (!checkMachine) throw new Error('check() called outside enqueueActions');
  return evalGuard(compileAtRunTime(checkMachine, guard, true), checkContext, checkEvent!);
}

/** `enqueueActions`: collect the actions (XState's resolveEnqueueActions), then run them in order. */
function runEnqueued(lc: StepLifecycle, step: Step, a: CompiledAction, event: EventObject): void {
  const context = lc.context;
  const params = paramsOf(a, context, event);
  const machine = lc.compiled.machine;
  const collection = spareCollections.pop() ?? new Collected();
  const savedList = collecting;
  const savedMachine = checkMachine;
  const savedContext = checkContext;
  const savedEvent = checkEvent;
  collecting = collection;
  checkMachine = machine;
  checkContext = context;
  checkEvent = event;
  try {
    a.impl({ context, event, enqueue: ENQUEUE, check: CHECK, self: lc, system: lc.host.system }, params);
  } catch (err) {
    release(collection);
    throw err;
  } finally {
    collecting = savedList;
    checkMachine = savedMachine;
    checkContext = savedContext;
    checkEvent = savedEvent;
  }
  try {
    runCollected(lc, step, collection.items, collection.n, event);
  } finally {
    release(collection);
  }
}

/** A collection emptied (nothing kept alive by it) and kept for the next one. */
function release(c: Collected): void {
  const items = c.items;
  for (let i = 0; i < c.n; i++) items[i] = undefined;
  c.n = 0;
  spareCollections.push(c);
}

function runCollected(lc: StepLifecycle, step: Step, list: unknown[], n: number, event: EventObject): void {
  const machine = lc.compiled.machine;
  for (let i = 0; i < n; i += 3) {
    const what = list[i + 1];
    switch (list[i]) {
      case ENQ_ASSIGN:
        applyAssign(lc, step, what, undefined, event);
        break;
      case ENQ_EMIT:
        step.emit(resolveSpec(lc, what, undefined, event));
        break;
      case ENQ_RAISE: {
        const options = list[i + 2];
        if (options === undefined) {
          applyRaise(lc, step, what, undefined, event);
          break;
        }
        const ref = (raise as (...x: unknown[]) => unknown)(what, options);
        runActions(lc, step, [compileAtRunTime(machine, ref, false)], event);
        break;
      }
      default:
        if (typeof what === 'function' && describeAction(what).kind === 'custom') {
          runCustom(lc, step, what, undefined, event);
        } else runActions(lc, step, [compileAtRunTime(machine, what, false)], event);
    }
  }
}
