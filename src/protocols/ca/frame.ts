/**
 * Channel Access message framing (caProto.h `caHdr`, caproto `_headers.py`): pure, no sockets, no timers.
 *
 *   standard header, 16 bytes:  u16 command | u16 payloadSize | u16 dataType | u16 count | u32 p1 | u32 p2
 *   extended header, 24 bytes:  u16 command | 0xFFFF         | u16 dataType | 0x0000    | u32 p1 | u32 p2
 *                               | u32 payloadSize | u32 count                     (V4.9+, large arrays)
 *
 * Every integer is big-endian. The payload is zero-padded to a multiple of 8 and `payloadSize` holds the padded
 * size. A reader takes the extended form when `payloadSize == 0xFFFF && count == 0` (caproto); a writer uses it when
 * the padded payload >= 0xFFFF or count >= 0xFFFF (rsrv `cas_copy_in_header`: `>=`, because 0xFFFF is the marker).
 *
 * Differences from upstream, on purpose: the streaming parser refuses a payload larger than `maxPayload` (64 MiB
 * by default; libca bounds it by EPICS_CA_MAX_ARRAY_BYTES, caproto not at all) with a CaProtocolError and stays
 * failed afterwards, so a hostile peer costs at most one frame of memory; unpadded payloads are accepted as libca
 * does (the payload handed out is exactly `payloadSize` bytes).
 */
import { CaProtocolError, CaValueError } from './errors.js';

/** A message header (both forms): `p1`/`p2` are caproto's `parameter1`/`parameter2` (m_cid/m_available). */
export interface CaHeader {
  command: number;
  dataType: number;
  count: number;
  p1: number;
  p2: number;
}

/** A decoded message: payload is exactly the header's payload size (padding included). It may be a VIEW into the
 *  bytes given to the parser (no copy); the parser never reuses memory it handed out. */
export interface CaFrame extends CaHeader {
  payload: Buffer;
}

export const HEADER_SIZE = 16;
export const EXTENDED_HEADER_SIZE = 24;
/** The 16-bit marker in `payloadSize` (with count 0) that announces the extended header. */
export const EXTENDED_MARKER = 0xffff;
/** Default largest payload the streaming parser accepts (64 MiB). */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;

/** `size` rounded up to a multiple of 8 (`CA_MESSAGE_ALIGN`). */
export function padded(size: number): number {
  return Math.ceil(size / 8) * 8;
}

/** Whether a message with this padded payload size and count needs the 24-byte header. */
export function needsExtendedHeader(paddedPayloadSize: number, count: number): boolean {
  return paddedPayloadSize >= EXTENDED_MARKER || count >= EXTENDED_MARKER;
}

/** Bytes `encodeFrame` writes for a payload of `payloadSize` (unpadded) bytes and `count` elements. */
export function encodedFrameSize(payloadSize: number, count: number): number {
  const size = padded(payloadSize);
  return (needsExtendedHeader(size, count) ? EXTENDED_HEADER_SIZE : HEADER_SIZE) + size;
}

function checkUint(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new CaValueError(`CA header ${name} must be an integer 0..${max}, got ${value}`);
  }
}

function checkHeader(header: CaHeader): void {
  checkUint('command', header.command, 0xffff);
  checkUint('dataType', header.dataType, 0xffff);
  checkUint('count', header.count, 0xffffffff);
  checkUint('p1', header.p1, 0xffffffff);
  checkUint('p2', header.p2, 0xffffffff);
}

/** Writes the same bytes as `encodeFrame` into `target` at `offset` and returns the new offset (batching without
 *  concat). CaValueError when a header field is out of range or `target` is too small. */
