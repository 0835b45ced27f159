/**
 * issue 9 item 4: every sampling strategy (aiokatcp's SensorSampler semantics) on the TestClock: the sampler on
 * its own (exactly which readings go out, when), then each strategy over a real socket through
 * `?sensor-sampling`, and the timers cancelled when the strategy changes, the sensor goes or the client goes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSampler,
  formatPythonFloat,
  parseSamplingRequest,
} from '../../src/protocols/katcp/sampling.js';
import { Sensor } from '../../src/protocols/katcp/sensor.js';
import { DeviceServer } from '../../src/protocols/katcp/server.js';
import { parseStrategy } from '../../src/protocols/katcp/wire.js';
import { TestClock } from '../../src/testing/index.js';
import { closeAllRawClients, RawClient } from './support/exampleServer.js';

function setup(type: 'integer' | 'float' | 'discrete' = 'integer') {
  const clock = new TestClock();
  const sensor = new Sensor({
    name: 's',
    type,
    params: type === 'discrete' ? ['a', 'b'] : [],
    initial: type === 'discrete' ? 'a' : 0,
    status: 'nominal',
    now: () => clock.now() / 1000,
  });
  const sent: string[] = [];
  const observer = (_s: Sensor, r: { timestamp: number; status: string; value: unknown }) =>
    sent.push(`${r.timestamp * 1000}:${r.status}:${String(r.value)}`);
  const sample = (words: string) =>
    createSampler(
      sensor,
      parseSamplingRequest(
        sensor,
        words.split(' ').map((w) => Buffer.from(w)),
      ),
      observer,
      clock,
    );
  return { clock, sensor, sent, sample };
}

describe('issue 9 item 4: SensorSampler strategies on a TestClock', () => {
  it('none has no sampler; auto sends at once and on every update, even an unchanged one', () => {
    const { sensor, sent, sample, clock } = setup();
    expect(sample('none')).toBeNull();
    const s = sample('auto');
    expect(sent).toEqual(['0:nominal:0']);
    sensor.set(0);
    clock.advance(10);
    sensor.set(0);
    sensor.set(1, 'warn');
    expect(sent).toEqual(['0:nominal:0', '0:nominal:0', '10:nominal:0', '10:warn:1']);
    expect(clock.pending).toBe(0);
    s?.close();
    sensor.set(2);
    expect(sent).toHaveLength(4);
    expect(sensor.listenerCount).toBe(0);
  });

  it('period p sends every p seconds without drift, whatever the updates', () => {
    const { sensor, sent, sample, clock } = setup();
    const s = sample('period 0.5');
    clock.advance(100);
    sensor.set(5);
    clock.advance(1400);
    expect(sent).toEqual(['0:nominal:0', '100:nominal:5', '100:nominal:5', '100:nominal:5']);
    // sent at 0 (creation), 500, 1000, 1500: the reading at each tick (5, set at 100 ms)
    expect(clock.now()).toBe(1500);
    s?.close();
    expect(clock.pending).toBe(0);
  });

  it('event sends on a value or status change only', () => {
    const { sensor, sent, sample, clock } = setup();
    sample('event');
    sensor.set(0);
    clock.advance(5);
    sensor.set(1);
    sensor.set(1);
    sensor.set(1, 'warn');
    expect(sent).toEqual(['0:nominal:0', '5:nominal:1', '5:warn:1']);
    expect(clock.pending).toBe(0);
  });

  it('differential d sends when |value - last sent| > d or the status changes', () => {
    const { sensor, sent, sample } = setup('float');
    sample('differential 1.5');
    sensor.set(1);
    sensor.set(1.5);
    sensor.set(1.6); // 1.6 - 0 > 1.5
    sensor.set(3.0); // 3.0 - 1.6 <= 1.5
    sensor.set(3.0, 'error');
    sensor.set(-0.1); // 3.0 - (-0.1) > 1.5
    expect(sent).toEqual(['0:nominal:0', '0:nominal:1.6', '0:error:3', '0:nominal:-0.1']);
  });

  it('differential on an integer sensor beyond 2^53 (bigint values) compares exactly, mixed with numbers too', () => {
    const { sensor, sent, sample } = setup('integer');
    sample('differential 2');
    const big = 2n ** 60n;
    sensor.set(big); // far from 0: sent
    sensor.set(big + 2n); // |diff| = 2, not > 2
    sensor.set(big + 3n); // 3 > 2
    sensor.set(big + 3n); // unchanged
    sensor.set(5); // a number again: far away
    sensor.set(9007199254740993n); // past 2^53 as a bigint, far from 5
    sensor.set(9007199254740991); // a number 2 away from it: not > 2
    expect(sent).toEqual([
      '0:nominal:0',
      `0:nominal:${big}`,
      `0:nominal:${big + 3n}`,
      '0:nominal:5',
      '0:nominal:9007199254740993',
    ]);
    expect(sensor.formattedValue()).toBe('9007199254740991');
  });

  it('event-rate s l: on change but not more often than s (the reading at s), and at least every l', () => {
    const { sensor, sent, sample, clock } = setup();
    sample('event-rate 0.1 1');
    clock.advance(50);
    sensor.set(1); // before 100: held until 100
    sensor.set(2); // a change is already pending: ignored, but 2 is what goes at 100
    expect(sent).toEqual(['0:nominal:0']);
    clock.advance(50);
    expect(sent).toEqual(['0:nominal:0', '50:nominal:2']);
    clock.advance(200);
    sensor.set(3); // 300 >= 100 + 100: at once
    expect(sent.at(-1)).toBe('300:nominal:3');
    clock.advance(1000); // nothing changes: forced at 1300
    expect(sent).toEqual(['0:nominal:0', '50:nominal:2', '300:nominal:3', '300:nominal:3']);
  });

  it('differential-rate d s l: the differential test with both rate limits', () => {
    const { sensor, sent, sample, clock } = setup();
    sample('differential-rate 2 0.1 10');
    sensor.set(1);
    sensor.set(2); // |2 - 0| <= 2
    expect(sent).toEqual(['0:nominal:0']);
    clock.advance(10);
    sensor.set(3); // > 2, but before 100 ms
    expect(sent).toHaveLength(1);
    clock.advance(90);
    expect(sent).toEqual(['0:nominal:0', '10:nominal:3']);
    clock.advance(10_000);
    expect(sent).toEqual(['0:nominal:0', '10:nominal:3', '10:nominal:3']);
  });

  it('event-rate s inf: on change only, never forced (as aiokatcp, and as the client parseStrategy accepts it)', () => {
    const { clock, sensor, sent, sample } = setup();
    // refused with "longest must be > 0 and finite", though the client's parseStrategy sends it
    const sampler = sample('event-rate 0.5 inf');
    expect(sampler?.strategy).toEqual({
      strategy: 'event-rate',
      shortest: 0.5,
      longest: Number.POSITIVE_INFINITY,
    });
    expect(parseStrategy('event-rate 0.5 inf')).toEqual(sampler?.strategy);
    clock.advance(3_600_000);
    expect(sent).toEqual(['0:nominal:0']);
    sensor.set(4, 'nominal', clock.now() / 1000);
    expect(sent).toEqual(['0:nominal:0', '3600000:nominal:4']);
    sampler?.close();
    expect(clock.pending).toBe(0);
  });

  it('event-rate inf inf: the first reading only, no timer (aiokatcp takes any shortest, as the client parseStrategy)', () => {
    const { clock, sensor, sent, sample } = setup();
    // refused with "shortest must be >= 0 and finite", though the client's parseStrategy sends it and aiokatcp
    // (no check on shortest) and katcp-python (0 <= shortest <= longest) take it
    const sampler = sample('event-rate inf inf');
    expect(sampler?.strategy).toEqual(parseStrategy('event-rate inf inf'));
    sensor.set(4, 'warn');
    clock.advance(3_600_000);
    sensor.set(5);
    expect(sent).toEqual(['0:nominal:0']);
    expect(clock.pending).toBe(0);
    sampler?.close();
    const d = sample('differential-rate 1 inf inf');
    expect(d?.strategy).toEqual(parseStrategy('differential-rate 1 inf inf'));
    d?.close();
    expect(clock.pending).toBe(0);
  });

  it('parses as aiokatcp: integer difference for integer sensors, echoes re-encoded, bad input refused', () => {
    const { sensor } = setup();
    const words = (s: string) => s.split(' ').map((w) => Buffer.from(w));
    expect(() => parseSamplingRequest(sensor, words('differential 2.5'))).toThrow(/not an integer/);
    expect(() => parseSamplingRequest(sensor, words('bogus'))).toThrow(
      /'bogus' is not a valid value for Strategy/,
    );
    expect(() => parseSamplingRequest(sensor, words('period 0'))).toThrow(/period must be > 0/);
    expect(() => parseSamplingRequest(sensor, words('period'))).toThrow(
      /expected 1 strategy arguments, found 0/,
    );
    expect(() => parseSamplingRequest(sensor, words('event-rate 1 nan'))).toThrow(/longest/);
    const d = setup('discrete');
    expect(() => parseSamplingRequest(d.sensor, words('differential 1'))).toThrow(
      /only valid for integer and float/,
    );
    expect(formatPythonFloat(1)).toBe('1.0');
    expect(formatPythonFloat(0.1)).toBe('0.1');
    expect(formatPythonFloat(1e-5)).toBe('1e-05');
    expect(formatPythonFloat(1e16)).toBe('1e+16');
    expect(formatPythonFloat(1795421238.57603)).toBe('1795421238.57603');
    expect(parseStrategy('event-rate 0.1 1')).toEqual(
      parseSamplingRequest(sensor, words('event-rate 0.1 1')),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Over a real socket

const servers: DeviceServer[] = [];
afterEach(async () => {
  await closeAllRawClients();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function socketSetup() {
  const clock = new TestClock(1_000_000);
  const now = () => clock.now() / 1000;
  const server = new DeviceServer({ clock, now });
  servers.push(server);
  const i = new Sensor({ name: 'i', type: 'integer', initial: 0, status: 'nominal', now });
  const f = new Sensor({ name: 'f', type: 'float', initial: 0, status: 'nominal', now });
  const d = new Sensor({ name: 'd', type: 'discrete', params: ['on', 'off'], now });
  for (const s of [i, f, d]) server.addSensor(s);
  const { port } = await server.listen();
  const client = await RawClient.connect(port);
  await client.waitForLines(3);
  let mid = 100;
  /** Every #sensor-status since the last sync, up to a watchdog round trip (TCP keeps the order). */
  let seen = client.lines.length;
  const statuses = async (): Promise<string[]> => {
    await client.request('watchdog', ++mid);
    const out = client.lines.slice(seen).filter((l) => l.startsWith('#sensor-status'));
    seen = client.lines.length;
    return out.map((l) => l.split(' ').slice(1).join(' '));
  };
  return { clock, server, i, f, d, client, statuses };
}

