/**
 * The SKA Long Running Command wire format (ska-tango-base 1.2-1.3), shared by the client machine (decoding) and
 * the device simulator (encoding). Pure functions, no I/O.
 *
 * - v1: three spectrum-of-string attributes, `longRunningCommandStatus` = flat `(id, "STATUS_NAME", ...)` for every
 *   tracked command, `longRunningCommandProgress` = flat `(id, "33", ...)`, `longRunningCommandResult` =
 *   `(id, json)` of the most recent result only.
 * - v2: `_lrcEvent` = `(id, json)` where json is everything one `update_command_info()` call changed, e.g.
 *   `{"status": 5, "result": [0, "On command completed OK"]}`. Reading it returns `[]`.
 */
import type { DevError } from './errors.js';

/** ska-control-model `ResultCode` (numeric values of the IntEnum). */
export const ResultCode = {
  OK: 0,
  STARTED: 1,
  QUEUED: 2,
  FAILED: 3,
  UNKNOWN: 4,
  REJECTED: 5,
  NOT_ALLOWED: 6,
  ABORTED: 7,
} as const;
export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

/** ska-control-model `TaskStatus` (numeric values of the IntEnum). */
export const TaskStatus = {
  STAGING: 0,
  QUEUED: 1,
  IN_PROGRESS: 2,
  ABORTED: 3,
  NOT_FOUND: 4,
  COMPLETED: 5,
  REJECTED: 6,
  FAILED: 7,
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

const STATUS_NAMES = Object.keys(TaskStatus) as (keyof typeof TaskStatus)[];
const RESULT_NAMES = Object.keys(ResultCode) as (keyof typeof ResultCode)[];

export function taskStatusName(status: TaskStatus): keyof typeof TaskStatus {
  return STATUS_NAMES[status];
}
export function resultCodeName(code: number): string {
  return RESULT_NAMES[code] ?? String(code);
}

/** Statuses after which the server sends nothing more about a command. */
export function isTerminalStatus(status: number): boolean {
  return (
    status === TaskStatus.COMPLETED ||
    status === TaskStatus.ABORTED ||
    status === TaskStatus.FAILED ||
    status === TaskStatus.REJECTED
  );
}

/**
 * Where a status stands in the SKA TaskStatus diagram: STAGING 0, QUEUED 1, IN_PROGRESS 2, every terminal status
 * 3 (reachable from any state); NOT_FOUND -1 (a status a command is never given). A client moves a command's status
 * only forward along it.
 */
export function taskStatusRank(status: TaskStatus): number {
  switch (status) {
    case TaskStatus.STAGING:
      return 0;
    case TaskStatus.QUEUED:
      return 1;
    case TaskStatus.IN_PROGRESS:
      return 2;
    case TaskStatus.NOT_FOUND:
      return -1;
    default:
      return 3;
  }
}

/** The client's own supported protocol range (`_SUPPORTED_LRC_PROTOCOL_VERSIONS`). */
export const CLIENT_PROTOCOL_VERSIONS: readonly [number, number] = [1, 2];

export const LRC_ATTRIBUTES = {
  status: 'longRunningCommandStatus',
  progress: 'longRunningCommandProgress',
  result: 'longRunningCommandResult',
  event: '_lrcEvent',
  versions: 'lrcProtocolVersions',
} as const;

export function lrcAttributesFor(version: number): readonly string[] {
  return version >= 2
    ? [LRC_ATTRIBUTES.event]
    : [LRC_ATTRIBUTES.status, LRC_ATTRIBUTES.progress, LRC_ATTRIBUTES.result];
}

/** One callback of `invokeLrc`: every field optional, several may be present; unknown keys pass through (v2). */
export interface LrcUpdate {
  status?: TaskStatus;
  progress?: number | string;
  result?: unknown;
  error?: readonly DevError[];
  [key: string]: unknown;
}

/** Whether an update has any field left (`Object.keys(update).length > 0`, without the array): one to deliver. */
export function updateHasFields(update: LrcUpdate): boolean {
  for (const key in update) if (Object.hasOwn(update, key)) return true;
  return false;
}

/** What one change event of an LRC attribute says about one command. */
export interface DecodedLrcEvent {
  update: LrcUpdate;
  /** Problems worth a warning (non-integer progress, undecodable json or status). */
  warnings: string[];
  /** v1: the status was not a TaskStatus (upstream then calls back `status=None` after the error). */
  unknownStatus?: true;
}

/**
 * A short text for a value a device sent, for messages: JSON when it has one (at most 200 characters), its type
 * otherwise. Never throws (BigInt, symbols, cycles, throwing getters).
 */
export function describeValue(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) return typeof value === 'bigint' ? `${value}n` : `(${typeof value})`;
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function lrcError(desc: string): DevError {
  return { reason: 'SKA_InvokeLrcFailed', desc, origin: 'invokeLrc', severity: 'ERR' };
}

/** `TaskStatus[name]` for strings, `TaskStatus(n)` for integers; undefined when it is neither. */
export function toTaskStatus(raw: unknown): TaskStatus | undefined {
  if (typeof raw === 'string') {
    // own names only: a device answering 'toString' or '__proto__' is not a status
    return Object.hasOwn(TaskStatus, raw)
      ? ((TaskStatus as Record<string, number>)[raw] as TaskStatus)
      : undefined;
  }
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 && raw < STATUS_NAMES.length) {
    return raw as TaskStatus;
  }
  return undefined;
}

