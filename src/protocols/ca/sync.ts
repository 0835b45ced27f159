/**
 * caproto's synchronous client (`caproto.sync.client`) as promises: `read`, `write`, `readWriteRead` here,
 * `subscribe`, `block`, `interrupt` in `block.ts`. One call is one promise; nothing is held between calls but the
 * shared default Context.
 *
 * Differences from upstream, on purpose:
 * - caproto opens a UDP socket, searches, connects a TCP circuit and tears it down again for EVERY call. Here every
 *   call goes through one shared default Context (created on first use, its sockets unref'd so a script still
 *   exits when it is done): the search answer, the circuit and the channel are reused by the next call on the same
 *   name and priority, so a loop of `read()` costs one round trip per call. `closeDefaultContext()` releases it;
 *   `{ context }` runs a call on a Context of your own.
 * - Durations are milliseconds (`timeout: 2000`, the default, is caproto's 2-second `CAPROTO_DEFAULT_TIMEOUT`;
 *   the env variable, in seconds, still overrides it through the Context).
 * - The timeout is one deadline over the whole call (search, connection and reply), as caproto's threading client
 *   does; the sync client applies it to each step.
 */
import { checkDuration } from '../../../machines/core/duration.js';
import type { Clock } from '../../engine/clock.js';
import { MAX_PRIORITY } from './constants.js';
import { Context, type ContextOptions } from './context.js';
import { CaValueError } from './errors.js';
import type { PV } from './pv.js';
import { checkOptions, describeArg, type ReadResponse, type WriteResponse } from './pvTypes.js';

/**
 * A requested data type: a DBR id (`20`), a name (`'DBR_TIME_DOUBLE'`, `'time_double'`, `'ENUM'`) or, as in
 * caproto, a class matched to the channel's native type: `'native' | 'status' | 'time' | 'graphic' | 'control'`
 * (the PV's rules, `pvTypes.ts`: ENUM channels are read as STRING unless `forceIntEnums`).
 */
export type DataTypeSpec = number | string;

/** Options every sync call takes. */
export interface SyncCallOptions {
  /**
   * ms for the whole call: search, connection and reply (default the Context's: 2000 unless `CAPROTO_DEFAULT_TIMEOUT`
   * or its `timeout` option says otherwise; `Infinity` for never).
   */
  timeout?: number;
  /** Circuit priority 0..99 (default 0). */
  priority?: number;
  /** Run on this Context instead of the shared default one. */
  context?: Context;
}

export interface SyncReadOptions extends SyncCallOptions {
  dataType?: DataTypeSpec;
  dataCount?: number;
  /** Accepted as caproto's; a read is always a READ_NOTIFY (READ is deprecated: `pv.read`'s `notify`). */
  notify?: boolean;
  /** Read ENUM channels as their index (default: as the state string). */
  forceIntEnums?: boolean;
}

export interface SyncWriteOptions extends SyncCallOptions {
  /** WRITE_NOTIFY and wait for it (put completion); default false: WRITE, nothing to wait for. */
  notify?: boolean;
  /** Write as this type (default: the native type; a string to an ENUM channel goes as DBR_STRING). */
  dataType?: DataTypeSpec;
}

export interface ReadWriteReadOptions extends SyncCallOptions {
  notify?: boolean;
  readDataType?: DataTypeSpec;
  writeDataType?: DataTypeSpec;
  forceIntEnums?: boolean;
}

let shared: Context | undefined;

/**
 * The Context every sync call uses unless given one: created on first use with the environment's configuration
 * (`EPICS_CA_ADDR_LIST`, ...), its sockets unref'd so that it never keeps a script running.
 */
export function defaultContext(options?: ContextOptions): Context {
  if (shared === undefined) {
    shared = new Context({ ...options, unref: true });
  }
  return shared;
}

/** Disconnects the shared default Context (the next sync call makes a new one). */
export async function closeDefaultContext(): Promise<void> {
  const context = shared;
  shared = undefined;
  await context?.disconnect();
}

/**
 * A validated timeout in ms, or undefined for the Context's own: `CAPROTO_DEFAULT_TIMEOUT` or its `timeout` option,
 * else 2000 (caproto's GLOBAL_DEFAULT_TIMEOUT, read from the environment, is every sync call's default).
 */
export function checkTimeout(value: unknown, name = 'timeout'): number | undefined {
  if (value === undefined) return undefined;
  return checkDuration(name, value, false) as number;
}

