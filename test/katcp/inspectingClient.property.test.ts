/**
 * A model-based test (fast-check `fc.commands`, as aiokatcp does with hypothesis) of the InspectingClient against
 * the real DeviceServer over loopback, under a TestClock. Commands change the server (sensors and requests added,
 * replaced and removed, each announced with #interface-changed; a sensor updated; the server restarted on its
 * port), drop the client's connection, set sampling strategies, or advance the clock. After each command the test
 * lets the client settle, then checks: every state the machine went through is one of the five legal ones, the
 * client's model equals the server's (names and descriptions), and every cached strategy of an existing sensor
 * is the one the server applies for this client (`?sensor-sampling <name>`); an `auto` sensor's latest value
 * reached the client.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createSystem } from '../../src/index.js';
import { InspectingClient, STATES } from '../../src/protocols/katcp/inspectingClient.js';
import { Sensor } from '../../src/protocols/katcp/sensor.js';
import { parseStrategy, type SamplingStrategy } from '../../src/protocols/katcp/wire.js';
import { TestClock } from '../../src/testing/index.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { flush, KatcpProxy, pump, TestDevice } from './support/devices.js';

const LEGAL = Object.values(STATES).map(String);

interface Real {
  clock: TestClock;
  device: TestDevice;
  proxy: KatcpProxy;
  client: InspectingClient;
  seen: Set<string>;
  values: Map<string, number>;
}

type Model = Record<string, never>;

const SENSOR_POOL = ['s1', 's2', 'count'] as const;
const REQUEST_POOL = ['r1', 'r2'] as const;
const STRATEGIES = ['auto', 'event', 'none', 'period 0.5', 'event-rate 0.1 1'] as const;

async function settle(r: Real): Promise<void> {
  const { client, device, clock } = r;
  const same = () =>
    client.synced &&
    sameList(client.sensors, device.sensorNames) &&
    sameList(client.requests, [...device.server.requests].sort()) &&
    client.sensors.every((n) => client.sensorInfo(n)?.description === device.sensor(n)?.description);
  await pump(same, { clock, step: 50, rounds: 4000, what: 'the client model equals the server' });
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function check(r: Real): Promise<void> {
  await settle(r);
  const { client, device } = r;
  for (const s of r.seen) expect(LEGAL).toContain(s);
  expect(client.sensors).toEqual(device.sensorNames);
  expect(client.requests).toEqual([...device.server.requests].sort());
  // cached strategies are applied on the server for this client (re-application is asynchronous: allow rounds)
  for (let attempt = 0; ; attempt++) {
    const wrong: string[] = [];
    for (const [name, cached] of client.samplingStrategies) {
      if (!device.sensor(name)) continue;
      const { reply } = await client.simpleRequest('sensor-sampling', name);
      const words = reply.args.slice(2).map(String);
      let applied: SamplingStrategy | null = null;
      try {
        applied = parseStrategy(words);
      } catch {
        applied = null;
      }
      if (String(reply.args[0]) !== 'ok' || JSON.stringify(applied) !== JSON.stringify(cached)) {
        wrong.push(`${name}: cached ${JSON.stringify(cached)}, server ${words.join(' ')}`);
      }
    }
    if (wrong.length === 0) break;
    if (attempt >= 50) expect(wrong).toEqual([]);
    await flush(5);
  }
  // auto-sampled sensors: the server's latest value reached the client
  for (const [name, value] of r.values) {
    if (client.samplingStrategies.get(name)?.strategy !== 'auto' || !device.sensor(name)) continue;
    const sensor = await client.futureGetSensor(name);
    await pump(() => sensor?.value === value, { what: `${name} = ${value} on the client` });
  }
}

class AddSensor implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly name: string,
    readonly description: string,
  ) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    r.values.delete(this.name);
    r.device.addSensor(new Sensor({ name: this.name, type: 'integer', description: this.description }));
    await check(r);
  }
  toString = () => `addSensor(${this.name}, ${this.description})`;
}

class RemoveSensor implements fc.AsyncCommand<Model, Real> {
  constructor(readonly name: string) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    r.values.delete(this.name);
    r.device.removeSensor(this.name);
    await check(r);
  }
  toString = () => `removeSensor(${this.name})`;
}

class AddRequest implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly name: string,
    readonly description: string,
  ) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    r.device.addRequest(this.name, this.description);
    await check(r);
  }
  toString = () => `addRequest(${this.name}, ${this.description})`;
}

class RemoveRequest implements fc.AsyncCommand<Model, Real> {
  constructor(readonly name: string) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    r.device.removeRequest(this.name);
    await check(r);
  }
  toString = () => `removeRequest(${this.name})`;
}

class DropConnection implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    r.proxy.dropAll();
    await pump(() => !r.client.connected, { what: 'S0 after the drop' });
    await check(r);
  }
  toString = () => 'dropConnection';
}

class RestartServer implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    await r.device.restart();
    await pump(() => !r.client.synced || r.proxy.connectionCount > 0, { what: 'restart seen' });
    await check(r);
  }
  toString = () => 'restartServer';
}

class SetSampling implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly name: string,
    readonly strategy: string,
  ) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    const [ok] = await r.client.setSamplingStrategy(this.name, this.strategy);
    expect(ok).toBe(r.device.sensor(this.name) !== undefined);
    await check(r);
  }
  toString = () => `setSampling(${this.name}, ${this.strategy})`;
}

class UpdateSensor implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly name: string,
    readonly value: number,
  ) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    const s = r.device.sensor(this.name);
    if (s) {
      s.set(this.value);
      r.values.set(this.name, this.value);
    }
    await check(r);
  }
  toString = () => `updateSensor(${this.name}, ${this.value})`;
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    r.clock.advance(this.ms);
    await check(r);
  }
  toString = () => `advance(${this.ms})`;
}

const sensorName = fc.constantFrom(...SENSOR_POOL);
const requestName = fc.constantFrom(...REQUEST_POOL);
const commands = [
  fc.tuple(sensorName, fc.constantFrom('a', 'b')).map(([n, d]) => new AddSensor(n, d)),
  sensorName.map((n) => new RemoveSensor(n)),
  fc.tuple(requestName, fc.constantFrom('a', 'b')).map(([n, d]) => new AddRequest(n, d)),
  requestName.map((n) => new RemoveRequest(n)),
  fc.constant(new DropConnection()),
  fc.constant(new RestartServer()),
  fc.tuple(sensorName, fc.constantFrom(...STRATEGIES)).map(([n, s]) => new SetSampling(n, s)),
  fc.tuple(sensorName, fc.integer({ min: 0, max: 1000 })).map(([n, v]) => new UpdateSensor(n, v)),
  fc.integer({ min: 1, max: 5000 }).map((ms) => new Advance(ms)),
];

describe('issue 9 item 7: InspectingClient model-based test against the real server (TestClock)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('after any sequence of server changes, drops, restarts and sampling: legal states, same model, strategies applied', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 12 }), async (cmds) => {
        const clock = new TestClock();
        const system = createSystem({ clock });
        const device = await TestDevice.start({ clock });
        const proxy = await KatcpProxy.start(device.port);
        const client = new InspectingClient('127.0.0.1', proxy.port, {
          system,
          random: () => 0.5,
          initialResyncDelay: 100,
        });
        const seen = new Set<string>();
        try {
          await client.connect();
          const sub = client.actor!.subscribe(() => seen.add(String(client.state)));
          const real: Real = { clock, device, proxy, client, seen, values: new Map() };
          await check(real);
          await fc.asyncModelRun(() => ({ model: {}, real }), cmds);
          sub.unsubscribe();
        } finally {
          await client.stop();
          await proxy.close();
          await device.close();
          await system.stop();
        }
      }),
      { numRuns: propertyRuns(40), endOnFailure: true },
    );
  });
});
