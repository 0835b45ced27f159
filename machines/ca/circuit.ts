/**
 * A Channel Access TCP virtual circuit (libca `tcpiiu`, caproto `VirtualCircuit` + the threading client's
 * liveness check) as an XState v5 machine: one per (server address, priority).
 *
 *   ┌ live (invokes `socket`; leaving `live` stops it, which destroys the socket) ─────────────────────────────┐
 *   │                                                                                                            │
 *   │  connecting ──SOCKET_CONNECTED──► connected ──after connectionTimeoutMs (silence)──► probing              │
 *   │      │                              ▲   │ HEARD (re-entered: the silence timer restarts)  │ entry: sendEcho│
 *   │      │ SOCKET_CLOSED                │   └──────────────┘                                  │                │
 *   │      │ (connect failed), or         └────────────────────────HEARD────────────────────────┤                │
 *   │      │ after connectTimeoutMs (no answer: recordConnectTimeout)                           │                │
 *   │      │                                                                                    │ after         │
 *   │      │                                                            unresponsive ◄─────────┘ echoTimeoutMs  │
 *   │      │                                                            (entry: closeSocket)                    │
 *   └──────┼────────────────────────────────────────────────────────────────────────────────────────────────────┘
 *          │    any state of live: SOCKET_CLOSED {error?} | PROTOCOL_ERROR {error} | CLOSE {error?}
 *          ▼                               ▼
 *        closed (final; output: { reason, error })
 *
 * Events come from the socket actor (`src/protocols/ca/circuitSocket.ts`): SOCKET_CONNECTED (TCP up, the
 * handshake VERSION/HOST_NAME/CLIENT_NAME written), HEARD (bytes arrived; throttled by the socket actor, at once
 * while an echo is outstanding), SOCKET_CLOSED {error?} (the socket is gone: peer FIN, reset, connect failure),
 * PROTOCOL_ERROR {error} (a malformed frame: the parser's CaProtocolError); and from the owner: CLOSE {error?}.
 * The hot path (frames, writes) never passes through the machine.
 *
 * The first reason recorded wins: a circuit closed because it was unresponsive stays `unresponsive` (with its
 * CaTimeoutError) even if the socket then reports a reset or the owner closes it meanwhile.
 *
 * The TCP connect is bounded: a server whose SYN goes unanswered (a blackholed address, a firewall dropping
 * packets) would otherwise keep the circuit `connecting` for the kernel's ~127 s. After `connectTimeoutMs`
 * (default `connectionTimeoutMs`) in `connecting` the circuit closes with a CaTimeoutError (reason
 * `connect-failed`); leaving `live` stops the socket actor, which destroys the socket.
 *
 * Invariants (checked by `test/ca/circuit.machine.property.test.ts`):
 * - the socket actor exists iff the state is in `live`; `closed` is final and nothing leaves it;
 * - `reason` and `error` are null in every state of `live` but `unresponsive`, and set in `closed`;
 * - exactly one ECHO is sent per entry of `probing`; in `connecting` only the connect deadline runs (none when
 *   `connectTimeoutMs` is Infinity); no timer runs in `unresponsive` or `closed`.
 *
 * Differences from upstream, on purpose:
 * - libca keeps an unresponsive circuit open until the kernel reports it dead (channels only look disconnected);
 *   caproto (#798) disconnects it and reconnects its channels. Orrery follows caproto: `unresponsive` closes the
 *   socket and the circuit ends with a CaTimeoutError, so its channels search again;
 * - the silence before an echo is measured per circuit (libca) rather than per server address from beacons and
 *   any circuit (caproto), and without caproto's extra 1 s margin;
 * - durations are milliseconds from the input (`EPICS_CA_CONN_TMO` and libca's 5 s `CA_ECHO_TIMEOUT` given by
 *   the connection), so a TestClock drives the whole curve.
 */
import { assign, fromCallback, sendTo, setup } from 'xstate';
import { CaDisconnectedError, CaTimeoutError } from '../../src/protocols/ca/errors.js';

/** Why a circuit ended. */
export type CircuitCloseReason =
  | 'connect-failed'
  | 'peer-closed'
  | 'protocol-error'
  | 'unresponsive'
  | 'closed-by-client';

