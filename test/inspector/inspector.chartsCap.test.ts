/**
 * The chart registry holds at most 500 machine definitions. Actors beyond that must keep their cards: an actor's
 * `machine` (the key of its inspector view) is its machine's id whether or not it got a chart, and the copies
 * `.provide()` makes of one machine share their original's chart instead of filling the registry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { ChartRegistry, registerMachine } from '../../src/inspector/charts.js';
import { createRedactor } from '../../src/inspector/redact.js';
import { Tracker } from '../../src/inspector/tracker.js';
import { registerInspectorView } from '../../src/inspector/views.js';

let system: OrrerySystem | undefined;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await system?.stop();
  system = undefined;
});

/** A lamp machine with an effect to provide and a counter its view shows. */
const lampOf = (id: string, extraState = false) =>
  setup({
    types: { context: {} as { presses: number }, events: {} as { type: 'PRESS' } },
    actions: { ring: () => {} },
  }).createMachine({
    id,
    context: { presses: 0 },
    initial: 'off',
    states: {
      off: {
        on: {
          PRESS: {
            target: 'on',
            actions: [assign({ presses: ({ context }) => context.presses + 1 }), 'ring'],
          },
        },
      },
      on: { on: { PRESS: 'off' } },
      ...(extraState ? { broken: {} } : {}),
    },
  });

function tracker(sys: OrrerySystem, charts: ChartRegistry): Tracker {
  const t = new Tracker(sys, {
    redact: createRedactor([]),
    charts,
    bufferSize: 100_000,
    maxEventsPerSecond: 10_000_000,
  });
  t.start();
  t.flush();
  return t;
}

describe('issue 11 item 7: cards past the chart registry cap', () => {
  it('issue 11 item 7: 700 actors each on its own .provide() copy share one chart and all keep their view', () => {
    const lamp = lampOf('capLampProvided');
    cleanups.push(
      registerInspectorView({
        machine: 'capLampProvided',
        summarise: (context) => ({ presses: (context as { presses: number }).presses }),
        panel: { id: 'cap-lamps', title: 'Lamps' },
      }),
    );
    system = createSystem();
    const charts = new ChartRegistry();
    const t = tracker(system, charts);
    const n = 700;
    for (let i = 0; i < n; i++) {
      const copy = lamp.provide({ actions: { ring: () => {} } });
      const handle = system.spawn(copy, { id: `lamp-${i}` });
      handle.send({ type: 'PRESS' });
    }
    const batch = t.flush();
    const lamps = batch.actors.filter((a) => a.id.startsWith('lamp-'));
    expect(lamps).toHaveLength(n);
    expect(new Set(lamps.map((a) => a.chart))).toEqual(new Set(['capLampProvided']));
    for (const a of lamps) {
      expect(a.machine).toBe('capLampProvided');
      expect(a.panel).toBe('cap-lamps');
      expect(a.summary).toEqual({ presses: 1 });
    }
    expect(charts.keys().filter((k) => k.startsWith('capLampProvided'))).toEqual(['capLampProvided']);
  });

  it('issue 11 item 7: 600 distinct machines of one id: past the cap an actor still has its view and its id chart', () => {
    cleanups.push(
      registerInspectorView({
        machine: 'capLampDistinct',
        summarise: (context) => ({ presses: (context as { presses: number }).presses }),
        panel: { id: 'cap-distinct', title: 'Distinct lamps' },
      }),
    );
    system = createSystem();
    const t = tracker(system, new ChartRegistry());
    const n = 600;
    for (let i = 0; i < n; i++) {
      // a machine built per call (a new definition each time): the registry fills up at 500
      const handle = system.spawn(lampOf('capLampDistinct', i % 2 === 0), { id: `distinct-${i}` });
      handle.send({ type: 'PRESS' });
    }
    const lamps = t.flush().actors.filter((a) => a.id.startsWith('distinct-'));
    expect(lamps).toHaveLength(n);
    for (const a of lamps) {
      expect(a.machine).toBe('capLampDistinct');
      expect(a.panel).toBe('cap-distinct');
      expect(a.summary).toEqual({ presses: 1 });
      expect(a.chart).toBeDefined();
    }
  });

  it('machines registered under ever-new ids fill the registry up to its cap only (served past it, not kept)', async () => {
    // A chart asked for by the id a machine was registered under was kept in the registry's machine and SVG
    // caches without the cap: registering, drawing and removing ever-new ids grew both for ever.
    const charts = new ChartRegistry();
    const tiny = setup({}).createMachine({ id: 'capTiny', initial: 'a', states: { a: {} } });
    const drawn: Array<Promise<string>> = [];
    for (let i = 0; i < 600; i++) {
      const remove = registerMachine(tiny, `capTiny-${i}`);
      const svg = charts.svg(`capTiny-${i}`);
      expect(svg).toBeDefined(); // served while registered, past the cap too
      drawn.push(svg!);
      remove();
    }
    expect((await Promise.all(drawn)).every((svg) => svg.includes('<svg'))).toBe(true);
    // none of them is registered any more: what the registry still knows is what it kept, at most 500
    expect(charts.keys().length).toBeLessThanOrEqual(500);
    expect(charts.keys().filter((k) => k.startsWith('capTiny-')).length).toBeGreaterThan(0);
  });
});
