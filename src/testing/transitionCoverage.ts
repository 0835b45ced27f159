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
import type { AnyActorRef, AnyStateMachine, InspectionEvent } from 'xstate';
import { type DirectedGraphNode, toDirectedGraph } from 'xstate/graph';
import { logicOf, microstepTransitions } from '../../machines/core/xstateAdapter.js';
import { describeValue, InvalidArgumentError } from '../errors.js';

export function transitionKey(machine: string, source: string, eventType: string, index: number): string {
  return `${machine}|${source}|${eventType}|${index}`;
}

/**
 * The keys of the transitions taken in one inspection event (none unless it is a microstep). Stateless, so it
 * misses a transition whose actions threw (XState reports no microstep then); `transitionRecorder()` does not.
 */
export function takenTransitions(event: InspectionEvent): string[] {
  if (event.type !== '@xstate.microstep') return [];
  const machine = machineIdOf(event.actorRef as AnyActorRef);
  if (!machine) return [];
  return microstepTransitions(event).map((t) => keyOf(machine, t));
}

function machineIdOf(ref: AnyActorRef): string | undefined {
  const logic = logicOf(ref);
  return logic ? (logic as { id?: string }).id : undefined;
}

function keyOf(machine: string, t: any): string {
  const source = t.source;
  const list: unknown[] =
    t.eventType === '' ? (source.always ?? []) : (source.transitions.get(t.eventType) ?? []);
  return transitionKey(machine, source.id, t.eventType, list.indexOf(t));
}

interface Inbox {
  /** Events delivered to the actor and not yet answered by a `@xstate.snapshot` (the head is being processed). */
  queue: unknown[];
  /** Whether the head event's transitions were already recorded from an action or a crash. */
  headDone: boolean;
}

/**
 * A stateful reader of inspection events: every transition `takenTransitions` reports, plus the transitions an
 * event selected when an action of its macrostep threw. XState then reports no microstep (it emits the microstep
 * after running its actions; the actor goes to status 'error' and, under a supervisor, its parent gets
 * `xstate.error.actor.<id>`), so a crash in an entered state's entry action used to leave the transition that
 * entered it unrecorded. Here each actor's delivered events are queued (`@xstate.event`) and answered
 * (`@xstate.snapshot`); when a user action runs (`@xstate.action`, sent before it executes) or the actor
 * crashes, the event at the head of its queue is the one being processed and the actor's snapshot is still the one
 * before it, so `machine.getTransitionData(snapshot, event)` names the transitions it selected (guards included).
 * Limitation: a throw in a later microstep of the same macrostep (an eventless or raised-event transition after
 * the first) is attributed to the first microstep's transitions only.
 */
export function transitionRecorder(): (event: InspectionEvent) => string[] {
  const inboxes = new WeakMap<object, Inbox>();
  const inboxOf = (ref: object): Inbox => {
    let inbox = inboxes.get(ref);
    if (!inbox) {
      inbox = { queue: [], headDone: false };
      inboxes.set(ref, inbox);
    }
    return inbox;
  };
  const selected = (ref: any): string[] => {
    const machine = machineIdOf(ref);
    const logic = ref?.logic;
    const inbox = inboxes.get(ref);
    if (!machine || typeof logic?.getTransitionData !== 'function' || !inbox?.queue.length || inbox.headDone)
      return [];
    inbox.headDone = true;
    const head = inbox.queue[0] as { type: string };
    if (head.type === 'xstate.init') return []; // entry actions of the initial state: no declared transition
    try {
      return (logic.getTransitionData(ref.getSnapshot(), head) as any[]).map((t) => keyOf(machine, t));
    } catch {
      return []; // a guard that throws selected nothing
    }
  };
  return (event) => {
    const ref = event.actorRef as any;
    switch (event.type) {
      case '@xstate.event': {
        if (machineIdOf(ref)) {
          // start() processes the init event ahead of any event sent before it
          if (event.event.type === 'xstate.init') inboxOf(ref).queue.unshift(event.event);
          else inboxOf(ref).queue.push(event.event);
        }
        const source = event.sourceRef as any;
        // a child crashed: its parent is told; the child's snapshot is the one before the failed event
        if (event.event.type.startsWith('xstate.error.actor.') && source?.getSnapshot?.()?.status === 'error')
          return selected(source);
        return [];
      }
      case '@xstate.snapshot': {
        const inbox = inboxes.get(ref);
        const at = inbox ? inbox.queue.indexOf(event.event) : -1;
        if (inbox && at >= 0) {
          inbox.queue.splice(0, at + 1);
          inbox.headDone = false;
        }
        return [];
      }
      case '@xstate.action':
        // only the user's own actions: XState's built-ins also run while stopping (xstate.stopChild), when the
        // events still queued were dropped and the head is not being processed
        return event.action.type.startsWith('xstate.') ? [] : selected(ref);
      default:
        return takenTransitions(event);
    }
  };
}

/**
 * Throw InvalidArgumentError naming `method` unless `machine` is a state machine (its root state node is what the
 * helpers below walk; anything else failed inside `xstate/graph` with a TypeError).
 */
export function checkMachine(method: string, machine: unknown): asserts machine is AnyStateMachine {
  const m = machine as { root?: unknown; getTransitionData?: unknown } | null;
  if (m === null || typeof m !== 'object' || typeof m.getTransitionData !== 'function' || !m.root) {
    throw new InvalidArgumentError(
      `${method} needs a state machine (createMachine or setup().createMachine), got ${describeValue(machine)}`,
    );
  }
}

/**
 * Every declared transition of `machine`, key -> readable label. The state nodes come from `xstate/graph`'s
 * `toDirectedGraph`; its edges leave out eventless (`always`) transitions, so each node's own `transitions` and
 * `always` lists are read instead.
 */
export function declaredTransitions(machine: AnyStateMachine): Map<string, string> {
  checkMachine('declaredTransitions', machine);
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

/**
 * Event types a machine declares a transition for (XState's own `xstate.*` events excluded), read from the state
 * nodes: splitting the transition keys on '|' cut an event type or a machine id that contains one.
 */
export function machineEventTypes(machine: AnyStateMachine): string[] {
  checkMachine('machineEventTypes', machine);
  const types = new Set<string>();
  const walk = (node: DirectedGraphNode) => {
    for (const eventType of (node.stateNode as any).transitions.keys() as Iterable<string>) {
      if (eventType && !eventType.startsWith('xstate.') && !eventType.includes('*')) types.add(eventType);
    }
    for (const c of node.children) walk(c);
  };
  walk(toDirectedGraph(machine));
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
  const record = transitionRecorder();
  return {
    inspect: (event) => {
      for (const key of record(event)) taken.add(key);
    },
    taken,
    missing: (machine) =>
      [...declaredTransitions(machine)].filter(([key]) => !taken.has(key)).map(([, l]) => l),
  };
}
