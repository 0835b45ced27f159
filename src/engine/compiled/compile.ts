/**
 * Compiles an XState v5 machine definition into the plan the compiled runner (`runner.ts`) follows: one record per
 * state node, its transitions with their guards and actions resolved against `machine.implementations`, and, per
 * transition, the exit/entry plan of XState's step rules (computed on first use, then cached). A machine that uses
 * what the runner does not support is refused with the reason; it stays on XState's interpreter.
 *
 * Supported: atomic, compound and final states; `on` (exact, `*` and `prefix.*` descriptors), `always`, `after`
 * (numbers or named delays), `onDone` of compound states, `reenter`; actions `assign`, `raise` (not delayed),
 * `emit`, `log`, `enqueueActions` (what it enqueues is checked when it runs), named and inline functions; guards as named or inline functions and `not`/`and`/`or`; `context`
 * as an object or a function of `{input}`; `output`. Refused: parallel and history states, `invoke`, `sendTo`,
 * `spawnChild`, `stopChild`, `cancel`, delayed `raise`, `stateIn`, transitions with several
 * targets. Only XState's public state graph is read here; XState's action and guard objects are read through
 * `machines/core/xstateAdapter.ts`.
 */

import type { AnyStateMachine, AnyStateNode, EventObject } from 'xstate';
import { describeAction, describeGuard } from '../../../machines/core/xstateAdapter.js';
import type { LearnedShape, SmallCopy } from './contextCopy.js';

/** Action kinds of the runner. */
export const ActionKind = {
  /** A named or inline function: called with `({context, event, self, system}, params)`. */
  custom: 0,
  assign: 1,
  raise: 2,
  emit: 3,
  log: 4,
  /** XState's own entry action for an `after` delay: arm the delayed event. */
  after: 5,
  /** XState's own exit action for an `after` delay: cancel the delayed event. */
  afterCancel: 6,
  /** A named action the machine does not implement: XState does nothing. */
  none: 7,
  /** `enqueueActions(collect)`: the actions `collect` enqueues are compiled and run when it runs. */
  enqueue: 8,
} as const;

/** One resolved action. */
export class CompiledAction {
  constructor(
    readonly kind: number,
    /** custom: the function; assign: the assignment; raise/emit: the event or its function; log: the value; after: the event. */
    readonly impl: any,
    /** The action reference's `params` (a value or a function of `{context, event}`); `hasParams` says if any. */
    readonly params: unknown,
    readonly hasParams: boolean,
    /** log: the label; after: the delay (number or delay name); afterCancel: the event type. */
    readonly extra: any,
  ) {}
}

/** Guard kinds of the runner. */
export const GuardKind = { fn: 0, not: 1, and: 2, or: 3, missing: 4 } as const;

/** One resolved guard. */
export class CompiledGuard {
  constructor(
    readonly kind: number,
    /** fn: the function; missing: the name. */
    readonly impl: any,
    readonly params: unknown,
    readonly hasParams: boolean,
    readonly operands: readonly CompiledGuard[] | null,
  ) {}
}

/** Where a transition with a target leaves and enters (XState's exit and entry sets for it). */
export interface TransitionPlan {
  /** Active states below the domain are exited (innermost first); null: every active state, the root too. */
  readonly domain: CompiledNode | null;
  /** The domain itself is exited and re-entered too (a `reenter` transition whose domain is its source). */
  readonly exitDomain: boolean;
  /** States entered, outermost first, each with whether its initial transition's actions run. */
  readonly entry: readonly CompiledNode[];
  readonly defaultEntry: readonly boolean[];
  /** The atomic or final state the transition ends in. */
  readonly leaf: CompiledNode;
}

