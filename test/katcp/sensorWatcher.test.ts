/**
 * Sensor watchers on an InspectingClient (aiokatcp's SensorWatcher / _SensorMonitor, checklist 9.5 item 7) over
 * real TCP against the DeviceServer, through the line proxy that records the `?sensor-sampling` requests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CancelledError, InvalidArgumentError } from '../../src/errors.js';
import {
  InspectingClient,
  type InspectingClientOptions,
  type SensorInfo,
} from '../../src/protocols/katcp/inspectingClient.js';
import { Sensor } from '../../src/protocols/katcp/sensor.js';
import {
  type AbstractSensorWatcher,
  SensorWatcher,
  type SyncState,
} from '../../src/protocols/katcp/sensorWatcher.js';
import { useTestSystem } from '../support/testSystem.js';
import { flush, KatcpProxy, pump, TestDevice } from './support/devices.js';

const ts = useTestSystem();
const open: { stop(): Promise<void> }[] = [];
const servers: { close(): Promise<void> }[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) await c.stop();
  for (const s of servers.splice(0).reverse()) await s.close();
});

async function setup(options: InspectingClientOptions & { flags?: string } = {}) {
  const system = ts.start();
  const clock = ts.clock;
  const { flags, ...rest } = options;
  const device = await TestDevice.start({ clock, flags });
  servers.push(device);
  const proxy = await KatcpProxy.start(device.port);
  servers.push(proxy);
  const client = new InspectingClient('127.0.0.1', proxy.port, { system, random: () => 0.5, ...rest });
  open.push(client);
  await client.connect();
  await client.untilSynced();
  return { system, clock, device, proxy, client };
}

/** Records every call, in order. */
class Recorder implements AbstractSensorWatcher {
  readonly events: string[] = [];
  constructor(readonly accept: (info: SensorInfo) => boolean = () => true) {}
  filter(info: SensorInfo): boolean {
    return this.accept(info);
  }
  sensorAdded(info: SensorInfo): void {
    this.events.push(`+${info.name}`);
  }
  sensorRemoved(name: string): void {
    this.events.push(`-${name}`);
  }
  sensorUpdated(name: string, value: Buffer, status: string): void {
    this.events.push(`${name}=${value.toString()}/${status}`);
  }
  batchStart(): void {
    this.events.push('[');
  }
  batchStop(): void {
    this.events.push(']');
  }
  stateUpdated(state: SyncState): void {
    this.events.push(state);
  }
}

const sampling = (proxy: KatcpProxy, from = 0) =>
  proxy.requests
    .slice(from)
    .filter((l) => l.startsWith('?sensor-sampling'))
    .map((l) => l.replace(/\[\d+\]/, ''));

