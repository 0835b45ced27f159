/**
 * `invokeLrc`: ska-tango-base's Long Running Command client in TypeScript idiom. One `lrc` machine actor per
 * call, detached in an Orrery system; the device I/O is done by the actors provided here on a `DevicePort`.
 *
 * Differences from upstream, on purpose: the callback takes one update object; events that arrive before the
 * command id is known are buffered and replayed (no 4 s wait); subscriptions end deterministically (terminal
 * status, `unsubscribe()`, `using`, an `AbortSignal`, or the system stopping), never through garbage collection;
 * v1 status repeats are de-duplicated unless `parity` is set; an optional overall `deadline`; optional
 * reconciliation with `CheckLongRunningCommandStatus` after an error event (`reconcile`).
 */
import { type Actor, fromCallback, type SnapshotFrom } from 'xstate';
import {
  type LrcEvent,
  type LrcIoCommand,
  type LrcIoInput,
  type LrcOutput,
  lrcMachine,
  MAX_BUFFERED_EVENTS,
} from '../../machines/lrc.js';
import { acceptedCommandId } from '../../machines/lrcErrors.js';
import { LRC_ATTRIBUTES, type LrcUpdate, toTaskStatus } from '../devices/lrcWire.js';
import type { AttributeEvent, DevicePort, Unsubscribe } from '../devices/port.js';
import type { Logger } from '../engine/logging.js';
import { getDefaultSystem, type OrrerySystem } from '../engine/system.js';
import { CancelledError, DevFailed, InvalidArgumentError } from '../errors.js';

export type { LrcOutcome, LrcOutput } from '../../machines/lrc.js';
export {
  isTerminalStatus,
  type LrcUpdate,
  ResultCode,
  resultCodeName,
  resultCodeOf,
  TaskStatus,
  taskStatusName,
} from '../devices/lrcWire.js';

/** Called with every update of the command: check each field for presence; several may come at once. */
export type LrcCallback = (update: LrcUpdate) => void;

export interface InvokeLrcOptions {
  /** pino-compatible logger; the system's (bound to the actor) otherwise. */
  logger?: Logger;
  /** Aborting unsubscribes (before submission, invokeLrc rejects with CancelledError). Does not abort the command. */
  signal?: AbortSignal;
  /** Actor system to run in; the process default otherwise. */
  system?: OrrerySystem;
  /** Protocol v1: deliver repeated statuses as upstream does. */
  parity?: boolean;
  /** Milliseconds until the whole call gives up with a TimeoutError. */
  deadline?: number | null;
  /**
   * After an error event while monitoring (events may have been lost), ask the device
   * `CheckLongRunningCommandStatus(commandId)`: a terminal status not yet delivered is delivered (v1: after reading
   * the result) and the call finishes; NOT_FOUND or a non-terminal status: monitoring goes on; a failed check is an
   * `{error}` update. Default false (upstream does not check).
   */
  reconcile?: boolean;
  /** The client's supported protocol range, default (1, 2); e.g. (1, 1) forces protocol v1. */
  clientVersions?: readonly [number, number];
  /**
   * 'perCall' (default, as upstream's `invoke_lrc`): read the device's protocol versions on every call.
   * 'cached': reuse them from an earlier call on the same DevicePort (as `connect_lrc_interface` does); the cache
   * entry is dropped on a transport error or an error event, and by `forgetLrcNegotiation(device)`.
   */
  negotiation?: 'perCall' | 'cached';
}

/**
 * Protocol versions per device, for calls with `negotiation: 'cached'` (newer ska-tango-base negotiates once per
 * connection with `connect_lrc_interface`). An entry is dropped when a call on that device fails with a transport
 * error (negotiation, subscription, invocation or result read), when an error event arrives (the device may have
 * restarted), and by `forgetLrcNegotiation()`. A failed negotiation is never kept.
 */
const negotiations = new WeakMap<
  DevicePort,
  { versions?: readonly [number, number] | null; pending: Promise<readonly [number, number] | null> }
>();

/** The cached protocol versions of `device`: (min, max), null (none), or undefined when not known. */
export function cachedLrcNegotiation(device: DevicePort): readonly [number, number] | null | undefined {
  return negotiations.get(device)?.versions;
}

