/**
 * The connection of a KATCP client (aiokatcp `Client`'s `_ClientState` FSM, `doc/dev/client_fsm.rst`) as an
 * XState v5 machine, ported 1:1 with its invariants.
 *
 *   ┌ live ─────────────────────────────────────────────────────────────────────────────────────┐
 *   │ (invokes `transport`, the socket; leaving `live` stops it, which destroys the socket)      │
 *   │                                                                                            │
 *   │  connecting ──OPEN──► negotiating ──VERSION (5.x)──► connected                             │
 *   │      │                   │ PROTOCOL_ERROR, DISCONNECT,     │ DISCONNECT, EOF, CLOSE,        │
 *   │      │                   │ EOF, CLOSE,                     │ PROTOCOL_ERROR                 │
 *   │      │                   │ after negotiationTimeout [armed]│                                │
 *   │      │                   │ (NegotiationTimeoutError)       │                                │
 *   │      │                   └──────────► disconnecting ◄──────┘  (entry: CLOSE to transport)  │
 *   │      │                                     │ CLOSED                                       │
 *   └──────┼─────────────────────────────────────┼──────────────────────────────────────────────┘
 *          │ FAILED            negotiating, connected ──CLOSED──┐ │
 *          ▼                                                    ▼ ▼
 *     [autoReconnect] ──► sleeping ──after sleepMs──► live.connecting        else ──► closed (final)
 *   CLOSE from sleeping or connecting ──► closed directly.
 *
 * Negotiation timeout: a peer that accepts the TCP connection but never sends `#version-connect katcp-protocol`
 * (the wrong port, a service that is not KATCP) would hold `negotiating` for ever. After `negotiationTimeoutMs`
 * there (the `after` delay `negotiationTimeout`, on the system's clock; default 5000 ms; the guard
 * `negotiationTimeoutArmed` keeps `Infinity` from ever firing) the machine goes to `disconnecting` with a
 * `NegotiationTimeoutError` as `lastError`, as after a bad version: the socket is closed, the facade runs the
 * failed-connect callbacks, and the machine reconnects with the backoff below (or closes without autoReconnect).
 *
 * Events come from the `transport` actor (the socket and its parser, `src/protocols/katcp/connection.ts`):
 * `TRANSPORT.OPEN` (TCP up), `TRANSPORT.VERSION` (a valid `#version-connect katcp-protocol 5.x`),
 * `TRANSPORT.PROTOCOL_ERROR` (another version, or a line over the limit), `TRANSPORT.DISCONNECT` (a `#disconnect`
 * inform), `TRANSPORT.EOF`, `TRANSPORT.CLOSED` (the socket is gone), `TRANSPORT.FAILED` (the TCP connect failed);
 * and from the user: `CLOSE`. Only lifecycle events pass through the machine: requests, replies and informs go
 * between the facade and the socket directly (the hot path never becomes an XState event).
 *
 * Invariants (aiokatcp's, checked by `test/katcp/connection.property.test.ts` after every command):
 * - the client is connected iff the state is `connected`; `lastError` is null in `connected` and set in
 *   `disconnecting`, `sleeping` and `closed`;
 * - the transport (the socket) exists iff the state is in `live` (connecting, negotiating, connected,
 *   disconnecting); `disconnecting` means the socket is being closed;
 * - a backoff timer exists iff the state is `sleeping`; a negotiation timer iff the state is `negotiating` (and
 *   `negotiationTimeoutMs` is finite);
 * - `closed` is final: nothing leaves it; `CLOSE` disables auto-reconnect, so a client being closed never sleeps;
 * - leaving `connected` fails every pending request with `lastError` (done by the facade in `enterState`).
 *
 * Backoff (aiokatcp exactly): `backoffMs` starts at 500; on the way to `sleeping` it becomes
 * `min(backoffMs * 2, 60000)` and the sleep is `(random() + 1) * 0.5 * backoffMs`, uniform in
 * [backoffMs / 2, backoffMs] (the first sleep is in [500, 1000] ms); `connected` resets it to 500. A `random`
 * that throws or returns something outside [0, 1] (NaN included) counts as 1 (`drawUnit`, as the resync
 * backoff's): the sleep is then `backoffMs`, never outside the bounds.
 *
 * Side effects are one named action, `enterState` (params `{state}`, entry of every state), aiokatcp's
 * `_set_state`: the facade compares the old and new state and resolves waiters, runs the connected, disconnected
 * and failed-connect callbacks and fails pending requests. Its default does nothing.
 *
 * Differences from upstream, on purpose:
 * - durations are milliseconds in the context (the constants stay aiokatcp's 0.5 s and 60 s);
 * - `random` comes from the input, so tests choose the jitter;
 * - a line over the parser's limit (1 MiB by default; aiokatcp's limit is 16 MiB) is a protocol error that drops
 *   the connection, with the LineTooLongError as `lastError`;
 * - request timeouts (aiokatcp has none) live in the facade, not here: they do not change the connection;
 * - a `CLOSE` while connecting does not run the failed-connect callbacks (closing is not a failure);
 * - negotiation is bounded (`negotiationTimeoutMs`, default 5 s; aiokatcp waits for `#version-connect` for ever):
 *   a silent peer is a failed connect with a `NegotiationTimeoutError`, then the usual backoff.
 */
