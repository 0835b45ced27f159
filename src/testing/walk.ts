/**
 * Walks: state-aware event sequences for property tests (made by `walksOf` in 'orrery/testing/arbitraries'),
 * and `runWalk` to replay one against an actor on a TestClock. A walk is a list of steps, each either an event to
 * send or an `advance` of the TestClock that fires the next pending timer (an XState `after` delay).
 */
import type { AnyActorRef, AnyStateMachine, EventObject } from 'xstate';
import { createActor } from 'xstate';
import { InvalidArgumentError } from '../errors.js';
import { TestClock } from './testClock.js';

/** One step of a walk: send an event, or advance the TestClock by `ms` (to the next pending timer). */
export type WalkStep = { readonly send: EventObject } | { readonly advance: number };

/** Options of `walksOf` (and of the generator below it). */
export interface WalkOptions {
  /** Most steps in one walk (default 30; a non-negative safe integer). */
  readonly maxLength?: number;
  /** `input` for the machine's actor (as `createActor(machine, { input })`). */
  readonly input?: unknown;
}

/**
 * The choices a walk has in the actor's current state: each candidate event for which the machine selects a
 * declared transition from the current snapshot (`machine.getTransitionData(snapshot, event)`, guards evaluated
 * against the candidate's payload), plus an `advance` to the next pending timer when one is pending.
 */
export function walkChoices(
  machine: AnyStateMachine,
  actor: AnyActorRef,
  clock: TestClock,
  candidates: readonly EventObject[],
): WalkStep[] {
  const snapshot = actor.getSnapshot();
  if (snapshot.status !== 'active') return [];
  const choices: WalkStep[] = [];
  for (const event of candidates) {
    let enabled = false;
    try {
      enabled = machine.getTransitionData(snapshot, event).length > 0;
    } catch {
      enabled = false; // a guard that throws on this payload: not a choice
    }
    if (enabled) choices.push({ send: event });
  }
  const at = clock.nextAt();
  if (at !== undefined) choices.push({ advance: at - clock.now() });
  return choices;
}

/**
 * Build a walk from random picks: the machine runs on its own TestClock and, at each step, `pick(choices)`
 * chooses among the enabled choices; the walk ends early when there is none (a final state, or a state with no
 * enabled event and no timer) or when an action throws. Used by `walksOf`; deterministic for given picks.
 */
export function buildWalk(
  machine: AnyStateMachine,
  steps: ReadonlyArray<{ readonly pick: number; readonly candidates: readonly EventObject[] }>,
  options: WalkOptions = {},
): WalkStep[] {
  const clock = new TestClock();
  const actor = createActor(machine, { clock, input: options.input } as never);
  actor.subscribe({ error: () => {} }); // a throwing action ends the walk instead of being reported unhandled
  actor.start();
  const walk: WalkStep[] = [];
  try {
    for (const { pick, candidates } of steps) {
      const choices = walkChoices(machine, actor, clock, candidates);
      if (!choices.length) break;
      const step = choices[pick % choices.length]!;
      walk.push(step);
      applyStep(actor, clock, step);
    }
  } finally {
    actor.stop();
  }
  return walk;
}

function applyStep(actor: AnyActorRef, clock: TestClock, step: WalkStep): void {
  if ('send' in step) actor.send(step.send);
  else clock.advance(step.advance);
}

/**
 * Replay `walk` on `actor`, whose clock is `clock` (`createActor(machine, { clock })`, or an actor spawned in
 * `createSystem({ clock })`); `afterStep(step, snapshot)` runs after each step, for invariants. Returns the
 * actor's last snapshot. The actor must be started; steps after it stops (done, error, stopped) are skipped.
 *
 * @example
 *   fc.assert(fc.property(walksOf(shutter), (walk) => {
 *     const clock = new TestClock();
 *     const actor = createActor(shutter, { clock, inspect: coverage.inspect }).start();
 *     runWalk(actor, clock, walk, (step, snap) => expect(invariant(snap)).toBe(true));
 *     actor.stop();
 *   }), { numRuns: 200 });
 */
export function runWalk<TActor extends AnyActorRef>(
  actor: TActor,
  clock: TestClock,
  walk: readonly WalkStep[],
  afterStep?: (step: WalkStep, snapshot: ReturnType<TActor['getSnapshot']>) => void,
): ReturnType<TActor['getSnapshot']> {
  if (!actor || typeof actor.send !== 'function' || typeof actor.getSnapshot !== 'function')
    throw new InvalidArgumentError('runWalk: actor must be an XState actor');
  if (!(clock instanceof TestClock)) throw new InvalidArgumentError('runWalk: clock must be a TestClock');
  if (!Array.isArray(walk)) throw new InvalidArgumentError('runWalk: walk must be an array of steps');
  if (afterStep !== undefined && typeof afterStep !== 'function')
    throw new InvalidArgumentError('runWalk: afterStep must be a function');
  for (const step of walk) {
    const ok =
      step !== null &&
      typeof step === 'object' &&
      (('send' in step && typeof step.send?.type === 'string') ||
        ('advance' in step && Number.isFinite(step.advance) && step.advance >= 0));
    if (!ok) throw new InvalidArgumentError(`runWalk: not a walk step: ${JSON.stringify(step)}`);
  }
  for (const step of walk) {
    if (actor.getSnapshot().status !== 'active') break;
    applyStep(actor, clock, step);
    afterStep?.(step, actor.getSnapshot());
  }
  return actor.getSnapshot();
}