/** A validated priority 0..99 (default 0). */
export function checkPriority(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_PRIORITY) {
    throw new CaValueError(`priority must be an integer 0..${MAX_PRIORITY}, got ${describeArg(value)}`);
  }
  return value;
}

/** `options.context` (a Context, checked) or the shared default one. */
export function contextOf(options: { context?: Context }): Context {
  const context = options.context;
  if (context === undefined) return defaultContext();
  if (!(context instanceof Context)) {
    throw new CaValueError(`context must be a Context, got ${describeArg(context)}`);
  }
  return context;
}

/**
 * A deadline over several steps: the ms left (never negative), Infinity for never. Measured on `clock`, the clock
 * of the Context whose requests it bounds (their own deadlines run on it).
 */
export function deadline(timeout: number, clock: Clock): () => number {
  if (timeout === Number.POSITIVE_INFINITY) return () => timeout;
  const end = clock.now() + timeout;
  return () => Math.max(0, end - clock.now());
}

/** Each Context's PVs by priority and name: the same objects its `getPv` caches, found without its option checks. */
const pvCache = new WeakMap<Context, Map<string, PV>>();

/** The PV `name` on `context` (or the default); its operations wait for the connection themselves. */
function pvOf(name: string, options: SyncCallOptions): PV {
  if (typeof name !== 'string' || name === '') throw new CaValueError('a PV name must be a non-empty string');
  const context = contextOf(options);
  // checked before it makes the cache key: a cached PV must not let a bad priority through
  const priority = checkPriority(options.priority);
  let pvs = pvCache.get(context);
  if (pvs === undefined) {
    pvs = new Map();
    pvCache.set(context, pvs);
  }
  const key = `${priority}:${name}`;
  let pv = pvs.get(key);
  if (pv === undefined) {
    pv = context.getPv(name, { priority });
    pvs.set(key, pv);
  }
  return pv;
}

/**
 * caproto `read(pv_name, ...)`: READ_NOTIFY of the channel's native type (ENUM as STRING unless `forceIntEnums`)
 * or of `dataType`. Rejects with CaTimeoutError when the PV is not found or does not answer within `timeout`,
 * CaStatusError for a failing ECA, ErrorResponseReceived when the server refuses the request.
 */
export async function read(pvName: string, options: SyncReadOptions = {}): Promise<ReadResponse> {
  checkOptions(options, 'read');
  const timeout = checkTimeout(options.timeout);
  return pvOf(pvName, options).read({
    timeout,
    dataType: options.dataType,
    dataCount: options.dataCount,
    notify: options.notify ?? true,
    forceIntEnums: options.forceIntEnums,
  });
}

/**
 * caproto `write(pv_name, data, ...)`: without `notify` a WRITE (resolves undefined once it is sent); with it a
 * WRITE_NOTIFY, resolving to the WriteResponse when the server reports completion. A string (or strings) to an
 * ENUM channel is written as DBR_STRING (the state name).
 */
export async function write(
  pvName: string,
  data: unknown,
  options: SyncWriteOptions = {},
): Promise<WriteResponse | undefined> {
  checkOptions(options, 'write');
  const timeout = checkTimeout(options.timeout);
  const notify = options.notify ?? false;
  return pvOf(pvName, options).write(data, { wait: notify, notify, timeout, dataType: options.dataType });
}

/**
 * caproto `read_write_read`: the value before, the write (its WriteResponse with `notify`, else null) and the value
 * after, over ONE channel, within one `timeout`. As with `caput -c`, the final reading reflects the write for
 * certain only with `notify`.
 */
export async function readWriteRead(
  pvName: string,
  data: unknown,
  options: ReadWriteReadOptions = {},
): Promise<[ReadResponse, WriteResponse | null, ReadResponse]> {
  checkOptions(options, 'readWriteRead');
  const timeout = checkTimeout(options.timeout);
  const pv = pvOf(pvName, options);
  const left = deadline(timeout ?? pv.context.config.timeoutMs, pv.context.clock);
  const notify = options.notify ?? false;
  const readOptions = { dataType: options.readDataType, forceIntEnums: options.forceIntEnums };
  const initial = await pv.read({ ...readOptions, timeout: left() });
  const response = await pv.write(data, {
    wait: notify,
    notify,
    timeout: left(),
    dataType: options.writeDataType,
  });
  const final = await pv.read({ ...readOptions, timeout: left() });
  return [initial, response ?? null, final];
}
