/**
 * XState v5's step rules for one compiled lifecycle (`runner.ts` keeps the record, this module moves it): a
 * macrostep selects one transition for an event (deepest active state first, document order), runs its exit set
 * (innermost first), its actions and its entry set (outermost first, entering the initial states of compound
 * targets), then eventless transitions and raised events to quiescence; the initial step enters the initial states
 * the same way. The exit/entry plan of each transition is `compile.ts`'s, computed once; actions and guards are
 * `actions.ts`'s. Each function mirrors the XState function it is named after (`macrostep`, `microstep`,
 * `selectTransitions`, `selectEventlessTransitions`).
 */
import type { EventObject } from 'xstate';
import { copyContext, evalGuard, runActions } from './actions.js';
import { type CompiledNode, type CompiledTransition, planOf } from './compile.js';
import { hasSymbolKeys, learnCopies } from './contextCopy.js';
import { ACTIVE, DONE, NONE, noSpawn, Step, type StepLifecycle } from './stepTypes.js';

export {
  ACTIVE,
  DONE,
  ERROR,
  NONE,
  STOPPED,
  type StepCallbacks,
  type StepHost,
  type StepLifecycle,
  type StepObserver,
} from './stepTypes.js';

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
      // XState's assign: `Object.assign({}, {}, factory(...))` (see `contextCopy.ts`)
      const made = cfg({ spawn: noSpawn, input, self: lc });
      preCtx = initialContext(compiled, made);
      lc._setContext(preCtx);
    } else if (compiled.shape === undefined) learnCopies(compiled, preCtx);
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

/**
 * The first context from what the context factory made: its literal copy when it has the machine's fields (learned
 * from the first one), otherwise `Object.assign` into the machine's `ContextObject`. A context with symbol keys
 * (which a literal would not copy) turns the literal copy off for the machine.
 */
function initialContext(compiled: StepLifecycle['compiled'], made: unknown): unknown {
  if (compiled.shape === undefined) learnCopies(compiled, made);
  if (made === null || typeof made !== 'object') return Object.assign(new compiled.ContextObject(), made);
  if (compiled.shape !== null && hasSymbolKeys(made)) compiled.shape = null;
  return copyContext(compiled, made);
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
      for (let i = 0; i < deferred.length; i++) {
        const d = deferred[i];
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
    for (let i = 0; i < emits.length; i++) {
      const e = emits[i];
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
    if (exact)
      for (let i = 0; i < exact.length; i++) if (guardPasses(lc, exact[i], event, n)) return exact[i];
    const wild = n.wildcards;
    for (let i = 0; i < wild.length; i++) {
      if (wild[i][0] === type || !matchesDescriptor(type, wild[i][0])) continue;
      const ts = wild[i][1];
      for (let j = 0; j < ts.length; j++) if (guardPasses(lc, ts[j], event, n)) return ts[j];
    }
  }
  return null;
}

function selectEventless(lc: StepLifecycle, event: EventObject): CompiledTransition | null {
  for (let n: CompiledNode | null = lc.node; n; n = n.parent) {
    const always = n.always;
    if (!always) continue;
    for (let i = 0; i < always.length; i++) {
      const t = always[i];
      if (t.guard === null || evalGuard(t.guard, lc.context, event)) return t;
    }
  }
  return null;
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
