/**
 * The socket of a KATCP client connection: the `transport` actor of `machines/katcp/connection.ts`, on a Node
 * `net.Socket` and a streaming `KatcpParser`.
 *
 *   start ──net.connect──► 'connect': TRANSPORT.OPEN        'error' before 'connect': TRANSPORT.FAILED (ConnectError)
 *   each line ──► `#version-connect katcp-protocol V`: TRANSPORT.VERSION, or TRANSPORT.PROTOCOL_ERROR (not 5.x)
 *             ──► `#disconnect reason`: TRANSPORT.DISCONNECT
 *             ──► every message (those two included): `sink.message(m)`, straight to the facade (no XState event)
 *             ──► a line over `maxLineLength`: TRANSPORT.PROTOCOL_ERROR (LineTooLongError); other bad lines logged
 *   'end' ──► TRANSPORT.EOF      'close' ──► TRANSPORT.CLOSED {error: a KATCP error, or a socket error wrapped in a
 *   ConnectionResetError}      CLOSE (from the machine) ──► destroy
 *   stop ──► destroy (leaving `live` always releases the socket)
 *
 * The facade writes through the `KatcpLink` it gets in `sink.open(link)`. The lines written in one turn of the
 * event loop are gathered and leave as one `socket.write` (one system call) at the end of the turn
 * (`process.nextTick`): a lone request is written at once, a burst of 5,000 pipelined requests is one buffer,
 * copied once, instead of 5,000 stream writes. A peer that never sends a newline costs at most `maxLineLength` bytes (the parser's
 * bound), then the connection is dropped with the LineTooLongError. A peer that stops reading costs at most
 * `maxBacklog` unsent bytes (checked after every socket write, as the server does): past it the socket is destroyed
 * with a WriteBacklogError (TRANSPORT.CLOSED with that error: pending requests fail with it, the client reconnects).
 */
import { Socket } from 'node:net';
import { fromCallback } from 'xstate';
import type {
  KatcpTransportCommand,
  KatcpTransportEvent,
  KatcpTransportInput,
} from '../../../machines/katcp/connection.js';
import type { Logger } from '../../engine/logging.js';
import { argText, type KatcpMessage, KatcpParser } from './codec.js';
import {
  ConnectError,
  ConnectionResetError,
  KatcpError,
  type KatcpSyntaxError,
  LineTooLongError,
  WriteBacklogError,
} from './errors.js';
import { parseProtocolVersion } from './wire.js';

/** The write side of an open connection, handed to the facade. */
export interface KatcpLink {
  /**
   * Queue one or more whole lines: bytes, or a string of single-byte characters (written as latin1, so only for
   * text already known to be ASCII). The writes of one turn go out together. False once the socket is gone.
   */
  write(line: Buffer | string): boolean;
  /** Bytes held by the parser for the line in progress (never more than its `maxLineLength`). */
  readonly buffered: number;
  /** Settles when the socket is closed (its file descriptor released). */
  readonly closed: Promise<void>;
  /** Drop the connection with `error` (TRANSPORT.CLOSED with it: pending requests fail with it). */
  abort(error: Error): void;
}

/** Where the transport delivers what is not a lifecycle event. */
export interface KatcpTransportSink {
  /** A socket was created (before it connects): the facade may write once TRANSPORT.OPEN is sent. */
  open(link: KatcpLink): void;
  /** Every parsed message, in order. */
  message(message: KatcpMessage): void;
  /** The logger for what is dropped (bad lines); called lazily. */
  logger(): Logger;
}

/** Default bytes a client may have unsent (the server does not read) before it drops the connection: 16 MiB. */
export const DEFAULT_CLIENT_MAX_BACKLOG = 16 * 1024 * 1024;

export interface KatcpTransportOptions {
  /** Longest line accepted, in bytes (default 1 MiB, the codec's). */
  maxLineLength?: number;
  /** Unsent bytes (a server that does not read) before the connection is dropped (default 16 MiB). */
  maxBacklog?: number;
}

/**
 * The error a live connection was lost with, as its pending requests get it: a KATCP error as it is (the
 * WriteBacklogError, the ProtocolError of `abort`), a socket error (`ECONNRESET` from a peer's RST, `EPIPE`)
 * wrapped in a ConnectionResetError with the socket error as `cause` (aiokatcp fails them with
 * ConnectionResetError), null when the socket closed without one.
 */