/**
 * Index of `commandId` among the ids (even positions) of a flat `(id, value, id, value, ...)` spectrum; -1 when
 * it is not there or `value` is not an array.
 */
export function pairIndex(value: unknown, commandId: string): number {
  if (!Array.isArray(value)) return -1;
  for (let i = 0; i < value.length; i += 2) if (value[i] === commandId) return i;
  return -1;
}

/** The value paired with `commandId` in a flat `(id, value, ...)` spectrum; undefined when there is none. */
export function pairedValue(value: unknown, commandId: string): unknown {
  const i = pairIndex(value, commandId);
  return i < 0 ? undefined : (value as unknown[])[i + 1];
}

/** A device's reply to a long running command, `[[resultCode], [commandIdOrReason]]`, parsed once. */
export interface LrcReply {
  /** The result code (an integer; any value, known to `ResultCode` or not). */
  code: number;
  /** The second field when it is a string (the command id when accepted, a reason otherwise). */
  text: string | undefined;
  /** The command id: set only for QUEUED or STARTED with a non-empty string id (a command that can be followed). */
  commandId: string | undefined;
}

/**
 * Parse the reply of a long running command: null when it does not have the `[[code], [text]]` shape with an
 * integer code (the caller reports it as a ResultCodeError).
 */
export function parseLrcReply(reply: unknown): LrcReply | null {
  if (!Array.isArray(reply) || !Array.isArray(reply[0]) || !Array.isArray(reply[1])) return null;
  const code = reply[0][0];
  if (!Number.isInteger(code)) return null;
  const text = typeof reply[1][0] === 'string' ? (reply[1][0] as string) : undefined;
  const accepted = code === ResultCode.QUEUED || code === ResultCode.STARTED;
  return { code, text, commandId: accepted && text ? text : undefined };
}

/**
 * The lower-cased name of an attribute (Tango compares names case-insensitively): the usual spellings of the LRC
 * attributes are answered without making a lower-cased copy.
 */
export function lrcAttributeKey(attribute: string): string {
  switch (attribute) {
    case LRC_ATTRIBUTES.status:
      return 'longrunningcommandstatus';
    case LRC_ATTRIBUTES.progress:
      return 'longrunningcommandprogress';
    case LRC_ATTRIBUTES.result:
      return 'longrunningcommandresult';
    case LRC_ATTRIBUTES.event:
      return '_lrcevent';
    default:
      return attribute.toLowerCase();
  }
}

/**
 * The text Python's `int()` reads as a v1 progress (upstream converts it so): decimal digits, a sign, `_` between
 * digits, blanks around; not `Number()`'s hex, binary, octal, exponent, point or Infinity.
 */
const PYTHON_INT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

/**
 * Decode a change event of one LRC attribute for `commandId`; null when the event is about other commands.
 * Attribute names are compared case-insensitively (Tango lower-cases them in event topics).
 */
