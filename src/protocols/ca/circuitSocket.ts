/**
 * The socket of a Channel Access virtual circuit: the `socket` actor of `machines/ca/circuit.ts`, on a Node
 * `net.Socket` and a streaming `FrameParser`.
 *
 *   start ──net.connect──► 'connect': handshake (VERSION(priority), HOST_NAME, CLIENT_NAME) + the bytes queued
 *                          while connecting, in one write; then SOCKET_CONNECTED
 *   read ──► lastHeard = clock.now(); HEARD (at most once per `heardEveryMs`, at once while an ECHO is out)
 *          ──► each frame: VERSION -> the server's minor version, ECHO -> dropped (the reply to our probe),
 *              any other -> `sink.frame(frame)` (straight to the facade, never an XState event)
 *          ──► a malformed frame (CaProtocolError): the socket is destroyed, PROTOCOL_ERROR
 *   'close' ──► SOCKET_CLOSED {error}   ECHO (machine) ──► write an ECHO   CLOSE (machine) ──► destroy
 *   stop ──► destroy (leaving `live` always releases the socket)
 *
 * Reads use `onread` with the parser's `readBuffer()`: the kernel copies the rest of a large frame (an 800 kB array)
 * straight into the payload buffer the frame is handed out in, and small reads into a reusable chunk.
 *
 * Writes of one event-loop turn leave as one `socket.write` at the end of the turn (`process.nextTick`), as the
 * KATCP transport does. While connecting, writes are queued up to `maxQueuedBytes` (a CircuitQueueFullError
 * beyond); once connected the same bound holds for the bytes not yet written to the kernel (the socket's
 * `writableLength` and this turn's batch), so a server that stops reading gets a CircuitQueueFullError, not
 * unbounded memory; a message larger than the bound is taken when nothing is queued (so an array of any size can
 * be written, and memory stays within the bound plus one message); after the socket is gone `write` returns false.
 */
import { connect } from 'node:net';
import { fromCallback } from 'xstate';
import type {
  CircuitMachineInput,
  CircuitSocketCommand,
  CircuitSocketEvent,
} from '../../../machines/ca/circuit.js';
import type { Clock } from '../../engine/clock.js';
import type { Logger } from '../../engine/logging.js';
import { WriteBatch } from '../../transport/writeBatch.js';
import { echo } from './commands.js';
import { Command } from './constants.js';
import { CaError, CaProtocolError } from './errors.js';
import { type CaFrame, FrameParser } from './frame.js';
import { HeardThrottle } from './heard.js';

/** Unsent bytes a circuit or a name-server link may hold by default (`maxQueuedBytes`): 16 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024;

/** More bytes were sent to a circuit than it queues unsent (`maxQueuedBytes`): connecting, or a server not reading. */
export class CircuitQueueFullError extends CaError {
  override readonly code: string = 'ORRERY_CA_QUEUE_FULL';
}

/** The write side of a circuit's socket, handed to the connection. */
export interface CircuitLink {
  /** Queue bytes (one or more whole messages): false once the socket is gone; CircuitQueueFullError beyond
   *  `maxQueuedBytes` unsent. */
  write(bytes: Uint8Array): boolean;
  /** Bytes waiting for the connection (or the end of this turn). */
  readonly queuedBytes: number;
  /** Bytes the parser holds for an incomplete frame. */
  readonly buffered: number;
  /** Settles when the socket is closed (its file descriptor released). */
  readonly closed: Promise<void>;
  /** The socket stops keeping the process alive. */
  unref(): void;
}

/** What the socket actor needs from its connection. */
export interface CircuitSocketSink {
  readonly host: string;
  readonly port: number;
  /** VERSION(priority) + HOST_NAME + CLIENT_NAME, written first. */
  readonly handshake: Uint8Array;
  readonly clock: Clock;
  /** HEARD is sent at most once per this many ms (the silence timer's granularity). */
  readonly heardEveryMs: number;
  readonly maxQueuedBytes: number;
  /** Largest payload accepted from the server (FrameParser `maxPayload`). */
  readonly maxPayload?: number;
  /** Unref the socket from the start (it does not keep the process alive). */
  readonly unref?: boolean;
  open(link: CircuitLink): void;
  /** Bytes arrived at `now` (clock time). */
  heard(now: number): void;
  /** The server's VERSION (its minor protocol version). */
  version(minor: number): void;
  /** Every frame but VERSION and ECHO, in order. Must not throw. */
  frame(frame: CaFrame): void;
  logger(): Logger;
}

/**
 * The `socket` actor logic for `circuitMachine.provide({ actors: { socket } })`, made once and shared by every
 * circuit: `sinkFor` finds the connection of a circuit from the machine's input (its `circuitId`).
 */
