/**
 * The client side of an SKA Long Running Command (ska-tango-base `invoke_lrc`) as an XState v5 machine.
 *
 *   validating ──[finite timeout]──► bounded ──after(deadline)──► timedOut   (`timeout` ms after the start;
 *              │                                                  finished when a v1 terminal status waits for its result)
 *              └─────────────────────► unbounded  (no deadline: no timer is armed at all)
 *   bounded | unbounded (the same states; chosen once, as the status machine chooses its deadline):
 *   versions ──► session ─────────────────────────────────────────────────────────────────► finished
 *                 │ (the call's time in its device's LRC session: entering each state asks the session for
 *                 │  one I/O action; leaving `session` (`release`) drops the call's share of the subscriptions)
 *                 ├ negotiating ──NEGOTIATED──► subscribing ──SUBSCRIBED──► invoking ──INVOKED──► monitoring
 *                 │   (value events wait in the session until the command id is known, then come in one batch)
 *                 ├ monitoring: submitted ─► staging ─► queued ─► inProgress
 *                 │   (waiting events replayed as it is entered, by INVOKED; a terminal status ends it)
 *                 │   └ reconciling (`reconcile` only: after an error event, or as monitoring starts when one came
 *                 │     before the command id, CheckLongRunningCommandStatus;
 *                 │     a terminal answer ends it, v1 via fetchingResult; NOT_FOUND ──► lost (the device no
 *                 │     longer knows the command: restarted, or forgot it once ended); otherwise back to the
 *                 │     status states, or, when an error event came while the check was on its way (asked ──►
 *                 │     stale: the answer may predate the events that outage lost), asked again at once)
 *                 │       ◄──after(recheck)── rechecking ◄──STATUS_CHECK_FAILED──┘ (the device did not answer,
 *                 │     say in the outage an error event announced: asked again 1 s later, then 2, 4, ... up to
 *                 │     30 s between checks, until it answers; another error event asks at once)
 *                 └ fetchingResult (v1 only: terminal status came before its result; the read is bounded by
 *                   `resultTimeout` (its `bounded` child; `unbounded` for an infinite one, no timer): a failed or
 *                   unanswered read gives an {error} update, the output's error (DevFailed or TimeoutError), then
 *                   the terminal status; so does the call's deadline coming first: finished, not timedOut)
 *   any failure before submission ──► notStarted (callback, versions, subscribe, invoke, REJECTED, other code, an
 *   accepted reply without a command id); the error events that came meanwhile are delivered first, as upstream
 *   delivers them as they come (so are they when the deadline comes before submission)
 *   UNSUBSCRIBE ──► released (by the caller, its AbortSignal, or the system stopping: the event's error is kept;
 *   when the system stops, a submitted call's callback gets it as a last {error} update)
 *
 * Words: a `timeout` (the call's, `resultTimeout`) is a duration in milliseconds; the deadline is the moment the
 * call's timeout falls due (the `after(deadline)` of `bounded`), never a duration of its own. Every delay is an
 * `after` of a state, so the machine runs on the compiled runner as well as on XState's interpreter.
 *
 * With the protocol versions known from an earlier call (`knownVersions`), `versions` goes straight to
 * `session.subscribing`, or to notStarted if they do not overlap the client's.
 *
 * No I/O here, no invoke and no child actor: the machine names its device I/O actions (`LrcIoAction`: negotiate,
 * connect, invoke, checkStatus, readResult, release) and the LRC session of the device implements them with
 * `.provide()` (`src/protocols/tango/lrc/session.ts`: one session per `DevicePort`, with the negotiation cache, one
 * subscription per attribute shared by the device's calls, routing by command id). The session answers with the
 * events of `LrcEvent`, sent to the call's actor, after dropping the events that cannot change anything (other
 * commands', and, unless `parity`, v1 statuses repeating the last one); it parses the device's reply once
 * (`parseLrcReply`). Without them (the bare machine), negotiating or subscribing fails at once (notStarted). The
 * status bookkeeping (de-duplication, stale events, v1 result ordering) is the pure reducer in `lrcReducer.ts`.
 */
