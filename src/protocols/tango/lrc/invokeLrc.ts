/**
 * `invokeLrc`: ska-tango-base's Long Running Command client in TypeScript idiom. One `lrc` machine lifecycle per
 * call on the compiled runner (`system.spawnCompiled`: a virtual actor for the inspector and `system.get`; the
 * call's facade is the lifecycle's owner, with shared callbacks; an XState actor via `spawnDetached` only if the
 * machine did not compile). This facade only checks the arguments, spawns the call and adapts its outcome to
 * promises; the device I/O is the LRC session of the device (`session.ts`: one per DevicePort, shared
 * by every call on it: negotiation cache, one subscription per attribute, routing by command id).
 *
 * Differences from upstream, on purpose: the callback takes one update object; events that arrive before the
 * command id is known are buffered and replayed (no 4 s wait; a call never submitted still gives its callback the
 * error events among them, before its failure, as upstream delivers them as they come); subscriptions end
 * deterministically (terminal status, `unsubscribe()`, `using`, an `AbortSignal`, or the system stopping), never
 * through garbage collection; v1 status repeats are de-duplicated unless `parity` is set; an optional `timeout` for
 * the whole call; optional reconciliation with `CheckLongRunningCommandStatus` after an error event (`reconcile`);
 * the v1 result read is bounded (`resultTimeout`).
 *
 * Every argument and option is checked before anything is spawned or sent to the device (InvalidArgumentError).
 * A DevicePort that throws synchronously, answers garbage or sends malformed events gives typed errors, never a
 * crashed actor or a leaked subscription; no error message carries a command argument's value.
 */
import type { Actor, AnyActorRef, SnapshotFrom } from 'xstate';
import type {
  LrcContext,
  LrcEmitted,
  LrcEvent,
  LrcOutput,
  LrcStopRequest,
} from '../../../../machines/tango/lrc.js';
import { invokeLrcFailure, lrcErrors } from '../../../../machines/tango/lrcErrors.js';
import { Lifecycle, nextId } from '../../../api/lifecycle.js';
import {
  type Lifecycle as CompiledLifecycle,
  isCompiled,
  LIFECYCLE_ENDED,
  type LifecycleOwner,
} from '../../../engine/compiled/index.js';
import type { Logger } from '../../../engine/logging.js';
import { getDefaultSystem, type OrrerySystem } from '../../../engine/system.js';
import { CancelledError, SystemStoppedError } from '../../../errors.js';
import type { DevicePort } from '../port.js';
import type { LrcUpdate } from '../wire.js';
import { type LrcCallHolder, lrcLogic } from './lrcLogic.js';
import {
  type CheckedLrcOptions,
  checkCommandName,
  checkDevicePort,
  checkLrcOptions,
  type InvokeLrcOptions,
} from './lrcOptions.js';
import { cachedLrcNegotiation, type LrcCall } from './session.js';
// registers the LRC's inspector view: every process that runs an LRC shows it in the inspector
import '../view.js';

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
export { lrcLogic } from './lrcLogic.js';
export type { InvokeLrcOptions } from './lrcOptions.js';
export { cachedLrcNegotiation, forgetLrcNegotiation } from './session.js';

/** Called with every update of the command: check each field for presence; several may come at once. */
export type LrcCallback = (update: LrcUpdate) => void;

/** What `LrcSubscriptions` follows: the call's actor (XState) or its compiled lifecycle's facade. */
interface FollowedCall {
  readonly actor: Actor<typeof lrcLogic>;
  readonly active: boolean;
  unsubscribe(): void;
}

/** The subscriptions of one invoked LRC. */
export class LrcSubscriptions implements Disposable {
  readonly commandId: string;
  readonly protocolVersion: number;
  /**
   * Resolves when the monitoring ends: terminal status, unsubscribe, the deadline, a command the device no longer
   * knows (`reconcile`, outcome `lost`) or system stop (outcome `released` with a SystemStoppedError; the callback's
   * last update is then an `{error}` saying so). Never rejects.
   */
  readonly finished: Promise<LrcOutput>;
  readonly #call: FollowedCall;

  constructor(call: FollowedCall, commandId: string, protocolVersion: number, finished: Promise<LrcOutput>) {
    this.#call = call;
    this.commandId = commandId;
    this.protocolVersion = protocolVersion;
    this.finished = finished;
  }

