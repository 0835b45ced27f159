/**
 * The client side of an SKA Long Running Command (ska-tango-base `invoke_lrc`) as an XState v5 machine.
 *
 *   running (parallel)
 *     flow:  validating ──► negotiating ──► connected ─────────────────────────────────────► finished
 *                                            │ (invokes lrcEvents: the attribute subscriptions; leaving
 *                                            │  `connected` by any path stops it, which unsubscribes)
 *                                            ├ subscribing ──SUBSCRIBED──► invoking ──QUEUED|STARTED──► monitoring
 *                                            │   (DEVICE_EVENTs are buffered until the command id is known)
 *                                            ├ monitoring: submitted ─► staging ─► queued ─► inProgress
 *                                            │   (buffered events replayed on entry; a terminal status ends it)
 *                                            └ fetchingResult (v1 only: terminal status came before its result)
 *     deadline: choosing ──► armed ──after(deadline)──► timedOut   |   unarmed
 *   any failure before submission ──► notStarted (callback, versions, subscribe, invoke, REJECTED, other code)
 *   UNSUBSCRIBE ──► released
 *
 * No I/O here: the device calls are the actors `readProtocolVersions`, `lrcEvents`, `invokeCommand` and
 * `readResult`, supplied with `.provide()` (src/api/lrc.ts implements them on a `DevicePort`). The status
 * bookkeeping (de-duplication, stale events, v1 result ordering) is the pure reducer in `lrcReducer.ts`.
 */
import {
  type ActorRefFrom,
  assign,
  emit,
  enqueueActions,
  fromCallback,
  fromPromise,
  sendTo,
  setup,
} from 'xstate';
import {
  CLIENT_PROTOCOL_VERSIONS,
  decodeLrcEvent,
  LRC_ATTRIBUTES,
  type LrcUpdate,
  lrcAttributesFor,
  ResultCode,
  resultCodeName,
  TaskStatus,
} from '../src/devices/lrcWire.js';
import type { AttributeEvent, DevicePort } from '../src/devices/port.js';
import {
  CommandError,
  DevFailed,
  InvalidArgumentError,
  ProtocolVersionError,
  ResultCodeError,
  TimeoutError,
} from '../src/errors.js';
import { type LrcProgress, reduceLrcEvent, replayLrcEvents } from './lrcReducer.js';

export interface LrcInput {
  device: DevicePort;
  command: string;
  args?: unknown;
  /** Receives every update; it must take one object argument. */
  callback: (update: LrcUpdate) => void;
  /** Called when the callback throws (the machine carries on); ignored by default. */
  onCallbackError?: (error: unknown) => void;
  /** v1: deliver repeated statuses as upstream does (default: de-duplicate). */
  parity?: boolean;
  /** Milliseconds from the start until the whole call gives up (null: never). */
  deadline?: number | null;
  /** The client's supported protocol range; (1, 2) by default. */
  clientVersions?: readonly [number, number];
}

export type LrcOutcome = 'finished' | 'notStarted' | 'timedOut' | 'released';

export interface LrcContext extends LrcProgress {
  device: DevicePort;
  command: string;
  args: unknown;
  callback: (update: LrcUpdate) => void;
  onCallbackError: (error: unknown) => void;
  deadline: number | null;
  clientVersions: readonly [number, number];
  serverVersions: readonly [number, number] | null;
  /** Events that arrived before the command id was known. */
  buffered: AttributeEvent[];
  /** The result code the command returned. */
  replyCode: number | null;
  outcome: LrcOutcome | null;
  error: Error | null;
}

export interface LrcOutput {
  outcome: LrcOutcome;
  status: TaskStatus | null;
  commandId: string | null;
  protocolVersion: number | null;
  /** The result code the command returned (QUEUED, STARTED, REJECTED, ...), null if it never returned. */
  replyCode: number | null;
  error: Error | null;
}

export type LrcEvent =
  | { type: 'DEVICE_EVENT'; event: AttributeEvent }
  | { type: 'SUBSCRIBED' }
  | { type: 'SUBSCRIBE_FAILED'; attribute: string; error: unknown }
  | { type: 'UNSUBSCRIBE'; error?: Error };

/** Sent to the `lrcEvents` actor once the command id is known, so it can drop other commands' events early. */
export type LrcEventsCommand = { type: 'WATCH'; commandId: string };

export type LrcEmitted =
  | { type: 'lrc.submitted'; commandId: string; protocolVersion: number }
  | { type: 'lrc.warning'; message: string };

/** Events kept before the command id is known; older ones are dropped beyond this. */
export const MAX_BUFFERED_EVENTS = 1000;

function notProvided(name: string) {
  return fromPromise<never, unknown>(async () => {
    throw new Error(`lrc machine: actor '${name}' was not provided`);
  });
}

