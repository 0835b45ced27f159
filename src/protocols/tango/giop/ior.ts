/**
 * Object references: stringified IORs (`IOR:` + hex of a CDR encapsulation holding the type id and tagged
 * profiles; the IIOP profile gives GIOP version, host, port, object key and tagged components) and `corbaloc`
 * URLs (`corbaloc:iiop:1.2@host:port,:host2:port2/key`, `corbaloc::host:port/key`, IPv6 in brackets, the key
 * %-escaped). Tango without a database uses `corbaloc:iiop:HOST:PORT/dom/fam/member`.
 */
import { CdrReader, CdrWriter } from './cdr.js';
import { GiopProtocolError } from './errors.js';

export const TAG_INTERNET_IOP = 0;
export const TAG_ORB_TYPE = 0;
export const TAG_CODE_SETS = 1;
export const TAG_ALTERNATE_IIOP_ADDRESS = 3;

export interface TaggedComponent {
  tag: number;
  data: Uint8Array;
}

export interface IiopProfile {
  major: number;
  minor: number;
  host: string;
  port: number;
  objectKey: Uint8Array;
  /** GIOP 1.1+ only (empty for 1.0 profiles). */
  components: TaggedComponent[];
  /** Extra endpoints from TAG_ALTERNATE_IIOP_ADDRESS components. */
  alternates: { host: string; port: number }[];
}

export interface TaggedProfile {
  tag: number;
  data: Uint8Array;
}

export interface Ior {
  typeId: string;
  profiles: TaggedProfile[];
  /** The first IIOP profile, decoded (undefined when the reference has none). */
  iiop: IiopProfile | undefined;
}

/** Parses `IOR:<hex>`; anything malformed raises `GiopProtocolError`. */
export function parseIor(text: string): Ior {
  const trimmed = text.trim();
  if (!/^IOR:/i.test(trimmed)) throw new GiopProtocolError('an IOR string starts with "IOR:"');
  const hex = trimmed.slice(4);
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new GiopProtocolError('IOR is not hex');
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return decodeIorEncapsulation(bytes);
}

/** Decodes an IOR held as an encapsulation (byte-order octet first), as in a stringified IOR. */
export function decodeIorEncapsulation(bytes: Uint8Array): Ior {
  if (bytes.length < 1 || bytes[0] > 1) throw new GiopProtocolError('bad IOR byte order');
  const r = new CdrReader(bytes, { littleEndian: bytes[0] === 1, start: 1, origin: 0 });
  return readIor(r);
}

/** Reads an IOR in place (a LOCATION_FORWARD reply body, an object reference member). */
export function readIor(r: CdrReader): Ior {
  const typeId = r.string();
  const profiles = r.seq(8, (p) => ({ tag: p.ulong(), data: p.octetSeq() }));
  const first = profiles.find((p) => p.tag === TAG_INTERNET_IOP);
  return { typeId, profiles, iiop: first === undefined ? undefined : decodeIiopProfile(first.data) };
}

/** Decodes the body of a TAG_INTERNET_IOP profile (an encapsulation). */
export function decodeIiopProfile(data: Uint8Array): IiopProfile {
  if (data.length < 1 || data[0] > 1) throw new GiopProtocolError('bad IIOP profile byte order');
  const r = new CdrReader(data, { littleEndian: data[0] === 1, start: 1, origin: 0 });
  const major = r.octet();
  const minor = r.octet();
  if (major !== 1) throw new GiopProtocolError(`unsupported IIOP version ${major}.${minor}`);
  const host = r.string();
  const port = r.ushort();
  const objectKey = r.octetSeq();
  const components = minor >= 1 ? r.seq(8, (c) => ({ tag: c.ulong(), data: c.octetSeq() })) : [];
  const alternates = components
    .filter((c) => c.tag === TAG_ALTERNATE_IIOP_ADDRESS && c.data.length > 0)
    .map((c) => {
      const a = new CdrReader(c.data, { littleEndian: c.data[0] === 1, start: 1, origin: 0 });
      return { host: a.string(), port: a.ushort() };
    });
  return { major, minor, host, port, objectKey, components, alternates };
}

