/**
 * XState v5's step rules for one compiled lifecycle (`runner.ts` keeps the record, this module moves it): a
 * macrostep selects one transition for an event (deepest active state first, document order, guards with
 * `{context, event}` and params), runs its exit set (innermost first), its actions and its entry set (outermost
 * first, entering the initial states of compound targets), then eventless transitions and raised events to
 * quiescence; the initial step enters the initial states the same way. The exit/entry plan of each transition is
 * `compile.ts`'s, computed once. Each function mirrors the XState function it is named after (`macrostep`,
 * `microstep`, `selectTransitions`, `selectEventlessTransitions`, `evaluateGuard`, `resolveActionsAndContext`).
 */
import { type EventObject, raise } from 'xstate';
import { describeAction } from '../../../machines/core/xstateAdapter.js';
import {
  ActionKind,
  type CompiledAction,
  type CompiledGuard,
  type CompiledMachine,
  type CompiledNode,
  type CompiledTransition,
  compileAtRunTime,
  GuardKind,
  planOf,
} from './compile.js';

/** Lifecycle statuses (`runner.ts` names them). */
export const ACTIVE = 0;
export const DONE = 1;
export const ERROR = 2;
export const STOPPED = 3;
/** No transitions: what observers get for a microstep that took none. */
export const NONE: readonly unknown[] = Object.freeze([]);

/** What the step functions see of a lifecycle's observer, host and callbacks (`runner.ts` types them). */
export interface StepObserver {
  event(lc: any, event: EventObject): void;
  microstep(lc: any, event: EventObject, transitions: readonly unknown[]): void;
  snapshot(lc: any, event: EventObject): void;
  emitted?(lc: any, emitted: EventObject): void;
}
export interface StepHost {
  schedule(lc: any, ms: number, event: EventObject): unknown;
  cancel(handle: unknown): void;
  log?(lc: any, args: unknown[]): void;
  ended?(lc: any): void;
  readonly system?: unknown;
}
export interface StepCallbacks {
  onDone?(lc: any): void;
  onEmit?(lc: any, emitted: EventObject): void;
  onError?(lc: any, error: unknown): void;
}

/** The lifecycle record as the step functions read and write it (`Lifecycle` in `runner.ts`). */
export interface StepLifecycle {
  readonly compiled: CompiledMachine;
  readonly host: StepHost;
  readonly observer: StepObserver | null;
  node: CompiledNode;
  readonly context: any;
  readonly error: unknown;
  readonly _state: number;
  readonly _cb: StepCallbacks | null;
  readonly owner: unknown;
  _setContext(ctx: unknown): void;
  _fail(err: unknown): void;
  _done(output: unknown): void;
  _reset(node: CompiledNode, ctx: unknown): void;
  _arm(event: EventObject, handle: unknown): void;
  _disarm(type: string): void;
  _disarmAll(): void;
}

function noSpawn(): never {
  throw new Error('spawn is not supported by the compiled runner');
}

/** The host's `ended` hook: once, when the lifecycle leaves 'active' (done, error; `stop` calls it too). */
export function ended(lc: StepLifecycle): void {
  const hook = lc.host.ended;
  if (hook) {
    try {
      hook(lc);
    } catch (err) {
      reportUnhandled(err);
    }
  }
  // then its owner's, when it has one (`LifecycleOwner`): however it ends, with nothing kept per lifecycle
  const owner = lc.owner as { [LIFECYCLE_ENDED]?: (lc: StepLifecycle) => void } | null | undefined;
  if (owner !== null && typeof owner === 'object') {
    const own = owner[LIFECYCLE_ENDED];
    if (typeof own === 'function') {
      try {
        own.call(owner, lc);
      } catch (err) {
        reportUnhandled(err);
      }
    }
  }
}

/**
 * The method an owner (`LifecycleOptions.owner`) may have to be told when its lifecycle leaves 'active' (done,
 * failed or stopped), right after the host's `ended` hook and before `onDone`/`onError`.
 */
export const LIFECYCLE_ENDED: unique symbol = Symbol('orrery.lifecycleEnded');

/** XState's reportUnhandledError: a throwing listener fails in a macrotask of its own. */
function reportUnhandled(err: unknown): void {
  setTimeout(() => {
    throw err;
  });
}

