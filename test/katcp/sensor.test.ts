/**
 * The KATCP `Sensor` (`src/protocols/katcp/sensor.ts`), shared by the device server and the inspecting client:
 * argument checks, the first reading of each type, `set` and `setFormatted` (a reading as it came on the wire,
 * decoded by type, refused whole when any field is bad), listeners (in order, a copy iterated, removable), and the
 * value as KATCP writes it.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { KatcpDecodeError } from '../../src/protocols/katcp/errors.js';
import { type Reading, Sensor } from '../../src/protocols/katcp/sensor.js';
import { SENSOR_TYPES, type SensorType } from '../../src/protocols/katcp/wire.js';

let t = 1000;
const now = () => t;

describe('issue 9 item 1: Sensor', () => {
  it('issue 9 item 1: name, type, description, units and params as given; defaults for the rest', () => {
    const s = new Sensor({
      name: 'foo',
      type: 'discrete',
      description: 'nonsense',
      params: ['abc-def', 'ghi-k'],
      now,
    });
    expect([s.name, s.type, s.description, s.units, s.params]).toEqual([
      'foo',
      'discrete',
      'nonsense',
      '',
      ['abc-def', 'ghi-k'],
    ]);
    expect(s.reading).toEqual({ timestamp: 1000, status: 'unknown', value: 'abc-def' });
    const bare = new Sensor({ name: 'a.b-c_9', type: 'float' });
    expect(bare.description).toBe('');
    expect(Math.abs(bare.timestamp - Date.now() / 1000)).toBeLessThan(60); // the default clock is the wall clock
  });

  it('issue 9 item 1: the first value of each type, with status unknown', () => {
    const first: Record<SensorType, unknown> = {
      integer: 0,
      float: 0,
      boolean: false,
      discrete: '',
      lru: 'nominal',
      timestamp: 0,
      address: { host: '0.0.0.0', port: null },
      string: '',
    };
    for (const type of SENSOR_TYPES) {
      const s = new Sensor({ name: `s-${type}`, type, now });
      expect(s.value, type).toEqual(first[type]);
      expect(s.status).toBe('unknown');
    }
    const given = new Sensor({ name: 'x', type: 'integer', initial: 7, status: 'nominal', now });
    expect(given.reading).toEqual({ timestamp: 1000, status: 'nominal', value: 7 });
  });

  it('issue 9 item 1: a bad name or type is an InvalidArgumentError', () => {
    for (const name of ['', 'a b', 'a/b', 'é', 'a\nb']) {
      expect(() => new Sensor({ name, type: 'integer' }), name).toThrow(InvalidArgumentError);
    }
    expect(() => new Sensor({ name: 3 as never, type: 'integer' })).toThrow(/invalid sensor name/);
    expect(() => new Sensor(undefined as never)).toThrow(InvalidArgumentError);
    expect(() => new Sensor({ name: 'x', type: 'double' as never })).toThrow(/invalid sensor type "double"/);
  });

  it('anyName: any non-empty name, as a client mirrors a device sensor listed under it', () => {
    for (const name of ['a b', 'a/b', 'é', 'rx:0,1', '/x/']) {
      expect(new Sensor({ name, type: 'integer', anyName: true }).name).toBe(name);
    }
    expect(() => new Sensor({ name: '', type: 'integer', anyName: true })).toThrow(InvalidArgumentError);
    expect(() => new Sensor({ name: 3 as never, type: 'integer', anyName: true })).toThrow(
      InvalidArgumentError,
    );
  });

  it('issue 9 item 1: set() defaults to status nominal at the sensor clock; explicit status and timestamp win', () => {
    const s = new Sensor({ name: 'temp', type: 'float', now });
    t = 1001.5;
    s.set(21.5);
    expect(s.reading).toEqual({ timestamp: 1001.5, status: 'nominal', value: 21.5 });
    s.set(99, 'error', 5);
    expect([s.value, s.status, s.timestamp]).toEqual([99, 'error', 5]);
    s.setReading({ timestamp: 6, status: 'failure', value: 0 });
    expect(s.reading).toEqual({ timestamp: 6, status: 'failure', value: 0 });
  });

  it('issue 9 item 1: setFormatted decodes a #sensor-status reading by the sensor type', () => {
    const f = new Sensor({ name: 'f', type: 'float', now });
    f.setFormatted('1795421246.2107866', 'warn', Buffer.from('-inf'));
    expect(f.reading).toEqual({
      timestamp: 1795421246.2107866,
      status: 'warn',
      value: Number.NEGATIVE_INFINITY,
    });
    const d = new Sensor({ name: 'foo', type: 'discrete', params: ['abc-def', 'ghi-k'], now });
    d.setFormatted(Buffer.from('1.5'), Buffer.from('nominal'), Buffer.from('ghi-k'));
    expect(d.value).toBe('ghi-k');
    const a = new Sensor({ name: 'addr', type: 'address', now });
    a.setFormatted('2', 'nominal', '[::1]:7147');
    expect(a.value).toEqual({ host: '::1', port: 7147 });
    expect(a.formattedValue()).toBe('[::1]:7147');
  });

  it('issue 9 item 1: a bad field in setFormatted is a KatcpDecodeError and the reading and listeners are untouched', () => {
    const s = new Sensor({ name: 'n', type: 'integer', initial: 1, status: 'nominal', now });
    const before = s.reading;
    const seen: Reading[] = [];
    s.attach((_, r) => seen.push(r));
    expect(() => s.setFormatted('1.0', 'nominal', '1.5')).toThrow(KatcpDecodeError);
    expect(() => s.setFormatted('1.0', 'fine', '2')).toThrow(KatcpDecodeError);
    expect(() => s.setFormatted('later', 'nominal', '2')).toThrow(KatcpDecodeError);
    expect(() => s.setFormatted('now', 'nominal', '2')).toThrow(KatcpDecodeError);
    expect(s.reading).toBe(before);
    expect(seen).toEqual([]);
    // an inf or nan timestamp is a timestamp, as aiokatcp's Python float() decodes it
    s.setFormatted('nan', 'nominal', '2');
    expect(s.reading).toMatchObject({ value: 2, status: 'nominal', timestamp: Number.NaN });
  });

  it('issue 9 item 1: listeners hear every reading in attach order; the remover and detach stop them', () => {
    const s = new Sensor({ name: 'c', type: 'integer', now });
    const heard: string[] = [];
    const offA = s.attach((sensor, r) => heard.push(`a:${sensor.name}=${r.value}`));
    s.attach((_, r) => heard.push(`b:${r.value}`));
    const c = (_: Sensor, r: Reading) => heard.push(`c:${r.value}`);
    s.attach(c);
    s.attach(c); // a Set: the same listener once
    expect(s.listenerCount).toBe(3);
    s.set(1);
    offA();
    s.detach(c);
    s.set(2);
    expect(heard).toEqual(['a:c=1', 'b:1', 'c:1', 'b:2']);
    expect(s.listenerCount).toBe(1);
  });

  it('a listener that throws does not keep the reading from the later ones; the first error is thrown after all', () => {
    const s = new Sensor({ name: 'c', type: 'integer', now });
    const heard: string[] = [];
    const first = new Error('first');
    s.attach(() => {
      heard.push('a');
      throw first;
    });
    s.attach(() => {
      heard.push('b');
      throw new Error('second');
    });
    s.attach((_, r) => heard.push(`c:${r.value}`));
    // the later listeners (a server's samplers, a client's other watchers) missed it: 'b' and 'c' were never called
    expect(() => s.set(7)).toThrow(first);
    expect(heard).toEqual(['a', 'b', 'c:7']);
    expect(s.value).toBe(7);
    expect(() => s.setFormatted('1.0', 'warn', '8')).toThrow(first);
    expect(heard.at(-1)).toBe('c:8');
    expect(s.status).toBe('warn');
  });

  it('issue 9 item 1: a listener that detaches another or attaches a new one does not change the current round', () => {
    const s = new Sensor({ name: 'c', type: 'integer', now });
    const heard: string[] = [];
    const late = () => heard.push('late');
    const second = () => heard.push('second');
    s.attach(() => {
      heard.push('first');
      s.detach(second);
      s.attach(late);
    });
    s.attach(second);
    s.set(1);
    expect(heard).toEqual(['first', 'second']);
    s.set(2);
    expect(heard).toEqual(['first', 'second', 'first', 'late']);
  });

  it('issue 9 item 1: formattedValue writes the value as KATCP does', () => {
    const cases: [SensorType, Parameters<Sensor['set']>[0], string][] = [
      ['integer', 42, '42'],
      ['float', Number.NaN, 'nan'],
      ['float', Number.POSITIVE_INFINITY, 'inf'],
      ['float', 0.25, '0.25'],
      ['boolean', true, '1'],
      ['boolean', false, '0'],
      ['timestamp', 1795421238.57603, '1795421238.57603'],
      ['string', 'a b', 'a b'],
      ['address', { host: '127.0.0.1', port: 4444 }, '127.0.0.1:4444'],
    ];
    for (const [type, value, text] of cases) {
      const s = new Sensor({ name: 'v', type, now });
      s.set(value);
      expect(s.formattedValue(), `${type} ${String(value)}`).toBe(text);
    }
  });
});
