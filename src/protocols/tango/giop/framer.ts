/**
 * The GIOP byte stream: `GiopFramer` cuts TCP chunks into whole messages (checking magic, version and type from
 * the first 12 bytes, refusing a body larger than `maxMessageSize` before buffering it), `FragmentAssembler`
 * joins a GIOP 1.1/1.2 Request or Reply flagged "more fragments" with its Fragment messages (GIOP 1.2 fragments
 * name their request, so several may interleave), and `GiopStream` does both and decodes.
 *
 * Memory is bounded: the framer holds at most one message (header + `maxMessageSize`), copied into one buffer
 * that grows with what arrived (a peer trickling a byte per TCP segment costs a byte per byte, not a Buffer
 * each), the assembler at most `maxPendingFragmented` partial messages of at most `maxMessageSize` bytes in all,
 * each also copied into one growing buffer. A violation raises
 * `GiopProtocolError`, after which the framer stays failed (the connection must be dropped).
 */
import { GiopProtocolError } from './errors.js';
import {
  type DecodeOptions,
  decodeHeader,
  decodeMessage,
  GIOP_HEADER_SIZE,
  type GiopMessage,
} from './giop.js';

/** Default cap on one message, or one reassembled message: 64 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

export interface FramerOptions {
  maxMessageSize?: number;
}

/** Cuts a byte stream into complete GIOP messages (header + body). */
export class GiopFramer {
  private readonly maxMessageSize: number;
  /** The message in progress (its header alone until the header is complete), its first `filled` bytes. */
  private buffer: Uint8Array = EMPTY;
  private filled = 0;
  private needed = GIOP_HEADER_SIZE;
  private haveHeader = false;
  private failure: GiopProtocolError | undefined;

