/**
 * The Channel Access inspector view (issue 11 item 7): pure summaries of every channel and circuit state, the value
 * shortening and rate arithmetic, and the summaries the inspector's tracker builds from REAL actors (a CaServer and
 * a Context on loopback, a monitor fed by a CaInspectorFeed), with values passing the redactor.
 */
import { describe, expect, it } from 'vitest';
import { ChartRegistry } from '../../src/inspector/charts.js';
import { createRedactor } from '../../src/inspector/redact.js';
import { type ActorView, Tracker } from '../../src/inspector/tracker.js';
import { inspectorViewFor, inspectorViews } from '../../src/inspector/views.js';
import { AccessRights, ChannelType } from '../../src/protocols/ca/constants.js';
import {
  accessText,
  CA_MONITOR_SAMPLE,
  type CaChannelSummary,
  type CaCircuitSummary,
  caChannelFromContext,
  caCircuitFromContext,
  rateOf,
  searchBackoff,
  shortValue,
  VALUE_CHARS,
} from '../../src/protocols/ca/view.js';
import { CaInspectorFeed } from '../../src/protocols/ca/viewFeed.js';
import { useCaPeers } from './support/caContext.js';

const redact = createRedactor();
const peers = useCaPeers();

const channelContext = (over: Record<string, unknown> = {}) => ({
  name: 'demo:x',
  priority: 0,
  address: { host: '127.0.0.1', port: 5064 },
  minorVersion: 13,
  sid: 1,
  nativeType: ChannelType.DOUBLE,
  nativeCount: 1,
  accessRights: AccessRights.READ_WRITE,
  createFailures: 0,
  connections: 1,
  ...over,
});

