/**
 * The server side of SKA LRC bookkeeping (ska-tango-base `CommandTracker` plus the LRC attributes of
 * `SKABaseDevice`): command ids, per-command status/progress/result, the removal of finished commands from the v1
 * attributes after `removalTimeMs` (Infinity: never), the `lrcQueue`/`lrcExecuting`/`lrcFinished` lists (last 100
 * finished, also consulted by `CheckLongRunningCommandStatus` as in ska-tango-base 1.2+), and the change events each
 * `update()` pushes (v1: result, progress, then status; v2: one `_lrcEvent` per call).
 */
import { isNever } from '../../../../machines/core/duration.js';
import type { Clock } from '../../../engine/clock.js';
import { type DeadlineHandle, Deadlines } from '../../../engine/deadlines.js';
import { textOf } from '../../../errors.js';
import { LRC_ATTRIBUTES, lrcAttributeKey, TaskStatus, taskStatusName } from '../wire.js';
import { pythonJsonDumps } from './pythonJson.js';

export interface TrackedCommand {
  uid: string;
  name: string;
  status: TaskStatus;
  progress?: number | string;
  result?: unknown;
  submittedAt: number;
  startedAt?: number;
  finishedAt?: number;
}

export interface CommandUpdate {
  status?: TaskStatus;
  progress?: number | string;
  result?: unknown;
}

/** A tracked command and where it is in the v1 status list (`slot`: its uid's index). */
interface Tracked extends TrackedCommand {
  slot: number;
  /** Creation number (a re-used uid keeps its first). */
  order: number;
  /** Index of its uid in the v1 progress list, -1 while it is not there. */
  progressSlot: number;
  /** `String(progress)`, made when a v1 progress list first needs it after a change (not for every event). */
  progressText?: string;
}

/** The most recent finished commands kept in `lrcFinished` (`LRC_FINISHED_MAX_LENGTH`). */
export const LRC_FINISHED_MAX_LENGTH = 100;

const DEPRECATED_QUEUE_ATTRIBUTES = [
  'longRunningCommandsInQueue',
  'longRunningCommandIDsInQueue',
  'longRunningCommandInProgress',
];

/** `JSON.stringify({status})` of each status: what most v2 events carry. */
const STATUS_JSON: readonly string[] = Array.from(
  { length: Math.max(...Object.values(TaskStatus)) + 1 },
  (_, status) => JSON.stringify({ status }),
);

/**
 * `JSON.stringify(change)` (numbers that are not finite as `json.dumps` writes them: `pythonJsonDumps`), without
 * stringifying a change that is a status alone.
 */
function changeJson(change: CommandUpdate): string {
  let keys = 0;
  for (const key in change) {
    if (key !== 'status') return pythonJsonDumps(change)!;
    keys++;
  }
  const status = change.status;
  return keys === 1 && typeof status === 'number' && STATUS_JSON[status] !== undefined
    ? STATUS_JSON[status]
    : pythonJsonDumps(change)!;
}

/**
 * `JSON.stringify(value)` (numbers that are not finite as `json.dumps` writes them), or undefined when JSON cannot
 * hold it (it throws, or has no JSON text).
 */
function jsonOf(value: unknown): string | undefined {
  try {
    return pythonJsonDumps(value);
  } catch {
    return undefined;
  }
}

const FINISHED = new Set<number>([
  TaskStatus.COMPLETED,
  TaskStatus.ABORTED,
  TaskStatus.FAILED,
  TaskStatus.REJECTED,
]);

