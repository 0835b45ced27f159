/**
 * Channel Access framing (`src/protocols/ca/frame.ts`): padding to 8, the extended header exactly when the padded
 * payload or the count reaches 0xFFFF, the 800 000-byte READ_NOTIFY header the notes captured, the streaming
 * parser under every split point, merged frames, an extended header split inside its 24 bytes, the payload limit
 * (CaProtocolError, then failed for good), zero-copy views, and truncated datagrams.
 */
import { describe, expect, it } from 'vitest';
import { CaProtocolError, CaValueError } from '../../src/protocols/ca/errors.js';
import {
  type CaFrame,
  type CaHeader,
  DEFAULT_MAX_PAYLOAD,
  decodeDatagram,
  EXTENDED_HEADER_SIZE,
  encodedFrameSize,
  encodeFrame,
  encodeFrameInto,
  FrameParser,
  HEADER_SIZE,
  padded,
} from '../../src/protocols/ca/frame.js';
import { bytesOf, EXTENDED_READ_NOTIFY_HEADER } from './fixtures/caprotoVectors.js';

const header = (command: number, count = 1, p1 = 1, p2 = 2, dataType = 6): CaHeader => ({
  command,
  dataType,
  count,
  p1,
  p2,
});
const fields = (f: CaFrame) => ({
  command: f.command,
  dataType: f.dataType,
  count: f.count,
  p1: f.p1,
  p2: f.p2,
});

function parseAll(parser: FrameParser, chunks: Buffer[]): CaFrame[] {
  const frames: CaFrame[] = [];
  for (const chunk of chunks) parser.push(chunk, (f) => frames.push(f));
  return frames;
}

describe('issue 11 item 1: CA frame encoding', () => {
  it('issue 11 item 1: payloads are zero-padded to a multiple of 8 and the size field holds the padded size', () => {
    expect([0, 1, 7, 8, 9, 16, 17].map(padded)).toEqual([0, 8, 8, 8, 16, 16, 24]);
    for (let n = 0; n <= 17; n++) {
      const payload = Buffer.alloc(n, 0xab);
      const bytes = encodeFrame(header(15), payload);
      expect(bytes.length).toBe(HEADER_SIZE + padded(n));
      expect(bytes.readUInt16BE(2)).toBe(padded(n));
      expect(bytes.subarray(16, 16 + n).every((b) => b === 0xab)).toBe(true);
      expect(bytes.subarray(16 + n).every((b) => b === 0)).toBe(true);
      expect(encodedFrameSize(n, 1)).toBe(bytes.length);
    }
  });

  it('issue 11 item 1: the extended header is used exactly when the padded payload >= 0xFFFF or count >= 0xFFFF', () => {
    const standard = encodeFrame(header(15, 0xfffe), Buffer.alloc(0xfff8));
    expect(standard.length).toBe(HEADER_SIZE + 0xfff8);
    expect(standard.readUInt16BE(2)).toBe(0xfff8);
    expect(standard.readUInt16BE(6)).toBe(0xfffe);

    // count 0xFFFF itself: the marker value, so extended (rsrv `>=`).
    const countBoundary = encodeFrame(header(15, 0xffff));
    expect(countBoundary.length).toBe(EXTENDED_HEADER_SIZE);
    expect(countBoundary.readUInt16BE(2)).toBe(0xffff);
    expect(countBoundary.readUInt16BE(6)).toBe(0);
    expect(countBoundary.readUInt32BE(16)).toBe(0);
    expect(countBoundary.readUInt32BE(20)).toBe(0xffff);

    // 0xFFF9..0xFFFF bytes pad to 0x10000 >= 0xFFFF: extended.
    const sizeBoundary = encodeFrame(header(15, 1), Buffer.alloc(0xfff9));
    expect(sizeBoundary.length).toBe(EXTENDED_HEADER_SIZE + 0x10000);
    expect(sizeBoundary.readUInt32BE(16)).toBe(0x10000);
    expect(sizeBoundary.readUInt32BE(20)).toBe(1);
    expect(encodedFrameSize(0xfff9, 1)).toBe(sizeBoundary.length);
    expect(encodedFrameSize(0xfff8, 0xfffe)).toBe(HEADER_SIZE + 0xfff8);
    expect(encodedFrameSize(0, 0xffff)).toBe(EXTENDED_HEADER_SIZE);

    const payloadLengths = [standard, countBoundary, sizeBoundary].map(
      (b) => decodeDatagram(b)[0].payload.length,
    );
    expect(payloadLengths).toEqual([0xfff8, 0, 0x10000]);
    expect(decodeDatagram(countBoundary)[0].count).toBe(0xffff);
  });

  it('issue 11 item 1: the 800 000-byte READ_NOTIFY reply header is the one the caproto IOC sent', () => {
    const payload = Buffer.alloc(800_000);
    const bytes = encodeFrame({ command: 15, dataType: 6, count: 100_000, p1: 1, p2: 1 }, payload);
    expect(bytes.subarray(0, 24).toString('hex')).toBe(bytesOf(EXTENDED_READ_NOTIFY_HEADER).toString('hex'));
    expect(bytes.length).toBe(800_024);
    const [frame] = decodeDatagram(bytes);
    expect(fields(frame)).toEqual({ command: 15, dataType: 6, count: 100_000, p1: 1, p2: 1 });
    expect(frame.payload.length).toBe(800_000);
  });

  it('issue 11 item 1: encodeFrameInto writes the same bytes at an offset and returns the end', () => {
    const target = Buffer.alloc(100, 0xee);
    const end = encodeFrameInto(target, 3, header(21, 0, 0, 0, 0), Buffer.from('vm\0'));
    expect(end).toBe(3 + 24);
    expect(target.subarray(3, end).toString('hex')).toBe(
      encodeFrame(header(21, 0, 0, 0, 0), Buffer.from('vm\0')).toString('hex'),
    );
    expect(target[2]).toBe(0xee);
    expect(target[end]).toBe(0xee);
    expect(() => encodeFrameInto(Buffer.alloc(20), 0, header(1), Buffer.alloc(8))).toThrow(CaValueError);
  });

  it('issue 11 item 1: header fields out of range are refused with CaValueError', () => {
    expect(() => encodeFrame(header(0x10000))).toThrow(CaValueError);
    expect(() => encodeFrame(header(1, -1))).toThrow(CaValueError);
    expect(() => encodeFrame(header(1, 1, 2 ** 32))).toThrow(CaValueError);
    expect(() => encodeFrame(header(1, 1, 1, 1.5))).toThrow(CaValueError);
    expect(() => encodeFrame(header(1, 1, 1, 1, 0x10000))).toThrow(CaValueError);
    expect(encodeFrame(header(1, 0xffffffff, 0xffffffff, 0xffffffff)).length).toBe(24);
  });
});