describe('issue 9 item 3: sensor watchers (aiokatcp, checklist 9.5 item 7)', () => {
  it('a watcher is replayed the current sensors, every wanted sensor is subscribed auto in one bulk request, readings flow', async () => {
    const { client, proxy, device } = await setup();
    const watcher = new SensorWatcher();
    client.addSensorWatcher(watcher);
    await watcher.untilSynced();
    expect([...watcher.sensors.keys()].sort()).toEqual(device.sensorNames);
    expect(sampling(proxy)).toEqual(['?sensor-sampling count,mode,temperature auto']);
    expect(client.sensorSyncState).toBe('synced');
    device.sensor('temperature')!.set(18.25, 'nominal', 1_700_000_500);
    await pump(() => watcher.sensors.get('temperature')?.value === 18.25);
    expect(watcher.sensors.get('temperature')?.timestamp).toBe(1_700_000_500);
    device.sensor('mode')!.set('busy');
    await pump(() => watcher.sensors.get('mode')?.value === 'busy');
  });

  it('the filter decides what is subscribed; a removed watcher unsubscribes (none)', async () => {
    const { client, proxy } = await setup();
    const only = new Recorder((info) => info.name === 'temperature');
    client.addSensorWatcher(only);
    await pump(() => client.sensorSyncState === 'synced' && sampling(proxy).length === 1);
    expect(sampling(proxy)).toEqual(['?sensor-sampling temperature auto']);
    // replayed: the state, then the wanted sensor in one batch, then the first reading
    await pump(() => only.events.some((e) => e.startsWith('temperature=')));
    expect(only.events.slice(0, 4)).toEqual(['syncing', '[', '+temperature', ']']);
    expect(only.events).toContain('synced');
    const mark = proxy.requests.length;
    expect(client.removeSensorWatcher(only)).toBe(true);
    expect(client.removeSensorWatcher(only)).toBe(false);
    await pump(() => sampling(proxy, mark).length === 1);
    expect(sampling(proxy, mark)).toEqual(['?sensor-sampling temperature none']);
  });

  it('sensors added, replaced and removed on the device: added, removed+added with a forced re-subscribe, removed', async () => {
    const { client, proxy, device } = await setup();
    const rec = new Recorder();
    client.addSensorWatcher(rec);
    await pump(() => client.sensorSyncState === 'synced' && sampling(proxy).length === 1);
    let mark = proxy.requests.length;
    rec.events.length = 0;
    device.addSensor(new Sensor({ name: 'pressure', type: 'float', description: 'p' }));
    await pump(() => sampling(proxy, mark).length === 1 && client.sensorSyncState === 'synced');
    expect(sampling(proxy, mark)).toEqual(['?sensor-sampling pressure auto']);
    expect(rec.events.slice(0, 4)).toEqual(['syncing', '[', '+pressure', ']']);

    // replaced (other description): removed then added, and subscribed again although it was subscribed
    mark = proxy.requests.length;
    rec.events.length = 0;
    device.addSensor(new Sensor({ name: 'pressure', type: 'float', description: 'better p' }));
    await pump(() => sampling(proxy, mark).length === 1 && client.sensorSyncState === 'synced');
    expect(rec.events.slice(0, 5)).toEqual(['syncing', '[', '-pressure', '+pressure', ']']);
    expect(sampling(proxy, mark)).toEqual(['?sensor-sampling pressure auto']);

    // vanished
    rec.events.length = 0;
    device.removeSensor('pressure');
    await pump(() => rec.events.includes('-pressure') && client.sensorSyncState === 'synced');
    expect(rec.events.slice(0, 4)).toEqual(['syncing', '[', '-pressure', ']']);
  });

  it('disconnect marks the mirrored sensors unreachable; the reconnect re-subscribes and syncs again', async () => {
    const { client, proxy, device, clock } = await setup();
    const watcher = new SensorWatcher({ clock });
    client.addSensorWatcher(watcher);
    await watcher.untilSynced();
    const mark = proxy.requests.length;
    proxy.dropAll();
    await pump(() => watcher.state === 'disconnected');
    expect(watcher.synced).toBe(false);
    expect([...watcher.sensors.values()].every((s) => s.status === 'unreachable')).toBe(true);
    await pump(() => watcher.synced, { clock, step: 50, what: 'resynced' });
    expect(sampling(proxy, mark)).toEqual(['?sensor-sampling count,mode,temperature auto']);
    device.sensor('count')!.set(9);
    await pump(() => watcher.sensors.get('count')?.value === 9);
  });

  it("a sensor with the user's own strategy is left alone: the user's strategy wins", async () => {
    const { client, proxy } = await setup();
    expect(await client.setSamplingStrategy('count', 'period 1')).toEqual([true, 'period 1']);
    const mark = proxy.requests.length;
    const watcher = new SensorWatcher();
    client.addSensorWatcher(watcher);
    await watcher.untilSynced();
    expect(sampling(proxy, mark)).toEqual(['?sensor-sampling mode,temperature auto']);
    expect(watcher.sensors.has('count')).toBe(true);
  });

  it('without flag B, one ?sensor-sampling per sensor', async () => {
    const { client, proxy } = await setup({ flags: 'MI' });
    const watcher = new SensorWatcher();
    client.addSensorWatcher(watcher);
    await watcher.untilSynced();
    expect(sampling(proxy).sort()).toEqual([
      '?sensor-sampling count auto',
      '?sensor-sampling mode auto',
      '?sensor-sampling temperature auto',
    ]);
  });

  it('a throwing watcher is logged and the others still get everything; stop closes the watchers', async () => {
    const { client, device } = await setup();
    const bad: AbstractSensorWatcher = {
      sensorAdded() {
        throw new Error('bad watcher');
      },
      sensorUpdated() {
        throw new Error('bad watcher');
      },
    };
    const good = new Recorder();
    client.addSensorWatcher(bad);
    client.addSensorWatcher(good);
    await pump(() => client.sensorSyncState === 'synced' && good.events.some((e) => e.startsWith('count=')));
    device.sensor('count')!.set(3);
    await pump(() => good.events.includes('count=3/nominal'));
    await client.stop();
    expect(good.events.at(-1)).toBe('closed');
    expect(() => client.addSensorWatcher(new Recorder())).toThrow(/stopped/);
  });

  it('SensorWatcher: rewriteName fans out, unknown types are skipped, bad values ignored, untilSynced times out', async () => {
    const { clock } = await setup();
    const w = new SensorWatcher({ rewriteName: (n) => [n, `copy.${n}`], clock });
    w.sensorAdded({ name: 'a', description: '', units: '', type: 'integer', params: [] });
    w.sensorAdded({ name: 'b', description: '', units: '', type: 'quaternion', params: [] });
    expect([...w.sensors.keys()]).toEqual(['a', 'copy.a']);
    w.sensorUpdated('a', Buffer.from('12'), 'nominal', 5);
    w.sensorUpdated('a', Buffer.from('twelve'), 'nominal', 6);
    expect(w.sensors.get('copy.a')?.value).toBe(12);
    expect(w.sensors.get('a')?.timestamp).toBe(5);
    const wait = w.untilSynced({ timeout: 100 });
    clock.advance(100);
    await expect(wait).rejects.toThrow(/not synced within 100 ms/);
    w.stateUpdated('synced');
    await w.untilSynced();
    w.sensorRemoved('a');
    expect(w.sensors.size).toBe(0);
    await flush(1);
  });

  it('SensorWatcher.untilSynced pending when the client stops rejects with CancelledError (closed never becomes synced)', async () => {
    const { client, proxy, clock } = await setup();
    proxy.silent.add('sensor-sampling');
    const w = new SensorWatcher({ clock });
    client.addSensorWatcher(w);
    expect(w.state).toBe('syncing');
    const wait = expect(w.untilSynced()).rejects.toBeInstanceOf(CancelledError);
    await client.stop();
    expect(w.state).toBe('closed');
    await wait;
    await expect(w.untilSynced()).rejects.toBeInstanceOf(CancelledError);
  });

  it('SensorWatcher.untilSynced: bad options reject with InvalidArgumentError (null options were a TypeError)', async () => {
    const w = new SensorWatcher();
    for (const bad of [null, 5, { timeout: Number.NaN }, { timeout: -1 }, { signal: {} }]) {
      let result: Promise<void> | undefined;
      expect(() => {
        result = w.untilSynced(bad as never);
      }).not.toThrow();
      await expect(result).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });
});
