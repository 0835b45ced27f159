/**
 * The bytes a connection writes during one event-loop turn, sent as ONE `socket.write` at the end of the turn
 * (`process.nextTick`): a lone request leaves at once, a burst of pipelined requests is one buffer and one
 * syscall. Shared by the Channel Access circuit and the GIOP connection (protocols never import each other).
 */
import type { Socket } from 'node:net';

export class WriteBatch {
  #parts: Uint8Array[] = [];
  #bytes = 0;
  readonly #socket: Socket;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Bytes queued and not yet handed to the socket. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queues `bytes`. The first part of a turn schedules the flush at the end of the turn, unless `schedule` is
   * false (a connection that is not up yet holds what it is given until it calls `flush()` itself).
   */
  push(bytes: Uint8Array, schedule = true): void {
    if (schedule && this.#parts.length === 0) process.nextTick(this.flush);
    this.#parts.push(bytes);
    this.#bytes += bytes.length;
  }

  /** Queues `bytes` before everything already queued (a handshake that must go first). */
  unshift(bytes: Uint8Array): void {
    this.#parts.unshift(bytes);
    this.#bytes += bytes.length;
  }

  /** Drops everything queued (the socket is gone). */
  clear(): void {
    this.#parts = [];
    this.#bytes = 0;
  }

  /** Writes what is queued as one buffer (nothing when empty or when the socket is destroyed). */
  readonly flush = (): void => {
    const parts = this.#parts;
    const bytes = this.#bytes;
    this.clear();
    if (this.#socket.destroyed || parts.length === 0) return;
    if (parts.length === 1) {
      this.#socket.write(parts[0] as Uint8Array);
      return;
    }
    const out = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    this.#socket.write(out);
  };
}
