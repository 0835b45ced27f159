/**
 * The socket of a GIOP connection: the `transport` actor of `machines/tango/giopConnection.ts`, on a Node
 * `net.Socket` and a `GiopStream` (framer, fragment reassembly, decoder).
 *
 *   start ──net.connect──► 'connect': TRANSPORT.OPEN          'close' before 'connect': TRANSPORT.FAILED
 *   bytes ──► Reply / LocateReply: `sink.message(m)` (straight to the facade, no XState event)
 *         ──► CloseConnection: TRANSPORT.PEER_CLOSE
 *         ──► MessageError, a Request, bytes that are no GIOP, a message over `maxMessageSize`:
 *             TRANSPORT.PROTOCOL_ERROR (the socket is dropped)
 *   'close' after 'connect' ──► TRANSPORT.CLOSED {error}       stop ──► destroy (leaving `live` releases the socket)
 *
 * The facade writes through the `GiopLink` it gets in `sink.open(link)`: the messages written in one turn of the
 * event loop leave as one `socket.write` at the end of the turn (`process.nextTick`), so a burst of pipelined
 * requests costs one system call. Memory is bounded by the framer (one message of at most `maxMessageSize`, 64 MiB
 * by default) and by the facade's bounds on requests outstanding and on the bytes queued for a server that does
 * not read (`queued`: the facade refuses requests past its bound; requests that time out stay in the socket).
 */
import { Socket } from 'node:net';
import { fromCallback } from 'xstate';
import type { GiopTransportEvent, GiopTransportInput } from '../../../machines/tango/giopConnection.js';
import { WriteBatch } from '../../transport/writeBatch.js';
import { GiopProtocolError } from './giop/errors.js';
import { GiopStream } from './giop/framer.js';
import type { GiopMessage } from './giop/giop.js';

/** The write side of an open connection. */
export interface GiopLink {
  /** Queue one whole GIOP message; the writes of one turn go out together. False once the socket is gone. */
  write(message: Uint8Array): boolean;
  /** Bytes the framer holds for a message in progress. */
  readonly buffered: number;
  /** Bytes written and not yet taken by the kernel (the socket's `writableLength`, plus this turn's batch). */
  readonly queued: number;
  /** Settles when the socket is closed (its file descriptor released). */
  readonly closed: Promise<void>;
}

export interface GiopTransportSink {
  /** A socket was created; the facade may write once TRANSPORT.OPEN is sent. */
  open(link: GiopLink): void;
  /** Every Reply and LocateReply, in order. */
  message(message: GiopMessage): void;
}

export interface GiopTransportOptions {
  /** Largest GIOP message (or reassembled fragments) accepted, bytes (default 64 MiB). */
  maxMessageSize?: number;
}

export function giopTransport(sink: GiopTransportSink, options: GiopTransportOptions = {}) {
  return fromCallback<{ type: 'NONE' }, GiopTransportInput, GiopTransportEvent>(({ input, sendBack }) => {
    const stream = new GiopStream({ maxMessageSize: options.maxMessageSize });
    const socket = new Socket();
    let connected = false;
    let stopped = false;
    let failed = false;
    let lastError: Error | null = null;
    const batch = new WriteBatch(socket);
    let resolveClosed!: () => void;
    const closed = new Promise<void>((resolve) => {
      resolveClosed = resolve;
    });
    const send = (event: GiopTransportEvent) => {
      if (!stopped) sendBack(event);
    };
    const link: GiopLink = {
      write(message) {
        if (socket.destroyed || !connected) return false;
        batch.push(message);
        return true;
      },
      get buffered() {
        return stream.bufferedBytes;
      },
      get queued() {
        return socket.writableLength + batch.bytes;
      },
      closed,
    };
    const protocolError = (error: Error) => {
      if (failed) return;
      failed = true;
      send({ type: 'TRANSPORT.PROTOCOL_ERROR', error });
    };
    socket.setNoDelay(true);
    socket.on('connect', () => {
      connected = true;
      send({ type: 'TRANSPORT.OPEN' });
    });
    socket.on('data', (chunk: Buffer) => {
      if (stopped || failed) return;
      let messages: GiopMessage[];
      try {
        messages = stream.push(chunk);
      } catch (error) {
        protocolError(error as Error);
        return;
      }
      for (const m of messages) {
        if (stopped || failed) return;
        switch (m.type) {
          case 'Reply':
          case 'LocateReply':
            sink.message(m);
            break;
          case 'CloseConnection':
            send({ type: 'TRANSPORT.PEER_CLOSE' });
            return;
          case 'MessageError':
            protocolError(
              new GiopProtocolError('the server answered MessageError (it could not read a request)'),
            );
            return;
          default:
            protocolError(new GiopProtocolError(`unexpected ${m.type} from a server`));
            return;
        }
      }
    });
    socket.on('error', (error: Error) => {
      lastError = error;
    });
    socket.on('close', () => {
      resolveClosed();
      if (!connected) {
        send({
          type: 'TRANSPORT.FAILED',
          error:
            lastError ??
            new Error(`connection to ${input.host}:${input.port} closed before it was established`),
        });
      } else send({ type: 'TRANSPORT.CLOSED', error: lastError });
    });
    sink.open(link);
    socket.connect({ host: input.host, port: input.port });
    return () => {
      stopped = true;
      socket.destroy();
    };
  });
}
