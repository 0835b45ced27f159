/**
 * GIOP 1.0/1.1/1.2 messages: the 12-byte header, Request and Reply (both header layouts), service contexts,
 * CancelRequest, LocateRequest/LocateReply, CloseConnection, MessageError and Fragment, decoded from one complete
 * message (see `framer.ts` for the byte stream and fragment reassembly) and encoded into one.
 *
 * A decoded Request/Reply keeps its body as a `CdrReader` positioned at the first body byte, alignment counted
 * from the first byte of the GIOP header (GIOP 1.2 bodies start 8-aligned; an empty body may stop short).
 */
import { CdrReader, CdrWriter } from './cdr.js';
import { type CompletionStatus, GiopProtocolError, GiopSystemException } from './errors.js';

export const GIOP_HEADER_SIZE = 12;

export const MSG_TYPE = {
  Request: 0,
  Reply: 1,
  CancelRequest: 2,
  LocateRequest: 3,
  LocateReply: 4,
  CloseConnection: 5,
  MessageError: 6,
  Fragment: 7,
} as const;
export type MsgTypeName = keyof typeof MSG_TYPE;
const MSG_TYPE_NAMES = Object.keys(MSG_TYPE) as MsgTypeName[];

export const REPLY_STATUS = {
  NO_EXCEPTION: 0,
  USER_EXCEPTION: 1,
  SYSTEM_EXCEPTION: 2,
  LOCATION_FORWARD: 3,
  LOCATION_FORWARD_PERM: 4,
  NEEDS_ADDRESSING_MODE: 5,
} as const;

export const LOCATE_STATUS = {
  UNKNOWN_OBJECT: 0,
  OBJECT_HERE: 1,
  OBJECT_FORWARD: 2,
  OBJECT_FORWARD_PERM: 3,
  LOC_SYSTEM_EXCEPTION: 4,
  LOC_NEEDS_ADDRESSING_MODE: 5,
} as const;

/** GIOP 1.2 response_flags for a two-way call (SYNC_WITH_TARGET), as omniORB sends. */
export const RESPONSE_FLAGS_TWOWAY = 3;

export interface GiopHeader {
  minor: number;
  littleEndian: boolean;
  moreFragments: boolean;
  type: MsgTypeName;
  /** Body size (bytes after the 12-byte header). */
  size: number;
}

/** Decodes and validates the 12-byte header at `offset`. */
export function decodeHeader(bytes: Uint8Array, offset = 0): GiopHeader {
  if (bytes.length - offset < GIOP_HEADER_SIZE) throw new GiopProtocolError('truncated GIOP header');
  if (
    bytes[offset] !== 0x47 ||
    bytes[offset + 1] !== 0x49 ||
    bytes[offset + 2] !== 0x4f ||
    bytes[offset + 3] !== 0x50
  ) {
    throw new GiopProtocolError('bad GIOP magic');
  }
  const major = bytes[offset + 4];
  const minor = bytes[offset + 5];
  if (major !== 1 || minor > 2) throw new GiopProtocolError(`unsupported GIOP version ${major}.${minor}`);
  const flags = bytes[offset + 6];
  const typeNumber = bytes[offset + 7];
  const type = MSG_TYPE_NAMES[typeNumber];
  if (type === undefined) throw new GiopProtocolError(`unknown GIOP message type ${typeNumber}`);
  if (type === 'Fragment' && minor === 0) throw new GiopProtocolError('GIOP 1.0 has no Fragment message');
  const littleEndian = (flags & 1) === 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, GIOP_HEADER_SIZE);
  return {
    minor,
    littleEndian,
    moreFragments: minor > 0 && (flags & 2) === 2,
    type,
    size: view.getUint32(8, littleEndian),
  };
}

export interface ServiceContext {
  id: number;
  data: Uint8Array;
}

interface Common {
  minor: number;
  littleEndian: boolean;
}
export interface GiopRequest extends Common {
  type: 'Request';
  requestId: number;
  responseExpected: boolean;
  /** GIOP 1.2 response_flags (1.0/1.1: 3 when a response is expected, else 0). */
  responseFlags: number;
  objectKey: Uint8Array;
  operation: string;
  serviceContexts: ServiceContext[];
  /** GIOP 1.0/1.1 requesting_principal (empty in 1.2). */
  principal: Uint8Array;
  body: CdrReader;
}
export interface GiopReply extends Common {
  type: 'Reply';
  requestId: number;
  status: number;
  serviceContexts: ServiceContext[];
  body: CdrReader;
}
export interface GiopCancelRequest extends Common {
  type: 'CancelRequest';
  requestId: number;
}
export interface GiopLocateRequest extends Common {
  type: 'LocateRequest';
  requestId: number;
  objectKey: Uint8Array;
}
export interface GiopLocateReply extends Common {
  type: 'LocateReply';
  requestId: number;
  status: number;
  body: CdrReader;
}
export interface GiopCloseConnection extends Common {
  type: 'CloseConnection';
}
export interface GiopMessageError extends Common {
  type: 'MessageError';
}
export interface GiopFragment extends Common {
  type: 'Fragment';
  moreFragments: boolean;
  /** GIOP 1.2 fragments name their request; 1.1 fragments do not (undefined). */
  requestId: number | undefined;
  data: Uint8Array;
}
export type GiopMessage =
  | GiopRequest
  | GiopReply
  | GiopCancelRequest
  | GiopLocateRequest
  | GiopLocateReply
  | GiopCloseConnection
  | GiopMessageError
  | GiopFragment;

