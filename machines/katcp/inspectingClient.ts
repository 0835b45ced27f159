/**
 * The state model of katcp-python's `InspectingClientAsync` (its `_state_loop`) as an XState v5 machine. Upstream
 * keeps four booleans (connected, synced, model_changed, data_synced) of which five combinations are legal and
 * checks them at run time; here each legal combination is a state (tags carry the flags), so no other one can be
 * reached.
 *
 *   disconnected (S0) ──UP──► connected.syncing.waitingForProtocol (S1)
 *        ▲   │                       │ READY
 *        │   └──READY───────────────►▼
 *        │                  connected.syncing.protocolReady ──(initialInspection false, once)──► synced (S4)
 *        │                           │
 *        │                           ▼
 *        │                  connected.syncing.inspecting (S1) ── invokes `inspect` {scope, flags}, bounded by
 *        │                      │    │    │                     `syncTimeout` (an `after` delay)
 *        │        fail, timeout │    │    │ INTERFACE_CHANGED: scope kept for later (merged)
 *        │        or bad result ▼    │    │
 *        │   connected.resyncWait (S1: waits the backoff delay read before failed(), as upstream)
 *        │                      │ after the delay: back to syncing.inspecting, S1 announced again
 *        │                      │
 *        │      done, changes   ▼    done, no changes
 *        │   connected.inspected.modelChanged (S2) | connected.inspected.dataSynced (S3)
 *        │      reapplySampling on entry; invokes `callbacksDone`; INTERFACE_CHANGED kept for later
 *        │                      │ callbacks done
 *        │                      ▼
 *        │   connected.inspected.synced (S4) (backoff reset) ──INTERFACE_CHANGED──► syncing.inspecting
 *        │                          └── (changes kept during the inspection) ──────► syncing.inspecting
 *        └────────── DOWN (from any connected state; none while already S0) ◄──────────
 *   STOP from anywhere ──► stopped (final; S0 announced once if it was connected)
 *   MODEL.UPDATE in S1..S4 (connected): a single-name lookup merged into the index, no state change, no emit;
 *   an inspection in flight then goes over it for its own scope only.
 *   The index changes only on a successful inspection (or MODEL.UPDATE): a failed one leaves it as it was, as
 *   upstream restores its snapshot. It is kept across DOWN, so an inspection after a reconnect reports only what
 *   changed meanwhile.
 *
 * | state | connected | synced | modelChanged | dataSynced | nodes                                   |
 * |-------|-----------|--------|--------------|------------|-----------------------------------------|
 * | S0    | false     | false  | false        | false      | disconnected, stopped                   |
 * | S1    | true      | false  | false        | false      | syncing.*, resyncWait                   |
 * | S2    | true      | false  | true         | true       | inspected.modelChanged                  |
 * | S3    | true      | false  | false        | true       | inspected.dataSynced                    |
 * | S4    | true      | true   | false        | true       | inspected.synced                        |
 *
 * Each entry into S0..S4 emits `{type: 'state', state, modelChanges}` (modelChanges only with S2): S0 on
 * start and on DOWN; S1 when the connection comes up (UP, or READY without UP), and again on every retry and
 * re-inspection; S2/S3 after an inspection; S4 after the S2/S3 callbacks are done.
 *
 * No I/O here: the `inspect` actor (`?help`, `?request-timeout-hint` with the `T` flag, `?sensor-list`, for the
 * scope it is given) and `callbacksDone` (resolves when the facade's state-callback queue has drained) are
 * supplied with `.provide()`, as is the `reapplySampling` action. The index and the diff are the pure functions
 * of `model.ts`; the backoff those of `backoff.ts`.
 *
 * Differences from upstream, on purpose:
 * - the resync backoff is reset when S4 is reached: katcp-python's `else: backoff.success()` is dead code (every
 *   path through its `try` ends in `continue`), so its delays only grow towards 90 s for the life of a client;
 * - re-inspection is incremental: `#interface-changed sensor X added|removed|modified` re-inspects sensor X
 *   only, `sensor-list` the sensors only; upstream re-lists everything. Changes that come in during an
 *   inspection are merged and inspected right after it (upstream: one pending flag, then everything);
 * - the sync timeout and a failed inspection are typed (`SyncError`, the inspect actor's own error kept as
 *   `lastError`) and both back off the same way; a malformed inspection result counts as a failure. The machine
 *   never disconnects by itself (upstream disconnects on an unexpected exception): that is the facade's call;
 * - one S1 per retry or re-inspection (upstream announces S1 twice: at the top of its loop and "post-connected");
 * - the state callbacks are serialised with the machine through `callbacksDone`: S4 is entered only after the
 *   S2/S3 callback finished, as upstream awaits it, but data is already synced in S2/S3, so a callback may await
 *   lookups (futureGetSensor/Request, which wait for data synced) there without the deadlock upstream documents;
 * - STOP while already S0 announces nothing more (upstream: one S0 after its loop ends).
 */
