/**
 * The Tango device operations a client calls, as pure encode/decode pairs of their GIOP request arguments and
 * reply results (`OPERATIONS`, keyed by GIOP operation name), the reading of a Reply into a result or a typed
 * error (`DevFailed` with its stack, `MultiDevFailedError`, `GiopSystemException`, `GiopUserException`,
 * `LocationForward`), and the `DbImportDevice` call on the database device.
 */
import { type DevError, DevFailed } from '../errors.js';
import { readTangoAny, type TangoValue, writeTangoAny } from './any.js';
import { writeAny } from './anyValue.js';
import { type AttributeConfig5, readAttributeConfig5, writeAttributeConfig5 } from './attributeConfig.js';
import type { CdrReader, CdrWriter } from './cdr.js';
import {
  GiopEncodeError,
  GiopProtocolError,
  GiopUserException,
  LocationForward,
  MultiDevFailedError,
} from './errors.js';
import { type GiopReply, REPLY_STATUS, readSystemException } from './giop.js';
import { type Ior, parseIor, readIor } from './ior.js';
import {
  type AttributeValue4,
  type AttributeValue5,
  type ClntIdent,
  type DevCmdInfo,
  readAttributeValue4,
  readAttributeValue5,
  readClntIdent,
  readDevCmdInfo,
  readDevCmdInfo2,
  readDevErrorList,
  writeAttributeValue4,
  writeAttributeValue5,
  writeClntIdent,
  writeDevCmdInfo,
  writeDevCmdInfo2,
  writeDevErrorList,
} from './tangoTypes.js';
import type { Any } from './typecode.js';

export const DEV_FAILED_ID = 'IDL:Tango/DevFailed:1.0';
export const MULTI_DEV_FAILED_ID = 'IDL:Tango/MultiDevFailed:1.0';

/** The arguments and result of one operation, as CDR. */
export interface Operation<A, R> {
  readonly name: string;
  writeArgs(w: CdrWriter, args: A): void;
  readArgs(r: CdrReader): A;
  writeResult(w: CdrWriter, result: R): void;
  readResult(r: CdrReader): R;
}

/** A command argument or result: a Tango value, or an `any` of no Tango type kept as is. */
export type CommandValue = TangoValue | { type: 'unknown'; any: Any };

export interface CommandInoutArgs {
  command: string;
  argin: CommandValue;
  /** DevSource: 0 DEV, 1 CACHE, 2 CACHE_DEV (what clients send). */
  source: number;
  clientIdent: ClntIdent;
}
export interface ReadAttributesArgs {
  names: string[];
  source: number;
  clientIdent: ClntIdent;
}
export interface WriteAttributesArgs {
  values: AttributeValue4[];
  clientIdent: ClntIdent;
}

function writeCommandValue(w: CdrWriter, v: CommandValue): void {
  if (v.type === 'unknown') writeAny(w, v.any);
  else writeTangoAny(w, v);
}
function writeSource(w: CdrWriter, source: number): void {
  if (source !== 0 && source !== 1 && source !== 2) throw new GiopEncodeError(`bad DevSource ${source}`);
  w.ulong(source);
}
function readSource(r: CdrReader): number {
  const s = r.ulong();
  if (s > 2) throw new GiopProtocolError(`bad DevSource ${s}`);
  return s;
}

const none = {
  write: (_w: CdrWriter, _v: undefined): void => {},
  read: (_r: CdrReader): undefined => undefined,
};
const str = { write: (w: CdrWriter, v: string) => w.string(v), read: (r: CdrReader) => r.string() };
const bool = { write: (w: CdrWriter, v: boolean) => w.boolean(v), read: (r: CdrReader) => r.boolean() };
const strings = {
  write: (w: CdrWriter, v: string[]) => w.stringSeq(v),
  read: (r: CdrReader) => r.stringSeq(),
};

function op<A, R>(
  name: string,
  args: { write: (w: CdrWriter, v: A) => void; read: (r: CdrReader) => A },
  result: { write: (w: CdrWriter, v: R) => void; read: (r: CdrReader) => R },
): Operation<A, R> {
  return {
    name,
    writeArgs: args.write,
    readArgs: args.read,
    writeResult: result.write,
    readResult: result.read,
  };
}

