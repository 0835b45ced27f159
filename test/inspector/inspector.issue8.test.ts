/**
 * Issue 8, inspector side: the view registry (item 2), charts of any registered machine without a WebSocket
 * client (item 6), and `createInspector().inspect` for a plain `createActor` (item 11).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { assign, createActor, fromCallback, setup } from 'xstate';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { registerMachine } from '../../src/inspector/charts.js';
import { createInspector, type InspectorWithInspect } from '../../src/inspector/createInspector.js';
import { type Inspector, startInspector } from '../../src/inspector/server.js';
import { type InspectorView, inspectorViews, registerInspectorView } from '../../src/inspector/views.js';
import { connectPage, type Msg } from './support/pageClient.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A user's own machine: a shutter with a position and a motion count. */
const shutter = setup({
  types: {
    context: {} as { position: number; moves: number; token: string },
    events: {} as { type: 'OPEN' } | { type: 'CLOSE' } | { type: 'MOVED'; position: number },
  },
}).createMachine({
  id: 'userShutter',
  context: { position: 0, moves: 0, token: 'hunter2' },
  initial: 'closed',
  states: {
    closed: { on: { OPEN: 'opening' } },
    opening: {
      on: {
        MOVED: {
          actions: assign({
            position: ({ event }) => event.position,
            moves: ({ context }) => context.moves + 1,
          }),
        },
        CLOSE: 'closed',
      },
    },
  },
});

let system: OrrerySystem | undefined;
let inspector: Inspector | undefined;
const sockets: WebSocket[] = [];
const cleanups: Array<() => void> = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const c of cleanups.splice(0)) c();
  await inspector?.close();
  inspector = undefined;
  await system?.stop();
  system = undefined;
});

function connect(url: string, opts: WebSocket.ClientOptions & { origin?: string } = {}) {
  return connectPage(url, sockets, opts);
}

