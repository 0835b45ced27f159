/**
 * Issue 10 item 7: the simulated device's cheaper event making keeps the events as they were: the v2 `_lrcEvent`
 * text is `JSON.stringify` of the change (a status alone from a table), command ids are the same text, and v1
 * events are made exactly while some v1 attribute has a subscriber.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/engine/system.js';
import { invokeLrc, type LrcUpdate } from '../../src/protocols/tango/lrc/invokeLrc.js';
import type { AttributeEvent } from '../../src/protocols/tango/port.js';
import { pythonJsonDumps } from '../../src/protocols/tango/sim/pythonJson.js';
import { SkaCommandTracker } from '../../src/protocols/tango/sim/skaCommandTracker.js';
import { SkaDeviceSimulator } from '../../src/protocols/tango/sim/skaDeviceSimulator.js';
import { LRC_ATTRIBUTES, parsePythonJson, ResultCode, TaskStatus } from '../../src/protocols/tango/wire.js';
import { TestClock } from '../../src/testing/testClock.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { flush } from './support/lrcHarness.js';

describe('issue 10 item 7: simulator events', () => {
  it('issue 10 item 7: every v2 event text is JSON.stringify of the change; ids are seconds_uuid_name', () => {
    const change = fc.oneof(
      fc.record({ status: fc.constantFrom(...Object.values(TaskStatus)) }),
      fc.record(
        {
          status: fc.constantFrom(...Object.values(TaskStatus)),
          progress: fc.oneof(fc.integer(), fc.string()),
          result: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(change, fc.nat(3)), { maxLength: 20 }), (changes) => {
        const clock = new TestClock();
        const texts: unknown[] = [];
        let uuid = 0;
        const tracker = new SkaCommandTracker({
          clock,
          epochMs: 1_733_150_000_123,
          removalTimeMs: Number.POSITIVE_INFINITY, // (a removed command has no more events)
          nextUuid: () => uuid++,
          push: (attribute, value) => {
            if (attribute === LRC_ATTRIBUTES.event) texts.push(value);
          },
        });
        const uid = tracker.newCommand('Go');
        expect(uid).toBe(`${(1_733_150_000_123 + clock.now()) / 1000}_0_Go`);
        const expected: unknown[] = [[uid, JSON.stringify({ status: TaskStatus.STAGING })]];
        for (const [c, advance] of changes) {
          clock.advance(advance);
          tracker.update(uid, c);
          expected.push([uid, JSON.stringify(c)]);
        }
        const second = tracker.newCommand('Scan');
        expect(second).toBe(`${(1_733_150_000_123 + clock.now()) / 1000}_1_Scan`);
        expected.push([second, JSON.stringify({ status: TaskStatus.STAGING })]);
        expect(texts).toEqual(expected);
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it('a command id made on a whole second has its seconds as Python prints time.time(): 1636437568.0', () => {
    const clock = new TestClock();
    const tracker = new SkaCommandTracker({
      clock,
      epochMs: 1_636_437_568_000,
      removalTimeMs: Number.POSITIVE_INFINITY,
      nextUuid: () => 235210334802782,
      push: () => {},
    });
    // f"{time.time()}_{uuid4().fields[-1]}_{name}": a float's repr always has its decimal point
    expect(tracker.newCommand('On')).toBe('1636437568.0_235210334802782_On');
    clock.advance(72);
    expect(tracker.newCommand('On')).toBe('1636437568.072_235210334802782_On');
  });

  it('a command id made again (a fixed uuid, the same millisecond) is listed once in the v1 status list, with its new status', () => {
    const clock = new TestClock();
    const lists: unknown[] = [];
    const tracker: SkaCommandTracker = new SkaCommandTracker({
      clock,
      epochMs: 1_636_437_568_000,
      removalTimeMs: Number.POSITIVE_INFINITY,
      nextUuid: () => 7,
      push: (attribute, value) => {
        if (attribute === LRC_ATTRIBUTES.status) lists.push(value ?? tracker.read(attribute));
      },
    });
    const first = tracker.newCommand('On');
    tracker.newCommand('Off');
    tracker.update(first, { status: TaskStatus.COMPLETED, result: [ResultCode.OK, 'On done'] });
    // ska-tango-base's CommandTracker keeps commands in a dict: the entry is replaced where it was
    expect(tracker.newCommand('On')).toBe(first);
    expect(lists.at(-1)).toEqual([first, 'STAGING', '1636437568.0_7_Off', 'STAGING']);
    expect(tracker.read(LRC_ATTRIBUTES.status)).toEqual(lists.at(-1));
  });

  it('a result JSON cannot hold is sent as its text (upstream: str(result)); the command completes and the next one runs', async () => {
    const device = new SkaDeviceSimulator({
      name: 'test/sim/text',
      clock: new TestClock(),
      commands: { Big: () => [ResultCode.OK, 5n], Go: () => [ResultCode.OK, 'go'] },
    });
    const events: unknown[] = [];
    await device.subscribeChangeEvent(LRC_ATTRIBUTES.event, (e) => void events.push(e.value));
    const results: unknown[] = [];
    await device.subscribeChangeEvent(LRC_ATTRIBUTES.result, (e) => void results.push(e.value));
    const [, [big]] = (await device.commandInout('Big')) as [number[], string[]];
    const [, [go]] = (await device.commandInout('Go')) as [number[], string[]];
    await device.whenIdle();
    await flush();
    expect(events).toContainEqual([big, JSON.stringify({ status: TaskStatus.COMPLETED, result: '0,5' })]);
    expect(events).toContainEqual([go, JSON.stringify({ status: TaskStatus.COMPLETED, result: [0, 'go'] })]);
    expect(results).toContainEqual([big, '"0,5"']);
    expect(await device.commandInout('CheckLongRunningCommandStatus', big)).toBe('COMPLETED');
    await device.close();
  });

  it("a result with numbers that are not finite is written as Python's json.dumps writes them (NaN, Infinity), and reaches the callback as such", async () => {
    for (const clientVersions of [
      [1, 1],
      [1, 2],
    ] as const) {
      const clock = new TestClock();
      const system = createSystem({ clock });
      const device = new SkaDeviceSimulator({
        name: 'test/sim/nan',
        clock,
        commands: {
          Measure: () => [ResultCode.OK, Number.NaN],
          Span: () => [
            ResultCode.OK,
            { low: Number.NEGATIVE_INFINITY, high: Number.POSITIVE_INFINITY, n: null },
          ],
        },
      });
      const texts: unknown[] = [];
      for (const attribute of [LRC_ATTRIBUTES.event, LRC_ATTRIBUTES.result])
        await device.subscribeChangeEvent(attribute, (e) => void texts.push((e.value as unknown[])?.[1]));
      for (const [command, result, text] of [
        ['Measure', [0, Number.NaN], '[0,NaN]'],
        [
          'Span',
          [0, { low: Number.NEGATIVE_INFINITY, high: Number.POSITIVE_INFINITY, n: null }],
          '[0,{"low":-Infinity,"high":Infinity,"n":null}]',
        ],
      ] as const) {
        const updates: LrcUpdate[] = [];
        const subs = await invokeLrc((u) => updates.push(u), device, command, undefined, {
          system,
          clientVersions,
        });
        await device.whenIdle();
        await flush();
        expect((await subs.finished).outcome, command).toBe('finished');
        expect(
          updates.filter((u) => 'result' in u).map((u) => u.result),
          command,
        ).toEqual([result]);
        expect(
          updates.some((u) => u.error !== undefined),
          command,
        ).toBe(false);
        expect(texts, command).toContain(text); // v1 longRunningCommandResult
        expect(texts, command).toContain(`{"status":${TaskStatus.COMPLETED},"result":${text}}`); // v2 _lrcEvent
        const finished = (await device.readAttribute('lrcFinished')) as string[];
        expect(finished.at(-1), command).toContain(`"result":${text}`);
      }
      await device.close();
      await system.stop();
    }
  });

  it('pythonJsonDumps is JSON.stringify but for the numbers that are not finite, written as json.dumps writes them', () => {
    // what it should write: JSON.stringify's text with each such number (a marked string first) as its Python word
    const MARK = '\u0000nonfinite:';
    const expected = (v: unknown) =>
      JSON.stringify(v, (_k, x) => {
        const n = x instanceof Number ? Number(x) : x;
        return typeof n === 'number' && !Number.isFinite(n) ? MARK + String(n) : x;
      })?.replace(/"\\u0000nonfinite:(NaN|Infinity|-Infinity)"/g, '$1');
    const shapes = {
      withBoxedValues: true,
      withSparseArray: true,
      withNullPrototype: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withObjectString: true,
    };
    // (fc.anything's own leaves are seldom a number that is not finite: doubles among them, they often are)
    const leaves = [fc.double(), fc.string(), fc.boolean(), fc.constant(null), fc.constant(undefined)];
    const value = fc.oneof(fc.anything(shapes), fc.anything({ ...shapes, values: leaves }));
    fc.assert(
      fc.property(value, (v) => {
        expect(pythonJsonDumps(v)).toBe(expected(v));
      }),
      { numRuns: propertyRuns(500) },
    );
    fc.assert(
      fc.property(fc.array(fc.double()), (a) => {
        expect(pythonJsonDumps(a)).toBe(expected(a));
        expect(parsePythonJson(pythonJsonDumps(a)!)).toEqual(a.map((x) => (Object.is(x, -0) ? 0 : x)));
      }),
      { numRuns: propertyRuns(300) },
    );
    const cycle: unknown[] = [Number.NaN];
    cycle.push(cycle);
    expect(() => pythonJsonDumps(cycle)).toThrow(TypeError);
    expect(() => pythonJsonDumps([null, 5n])).toThrow(TypeError);
    expect(
      pythonJsonDumps([Number.NaN, undefined, () => 1, { a: undefined, b: Number.NEGATIVE_INFINITY }]),
    ).toBe('[NaN,null,null,{"b":-Infinity}]');
  });

  it("a subscription's first event is the value when it was made, before any change that follows (never after it)", async () => {
    const device = new SkaDeviceSimulator({
      name: 'test/sim/first',
      clock: new TestClock(),
      commands: { Go: () => [ResultCode.OK, 'done'] },
    });
    const lists: unknown[] = [];
    // a command invoked while the subscription is being made (before its promise settled)
    const subscribed = device.subscribeChangeEvent(LRC_ATTRIBUTES.status, (e) => void lists.push(e.value));
    const [, [id]] = (await device.commandInout('Go')) as [number[], string[]];
    await subscribed;
    // as Tango: the current value first, then each change; the last event is the attribute's value
    expect(lists.slice(0, 3)).toEqual([[], [id, 'STAGING'], [id, 'QUEUED']]);
    expect(lists.at(-1)).toEqual(await device.readAttribute(LRC_ATTRIBUTES.status));
    await device.close();
  });

  it('issue 10 item 7: v1 events are made only while a v1 attribute has a subscriber, from its first change on', async () => {
    const device = new SkaDeviceSimulator({
      name: 'test/sim/events',
      clock: new TestClock(),
      commands: { Go: () => [ResultCode.OK, 'done'] },
    });
    const seen: AttributeEvent[] = [];
    const unsubscribeV2 = await device.subscribeChangeEvent(LRC_ATTRIBUTES.event, (e) => void seen.push(e));
    await device.commandInout('Go');
    await flush();
    expect(seen.filter((e) => e.attribute !== LRC_ATTRIBUTES.event)).toEqual([]);
    const statuses: AttributeEvent[] = [];
    const unsubscribeV1 = await device.subscribeChangeEvent(
      LRC_ATTRIBUTES.status,
      (e) => void statuses.push(e),
    );
    const [, [id]] = (await device.commandInout('Go')) as [number[], string[]];
    await flush();
    const names = statuses.map((e) => {
      const v = e.value as string[];
      return v[v.indexOf(id) + 1];
    });
    // the first event is the current value (the command not there yet), then each of its changes
    expect(names.slice(1)).toEqual(['STAGING', 'QUEUED', 'IN_PROGRESS', 'COMPLETED']);
    unsubscribeV1();
    const before = statuses.length;
    await device.commandInout('Go');
    await flush();
    expect(statuses.length).toBe(before);
    unsubscribeV1(); // twice: counted once
    const again: AttributeEvent[] = [];
    await device.subscribeChangeEvent(LRC_ATTRIBUTES.status, (e) => void again.push(e));
    await device.commandInout('Go');
    await flush();
    expect(again.length).toBe(5);
    unsubscribeV2();
    await device.close();
  });
});
