/**
 * One builder per Channel Access message (caProto.h; header field use from caproto `_commands.py` and rsrv
 * `camessage.c`), each returning the encoded bytes, and the readers of command payloads. Pure.
 *
 * Notation of the comments: `(command, payloadSize, dataType, count, p1, p2) + payload`.
 *
 * Differences from upstream, on purpose: `versionResponse()` sends caproto's `(0,0,1,13,1,0)` (rsrv sends zeros
 * there; only the minor version in `count` matters); names (SEARCH, CREATE_CHAN, HOST_NAME, CLIENT_NAME) are
 * latin1 bytes + NUL padded to 8; an empty or over-long (> 500 bytes) PV name is refused with CaValueError before
 * anything is sent.
 */
import {
  CA_MINOR_VERSION,
  Command,
  dbrName,
  MAX_PV_NAME_SIZE,
  SEARCH_DO_REPLY,
  SEARCH_DONT_REPLY,
} from './constants.js';
import { CaProtocolError, CaValueError } from './errors.js';
import {
  type CaFrame,
  type CaHeader,
  EXTENDED_HEADER_SIZE,
  EXTENDED_MARKER,
  encodeFrame,
  HEADER_SIZE,
} from './frame.js';

const NO_IP = 0xffffffff;

function build(
  command: number,
  dataType: number,
  count: number,
  p1: number,
  p2: number,
  payload?: Uint8Array,
) {
  return encodeFrame({ command, dataType, count, p1, p2 }, payload);
}

/** `text` as latin1 bytes + NUL (padding to 8 is the frame's). */
function nulTerminated(text: string): Buffer {
  const bytes = Buffer.alloc(Buffer.byteLength(text, 'latin1') + 1);
  bytes.write(text, 0, 'latin1');
  return bytes;
}

function pvName(name: string): Buffer {
  if (typeof name !== 'string' || name.length === 0)
    throw new CaValueError('a PV name must be a non-empty string');
  if (name.includes('\0')) throw new CaValueError(`PV name ${JSON.stringify(name)} contains a NUL`);
  // latin-1 strictly (as caproto's encode): Buffer's 'latin1' would keep the low byte of U+0100 and above, and
  // so search for another name
  if (/[\u0100-\uffff]/.test(name)) {
    throw new CaValueError(`PV name ${JSON.stringify(name)} is not latin-1`);
  }
  const bytes = nulTerminated(name);
  if (bytes.length - 1 > MAX_PV_NAME_SIZE) {
    throw new CaValueError(`PV name of ${bytes.length - 1} bytes is longer than ${MAX_PV_NAME_SIZE}`);
  }
  return bytes;
}

/**
 * Throws CaValueError for a PV name no request can carry (empty, a NUL, a character outside latin-1, over 500
 * bytes), as SEARCH would.
 */
export function checkPvName(name: string): void {
  pvName(name);
}

/** TCP VERSION from the client: `(0,0,priority,13,0,0)`. */
export function versionRequest(priority: number): Buffer {
  return build(Command.VERSION, priority, CA_MINOR_VERSION, 0, 0);
}
/** TCP VERSION from the server: `(0,0,1,13,1,0)` (caproto). */
export function versionResponse(): Buffer {
  return build(Command.VERSION, 1, CA_MINOR_VERSION, 1, 0);
}
/** UDP VERSION leading a search datagram or its reply: `(0,0,1=sequenceNoIsValid,13,sequence,0)`. */
export function udpVersion(sequence: number): Buffer {
  return build(Command.VERSION, 1, CA_MINOR_VERSION, sequence, 0);
}

/** SEARCH: `(6,size,reply,13,cid,cid) + name`; reply DONT_REPLY (5, UDP) or DO_REPLY (10). */
export function searchRequest(name: string, cid: number, reply: number = SEARCH_DONT_REPLY): Buffer {
  return build(Command.SEARCH, reply, CA_MINOR_VERSION, cid, cid, pvName(name));
}
/** SEARCH reply: `(6,8,tcpPort,0,serverIp or 0xFFFFFFFF,cid) + u16 minor version + 6 zero bytes`. */
export function searchResponse(tcpPort: number, cid: number, serverIp: number = NO_IP): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt16BE(CA_MINOR_VERSION, 0);
  return build(Command.SEARCH, tcpPort, 0, serverIp, cid, payload);
}
/** NOT_FOUND: `(14,0,10,13,cid,cid)` (rsrv: only for TCP searches with DO_REPLY). */
export function notFoundResponse(cid: number): Buffer {
  return build(Command.NOT_FOUND, SEARCH_DO_REPLY, CA_MINOR_VERSION, cid, cid);
}

