/**
 * Hostile options objects given to the core facades (src/api): a Proxy whose `get` throws, a throwing getter for
 * one option, a revoked Proxy, `Object.create(null)`, a getter that gives one value to the checks and another to
 * the construction, and hostile values for each option. Every entry point that takes an options object answers
 * with an InvalidArgumentError naming the facade and the option (the original error as `cause`), and leaves
 * nothing behind: no lifecycle, no detached actor, no armed timer, no abort listener.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  BackgroundTask,
  BackgroundTaskProcessor,
  InvalidArgumentError,
  type OrrerySystem,
  Status,
  StreamingTask,
  TimeoutIterator,
} from '../../src/index.js';
import { flush } from '../support/simulatedTime.js';
import { useTestSystem } from '../support/testSystem.js';

const sim = useTestSystem();

interface Entry {
  /** How the error message names the facade (and the method, for a method's options). */
  facade: string;
  /** Every option the entry point reads. */
  options: readonly string[];
  make: (system: OrrerySystem, options: unknown) => unknown;
}

const idleActor = {
  id: 'idle',
  getSnapshot: () => ({ status: 'active' }),
  subscribe: () => ({ unsubscribe() {} }),
};

const STATUS_OPTIONS = ['timeout', 'settleTime', 'signal', 'system', 'name', 'systemId'] as const;

const ENTRIES: readonly Entry[] = [
  { facade: 'Status', options: STATUS_OPTIONS, make: (_s, o) => new Status(o as never) },
  { facade: 'Status.all', options: STATUS_OPTIONS, make: (_s, o) => Status.all([], o as never) },
  { facade: 'Status.any', options: STATUS_OPTIONS, make: (_s, o) => Status.any([], o as never) },
  {
    facade: 'Status.watchable',
    options: STATUS_OPTIONS,
    make: (_s, o) => Status.watchable([], o as never),
  },
  {
    facade: 'Status.fromSubscription',
    options: STATUS_OPTIONS,
    make: (_s, o) =>
      Status.fromSubscription(
        () => () => {},
        () => false,
        o as never,
      ),
  },
  {
    facade: 'Status.fromActor',
    options: STATUS_OPTIONS,
    make: (_s, o) => Status.fromActor(idleActor, () => false, o as never),
  },
  {
    facade: 'BackgroundTask',
    options: ['frequency', 'stopTimeout', 'system', 'supervisor', 'logger', 'signal', 'name'],
    make: (_s, o) => new BackgroundTask(() => {}, o as never),
  },
  {
    facade: 'BackgroundTaskProcessor',
    options: ['logger', 'system', 'supervisor'],
    make: (_s, o) => new BackgroundTaskProcessor(o as never),
  },
  {
    facade: 'BackgroundTaskProcessor.submitTask',
    options: ['logger', 'frequency'],
    make: (s, o) => new BackgroundTaskProcessor({ system: s }).submitTask(() => {}, o as never),
  },
  {
    facade: 'StreamingTask',
    options: ['exceptionHandler', 'logger', 'system'],
    make: (_s, o) =>
      new StreamingTask(
        'stream',
        () => [],
        () => {},
        o as never,
      ),
  },
  {
    facade: 'StreamingTask.start',
    options: ['signal'],
    make: (s, o) =>
      new StreamingTask(
        'stream',
        () => [],
        () => {},
        { system: s },
      ).start(o as never),
  },
  {
    facade: 'TimeoutIterator',
    options: ['timeout', 'signal', 'expectedRate', 'system'],
    make: (_s, o) => new TimeoutIterator([], o as never),
  },
];

const boom = new Error('boom');
const throwingProxy = () =>
  new Proxy(
    {},
    {
      get() {
        throw boom;
      },
    },
  );
const revokedProxy = () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};

/** Options an entry can be built with: its system, plus an armed timeout and a live signal where it has them. */
function baseOptions(entry: Entry, system: OrrerySystem, signal: AbortSignal): Record<string, unknown> {
  const base: Record<string, unknown> = {};
  if (entry.options.includes('system')) base.system = system;
  if (entry.options.includes('signal')) base.signal = signal;
  if (entry.facade.startsWith('Status')) base.timeout = 1000;
  return base;
}

/** What the failed call left behind in `system`, on its clock and on `signal`. */
function leftovers(system: OrrerySystem, signal: AbortSignal) {
  return {
    compiled: system.compiledCount,
    detached: system.detachedCount,
    timers: sim.clock.pending,
    actors: system.actors().length,
    abortListeners: getEventListeners(signal, 'abort').length,
  };
}

/** Call `make`, expect an InvalidArgumentError naming the facade and an option, and nothing left behind. */
function expectRejected(entry: Entry, options: unknown, signal = new AbortController().signal) {
  const system = sim.start();
  const before = leftovers(system, signal);
  let thrown: unknown;
  try {
    entry.make(system, options);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, entry.facade).toBeInstanceOf(InvalidArgumentError);
  const err = thrown as InvalidArgumentError;
  expect(leftovers(system, signal), entry.facade).toEqual(before);
  return err;
}

