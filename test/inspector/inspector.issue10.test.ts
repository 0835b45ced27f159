/**
 * Issue 10: the inspector at memory speed. Lifecycles that start and end between two flushes are kept per machine
 * (the last `FINISHED_SHOWN` in full, the rest counted in `Batch.finished`), so a flush costs the same however many
 * ended; the redactor remembers its decision per key name; the event rate cap reads the clock rarely once over the
 * cap. Every guarantee stays: secrets redacted in what is sent, counts exact, hostile snapshots never throw.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { assign, createActor, setup } from 'xstate';
import { Status } from '../../src/api/status.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { ChartRegistry } from '../../src/inspector/charts.js';
import { createInspector } from '../../src/inspector/createInspector.js';
import { createRedactor, isSensitiveKey, REDACTED } from '../../src/inspector/redact.js';
import { type Inspector, startInspector } from '../../src/inspector/server.js';
import { type Batch, FINISHED_SHOWN, Tracker } from '../../src/inspector/tracker.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { connectPage, type Msg } from './support/pageClient.js';

let system: OrrerySystem | undefined;
let inspector: Inspector | undefined;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await inspector?.close();
  inspector = undefined;
  await system?.stop();
  system = undefined;
});

function tracker(sys: OrrerySystem, redact: string[] = []): Tracker {
  const t = new Tracker(sys, {
    redact: createRedactor(redact),
    charts: new ChartRegistry(),
    bufferSize: 1000,
    maxEventsPerSecond: 1_000_000,
  });
  t.start();
  t.flush(); // the system's own actors
  return t;
}

const outcomeOf = (i: number) => (['succeeded', 'failed', 'cancelled'] as const)[i % 3];

/** `n` statuses created and ended now: succeeded, failed, cancelled in turn. */
function lifecycles(sys: OrrerySystem, n: number, from = 0): Status[] {
  const out: Status[] = [];
  for (let i = from; i < from + n; i++) {
    const s = new Status({ system: sys, timeout: 60_000, name: `s${i}` });
    const outcome = outcomeOf(i);
    if (outcome === 'succeeded') s.setFinished();
    else if (outcome === 'failed') s.setException(new Error(`failed with password=hunter${i}`));
    else s.cancel();
    out.push(s);
  }
  return out;
}

/** Per outcome: how many statuses the batch shows in full plus how many it counts. */
function outcomes(batch: Batch, machine = 'status'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of batch.actors)
    if (a.machine === machine && a.status === 'done') out[String(a.value)] = (out[String(a.value)] ?? 0) + 1;
  for (const f of batch.finished ?? [])
    if (f.machine === machine && f.status === 'done')
      out[f.value ?? 'done'] = (out[f.value ?? 'done'] ?? 0) + f.count;
  return out;
}

