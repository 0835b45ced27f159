/**
 * An in-process SKA device that serves Long Running Commands like ska-tango-base 1.2-1.3 does, behind the
 * `DevicePort` interface. Declare the device and its commands in code:
 *
 *   const device = new SkaDeviceSimulator({ name: 'test/lrc/1', commands: {
 *     On: async (task) => { task.inProgress(); await task.sleep(100); task.progress(33); ...
 *                           return [ResultCode.OK, 'On command completed OK']; } } });
 *
 * Server behaviour reproduced: the command tracker pushes STAGING before the command returns; an input queue of
 * `maxQueuedTasks` (full: REJECTED "Input queue supports a maximum of N commands"); one executor;
 * `is_<cmd>_allowed` (DevFailed API_CommandNotAllowed at invocation) and `is_cmd_allowed` (REJECTED at execution);
 * a handler exception gives FAILED `[3, "Unhandled exception during execution: ..."]` without IN_PROGRESS; a
 * handler that returns nothing completes with no result; `Abort`/`AbortCommands` return STARTED and abort the queue
 * and the running task (`[7, "Command has been aborted"]`); v1 and v2 attributes; `lrcProtocolVersions`;
 * `CheckLongRunningCommandStatus` (the tracked commands, then the last 100 finished ones, as ska-tango-base 1.2+:
 * NOT_FOUND only for ids it never knew or forgot). A task reports IN_PROGRESS when it calls `inProgress()`,
 * `progress()` or `update({status, progress})` (upstream's `task_callback(status=..., progress=...)`: one update,
 * one `_lrcEvent`), or when it returns. Change events are delivered synchronously, in push order, to every
 * subscriber; simulated time comes from the system's clock. `close()` clears every timer and subscription.
 */

import { checkDuration } from '../../../../machines/core/duration.js';
import type { Clock } from '../../../engine/clock.js';
import { type DeadlineHandle, Deadlines } from '../../../engine/deadlines.js';
import { getDefaultSystem, type OrrerySystem } from '../../../engine/system.js';
import { CancelledError, InvalidArgumentError } from '../../../errors.js';
import { DevFailed } from '../errors.js';
import type { AttributeEvent, DevicePort, Unsubscribe } from '../port.js';
import { LRC_ATTRIBUTES, lrcAttributeKey, ResultCode, TaskStatus } from '../wire.js';
import {
  LazyAbort,
  type QueuedTask,
  RunningTask,
  type SimulatedTask,
  type TaskHost,
} from './simulatedTask.js';
import { SkaCommandTracker } from './skaCommandTracker.js';

export type { SimulatedTask } from './simulatedTask.js';

/**
 * Returns the result (usually `[ResultCode, message]`; nothing: COMPLETED without a result); throwing makes the
 * task FAILED.
 */
export type CommandHandler = (task: SimulatedTask) => unknown | Promise<unknown>;

export interface CommandSpec {
  execute: CommandHandler;
  /** Tango `is_<Cmd>_allowed`: false makes the invocation throw DevFailed (API_CommandNotAllowed). */
  isAllowed?: (device: SkaDeviceSimulator) => boolean;
  /** Checked on submission: a reason string rejects the command (ResultCode.REJECTED, reason). */
  validate?: (device: SkaDeviceSimulator, args: unknown) => string | null | undefined;
  /** ska `is_cmd_allowed`, checked when the executor starts the task: false or a throw makes it REJECTED. */
  isCmdAllowed?: (device: SkaDeviceSimulator) => boolean;
}

export interface SkaDeviceSimulatorOptions {
  name: string;
  commands: Record<string, CommandHandler | CommandSpec>;
  /** Tango-level is_allowed for every declared command. */
  isAllowed?: (command: string, device: SkaDeviceSimulator) => boolean;
  /** Input queue size (ska-tango-base default 32). */
  maxQueuedTasks?: number;
  /** `lrcProtocolVersions`; null for a pre-1.2 device that has neither that attribute nor `_lrcEvent`. */
  protocolVersions?: readonly [number, number] | null;
  /** Finished commands leave the v1 attributes after this many ms (default 10 s). */
  removalTimeMs?: number;
  /** Initial Tango state, e.g. 'OFF'. */
  state?: string;
  /** Clock of this system (or `clock`); the default system's otherwise. */
  system?: OrrerySystem;
  clock?: Clock;
  /** Epoch milliseconds at clock time 0, for command ids (default: now). */
  epochMs?: number;
  /** The `uuid4().fields[-1]` part of command ids (default: random 48-bit integers). */
  uuid?: () => number;
}