import { assign, emit, fromPromise, type SnapshotFrom, setup } from 'xstate';
import { InvalidArgumentError } from '../../src/errors.js';
import { SyncError } from '../../src/protocols/katcp/errors.js';
import type { InterfaceChange } from '../../src/protocols/katcp/wire.js';
import { checkDuration } from '../core/duration.js';
import {
  type BackoffParams,
  type BackoffState,
  backoffFailed,
  backoffSuccess,
  checkBackoffParams,
  drawUnit,
  initialBackoff,
} from './backoff.js';
import {
  applyInspection,
  FULL_SCOPE,
  type InspectionResult,
  type InspectionScope,
  isInspectionResult,
  type ModelChanges,
  mergeScopes,
  type RequestInfo,
  type SensorInfo,
  scopeFromChanges,
} from './model.js';

export type {
  InspectionResult,
  InspectionScope,
  ModelChanges,
  RequestInfo,
  SensorInfo,
} from './model.js';

/** katcp-python's `InspectingClientStateType`: four flags, five legal combinations (S0..S4). */
export interface ClientState {
  connected: boolean;
  synced: boolean;
  modelChanged: boolean;
  dataSynced: boolean;
}

const state = (
  connected: boolean,
  synced: boolean,
  modelChanged: boolean,
  dataSynced: boolean,
): ClientState => Object.freeze({ connected, synced, modelChanged, dataSynced });

/** The five legal states (katcp-python's `valid_states`). */
export const CLIENT_STATES = Object.freeze({
  /** Disconnected or stopped. */
  S0: state(false, false, false, false),
  /** Connected, inspecting (or waiting for the protocol, or backing off before a retry). */
  S1: state(true, false, false, false),
  /** Model inspected with changes; the changes are being delivered. */
  S2: state(true, false, true, true),
  /** Model inspected, nothing changed. */
  S3: state(true, false, false, true),
  /** Synced. */
  S4: state(true, true, false, true),
});

/** Which of S0..S4 a ClientState is, or null for an illegal combination. */
export function clientStateName(s: ClientState): keyof typeof CLIENT_STATES | null {
  for (const [name, legal] of Object.entries(CLIENT_STATES)) {
    if (
      legal.connected === s.connected &&
      legal.synced === s.synced &&
      legal.modelChanged === s.modelChanged &&
      legal.dataSynced === s.dataSynced
    )
      return name as keyof typeof CLIENT_STATES;
  }
  return null;
}

/** Input of the machine. Durations in milliseconds. */
export interface InspectingClientInput {
  /** host:port, for the inspector and errors. */
  address?: string;
  /** ms, default 20 000 (katcp-python's sync_timeout 20 s): one bound over the whole inspection; Infinity: none. */
  syncTimeout?: number;
  /** ms, default 5 000 (katcp-python's initial_resync_timeout). */
  initialResyncDelay?: number;
  /** ms, default 90 000 (katcp-python's max_resync_timeout). */
  maxResyncDelay?: number;
  /** Uniform draw in [0, 1) for the backoff jitter; default Math.random. */
  random?: () => number;
  /** Default true; false skips the first inspection exactly once (upstream `initial_inspection`). */
  initialInspection?: boolean;
}

