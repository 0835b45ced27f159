/**
 * The TCP link of a Channel Access client to one `EPICS_CA_NAME_SERVERS` entry (libca `SearchDestTCP` and its
 * `tcpiiu`), over which searches are sent: its socket lifecycle as an XState v5 machine, one per name server.
 *
 *          ┌───────────────────── after backoff (context.waitMs) ─────────────────────────┐
 *          ▼                                                                               │
 *   connecting ──SOCKET_CONNECTED──► open ──VERSION [minor >= 12]──► ready                  │
 *   (entry:       (entry:             │ ▲                               (entry: resetBackoff, │
 *    openSocket)   sendGreeting)      │ └──VERSION [minor >= 12]──┐      notifyReady)         │
 *      │                              │ VERSION [minor < 12]      │                           │
 *      │                              ▼                           │                           │
 *      │                           notUsable (a link, but no search; warned once) ────────────┘
 *      │                                                                                      │
 *      │ after connectTimeout  ─┐                                                              │
 *      │ SOCKET_CLOSED {error} ─┴─► (any of connecting, open, notUsable, ready) ──► waiting ─────┘
 *      │                            actions: destroySocket, recordFailure, reportFailure
 *      ▼
 *   CLOSE (from every state but closed) ──► closed (final; entry: destroySocket)
 *
 * Events come from the socket side (`src/protocols/ca/nameServer.ts`): SOCKET_CONNECTED (TCP up), VERSION {minor}
 * (the server's VERSION reply), SOCKET_CLOSED {error?} (refused, reset, peer FIN, a malformed frame); and from the
 * owner: CLOSE. SEARCH replies and search requests never pass through the machine.
 *
 * The back-off: the first wait is 250 ms, doubled per failure up to `maxRetryMs` (never below 250 ms); a link that
 * becomes ready resets it. The first failure of an outage is reported with `warn`, the others with `debug`; an
 * outage ends when the link becomes ready.
 *
 * Invariants (checked by `test/ca/nameServerLink.machine.test.ts`):
 * - `openSocket` runs exactly once per entry of `connecting`; `destroySocket` on every way out of a state that has
 *   a socket; no timer runs in `open`, `notUsable`, `ready` or `closed`;
 * - `waitMs` of the n-th failure in a row is min(250 * 2^(n-1), max(maxRetryMs, 250)).
 *
 * Differences from upstream, on purpose:
 * - libca retries a name server's connect every `EPICS_CA_CONN_TMO` and reopens a dropped one at its next search
 *   round; Orrery backs off from 250 ms, doubling up to `maxRetryMs` (the connection timeout), so a name server
 *   that comes up late is found quickly and one that stays down costs little;
 * - a server whose VERSION says minor < 12 keeps its link (`notUsable`) but gets no search, as libca
 *   (`SearchDestTCP::searchRequest`, `CA_V412`); Orrery reports it once, as a warning.
 */
import { assign, setup } from 'xstate';

/** The first wait before reconnecting, ms; doubled per failure up to `maxRetryMs`. */
export const NAME_SERVER_FIRST_RETRY_MS = 250;
/** CA V4.12: TCP search (`CA_V412`). */
export const TCP_SEARCH_MINOR = 12;

/** The states of a name-server link. */
export type NameServerLinkMachineState = 'connecting' | 'open' | 'notUsable' | 'ready' | 'waiting' | 'closed';

export interface NameServerLinkMachineInput {
  /** `host:port` of the name server, for reports. */
  address: string;
  /** How the protocol side finds its link from the machine's effects (default `address`). */
  linkId?: string;
  /** Bound on one connection attempt, ms. */
  connectTimeoutMs: number;
  /** Largest wait between attempts, ms. */
  maxRetryMs: number;
}

export interface NameServerLinkMachineContext extends NameServerLinkMachineInput {
  linkId: string;
  /** The next failure's wait, ms. */
  retryMs: number;
  /** The current (last chosen) wait, ms. */
  waitMs: number;
  /** The server's minor protocol version (0 until its VERSION). */
  minor: number;
  /** A failure of the current outage was already reported as a warning. */
  warned: boolean;
  /** Connection attempts so far. */
  connects: number;
  /** The last failure. */
  error: Error | null;
}

/** What the socket side tells the machine. */
export type NameServerSocketEvent =
  | { type: 'SOCKET_CONNECTED' }
  | { type: 'VERSION'; minor: number }
  | { type: 'SOCKET_CLOSED'; error?: Error | null };

export type NameServerLinkMachineEvent = NameServerSocketEvent | { type: 'CLOSE' };

/** What a report (the `warn` and `debug` actions) says; the protocol side writes it to its logger. */
export type NameServerLinkReport =
  | { what: 'failed'; error: Error | null; retryInMs: number }
  | { what: 'ready'; minor: number }
  | { what: 'noTcpSearch'; minor: number };