/** One transition of the machine, with XState's own TransitionDefinition (`def`). */
export class CompiledTransition {
  plan: TransitionPlan | null = null;
  /** `[def]`, handed to observers as the transitions of a microstep. */
  readonly defs: readonly unknown[];
  constructor(
    readonly def: any,
    readonly source: CompiledNode,
    readonly guard: CompiledGuard | null,
    /** The guard's name in XState's "Unable to evaluate guard" message (undefined for an inline guard). */
    readonly guardName: string | undefined,
    readonly actions: readonly CompiledAction[],
    readonly target: CompiledNode | null,
    readonly reenter: boolean,
  ) {
    this.defs = Object.freeze([def]);
  }
}

/** One state node of the machine. */
export class CompiledNode {
  parent: CompiledNode | null = null;
  entry: readonly CompiledAction[] = [];
  exit: readonly CompiledAction[] = [];
  /** The initial transition's actions (compound states). */
  initialActions: readonly CompiledAction[] = [];
  initialChild: CompiledNode | null = null;
  /** Transitions by exact event descriptor, in document order. */
  on = new Map<string, readonly CompiledTransition[]>();
  /** Wildcard descriptors (`*`, `prefix.*`), longest first, with their transitions. */
  wildcards: [string, readonly CompiledTransition[]][] = [];
  always: readonly CompiledTransition[] | null = null;
  readonly isFinal: boolean;
  /** `xstate.done.state.<id>`: the event raised when a final child of this state is entered. */
  readonly doneType: string;
  /** Lazily built state value (leaf nodes) and tags of the active path ending here. */
  value: unknown = undefined;
  tags: ReadonlySet<string> | null = null;
  constructor(
    readonly node: AnyStateNode,
    readonly order: number,
  ) {
    this.isFinal = node.type === 'final';
    this.doneType = `xstate.done.state.${node.id}`;
  }
  get id(): string {
    return this.node.id;
  }
}

/** A machine compiled for the runner. */
export class CompiledMachine {
  readonly nodes = new Map<AnyStateNode, CompiledNode>();
  root!: CompiledNode;
  /** The states entered at start, outermost first (each with its initial transition's actions). */
  initialEntry!: readonly CompiledNode[];
  initialLeaf!: CompiledNode;
  readonly context: unknown;
  readonly output: unknown;
  readonly delays: Record<string, unknown>;
  readonly maxIterations: number;
  /**
   * Makes the empty object each context is assigned into: to JavaScript the same as `{}` (its prototype is
   * `Object.prototype`, its constructor `Object`), but one constructor per machine lets V8 size its contexts for
   * that machine's fields, so a context of more than a dozen fields keeps fast properties (onto `{}`,
   * `Object.assign` makes it a dictionary: several KB a copy for the 23 fields of the `lrc` machine, and slow reads).
   */
  readonly ContextObject: new () => object = contextConstructor();
  /**
   * The fields of its contexts and their literal copy (`contextCopy.ts`), learned from its first context: undefined
   * until then, null when its contexts are copied by `Object.assign` only.
   */
  shape: LearnedShape = undefined;
  /** The spread copy of its contexts when the first one was small (`learnCopies`), learned with `shape`. */
  spread: SmallCopy | null = null;
  /** The runner's last lifecycle kind (host and shared callbacks) for this machine, reused while they match. */
  lastKind: unknown = null;
  constructor(readonly machine: AnyStateMachine) {
    this.context = (machine.config as { context?: unknown }).context;
    this.output = machine.root.output;
    this.delays = (machine.implementations.delays ?? {}) as Record<string, unknown>;
    this.maxIterations =
      (machine.options as { maxIterations?: number } | undefined)?.maxIterations ?? Infinity;
  }
  get id(): string {
    return this.machine.id;
  }
}

/**
 * A constructor per machine for its contexts (`CompiledMachine.ContextObject`). V8 sizes a constructor's objects by
 * the `this.x =` assignments in its body (whether they run or not: they never do here), then shrinks them to the
 * fields its first objects use: so up to 40 fields of a context are stored in the object itself, with no
 * separate property array to grow while `Object.assign` adds them one by one (265 bytes a copy of the `lrc`
 * context instead of 600, or 4.2 KB as a dictionary onto `{}`).
 */
