/**
 * Tango device names as PyTango accepts them, and `TANGO_HOST`:
 *
 *   dom/fam/member                             through the database of TANGO_HOST
 *   host:port/dom/fam/member                   through the database at host:port
 *   tango://host:port/dom/fam/member           the same
 *   tango://host:port/dom/fam/member#dbase=no  no database: the server itself listens at host:port and the
 *                                              device's object key is its name (corbaloc)
 *   my_alias, tango://host:port/my_alias       a device alias (no '/'), which the database resolves to a device
 *                                              name (cppTango's DbGetAliasDevice); never with #dbase=no
 *
 * `TANGO_HOST` is `host:port` or several, comma separated (`db1:10000,db2:10000`: tried in order). Device names
 * are case-insensitive in Tango; the name is kept as written (servers compare case-insensitively; without a database
 * the object key is the name in lower case, as the server registers it). Pure.
 */

import { hostPort } from '../../transport/address.js';
import { TangoNameError } from './clientErrors.js';

export interface TangoEndpoint {
  host: string;
  port: number;
}

export interface TangoDeviceName {
  /** `dom/fam/member`, as written. */
  device: string;
  /** The database hosts (with a database), or the device server itself (`dbase=no`); empty: use TANGO_HOST. */
  hosts: TangoEndpoint[];
  /** `#dbase=no`: no database, `hosts[0]` is the device server. */
  noDatabase: boolean;
  /** `device` is an alias (the name had no '/'), for the database to resolve; absent for a device name. */
  alias?: true;
}

const DEVICE = /^[^/\s#]+\/[^/\s#]+\/[^/\s#]+$/;
const ALIAS = /^[^/\s#:]+$/;

function parseEndpoint(text: string, what: string): TangoEndpoint {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') throw new TangoNameError(`bad ${what} "${text}"`);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) throw new TangoNameError(`${what} "${text}" is not host:port`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  const port = Number(portText);
  if (host === '' || !/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
    throw new TangoNameError(`${what} "${text}" is not host:port with a port in 1..65535`);
  }
  return { host, port };
}

/** Parses `TANGO_HOST` (`host:port[,host:port...]`); TangoNameError if malformed or empty. */
export function parseTangoHost(text: string): TangoEndpoint[] {
  if (typeof text !== 'string' || text.trim() === '') throw new TangoNameError('TANGO_HOST is empty');
  return text.split(',').map((part) => parseEndpoint(part.trim(), 'TANGO_HOST entry'));
}

/** Parses a device name (see the header); TangoNameError if malformed. */
export function parseDeviceName(name: string): TangoDeviceName {
  if (typeof name !== 'string' || name.trim() === '') throw new TangoNameError('a device name is required');
  let rest = name.trim();
  let noDatabase = false;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    const option = rest.slice(hash + 1);
    if (option.toLowerCase() !== 'dbase=no' && option.toLowerCase() !== 'dbase=yes') {
      throw new TangoNameError(`unknown device name option "#${option}" in "${name}"`);
    }
    noDatabase = option.toLowerCase() === 'dbase=no';
    rest = rest.slice(0, hash);
  }
  const hadScheme = /^tango:\/\//i.test(rest);
  if (hadScheme) rest = rest.slice('tango://'.length);
  const parts = rest.split('/');
  const bad = () =>
    new TangoNameError(`"${name}" is not [tango://host:port/]domain/family/member or an alias`);
  // an alias is one part; after host:port (with the scheme, or a ':' as in host:port/alias) two
  const alias = parts.length === 1 ? !hadScheme : parts.length === 2 && (hadScheme || parts[0].includes(':'));
  let hosts: TangoEndpoint[] = [];
  if (parts.length === 4 || (alias && parts.length === 2)) {
    hosts = parts[0].split(',').map((h) => parseEndpoint(h, 'host'));
    rest = parts.slice(1).join('/');
  } else if (!alias && (hadScheme || parts.length !== 3)) {
    throw bad();
  }
  if (!(alias ? ALIAS : DEVICE).test(rest)) throw bad();
  if (alias && noDatabase) {
    throw new TangoNameError(`"${name}": an alias needs a database to resolve it, not #dbase=no`);
  }
  if (noDatabase && hosts.length === 0) {
    throw new TangoNameError(`"${name}": #dbase=no needs the server's host:port in the name`);
  }
  return alias ? { device: rest, hosts, noDatabase, alias: true } : { device: rest, hosts, noDatabase };
}

/** The canonical full name, `tango://host:port/dom/fam/member[#dbase=no]` (or `tango://host:port/alias`). */
export function formatDeviceName(name: TangoDeviceName): string {
  if (name.hosts.length === 0) return name.device;
  const hosts = name.hosts.map((h) => hostPort(h.host, h.port));
  return `tango://${hosts.join(',')}/${name.device}${name.noDatabase ? '#dbase=no' : ''}`;
}
