/**
 * The InspectingClient facade over real TCP on loopback against the DeviceServer (through a line proxy where the
 * wire must be held back, broken or watched), under a TestClock: katcp-python's test-pinned state sequences
 * (checklist 9.5 items 1, 2), incremental re-inspection on #interface-changed, lookups, sampling, requests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CancelledError, InvalidArgumentError, InvalidStateError, TimeoutError } from '../../src/errors.js';
import { FailReply, RequestTimeoutError } from '../../src/protocols/katcp/errors.js';
import {
  InspectingClient,
  type InspectingClientOptions,
  type ModelChangeSets,
  STATES,
} from '../../src/protocols/katcp/inspectingClient.js';
import { Sensor } from '../../src/protocols/katcp/sensor.js';
import { SensorWatcher } from '../../src/protocols/katcp/sensorWatcher.js';
import { useTestSystem } from '../support/testSystem.js';
import { flush, KatcpProxy, pump, TestDevice } from './support/devices.js';

const ts = useTestSystem();
const open: { stop(): Promise<void> }[] = [];
const servers: { close(): Promise<void> }[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) await c.stop();
  for (const s of servers.splice(0).reverse()) await s.close();
});

type Call = [string, ModelChangeSets | null];

async function setup(
  options: InspectingClientOptions & { hold?: boolean; proxy?: boolean; flags?: string } = {},
) {
  const system = ts.start();
  const clock = ts.clock;
  const { hold = false, proxy: useProxy = true, flags, ...rest } = options;
  const device = await TestDevice.start({ clock, flags });
  servers.push(device);
  let proxy: KatcpProxy | null = null;
  if (useProxy) {
    proxy = await KatcpProxy.start(device.port);
    proxy.holdGreeting = hold;
    servers.push(proxy);
  }
  const calls: Call[] = [];
  const client = new InspectingClient('127.0.0.1', proxy ? proxy.port : device.port, {
    system,
    random: () => 0.5,
    stateCallback: (s, c) => {
      calls.push([String(s), c]);
    },
    ...rest,
  });
  open.push(client);
  return { system, clock, device, proxy: proxy as KatcpProxy, client, calls };
}

const S0 = String(STATES.disconnected);
const S1 = String(STATES.inspecting);
const S2 = String(STATES.modelChanged);
const S3 = String(STATES.dataSynced);
const S4 = String(STATES.synced);

describe('issue 9 item 3: InspectingClient state sequences (katcp-python test-pinned, checklist 9.5 item 1)', () => {
  it('from connect with #version-connect held back: S0, S1, then S2 with every sensor and request added, then S4, and no more', async () => {
    const { client, proxy, device, calls } = await setup({ hold: true });
    await client.connect();
    await pump(() => proxy.connectionCount === 1 && calls.length >= 2, { what: 'S1' });
    await flush();
    expect(calls).toEqual([
      [S0, null],
      [S1, null],
    ]);
    expect(client.state.equals(STATES.inspecting)).toBe(true);
    proxy.release();
    await client.untilSynced();
    await pump(() => calls.length >= 4, { what: 'S4 callback' });
    await flush();
    expect(calls.map((c) => c[0])).toEqual([S0, S1, S2, S4]);
    expect(calls[2][1]).toEqual({
      requests: { added: new Set(device.server.requests), removed: new Set() },
      sensors: { added: new Set(device.sensorNames), removed: new Set() },
    });
    expect(calls[3][1]).toBeNull();
    expect(client.requests).toEqual([...device.server.requests].sort());
    expect(client.sensors).toEqual(device.sensorNames);
    expect(String(client.state)).toBe('[connected synced !model_changed data_synced]');
    // the wire: ?help then ?sensor-list (no ?request-timeout-hint: the server has no T flag)
    expect(proxy.requestNames()).toEqual(['help', 'sensor-list']);
  });

  it('server stop gives exactly one S0 callback; after a restart S1, S3 (nothing changed), S4', async () => {
    const { client, device, calls, clock } = await setup({ proxy: false });
    await client.connect();
    await client.untilSynced();
    await pump(() => calls.length === 4);
    await device.stop();
    await client.untilNotSynced();
    await pump(() => calls.length >= 5);
    await flush();
    expect(calls.map((c) => c[0])).toEqual([S0, S1, S2, S4, S0]);
    expect(client.connected).toBe(false);
    // the same device comes back on the same port: reconnect (jittered backoff on the clock), nothing changed: S3
    await device.reopen();
    await pump(() => client.synced && calls.length >= 8, { clock, step: 50, what: 'resynced' });
    expect(calls.slice(5).map((c) => c[0])).toEqual([S1, S3, S4]);
    expect(calls[6][1]).toBeNull();
  });

  it('client stop gives exactly one S0 callback, and leaves nothing running', async () => {
    const { client, calls, system } = await setup({ proxy: false });
    await client.connect();
    await client.untilSynced();
    await pump(() => calls.length === 4);
    await client.stop();
    expect(calls.map((c) => c[0])).toEqual([S0, S1, S2, S4, S0]);
    expect(client.stopped).toBe(true);
    expect(client.connection?.state).toBe('closed');
    await client.untilStopped();
    await expect(client.untilSynced()).rejects.toThrow(/stopped/);
    // the supervisor this client made is gone with both actors
    expect(system.supervisorActor('katcp:127.0.0.1:' + client.port)).toBeUndefined();
    await client.stop(); // idempotent
  });

  it('the supervisor holds both actors; a second client of the same address gets its own supervisor', async () => {
    const { client, system, device } = await setup({ proxy: false });
    await client.connect();
    await client.untilSynced();
    const sup = `katcp:127.0.0.1:${device.port}`;
    expect(system.supervisorActor(sup)).toBeDefined();
    const names = system
      .actors()
      .filter((a) => a.supervisor === sup)
      .map((a) => a.id);
    expect(names.sort()).toEqual([`${sup}:connection`, `${sup}:inspector`]);
    const second = new InspectingClient('127.0.0.1', device.port, { system });
    open.push(second);
    await second.connect();
    await second.untilSynced();
    expect(system.supervisorActor(`${sup}:2`)).toBeDefined();
  });
});

describe('issue 9 item 3: broken inspection backs off and recovers (checklist 9.5 item 2)', () => {
  for (const broken of ['help', 'sensor-list'] as const) {
    it(`a failing ?${broken} repeats unsynced states with growing delays; after repair S2 with full changes then S4`, async () => {
      const { client, proxy, device, calls, clock } = await setup({
        initialResyncDelay: 100,
        maxResyncDelay: 2000,
      });
      proxy.failing.set(broken, 'broken on purpose');
      await client.connect();
      const delays: number[] = [];
      for (let i = 0; i < 3; i++) {
        const failures = proxy.requestNames().filter((n) => n === broken).length;
        await pump(
          () => proxy.requestNames().filter((n) => n === broken).length > failures && isWaiting(client),
          {
            clock,
            step: 5,
            what: `failure ${i + 1}`,
          },
        );
        delays.push(client.actor!.getSnapshot().context.resyncDelay);
        expect(client.lastError?.message).toMatch(
          /Error reply during sync process for 127\.0\.0\.1:\d+: .*broken/,
        );
      }
      // katcp-python's formula with random 0.5, r = 0.95: ((1 - r) + r * 0.5) * base, base 100, 300, 900
      expect(delays).toEqual([52.5, 157.5, 472.5].map((d) => expect.closeTo(d, 6)));
      expect(calls.every(([s]) => s === S0 || s === S1)).toBe(true);
      expect(calls.filter(([s]) => s === S1).length).toBeGreaterThanOrEqual(3);
      proxy.failing.clear();
      await pump(() => client.synced, { clock, step: 5, what: 'synced after repair' });
      await pump(() => calls.at(-1)?.[0] === S4);
      const tail = calls.slice(-2);
      expect(tail.map((c) => c[0])).toEqual([S2, S4]);
      expect(tail[0][1]?.sensors?.added).toEqual(new Set(device.sensorNames));
      expect(tail[0][1]?.requests?.added).toEqual(new Set(device.server.requests));
      // the backoff is reset after a successful sync (the fix of katcp-python's dead success())
      expect(client.actor!.getSnapshot().context.backoff.delay).toBeCloseTo(52.5, 6);
    });
  }
});

function isWaiting(client: InspectingClient): boolean {
  return client.actor!.getSnapshot().matches({ connected: 'resyncWait' });
}

describe('issue 9 item 3: #interface-changed re-inspects incrementally', () => {
  it('a sensor added then removed: only ?sensor-list <name> on the wire, S2 with that change', async () => {
    const { client, proxy, device, calls } = await setup();
    await client.connect();
    await client.untilSynced();
    await pump(() => calls.length === 4);
    const mark = proxy.requests.length;
    device.addSensor(
      new Sensor({ name: 'pressure', type: 'float', description: 'air pressure', units: 'hPa' }),
    );
    await pump(() => client.sensors.includes('pressure') && client.synced && calls.length === 7);
    expect(proxy.requests.slice(mark).map((l) => l.replace(/\[\d+\]/, ''))).toEqual([
      '?sensor-list pressure',
    ]);
    expect(calls.slice(4).map((c) => c[0])).toEqual([S1, S2, S4]);
    expect(calls[5][1]).toEqual({ sensors: { added: new Set(['pressure']), removed: new Set() } });
    expect(client.sensorInfo('pressure')).toEqual({
      name: 'pressure',
      description: 'air pressure',
      units: 'hPa',
      type: 'float',
      params: [],
    });

    const mark2 = proxy.requests.length;
    device.removeSensor('pressure');
    await pump(() => !client.sensors.includes('pressure') && client.synced && calls.length === 10);
    expect(proxy.requests.slice(mark2).map((l) => l.replace(/\[\d+\]/, ''))).toEqual([
      '?sensor-list pressure',
    ]);
    expect(calls[8][1]).toEqual({ sensors: { added: new Set(), removed: new Set(['pressure']) } });
  });

  it('a request added then removed: only ?help <name> on the wire', async () => {
    const { client, proxy, device, calls } = await setup();
    await client.connect();
    await client.untilSynced();
    await pump(() => calls.length === 4);
    const mark = proxy.requests.length;
    device.addRequest('reset', 'start again');
    await pump(() => client.requests.includes('reset') && client.synced && calls.length === 7);
    expect(proxy.requests.slice(mark).map((l) => l.replace(/\[\d+\]/, ''))).toEqual(['?help reset']);
    expect(calls[5][1]).toEqual({ requests: { added: new Set(['reset']), removed: new Set() } });
    expect(await client.futureGetRequest('reset')).toEqual({
      name: 'reset',
      description: 'start again',
      timeoutHint: null,
    });
    device.removeRequest('reset');
    await pump(() => !client.requests.includes('reset') && client.synced && calls.length === 10);
    expect(calls[8][1]).toEqual({ requests: { added: new Set(), removed: new Set(['reset']) } });
    expect(await client.futureGetRequest('reset', { update: false })).toBeNull();
  });

  it('a modified sensor is in both added and removed, and its cached Sensor object is rebuilt', async () => {
    const { client, device, calls } = await setup();
    await client.connect();
    await client.untilSynced();
    const before = await client.futureGetSensor('count');
    device.addSensor(new Sensor({ name: 'count', type: 'integer', description: 'a better counter' }));
    await pump(() => client.sensorInfo('count')?.description === 'a better counter' && client.synced);
    await pump(() => calls.at(-1)?.[0] === S4);
    expect(calls.at(-2)?.[1]).toEqual({
      sensors: { added: new Set(['count']), removed: new Set(['count']) },
    });
    const after = await client.futureGetSensor('count');
    expect(after).not.toBe(before);
    expect(after?.description).toBe('a better counter');
  });

  it('request timeout hints are inspected when the server has the T flag', async () => {
    const { client, proxy } = await setup({ flags: 'MIBT' });
    await client.connect();
    await client.untilSynced();
    expect(proxy.requestNames()).toEqual(['help', 'request-timeout-hint', 'sensor-list']);
    expect(client.requestInfo('echo')).toEqual({
      name: 'echo',
      description: 'Return the arguments',
      timeoutHint: null,
    });
  });

  it('client.inspect() re-lists everything and resolves with the changes (null when none)', async () => {
    const { client, proxy } = await setup();
    await client.connect();
    await client.untilSynced();
    const mark = proxy.requests.length;
    expect(await client.inspect()).toBeNull();
    expect(proxy.requestNames().slice(mark)).toEqual(['help', 'sensor-list']);
  });
});

describe('issue 9 item 3: lookups, requests, sensors', () => {
  it('futureGetSensor builds the Sensor lazily once, caches it, and #sensor-status updates it', async () => {
    const { client, device, proxy } = await setup();
    await client.connect();
    const sensor = await client.futureGetSensor('temperature');
    expect(sensor).toBeInstanceOf(Sensor);
    expect(await client.futureGetSensor('temperature')).toBe(sensor);
    expect(sensor?.units).toBe('degC');
    expect(await client.setSamplingStrategy('temperature', 'auto')).toEqual([true, 'auto']);
    device.sensor('temperature')!.set(21.5, 'warn', 1_700_000_123);
    await pump(() => sensor?.value === 21.5);
    expect(sensor?.status).toBe('warn');
    expect(sensor?.timestamp).toBe(1_700_000_123);
    // the inspector's copy: folded into the machine's context in batches, at most once a second (clock time)
    expect(client.actor!.getSnapshot().context.readings.temperature).toBeUndefined();
    ts.clock.advance(1000);
    expect(client.actor!.getSnapshot().context.readings.temperature).toEqual({
      status: 'warn',
      value: 21.5,
      timestamp: 1_700_000_123,
    });
    // an unknown name is looked up by name, once, and answers null
    const mark = proxy.requests.length;
    expect(await client.futureGetSensor('nosuch')).toBeNull();
    expect(proxy.requests.slice(mark).map((l) => l.replace(/\[\d+\]/, ''))).toEqual(['?sensor-list nosuch']);
    expect(await client.futureCheckSensor('nosuch', { update: false })).toBe(false);
    expect(proxy.requests.length).toBe(mark + 1);
    expect(await client.futureCheckRequest('echo')).toBe(true);
  });

  it('a device sensor whose name the Sensor class refuses for a server is still got and mirrored', async () => {
    const { client, device } = await setup();
    const watcher = new SensorWatcher();
    client.addSensorWatcher(watcher);
    await client.connect();
    await client.untilSynced();
    const name = 'rx:0/a b';
    device.addSensor(new Sensor({ name, type: 'integer', anyName: true, now: () => 1_700_000_000 }));
    expect(await client.futureCheckSensor(name)).toBe(true);
    // futureCheckSensor said true and futureGetSensor null (the default factory threw), the watcher had nothing
    const sensor = await client.futureGetSensor(name);
    expect(sensor?.name).toBe(name);
    await pump(() => watcher.sensors.has(name), { what: 'the watcher mirrors it' });
    device.sensor(name)!.set(5, 'nominal', 1_700_000_100);
    await pump(() => sensor?.value === 5 && watcher.sensors.get(name)?.value === 5, { what: 'readings' });
  });

  it("a user's listener on a Sensor that throws: the other listeners and the inspector still get every reading", async () => {
    const { client, device } = await setup();
    await client.connect();
    const sensor = (await client.futureGetSensor('temperature')) as Sensor;
    const heard: unknown[] = [];
    sensor.attach(() => {
      throw new Error('a bug in user code');
    });
    sensor.attach((_, r) => heard.push(r.value));
    expect(await client.setSamplingStrategy('temperature', 'auto')).toEqual([true, 'auto']);
    device.sensor('temperature')!.set(22.5, 'nominal', 1_700_000_200);
    // the second listener heard nothing, and the reading was logged as a bad one, not given to the inspector
    await pump(() => heard.includes(22.5), { what: 'the second listener heard 22.5' });
    ts.clock.advance(1000);
    expect(client.actor!.getSnapshot().context.readings.temperature?.value).toBe(22.5);
  });

  it('a lookup in flight when #interface-changed starts a re-inspection is not lost: it answers with the model once re-synced', async () => {
    // the first inspection skipped: the model is empty, so futureGetSensor asks the server by name
    const { client, device, proxy, calls } = await setup({ initialInspection: false });
    await client.connect();
    await client.untilSynced();
    await pump(() => calls.length === 3);
    expect(client.sensors).toEqual([]);
    proxy.holding.add('sensor-list');
    proxy.holding.add('help');
    const mark = proxy.requests.length;
    let answer: Sensor | null | undefined;
    const lookup = client.futureGetSensor('temperature').then((s) => {
      answer = s;
      return s;
    });
    await pump(() => proxy.requests.length === mark + 1);
    // a request appears: the machine re-inspects it (S1) while the lookup waits for its reply
    device.addRequest('reset');
    await pump(() => proxy.requests.length === mark + 2 && client.connected && !client.state.dataSynced);
    expect(proxy.requests.slice(mark).map((l) => l.replace(/\[\d+\]/, ''))).toEqual([
      '?sensor-list temperature',
      '?help reset',
    ]);
    // the lookup answers during the re-inspection: its MODEL.UPDATE used to be dropped there (answer: null)
    proxy.releaseRequests('sensor-list');
    await pump(() => answer !== undefined || client.sensorInfo('temperature') !== undefined);
    expect(client.sensorInfo('temperature')?.units).toBe('degC');
    // as katcp-python's future_check_sensor, the answer is the model once data is synced again
    await flush();
    expect(answer).toBeUndefined();
    proxy.releaseRequests('help');
    expect(await lookup).toBeInstanceOf(Sensor);
    expect(answer?.name).toBe('temperature');
    await pump(() => client.synced && calls.length === 6);
    expect(calls.slice(3).map((c) => c[0])).toEqual([S1, S2, S4]);
    expect(calls[4][1]).toEqual({ requests: { added: new Set(['reset']), removed: new Set() } });
    expect(client.sensors).toEqual(['temperature']);
  });

  it('custom sensorFactory and requestFactory are used', async () => {
    const made: string[] = [];
    const { client } = await setup({
      sensorFactory: (info) => {
        made.push(info.name);
        return new Sensor({ name: info.name, type: 'string', description: `custom ${info.description}` });
      },
      requestFactory: (info) => ({ name: info.name.toUpperCase(), description: '', timeoutHint: 1 }),
    });
    await client.connect();
    expect((await client.futureGetSensor('mode'))?.description).toBe('custom operating mode');
    expect(made).toEqual(['mode']);
    expect((await client.futureGetRequest('echo'))?.name).toBe('ECHO');
  });

  it('handleSensorValue routes #sensor-value informs like #sensor-status', async () => {
    const { client, device } = await setup({ handleSensorValue: true });
    await client.connect();
    await client.untilSynced();
    const count = await client.futureGetSensor('count');
    device.sensor('count')!.set(41);
    // an unsolicited #sensor-value, as some servers send
    device.server.massInform('sensor-value', '1700000001', '1', 'count', 'nominal', '42');
    await pump(() => count?.value === 42);
    expect(count?.timestamp).toBe(1_700_000_001);
  });

  it('simpleRequest returns the reply and informs whatever the code; typed errors otherwise', async () => {
    const { client, clock, proxy } = await setup();
    await expect(client.simpleRequest('echo')).rejects.toThrow(/Not connected/);
    await client.connect();
    await client.untilSynced();
    const { reply, informs } = await client.simpleRequest('echo', 'a b', 3);
    expect(reply.args.map(String)).toEqual(['ok', 'a b', '3']);
    expect(informs).toEqual([]);
    const bad = await client.simpleRequest('add', 'x');
    expect(String(bad.reply.args[0])).toBe('fail');
    const help = await client.simpleRequest('help');
    expect(help.informs.length).toBeGreaterThan(5);
    proxy.silent.add('echo');
    const late = client.simpleRequestWith({ timeout: 200 }, 'echo', 'never');
    await flush();
    clock.advance(200);
    await expect(late).rejects.toBeInstanceOf(RequestTimeoutError);
    await expect(client.connection!.request('add', 'x')).rejects.toBeInstanceOf(FailReply);
  });

  it('until* waits time out with TimeoutError, abort with CancelledError, and remove their listeners', async () => {
    const { client, clock, proxy } = await setup({ hold: true });
    await client.connect();
    const w = client.untilSynced({ timeout: 1000 });
    clock.advance(1000);
    await expect(w).rejects.toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    const w2 = client.untilDataSynced({ signal: ac.signal });
    ac.abort();
    await expect(w2).rejects.toThrow(/cancelled/);
    await client.untilConnected();
    expect(client.connected).toBe(true);
    await client.untilState(STATES.inspecting);
    proxy.release();
    await client.untilState(STATES.synced);
    const notSynced = client.untilNotSynced({ timeout: 10 });
    clock.advance(10);
    await expect(notSynced).rejects.toBeInstanceOf(TimeoutError);
  });

  it('guards its arguments', async () => {
    const { system } = await setup({ proxy: false });
    expect(() => new InspectingClient('', 1)).toThrow(InvalidArgumentError);
    expect(() => new InspectingClient('h', 70000)).toThrow(InvalidArgumentError);
    expect(() => new InspectingClient('h', 1, { syncTimeout: -1, system })).toThrow(InvalidArgumentError);
    expect(() => new InspectingClient('h', 1, { random: 3 as never, system })).toThrow(InvalidArgumentError);
    expect(() => new InspectingClient('h', 1, { initialResyncDelay: 10, maxResyncDelay: 5, system })).toThrow(
      InvalidArgumentError,
    );
    // what the connection or the machine refuses is refused here too: these passed the constructor, then
    // connect() rejected with the machine (or a supervisor with a failed child) left behind
    const later: object[] = [
      { requestTimeout: null },
      { syncTimeout: null },
      { initialResyncDelay: null },
      { maxResyncDelay: null },
      { maxResyncDelay: Number.POSITIVE_INFINITY },
      { random: null },
    ];
    for (const bad of later) {
      expect(() => new InspectingClient('h', 1, { ...bad, system }), JSON.stringify(bad)).toThrow(
        InvalidArgumentError,
      );
    }
    const c = new InspectingClient('127.0.0.1', 1, { system });
    open.push(c);
    await expect(c.untilSynced({ timeout: -5 })).rejects.toThrow(InvalidArgumentError);
    await expect(c.futureGetSensor('')).rejects.toThrow(InvalidArgumentError);
    expect(await c.setSamplingStrategy('x', 'period -1')).toEqual([false, expect.stringMatching(/period/)]);
    expect(await c.setSamplingStrategy('x', 'bogus')).toEqual([
      false,
      expect.stringMatching(/not a sampling/),
    ]);
    await c.stop();
    await expect(c.connect()).rejects.toBeInstanceOf(InvalidStateError);
  });
  it('names of Object.prototype members are not taken for requests or sensors of the device', async () => {
    const { client, proxy } = await setup();
    await client.connect();
    await client.untilSynced();
    for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
      expect(client.requestInfo(name)).toBeUndefined();
      expect(client.sensorInfo(name)).toBeUndefined();
      expect(await client.futureCheckRequest(name, { update: false })).toBe(false);
      expect(await client.futureGetSensor(name)).toBeNull();
      expect(await client.futureGetRequest(name)).toBeNull();
    }
    // a cached strategy of a sensor the device lacks is not re-sent on every sync
    expect((await client.setSamplingStrategy('constructor', 'auto'))[0]).toBe(false);
    const mark = proxy.requests.length;
    expect([...(await client.reapplySamplingStrategies()).keys()]).toEqual([]);
    expect(proxy.requests.slice(mark)).toEqual([]);
  });
});

describe('issue 9 item 3: sampling strategies are cached and re-applied', () => {
  it('setSamplingStrategy normalises, caches before sending, and answers [ok, normalised]', async () => {
    const { client, proxy } = await setup();
    // cached even while not connected (the send fails)
    const early = await client.setSamplingStrategy('count', ['period', 0.5]);
    expect(early[0]).toBe(false);
    expect(client.samplingStrategies.get('count')).toEqual({ strategy: 'period', period: 0.5 });
    await client.connect();
    await client.untilSynced();
    // re-applied on S2 without being asked again
    await pump(() => proxy.requests.some((l) => /^\?sensor-sampling\[\d+\] count period 0\.5$/.test(l)));
    expect(
      await client.setSamplingStrategy('mode', { strategy: 'event-rate', shortest: 0.1, longest: 1 }),
    ).toEqual([true, 'event-rate 0.1 1']);
    const bad = await client.setSamplingStrategy('nosuch', 'auto');
    expect(bad[0]).toBe(false);
  });

  it('setSamplingStrategies uses the bulk comma form with flag B', async () => {
    const { client, proxy } = await setup();
    await client.connect();
    await client.untilSynced();
    const mark = proxy.requests.length;
    const r = await client.setSamplingStrategies(['count', 'temperature'], 'event');
    expect([...r.values()]).toEqual([
      [true, 'event'],
      [true, 'event'],
    ]);
    expect(proxy.requests.slice(mark).map((l) => l.replace(/\[\d+\]/, ''))).toEqual([
      '?sensor-sampling count,temperature event',
    ]);
  });

  it('without flag B, one request per sensor', async () => {
    const { client, proxy } = await setup({ flags: 'MI' });
    await client.connect();
    await client.untilSynced();
    const mark = proxy.requests.length;
    await client.setSamplingStrategies(['count', 'temperature'], 'auto');
    expect(
      proxy.requests
        .slice(mark)
        .map((l) => l.replace(/\[\d+\]/, ''))
        .sort(),
    ).toEqual(['?sensor-sampling count auto', '?sensor-sampling temperature auto']);
  });
});

describe('review: waits and inspect() keep their contract', () => {
  it('untilState refuses a state that is none of S0..S4 (katcp-python until_state raises ValueError) instead of waiting for ever', async () => {
    const { client, clock } = await setup({ proxy: false });
    const illegal = [
      { connected: false, synced: true, modelChanged: false, dataSynced: false },
      { connected: true, synced: true, modelChanged: true, dataSynced: true },
      { connected: 1, synced: 0, modelChanged: 0, dataSynced: 0 },
      { connected: true },
      // a flag JSON cannot write: the refusal's message must still be made (JSON.stringify threw a TypeError)
      { connected: 1n, synced: false, modelChanged: false, dataSynced: false },
    ];
    for (const s of illegal) {
      const w = client.untilState(s as never, { timeout: 10 });
      clock.advance(10);
      await expect(w).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    const hostile = {
      get connected(): boolean {
        throw new Error('boom');
      },
    };
    await expect(client.untilState(hostile as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.untilState(null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('inspect({ timeout }) rejects with TimeoutError when the inspection does not end in time', async () => {
    const { client, clock, proxy } = await setup();
    await client.connect();
    await client.untilSynced();
    proxy.silent.add('help');
    const inspection = client.inspect({ timeout: 1000 });
    let outcome: unknown = 'pending';
    inspection.then(
      (v) => {
        outcome = v;
      },
      (e) => {
        outcome = e;
      },
    );
    await pump(() => outcome !== 'pending', { clock, step: 100, what: 'inspect settled' });
    expect(outcome).toBeInstanceOf(TimeoutError);
  });

  it('inspect() during an incremental re-inspection resolves with the full one it asked for, not the one in flight', async () => {
    const { client, device, proxy } = await setup();
    await client.connect();
    await client.untilSynced();
    // a sensor added (announced: the client re-inspects that name only, held here) ...
    proxy.holding.add('sensor-list');
    device.addSensor(new Sensor({ name: 'extra', type: 'integer', now: () => 1_700_000_000 }));
    await pump(() => proxy.requests.some((l) => /^\?sensor-list\[\d+\] extra$/.test(l)), {
      what: '?sensor-list extra',
    });
    // ... and one removed without a word: only a full listing finds it
    (device.server.sensors as Map<string, Sensor>).delete('mode');
    const mark = proxy.requests.length;
    const inspection = client.inspect();
    proxy.releaseRequests('sensor-list');
    const changes = await inspection;
    // it resolved with the incremental inspection's changes (sensors added: extra) before anything was re-listed
    expect(proxy.requestNames().slice(mark)).toEqual(['help', 'sensor-list']);
    expect(changes).toEqual({ sensors: { added: new Set(), removed: new Set(['mode']) } });
    expect(client.sensors).toEqual(['count', 'extra', 'temperature']);
  });

  it('inspect() pending when the client stops rejects with CancelledError, not a null that says nothing changed', async () => {
    const { client, proxy } = await setup();
    await client.connect();
    await client.untilSynced();
    proxy.silent.add('help');
    const inspection = client.inspect();
    await pump(() => proxy.requestNames().filter((n) => n === 'help').length === 2, { what: '?help sent' });
    await client.stop();
    await expect(inspection).rejects.toBeInstanceOf(CancelledError);
  });
});
