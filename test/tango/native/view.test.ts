/**
 * The native Tango client's inspector views (issue 12 item 7): a GIOP connection's card (endpoint, state, pending
 * requests, round trips, last error) and an event subscription's card (device/attribute, state, events, last event
 * and heartbeat time, error), as pure functions of context, state value and events, then fed by real actors: a
 * DeviceProxy against TangoTest (the facade's `tango.inspect.connection` samples, seen on the system's inspection
 * bus) and a change-event subscription on the PyTango fixture.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { createSystem } from '../../../src/engine/system.js';
import { createRedactor } from '../../../src/inspector/redact.js';
import { inspectorViewFor, inspectorViews } from '../../../src/inspector/views.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import { TangoEventConsumer } from '../../../src/protocols/tango/events.js';
import {
  connectionFromContext,
  eventSubscriptionInspectorView,
  giopConnectionInspectorView,
  leafState,
  subscriptionFromContext,
  TANGO_CONNECTION_SAMPLE,
} from '../../../src/protocols/tango/nativeView.js';
import { LrcDeviceServer } from './support/lrcDevice.js';
import { startTangoTest, type TangoTestServer } from './support/tangoTest.js';

const redact = createRedactor();

describe('issue 12 item 7: the Tango inspector views as functions', () => {
  it('issue 12 item 7: both views are registered with their panels', () => {
    expect(inspectorViewFor('giopConnection')).toBe(giopConnectionInspectorView);
    expect(inspectorViewFor('tangoEventSubscription')).toBe(eventSubscriptionInspectorView);
    const panels = inspectorViews().map((v) => v.panel?.id);
    expect(panels).toEqual(expect.arrayContaining(['tango-connections', 'tango-events']));
  });

  it('issue 12 item 7: a connection card shows endpoint, state, connections, error; samples add pending and round trips', () => {
    expect(leafState('idle')).toBe('idle');
    expect(leafState({ live: 'connected' })).toBe('connected');
    expect(leafState({ active: { heartbeat: 'watching' } })).toBe('active');
    const ctx = { host: '127.0.0.1', port: 10000, connections: 2, lastError: new Error('ECONNRESET') };
    const card = connectionFromContext({}, ctx, redact, { live: 'connected' });
    expect(card).toEqual({
      endpoint: '127.0.0.1:10000',
      connections: 2,
      error: 'Error: ECONNRESET',
      state: 'connected',
    });
    expect(
      connectionFromContext({}, { ...ctx, host: '::1', lastError: null }, redact, 'backoff'),
    ).toMatchObject({
      endpoint: '[::1]:10000',
      error: null,
      state: 'backoff',
    });
    const sampled = giopConnectionInspectorView.onEvent?.(
      TANGO_CONNECTION_SAMPLE,
      { type: TANGO_CONNECTION_SAMPLE, pending: 3, roundTrips: 41 },
      { context: ctx, summary: card, redact },
    );
    expect(sampled).toMatchObject({ state: 'connected', pending: 3, roundTrips: 41 });
    expect(
      giopConnectionInspectorView.onEvent?.(
        'CONNECT',
        { type: 'CONNECT' },
        { context: ctx, summary: card, redact },
      ),
    ).toBeUndefined();
    // closed: nothing is pending any more
    expect(connectionFromContext({ pending: 5 }, ctx, redact, 'closed').pending).toBe(0);
  });

  it('issue 12 item 7: a subscription card shows name, counts (missed events too) and the top of the error stack; events stamp times', () => {
    const ctx = {
      device: 'test/lrc/1',
      attribute: 'counter',
      eventName: 'change',
      delivered: 7,
      duplicates: 1,
      missed: 3,
      subscriptions: 2,
      lastErrors: [
        { reason: 'API_Original', desc: 'first', origin: 'x', severity: 'ERR' },
        { reason: 'API_EventTimeout', desc: 'no heartbeat', origin: 'y', severity: 'ERR' },
      ],
    };
    const card = subscriptionFromContext({}, ctx, redact, { active: { heartbeat: 'watching' } });
    expect(card).toEqual({
      name: 'test/lrc/1/counter',
      eventName: 'change',
      events: 7,
      duplicates: 1,
      missed: 3,
      subscriptions: 2,
      error: 'API_EventTimeout: no heartbeat',
      state: 'active',
    });
    const view = eventSubscriptionInspectorView;
    const after = view.onEvent?.('ZMQ_EVENT', {}, { context: ctx, summary: card, redact });
    expect(Number.isNaN(Date.parse(after?.lastEvent ?? ''))).toBe(false);
    const beat = view.onEvent?.('HEARTBEAT', {}, { context: ctx, summary: after, redact });
    expect(Number.isNaN(Date.parse(beat?.lastHeartbeat ?? ''))).toBe(false);
    expect(view.onEvent?.('READ_DONE', {}, { context: ctx, summary: card, redact })).toBeUndefined();
  });

  it('issue 12 item 7: hostile contexts give a summary, never a throw', () => {
    for (const c of [
      undefined,
      null,
      5,
      'x',
      { host: 3, port: 'p' },
      { lastErrors: 'no' },
      { lastError: {} },
    ]) {
      expect(() => connectionFromContext({}, c, redact, { weird: { deeper: 1 } })).not.toThrow();
      expect(() => subscriptionFromContext({}, c, redact, 42)).not.toThrow();
    }
  });
});

describe('issue 12 item 7: the views fed by real actors', () => {
  let tangoTest: TangoTestServer;
  let lrc: LrcDeviceServer;
  beforeAll(async () => {
    [tangoTest, lrc] = await Promise.all([startTangoTest(), LrcDeviceServer.start()]);
  }, 60_000);
  afterAll(async () => {
    await tangoTest?.stop();
    await lrc?.stop();
  });

  it('issue 12 item 7: a DeviceProxy connection actor gets samples with pending and round trips', async () => {
    const system = createSystem();
    const samples: { pending: number; roundTrips: number }[] = [];
    let connectionActor: string | undefined;
    const sub = system.inspect((e) => {
      if (e.type !== '@xstate.event') return;
      const ev = e.event as { type: string; pending?: number; roundTrips?: number };
      if (ev.type === TANGO_CONNECTION_SAMPLE) {
        samples.push({ pending: ev.pending as number, roundTrips: ev.roundTrips as number });
        connectionActor = (e.actorRef as AnyActorRef).id;
      }
    });
    const proxy = new DeviceProxy(tangoTest.name, { system });
    try {
      await proxy.ping();
      await Promise.all(Array.from({ length: 20 }, () => proxy.state()));
      expect(samples.length).toBeGreaterThanOrEqual(1);
      expect(samples[0].roundTrips).toBeGreaterThanOrEqual(1);
      expect(samples[0].pending).toBeGreaterThanOrEqual(0);
      expect(connectionActor).toMatch(/^tango:127\.0\.0\.1:\d+:\d+$/);
      const actor = system.actors().find((a) => a.id === connectionActor);
      const snapshot = actor?.ref.getSnapshot() as { context: unknown; value: unknown } | undefined;
      const card = connectionFromContext({}, snapshot?.context, redact, snapshot?.value);
      expect(card).toMatchObject({
        endpoint: `127.0.0.1:${tangoTest.port}`,
        state: 'connected',
        connections: 1,
      });
    } finally {
      sub.unsubscribe();
      await proxy.close();
      await system.stop();
    }
  }, 30_000);

  it('issue 12 item 7: an event subscription card counts the events delivered and shows its state', async () => {
    const system = createSystem();
    const proxy = new DeviceProxy(lrc.name, { system });
    const consumer = new TangoEventConsumer({ system });
    try {
      let got = 0;
      let wake = () => {};
      const s = await consumer.subscribe(proxy, 'counter', () => {
        got++;
        wake();
      });
      await proxy.commandInout('PushCounter', 2);
      while (got < 3) await new Promise<void>((r) => (wake = r));
      const snapshot = s.actor.getSnapshot();
      const card = subscriptionFromContext({}, snapshot.context, redact, snapshot.value);
      expect(card).toMatchObject({
        name: 'test/lrc/1/counter',
        eventName: 'change',
        state: 'active',
      });
      // the context counts what came from the event stream (the first read aside)
      expect(card.events).toBeGreaterThanOrEqual(2);
      s.unsubscribe();
    } finally {
      await consumer.close();
      await proxy.close();
      await system.stop();
    }
  }, 60_000);
});