  constructor(options: FramerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /** Bytes held, waiting for the rest of a message. */
  get bufferedBytes(): number {
    return this.filled;
  }

  /** Bytes of memory held for the message in progress (at most twice what arrived, at most the message). */
  get retainedBytes(): number {
    return this.buffer.length;
  }

  /**
   * Feeds bytes; returns every message they complete. A message wholly inside `chunk` is a view of it; the
   * bytes of a message split across chunks are copied into one buffer (never a list of the caller's chunks).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure !== undefined) throw this.failure;
    const out: Uint8Array[] = [];
    try {
      let at = 0;
      while (at < chunk.length) {
        if (this.filled === 0 && chunk.length - at >= GIOP_HEADER_SIZE) {
          const total = this.messageSize(chunk.subarray(at, at + GIOP_HEADER_SIZE));
          if (total <= chunk.length - at) {
            out.push(chunk.subarray(at, at + total));
            at += total;
            continue;
          }
          this.haveHeader = true;
          this.needed = total;
        }
        const n = Math.min(this.needed - this.filled, chunk.length - at);
        this.reserve(this.filled + n);
        this.buffer.set(chunk.subarray(at, at + n), this.filled);
        this.filled += n;
        at += n;
        if (this.filled < this.needed) break;
        if (!this.haveHeader) {
          this.haveHeader = true;
          this.needed = this.messageSize(this.buffer.subarray(0, GIOP_HEADER_SIZE));
          if (this.filled < this.needed) continue;
        }
        out.push(this.buffer.length === this.filled ? this.buffer : this.buffer.slice(0, this.filled));
        this.reset();
      }
    } catch (e) {
      this.failure =
        e instanceof GiopProtocolError ? e : new GiopProtocolError('GIOP framing failed', { cause: e });
      this.reset();
      throw this.failure;
    }
    return out;
  }

  /** Header + body size of the message a header announces (refused past `maxMessageSize`). */
  private messageSize(header: Uint8Array): number {
    const h = decodeHeader(header);
    if (h.size > this.maxMessageSize) {
      throw new GiopProtocolError(`GIOP message of ${h.size} bytes exceeds ${this.maxMessageSize}`);
    }
    return GIOP_HEADER_SIZE + h.size;
  }

  /** Grows the buffer to hold `n` bytes: doubling, never past the message's size. */
  private reserve(n: number): void {
    this.buffer = room(this.buffer, this.filled, n, this.needed);
  }

  private reset(): void {
    this.buffer = EMPTY;
    this.filled = 0;
    this.needed = GIOP_HEADER_SIZE;
    this.haveHeader = false;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * `bytes` (its first `used` bytes kept) with room for `n`: itself when it has it, else a copy grown by doubling
 * (at least 1 KiB), never past `cap` (the largest the message can be).
 */
function room(bytes: Uint8Array, used: number, n: number, cap: number): Uint8Array {
  if (n <= bytes.length) return bytes;
  const grown = new Uint8Array(Math.min(cap, Math.max(n, 2 * bytes.length, 1024)));
  grown.set(bytes.subarray(0, used));
  return grown;
}

export interface AssemblerOptions {
  maxMessageSize?: number;
  /** Partial messages held at once (GIOP 1.2 interleaving); default 16. */
  maxPendingFragmented?: number;
}

interface Partial {
  /** The message so far (its first `size` bytes; grows by doubling). */
  bytes: Uint8Array;
  size: number;
}

/**
 * Reassembles fragmented messages. `accept` takes one complete GIOP message (from the framer) and returns a
 * complete unfragmented message to decode, or undefined while fragments are outstanding.
 */
export class FragmentAssembler {
  private readonly maxMessageSize: number;
  private readonly maxPending: number;
  private readonly pending = new Map<number, Partial>();
  private pendingBytes = 0;

  constructor(options: AssemblerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxPending = options.maxPendingFragmented ?? 16;
  }

  /** Partial messages held. */
  get pendingCount(): number {
    return this.pending.size;
  }

  accept(message: Uint8Array): Uint8Array | undefined {
    const h = decodeHeader(message);
    if (h.type === 'Fragment') {
      const key = h.minor >= 2 ? readRequestId(message, h.littleEndian) : -1;
      const partial = this.pending.get(key);
      if (partial === undefined) throw new GiopProtocolError(`Fragment for no fragmented message (${key})`);
      const data = message.subarray(GIOP_HEADER_SIZE + (h.minor >= 2 ? 4 : 0));
      this.add(partial, data);
      if (h.moreFragments) return undefined;
      this.pending.delete(key);
      this.pendingBytes -= partial.size;
      return this.finish(partial);
    }
    if (!h.moreFragments) return message;
    if (h.type !== 'Request' && h.type !== 'Reply') {
      throw new GiopProtocolError(`${h.type} cannot be fragmented`);
    }
    const key = h.minor >= 2 ? readRequestId(message, h.littleEndian) : -1;
    if (this.pending.has(key)) throw new GiopProtocolError(`second fragmented message for request ${key}`);
    if (this.pending.size >= this.maxPending) throw new GiopProtocolError('too many fragmented messages');
    const partial: Partial = { bytes: EMPTY, size: 0 };
    this.pending.set(key, partial);
    this.add(partial, message);
    return undefined;
  }

  private add(partial: Partial, data: Uint8Array): void {
    const size = partial.size + data.length;
    this.pendingBytes += data.length;
    if (size - GIOP_HEADER_SIZE > this.maxMessageSize || this.pendingBytes > this.maxMessageSize * 2) {
      throw new GiopProtocolError(`fragmented GIOP message exceeds ${this.maxMessageSize} bytes`);
    }
    partial.bytes = room(partial.bytes, partial.size, size, GIOP_HEADER_SIZE + this.maxMessageSize);
    partial.bytes.set(data, partial.size);
    partial.size = size;
  }

  private finish(partial: Partial): Uint8Array {
    const out = partial.bytes.length === partial.size ? partial.bytes : partial.bytes.slice(0, partial.size);
    out[6] &= ~2;
    const le = (out[6] & 1) === 1;
    new DataView(out.buffer).setUint32(8, partial.size - GIOP_HEADER_SIZE, le);
    return out;
  }
}

function readRequestId(message: Uint8Array, littleEndian: boolean): number {
  if (message.length < GIOP_HEADER_SIZE + 4) throw new GiopProtocolError('fragment without a request id');
  return new DataView(message.buffer, message.byteOffset + GIOP_HEADER_SIZE, 4).getUint32(0, littleEndian);
}

/** Framer + assembler + decoder: bytes in, decoded messages out. */
export class GiopStream {
  private readonly framer: GiopFramer;
  private readonly assembler: FragmentAssembler;
  private readonly decode: DecodeOptions;
  private failure: GiopProtocolError | undefined;

  constructor(options: FramerOptions & AssemblerOptions & DecodeOptions = {}) {
    this.framer = new GiopFramer(options);
    this.assembler = new FragmentAssembler(options);
    this.decode = { padding: options.padding };
  }

  /** Bytes held by the framer. */
  get bufferedBytes(): number {
    return this.framer.bufferedBytes;
  }

  /** Feeds bytes; returns the messages they complete. After a `GiopProtocolError` every call throws it again. */
  push(chunk: Uint8Array): GiopMessage[] {
    if (this.failure !== undefined) throw this.failure;
    const out: GiopMessage[] = [];
    try {
      for (const raw of this.framer.push(chunk)) {
        const whole = this.assembler.accept(raw);
        if (whole !== undefined) out.push(decodeMessage(whole, this.decode));
      }
    } catch (e) {
      this.failure =
        e instanceof GiopProtocolError ? e : new GiopProtocolError('GIOP decoding failed', { cause: e });
      throw this.failure;
    }
    return out;
  }
}
