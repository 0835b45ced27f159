/**
 * Bad observers and listeners given to the engine's subscribe-like methods: `ActorHandle.subscribe` (supervised and
 * detached), a compiled lifecycle's virtual actor (`subscribe`, `on`, `select`), `system.inspect` and
 * `system.onEngineEvent`. Each is refused at the call with an InvalidArgumentError, registers nothing, and the
 * subscribers already there keep being told; none becomes a TypeError later, inside a loop of listeners (XState
 * rethrows what an observer throws on a timer, which ends the process).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import {
  createSystem,
  InspectionBus,
  InvalidArgumentError,
  type OrrerySystem,
  Status,
} from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

const counter = setup({
  types: {
    context: {} as { count: number },
    events: {} as { type: 'INC' },
  },
}).createMachine({
  id: 'counter',
  context: { count: 0 },
  on: { INC: { actions: assign({ count: ({ context }) => context.count + 1 }) } },
});

let system: OrrerySystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

const boom = new Error('boom');
const revoked = () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};

/** What is not an observer: not a function nor an object, or an object with a callback that is no function. */
const BAD_OBSERVERS: ReadonlyArray<[string, () => unknown]> = [
  ['null', () => null],
  ['undefined', () => undefined],
  ['a number', () => 42],
  ['a string', () => 'next'],
  ['next: 42', () => ({ next: 42 })],
  ["error: 'x'", () => ({ next() {}, error: 'x' })],
  ['complete: {}', () => ({ complete: {} })],
  [
    'a throwing next getter',
    () => ({
      get next() {
        throw boom;
      },
    }),
  ],
  ['a revoked Proxy', revoked],
];

/** What is not a listener: anything but a function. */
const BAD_LISTENERS: ReadonlyArray<[string, unknown]> = [
  ['null', null],
  ['undefined', undefined],
  ['a number', 42],
  ['an object', { next() {} }],
];

function expectRefused(call: () => unknown, what: string): InvalidArgumentError {
  let thrown: unknown;
  try {
    call();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, what).toBeInstanceOf(InvalidArgumentError);
  return thrown as InvalidArgumentError;
}

describe('subscribe-like methods refuse what is not an observer or a listener, at the call', () => {
  for (const supervised of [true, false]) {
    const kind = supervised ? 'supervised' : 'detached';
    it(`ActorHandle.subscribe (${kind}) refuses a bad observer; the other subscribers keep being told`, () => {
      system = createSystem({ clock: new TestClock() });
      const handle = system.spawn(counter, supervised ? { supervisor: 'root', id: 'c' } : { id: 'c' });
      const seen: number[] = [];
      handle.subscribe((s) => seen.push(s.context.count));
      for (const [what, bad] of BAD_OBSERVERS) {
        const err = expectRefused(() => handle.subscribe(bad() as never), what);
        expect(err.message, what).toMatch(/subscribe/);
        if (what === 'a throwing next getter') expect(err.cause).toBe(boom);
      }
      handle.send({ type: 'INC' });
      handle.send({ type: 'INC' });
      expect(seen).toEqual([1, 2]);
    });
  }

  it('ActorHandle.subscribe still takes a function, an observer object, and one with only some callbacks', () => {
    system = createSystem({ clock: new TestClock() });
    const handle = system.spawn(counter, { supervisor: 'root', id: 'c' });
    const seen: string[] = [];
    const observer = {
      prefix: 'o',
      next(this: { prefix: string }, s: { context: { count: number } }) {
        seen.push(`${this.prefix}${s.context.count}`);
      },
    };
    handle.subscribe((s) => seen.push(`f${s.context.count}`));
    handle.subscribe(observer);
    handle.subscribe({});
    let completed = 0;
    handle.subscribe({ complete: () => completed++ });
    handle.send({ type: 'INC' });
    expect(seen).toEqual(['f1', 'o1']);
    system.root.stopChild('c');
    expect(completed).toBe(1);
  });

  it("a compiled lifecycle's virtual actor: subscribe, on and select refuse bad arguments; nothing is kept", () => {
    system = createSystem({ clock: new TestClock() });
    const status = new Status({ system, timeout: 100 });
    const actor = status.actor as unknown as {
      subscribe(...args: unknown[]): { unsubscribe(): void };
      on(type: unknown, handler: unknown): { unsubscribe(): void };
      select(selector: unknown, equal?: unknown): { subscribe(observer: unknown): unknown };
      readonly watched: boolean;
    };
    for (const [what, bad] of BAD_OBSERVERS) {
      expectRefused(() => actor.subscribe(bad()), `subscribe(${what})`);
      expectRefused(() => actor.select((s: unknown) => s).subscribe(bad()), `select().subscribe(${what})`);
    }
    expectRefused(() => actor.subscribe(() => {}, 42), 'subscribe(fn, 42)');
    expectRefused(() => actor.subscribe(() => {}, undefined, 'done'), "subscribe(fn, undefined, 'done')");
    for (const [what, bad] of BAD_LISTENERS) expectRefused(() => actor.on('*', bad), `on('*', ${what})`);
    expectRefused(() => actor.on(42, () => {}), 'on(42, fn)');
    expectRefused(() => actor.select(42), 'select(42)');
    expectRefused(() => actor.select((s: unknown) => s, 'eq'), "select(fn, 'eq')");
    expect(actor.watched).toBe(false);
    // a good subscriber is told as before
    const states: string[] = [];
    actor.subscribe({ next: (s: { status: string }) => states.push(s.status) });
    status.setFinished();
    expect(states).toEqual(['done']);
  });

  it('one function observed twice is two subscriptions: ending one leaves the other (inspect, onEngineEvent)', () => {
    system = createSystem({ clock: new TestClock() });
    const events: string[] = [];
    const fn = (e: { type: string }) => events.push(e.type);
    const first = system.inspect(fn);
    system.inspect(fn);
    const firstEngine = system.onEngineEvent(fn);
    system.onEngineEvent(fn);
    first.unsubscribe();
    firstEngine.unsubscribe();
    system.spawn(counter, { supervisor: 'root', id: 'c' }).send({ type: 'INC' });
    expect(events).toContain('@xstate.snapshot');
    expect(events).toContain('actor.spawned');
  });

  it('system.inspect refuses a bad observer without starting inspection; onEngineEvent refuses a bad listener', () => {
    system = createSystem({ clock: new TestClock() });
    for (const [what, bad] of BAD_OBSERVERS) {
      const err = expectRefused(() => system!.inspect(bad() as never), `inspect(${what})`);
      expect(err.message, what).toMatch(/inspect/);
    }
    // (the test suite's transition recorder observes every system's bus, so a fresh bus shows what is kept)
    const bus = new InspectionBus();
    for (const [what, bad] of BAD_OBSERVERS)
      expectRefused(() => bus.observe(bad() as never), `observe(${what})`);
    expect(bus.active).toBe(false);
    for (const [what, bad] of BAD_LISTENERS) {
      const err = expectRefused(() => system!.onEngineEvent(bad as never), `onEngineEvent(${what})`);
      expect(err.message, what).toMatch(/onEngineEvent/);
    }
    // the good ones still work
    const events: string[] = [];
    system.inspect((e) => events.push(e.type));
    const seen: string[] = [];
    system.onEngineEvent((e) => seen.push(e.type));
    system.spawn(counter, { id: 'c' }).send({ type: 'INC' });
    expect(events).toContain('@xstate.snapshot');
  });
});
