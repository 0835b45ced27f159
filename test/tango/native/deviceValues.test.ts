// Tango values to plain JavaScript (deviceValues.ts) without a server: what the decoder hands over (zero-copy views
// into the reply) becomes the values a user keeps.
import { describe, expect, it } from 'vitest';
import { fromTangoValue, toDeviceAttribute } from '../../../src/protocols/tango/deviceValues.js';
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