export const commandInout4 = op<CommandInoutArgs, CommandValue>(
  'command_inout_4',
  {
    write: (w, a) => {
      w.string(a.command);
      writeCommandValue(w, a.argin);
      writeSource(w, a.source);
      writeClntIdent(w, a.clientIdent);
    },
    read: (r) => ({
      command: r.string(),
      argin: readTangoAny(r),
      source: readSource(r),
      clientIdent: readClntIdent(r),
    }),
  },
  { write: writeCommandValue, read: readTangoAny },
);

export const readAttributes5 = op<ReadAttributesArgs, AttributeValue5[]>(
  'read_attributes_5',
  {
    write: (w, a) => {
      w.stringSeq(a.names);
      writeSource(w, a.source);
      writeClntIdent(w, a.clientIdent);
    },
    read: (r) => ({ names: r.stringSeq(), source: readSource(r), clientIdent: readClntIdent(r) }),
  },
  { write: (w, v) => w.seq(v, writeAttributeValue5), read: (r) => r.seq(40, readAttributeValue5) },
);

export const writeAttributes4 = op<WriteAttributesArgs, undefined>(
  'write_attributes_4',
  {
    write: (w, a) => {
      w.seq(a.values, writeAttributeValue4);
      writeClntIdent(w, a.clientIdent);
    },
    read: (r) => ({ values: r.seq(40, readAttributeValue4), clientIdent: readClntIdent(r) }),
  },
  none,
);

export const getAttributeConfig5 = op<string[], AttributeConfig5[]>('get_attribute_config_5', strings, {
  write: (w, v) => w.seq(v, writeAttributeConfig5),
  read: (r) => r.seq(100, readAttributeConfig5),
});

export const commandListQuery2 = op<undefined, DevCmdInfo[]>('command_list_query_2', none, {
  write: (w, v) => w.seq(v, writeDevCmdInfo2),
  read: (r) => r.seq(28, readDevCmdInfo2),
});
export const commandQuery2 = op<string, DevCmdInfo>('command_query_2', str, {
  write: writeDevCmdInfo2,
  read: readDevCmdInfo2,
});
export const commandListQuery = op<undefined, DevCmdInfo[]>('command_list_query', none, {
  write: (w, v) => w.seq(v, writeDevCmdInfo),
  read: (r) => r.seq(24, readDevCmdInfo),
});
export const commandQuery = op<string, DevCmdInfo>('command_query', str, {
  write: writeDevCmdInfo,
  read: readDevCmdInfo,
});

export const ping = op<undefined, undefined>('ping', none, none);
export const isA = op<string, boolean>('_is_a', str, bool);
export const nonExistent = op<undefined, boolean>('_non_existent', none, bool);
export const getState = op<undefined, number>('_get_state', none, {
  write: (w, v) => w.ulong(v),
  read: (r) => {
    const s = r.ulong();
    if (s > 13) throw new GiopProtocolError(`bad DevState ${s}`);
    return s;
  },
});
export const getStatus = op<undefined, string>('_get_status', none, str);
export const getName = op<undefined, string>('_get_name', none, str);
export const getAdmName = op<undefined, string>('_get_adm_name', none, str);
export const getDescription = op<undefined, string>('_get_description', none, str);

/** Every operation above, by GIOP operation name. */
export const OPERATIONS: Readonly<Record<string, Operation<any, any>>> = Object.fromEntries(
  [
    commandInout4,
    readAttributes5,
    writeAttributes4,
    getAttributeConfig5,
    commandListQuery2,
    commandQuery2,
    commandListQuery,
    commandQuery,
    ping,
    isA,
    nonExistent,
    getState,
    getStatus,
    getName,
    getAdmName,
    getDescription,
  ].map((o) => [o.name, o]),
);

// ------------------------------------------------------------------------------------------- replies

/**
 * The result of a Reply, read with `readResult`; a user exception is thrown as `DevFailed` (its stack in
 * order), `MultiDevFailedError` or `GiopUserException`, a system exception as `GiopSystemException`, a forward
 * as `LocationForward`. Malformed bodies raise `GiopProtocolError`.
 */