/** Writes an IOR in place. */
export function writeIor(w: CdrWriter, ior: Ior): void {
  w.string(ior.typeId);
  w.seq(ior.profiles, (p, profile) => {
    p.ulong(profile.tag);
    p.octetSeq(profile.data);
  });
}

/** Encodes an IIOP profile body (little-endian encapsulation). */
export function encodeIiopProfile(profile: Omit<IiopProfile, 'alternates'>, littleEndian = true): Uint8Array {
  const w = new CdrWriter(littleEndian);
  w.octet(littleEndian ? 1 : 0);
  w.octet(profile.major);
  w.octet(profile.minor);
  w.string(profile.host);
  w.ushort(profile.port);
  w.octetSeq(profile.objectKey);
  if (profile.minor >= 1) {
    w.seq(profile.components, (c, component) => {
      c.ulong(component.tag);
      c.octetSeq(component.data);
    });
  }
  return w.finish().slice();
}

/** `IOR:<hex>` of an IOR, in the given byte order. */
export function stringifyIor(ior: Ior, littleEndian = true): string {
  const w = new CdrWriter(littleEndian);
  w.octet(littleEndian ? 1 : 0);
  writeIor(w, ior);
  return `IOR:${Buffer.from(w.finish()).toString('hex')}`;
}

export interface CorbalocAddress {
  major: number;
  minor: number;
  host: string;
  port: number;
}

export interface Corbaloc {
  addresses: CorbalocAddress[];
  objectKey: Uint8Array;
}

/** Parses `corbaloc:iiop:[1.2@]host[:port][,...]/key` (default version 1.0, default port 2809). */
export function parseCorbaloc(text: string): Corbaloc {
  const m = /^corbaloc:([^/]*)\/(.*)$/i.exec(text.trim());
  if (m === null) throw new GiopProtocolError('a corbaloc URL is corbaloc:<addresses>/<key>');
  const addresses = m[1].split(',').map(parseAddress);
  return { addresses, objectKey: unescapeKey(m[2]) };
}

function parseAddress(text: string): CorbalocAddress {
  let rest: string;
  if (text.startsWith('iiop:')) rest = text.slice(5);
  else if (text.startsWith(':')) rest = text.slice(1);
  else throw new GiopProtocolError(`unsupported corbaloc protocol in "${text}" (only iiop)`);
  let major = 1;
  let minor = 0;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const v = /^(\d+)\.(\d+)$/.exec(rest.slice(0, at));
    if (v === null) throw new GiopProtocolError(`bad corbaloc version in "${text}"`);
    major = Number(v[1]);
    minor = Number(v[2]);
    if (major !== 1 || minor > 2) throw new GiopProtocolError(`unsupported IIOP version ${major}.${minor}`);
    rest = rest.slice(at + 1);
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new GiopProtocolError(`unterminated IPv6 address in "${text}"`);
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw new GiopProtocolError(`bad corbaloc address "${text}"`);
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = rest.lastIndexOf(':');
    host = colon >= 0 ? rest.slice(0, colon) : rest;
    portText = colon >= 0 ? rest.slice(colon + 1) : undefined;
  }
  if (host === '') throw new GiopProtocolError(`corbaloc address without a host: "${text}"`);
  const port = portText === undefined || portText === '' ? 2809 : Number(portText);
  if (!/^\d*$/.test(portText ?? '') || !Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new GiopProtocolError(`bad corbaloc port in "${text}"`);
  }
  return { major, minor, host, port };
}

function unescapeKey(text: string): Uint8Array {
  const out: number[] = [];
  const raw = Buffer.from(text, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === 0x25) {
      const hex = raw.subarray(i + 1, i + 3).toString('latin1');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new GiopProtocolError('bad %-escape in corbaloc key');
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      out.push(c);
    }
  }
  return Uint8Array.from(out);
}

/** `corbaloc:iiop:1.2@host:port/key` with the key %-escaped where needed. */
export function formatCorbaloc(address: CorbalocAddress, objectKey: Uint8Array): string {
  let key = '';
  for (const b of objectKey) {
    const c = String.fromCharCode(b);
    key += /[A-Za-z0-9;/:?@&=+$,\-_.!~*'()]/.test(c) ? c : `%${b.toString(16).padStart(2, '0')}`;
  }
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `corbaloc:iiop:${address.major}.${address.minor}@${host}:${address.port}/${key}`;
}