export function encodeFrameInto(
  target: Buffer,
  offset: number,
  header: CaHeader,
  payload?: Uint8Array,
): number {
  checkHeader(header);
  const length = payload?.length ?? 0;
  const size = padded(length);
  if (size > 0xffffffff) throw new CaValueError(`CA payload of ${length} bytes is too large`);
  const extended = needsExtendedHeader(size, header.count);
  const end = offset + (extended ? EXTENDED_HEADER_SIZE : HEADER_SIZE) + size;
  if (!Number.isInteger(offset) || offset < 0 || end > target.length) {
    throw new CaValueError(`CA frame of ${end - offset} bytes does not fit at offset ${offset}`);
  }
  target.writeUInt16BE(header.command, offset);
  target.writeUInt16BE(header.dataType, offset + 4);
  target.writeUInt32BE(header.p1, offset + 8);
  target.writeUInt32BE(header.p2, offset + 12);
  let at: number;
  if (extended) {
    target.writeUInt16BE(EXTENDED_MARKER, offset + 2);
    target.writeUInt16BE(0, offset + 6);
    target.writeUInt32BE(size, offset + 16);
    target.writeUInt32BE(header.count, offset + 20);
    at = offset + EXTENDED_HEADER_SIZE;
  } else {
    target.writeUInt16BE(size, offset + 2);
    target.writeUInt16BE(header.count, offset + 6);
    at = offset + HEADER_SIZE;
  }
  if (payload !== undefined && length > 0) target.set(payload, at);
  if (size > length) target.fill(0, at + length, at + size);
  return end;
}

/** Header + payload zero-padded to 8; extended (24-byte) header when the padded payload >= 0xFFFF or
 *  count >= 0xFFFF. */
export function encodeFrame(header: CaHeader, payload?: Uint8Array): Buffer {
  const target = Buffer.allocUnsafe(encodedFrameSize(payload?.length ?? 0, header.count));
  encodeFrameInto(target, 0, header, payload);
  return target;
}

/** The header at `offset` of `bytes` (at least 16 bytes there) and its size, or undefined when it is extended and
 *  fewer than 24 bytes are there. */
function readHeader(
  bytes: Buffer,
  offset: number,
): { header: CaHeader; headerSize: number; payloadSize: number } | undefined {
  const command = bytes.readUInt16BE(offset);
  const shortSize = bytes.readUInt16BE(offset + 2);
  const dataType = bytes.readUInt16BE(offset + 4);
  const shortCount = bytes.readUInt16BE(offset + 6);
  const p1 = bytes.readUInt32BE(offset + 8);
  const p2 = bytes.readUInt32BE(offset + 12);
  if (shortSize === EXTENDED_MARKER && shortCount === 0) {
    if (bytes.length - offset < EXTENDED_HEADER_SIZE) return undefined;
    const payloadSize = bytes.readUInt32BE(offset + 16);
    const count = bytes.readUInt32BE(offset + 20);
    return { header: { command, dataType, count, p1, p2 }, headerSize: EXTENDED_HEADER_SIZE, payloadSize };
  }
  return {
    header: { command, dataType, count: shortCount, p1, p2 },
    headerSize: HEADER_SIZE,
    payloadSize: shortSize,
  };
}

function frameOf(header: CaHeader, payload: Buffer): CaFrame {
  return {
    command: header.command,
    dataType: header.dataType,
    count: header.count,
    p1: header.p1,
    p2: header.p2,
    payload,
  };
}

/** All messages of one UDP datagram; CaProtocolError on a truncated message. */
export function decodeDatagram(datagram: Buffer): CaFrame[] {
  const frames: CaFrame[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    const remaining = datagram.length - offset;
    if (remaining < HEADER_SIZE) {
      throw new CaProtocolError(`truncated CA datagram: ${remaining} bytes left where a header needs 16`);
    }
    const read = readHeader(datagram, offset);
    if (read === undefined) {
      throw new CaProtocolError(
        `truncated CA datagram: ${remaining} bytes left where an extended header needs 24`,
      );
    }
    const end = offset + read.headerSize + read.payloadSize;
    if (end > datagram.length) {
      throw new CaProtocolError(
        `truncated CA datagram: message needs ${read.headerSize + read.payloadSize} bytes, ${remaining} left`,
      );
    }
    frames.push(frameOf(read.header, datagram.subarray(offset + read.headerSize, end)));
    offset = end;
  }
  return frames;
}

/** A payload at least this large is read from the socket straight into its own buffer (`readBuffer`). */
export const DIRECT_READ_MIN_PAYLOAD = 16 * 1024;
/** The size of a read buffer outside a large payload (`readBuffer`), as Node's own reads. */
export const READ_CHUNK_SIZE = 64 * 1024;

export interface FrameParserOptions {
  /**
   * Largest payload accepted, in bytes (default 64 MiB); a larger one is a CaProtocolError. A function is asked
   * at each header (a server whose largest PV grows after a client connected raises its clients' limit too).
   */
  maxPayload?: number | (() => number);
}

