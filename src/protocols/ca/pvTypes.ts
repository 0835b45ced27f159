/**
 * Which DBR type a PV operation asks for, and the response shapes (caproto threading client's `data_type`
 * handling): a DBR id or name (`DBR_TIME_DOUBLE`, `time_double`, 6), or a class name (`'native'`, `'status'`,
 * `'time'`, `'graphic'`, `'control'`) that promotes the channel's native type. Reads and monitors of a native ENUM
 * ask for STRING (`'native'`, `'status'`, `'time'`) unless `forceIntEnums` (`'graphic'` and `'control'` keep ENUM:
 * their metadata carries the state strings). Writes of a string (or strings) to a native ENUM go as DBR_STRING.
 */
import { ChannelType, type DbrFamily, type NativeType, parseDbrType, promote } from './constants.js';
import type { CaArray, DbrMetadata } from './dbr.js';
import { CaValueError } from './errors.js';

export interface ReadResponse {
  data: CaArray;
  dataType: number;
  dataCount: number;
  /** The ECA status of the reply (ECA_NORMAL). */
  status: number;
  metadata: DbrMetadata;
}
export interface WriteResponse {
  status: number;
  dataType: number;
  dataCount: number;
}
export interface EventResponse extends ReadResponse {
  subscriptionId: number;
}

const CLASSES: Record<string, Exclude<DbrFamily, 'special'>> = {
  native: 'native',
  status: 'sts',
  sts: 'sts',
  time: 'time',
  graphic: 'gr',
  gr: 'gr',
  control: 'ctrl',
  ctrl: 'ctrl',
};

/** The DBR type to read (or monitor) for `spec` on a channel of type `native`. */
export function readType(
  spec: number | string | undefined,
  native: NativeType,
  forceIntEnums = false,
): number {
  if (spec === undefined || (typeof spec === 'string' && Object.hasOwn(CLASSES, spec.toLowerCase()))) {
    const family =
      spec === undefined ? 'native' : (CLASSES[(spec as string).toLowerCase()] as keyof typeof CLASSES);
    const asString = native === ChannelType.ENUM && !forceIntEnums && family !== 'gr' && family !== 'ctrl';
    return promote(asString ? ChannelType.STRING : native, family as Exclude<DbrFamily, 'special'>);
  }
  return checkType(spec);
}

/** The DBR type to write `data` with on a channel of type `native`. */
export function writeType(spec: number | string | undefined, native: NativeType, data: unknown): number {
  if (spec === undefined || spec === 'native') {
    const strings =
      typeof data === 'string' ||
      (Array.isArray(data) && data.length > 0 && data.every((d) => typeof d === 'string'));
    return native === ChannelType.ENUM && strings ? ChannelType.STRING : native;
  }
  const type = checkType(spec);
  if (type > 6) throw new CaValueError(`writes take a native DBR type (0..6), got ${String(spec)}`);
  return type;
}

function checkType(spec: number | string): number {
  const type = typeof spec === 'number' || typeof spec === 'string' ? parseDbrType(spec) : undefined;
  if (type === undefined || type > 34) {
    throw new CaValueError(`unknown DBR type ${describeArg(spec)} (a DBR id 0..34, a name or a class)`);
  }
  return type;
}

/** A bad argument for an error message, whatever it is (`String()` throws for some objects). */
export function describeArg(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** Throws CaValueError unless `options` is an object (callers default `undefined` to `{}`): `null` included. */
export function checkOptions(options: unknown, what: string): void {
  if (options === null || typeof options !== 'object') {
    throw new CaValueError(`${what} options must be an object, got ${describeArg(options)}`);
  }
}

/** A data count option: undefined, or a non-negative integer (0 = as many as the server has). */
export function checkCount(count: unknown): number | undefined {
  if (count === undefined) return undefined;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 0xffffffff) {
    throw new CaValueError(`dataCount must be a non-negative integer, got ${describeArg(count)}`);
  }
  return count;
}

/**
 * A `signal` option: undefined, or an AbortSignal. Anything else is refused before a request takes an ioid, a
 * timer or a waiter (it would throw a TypeError halfway through, leaving them behind).
 */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new CaValueError(`signal must be an AbortSignal, got ${describeArg(signal)}`);
  }
  return signal;
}