import { type ActorRefFrom, assign, enqueueActions, setup } from 'xstate';
import {
  CLIENT_PROTOCOL_VERSIONS,
  decodeLrcEvent,
  isTerminalStatus,
  LRC_ATTRIBUTES,
  type LrcUpdate,
  ResultCode,
  TaskStatus,
} from '../../src/protocols/tango/wire.js';
import { deliver } from './lrcDelivery.js';
import { lrcErrors } from './lrcErrors.js';
import { reduceLrcEvent, replayLrcEvents } from './lrcReducer.js';
import type {
  LrcContext,
  LrcEmitted,
  LrcEvent,
  LrcInput,
  LrcOutcome,
  LrcOutput,
  LrcStopRequest,
} from './lrcTypes.js';

export { invokeLrcFailure } from './lrcErrors.js';
export type * from './lrcTypes.js';

/** Events kept before the command id is known; older ones are dropped beyond this. */
export const MAX_BUFFERED_EVENTS = 1000;
/**
 * v1: how long the result read after a terminal status may take by default (Tango's default client timeout is
 * 3 s); `resultTimeout` overrides it.
 */
export const DEFAULT_RESULT_TIMEOUT_MS = 3000;
/**
 * `reconcile`: after a status check that failed, the next one comes this long later, the wait doubling after each
 * failure up to `RECHECK_MAX_MS` (a device that is down answers nothing: the call still learns its end once it is
 * back, with no further error event needed).
 */
export const RECHECK_FIRST_MS = 1000;
export const RECHECK_MAX_MS = 30_000;
/** A call whose caller never asks for its end between the updates of a step (the bare machine's default). */
const NO_STOP_REQUEST: LrcStopRequest = Object.freeze({ stopRequested: false });
/** The error of a bare machine, whose device I/O actions were not provided. */
export const IO_NOT_PROVIDED = "lrc machine: its device I/O (the LRC session's actions) is not provided";

type Ev<T extends LrcEvent['type']> = Extract<LrcEvent, { type: T }>;
/** A duration (already checked by the facade) that never expires: no timer is armed for it. */
const isNever = (ms: number | null) => ms === null || ms === Number.POSITIVE_INFINITY;
/** The server's (min, max): just negotiated, or known from the start. */
const negotiated = (context: LrcContext, e: LrcEvent) =>
  e.type === 'NEGOTIATED' ? e.versions : (context.knownVersions ?? null);
const reply = (e: LrcEvent) => (e as Ev<'INVOKED'>).reply;
const failure = (e: LrcEvent) => (e as { error?: unknown }).error;
const where = (context: LrcContext) => [context.device.name, context.command] as const;
const isErrorEvent = (e: { errors?: unknown }) => e.errors !== undefined;
/** Each warning of a decoding or reduction as an `lrc.warning`, in order (indexed: no iterator per event). */
function emitWarnings(enqueue: { emit(e: LrcEmitted): void }, warnings: readonly string[]): void {
  for (let i = 0; i < warnings.length; i++) enqueue.emit({ type: 'lrc.warning', message: warnings[i] });
}

/**
 * v1: the result read after a terminal status ended without the result (failed, timed out, or the call's deadline
 * came): `error` is the outcome's error, an `{error: errors}` update is delivered, then the held terminal status.
 */
function endHeldTerminal(
  enqueue: { assign(a: Partial<LrcContext>): void; (fn: () => void): void },
  context: LrcContext,
  error: Error,
  errors: LrcUpdate['error'],
): void {
  const update = context.pendingTerminal!;
  enqueue.assign({ status: update.status!, terminal: true, pendingTerminal: null, error });
  enqueue(() => deliver(context, [{ error: errors }, update]));
}

/**
 * The call once its callback is valid: the same states with a deadline (`bounded`) and without (`unbounded`), so
 * a call without a timeout arms no timer. `variant` names the state they are in (absolute targets need it).
 */