export interface DecodeOptions {
  /** Record skipped padding ranges (tests compare re-encodings with padding masked). */
  padding?: number[];
}

/**
 * Decodes one complete, unfragmented GIOP message (`bytes` = header + body, nothing after). A Request or Reply
 * whose header announces more fragments must go through `FragmentAssembler` first.
 */
export function decodeMessage(bytes: Uint8Array, options: DecodeOptions = {}): GiopMessage {
  const h = decodeHeader(bytes);
  if (bytes.length !== GIOP_HEADER_SIZE + h.size) {
    throw new GiopProtocolError(`GIOP message of ${bytes.length} bytes announces ${h.size} body bytes`);
  }
  const r = new CdrReader(bytes, {
    littleEndian: h.littleEndian,
    start: GIOP_HEADER_SIZE,
    origin: 0,
    padding: options.padding,
  });
  const common = { minor: h.minor, littleEndian: h.littleEndian };
  switch (h.type) {
    case 'Request': {
      if (h.moreFragments) throw new GiopProtocolError('fragmented Request must be reassembled first');
      if (h.minor < 2) {
        const serviceContexts = readServiceContexts(r);
        const requestId = r.ulong();
        const responseExpected = r.boolean();
        const objectKey = r.octetSeq();
        const operation = r.string();
        const principal = r.octetSeq();
        return {
          type: 'Request',
          ...common,
          requestId,
          responseExpected,
          responseFlags: responseExpected ? RESPONSE_FLAGS_TWOWAY : 0,
          objectKey,
          operation,
          serviceContexts,
          principal,
          body: r,
        };
      }
      const requestId = r.ulong();
      const responseFlags = r.octet();
      r.octets(3);
      const objectKey = readTargetAddress(r);
      const operation = r.string();
      const serviceContexts = readServiceContexts(r);
      r.alignIfData(8);
      return {
        type: 'Request',
        ...common,
        requestId,
        responseExpected: (responseFlags & 1) === 1,
        responseFlags,
        objectKey,
        operation,
        serviceContexts,
        principal: new Uint8Array(0),
        body: r,
      };
    }
    case 'Reply': {
      if (h.moreFragments) throw new GiopProtocolError('fragmented Reply must be reassembled first');
      if (h.minor < 2) {
        const serviceContexts = readServiceContexts(r);
        const requestId = r.ulong();
        const status = readStatus(r, 5);
        return { type: 'Reply', ...common, requestId, status, serviceContexts, body: r };
      }
      const requestId = r.ulong();
      const status = readStatus(r, 6);
      const serviceContexts = readServiceContexts(r);
      r.alignIfData(8);
      return { type: 'Reply', ...common, requestId, status, serviceContexts, body: r };
    }
    case 'CancelRequest':
      return { type: 'CancelRequest', ...common, requestId: r.ulong() };
    case 'LocateRequest': {
      const requestId = r.ulong();
      const objectKey = h.minor < 2 ? r.octetSeq() : readTargetAddress(r);
      return { type: 'LocateRequest', ...common, requestId, objectKey };
    }
    case 'LocateReply': {
      const requestId = r.ulong();
      const status = readStatus(r, 6);
      return { type: 'LocateReply', ...common, requestId, status, body: r };
    }
    case 'CloseConnection':
    case 'MessageError':
      if (h.size !== 0) throw new GiopProtocolError(`${h.type} with a body of ${h.size} bytes`);
      return { type: h.type, ...common };
    case 'Fragment': {
      const requestId = h.minor >= 2 ? r.ulong() : undefined;
      return {
        type: 'Fragment',
        ...common,
        moreFragments: h.moreFragments,
        requestId,
        data: r.octets(r.remaining),
      };
    }
  }
}

function readStatus(r: CdrReader, limit: number): number {
  const status = r.ulong();
  if (status >= limit) throw new GiopProtocolError(`unknown reply status ${status}`);
  return status;
}

function readServiceContexts(r: CdrReader): ServiceContext[] {
  return r.seq(8, (c) => ({ id: c.ulong(), data: c.octetSeq() }));
}

function readTargetAddress(r: CdrReader): Uint8Array {
  const disc = r.short();
  if (disc !== 0)
    throw new GiopProtocolError(`unsupported GIOP 1.2 TargetAddress kind ${disc} (only KeyAddr)`);
  return r.octetSeq();
}

/** The body of a SYSTEM_EXCEPTION reply as an error. */
export function readSystemException(r: CdrReader): GiopSystemException {
  const repoId = r.string();
  const minor = r.ulong();
  const completedNumber = r.ulong();
  const completed: CompletionStatus[] = ['COMPLETED_YES', 'COMPLETED_NO', 'COMPLETED_MAYBE'];
  const c = completed[completedNumber];
  if (c === undefined) throw new GiopProtocolError(`bad completion status ${completedNumber}`);
  return new GiopSystemException(repoId, minor, c);
}

// ---------------------------------------------------------------------------------------------- encoding

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
