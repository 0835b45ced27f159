/**
 * One GIOP (CORBA IIOP) connection from a native Tango client to one server endpoint (host:port), as an XState v5
 * machine: the lifecycle only. Requests, replies and their timeouts never pass through it (the facade in
 * `src/protocols/tango/giopConnection.ts` writes and matches them directly); it says when a socket exists.
 *
 *            CONNECT                        TRANSPORT.OPEN
 *   idle ─────────────► live.connecting ─────────────────► live.connected
 *    ▲  ▲                 │ TRANSPORT.FAILED                │ TRANSPORT.CLOSED (lost, error or EOF)
 *    │  │                 │ after connectTimeout            │ TRANSPORT.PEER_CLOSE (GIOP CloseConnection)
 *    │  │                 ▼                                 │ TRANSPORT.PROTOCOL_ERROR (bad bytes)
 *    │  └── after sleep ─ backoff ◄───────                  │
 *    └──────────────────────────────────────────────────────┘   (lazy: the next request reconnects)
 *   CLOSE from idle, live or backoff ──► closed (final; leaving `live` destroys the socket)
 *
 * `live` invokes `transport` (the socket, `src/protocols/tango/giopTransport.ts`): it connects on start, sends the
 * TRANSPORT events, and is destroyed when `live` is left. The facade sends CONNECT when a request needs a socket
 * and there is none (state `idle`); requests made during `backoff` wait in the facade's queue, and when `backoff`
 * returns to `idle` the facade sends CONNECT again if any wait.
 *
 * Backoff after a failed connect (refused, unreachable, no answer within `connectTimeoutMs`): the sleep starts at
 * `MIN_BACKOFF_MS` and doubles per failure up to `MAX_BACKOFF_MS`, jittered to [sleep/2, sleep] with `random`;
 * a connection that opens resets it. A connection that was up and is lost does not sleep: it goes back to `idle`
 * and the next request reconnects at once (omniORB's behaviour after a CloseConnection or a reset).
 *
 * Side effects: one named action, `enterState` (params `{state}`, on entry of each state); the facade fails or
 * re-queues requests there. Its default does nothing.
 *
 * Invariants (checked by `test/tango/native/giopConnection.machine.test.ts`):
 * - the transport exists iff the state is within `live`; a backoff timer exists iff the state is `backoff`;
 * - `lastError` is null in `connected`, set in `backoff`;
 * - `closed` is final; nothing leaves it.
 *
 * Differences from upstream (omniORB's client-side connection), on purpose:
 * - one connection per endpoint, never a pool of several (omniORB opens more under concurrent calls); requests
 *   are pipelined on it by id (GIOP 1.2 allows it; omniORB servers answer them concurrently);
 * - no `_is_a` / `_non_existent` / LocateRequest on connect (cppTango's first calls): Tango servers answer
 *   requests without them;
 * - reconnect back-off is explicit and jittered (omniORB retries per call without one);
 * - durations are milliseconds; `random` comes from the input so tests choose the jitter.
 */
import { assign, fromCallback, setup } from 'xstate';

/** First sleep after a failed connect, ms. */
export const MIN_BACKOFF_MS = 100;
/** Longest sleep between connect attempts, ms. */
export const MAX_BACKOFF_MS = 5_000;
/** Default bound on establishing a TCP connection, ms (cppTango's default client timeout, 3 s). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

export type GiopConnectionState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

export interface GiopConnectionInput {
  host: string;
  port: number;
  connectTimeoutMs?: number;
  /** Jitter source in [0, 1) (default Math.random). */
  random?: () => number;
}

export interface GiopConnectionContext {
  host: string;
  port: number;
  connectTimeoutMs: number;
  random: () => number;
  lastError: Error | null;
  /** The un-jittered sleep of the next backoff, ms. */
  backoffMs: number;
  /** The current (or last) sleep, ms. */
  sleepMs: number;
  /** Connections opened so far. */
  connections: number;
  /** The last connection ended with the server's CloseConnection (its unanswered requests may be re-sent). */
  peerClosed: boolean;
}

/** What the transport actor tells the machine. */
export type GiopTransportEvent =
  | { type: 'TRANSPORT.OPEN' }
  | { type: 'TRANSPORT.FAILED'; error: Error }
  | { type: 'TRANSPORT.CLOSED'; error: Error | null }
  | { type: 'TRANSPORT.PEER_CLOSE' }
  | { type: 'TRANSPORT.PROTOCOL_ERROR'; error: Error };

export type GiopConnectionEvent = GiopTransportEvent | { type: 'CONNECT' } | { type: 'CLOSE' };

/** The transport actor's input. */
export interface GiopTransportInput {
  host: string;
  port: number;
}

type Ev<T extends GiopConnectionEvent['type']> = Extract<GiopConnectionEvent, { type: T }>;

