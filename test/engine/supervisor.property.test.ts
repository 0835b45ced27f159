/**
 * Model-based test of the supervisor against a reference model of Erlang/OTP supervision: random strategies,
 * restart types, intensities and periods; random crashes, normal exits and passing time.
 * Invariants: the live children (and their order) match the model; exactly the children the strategy affects
 * get new incarnations; restart counts match; escalation happens exactly when the model exceeds the restart
 * intensity, stops every child and reaches the parent as an error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import {
  createSystem,
  type OrrerySystem,
  type RestartStrategy,
  type RestartType,
  SupervisorEscalationError,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { workerMachine } from '../support/workerMachine.js';

interface Model {
  now: number;
  strategy: RestartStrategy;
  intensity: number;
  period: number;
  specs: { id: string; restart: RestartType }[];
  restarts: number[];
  counts: Record<string, number>;
  failed: boolean;
  /** ids whose actor must have changed in the last command */
  renewed: string[];
}
interface Real {
  clock: TestClock;
  system: OrrerySystem;
  refs: Map<string, AnyActorRef>;
  everAlive: AnyActorRef[];
}

/** OTP: which children a failure of `id` takes down (independent of the machine's own helper). */
function otpAffected(m: Model, id: string): string[] {
  const ids = m.specs.map((s) => s.id);
  if (m.strategy === 'one_for_one') return [id];
  if (m.strategy === 'one_for_all') return ids;
  return ids.slice(ids.indexOf(id));
}

function exit(m: Model, id: string, crashed: boolean): void {
  const spec = m.specs.find((s) => s.id === id)!;
  m.renewed = [];
  if (spec.restart === 'temporary' || (spec.restart === 'transient' && !crashed)) {
    m.specs = m.specs.filter((s) => s.id !== id);
    // a removed child's restart count goes with it
    delete m.counts[id];
    return;
  }
  const recent = m.restarts.filter((t) => t + m.period > m.now).length;
  if (recent + 1 > m.intensity) {
    m.failed = true;
    return;
  }
  m.restarts.push(m.now);
  m.counts[id] = (m.counts[id] ?? 0) + 1;
  const ids = otpAffected(m, id);
  const drop = m.specs.filter((s) => ids.includes(s.id) && s.restart === 'temporary').map((s) => s.id);
  m.specs = m.specs.filter((s) => !drop.includes(s.id));
  m.renewed = ids.filter((i) => !drop.includes(i));
}

function check(m: Model, r: Real): void {
  const sup = r.system.root;
  if (m.failed) {
    expect(sup.state).toBe('failed');
    expect(r.system.failure).toBeInstanceOf(SupervisorEscalationError);
    for (const ref of r.everAlive) expect(ref.getSnapshot().status).not.toBe('active');
    return;
  }
  expect(sup.state).toBe('running');
  expect(sup.children()).toEqual(m.specs.map((s) => s.id));
  expect(sup.restarts()).toEqual(m.counts);
  for (const s of m.specs) {
    const ref = sup.child(s.id)!;
    expect(ref.getSnapshot().status).toBe('active');
    expect(r.system.get(s.id)).toBe(ref);
    const before = r.refs.get(s.id);
    if (m.renewed.includes(s.id)) expect(ref).not.toBe(before);
    else expect(ref).toBe(before);
    if (ref !== before) r.everAlive.push(ref);
    r.refs.set(s.id, ref);
  }
  for (const [id, ref] of r.refs) {
    if (!m.specs.some((s) => s.id === id)) expect(ref.getSnapshot().status).not.toBe('active');
  }
}

class ChildExit implements fc.Command<Model, Real> {
  constructor(
    readonly index: number,
    readonly crash: boolean,
  ) {}
  check = (m: Readonly<Model>) => !m.failed && m.specs.length > 0;
  run(m: Model, r: Real): void {
    const id = m.specs[this.index % m.specs.length].id;
    r.system.root.child(id)!.send({ type: this.crash ? 'CRASH' : 'EXIT' });
    exit(m, id, this.crash);
    check(m, r);
  }
  toString = () => `${this.crash ? 'crash' : 'exit'}(${this.index})`;
}

class Advance implements fc.Command<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.clock.advance(this.ms);
    m.now += this.ms;
    m.renewed = [];
    check(m, r);
  }
  toString = () => `advance(${this.ms})`;
}

const commands = [
  fc.tuple(fc.nat(9), fc.boolean()).map(([i, c]) => new ChildExit(i, c)),
  fc.tuple(fc.nat(9), fc.constant(true)).map(([i, c]) => new ChildExit(i, c)),
  fc.integer({ min: 1, max: 600 }).map((ms) => new Advance(ms)),
];

describe('supervisor model-based (OTP)', () => {
  it('restarts, removals, counts and escalation match the OTP model (1,000 runs)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<RestartStrategy>('one_for_one', 'one_for_all', 'rest_for_one'),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 100, max: 1000 }),
        fc.array(fc.constantFrom<RestartType>('permanent', 'transient', 'temporary'), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.commands(commands, { maxCommands: 25 }),
        (strategy, intensity, period, types, cmds) => {
          const clock = new TestClock();
          const system = createSystem({ clock, root: { strategy, intensity, periodMs: period } });
          const specs = types.map((restart, i) => ({ id: `c${i}`, restart }));
          for (const s of specs)
            system.spawn(workerMachine, { supervisor: 'root', id: s.id, systemId: s.id, restart: s.restart });
          const refs = new Map(specs.map((s) => [s.id, system.root.child(s.id)!]));
          const model: Model = {
            now: 0,
            strategy,
            intensity,
            period,
            specs,
            restarts: [],
            counts: {},
            failed: false,
            renewed: [],
          };
          fc.modelRun(() => ({ model, real: { clock, system, refs, everAlive: [...refs.values()] } }), cmds);
          void system.stop();
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: propertyRuns(1000) },
    );
  });
});
