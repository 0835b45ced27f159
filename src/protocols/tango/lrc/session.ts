/**
 * The LRC session of a device: one per `DevicePort` (weakly held), shared by every LRC call on that device. It owns
 * the device I/O of those calls (the `lrc` machine's I/O actions, provided in `lrcLogic.ts`):
 *
 *   negotiate   ──► NEGOTIATED | NEGOTIATION_FAILED          per call, or one per session when cached
 *   connect     ──► SUBSCRIBED | SUBSCRIBE_FAILED            one subscription per attribute for all the calls
 *   invoke      ──► INVOKED {reply: parseLrcReply(...), held} | INVOKE_FAILED
 *   checkStatus ──► STATUS_CHECKED | STATUS_CHECK_FAILED     (CheckLongRunningCommandStatus)
 *   readResult  ──► RESULT_READ | RESULT_FAILED              (v1)
 *   release     ──► the call's share of the subscriptions goes; the last call on an attribute unsubscribes it
 *
 * Routing, not fan-out: a value event goes only to the calls whose command id it names (a Map from command id to
 * call, looked up for each id of the event's (id, value, ...) spectrum); an error event goes to every call on that
 * subscription (it may concern any of them). Until a call knows its command id, the value events of its
 * attributes are kept once per subscription (at most `MAX_BUFFERED_EVENTS`, only while some call waits); the call
 * gets those naming its id with INVOKED, exactly the events a per-call subscription would have held, less the v1
 * status repeats. v1 status repeats (a valid status equal to the last one the call was given) are dropped per call,
 * held or live, unless `parity`. Per-command order is the device's order.
 *
 * Negotiation cache (`negotiation: 'cached'`, newer ska-tango-base's `connect_lrc_interface`): one negotiation
 * per session, shared by concurrent calls while pending; dropped on a transport error of any call (negotiation,
 * subscription, invocation, status check, result read), on an error event, and by `forgetLrcNegotiation()`.
 * A failed negotiation is never kept, nor a pending one a call stopped waiting for. Per-call negotiation (the
 * default, as upstream) reads the versions each time.
 */
import { type LrcEvent, MAX_BUFFERED_EVENTS } from '../../../../machines/tango/lrc.js';
import type { AttributeEvent, DevicePort, Unsubscribe } from '../port.js';
import {
  describeValue,
  LRC_ATTRIBUTES,
  type LrcReply,
  lrcAttributeKey,
  pairedValue,
  parseLrcReply,
  toTaskStatus,
} from '../wire.js';
import { heldEvents } from './heldEvents.js';
import { KeptEvents } from './keptEvents.js';
import {
  attempt,
  portFault,
  readProtocolVersions,
  type Versions,
  wellFormed,
  withProtocolVersions,
} from './portGuards.js';
import { routeStatusList, type StatusDiff, unsettle } from './statusRouting.js';

const STATUS_ATTRIBUTE = LRC_ATTRIBUTES.status.toLowerCase();
const SUBSCRIBED: LrcEvent = Object.freeze({ type: 'SUBSCRIBED' });
/** ska-tango-base's command answering a command id's status name (NOT_FOUND once forgotten). */
const CHECK_STATUS_COMMAND = 'CheckLongRunningCommandStatus';

/** Whether an event's attribute is the v1 status list (any case). */
function isStatusAttribute(attribute: string): boolean {
  return lrcAttributeKey(attribute) === STATUS_ATTRIBUTE;
}

/** Where a call's events go: its actor. */
export interface LrcCallTarget {
  send(event: LrcEvent): void;
}

/** What the session needs to know of a call (the `lrc` machine's context has it). */
export interface LrcCallSpec {
  command: string;
  args: unknown;
  /** v1: forward every status event (otherwise the repeats of this command's last status are dropped). */
  parity: boolean;
  /** Use the session's negotiation (`negotiation: 'cached'`). */
  cacheNegotiation: boolean;
}

/** One change-event subscription of the device, shared by the calls on its attribute. */
interface SharedSubscription extends StatusDiff {
  readonly attribute: string;
  readonly calls: Set<LrcCall>;
  /** Settles when the device answered the subscription: undefined, or the failure to report. */
  ready: Promise<{ error: unknown } | undefined>;
  unsubscribe?: Unsubscribe;
  /**
   * Calls waiting for it to answer, as flat (call, attributes, index) triples, woken in order by its one reaction
   * to `ready`; null once it answered (a call joining later reacts to `ready` itself).
   */
  waiters: unknown[] | null;
  /** Calls on it that do not know their command id yet: its value events are kept only while there are some. */
  waiting: number;
  /** Value events kept for those calls, with their arrival number, oldest first, indexed by the ids they name. */
  readonly kept: KeptEvents;
}

