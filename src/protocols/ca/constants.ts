/**
 * Channel Access constants (caProto.h, db_access.h, caerr.h; caproto `_constants.py`, `client/common.py`).
 * Pure data: imported by the codec, the machines, the client and the server alike.
 */

/** Protocol minor version Orrery speaks (major is always 4). */
export const CA_MINOR_VERSION = 13;
/** Default UDP search / TCP port (`EPICS_CA_SERVER_PORT`). */
export const DEFAULT_SERVER_PORT = 5064;
/** Default repeater / beacon port (`EPICS_CA_REPEATER_PORT`). */
export const DEFAULT_REPEATER_PORT = 5065;
/** Largest circuit priority (`CA_PROTO_PRIORITY_MAX`). */
export const MAX_PRIORITY = 99;
/** Largest UDP datagram a search uses (`ETHERNET_MAX_UDP`, caproto `SEARCH_MAX_DATAGRAM_BYTES`). */
export const SEARCH_MAX_DATAGRAM_BYTES = 1472;
/** caproto `GLOBAL_DEFAULT_TIMEOUT` (env `CAPROTO_DEFAULT_TIMEOUT`), in ms. */
export const DEFAULT_TIMEOUT_MS = 2000;
/** Search retry back-off (caproto): first interval, cap, retirement age, retired period; all ms. */
export const MIN_RETRY_SEARCHES_INTERVAL_MS = 30;
export const MAX_RETRY_SEARCHES_INTERVAL_MS = 5000;
export const SEARCH_RETIREMENT_AGE_MS = 480_000;
export const RETRY_RETIRED_SEARCHES_INTERVAL_MS = 60_000;
/** Echo liveness: silence before an ECHO (`EPICS_CA_CONN_TMO`, 30 s) and the reply deadline (`CA_ECHO_TIMEOUT`). */
export const DEFAULT_CONN_TMO_MS = 30_000;
export const ECHO_TIMEOUT_MS = 5000;
/** Server beacons: first after 20 ms, doubling up to `EPICS_CAS_BEACON_PERIOD` (15 s). */
export const BEACON_INITIAL_MS = 20;
export const DEFAULT_BEACON_PERIOD_MS = 15_000;

/** Sizes (db_access.h). */
export const MAX_STRING_SIZE = 40;
export const MAX_UNITS_SIZE = 8;
export const MAX_ENUM_STRING_SIZE = 26;
export const MAX_ENUM_STATES = 16;
/** libca's `unreasonablePVNameSize`. */
export const MAX_PV_NAME_SIZE = 500;

/** EPICS epoch (1990-01-01T00:00:00Z) in Unix seconds. */
export const EPICS_EPOCH_UNIX_SECONDS = 631_152_000;

/** Command ids (caProto.h). */
export const Command = {
  VERSION: 0,
  EVENT_ADD: 1,
  EVENT_CANCEL: 2,
  READ: 3,
  WRITE: 4,
  SEARCH: 6,
  EVENTS_OFF: 8,
  EVENTS_ON: 9,
  READ_SYNC: 10,
  ERROR: 11,
  CLEAR_CHANNEL: 12,
  RSRV_IS_UP: 13,
  NOT_FOUND: 14,
  READ_NOTIFY: 15,
  REPEATER_CONFIRM: 17,
  CREATE_CHAN: 18,
  WRITE_NOTIFY: 19,
  CLIENT_NAME: 20,
  HOST_NAME: 21,
  ACCESS_RIGHTS: 22,
  ECHO: 23,
  REPEATER_REGISTER: 24,
  CREATE_CH_FAIL: 26,
  SERVER_DISCONN: 27,
} as const;
export type CommandId = (typeof Command)[keyof typeof Command];

/** SEARCH `dataType` field: reply wanted on failure (TCP only) or not. */
export const SEARCH_DONT_REPLY = 5;
export const SEARCH_DO_REPLY = 10;

/** Native DBR types 0..6 (`ChannelType`). */
export const ChannelType = {
  STRING: 0,
  SHORT: 1,
  FLOAT: 2,
  ENUM: 3,
  CHAR: 4,
  LONG: 5,
  DOUBLE: 6,
} as const;
export type NativeType = (typeof ChannelType)[keyof typeof ChannelType];