export class SkaCommandTracker {
  readonly #clock: Clock;
  readonly #epochMs: number;
  readonly #removalTimeMs: number;
  readonly #push: (attribute: string, value?: unknown) => void;
  readonly #wants: (attribute: string) => boolean;
  readonly #wantsV1: () => boolean;
  readonly #nextUuid: () => number;
  /** Where the removals are armed (the device's deadline structure, shared with its sleeping tasks). */
  readonly #deadlines: Deadlines;
  /**
   * The removals armed, in arm order from `#removalsHead` (one delay: they fire in this order, so the one firing is
   * always the oldest).
   */
  #removals: (DeadlineHandle | null)[] = [];
  #removalsHead = 0;
  /** Tracked commands in creation order (finished ones until removed). */
  readonly #commands = new Map<string, Tracked>();
  /**
   * The v1 status list (uid, status name, ...) of the tracked commands, kept up to date as statuses change (an event
   * is a copy of it); null until next needed after a command was removed.
   */
  #statusFlat: string[] | null = null;
  /**
   * The v1 progress list (uid, progress as text, ...) of the tracked commands with a progress, kept up to date while
   * progress changes in place or is new for the latest such command; null until next needed otherwise.
   */
  #progressFlat: string[] | null = null;
  /** Creation number of the last command in `#progressFlat`. */
  #progressLast = -1;
  #created = 0;
  /** The epoch milliseconds `#text` (their seconds as text) was made for. */
  #textMs = Number.NaN;
  #text = '';
  readonly #finished: TrackedCommand[] = [];
  #lastResult: [string, string] = ['', ''];

  constructor(options: {
    clock: Clock;
    epochMs: number;
    removalTimeMs: number;
    /** The deadline structure to arm removals in (default: one of its own on `clock`). */
    deadlines?: Deadlines;
    push: (attribute: string, value?: unknown) => void;
    /** Whether a change event of `attribute` would reach anyone (default: yes); its value is made only then. */
    wants?: (attribute: string) => boolean;
    /** Whether any attribute but `_lrcEvent` has a subscriber (default: yes); no v1 event is pushed otherwise. */
    wantsV1?: () => boolean;
    nextUuid: () => number;
  }) {
    this.#clock = options.clock;
    this.#deadlines = options.deadlines ?? new Deadlines(options.clock);
    this.#epochMs = options.epochMs;
    this.#removalTimeMs = options.removalTimeMs;
    this.#push = options.push;
    this.#wants = options.wants ?? (() => true);
    this.#wantsV1 = options.wantsV1 ?? (() => true);
    this.#nextUuid = options.nextUuid;
  }

  /** Epoch milliseconds of the simulated clock. */
  now(): number {
    return this.#epochMs + this.#clock.now();
  }

  /** `generate_command_id`: `{time.time()}_{uuid4().fields[-1]}_{name}`; pushes STAGING before returning. */
  newCommand(name: string): string {
    // flat, as an id read off the wire is (a template literal makes a tree of string pieces, each kept alive by
    // every holder of the id; `charCodeAt` flattens it once, and GC then drops the pieces)
    const uid = `${this.#secondsText()}_${this.#nextUuid()}_${name}`;
    uid.charCodeAt(0);
    const again = this.#commands.get(uid);
    const order = again ? again.order : this.#created++;
    const cmd: Tracked = {
      uid,
      name,
      status: TaskStatus.STAGING,
      submittedAt: this.now(),
      slot: -1,
      order,
      progressSlot: -1,
    };
    if (again) this.#progressFlat = null;
    this.#commands.set(uid, cmd);
    const flat = this.#statusFlat;
    if (flat !== null) {
      if (again) {
        // a dict entry replaced where it was (ska-tango-base's `_commands[command_id] = ...`): listed once
        cmd.slot = again.slot;
        flat[cmd.slot + 1] = taskStatusName(cmd.status);
      } else {
        cmd.slot = flat.length;
        flat.push(uid, taskStatusName(cmd.status));
      }
    }
    this.update(uid, { status: TaskStatus.STAGING });
    return uid;
  }

