/**
 * A machine's statechart as plain data, derived from its definition (`machine.root`): the state tree, initial
 * states and labelled transitions. Shared by the generated charts (`npm run charts`) and the inspector page.
 * Nothing here reads `machine.config.context`, so no literal context (and no secret in it) reaches a chart.
 */
import type { AnyStateMachine } from 'xstate';

export type StateKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface ChartState {
  /** Dot-joined path from the machine root ('' for the root itself). */
  path: string;
  key: string;
  kind: StateKind;
  /** Key of the initial child (compound states). */
  initial?: string;
  /** Events handled without a state change, and invoked actors: shown inside the state box. */
  notes: string[];
  children: ChartState[];
}

export interface ChartTransition {
  source: string;
  target: string;
  label: string;
}

export interface MachineChart {
  id: string;
  root: ChartState;
  transitions: ChartTransition[];
}

interface StateNodeLike {
  key: string;
  path: string[];
  type: StateKind;
  states: Record<string, StateNodeLike>;
  initial?: { target: StateNodeLike[] };
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[];
  invoke: Array<{ id: string; src: unknown }>;
}

interface TransitionLike {
  eventType: string;
  target?: StateNodeLike[];
  guard?: unknown;
  delay?: number | string;
}

/** Is `logic` a state machine (something with a state node tree)? */
export function isStateMachine(logic: unknown): logic is AnyStateMachine {
  return typeof logic === 'object' && logic !== null && 'root' in logic && 'idMap' in logic;
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const g = guard as { name?: string; guards?: unknown[]; check?: unknown };
    return g.name && g.name !== 'guard' ? g.name : 'guard';
  }
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type;
  }
  return 'guard';
}

/** A readable name for an XState event descriptor. */
export function eventLabel(eventType: string, delay?: number | string): string {
  if (eventType === '') return 'always';
  if (eventType.startsWith('xstate.after.')) {
    const d = delay ?? eventType.split('.')[2];
    return typeof d === 'number' || /^\d+$/.test(String(d)) ? `after ${d}ms` : `after ${d}`;
  }
  if (eventType.startsWith('xstate.done.actor.')) return `onDone(${eventType.slice(18)})`;
  if (eventType.startsWith('xstate.error.actor.')) return `onError(${eventType.slice(19)})`;
  if (eventType.startsWith('xstate.done.state.')) return 'onDone';
  if (eventType.startsWith('xstate.snapshot.')) return `onSnapshot(${eventType.slice(16)})`;
  return eventType;
}

function transitionLabel(t: TransitionLike): string {
  const guard = guardName(t.guard);
  const base = eventLabel(t.eventType, t.delay);
  return guard ? `${base} [${guard}]` : base;
}

function srcName(src: unknown): string {
  if (typeof src === 'string') return src.startsWith('xstate.invoke.') ? 'anonymous' : src;
  return (src as { id?: string })?.id ?? 'anonymous';
}

/** Derive the chart of a machine from its state node tree. */
export function machineChart(machine: AnyStateMachine): MachineChart {
  const transitions: ChartTransition[] = [];
  const walk = (node: StateNodeLike): ChartState => {
    const path = node.path.join('.');
    const notes: string[] = [];
    for (const inv of node.invoke ?? []) notes.push(`invoke ${srcName(inv.src)}`);
    const all = [...(node.always ?? []), ...[...node.transitions.values()].flat()];
    for (const t of all) {
      const targets = t.target ?? [];
      if (targets.length === 0) {
        const label = transitionLabel(t);
        if (!notes.includes(label)) notes.push(label);
        continue;
      }
      for (const target of targets) {
        transitions.push({ source: path, target: target.path.join('.'), label: transitionLabel(t) });
      }
    }
    const children = Object.values(node.states ?? {}).map(walk);
    const initial = node.type === 'compound' ? node.initial?.target[0]?.key : undefined;
    return { path, key: node.key ?? '', kind: node.type, initial, notes, children };
  };
  const root = walk(machine.root as unknown as StateNodeLike);
  return { id: machine.id, root, transitions };
}

/** The dot-joined paths of every active state node for a snapshot value, e.g. `{a: 'b'}` → `['a', 'a.b']`. */
export function activePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  if (!value || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.push(p, ...activePaths(v, p));
  }
  return out;
}