import { assign, fromCallback, sendTo, setup } from 'xstate';
import {
  BrokenPipeError,
  ConnectionResetError,
  NegotiationTimeoutError,
} from '../../src/protocols/katcp/errors.js';
import type { ProtocolVersion } from '../../src/protocols/katcp/wire.js';
import { checkDuration } from '../core/duration.js';
import { drawUnit } from './backoff.js';

/** aiokatcp `_MIN_BACKOFF` (0.5 s), in milliseconds. */
export const MIN_BACKOFF_MS = 500;
/** aiokatcp `_MAX_BACKOFF` (60 s), in milliseconds. */
export const MAX_BACKOFF_MS = 60_000;
/**
 * How long `negotiating` waits for `#version-connect katcp-protocol` before dropping the connection (5 s, as the
 * default request timeout): a KATCP server sends it as soon as it accepts, so only a silent peer waits this long.
 */
export const DEFAULT_NEGOTIATION_TIMEOUT_MS = 5000;

/** The states of a KATCP connection (aiokatcp `_ClientState`, lower case). */
export type KatcpConnectionState =
  | 'sleeping'
  | 'connecting'
  | 'negotiating'
  | 'connected'
  | 'disconnecting'
  | 'closed';

export interface KatcpConnectionInput {
  host: string;
  port: number;
  /** Reconnect after a lost or failed connection (default true). */
  autoReconnect?: boolean;
  /** Jitter source in [0, 1) (default Math.random). */
  random?: () => number;
  /**
   * ms in `negotiating` without `#version-connect katcp-protocol` before the connection is dropped with a
   * NegotiationTimeoutError (default 5000, `DEFAULT_NEGOTIATION_TIMEOUT_MS`); Infinity: wait for ever.
   */
  negotiationTimeoutMs?: number;
}

export interface KatcpConnectionContext {
  host: string;
  port: number;
  autoReconnect: boolean;
  random: () => number;
  /** The server's protocol, known from `negotiating` on (kept after the connection is lost). */
  protocol: ProtocolVersion | null;
  lastError: Error | null;
  /** aiokatcp's `_backoff`, in ms. */
  backoffMs: number;
  /** The current (or last) sleep before reconnecting, in ms. */
  sleepMs: number;
  /** The bound on `negotiating`, in ms (Infinity: none). */
  negotiationTimeoutMs: number;
}

/** What the transport actor tells the machine. */
export type KatcpTransportEvent =
  | { type: 'TRANSPORT.OPEN' }
  | { type: 'TRANSPORT.VERSION'; version: ProtocolVersion }
  | { type: 'TRANSPORT.PROTOCOL_ERROR'; error: Error }
  | { type: 'TRANSPORT.DISCONNECT'; reason: string }
  | { type: 'TRANSPORT.EOF' }
  | { type: 'TRANSPORT.CLOSED'; error: Error | null }
  | { type: 'TRANSPORT.FAILED'; error: Error };

