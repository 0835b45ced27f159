/**
 * `orrery/testing` as a user uses it on their own machine: random event sequences from `eventsFor`, a TestClock,
 * and `transitionCoverage` to show every declared transition was taken.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assign, createActor, type EventFrom, setup } from 'xstate';
import { InvalidArgumentError } from '../../src/errors.js';
import { eventsFor } from '../../src/testing/arbitraries.js';
import { TestClock } from '../../src/testing/index.js';
import {
  declaredTransitions,
  machineEventTypes,
  transitionCoverage,
} from '../../src/testing/transitionCoverage.js';

/** A user's shutter: OPEN/CLOSE with a 100 ms motion, FAULT latches until RESET. */
const shutter = setup({
  types: { context: {} as { moves: number }, events: {} as { type: 'OPEN' | 'CLOSE' | 'FAULT' | 'RESET' } },
}).createMachine({
  id: 'shutter',
  context: { moves: 0 },
  initial: 'closed',
  on: { FAULT: '.faulted' },
  states: {
    closed: { on: { OPEN: 'opening' } },
    opening: { entry: assign({ moves: ({ context }) => context.moves + 1 }), after: { 100: 'open' } },
    open: { on: { CLOSE: 'closing' } },
    closing: { after: { 100: 'closed' } },
    faulted: { on: { RESET: 'closed' } },
  },
});

describe('orrery/testing', () => {
  it('machineEventTypes lists the events a machine declares', () => {
    expect(machineEventTypes(shutter)).toEqual(['CLOSE', 'FAULT', 'OPEN', 'RESET']);
  });

  it('machineEventTypes gives event types and machine ids containing "|" as they are', () => {
    const piped = setup({}).createMachine({
      id: 'rack|1',
      initial: 'manual',
      states: { manual: { on: { 'MODE|AUTO': 'auto', STOP: 'manual' } }, auto: {} },
    });
    expect(machineEventTypes(piped)).toEqual(['MODE|AUTO', 'STOP']);
  });

  it('what is not a machine is an InvalidArgumentError for the coverage helpers and eventsFor', () => {
    for (const bad of [undefined, null, {}, 'shutter', createActor(shutter)]) {
      expect(() => machineEventTypes(bad as never)).toThrow(InvalidArgumentError);
      expect(() => declaredTransitions(bad as never)).toThrow(InvalidArgumentError);
      expect(() => transitionCoverage().missing(bad as never)).toThrow(InvalidArgumentError);
      expect(() => eventsFor(bad as never)).toThrow(InvalidArgumentError);
    }
  });

  it('eventsFor + TestClock + transitionCoverage: a property over random sequences, with full coverage', () => {
    const coverage = transitionCoverage();
    fc.assert(
      fc.property(fc.array(fc.tuple(eventsFor(shutter), fc.nat(150)), { maxLength: 20 }), (steps) => {
        const clock = new TestClock();
        const actor = createActor(shutter, { clock, inspect: coverage.inspect }).start();
        for (const [event, ms] of steps) {
          const before = actor.getSnapshot().value;
          actor.send(event as EventFrom<typeof shutter>);
          // invariant: a fault latches until RESET
          if (before === 'faulted' && event.type !== 'RESET')
            expect(actor.getSnapshot().value).toBe('faulted');
          clock.advance(ms);
        }
        actor.stop();
        expect(clock.pending).toBe(0);
      }),
      { numRuns: 300 },
    );
    expect(coverage.missing(shutter)).toEqual([]);
  });

  it('payloads add fields to chosen event types', () => {
    const m = setup({
      types: { events: {} as { type: 'SET'; value: number } | { type: 'GO' } },
    }).createMachine({
      id: 'm',
      on: { SET: {}, GO: {} },
    });
    const samples = fc.sample(eventsFor(m, { SET: fc.record({ value: fc.nat(9) }) }), 50);
    for (const e of samples) {
      if (e.type === 'SET') expect((e as { type: 'SET'; value: number }).value).toBeGreaterThanOrEqual(0);
      else expect(e).toEqual({ type: 'GO' });
    }
  });

  it('missing() names the transitions not taken', () => {
    const coverage = transitionCoverage();
    createActor(shutter, { inspect: coverage.inspect }).start().send({ type: 'OPEN' });
    expect(coverage.missing(shutter)).toContain('shutter.open --CLOSE--> shutter.closing');
  });
});
