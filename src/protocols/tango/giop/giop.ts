/**
 * GIOP 1.0/1.1/1.2 messages: the 12-byte header, Request and Reply (both header layouts), service contexts,
 * CancelRequest, LocateRequest/LocateReply, CloseConnection, MessageError and Fragment, decoded from one complete
 * message (see `framer.ts` for the byte stream and fragment reassembly, `giopEncode.ts` for encoding).
 *
 * A decoded Request/Reply keeps its body as a `CdrReader` positioned at the first body byte, alignment counted
 * from the first byte of the GIOP header (GIOP 1.2 bodies start 8-aligned; an empty body may stop short).
 */
import { CdrReader } from './cdr.js';
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
