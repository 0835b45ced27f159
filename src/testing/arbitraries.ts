/**
 * fast-check arbitraries for property-testing your own lifecycles (import from 'orrery/testing/arbitraries';
 * fast-check is an optional peer dependency, needed only here).
 *
 *   fc.assert(fc.property(fc.array(eventsFor(myMachine, { SET: fc.record({ value: fc.nat() }) })), (events) => {
 *     const actor = createActor(myMachine).start();
 *     for (const e of events) actor.send(e);
 *     // ...invariants...
 *   }));
 *
 * For transition coverage prefer `walksOf(myMachine, payloads)`: it only takes steps the state reached allows.
 */
import fc from 'fast-check';
import type { AnyStateMachine, EventObject } from 'xstate';
import { InvalidArgumentError } from '../errors.js';
import { checkMachine, machineEventTypes } from './transitionCoverage.js';
import { buildWalk, type WalkOptions, type WalkStep } from './walk.js';

export type { WalkOptions, WalkStep } from './walk.js';

/**
 * Events of the types `machine` declares transitions for (XState's own excluded), uniformly chosen; `payloads`
 * gives the extra fields of a type (its `type` is added), others are bare `{ type }`. Uniform over types in every
 * state, so most draws are events the current state ignores; `walksOf` reaches deep transitions far sooner.
 */
export function eventsFor(
  machine: AnyStateMachine,
  payloads: Record<string, fc.Arbitrary<Record<string, unknown>>> = {},
): fc.Arbitrary<EventObject> {
  checkMachine('eventsFor', machine);
  const types = machineEventTypes(machine);
  if (!types.length) throw new Error(`machine '${machine.id}' declares no events of its own`);
  return fc
    .constantFrom(...types)
    .chain((type) => (payloads[type] ?? fc.constant({})).map((fields) => ({ ...fields, type })));
}

/**
 * State-aware walks of `machine`: sequences of steps that each choose, uniformly, among what is possible in the
 * state the machine has reached: every declared event type (with a payload from `payloads`, as in `eventsFor`)
 * for which the current snapshot selects a transition, guards included, plus an `{ advance: ms }` step that moves
 * the TestClock to the next pending timer (an `after` delay) when one is pending. Each walk is made by running the
 * machine on its own TestClock (give `input`; a machine that invokes real I/O should be `machine.provide(...)`d
 * with stubs), and replayed with `runWalk(actor, clock, walk)`. Picks are unbiased (fast-check's usual bias to
 * small numbers would favour the first choice); walks shrink like the arrays they are mapped from.
 *
 * `eventsFor` draws every event type in every state, so most draws do nothing and a transition a few steps deep
 * is rarely reached; a walk never wastes a step. **Sizing runs for full transition coverage**: a transition
 * reached by one particular path of `d` steps from the initial state (its own step included), in states offering
 * at most `b` choices each, is taken by one walk with probability at least `p = b^-d` (walks longer than `d` give
 * it several chances, so this is a floor). To miss it with probability at most `δ` take
 * `numRuns >= ln(1/δ) / p = ln(1/δ) * b^d`; e.g. `b = 3, d = 4, δ = 1e-3`: `7 * 81 = 567` runs. Use the deepest
 * transition of the machine; then check with `transitionCoverage().missing(machine)` that nothing is left.
 *
 * @example
 *   const coverage = transitionCoverage();
 *   fc.assert(fc.property(walksOf(shutter, {}, { maxLength: 20 }), (walk) => {
 *     const clock = new TestClock();
 *     const actor = createActor(shutter, { clock, inspect: coverage.inspect }).start();
 *     runWalk(actor, clock, walk);
 *     actor.stop();
 *   }), { numRuns: 200 });
 *   expect(coverage.missing(shutter)).toEqual([]);
 */
export function walksOf(
  machine: AnyStateMachine,
  payloads: Record<string, fc.Arbitrary<Record<string, unknown>>> = {},
  options: WalkOptions = {},
): fc.Arbitrary<WalkStep[]> {
  if (!machine || typeof (machine as { getTransitionData?: unknown }).getTransitionData !== 'function')
    throw new InvalidArgumentError('walksOf: machine must be an XState state machine (createMachine/setup)');
  if (payloads === null || typeof payloads !== 'object')
    throw new InvalidArgumentError('walksOf: payloads must be an object of fast-check arbitraries');
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('walksOf: options must be an object');
  const maxLength = options.maxLength ?? 30;
  if (!Number.isSafeInteger(maxLength) || maxLength < 0)
    throw new InvalidArgumentError(
      `walksOf: maxLength must be a non-negative integer, got ${String(maxLength)}`,
    );
  const types = machineEventTypes(machine);
  for (const [type, arb] of Object.entries(payloads)) {
    if (!types.includes(type))
      throw new InvalidArgumentError(`walksOf: machine '${machine.id}' declares no event '${type}'`);
    if (!(arb instanceof fc.Arbitrary))
      throw new InvalidArgumentError(`walksOf: payloads.${type} must be a fast-check arbitrary`);
  }
  const candidates = fc.tuple(
    ...types.map((type) => (payloads[type] ?? fc.constant({})).map((fields) => ({ ...fields, type }))),
  );
  return fc
    .array(fc.record({ pick: fc.noBias(fc.nat()), candidates }), { maxLength })
    .map((steps) => buildWalk(machine, steps, options));
}