/** CREATE_CHAN request: `(18,size,0,0,cid,13) + name`. */
export function createChanRequest(cid: number, name: string): Buffer {
  return build(Command.CREATE_CHAN, 0, 0, cid, CA_MINOR_VERSION, pvName(name));
}
/** CREATE_CHAN reply: `(18,0,nativeType,nativeCount,cid,sid)` (extended when nativeCount >= 0xFFFF). */
export function createChanResponse(
  nativeType: number,
  nativeCount: number,
  cid: number,
  sid: number,
): Buffer {
  return build(Command.CREATE_CHAN, nativeType, nativeCount, cid, sid);
}
/** CREATE_CH_FAIL: `(26,0,0,0,cid,0)`. */
export function createChanFailResponse(cid: number): Buffer {
  return build(Command.CREATE_CH_FAIL, 0, 0, cid, 0);
}
/** ACCESS_RIGHTS: `(22,0,0,0,cid,rights)` (bit 0 read, bit 1 write). */
export function accessRightsResponse(cid: number, rights: number): Buffer {
  return build(Command.ACCESS_RIGHTS, 0, 0, cid, rights);
}
/** SERVER_DISCONN: `(27,0,0,0,cid,0)`. */
export function serverDisconnResponse(cid: number): Buffer {
  return build(Command.SERVER_DISCONN, 0, 0, cid, 0);
}

/** READ_NOTIFY request: `(15,0,dbr,count,sid,ioid)`; count 0 = every available element (V4.13). */
export function readNotifyRequest(dataType: number, count: number, sid: number, ioid: number): Buffer {
  return build(Command.READ_NOTIFY, dataType, count, sid, ioid);
}
/** READ_NOTIFY reply: `(15,size,dbr,count,eca,ioid) + data`. */
export function readNotifyResponse(
  dataType: number,
  count: number,
  eca: number,
  ioid: number,
  payload: Uint8Array,
): Buffer {
  return build(Command.READ_NOTIFY, dataType, count, eca, ioid, payload);
}
/** WRITE (no reply): `(4,size,dbr,count,sid,ioid) + data`. */
export function writeRequest(
  dataType: number,
  count: number,
  sid: number,
  ioid: number,
  payload: Uint8Array,
): Buffer {
  return build(Command.WRITE, dataType, count, sid, ioid, payload);
}
/** WRITE_NOTIFY request: `(19,size,dbr,count,sid,ioid) + data`. */
export function writeNotifyRequest(
  dataType: number,
  count: number,
  sid: number,
  ioid: number,
  payload: Uint8Array,
): Buffer {
  return build(Command.WRITE_NOTIFY, dataType, count, sid, ioid, payload);
}
/** WRITE_NOTIFY reply: `(19,0,dbr,count,eca,ioid)`. */
export function writeNotifyResponse(dataType: number, count: number, eca: number, ioid: number): Buffer {
  return build(Command.WRITE_NOTIFY, dataType, count, eca, ioid);
}

/** EVENT_ADD request: `(1,16,dbr,count,sid,subid) + mon_info {f32 low, f32 high, f32 to, u16 mask, u16 pad}`. */
export function eventAddRequest(
  dataType: number,
  count: number,
  sid: number,
  subid: number,
  mask: number,
  low = 0,
  high = 0,
  to = 0,
): Buffer {
  const payload = Buffer.alloc(16);
  payload.writeFloatBE(low, 0);
  payload.writeFloatBE(high, 4);
  payload.writeFloatBE(to, 8);
  payload.writeUInt16BE(mask, 12);
  return build(Command.EVENT_ADD, dataType, count, sid, subid, payload);
}
/** EVENT_ADD update: `(1,size,dbr,count,eca,subid) + data`. */
export function eventAddResponse(
  dataType: number,
  count: number,
  eca: number,
  subid: number,
  payload: Uint8Array,
): Buffer {
  return build(Command.EVENT_ADD, dataType, count, eca, subid, payload);
}
/** EVENT_CANCEL request: `(2,0,dbr,count,sid,subid)`. */
export function eventCancelRequest(dataType: number, count: number, sid: number, subid: number): Buffer {
  return build(Command.EVENT_CANCEL, dataType, count, sid, subid);
}
/** EVENT_CANCEL acknowledgement: command 1 (EVENT_ADD) with no payload, `(1,0,dbr,count,sid,subid)`. */
export function eventCancelResponse(dataType: number, count: number, sid: number, subid: number): Buffer {
  return build(Command.EVENT_ADD, dataType, count, sid, subid);
}

/** CLEAR_CHANNEL request: `(12,0,0,0,sid,cid)`. */
export function clearChannelRequest(sid: number, cid: number): Buffer {
  return build(Command.CLEAR_CHANNEL, 0, 0, sid, cid);
}
/** CLEAR_CHANNEL reply (the request echoed): `(12,0,0,0,sid,cid)`. */
export function clearChannelResponse(sid: number, cid: number): Buffer {
  return build(Command.CLEAR_CHANNEL, 0, 0, sid, cid);
}

/** ECHO: all-zero header, both directions. */
export function echo(): Buffer {
  return build(Command.ECHO, 0, 0, 0, 0);
}
/** EVENTS_OFF: all-zero header. */
export function eventsOff(): Buffer {
  return build(Command.EVENTS_OFF, 0, 0, 0, 0);
}
/** EVENTS_ON: all-zero header. */
export function eventsOn(): Buffer {
  return build(Command.EVENTS_ON, 0, 0, 0, 0);
}
/** HOST_NAME: `(21,size,0,0,0,0) + name`. */
export function hostName(name: string): Buffer {
  return build(Command.HOST_NAME, 0, 0, 0, 0, nulTerminated(name));
}
/** CLIENT_NAME: `(20,size,0,0,0,0) + user name`. */
export function clientName(name: string): Buffer {
  return build(Command.CLIENT_NAME, 0, 0, 0, 0, nulTerminated(name));
}