describe('issue 9 item 4: ?sensor-sampling over TCP, each strategy on the TestClock', () => {
  it('none: no #sensor-status; the query form answers the current strategy', async () => {
    const { client, i, statuses } = await socketSetup();
    expect(await client.request('sensor-sampling', 1, 'i')).toEqual(['!sensor-sampling[1] ok i none']);
    expect(await client.request('sensor-sampling', 2, 'i', 'none')).toEqual([
      '!sensor-sampling[2] ok i none',
    ]);
    i.set(4);
    expect(await statuses()).toEqual([]);
  });

  it('auto: the reading at once, then every update', async () => {
    const { client, i, statuses } = await socketSetup();
    expect(await client.request('sensor-sampling', 1, 'i', 'auto')).toEqual([
      '!sensor-sampling[1] ok i auto',
    ]);
    i.set(0);
    i.set(7, 'warn');
    expect(await statuses()).toEqual(['1000.0 1 i nominal 0', '1000.0 1 i nominal 0', '1000.0 1 i warn 7']);
    expect(await client.request('sensor-sampling', 2, 'i')).toEqual(['!sensor-sampling[2] ok i auto']);
  });

  it('period: every period on the clock; the echo is re-encoded (period 0.5)', async () => {
    const { client, clock, f, statuses } = await socketSetup();
    expect(await client.request('sensor-sampling', 1, 'f', 'period', '.5')).toEqual([
      '!sensor-sampling[1] ok f period 0.5',
    ]);
    expect(await statuses()).toEqual(['1000.0 1 f nominal 0.0']);
    f.set(2.5);
    clock.advance(1000);
    expect(await statuses()).toEqual(['1000.0 1 f nominal 2.5', '1000.0 1 f nominal 2.5']);
    expect(clock.pending).toBe(1);
  });

  it('event: on change only', async () => {
    const { client, clock, d, statuses } = await socketSetup();
    await client.request('sensor-sampling', 1, 'd', 'event');
    d.set('off');
    clock.advance(5);
    d.set('off');
    d.set('on', 'warn');
    expect(await statuses()).toEqual([
      '1000.0 1 d unknown on',
      '1000.0 1 d nominal off',
      '1000.005 1 d warn on',
    ]);
    expect(clock.pending).toBe(0);
  });

  it('differential: integer difference echoed as an integer, sends past the difference; refused on discrete', async () => {
    const { client, i, statuses } = await socketSetup();
    expect(await client.request('sensor-sampling', 1, 'i', 'differential', '2')).toEqual([
      '!sensor-sampling[1] ok i differential 2',
    ]);
    i.set(2);
    i.set(3);
    i.set(4);
    expect(await statuses()).toEqual(['1000.0 1 i nominal 0', '1000.0 1 i nominal 3']);
    expect(await client.request('sensor-sampling', 2, 'd', 'differential', '1')).toEqual([
      '!sensor-sampling[2] fail differential\\_strategies\\_only\\_valid\\_for\\_integer\\_and\\_float\\_sensors',
    ]);
  });

  it('event-rate: held to shortest, forced at longest; echoed as event-rate 0.1 1.0', async () => {
    const { client, clock, i, statuses } = await socketSetup();
    expect(await client.request('sensor-sampling', 1, 'i', 'event-rate', '0.1', '1')).toEqual([
      '!sensor-sampling[1] ok i event-rate 0.1 1.0',
    ]);
    i.set(1);
    expect(await statuses()).toEqual(['1000.0 1 i nominal 0']);
    clock.advance(100);
    expect(await statuses()).toEqual(['1000.0 1 i nominal 1']);
    clock.advance(1000);
    expect(await statuses()).toEqual(['1000.0 1 i nominal 1']);
  });

  it('differential-rate: echoed as differential-rate 1 0.1 10.0', async () => {
    const { client, clock, i, statuses } = await socketSetup();
    expect(await client.request('sensor-sampling', 1, 'i', 'differential-rate', '1', '0.1', '10')).toEqual([
      '!sensor-sampling[1] ok i differential-rate 1 0.1 10.0',
    ]);
    i.set(1);
    clock.advance(200);
    i.set(3);
    expect(await statuses()).toEqual(['1000.0 1 i nominal 0', '1000.2 1 i nominal 3']);
    clock.advance(10_000);
    expect(await statuses()).toEqual(['1000.2 1 i nominal 3']);
  });

  it('bulk form: one #sensor-status per sensor before the reply; atomic (a bad name or type changes nothing)', async () => {
    const { client, clock, statuses } = await socketSetup();
    const lines = await client.request('sensor-sampling', 1, 'i,f', 'period', '1');
    expect(lines).toEqual(['!sensor-sampling[1] ok i,f period 1.0']);
    const from = client.lines.indexOf(lines[0]);
    expect(client.lines.slice(from - 2, from).map((l) => l.split(' ')[3])).toEqual(['i', 'f']);
    await statuses();
    expect(clock.pending).toBe(2);
    expect(await client.request('sensor-sampling', 2, 'i,nosuch', 'event')).toEqual([
      "!sensor-sampling[2] fail Unknown\\_sensor\\_'nosuch'",
    ]);
    expect(await client.request('sensor-sampling', 3, 'i,d', 'differential', '1')).toHaveLength(1);
    expect(await client.request('sensor-sampling', 4, 'i')).toEqual(['!sensor-sampling[4] ok i period 1.0']);
    expect(await statuses()).toEqual([]);
    expect((await client.request('sensor-sampling', 5, 'i', 'bogus'))[0]).toMatch(
      /^!sensor-sampling\[5\] fail 'bogus'\\_is\\_not\\_a\\_valid\\_value\\_for\\_Strategy/,
    );
  });

  it('per client: #sensor-status only to the client that asked, each with its own strategy', async () => {
    const { server, client, i, statuses } = await socketSetup();
    const other = await RawClient.connect(server.address?.port as number);
    await other.waitForLines(3);
    await client.request('sensor-sampling', 1, 'i', 'event');
    i.set(9);
    expect(await statuses()).toEqual(['1000.0 1 i nominal 0', '1000.0 1 i nominal 9']);
    await other.request('watchdog', 1);
    expect(other.lines.some((l) => l.startsWith('#sensor-status'))).toBe(false);
  });

  it('timers are cancelled when the strategy changes, the sensor is removed, or the client goes', async () => {
    const { server, client, clock, i, f } = await socketSetup();
    await client.request('sensor-sampling', 1, 'i,f', 'period', '1');
    expect(clock.pending).toBe(2);
    expect(i.listenerCount).toBe(1);
    await client.request('sensor-sampling', 2, 'i', 'event');
    expect(clock.pending).toBe(1);
    expect(i.listenerCount).toBe(1);
    await client.request('sensor-sampling', 3, 'i', 'none');
    expect(i.listenerCount).toBe(0);
    server.removeSensor('f');
    expect(clock.pending).toBe(0);
    expect(f.listenerCount).toBe(0);
    await client.request('sensor-sampling', 4, 'i', 'period', '1');
    expect(clock.pending).toBe(1);
    await client.close();
    await new Promise<void>((resolve) => {
      const check = () => (server.clients.length === 0 ? resolve() : setImmediate(check));
      check();
    });
    expect(clock.pending).toBe(0);
    expect(i.listenerCount).toBe(0);
  });
});