/** Scratch state of one macrostep. */
class Step {
  queue: EventObject[] | null = null;
  emits: EventObject[] | null = null;
  /** At start: custom actions and logs, run after the initial step ([fn, info, params] or [null, args]). */
  deferred: unknown[][] | null = null;
  changed = false;
  constructor(readonly init: boolean) {}
  raise(event: EventObject): void {
    if (this.queue) this.queue.push(event);
    else this.queue = [event];
  }
  emit(event: EventObject): void {
    if (this.emits) this.emits.push(event);
    else this.emits = [event];
  }
  defer(call: unknown[]): void {
    if (this.deferred) this.deferred.push(call);
    else this.deferred = [call];
  }
}

/**
 * The initial step: the context from `input`, the initial states entered, eventless transitions and raised events
 * to quiescence (XState's getInitialSnapshot), then what XState's start() runs (deferred actions, emitted events).
 */
export function initialStep(lc: StepLifecycle, input: unknown): void {
  const compiled = lc.compiled;
  const initEvent: EventObject = { type: 'xstate.init', input } as EventObject;
  const cfg = compiled.context;
  let preCtx: unknown = typeof cfg !== 'function' && cfg ? cfg : {};
  lc._setContext(preCtx);
  const step = new Step(true);
  let failed = false;
  try {
    if (typeof cfg === 'function') {
      // XState's assign: `Object.assign({}, ...)`, into the machine's `{}` (see `ContextObject`)
      preCtx = Object.assign(new compiled.ContextObject(), preCtx, cfg({ spawn: noSpawn, input, self: lc }));
      lc._setContext(preCtx);
    }
    const entry = compiled.initialEntry;
    for (let i = 0; i < entry.length; i++) {
      const n = entry[i];
      runActions(lc, step, n.entry, initEvent);
      if (n.initialActions.length) runActions(lc, step, n.initialActions, initEvent);
      if (n.isFinal) enterFinal(lc, step, n, initEvent);
    }
    lc.node = compiled.initialLeaf;
    if (lc._state === DONE) exitAll(lc, step, initEvent);
    settle(lc, step, initEvent);
  } catch (err) {
    lc._reset(compiled.initialLeaf, preCtx);
    lc._fail(err);
    failed = true;
  }
  if (lc.observer) lc.observer.event(lc, initEvent);
  if (failed) report(lc, lc.error);
  else complete(lc, step, initEvent);
}

function report(lc: StepLifecycle, err: unknown): void {
  ended(lc);
  const onError = lc._cb?.onError;
  if (onError) {
    try {
      onError(lc, err);
    } catch (e) {
      reportUnhandled(e);
    }
  }
}

/** One macrostep for an external event (the lifecycle is active and marked busy). */
export function macrostep(lc: StepLifecycle, event: EventObject): void {
  const prevNode = lc.node;
  const prevCtx = lc.context;
  const step = new Step(false);
  try {
    if (event.type === '*') throw new Error(`An event cannot have the wildcard type ('*')`);
    const t = select(lc, event);
    if (!t && typeof event.type === 'string' && event.type.startsWith('xstate.error.actor')) {
      if (lc.observer) lc.observer.microstep(lc, event, NONE);
      lc._fail((event as { error?: unknown }).error);
      report(lc, lc.error);
      if (lc.observer) lc.observer.snapshot(lc, event);
      return;
    }
    microstep(lc, step, t, event);
    if (lc.observer) lc.observer.microstep(lc, event, t ? t.defs : NONE);
    settle(lc, step, event);
  } catch (err) {
    lc._reset(prevNode, prevCtx);
    lc._fail(err);
    report(lc, err);
    return;
  }
  complete(lc, step, event);
}

/** Eventless transitions and raised events, to quiescence (XState's macrostep loop). */
function settle(lc: StepLifecycle, step: Step, event: EventObject): void {
  let ev = event;
  let eventless = true;
  let iterations = 0;
  const max = lc.compiled.maxIterations;
  while (lc._state === ACTIVE) {
    if (++iterations > max) {
      throw new Error(
        `Infinite loop detected: the machine has processed more than ${max} microsteps without reaching a stable state. This usually happens when there's a cycle of transitions (e.g., eventless transitions or raised events causing state A -> B -> C -> A).`,
      );
    }
    let t: CompiledTransition | null = eventless ? selectEventless(lc, ev) : null;
    const fromEventless: boolean = t !== null;
    if (!fromEventless) {
      const q = step.queue;
      if (!q || q.length === 0) break;
      ev = q.shift()!;
      t = select(lc, ev);
    }
    step.changed = false;
    microstep(lc, step, t, ev);
    eventless = fromEventless ? step.changed : true;
    if (lc.observer) lc.observer.microstep(lc, ev, t ? t.defs : NONE);
  }
}