/** ERROR: `(11,size,0,0,cid or 0xFFFFFFFF,eca) + the failing request's header (16 or 24 bytes) + text + NUL`. */
export function errorResponse(cid: number, eca: number, request: Uint8Array, text: string): Buffer {
  const message = nulTerminated(text);
  const payload = Buffer.allocUnsafe(request.length + message.length);
  payload.set(request, 0);
  payload.set(message, request.length);
  return build(Command.ERROR, 0, 0, cid, eca, payload);
}

/** Beacon (RSRV_IS_UP): `(13,0,13,tcpPort,beaconId,serverIp or 0)`. */
export function beacon(tcpPort: number, beaconId: number, serverIp: number): Buffer {
  return build(Command.RSRV_IS_UP, CA_MINOR_VERSION, tcpPort, beaconId, serverIp);
}
/** REPEATER_REGISTER: `(24,0,0,0,0,clientIp)`. */
export function repeaterRegister(clientIp: number): Buffer {
  return build(Command.REPEATER_REGISTER, 0, 0, 0, clientIp);
}
/** REPEATER_CONFIRM: `(17,0,0,0,0,ip)`. */
export function repeaterConfirm(ip: number): Buffer {
  return build(Command.REPEATER_CONFIRM, 0, 0, 0, ip);
}

/** A NUL-terminated latin1 string (the whole payload when there is no NUL). */
export function nameOf(payload: Buffer): string {
  const end = payload.indexOf(0);
  return payload.toString('latin1', 0, end === -1 ? payload.length : end);
}

/** The event mask of an EVENT_ADD request's `mon_info` (u16 at offset 12); CaProtocolError when it is short. */
export function eventAddMask(payload: Buffer): number {
  if (payload.length < 14) {
    throw new CaProtocolError(`EVENT_ADD payload of ${payload.length} bytes has no mask (needs 14)`);
  }
  return payload.readUInt16BE(12);
}

/** The failing request's header and the server's text of an ERROR message; CaProtocolError when truncated. */
export function parseErrorResponse(frame: CaFrame): { request: CaHeader; text: string } {
  const payload = frame.payload;
  if (payload.length < HEADER_SIZE) {
    throw new CaProtocolError(`ERROR payload of ${payload.length} bytes has no request header`);
  }
  const extended = payload.readUInt16BE(2) === EXTENDED_MARKER && payload.readUInt16BE(6) === 0;
  const headerSize = extended ? EXTENDED_HEADER_SIZE : HEADER_SIZE;
  if (payload.length < headerSize) {
    throw new CaProtocolError(
      `ERROR payload of ${payload.length} bytes has a truncated extended request header`,
    );
  }
  const request: CaHeader = {
    command: payload.readUInt16BE(0),
    dataType: payload.readUInt16BE(4),
    count: extended ? payload.readUInt32BE(20) : payload.readUInt16BE(6),
    p1: payload.readUInt32BE(8),
    p2: payload.readUInt32BE(12),
  };
  return { request, text: nameOf(payload.subarray(headerSize)) };
}

/** The server's minor protocol version in a SEARCH reply (0 when the payload carries none, as libca). */
export function searchResponseMinor(frame: CaFrame): number {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 0;
}

/** Dotted IPv4 -> u32 (`'127.0.0.1'` -> 0x7f000001); CaValueError otherwise. */
export function ipToU32(ip: string): number {
  const parts = typeof ip === 'string' ? ip.split('.') : [];
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new CaValueError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** u32 -> dotted IPv4. */
export function u32ToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

const COMMAND_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Command).map(([name, id]) => [id, name]),
);

/** Name of a command id (`READ_NOTIFY`), or `CMD_<n>` when unknown. */
export function commandName(command: number): string {
  return COMMAND_NAMES[command] ?? `CMD_${command}`;
}

/** Commands whose `dataType` field is a DBR type id. */
const DBR_COMMANDS = new Set<number>([
  Command.EVENT_ADD,
  Command.EVENT_CANCEL,
  Command.READ,
  Command.WRITE,
  Command.READ_NOTIFY,
  Command.WRITE_NOTIFY,
  Command.CREATE_CHAN,
]);

/** One line for logs: `READ_NOTIFY DBR_TIME_DOUBLE count=1 p1=1 p2=2`. */
export function describeFrame(frame: CaHeader): string {
  const type = DBR_COMMANDS.has(frame.command) ? dbrName(frame.dataType) : `dataType=${frame.dataType}`;
  const size = 'payload' in frame && Buffer.isBuffer(frame.payload) ? ` size=${frame.payload.length}` : '';
  return `${commandName(frame.command)} ${type} count=${frame.count} p1=${frame.p1} p2=${frame.p2}${size}`;
}