/** katcp-python's sync_timeout (20 s). */
export const DEFAULT_SYNC_TIMEOUT_MS = 20_000;
/** katcp-python's initial_resync_timeout (5 s). */
export const DEFAULT_INITIAL_RESYNC_DELAY_MS = 5_000;
/** katcp-python's max_resync_timeout (90 s). */
export const DEFAULT_MAX_RESYNC_DELAY_MS = 90_000;
/** ExponentialRandomBackoff's defaults, kept by the inspecting client. */
export const RESYNC_EXP_FAC = 3;
export const RESYNC_RANDOMICITY = 0.95;

/**
 * Check the machine's input (InvalidArgumentError naming the option); returns the resolved settings. The machine
 * calls it when it starts; a facade may call it first to throw before spawning anything.
 */
export function checkInspectingClientInput(input: InspectingClientInput | undefined): {
  address: string | null;
  syncTimeout: number;
  backoff: BackoffParams;
  random: () => number;
  initialInspection: boolean;
} {
  const i = input ?? {};
  if (i === null || typeof i !== 'object') {
    throw new InvalidArgumentError(`inspectingClient: input must be an object, got ${String(i)}`);
  }
  if (i.address !== undefined && typeof i.address !== 'string') {
    throw new InvalidArgumentError(`inspectingClient: address must be a string, got ${typeof i.address}`);
  }
  if (i.random !== undefined && typeof i.random !== 'function') {
    throw new InvalidArgumentError(`inspectingClient: random must be a function, got ${typeof i.random}`);
  }
  if (i.initialInspection !== undefined && typeof i.initialInspection !== 'boolean') {
    throw new InvalidArgumentError(
      `inspectingClient: initialInspection must be a boolean, got ${typeof i.initialInspection}`,
    );
  }
  const syncTimeout = checkDuration('syncTimeout', i.syncTimeout, false) ?? DEFAULT_SYNC_TIMEOUT_MS;
  const initial = checkDuration('initialResyncDelay', i.initialResyncDelay, false);
  const max = checkDuration('maxResyncDelay', i.maxResyncDelay, false);
  const delayInitial = initial ?? DEFAULT_INITIAL_RESYNC_DELAY_MS;
  const delayMax = max ?? Math.max(DEFAULT_MAX_RESYNC_DELAY_MS, delayInitial);
  let backoff: BackoffParams;
  try {
    backoff = checkBackoffParams({
      delayInitial,
      delayMax,
      expFac: RESYNC_EXP_FAC,
      randomicity: RESYNC_RANDOMICITY,
    });
  } catch (err) {
    throw new InvalidArgumentError(
      `inspectingClient: need finite 0 <= initialResyncDelay <= maxResyncDelay, got ${delayInitial} and ${delayMax}`,
      { cause: err },
    );
  }
  return {
    address: i.address ?? null,
    syncTimeout,
    backoff,
    random: i.random ?? Math.random,
    initialInspection: i.initialInspection ?? true,
  };
}

/** The machine's context. */
export interface InspectingClientContext {
  address: string | null;
  /** ms; Infinity arms no timeout. */
  syncTimeout: number;
  backoffParams: BackoffParams;
  random: () => number;
  /** The resync backoff (katcp-python's ExponentialRandomBackoff state). */
  backoff: BackoffState;
  /** ms, the delay of the last wait before a retry (0 before any). */
  resyncDelay: number;
  requests: Record<string, RequestInfo>;
  sensors: Record<string, SensorInfo>;
  /** The server's protocol flags from `#version-connect` (e.g. 'IMBT'). */
  flags: string;
  /** The changes of the last successful inspection (null when it changed nothing). */
  modelChanges: ModelChanges | null;
  /** The last inspection failure, or the error the connection went down with. */
  lastError: Error | null;
  /** True until the first READY when `initialInspection` is false. */
  skipInspection: boolean;
  /** What the current (or last) inspection covers. */
  scope: InspectionScope;
  /** Interface changes seen during an inspection, inspected right after it. */
  pendingScope: InspectionScope | null;
  /** Inspections that succeeded (for the inspector and tests). */
  inspections: number;
  /**
   * The last reading of each known sensor, as the facade folds them in (`SENSOR.READINGS`, in batches a few
   * times a second, never per update): what the inspector shows. Readings of sensors no longer in the index are
   * dropped with the next batch.
   */
  readings: Record<string, SensorReadingSummary>;
}