export type KatcpConnectionEvent = KatcpTransportEvent | { type: 'CLOSE' };

/** What the machine tells the transport actor: close the socket (it answers TRANSPORT.CLOSED). */
export type KatcpTransportCommand = { type: 'CLOSE' };

/** The transport actor's input. */
export interface KatcpTransportInput {
  host: string;
  port: number;
}

type Ev<T extends KatcpConnectionEvent['type']> = Extract<KatcpConnectionEvent, { type: T }>;

const resetByPeer = () => new ConnectionResetError('Connection reset by peer');
const closedByClient = () => new BrokenPipeError('Connection closed by client');

/** What ends a negotiating or connected connection (the same in both, as in aiokatcp's `_set_state`). */
const endsALiveConnection = {
  'TRANSPORT.PROTOCOL_ERROR': { target: 'disconnecting', actions: 'recordProtocolError' },
  'TRANSPORT.DISCONNECT': { target: 'disconnecting', actions: 'recordDisconnect' },
  'TRANSPORT.EOF': { target: 'disconnecting', actions: 'recordEof' },
  CLOSE: { target: 'disconnecting', actions: 'recordClose' },
  'TRANSPORT.CLOSED': [
    {
      guard: 'reconnects',
      target: '#katcpConnection.sleeping',
      actions: ['recordLost', 'scheduleReconnect'],
    },
    { target: '#katcpConnection.closed', actions: 'recordLost' },
  ],
} as const;

