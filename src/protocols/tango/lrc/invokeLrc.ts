/**
 * `invokeLrc`: ska-tango-base's Long Running Command client in TypeScript idiom. One `lrc` machine actor per
 * call, detached in an Orrery system; the device I/O is done by the actors provided here on a `DevicePort`.
 *
 * Differences from upstream, on purpose: the callback takes one update object; events that arrive before the
 * command id is known are buffered and replayed (no 4 s wait); subscriptions end deterministically (terminal
 * status, `unsubscribe()`, `using`, an `AbortSignal`, or the system stopping), never through garbage collection;
 * v1 status repeats are de-duplicated unless `parity` is set; an optional overall `deadline`; optional
 * reconciliation with `CheckLongRunningCommandStatus` after an error event (`reconcile`); the v1 result read is
 * bounded (`resultTimeout`).
 *
 * Every argument and option is checked before anything is spawned or sent to the device (InvalidArgumentError).
 * A DevicePort that throws synchronously, answers garbage or sends malformed events gives typed errors, never a
 * crashed actor or a leaked subscription; no error message carries a command argument's value.
 */
import { type Actor, fromCallback, type SnapshotFrom } from 'xstate';
import {
  type LrcEvent,
  type LrcIoCommand,
  type LrcIoInput,
  type LrcOutput,
  lrcMachine,
  MAX_BUFFERED_EVENTS,
} from '../../../../machines/tango/lrc.js';
import { acceptedCommandId, invokeLrcFailure, lrcErrors } from '../../../../machines/tango/lrcErrors.js';
import { describeValue, LRC_ATTRIBUTES, type LrcUpdate, toTaskStatus } from '../wire.js';
import type { AttributeEvent, DevicePort, Unsubscribe } from '../port.js';
import type { Logger } from '../../../engine/logging.js';
import { getDefaultSystem, type OrrerySystem } from '../../../engine/system.js';
import { CancelledError, type DevError, DevFailed, InvalidArgumentError } from '../../../errors.js';
import { checkDuration } from '../../../api/duration.js';

export type { LrcOutcome, LrcOutput } from '../../../../machines/tango/lrc.js';
export { DEFAULT_RESULT_TIMEOUT_MS } from '../../../../machines/tango/lrc.js';
export {
  isTerminalStatus,
  type LrcUpdate,
  ResultCode,
  resultCodeName,
  resultCodeOf,
  TaskStatus,
  taskStatusName,
} from '../wire.js';

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
  /**
   * The deadline: milliseconds from this call until the whole call (negotiation, submission and monitoring) gives
   * up with a TimeoutError. `LongRunningCommand.run`'s `timeout` is the same deadline. Absent, null or Infinity:
   * never (no timer armed). Checked like every Orrery duration (`checkDuration`).
   */
  deadline?: number | null;
  /**
   * Protocol v1: milliseconds the result read after a terminal status may take (default
   * `DEFAULT_RESULT_TIMEOUT_MS`, 3000; Infinity: no bound). When it expires the callback gets an `{error}` update
   * and the terminal status, and the outcome's `error` is a TimeoutError.
   */
  resultTimeout?: number | null;
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

/**
 * Call a DevicePort method so that whatever it does ends as a promise: a synchronous throw becomes a rejection,
 * a plain value a resolution (a port is foreign code; nothing it does may crash the call's actor).
 */