/** A sensor reading as the inspector shows it (timestamp in seconds, KATCP's unit). */
export interface SensorReadingSummary {
  status: string;
  value: unknown;
  timestamp: number;
}

/** Events the machine takes. */
export type InspectingClientEvent =
  | { type: 'CONNECTION.UP' }
  | { type: 'CONNECTION.READY'; flags: string }
  | { type: 'CONNECTION.DOWN'; error: Error | null }
  | { type: 'INTERFACE_CHANGED'; changes: InterfaceChange[] }
  | { type: 'MODEL.UPDATE'; result: InspectionResult }
  | { type: 'SENSOR.READINGS'; readings: Record<string, SensorReadingSummary> }
  | { type: 'STOP' };

/** What the machine emits on entering each of S0..S4. */
export interface InspectingClientStateEmitted {
  type: 'state';
  state: ClientState;
  modelChanges: ModelChanges | null;
}

/** Input of the `inspect` actor. */
export interface InspectInput {
  scope: InspectionScope;
  flags: string;
}

/** Read a snapshot's ClientState from its tags. */
export function stateOf(snapshot: { hasTag(tag: string): boolean }): ClientState {
  return {
    connected: snapshot.hasTag('connected'),
    synced: snapshot.hasTag('synced'),
    modelChanged: snapshot.hasTag('modelChanged'),
    dataSynced: snapshot.hasTag('dataSynced'),
  };
}

const announce = (s: ClientState) => ({ type: 'announce' as const, params: { state: s } });

const asError = (x: unknown, fallback: string): Error =>
  x instanceof Error ? x : new SyncError(`${fallback}: ${String(x)}`);
const where = (context: InspectingClientContext) => (context.address ? ` of ${context.address}` : '');

