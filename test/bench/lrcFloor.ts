/**
 * The LRC floor: a hand-written plain TypeScript LRC client that does, per call, the protocol work `invokeLrc`
 * does with `negotiation: 'perCall'`, and nothing else: no state machine, no compiled runner, no actor system, no
 * LRC session class. The LRC benchmark runs it on the same simulated devices as Orrery's client to show what
 * JavaScript can do there (as `floor.bench.ts` is the floor of the Status benchmark). Bench support only, not an
 * API. `lrcFloor.test.ts` checks that its callbacks get exactly the updates `invokeLrc`'s get.
 *
 * Per call, as `invokeLrc` (`session.ts`, `portGuards.ts`, `machines/tango/lrc.ts`, `lrcReducer.ts`):
 * - negotiation: `attributeList()`, then, when it names `lrcProtocolVersions` (any case), that attribute read;
 *   the protocol is min(server max, client max), after checking that the ranges overlap;
 * - subscriptions: one change-event subscription per LRC attribute of that protocol (`lrcAttributesFor`) per
 *   device, shared by the device's calls, made when first needed (in turn, each once the one before answered) and
 *   released when the last call on it ends;
 * - while some call on the device does not know its command id yet, the device's value events are kept (with the
 *   subscription they came on); a call that gets its id is first given, in arrival order, the kept events naming
 *   it (the STAGING/QUEUED statuses pushed before the reply, and whatever else came before it), then live ones.
 *   It looks only at those kept since it sent its command (a command id is the device's answer to the command: no
 *   event names it before; Orrery's session keeps them from the subscription on, the same events for this id);
 * - `commandInout`, the reply parsed with `parseLrcReply`; later events are routed by command id (a Map from id to
 *   call, looked up for each id of an event's (id, value, ...) spectrum; an event reaches a call once, at the first
 *   pair naming it), never to every call; a v1 status list is looked up entry by entry (Orrery's session routes it
 *   by its difference with the previous list: the floor does not, and pays a look-up per entry);
 * - decoding with `decodeLrcEvent` (v2 `_lrcEvent` json; v1 status, progress, result lists), given the call's pair
 *   only (one scratch pair, no copy: the decoder's answer is the same as on the whole list, without its search);
 * - statuses only move forward (stale and repeated ones dropped: a v1 status list naming the call's current
 *   status is dropped without decoding, as the reducer does); v1: a terminal status that comes before its result is
 *   held back until the result comes, and the result attribute is read for it (`fetchingResult`);
 * - the callback gets the updates `invokeLrc`'s would, in the same order (a throwing callback is ignored);
 * - the call's promise resolves with its subscriptions when the id is known; their `finished` resolves once the
 *   terminal status was delivered (and the call's share of the subscriptions released).
 *
 * Left out on purpose (not needed by the benchmark's workload, so the floor does not pay for them; Orrery's client
 * does, which is part of what the comparison shows): timeouts (the call's `timeout`, v1's `resultTimeout`), abort
 * and `unsubscribe()`, the negotiation cache, `parity`, `reconcile`, logging (warnings of the decoders are
 * dropped), error events (an event with `errors` is ignored: the workload has none), the limit on kept events
 * (`MAX_BUFFERED_EVENTS`), two calls given the same command id, and the guards against a misbehaving DevicePort
 * (synchronous throws, malformed events or answers). A failure (negotiation, subscription, invocation, a reply
 * that is not QUEUED/STARTED with an id) rejects the call's promise with a plain Error.
 */
import { isVersionsAttribute } from '../../src/protocols/tango/lrc/portGuards.js';
import type { AttributeEvent, DevicePort, Unsubscribe } from '../../src/protocols/tango/port.js';
import {
  CLIENT_PROTOCOL_VERSIONS,
  decodeLrcEvent,
  isTerminalStatus,
  LRC_ATTRIBUTES,
  type LrcUpdate,
  lrcAttributeKey,
  lrcAttributesFor,
  parseLrcReply,
  type TaskStatus,
  taskStatusName,
  taskStatusRank,
  updateHasFields,
} from '../../src/protocols/tango/wire.js';

