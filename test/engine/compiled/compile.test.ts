/**
 * issue 10 item 2: which machines the compiled runner takes, and the reason it gives for those it refuses (they
 * stay on XState's interpreter).
 */
import { describe, expect, it } from 'vitest';
import {
  type AnyStateMachine,
  cancel,
  createMachine,
  fromPromise,
  raise,
  sendParent,
  sendTo,
  setup,
  spawnChild,
  stateIn,
  stopChild,
} from 'xstate';
import { statusMachine } from '../../../machines/core/status.js';
import { machines } from '../../../machines/index.js';
import { lrcMachine } from '../../../machines/tango/lrc.js';
import {
  CompiledMachine,
  compileMachine,
  isCompiled,
  refusalOf,
} from '../../../src/engine/compiled/index.js';
import { fixtures } from './fixtures.js';

const refused = (config: object, implementations: object = {}) =>
  // untyped config and implementations on purpose: the machine's type says nothing, so it is any machine
  refusalOf(setup(implementations as never).createMachine(config as never) as unknown as AnyStateMachine);

describe('compileMachine', () => {
  it('issue 10 item 2: statusMachine and every fixture compile, once per machine', () => {
    for (const m of [statusMachine, ...fixtures.map((f) => f.machine)]) {
      const compiled = compileMachine(m);
      expect(compiled, m.id).toBeInstanceOf(CompiledMachine);
      expect(compileMachine(m)).toBe(compiled);
      expect(isCompiled(m)).toBe(true);
      expect(refusalOf(m)).toBeUndefined();
    }
  });

  it("issue 10 item 2: lrcMachine no longer invokes (its I/O is the device session's actions), so it compiles, and invokeLrc runs every call on the runner", () => {
    expect(isCompiled(lrcMachine)).toBe(true);
    expect(refusalOf(lrcMachine)).toBeUndefined();
  });

  it('issue 10 item 2: parallel and history states, invoke, and several targets are refused', () => {
    expect(refused({ type: 'parallel', states: { a: {}, b: {} } })).toMatch(/is parallel/);
    expect(refused({ initial: 'a', states: { a: { on: { X: 'h' } }, h: { type: 'history' } } })).toMatch(
      /history/,
    );
    expect(refused({ initial: 'a', states: { a: { invoke: { src: fromPromise(async () => 1) } } } })).toMatch(
      /invokes an actor/,
    );
    expect(
      refused({ initial: 'a', states: { a: { on: { GO: { target: ['b', 'c'] } } }, b: {}, c: {} } }),
    ).toMatch(/several targets/);
  });

  it('issue 10 item 2: actions the runner does not run are refused, naming the state and the action', () => {
    const child = createMachine({});
    const cases: [unknown, RegExp][] = [
      [sendTo('someone', { type: 'X' }), /xstate\.sendTo/],
      [sendParent({ type: 'X' }), /xstate\.sendTo/],
      [spawnChild(child), /xstate\.spawnChild/],
      [stopChild('kid'), /xstate\.stopChild/],
      [cancel('t'), /cancel/],
      [raise({ type: 'LATER' }, { delay: 100 }), /delayed raise/],
    ];
    for (const [action, reason] of cases) {
      expect(refused({ initial: 'a', states: { a: { entry: action } } }), String(reason)).toMatch(reason);
      expect(refused({ initial: 'a', states: { a: { entry: action } } })).toMatch(
        /state '\(machine\)\.a' entry/,
      );
    }
    // a named action is looked up in the machine's implementations
    expect(
      refused(
        { initial: 'a', states: { a: { on: { GO: { actions: 'tell' } } } } },
        {
          actions: { tell: sendTo('x', { type: 'Y' }) },
        },
      ),
    ).toMatch(/on 'GO' \(action 'tell'\): xstate\.sendTo/);
  });

  it('issue 10 item 2: stateIn guards are refused; not/and/or and missing named guards and actions are accepted', () => {
    expect(
      refused({ initial: 'a', states: { a: { on: { GO: { guard: stateIn('#x'), target: 'a' } } } } }),
    ).toMatch(/stateIn/);
    expect(
      refused({
        initial: 'a',
        states: { a: { on: { GO: { guard: 'unknown', actions: 'unknownAction' } } } },
      }),
    ).toBeUndefined();
  });
});

describe('the registry and the runner', () => {
  it('issue 10 item 2: the registry tells which machines run compiled (status, lrc) and why the others stay on XState', () => {
    const report = Object.fromEntries(
      Object.entries(machines).map(([name, m]) => [name, refusalOf(m as never) ?? 'compiled']),
    );
    expect(report.status).toBe('compiled');
    expect(report.lrc).toBe('compiled');
    for (const name of [
      'supervisor',
      'backgroundTask',
      'timeoutIterator',
      'streamingTask',
      'katcpConnection',
      'inspectingClient',
    ]) {
      expect(report[name], name).toMatch(/invokes an actor/);
    }
  });
});