/** Drop the cached protocol versions of `device` (e.g. after it restarted); the next call negotiates again. */
export function forgetLrcNegotiation(device: DevicePort): void {
  negotiations.delete(device);
}

/** Reads `lrcProtocolVersions` as (min, max), or null when the device has no such attribute. */
async function readProtocolVersions(device: DevicePort): Promise<readonly [number, number] | null> {
  const wanted = LRC_ATTRIBUTES.versions.toLowerCase();
  const names = await device.attributeList();
  if (!names.some((n) => n.toLowerCase() === wanted)) return null;
  const v = await device.readAttribute(LRC_ATTRIBUTES.versions);
  if (!Array.isArray(v) || v.length < 2 || !v.slice(0, 2).every((x) => Number.isInteger(Number(x)))) {
    throw new DevFailed([
      {
        reason: 'SKA_InvalidProtocolVersions',
        desc: `${LRC_ATTRIBUTES.versions} is ${JSON.stringify(v)}, not (min, max)`,
        origin: device.name,
        severity: 'ERR',
      },
    ]);
  }
  return [Number(v[0]), Number(v[1])];
}

/** The device I/O of the `lrc` machine (one actor per call), implemented on a DevicePort. */
export const lrcLogic = lrcMachine.provide({
  actors: {
    deviceIo: fromCallback<LrcIoCommand, LrcIoInput, LrcEvent>(({ input, sendBack, receive }) => {
      const { device } = input;
      let closed = false;
      const send = (event: LrcEvent) => {
        if (!closed) sendBack(event);
      };
      const forget = () => {
        if (input.cacheNegotiation) negotiations.delete(device);
      };
      // Until the command id is known, value events wait here (other commands' events are dropped when it is)
      // instead of going through the machine: with k calls starting at once on one device, that is k^2 events.
      let watched: string | undefined;
      let held: AttributeEvent[] | undefined = [];
      // v1: every status event lists every command of the device, so with k calls on a device each call would
      // see k times its own status again; the reducer drops such repeats (unless parity), so they stop here
      let lastStatus: unknown;
      const repeatsStatus = (event: AttributeEvent, id: string) => {
        if (input.parity || event.attribute.toLowerCase() !== STATUS_ATTRIBUTE) return false;
        const raw = statusOf(event.value, id);
        if (raw === undefined || toTaskStatus(raw) === undefined) return false;
        if (raw === lastStatus) return true;
        lastStatus = raw;
        return false;
      };
      const forward = (event: AttributeEvent) => {
        if (closed) return;
        if (event.errors) forget();
        if (held && !event.errors) {
          if (held.length >= MAX_BUFFERED_EVENTS) held.shift();
          held.push(event);
        } else if (watched === undefined) send({ type: 'DEVICE_EVENT', event });
        else if (mentions(event, watched) && (event.errors || !repeatsStatus(event, watched)))
          send({ type: 'DEVICE_EVENT', event });
      };
      const unsubscribes: Unsubscribe[] = [];
      const release = (u: Unsubscribe) => {
        try {
          u();
        } catch {
          // upstream logs EventSystemFailed on unsubscribe as a warning and carries on
        }
      };
      const subscribe = async (attributes: readonly string[]) => {
        for (const attribute of attributes) {
          let unsubscribe: Unsubscribe;
          try {
            unsubscribe = await device.subscribeChangeEvent(attribute, forward);
          } catch (error) {
            forget();
            return send({ type: 'SUBSCRIBE_FAILED', attribute, error });
          }
          if (closed) return release(unsubscribe);
          unsubscribes.push(unsubscribe);
        }
        send({ type: 'SUBSCRIBED' });
      };
      const invoke = () =>
        device.commandInout(input.command, input.args).then(
          (reply) => {
            if (closed) return;
            const id = acceptedCommandId(reply);
            const early = held!;
            held = undefined;
            let events: AttributeEvent[] = [];
            if (id !== undefined) {
              watched = id;
              events = early.filter((e) => mentions(e, id));
              for (const e of events) repeatsStatus(e, id); // remember the last status
            }
            send({ type: 'INVOKED', reply, held: events });
          },
          (error) => {
            forget();
            send({ type: 'INVOKE_FAILED', error });
          },
        );
      const checkStatus = (commandId: string) =>
        device.commandInout(CHECK_STATUS_COMMAND, commandId).then(
          (answer) => {
            const status = toTaskStatus(answer);
            if (status !== undefined) return send({ type: 'STATUS_CHECKED', status });
            const desc = `${CHECK_STATUS_COMMAND} answered ${JSON.stringify(answer)}, not a task status`;
            send({
              type: 'STATUS_CHECK_FAILED',
              error: new DevFailed([
                { reason: 'SKA_InvalidTaskStatus', desc, origin: device.name, severity: 'ERR' },
              ]),
            });
          },
          (error) => {
            forget();
            send({ type: 'STATUS_CHECK_FAILED', error });
          },
        );
      receive((command) => {
        if (command.type === 'CONNECT') void subscribe(command.attributes);
        else if (command.type === 'INVOKE') invoke();
        else if (command.type === 'CHECK_STATUS') checkStatus(command.commandId);
        else
          device.readAttribute(LRC_ATTRIBUTES.result).then(
            (value) => send({ type: 'RESULT_READ', value }),
            (error) => {
              forget();
              send({ type: 'RESULT_FAILED', error });
            },
          );
      });

      // negotiation (unless the machine knew the versions), shared with calls on the same device when cached
      if (input.negotiate) {
        const cached = input.cacheNegotiation ? negotiations.get(device) : undefined;
        let pending = cached?.pending;
        if (!pending) {
          pending = readProtocolVersions(device);
          if (input.cacheNegotiation) {
            const entry: { versions?: readonly [number, number] | null; pending: typeof pending } = {
              pending,
            };
            negotiations.set(device, entry);
            pending.then(
              (versions) => {
                entry.versions = versions;
              },
              () => {
                if (negotiations.get(device) === entry) negotiations.delete(device);
              },
            );
          }
        }
        pending.then(
          (versions) => send({ type: 'NEGOTIATED', versions }),
          (error) => send({ type: 'NEGOTIATION_FAILED', error }),
        );
      }
      return () => {
        closed = true;
        for (const u of unsubscribes.splice(0)) release(u);
      };
    }),
  },
});