/** After a successful macrostep: deferred actions (at start), emitted events, done, observers. */
function complete(lc: StepLifecycle, step: Step, event: EventObject): void {
  if (lc._state === DONE) lc._disarmAll();
  const deferred = step.deferred;
  if (deferred) {
    try {
      for (const d of deferred) {
        if (d[0] === null) lc.host.log?.(lc, d[1] as unknown[]);
        else (d[0] as (a: unknown, p: unknown) => void)(d[1], d[2]);
      }
    } catch (err) {
      lc._fail(err);
      if (lc.observer) lc.observer.snapshot(lc, event);
      report(lc, err);
      return;
    }
  }
  const emits = step.emits;
  if (emits) {
    const onEmit = lc._cb?.onEmit;
    for (const e of emits) {
      if (lc.observer?.emitted) lc.observer.emitted(lc, e);
      if (onEmit) {
        try {
          onEmit(lc, e);
        } catch (err) {
          reportUnhandled(err);
        }
      }
    }
  }
  if (lc._state === DONE) {
    ended(lc);
    const onDone = lc._cb?.onDone;
    if (onDone) {
      try {
        onDone(lc);
      } catch (err) {
        reportUnhandled(err);
      }
    }
  }
  if (lc.observer) lc.observer.snapshot(lc, event);
}

function matchesDescriptor(type: string, descriptor: string): boolean {
  if (descriptor === '*') return true;
  const partial = descriptor.split('.');
  const tokens = type.split('.');
  for (let i = 0; i < partial.length; i++) {
    if (partial[i] === '*') return i === partial.length - 1;
    if (partial[i] !== tokens[i]) return false;
  }
  return true;
}

function guardPasses(
  lc: StepLifecycle,
  t: CompiledTransition,
  event: EventObject,
  node: CompiledNode,
): boolean {
  if (t.guard === null) return true;
  try {
    return !!evalGuard(t.guard, lc.context, event);
  } catch (err) {
    const name = t.guardName;
    throw new Error(
      `Unable to evaluate guard ${name ? `'${name}' ` : ''}in transition for event '${event.type}' in state node '${node.id}':\n${(err as { message: string }).message}`,
    );
  }
}

/** The transition an event selects: deepest active state first, then its ancestors; document order. */
function select(lc: StepLifecycle, event: EventObject): CompiledTransition | null {
  const type = event.type;
  for (let n: CompiledNode | null = lc.node; n; n = n.parent) {
    const exact = n.on.get(type);
    if (exact) for (const t of exact) if (guardPasses(lc, t, event, n)) return t;
    const wild = n.wildcards;
    for (let i = 0; i < wild.length; i++) {
      if (wild[i][0] === type || !matchesDescriptor(type, wild[i][0])) continue;
      for (const t of wild[i][1]) if (guardPasses(lc, t, event, n)) return t;
    }
  }
  return null;
}

function selectEventless(lc: StepLifecycle, event: EventObject): CompiledTransition | null {
  for (let n: CompiledNode | null = lc.node; n; n = n.parent) {
    const always = n.always;
    if (!always) continue;
    for (const t of always) if (t.guard === null || evalGuard(t.guard, lc.context, event)) return t;
  }
  return null;
}