function contextConstructor(): new () => object {
  function ContextObject(this: Record<string, unknown>, reserve?: boolean): void {
    if (reserve) {
      this.f0 = undefined;
      this.f1 = undefined;
      this.f2 = undefined;
      this.f3 = undefined;
      this.f4 = undefined;
      this.f5 = undefined;
      this.f6 = undefined;
      this.f7 = undefined;
      this.f8 = undefined;
      this.f9 = undefined;
      this.f10 = undefined;
      this.f11 = undefined;
      this.f12 = undefined;
      this.f13 = undefined;
      this.f14 = undefined;
      this.f15 = undefined;
      this.f16 = undefined;
      this.f17 = undefined;
      this.f18 = undefined;
      this.f19 = undefined;
      this.f20 = undefined;
      this.f21 = undefined;
      this.f22 = undefined;
      this.f23 = undefined;
      this.f24 = undefined;
      this.f25 = undefined;
      this.f26 = undefined;
      this.f27 = undefined;
      this.f28 = undefined;
      this.f29 = undefined;
      this.f30 = undefined;
      this.f31 = undefined;
    }
  }
  ContextObject.prototype = Object.prototype;
  return ContextObject as unknown as new () => object;
}

/** Why a machine cannot be compiled. */
class Refusal extends Error {}

const cache = new WeakMap<AnyStateMachine, CompiledMachine | { refused: string }>();

/**
 * Compiles `machine` for the runner, once per machine (cached): the compiled machine, or `{ refused: reason }` when
 * it uses something the runner does not support (then run it on XState's interpreter).
 */
export function compileMachine(machine: AnyStateMachine): CompiledMachine | { refused: string } {
  let compiled = cache.get(machine);
  if (compiled === undefined) {
    try {
      compiled = build(machine);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      compiled = { refused: err.message };
    }
    cache.set(machine, compiled);
  }
  return compiled;
}

/** Whether `machine` runs on the compiled runner (compiles it if it was not yet). */
export function isCompiled(machine: AnyStateMachine): boolean {
  return compileMachine(machine) instanceof CompiledMachine;
}

/** The reason `machine` is refused, or undefined when it compiles. */
export function refusalOf(machine: AnyStateMachine): string | undefined {
  const c = compileMachine(machine);
  return c instanceof CompiledMachine ? undefined : c.refused;
}

function build(machine: AnyStateMachine): CompiledMachine {
  const cm = new CompiledMachine(machine);
  const all: CompiledNode[] = [];
  const visit = (node: AnyStateNode, parent: CompiledNode | null) => {
    if (node.type === 'parallel') throw new Refusal(`state '${node.id}' is parallel`);
    if (node.type === 'history') throw new Refusal(`state '${node.id}' is a history state`);
    if (node.invoke.length > 0) throw new Refusal(`state '${node.id}' invokes an actor`);
    if (!parent && node.type === 'final') throw new Refusal('the machine itself is a final state');
    const cn = new CompiledNode(node, node.order);
    cn.parent = parent;
    cm.nodes.set(node, cn);
    all.push(cn);
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child, cn);
  };
  visit(machine.root, null);
  cm.root = cm.nodes.get(machine.root)!;
  const lookup = (node: AnyStateNode): CompiledNode => {
    const cn = cm.nodes.get(node);
    if (!cn) throw new Refusal(`unknown state node '${node?.id}'`);
    return cn;
  };
  for (const cn of all) {
    const node = cn.node;
    const afterTypes = new Set<string>((node.after as { eventType: string }[]).map((t) => t.eventType));
    const where = `state '${node.id}'`;
    cn.entry = node.entry.map((a: unknown) =>
      compileAction(machine, a, `${where} entry`, afterTypes, 'entry'),
    );
    cn.exit = node.exit.map((a: unknown) => compileAction(machine, a, `${where} exit`, afterTypes, 'exit'));
    if (node.type === 'compound') {
      const initial = node.initial;
      cn.initialChild = lookup(initial.target[0]);
      cn.initialActions = initial.actions.map((a: unknown) => compileAction(machine, a, `${where} initial`));
    }
    const transition = (def: any): CompiledTransition => {
      const targets = def.target as AnyStateNode[] | undefined;
      if (targets && targets.length > 1) throw new Refusal(`a transition of ${where} has several targets`);
      const label = `${where} on '${def.eventType}'`;
      const guardRef = def.guard;
      return new CompiledTransition(
        def,
        cn,
        guardRef === undefined ? null : compileGuard(machine, guardRef, label, 0),
        typeof guardRef === 'string' ? guardRef : typeof guardRef === 'object' ? guardRef.type : undefined,
        (def.actions as unknown[]).map((a) => compileAction(machine, a, label)),
        targets?.length ? lookup(targets[0]) : null,
        def.reenter === true,
      );
    };
    for (const [descriptor, defs] of node.transitions as Map<string, unknown[]>) {
      const compiled = defs.map(transition);
      if (descriptor === '*' || descriptor.endsWith('.*')) cn.wildcards.push([descriptor, compiled]);
      else cn.on.set(descriptor, compiled);
    }
    cn.wildcards.sort((a, b) => b[0].length - a[0].length);
    if (node.always) cn.always = (node.always as unknown[]).map(transition);
  }
  const entry: CompiledNode[] = [];
  for (let n: CompiledNode | null = cm.root; n; n = n.initialChild) entry.push(n);
  cm.initialEntry = entry;
  cm.initialLeaf = entry[entry.length - 1];
  return cm;
}

