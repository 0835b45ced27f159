/** The types of the `lrc` machine (input, context, output, events, and the names of its device I/O actions). */

import type { AttributeEvent, DevicePort } from '../../src/protocols/tango/port.js';
import type { LrcReply, LrcUpdate, TaskStatus } from '../../src/protocols/tango/wire.js';
import type { LrcProgress } from './lrcReducer.js';

export interface LrcInput {
  device: DevicePort;
  command: string;
  args?: unknown;
  /** Receives every update; it must take one object argument. */
  callback: (update: LrcUpdate) => void;
  /** Called when the callback throws or its promise rejects (the machine carries on); ignored by default. */
  onCallbackError?: (error: unknown) => void;
  /**
   * Set by the facade when the caller ends the call (`unsubscribe()`, its AbortSignal), before it sends UNSUBSCRIBE:
   * sent from inside the callback, that event waits for the step to end, and the rest of the updates delivered in
   * that step must not reach the callback (`deliver` reads it before each one). Never set by default.
   */
  stop?: LrcStopRequest;
  /** v1: deliver repeated statuses as upstream does (default: de-duplicate). */
  parity?: boolean;
  /**
   * Milliseconds the whole call (negotiation, submission and monitoring) may take: at its deadline (the start +
   * timeout) the call gives up with a TimeoutError (null or Infinity: no deadline, no timer armed).
   */
  timeout?: number | null;
  /**
   * v1: milliseconds the result read after a terminal status may take (`DEFAULT_RESULT_TIMEOUT_MS` when null or
   * absent; Infinity: no bound). When it expires, the call ends with a TimeoutError and the terminal status.
   */
  resultTimeout?: number | null;
  /**
   * After an error event while monitoring, ask the device `CheckLongRunningCommandStatus(commandId)`: a terminal
   * status the events lost is delivered (default: no such check, as upstream).
   */
  reconcile?: boolean;
  /** The client's supported protocol range; (1, 2) by default. */
  clientVersions?: readonly [number, number];
  /** Keep the device's protocol versions for later calls (default: negotiate per call, as upstream). */
  cacheNegotiation?: boolean;
  /** The device's protocol versions, known from an earlier call (null: it has none): no negotiation then. */
  knownVersions?: readonly [number, number] | null;
}

/** Whether the caller asked for the end of the call (see `LrcInput.stop`). */
export interface LrcStopRequest {
  readonly stopRequested: boolean;
}

/**
 * How a call ended: its command reached a terminal status (`finished`, also when the deadline came during the v1
 * result read after it: the error is then the TimeoutError), was never submitted (`notStarted`), its deadline came
 * (`timedOut`), the caller, its signal or the system ended it (`released`), or (`reconcile`) the device
 * answered NOT_FOUND for the command it had accepted (`lost`: it restarted, or forgot the command once it ended;
 * how the command ended is not known).
 */
export type LrcOutcome = 'finished' | 'notStarted' | 'timedOut' | 'released' | 'lost';

export interface LrcContext extends LrcProgress {
  device: DevicePort;
  command: string;
  args: unknown;
  callback: (update: LrcUpdate) => void;
  onCallbackError: (error: unknown) => void;
  stop: LrcStopRequest;
  timeout: number | null;
  resultTimeout: number;
  reconcile: boolean;
  clientVersions: readonly [number, number];
  cacheNegotiation: boolean;
  /** Known before the call (undefined: to be negotiated). */
  knownVersions: readonly [number, number] | null | undefined;
  serverVersions: readonly [number, number] | null;
  /** Events that arrived before the command id was known. */
  buffered: AttributeEvent[];
  /** The result code the command returned. */
  replyCode: number | null;
  /** `reconcile`: status checks failed in a row (the next one waits longer: the `recheck` delay). */
  checkFailures: number;
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

/** What the device I/O (the LRC session) reports (and UNSUBSCRIBE, from the caller). */
export type LrcEvent =
  | { type: 'NEGOTIATED'; versions: readonly [number, number] | null }
  | { type: 'NEGOTIATION_FAILED'; error: unknown }
  | { type: 'DEVICE_EVENT'; event: AttributeEvent }
  | { type: 'SUBSCRIBED' }
  | { type: 'SUBSCRIBE_FAILED'; attribute: string; error: unknown }
  /**
   * The reply, parsed once by the session (`parseLrcReply`; null when it has another shape); when accepted,
   * `held` has the value events about the command that came before it.
   */
  | { type: 'INVOKED'; reply: LrcReply | null; held: readonly AttributeEvent[] }
  | { type: 'INVOKE_FAILED'; error: unknown }
  | { type: 'RESULT_READ'; value: unknown }
  | { type: 'RESULT_FAILED'; error: unknown }
  /** The answer of `CheckLongRunningCommandStatus` (NOT_FOUND included). */
  | { type: 'STATUS_CHECKED'; status: TaskStatus }
  /** The check failed, or answered something that is not a status name. */
  | { type: 'STATUS_CHECK_FAILED'; error: unknown }
  /**
   * End the call (the command goes on). `error` is kept as the outcome's error; with `notify`, a submitted call's
   * callback also gets it as a last `{error}` update (the system stopping: the caller did not ask for the end).
   */
  | { type: 'UNSUBSCRIBE'; error?: Error; notify?: boolean };

/**
 * The device I/O actions of the machine, by name (the LRC session implements them with `.provide()`): each reads
 * what it needs from the context and answers later by sending the events of `LrcEvent` to the call's actor.
 * - `negotiate` (entering negotiating): NEGOTIATED (min, max) or null, or NEGOTIATION_FAILED
 * - `connect` (entering subscribing): the attributes of `protocolVersion`; value events wait in the session until
 *   the command id is known; SUBSCRIBED or SUBSCRIBE_FAILED; error events come at once as DEVICE_EVENT
 * - `invoke` (entering invoking): INVOKED (the parsed reply and the held events about the command) or INVOKE_FAILED;
 *   then every event about the command id as DEVICE_EVENT (v1 status repeats dropped unless `parity`)
 * - `checkStatus` (entering reconciling): STATUS_CHECKED or STATUS_CHECK_FAILED
 * - `readResult` (entering fetchingResult, v1): RESULT_READ or RESULT_FAILED
 * - `release` (leaving the session state): nothing more is sent; the call's share of the subscriptions goes
 */
export type LrcIoAction = 'negotiate' | 'connect' | 'invoke' | 'checkStatus' | 'readResult' | 'release';

export type LrcEmitted =
  | { type: 'lrc.submitted'; commandId: string; protocolVersion: number }
  | { type: 'lrc.warning'; message: string };