function httpGet(url: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

type ShutterSummary = { position?: number; moves?: number; token?: string; last?: string };

const shutterView: InspectorView<ShutterSummary> = {
  machine: 'userShutter',
  summarise: (context, previous) => {
    const c = context as { position: number; moves: number; token: string };
    // a view that copies a secret still cannot leak it: summaries pass the redactor
    return { ...previous, position: c.position, moves: c.moves, token: c.token };
  },
  onEvent: (type, event, { summary }) =>
    type === 'MOVED'
      ? { ...summary, last: `moved to ${(event as { position: number }).position}` }
      : undefined,
  panel: {
    id: 'shutters',
    title: 'Shutters',
    empty: 'no shutter yet',
    card: { status: 'position', progress: 'position', fields: ['moves', 'last'] },
  },
};

describe('issue 8 item 2: the inspector view registry', () => {
  it('issue 8 item 2: src/inspector and the page name no protocol', () => {
    const files = [
      ...readdirSync(join(root, 'src', 'inspector')).map((f) => join(root, 'src', 'inspector', f)),
      ...readdirSync(join(root, 'visualizations', 'inspector')).map((f) =>
        join(root, 'visualizations', 'inspector', f),
      ),
    ];
    expect(files.length).toBeGreaterThan(8);
    const offenders: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const word of [
        /\blrcs?\b/i,
        /DEVICE_EVENT/,
        /tango/i,
        /katcp/i,
        /channel access/i,
        /protocols\//,
        /\bska\b/i,
      ])
        if (word.test(text)) offenders.push(`${file.slice(root.length + 1)}: ${word}`);
    }
    expect(offenders).toEqual([]);
  });

  it("issue 8 item 2: a registered view for a user's own machine shows up in the page data", async () => {
    cleanups.push(registerInspectorView(shutterView));
    system = createSystem();
    const actor = system.spawn(shutter, { systemId: 'shutter-1' });
    actor.send({ type: 'OPEN' });
    inspector = await startInspector(system, { batchIntervalMs: 20 });
    const c = connect(inspector.url);
    const hello = await c.next((m) => m.type === 'hello');
    expect(hello.views).toContainEqual({ machine: 'userShutter', panel: shutterView.panel });
    const view = hello.actors.find((a: Msg) => a.systemId === 'shutter-1');
    expect(view).toMatchObject({
      machine: 'userShutter',
      panel: 'shutters',
      summary: { position: 0, moves: 0 },
    });
    expect(view.summary.token).toBe('[REDACTED]');

    actor.send({ type: 'MOVED', position: 40 });
    const moved = await c.next(
      (m) => m.type === 'batch' && m.actors.some((a: Msg) => a.summary?.last === 'moved to 40'),
    );
    expect(moved.actors.find((a: Msg) => a.systemId === 'shutter-1').summary).toMatchObject({
      position: 40,
      moves: 1,
      last: 'moved to 40',
    });
    expect(JSON.stringify(c.messages)).not.toContain('hunter2');
  });

  it('issue 8 item 2: views registered or removed later reach a connected page; a throwing view changes nothing', async () => {
    system = createSystem();
    inspector = await startInspector(system, { batchIntervalMs: 20 });
    const c = connect(inspector.url);
    const hello = await c.next((m) => m.type === 'hello');
    expect(hello.views.some((v: Msg) => v.machine === 'userShutter')).toBe(false);
    const remove = registerInspectorView({
      machine: 'userShutter',
      summarise: () => {
        throw new Error('view bug');
      },
      panel: { id: 'shutters', title: 'Shutters' },
    });
    cleanups.push(remove);
    const actor = system.spawn(shutter, { systemId: 'shutter-2' });
    const batch = await c.next(
      (m) => m.type === 'batch' && m.views?.some((v: Msg) => v.machine === 'userShutter'),
    );
    expect(batch.views.find((v: Msg) => v.machine === 'userShutter').panel.id).toBe('shutters');
    const shown = await c.next(
      (m) => m.type === 'batch' && m.actors.some((a: Msg) => a.systemId === 'shutter-2'),
    );
    const view = shown.actors.find((a: Msg) => a.systemId === 'shutter-2');
    expect(view.panel).toBe('shutters');
    expect(view.summary).toBeUndefined();
    actor.send({ type: 'OPEN' });
    remove();
    await c.next(
      (m) =>
        m.type === 'batch' &&
        Array.isArray(m.views) &&
        !m.views.some((v: Msg) => v.machine === 'userShutter'),
    );
  });

  it('issue 8 item 2: importing the LRC facade registers the LRC view (what the demo and `orrery lrc --inspect` draw)', async () => {
    await import('../../src/protocols/tango/lrc/invokeLrc.js');
    const lrc = inspectorViews().find((v) => v.machine === 'lrc');
    expect(lrc?.panel).toMatchObject({
      id: 'lrcs',
      title: 'Long running commands',
      card: { progress: 'progress' },
    });
  });

  it('issue 8 item 2: a bad view is refused with InvalidArgumentError; a second view for one machine too', () => {
    const bad: unknown[] = [
      null,
      {},
      { machine: '' },
      { machine: 'm', summarise: 'no' },
      { machine: 'm', onEvent: 1 },
      { machine: 'm', panel: { id: '../x', title: 'T' } },
      { machine: 'm', panel: { id: 'ok', title: '' } },
      { machine: 'm', panel: { id: 'ok', title: 'T', card: { progress: 3 } } },
      { machine: 'm', panel: { id: 'ok', title: 'T', card: { fields: [1] } } },
    ];
    for (const v of bad) expect(() => registerInspectorView(v as never)).toThrow(InvalidArgumentError);
    const remove = registerInspectorView(shutterView);
    cleanups.push(remove);
    expect(registerInspectorView(shutterView)).toBeTypeOf('function'); // the same view again: no-op
    expect(() => registerInspectorView({ ...shutterView })).toThrow(/already has an inspector view/);
  });
});

describe('issue 8 item 6: /charts/<id>.svg for any registered machine, no WebSocket client needed', () => {
  it('issue 8 item 6: serves machines/index.ts, registerMachine and live-actor charts before any page connects', async () => {
    cleanups.push(registerMachine(shutter));
    const liveOnly = setup({}).createMachine({
      id: 'liveOnly',
      initial: 'a',
      states: { a: { on: { GO: 'b' } }, b: {} },
    });
    system = createSystem();
    system.spawn(liveOnly, { systemId: 'live-1' });
    inspector = await startInspector(system);
    const builtIn = await httpGet(`${inspector.url}charts/status.svg`);
    expect(builtIn.status).toBe(200);
    expect(builtIn.headers['content-type']).toMatch(/^image\/svg\+xml/);
    const own = await httpGet(`${inspector.url}charts/userShutter.svg`);
    expect(own.status).toBe(200);
    expect(own.body).toContain('data-path="opening"');
    expect(own.body).not.toContain('hunter2');
    const live = await httpGet(`${inspector.url}charts/liveOnly.svg`);
    expect(live.status).toBe(200);
    expect(live.body).toContain('data-path="b"');
    expect(inspector.stats().clients).toEqual([]);
  });

  it('issue 8 item 6: unknown ids get 404, invalid ids 400, and no path leaves the chart registry', async () => {
    system = createSystem();
    inspector = await startInspector(system);
    expect((await httpGet(`${inspector.url}charts/noSuchMachine.svg`)).status).toBe(404);
    for (const path of [
      'charts/..%2F..%2Fpackage.json.svg',
      'charts/.hidden.svg',
      'charts/..svg',
      'charts/a%00b.svg',
      `charts/${'x'.repeat(101)}.svg`,
      'charts/a/b.svg',
      'charts/.svg',
    ]) {
      const r = await httpGet(`${inspector.url}${path}`);
      expect([path, r.status]).toEqual([path, 400]);
    }
    const traversal = await httpGet(`${inspector.url}charts/../../package.json`);
    expect(traversal.status).toBe(404);
    expect(traversal.body).not.toContain('"name"');
  });

  it('issue 8 item 6: registerMachine refuses what is not a machine, a bad id, and an id taken by another machine', () => {
    expect(() => registerMachine({} as never)).toThrow(InvalidArgumentError);
    expect(() => registerMachine(shutter, '../x')).toThrow(InvalidArgumentError);
    expect(() => registerMachine(shutter, '')).toThrow(InvalidArgumentError);
    cleanups.push(registerMachine(shutter, 'takenId'));
    const other = setup({}).createMachine({ id: 'other', initial: 'a', states: { a: {} } });
    expect(() => registerMachine(other, 'takenId')).toThrow(/already registered/);
  });
});