/** Every DBR type id (db_access.h): native + 7 STS, + 14 TIME, + 21 GR, + 28 CTRL, then the special ones. */
export const DbrType = {
  STRING: 0,
  SHORT: 1,
  INT: 1,
  FLOAT: 2,
  ENUM: 3,
  CHAR: 4,
  LONG: 5,
  DOUBLE: 6,
  STS_STRING: 7,
  STS_SHORT: 8,
  STS_FLOAT: 9,
  STS_ENUM: 10,
  STS_CHAR: 11,
  STS_LONG: 12,
  STS_DOUBLE: 13,
  TIME_STRING: 14,
  TIME_SHORT: 15,
  TIME_FLOAT: 16,
  TIME_ENUM: 17,
  TIME_CHAR: 18,
  TIME_LONG: 19,
  TIME_DOUBLE: 20,
  GR_STRING: 21,
  GR_SHORT: 22,
  GR_FLOAT: 23,
  GR_ENUM: 24,
  GR_CHAR: 25,
  GR_LONG: 26,
  GR_DOUBLE: 27,
  CTRL_STRING: 28,
  CTRL_SHORT: 29,
  CTRL_FLOAT: 30,
  CTRL_ENUM: 31,
  CTRL_CHAR: 32,
  CTRL_LONG: 33,
  CTRL_DOUBLE: 34,
  PUT_ACKT: 35,
  PUT_ACKS: 36,
  STSACK_STRING: 37,
  CLASS_NAME: 38,
} as const;
export const LAST_BUFFER_TYPE = 38;

/** The metadata family of a DBR type id. */
export type DbrFamily = 'native' | 'sts' | 'time' | 'gr' | 'ctrl' | 'special';
const FAMILY_OFFSET = { native: 0, sts: 7, time: 14, gr: 21, ctrl: 28 } as const;

/** The family of a DBR type id (0..38); undefined for an invalid id. */
export function familyOf(dataType: number): DbrFamily | undefined {
  if (!Number.isInteger(dataType) || dataType < 0 || dataType > LAST_BUFFER_TYPE) return undefined;
  if (dataType >= 35) return 'special';
  return (['native', 'sts', 'time', 'gr', 'ctrl'] as const)[Math.floor(dataType / 7)];
}

/** The native type of a DBR type id 0..34 (PUT_ACKT/ACKS are SHORT-sized, STSACK_STRING/CLASS_NAME STRING). */
export function nativeOf(dataType: number): NativeType {
  if (dataType === DbrType.PUT_ACKT || dataType === DbrType.PUT_ACKS) return ChannelType.ENUM;
  if (dataType === DbrType.STSACK_STRING || dataType === DbrType.CLASS_NAME) return ChannelType.STRING;
  return (dataType % 7) as NativeType;
}

/** The DBR type id of `native` in `family` (e.g. `promote(DOUBLE, 'time')` = TIME_DOUBLE). */
export function promote(native: NativeType, family: Exclude<DbrFamily, 'special'>): number {
  return native + FAMILY_OFFSET[family];
}

const NATIVE_NAMES = ['STRING', 'SHORT', 'FLOAT', 'ENUM', 'CHAR', 'LONG', 'DOUBLE'] as const;

/** caproto-style name of a DBR type id: `DBR_TIME_DOUBLE`, `DBR_STRING`, ... */
export function dbrName(dataType: number): string {
  const family = familyOf(dataType);
  if (family === undefined) return `DBR_INVALID(${dataType})`;
  if (family === 'special') {
    return ['DBR_PUT_ACKT', 'DBR_PUT_ACKS', 'DBR_STSACK_STRING', 'DBR_CLASS_NAME'][dataType - 35] as string;
  }
  const native = NATIVE_NAMES[dataType % 7] as string;
  return family === 'native' ? `DBR_${native}` : `DBR_${family.toUpperCase()}_${native}`;
}

/** Parses `DBR_TIME_DOUBLE`, `TIME_DOUBLE`, `time_double`, `INT`, or a numeric id; undefined if unknown. */
export function parseDbrType(text: string | number): number | undefined {
  if (typeof text === 'number') return familyOf(text) === undefined ? undefined : text;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return parseDbrType(Number(trimmed));
  const key = trimmed.toUpperCase().replace(/^DBR_/, '') as keyof typeof DbrType;
  return Object.hasOwn(DbrType, key) ? DbrType[key] : undefined;
}

/** Subscription event mask bits. */
export const SubscriptionType = {
  DBE_VALUE: 1,
  DBE_LOG: 2,
  DBE_ARCHIVE: 2,
  DBE_ALARM: 4,
  DBE_PROPERTY: 8,
} as const;
/** caproto's and pyepics' default monitor mask. */
export const DEFAULT_EVENT_MASK = SubscriptionType.DBE_VALUE | SubscriptionType.DBE_ALARM;

/** ACCESS_RIGHTS bits. */
export const AccessRights = { NO_ACCESS: 0, READ: 1, WRITE: 2, READ_WRITE: 3 } as const;

