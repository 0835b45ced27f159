/**
 * The connections a system's Tango clients share (one `GiopConnection` per server endpoint, reference counted:
 * the last user's release closes it), the connection actors' default supervisor (`tango`, one per system), and
 * calling an operation on an object reference (endpoint + object key) with a LOCATION_FORWARD reply followed once.
 */
import type { Supervisor } from '../../engine/supervisor.js';
import type { OrrerySystem } from '../../engine/system.js';
import { LocationForward } from './giop/errors.js';
import { GiopConnection, type RequestSpec } from './giopConnection.js';

/** The default supervisor of Tango connection actors. */
export const TANGO_SUPERVISOR = 'tango';

/** Where an object lives: a server endpoint and the object's key there. */
export interface ObjectRef {
  host: string;
  port: number;
  objectKey: Uint8Array;
}

export interface PoolOptions {
  supervisor?: Supervisor | string;
  connectTimeout?: number;
}

interface Entry {
  connection: GiopConnection;
  users: number;
}

/** The connections of one system (and supervisor), by endpoint. */
export class ConnectionPool {
  readonly system: OrrerySystem;
  readonly #options: PoolOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(system: OrrerySystem, options: PoolOptions = {}) {
    this.system = system;
    this.#options = options;
  }

  /** The shared connection to host:port (one more user: `release` it). */
  acquire(host: string, port: number): GiopConnection {
    const key = endpointKey(host, port);
    let entry = this.#entries.get(key);
    if (entry === undefined || entry.connection.closed) {
      const supervisor = this.#options.supervisor ?? defaultSupervisor(this.system);
      entry = {
        connection: new GiopConnection(host, port, {
          system: this.system,
          supervisor,
          connectTimeout: this.#options.connectTimeout,
        }),
        users: 0,
      };
      this.#entries.set(key, entry);
    }
    entry.users++;
    return entry.connection;
  }

  /** One user less; the last one closes the connection (resolves when its socket is released). */
  async release(connection: GiopConnection): Promise<void> {
    const key = endpointKey(connection.host, connection.port);
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.connection !== connection) {
      await connection.close();
      return;
    }
    entry.users--;
    if (entry.users <= 0) {
      this.#entries.delete(key);
      await connection.close();
    }
  }

  /** Connections open or opening. */
  get size(): number {
    return this.#entries.size;
  }
}

const pools = new WeakMap<OrrerySystem, Map<unknown, ConnectionPool>>();

/** The pool of `system` for `supervisor` (the default one when undefined). */
export function poolFor(system: OrrerySystem, options: PoolOptions = {}): ConnectionPool {
  let bySupervisor = pools.get(system);
  if (bySupervisor === undefined) {
    bySupervisor = new Map();
    pools.set(system, bySupervisor);
  }
  const key = options.supervisor ?? TANGO_SUPERVISOR;
  let pool = bySupervisor.get(key);
  if (pool === undefined) {
    pool = new ConnectionPool(system, options);
    bySupervisor.set(key, pool);
  }
  return pool;
}

function defaultSupervisor(system: OrrerySystem): string {
  if (system.supervisorActor(TANGO_SUPERVISOR) === undefined) {
    system.supervisor(TANGO_SUPERVISOR, { strategy: 'one_for_one', intensity: 10, periodMs: 10_000 });
  }
  return TANGO_SUPERVISOR;
}

/** The key of a server endpoint, one per host (any case) and port: what connections are shared and kept by. */
export function endpointKey(host: string, port: number): string {
  return `${host.toLowerCase()}:${port}`;
}

/**
 * Calls an operation on `ref` through `connect(host, port)`. A LOCATION_FORWARD reply is followed once (a
 * second forward is an error); `onForward` learns the new reference and the one it replaces, `from` (a permanent
 * forward replaces it).
 */
export async function callObject<R>(
  connect: (host: string, port: number) => GiopConnection,
  ref: ObjectRef,
  spec: Omit<RequestSpec<R>, 'objectKey'>,
  onForward?: (to: ObjectRef, permanent: boolean, from: ObjectRef) => void,
): Promise<R> {
  try {
    return await connect(ref.host, ref.port).request({ ...spec, objectKey: ref.objectKey });
  } catch (error) {
    if (!(error instanceof LocationForward) || error.ior.iiop === undefined) throw error;
    const { host, port, objectKey } = error.ior.iiop;
    const to = { host, port, objectKey };
    onForward?.(to, error.permanent, ref);
    return await connect(host, port).request({ ...spec, objectKey });
  }
}
