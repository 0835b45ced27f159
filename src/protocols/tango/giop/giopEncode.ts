/**
 * GIOP 1.0/1.1/1.2 messages encoded: Request and Reply with a body writer (GIOP 1.2 bodies 8-aligned, no padding
 * when empty), CancelRequest, LocateRequest/LocateReply, CloseConnection, MessageError, system exception bodies,
 * and the splitting of a GIOP 1.2 message into fragments as omniORB sends large replies.
 */
import { CdrWriter } from './cdr.js';
import { GiopProtocolError, type GiopSystemException } from './errors.js';
import {
  decodeHeader,
  GIOP_HEADER_SIZE,
  MSG_TYPE,
  RESPONSE_FLAGS_TWOWAY,
  type ServiceContext,
} from './giop.js';

export type BodyWriter = (w: CdrWriter) => void;

export interface RequestFields {
  minor: number;
  requestId: number;
  responseExpected: boolean;
  /** GIOP 1.2 only; default 3 (two-way) or 0 (oneway). */
  responseFlags?: number;
  objectKey: Uint8Array;
  operation: string;
  serviceContexts?: readonly ServiceContext[];
  /** GIOP 1.0/1.1 only; default empty. */
  principal?: Uint8Array;
  littleEndian?: boolean;
}

function begin(minor: number, type: number, littleEndian: boolean, flags = 0): CdrWriter {
  if (minor < 0 || minor > 2) throw new GiopProtocolError(`unsupported GIOP minor version ${minor}`);
  const w = new CdrWriter(littleEndian);
  w.octets(HEADER_MAGIC);
  w.octet(1);
  w.octet(minor);
  w.octet((littleEndian ? 1 : 0) | flags);
  w.octet(type);
  w.ulong(0);
  return w;
}
const HEADER_MAGIC = new Uint8Array([0x47, 0x49, 0x4f, 0x50]);

function end(w: CdrWriter): Uint8Array {
  w.patchUlong(8, w.pos - GIOP_HEADER_SIZE);
  return w.finish();
}

/** GIOP 1.2 bodies are 8-aligned, but an empty body adds no padding. */
function writeBody12(w: CdrWriter, body: BodyWriter | undefined): void {
  if (body === undefined) return;
  const before = w.pos;
  w.align(8);
  const aligned = w.pos;
  body(w);
  if (w.pos === aligned) w.pos = before;
}

function writeServiceContexts(w: CdrWriter, contexts: readonly ServiceContext[]): void {
  w.seq(contexts, (c, sc) => {
    c.ulong(sc.id);
    c.octetSeq(sc.data);
  });
}

export function encodeRequest(f: RequestFields, body?: BodyWriter): Uint8Array {
  const w = begin(f.minor, MSG_TYPE.Request, f.littleEndian ?? true);
  const contexts = f.serviceContexts ?? [];
  if (f.minor < 2) {
    writeServiceContexts(w, contexts);
    w.ulong(f.requestId);
    w.boolean(f.responseExpected);
    w.octetSeq(f.objectKey);
    w.string(f.operation);
    w.octetSeq(f.principal ?? new Uint8Array(0));
    body?.(w);
  } else {
    w.ulong(f.requestId);
    w.octet(f.responseFlags ?? (f.responseExpected ? RESPONSE_FLAGS_TWOWAY : 0));
    w.octets(RESERVED);
    w.short(0);
    w.octetSeq(f.objectKey);
    w.string(f.operation);
    writeServiceContexts(w, contexts);
    writeBody12(w, body);
  }
  return end(w);
}
const RESERVED = new Uint8Array(3);

export interface ReplyFields {
  minor: number;
  requestId: number;
  status: number;
  serviceContexts?: readonly ServiceContext[];
  littleEndian?: boolean;
}

export function encodeReply(f: ReplyFields, body?: BodyWriter): Uint8Array {
  const w = begin(f.minor, MSG_TYPE.Reply, f.littleEndian ?? true);
  const contexts = f.serviceContexts ?? [];
  if (f.minor < 2) {
    writeServiceContexts(w, contexts);
    w.ulong(f.requestId);
    w.ulong(f.status);
    body?.(w);
  } else {
    w.ulong(f.requestId);
    w.ulong(f.status);
    writeServiceContexts(w, contexts);
    writeBody12(w, body);
  }
  return end(w);
}

export function encodeCancelRequest(minor: number, requestId: number, littleEndian = true): Uint8Array {
  const w = begin(minor, MSG_TYPE.CancelRequest, littleEndian);
  w.ulong(requestId);
  return end(w);
}

export function encodeLocateRequest(
  minor: number,
  requestId: number,
  objectKey: Uint8Array,
  littleEndian = true,
): Uint8Array {
  const w = begin(minor, MSG_TYPE.LocateRequest, littleEndian);
  w.ulong(requestId);
  if (minor >= 2) w.short(0);
  w.octetSeq(objectKey);
  return end(w);
}

export function encodeLocateReply(
  minor: number,
  requestId: number,
  status: number,
  body?: BodyWriter,
  littleEndian = true,
): Uint8Array {
  const w = begin(minor, MSG_TYPE.LocateReply, littleEndian);
  w.ulong(requestId);
  w.ulong(status);
  body?.(w);
  return end(w);
}

export function encodeCloseConnection(minor: number, littleEndian = true): Uint8Array {
  return end(begin(minor, MSG_TYPE.CloseConnection, littleEndian));
}

export function encodeMessageError(minor: number, littleEndian = true): Uint8Array {
  return end(begin(minor, MSG_TYPE.MessageError, littleEndian));
}

/** The body of a SYSTEM_EXCEPTION reply. */
export function writeSystemException(w: CdrWriter, e: GiopSystemException): void {
  w.string(e.repoId);
  w.ulong(e.minor);
  w.ulong(['COMPLETED_YES', 'COMPLETED_NO', 'COMPLETED_MAYBE'].indexOf(e.completed));
}

/**
 * Splits a complete GIOP 1.2 Request or Reply into a first message flagged "more fragments" and Fragment
 * messages, as omniORB does for large replies. Each piece but the last carries a multiple of 8 body bytes
 * (`chunk` is rounded down to one), so the reassembled stream keeps its CDR alignment.
 */
export function splitIntoFragments(message: Uint8Array, chunk: number): Uint8Array[] {
  const h = decodeHeader(message);
  if (h.minor !== 2 || (h.type !== 'Request' && h.type !== 'Reply')) {
    throw new GiopProtocolError('only GIOP 1.2 Requests and Replies are fragmented here');
  }
  const step = Math.max(8, chunk - (chunk % 8));
  const body = message.subarray(GIOP_HEADER_SIZE);
  if (body.length <= step) return [message];
  const requestId = new DataView(body.buffer, body.byteOffset, 4).getUint32(0, h.littleEndian);
  const pieces: Uint8Array[] = [];
  const first = new Uint8Array(GIOP_HEADER_SIZE + step);
  first.set(message.subarray(0, GIOP_HEADER_SIZE + step));
  first[6] |= 2;
  new DataView(first.buffer).setUint32(8, step, h.littleEndian);
  pieces.push(first);
  for (let at = step; at < body.length; at += step) {
    const data = body.subarray(at, Math.min(body.length, at + step));
    const more = at + step < body.length;
    const w = begin(2, MSG_TYPE.Fragment, h.littleEndian, more ? 2 : 0);
    w.ulong(requestId);
    w.octets(data);
    pieces.push(end(w));
  }
  return pieces;
}