export type FloorCallback = (update: LrcUpdate) => void;

export interface FloorLrcOptions {
  /** The client's protocol range (min, max); `CLIENT_PROTOCOL_VERSIONS` by default. */
  clientVersions?: readonly [number, number];
}

/** How a floor call ended (only one way: its terminal status was delivered). */
export interface FloorOutput {
  commandId: string;
  protocolVersion: number;
  replyCode: number;
  status: TaskStatus;
}

/** What a floor call resolves with once its command id is known. */
export interface FloorSubscriptions {
  readonly commandId: string;
  readonly protocolVersion: number;
  /** Resolves when the terminal status was delivered. */
  readonly finished: Promise<FloorOutput>;
}

const STATUS_KEY = 'longrunningcommandstatus';

/** The (id, value) pair given to the decoder (never kept by it). */
const PAIR: unknown[] = ['', undefined];

/** One change-event subscription of a device, shared by its calls on that attribute. */
class FloorSub {
  calls = 0;
  unsubscribe: Unsubscribe | undefined = undefined;
  readonly ready: Promise<void>;

  constructor(
    readonly device: FloorDevice,
    readonly attribute: string,
  ) {
    this.ready = device.port
      .subscribeChangeEvent(attribute, (event) => device.route(this, event))
      .then(
        (unsubscribe) => {
          this.unsubscribe = unsubscribe;
          if (this.calls === 0) device.drop(this);
        },
        (error) => {
          if (device.subs.get(attribute) === this) device.subs.delete(attribute);
          throw error;
        },
      );
  }
}

const devices = new WeakMap<DevicePort, FloorDevice>();

/** What the floor keeps per device: its subscriptions, its calls by command id, the events kept for waiting calls. */
class FloorDevice {
  readonly subs = new Map<string, FloorSub>();
  readonly byId = new Map<string, FloorCall>();
  /** Calls subscribed that do not know their command id yet. */
  waiting = 0;
  /** The value events kept while some call waits, and the subscription each came on (parallel arrays). */
  readonly keptEvents: AttributeEvent[] = [];
  readonly keptSubs: FloorSub[] = [];
  /** Arrival number of the last value event. */
  seq = 0;

  constructor(readonly port: DevicePort) {}

  static of(port: DevicePort): FloorDevice {
    let device = devices.get(port);
    if (device === undefined) {
      device = new FloorDevice(port);
      devices.set(port, device);
    }
    return device;
  }

  /** One change event: kept while a call waits, and routed to the calls whose ids it names. */
  route(sub: FloorSub, event: AttributeEvent): void {
    if (sub.calls === 0 || event.errors) return;
    const seq = ++this.seq;
    if (this.waiting > 0) {
      this.keptEvents.push(event);
      this.keptSubs.push(sub);
    }
    const value = event.value;
    if (!Array.isArray(value) || this.byId.size === 0) return;
    for (let i = 0; i < value.length; i += 2) {
      const id = value[i];
      if (typeof id !== 'string') continue;
      const call = this.byId.get(id);
      if (call === undefined || call.routed === seq || !call.subs.includes(sub)) continue;
      call.routed = seq;
      call.apply(event.attribute, value, i);
    }
  }

  /** `call` joins the subscription of each attribute in turn (made when there is none), each once it answered. */
  async join(call: FloorCall, attributes: readonly string[]): Promise<void> {
    for (let a = 0; a < attributes.length; a++) {
      const attribute = attributes[a];
      let sub = this.subs.get(attribute);
      if (sub === undefined) {
        sub = new FloorSub(this, attribute);
        this.subs.set(attribute, sub);
      }
      sub.calls++;
      call.subs.push(sub);
      if (!call.waiting) {
        call.waiting = true;
        this.waiting++;
      }
      if (sub.unsubscribe === undefined) await sub.ready;
    }
  }

