/**
 * Transition coverage for XState machines: which declared transitions a test run took. Orrery's own suite uses
 * it to fail when any transition of any machine is taken by no test; use it on your own machines the same way:
 *
 *   const coverage = transitionCoverage();
 *   const actor = createActor(myMachine, { inspect: coverage.inspect });   // or system.inspect(coverage.inspect)
 *   ... drive it ...
 *   expect(coverage.missing(myMachine)).toEqual([]);
 *
 * A transition is identified by machine id, source state node id, event type ('' for eventless `always`) and its
 * index among that event's candidates on that node (guarded alternatives are separate transitions).
 */
import type { AnyStateMachine, InspectionEvent } from 'xstate';
import { type DirectedGraphNode, toDirectedGraph } from 'xstate/graph';

export function transitionKey(machine: string, source: string, eventType: string, index: number): string {
  return `${machine}|${source}|${eventType}|${index}`;
}

/** The keys of the transitions taken in one inspection event (none unless it is a microstep). */
export function takenTransitions(event: InspectionEvent): string[] {
  if (event.type !== '@xstate.microstep') return [];
  const machine = (event.actorRef as { logic?: { id?: string } }).logic?.id;
  if (!machine) return [];
  const keys: string[] = [];
  for (const t of (event as unknown as { _transitions: any[] })._transitions) {
    const source = t.source;
    const list: unknown[] =
      t.eventType === '' ? (source.always ?? []) : (source.transitions.get(t.eventType) ?? []);
    keys.push(transitionKey(machine, source.id, t.eventType, list.indexOf(t)));
  }
  return keys;
}

/**
 * Every declared transition of `machine`, key -> readable label. The state nodes come from `xstate/graph`'s
 * `toDirectedGraph`; its edges leave out eventless (`always`) transitions, so each node's own `transitions` and
 * `always` lists are read instead.
 */
export function declaredTransitions(machine: AnyStateMachine): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (node: DirectedGraphNode) => {
    const sn = node.stateNode as any;
    const lists: Array<[string, any[]]> = [...(sn.transitions as Map<string, any[]>).entries()];
    if (sn.always?.length) lists.push(['', sn.always]);
    for (const [eventType, list] of lists) {
      list.forEach((t, index) => {
        const targets = (t.target ?? []).map((x: { id: string }) => x.id).join(',') || sn.id;
        out.set(
          transitionKey(machine.id, sn.id, eventType, index),
          `${sn.id} --${eventType || '(always)'}--> ${targets}`,
        );
      });
    }
    for (const c of node.children) walk(c);
  };
  walk(toDirectedGraph(machine));
  return out;
}

/** Event types a machine declares a transition for (XState's own `xstate.*` events excluded). */
export function machineEventTypes(machine: AnyStateMachine): string[] {
  const types = new Set<string>();
  for (const label of declaredTransitions(machine).keys()) {
    const eventType = label.split('|')[2];
    if (eventType && !eventType.startsWith('xstate.') && !eventType.includes('*')) types.add(eventType);
  }
  return [...types].sort();
}

export interface TransitionCoverage {
  /** Pass as `inspect` to createActor, or to `system.inspect()`. */
  readonly inspect: (event: InspectionEvent) => void;
  /** Keys of every transition taken so far. */
  readonly taken: ReadonlySet<string>;
  /** Labels of the declared transitions of `machine` not taken yet. */
  missing(machine: AnyStateMachine): string[];
}

export function transitionCoverage(): TransitionCoverage {
  const taken = new Set<string>();
  return {
    inspect: (event) => {
      for (const key of takenTransitions(event)) taken.add(key);
    },
    taken,
    missing: (machine) =>
      [...declaredTransitions(machine)].filter(([key]) => !taken.has(key)).map(([, l]) => l),
  };
}