describe('issue 10: the inspector at memory speed', () => {
  it('issue 10 item 7: lifecycles that start and end within a flush: the last few in full, the rest counted, exactly', () => {
    system = createSystem();
    const t = tracker(system);
    const n = 5000;
    lifecycles(system, n);
    const batch = t.flush();
    const statuses = batch.actors.filter((a) => a.machine === 'status');
    // the last FINISHED_SHOWN in full, in creation order, each also in `stopped` (the page adds and removes them)
    expect(statuses).toHaveLength(FINISHED_SHOWN);
    const keys = statuses.map((a) => a.key);
    for (const k of keys) expect(batch.stopped).toContain(k);
    const numbers = statuses.map((a) => Number(/\d+$/.exec(a.id)?.[0]));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    // every outcome counted once: shown + counted = created
    expect(outcomes(batch)).toEqual({
      succeeded: Math.ceil(n / 3),
      failed: Math.ceil((n - 1) / 3),
      cancelled: Math.ceil((n - 2) / 3),
    });
    // the ones sent in full are redacted like any other actor
    const json = JSON.stringify(batch);
    expect(json).not.toContain('hunter');
    expect(json).toContain(REDACTED);
    // nothing of them is held: the next flush is empty, the live table has the system's own actors only
    expect(t.liveCount).toBeLessThan(10);
    const next = t.flush();
    expect(next.actors).toEqual([]);
    expect(next.finished).toBeUndefined();
    t.dispose();
  });

  it('issue 10 item 7: below the cap every ended lifecycle is sent in full and nothing is counted (as before)', () => {
    system = createSystem();
    const t = tracker(system);
    lifecycles(system, FINISHED_SHOWN);
    const batch = t.flush();
    expect(batch.finished).toBeUndefined();
    expect(batch.actors.filter((a) => a.machine === 'status')).toHaveLength(FINISHED_SHOWN);
    t.dispose();
  });

  it('issue 10 item 7: an actor announced since the last flush is shown with its latest snapshot', () => {
    system = createSystem();
    const t = tracker(system);
    const a = new Status({ system, timeout: 60_000, name: 'a' });
    const b = new Status({ system, timeout: 60_000, name: 'b' });
    a.update({ current: 1, initial: 0, target: 10 }); // while b is the latest announced
    b.setFinished(); // a is the latest announced again
    a.update({ current: 2, initial: 0, target: 10 });
    const batch = t.flush();
    const view = batch.actors.find((v) => v.machine === 'status' && v.status === 'active') as {
      context: { progress: { current: number } };
    };
    expect(view.context.progress.current).toBe(2);
    a.setFinished();
    t.dispose();
  });

  it('issue 10 item 7: pending lifecycles, ones ending across flushes and interleaved ones are each shown, none counted twice', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('new', 'finish-last', 'finish-first', 'flush'), { maxLength: 200 }),
        (ops) => {
          const sys = createSystem();
          const t = tracker(sys);
          const pending: Status[] = [];
          let created = 0;
          let doneSeen = 0;
          const seenKeys = new Set<string>();
          const take = (batch: Batch) => {
            for (const a of batch.actors) {
              if (a.machine !== 'status' || a.status !== 'done') continue;
              // an actor is reported done once
              expect(seenKeys.has(a.key)).toBe(false);
              seenKeys.add(a.key);
              doneSeen++;
            }
            for (const f of batch.finished ?? []) doneSeen += f.count;
          };
          for (const op of ops) {
            if (op === 'new') {
              pending.push(new Status({ system: sys, timeout: 60_000 }));
              created++;
            } else if (op === 'finish-last') pending.pop()?.setFinished();
            else if (op === 'finish-first') pending.shift()?.cancel();
            else take(t.flush());
          }
          for (const s of pending) s.setFinished();
          take(t.flush());
          take(t.flush());
          expect(doneSeen).toBe(created);
          t.dispose();
          void sys.stop();
        },
      ),
      { numRuns: propertyRuns(100) },
    );
  });

  it('issue 10 item 7: each machine keeps its own last few and its own counts', () => {
    system = createSystem();
    const t = tracker(system);
    const once = setup({ types: { context: {} as { token: string } } }).createMachine({
      id: 'once',
      context: { token: 'tok-secret' },
      initial: 'go',
      states: { go: { always: 'end' }, end: { type: 'final' } },
    });
    for (let i = 0; i < 100; i++) {
      system.spawn(once, { restart: 'temporary' });
      new Status({ system, timeout: 1000 }).setFinished();
    }
    const batch = t.flush();
    expect(batch.actors.filter((a) => a.machine === 'once')).toHaveLength(FINISHED_SHOWN);
    expect(batch.actors.filter((a) => a.machine === 'status')).toHaveLength(FINISHED_SHOWN);
    expect(outcomes(batch, 'once')).toEqual({ end: 100 });
    expect(outcomes(batch, 'status')).toEqual({ succeeded: 100 });
    expect(JSON.stringify(batch)).not.toContain('tok-secret');
    t.dispose();
  });

  it('lifecycles whose logic is built per call (an inline machine) are counted by machine too', () => {
    // each actor has its own logic object: kept per logic, every one of them was its machine's only one and sent
    // in full (2000 ended, 2000 in the batch), so the flush grew with the rate again
    system = createSystem();
    const t = tracker(system);
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const perCall = setup({ types: { context: {} as { token: string } } }).createMachine({
        id: 'perCall',
        context: { token: 'tok-secret' },
        initial: 'go',
        states: { go: { always: 'end' }, end: { type: 'final' } },
      });
      system.spawn(perCall, { restart: 'temporary' });
    }
    const batch = t.flush();
    expect(batch.actors.length).toBeLessThan(200);
    expect(outcomes(batch, 'perCall')).toEqual({ end: n });
    expect(JSON.stringify(batch)).not.toContain('tok-secret');
    t.dispose();
  });

  it('issue 10 item 7: createInspector: hostile snapshots of a plain actor never throw; counts reach the page', async () => {
    const ins = await createInspector({ batchIntervalMs: 10 });
    try {
      const c = connectPage(ins.url, sockets);
      await c.opened;
      await c.next((m) => m.type === 'hello');
      const m = setup({ types: { context: {} as { password: string } } }).createMachine({
        id: 'burst',
        context: { password: 'pw-hunter2' },
        initial: 'a',
        states: { a: { on: { GO: 'b' } }, b: { type: 'final' } },
      });
      const n = 200;
      for (let i = 0; i < n; i++) {
        const a = createActor(m, { inspect: ins.inspect }).start();
        a.send({ type: 'GO' });
      }
      // a hostile snapshot event straight into the inspect function: nothing thrown
      const evil = new Proxy(
        {},
        {
          get() {
            throw new Error('hostile');
          },
        },
      );
      const actor = createActor(m, { inspect: ins.inspect }).start();
      expect(() =>
        ins.inspect({
          type: '@xstate.snapshot',
          actorRef: actor,
          snapshot: evil,
          event: { type: 'x' },
        } as never),
      ).not.toThrow();
      let seen = 0;
      const counted = () => {
        seen = 0;
        for (const msg of c.messages) {
          if (msg.type !== 'batch') continue;
          for (const a of msg.actors as Msg[]) if (a.machine === 'burst' && a.status === 'done') seen++;
          for (const f of (msg.finished ?? []) as Msg[]) if (f.machine === 'burst') seen += f.count;
        }
        return seen;
      };
      await c.next(() => counted() >= n);
      expect(counted()).toBe(n);
      expect(c.raw.join('')).not.toContain('pw-hunter2');
    } finally {
      await ins.close();
    }
  });

  it('issue 10 item 7: a page sees the counts of statuses it was not sent one by one', async () => {
    system = createSystem();
    inspector = await startInspector(system, { batchIntervalMs: 10 });
    const c = connectPage(inspector.url, sockets);
    await c.opened;
    await c.next((m) => m.type === 'hello');
    lifecycles(system, 1000);
    const batch = await c.next((m) => m.type === 'batch' && m.finished !== undefined);
    expect(batch.finished).toEqual(
      expect.arrayContaining([expect.objectContaining({ machine: 'status', status: 'done' })]),
    );
    expect(outcomes(batch as unknown as Batch)).toEqual({ succeeded: 334, failed: 333, cancelled: 333 });
    expect(c.raw.join('')).not.toContain('hunter');
  });
});