export function decodeLrcEvent(attribute: string, value: unknown, commandId: string): DecodedLrcEvent | null {
  const i = pairIndex(value, commandId);
  if (i < 0) return null;
  const values = value as unknown[];
  if (i + 1 >= values.length) {
    const desc = `'${attribute}' event for ${commandId} has no value after the command id.`;
    return { update: { error: [lrcError(desc)] }, warnings: [desc] };
  }
  const raw = values[i + 1];
  switch (lrcAttributeKey(attribute)) {
    case 'longrunningcommandstatus': {
      const status = toTaskStatus(raw);
      if (status === undefined) {
        const desc = `Unknown task status ${describeValue(raw)} for ${commandId}.`;
        return { update: { error: [lrcError(desc)] }, warnings: [desc], unknownStatus: true };
      }
      return { update: { status }, warnings: NO_WARNINGS };
    }
    case 'longrunningcommandprogress': {
      if (typeof raw === 'string' && PYTHON_INT.test(raw))
        return { update: { progress: Number(raw.replace(/_/g, '')) }, warnings: NO_WARNINGS };
      return {
        update: { progress: raw as string },
        warnings: [`progress of ${commandId} is not an int: ${describeValue(raw)}`],
      };
    }
    case 'longrunningcommandresult': {
      const parsed = parseLrcJson(raw, commandId);
      return parsed instanceof Undecodable
        ? parsed.decoded
        : { update: { result: parsed }, warnings: NO_WARNINGS };
    }
    case '_lrcevent': {
      // most events are a status alone, in one of two spellings: no parse, no object to read back
      const status = typeof raw === 'string' ? STATUS_ONLY_JSON.get(raw) : undefined;
      if (status !== undefined) return { update: { status }, warnings: NO_WARNINGS };
      const parsed = parseLrcJson(raw, commandId);
      return parsed instanceof Undecodable ? parsed.decoded : decodeV2Event(parsed, commandId);
    }
    default:
      return null;
  }
}

/**
 * The `_lrcEvent` json of a status alone, as ska-tango-base's `json.dumps` writes it (`{"status": 2}`) and as
 * `JSON.stringify` does (`{"status":2}`), for each task status: what `decodeV2Event` makes of it, without parsing.
 */
const STATUS_ONLY_JSON = new Map<string, TaskStatus>(
  STATUS_NAMES.flatMap((name) => {
    const status = TaskStatus[name];
    return [
      [`{"status": ${status}}`, status],
      [`{"status":${status}}`, status],
    ] as const;
  }),
);

/**
 * The warnings of an event that has none: one shared empty array (callers read warnings, never add to them; a
 * decoding that has some makes its own array).
 */
const NO_WARNINGS: string[] = [];

/** An LRC event's json that does not parse: its decoding (an {error} update and its warning). */
class Undecodable {
  constructor(readonly decoded: DecodedLrcEvent) {}
}

function parseLrcJson(raw: unknown, commandId: string): unknown {
  try {
    return JSON.parse(String(raw));
  } catch {
    // not JSON: maybe Python's, which json.dumps writes for a float that is not finite and json.loads reads back
    const text = typeof raw === 'string' ? raw : undefined;
    if (text !== undefined && PYTHON_CONSTANT.test(text)) {
      try {
        return parsePythonJson(text);
      } catch {
        // undecodable after all
      }
    }
    return undecodable(raw, commandId);
  }
}

function undecodable(raw: unknown, commandId: string): Undecodable {
  const text = typeof raw === 'string' ? JSON.stringify(raw.slice(0, 200)) : describeValue(raw);
  const desc = `Undecodable LRC event json for ${commandId}: ${text}`;
  return new Undecodable({ update: { error: [lrcError(desc)] }, warnings: [desc] });
}

/** A word of Python's JSON that JSON has not (`json.dumps` writes them for floats that are not finite). */
const PYTHON_CONSTANT = /NaN|Infinity/;
const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * JSON as Python's `json.loads` reads it: with the constants `NaN`, `Infinity` and `-Infinity` as values (never
 * inside strings, never another spelling). Strings and numbers are read by `JSON.parse`, keys as `JSON.parse` keeps
 * them (an own `__proto__` key too). Throws on anything else, or on nesting too deep for the stack.
 */