  /** The call knows its id (or failed): it no longer waits; the kept events go once no call does. */
  stopWaiting(call: FloorCall): void {
    if (!call.waiting) return;
    call.waiting = false;
    if (--this.waiting === 0) {
      this.keptEvents.length = 0;
      this.keptSubs.length = 0;
    }
  }

  /** The kept events (since the call sent its command, on its subscriptions) naming `id`, applied to it in order. */
  replayKept(call: FloorCall, id: string): void {
    const events = this.keptEvents;
    const subs = this.keptSubs;
    for (let k = call.since; k < events.length && !call.terminal; k++) {
      if (!call.subs.includes(subs[k])) continue;
      const value = events[k].value;
      if (!Array.isArray(value)) continue;
      for (let i = 0; i < value.length; i += 2) {
        if (value[i] === id) {
          call.apply(events[k].attribute, value, i);
          break;
        }
      }
    }
  }

  /** The call ended: out of the id map, its share of the subscriptions released. */
  release(call: FloorCall): void {
    this.stopWaiting(call);
    const id = call.commandId;
    if (id !== undefined && this.byId.get(id) === call) this.byId.delete(id);
    const subs = call.subs;
    call.subs = [];
    for (let i = 0; i < subs.length; i++)
      if (--subs[i].calls === 0 && subs[i].unsubscribe) this.drop(subs[i]);
  }

  /** A subscription without calls: unsubscribed, forgotten (the next call subscribes again). */
  drop(sub: FloorSub): void {
    if (this.subs.get(sub.attribute) === sub) this.subs.delete(sub.attribute);
    sub.unsubscribe!();
  }
}

/** One call: its status bookkeeping (`lrcReducer.ts`'s), and its subscriptions once its id is known. */
class FloorCall {
  commandId: string | undefined = undefined;
  replyCode = 0;
  subs: FloorSub[] = [];
  waiting = false;
  /** Where the kept events start for it: when it sent its command. */
  since = 0;
  /** The event last routed to it. */
  routed = -1;
  status: TaskStatus | null = null;
  terminal = false;
  resultSeen = false;
  /** v1: a terminal status waiting for its result. */
  pending: LrcUpdate | null = null;
  readonly finished: Promise<FloorOutput>;
  #resolve!: (output: FloorOutput) => void;

  constructor(
    readonly device: FloorDevice,
    readonly callback: FloorCallback,
    readonly protocolVersion: number,
  ) {
    this.finished = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** The pair at `i` of an event's list (whose id is this call's): decoded, reduced, delivered. */
  apply(attribute: string, value: unknown[], i: number): void {
    if (this.terminal) return;
    const id = this.commandId!;
    const raw = value[i + 1];
    const isStatus = lrcAttributeKey(attribute) === STATUS_KEY;
    // a v1 status list repeating the current status (most of them: each repeats every command's status)
    if (isStatus && this.status !== null && raw === taskStatusName(this.status)) return;
    let decoded: ReturnType<typeof decodeLrcEvent>;
    if (i + 1 < value.length) {
      PAIR[0] = id;
      PAIR[1] = raw;
      decoded = decodeLrcEvent(attribute, PAIR, id);
      PAIR[1] = undefined;
    } else decoded = decodeLrcEvent(attribute, value, id);
    if (decoded !== null) this.#reduce(decoded.update);
  }