const STATUS_ATTRIBUTE = LRC_ATTRIBUTES.status.toLowerCase();
/** ska-tango-base's command answering a command id's status name (NOT_FOUND once forgotten). */
const CHECK_STATUS_COMMAND = 'CheckLongRunningCommandStatus';

/** The value paired with the first occurrence of `commandId` in a flat `(id, value, ...)` spectrum. */
function statusOf(value: unknown, commandId: string): unknown {
  if (!Array.isArray(value)) return undefined;
  for (let i = 0; i < value.length - 1; i += 2) if (value[i] === commandId) return value[i + 1];
  return undefined;
}

/** Whether an event may concern `commandId`: error events, or an LRC spectrum with that id at an even index. */
function mentions(event: AttributeEvent, commandId: string): boolean {
  if (event.errors) return true;
  const v = event.value;
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i += 2) if (v[i] === commandId) return true;
  return false;
}

/** The subscriptions of one invoked LRC. */
export class LrcSubscriptions implements Disposable {
  readonly commandId: string;
  readonly protocolVersion: number;
  /** Resolves when the monitoring ends: terminal status, unsubscribe, deadline or system stop. Never rejects. */
  readonly finished: Promise<LrcOutput>;
  readonly #actor: Actor<typeof lrcLogic>;

  constructor(
    actor: Actor<typeof lrcLogic>,
    commandId: string,
    protocolVersion: number,
    finished: Promise<LrcOutput>,
  ) {
    this.#actor = actor;
    this.commandId = commandId;
    this.protocolVersion = protocolVersion;
    this.finished = finished;
  }

  /** The call's actor (for the inspector). */
  get actor(): Actor<typeof lrcLogic> {
    return this.#actor;
  }

  /** True until a terminal status or unsubscribe(). */
  get active(): boolean {
    return this.#actor.getSnapshot().status === 'active';
  }

  /** Stop receiving updates (the command itself goes on). Idempotent. */
  unsubscribe(): void {
    if (this.active) this.#actor.send({ type: 'UNSUBSCRIBE' });
  }

  [Symbol.dispose](): void {
    this.unsubscribe();
  }
}

/** A running LRC call: `submitted` settles when the command id is known (or the call failed). */
export interface LrcLaunch {
  submitted: Promise<LrcSubscriptions>;
  finished: Promise<LrcOutput>;
}