interface ExecutableTask extends QueuedTask {
  spec: CommandSpec;
  settled?: Promise<void>;
}

type Subscriber = (event: AttributeEvent) => void;

/** `lrcProtocolVersions`, lower-cased (attribute names are compared in lower case). */
const VERSIONS_NAME = LRC_ATTRIBUTES.versions.toLowerCase();

const BUILT_IN = new Set(['Abort', 'AbortCommands', 'CheckLongRunningCommandStatus', 'State', 'Status']);

/** One event to each subscriber, in order; a subscriber's failure is its own (Tango logs it in the event thread). */
function deliverTo(subscribers: readonly Subscriber[], event: AttributeEvent): void {
  for (let j = 0; j < subscribers.length; j++) {
    try {
      subscribers[j](event);
    } catch {
      // the subscriber's own failure
    }
  }
}

function devFailed(reason: string, desc: string, origin: string): DevFailed {
  return new DevFailed([{ reason, desc, origin, severity: 'ERR' }]);
}

export class SkaDeviceSimulator implements DevicePort {
  readonly name: string;
  /** Tango state; handlers may change it. */
  state: string;
  readonly maxQueuedTasks: number;
  readonly protocolVersions: readonly [number, number] | null;
  readonly #clock: Clock;
  readonly #commands = new Map<string, CommandSpec>();
  readonly #isAllowed?: (command: string, device: SkaDeviceSimulator) => boolean;
  readonly #tracker: SkaCommandTracker;
  /** Attribute names (the device's spelling), and the same by lower-cased name. */
  readonly #names: readonly string[];
  readonly #byLowerName = new Map<string, string>();
  /** Subscribers by attribute name (the device's spelling); copied on write, so a queued delivery keeps its list. */
  readonly #subscribers = new Map<string, readonly Subscriber[]>();
  /** Deliveries waiting: the subscribers of the event at push time, and the event (two parallel queues). */
  readonly #outboxTo: (readonly Subscriber[])[] = [];
  readonly #outboxEvents: AttributeEvent[] = [];
  #draining = false;
  readonly #queue: ExecutableTask[] = [];
  #executing: ExecutableTask | null = null;
  #idle: (() => void)[] = [];
  /**
   * The device's timers (sleeping tasks, removal of finished commands): one deadline structure on its clock, one
   * clock timer for the earliest, due ones fired in due order, ties in arm order.
   */
  readonly #deadlines: Deadlines;
  /** The cancel function of each sleeping task with a finite sleep. */
  readonly #sleeps = new Set<() => void>();
  /** Sleeps of Infinity ms: no timer, ended only by an abort or close(). */
  readonly #endlessSleeps = new Set<() => void>();
  #closed = false;
  /** Subscriptions to any attribute but `_lrcEvent` (the tracker makes no v1 event while there are none). */
  #v1Subscribers = 0;
  /** What its running tasks use of the device (one object for all of them). */
  readonly #taskHost: TaskHost;

