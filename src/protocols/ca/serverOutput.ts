/**
 * The output side of one server circuit: every frame produced for a client in one event-loop turn is encoded
 * with `encodeFrameInto` into a shared slab (no per-message Buffer, no concat) and handed to the socket in one
 * corked write at the end of the turn (a microtask), or at once past `FLUSH_AT` bytes.
 *
 * A payload of 16 KiB or more is not copied: its header goes to the slab and the payload buffer itself follows in
 * the same corked write.
 *
 * The slab is carved like Node's buffer pool: a flushed region is never written again (the socket may still hold
 * it), the next frames go after it; a frame larger than the slab's free room starts a new slab (its own when it is
 * large). After every socket write `onFlushed` runs, so the circuit can check its backlog.
 */
import type { Socket } from 'node:net';
import {
  type CaHeader,
  EXTENDED_HEADER_SIZE,
  EXTENDED_MARKER,
  encodedFrameSize,
  encodeFrameInto,
  HEADER_SIZE,
  needsExtendedHeader,
  padded,
} from './frame.js';

/** Slab size for small frames. */
const SLAB_SIZE = 64 * 1024;
/** Payloads at least this large go to the socket as they are (no copy into the slab). */
const ZERO_COPY_AT = 16 * 1024;
/** Queued bytes written at once, without waiting for the end of the turn. */
const FLUSH_AT = 256 * 1024;

export class OutputBuffer {
  readonly #socket: Socket;
  readonly #onFlushed: () => void;
  #slab: Buffer | undefined;
  /** Start of the not-yet-flushed region of the slab, and the write position. */
  #start = 0;
  #pos = 0;
  /** Regions ready to go out, in order (earlier slabs). */
  #chunks: Buffer[] = [];
  #bytes = 0;
  #largest = 0;
  #queued = false;
  #closed = false;
  /** One header object reused for every frame (no allocation per message). */
  readonly #header: CaHeader = { command: 0, dataType: 0, count: 0, p1: 0, p2: 0 };

  constructor(socket: Socket, onFlushed: () => void) {
    this.#socket = socket;
    this.#onFlushed = onFlushed;
  }

  /** Bytes encoded but not yet handed to the socket. */
  get pending(): number {
    return this.#bytes;
  }

  /** The largest single message queued so far (bytes, header included). */
  get largestMessage(): number {
    return this.#largest;
  }

  /** Encodes one message. A payload of 16 KiB or more is not copied: the header goes out, then the payload
   *  itself (it must not change afterwards: the server's payloads are fresh or cached encodings, never rewritten). */
  frame(
    command: number,
    dataType: number,
    count: number,
    p1: number,
    p2: number,
    payload?: Uint8Array,
  ): void {
    if (this.#closed) return;
    if (payload !== undefined && payload.length >= ZERO_COPY_AT) {
      this.#large(command, dataType, count, p1, p2, payload);
      return;
    }
    const size = encodedFrameSize(payload?.length ?? 0, count);
    const at = this.#reserve(size);
    const h = this.#header;
    h.command = command;
    h.dataType = dataType;
    h.count = count;
    h.p1 = p1 >>> 0;
    h.p2 = p2 >>> 0;
    this.#pos = encodeFrameInto(this.#slab!, at, h, payload);
    this.#added(size);
  }

  /** Header (+ padding) in the slab, the payload as its own chunk; the same bytes as `encodeFrameInto`. */
  #large(
    command: number,
    dataType: number,
    count: number,
    p1: number,
    p2: number,
    payload: Uint8Array,
  ): void {
    const size = padded(payload.length);
    const extended = needsExtendedHeader(size, count);
    const headerSize = extended ? EXTENDED_HEADER_SIZE : HEADER_SIZE;
    const at = this.#reserve(headerSize);
    const slab = this.#slab!;
    slab.writeUInt16BE(command, at);
    slab.writeUInt16BE(extended ? EXTENDED_MARKER : size, at + 2);
    slab.writeUInt16BE(dataType, at + 4);
    slab.writeUInt16BE(extended ? 0 : count, at + 6);
    slab.writeUInt32BE(p1 >>> 0, at + 8);
    slab.writeUInt32BE(p2 >>> 0, at + 12);
    if (extended) {
      slab.writeUInt32BE(size, at + 16);
      slab.writeUInt32BE(count >>> 0, at + 20);
    }
    this.#pos = at + headerSize;
    this.#commit();
    this.#chunks.push(Buffer.from(payload.buffer, payload.byteOffset, payload.length));
    const pad = size - payload.length;
    if (pad > 0) {
      const p = this.#reserve(pad);
      this.#slab!.fill(0, p, p + pad);
      this.#pos = p + pad;
    }
    this.#added(headerSize + size);
  }

  /** Queues already-encoded bytes (a builder's output from commands.ts). */
  bytes(bytes: Uint8Array): void {
    if (this.#closed) return;
    const at = this.#reserve(bytes.length);
    this.#slab!.set(bytes, at);
    this.#pos = at + bytes.length;
    this.#added(bytes.length);
  }

  #reserve(size: number): number {
    const slab = this.#slab;
    if (slab !== undefined && this.#pos + size <= slab.length) return this.#pos;
    this.#commit();
    this.#slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, size));
    this.#start = 0;
    this.#pos = 0;
    return 0;
  }

  /** Moves the unflushed region of the slab to the chunk list. */
  #commit(): void {
    if (this.#slab !== undefined && this.#pos > this.#start) {
      this.#chunks.push(this.#slab.subarray(this.#start, this.#pos));
      this.#start = this.#pos;
    }
  }

  #added(size: number): void {
    this.#bytes += size;
    if (size > this.#largest) this.#largest = size;
    if (this.#bytes >= FLUSH_AT) this.flush();
    else if (!this.#queued) {
      this.#queued = true;
      queueMicrotask(this.#flushTask);
    }
  }

  readonly #flushTask = (): void => {
    this.#queued = false;
    this.flush();
  };

  /** Hands everything queued to the socket (one corked write). */
  flush(): void {
    if (this.#closed || this.#bytes === 0) return;
    this.#commit();
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#bytes = 0;
    if (this.#slab !== undefined && this.#slab.length - this.#pos < 1024) this.#slab = undefined;
    const socket = this.#socket;
    if (!socket.destroyed) {
      if (chunks.length === 1) socket.write(chunks[0]);
      else {
        socket.cork();
        for (const c of chunks) socket.write(c);
        socket.uncork();
      }
    }
    this.#onFlushed();
  }

  /** Drops everything queued; later frames are ignored. */
  close(): void {
    this.#closed = true;
    this.#chunks = [];
    this.#bytes = 0;
    this.#slab = undefined;
  }
}
