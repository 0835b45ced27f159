/**
 * The FrameParser's socket-read path (`readBuffer` / `pushRead`, what `net.Socket` `onread` drives): the kernel's
 * bytes land in the buffer the parser chooses. Properties: any frames read in any read sizes parse exactly as
 * `push` parses them; the rest of a large payload is read straight into the buffer the frame is handed out in (no
 * copy); a frame handed out is never overwritten by later reads (the read buffer is reused only while nothing
 * views it). And over a real socket: an 800 kB array read arrives whole and correct.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChannelType } from '../../src/protocols/ca/constants.js';
import { decodeDbr, encodeDbr } from '../../src/protocols/ca/dbr.js';
import {
  type CaFrame,
  type CaHeader,
  DIRECT_READ_MIN_PAYLOAD,
  encodeFrame,
  FrameParser,
  padded,
  READ_CHUNK_SIZE,
} from '../../src/protocols/ca/frame.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { useCaPeers } from './support/caContext.js';

const peers = useCaPeers();

/** Feeds `stream` to `parser` as a socket would: each read fills at most `sizes[i]` bytes of `readBuffer()`. */
function readAll(parser: FrameParser, stream: Buffer, sizes: number[], onFrame: (f: CaFrame) => void): void {
  let at = 0;
  for (let i = 0; at < stream.length; i++) {
    const target = parser.readBuffer();
    const want = Math.max(1, sizes.length > 0 ? (sizes[i % sizes.length] as number) : target.length);
    const n = Math.min(want, target.length, stream.length - at);
    stream.copy(target, 0, at, at + n);
    at += n;
    parser.pushRead(target, n, onFrame);
  }
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const header: fc.Arbitrary<CaHeader> = fc.record({
  command: u16,
  dataType: u16,
  count: fc.integer({ min: 0, max: 20 }),
  p1: u32,
  p2: u32,
});
const payloadLength = fc.oneof(
  fc.integer({ min: 0, max: 80 }),
  fc.integer({ min: DIRECT_READ_MIN_PAYLOAD - 16, max: DIRECT_READ_MIN_PAYLOAD + 16 }),
  fc.integer({ min: READ_CHUNK_SIZE - 40, max: 3 * READ_CHUNK_SIZE }),
);
const frameSpec = fc.record({ header, length: payloadLength, seed: fc.nat(255) });
const readSize = fc.oneof(
  fc.integer({ min: 1, max: 40 }),
  fc.integer({ min: 1, max: READ_CHUNK_SIZE }),
  fc.constant(READ_CHUNK_SIZE),
);

const bytesOf = (length: number, seed: number) => {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
};

describe('issue 11 item 1: FrameParser read buffers', () => {
  it('issue 11 item 1: frames read through readBuffer/pushRead in any read sizes parse as push parses them, and stay intact', () => {
    fc.assert(
      fc.property(
        fc.array(frameSpec, { minLength: 1, maxLength: 5 }),
        fc.array(readSize, { maxLength: 6 }),
        (specs, sizes) => {
          const stream = Buffer.concat(specs.map((s) => encodeFrame(s.header, bytesOf(s.length, s.seed))));
          const parser = new FrameParser();
          const frames: CaFrame[] = [];
          readAll(parser, stream, sizes, (f) => frames.push(f));
          expect(parser.buffered).toBe(0);
          expect(frames).toHaveLength(specs.length);
          // checked after every read: a frame handed out earlier was not overwritten by later reads
          specs.forEach((spec, i) => {
            const { payload, ...fields } = frames[i] as CaFrame;
            expect(fields).toEqual(spec.header);
            const expected = Buffer.alloc(padded(spec.length));
            bytesOf(spec.length, spec.seed).copy(expected);
            expect(payload.equals(expected)).toBe(true);
          });
        },
      ),
      { numRuns: propertyRuns(300) },
    );
  }, 120_000);

  it('issue 11 item 1: the rest of a large payload is read straight into the buffer the frame is handed out in', () => {
    const data = new Float64Array(100_000).map((_, i) => i * 0.5);
    const stream = encodeFrame(
      { command: 15, dataType: ChannelType.DOUBLE, count: data.length, p1: 1, p2: 9 },
      encodeDbr(ChannelType.DOUBLE, data),
    );
    const parser = new FrameParser();
    const first = parser.readBuffer();
    expect(first.length).toBe(READ_CHUNK_SIZE);
    stream.copy(first, 0, 0, 1000);
    parser.pushRead(first, 1000, () => {});
    const direct = parser.readBuffer();
    expect(direct.length).toBe(stream.length - 1000);
    let frame: CaFrame | undefined;
    // the kernel's copy, simulated: straight into `direct`, in two reads
    stream.copy(direct, 0, 1000, 500_000);
    parser.pushRead(direct, 499_000, () => {});
    const rest = parser.readBuffer();
    expect(rest.buffer).toBe(direct.buffer);
    stream.copy(rest, 0, 500_000);
    parser.pushRead(rest, stream.length - 500_000, (f) => {
      frame = f;
    });
    expect(frame?.payload.buffer).toBe(direct.buffer);
    const value = decodeDbr(ChannelType.DOUBLE, data.length, frame?.payload as Buffer);
    expect(value.data).toEqual(data);
    // back to a read chunk once the frame is out
    expect(parser.readBuffer().length).toBe(READ_CHUNK_SIZE);
    expect(() => parser.pushRead(Buffer.alloc(4), 5, () => {})).toThrow(/cannot have been read/);
  });

  it('issue 11 item 8: 800 kB array reads over a real socket come whole and equal, again and again', async () => {
    const data = new Float64Array(100_000).map((_, i) => i * 0.25 - 7);
    const server = await peers.server({ pvs: [{ name: 'RB:array', type: 'double', value: data }] });
    const pv = peers.context(server).getPv('RB:array');
    const kept = [];
    for (let i = 0; i < 8; i++) kept.push(await pv.read({ timeout: 20_000 }));
    for (const r of kept) expect(r.data).toEqual(data);
  }, 60_000);
});