  /** The call's actor (for the inspector; on the compiled runner, its virtual actor). */
  get actor(): Actor<typeof lrcLogic> {
    return this.#call.actor;
  }

  /** True until a terminal status or unsubscribe(). */
  get active(): boolean {
    return this.#call.active;
  }

  /** Stop receiving updates (the command itself goes on). Idempotent. */
  unsubscribe(): void {
    this.#call.unsubscribe();
  }

  [Symbol.dispose](): void {
    this.unsubscribe();
  }
}

/** An XState actor as `LrcSubscriptions` follows it (the fallback when the machine does not compile). */
class DetachedCall implements FollowedCall {
  constructor(
    readonly actor: Actor<typeof lrcLogic>,
    readonly stop: { stopRequested: boolean },
  ) {}
  get active(): boolean {
    return this.actor.getSnapshot().status === 'active';
  }
  unsubscribe(): void {
    if (!this.active) return;
    // (sent from inside the callback, the event waits for the step: the rest of its updates are not delivered)
    this.stop.stopRequested = true;
    this.actor.send(UNSUBSCRIBE);
  }
}

const UNSUBSCRIBE = Object.freeze({ type: 'UNSUBSCRIBE' as const });

/** A running LRC call: `submitted` settles when the command id is known (or the call failed). */
export interface LrcLaunch {
  submitted: Promise<LrcSubscriptions>;
  finished: Promise<LrcOutput>;
}

/** A call that ended before its actor existed (a signal aborted before the call, a stopped system). */
function endedLaunch(error: Error): LrcLaunch {
  const submitted = Promise.reject(error);
  submitted.catch(() => {});
  const output: LrcOutput = {
    outcome: 'released',
    status: null,
    commandId: null,
    protocolVersion: null,
    replyCode: null,
    error,
  };
  return { submitted, finished: Promise.resolve(output) };
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
    return endedLaunch(new CancelledError(`${command} was cancelled`, { cause: signal.reason }));
  }
  if (system.stopped) {
    // a stopped system spawns nothing (its ActorRegistryError is not an outcome of the call): nothing sent, the
    // SystemStoppedError a call running when it stopped ends with
    return endedLaunch(new SystemStoppedError(`${command}: the actor system has been stopped`));
  }
  if (COMPILED) return new CompiledCall(system, callback, device, command, args, options);
  return launchDetached(system, callback, device, command, args, options);
}

/** The `lrc` machine runs on the compiled runner (it does; XState's interpreter otherwise). */
const COMPILED = isCompiled(lrcLogic);
let compiledCount = 0;

/** The machine's input for one call. */
function inputOf(
  callback: LrcCallback,
  device: DevicePort,
  command: string,
  args: unknown,
  options: CheckedLrcOptions,
  onCallbackError: (err: unknown) => void,
  stop: LrcStopRequest,
) {
  const cached = options.negotiation === 'cached';
  return {
    device,
    command,
    args,
    callback,
    onCallbackError,
    stop,
    parity: options.parity,
    timeout: options.timeout,
    resultTimeout: options.resultTimeout,
    reconcile: options.reconcile,
    clientVersions: options.clientVersions,
    cacheNegotiation: cached,
    knownVersions: cached ? cachedLrcNegotiation(device) : undefined,
  };
}

/**
 * One call on the compiled runner (`system.spawnCompiled`): the lifecycle's owner, so the shared callbacks find it
 * without a closure each; it keeps its session call (`LrcCallHolder`) and is told when the lifecycle ends however
 * it ends (`LifecycleOwner`: done, failed, stopped), which closes that call and settles the promises.
 */
class CompiledCall implements LrcLaunch, LrcCallHolder, LifecycleOwner, FollowedCall, LrcStopRequest {
  readonly submitted: Promise<LrcSubscriptions>;
  lrcCall: LrcCall | undefined = undefined;
  /**
   * The caller ended the call (`unsubscribe()`, its signal): read by the machine before each update (its `stop`),
   * as an UNSUBSCRIBE sent from inside the callback waits for the step delivering to end.
   */
  stopRequested = false;
  readonly #system: OrrerySystem;
  readonly #command: string;
  readonly #device: DevicePort;
  readonly #logger: Logger | undefined;
  readonly #lc: CompiledLifecycle;
  #subs: LrcSubscriptions | undefined = undefined;
  /** `submitted`'s resolving functions, dropped once it settled (a call in flight keeps two closures less). */
  #resolveSubmitted: ((s: LrcSubscriptions) => void) | undefined;
  #rejectSubmitted: ((e: Error) => void) | undefined;
  /** `finished`, made when first asked for (usually once submitted): a call in flight holds one promise less. */
  #finished: Promise<LrcOutput> | undefined = undefined;
  #resolveFinished: ((o: LrcOutput) => void) | undefined = undefined;
  /** The outcome, once the call ended. */
  #output: LrcOutput | undefined = undefined;
  /** Holds the signal's abort listener (only with a signal, until the call ends). */
  #abort: Lifecycle<null> | undefined = undefined;
  #ended = false;

