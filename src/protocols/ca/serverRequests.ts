/**
 * The CA server's answers to reads (READ_NOTIFY, READ) and writes (WRITE, WRITE_NOTIFY) on one channel, rsrv
 * `read_notify_action` / `write_notify_action` in TypeScript idiom: type, count and access checks, conversion to and
 * from the PV's native type, the PV's `onPut` (an async one completes the WRITE_NOTIFY when it settles).
 *
 *   READ_NOTIFY  -> (15, size, dbr, count, ECA status, ioid) + data   (zero-filled data on failure)
 *   WRITE_NOTIFY -> (19, 0, dbr, count, ECA status, ioid)              WRITE: ERROR only on failure
 */
import * as cmd from './commands.js';
import { AccessRights, Command, Eca, familyOf, nativeOf } from './constants.js';
import { type CaArray, dbrSize, decodeDbr } from './dbr.js';
import { CaConversionError } from './errors.js';
import { type CaFrame, EXTENDED_HEADER_SIZE, HEADER_SIZE } from './frame.js';
import type { ServerChannel } from './serverChannel.js';
import type { OutputBuffer } from './serverOutput.js';

/** What the handlers need of their circuit. */
export interface RequestCircuit {
  readonly out: OutputBuffer;
  /** Sends CA ERROR: the request's header, an ECA code, a text. */
  error(f: CaFrame, cid: number, eca: number, text: string): void;
  /** An async onPut started / settled (the reply, if any, goes out only if the channel is still open). */
  putStarted(): void;
  putSettled(channel: ServerChannel, reply: Buffer | undefined): void;
}

function isPromise(v: unknown): v is Promise<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

function copyOf(data: CaArray): CaArray {
  return Array.isArray(data) ? [...data] : (data as Float64Array).slice();
}

/** The request's header as it was on the wire (16 or 24 bytes), for an ERROR reply. */
export function requestHeader(frame: CaFrame): Buffer {
  const size = frame.payload.length;
  const extended = size >= 0xffff || frame.count >= 0xffff;
  const h = Buffer.alloc(extended ? EXTENDED_HEADER_SIZE : HEADER_SIZE);
  h.writeUInt16BE(frame.command, 0);
  h.writeUInt16BE(extended ? 0xffff : size, 2);
  h.writeUInt16BE(frame.dataType, 4);
  h.writeUInt16BE(extended ? 0 : frame.count, 6);
  h.writeUInt32BE(frame.p1 >>> 0, 8);
  h.writeUInt32BE(frame.p2 >>> 0, 12);
  if (extended) {
    h.writeUInt32BE(size, 16);
    h.writeUInt32BE(frame.count >>> 0, 20);
  }
  return h;
}

/** A type a client may read or subscribe: 0..34, STSACK_STRING, CLASS_NAME. */
export function readableType(dataType: number): boolean {
  const family = familyOf(dataType);
  return family !== undefined && (family !== 'special' || dataType >= 37);
}

/** A zero-filled payload for a failed read of `count` elements (count already checked against the PV). */
export function zeros(dataType: number, count: number): Buffer {
  return Buffer.alloc(dbrSize(dataType, Math.max(1, count)));
}

export function answerRead(c: RequestCircuit, channel: ServerChannel, f: CaFrame): void {
  const { dataType, p2: ioid } = f;
  const reply = f.command;
  if (!readableType(dataType)) {
    c.error(f, channel.cid, Eca.BADTYPE, `invalid DBR type ${dataType}`);
    return;
  }
  const pv = channel.pv;
  if (f.count > pv.maxCount) {
    c.error(f, channel.cid, Eca.BADCOUNT, `count ${f.count} > element count ${pv.maxCount}`);
    return;
  }
  // READ (deprecated) answers with the sid in p1, READ_NOTIFY with the status
  const status = (eca: number) => (reply === Command.READ ? f.p1 : eca);
  if ((pv.rights & AccessRights.READ) === 0) {
    const n = f.count === 0 ? pv.data.length : f.count;
    c.out.frame(reply, dataType, n, status(Eca.NORDACCESS), ioid, zeros(dataType, n));
    return;
  }
  let encoded: { payload: Buffer; count: number };
  try {
    encoded = pv.encode(dataType, f.count);
  } catch (err) {
    const eca = err instanceof CaConversionError ? Eca.NOCONVERT : Eca.GETFAIL;
    const n = f.count === 0 ? pv.data.length : f.count;
    c.out.frame(reply, dataType, n, status(eca), ioid, zeros(dataType, n));
    return;
  }
  c.out.frame(reply, dataType, encoded.count, status(Eca.NORMAL), ioid, encoded.payload);
}

export function applyWrite(c: RequestCircuit, channel: ServerChannel, f: CaFrame): void {
  const notify = f.command === Command.WRITE_NOTIFY;
  const { dataType, count, p2: ioid } = f;
  const fail = (eca: number, text: string) => {
    if (notify) c.out.frame(Command.WRITE_NOTIFY, dataType, count, eca, ioid);
    else c.error(f, channel.cid, eca, text);
  };
  const pv = channel.pv;
  const family = familyOf(dataType);
  if (family === undefined || family === 'special') {
    fail(Eca.BADTYPE, `invalid DBR type ${dataType}`);
    return;
  }
  if ((pv.rights & AccessRights.WRITE) === 0) {
    fail(Eca.NOWTACCESS, 'write access denied');
    return;
  }
  if (count === 0 || count > pv.maxCount) {
    fail(Eca.BADCOUNT, `count ${count} not in 1..${pv.maxCount}`);
    return;
  }
  let data: CaArray;
  try {
    const decoded = decodeDbr(dataType, count, f.payload).data;
    data = pv.convertPut(nativeOf(dataType), decoded);
    if (data === decoded) data = copyOf(data); // never keep a view into the socket's chunk
  } catch (err) {
    fail(err instanceof CaConversionError ? Eca.NOCONVERT : Eca.PUTFAIL, (err as Error).message);
    return;
  }
  let result: unknown;
  if (pv.onPut !== undefined) {
    try {
      result = pv.onPut(data, pv);
    } catch (err) {
      fail(Eca.PUTFAIL, String((err as Error)?.message ?? err));
      return;
    }
  }
  if (!isPromise(result)) {
    pv.store(data);
    if (notify) c.out.frame(Command.WRITE_NOTIFY, dataType, count, Eca.NORMAL, ioid);
    return;
  }
  c.putStarted();
  const header = notify ? undefined : requestHeader(f);
  result.then(
    () => {
      pv.store(data);
      c.putSettled(channel, notify ? cmd.writeNotifyResponse(dataType, count, Eca.NORMAL, ioid) : undefined);
    },
    (err: unknown) =>
      c.putSettled(
        channel,
        notify
          ? cmd.writeNotifyResponse(dataType, count, Eca.PUTFAIL, ioid)
          : cmd.errorResponse(channel.cid, Eca.PUTFAIL, header!, String(err)),
      ),
  );
}