/** Alarm severities. */
export const AlarmSeverity = { NO_ALARM: 0, MINOR_ALARM: 1, MAJOR_ALARM: 2, INVALID_ALARM: 3 } as const;
/** Alarm status codes (alarm.h), index = code. */
export const ALARM_STATUS_NAMES = [
  'NO_ALARM',
  'READ',
  'WRITE',
  'HIHI',
  'HIGH',
  'LOLO',
  'LOW',
  'STATE',
  'COS',
  'COMM',
  'TIMEOUT',
  'HWLIMIT',
  'CALC',
  'SCAN',
  'LINK',
  'SOFT',
  'BAD_SUB',
  'UDF',
  'DISABLE',
  'SIMM',
  'READ_ACCESS',
  'WRITE_ACCESS',
] as const;

/** ECA status codes (caerr.h): `(msgNo << 3) | severity`. */
export const Eca = {
  NORMAL: 1,
  MAXIOC: 10,
  UKNHOST: 18,
  UKNSERV: 26,
  SOCK: 34,
  CONN: 40,
  ALLOCMEM: 48,
  UKNCHAN: 56,
  UKNFIELD: 64,
  TOLARGE: 72,
  TIMEOUT: 80,
  NOSUPPORT: 88,
  STRTOBIG: 96,
  DISCONNCHID: 106,
  BADTYPE: 114,
  CHIDNOTFND: 123,
  CHIDRETRY: 131,
  INTERNAL: 142,
  DBLCLFAIL: 144,
  GETFAIL: 152,
  PUTFAIL: 160,
  ADDFAIL: 168,
  BADCOUNT: 176,
  BADSTR: 186,
  DISCONN: 192,
  DBLCHNL: 200,
  EVDISALLOW: 210,
  BUILDGET: 216,
  NEEDSFP: 224,
  OVEVFAIL: 232,
  BADMONID: 242,
  NEWADDR: 248,
  NEWCONN: 259,
  NOCACTX: 264,
  DEFUNCT: 278,
  EMPTYSTR: 280,
  NOREPEATER: 288,
  NOCHANMSG: 296,
  DLCKREST: 304,
  SERVBEHIND: 312,
  NOCAST: 320,
  BADMASK: 330,
  IODONE: 339,
  IOINPROGESS: 347,
  BADSYNCGRP: 354,
  PUTCBINPROG: 362,
  NORDACCESS: 368,
  NOWTACCESS: 376,
  ANACHRONISM: 386,
  NOSEARCHADDR: 392,
  NOCONVERT: 400,
  BADCHID: 410,
  BADFUNCPTR: 418,
  ISATTACHED: 424,
  UNAVAILINSERV: 432,
  CHANDESTROY: 440,
  BADPRIORITY: 450,
  NOTTHREADED: 458,
  ARRAY16KCLIENT: 464,
  CONNSEQTMO: 472,
  UNRESPTMO: 480,
} as const;

const ECA_TEXT: Record<number, string> = {
  1: 'Normal successful completion',
  48: 'Unable to allocate additional dynamic memory',
  72: 'The requested transfer is greater than available memory or EPICS_CA_MAX_ARRAY_BYTES',
  80: 'User specified timeout on IO operation expired',
  114: 'The data type specified is invalid',
  142: 'Channel Access Internal Failure',
  152: 'Channel read request failed',
  160: 'Channel write request failed',
  168: 'Channel subscription request failed',
  176: 'Invalid element count requested',
  186: 'Invalid string',
  192: 'Virtual circuit disconnect',
  200: 'Identical process variable names on multiple servers',
  242: 'Bad event subscription (monitor) identifier',
  278: 'Remote Channel has new network address',
  368: 'Read access denied',
  376: 'Write access denied',
  400: 'No reasonable data conversion between client and server types',
  410: 'Invalid channel identifier',
  432: 'Not supported by attached service',
  440: 'User destroyed channel',
  464: 'Client unable to handle arrays larger than 16k bytes',
  480: 'Virtual circuit unresponsive',
};

/** Name of an ECA code (`ECA_PUTFAIL`), or `ECA_<n>` when unknown. */
export function ecaName(code: number): string {
  for (const [name, value] of Object.entries(Eca)) if (value === code) return `ECA_${name}`;
  return `ECA_${code}`;
}

/** libca's message text for an ECA code (falls back to the name). */
export function ecaMessage(code: number): string {
  return ECA_TEXT[code] ?? ecaName(code);
}

/** True for an ECA code whose severity is SUCCESS (or INFO): the odd ones. */
export function ecaSucceeded(code: number): boolean {
  return (code & 1) === 1;
}
