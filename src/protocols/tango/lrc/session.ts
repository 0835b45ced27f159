/**
 * The LRC session: the device I/O of one `lrc` machine actor (its `deviceIo`), implemented on a `DevicePort`,
 * and the per-device cache of negotiated protocol versions it shares between calls (`negotiation: 'cached'`).
 *
 *   start ──(negotiate)──► NEGOTIATED | NEGOTIATION_FAILED        (shared per device when cached)
 *   CONNECT ──► subscribeChangeEvent per attribute ──► SUBSCRIBED | SUBSCRIBE_FAILED
 *   INVOKE ──► commandInout ──► INVOKED {reply: parseLrcReply(...), held} | INVOKE_FAILED
 *   CHECK_STATUS ──► CheckLongRunningCommandStatus ──► STATUS_CHECKED | STATUS_CHECK_FAILED
 *   READ_RESULT ──► readAttribute(result) ──► RESULT_READ | RESULT_FAILED
 *   stop ──► every subscription released
 *
 * The device reply is parsed here, once, by the wire module (`parseLrcReply`); the machine gets the parsed
 * reply. Until the command id is known, value events wait here (then only those about the command go on);
 * v1 status repeats are dropped here unless `parity`. A port that throws synchronously, answers garbage or sends
 * malformed events gives typed events (a DevFailed with an `SKA_*` reason), never a crashed actor.
 */
import { fromCallback } from 'xstate';
import {
  type LrcEvent,
  type LrcIoCommand,
  type LrcIoInput,
  lrcMachine,
  MAX_BUFFERED_EVENTS,
} from '../../../../machines/tango/lrc.js';
import { type DevError, DevFailed } from '../errors.js';
import type { AttributeEvent, DevicePort, Unsubscribe } from '../port.js';
import {
  describeValue,
  LRC_ATTRIBUTES,
  pairedValue,
  pairIndex,
  parseLrcReply,
  toTaskStatus,
} from '../wire.js';

type Versions = readonly [number, number] | null;

/**
 * Protocol versions per device, for calls with `negotiation: 'cached'` (newer ska-tango-base negotiates once per
 * connection with `connect_lrc_interface`). One entry per device (weakly held): concurrent calls share a pending
 * negotiation. An entry is dropped when a call on that device fails with a transport error (negotiation,
 * subscription, invocation or result read), when an error event arrives (the device may have restarted), and by
 * `forget()`. A failed negotiation is never kept.
 */
class NegotiationCache {
  readonly #entries = new WeakMap<DevicePort, { versions?: Versions; pending: Promise<Versions> }>();

  /** The versions known for `device`: (min, max), null (none), or undefined when not known. */
  versionsOf(device: DevicePort): Versions | undefined {
    return this.#entries.get(device)?.versions;
  }

  /** The negotiation of `device`: the pending or settled one in the cache, or `negotiate()` kept until it fails. */
  share(device: DevicePort, negotiate: () => Promise<Versions>): Promise<Versions> {
    const cached = this.#entries.get(device);
    if (cached) return cached.pending;
    const entry: { versions?: Versions; pending: Promise<Versions> } = { pending: negotiate() };
    this.#entries.set(device, entry);
    entry.pending.then(
      (versions) => {
        entry.versions = versions;
      },
      () => {
        if (this.#entries.get(device) === entry) this.#entries.delete(device);
      },
    );
    return entry.pending;
  }

  forget(device: DevicePort): void {
    this.#entries.delete(device);
  }
}

const negotiations = new NegotiationCache();

/** The cached protocol versions of `device`: (min, max), null (none), or undefined when not known. */
export function cachedLrcNegotiation(device: DevicePort): Versions | undefined {
  return negotiations.versionsOf(device);
}

/** Drop the cached protocol versions of `device` (e.g. after it restarted); the next call negotiates again. */
export function forgetLrcNegotiation(device: DevicePort): void {
  negotiations.forget(device);
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
async function readProtocolVersions(device: DevicePort): Promise<Versions> {
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

const STATUS_ATTRIBUTE = LRC_ATTRIBUTES.status.toLowerCase();
/** ska-tango-base's command answering a command id's status name (NOT_FOUND once forgotten). */
const CHECK_STATUS_COMMAND = 'CheckLongRunningCommandStatus';

/** Whether an event may concern `commandId`: error events, or an LRC spectrum with that id at an even index. */
function mentions(event: AttributeEvent, commandId: string): boolean {
  return event.errors !== undefined || pairIndex(event.value, commandId) >= 0;
}

/** The device I/O of one `lrc` machine actor (its `deviceIo`), on the input's DevicePort. */
export const lrcSession = fromCallback<LrcIoCommand, LrcIoInput, LrcEvent>(({ input, sendBack, receive }) => {
  const { device } = input;
  let closed = false;
  const send = (event: LrcEvent) => {
    if (!closed) sendBack(event);
  };
  const forget = () => {
    if (input.cacheNegotiation) negotiations.forget(device);
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
    const raw = pairedValue(event.value, id);
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
      (raw) => {
        if (closed) return;
        const reply = parseLrcReply(raw); // the one parse of the reply
        const id = reply?.commandId;
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
    const negotiate = () => readProtocolVersions(device);
    const pending = input.cacheNegotiation ? negotiations.share(device, negotiate) : negotiate();
    pending.then(
      (versions) => send({ type: 'NEGOTIATED', versions }),
      (error) => send({ type: 'NEGOTIATION_FAILED', error }),
    );
  }
  return () => {
    closed = true;
    for (const u of unsubscribes.splice(0)) release(u);
  };
});

/** The `lrc` machine with its device I/O: what the facades spawn, one actor per call. */
export const lrcLogic = lrcMachine.provide({ actors: { deviceIo: lrcSession } });