  constructor(
    system: OrrerySystem,
    callback: LrcCallback,
    device: DevicePort,
    command: string,
    args: unknown,
    options: CheckedLrcOptions,
  ) {
    this.#system = system;
    this.#command = command;
    this.#device = device;
    this.#logger = options.logger;
    this.submitted = new Promise<LrcSubscriptions>((res, rej) => {
      this.#resolveSubmitted = res;
      this.#rejectSubmitted = rej;
    });
    this.#lc = system.spawnCompiled(lrcLogic, {
      // `lrc-<n>`, built when first asked for
      id: ++compiledCount,
      input: inputOf(callback, device, command, args, options, (err) => this.#onCallbackError(err), this),
      owner: this,
      onEmit: CompiledCall.#onEmit,
      onSystemStop: CompiledCall.#onSystemStop,
    });
    const signal = options.signal;
    if (signal && !this.#ended) {
      const abort = new Lifecycle<null>();
      this.#abort = abort;
      abort.onAbort(signal, () => this.#stop(unsubscribe(new CancelledError(`${command} was cancelled`))));
    }
  }

  /** Resolves when the call ends, with its outcome; never rejects. */
  get finished(): Promise<LrcOutput> {
    if (this.#finished === undefined) {
      const output = this.#output;
      this.#finished =
        output !== undefined
          ? Promise.resolve(output)
          : new Promise<LrcOutput>((res) => {
              this.#resolveFinished = res;
            });
    }
    return this.#finished;
  }

  /** The virtual actor of the call's lifecycle (the inspector's, `system.get`'s). */
  get actor(): Actor<typeof lrcLogic> {
    return this.#system.actorOf(this.#lc) as unknown as Actor<typeof lrcLogic>;
  }

  get active(): boolean {
    return this.#lc.status === 'active';
  }

  unsubscribe(): void {
    this.#stop(UNSUBSCRIBE);
  }

  /** The caller ends the call: nothing more reaches the callback, even from the step that may be delivering now. */
  #stop(event: LrcEvent): void {
    if (this.#lc.status !== 'active') return;
    this.stopRequested = true;
    this.#lc.send(event);
  }