export const katcpConnectionMachine = setup({
  types: {
    context: {} as KatcpConnectionContext,
    events: {} as KatcpConnectionEvent,
    input: {} as KatcpConnectionInput,
  },
  actors: {
    /**
     * The socket: connects to (host, port) on start and sends the TRANSPORT events; CLOSE closes the socket;
     * stopping it destroys the socket. Provided by `src/protocols/katcp/connection.ts`.
     */
    transport: fromCallback<KatcpTransportCommand, KatcpTransportInput, KatcpTransportEvent>(
      ({ sendBack }) => {
        sendBack({
          type: 'TRANSPORT.FAILED',
          error: new Error("katcpConnection machine: 'transport' not provided"),
        });
      },
    ),
  },
  actions: {
    /** aiokatcp `_set_state`'s side effects (waiters, callbacks, pending requests); provided by the facade. */
    enterState: (_, _params: { state: KatcpConnectionState }) => {},
    closeTransport: sendTo('transport', { type: 'CLOSE' } as KatcpTransportCommand),
    recordVersion: assign({
      protocol: ({ event }) => (event as Ev<'TRANSPORT.VERSION'>).version,
      lastError: null,
      backoffMs: MIN_BACKOFF_MS,
    }),
    recordProtocolError: assign({
      lastError: ({ event }) => (event as Ev<'TRANSPORT.PROTOCOL_ERROR'>).error,
    }),
    recordDisconnect: assign({
      lastError: ({ event }) =>
        new BrokenPipeError(`Server disconnected: ${(event as Ev<'TRANSPORT.DISCONNECT'>).reason}`),
    }),
    recordEof: assign({ lastError: resetByPeer }),
    recordConnectFailure: assign({ lastError: ({ event }) => (event as Ev<'TRANSPORT.FAILED'>).error }),
    /** No `#version-connect katcp-protocol` within the negotiation timeout. */
    recordNegotiationTimeout: assign({
      lastError: ({ context }) =>
        new NegotiationTimeoutError(`${context.host}:${context.port}`, context.negotiationTimeoutMs),
    }),
    /** The socket was lost under a live connection: its error, else a reset by the peer. */
    recordLost: assign({
      lastError: ({ event }) => (event as Ev<'TRANSPORT.CLOSED'>).error ?? resetByPeer(),
    }),
    /** The socket is gone after `disconnecting`: the error that brought it down stays `lastError`. */
    recordClosed: assign({
      lastError: ({ context, event }) =>
        context.lastError ?? (event as Ev<'TRANSPORT.CLOSED'>).error ?? resetByPeer(),
    }),
    /** `close()`: no more reconnecting (aiokatcp `_closing`). */
    recordClose: assign({ autoReconnect: false, lastError: closedByClient }),
    stopReconnecting: assign({ autoReconnect: false }),
    /** Keep the error that made the client sleep (aiokatcp keeps `last_exc` when closed while sleeping). */
    stopSleeping: assign({
      autoReconnect: false,
      lastError: ({ context }) => context.lastError ?? closedByClient(),
    }),
    scheduleReconnect: assign(({ context }) => {
      const backoffMs = Math.min(context.backoffMs * 2, MAX_BACKOFF_MS);
      // one draw made safe (drawUnit: a throw, NaN or a value outside [0, 1] counts as 1), so the sleep stays in
      // [backoffMs / 2, backoffMs] whatever `random` does: a bad jitter source neither crashes the machine in
      // this action nor sleeps for NaN or past the bound
      return { backoffMs, sleepMs: (drawUnit(context.random) + 1) * 0.5 * backoffMs };
    }),
  },
  guards: {
    reconnects: ({ context }) => context.autoReconnect,
    /** Infinity arms no negotiation timeout (Orrery's clocks keep no timer for it; this covers any other clock). */
    negotiationTimeoutArmed: ({ context }) => context.negotiationTimeoutMs !== Number.POSITIVE_INFINITY,
  },
  delays: {
    backoff: ({ context }) => context.sleepMs,
    negotiationTimeout: ({ context }) => context.negotiationTimeoutMs,
  },
}).createMachine({
  id: 'katcpConnection',
  context: ({ input }) => ({
    host: input.host,
    port: input.port,
    autoReconnect: input.autoReconnect ?? true,
    random: input.random ?? Math.random,
    protocol: null,
    lastError: null,
    backoffMs: MIN_BACKOFF_MS,
    sleepMs: 0,
    negotiationTimeoutMs:
      checkDuration('negotiationTimeoutMs', input.negotiationTimeoutMs, false) ??
      DEFAULT_NEGOTIATION_TIMEOUT_MS,
  }),
  initial: 'live',
  states: {
    live: {
      invoke: {
        id: 'transport',
        src: 'transport',
        input: ({ context }) => ({ host: context.host, port: context.port }),
      },
      initial: 'connecting',
      states: {
        connecting: {
          entry: { type: 'enterState', params: { state: 'connecting' } },
          on: {
            'TRANSPORT.OPEN': 'negotiating',
            'TRANSPORT.FAILED': [
              {
                guard: 'reconnects',
                target: '#katcpConnection.sleeping',
                actions: ['recordConnectFailure', 'scheduleReconnect'],
              },
              { target: '#katcpConnection.closed', actions: 'recordConnectFailure' },
            ],
            CLOSE: { target: '#katcpConnection.closed', actions: 'recordClose' },
          },
        },
        negotiating: {
          entry: { type: 'enterState', params: { state: 'negotiating' } },
          after: {
            negotiationTimeout: {
              guard: 'negotiationTimeoutArmed',
              target: 'disconnecting',
              actions: 'recordNegotiationTimeout',
            },
          },
          on: {
            'TRANSPORT.VERSION': { target: 'connected', actions: 'recordVersion' },
            ...endsALiveConnection,
          },
        },
        connected: {
          entry: { type: 'enterState', params: { state: 'connected' } },
          on: {
            ...endsALiveConnection,
          },
        },
        disconnecting: {
          entry: [{ type: 'enterState', params: { state: 'disconnecting' } }, 'closeTransport'],
          on: {
            CLOSE: { actions: 'stopReconnecting' },
            'TRANSPORT.CLOSED': [
              {
                guard: 'reconnects',
                target: '#katcpConnection.sleeping',
                actions: ['recordClosed', 'scheduleReconnect'],
              },
              { target: '#katcpConnection.closed', actions: 'recordClosed' },
            ],
          },
        },
      },
    },
    sleeping: {
      entry: { type: 'enterState', params: { state: 'sleeping' } },
      after: { backoff: 'live' },
      on: { CLOSE: { target: 'closed', actions: 'stopSleeping' } },
    },
    closed: {
      type: 'final',
      entry: { type: 'enterState', params: { state: 'closed' } },
    },
  },
});
