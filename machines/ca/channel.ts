/**
 * One Channel Access channel of a client `PV` (caproto threading client's `PV` + `ClientChannel` lifecycle) as an
 * XState v5 machine. Only lifecycle events pass through it: reads, writes and monitor updates go between the PV
 * facade and its circuit directly.
 *
 *                  ┌──────────────── CIRCUIT_LOST ─────────────────┐
 *                  ▼                                               │
 *   ──► searching ──FOUND──► connecting ──CREATED──► connected ────┤ SERVER_DISCONNECTED, CIRCUIT_LOST
 *        ▲  ▲ (entry: startSearch,        │ ACCESS_RIGHTS           │ ACCESS_RIGHTS (self)
 *        │  │  exit: stopSearch)          │ (self, may come first)  ▼
 *        │  │                             │                   disconnected ──(always)──► searching
 *        │  │                             │ CREATE_FAILED           (entry: forgetChannel)
 *        │  └── after retryDelay ── backingOff ◄──┘
 *        │
 *        └─── WAKE ─── idle ◄──GO_IDLE── connected (action: clearChannel)
 *   CLOSE from any state ──► closed (final; from connected, connecting: clearChannel / forgetChannel).
 *
 * `connected` runs `announceConnected` on entry and `announceDisconnected` on exit (every way out of it: loss,
 * idle, close), so the PV's connection-state callbacks see exactly one 'disconnected' per 'connected'.
 * `accessRightsChanged` runs for every ACCESS_RIGHTS while connected (the ones before CREATED are only stored).
 *
 * Effects are named actions with default no-ops, supplied by the PV facade with `.provide()`:
 * - `startSearch` / `stopSearch`: add / remove the channel's cid in the context's SearchEngine;
 * - `createChannel`: get (or open) the circuit for `context.address` and the PV's priority, register the cid on
 *   it and send CREATE_CHAN;
 * - `forgetChannel`: unregister the cid from its circuit (the server's channel is gone or never existed);
 * - `clearChannel`: send CLEAR_CHANNEL(sid, cid) and unregister (go idle, close);
 * - `announceConnected`, `announceDisconnected`, `accessRightsChanged`: the PV's callbacks, waiters and
 *   subscriptions.
 *
 * Differences from upstream, on purpose:
 * - SERVER_DISCONN re-searches the name at once (caproto marks the PV disconnected and waits for the server to go
 *   down; libca re-searches as here), and CREATE_CH_FAIL re-searches after a back-off (1 s doubling to 30 s) instead
 *   of leaving the PV unconnected for good;
 * - going idle and waking are explicit states: a PV's idleness is visible in its snapshot;
 * - the channel's cid is the PV's for its whole life (caproto allocates a cid per search); circuits route by their
 *   own tables, so a reply from an old circuit never reaches a new channel.
 */
import { assign, setup } from 'xstate';

/** First back-off after CREATE_CH_FAIL, and its cap (ms). */
export const CREATE_RETRY_INITIAL_MS = 1000;
export const CREATE_RETRY_MAX_MS = 30_000;

/** Where a search answer says the channel lives. */
export interface ChannelAddress {
  host: string;
  port: number;
}

export interface ChannelInput {
  name: string;
  priority: number;
}

export interface ChannelContext {
  name: string;
  priority: number;
  /** The server found by the last search (kept after a loss, for display). */
  address: ChannelAddress | null;
  /** The server's protocol minor version (search reply). */
  minorVersion: number | null;
  /** Server id, native type and count: set in `connected`, null elsewhere. */
  sid: number | null;
  nativeType: number | null;
  nativeCount: number | null;
  /** ACCESS_RIGHTS bits (0 until the server sends them). */
  accessRights: number;
  /** CREATE_CH_FAIL answers since the last success (drives the back-off). */
  createFailures: number;
  /** Times the channel reached `connected`. */
  connections: number;
}

export type ChannelEvent =
  | { type: 'FOUND'; address: ChannelAddress; minorVersion: number }
  | { type: 'CREATED'; sid: number; nativeType: number; nativeCount: number }
  | { type: 'ACCESS_RIGHTS'; rights: number }
  | { type: 'CREATE_FAILED' }
  | { type: 'SERVER_DISCONNECTED' }
  | { type: 'CIRCUIT_LOST' }
  | { type: 'GO_IDLE' }
  | { type: 'WAKE' }
  | { type: 'CLOSE' };