export function parsePythonJson(text: string): unknown {
  let i = 0;
  const n = text.length;
  const fail = (): never => {
    throw new SyntaxError(`Unexpected token at position ${i} of Python JSON`);
  };
  const skipBlanks = () => {
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
    }
  };
  const word = (w: string): boolean => {
    if (!text.startsWith(w, i)) return false;
    i += w.length;
    return true;
  };
  const string = (): string => {
    const start = i;
    for (i++; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) i++;
      else if (c === 0x22) return JSON.parse(text.slice(start, ++i)) as string;
    }
    return fail();
  };
  const value = (): unknown => {
    skipBlanks();
    const c = text[i];
    if (c === '"') return string();
    if (c === '[') {
      i++;
      const list: unknown[] = [];
      skipBlanks();
      if (text[i] === ']') {
        i++;
        return list;
      }
      for (;;) {
        list.push(value());
        skipBlanks();
        if (text[i] === ']') {
          i++;
          return list;
        }
        if (text[i++] !== ',') fail();
      }
    }
    if (c === '{') {
      i++;
      const object: Record<string, unknown> = {};
      skipBlanks();
      if (text[i] === '}') {
        i++;
        return object;
      }
      for (;;) {
        skipBlanks();
        if (text[i] !== '"') fail();
        const key = string();
        skipBlanks();
        if (text[i++] !== ':') fail();
        // as JSON.parse keeps it: an own key, even `__proto__`
        Object.defineProperty(object, key, {
          value: value(),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        skipBlanks();
        if (text[i] === '}') {
          i++;
          return object;
        }
        if (text[i++] !== ',') fail();
      }
    }
    if (word('NaN')) return Number.NaN;
    if (word('Infinity')) return Number.POSITIVE_INFINITY;
    if (word('-Infinity')) return Number.NEGATIVE_INFINITY;
    if (word('true')) return true;
    if (word('false')) return false;
    if (word('null')) return null;
    JSON_NUMBER.lastIndex = i;
    const m = JSON_NUMBER.exec(text);
    if (m === null) return fail();
    i += m[0].length;
    return Number(m[0]);
  };
  const out = value();
  skipBlanks();
  if (i !== n) fail();
  return out;
}

function decodeV2Event(event: any, commandId: string): DecodedLrcEvent {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    const desc = `LRC event for ${commandId} is not a json object.`;
    return { update: { error: [lrcError(desc)] }, warnings: [desc] };
  }
  let warnings = NO_WARNINGS;
  // key order of a delivered update: progress, result, extra keys, error, status (the server's own order)
  const { status, progress, result } = event;
  const update: LrcUpdate = {};
  if (progress !== undefined) {
    if (!Number.isInteger(progress)) {
      warnings = [
        `'${commandId.split('_').slice(2).join('_')}' command's progress is not an int, but ${typeof progress}. ` +
          'Its type may be checked and enforced in the future.',
      ];
    }
    update.progress = progress;
  }
  if (result !== undefined) update.result = result;
  // the other keys, in the event's order, assigned as `Object.assign(update, rest)` would (without the `rest`)
  for (const key in event) {
    if (key === 'status' || key === 'progress' || key === 'result' || !hasOwn.call(event, key)) continue;
    if (key === '__proto__') {
      // JSON.parse makes it an own key: assigned, it would become the update's prototype (a device sending
      // `{"__proto__": {"status": 5}}` would end the call with a status it never sent); upstream's `cb(**event)`
      // passes it as any other key
      Object.defineProperty(update, key, {
        value: event[key],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else (update as Record<string, unknown>)[key] = event[key];
  }
  if (status !== undefined) {
    const s = toTaskStatus(status);
    if (s === undefined) {
      const desc = `Unknown task status ${describeValue(status)} for ${commandId}.`;
      warnings = warnings === NO_WARNINGS ? [desc] : [...warnings, desc];
      update.error = [lrcError(desc)];
    } else update.status = s;
  }
  return { update, warnings };
}

const hasOwn = Object.prototype.hasOwnProperty;

/** The result code of a result in the usual `[ResultCode, message]` shape, or undefined. */
export function resultCodeOf(result: unknown): number | undefined {
  if (Array.isArray(result) && Number.isInteger(result[0])) return result[0] as number;
  return undefined;
}