describe('issue 8 item 11: createInspector().inspect with a plain createActor', () => {
  let plain: InspectorWithInspect | undefined;
  afterEach(async () => {
    await plain?.close();
    plain = undefined;
  });

  const parent = setup({
    actors: { heartbeat: fromCallback(() => () => {}), shutter },
  }).createMachine({
    id: 'plainParent',
    initial: 'running',
    invoke: [{ src: 'heartbeat', id: 'beat' }],
    states: { running: { on: { FINISH: 'done' } }, done: { type: 'final' } },
  });

  it('issue 8 item 11: an actor made with createActor(machine, { inspect }) shows in the page, live, with its chart', async () => {
    plain = await createInspector({ batchIntervalMs: 20, readOnly: false });
    const actor = createActor(shutter, { inspect: plain.inspect, systemId: 'plain-shutter' }).start();
    const other = createActor(parent, { inspect: plain.inspect }).start();
    const c = connect(plain.url);
    const hello = await c.next((m) => m.type === 'hello');
    const view = hello.actors.find((a: Msg) => a.machine === 'userShutter');
    expect(view).toMatchObject({ status: 'active', value: 'closed', chart: 'userShutter' });
    expect(view.context.token).toBe('[REDACTED]');
    const root = hello.actors.find((a: Msg) => a.machine === 'plainParent');
    expect(root).toBeDefined();
    expect(hello.actors.some((a: Msg) => a.id === 'beat' && a.parent === root.key)).toBe(true);

    actor.send({ type: 'OPEN' });
    await c.next(
      (m) =>
        m.type === 'batch' && m.actors.some((a: Msg) => a.machine === 'userShutter' && a.value === 'opening'),
    );
    const chart = await httpGet(`${plain.url}charts/plainParent.svg`);
    expect(chart.status).toBe(200);
    expect(chart.body).toContain('data-path="running"');

    // read-write: the page's event reaches the plain actor by its systemId
    const ws = sockets[sockets.length - 1];
    ws.send(
      JSON.stringify({
        type: 'send',
        id: 1,
        systemId: 'plain-shutter',
        event: { type: 'MOVED', position: 7 },
      }),
    );
    await c.next((m) => m.type === 'ack' && m.id === 1);
    expect(actor.getSnapshot().context.position).toBe(7);

    other.send({ type: 'FINISH' });
    actor.stop();
    await c.next((m) => m.type === 'batch' && m.stopped.includes(view.key));
    await c.next((m) => m.type === 'batch' && m.stopped.includes(root.key));
    expect(JSON.stringify(c.messages)).not.toContain('hunter2');
  });

  it('issue 8 item 11: stopped actors are forgotten, and after close() inspect holds and does nothing', async () => {
    plain = await createInspector({ batchIntervalMs: 20 });
    const inspect = plain.inspect;
    for (let i = 0; i < 1500; i++) createActor(shutter, { inspect }).start().stop();
    const live = createActor(shutter, { inspect }).start();
    const c = connect(plain.url);
    const hello = await c.next((m) => m.type === 'hello');
    expect(hello.actors.filter((a: Msg) => a.machine === 'userShutter')).toHaveLength(1);
    await plain.close();
    const url = plain.url;
    plain = undefined;
    live.send({ type: 'OPEN' }); // no observer left: nothing happens, nothing throws
    createActor(shutter, { inspect }).start().stop();
    await expect(httpGet(url)).rejects.toThrow();
    live.stop();
  });

  it('issue 8 item 11: createInspector refuses bad options with InvalidArgumentError', async () => {
    await expect(createInspector(null as never)).rejects.toThrow(InvalidArgumentError);
    await expect(createInspector({ logger: 'loud' as never })).rejects.toThrow(InvalidArgumentError);
    await expect(createInspector({ port: -1 })).rejects.toThrow(InvalidArgumentError);
  });
});