function jittered(random: () => number, ms: number): number {
  let u: number;
  try {
    u = random();
  } catch {
    u = 1;
  }
  if (!(typeof u === 'number' && u >= 0 && u <= 1)) u = 1;
  return ms * (0.5 + 0.5 * u);
}

export const giopConnectionMachine = setup({
  types: {
    context: {} as GiopConnectionContext,
    events: {} as GiopConnectionEvent,
    input: {} as GiopConnectionInput,
  },
  actors: {
    /** The socket; provided by `src/protocols/tango/giopTransport.ts`. */
    transport: fromCallback<{ type: 'NONE' }, GiopTransportInput, GiopTransportEvent>(({ sendBack }) => {
      sendBack({
        type: 'TRANSPORT.FAILED',
        error: new Error("giopConnection machine: 'transport' not provided"),
      });
    }),
  },
  actions: {
    /** The facade's reaction to a state (fail, re-queue or send requests); provided by the facade. */
    enterState: (_, _params: { state: GiopConnectionState }) => {},
    recordOpen: assign({
      lastError: null,
      backoffMs: MIN_BACKOFF_MS,
      connections: ({ context }) => context.connections + 1,
    }),
    recordFailure: assign({ lastError: ({ event }) => (event as Ev<'TRANSPORT.FAILED'>).error }),
    recordConnectTimeout: assign({
      lastError: ({ context }) =>
        new Error(
          `no TCP connection to ${context.host}:${context.port} within ${context.connectTimeoutMs} ms`,
        ),
    }),
    recordLost: assign({
      peerClosed: false,
      lastError: ({ event }) =>
        (event as Ev<'TRANSPORT.CLOSED'>).error ?? new Error('connection closed by the server'),
    }),
    recordPeerClose: assign({
      peerClosed: true,
      lastError: () => new Error('the server sent CloseConnection'),
    }),
    recordProtocolError: assign({
      peerClosed: false,
      lastError: ({ event }) => (event as Ev<'TRANSPORT.PROTOCOL_ERROR'>).error,
    }),
    recordClose: assign({
      lastError: ({ context }) => context.lastError ?? new Error('connection closed by the client'),
    }),
    scheduleRetry: assign(({ context }) => ({
      sleepMs: jittered(context.random, context.backoffMs),
      backoffMs: Math.min(context.backoffMs * 2, MAX_BACKOFF_MS),
    })),
  },
  delays: {
    connectTimeout: ({ context }) => context.connectTimeoutMs,
    sleep: ({ context }) => context.sleepMs,
  },
}).createMachine({
  id: 'giopConnection',
  context: ({ input }) => ({
    host: input.host,
    port: input.port,
    connectTimeoutMs: input.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    random: input.random ?? Math.random,
    lastError: null,
    backoffMs: MIN_BACKOFF_MS,
    sleepMs: 0,
    connections: 0,
    peerClosed: false,
  }),
  initial: 'idle',
  states: {
    idle: {
      entry: { type: 'enterState', params: { state: 'idle' } },
      on: { CONNECT: 'live', CLOSE: { target: 'closed', actions: 'recordClose' } },
    },
    live: {
      invoke: {
        id: 'transport',
        src: 'transport',
        input: ({ context }) => ({ host: context.host, port: context.port }),
      },
      initial: 'connecting',
      on: { CLOSE: { target: 'closed', actions: 'recordClose' } },
      states: {
        connecting: {
          entry: { type: 'enterState', params: { state: 'connecting' } },
          after: {
            connectTimeout: {
              target: '#giopConnection.backoff',
              actions: ['recordConnectTimeout', 'scheduleRetry'],
            },
          },
          on: {
            'TRANSPORT.OPEN': { target: 'connected', actions: 'recordOpen' },
            'TRANSPORT.FAILED': {
              target: '#giopConnection.backoff',
              actions: ['recordFailure', 'scheduleRetry'],
            },
          },
        },
        connected: {
          entry: { type: 'enterState', params: { state: 'connected' } },
          on: {
            'TRANSPORT.CLOSED': { target: '#giopConnection.idle', actions: 'recordLost' },
            'TRANSPORT.PEER_CLOSE': { target: '#giopConnection.idle', actions: 'recordPeerClose' },
            'TRANSPORT.PROTOCOL_ERROR': { target: '#giopConnection.idle', actions: 'recordProtocolError' },
          },
        },
      },
    },
    backoff: {
      entry: { type: 'enterState', params: { state: 'backoff' } },
      after: { sleep: 'idle' },
      on: { CLOSE: { target: 'closed', actions: 'recordClose' } },
    },
    closed: {
      type: 'final',
      entry: { type: 'enterState', params: { state: 'closed' } },
    },
  },
});