  constructor(options: SkaDeviceSimulatorOptions) {
    const commands = checkSimulatorOptions(options);
    const removalTimeMs = checkDuration('removalTimeMs', options.removalTimeMs, false) ?? 10_000;
    this.name = options.name;
    this.state = options.state ?? 'ON';
    this.maxQueuedTasks = options.maxQueuedTasks ?? 32;
    this.protocolVersions = options.protocolVersions === undefined ? [1, 2] : options.protocolVersions;
    this.#isAllowed = options.isAllowed;
    this.#names = this.#attributeNames();
    for (const n of this.#names) this.#byLowerName.set(n.toLowerCase(), n);
    this.#clock = options.clock ?? options.system?.clock ?? getDefaultSystem().clock;
    for (const [name, spec] of commands) this.#commands.set(name, spec);
    this.#deadlines = new Deadlines(this.#clock);
    this.#taskHost = {
      device: this,
      report: (uid, change) => {
        if (!this.#closed) this.#tracker.update(uid, change);
      },
      sleep: (ms, signal) => this.#sleep(ms, signal),
    };
    this.#tracker = new SkaCommandTracker({
      clock: this.#clock,
      deadlines: this.#deadlines,
      epochMs: options.epochMs ?? Date.now() - this.#clock.now(),
      removalTimeMs,
      push: (attribute, value) => this.#push(attribute, value),
      wants: (attribute) => !this.#closed && (this.#subscribers.get(attribute)?.length ?? 0) > 0,
      wantsV1: () => !this.#closed && this.#v1Subscribers > 0,
      nextUuid: options.uuid ?? (() => Math.floor(Math.random() * 2 ** 48)),
    });
  }

  /** Open change-event subscriptions (all attributes). */
  get subscriptionCount(): number {
    let n = 0;
    for (const s of this.#subscribers.values()) n += s.length;
    return n;
  }

  /** Armed timers (sleeping tasks and removal of finished commands); 0 after close(). */
  get pendingTimers(): number {
    return this.#sleeps.size + this.#tracker.pendingTimers;
  }

  get queueLength(): number {
    return this.#queue.length;
  }

  async attributeList(): Promise<readonly string[]> {
    return [...this.#names];
  }

  async readAttribute(attribute: string): Promise<unknown> {
    return this.#read(attribute);
  }

  /** An attribute's value now (DevFailed when the device is closed or has no such attribute). */
  #read(attribute: string): unknown {
    this.#assertOpen();
    const lower = attribute === LRC_ATTRIBUTES.versions ? VERSIONS_NAME : lrcAttributeKey(attribute);
    if (!this.#byLowerName.has(lower)) {
      throw devFailed('API_AttrNotFound', `${attribute} attribute not found`, `${this.name}::read_attribute`);
    }
    if (lower === 'state') return this.state;
    if (lower === 'status') return `The device is in ${this.state} state.`;
    if (lower === VERSIONS_NAME) return [...this.protocolVersions!];
    return this.#tracker.read(attribute);
  }

  async subscribeChangeEvent(
    attribute: string,
    callback: (event: AttributeEvent) => void,
  ): Promise<Unsubscribe> {
    this.#assertOpen();
    const name = this.#byLowerName.get(attribute.toLowerCase());
    if (!name) {
      throw devFailed(
        'API_AttributeNotFound',
        `Attribute ${attribute} not found for device ${this.name}`,
        'DeviceProxy::subscribe_event',
      );
    }
    // a fresh function per subscription, so one callback subscribed twice counts twice
    const entry: Subscriber = (event) => callback(event);
    this.#subscribers.set(name, [...(this.#subscribers.get(name) ?? []), entry]);
    const v1 = name !== LRC_ATTRIBUTES.event;
    if (v1) this.#v1Subscribers++;
    // like Tango, the current value arrives as the first event, before any change made after the subscription
    // (read and delivered now: a value read now and delivered a turn later would come after those changes)
    this.#deliver([entry], { attribute: name, value: this.#read(name) });
    return () => {
      const list = this.#subscribers.get(name);
      if (!list?.includes(entry)) return;
      this.#subscribers.set(
        name,
        list.filter((e) => e !== entry),
      );
      if (v1) this.#v1Subscribers--;
    };
  }

  async commandInout(command: string, args?: unknown): Promise<unknown> {
    this.#assertOpen();
    switch (command) {
      case 'State':
        return this.state;
      case 'Status':
        return `The device is in ${this.state} state.`;
      case 'CheckLongRunningCommandStatus':
        return this.#tracker.statusOf(typeof args === 'string' ? args : '');
      case 'Abort':
      case 'AbortCommands':
        return this.#abortCommands(command);
    }
    const spec = this.#commands.get(command);
    if (!spec) {
      throw devFailed('API_CommandNotFound', `Command ${command} not found`, 'Device_3Impl::command_inout');
    }
    if ((spec.isAllowed && !spec.isAllowed(this)) || (this.#isAllowed && !this.#isAllowed(command, this))) {
      throw devFailed(
        'API_CommandNotAllowed',
        `Command ${command} not allowed when the device is in ${this.state} state`,
        'DeviceClass::command_handler',
      );
    }
    const uid = this.#tracker.newCommand(command);
    const reason = spec.validate?.(this, args);
    if (reason) {
      this.#tracker.update(uid, { status: TaskStatus.REJECTED });
      return [[ResultCode.REJECTED], [reason]];
    }
    if (this.#queue.length >= this.maxQueuedTasks) {
      // ska-tango-base's TaskExecutor wording
      const message = `Input queue supports a maximum of ${this.maxQueuedTasks} commands`;
      this.#tracker.update(uid, { status: TaskStatus.REJECTED, result: [ResultCode.REJECTED, message] });
      return [[ResultCode.REJECTED], [message]];
    }
    this.#queue.push({ uid, name: command, args, spec, abort: new LazyAbort() });
    this.#tracker.update(uid, { status: TaskStatus.QUEUED });
    if (this.#queue.length === 1 && !this.#executing) queueMicrotask(() => this.#runNext());
    return [[ResultCode.QUEUED], [uid]];
  }

  /** Resolves once the queue is empty and nothing is executing. */
  whenIdle(): Promise<void> {
    if (!this.#executing && !this.#queue.length) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stop the device: abort every task, clear every timer, drop every subscription. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of [...this.#queue, ...(this.#executing ? [this.#executing] : [])]) t.abort.abort();
    this.#queue.length = 0;
    for (const cancel of [...this.#sleeps]) cancel();
    this.#sleeps.clear();
    for (const cancel of [...this.#endlessSleeps]) cancel();
    this.#tracker.close();
    this.#deadlines.clear();
    this.#subscribers.clear();
    this.#v1Subscribers = 0;
    this.#outboxTo.length = 0;
    this.#outboxEvents.length = 0;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #attributeNames(): string[] {
    const names = ['State', 'Status', 'lrcQueue', 'lrcExecuting', 'lrcFinished'];
    const [min, max] = this.protocolVersions ?? [1, 1];
    if (this.protocolVersions) names.push(LRC_ATTRIBUTES.versions);
    if (min <= 1) {
      names.push(LRC_ATTRIBUTES.status, LRC_ATTRIBUTES.progress, LRC_ATTRIBUTES.result);
      names.push(
        'longRunningCommandsInQueue',
        'longRunningCommandIDsInQueue',
        'longRunningCommandInProgress',
      );
    }
    if (max >= 2) names.push(LRC_ATTRIBUTES.event);
    return names;
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw devFailed('API_DeviceNotExported', `Device ${this.name} is not exported`, 'DeviceProxy::connect');
    }
  }

  /**
   * Queue a change event for every subscriber of `attribute` (spelled as the device does) and deliver, unless
   * already delivering.
   */
  #push(attribute: string, value?: unknown): void {
    if (this.#closed) return;
    const subscribers = this.#subscribers.get(attribute);
    if (!subscribers?.length) return;
    this.#deliver(subscribers, { attribute, value: value ?? this.#tracker.read(attribute) });
  }

  /**
   * Deliver an event now, unless already delivering: then it is queued, delivered after the ones before it (so
   * an event pushed from inside a callback waits its turn).
   */
  #deliver(subscribers: readonly Subscriber[], event: AttributeEvent): void {
    if (this.#draining) {
      this.#outboxTo.push(subscribers);
      this.#outboxEvents.push(event);
      return;
    }
    this.#draining = true;
    const to = this.#outboxTo;
    const events = this.#outboxEvents;
    try {
      deliverTo(subscribers, event);
      for (let i = 0; i < to.length; i++) deliverTo(to[i], events[i]);
    } finally {
      if (to.length) {
        to.length = 0;
        events.length = 0;
      }
      this.#draining = false;
    }
  }

  #abortCommands(command: string): unknown {
    const uid = this.#tracker.newCommand(command);
    // reported as the tasks' changes are: nothing once the device is closed (an Abort still waiting for its running
    // task then would arm the removal of its finished entry on a closed device)
    const report = this.#taskHost.report;
    queueMicrotask(async () => {
      report(uid, { status: TaskStatus.IN_PROGRESS });
      for (const t of this.#queue.splice(0)) {
        t.abort.abort();
        report(t.uid, {
          status: TaskStatus.ABORTED,
          result: [ResultCode.ABORTED, 'Command has been aborted'],
        });
      }
      const running = this.#executing;
      if (running) {
        running.abort.abort();
        await running.settled;
      }
      report(uid, {
        status: TaskStatus.COMPLETED,
        result: [ResultCode.OK, 'Abort completed OK'],
      });
    });
    return [[ResultCode.STARTED], [uid]];
  }

  /**
   * The executor: one task at a time, in submission order; the next one starts once the last one's end has been
   * reported (a reaction of its `settled`, as awaiting it would: no async frames per task).
   */
  #runNext(): void {
    if (this.#executing) return;
    const task = this.#queue.shift();
    if (!task || this.#closed) {
      for (const resolve of this.#idle.splice(0)) resolve();
      return;
    }
    this.#executing = task;
    task.settled = this.#execute(task);
    task.settled.then(this.#taskSettled);
  }

  readonly #taskSettled = (): void => {
    this.#executing = null;
    this.#runNext();
  };

  /**
   * Run a task: its end is reported a turn after its handler returns (or when the promise it returned settles), at
   * once when the handler throws or the task may not run. Settles once the end was reported.
   */
  #execute(t: ExecutableTask): Promise<void> {
    const host = this.#taskHost;
    try {
      if (t.spec.isCmdAllowed && !t.spec.isCmdAllowed(this)) {
        host.report(t.uid, {
          status: TaskStatus.REJECTED,
          result: [ResultCode.NOT_ALLOWED, 'Command is not allowed'],
        });
        return SETTLED;
      }
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      host.report(t.uid, {
        status: TaskStatus.REJECTED,
        result: [ResultCode.REJECTED, `Exception from 'is_cmd_allowed' method: ${msg}`],
      });
      return SETTLED;
    }
    const task = new RunningTask(host, t);
    let returned: unknown;
    try {
      returned = t.spec.execute(task);
    } catch (err) {
      task.fail(err);
      return SETTLED;
    }
    return Promise.resolve(returned).then(
      (result) => task.finish(result),
      (err) => task.fail(err),
    );
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted || this.#closed) return reject(new CancelledError('task aborted'));
      if (ms === Number.POSITIVE_INFINITY) {
        // never wakes by itself (no timer): only an abort or close() ends it
        const cancel = () => {
          this.#endlessSleeps.delete(cancel);
          signal.removeEventListener('abort', cancel);
          reject(new CancelledError('task aborted'));
        };
        this.#endlessSleeps.add(cancel);
        signal.addEventListener('abort', cancel, { once: true });
        return;
      }
      let deadline: DeadlineHandle | null = null;
      const cancel = () => {
        this.#deadlines.cancel(deadline);
        this.#sleeps.delete(cancel);
        reject(new CancelledError('task aborted'));
      };
      deadline = this.#deadlines.arm(ms, () => {
        this.#sleeps.delete(cancel);
        signal.removeEventListener('abort', cancel);
        resolve();
      });
      this.#sleeps.add(cancel);
      signal.addEventListener('abort', cancel, { once: true });
    });
  }
}