/** The machine's state names (PV.channelState). */
export type ChannelStateName =
  | 'searching'
  | 'connecting'
  | 'connected'
  | 'disconnected'
  | 'backingOff'
  | 'idle'
  | 'closed';

type Ev<T extends ChannelEvent['type']> = Extract<ChannelEvent, { type: T }>;

/** Back-off before re-searching after `failures` CREATE_CH_FAIL answers. */
export function createRetryDelay(failures: number): number {
  return Math.min(CREATE_RETRY_INITIAL_MS * 2 ** Math.max(0, failures - 1), CREATE_RETRY_MAX_MS);
}

const lost = { sid: null, nativeType: null, nativeCount: null, accessRights: 0 } as const;

export const channelMachine = setup({
  types: {
    context: {} as ChannelContext,
    events: {} as ChannelEvent,
    input: {} as ChannelInput,
  },
  actions: {
    startSearch: () => {},
    stopSearch: () => {},
    createChannel: () => {},
    forgetChannel: () => {},
    clearChannel: () => {},
    announceConnected: () => {},
    announceDisconnected: () => {},
    accessRightsChanged: () => {},
    recordFound: assign(({ event }) => {
      const e = event as Ev<'FOUND'>;
      return { address: { host: e.address.host, port: e.address.port }, minorVersion: e.minorVersion };
    }),
    recordCreated: assign(({ context, event }) => {
      const e = event as Ev<'CREATED'>;
      return {
        sid: e.sid,
        nativeType: e.nativeType,
        nativeCount: e.nativeCount,
        createFailures: 0,
        connections: context.connections + 1,
      };
    }),
    recordRights: assign({ accessRights: ({ event }) => (event as Ev<'ACCESS_RIGHTS'>).rights }),
    recordCreateFailure: assign({ createFailures: ({ context }) => context.createFailures + 1, ...lost }),
    recordLost: assign({ ...lost }),
  },
  delays: {
    retryDelay: ({ context }) => createRetryDelay(context.createFailures),
  },
}).createMachine({
  id: 'caChannel',
  initial: 'searching',
  context: ({ input }) => ({
    name: input.name,
    priority: input.priority,
    address: null,
    minorVersion: null,
    sid: null,
    nativeType: null,
    nativeCount: null,
    accessRights: 0,
    createFailures: 0,
    connections: 0,
  }),
  states: {
    searching: {
      entry: 'startSearch',
      exit: 'stopSearch',
      on: {
        FOUND: { target: 'connecting', actions: 'recordFound' },
        CLOSE: 'closed',
      },
    },
    connecting: {
      entry: 'createChannel',
      on: {
        ACCESS_RIGHTS: { actions: 'recordRights' },
        CREATED: { target: 'connected', actions: 'recordCreated' },
        CREATE_FAILED: { target: 'backingOff', actions: ['forgetChannel', 'recordCreateFailure'] },
        CIRCUIT_LOST: { target: 'searching', actions: ['forgetChannel', 'recordLost'] },
        CLOSE: { target: 'closed', actions: ['forgetChannel', 'recordLost'] },
      },
    },
    connected: {
      entry: 'announceConnected',
      exit: 'announceDisconnected',
      on: {
        ACCESS_RIGHTS: { actions: ['recordRights', 'accessRightsChanged'] },
        SERVER_DISCONNECTED: 'disconnected',
        CIRCUIT_LOST: 'disconnected',
        GO_IDLE: { target: 'idle', actions: ['clearChannel', 'recordLost'] },
        CLOSE: { target: 'closed', actions: ['clearChannel', 'recordLost'] },
      },
    },
    disconnected: {
      entry: ['forgetChannel', 'recordLost'],
      always: 'searching',
    },
    backingOff: {
      after: { retryDelay: 'searching' },
      on: { CLOSE: 'closed' },
    },
    idle: {
      on: {
        WAKE: 'searching',
        CLOSE: 'closed',
      },
    },
    closed: { type: 'final' },
  },
});