function call<V extends 'bounded' | 'unbounded'>(variant: V) {
  return {
    initial: 'versions',
    states: {
      versions: {
        always: [
          { guard: 'versionsUnknown', target: 'session' },
          // versions known from an earlier call: straight to subscribing
          { guard: 'versionsOverlap', target: 'session.subscribing', actions: 'chooseVersion' },
          { target: '#lrc.notStarted', actions: 'recordIncompatible' },
        ],
      },
      session: {
        // the call leaves its device session (its subscriptions released) whenever it ends
        exit: 'release',
        always: { guard: 'terminalDelivered', target: '#lrc.finished' },
        initial: 'negotiating',
        states: {
          negotiating: {
            entry: 'negotiate',
            on: {
              NEGOTIATED: [
                { guard: 'versionsOverlap', target: 'subscribing', actions: 'chooseVersion' },
                { target: '#lrc.notStarted', actions: 'recordIncompatible' },
              ],
              NEGOTIATION_FAILED: { target: '#lrc.notStarted', actions: 'recordNegotiationFailure' },
            },
          },
          subscribing: {
            entry: 'connect',
            on: {
              SUBSCRIBED: { target: 'invoking' },
              SUBSCRIBE_FAILED: {
                target: '#lrc.notStarted',
                actions: ['deliverEarlyErrors', 'recordSubscribeFailure'],
              },
              DEVICE_EVENT: { actions: 'bufferEvent' },
            },
          },
          invoking: {
            entry: 'invoke',
            on: {
              INVOKED: [
                // an error event came before the command id (kept in `buffered`): events about the command may
                // have been lost meanwhile, so, with `reconcile`, monitoring starts by asking its status
                { guard: 'acceptedAfterError', target: 'monitoring.reconciling', actions: 'recordCommandId' },
                { guard: 'accepted', target: 'monitoring', actions: 'recordCommandId' },
                // never submitted: the error events kept meanwhile go to the callback before the failure
                {
                  guard: 'rejected',
                  target: '#lrc.notStarted',
                  actions: ['deliverEarlyErrors', 'recordRejection'],
                },
                { target: '#lrc.notStarted', actions: ['deliverEarlyErrors', 'recordUnexpectedCode'] },
              ],
              INVOKE_FAILED: {
                target: '#lrc.notStarted',
                actions: ['deliverEarlyErrors', 'recordInvokeFailure'],
              },
              DEVICE_EVENT: { actions: 'bufferEvent' },
            },
          },
          monitoring: {
            // entered only by INVOKED, whose `recordCommandId` announces the submission and replays what waited
            on: {
              DEVICE_EVENT: [
                { guard: 'reconcileAfterError', target: '.reconciling', actions: 'applyDeviceEvent' },
                { actions: 'applyDeviceEvent' },
              ],
            },
            always: { guard: 'awaitingResult', target: 'fetchingResult' },
            initial: 'submitted',
            states: {
              submitted: {
                always: [
                  { guard: 'statusIsStaging', target: 'staging' },
                  { guard: 'statusIsQueued', target: 'queued' },
                  { guard: 'statusIsInProgress', target: 'inProgress' },
                ],
              },
              staging: {
                always: [
                  { guard: 'statusIsQueued', target: 'queued' },
                  { guard: 'statusIsInProgress', target: 'inProgress' },
                ],
              },
              queued: { always: { guard: 'statusIsInProgress', target: 'inProgress' } },
              inProgress: {},
              // one check at a time; events go on being applied meanwhile; `submitted` finds the status state
              reconciling: {
                entry: 'checkStatus',
                on: {
                  DEVICE_EVENT: { actions: 'applyDeviceEvent' },
                  STATUS_CHECKED: [
                    {
                      guard: 'checkedTerminalNeedsResult',
                      target: `#lrc.${variant}.session.fetchingResult` as const,
                      actions: 'holdCheckedTerminal',
                    },
                    { guard: 'checkedTerminal', target: '#lrc.finished', actions: 'deliverCheckedTerminal' },
                    // the device no longer knows the accepted command (it restarted, or forgot it once ended):
                    // no event will ever end the call, so it ends here
                    { guard: 'checkedNotFound', target: '#lrc.lost', actions: 'deliverLost' },
                    // not terminal: keep monitoring
                    { target: 'submitted', actions: 'forgetCheckFailures' },
                  ],
                  STATUS_CHECK_FAILED: { target: 'rechecking', actions: 'deliverCheckFailure' },
                },
                initial: 'asked',
                states: {
                  asked: {
                    on: {
                      // an error event while the check is on its way: the answer may tell the status from before
                      // the events this outage lost (the device answered, then the command ended unheard)
                      DEVICE_EVENT: {
                        guard: 'reconcileAfterError',
                        target: 'stale',
                        actions: 'applyDeviceEvent',
                      },
                    },
                  },
                  // a running status from such an answer is asked again at once (a terminal one, or NOT_FOUND, ends
                  // the call as any answer does)
                  stale: {
                    on: {
                      STATUS_CHECKED: {
                        guard: 'checkedRunning',
                        target: `#lrc.${variant}.session.monitoring.reconciling` as const,
                        actions: 'forgetCheckFailures',
                      },
                    },
                  },
                },
              },
              // the check failed: asked again after `recheck` (doubling with each failure in a row); events go on
              // being applied, and an error event asks at once (monitoring's DEVICE_EVENT)
              rechecking: {
                after: { recheck: { target: 'reconciling' } },
              },
            },
          },
          // bounded by `resultTimeout` (chosen once, as the deadline); an event carrying the result may come first
          fetchingResult: {
            entry: 'readResult',
            on: {
              RESULT_READ: { actions: 'deliverFetchedResult' },
              RESULT_FAILED: { actions: 'deliverResultFailure' },
              DEVICE_EVENT: { actions: 'applyDeviceEvent' },
            },
            initial: 'reading',
            states: {
              reading: {
                always: [{ guard: 'hasResultTimeout', target: 'bounded' }, { target: 'unbounded' }],
              },
              bounded: { after: { resultTimeout: { actions: 'deliverResultTimeout' } } },
              unbounded: {},
            },
          },
        },
      },
    },
  } as const;
}