describe('hostile options objects given to the core facades', () => {
  it('a Proxy whose get throws: InvalidArgumentError naming the facade and the option read, cause kept', () => {
    for (const entry of ENTRIES) {
      const err = expectRejected(entry, throwingProxy());
      expect(err.message, entry.facade).toContain(entry.facade);
      const named = entry.options.filter((o) => err.message.includes(`'${o}'`));
      expect(named, err.message).toHaveLength(1);
      expect(err.cause, entry.facade).toBe(boom);
    }
  });

  it('a revoked Proxy: InvalidArgumentError naming the facade and an option, the TypeError as cause', () => {
    for (const entry of ENTRIES) {
      const err = expectRejected(entry, revokedProxy());
      expect(err.message, entry.facade).toContain(entry.facade);
      expect(
        entry.options.some((o) => err.message.includes(`'${o}'`)),
        err.message,
      ).toBe(true);
      expect(err.cause, entry.facade).toBeInstanceOf(TypeError);
    }
  });

  it('a throwing getter for one option: that option is named, before anything is spawned or armed', () => {
    for (const entry of ENTRIES) {
      for (const option of entry.options) {
        const system = sim.start();
        const signal = new AbortController().signal;
        const options = baseOptions(entry, system, signal);
        delete options[option];
        Object.defineProperty(options, option, {
          enumerable: true,
          get() {
            throw boom;
          },
        });
        const before = leftovers(system, signal);
        let thrown: unknown;
        try {
          entry.make(system, options);
        } catch (err) {
          thrown = err;
        }
        const what = `${entry.facade} ${option}`;
        expect(thrown, what).toBeInstanceOf(InvalidArgumentError);
        expect((thrown as Error).message, what).toContain(entry.facade);
        expect((thrown as Error).message, what).toContain(`'${option}'`);
        expect((thrown as Error).cause, what).toBe(boom);
        expect(leftovers(system, signal), what).toEqual(before);
      }
    }
  });

  it('a hostile value for one option (a throwing or revoked Proxy): InvalidArgumentError naming it', () => {
    for (const entry of ENTRIES) {
      for (const option of entry.options) {
        for (const [kind, hostile] of [
          ['throwing Proxy', throwingProxy()],
          ['revoked Proxy', revokedProxy()],
        ] as const) {
          const system = sim.start();
          const signal = new AbortController().signal;
          const options = { ...baseOptions(entry, system, signal), [option]: hostile };
          const before = leftovers(system, signal);
          let thrown: unknown;
          try {
            entry.make(system, options);
          } catch (err) {
            thrown = err;
          }
          const what = `${entry.facade} ${option}: ${kind}`;
          expect(thrown, what).toBeInstanceOf(InvalidArgumentError);
          expect((thrown as Error).message, what).toContain(option);
          expect(leftovers(system, signal), what).toEqual(before);
        }
      }
    }
  });

  it('Object.create(null) options are ordinary options (pins the behaviour: no prototype is needed)', async () => {
    for (const entry of ENTRIES) {
      const system = sim.start();
      const options = Object.assign(Object.create(null), entry.options.includes('system') ? { system } : {});
      expect(() => entry.make(system, options), entry.facade).not.toThrow();
      await flush();
    }
    const system = sim.start();
    const status = new Status(Object.assign(Object.create(null), { system, timeout: 5, name: 'bare' }));
    expect(status.name).toBe('bare');
    sim.clock.advance(5);
    expect(status.state).toBe('timedOut');
  });

  it('every option is read once: a getter cannot give the checks one value and the construction another', () => {
    for (const entry of ENTRIES) {
      const system = sim.start();
      const signal = new AbortController().signal;
      const reads = new Map<PropertyKey, number>();
      const counted = new Proxy(baseOptions(entry, system, signal), {
        get(target, key, receiver) {
          reads.set(key, (reads.get(key) ?? 0) + 1);
          return Reflect.get(target, key, receiver);
        },
      });
      entry.make(system, counted);
      for (const [key, n] of reads) expect(n, `${entry.facade} read '${String(key)}'`).toBe(1);
    }
  });

  it('a signal getter that gives an AbortSignal once, then throws: the status is whole and its signal wired', async () => {
    const system = sim.start();
    const controller = new AbortController();
    let reads = 0;
    const options = {
      system,
      timeout: 1000,
      get signal() {
        if (reads++ > 0) throw boom;
        return controller.signal;
      },
    };
    const status = new Status(options);
    expect(system.compiledCount).toBe(1);
    controller.abort('stop');
    expect(status.state).toBe('cancelled');
    // the system's one deadline timer is released at the end of the microtask checkpoint
    await flush();
    expect(sim.clock.pending).toBe(0);
    expect(system.compiledCount).toBe(0);
  });

  it('an exceptionHandler getter that gives a function once, then garbage: the function is the one called', async () => {
    const system = sim.start();
    const seen: Error[] = [];
    let reads = 0;
    const handler = (err: Error) => seen.push(err);
    const task = new StreamingTask(
      'failing',
      () => {
        throw new Error('no items');
      },
      () => {},
      {
        system,
        get exceptionHandler() {
          return reads++ === 0 ? handler : (42 as never);
        },
      },
    );
    task.start();
    await task.done;
    expect(seen.map((e) => e.message)).toEqual(['no items']);
  });
});