  /**
   * `time.time()` as Python prints it (the shortest round-trip text, as JavaScript's, but a float's repr keeps its
   * decimal point on a whole second: `1636437568.0`), made once per millisecond.
   */
  #secondsText(): string {
    const ms = this.now();
    if (ms !== this.#textMs) {
      this.#textMs = ms;
      const seconds = ms / 1000;
      this.#text = Number.isInteger(seconds) ? `${seconds}.0` : String(seconds);
    }
    return this.#text;
  }

  get(uid: string): TrackedCommand | undefined {
    return this.#commands.get(uid);
  }

  /**
   * `update_command_info`: record what changed and push the change events. A result JSON cannot hold (a BigInt, a
   * cycle, a function) is recorded and sent as its text, as upstream sends `str(result)` after a FutureWarning.
   */
  update(uid: string, change: CommandUpdate): void {
    const cmd = this.#commands.get(uid);
    if (!cmd) return;
    if (change.status === TaskStatus.IN_PROGRESS && cmd.startedAt === undefined) cmd.startedAt = this.now();
    if (change.progress !== undefined) {
      cmd.progress = change.progress;
      cmd.progressText = undefined;
      this.#progressChanged(cmd);
    }
    if (change.result !== undefined) {
      let json = jsonOf(change.result);
      if (json === undefined) {
        change = { ...change, result: textOf(change.result) };
        json = JSON.stringify(change.result);
      }
      cmd.result = change.result;
      this.#lastResult = [uid, json];
    }
    if (change.status !== undefined) {
      cmd.status = change.status;
      if (this.#statusFlat !== null) this.#statusFlat[cmd.slot + 1] = taskStatusName(change.status);
    }
    const finished = change.status !== undefined && FINISHED.has(change.status);
    if (finished) {
      cmd.finishedAt = this.now();
      this.#finished.push(cmd);
      if (this.#finished.length > LRC_FINISHED_MAX_LENGTH) this.#finished.shift();
      if (!isNever(this.#removalTimeMs))
        this.#removals.push(this.#deadlines.arm(this.#removalTimeMs, this.#removeFinished, uid));
    }
    // v2: one event with everything this call changed
    if (this.#wants(LRC_ATTRIBUTES.event)) this.#push(LRC_ATTRIBUTES.event, [uid, changeJson(change)]);
    // v1 (none of its attributes subscribed: no event to make)
    if (!this.#wantsV1()) return;
    // v1: status related events after result and progress, to preserve their order
    if (change.result !== undefined) this.#push(LRC_ATTRIBUTES.result);
    if (change.progress !== undefined) this.#push(LRC_ATTRIBUTES.progress);
    if (change.status !== undefined) {
      this.#push(LRC_ATTRIBUTES.status);
      for (let i = 0; i < DEPRECATED_QUEUE_ATTRIBUTES.length; i++) this.#push(DEPRECATED_QUEUE_ATTRIBUTES[i]);
      this.#push('lrcQueue');
      this.#push('lrcExecuting');
      if (finished) this.#push('lrcFinished');
    } else if (change.progress !== undefined) this.#push('lrcExecuting');
  }

  /**
   * `CheckLongRunningCommandStatus`: the status name of a tracked command, else of one of the last 100 finished
   * ones (kept after their removal from the v1 attributes, as ska-tango-base 1.2+ does), else NOT_FOUND.
   */
  statusOf(uid: string): string {
    const cmd = this.#commands.get(uid) ?? this.#finishedById(uid);
    return taskStatusName(cmd ? cmd.status : TaskStatus.NOT_FOUND);
  }

  #finishedById(uid: string): TrackedCommand | undefined {
    for (let i = this.#finished.length - 1; i >= 0; i--)
      if (this.#finished[i].uid === uid) return this.#finished[i];
    return undefined;
  }

  /** Values of the LRC attributes, by lower-cased name; undefined for other names. */
  read(attribute: string): unknown {
    // (the usual spellings of the LRC attributes without a lower-cased copy)
    switch (lrcAttributeKey(attribute)) {
      case 'longrunningcommandstatus':
        return this.#statusList();
      case 'longrunningcommandprogress':
        return this.#progressList();
      case 'longrunningcommandresult':
        return [...this.#lastResult];
      case '_lrcevent':
        return [];
      case 'longrunningcommandsinqueue':
        return this.#where(TaskStatus.QUEUED).map((c) => c.name);
      case 'longrunningcommandidsinqueue':
        return this.#where(TaskStatus.QUEUED).map((c) => c.uid);
      case 'longrunningcommandinprogress':
        return this.#where(TaskStatus.IN_PROGRESS).map((c) => c.name);
      case 'lrcqueue':
        return this.#where(TaskStatus.QUEUED).map((c) => this.#json(c, false));
      case 'lrcexecuting':
        return this.#where(TaskStatus.IN_PROGRESS).map((c) => this.#json(c, false));
      case 'lrcfinished':
        return this.#finished.map((c) => this.#json(c, true));
      default:
        return undefined;
    }
  }

  /** Every timer still armed (removal of finished commands). */
  get pendingTimers(): number {
    return this.#removals.length - this.#removalsHead;
  }

  close(): void {
    const removals = this.#removals;
    for (let i = this.#removalsHead; i < removals.length; i++) this.#deadlines.cancel(removals[i]);
    this.#removals = [];
    this.#removalsHead = 0;
  }

  /** A finished command leaves the v1 attributes (`removalTimeMs` after it finished). */
  readonly #removeFinished = (uid: string): void => {
    // the oldest armed removal is the one firing
    const removals = this.#removals;
    removals[this.#removalsHead++] = null;
    if (this.#removalsHead === removals.length) {
      removals.length = 0;
      this.#removalsHead = 0;
    } else if (this.#removalsHead >= 1024 && this.#removalsHead * 2 >= removals.length) {
      removals.splice(0, this.#removalsHead);
      this.#removalsHead = 0;
    }
    this.#commands.delete(uid);
    this.#statusFlat = null;
    this.#progressFlat = null;
    this.#push(LRC_ATTRIBUTES.status);
    this.#push(LRC_ATTRIBUTES.progress);
  };

  /** (uid, status name) of every tracked command, flat. */
  #statusList(): string[] {
    let flat = this.#statusFlat;
    if (flat === null) {
      flat = new Array<string>(2 * this.#commands.size);
      let k = 0;
      for (const c of this.#commands.values()) {
        c.slot = k;
        flat[k++] = c.uid;
        flat[k++] = taskStatusName(c.status);
      }
      this.#statusFlat = flat;
    }
    return flat.slice();
  }

  /** (uid, progress as text) of every tracked command with a progress, flat. */
  #progressList(): string[] {
    let flat = this.#progressFlat;
    if (flat === null) {
      flat = [];
      let last = -1;
      for (const c of this.#commands.values()) {
        c.progressSlot = -1;
        if (c.progress === undefined) continue;
        c.progressText ??= String(c.progress);
        c.progressSlot = flat.length;
        flat.push(c.uid, c.progressText);
        last = c.order;
      }
      this.#progressFlat = flat;
      this.#progressLast = last;
    }
    return flat.slice();
  }

  /** Keep the v1 progress list up to date (in place, or appended for a command after every listed one). */
  #progressChanged(cmd: Tracked): void {
    const flat = this.#progressFlat;
    if (flat === null) return;
    if (cmd.progressSlot >= 0) {
      cmd.progressText = String(cmd.progress);
      flat[cmd.progressSlot + 1] = cmd.progressText;
    } else if (cmd.order > this.#progressLast) {
      cmd.progressText = String(cmd.progress);
      cmd.progressSlot = flat.length;
      flat.push(cmd.uid, cmd.progressText);
      this.#progressLast = cmd.order;
    } else this.#progressFlat = null;
  }

  #where(status: TaskStatus): TrackedCommand[] {
    return [...this.#commands.values()].filter((c) => c.status === status);
  }

  /** The documented keys (upstream drops `submitted_time` through a typo; the simulator keeps it). */
  #json(c: TrackedCommand, finished: boolean): string {
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    const out: Record<string, unknown> = { uid: c.uid, name: c.name, submitted_time: iso(c.submittedAt) };
    if (c.startedAt !== undefined) out.started_time = iso(c.startedAt);
    if (!finished && c.progress !== undefined) out.progress = c.progress;
    if (finished) {
      out.finished_time = iso(c.finishedAt);
      out.status = taskStatusName(c.status);
      if (c.result !== undefined) out.result = c.result;
    }
    return pythonJsonDumps(out)!;
  }
}