describe('issue 11 item 1: the streaming FrameParser', () => {
  const stream = Buffer.concat([
    encodeFrame(header(0, 13, 0, 0, 1)),
    encodeFrame(header(15, 3), Buffer.alloc(24, 7)),
    encodeFrame(header(15, 100_000), Buffer.alloc(800, 9)), // extended (count)
    encodeFrame(header(23, 0, 0, 0, 0)),
    encodeFrame(header(6, 13, 42, 42, 5), Buffer.from('simple:B\0')),
  ]);
  const expected = decodeDatagram(stream).map((f) => ({ ...fields(f), payload: f.payload.toString('hex') }));

  it('issue 11 item 1: every split point of a multi-frame stream yields the same frames (2 and 3 pieces)', () => {
    for (let i = 0; i <= stream.length; i++) {
      const parser = new FrameParser();
      const frames = parseAll(parser, [stream.subarray(0, i), stream.subarray(i)]);
      expect(frames.map((f) => ({ ...fields(f), payload: f.payload.toString('hex') }))).toEqual(expected);
      expect(parser.buffered).toBe(0);
    }
    for (let i = 0; i < stream.length; i += 7) {
      for (let j = i; j <= stream.length; j += 13) {
        const frames = parseAll(new FrameParser(), [
          stream.subarray(0, i),
          stream.subarray(i, j),
          stream.subarray(j),
        ]);
        expect(frames.length).toBe(expected.length);
      }
    }
  });

  it('issue 11 item 1: one byte at a time, and the whole stream in one chunk', () => {
    const bytes = Array.from(stream, (_, i) => stream.subarray(i, i + 1));
    const parser = new FrameParser();
    const frames = parseAll(parser, bytes);
    expect(frames.map((f) => ({ ...fields(f), payload: f.payload.toString('hex') }))).toEqual(expected);
    expect(parseAll(new FrameParser(), [stream]).length).toBe(expected.length);
  });

  it('issue 11 item 1: an extended header split at every byte inside its 24 bytes', () => {
    const frame = encodeFrame(header(15, 0xffff), Buffer.alloc(16, 1));
    for (let i = 1; i < 24; i++) {
      const parser = new FrameParser();
      const frames = parseAll(parser, [frame.subarray(0, i)]);
      expect(frames).toEqual([]);
      expect(parser.buffered).toBe(i);
      frames.push(...parseAll(parser, [frame.subarray(i)]));
      expect(frames.length).toBe(1);
      expect(frames[0].count).toBe(0xffff);
      expect(frames[0].payload.length).toBe(16);
    }
  });

  it('issue 11 item 1: a frame inside one chunk is a view into it (no copy); a gathered one is a fresh buffer', () => {
    const chunk = encodeFrame(header(15, 1), Buffer.alloc(8, 3));
    const [frame] = parseAll(new FrameParser(), [chunk]);
    expect(frame.payload.buffer).toBe(chunk.buffer);
    expect(frame.payload.byteOffset).toBe(chunk.byteOffset + 16);
    const parser = new FrameParser();
    const [gathered] = parseAll(parser, [chunk.subarray(0, 20), chunk.subarray(20)]);
    const before = gathered.payload.toString('hex');
    expect(before).toBe(frame.payload.toString('hex'));
    chunk.fill(0xff);
    expect(gathered.payload.toString('hex')).toBe(before);
  });

  it('issue 11 item 1: unpadded payloads (libca tolerates them) are handed out at their stated size', () => {
    const bytes = Buffer.concat([
      encodeFrame(header(1)),
      Buffer.from('000a0000000000000000000000000000', 'hex'),
    ]);
    bytes.writeUInt16BE(3, 2); // 3-byte payload: not a multiple of 8
    const frames = parseAll(new FrameParser(), [bytes]);
    expect(frames.map((f) => f.payload.length)).toEqual([3]);
  });

  it('issue 11 item 1: a payload over maxPayload is a CaProtocolError and the parser stays failed', () => {
    const parser = new FrameParser({ maxPayload: 64 });
    expect(parseAll(parser, [encodeFrame(header(15, 1), Buffer.alloc(64))]).length).toBe(1);
    expect(() => parseAll(parser, [encodeFrame(header(15, 1), Buffer.alloc(72)).subarray(0, 16)])).toThrow(
      CaProtocolError,
    );
    expect(parser.buffered).toBe(0);
    expect(() => parseAll(parser, [encodeFrame(header(23, 0))])).toThrow(CaProtocolError);

    // Announced by an extended header split across chunks: refused as soon as the 24 bytes are in.
    const ext = new FrameParser({ maxPayload: 1000 });
    const big = encodeFrame(header(15, 0xffff), Buffer.alloc(1008));
    parseAll(ext, [big.subarray(0, 20)]);
    expect(() => parseAll(ext, [big.subarray(20, 30)])).toThrow(CaProtocolError);
    expect(DEFAULT_MAX_PAYLOAD).toBe(64 * 1024 * 1024);
    expect(() => new FrameParser({ maxPayload: -1 })).toThrow(CaValueError);
  });

  it('issue 11 item 1: an exception from onFrame propagates and leaves the parser failed', () => {
    const parser = new FrameParser();
    const boom = new Error('listener');
    expect(() =>
      parser.push(encodeFrame(header(23, 0)), () => {
        throw boom;
      }),
    ).toThrow(boom);
    expect(() => parser.push(encodeFrame(header(23, 0)), () => {})).toThrow(boom);
  });

  it('issue 11 item 1: a small tail of a large chunk is copied (the chunk is not held)', () => {
    const parser = new FrameParser();
    const chunk = Buffer.concat([
      encodeFrame(header(15, 1), Buffer.alloc(4000)),
      encodeFrame(header(23, 0)).subarray(0, 5),
    ]);
    parseAll(parser, [chunk]);
    expect(parser.buffered).toBe(5);
  });
});

describe('issue 11 item 1: UDP datagrams', () => {
  it('issue 11 item 1: every message of a datagram, in order; empty datagram is no message', () => {
    const datagram = Buffer.concat([
      encodeFrame(header(0, 13, 7, 0, 1)),
      encodeFrame(header(6, 13, 1, 1, 5), Buffer.from('a\0')),
    ]);
    expect(decodeDatagram(datagram).map((f) => f.command)).toEqual([0, 6]);
    expect(decodeDatagram(Buffer.alloc(0))).toEqual([]);
  });

  it('issue 11 item 1: a truncated message (header, extended header or payload) is a CaProtocolError', () => {
    const good = Buffer.concat([
      encodeFrame(header(0, 13)),
      encodeFrame(header(6, 13), Buffer.from('simple:A\0')),
    ]);
    for (let cut = 1; cut < good.length; cut++) {
      if (cut === 16) continue; // a whole first message
      expect(() => decodeDatagram(good.subarray(0, cut))).toThrow(CaProtocolError);
    }
    const ext = encodeFrame(header(15, 0xffff));
    for (let cut = 16; cut < 24; cut++)
      expect(() => decodeDatagram(ext.subarray(0, cut))).toThrow(CaProtocolError);
  });
});
