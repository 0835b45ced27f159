/**
 * Issue 7 item 11, the engine's part: `system.stop()` ends every lifecycle it owns. Each `onStop` listener and
 * `onSystemStop` hook runs exactly once, while the actors still run, even when one throws or another is removed
 * or added meanwhile; afterwards no timer of the system is left pending.
 */
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import {
  createSystem,
  InvalidArgumentError,
  SystemStoppedError as SystemStopped,
  type SystemStoppedError,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { captureLogs } from '../support/taskFixtures.js';
import { workerMachine } from '../support/workerMachine.js';

/** A machine that keeps a timer armed: it ticks every 100 ms forever. */
const ticker = setup({}).createMachine({
  id: 'ticker',
  initial: 'waiting',
  states: { waiting: { after: { 100: { target: 'waiting', reenter: true } } } },
});

describe('issue 7 item 11: system.stop() ends every lifecycle', () => {
  it('issue 7 item 11: a stopped system leaves no timer pending on a TestClock and every onStop listener ran once', async () => {
    const clock = new TestClock();
    const { lines, logger } = captureLogs();
    const system = createSystem({
      clock,
      logger,
      root: { intensity: 10, periodMs: 60_000, backoff: { initialMs: 500, maxMs: 500, factor: 1 } },
    });
    const calls: string[] = [];
    const errors: SystemStoppedError[] = [];
    const record = (name: string) => (error: SystemStoppedError) => {
      calls.push(name);
      errors.push(error);
    };

    // timers of every kind: detached and supervised delays, a restart window and a pending backoff respawn
    const detached = system.spawnDetached(ticker, {
      onSystemStop: (error) => {
        record('hook')(error);
        expect(detached.getSnapshot().status).toBe('active'); // still running while it ends its lifecycle
      },
    });
    const rack = system.supervisor('rack');
    system.spawn(ticker, { supervisor: rack, id: 'poller' });
    system.spawn(workerMachine, { supervisor: 'root', id: 'crasher' });
    system.root.child('crasher')!.send({ type: 'CRASH' });
    clock.advance(250);
    expect(clock.pending).toBeGreaterThanOrEqual(4);

    system.onStop(record('first'));
    const removed = system.onStop(record('removed'));
    removed();
    let removedMeanwhile = () => {};
    system.onStop((error) => {
      record('remover')(error);
      removedMeanwhile(); // its lifecycle ended while the system stopped: it does not run
    });
    removedMeanwhile = system.onStop(record('removed meanwhile'));
    system.onStop(() => {
      calls.push('thrower');
      throw new Error('listener failed');
    });
    system.onStop((error) => {
      record('adder')(error);
      // a listener added while the system stops runs at once, once
      system.onStop(record('late'));
    });
    const dup = record('twice-registered');
    system.onStop(dup);
    system.onStop(dup);

    await system.stop();
    await system.stop();
    expect(calls).toEqual(['hook', 'first', 'remover', 'thrower', 'adder', 'late', 'twice-registered']);
    expect(errors.every((e) => e instanceof SystemStopped)).toBe(true);
    expect(new Set(errors).size).toBe(1); // one error for every lifecycle this stop ended
    expect(lines.find((l) => l.msg === 'ending a lifecycle on system stop failed')?.err.message).toBe(
      'listener failed',
    );
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(calls).toHaveLength(7);

    // after the stop, a new listener runs at once, once
    const after: string[] = [];
    const remove = system.onStop(() => after.push('after'));
    remove();
    expect(after).toEqual(['after']);
    expect(() => system.onStop(42 as never)).toThrow(InvalidArgumentError);
  });
});