function paramsOf(ref: unknown): [unknown, boolean] {
  if (ref !== null && typeof ref === 'object' && 'params' in ref)
    return [(ref as { params: unknown }).params, true];
  return [undefined, false];
}

function compileAction(
  machine: AnyStateMachine,
  ref: unknown,
  where: string,
  afterTypes?: Set<string>,
  position?: 'entry' | 'exit',
): CompiledAction {
  const inline = typeof ref === 'function';
  const name = typeof ref === 'string' ? ref : inline ? undefined : (ref as { type?: string } | null)?.type;
  const resolved = inline ? ref : name === undefined ? undefined : machine.implementations.actions[name];
  const [params, hasParams] = inline ? [undefined, false] : paramsOf(ref);
  if (typeof resolved !== 'function')
    return new CompiledAction(ActionKind.none, undefined, undefined, false, undefined);
  const d = describeAction(resolved);
  const label = name === undefined ? where : `${where} (action '${name}')`;
  switch (d.kind) {
    case 'custom':
      return new CompiledAction(ActionKind.custom, resolved, params, hasParams, undefined);
    case 'assign':
      return new CompiledAction(ActionKind.assign, d.assignment, params, hasParams, undefined);
    case 'emit':
      return new CompiledAction(ActionKind.emit, d.event, params, hasParams, undefined);
    case 'log':
      return new CompiledAction(ActionKind.log, d.value, params, hasParams, d.label);
    case 'enqueueActions':
      return new CompiledAction(ActionKind.enqueue, d.collect, params, hasParams, undefined);
    case 'raise': {
      if (d.delay === undefined)
        return new CompiledAction(ActionKind.raise, d.event, params, hasParams, undefined);
      const ev = d.event as EventObject | undefined;
      if (
        position === 'entry' &&
        afterTypes?.has(d.id as string) &&
        ev?.type === d.id &&
        (typeof d.delay === 'number' || typeof d.delay === 'string')
      ) {
        return new CompiledAction(ActionKind.after, ev, undefined, false, d.delay);
      }
      throw new Refusal(`${label}: a delayed raise`);
    }
    case 'cancel':
      if (position === 'exit' && afterTypes?.has(d.sendId as string)) {
        return new CompiledAction(ActionKind.afterCancel, undefined, undefined, false, d.sendId);
      }
      throw new Refusal(`${label}: cancel`);
    default:
      throw new Refusal(`${label}: ${d.type}`);
  }
}