  /** The system stopping ends the call while it runs: subscriptions released, SystemStoppedError kept. */
  static #onSystemStop(this: void, error: Error, lc: CompiledLifecycle): void {
    lc.send(unsubscribe(error, true));
  }

  static #onEmit(this: void, lc: CompiledLifecycle, e: { type: string }): void {
    (lc.owner as CompiledCall).#emitted(lc, e as LrcEmitted);
  }

  #emitted(lc: CompiledLifecycle, e: LrcEmitted): void {
    if (this.#ended) return;
    if (e.type === 'lrc.submitted') {
      this.#subs = new LrcSubscriptions(this, e.commandId, e.protocolVersion, this.finished);
      const resolve = this.#resolveSubmitted;
      this.#resolveSubmitted = this.#rejectSubmitted = undefined;
      resolve?.(this.#subs);
    } else if (e.type === 'lrc.warning') {
      const message = e.message;
      this.#safely((l) => l.warn({ command: this.#command, commandId: this.#subs?.commandId }, message));
    }
    void lc;
  }

  /** The lifecycle ended (done, failed or stopped): the session call closed, the outcome settled. */
  [LIFECYCLE_ENDED](lc: CompiledLifecycle): void {
    this.lrcCall?.close();
    if (this.#ended) return;
    this.#ended = true;
    const abort = this.#abort;
    if (abort) {
      this.#abort = undefined;
      abort.end(null);
    }
    const status = lc.status;
    const command = this.#command;
    let output: LrcOutput;
    if (status === 'done') output = lc.output as LrcOutput;
    else {
      const c = lc.context as LrcContext | undefined;
      const last = {
        status: c?.status ?? null,
        commandId: c?.commandId ?? null,
        protocolVersion: c?.protocolVersion ?? null,
        replyCode: c?.replyCode ?? null,
      };
      output =
        status === 'error'
          ? // not expected (device faults are events): still an outcome, with a typed error keeping the cause
            {
              outcome: last.commandId ? 'released' : 'notStarted',
              ...last,
              error: invokeLrcFailure(
                lc.error,
                'The LRC client failed.',
                `invokeLrc(${this.#device.name}, ${command})`,
              ),
            }
          : {
              outcome: 'released',
              ...last,
              error: new CancelledError(`${command} was stopped with its actor system`),
            };
    }
    this.#output = output;
    if (!this.#subs) {
      // (callers of launchLrc may only await `finished`: handled before it is rejected, not on every call)
      this.submitted.catch(noop);
      const reject = this.#rejectSubmitted;
      this.#resolveSubmitted = this.#rejectSubmitted = undefined;
      reject?.(output.error ?? new CancelledError(`${command} ended before it was submitted`));
    }
    this.#resolveFinished?.(output);
  }

  #onCallbackError(err: unknown): void {
    const command = this.#command;
    this.#safely((l) => l.error({ err, command }, 'lrc callback failed'));
  }

  /** Logging is never fatal: a throwing logger is the user's, and the call goes on. */
  #safely(write: (l: Logger) => void): void {
    try {
      write(this.#logger ?? this.#system.loggerFor(this.actor as unknown as AnyActorRef, 'lrc').logger);
    } catch {
      // nothing better to do with a logger that throws
    }
  }
}

function noop(): void {}

function unsubscribe(error: Error, notify?: boolean): LrcEvent {
  return notify ? { type: 'UNSUBSCRIBE', error, notify } : { type: 'UNSUBSCRIBE', error };
}

/** The call as an XState actor (`spawnDetached`), when the machine does not compile. */
function launchDetached(
  system: OrrerySystem,
  callback: LrcCallback,
  device: DevicePort,
  command: string,
  args: unknown,
  options: CheckedLrcOptions,
): LrcLaunch {
  const signal = options.signal;
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
  // ends once: releases the abort listener; `finished` keeps the outcome after the actor is gone
  const lifecycle = new Lifecycle<LrcOutput>();
  const settle = (output: LrcOutput) => {
    if (!lifecycle.end(output)) return;
    if (!subs)
      rejectSubmitted(output.error ?? new CancelledError(`${command} ended before it was submitted`));
    resolveFinished(output);
  };
  const onCallbackError = (err: unknown) => safely((l) => l.error({ err, command }, 'lrc callback failed'));
  // set as the caller ends the call (unsubscribe(), the signal): see `LrcInput.stop`
  const stop = { stopRequested: false };
  const fromLast = () => ({
    status: last?.context.status ?? null,
    commandId: last?.context.commandId ?? null,
    protocolVersion: last?.context.protocolVersion ?? null,
    replyCode: last?.context.replyCode ?? null,
  });
  actor = system.spawnDetached(lrcLogic, {
    id: nextId('lrc'),
    input: inputOf(callback, device, command, args, options, onCallbackError, stop),
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
      subs = new LrcSubscriptions(new DetachedCall(actor!, stop), e.commandId, e.protocolVersion, finished);
      resolveSubmitted(subs);
    });
    actor.on('lrc.warning', (e) => safely((l) => l.warn({ command, commandId: subs?.commandId }, e.message)));
    lifecycle.onAbort(signal, () => {
      stop.stopRequested = true;
      actor?.send({ type: 'UNSUBSCRIBE', error: new CancelledError(`${command} was cancelled`) });
    });
  }
  return { submitted, finished };
}

/**
 * Invoke a long running command and follow it with `callback` until a terminal status.
 * Resolves once the device accepted the command (QUEUED or STARTED with a command id). Rejects with
 * InvalidArgumentError (a bad argument or option, before anything is spawned or sent), ProtocolVersionError, DevFailed (`SKA_InvokeLrcFailed` on top of the device's stack), CommandError (REJECTED),
 * ResultCodeError (any other code or a malformed reply), CancelledError (signal), SystemStoppedError (the system
 * stopped) or TimeoutError (the call's `timeout` expired).
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
