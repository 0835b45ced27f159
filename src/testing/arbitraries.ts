/**
 * fast-check arbitraries for property-testing your own lifecycles (import from 'orrery/testing/arbitraries';
 * fast-check is an optional peer dependency, needed only here).
 *
 *   fc.assert(fc.property(fc.array(eventsFor(myMachine, { SET: fc.record({ value: fc.nat() }) })), (events) => {
 *     const actor = createActor(myMachine).start();
 *     for (const e of events) actor.send(e);
 *     // ...invariants...
 *   }));
 */
import fc from 'fast-check';
import type { AnyStateMachine, EventObject } from 'xstate';
import { machineEventTypes } from './transitionCoverage.js';

/**
 * Events of the types `machine` declares transitions for (XState's own excluded), uniformly chosen; `payloads`
 * gives the extra fields of a type (its `type` is added), others are bare `{ type }`.
 */
export function eventsFor(
  machine: AnyStateMachine,
  payloads: Record<string, fc.Arbitrary<Record<string, unknown>>> = {},
): fc.Arbitrary<EventObject> {
  const types = machineEventTypes(machine);
  if (!types.length) throw new Error(`machine '${machine.id}' declares no events of its own`);
  return fc
    .constantFrom(...types)
    .chain((type) => (payloads[type] ?? fc.constant({})).map((fields) => ({ ...fields, type })));
}
