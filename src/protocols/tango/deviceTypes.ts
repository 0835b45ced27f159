/**
 * What a native `DeviceProxy` hands back, in PyTango's shapes with camelCase names: `DeviceAttribute` (a read),
 * `CommandInfo` (`command_query`), and the proxy's options. Pure types.
 */

import type { Supervisor } from '../../engine/supervisor.js';
import type { OrrerySystem } from '../../engine/system.js';
import type { DevStateName, TangoTypeName } from './giop/any.js';
import type { AttributeConfig5 } from './giop/attributeConfig.js';

export type { AttributeConfig5 as AttributeConfig };

/** PyTango `AttrQuality` names. */
export type AttrQualityName = 'ATTR_VALID' | 'ATTR_INVALID' | 'ATTR_ALARM' | 'ATTR_CHANGING' | 'ATTR_WARNING';
/** PyTango `AttrDataFormat` names. */
export type AttrDataFormatName = 'SCALAR' | 'SPECTRUM' | 'IMAGE' | 'FMT_UNKNOWN';

/**
 * One attribute read (PyTango `DeviceAttribute`). `value` is a scalar (number, boolean, string, bigint for the
 * 64-bit types, a DevState name) for SCALAR, an array for SPECTRUM, an array of rows for IMAGE; `wValue` is the
 * set point of a writable attribute (same shape), undefined otherwise.
 */
export interface DeviceAttribute {
  name: string;
  value: unknown;
  wValue: unknown;
  quality: AttrQualityName;
  dataFormat: AttrDataFormatName;
  /** The Tango type (e.g. `DevDouble`; `DevState` for State). */
  type: TangoTypeName | 'DevEnum' | 'Unknown';
  dimX: number;
  dimY: number;
  wDimX: number;
  wDimY: number;
  /** Server time of the read, in ms since the epoch (with sub-ms precision). */
  time: number;
}

/** PyTango `CommandInfo` (`command_query`), with the Tango type names. */
export interface CommandInfo {
  cmdName: string;
  /** 0 OPERATOR, 1 EXPERT. */
  dispLevel: number;
  cmdTag: number;
  inType: TangoTypeName | 'Unknown';
  outType: TangoTypeName | 'Unknown';
  inTypeDesc: string;
  outTypeDesc: string;
}

export interface DeviceProxyOptions {
  /** The system whose supervisor and clock the connection actors use (default: the process default). */
  system?: OrrerySystem;
  /** Spawn connection actors under this supervisor (default: the system's own `tango` supervisor). */
  supervisor?: Supervisor | string;
  /** Per-request timeout in ms (default 3000, cppTango's); Infinity for none. */
  timeout?: number;
  /** `host:port[,host:port]` of the database when the name has none (default: the `TANGO_HOST` variable). */
  tangoHost?: string;
  /** DevSource of reads and commands: `CACHE_DEV` (default, what PyTango sends), `CACHE` or `DEV`. */
  source?: 'DEV' | 'CACHE' | 'CACHE_DEV';
}

export type { DevStateName };