export function readReplyResult<R>(reply: GiopReply, readResult: (r: CdrReader) => R): R {
  const r = reply.body;
  switch (reply.status) {
    case REPLY_STATUS.NO_EXCEPTION:
      return readResult(r);
    case REPLY_STATUS.USER_EXCEPTION:
      throw readUserException(r);
    case REPLY_STATUS.SYSTEM_EXCEPTION:
      throw readSystemException(r);
    case REPLY_STATUS.LOCATION_FORWARD:
    case REPLY_STATUS.LOCATION_FORWARD_PERM:
      throw new LocationForward(readIor(r), reply.status === REPLY_STATUS.LOCATION_FORWARD_PERM);
    default:
      throw new GiopProtocolError(`unsupported reply status ${reply.status}`);
  }
}

/** Reads a USER_EXCEPTION body into the error it stands for. */
export function readUserException(r: CdrReader): DevFailed | MultiDevFailedError | GiopUserException {
  const repoId = r.string();
  if (repoId === DEV_FAILED_ID) return new DevFailed(readDevErrorList(r));
  if (repoId === MULTI_DEV_FAILED_ID) {
    return new MultiDevFailedError(
      r.seq(16, (e) => ({ name: e.string(), indexInCall: e.long(), errors: readDevErrorList(e) })),
    );
  }
  return new GiopUserException(repoId);
}

/** Writes a `DevFailed` USER_EXCEPTION body. */
export function writeDevFailed(w: CdrWriter, errors: readonly DevError[]): void {
  w.string(DEV_FAILED_ID);
  writeDevErrorList(w, errors);
}

// ------------------------------------------------------------------------------------------- database

/** What `DbImportDevice` tells about a device. */
export interface ImportedDevice {
  name: string;
  exported: boolean;
  pid: number;
  ior: Ior;
  iorString: string;
  idlVersion: string;
  server: string;
  host: string;
  className: string;
}

/** `command_inout_4("DbImportDevice", name)` arguments (on the database device, object key `database`). */
export function dbImportDeviceArgs(device: string, clientIdent: ClntIdent): CommandInoutArgs {
  return { command: 'DbImportDevice', argin: { type: 'DevString', value: device }, source: 2, clientIdent };
}

/** `command_inout_4("DbGetAliasDevice", alias)` arguments: the device an alias names (answered as a DevString). */
export function dbGetAliasDeviceArgs(alias: string, clientIdent: ClntIdent): CommandInoutArgs {
  return { command: 'DbGetAliasDevice', argin: { type: 'DevString', value: alias }, source: 2, clientIdent };
}

/** Reads the `DevString` (the device name) `DbGetAliasDevice` returns. */
export function parseDbGetAliasDevice(result: CommandValue): string {
  if (result.type !== 'DevString') {
    throw new GiopProtocolError(`DbGetAliasDevice returned ${result.type}, not DevString`);
  }
  if (!/^[^/\s#]+\/[^/\s#]+\/[^/\s#]+$/.test(result.value))
    throw new GiopProtocolError(
      `DbGetAliasDevice returned ${JSON.stringify(result.value)}, not a device name`,
    );
  return result.value;
}

/** Reads the `DevVarLongStringArray` `DbImportDevice` returns. */
export function parseDbImportDevice(result: CommandValue): ImportedDevice {
  if (result.type !== 'DevVarLongStringArray') {
    throw new GiopProtocolError(`DbImportDevice returned ${result.type}, not DevVarLongStringArray`);
  }
  const { lvalue, svalue } = result.value;
  if (lvalue.length < 2 || svalue.length < 6)
    throw new GiopProtocolError('DbImportDevice result is too short');
  return {
    name: svalue[0],
    exported: lvalue[0] !== 0,
    pid: lvalue[1],
    ior: parseIor(svalue[1]),
    iorString: svalue[1],
    idlVersion: svalue[2],
    server: svalue[3],
    host: svalue[4],
    className: svalue[5],
  };
}