/** A DevFailed keeping the device's stack, with an `SKA_InvokeLrcFailed` entry on top. */
export function invokeLrcFailure(error: unknown, desc: string, origin: string): DevFailed {
  const entry = { reason: 'SKA_InvokeLrcFailed', desc, origin, severity: 'ERR' as const };
  if (error instanceof DevFailed) return error.rethrow(entry);
  const e = error instanceof Error ? error : new Error(String(error));
  return new DevFailed([{ reason: e.name, desc: e.message, origin, severity: 'ERR' }, entry], {
    cause: error,
  });
}

/** `[[resultCode], [commandIdOrReason]]`, or undefined when the reply has another shape. */
function parseReply(reply: unknown): { code: number; text: string } | undefined {
  if (!Array.isArray(reply) || !Array.isArray(reply[0]) || !Array.isArray(reply[1])) return undefined;
  const code = reply[0][0];
  if (!Number.isInteger(code)) return undefined;
  return { code, text: String(reply[1][0] ?? '') };
}

const range = (r: readonly [number, number] | null) => (r ? `(${r[0]}, ${r[1]})` : '(1, 1)');

export const lrcMachine = setup({
  types: {
    context: {} as LrcContext,
    events: {} as LrcEvent,
    input: {} as LrcInput,
    output: {} as LrcOutput,
    emitted: {} as LrcEmitted,
  },
  actors: {
    /** Resolves `lrcProtocolVersions` as (min, max), or null when the device has no such attribute. */
    readProtocolVersions: notProvided('readProtocolVersions') as ReturnType<
      typeof fromPromise<readonly [number, number] | null, { device: DevicePort }>
    >,
    /**
     * Subscribes to `attributes`; sends DEVICE_EVENT, then SUBSCRIBED or SUBSCRIBE_FAILED; unsubscribes when
     * stopped. After WATCH it may drop the events that do not mention the command id.
     */
    lrcEvents: fromCallback<
      LrcEventsCommand,
      { device: DevicePort; attributes: readonly string[] },
      LrcEvent
    >(({ sendBack }) => {
      sendBack({
        type: 'SUBSCRIBE_FAILED',
        attribute: '',
        error: new Error("lrc machine: 'lrcEvents' not provided"),
      });
    }),
    /** Runs the command; resolves the raw `[[code], [idOrReason]]` reply. */
    invokeCommand: notProvided('invokeCommand') as ReturnType<
      typeof fromPromise<unknown, { device: DevicePort; command: string; args: unknown }>
    >,
    /** Reads `longRunningCommandResult` (v1). */
    readResult: notProvided('readResult') as ReturnType<typeof fromPromise<unknown, { device: DevicePort }>>,
  },
  guards: {
    callbackIsValid: ({ context }) => typeof context.callback === 'function' && context.callback.length <= 1,
    hasDeadline: ({ context }) => context.deadline !== null,
    versionsOverlap: ({ context, event }) => {
      const [smin, smax] = ((event as { output?: readonly [number, number] | null }).output ?? [1, 1]) as [
        number,
        number,
      ];
      const [cmin, cmax] = context.clientVersions;
      return smin <= cmax && cmin <= smax;
    },
    accepted: ({ event }) => {
      const code = parseReply((event as { output?: unknown }).output)?.code;
      return code === ResultCode.QUEUED || code === ResultCode.STARTED;
    },
    rejected: ({ event }) => parseReply((event as { output?: unknown }).output)?.code === ResultCode.REJECTED,
    statusIsStaging: ({ context }) => context.status === TaskStatus.STAGING,
    statusIsQueued: ({ context }) => context.status === TaskStatus.QUEUED,
    statusIsInProgress: ({ context }) => context.status === TaskStatus.IN_PROGRESS,
    terminalDelivered: ({ context }) => context.terminal,
    awaitingResult: ({ context }) => context.pendingTerminal !== null,
  },
  delays: {
    deadline: ({ context }) => context.deadline ?? 0,
  },
  actions: {
    recordInvalidCallback: assign({
      error: () =>
        new InvalidArgumentError(
          'the lrc callback must be a function taking one update object ({status, progress, result, error, ...})',
        ),
    }),
    chooseVersion: assign(({ context, event }) => {
      const server = ((event as { output?: readonly [number, number] | null }).output ?? null) as
        | readonly [number, number]
        | null;
      const [, smax] = server ?? [1, 1];
      return { serverVersions: server, protocolVersion: Math.min(smax, context.clientVersions[1]) };
    }),
    recordIncompatible: assign({
      error: ({ context, event }) => {
        const server = (event as { output?: readonly [number, number] | null }).output ?? null;
        return new ProtocolVersionError(
          "This version of invokeLrc() is not compatible with any of the server's supported LRC protocols! " +
            `Client version min, max = ${range(context.clientVersions)} - Server version min, max = ${range(server)}`,
        );
      },
    }),
    recordNegotiationFailure: assign({
      error: ({ context, event }) =>
        invokeLrcFailure(
          (event as { error?: unknown }).error,
          `Reading '${LRC_ATTRIBUTES.versions}' failed.`,
          `invokeLrc(${context.device.name}, ${context.command})`,
        ),
    }),
    recordSubscribeFailure: assign({
      error: ({ context, event }) => {
        const e = event as { attribute?: string; error?: unknown };
        return invokeLrcFailure(
          e.error,
          `Subscribing to '${e.attribute}' change event failed.`,
          `invokeLrc(${context.device.name}, ${context.command})`,
        );
      },
    }),
    recordInvokeFailure: assign({
      error: ({ context, event }) =>
        invokeLrcFailure(
          (event as { error?: unknown }).error,
          `Invocation of command '${context.command}' failed with args: ${JSON.stringify(context.args) ?? 'None'}`,
          `invokeLrc(${context.device.name}, ${context.command})`,
        ),
    }),
    recordRejection: assign({
      buffered: [],
      replyCode: ResultCode.REJECTED,
      error: ({ context, event }) => {
        const reason = parseReply((event as { output?: unknown }).output)?.text;
        return new CommandError(`${context.command} command rejected: ${reason}`);
      },
    }),
    recordUnexpectedCode: assign({
      buffered: [],
      replyCode: ({ event }) => parseReply((event as { output?: unknown }).output)?.code ?? null,
      error: ({ context, event }) => {
        const code = parseReply((event as { output?: unknown }).output)?.code;
        const name = code === undefined ? 'no result code' : `${code} (${resultCodeName(code)})`;
        return new ResultCodeError(`Unexpected result code for ${context.command} command: ${name}`);
      },
    }),
    recordCommandId: assign(({ event }) => {
      const reply = parseReply((event as { output?: unknown }).output)!;
      return { commandId: reply.text, replyCode: reply.code };
    }),
    recordTimeout: assign({
      error: ({ context }) =>
        new TimeoutError(
          `${context.command} on ${context.device.name} did not finish within ${context.deadline} ms` +
            (context.commandId ? ` (command id ${context.commandId})` : ''),
        ),
    }),
    recordRelease: assign({ error: ({ event }) => (event as { error?: Error }).error ?? null }),
    bufferEvent: assign({
      buffered: ({ context, event }) => {
        const e = (event as { event: AttributeEvent }).event;
        const kept =
          context.buffered.length >= MAX_BUFFERED_EVENTS ? context.buffered.slice(1) : context.buffered;
        return [...kept, e];
      },
    }),
    watchCommandId: sendTo('events', ({ context }) => ({
      type: 'WATCH' as const,
      commandId: context.commandId!,
    })),
    announceSubmitted: emit(({ context }) => ({
      type: 'lrc.submitted' as const,
      commandId: context.commandId!,
      protocolVersion: context.protocolVersion!,
    })),
    replayBufferedEvents: enqueueActions(({ context, enqueue }) => {
      const step = replayLrcEvents(context, context.buffered);
      enqueue.assign({ ...progressFields(step.progress), buffered: [] });
      for (const message of step.warnings) enqueue.emit({ type: 'lrc.warning', message });
      if (step.updates.length) enqueue(() => deliver(context, step.updates));
    }),
    applyDeviceEvent: enqueueActions(({ context, event, enqueue }) => {
      const step = reduceLrcEvent(context, (event as { event: AttributeEvent }).event);
      if (step.progress !== context) enqueue.assign(progressFields(step.progress));
      for (const message of step.warnings) enqueue.emit({ type: 'lrc.warning', message });
      if (step.updates.length) enqueue(() => deliver(context, step.updates));
    }),
    /** v1: the result read after a terminal status that came first; then the held-back status. */
    deliverFetchedResult: enqueueActions(({ context, event, enqueue }) => {
      const value = (event as { output?: unknown }).output;
      const decoded = decodeLrcEvent(LRC_ATTRIBUTES.result, value, context.commandId!);
      const updates: LrcUpdate[] = decoded ? [decoded.update] : [];
      for (const message of decoded?.warnings ?? []) enqueue.emit({ type: 'lrc.warning', message });
      updates.push(context.pendingTerminal!);
      enqueue.assign({ status: context.pendingTerminal!.status!, terminal: true, pendingTerminal: null });
      enqueue(() => deliver(context, updates));
    }),
    deliverPendingTerminal: enqueueActions(({ context, enqueue }) => {
      const update = context.pendingTerminal!;
      enqueue.assign({ status: update.status!, terminal: true, pendingTerminal: null });
      enqueue(() => deliver(context, [update]));
    }),
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
    parity: input.parity ?? false,
    deadline: input.deadline ?? null,
    clientVersions: input.clientVersions ?? CLIENT_PROTOCOL_VERSIONS,
    serverVersions: null,
    protocolVersion: null,
    commandId: null,
    buffered: [],
    replyCode: null,
    status: null,
    terminal: false,
    resultSeen: false,
    pendingTerminal: null,
    outcome: null,
    error: null,
  }),
  initial: 'running',
  output: ({ context }) => ({
    outcome: context.outcome!,
    status: context.status,
    commandId: context.commandId,
    protocolVersion: context.protocolVersion,
    replyCode: context.replyCode,
    error: context.error,
  }),
  states: {
    running: {
      type: 'parallel',
      on: { UNSUBSCRIBE: { target: 'released', actions: 'recordRelease' } },
      states: {
        deadline: {
          initial: 'choosing',
          states: {
            choosing: { always: [{ guard: 'hasDeadline', target: 'armed' }, { target: 'unarmed' }] },
            armed: { after: { deadline: { target: '#lrc.timedOut', actions: 'recordTimeout' } } },
            unarmed: {},
          },
        },
        flow: {
          initial: 'validating',
          states: {
            validating: {
              always: [
                { guard: 'callbackIsValid', target: 'negotiating' },
                { target: '#lrc.notStarted', actions: 'recordInvalidCallback' },
              ],
            },
            negotiating: {
              invoke: {
                src: 'readProtocolVersions',
                input: ({ context }) => ({ device: context.device }),
                onDone: [
                  { guard: 'versionsOverlap', target: 'connected', actions: 'chooseVersion' },
                  { target: '#lrc.notStarted', actions: 'recordIncompatible' },
                ],
                onError: { target: '#lrc.notStarted', actions: 'recordNegotiationFailure' },
              },
            },
            connected: {
              invoke: {
                id: 'events',
                src: 'lrcEvents',
                input: ({ context }) => ({
                  device: context.device,
                  attributes: lrcAttributesFor(context.protocolVersion!),
                }),
              },
              always: { guard: 'terminalDelivered', target: '#lrc.finished' },
              initial: 'subscribing',
              states: {
                subscribing: {
                  on: {
                    SUBSCRIBED: { target: 'invoking' },
                    SUBSCRIBE_FAILED: { target: '#lrc.notStarted', actions: 'recordSubscribeFailure' },
                    DEVICE_EVENT: { actions: 'bufferEvent' },
                  },
                },
                invoking: {
                  invoke: {
                    src: 'invokeCommand',
                    input: ({ context }) => ({
                      device: context.device,
                      command: context.command,
                      args: context.args,
                    }),
                    onDone: [
                      { guard: 'accepted', target: 'monitoring', actions: 'recordCommandId' },
                      { guard: 'rejected', target: '#lrc.notStarted', actions: 'recordRejection' },
                      { target: '#lrc.notStarted', actions: 'recordUnexpectedCode' },
                    ],
                    onError: { target: '#lrc.notStarted', actions: 'recordInvokeFailure' },
                  },
                  on: { DEVICE_EVENT: { actions: 'bufferEvent' } },
                },
                monitoring: {
                  entry: ['watchCommandId', 'announceSubmitted', 'replayBufferedEvents'],
                  on: { DEVICE_EVENT: { actions: 'applyDeviceEvent' } },
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
                  },
                },
                fetchingResult: {
                  invoke: {
                    src: 'readResult',
                    input: ({ context }) => ({ device: context.device }),
                    onDone: { actions: 'deliverFetchedResult' },
                    onError: { actions: 'deliverPendingTerminal' },
                  },
                  on: { DEVICE_EVENT: { actions: 'applyDeviceEvent' } },
                },
              },
            },
          },
        },
      },
    },
    finished: { type: 'final', entry: { type: 'recordOutcome', params: { outcome: 'finished' } } },
    notStarted: { type: 'final', entry: { type: 'recordOutcome', params: { outcome: 'notStarted' } } },
    timedOut: { type: 'final', entry: { type: 'recordOutcome', params: { outcome: 'timedOut' } } },
    released: { type: 'final', entry: { type: 'recordOutcome', params: { outcome: 'released' } } },
  },
});

/** The reducer's fields only (an assign object must not carry the context's functions: they would run). */
function progressFields(p: LrcProgress): Partial<LrcContext> {
  return {
    status: p.status,
    terminal: p.terminal,
    resultSeen: p.resultSeen,
    pendingTerminal: p.pendingTerminal,
  };
}

/** Call the callback once per update, in order; a throwing callback is reported, never fatal. */
function deliver(context: LrcContext, updates: readonly LrcUpdate[]): void {
  for (const u of updates) {
    try {
      context.callback(u);
    } catch (err) {
      context.onCallbackError(err);
    }
  }
}

export type LrcActor = ActorRefFrom<typeof lrcMachine>;