/** The ways a call can be followed by its session; the `lrc` machine's I/O actions call these. */
export class LrcCall {
  readonly session: LrcDeviceSession;
  /** The call's `LrcCallSpec`, kept as fields of its own (one object less per call in flight). */
  readonly command: string;
  readonly args: unknown;
  readonly parity: boolean;
  readonly cacheNegotiation: boolean;
  /** The command id, once the device gave it. */
  commandId: string | undefined;
  closed = false;
  readonly #target: LrcCallTarget;
  /** Its subscriptions, and the arrival number each started at. */
  subs: SharedSubscription[] = [];
  since: number[] = [];
  waiting = true;
  /** Another call with the same command id (a port replying the same id twice), in the session's map. */
  sameId: LrcCall | undefined;
  /** The value event last routed to it (an id listed twice in one event is one delivery). */
  routed = -1;
  /** The pair of the status list last routed to it by difference where its id was (see `statusRouting.ts`). */
  pairAt = -1;
  #lastStatus: unknown;

  constructor(session: LrcDeviceSession, target: LrcCallTarget, spec: LrcCallSpec) {
    this.session = session;
    this.#target = target;
    this.command = spec.command;
    this.args = spec.args;
    this.parity = spec.parity;
    this.cacheNegotiation = spec.cacheNegotiation;
  }

  send(event: LrcEvent): void {
    if (!this.closed) this.#target.send(event);
  }

  /** v1 without parity: whether this status event repeats the last status this call was given (and remember it). */
  repeatsStatus(event: AttributeEvent, id: string): boolean {
    if (this.parity || !isStatusAttribute(event.attribute)) return false;
    return this.repeatsRawStatus(pairedValue(event.value, id));
  }

