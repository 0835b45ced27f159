/**
 * The output side of one server circuit: every frame produced for a client in one event-loop turn is encoded
 * with `encodeFrameInto` into a shared slab (no per-message Buffer, no concat) and handed to the socket in one
 * corked write at the end of the turn (a microtask), or at once past `FLUSH_AT` bytes.
 *
 * The slab is carved like Node's buffer pool: a flushed region is never written again (the socket may still hold
 * it), the next frames go after it; a frame larger than the slab's free room starts a new slab (its own when it is
 * large). After every socket write `onFlushed` runs, so the circuit can check its backlog.
 */
import type { Socket } from 'node:net';
import { type CaHeader, encodedFrameSize, encodeFrameInto } from './frame.js';

/** Slab size for small frames. */
const SLAB_SIZE = 64 * 1024;
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

  /** Encodes one message. */
  frame(
    command: number,
    dataType: number,
    count: number,
    p1: number,
    p2: number,
    payload?: Uint8Array,
  ): void {
    if (this.#closed) return;
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