export function circuitSocket(sinkFor: (input: CircuitMachineInput) => CircuitSocketSink | undefined) {
  return fromCallback<CircuitSocketCommand, CircuitMachineInput, CircuitSocketEvent>(
    ({ sendBack, receive, input }) => {
      const sink = sinkFor(input);
      if (sink === undefined) {
        sendBack({
          type: 'SOCKET_CLOSED',
          error: new CaError(`no connection for circuit ${String(input.circuitId ?? input.address)}`),
        });
        return () => {};
      }
      const parser = new FrameParser({ maxPayload: sink.maxPayload });
      // the kernel copies each read into the buffer the parser chooses: the rest of a large frame's own payload
      // (no copy in user space), else the parser's reusable chunk
      const socket = connect({
        host: sink.host,
        port: sink.port,
        onread: {
          buffer: () => parser.readBuffer(),
          callback: (n: number, buffer: Uint8Array) => received(buffer as Buffer, n),
        },
      });
      let connected = false;
      let stopped = false;
      let failed = false;
      let lastError: Error | null = null;
      const heard = new HeardThrottle(sink.heardEveryMs);
      const batch = new WriteBatch(socket);
      let resolveClosed!: () => void;
      const closed = new Promise<void>((resolve) => {
        resolveClosed = resolve;
      });
      const send = (event: CircuitSocketEvent) => {
        if (!stopped) sendBack(event);
      };
      const link: CircuitLink = {
        write(bytes) {
          if (stopped || failed || socket.destroyed) return false;
          // a message goes into an empty queue whatever its size (an array larger than the bound could never be
          // written otherwise): the bound holds beyond one message
          if (!connected) {
            if (batch.bytes > 0 && batch.bytes + bytes.length > sink.maxQueuedBytes) {
              throw new CircuitQueueFullError(
                `circuit to ${sink.host}:${sink.port} is connecting and already queues ${batch.bytes} bytes ` +
                  `(limit ${sink.maxQueuedBytes}); ${bytes.length} more refused`,
              );
            }
          } else {
            // a server that stops reading: what the socket still holds counts too, so memory stays bounded
            const queued = socket.writableLength + batch.bytes;
            if (queued > 0 && queued + bytes.length > sink.maxQueuedBytes) {
              throw new CircuitQueueFullError(
                `circuit to ${sink.host}:${sink.port} already queues ${queued} unsent bytes ` +
                  `(limit ${sink.maxQueuedBytes}); ${bytes.length} more refused`,
              );
            }
          }
          batch.push(bytes, connected);
          return true;
        },
        get queuedBytes() {
          return batch.bytes;
        },
        get buffered() {
          return parser.buffered;
        },
        closed,
        unref() {
          socket.unref();
        },
      };
      const onFrame = (frame: CaFrame) => {
        if (frame.command === Command.VERSION) sink.version(frame.count);
        else if (frame.command !== Command.ECHO) sink.frame(frame);
      };

      socket.setNoDelay(true);
      if (sink.unref) socket.unref();
      socket.on('connect', () => {
        connected = true;
        batch.unshift(sink.handshake);
        batch.flush();
        send({ type: 'SOCKET_CONNECTED' });
      });
      const received = (buffer: Buffer, n: number): boolean => {
        if (stopped || failed) return true;
        const now = sink.clock.now();
        sink.heard(now);
        if (heard.heard(now)) send({ type: 'HEARD' });
        try {
          parser.pushRead(buffer, n, onFrame);
        } catch (error) {
          failed = true;
          const err =
            error instanceof CaProtocolError
              ? error
              : new CaProtocolError(`circuit to ${sink.host}:${sink.port}: ${String(error)}`, {
                  cause: error,
                });
          sink.logger().warn({ err }, 'malformed Channel Access message: closing the circuit');
          socket.destroy();
          send({ type: 'PROTOCOL_ERROR', error: err });
        }
        return true;
      };
      socket.on('error', (error: Error) => {
        lastError = error;
      });
      socket.on('close', () => {
        resolveClosed();
        batch.clear();
        if (!failed) send({ type: 'SOCKET_CLOSED', error: lastError });
      });
      receive((command) => {
        if (command.type === 'CLOSE') socket.destroy();
        else if (command.type === 'ECHO') {
          heard.echoSent();
          try {
            link.write(echo());
          } catch (err) {
            // the queue is full (the server reads nothing): no reply will come, the echo deadline closes it
            sink.logger().debug({ err }, 'ECHO not queued');
          }
        }
      });
      sink.open(link);
      return () => {
        stopped = true;
        batch.clear();
        socket.destroy();
      };
    },
  );
}