  /** The same for the raw status paired with this call's id in a status event (the caller checked both). */
  repeatsRawStatus(raw: unknown): boolean {
    if (this.parity || raw === undefined) return false;
    // only a valid status is remembered: the same raw value is one (no need to parse it again)
    if (raw === this.#lastStatus) return true;
    if (toTaskStatus(raw) === undefined) return false;
    this.#lastStatus = raw;
    return false;
  }

  /**
   * The raw status paired with this call's id in a status event, routed by difference (`statusRouting.ts`): 0 it
   * repeats the remembered status (dropped), 1 sent and now remembered, 2 sent and not remembered (`parity`, no
   * value, not a status). The same answers as `repeatsRawStatus`, told apart.
   */
  statusDelivery(raw: unknown): 0 | 1 | 2 {
    if (this.parity || raw === undefined) return 2;
    if (raw === this.#lastStatus) return 0;
    if (toTaskStatus(raw) === undefined) return 2;
    this.#lastStatus = raw;
    return 1;
  }

  negotiate(): void {
    this.session.negotiateFor(this);
  }
  connect(attributes: readonly string[]): void {
    this.session.connect(this, attributes);
  }
  invoke(): void {
    this.session.invoke(this);
  }
  checkStatus(commandId: string): void {
    this.session.checkStatus(this, commandId);
  }
  readResult(): void {
    this.session.readResult(this);
  }
  /** Nothing more is sent; its share of the subscriptions goes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.release(this);
  }
}

/** Release a device subscription; upstream logs EventSystemFailed on unsubscribe as a warning and carries on. */
function unsubscribeQuietly(u: Unsubscribe): void {
  try {
    u();
  } catch {
    // nothing to do
  }
}

const sessions = new WeakMap<DevicePort, LrcDeviceSession>();

export class LrcDeviceSession {
  readonly device: DevicePort;
  #negotiation: { versions?: Versions; pending: Promise<Versions> } | undefined;
  readonly #subs = new Map<string, SharedSubscription>();
  readonly #byId = new Map<string, LrcCall>();
  #calls = 0;
  /** Arrival number of the last value event. */
  #seq = 0;

  /** The session of `device` (made on first use). */
  static of(device: DevicePort): LrcDeviceSession {
    let session = sessions.get(device);
    if (!session) {
      session = new LrcDeviceSession(device);
      sessions.set(device, session);
    }
    return session;
  }

  /** The session of `device` if it has one. */
  static existing(device: DevicePort): LrcDeviceSession | undefined {
    return sessions.get(device);
  }

  private constructor(device: DevicePort) {
    this.device = device;
  }

  /** A new call on this device; `target` gets its events until `close()`. */
  open(target: LrcCallTarget, spec: LrcCallSpec): LrcCall {
    this.#calls++;
    return new LrcCall(this, target, spec);
  }

  /** Calls open on this device. */
  get callCount(): number {
    return this.#calls;
  }
  /** Device subscriptions this session holds (open or being made). */
  get subscriptionCount(): number {
    return this.#subs.size;
  }
  /** Value events kept for calls that do not know their command id yet. */
  get keptEvents(): number {
    let n = 0;
    for (const s of this.#subs.values()) n += s.kept.length;
    return n;
  }

  /** The cached protocol versions: (min, max), null (none), or undefined when not known. */
  get cachedVersions(): Versions | undefined {
    return this.#negotiation?.versions;
  }

  forgetNegotiation(): void {
    this.#negotiation = undefined;
  }

  /** The session's negotiation: the pending or settled one, or a new one kept until it fails. */
  #sharedNegotiation(): Promise<Versions> {
    if (this.#negotiation) return this.#negotiation.pending;
    const entry: { versions?: Versions; pending: Promise<Versions> } = {
      pending: readProtocolVersions(this.device),
    };
    this.#negotiation = entry;
    entry.pending.then(
      (versions) => {
        entry.versions = versions;
      },
      () => {
        if (this.#negotiation === entry) this.#negotiation = undefined;
      },
    );
    return entry.pending;
  }

  negotiateFor(call: LrcCall): void {
    const done = (versions: Versions) => call.send({ type: 'NEGOTIATED', versions });
    const failed = (error: unknown) => {
      // a transport error of any call drops the cache (a failed shared negotiation has already dropped itself)
      if (!call.cacheNegotiation) this.forgetNegotiation();
      call.send({ type: 'NEGOTIATION_FAILED', error });
    };
    if (call.cacheNegotiation) this.#sharedNegotiation().then(done, failed);
    else withProtocolVersions(this.device, done, failed);
  }

  /**
   * Join (or make) the subscription of each attribute in turn; SUBSCRIBED once all are open: at once when they
   * all are already (the usual case for a device's later calls), else when the device has answered.
   */
  connect(call: LrcCall, attributes: readonly string[]): void {
    for (let i = 0; i < attributes.length; i++) {
      if (call.closed) return;
      const sub = this.#join(call, attributes[i]);
      if (sub.unsubscribe === undefined) {
        this.#connectWhenReady(call, attributes, i, sub);
        return;
      }
    }
    call.send(SUBSCRIBED);
  }

  /**
   * `connect` from the subscription of `attributes[i]`, being made (or failed): the rest in turn, each once its
   * subscription has answered (as `await`ing its `ready` would, without an async frame: the calls waiting for one
   * subscription are woken in order by its one reaction, no promise or closure per call).
   */
  #connectWhenReady(call: LrcCall, attributes: readonly string[], i: number, sub: SharedSubscription): void {
    if (sub.waiters !== null) sub.waiters.push(call, attributes, i);
    else sub.ready.then((failure) => this.#subscriptionReady(call, attributes, i, failure));
  }

  /** `sub` answered: the calls waiting for it go on, in the order they came (one's failure is not the others'). */
  #wake(sub: SharedSubscription, failure: { error: unknown } | undefined): void {
    const w = sub.waiters!;
    sub.waiters = null;
    for (let k = 0; k < w.length; k += 3) {
      try {
        this.#subscriptionReady(w[k] as LrcCall, w[k + 1] as readonly string[], w[k + 2] as number, failure);
      } catch (err) {
        // as a reaction of its own would: unhandled, the other calls still woken
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  #subscriptionReady(
    call: LrcCall,
    attributes: readonly string[],
    i: number,
    failure: { error: unknown } | undefined,
  ): void {
    if (failure) {
      this.forgetNegotiation();
      call.send({ type: 'SUBSCRIBE_FAILED', attribute: attributes[i], error: failure.error });
      return;
    }
    if (++i >= attributes.length) {
      call.send(SUBSCRIBED);
      return;
    }
    if (call.closed) return;
    this.#connectWhenReady(call, attributes, i, this.#join(call, attributes[i]));
  }

  /** `call` joins the subscription of `attribute`, made now if there is none (it gets even the first event). */
  #join(call: LrcCall, attribute: string): SharedSubscription {
    const existing = this.#subs.get(attribute);
    if (existing) {
      this.#add(call, existing);
      return existing;
    }
    // made before subscribing: the device may send the first event before it answers
    const sub: SharedSubscription = {
      attribute,
      calls: new Set(),
      ready: Promise.resolve(undefined),
      waiters: [],
      waiting: 0,
      kept: new KeptEvents(MAX_BUFFERED_EVENTS),
      prevStatus: null,
      settled: [],
      noDiff: false,
    };
    this.#subs.set(attribute, sub);
    this.#add(call, sub);
    const onEvent = (raw: AttributeEvent) => this.#route(sub, raw);
    sub.ready = attempt(() => this.device.subscribeChangeEvent(attribute, onEvent)).then(
      (unsubscribe) => {
        if (typeof unsubscribe !== 'function') {
          const desc = `subscribeChangeEvent('${attribute}') answered ${describeValue(unsubscribe)}, not an unsubscribe function`;
          return this.#failed(sub, portFault('SKA_InvalidSubscription', desc, this.device.name));
        }
        if (sub.calls.size === 0) {
          // every call left while it was being made
          if (this.#subs.get(attribute) === sub) this.#subs.delete(attribute);
          unsubscribeQuietly(unsubscribe);
          return undefined;
        }
        sub.unsubscribe = unsubscribe;
        return undefined;
      },
      (error) => this.#failed(sub, error),
    );
    sub.ready.then((failure) => this.#wake(sub, failure));
    return sub;
  }

  #add(call: LrcCall, sub: SharedSubscription): void {
    sub.calls.add(call);
    sub.waiting++;
    // arrays of their size (a call has one to three): `push` onto an empty array reserves 17 places
    call.subs = appended(call.subs, sub);
    call.since = appended(call.since, this.#seq);
    // (a call joins before it knows its id: only a call joining late would need this)
    if (call.commandId !== undefined) unsettle([sub], call.commandId);
  }

  /** A subscription that could not be made: forgotten (the next call tries again); its calls are told. */
  #failed(sub: SharedSubscription, error: unknown): { error: unknown } {
    if (this.#subs.get(sub.attribute) === sub) this.#subs.delete(sub.attribute);
    return { error };
  }

  /** One change event of a shared subscription, to the calls it concerns. */
  #route(sub: SharedSubscription, raw: AttributeEvent): void {
    if (sub.calls.size === 0) return;
    const event = wellFormed(raw, this.device.name);
    if (event.errors) {
      this.forgetNegotiation();
      // one event object for every call (events are never changed)
      const shared: LrcEvent = { type: 'DEVICE_EVENT', event };
      for (const call of [...sub.calls]) call.send(shared);
      return;
    }
    const seq = ++this.#seq;
    if (sub.waiting > 0) sub.kept.push(seq, event);
    const value = event.value;
    if (!Array.isArray(value) || this.#byId.size === 0) return;
    // v1 status events repeat every command's status: a call is not sent a status it was already given
    const isStatus = isStatusAttribute(event.attribute);
    if (isStatus && !sub.noDiff) {
      routeStatusList(sub, event, value, seq, this.#lookup);
      return;
    }
    let shared: LrcEvent | undefined;
    for (let i = 0; i < value.length; i += 2) {
      const id = value[i];
      if (typeof id !== 'string') continue;
      for (let call = this.#byId.get(id); call; call = call.sameId) {
        // (a call is in `sub.calls` exactly when `sub` is in its `subs`: one, or a few, to look through)
        if (call.routed === seq || !call.subs.includes(sub)) continue;
        call.routed = seq;
        // the first pair naming `id` (as `pairedValue` finds it): this call is routed once per event
        if (isStatus && call.repeatsRawStatus(value[i + 1])) continue;
        shared ??= { type: 'DEVICE_EVENT', event };
        call.send(shared);
      }
    }
  }

  readonly #lookup = (id: string): LrcCall | undefined => this.#byId.get(id);

  invoke(call: LrcCall): void {
    attempt(() => this.device.commandInout(call.command, call.args)).then(
      (raw) => {
        if (call.closed) return;
        let reply: LrcReply | null;
        try {
          reply = parseLrcReply(raw); // the one parse of the reply
        } catch (error) {
          // a reply that throws when read (a getter, a revoked Proxy): a failed invocation, not a reaction that
          // rejects unhandled and leaves the call waiting for ever
          call.send({ type: 'INVOKE_FAILED', error });
          return;
        }
        const id = reply?.commandId;
        const held = id === undefined ? [] : heldEvents(call.subs, call.since, id);
        this.#stopWaiting(call);
        if (id !== undefined) {
          call.commandId = id;
          call.sameId = this.#byId.get(id);
          this.#byId.set(id, call);
          unsettle(call.subs, id);
          // v1 status repeats dropped as live routing drops them (the last valid status remembered)
          let kept = 0;
          for (let i = 0; i < held.length; i++) if (!call.repeatsStatus(held[i], id)) held[kept++] = held[i];
          held.length = kept;
        }
        call.send({ type: 'INVOKED', reply, held });
      },
      (error) => {
        this.forgetNegotiation();
        call.send({ type: 'INVOKE_FAILED', error });
      },
    );
  }

  #stopWaiting(call: LrcCall): void {
    if (!call.waiting) return;
    call.waiting = false;
    const subs = call.subs;
    for (let i = 0; i < subs.length; i++) if (--subs[i].waiting === 0) subs[i].kept.clear();
  }

  checkStatus(call: LrcCall, commandId: string): void {
    attempt(() => this.device.commandInout(CHECK_STATUS_COMMAND, commandId)).then(
      (answer) => {
        const status = toTaskStatus(answer);
        if (status !== undefined) return call.send({ type: 'STATUS_CHECKED', status });
        const desc = `${CHECK_STATUS_COMMAND} answered ${describeValue(answer)}, not a task status`;
        call.send({
          type: 'STATUS_CHECK_FAILED',
          error: portFault('SKA_InvalidTaskStatus', desc, this.device.name),
        });
      },
      (error) => {
        this.forgetNegotiation();
        call.send({ type: 'STATUS_CHECK_FAILED', error });
      },
    );
  }

  readResult(call: LrcCall): void {
    attempt(() => this.device.readAttribute(LRC_ATTRIBUTES.result)).then(
      (value) => call.send({ type: 'RESULT_READ', value }),
      (error) => {
        this.forgetNegotiation();
        call.send({ type: 'RESULT_FAILED', error });
      },
    );
  }

  /** `call` is closed: out of the id map and of its subscriptions; a subscription left without calls ends. */
  release(call: LrcCall): void {
    this.#calls--;
    // a cached call ending before it subscribed waited for the session's negotiation (its deadline, say): one still
    // unanswered is not kept, or every later call would wait on a request the device may never answer
    if (call.cacheNegotiation && call.subs.length === 0 && this.#negotiation?.versions === undefined)
      this.#negotiation = undefined;
    this.#stopWaiting(call);
    const id = call.commandId;
    if (id !== undefined) {
      let prev: LrcCall | undefined;
      for (let c = this.#byId.get(id); c; prev = c, c = c.sameId) {
        if (c !== call) continue;
        if (prev) prev.sameId = c.sameId;
        else if (c.sameId) this.#byId.set(id, c.sameId);
        else this.#byId.delete(id);
        break;
      }
      unsettle(call.subs, id);
    }
    const subs = call.subs;
    call.subs = [];
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i];
      sub.calls.delete(call);
      if (sub.calls.size) continue; // still shared
      // the last call on it: forgotten, so the next call makes a subscription of its own rather than wait on one
      // that may never answer; one still being made is ended when it answers (`#join`)
      if (this.#subs.get(sub.attribute) === sub) this.#subs.delete(sub.attribute);
      if (sub.unsubscribe) unsubscribeQuietly(sub.unsubscribe);
    }
  }
}

/** A copy of `list` with `item` after its elements, of its exact size. */
function appended<T>(list: readonly T[], item: T): T[] {
  const n = list.length;
  if (n === 0) return [item];
  const out = new Array<T>(n + 1);
  for (let i = 0; i < n; i++) out[i] = list[i];
  out[n] = item;
  return out;
}

/** The cached protocol versions of `device`: (min, max), null (none), or undefined when not known. */
export function cachedLrcNegotiation(device: DevicePort): Versions | undefined {
  return LrcDeviceSession.existing(device)?.cachedVersions;
}

/** Drop the cached protocol versions of `device` (e.g. after it restarted); the next call negotiates again. */
export function forgetLrcNegotiation(device: DevicePort): void {
  LrcDeviceSession.existing(device)?.forgetNegotiation();
}
