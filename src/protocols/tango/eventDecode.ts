/**
 * Tango's ZMQ events, decoded (pure functions, no I/O):
 *
 * - `ZmqEventSubscriptionChange` arguments and its `DevVarLongStringArray` answer (endpoints, topic, channel);
 * - the messages of the event and heartbeat PUB sockets: 4 frames for an event (topic, one endianness byte,
 *   `ZmqCallInfo` CDR, payload), 3 for a heartbeat (topic `<channel>.heartbeat`, endianness, `ZmqCallInfo` whose
 *   counter is garbage); anything else (the 1-frame "I like beer" a server publishes on reconnection) is ignored;
 * - the payload: 4 pad bytes `c0 de c0 de` then the CDR value with its alignment origin 4 bytes before the frame:
 *   an `AttributeValue_5` for `idl5_*` value events, a `DevErrorList` when `call_is_except`.
 *
 * Malformed messages raise `GiopProtocolError`.
 */
import type { DevError } from './errors.js';
import { CdrReader } from './giop/cdr.js';
import { GiopProtocolError } from './giop/errors.js';
import { type AttributeValue5, readAttributeValue5, readDevErrorList } from './giop/tangoTypes.js';

/** The endpoints and names `ZmqEventSubscriptionChange` answers with. */
export interface EventChannelInfo {
  /** cppTango release (934 for 9.3.4). */
  tangoRelease: number;
  deviceIdl: number;
  heartbeatEndpoint: string;
  eventEndpoint: string;
  /** Further (heartbeat, event) endpoint pairs (servers publishing on several interfaces). */
  alternates: [string, string][];
  /** The event topic, as the server spells it (its host name, lower case). */
  topic: string;
  /** The server's channel name: heartbeat topics start with it. */
  channel: string;
}

/** `ZmqEventSubscriptionChange` argument: `[device, attribute, action, event, client IDL version]`. */
export function subscriptionChangeArgs(
  device: string,
  attribute: string,
  action: 'subscribe' | 'unsubscribe',
  eventName = 'change',
): string[] {
  return [device, attribute, action, eventName, '5'];
}

/** `EventConfirmSubscription` argument: `[device, attribute, idl5_<event>, ...]` (one triple per subscription). */
export function confirmSubscriptionArgs(
  subscriptions: readonly { device: string; attribute: string; eventName?: string }[],
): string[] {
  return subscriptions.flatMap((s) => [
    s.device,
    s.attribute.toLowerCase(),
    `idl5_${s.eventName ?? 'change'}`,
  ]);
}

/** Reads the answer of `ZmqEventSubscriptionChange` (Tango 9.3.3 and later: topic and channel included). */
export function parseSubscriptionReply(
  lvalue: readonly number[],
  svalue: readonly string[],
): EventChannelInfo {
  if (svalue.length < 4 || svalue.length % 2 !== 0) {
    throw new GiopProtocolError(
      `ZmqEventSubscriptionChange answered ${svalue.length} strings, not endpoints, topic and channel`,
    );
  }
  const endpoints = svalue.slice(0, -2);
  const pairs: [string, string][] = [];
  for (let i = 0; i < endpoints.length; i += 2) pairs.push([endpoints[i], endpoints[i + 1]]);
  if (!pairs.every(([h, e]) => h.startsWith('tcp://') && e.startsWith('tcp://'))) {
    throw new GiopProtocolError(
      `ZmqEventSubscriptionChange answered bad endpoints ${JSON.stringify(endpoints)}`,
    );
  }
  return {
    tangoRelease: lvalue[0] ?? 0,
    deviceIdl: lvalue[1] ?? 0,
    heartbeatEndpoint: pairs[0][0],
    eventEndpoint: pairs[0][1],
    alternates: pairs.slice(1),
    topic: svalue[svalue.length - 2],
    channel: svalue[svalue.length - 1],
  };
}

/** `ZmqCallInfo`: `long version | ulong ctr | string method_name | seq<octet> oid | boolean call_is_except`. */
export interface ZmqCallInfo {
  version: number;
  ctr: number;
  methodName: string;
  isExcept: boolean;
}

export type ZmqMessage =
  | { kind: 'heartbeat'; topic: string }
  | {
      kind: 'event';
      topic: string;
      ctr: number;
      /** The payload frame (for de-duplication by bytes when the counter is 0). */
      payload: Uint8Array;
      value?: AttributeValue5;
      errors?: DevError[];
    }
  | { kind: 'ignored'; reason: string };

const latin1 = new TextDecoder('latin1');
const HEARTBEAT_SUFFIX = '.heartbeat';
const PAYLOAD_MAGIC = 0xdec0dec0;
/** The IDL 5 events whose payload is an `AttributeValue_5`. */
const VALUE_EVENTS = new Set(['idl5_change', 'idl5_periodic', 'idl5_archive', 'idl5_user_event']);

function readCallInfo(frame: Uint8Array, littleEndian: boolean): ZmqCallInfo {
  const r = new CdrReader(frame, { littleEndian });
  const version = r.long();
  const ctr = r.ulong();
  const methodName = r.string();
  r.octetSeq();
  return { version, ctr, methodName, isExcept: r.boolean() };
}

/**
 * The topic of an event message (4 frames), as `decodeZmqMessage` reads it; undefined for any other message. Lets
 * the consumer drop an event nobody wants before decoding its payload.
 */
export function eventTopicOf(frames: readonly Uint8Array[]): string | undefined {
  return frames.length === 4 ? latin1.decode(frames[0]) : undefined;
}

/**
 * Decodes one multipart message of a Tango event or heartbeat socket; `topic` is its first frame when the caller
 * has read it already (`eventTopicOf`), so an event's topic is decoded once.
 */
export function decodeZmqMessage(
  frames: readonly Uint8Array[],
  topic: string = frames.length > 0 ? latin1.decode(frames[0]) : '',
): ZmqMessage {
  if (frames.length !== 3 && frames.length !== 4) {
    return { kind: 'ignored', reason: `a message of ${frames.length} frame(s)` };
  }
  if (frames[1].length !== 1 || frames[1][0] > 1) {
    throw new GiopProtocolError(`bad endianness frame of ${topic}`);
  }
  const littleEndian = frames[1][0] === 1;
  if (frames.length === 3) {
    if (!topic.endsWith(HEARTBEAT_SUFFIX)) return { kind: 'ignored', reason: `3 frames on topic ${topic}` };
    return { kind: 'heartbeat', topic };
  }
  const call = readCallInfo(frames[2], littleEndian);
  const payload = frames[3];
  if (payload.length < 4) throw new GiopProtocolError(`event payload of ${payload.length} bytes`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (view.getUint32(0, littleEndian) !== PAYLOAD_MAGIC) {
    throw new GiopProtocolError(`event payload of ${topic} without the 0xDEC0DEC0 pad`);
  }
  const r = new CdrReader(payload, { littleEndian, start: 4, origin: -4 });
  if (call.isExcept) return { kind: 'event', topic, ctr: call.ctr, payload, errors: readDevErrorList(r) };
  const eventName = topic.slice(topic.lastIndexOf('.') + 1);
  if (!VALUE_EVENTS.has(eventName)) return { kind: 'ignored', reason: `a ${eventName} event (${topic})` };
  return { kind: 'event', topic, ctr: call.ctr, payload, value: readAttributeValue5(r) };
}