function attempt<T>(call: () => Promise<T> | T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

function portFault(reason: string, desc: string, origin: string): DevFailed {
  return new DevFailed([{ reason, desc, origin, severity: 'ERR' }]);
}

/** Reads `lrcProtocolVersions` as (min, max), or null when the device has no such attribute. */
async function readProtocolVersions(device: DevicePort): Promise<readonly [number, number] | null> {
  const wanted = LRC_ATTRIBUTES.versions.toLowerCase();
  const names = await attempt(() => device.attributeList());
  if (!Array.isArray(names)) {
    const desc = `attributeList() answered ${describeValue(names)}, not a list of names`;
    throw portFault('SKA_InvalidAttributeList', desc, device.name);
  }
  if (!names.some((n) => typeof n === 'string' && n.toLowerCase() === wanted)) return null;
  const v = await attempt(() => device.readAttribute(LRC_ATTRIBUTES.versions));
  const pair = Array.isArray(v) && v.length >= 2 ? v.slice(0, 2).map(versionNumber) : [];
  if (pair.length !== 2 || pair.some((x) => x === undefined)) {
    const desc = `${LRC_ATTRIBUTES.versions} is ${describeValue(v)}, not (min, max)`;
    throw portFault('SKA_InvalidProtocolVersions', desc, device.name);
  }
  return pair as [number, number];
}

/** An integer protocol version from a number or a numeric string (DevLong64 may come as either). */
function versionNumber(x: unknown): number | undefined {
  const n =
    typeof x === 'number'
      ? x
      : typeof x === 'bigint' || (typeof x === 'string' && x.trim() !== '')
        ? Number(x)
        : Number.NaN;
  return Number.isInteger(n) ? n : undefined;
}

/**
 * A change event as the machine may rely on it: an object with a string attribute, and, on an error event, an
 * array of errors. Anything else the port sends becomes an error event saying so (events may have been lost).
 */
function wellFormed(event: unknown, device: string): AttributeEvent {
  const e = event as AttributeEvent | null | undefined;
  if (e !== null && typeof e === 'object' && typeof e.attribute === 'string') {
    if (e.errors === undefined || (Array.isArray(e.errors) && e.errors.length)) return e;
  }
  const attribute = e !== null && typeof e === 'object' && typeof e.attribute === 'string' ? e.attribute : '';
  const errors: DevError[] = [
    {
      reason: 'SKA_InvalidEvent',
      desc: `a malformed change event from ${device}: ${describeEvent(e)}`,
      origin: 'invokeLrc',
      severity: 'ERR',
    },
  ];
  return { attribute, errors };
}

function describeEvent(e: unknown): string {
  if (e === null || typeof e !== 'object') return describeValue(e);
  const errors = (e as AttributeEvent).errors;
  if (typeof (e as AttributeEvent).attribute !== 'string') return 'no attribute name';
  return `errors is ${Array.isArray(errors) ? 'empty' : typeof errors}`;
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
      const forward = (raw: AttributeEvent) => {
        if (closed) return;
        const event = wellFormed(raw, device.name);
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
            unsubscribe = await attempt(() => device.subscribeChangeEvent(attribute, forward));
          } catch (error) {
            forget();
            return send({ type: 'SUBSCRIBE_FAILED', attribute, error });
          }
          if (typeof unsubscribe !== 'function') {
            forget();
            const desc = `subscribeChangeEvent('${attribute}') answered ${describeValue(unsubscribe)}, not an unsubscribe function`;
            const error = portFault('SKA_InvalidSubscription', desc, device.name);
            return send({ type: 'SUBSCRIBE_FAILED', attribute, error });
          }
          if (closed) return release(unsubscribe);
          unsubscribes.push(unsubscribe);
        }
        send({ type: 'SUBSCRIBED' });
      };
      const invoke = () =>
        attempt(() => device.commandInout(input.command, input.args)).then(
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
        attempt(() => device.commandInout(CHECK_STATUS_COMMAND, commandId)).then(
          (answer) => {
            const status = toTaskStatus(answer);
            if (status !== undefined) return send({ type: 'STATUS_CHECKED', status });
            const desc = `${CHECK_STATUS_COMMAND} answered ${describeValue(answer)}, not a task status`;
            send({
              type: 'STATUS_CHECK_FAILED',
              error: portFault('SKA_InvalidTaskStatus', desc, device.name),
            });
          },
          (error) => {
            forget();
            send({ type: 'STATUS_CHECK_FAILED', error });
          },
        );
      const readResult = () =>
        attempt(() => device.readAttribute(LRC_ATTRIBUTES.result)).then(
          (value) => send({ type: 'RESULT_READ', value }),
          (error) => {
            forget();
            send({ type: 'RESULT_FAILED', error });
          },
        );
      receive((command) => {
        if (command.type === 'CONNECT') void subscribe(command.attributes);
        else if (command.type === 'INVOKE') void invoke();
        else if (command.type === 'CHECK_STATUS') void checkStatus(command.commandId);
        else if (command.type === 'READ_RESULT') void readResult();
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
  /**
   * Resolves when the monitoring ends: terminal status, unsubscribe, deadline or system stop (outcome `released`
   * with a SystemStoppedError; the callback's last update is then an `{error}` saying so). Never rejects.
   */
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

const INVOKE_OPTIONS = new Set([
  'logger',
  'signal',
  'system',
  'parity',
  'deadline',
  'resultTimeout',
  'reconcile',
  'clientVersions',
  'negotiation',
]);
/** Options of the other LRC facade, named in the error when given to this one. */
const HINTS: Record<string, string> = { timeout: "'deadline' (LongRunningCommand.run calls it 'timeout')" };

/** The checked options of one call (what the machine is given). */
export interface CheckedLrcOptions {
  logger?: Logger;
  signal?: AbortSignal;
  system?: OrrerySystem;
  parity?: boolean;
  deadline: number | null;
  resultTimeout: number | null;
  reconcile?: boolean;
  clientVersions?: readonly [number, number];
  negotiation?: 'perCall' | 'cached';
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/**
 * Check every option of an LRC call (`who` names the facade in messages): InvalidArgumentError for an unknown
 * key or a value of the wrong type; durations through `checkDuration`. `allowed` defaults to invokeLrc's options.
 */
export function checkLrcOptions(
  who: string,
  options: unknown,
  allowed: ReadonlySet<string> = INVOKE_OPTIONS,
  hints: Record<string, string> = HINTS,
): CheckedLrcOptions {
  if (options === undefined || options === null) options = {};
  if (!isObject(options) || Array.isArray(options))
    throw new InvalidArgumentError(`${who} options must be an object, got ${describeValue(options)}`);
  for (const key of Object.keys(options)) {
    if (!allowed.has(key)) {
      const hint = hints[key] ? ` (did you mean ${hints[key]}?)` : '';
      throw new InvalidArgumentError(`${who} has no option '${key}'${hint}`);
    }
  }
  const o = options as InvokeLrcOptions & Record<string, unknown>;
  const bad = (name: string, what: string) =>
    new InvalidArgumentError(`${who}: ${name} must be ${what}, got ${describeValue(o[name])}`);
  for (const name of ['parity', 'reconcile'] as const)
    if (o[name] !== undefined && typeof o[name] !== 'boolean') throw bad(name, 'a boolean');
  if (o.logger !== undefined) {
    const l = o.logger as unknown as Record<string, unknown>;
    if (!isObject(l) || typeof l.warn !== 'function' || typeof l.error !== 'function')
      throw bad('logger', 'a pino-compatible logger (warn, error, ...)');
  }
  if (o.signal !== undefined) {
    const sig = o.signal as unknown as Record<string, unknown>;
    if (!isObject(sig) || typeof sig.aborted !== 'boolean' || typeof sig.addEventListener !== 'function')
      throw bad('signal', 'an AbortSignal');
  }
  if (o.system !== undefined) {
    const sys = o.system as unknown as Record<string, unknown>;
    if (!isObject(sys) || typeof sys.spawnDetached !== 'function') throw bad('system', 'an OrrerySystem');
  }
  if (o.clientVersions !== undefined) {
    const v = o.clientVersions as unknown;
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 1) || v[0] > v[1])
      throw bad('clientVersions', 'a (min, max) pair of protocol versions (integers >= 1, min <= max)');
  }
  if (o.negotiation !== undefined && o.negotiation !== 'perCall' && o.negotiation !== 'cached')
    throw bad('negotiation', "'perCall' or 'cached'");
  return {
    logger: o.logger,
    signal: o.signal,
    system: o.system,
    parity: o.parity,
    deadline: checkDuration('deadline', o.deadline, true),
    resultTimeout: checkDuration('resultTimeout', o.resultTimeout, true),
    reconcile: o.reconcile,
    clientVersions: o.clientVersions,
    negotiation: o.negotiation,
  };
}

const PORT_METHODS = ['commandInout', 'readAttribute', 'attributeList', 'subscribeChangeEvent'] as const;

/** InvalidArgumentError unless `device` has the DevicePort shape (a string name and the four methods). */
export function checkDevicePort(who: string, device: unknown): asserts device is DevicePort {
  const d = device as Record<string, unknown>;
  const missing = isObject(d) ? PORT_METHODS.filter((m) => typeof d[m] !== 'function') : [...PORT_METHODS];
  if (!isObject(d) || typeof d.name !== 'string' || missing.length) {
    const what = !isObject(d)
      ? `got ${describeValue(device)}`
      : typeof d.name !== 'string'
        ? 'its name is not a string'
        : `missing: ${missing.join(', ')}`;
    throw new InvalidArgumentError(`${who} needs a DevicePort ({name, ${PORT_METHODS.join(', ')}}); ${what}`);
  }
}

/** InvalidArgumentError unless `command` is a non-empty string. */
export function checkCommandName(who: string, command: unknown): asserts command is string {
  if (typeof command !== 'string' || !command)
    throw new InvalidArgumentError(
      `${who} needs a command name (a non-empty string), got ${describeValue(command)}`,
    );
}

/** The outcome of a call that ended before its actor existed (a signal aborted before the call). */
function endedOutput(error: Error): LrcOutput {
  return {
    outcome: 'released',
    status: null,
    commandId: null,
    protocolVersion: null,
    replyCode: null,
    error,
  };
}

/**
 * Start an LRC call; the internals of `invokeLrc` and `LongRunningCommand`. Throws InvalidArgumentError (before
 * anything is spawned) for a bad argument or option; every other outcome is in `submitted` / `finished`.
 */
export function launchLrc(
  callback: LrcCallback,
  device: DevicePort,
  command: string,
  args: unknown,
  rawOptions: InvokeLrcOptions = {},
): LrcLaunch {
  checkDevicePort('invokeLrc', device);
  checkCommandName('invokeLrc', command);
  if (typeof callback !== 'function' || callback.length > 1) throw lrcErrors.invalidCallback();
  const options = checkLrcOptions('invokeLrc', rawOptions);
  const system = options.system ?? getDefaultSystem();
  const signal = options.signal;
  if (signal?.aborted) {
    // nothing spawned, nothing sent
    const error = new CancelledError(`${command} was cancelled`, { cause: signal.reason });
    const submitted = Promise.reject(error);
    submitted.catch(() => {});
    return { submitted, finished: Promise.resolve(endedOutput(error)) };
  }
  let last: SnapshotFrom<typeof lrcLogic> | undefined;
  let actor: Actor<typeof lrcLogic> | undefined;
  let subs: LrcSubscriptions | undefined;
  let log: Logger | undefined;
  const logger = () => (log ??= options.logger ?? system.loggerFor(actor!, 'lrc').logger);
  /** Logging is never fatal: a throwing logger is the user's, and the call goes on. */
  const safely = (write: (l: Logger) => void) => {
    try {
      write(logger());
    } catch {
      // nothing better to do with a logger that throws
    }
  };
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
  const onCallbackError = (err: unknown) => safely((l) => l.error({ err, command }, 'lrc callback failed'));
  const fromLast = () => ({
    status: last?.context.status ?? null,
    commandId: last?.context.commandId ?? null,
    protocolVersion: last?.context.protocolVersion ?? null,
    replyCode: last?.context.replyCode ?? null,
  });
  actor = system.spawnDetached(lrcLogic, {
    id: `lrc-${++counter}`,
    input: {
      device,
      command,
      args,
      callback,
      onCallbackError,
      parity: options.parity,
      deadline: options.deadline,
      resultTimeout: options.resultTimeout,
      reconcile: options.reconcile,
      clientVersions: options.clientVersions,
      cacheNegotiation: options.negotiation === 'cached',
      knownVersions: options.negotiation === 'cached' ? cachedLrcNegotiation(device) : undefined,
    },
    // the system stopping ends the call while its actor runs: subscriptions released, SystemStoppedError kept
    onSystemStop: (error) => actor?.send({ type: 'UNSUBSCRIBE', error, notify: true }),
    observer: {
      next: (snapshot) => {
        last = snapshot;
      },
      complete: () =>
        settle(
          last?.output ?? {
            outcome: 'released',
            ...fromLast(),
            error: new CancelledError(`${command} was stopped with its actor system`),
          },
        ),
      // not expected (device faults are events): still an outcome, with a typed error keeping the cause
      error: (err) =>
        settle({
          outcome: last?.context.commandId ? 'released' : 'notStarted',
          ...fromLast(),
          error: invokeLrcFailure(err, 'The LRC client failed.', `invokeLrc(${device.name}, ${command})`),
        }),
    },
  });
  if (last?.status === 'active') {
    actor.on('lrc.submitted', (e) => {
      subs = new LrcSubscriptions(actor!, e.commandId, e.protocolVersion, finished);
      resolveSubmitted(subs);
    });
    actor.on('lrc.warning', (e) => safely((l) => l.warn({ command, commandId: subs?.commandId }, e.message)));
    signal?.addEventListener('abort', onAbort, { once: true });
  }
  return { submitted, finished };
}

/**
 * Invoke a long running command and follow it with `callback` until a terminal status.
 * Resolves once the device accepted the command (QUEUED or STARTED with a command id). Rejects with
 * InvalidArgumentError (a bad argument or option, before anything is spawned or sent), ProtocolVersionError, DevFailed (`SKA_InvokeLrcFailed` on top of the device's stack), CommandError (REJECTED),
 * ResultCodeError (any other code or a malformed reply), CancelledError (signal), SystemStoppedError (the system
 * stopped) or TimeoutError (deadline).
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