export const inspectingClientMachine = setup({
  types: {
    context: {} as InspectingClientContext,
    events: {} as InspectingClientEvent,
    input: {} as InspectingClientInput | undefined,
    emitted: {} as InspectingClientStateEmitted,
  },
  actors: {
    /** Inspect the device for the scope: `?help` [+ `?request-timeout-hint`] and/or `?sensor-list`. */
    inspect: fromPromise<InspectionResult, InspectInput>(async () => {
      throw new SyncError('no inspect actor provided');
    }),
    /** Resolves when the facade's state-callback queue has drained (the S2/S3 callback finished). */
    callbacksDone: fromPromise<void, void>(async () => {}),
  },
  actions: {
    /** katcp-python's resource layer re-sends every cached sampling strategy on each S2/S3. */
    reapplySampling: () => {},
    /** Emit the state entered (the changes go with S2 only). */
    announce: emit(({ context }, params: { state: ClientState }) => ({
      type: 'state' as const,
      state: params.state,
      modelChanges: params.state === CLIENT_STATES.S2 ? context.modelChanges : null,
    })),
    /** A successful inspection of `context.scope`: update the index, keep the changes. */
    applyResult: assign(({ context, event }) => {
      const found = (event as unknown as { output: InspectionResult }).output;
      const next = applyInspection(context, found, context.scope);
      return {
        requests: next.requests,
        sensors: next.sensors,
        modelChanges: next.changes,
        inspections: context.inspections + 1,
      };
    }),
    /** Interface changes during an inspection or its delivery: merged, inspected right after. */
    keepChanges: assign({
      pendingScope: ({ context, event }) =>
        mergeScopes(
          context.pendingScope ?? { requests: null, sensors: null },
          scopeFromChanges((event as { changes?: unknown }).changes),
        ),
    }),
  },
  delays: {
    syncTimeout: ({ context }) => context.syncTimeout,
    resyncDelay: ({ context }) => context.resyncDelay,
  },
  guards: {
    skipInspection: ({ context }) => context.skipInspection,
    hasPendingScope: ({ context }) => context.pendingScope !== null,
    syncTimeoutArmed: ({ context }) => context.syncTimeout !== Number.POSITIVE_INFINITY,
    resultIsMalformed: ({ event }) => !isInspectionResult((event as { output?: unknown }).output),
    resultChangesModel: ({ context, event }) =>
      applyInspection(context, (event as unknown as { output: InspectionResult }).output, context.scope)
        .changes !== null,
    updateIsWellFormed: ({ event }) => isInspectionResult((event as { result?: unknown }).result),
  },
}).createMachine({
  id: 'inspectingClient',
  context: ({ input }) => {
    const settings = checkInspectingClientInput(input);
    return {
      address: settings.address,
      syncTimeout: settings.syncTimeout,
      backoffParams: settings.backoff,
      random: settings.random,
      backoff: initialBackoff(settings.backoff, drawUnit(settings.random)),
      resyncDelay: 0,
      requests: {},
      sensors: {},
      flags: '',
      modelChanges: null,
      lastError: null,
      skipInspection: !settings.initialInspection,
      scope: { ...FULL_SCOPE },
      pendingScope: null,
      inspections: 0,
      readings: {},
    };
  },
  initial: 'disconnected',
  on: {
    'SENSOR.READINGS': {
      actions: assign({
        readings: ({ context, event }) => {
          const next: Record<string, SensorReadingSummary> = Object.create(null);
          const incoming = (event as { readings?: unknown }).readings;
          const batch = (incoming && typeof incoming === 'object' ? incoming : {}) as Record<
            string,
            SensorReadingSummary
          >;
          for (const name of Object.keys(context.sensors)) {
            const r = Object.hasOwn(batch, name) ? batch[name] : context.readings[name];
            if (r) next[name] = r;
          }
          return next;
        },
      }),
    },
  },
  states: {
    disconnected: {
      entry: [announce(CLIENT_STATES.S0), assign({ pendingScope: null })],
      on: {
        'CONNECTION.UP': '#inspectingClient.connected.syncing.waitingForProtocol',
        'CONNECTION.READY': {
          target: '#inspectingClient.connected.syncing.protocolReady',
          actions: assign({ flags: ({ event }) => String(event.flags ?? '') }),
        },
        STOP: '#inspectingClient.stopped',
      },
    },
    connected: {
      initial: 'syncing',
      on: {
        'CONNECTION.DOWN': {
          target: '#inspectingClient.disconnected',
          actions: assign({ lastError: ({ context, event }) => event.error ?? context.lastError }),
        },
        STOP: { target: '#inspectingClient.stopped', actions: announce(CLIENT_STATES.S0) },
        // a lookup started while data was synced may answer after an #interface-changed started a re-inspection
        // (or while a failed one waits to retry): merged then too, as upstream updates its index whatever its
        // state; dropped there, the name the lookup found stayed unknown to a re-inspection of another scope
        'MODEL.UPDATE': {
          guard: 'updateIsWellFormed',
          actions: assign(({ context, event }) => {
            const { requests, sensors } = applyInspection(context, event.result, event.result.scope);
            return { requests, sensors };
          }),
        },
      },
      states: {
        syncing: {
          entry: announce(CLIENT_STATES.S1),
          initial: 'waitingForProtocol',
          states: {
            waitingForProtocol: {
              tags: ['connected'],
              on: {
                'CONNECTION.READY': {
                  target: 'protocolReady',
                  actions: assign({ flags: ({ event }) => String(event.flags ?? '') }),
                },
              },
            },
            /** Transient: the protocol is known; inspect everything, or skip once. */
            protocolReady: {
              tags: ['connected'],
              always: [
                {
                  guard: 'skipInspection',
                  target: '#inspectingClient.connected.inspected.synced',
                  actions: assign({ skipInspection: false }),
                },
                {
                  target: 'inspecting',
                  actions: assign({ scope: () => ({ ...FULL_SCOPE }), pendingScope: null }),
                },
              ],
            },
            inspecting: {
              tags: ['connected'],
              invoke: {
                id: 'inspect',
                src: 'inspect',
                input: ({ context }) => ({ scope: context.scope, flags: context.flags }),
                onDone: [
                  {
                    guard: 'resultIsMalformed',
                    target: '#inspectingClient.connected.resyncWait',
                    actions: assign({
                      lastError: ({ context }) =>
                        new SyncError(`Inspection${where(context)} gave a malformed result`),
                    }),
                  },
                  {
                    guard: 'resultChangesModel',
                    target: '#inspectingClient.connected.inspected.modelChanged',
                    actions: 'applyResult',
                  },
                  { target: '#inspectingClient.connected.inspected.dataSynced', actions: 'applyResult' },
                ],
                onError: {
                  target: '#inspectingClient.connected.resyncWait',
                  actions: assign({ lastError: ({ event }) => asError(event.error, 'Inspection failed') }),
                },
              },
              after: {
                syncTimeout: {
                  guard: 'syncTimeoutArmed',
                  target: '#inspectingClient.connected.resyncWait',
                  actions: assign({
                    lastError: ({ context }) =>
                      new SyncError(`Inspection${where(context)} timed out after ${context.syncTimeout} ms`),
                  }),
                },
              },
              on: { INTERFACE_CHANGED: { actions: 'keepChanges' } },
            },
          },
        },
        /** S1 after a failure: wait the delay read before failed() (upstream), then inspect again. */
        resyncWait: {
          tags: ['connected'],
          entry: assign(({ context }) => ({
            resyncDelay: context.backoff.delay,
            backoff: backoffFailed(context.backoff, context.backoffParams, drawUnit(context.random)),
          })),
          after: {
            resyncDelay: {
              target: '#inspectingClient.connected.syncing.inspecting',
              actions: assign(({ context }) => ({
                scope: context.pendingScope
                  ? mergeScopes(context.scope, context.pendingScope)
                  : context.scope,
                pendingScope: null,
              })),
            },
          },
          on: { INTERFACE_CHANGED: { actions: 'keepChanges' } },
        },
        /** Data synced (S2, S3, S4). */
        inspected: {
          initial: 'dataSynced',
          on: {
            INTERFACE_CHANGED: { actions: 'keepChanges' },
          },
          states: {
            modelChanged: {
              tags: ['connected', 'modelChanged', 'dataSynced'],
              entry: [announce(CLIENT_STATES.S2), 'reapplySampling'],
              invoke: {
                id: 'callbacksDone',
                src: 'callbacksDone',
                onDone: 'synced',
                onError: 'synced',
              },
            },
            dataSynced: {
              tags: ['connected', 'dataSynced'],
              entry: [announce(CLIENT_STATES.S3), 'reapplySampling'],
              invoke: {
                id: 'callbacksDone',
                src: 'callbacksDone',
                onDone: 'synced',
                onError: 'synced',
              },
            },
            synced: {
              tags: ['connected', 'synced', 'dataSynced'],
              entry: [
                announce(CLIENT_STATES.S4),
                assign(({ context }) => ({
                  backoff: backoffSuccess(context.backoff, context.backoffParams, drawUnit(context.random)),
                })),
              ],
              always: {
                guard: 'hasPendingScope',
                target: '#inspectingClient.connected.syncing.inspecting',
                actions: assign(({ context }) => ({
                  scope: context.pendingScope ?? context.scope,
                  pendingScope: null,
                })),
              },
              on: {
                INTERFACE_CHANGED: {
                  target: '#inspectingClient.connected.syncing.inspecting',
                  actions: assign({
                    scope: ({ event }) => scopeFromChanges(event.changes),
                    pendingScope: null,
                  }),
                },
              },
            },
          },
        },
      },
    },
    stopped: { type: 'final' },
  },
});

/** A snapshot of the machine. */
export type InspectingClientSnapshot = SnapshotFrom<typeof inspectingClientMachine>;