function evalGuard(g: CompiledGuard, context: unknown, event: EventObject): unknown {
  const params =
    g.hasParams && typeof g.params === 'function'
      ? (g.params as (a: unknown) => unknown)({ context, event })
      : g.params;
  switch (g.kind) {
    case GuardKind.fn:
      return g.impl({ context, event }, params);
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

/** One microstep: exit set, transition actions, entry set (XState's microstep for one transition). */
function microstep(lc: StepLifecycle, step: Step, t: CompiledTransition | null, event: EventObject): void {
  if (t === null) return;
  const prevNode = lc.node;
  if (t.target === null) {
    runActions(lc, step, t.actions, event);
    return;
  }
  const plan = planOf(t, lc.compiled.root);
  const domain = plan.domain;
  for (let n: CompiledNode | null = lc.node; n !== domain && n; n = n.parent)
    runActions(lc, step, n.exit, event);
  if (plan.exitDomain) runActions(lc, step, domain!.exit, event);
  runActions(lc, step, t.actions, event);
  const entry = plan.entry;
  for (let i = 0; i < entry.length; i++) {
    const n = entry[i];
    runActions(lc, step, n.entry, event);
    if (plan.defaultEntry[i] && n.initialActions.length) runActions(lc, step, n.initialActions, event);
    if (n.isFinal) enterFinal(lc, step, n, event);
  }
  lc.node = plan.leaf;
  if (lc._state === DONE) exitAll(lc, step, event);
  if (lc.node !== prevNode) step.changed = true;
}

function exitAll(lc: StepLifecycle, step: Step, event: EventObject): void {
  for (let n: CompiledNode | null = lc.node; n; n = n.parent) runActions(lc, step, n.exit, event);
}

function resolveOutput(mapper: unknown, context: unknown, event: unknown, self: StepLifecycle): unknown {
  return typeof mapper === 'function' ? mapper({ context, event, self }) : mapper;
}

/** A final state was entered: its parent's done event; the lifecycle is done when the parent is the root. */
function enterFinal(lc: StepLifecycle, step: Step, n: CompiledNode, event: EventObject): void {
  const parent = n.parent!;
  const own = n.node.output;
  const output = own !== undefined ? resolveOutput(own, lc.context, event, lc) : undefined;
  step.raise({ type: parent.doneType, output } as EventObject);
  if (parent.parent) return;
  const machineOutput = lc.compiled.output;
  if (machineOutput === undefined) {
    lc._done(undefined);
    return;
  }
  const doneOutput = own !== undefined ? resolveOutput(own, lc.context, event, lc) : undefined;
  const doneEvent = { type: n.doneType, output: doneOutput };
  lc._done(resolveOutput(machineOutput, lc.context, doneEvent, lc));
}

function paramsOf(a: CompiledAction, context: unknown, event: EventObject): unknown {
  if (!a.hasParams) return undefined;
  return typeof a.params === 'function'
    ? (a.params as (x: unknown) => unknown)({ context, event })
    : a.params;
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
    const args = { context, event, spawn: noSpawn, self: lc, system: lc.host.system };
    next = Object.assign(new lc.compiled.ContextObject(), context, assignment(args, params));
  } else if (hasOwn.call(assignment, '__proto__')) {
    applyAssignSlowly(lc, step, assignment, params, event);
    return;
  } else {
    // XState builds the partial context from `Object.keys(assignment)` (each function given the same arguments,
    // with the context before this assign), then copies it over a copy of the context: written straight into the
    // copy here, in the same order (no partial object, no key array, the arguments made only for a function)
    next = Object.assign(new lc.compiled.ContextObject(), context);
    let args: object | undefined;
    for (const key in assignment) {
      if (!hasOwn.call(assignment, key)) continue;
      const p = assignment[key];
      if (typeof p !== 'function') next[key] = p;
      else {
        if (args === undefined) args = { context, event, spawn: noSpawn, self: lc, system: lc.host.system };
        next[key] = p(args, params);
      }
    }
  }
  lc._setContext(next);
  step.changed = true;
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
  const args = { context, event, spawn: noSpawn, self: lc, system: lc.host.system };
  const partial: Record<string, unknown> = {};
  for (const key of Object.keys(assignment)) {
    const p = assignment[key];
    partial[key] = typeof p === 'function' ? p(args, params) : p;
  }
  lc._setContext(Object.assign(new lc.compiled.ContextObject(), context, partial));
  step.changed = true;
}

const hasOwn = Object.prototype.hasOwnProperty;

function runCustom(lc: StepLifecycle, step: Step, fn: any, params: unknown, event: EventObject): void {
  const info = { context: lc.context, event, self: lc, system: lc.host.system };
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

function runActions(
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
        else {
          const handle = lc.host.schedule(lc, ms, a.impl);
          if (handle !== null && handle !== undefined) lc._arm(a.impl, handle);
        }
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