/**
 * Compiles an action or a guard met at run time (what `enqueueActions` enqueues, what its `check` tests); one the
 * runner does not support throws (the lifecycle fails with that error).
 */
export function compileAtRunTime(machine: AnyStateMachine, ref: unknown, guard: true): CompiledGuard;
export function compileAtRunTime(machine: AnyStateMachine, ref: unknown, guard: false): CompiledAction;
export function compileAtRunTime(machine: AnyStateMachine, ref: unknown, guard: boolean): unknown {
  try {
    return guard ? compileGuard(machine, ref, 'check()', 0) : compileAction(machine, ref, 'enqueueActions');
  } catch (err) {
    if (err instanceof Refusal) throw new Error(`not supported by the compiled runner: ${err.message}`);
    throw err;
  }
}

function compileGuard(machine: AnyStateMachine, ref: unknown, where: string, depth: number): CompiledGuard {
  if (depth > 32) throw new Refusal(`${where}: guards nested too deep`);
  const inline = typeof ref === 'function';
  const name = typeof ref === 'string' ? ref : inline ? undefined : (ref as { type?: string } | null)?.type;
  const resolved = inline ? ref : machine.implementations.guards[name as string];
  if (!inline && !resolved) return new CompiledGuard(GuardKind.missing, name, undefined, false, null);
  if (typeof resolved !== 'function') return compileGuard(machine, resolved, where, depth + 1);
  const [params, hasParams] = inline || typeof ref === 'string' ? [undefined, false] : paramsOf(ref);
  const d = describeGuard(resolved);
  if (d.kind === 'function') return new CompiledGuard(GuardKind.fn, resolved, params, hasParams, null);
  if (d.kind === 'builtin') throw new Refusal(`${where}: stateIn or another built-in guard`);
  const operands = d.guards.map((g) => compileGuard(machine, g, where, depth + 1));
  return new CompiledGuard(GuardKind[d.kind], undefined, params, hasParams, operands);
}

// ---------------------------------------------------------------------------------------------------------------
// Plans: XState's getTransitionDomain / computeExitSet / computeEntrySet for one transition of a non-parallel,
// history-free machine.

function isDescendant(child: CompiledNode, ancestor: CompiledNode | null): boolean {
  let m = child;
  while (m.parent && m.parent !== ancestor) m = m.parent;
  return m.parent === ancestor;
}

function properAncestors(node: CompiledNode, upTo: CompiledNode | null): CompiledNode[] {
  const out: CompiledNode[] = [];
  if (upTo === node) return out;
  for (let m = node.parent; m && m !== upTo; m = m.parent) out.push(m);
  return out;
}

/** The exit/entry plan of a transition with a target (computed once, then cached on the transition). */
export function planOf(t: CompiledTransition, root: CompiledNode): TransitionPlan {
  if (t.plan) return t.plan;
  const target = t.target!;
  const source = t.source;
  let domain: CompiledNode | null;
  if (!t.reenter && (target === source || isDescendant(target, source))) domain = source;
  else {
    const lca = properAncestors(target, null).find((a) => isDescendant(source, a));
    domain = lca ?? (t.reenter ? null : root);
  }
  const enter = new Set<CompiledNode>();
  const defaults = new Set<CompiledNode>();
  if (source !== target || source !== domain || t.reenter) {
    enter.add(target);
    defaults.add(target);
  }
  for (let n = target.initialChild; n; n = n.initialChild) {
    enter.add(n);
    defaults.add(n);
  }
  const reentrancyDomain = !source.parent && t.reenter ? null : domain;
  for (const anc of properAncestors(target, domain)) {
    if (!reentrancyDomain || isDescendant(anc, reentrancyDomain)) enter.add(anc);
  }
  const entry = [...enter].sort((a, b) => a.order - b.order);
  let leaf = target;
  while (leaf.initialChild) leaf = leaf.initialChild;
  t.plan = {
    domain,
    exitDomain: t.reenter && source === domain,
    entry,
    defaultEntry: entry.map((n) => defaults.has(n)),
    leaf,
  };
  return t.plan;
}