function lostWith(error: Error | null): Error | null {
  if (error === null || error instanceof KatcpError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new ConnectionResetError(`Connection lost: ${code ?? error.message}`, { cause: error });
}

/**
 * The `transport` actor logic for `katcpConnectionMachine.provide({ actors: { transport } })`: one socket per
 * run of `live`, messages to `sink`.
 */
export function katcpTransport(sink: KatcpTransportSink, options: KatcpTransportOptions = {}) {
  return fromCallback<KatcpTransportCommand, KatcpTransportInput, KatcpTransportEvent>(
    ({ input, sendBack, receive }) => {
      const parser = new KatcpParser({ maxLineLength: options.maxLineLength });
      const maxBacklog = options.maxBacklog ?? DEFAULT_CLIENT_MAX_BACKLOG;
      const socket = new Socket();
      let connected = false;
      let lastError: Error | null = null;
      let stopped = false;
      /** The lines written in this turn (flushed at its end), and their length in bytes. */
      let batch: (Buffer | string)[] = [];
      let batchBytes = 0;
      let resolveClosed!: () => void;
      const closed = new Promise<void>((resolve) => {
        resolveClosed = resolve;
      });
      const send = (event: KatcpTransportEvent) => {
        if (!stopped) sendBack(event);
      };
      const flush = () => {
        const lines = batch;
        const bytes = batchBytes;
        batch = [];
        batchBytes = 0;
        if (socket.destroyed) return;
        if (lines.length === 1) {
          const line = lines[0];
          if (typeof line === 'string') socket.write(line, 'latin1');
          else socket.write(line);
        } else {
          const out = Buffer.allocUnsafe(bytes);
          let at = 0;
          for (const line of lines) {
            if (typeof line === 'string') at += out.write(line, at, 'latin1');
            else {
              out.set(line, at);
              at += line.length;
            }
          }
          socket.write(out);
        }
        // the server does not read: drop the connection rather than hold its requests without bound
        if (socket.writableLength > maxBacklog) {
          socket.destroy(new WriteBacklogError(maxBacklog, socket.writableLength));
        }
      };
      const link: KatcpLink = {
        write(line) {
          if (socket.destroyed || !connected) return false;
          if (batch.length === 0) process.nextTick(flush);
          batch.push(line);
          batchBytes += line.length;
          return true;
        },
        get buffered() {
          return parser.buffered;
        },
        closed,
        abort(error) {
          if (!socket.destroyed) socket.destroy(error);
        },
      };
      const onMessage = (m: KatcpMessage) => {
        if (m.type === 'inform') {
          if (m.name === 'version-connect' && argText(m, 0) === 'katcp-protocol') {
            try {
              send({ type: 'TRANSPORT.VERSION', version: parseProtocolVersion(m.args[1] ?? '') });
            } catch (error) {
              send({ type: 'TRANSPORT.PROTOCOL_ERROR', error: error as Error });
            }
          } else if (m.name === 'disconnect') {
            send({ type: 'TRANSPORT.DISCONNECT', reason: argText(m, 0) });
          }
        }
        if (!stopped) sink.message(m);
      };
      const onError = (error: KatcpSyntaxError) => {
        if (error instanceof LineTooLongError) {
          send({ type: 'TRANSPORT.PROTOCOL_ERROR', error });
          return;
        }
        // aiokatcp: a client ignores garbage (it must not answer it)
        sink.logger().warn({ err: error }, 'malformed KATCP message received');
      };

      socket.setNoDelay(true);
      socket.on('connect', () => {
        connected = true;
        send({ type: 'TRANSPORT.OPEN' });
      });
      socket.on('data', (chunk: Buffer) => {
        if (!stopped) parser.push(chunk, onMessage, onError);
      });
      socket.on('end', () => send({ type: 'TRANSPORT.EOF' }));
      socket.on('error', (error: Error) => {
        lastError = error;
      });
      socket.on('close', () => {
        resolveClosed();
        if (!connected) {
          const where = `${input.host}:${input.port}`;
          const cause = lastError ?? new Error('connection closed before it was established');
          send({
            type: 'TRANSPORT.FAILED',
            error: new ConnectError(`Failed to connect to ${where}: ${cause.message}`, { cause }),
          });
        } else send({ type: 'TRANSPORT.CLOSED', error: lostWith(lastError) });
      });
      receive((command) => {
        if (command.type === 'CLOSE') socket.destroy();
      });
      sink.open(link);
      socket.connect({ host: input.host, port: input.port });
      return () => {
        stopped = true;
        socket.destroy();
      };
    },
  );
}
