/**
 * The GIOP byte stream: `GiopFramer` cuts TCP chunks into whole messages (checking magic, version and type from
 * the first 12 bytes, refusing a body larger than `maxMessageSize` before buffering it), `FragmentAssembler`
 * joins a GIOP 1.1/1.2 Request or Reply flagged "more fragments" with its Fragment messages (GIOP 1.2 fragments
 * name their request, so several may interleave), and `GiopStream` does both and decodes.
 *
 * Memory is bounded: the framer holds at most one message (header + `maxMessageSize`), the assembler at most
 * `maxPendingFragmented` partial messages of at most `maxMessageSize` bytes in all. A violation raises
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
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private needed = GIOP_HEADER_SIZE;
  private haveHeader = false;
  private failure: GiopProtocolError | undefined;

  constructor(options: FramerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /** Bytes held, waiting for the rest of a message. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Feeds bytes; returns every message they complete (views of the input where possible). */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure !== undefined) throw this.failure;
    const out: Uint8Array[] = [];
    if (chunk.length === 0) return out;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      while (this.buffered >= this.needed) {
        if (!this.haveHeader) {
          const header = this.peek(GIOP_HEADER_SIZE);
          const h = decodeHeader(header);
          if (h.size > this.maxMessageSize) {
            throw new GiopProtocolError(`GIOP message of ${h.size} bytes exceeds ${this.maxMessageSize}`);
          }
          this.haveHeader = true;
          this.needed = GIOP_HEADER_SIZE + h.size;
          continue;
        }
        out.push(this.take(this.needed));
        this.haveHeader = false;
        this.needed = GIOP_HEADER_SIZE;
      }
    } catch (e) {
      this.failure =
        e instanceof GiopProtocolError ? e : new GiopProtocolError('GIOP framing failed', { cause: e });
      this.chunks = [];
      this.buffered = 0;
      throw this.failure;
    }
    return out;
  }

  /** The first `n` buffered bytes without consuming them. */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first.length >= n) return first.subarray(0, n);
    const joined = this.join(n);
    this.chunks.unshift(joined.subarray(0));
    return joined;
  }

  /** Joins the first `n` buffered bytes into one array, consuming them from the chunk list. */
  private join(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const used = Math.min(c.length, n - filled);
      out.set(c.subarray(0, used), filled);
      filled += used;
      if (used === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(used);
    }
    return out;
  }

  /** Consumes and returns the first `n` bytes (zero-copy when they sit in one chunk). */
  private take(n: number): Uint8Array {
    this.buffered -= n;
    const first = this.chunks[0];
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    return this.join(n);
  }
}

export interface AssemblerOptions {
  maxMessageSize?: number;
  /** Partial messages held at once (GIOP 1.2 interleaving); default 16. */
  maxPendingFragmented?: number;
}

interface Partial {
  parts: Uint8Array[];
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
    const partial: Partial = { parts: [], size: 0 };
    this.pending.set(key, partial);
    this.add(partial, message);
    return undefined;
  }

  private add(partial: Partial, data: Uint8Array): void {
    partial.size += data.length;
    this.pendingBytes += data.length;
    if (
      partial.size - GIOP_HEADER_SIZE > this.maxMessageSize ||
      this.pendingBytes > this.maxMessageSize * 2
    ) {
      throw new GiopProtocolError(`fragmented GIOP message exceeds ${this.maxMessageSize} bytes`);
    }
    partial.parts.push(data);
  }

  private finish(partial: Partial): Uint8Array {
    const out = new Uint8Array(partial.size);
    let at = 0;
    for (const p of partial.parts) {
      out.set(p, at);
      at += p.length;
    }
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