describe('issue 11 item 7: CA inspector view', () => {
  it('issue 11 item 7: registers channel, circuit and monitor views; channels and circuits have panels', () => {
    expect(inspectorViewFor('caChannel')?.panel?.id).toBe('ca-channels');
    expect(inspectorViewFor('caCircuit')?.panel?.id).toBe('ca-circuits');
    expect(inspectorViewFor('caSubscription')).toBeDefined();
    const machines = inspectorViews().map((v) => v.machine);
    expect(machines).toEqual(expect.arrayContaining(['caChannel', 'caCircuit', 'caSubscription']));
  });

  it('issue 11 item 7: values are short (arrays truncated with their length, long strings cut)', () => {
    expect(shortValue(new Float64Array([3.25]))).toBe('3.25');
    expect(shortValue(new Float64Array([0.1 + 0.2]))).toBe('0.3');
    expect(shortValue(['text'])).toBe('"text"');
    expect(shortValue(new Int32Array(1000).map((_, i) => i))).toBe('[0, 1, 2, 3, 4, 5, 6, 7, … 1000 items]');
    const long = shortValue(['x'.repeat(200)]);
    expect(long.length).toBe(VALUE_CHARS);
    expect(long.endsWith('…')).toBe(true);
    expect(shortValue(new Float64Array(800_000 / 8)).length).toBeLessThanOrEqual(VALUE_CHARS);
  });

  it('issue 11 item 7: access rights, search back-off and retirement, rate over the window', () => {
    expect([0, 1, 2, 3].map(accessText)).toEqual(['no access', 'read-only', 'write-only', 'read/write']);
    expect(searchBackoff(0)).toEqual({ intervalMs: 30, retired: false });
    expect(searchBackoff(30)).toEqual({ intervalMs: 60, retired: false });
    expect(searchBackoff(100)).toEqual({ intervalMs: 120, retired: false });
    expect(searchBackoff(60_000)).toEqual({ intervalMs: 5000, retired: false });
    expect(searchBackoff(480_000)).toEqual({ intervalMs: 60_000, retired: true });
    expect(rateOf([[0, 0]])).toBeUndefined();
    expect(
      rateOf([
        [0, 0],
        [1000, 50],
        [2000, 100],
      ]),
    ).toBe(50);
    expect(
      rateOf([
        [0, 10],
        [5000, 10],
      ]),
    ).toBe(0);
  });

  it('issue 11 item 7: every channel state has a phase and a meaning', () => {
    const at = (value: string, over: Record<string, unknown> = {}, previous: CaChannelSummary = {}) =>
      caChannelFromContext(previous, channelContext(over), redact, value, undefined, 1_000_000);
    const connected = at('connected');
    expect(connected).toMatchObject({
      name: 'demo:x',
      phase: 'connected',
      meaning: 'connected, read/write',
      native: 'DBR_DOUBLE x1',
      access: 'read/write',
      server: '127.0.0.1:5064',
    });
    expect(at('connected', { accessRights: AccessRights.READ }).meaning).toBe('connected, read-only');
    const searching = at('searching', { nativeType: null, nativeCount: null, accessRights: 0 });
    expect(searching.phase).toBe('searching');
    expect(searching.meaning).toMatch(/^searching for 0 ms: UDP search back-off 30 ms/);
    expect(searching.native).toBeUndefined();
    expect(searching.searchingSince).toBe(1_000_000);
    // the search age runs from the first summary in `searching`; past 480 s it is retired
    const later = caChannelFromContext(
      searching,
      channelContext(),
      redact,
      'searching',
      undefined,
      1_490_000,
    );
    expect(later.phase).toBe('retired');
    expect(later.meaning).toMatch(/retired after 480 s: one resend per 60 s/);
    expect(at('connecting').meaning).toMatch(/found at 127.0.0.1:5064/);
    expect(at('backingOff', { createFailures: 3 }).meaning).toBe('CREATE_CH_FAIL x3: searching again in 4 s');
    expect(at('idle').phase).toBe('idle');
    expect(at('disconnected').meaning).toMatch(/searching again/);
    expect(at('closed').meaning).toBe('closed');
  });

  it('issue 11 item 7: monitor samples give the value (redacted), severity and updates/s', () => {
    let s = caChannelFromContext({}, channelContext(), redact, 'connected', undefined, 0);
    const sample = (t: number, updates: number, value: string) => ({
      type: CA_MONITOR_SAMPLE as typeof CA_MONITOR_SAMPLE,
      t,
      updates,
      monitors: 1,
      value,
      dataType: 'DBR_TIME_DOUBLE',
      count: 1,
      severity: 1,
    });
    s = caChannelFromContext(s, channelContext(), redact, undefined, sample(0, 0, '1'));
    expect(s.rate).toBeUndefined();
    s = caChannelFromContext(s, channelContext(), redact, undefined, sample(1000, 10, '2'));
    s = caChannelFromContext(s, channelContext(), redact, undefined, sample(2000, 30, '3'));
    expect(s).toMatchObject({
      value: '3',
      rate: '15.0/s',
      updates: 30,
      severity: 'MINOR',
      phase: 'connected',
    });
    // the window keeps the last RATE_WINDOW_MS: an old burst no longer counts
    s = caChannelFromContext(s, channelContext(), redact, undefined, sample(8000, 30, '3'));
    s = caChannelFromContext(s, channelContext(), redact, undefined, sample(13_000, 30, '3'));
    expect(s.rate).toBe('0.0/s');
    expect(s.rateWindow?.length).toBeLessThanOrEqual(3);
    // a value that looks like a secret goes through the redactor
    const secret = createRedactor([], {});
    const r = caChannelFromContext(
      s,
      channelContext(),
      (v) => (v === 'hunter2' ? '[REDACTED]' : secret(v)),
      undefined,
      sample(14_000, 31, 'hunter2'),
    );
    expect(r.value).toBe('[REDACTED]');
  });

  it('issue 11 item 7: every circuit state has a phase and a meaning; a closed one shows why', () => {
    const context = {
      address: '127.0.0.1:5064',
      connectionTimeoutMs: 30_000,
      echoTimeoutMs: 5000,
      reason: null,
      error: null,
      echoesSent: 0,
    };
    const at = (value: unknown, over: Record<string, unknown> = {}, prev: CaCircuitSummary = {}) =>
      caCircuitFromContext(prev, { ...context, ...over }, redact, value);
    expect(at({ live: 'connecting' }).phase).toBe('connecting');
    expect(at({ live: 'connected' })).toMatchObject({
      address: '127.0.0.1:5064',
      phase: 'connected',
      meaning: 'connected; echo after 30 s of silence',
    });
    expect(at({ live: 'probing' }).meaning).toBe('silent: ECHO sent, 5 s to answer');
    expect(at({ live: 'unresponsive' }).phase).toBe('unresponsive');
    const closed = at('closed', { reason: 'peer-closed', error: new Error('reset by peer') });
    expect(closed).toMatchObject({ phase: 'closed', reason: 'peer-closed', error: 'Error: reset by peer' });
    expect(closed.meaning).toBe('closed (peer-closed)');
  });

  it('issue 11 item 7: the tracker shows real channels and circuits with their state, value and rate', async () => {
    const server = await peers.server({
      pvs: [
        { name: 'V:walk', type: 'double', value: 0.5 },
        { name: 'V:ro', type: 'long', value: [1, 2, 3], access: 'read-only' },
      ],
    });
    const ctx = peers.context(server);
    const tracker = new Tracker(ctx.system, {
      redact: createRedactor(),
      charts: new ChartRegistry(),
      bufferSize: 10_000,
      maxEventsPerSecond: 1_000_000,
    });
    tracker.start();
    const feed = new CaInspectorFeed(ctx, { periodMs: 60_000 }); // sampled by hand below
    try {
      const walk = ctx.getPv('V:walk');
      const ro = ctx.getPv('V:ro', { priority: 5 });
      const sub = walk.subscribe({ dataType: 'time' });
      let updates = 0;
      let waiting: { n: number; resolve: () => void } | undefined;
      sub.addCallback(() => {
        updates++;
        if (waiting && updates >= waiting.n) waiting.resolve();
      });
      const until = (n: number) =>
        updates >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { n, resolve }));
      feed.watch(sub);
      await until(1);
      await ro.waitForConnection();
      feed.sample();
      for (let i = 1; i <= 20; i++) server.pv('V:walk')?.write(i + 0.25);
      await until(21);
      // two samples at different clock times: wait until the clock moved
      const t0 = ctx.system.clock.now();
      await new Promise<void>((resolve) => {
        const tick = () => (ctx.system.clock.now() > t0 ? resolve() : setImmediate(tick));
        tick();
      });
      feed.sample();

      const actors = new Map<string, ActorView>();
      for (const a of tracker.snapshot().actors) actors.set(a.key, a);
      for (const a of tracker.flush().actors) actors.set(a.key, a);
      const of = (machine: string) => [...actors.values()].filter((a) => a.machine === machine);
      const channels = of('caChannel');
      const walkCard = channels.find((a) => (a.summary as CaChannelSummary).name === 'V:walk');
      const roCard = channels.find((a) => (a.summary as CaChannelSummary).name === 'V:ro');
      expect(walkCard?.panel).toBe('ca-channels');
      expect(walkCard?.summary).toMatchObject({
        phase: 'connected',
        meaning: 'connected, read/write',
        native: 'DBR_DOUBLE x1',
        server: `127.0.0.1:${server.port}`,
        value: '20.25',
        updates: 21,
        monitors: 1,
      });
      const walkRate = (walkCard?.summary as CaChannelSummary | undefined)?.rate;
      expect(walkRate).toMatch(/^\d+\.\d\/s$/);
      expect(Number.parseFloat(String(walkRate))).toBeGreaterThan(0);
      expect(roCard?.summary).toMatchObject({
        phase: 'connected',
        priority: 5,
        access: 'read-only',
        native: 'DBR_LONG x3',
      });
      const circuits = of('caCircuit').map((a) => a.summary as CaCircuitSummary);
      expect(circuits).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            address: `127.0.0.1:${server.port}`,
            phase: 'connected',
            priority: 0,
            channels: 1,
            subscriptions: 1,
          }),
          expect.objectContaining({
            address: `127.0.0.1:${server.port}`,
            phase: 'connected',
            priority: 5,
            channels: 1,
            subscriptions: 0,
          }),
        ]),
      );
      const monitors = of('caSubscription').map((a) => a.summary);
      expect(monitors).toContainEqual(expect.objectContaining({ phase: 'active', activations: 1 }));

      // the server goes away: the channels say they search again, the circuits that they closed
      await server.close();
      peers.forget(server);
      await new Promise<void>((resolve) => {
        const off = walk.onConnectionState((_pv, state) => {
          if (state === 'disconnected') {
            off();
            resolve();
          }
        });
        if (!walk.connected) resolve();
      });
      for (const a of tracker.flush().actors) actors.set(a.key, a);
      const after = [...actors.values()].find(
        (a) => (a.summary as CaChannelSummary | undefined)?.name === 'V:walk',
      );
      const afterSummary = after?.summary as CaChannelSummary | undefined;
      expect(afterSummary?.phase).toMatch(/^(searching|connecting)$/);
      expect(afterSummary).toBeDefined();
      expect(afterSummary?.native).toBeUndefined();
    } finally {
      feed.close();
      tracker.dispose();
    }
  });

  it('issue 11 item 7: one chart per CA machine however many actors; a searching card shows the real back-off; circuits show their priority from the machine', async () => {
    const server = await peers.server({ pvs: [{ name: 'V:a', type: 'double', value: 1 }] });
    const ctx = peers.context(server);
    const tracker = new Tracker(ctx.system, {
      redact: createRedactor(),
      charts: new ChartRegistry(),
      bufferSize: 10_000,
      maxEventsPerSecond: 1_000_000,
    });
    tracker.start();
    const feed = new CaInspectorFeed(ctx, { periodMs: 60_000 }); // sampled by hand below
    try {
      const pvs = Array.from({ length: 30 }, (_, i) => ctx.getPv('V:a', { priority: i }));
      for (const pv of pvs) pv.subscribe().addCallback(() => {});
      const missing = ctx.getPv('V:missing');
      await Promise.all(pvs.map((pv) => pv.waitForConnection()));
      expect(pvs[3]?.subscriptions).toHaveLength(1);
      expect(pvs[3]?.subscriptions[0]).toBe(pvs[3]?.subscribe());
      expect(missing.channelState).toBe('searching');
      feed.sample();
      const actors = new Map<string, ActorView>();
      for (const a of tracker.snapshot().actors) actors.set(a.key, a);
      for (const a of tracker.flush().actors) actors.set(a.key, a);
      const of = (machine: string) => [...actors.values()].filter((a) => a.machine === machine);
      for (const machine of ['caChannel', 'caSubscription', 'caCircuit']) {
        expect(new Set(of(machine).map((a) => a.chart))).toEqual(new Set([machine]));
      }
      expect(of('caChannel')).toHaveLength(31);
      expect(of('caSubscription')).toHaveLength(30);
      const priorities = of('caCircuit').map((a) => (a.summary as CaCircuitSummary).priority);
      expect(new Set(priorities)).toEqual(new Set(pvs.map((_, i) => i)));
      const card = of('caChannel').find((a) => (a.summary as CaChannelSummary).name === 'V:missing');
      const stats = ctx.searchStats;
      expect(stats.unanswered).toBe(1);
      expect((card?.summary as CaChannelSummary | undefined)?.search).toEqual({
        intervalMs: stats.intervalMs,
        unanswered: 1,
        retired: stats.retired,
      });
      expect((card?.summary as CaChannelSummary | undefined)?.meaning).toContain(
        `back-off ${stats.intervalMs >= 1000 ? `${+(stats.intervalMs / 1000).toFixed(1)} s` : `${stats.intervalMs} ms`}`,
      );
    } finally {
      feed.close();
      tracker.dispose();
    }
  });

  it('issue 11 item 7: the feed stops with its context and holds nothing after close', async () => {
    const server = await peers.server({ pvs: [{ name: 'V:y', type: 'double', value: 1 }] });
    const ctx = peers.context(server);
    const feed = new CaInspectorFeed(ctx, { periodMs: 10 });
    const sub = ctx.getPv('V:y').subscribe();
    sub.addCallback(() => {});
    const unwatch = feed.watch(sub);
    expect(feed.watching).toBe(1);
    unwatch();
    expect(feed.watching).toBe(0);
    feed.watch(sub);
    await ctx.disconnect();
    feed.sample();
    expect(feed.closed).toBe(true);
    expect(feed.watching).toBe(0);
    expect(() => new CaInspectorFeed(ctx, { periodMs: 0 })).toThrow(RangeError);
  });
});