  /** `lrcReducer.ts`'s `reduceDecoded`, then the updates delivered; the call ends at a delivered terminal status. */
  #reduce(update: LrcUpdate): void {
    const pending = this.pending;
    if (pending !== null) {
      // the held terminal status goes out right after the result; progress still passes, statuses do not
      delete update.status;
      if (!('result' in update)) {
        if (updateHasFields(update)) this.#deliver(update);
        return;
      }
      this.pending = null;
      this.status = pending.status!;
      this.resultSeen = true;
      this.terminal = true;
      this.#deliver(update);
      this.#deliver(pending);
      this.#end();
      return;
    }
    let terminal = false;
    const s = update.status;
    const current = this.status;
    if (s !== undefined) {
      if (
        current === s ||
        (current !== null && taskStatusRank(s) < taskStatusRank(current)) ||
        taskStatusRank(s) < 0
      )
        delete update.status;
      else {
        this.status = s;
        terminal = isTerminalStatus(s);
      }
    }
    if ('result' in update) this.resultSeen = true;
    if (terminal && this.protocolVersion === 1 && !this.resultSeen) {
      // v1: hold the terminal status back until its result is known, and read the result
      this.pending = { status: s };
      delete update.status;
      this.status = current;
      terminal = false;
      this.#readResult();
    }
    if (updateHasFields(update)) this.#deliver(update);
    if (terminal) {
      this.terminal = true;
      this.#end();
    }
  }

  /** v1: the result attribute read for a held terminal status; the status delivered after it. */
  #readResult(): void {
    const id = this.commandId!;
    this.device.port.readAttribute(LRC_ATTRIBUTES.result).then((value) => {
      const pending = this.pending;
      if (this.terminal || pending === null) return;
      const decoded = decodeLrcEvent(LRC_ATTRIBUTES.result, value, id);
      this.pending = null;
      this.status = pending.status!;
      this.terminal = true;
      if (decoded !== null) this.#deliver(decoded.update);
      this.#deliver(pending);
      this.#end();
    });
  }

  #deliver(update: LrcUpdate): void {
    try {
      this.callback(update);
    } catch {
      // the caller's own failure: the next update is still delivered
    }
  }

  #end(): void {
    this.device.release(this);
    this.#resolve({
      commandId: this.commandId!,
      protocolVersion: this.protocolVersion,
      replyCode: this.replyCode,
      status: this.status!,
    });
  }
}

/**
 * Invoke `command` on `port` and follow it with `callback` until its terminal status; resolves once the device
 * gave the command id. See the module comment for what it does and leaves out.
 */
export async function floorLrc(
  callback: FloorCallback,
  port: DevicePort,
  command: string,
  args?: unknown,
  options: FloorLrcOptions = {},
): Promise<FloorSubscriptions> {
  const client = options.clientVersions ?? CLIENT_PROTOCOL_VERSIONS;
  // per-call negotiation
  const names = await port.attributeList();
  let min = 1;
  let max = 1;
  if (names.some(isVersionsAttribute)) {
    const versions = (await port.readAttribute(LRC_ATTRIBUTES.versions)) as unknown[];
    min = Number(versions[0]);
    max = Number(versions[1]);
    if (!Number.isInteger(min) || !Number.isInteger(max))
      throw new Error(`${port.name}: lrcProtocolVersions is not (min, max)`);
  }
  if (!(min <= client[1] && client[0] <= max))
    throw new Error(`${port.name}: protocol versions (${min}, ${max}) do not overlap the client's`);
  const protocol = Math.min(max, client[1]);
  const device = FloorDevice.of(port);
  const call = new FloorCall(device, callback, protocol);
  let reply: ReturnType<typeof parseLrcReply>;
  try {
    await device.join(call, lrcAttributesFor(protocol));
    call.since = device.keptEvents.length;
    reply = parseLrcReply(await port.commandInout(command, args));
  } catch (error) {
    device.release(call);
    throw error;
  }
  const id = reply?.commandId;
  if (id === undefined) {
    device.release(call);
    throw new Error(`${port.name}: ${command} was not accepted (reply code ${reply?.code})`);
  }
  call.commandId = id;
  call.replyCode = reply!.code;
  device.byId.set(id, call);
  // the events that named it before its id was known, in arrival order
  device.replayKept(call, id);
  device.stopWaiting(call);
  return call as FloorSubscriptions;
}
