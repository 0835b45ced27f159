/**
 * Faults over real sockets (issue 9 item 7): the server killed during a sync and restarted on the same port (the
 * client resyncs and re-applies its sampling strategies), a server that never answers (request timeout, sync
 * timeout), a dropped connection mid-inspection, hostile `#sensor-status` informs, stopping mid-inspection and
 * stopping the whole system.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSystem } from '../../src/index.js';
import { RequestTimeoutError, SyncError } from '../../src/protocols/katcp/errors.js';
import {
  InspectingClient,
  type InspectingClientOptions,
  MAX_PENDING_LOOKUPS,
  STATES,
} from '../../src/protocols/katcp/inspectingClient.js';
import { useTestSystem } from '../support/testSystem.js';
import { flush, KatcpProxy, pump, TestDevice } from './support/devices.js';

const ts = useTestSystem();
const open: { stop(): Promise<void> }[] = [];
const servers: { close(): Promise<void> }[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) await c.stop();
  for (const s of servers.splice(0).reverse()) await s.close();
});

async function setup(options: InspectingClientOptions = {}) {
  const system = ts.start();
  const clock = ts.clock;
  const device = await TestDevice.start({ clock });
  servers.push(device);
  const proxy = await KatcpProxy.start(device.port);
  servers.push(proxy);
  const states: string[] = [];
  const client = new InspectingClient('127.0.0.1', proxy.port, {
    system,
    random: () => 0.5,
    stateCallback: (s) => {
      states.push(String(s));
    },
    ...options,
  });
  open.push(client);
  return { system, clock, device, proxy, client, states };
}

const S0 = String(STATES.disconnected);
const S1 = String(STATES.inspecting);
const S2 = String(STATES.modelChanged);
const S3 = String(STATES.dataSynced);
const S4 = String(STATES.synced);

describe('issue 9 item 7: the server killed during sync and restarted', () => {
  it('the client resyncs and re-applies its sampling strategies to the new server', async () => {
    const { client, device, proxy, clock, states } = await setup();
    await client.connect();
    await client.untilSynced();
    expect(await client.setSamplingStrategy('count', 'period 0.5')).toEqual([true, 'period 0.5']);
    const count = await client.futureGetSensor('count');
    // a re-inspection that hangs on ?sensor-list: the server is killed in the middle of it
    proxy.silent.add('sensor-list');
    const inspection = client.inspect();
    await pump(() => proxy.requestNames().filter((n) => n === 'sensor-list').length === 2);
    expect(client.state.equals(STATES.inspecting)).toBe(true);
    await device.stop();
    await pump(() => !client.connected, { what: 'S0' });
    proxy.silent.clear();
    const mark = proxy.requests.length;
    await device.reopen();
    await pump(() => client.synced, { clock, step: 50, what: 'resynced' });
    // the new server got the cached strategy again
    await pump(() =>
      proxy.requests.slice(mark).some((l) => /^\?sensor-sampling\[\d+\] count period 0\.5$/.test(l)),
    );
    await pump(() => states.length >= 9);
    expect(states).toEqual([S0, S1, S2, S4, S1, S0, S1, S3, S4]);
    // and it samples for this client: readings of the new server reach the same cached Sensor object
    device.sensor('count')!.set(77);
    await pump(() => count?.value === 77, { clock, step: 100, what: 'periodic reading' });
    expect(await client.futureGetSensor('count')).toBe(count);
    await inspection.catch(() => undefined);
  });
});

describe('issue 9 item 7: a server that never answers', () => {
  it('a request gets RequestTimeoutError after the request timeout', async () => {
    const { client, proxy, clock } = await setup({ requestTimeout: 1000 });
    await client.connect();
    await client.untilSynced();
    proxy.silent.add('echo');
    const r = client.simpleRequest('echo', 'hello?');
    await flush();
    clock.advance(999);
    await flush(2);
    clock.advance(1);
    await expect(r).rejects.toBeInstanceOf(RequestTimeoutError);
    // the connection is still good for other requests
    const { reply } = await client.simpleRequest('add', 1, 2);
    expect(reply.args.map(String)).toEqual(['ok', '3']);
  });

  it('a sync that gets no answer ends with SyncError, backs off, and succeeds once the server answers', async () => {
    const { client, proxy, clock, states } = await setup({
      syncTimeout: 2000,
      requestTimeout: 60_000,
      initialResyncDelay: 100,
    });
    proxy.silent.add('help');
    await client.connect();
    await pump(() => proxy.requestNames().includes('help'));
    clock.advance(2000);
    await pump(() => client.lastError !== null);
    expect(client.lastError).toBeInstanceOf(SyncError);
    expect(client.lastError?.message).toMatch(/timed out after 2000 ms/);
    expect(client.synced).toBe(false);
    proxy.silent.clear();
    await pump(() => client.synced, { clock, step: 20, what: 'synced' });
    expect(states.filter((s) => s === S1).length).toBeGreaterThanOrEqual(2);
  });

  it('a connection dropped in the middle of an inspection: S0, then a full inspection on the new connection', async () => {
    const { client, proxy, clock, device } = await setup();
    proxy.silent.add('sensor-list');
    await client.connect();
    await pump(() => proxy.requestNames().includes('sensor-list'));
    proxy.silent.clear();
    proxy.dropAll();
    await pump(() => !client.connected);
    await pump(() => client.synced, { clock, step: 50, what: 'synced' });
    expect(client.sensors).toEqual(device.sensorNames);
    expect(proxy.requestNames().filter((n) => n === 'help').length).toBe(2);
  });
});

describe('issue 9 item 7: hostile informs and shutdown', () => {
  it('malformed #sensor-status informs are ignored; an unknown sensor costs one named lookup; lookups are bounded', async () => {
    const { client, device, proxy } = await setup();
    await client.connect();
    await client.untilSynced();
    const count = await client.futureGetSensor('count');
    const before = count?.reading;
    const inform = (...args: string[]) => device.server.massInform('sensor-status', ...args);
    inform('1700000000', '2', 'count', 'nominal', '1'); // wrong count
    inform('yesterday', '1', 'count', 'nominal', '1'); // bad timestamp
    inform('1700000000', '1', 'count', 'splendid', '1'); // bad status
    inform('1700000000', '1', 'count', 'nominal', 'one'); // bad value
    inform(); // nothing
    await flush();
    expect(count?.reading).toBe(before);
    // a sensor the client never heard of: looked up by name once, then its reading applies
    const mark = proxy.requests.length;
    device.server.sensors.get('mode'); // (exists on the server)
    inform('1700000002', '1', 'ghost', 'nominal', '5');
    inform('1700000003', '1', 'ghost', 'nominal', '6');
    await pump(() => proxy.requests.length > mark);
    await flush();
    expect(proxy.requests.slice(mark).map((l) => l.replace(/\[\d+\]/, ''))).toEqual(['?sensor-list ghost']);
    // ghost is not on the server: remembered as unknown, not looked up again
    inform('1700000004', '1', 'ghost', 'nominal', '7');
    await flush();
    expect(proxy.requests.length).toBe(mark + 1);
    // a flood of distinct unknown names: at most MAX_PENDING_LOOKUPS lookups in flight
    proxy.silent.add('sensor-list');
    const mark2 = proxy.requests.length;
    for (let i = 0; i < 200; i++) inform('1700000005', '1', `ghost${i}`, 'nominal', '1');
    await pump(() => proxy.requests.length - mark2 >= MAX_PENDING_LOOKUPS);
    await flush();
    expect(proxy.requests.length - mark2).toBe(MAX_PENDING_LOOKUPS);
    expect(client.synced).toBe(true);
  });

  it('a #sensor-status with an inf or nan timestamp updates the sensor, as aiokatcp (a Python float) takes it', async () => {
    const { client, device } = await setup();
    await client.connect();
    await client.untilSynced();
    const count = await client.futureGetSensor('count');
    const inform = (...args: string[]) => device.server.massInform('sensor-status', ...args);
    inform('nan', '1', 'count', 'warn', '41');
    await flush();
    expect(count?.value).toBe(41);
    expect(count?.status).toBe('warn');
    expect(count?.timestamp).toBeNaN();
    inform('inf', '1', 'count', 'nominal', '42');
    await flush();
    expect(count?.value).toBe(42);
    expect(count?.timestamp).toBe(Number.POSITIVE_INFINITY);
    inform('-inf', '1', 'count', 'error', '43');
    await flush();
    expect(count?.reading).toMatchObject({ value: 43, status: 'error', timestamp: Number.NEGATIVE_INFINITY });
  });

  it('an integer reading beyond 2^53 (a 64-bit counter) reaches the sensor exactly, as a bigint', async () => {
    const { client, device } = await setup();
    await client.connect();
    await client.untilSynced();
    const count = await client.futureGetSensor('count');
    const inform = (...args: string[]) => device.server.massInform('sensor-status', ...args);
    inform('1700000000', '1', 'count', 'nominal', '18446744073709551615');
    await flush();
    expect(count?.value).toBe(18446744073709551615n);
    expect(count?.formattedValue()).toBe('18446744073709551615');
    inform('1700000001', '1', 'count', 'nominal', '7');
    await flush();
    expect(count?.value).toBe(7);
  });

  it('stop in the middle of an inspection: one S0, nothing left pending', async () => {
    const { client, proxy, states, clock } = await setup();
    proxy.silent.add('help');
    await client.connect();
    await pump(() => proxy.requestNames().includes('help'));
    await client.stop();
    expect(states).toEqual([S0, S1, S0]);
    expect(client.connection?.state).toBe('closed');
    expect(client.connection?.pendingCount).toBe(0);
    // no timer of the client is left on the clock (the server samples nothing here): no sync timeout, no backoff
    expect(clock.pending).toBe(0);
    clock.advance(100_000);
    await flush();
    expect(states).toEqual([S0, S1, S0]);
  });

  it('system.stop() stops the client: connection closed, untilStopped resolves', async () => {
    const device = await TestDevice.start();
    servers.push(device);
    const system = createSystem();
    const client = new InspectingClient('127.0.0.1', device.port, { system });
    await client.connect();
    await client.untilSynced();
    await system.stop();
    await client.untilStopped();
    expect(client.connection?.state).toBe('closed');
    expect(client.stopped).toBe(true);
    await pump(() => device.server.clients.length === 0);
  });
});