/** Streaming TCP parser: bytes split/merged arbitrarily; emits each complete frame in order. After it throws
 *  (CaProtocolError) it stays failed (the circuit is closed by its owner). Memory bounded by maxPayload.
 *
 *  A frame that arrives inside one chunk is handed out as a view into that chunk (no copy). A frame spread over
 *  chunks is gathered into a fresh payload buffer allocated once its header is known, each chunk copied in as it
 *  arrives (while it is still in cache); header bytes split across chunks wait in a 24-byte scratch. An exception
 *  thrown by `onFrame` propagates out of `push` and leaves the parser failed too (the rest of that chunk is lost,
 *  so the stream position is). */
export class FrameParser {
  readonly #maxPayload: number | (() => number);
  /** Header bytes of an incomplete frame whose header is not complete yet. */
  readonly #head = Buffer.alloc(EXTENDED_HEADER_SIZE);
  #headBytes = 0;
  /** The incomplete frame whose header is known: its header, payload buffer and how much of it is filled. */
  #header: CaHeader | undefined;
  #headerSize = 0;
  #payload: Buffer | undefined;
  #filled = 0;
  #failure: unknown;
  #failed = false;
  /** The direct buffer (the rest of a large payload) last handed out by `readBuffer`. */
  #direct: Buffer | undefined;
  /** The read buffer outside large payloads: reused until a frame is handed out as a view into it. */
  #scratch: Buffer | undefined;
  /** The chunk being pushed was handed out (a frame viewing it) or began a large payload. */
  #spent = false;

  constructor(options: FrameParserOptions = {}) {
    const max = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (typeof max !== 'function' && (!Number.isInteger(max) || max < 0 || max > 0xffffffff)) {
      throw new CaValueError(`maxPayload must be an integer 0..2^32-1 or a function, got ${String(max)}`);
    }
    this.#maxPayload = max;
  }

  /** Bytes held for an incomplete frame (header included). */
  get buffered(): number {
    return this.#payload === undefined ? this.#headBytes : this.#headerSize + this.#filled;
  }

