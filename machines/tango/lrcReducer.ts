/**
 * What one change event means for one monitored LRC: the pure bookkeeping of the `lrc` machine.
 *
 * - Events about other commands are ignored; error events become `{error}` updates (subscription kept).
 * - Statuses only move forward along STAGING → QUEUED → IN_PROGRESS → terminal (the SKA TaskStatus diagram; a
 *   terminal status is accepted from any state, so a lost event cannot hang the client). A status lower than the
 *   current one is stale (a late duplicate) and dropped. A repeat of the current status is dropped too, unless
 *   `parity` is set on protocol v1, where upstream delivers it again whenever any command's status changes.
 * - v1 only: when a terminal status arrives before its result (separate attributes, any order), the status is held
 *   back until the result arrives or has been read, so `result` always precedes the terminal status.
 * - v1 only, with `parity`: an unknown status gives its `{error}` update and then `{status: undefined}`, as upstream
 *   calls `cb(status=None)` after the error callback (without parity, the error update only).
 */

import type { AttributeEvent } from '../../src/protocols/tango/port.js';
import {
  decodeLrcEvent,
  isTerminalStatus,
  type LrcUpdate,
  lrcAttributeKey,
  pairIndex,
  type TaskStatus,
  taskStatusName,
  taskStatusRank,
  updateHasFields,
} from '../../src/protocols/tango/wire.js';

export interface LrcProgress {
  protocolVersion: number | null;
  commandId: string | null;
  parity: boolean;
  /** The last status delivered. */
  status: TaskStatus | null;
  /** A terminal status has been delivered: nothing more will be. */
  terminal: boolean;
  resultSeen: boolean;
  /** v1: a terminal status waiting for its result. */
  pendingTerminal: LrcUpdate | null;
}

export interface LrcStep {
  /** The new bookkeeping (the same object when nothing changed). */
  progress: LrcProgress;
  updates: LrcUpdate[];
  warnings: string[];
}

/** No warnings, no updates: shared empty arrays (callers read a step's arrays, never add to them). */
const NOTHING: string[] = [];
const NO_UPDATES: LrcUpdate[] = [];

export function reduceLrcEvent(state: LrcProgress, event: AttributeEvent): LrcStep {
  if (state.terminal || state.commandId === null)
    return { progress: state, updates: NO_UPDATES, warnings: NOTHING };
  if (event.errors) return { progress: state, updates: [{ error: event.errors }], warnings: NOTHING };
  if (repeatsStatusName(state, event)) return { progress: state, updates: NO_UPDATES, warnings: NOTHING };
  const decoded = decodeLrcEvent(event.attribute, event.value, state.commandId);
  if (!decoded) return { progress: state, updates: NO_UPDATES, warnings: NOTHING };
  const step = reduceDecoded(state, decoded.update, decoded.warnings);
  // upstream v1: convert() failed, so after cb(error=...) comes cb(status=None)
  if (decoded.unknownStatus && state.parity && state.protocolVersion === 1)
    step.updates = [...step.updates, { status: undefined }];
  return step;
}

/**
 * A v1 status event naming the current status by its name, when repeats are not delivered (not `parity` on v1):
 * what decoding it would come to (the status dropped, nothing else in it), known without decoding it (a v1 status
 * list repeats every command's status on every change, so this is most of them).
 */
function repeatsStatusName(state: LrcProgress, event: AttributeEvent): boolean {
  if (state.status === null || (state.parity && state.protocolVersion === 1)) return false;
  if (lrcAttributeKey(event.attribute) !== 'longrunningcommandstatus') return false;
  const i = pairIndex(event.value, state.commandId!);
  return i >= 0 && (event.value as unknown[])[i + 1] === taskStatusName(state.status);
}

function reduceDecoded(state: LrcProgress, update: LrcUpdate, warnings: string[]): LrcStep {
  if (state.pendingTerminal) {
    // the held terminal status goes out right after the result; progress still passes, statuses do not
    delete update.status;
    if (!('result' in update))
      return { progress: state, updates: updateHasFields(update) ? [update] : NO_UPDATES, warnings };
    const terminal = state.pendingTerminal;
    return {
      progress: progressWith(state, terminal.status!, true, true, null),
      updates: [update, terminal],
      warnings,
    };
  }

  let next = state;
  if (update.status !== undefined) {
    const s = update.status;
    const current = state.status;
    const repeat = current === s;
    const stale = current !== null && !repeat && taskStatusRank(s) < taskStatusRank(current);
    if (stale || taskStatusRank(s) < 0 || (repeat && !(state.parity && state.protocolVersion === 1))) {
      delete update.status;
    } else if (!repeat) {
      next = progressWith(next, s, isTerminalStatus(s), next.resultSeen, next.pendingTerminal);
    }
  }
  if ('result' in update && !next.resultSeen)
    next = progressWith(next, next.status, next.terminal, true, next.pendingTerminal);
  // (a terminal `next` is a new status: the reducer is not called once terminal)
  if (next.terminal && state.protocolVersion === 1 && !next.resultSeen) {
    // hold the terminal status back until its result is known
    const held: LrcUpdate = { status: update.status };
    delete update.status;
    next = progressWith(next, state.status, false, next.resultSeen, held);
  }
  const updates = updateHasFields(update) ? [update] : NO_UPDATES;
  return { progress: next, updates, warnings };
}

/**
 * New bookkeeping: the LrcProgress fields of `state` with these four changed (the machine passes its whole
 * context as `state`; only the bookkeeping is copied, not the call's other fields).
 */
function progressWith(
  state: LrcProgress,
  status: TaskStatus | null,
  terminal: boolean,
  resultSeen: boolean,
  pendingTerminal: LrcUpdate | null,
): LrcProgress {
  return {
    protocolVersion: state.protocolVersion,
    commandId: state.commandId,
    parity: state.parity,
    status,
    terminal,
    resultSeen,
    pendingTerminal,
  };
}

/** Apply buffered events in arrival order. */
export function replayLrcEvents(state: LrcProgress, events: readonly AttributeEvent[]): LrcStep {
  let progress = state;
  const updates: LrcUpdate[] = [];
  const warnings: string[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    // (what reduceLrcEvent comes to for a repeated status, without its answer object)
    if (!progress.terminal && progress.commandId !== null && !e.errors && repeatsStatusName(progress, e))
      continue;
    const step = reduceLrcEvent(progress, e);
    progress = step.progress;
    for (let j = 0; j < step.updates.length; j++) updates.push(step.updates[j]);
    for (let j = 0; j < step.warnings.length; j++) warnings.push(step.warnings[j]);
  }
  return { progress, updates, warnings };
}