/** The states a circuit goes through (the machine's, flattened). */
export type CircuitMachineState = 'connecting' | 'connected' | 'probing' | 'unresponsive' | 'closed';

export interface CircuitMachineInput {
  /** `host:port` of the server, for error messages. */
  address: string;
  /** The circuit's priority (0..99, VERSION's priority field): one circuit per (address, priority). */
  priority: number;
  /** How the `socket` actor finds its connection (the connection's id for the circuit; default `address`). */
  circuitId?: string;
  /** Silence on the circuit before an ECHO probe (`EPICS_CA_CONN_TMO`), ms; Infinity for never. */
  connectionTimeoutMs: number;
  /** How long an ECHO may stay unanswered before the circuit is unresponsive (libca 5 s), ms. */
  echoTimeoutMs: number;
  /** Bound on the TCP connect, ms (default `connectionTimeoutMs`); Infinity for never. */
  connectTimeoutMs?: number;
}

export interface CircuitMachineContext extends CircuitMachineInput {
  circuitId: string;
  connectTimeoutMs: number;
  reason: CircuitCloseReason | null;
  error: Error | null;
  /** ECHO probes sent over the circuit's life. */
  echoesSent: number;
}

export interface CircuitMachineOutput {
  reason: CircuitCloseReason;
  error: Error;
}

/** What the socket actor tells the machine. */
export type CircuitSocketEvent =
  | { type: 'SOCKET_CONNECTED' }
  | { type: 'HEARD' }
  | { type: 'SOCKET_CLOSED'; error?: Error | null }
  | { type: 'PROTOCOL_ERROR'; error: Error };

export type CircuitMachineEvent = CircuitSocketEvent | { type: 'CLOSE'; error?: Error | null };

/** What the machine tells the socket actor: write an ECHO, or close the socket (it answers SOCKET_CLOSED). */
export type CircuitSocketCommand = { type: 'ECHO' } | { type: 'CLOSE' };

type Ev<T extends CircuitMachineEvent['type']> = Extract<CircuitMachineEvent, { type: T }>;

/** The first reason wins (see the header). */
const firstReason = <T>(context: CircuitMachineContext, make: () => T): T | CircuitMachineContext['reason'] =>
  context.reason ?? make();

