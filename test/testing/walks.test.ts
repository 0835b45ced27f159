/**
 * Issue 8 item 9: property tests that find what they should. `walksOf` chooses among the events enabled in the
 * state reached (and timer advances), so it reaches every transition of a user's shutter with far fewer runs than
 * `eventsFor`; the transition recorder counts a transition whose entered state's entry action threw under a
 * supervisor.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, type EventFrom, setup } from 'xstate';
import { InvalidArgumentError } from '../../src/errors.js';
import { createSystem, type OrrerySystem } from '../../src/index.js';
import { eventsFor, walksOf } from '../../src/testing/arbitraries.js';
import {
  declaredTransitions,
  runWalk,
  TestClock,
  takenTransitions,
  transitionCoverage,
  transitionRecorder,
} from '../../src/testing/index.js';

/**
 * A user's shutter: OPEN starts a motion that ARRIVED ends, or that times out after 1 s into `faulted`; FAULT
 * from anywhere latches `faulted` until RESET, which needs the key (a guard on the payload).
 */
const shutter = setup({
  types: {
    events: {} as { type: 'OPEN' | 'CLOSE' | 'ARRIVED' | 'FAULT' } | { type: 'RESET'; key: number },
  },
  guards: { rightKey: ({ event }) => event.type === 'RESET' && event.key === 7 },
}).createMachine({
  id: 'userShutter',
  initial: 'closed',
  on: { FAULT: '.faulted' },
  states: {
    closed: { on: { OPEN: 'opening' } },
    opening: { on: { ARRIVED: 'open' }, after: { 1000: 'faulted' } },
    open: { on: { CLOSE: 'closing' } },
    closing: { on: { ARRIVED: 'closed' }, after: { 1000: 'faulted' } },
    faulted: { on: { RESET: { guard: 'rightKey', target: 'closed' } } },
  },
});
const payloads = { RESET: fc.record({ key: fc.integer({ min: 0, max: 9 }) }) };
/**
 * Runs sized as `walksOf` documents: the deepest transition, closing --ARRIVED--> closed, is 4 steps from the
 * initial state along closed (1 choice: OPEN), opening (3: ARRIVED, FAULT, advance), open (2: CLOSE, FAULT),
 * closing (3), so p >= 1 * 1/3 * 1/2 * 1/3 = 1/18 per walk; missing it with probability <= 1e-3 takes
 * ln(1000) * 18 = 125 runs.
 */
const RUNS = Math.ceil(Math.log(1000) * 18);
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/** Transitions `eventsFor` leaves untaken in RUNS runs (events interleaved with random clock advances). */
function missingWithEventsFor(seed: number): string[] {
  const coverage = transitionCoverage();
  fc.assert(
    fc.property(
      fc.array(fc.tuple(eventsFor(shutter, payloads), fc.nat(1500)), { maxLength: 20 }),
      (steps) => {
        const clock = new TestClock();
        const actor = createActor(shutter, { clock, inspect: coverage.inspect }).start();
        for (const [event, ms] of steps) {
          actor.send(event as EventFrom<typeof shutter>);
          clock.advance(ms);
        }
        actor.stop();
      },
    ),
    { numRuns: RUNS, seed },
  );
  return coverage.missing(shutter);
}

function missingWithWalks(seed: number): string[] {
  const coverage = transitionCoverage();
  fc.assert(
    fc.property(walksOf(shutter, payloads, { maxLength: 20 }), (walk) => {
      const clock = new TestClock();
      const actor = createActor(shutter, { clock, inspect: coverage.inspect }).start();
      runWalk(actor, clock, walk, (step, snapshot) => {
        // invariant: a fault latches until the right RESET
        if ('send' in step && step.send.type === 'FAULT') expect(snapshot.value).toBe('faulted');
      });
      actor.stop();
      expect(clock.pending).toBe(0);
    }),
    { numRuns: RUNS, seed },
  );
  return coverage.missing(shutter);
}

