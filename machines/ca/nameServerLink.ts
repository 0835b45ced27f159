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
 *      │ SOCKET_CLOSED {error} ─┼─► (any of connecting, open, notUsable, ready) ──► waiting ─────┘
 *      │ after echoDeadline    ─┘   (from the `probing` of notUsable or ready: recordEchoTimeout)
 *      │                            actions: destroySocket, recordFailure, reportFailure
 *      ▼
 *   CLOSE (from every state but closed) ──► closed (final; entry: destroySocket)
 *
 *   inside ready and inside notUsable, the same echo supervision (libca's tcpiiu, as `caCircuit`):
 *
 *     quiet ──after silence (silenceMs)──► probing (entry: sendEcho) ──after echoDeadline──► waiting (above)
 *      ▲  │ HEARD (re-entered: the           │
 *      │  └─ silence timer restarts)         │
 *      └────────────────HEARD────────────────┘
 *
 * Events come from the socket side (`src/protocols/ca/nameServer.ts`): SOCKET_CONNECTED (TCP up), VERSION {minor}
 * (the server's VERSION reply), HEARD (bytes arrived; throttled by the socket side, at once while an echo is
 * outstanding), SOCKET_CLOSED {error?} (refused, reset, peer FIN, a malformed frame); and from the owner: CLOSE.
 * SEARCH replies and search requests never pass through the machine.
 *
 * The back-off: the first wait is 250 ms, doubled per failure up to `maxRetryMs` (never below 250 ms); a link that
 * becomes ready resets it. The first failure of an outage is reported with `warn`, the others with `debug`; an
 * outage ends when the link becomes ready. A link silent for `silenceMs` in `ready` or `notUsable` is sent an
 * ECHO; one that stays silent `echoTimeoutMs` more has failed (a CaTimeoutError), as a dropped one.
 *
 * Invariants (checked by `test/ca/nameServerLink.machine.test.ts`):
 * - `openSocket` runs exactly once per entry of `connecting`; `destroySocket` on every way out of a state that has
 *   a socket; no timer runs in `open` or `closed`; in `ready` and `notUsable` exactly one runs (the silence or the
 *   echo deadline), none at all when `silenceMs` is Infinity;
 * - exactly one ECHO (`sendEcho`) is sent per entry of `probing`, and none elsewhere;
 * - `waitMs` of the n-th failure in a row is min(250 * 2^(n-1), max(maxRetryMs, 250)).
 *
 * Differences from upstream, on purpose:
 * - libca retries a name server's connect every `EPICS_CA_CONN_TMO` and reopens a dropped one at its next search
 *   round; Orrery backs off from 250 ms, doubling up to `maxRetryMs` (the connection timeout), so a name server
 *   that comes up late is found quickly and one that stays down costs little;
 * - a server whose VERSION says minor < 12 keeps its link (`notUsable`) but gets no search, as libca
 *   (`SearchDestTCP::searchRequest`, `CA_V412`); Orrery reports it once, as a warning;
 * - libca keeps an unresponsive tcpiiu open until the kernel reports it dead; Orrery drops the link when its echo
 *   goes unanswered and reconnects with the back-off (as `caCircuit` closes an unresponsive circuit, after caproto);
 * - durations are milliseconds from the input (`EPICS_CA_CONN_TMO` and libca's 5 s `CA_ECHO_TIMEOUT`), so a
 *   TestClock drives the whole curve.
 */
import { assign, setup } from 'xstate';
import { CaTimeoutError } from '../../src/protocols/ca/errors.js';

/** The first wait before reconnecting, ms; doubled per failure up to `maxRetryMs`. */
export const NAME_SERVER_FIRST_RETRY_MS = 250;
/** CA V4.12: TCP search (`CA_V412`). */
export const TCP_SEARCH_MINOR = 12;
/** libca `CA_ECHO_TIMEOUT`: how long an ECHO may stay unanswered, ms (the default of `echoTimeoutMs`). */
export const NAME_SERVER_ECHO_TIMEOUT_MS = 5000;

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
  /** Silence on a ready (or not usable) link before an ECHO probe (`EPICS_CA_CONN_TMO`), ms; Infinity for never. */
  silenceMs: number;
  /** How long an ECHO may stay unanswered before the link has failed, ms (default libca's 5000). */
  echoTimeoutMs?: number;
}

export interface NameServerLinkMachineContext extends NameServerLinkMachineInput {
  linkId: string;
  echoTimeoutMs: number;
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
  /** ECHO probes sent so far. */
  echoesSent: number;
  /** The last failure. */
  error: Error | null;
}

/** What the socket side tells the machine. */
export type NameServerSocketEvent =
  | { type: 'SOCKET_CONNECTED' }
  | { type: 'VERSION'; minor: number }
  | { type: 'HEARD' }
  | { type: 'SOCKET_CLOSED'; error?: Error | null };

export type NameServerLinkMachineEvent = NameServerSocketEvent | { type: 'CLOSE' };

/** What a report (the `warn` and `debug` actions) says; the protocol side writes it to its logger. */
export type NameServerLinkReport =
  | { what: 'failed'; error: Error | null; retryInMs: number }
  | { what: 'ready'; minor: number }
  | { what: 'noTcpSearch'; minor: number };

/** The wait of this failure and of the next one (the back-off). */
function nextWait(context: NameServerLinkMachineContext): { waitMs: number; retryMs: number } {
  return {
    waitMs: context.retryMs,
    retryMs: Math.min(context.retryMs * 2, Math.max(context.maxRetryMs, NAME_SERVER_FIRST_RETRY_MS)),
  };
}

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
    /** Write an ECHO (header only); the socket side then sends HEARD at once on the next bytes. */
    sendEcho: () => {},
    warn: (_, _params: NameServerLinkReport) => {},
    debug: (_, _params: NameServerLinkReport) => {},
    countConnect: assign({ connects: ({ context }) => context.connects + 1, minor: 0 }),
    recordVersion: assign({
      minor: ({ context, event }) => (event.type === 'VERSION' ? event.minor : context.minor),
    }),
    countEcho: assign({ echoesSent: ({ context }) => context.echoesSent + 1 }),
    recordFailure: assign(({ context, event }) => ({
      error:
        event.type === 'SOCKET_CLOSED'
          ? (event.error ?? new Error('connection closed'))
          : new Error(`connect timed out after ${context.connectTimeoutMs} ms`),
      ...nextWait(context),
    })),
    recordEchoTimeout: assign(({ context }) => ({
      error: new CaTimeoutError(
        `Name server ${context.address} did not answer an echo within ${context.echoTimeoutMs} ms ` +
          `(after ${context.silenceMs} ms of silence)`,
      ),
      ...nextWait(context),
    })),
    resetBackoff: assign({ retryMs: NAME_SERVER_FIRST_RETRY_MS, warned: false }),
  },
  guards: {
    tcpSearch: ({ event }) => event.type === 'VERSION' && event.minor >= TCP_SEARCH_MINOR,
  },
  delays: {
    connectTimeout: ({ context }) => context.connectTimeoutMs,
    backoff: ({ context }) => context.waitMs,
    silence: ({ context }) => context.silenceMs,
    echoDeadline: ({ context }) => context.echoTimeoutMs,
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

/** The echo supervision of `ready` and `notUsable` (libca's tcpiiu, as `caCircuit`'s connected/probing). */
const supervised = {
  initial: 'quiet',
  states: {
    quiet: {
      after: { silence: 'probing' },
      on: { HEARD: { target: 'quiet', reenter: true } },
    },
    probing: {
      entry: ['sendEcho', 'countEcho'],
      after: {
        echoDeadline: {
          target: '#caNameServerLink.waiting',
          actions: ['destroySocket', 'recordEchoTimeout', reportFailure],
        },
      },
      on: { HEARD: 'quiet' },
    },
  },
} as const;

export const nameServerLinkMachine = linkSetup.createMachine({
  id: 'caNameServerLink',
  context: ({ input }) => ({
    address: input.address,
    linkId: input.linkId ?? input.address,
    connectTimeoutMs: input.connectTimeoutMs,
    maxRetryMs: input.maxRetryMs,
    silenceMs: input.silenceMs,
    echoTimeoutMs: input.echoTimeoutMs ?? NAME_SERVER_ECHO_TIMEOUT_MS,
    retryMs: NAME_SERVER_FIRST_RETRY_MS,
    waitMs: NAME_SERVER_FIRST_RETRY_MS,
    minor: 0,
    warned: false,
    connects: 0,
    echoesSent: 0,
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
      ...supervised,
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
      ...supervised,
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