export const circuitMachine = setup({
  types: {
    context: {} as CircuitMachineContext,
    events: {} as CircuitMachineEvent,
    input: {} as CircuitMachineInput,
    output: {} as CircuitMachineOutput,
  },
  actors: {
    /**
     * The TCP socket: connects on start and sends the socket events; ECHO writes an echo, CLOSE destroys the
     * socket; stopping it destroys the socket. Provided by `src/protocols/ca/circuitSocket.ts`.
     */
    socket: fromCallback<CircuitSocketCommand, CircuitMachineInput, CircuitSocketEvent>(({ sendBack }) => {
      sendBack({ type: 'SOCKET_CLOSED', error: new Error("caCircuit machine: 'socket' not provided") });
    }),
  },
  actions: {
    /** The facade hears of every state entered (its onState listeners); provided by the connection. */
    enterState: (_, _params: { state: CircuitMachineState }) => {},
    sendEcho: sendTo('socket', { type: 'ECHO' } as CircuitSocketCommand),
    closeSocket: sendTo('socket', { type: 'CLOSE' } as CircuitSocketCommand),
    countEcho: assign({ echoesSent: ({ context }) => context.echoesSent + 1 }),
    recordConnectFailure: assign(({ context, event }) => {
      const cause = (event as Ev<'SOCKET_CLOSED'>).error ?? undefined;
      return {
        reason: firstReason(context, () => 'connect-failed' as const),
        error:
          context.error ??
          new CaDisconnectedError(
            `Failed to connect to ${context.address}: ${cause?.message ?? 'closed before it was established'}`,
            { cause },
          ),
      };
    }),
    recordConnectTimeout: assign(({ context }) => ({
      reason: firstReason(context, () => 'connect-failed' as const),
      error:
        context.error ??
        new CaTimeoutError(
          `Failed to connect to ${context.address}: no answer within ${context.connectTimeoutMs} ms ` +
            '(the TCP connect timed out)',
        ),
    })),
    recordPeerClosed: assign(({ context, event }) => {
      const cause = (event as Ev<'SOCKET_CLOSED'>).error ?? undefined;
      return {
        reason: firstReason(context, () => 'peer-closed' as const),
        error:
          context.error ??
          new CaDisconnectedError(
            `Circuit to ${context.address} closed by the server${cause ? `: ${cause.message}` : ''}`,
            { cause },
          ),
      };
    }),
    recordProtocolError: assign(({ context, event }) => ({
      reason: firstReason(context, () => 'protocol-error' as const),
      error: context.error ?? (event as Ev<'PROTOCOL_ERROR'>).error,
    })),
    recordClose: assign(({ context, event }) => ({
      reason: firstReason(context, () => 'closed-by-client' as const),
      error:
        context.error ??
        (event as Ev<'CLOSE'>).error ??
        new CaDisconnectedError(`Circuit to ${context.address} closed by the client`),
    })),
    recordUnresponsive: assign(({ context }) => ({
      reason: 'unresponsive' as const,
      error: new CaTimeoutError(
        `Server at ${context.address} did not answer an echo within ${context.echoTimeoutMs} ms ` +
          `(after ${context.connectionTimeoutMs} ms of silence): the circuit is unresponsive`,
      ),
    })),
  },
  delays: {
    connectDeadline: ({ context }) => context.connectTimeoutMs,
    silence: ({ context }) => context.connectionTimeoutMs,
    echoDeadline: ({ context }) => context.echoTimeoutMs,
  },
}).createMachine({
  id: 'caCircuit',
  context: ({ input }) => ({
    address: input.address,
    priority: input.priority,
    circuitId: input.circuitId ?? input.address,
    connectionTimeoutMs: input.connectionTimeoutMs,
    echoTimeoutMs: input.echoTimeoutMs,
    connectTimeoutMs: input.connectTimeoutMs ?? input.connectionTimeoutMs,
    reason: null,
    error: null,
    echoesSent: 0,
  }),
  initial: 'live',
  states: {
    live: {
      invoke: {
        id: 'socket',
        src: 'socket',
        input: ({ context }) => ({
          address: context.address,
          priority: context.priority,
          circuitId: context.circuitId,
          connectionTimeoutMs: context.connectionTimeoutMs,
          echoTimeoutMs: context.echoTimeoutMs,
          connectTimeoutMs: context.connectTimeoutMs,
        }),
      },
      on: {
        SOCKET_CLOSED: { target: 'closed', actions: 'recordPeerClosed' },
        PROTOCOL_ERROR: { target: 'closed', actions: 'recordProtocolError' },
        CLOSE: { target: 'closed', actions: 'recordClose' },
      },
      initial: 'connecting',
      states: {
        connecting: {
          entry: { type: 'enterState', params: { state: 'connecting' } },
          after: { connectDeadline: { target: '#caCircuit.closed', actions: 'recordConnectTimeout' } },
          on: {
            SOCKET_CONNECTED: 'connected',
            SOCKET_CLOSED: { target: '#caCircuit.closed', actions: 'recordConnectFailure' },
          },
        },
        connected: {
          entry: { type: 'enterState', params: { state: 'connected' } },
          after: { silence: 'probing' },
          on: { HEARD: { target: 'connected', reenter: true } },
        },
        probing: {
          entry: [{ type: 'enterState', params: { state: 'probing' } }, 'sendEcho', 'countEcho'],
          after: { echoDeadline: 'unresponsive' },
          on: { HEARD: 'connected' },
        },
        unresponsive: {
          entry: [
            'recordUnresponsive',
            { type: 'enterState', params: { state: 'unresponsive' } },
            'closeSocket',
          ],
        },
      },
    },
    closed: {
      type: 'final',
      entry: { type: 'enterState', params: { state: 'closed' } },
    },
  },
  output: ({ context }) => ({
    reason: context.reason ?? 'closed-by-client',
    error: context.error ?? new CaDisconnectedError(`Circuit to ${context.address} closed`),
  }),
});
