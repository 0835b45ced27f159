/**
 * Model-based test of Status against a small reference model of ophyd's StatusBase, under a TestClock:
 * random sequences of setFinished / setException / cancel / addCallback / advance(ms).
 * Invariants: state matches the model, terminal states are absorbing, every callback runs exactly once (and
 * only after completion), the completion rule throws exactly when the model says, no timer outlives the status,
 * and stopping the system ends a pending status with SystemStoppedError. Timeouts and settle times include
 * Infinity (never).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CancelledError,
  createSystem,
  InvalidStateError,
  Status,
  StatusTimeoutError,
  SystemStoppedError,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { propertyRuns } from '../support/propertyRuns.js';

type St = 'pending' | 'settling' | 'succeeded' | 'failed' | 'timedOut' | 'cancelled';
const TERMINAL: St[] = ['succeeded', 'failed', 'timedOut', 'cancelled'];

interface Model {
  now: number;
  state: St;
  timeout: number | null;
  settle: number;
  settleAt: number | null;
  external: boolean;
  callbacks: number;
}
interface Real {
  clock: TestClock;
  status: Status;
  calls: number[];
  history: St[];
}

/** Let model time pass: the deadline (set first) wins a tie with the settle timer, as in the real clock. */
function advanceModel(m: Model, ms: number): void {
  const end = m.now + ms;
  if (!TERMINAL.includes(m.state)) {
    const deadline = m.timeout === null ? Number.POSITIVE_INFINITY : m.timeout + m.settle;
    const settleAt = m.settleAt ?? Number.POSITIVE_INFINITY;
    if (deadline <= end && deadline <= settleAt) m.state = 'timedOut';
    else if (settleAt <= end) m.state = 'succeeded';
  }
  m.now = end;
}

/**
 * The system's deadline structure releases its one clock timer at the end of the microtask checkpoint in which
 * its last deadline was cancelled (so a status ending and a new one starting do not re-arm it); wait for that.
 */
const checkpoint = () => new Promise<void>((resolve) => setImmediate(resolve));

async function check(m: Model, r: Real): Promise<void> {
  expect(r.status.state).toBe(m.state);
  const done = TERMINAL.includes(m.state);
  expect(r.status.done).toBe(done);
  expect(r.status.success).toBe(m.state === 'succeeded');
  expect(r.calls.length).toBe(m.callbacks);
  for (const c of r.calls) expect(c).toBe(done ? 1 : 0);
  if (m.state === 'timedOut') expect(r.status.exception()).toBeInstanceOf(StatusTimeoutError);
  if (m.state === 'cancelled') expect(r.status.exception()).toBeInstanceOf(CancelledError);
  if (done) {
    await checkpoint();
    expect(r.clock.pending).toBe(0);
  }
  // absorbing: once a terminal state was seen, it never changes
  const firstTerminal = r.history.find((s) => TERMINAL.includes(s));
  if (firstTerminal) expect(r.status.state).toBe(firstTerminal);
  r.history.push(r.status.state);
}

class Finish implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    if (m.external) {
      expect(() => r.status.setFinished()).toThrow(InvalidStateError);
    } else {
      r.status.setFinished();
      m.external = true;
      if (m.state === 'pending') {
        if (m.settle > 0) {
          m.state = 'settling';
          m.settleAt = m.now + m.settle;
        } else m.state = 'succeeded';
      }
    }
    await check(m, r);
  }
  toString = () => 'setFinished';
}

class Fail implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const err = new Error('device fault');
    if (m.external) {
      expect(() => r.status.setException(err)).toThrow(InvalidStateError);
    } else {
      r.status.setException(err);
      m.external = true;
      if (m.state === 'pending') {
        m.state = 'failed';
        expect(r.status.exception()).toBe(err);
      }
    }
    await check(m, r);
  }
  toString = () => 'setException';
}

class Cancel implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.status.cancel('test');
    if (m.state === 'pending' || m.state === 'settling') m.state = 'cancelled';
    await check(m, r);
  }
  toString = () => 'cancel';
}

class AddCallback implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const i = r.calls.push(0) - 1;
    r.status.addCallback(() => {
      r.calls[i]++;
    });
    m.callbacks++;
    await check(m, r);
  }
  toString = () => 'addCallback';
}

class Update implements fc.AsyncCommand<Model, Real> {
  constructor(readonly current: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.status.update({ current: this.current, initial: 0, target: 10 });
    await check(m, r);
    const progress = r.status.actor.getSnapshot().context.progress;
    if (!TERMINAL.includes(m.state)) expect(progress?.current).toBe(this.current);
  }
  toString = () => `update(${this.current})`;
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.clock.advance(this.ms);
    advanceModel(m, this.ms);
    await check(m, r);
  }
  toString = () => `advance(${this.ms})`;
}

const commands = [
  fc.constant(new Finish()),
  fc.constant(new Fail()),
  fc.constant(new Cancel()),
  fc.constant(new AddCallback()),
  fc.integer({ min: 0, max: 10 }).map((c) => new Update(c)),
  fc.integer({ min: 0, max: 400 }).map((ms) => new Advance(ms)),
];

describe('Status model-based', () => {
  it('matches the StatusBase reference model (1,000 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.oneof(fc.integer({ min: 0, max: 500 }), fc.constant(Number.POSITIVE_INFINITY)), {
          nil: null,
        }),
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 }), fc.constant(Number.POSITIVE_INFINITY)),
        fc.commands(commands, { maxCommands: 30 }),
        async (timeout, settle, cmds) => {
          const clock = new TestClock();
          const system = createSystem({ clock });
          const status = new Status({ system, timeout, settleTime: settle });
          const model: Model = {
            now: 0,
            state: 'pending',
            timeout,
            settle,
            settleAt: null,
            external: false,
            callbacks: 0,
          };
          const real: Real = { clock, status, calls: [], history: [] };
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          // issue 7 item 11: stopping the system ends a pending or settling status with SystemStoppedError
          const wasDone = TERMINAL.includes(model.state);
          const error = status.exception();
          void system.stop();
          if (!wasDone) {
            model.state = 'cancelled';
            expect(status.exception()).toBeInstanceOf(SystemStoppedError);
          } else expect(status.exception()).toBe(error);
          await check(model, real);
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: propertyRuns(1000) },
    );
  });
});
