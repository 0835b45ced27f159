// Tango values to and from plain JavaScript (deviceValues.ts) without a server: what the decoder hands over
// (zero-copy views into the reply) becomes the values a user keeps; a bigint too large for a double is refused for a
// floating-point argument or attribute, as PyTango raises OverflowError (it silently became Infinity).
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import {
  fromTangoValue,
  toAttributeValue4,
  toDeviceAttribute,
  toTangoValue,
} from '../../../src/protocols/tango/deviceValues.js';
import type { TangoTypeName } from '../../../src/protocols/tango/giop/any.js';
import type { AttributeConfig5 } from '../../../src/protocols/tango/giop/attributeConfig.js';
import { GiopEncodeError, GiopProtocolError } from '../../../src/protocols/tango/giop/errors.js';
import type { AttributeValue5 } from '../../../src/protocols/tango/giop/tangoTypes.js';

describe('DevEncoded values', () => {
  it('a DevEncoded attribute read is its own bytes, as a DevEncoded command result: not a view that keeps the reply', () => {
    const reply = Buffer.alloc(1 << 20); // the decoder's octet sequences are views into the reply it decoded
    reply.set([0, 1, 255], 100);
    const av: AttributeValue5 = {
      value: {
        kind: 'ATT_ENCODED',
        value: [{ encoded_format: 'fmt', encoded_data: reply.subarray(100, 103) }],
      },
      quality: 0,
      data_format: 0,
      data_type: 28,
      time: { tv_sec: 1, tv_usec: 0, tv_nsec: 0 },
      name: 'enc',
      r_dim: { dim_x: 1, dim_y: 0 },
      w_dim: { dim_x: 0, dim_y: 0 },
      err_list: [],
    };
    const [format, bytes] = toDeviceAttribute(av).value as [string, Uint8Array];
    const [, commandBytes] = fromTangoValue({
      type: 'DevEncoded',
      value: { encoded_format: 'fmt', encoded_data: reply.subarray(100, 103) },
    }) as [string, Uint8Array];
    reply.fill(9);
    expect(format).toBe('fmt');
    for (const b of [bytes, commandBytes]) {
      expect(b.constructor).toBe(Uint8Array);
      expect([...b]).toEqual([0, 1, 255]);
      expect(b.buffer.byteLength).toBe(3);
    }
  });
});

describe('a bigint beyond the double range', () => {
  const HUGE = 2n ** 1024n; // Number(HUGE) is Infinity, as is Number(2n ** 1024n - 1n) (it rounds up)

  /** The error `f` throws (undefined when it returns). */
  function thrown(f: () => unknown): unknown {
    try {
      f();
    } catch (error) {
      return error;
    }
    return undefined;
  }
  function expectRefused(f: () => unknown, type: string): void {
    const error = thrown(f);
    expect(error).toBeInstanceOf(GiopEncodeError);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain(type);
  }

  it('is refused as a DevDouble or DevFloat command argument, scalar or in an array, naming the type (PyTango: OverflowError)', () => {
    const cases: [TangoTypeName, unknown][] = [
      ['DevDouble', HUGE],
      ['DevDouble', -HUGE],
      ['DevDouble', HUGE - 1n],
      ['DevFloat', HUGE],
      ['DevVarDoubleArray', [1, HUGE]],
      ['DevVarFloatArray', [-HUGE]],
      ['DevVarDoubleStringArray', [[HUGE], ['a']]],
    ];
    for (const [type, value] of cases) expectRefused(() => toTangoValue(type, value), type);
  });

  it('is refused as a DevDouble or DevFloat attribute value to write, scalar or spectrum, naming the type', () => {
    const config = (data_type: number, data_format: number) =>
      ({ name: 'x', data_type, data_format }) as AttributeConfig5;
    expectRefused(() => toAttributeValue4(config(5, 0), HUGE), 'DevDouble');
    expectRefused(() => toAttributeValue4(config(4, 0), -HUGE), 'DevFloat');
    expectRefused(() => toAttributeValue4(config(5, 1), [0, HUGE]), 'DevDouble');
    expectRefused(() => toAttributeValue4(config(4, 2), [[HUGE]]), 'DevFloat');
  });

  it('a bigint in the double range is its number: the largest double exactly; for DevFloat what that number gives', () => {
    const max = BigInt(Number.MAX_VALUE);
    expect(toTangoValue('DevDouble', max)).toEqual({ type: 'DevDouble', value: Number.MAX_VALUE });
    expect(toTangoValue('DevVarDoubleArray', [-max, 2n])).toEqual({
      type: 'DevVarDoubleArray',
      value: [-Number.MAX_VALUE, 2],
    });
    // beyond float32 but not double: as the number 1e39 (the float32 on the wire is Infinity, as PyTango's cast)
    expect(toTangoValue('DevFloat', 10n ** 39n)).toEqual(toTangoValue('DevFloat', 1e39));
  });
});

describe('attribute dimensions the values do not back', () => {
  /** A DevDouble attribute value of `format` (1 SPECTRUM, 2 IMAGE) with these elements and dimensions. */
  const attribute = (
    format: number,
    value: number[],
    r: [number, number],
    w: [number, number] = [0, 0],
  ): AttributeValue5 => ({
    value: { kind: 'ATT_DOUBLE', value },
    quality: 0,
    data_format: format,
    data_type: 5,
    time: { tv_sec: 1, tv_usec: 0, tv_nsec: 0 },
    name: 'img',
    r_dim: { dim_x: r[0], dim_y: r[1] },
    w_dim: { dim_x: w[0], dim_y: w[1] },
    err_list: [],
  });

  it('an image of a million rows announced by a reply of 6 values has only the rows its values fill', () => {
    // a few dozen bytes made a million empty arrays (2^31 - 1 rows: out of memory), for a read or every event
    expect(toDeviceAttribute(attribute(2, [1, 2, 3, 4, 5, 6], [0, 1_000_000])).value).toEqual([]);
    expect(toDeviceAttribute(attribute(2, [1, 2, 3, 4, 5, 6], [2, 1_000_000])).value).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const rw = toDeviceAttribute(attribute(2, [1, 2, 3, 4, 5, 6], [2, 2], [1, 1_000_000]));
    expect(rw.value).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(rw.wValue).toEqual([[5], [6]]);
  });

  it('a whole image reads as before', () => {
    const a = toDeviceAttribute(attribute(2, [1, 2, 3, 4, 5, 6, 7, 8], [2, 2], [2, 2]));
    expect(a.value).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(a.wValue).toEqual([
      [5, 6],
      [7, 8],
    ]);
  });

  it('a negative dimension is GiopProtocolError (a spectrum of dim_x -2 read as all but its last 2 values)', () => {
    for (const [format, r, w] of [
      [1, [-2, 0], [0, 0]],
      [2, [2, -1], [0, 0]],
      [1, [4, 0], [-1, 0]],
      [2, [2, 2], [2, -5]],
    ] as [number, [number, number], [number, number]][]) {
      expect(() => toDeviceAttribute(attribute(format, [1, 2, 3, 4], r, w))).toThrow(GiopProtocolError);
    }
  });
});