describe('issue 10: the redactor remembers its decision per key', () => {
  it('issue 10 item 7: decisions are the same with and without the cache, past its bound too', () => {
    const redact = createRedactor(['serial', 'device.host']);
    const keys = [
      ...Array.from({ length: 5000 }, (_, i) => `key${i}`),
      'password',
      'apiKey',
      'x.token',
      'spin',
      'serial',
      'Serial_',
      'pin',
    ];
    for (let round = 0; round < 3; round++) {
      const value = Object.fromEntries(keys.map((k) => [k, 'v']));
      const out = redact(value) as Record<string, unknown>;
      // maxKeys caps what is shown; every shown key is decided as isSensitiveKey (plus the extra names) says
      for (const [k, v] of Object.entries(out)) {
        if (k === '…') continue;
        const sensitive = isSensitiveKey(k) || ['serial'].includes(k.toLowerCase().replace(/[^a-z0-9]/g, ''));
        expect(v).toBe(sensitive ? REDACTED : 'v');
      }
      const small = redact({ password: 'a', spin: 'b', serial: 'c', device: { host: 'h', port: 1 } });
      expect(small).toEqual({
        password: REDACTED,
        spin: 'b',
        serial: REDACTED,
        device: { host: REDACTED, port: 1 },
      });
    }
  });

  it('issue 10 item 7: without path rules nested values are redacted the same (no path is built)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom('password', 'token', 'n'), (v, key) => {
        const plain = createRedactor([]);
        const withPath = createRedactor(['never.matches.anything']);
        const value = { [key]: v, nested: { [key]: v, list: [v, { [key]: v }] } };
        expect(plain(value)).toEqual(withPath(value));
      }),
      { numRuns: propertyRuns(200) },
    );
  });
});

describe('issue 10: the event rate cap', () => {
  it('issue 10 item 7: every event is forwarded or counted as dropped, never more than the cap per window', () => {
    system = createSystem();
    const t = new Tracker(system, {
      redact: createRedactor(),
      charts: new ChartRegistry(),
      bufferSize: 100_000,
      maxEventsPerSecond: 50,
    });
    t.start();
    t.flush();
    const ping = setup({ types: { context: {} as { n: number } } }).createMachine({
      id: 'ping',
      context: { n: 0 },
      on: { PING: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
    });
    const a = system.spawn(ping, { systemId: 'ping' });
    t.flush();
    const sent = 3000;
    for (let i = 0; i < sent; i++) a.send({ type: 'PING' });
    const batch = t.flush();
    const pings = batch.events.filter((e) => e.type === 'PING').length;
    expect(pings).toBeGreaterThan(0);
    expect(pings).toBeLessThan(sent); // 50 per one-second window
    expect(pings + batch.dropped).toBe(sent);
    t.dispose();
  });
});