let counter = 0;

/** Start an LRC call; the internals of `invokeLrc` and `LongRunningCommand`. */
export function launchLrc(
  callback: LrcCallback,
  device: DevicePort,
  command: string,
  args: unknown,
  options: InvokeLrcOptions = {},
): LrcLaunch {
  if (!device || typeof device.commandInout !== 'function') {
    throw new InvalidArgumentError('invokeLrc needs a DevicePort (commandInout, readAttribute, ...)');
  }
  if (typeof command !== 'string' || !command)
    throw new InvalidArgumentError('invokeLrc needs a command name');
  const system = options.system ?? getDefaultSystem();
  const signal = options.signal;
  let last: SnapshotFrom<typeof lrcLogic> | undefined;
  let actor: Actor<typeof lrcLogic> | undefined;
  let subs: LrcSubscriptions | undefined;
  let log: Logger | undefined;
  const logger = () => (log ??= options.logger ?? system.loggerFor(actor!, 'lrc').logger);
  let resolveSubmitted!: (s: LrcSubscriptions) => void;
  let rejectSubmitted!: (e: Error) => void;
  let resolveFinished!: (o: LrcOutput) => void;
  const submitted = new Promise<LrcSubscriptions>((res, rej) => {
    resolveSubmitted = res;
    rejectSubmitted = rej;
  });
  const finished = new Promise<LrcOutput>((res) => {
    resolveFinished = res;
  });
  submitted.catch(() => {}); // callers of launchLrc may only await `finished`
  const onAbort = () =>
    actor?.send({ type: 'UNSUBSCRIBE', error: new CancelledError(`${command} was cancelled`) });
  const settle = (output: LrcOutput) => {
    signal?.removeEventListener('abort', onAbort);
    if (!subs)
      rejectSubmitted(output.error ?? new CancelledError(`${command} ended before it was submitted`));
    resolveFinished(output);
  };
  const onCallbackError = (err: unknown) => logger().error({ err, command }, 'lrc callback failed');
  actor = system.spawnDetached(lrcLogic, {
    id: `lrc-${++counter}`,
    input: {
      device,
      command,
      args,
      callback,
      onCallbackError,
      parity: options.parity,
      deadline: options.deadline ?? null,
      reconcile: options.reconcile,
      clientVersions: options.clientVersions,
      cacheNegotiation: options.negotiation === 'cached',
      knownVersions: options.negotiation === 'cached' ? cachedLrcNegotiation(device) : undefined,
    },
    observer: {
      next: (snapshot) => {
        last = snapshot;
      },
      complete: () =>
        settle(
          last?.output ?? {
            outcome: 'released',
            status: last?.context.status ?? null,
            commandId: last?.context.commandId ?? null,
            protocolVersion: last?.context.protocolVersion ?? null,
            replyCode: last?.context.replyCode ?? null,
            error: new CancelledError(`${command} was stopped with its actor system`),
          },
        ),
      error: (err) =>
        settle({
          outcome: 'notStarted',
          status: null,
          commandId: null,
          protocolVersion: null,
          replyCode: null,
          error: err as Error,
        }),
    },
  });
  if (last?.status === 'active') {
    actor.on('lrc.submitted', (e) => {
      subs = new LrcSubscriptions(actor!, e.commandId, e.protocolVersion, finished);
      resolveSubmitted(subs);
    });
    actor.on('lrc.warning', (e) => logger().warn({ command, commandId: subs?.commandId }, e.message));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  }
  return { submitted, finished };
}

/**
 * Invoke a long running command and follow it with `callback` until a terminal status.
 * Resolves once the device accepted the command (QUEUED or STARTED). Rejects with InvalidArgumentError (callback),
 * ProtocolVersionError, DevFailed (`SKA_InvokeLrcFailed` on top of the device's stack), CommandError (REJECTED),
 * ResultCodeError (any other code), CancelledError (signal) or TimeoutError (deadline).
 */
export function invokeLrc(
  callback: LrcCallback,
  device: DevicePort,
  command: string,
  args?: unknown,
  options: InvokeLrcOptions = {},
): Promise<LrcSubscriptions> {
  try {
    return launchLrc(callback, device, command, args, options).submitted;
  } catch (err) {
    return Promise.reject(err);
  }
}