describe('issue 8 item 9: walksOf', () => {
  it(`issue 8 item 9: with ${RUNS} runs, eventsFor leaves transitions untaken where walksOf covers every one (10 seeds)`, () => {
    expect(declaredTransitions(shutter).size).toBe(8);
    const eventsForMisses = SEEDS.filter((seed) => missingWithEventsFor(seed).length > 0);
    const walkMisses = SEEDS.filter((seed) => missingWithWalks(seed).length > 0);
    expect(eventsForMisses.length).toBeGreaterThanOrEqual(5);
    expect(walkMisses).toEqual([]);
  });

  it('issue 8 item 9: every step of a walk is enabled in the state it is taken from; advances fire the next timer', () => {
    fc.assert(
      fc.property(walksOf(shutter, payloads, { maxLength: 15 }), (walk) => {
        expect(walk.length).toBeLessThanOrEqual(15);
        const clock = new TestClock();
        const actor = createActor(shutter, { clock }).start();
        for (const step of walk) {
          const before = actor.getSnapshot();
          if ('send' in step) {
            expect(shutter.getTransitionData(before, step.send as never).length).toBeGreaterThan(0);
          } else {
            expect(clock.nextAt()).toBe(clock.now() + step.advance);
          }
          runWalk(actor, clock, [step]);
        }
        actor.stop();
      }),
      { numRuns: 100 },
    );
  });

  it('issue 8 item 9: a walk stops at a final state; a machine without events walks only its timers', () => {
    const oneShot = setup({}).createMachine({
      id: 'oneShot',
      initial: 'waiting',
      states: { waiting: { after: { 50: 'done' } }, done: { type: 'final' } },
    });
    for (const walk of fc.sample(walksOf(oneShot, {}, { maxLength: 5 }), 20)) {
      expect(walk.length === 0 || JSON.stringify(walk) === JSON.stringify([{ advance: 50 }])).toBe(true);
    }
  });

  it('issue 8 item 9: bad arguments are typed errors', () => {
    expect(() => walksOf({} as never)).toThrow(InvalidArgumentError);
    expect(() => walksOf(shutter, { NOPE: fc.constant({}) })).toThrow(/declares no event 'NOPE'/);
    expect(() => walksOf(shutter, { RESET: {} as never })).toThrow(
      /payloads.RESET must be a fast-check arbitrary/,
    );
    expect(() => walksOf(shutter, {}, { maxLength: -1 })).toThrow(/maxLength must be a non-negative integer/);
    expect(() => walksOf(shutter, null as never)).toThrow(InvalidArgumentError);
    const clock = new TestClock();
    const actor = createActor(shutter, { clock }).start();
    expect(() => runWalk(actor, {} as never, [])).toThrow(/clock must be a TestClock/);
    expect(() => runWalk({} as never, clock, [])).toThrow(/actor must be an XState actor/);
    expect(() => runWalk(actor, clock, [{ advance: -1 }])).toThrow(/not a walk step/);
    expect(() => runWalk(actor, clock, [{ send: {} } as never])).toThrow(InvalidArgumentError);
    expect(() => runWalk(actor, clock, 'x' as never)).toThrow(/walk must be an array/);
    actor.stop();
  });
});

describe('issue 8 item 9: a transition into a state whose entry action throws is counted', () => {
  const fragile = setup({
    types: { events: {} as { type: 'ARM' } | { type: 'FIRE' } },
    actions: {
      explode: () => {
        throw new Error('entry failed');
      },
    },
  }).createMachine({
    id: 'fragile',
    initial: 'idle',
    states: {
      idle: { on: { ARM: 'armed' } },
      armed: { on: { FIRE: 'firing' } },
      firing: { entry: 'explode' },
    },
  });
  let system: OrrerySystem | undefined;
  afterEach(async () => {
    await system?.stop();
    system = undefined;
  });

  it('issue 8 item 9: under a supervisor, armed --FIRE--> firing is taken although firing entry threw', () => {
    const clock = new TestClock();
    system = createSystem({ clock });
    const coverage = transitionCoverage();
    system.inspect(coverage.inspect);
    const sup = system.supervisor('bench', { strategy: 'one_for_one', intensity: 5, periodMs: 1000 });
    system.spawn(fragile, { supervisor: sup, id: 'f' });
    sup.child('f')!.send({ type: 'ARM' });
    sup.child('f')!.send({ type: 'FIRE' }); // crashes; the supervisor restarts it
    expect(sup.child('f')!.getSnapshot().value).toBe('idle');
    expect(coverage.missing(fragile)).toEqual([]);
  });

  it('issue 8 item 9: the recorder counts the crash for a bare actor too; the stateless microstep read misses it', () => {
    const record = transitionRecorder();
    const taken = new Set<string>();
    const microsteps = new Set<string>();
    const actor = createActor(fragile, {
      inspect: (e) => {
        for (const k of record(e)) taken.add(k);
        for (const k of takenTransitions(e)) microsteps.add(k);
      },
    });
    actor.subscribe({ error: () => {} });
    actor.start();
    actor.send({ type: 'ARM' });
    actor.send({ type: 'FIRE' });
    expect(actor.getSnapshot().status).toBe('error');
    const fire = 'fragile|fragile.armed|FIRE|0';
    expect(microsteps.has(fire)).toBe(false); // XState reports no microstep when an entry action throws
    expect([...taken].sort()).toEqual([fire, 'fragile|fragile.idle|ARM|0']);
  });

  it('issue 8 item 9: an event sent before start() is attributed after the init, not to it', () => {
    const record = transitionRecorder();
    const taken = new Set<string>();
    const actor = createActor(fragile, {
      inspect: (e) => {
        for (const k of record(e)) taken.add(k);
      },
    });
    actor.subscribe({ error: () => {} });
    actor.send({ type: 'ARM' }); // waits in the mailbox until start()
    actor.start();
    actor.send({ type: 'FIRE' });
    expect(actor.getSnapshot().status).toBe('error');
    expect([...taken].sort()).toEqual(['fragile|fragile.armed|FIRE|0', 'fragile|fragile.idle|ARM|0']);
  });

  it('issue 8 item 9: an event that selects nothing, or a guard that refuses, records nothing', () => {
    const record = transitionRecorder();
    const taken = new Set<string>();
    const actor = createActor(shutter, {
      inspect: (e) => {
        for (const k of record(e)) taken.add(k);
      },
    }).start();
    actor.send({ type: 'CLOSE' }); // not enabled in closed
    actor.send({ type: 'FAULT' });
    actor.send({ type: 'RESET', key: 1 }); // guard refuses
    actor.stop();
    expect([...taken].sort()).toEqual(['userShutter|userShutter|FAULT|0']);
  });
});