const linkSetup = setup({
  types: {
    context: {} as NameServerLinkMachineContext,
    events: {} as NameServerLinkMachineEvent,
    input: {} as NameServerLinkMachineInput,
  },
  actions: {
    /** The protocol side hears of every state entered; provided by `nameServer.ts`. */
    enterState: (_, _params: { state: NameServerLinkMachineState }) => {},
    /** Open a TCP connection to the name server (it answers SOCKET_CONNECTED or SOCKET_CLOSED). */
    openSocket: () => {},
    /** Write VERSION (priority 0), CLIENT_NAME, HOST_NAME. */
    sendGreeting: () => {},
    /** Destroy the socket, if any; its later events are not sent. */
    destroySocket: () => {},
    /** The link can take searches (again). */
    notifyReady: () => {},
    warn: (_, _params: NameServerLinkReport) => {},
    debug: (_, _params: NameServerLinkReport) => {},
    countConnect: assign({ connects: ({ context }) => context.connects + 1, minor: 0 }),
    recordVersion: assign({
      minor: ({ context, event }) => (event.type === 'VERSION' ? event.minor : context.minor),
    }),
    recordFailure: assign(({ context, event }) => ({
      error:
        event.type === 'SOCKET_CLOSED'
          ? (event.error ?? new Error('connection closed'))
          : new Error(`connect timed out after ${context.connectTimeoutMs} ms`),
      waitMs: context.retryMs,
      retryMs: Math.min(context.retryMs * 2, Math.max(context.maxRetryMs, NAME_SERVER_FIRST_RETRY_MS)),
    })),
    resetBackoff: assign({ retryMs: NAME_SERVER_FIRST_RETRY_MS, warned: false }),
  },
  guards: {
    tcpSearch: ({ event }) => event.type === 'VERSION' && event.minor >= TCP_SEARCH_MINOR,
  },
  delays: {
    connectTimeout: ({ context }) => context.connectTimeoutMs,
    backoff: ({ context }) => context.waitMs,
  },
});

/** The first failure of an outage is reported with `warn`, the others with `debug`. */
const reportFailure = linkSetup.enqueueActions(({ context, enqueue }) => {
  const report = { what: 'failed', error: context.error, retryInMs: context.waitMs } as const;
  if (context.warned) enqueue({ type: 'debug', params: report });
  else enqueue({ type: 'warn', params: report });
  enqueue.assign({ warned: true });
});

/** Every way out of a state with a socket but `CLOSE`: release the socket, wait, retry. */
const failed = { target: 'waiting', actions: ['destroySocket', 'recordFailure', reportFailure] } as const;

export const nameServerLinkMachine = linkSetup.createMachine({
  id: 'caNameServerLink',
  context: ({ input }) => ({
    address: input.address,
    linkId: input.linkId ?? input.address,
    connectTimeoutMs: input.connectTimeoutMs,
    maxRetryMs: input.maxRetryMs,
    retryMs: NAME_SERVER_FIRST_RETRY_MS,
    waitMs: NAME_SERVER_FIRST_RETRY_MS,
    minor: 0,
    warned: false,
    connects: 0,
    error: null,
  }),
  initial: 'connecting',
  states: {
    connecting: {
      entry: [{ type: 'enterState', params: { state: 'connecting' } }, 'countConnect', 'openSocket'],
      after: {
        connectTimeout: failed,
      },
      on: {
        SOCKET_CONNECTED: 'open',
        SOCKET_CLOSED: failed,
        CLOSE: 'closed',
      },
    },
    open: {
      entry: [{ type: 'enterState', params: { state: 'open' } }, 'sendGreeting'],
      on: {
        VERSION: [
          { guard: 'tcpSearch', target: 'ready', actions: 'recordVersion' },
          { target: 'notUsable', actions: 'recordVersion' },
        ],
        SOCKET_CLOSED: failed,
        CLOSE: 'closed',
      },
    },
    notUsable: {
      entry: [
        { type: 'enterState', params: { state: 'notUsable' } },
        { type: 'warn', params: ({ context }) => ({ what: 'noTcpSearch', minor: context.minor }) },
      ],
      on: {
        VERSION: { guard: 'tcpSearch', target: 'ready', actions: 'recordVersion' },
        SOCKET_CLOSED: failed,
        CLOSE: 'closed',
      },
    },
    ready: {
      entry: [
        { type: 'enterState', params: { state: 'ready' } },
        'resetBackoff',
        { type: 'debug', params: ({ context }) => ({ what: 'ready', minor: context.minor }) },
        'notifyReady',
      ],
      on: {
        SOCKET_CLOSED: failed,
        CLOSE: 'closed',
      },
    },
    waiting: {
      entry: { type: 'enterState', params: { state: 'waiting' } },
      after: { backoff: 'connecting' },
      on: { CLOSE: 'closed' },
    },
    closed: {
      type: 'final',
      entry: [{ type: 'enterState', params: { state: 'closed' } }, 'destroySocket'],
    },
  },
});