  push(chunk: Buffer, onFrame: (frame: CaFrame) => void): void {
    if (this.#failed) throw this.#failure;
    this.#direct = undefined; // a buffer readBuffer handed out before no longer means "the rest of a payload"
    try {
      this.#push(chunk, onFrame);
    } catch (error) {
      this.#fail(error);
      throw error;
    }
  }

  /**
   * Where the socket should read its next bytes (Node's `net.Socket` `onread.buffer`): the unfilled rest of the
   * payload of a large frame being received (at least DIRECT_READ_MIN_PAYLOAD bytes), so the kernel copies
   * straight into the buffer the frame is handed out in; else a READ_CHUNK_SIZE buffer, reused until a frame was
   * handed out as a view into it or a large payload began in it. (Renewing it once per large payload keeps the C
   * allocator from returning the freed payloads' memory to the kernel: without it every 800 kB read got fresh
   * pages, ~180 page faults, twice the CPU. Renewing it on every read costs small reads a 64 KiB allocation.)
   * Hand the bytes read to `pushRead`.
   */
  readBuffer(): Buffer {
    const payload = this.#payload;
    if (payload !== undefined && payload.length >= DIRECT_READ_MIN_PAYLOAD && !this.#failed) {
      this.#direct = payload.subarray(this.#filled);
      return this.#direct;
    }
    this.#direct = undefined;
    this.#scratch ??= Buffer.allocUnsafe(READ_CHUNK_SIZE);
    return this.#scratch;
  }

  /**
   * `n` bytes were read into `buffer`, the last one `readBuffer` returned. Bytes read into a frame's payload are
   * just counted; other bytes are parsed as by `push` (a small read is copied out first, as Node shrinks its own
   * reads: a value kept by the user then holds only its own bytes, not a 64 KiB buffer).
   */
  pushRead(buffer: Buffer, n: number, onFrame: (frame: CaFrame) => void): void {
    if (this.#failed) throw this.#failure;
    if (!Number.isInteger(n) || n < 0 || n > buffer.length)
      throw new CaValueError(`pushRead: ${n} bytes cannot have been read into ${buffer.length}`);
    if (buffer === this.#direct) {
      this.#direct = undefined;
      const payload = this.#payload as Buffer;
      this.#filled += n;
      if (this.#filled < payload.length) return;
      const header = this.#header as CaHeader;
      this.#header = undefined;
      this.#payload = undefined;
      this.#filled = 0;
      try {
        onFrame(frameOf(header, payload));
      } catch (error) {
        this.#fail(error);
        throw error;
      }
      return;
    }
    if (n < READ_CHUNK_SIZE / 2) {
      this.push(Buffer.from(buffer.subarray(0, n)), onFrame); // a copy: the read buffer stays ours
      if (this.#payload !== undefined && this.#payload.length >= DIRECT_READ_MIN_PAYLOAD)
        this.#scratch = undefined;
      return;
    }
    this.#spent = false;
    this.push(buffer.subarray(0, n), onFrame);
    if (this.#spent && buffer === this.#scratch) this.#scratch = undefined;
  }

  #fail(error: unknown): void {
    this.#failed = true;
    this.#failure = error;
    this.#payload = undefined;
    this.#header = undefined;
    this.#direct = undefined;
    this.#headBytes = 0;
  }

  #push(chunk: Buffer, onFrame: (frame: CaFrame) => void): void {
    let offset = 0;
    if (this.#headBytes > 0) {
      offset = this.#fillHead(chunk);
      if (this.#header === undefined) return;
    }
    if (this.#header !== undefined) {
      const payload = this.#payload!;
      const n = Math.min(chunk.length - offset, payload.length - this.#filled);
      chunk.copy(payload, this.#filled, offset, offset + n);
      this.#filled += n;
      offset += n;
      if (this.#filled < payload.length) return;
      const header = this.#header;
      this.#header = undefined;
      this.#payload = undefined;
      this.#filled = 0;
      onFrame(frameOf(header, payload));
    }
    while (offset < chunk.length) {
      const remaining = chunk.length - offset;
      const read = remaining < HEADER_SIZE ? undefined : readHeader(chunk, offset);
      if (read === undefined) {
        this.#headBytes = chunk.copy(this.#head, 0, offset);
        return;
      }
      this.#checkPayload(read.payloadSize);
      const size = read.headerSize + read.payloadSize;
      if (remaining < size) {
        this.#start(read.header, read.headerSize, read.payloadSize);
        this.#filled = chunk.copy(this.#payload!, 0, offset + read.headerSize);
        return;
      }
      this.#spent = true;
      onFrame(frameOf(read.header, chunk.subarray(offset + read.headerSize, offset + size)));
      offset += size;
    }
  }

  #checkPayload(payloadSize: number): void {
    const max = typeof this.#maxPayload === 'function' ? this.#maxPayload() : this.#maxPayload;
    if (payloadSize > max) {
      throw new CaProtocolError(`CA payload of ${payloadSize} bytes exceeds the limit of ${max}`);
    }
  }

  #start(header: CaHeader, headerSize: number, payloadSize: number): void {
    if (payloadSize >= DIRECT_READ_MIN_PAYLOAD) this.#spent = true;
    this.#header = header;
    this.#headerSize = headerSize;
    this.#payload = Buffer.allocUnsafe(payloadSize);
    this.#filled = 0;
  }

  /** Completes the split header from `chunk`; returns the bytes of `chunk` used. Once the header is whole the
   *  frame is started (its payload buffer allocated). */
  #fillHead(chunk: Buffer): number {
    let used = 0;
    for (;;) {
      const wanted =
        this.#headBytes >= HEADER_SIZE &&
        this.#head.readUInt16BE(2) === EXTENDED_MARKER &&
        this.#head.readUInt16BE(6) === 0
          ? EXTENDED_HEADER_SIZE
          : HEADER_SIZE;
      if (this.#headBytes < wanted) {
        const n = chunk.copy(this.#head, this.#headBytes, used, used + wanted - this.#headBytes);
        this.#headBytes += n;
        used += n;
        if (this.#headBytes < wanted) return used;
        if (wanted === HEADER_SIZE) continue; // it may announce an extended header
      }
      const read = readHeader(this.#head.subarray(0, this.#headBytes), 0)!;
      this.#headBytes = 0;
      this.#checkPayload(read.payloadSize);
      this.#start(read.header, read.headerSize, read.payloadSize);
      return used;
    }
  }
}
