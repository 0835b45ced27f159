/**
 * The framer's memory under a peer that trickles a message a byte per TCP segment: the bytes go into one buffer
 * (no Buffer kept per chunk, ~350× the bytes), at most the message's size, and the message decodes once whole.
 * The caller's chunks are not retained (a chunk reused after `push` does not change the message). Fragments are
 * joined the same way.
 */
import { describe, expect, it } from 'vitest';
import { encodeReply } from '../../../src/protocols/tango/giop/giopEncode.js';
import {
  FragmentAssembler,
  GiopFramer,
  type GiopReply,
  GiopStream,
} from '../../../src/protocols/tango/giop/index.js';

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

describe('GIOP framer memory', () => {
  it('100k one-byte chunks of a large message are held in one buffer, bounded by the message, and decode once complete', () => {
    const payload = pattern(100_000);
    const whole = encodeReply({ minor: 2, requestId: 9, status: 0 }, (w) => w.octetSeq(payload)).slice();
    const framer = new GiopFramer();
    const one = new Uint8Array(1); // reused for every push, as a ring buffer reader might
    const out: Uint8Array[] = [];
    let maxRetained = 0;
    for (let i = 0; i < whole.length; i++) {
      one[0] = whole[i];
      out.push(...framer.push(one));
      maxRetained = Math.max(maxRetained, framer.retainedBytes);
      if (i === whole.length - 2) {
        expect(framer.bufferedBytes).toBe(whole.length - 1);
        expect(framer.retainedBytes).toBeLessThanOrEqual(whole.length);
      }
    }
    expect(maxRetained).toBeLessThanOrEqual(whole.length);
    expect(out).toHaveLength(1);
    expect(Array.from(out[0])).toEqual(Array.from(whole));
    expect(framer.bufferedBytes).toBe(0);
    expect(framer.retainedBytes).toBe(0);
  });

  it('a 64 MiB announcement followed by a trickle holds about what arrived, not the announced size', () => {
    const framer = new GiopFramer();
    framer.push(Uint8Array.from([0x47, 0x49, 0x4f, 0x50, 1, 2, 1, 1, 0, 0, 0, 4])); // Reply, LE, body 64 MiB
    const one = new Uint8Array(1);
    for (let i = 0; i < 100_000; i++) framer.push(one);
    expect(framer.bufferedBytes).toBe(12 + 100_000);
    expect(framer.retainedBytes).toBeGreaterThanOrEqual(framer.bufferedBytes);
    expect(framer.retainedBytes).toBeLessThanOrEqual(2 * framer.bufferedBytes + 1024);
  });

  it('messages wholly inside a chunk are still returned, several per chunk, and split ones under any chunking', () => {
    const a = encodeReply({ minor: 2, requestId: 1, status: 0 }, (w) => w.octetSeq(pattern(300))).slice();
    const b = encodeReply({ minor: 2, requestId: 2, status: 0 }, (w) => w.octetSeq(pattern(5000))).slice();
    const stream = Buffer.concat([a, b, a, b]);
    for (const size of [1, 5, 12, 13, 311, 4096, stream.length]) {
      const giop = new GiopStream();
      const ids: number[] = [];
      for (let at = 0; at < stream.length; at += size) {
        const chunk = Uint8Array.from(stream.subarray(at, at + size));
        for (const m of giop.push(chunk)) ids.push((m as GiopReply).requestId);
        chunk.fill(0xee); // the framer copied what it keeps
      }
      expect(ids).toEqual([1, 2, 1, 2]);
      expect(giop.bufferedBytes).toBe(0);
    }
  });

  it('a message in many empty fragments and a last one reassembles', () => {
    const assembler = new FragmentAssembler({ maxMessageSize: 1 << 20 });
    const head = Uint8Array.from([0x47, 0x49, 0x4f, 0x50, 1, 2, 3, 1, 4, 0, 0, 0, 5, 0, 0, 0]); // Reply id 5, more
    expect(assembler.accept(head)).toBeUndefined();
    const fragment = (data: number[], more: boolean) =>
      Uint8Array.from([
        0x47,
        0x49,
        0x4f,
        0x50,
        1,
        2,
        more ? 3 : 1,
        7,
        4 + data.length,
        0,
        0,
        0,
        5,
        0,
        0,
        0,
        ...data,
      ]);
    for (let i = 0; i < 1000; i++) {
      const f = fragment([], true);
      expect(assembler.accept(f)).toBeUndefined();
    }
    const last = fragment([0, 0, 0, 0, 0, 0, 0, 0], false);
    const whole = assembler.accept(last);
    expect(whole?.length).toBe(24);
    expect((whole as Uint8Array)[6] & 2).toBe(0);
    expect(assembler.pendingCount).toBe(0);
  });
});