/** What a task that ended at once settles with. */
const SETTLED: Promise<void> = Promise.resolve();

const isFunction = (f: unknown): boolean => typeof f === 'function';
const optionalFunction = (f: unknown): boolean => f === undefined || typeof f === 'function';

/** Every option checked (InvalidArgumentError) before the device exists; returns the command specs. */
function checkSimulatorOptions(options: SkaDeviceSimulatorOptions): [string, CommandSpec][] {
  const bad = (what: string) => new InvalidArgumentError(`SkaDeviceSimulator: ${what}`);
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('SkaDeviceSimulator needs {name, commands}');
  if (typeof options.name !== 'string' || !options.name) throw bad('name must be a non-empty string');
  if (options.commands === null || typeof options.commands !== 'object' || Array.isArray(options.commands))
    throw bad('commands must be an object of command handlers');
  const specs: [string, CommandSpec][] = [];
  for (const [name, c] of Object.entries(options.commands)) {
    if (BUILT_IN.has(name)) throw bad(`'${name}' is a built-in command and cannot be declared`);
    const spec = typeof c === 'function' ? { execute: c } : c;
    if (
      spec === null ||
      typeof spec !== 'object' ||
      !isFunction(spec.execute) ||
      !optionalFunction(spec.isAllowed) ||
      !optionalFunction(spec.validate) ||
      !optionalFunction(spec.isCmdAllowed)
    )
      throw bad(
        `command '${name}' must be a handler function or {execute, isAllowed?, validate?, isCmdAllowed?}`,
      );
    specs.push([name, spec]);
  }
  if (!optionalFunction(options.isAllowed)) throw bad('isAllowed must be a function');
  if (
    options.maxQueuedTasks !== undefined &&
    !(Number.isInteger(options.maxQueuedTasks) && options.maxQueuedTasks >= 0)
  )
    throw bad('maxQueuedTasks must be an integer >= 0');
  const v = options.protocolVersions;
  if (
    v !== undefined &&
    v !== null &&
    !(Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x >= 1) && v[0] <= v[1])
  )
    throw bad('protocolVersions must be null or a (min, max) pair of integers >= 1');
  if (options.state !== undefined && typeof options.state !== 'string') throw bad('state must be a string');
  if (options.epochMs !== undefined && !Number.isFinite(options.epochMs))
    throw bad('epochMs must be a finite number');
  if (!optionalFunction(options.uuid)) throw bad('uuid must be a function');
  const clock = options.clock as unknown as Record<string, unknown> | undefined;
  if (
    clock !== undefined &&
    (clock === null ||
      !isFunction(clock.now) ||
      !isFunction(clock.setTimeout) ||
      !isFunction(clock.clearTimeout))
  )
    throw bad('clock must be a Clock (now, setTimeout, clearTimeout)');
  if (
    options.system !== undefined &&
    (options.system === null || !(options.system as { clock?: unknown }).clock)
  )
    throw bad('system must be an OrrerySystem');
  return specs;
}

/** Names of the commands every simulated device serves on its own. */
export const BUILT_IN_COMMANDS: ReadonlySet<string> = BUILT_IN;