export const lrcMachine = setup({
  types: {
    context: {} as LrcContext,
    events: {} as LrcEvent,
    input: {} as LrcInput,
    output: {} as LrcOutput,
    emitted: {} as LrcEmitted,
  },
  guards: {
    /** A finite timeout: the call has a deadline (otherwise no timer is armed for it). */
    hasDeadline: ({ context }) => !isNever(context.timeout),
    hasResultTimeout: ({ context }) => !isNever(context.resultTimeout),
    callbackIsInvalid: ({ context }) => typeof context.callback !== 'function' || context.callback.length > 1,
    versionsUnknown: ({ context }) => context.knownVersions === undefined,
    versionsOverlap: ({ context, event }) => {
      // (indexed, not destructured: no iterator per check)
      const server = negotiated(context, event);
      const smin = server == null ? 1 : server[0];
      const smax = server == null ? 1 : server[1];
      const client = context.clientVersions;
      return smin <= client[1] && client[0] <= smax;
    },
    /** QUEUED or STARTED with a command id (a non-empty string): anything else cannot be followed. */
    accepted: ({ event }) => reply(event)?.commandId !== undefined,
    acceptedAfterError: ({ context, event }) =>
      context.reconcile && reply(event)?.commandId !== undefined && context.buffered.some(isErrorEvent),
    rejected: ({ event }) => reply(event)?.code === ResultCode.REJECTED,
    statusIsStaging: ({ context }) => context.status === TaskStatus.STAGING,
    statusIsQueued: ({ context }) => context.status === TaskStatus.QUEUED,
    statusIsInProgress: ({ context }) => context.status === TaskStatus.IN_PROGRESS,
    terminalDelivered: ({ context }) => context.terminal,
    awaitingResult: ({ context }) => context.pendingTerminal !== null,
    reconcileAfterError: ({ context, event }) =>
      context.reconcile && (event as Ev<'DEVICE_EVENT'>).event.errors !== undefined,
    checkedTerminal: ({ event }) => isTerminalStatus((event as Ev<'STATUS_CHECKED'>).status),
    checkedNotFound: ({ event }) => (event as Ev<'STATUS_CHECKED'>).status === TaskStatus.NOT_FOUND,
    /** The check answered a status the command runs in (STAGING, QUEUED, IN_PROGRESS). */
    checkedRunning: ({ event }) => {
      const status = (event as Ev<'STATUS_CHECKED'>).status;
      return !isTerminalStatus(status) && status !== TaskStatus.NOT_FOUND;
    },
    /** v1 without the result yet: read it first, as when a terminal status event comes before it. */
    checkedTerminalNeedsResult: ({ context, event }) =>
      isTerminalStatus((event as Ev<'STATUS_CHECKED'>).status) &&
      context.protocolVersion === 1 &&
      !context.resultSeen,
  },
  delays: {
    deadline: ({ context }) => context.timeout!,
    resultTimeout: ({ context }) => context.resultTimeout!,
    recheck: ({ context }) =>
      Math.min(RECHECK_FIRST_MS * 2 ** Math.max(0, context.checkFailures - 1), RECHECK_MAX_MS),
  },
  actions: {
    recordInvalidCallback: assign({ error: () => lrcErrors.invalidCallback() }),
    chooseVersion: assign(({ context, event }) => {
      const server = negotiated(context, event);
      const smax = server == null ? 1 : server[1];
      return { serverVersions: server, protocolVersion: Math.min(smax, context.clientVersions[1]) };
    }),
    recordIncompatible: assign({
      error: ({ context, event }) =>
        lrcErrors.incompatible(context.clientVersions, negotiated(context, event)),
    }),
    recordNegotiationFailure: assign({
      error: ({ context, event }) => lrcErrors.negotiation(failure(event), ...where(context)),
    }),
    recordSubscribeFailure: assign({
      error: ({ context, event }) =>
        lrcErrors.subscribe(failure(event), (event as Ev<'SUBSCRIBE_FAILED'>).attribute, ...where(context)),
    }),
    recordInvokeFailure: assign({
      error: ({ context, event }) => lrcErrors.invoke(failure(event), context.args, ...where(context)),
    }),
    recordRejection: assign({
      buffered: [],
      replyCode: ResultCode.REJECTED,
      error: ({ context, event }) => lrcErrors.rejected(context.command, reply(event)),
    }),
    recordUnexpectedCode: assign({
      buffered: [],
      replyCode: ({ event }) => reply(event)?.code ?? null,
      error: ({ context, event }) => lrcErrors.unexpectedCode(context.command, reply(event)),
    }),
    /**
     * The command id; then, as monitoring starts (the only way in), the submission announced and the events about
     * the command that came before its id (the error events kept here, then the session's held ones) replayed in
     * arrival order: what the status states start from, in one context copy.
     */
    recordCommandId: enqueueActions(({ context, event, enqueue }) => {
      const r = reply(event)!;
      const commandId = r.commandId!;
      const held = (event as Ev<'INVOKED'>).held;
      const kept = context.buffered;
      const waiting = held.length === 0 ? kept : kept.length === 0 ? held : [...kept, ...held];
      const submitted = {
        type: 'lrc.submitted' as const,
        commandId,
        protocolVersion: context.protocolVersion!,
      };
      if (waiting.length === 0) {
        enqueue.assign({ commandId, replyCode: r.code });
        enqueue.emit(submitted);
        return;
      }
      const step = replayLrcEvents(
        {
          protocolVersion: context.protocolVersion,
          commandId,
          parity: context.parity,
          status: context.status,
          terminal: context.terminal,
          resultSeen: context.resultSeen,
          pendingTerminal: context.pendingTerminal,
        },
        waiting,
      );
      const p = step.progress;
      enqueue.assign({
        commandId,
        replyCode: r.code,
        buffered: [],
        status: p.status,
        terminal: p.terminal,
        resultSeen: p.resultSeen,
        pendingTerminal: p.pendingTerminal,
      });
      enqueue.emit(submitted);
      emitWarnings(enqueue, step.warnings);
      if (step.updates.length) enqueue(() => deliver(context, step.updates));
    }),
    /**
     * The error events kept before the command id (`buffered`), for a call that ends without one (notStarted, its
     * deadline before submission): upstream's wrapper calls `cb(error=event.errors)` for each as it arrives, command
     * id or not, so the callback gets them, in order, before the call's failure. (A submitted call gets them with
     * the events replayed by `recordCommandId`; after submission `buffered` is empty and this does nothing.)
     */
    deliverEarlyErrors: enqueueActions(({ context, enqueue }) => {
      const kept = context.buffered;
      if (kept.length === 0) return;
      const updates: LrcUpdate[] = [];
      for (let i = 0; i < kept.length; i++)
        if (isErrorEvent(kept[i])) updates.push({ error: kept[i].errors });
      enqueue.assign({ buffered: [] });
      if (updates.length) enqueue(() => deliver(context, updates));
    }),
    recordTimeout: assign({
      error: ({ context }) =>
        lrcErrors.timeout(context.command, context.device.name, context.timeout, context.commandId),
    }),
    recordRelease: assign({ error: ({ event }) => (event as { error?: Error }).error ?? null }),
    notifyRelease: enqueueActions(({ context, event, enqueue }) => {
      const { error, notify } = event as Ev<'UNSUBSCRIBE'>;
      if (!notify || !error || context.commandId === null) return;
      const errors = lrcErrors.released(error, ...where(context)).errors;
      enqueue(() => deliver(context, [{ error: errors }]));
    }),
    bufferEvent: assign({
      buffered: ({ context, event }) => {
        const e = (event as Ev<'DEVICE_EVENT'>).event;
        const kept =
          context.buffered.length >= MAX_BUFFERED_EVENTS ? context.buffered.slice(1) : context.buffered;
        return [...kept, e];
      },
    }),
    // The device I/O (implemented by the LRC session with `.provide()`; see `lrcIoActions`). On its own the
    // machine has none: negotiating or subscribing fails at once, so a bare machine ends notStarted.
    negotiate: enqueueActions(({ enqueue }) =>
      enqueue.raise({ type: 'NEGOTIATION_FAILED', error: new Error(IO_NOT_PROVIDED) }),
    ),
    connect: enqueueActions(({ enqueue }) =>
      enqueue.raise({ type: 'SUBSCRIBE_FAILED', attribute: '', error: new Error(IO_NOT_PROVIDED) }),
    ),
    invoke: enqueueActions(() => {}),
    readResult: enqueueActions(() => {}),
    checkStatus: enqueueActions(() => {}),
    release: enqueueActions(() => {}),
    applyDeviceEvent: enqueueActions(({ context, event, enqueue }) => {
      const step = reduceLrcEvent(context, (event as Ev<'DEVICE_EVENT'>).event);
      // new bookkeeping is a fresh LrcProgress (plain values, no functions): assigned as it is
      if (step.progress !== context) enqueue.assign(step.progress);
      emitWarnings(enqueue, step.warnings);
      if (step.updates.length) enqueue(() => deliver(context, step.updates));
    }),
    /** v1: the result read after a terminal status that came first; then the held-back status. */
    deliverFetchedResult: enqueueActions(({ context, event, enqueue }) => {
      const value = (event as Ev<'RESULT_READ'>).value;
      const decoded = decodeLrcEvent(LRC_ATTRIBUTES.result, value, context.commandId!);
      const updates: LrcUpdate[] = decoded ? [decoded.update] : [];
      if (decoded) emitWarnings(enqueue, decoded.warnings);
      updates.push(context.pendingTerminal!);
      enqueue.assign({ status: context.pendingTerminal!.status!, terminal: true, pendingTerminal: null });
      enqueue(() => deliver(context, updates));
    }),
    /** v1: the result read failed: its error (an `{error}` update and the output's error), then the status. */
    deliverResultFailure: enqueueActions(({ context, event, enqueue }) => {
      const error = lrcErrors.resultRead(failure(event), ...where(context));
      endHeldTerminal(enqueue, context, error, error.errors);
    }),
    /** v1: the result read did not answer in time: a TimeoutError (as above), then the status. */
    deliverResultTimeout: enqueueActions(({ context, enqueue }) => {
      const [device, command] = where(context);
      const error = lrcErrors.resultTimeout(command, device, context.resultTimeout, context.commandId);
      endHeldTerminal(enqueue, context, error, lrcErrors.resultTimeoutStack(error, device, command));
    }),
    /** v1: the call's deadline came during the result read: as a read that timed out, with the call's TimeoutError. */
    deliverResultDeadline: enqueueActions(({ context, enqueue }) => {
      const [device, command] = where(context);
      const error = lrcErrors.timeout(command, device, context.timeout, context.commandId);
      endHeldTerminal(enqueue, context, error, lrcErrors.resultTimeoutStack(error, device, command));
    }),
    holdCheckedTerminal: assign({
      pendingTerminal: ({ event }) => ({ status: (event as Ev<'STATUS_CHECKED'>).status }),
    }),
    deliverCheckedTerminal: enqueueActions(({ context, event, enqueue }) => {
      const status = (event as Ev<'STATUS_CHECKED'>).status;
      enqueue.assign({ status, terminal: true });
      enqueue(() => deliver(context, [{ status }]));
    }),
    deliverCheckFailure: enqueueActions(({ context, event, enqueue }) => {
      const error = lrcErrors.statusCheck(failure(event), context.commandId!, ...where(context));
      enqueue.assign({ checkFailures: context.checkFailures + 1 });
      enqueue.emit({ type: 'lrc.warning', message: error.message });
      enqueue(() => deliver(context, [{ error: error.errors }]));
    }),
    /** The check answered NOT_FOUND: an {error} update saying the command is lost, kept as the outcome's error. */
    deliverLost: enqueueActions(({ context, enqueue }) => {
      const error = lrcErrors.lost(context.commandId!, ...where(context));
      enqueue.assign({ error });
      enqueue(() => deliver(context, [{ error: error.errors }]));
    }),
    forgetCheckFailures: assign({ checkFailures: 0 }),
    recordOutcome: assign({
      outcome: (_, params: { outcome: LrcOutcome }) => params.outcome,
    }),
  },
}).createMachine({
  id: 'lrc',
  context: ({ input }) => ({
    device: input.device,
    command: input.command,
    args: input.args,
    callback: input.callback,
    onCallbackError: input.onCallbackError ?? (() => {}),
    stop: input.stop ?? NO_STOP_REQUEST,
    parity: input.parity ?? false,
    timeout: input.timeout ?? null,
    resultTimeout: input.resultTimeout ?? DEFAULT_RESULT_TIMEOUT_MS,
    reconcile: input.reconcile ?? false,
    clientVersions: input.clientVersions ?? CLIENT_PROTOCOL_VERSIONS,
    cacheNegotiation: input.cacheNegotiation ?? false,
    knownVersions: input.knownVersions,
    serverVersions: null,
    protocolVersion: null,
    commandId: null,
    buffered: [],
    replyCode: null,
    status: null,
    terminal: false,
    resultSeen: false,
    pendingTerminal: null,
    checkFailures: 0,
    outcome: null,
    error: null,
  }),
  initial: 'validating',
  on: {
    UNSUBSCRIBE: { target: '#lrc.released', actions: ['recordRelease', 'notifyRelease'] },
  },
  output: ({ context }) => ({
    outcome: context.outcome!,
    status: context.status,
    commandId: context.commandId,
    protocolVersion: context.protocolVersion,
    replyCode: context.replyCode,
    error: context.error,
  }),
  states: {
    validating: {
      always: [
        { guard: 'callbackIsInvalid', target: 'notStarted', actions: 'recordInvalidCallback' },
        // chosen once: a call without a deadline (no timeout, or an infinite one) arms no timer at all
        { guard: 'hasDeadline', target: 'bounded' },
        { target: 'unbounded' },
      ],
    },
    // the call with its deadline, `timeout` ms after the start
    bounded: {
      after: {
        deadline: [
          // v1: the device already sent the terminal status, held for its result: the call ends with it (the
          // read's error first, the deadline's TimeoutError as the outcome's error), not as if nothing had ended
          { guard: 'awaitingResult', target: 'finished', actions: 'deliverResultDeadline' },
          // (before submission, the error events kept meanwhile go to the callback first)
          { target: 'timedOut', actions: ['deliverEarlyErrors', 'recordTimeout'] },
        ],
      },
      ...call('bounded'),
    },
    unbounded: call('unbounded'),
    finished: { type: 'final', entry: { type: 'recordOutcome', params: { outcome: 'finished' } } },
    notStarted: { type: 'final', entry: { type: 'recordOutcome', params: { outcome: 'notStarted' } } },
    timedOut: { type: 'final', entry: { type: 'recordOutcome', params: { outcome: 'timedOut' } } },
    released: { type: 'final', entry: { type: 'recordOutcome', params: { outcome: 'released' } } },
    lost: { type: 'final', entry: { type: 'recordOutcome', params: { outcome: 'lost' } } },
  },
});

export type LrcActor = ActorRefFrom<typeof lrcMachine>;
