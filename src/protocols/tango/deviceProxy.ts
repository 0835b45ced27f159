/**
 * `DeviceProxy`: a native Tango client for one device, PyTango's `DeviceProxy` in camelCase, over GIOP with no
 * CORBA library. `new DeviceProxy(name)` is lazy (the first call resolves and connects); `DeviceProxy.connect`
 * resolves and pings first.
 *
 * Resolution: `tango://host:port/dom/fam/member#dbase=no` talks to the server at host:port with the device name as
 * object key; otherwise `DbImportDevice` on the database (the name's host:port, else `TANGO_HOST`, several hosts
 * tried in order) gives the device's IOR, cached; when a connect to the device fails the import is done again
 * once (the server may have moved). A name with no '/' (`my_alias`, `tango://host:port/my_alias`) is an alias: the
 * first call asks the database `DbGetAliasDevice` for its device name (cached with the import), then imports that
 * device; `name` is the device name from then on, `alias` the alias (PyTango's `dev_name()` and `alias()`).
 * Connections are shared per server endpoint within a system (`giopRequests.ts`), each an actor under the system's
 * `tango` supervisor (or `options.supervisor`).
 *
 * `commandInout(cmd, arg)` is one round trip: the argument's Tango type comes from `command_list_query_2`, fetched
 * once per proxy (PyTango asks `command_query` before every `command_inout`). `writeAttribute` fetches the
 * attribute's config once. Errors: `DevFailed` with the device's stack, `AttributeNotFoundError` (a `DevFailed`)
 * for a missing attribute, `TangoTimeoutError` (default 3 s, cppTango's), `TangoConnectionError`,
 * `TangoClosedError` after `close()`, `TangoTypeError` for a value of the wrong shape.
 */
import { checkDuration } from '../../../machines/core/duration.js';
import { checkSystem } from '../../api/lifecycle.js';
import { getDefaultSystem, type OrrerySystem } from '../../engine/system.js';
import {
  AttributeNotFoundError,
  TangoClosedError,
  TangoConnectionError,
  TangoNameError,
  TangoTypeError,
} from './clientErrors.js';
import { CLIENT_IDENT, DeviceDirectory } from './database.js';
import type { CommandInfo, DeviceAttribute, DeviceProxyOptions, DevStateName } from './deviceTypes.js';
import {
  fromTangoValue,
  guessType,
  toAttributeValue4,
  toDeviceAttribute,
  toTangoValue,
  typeName,
} from './deviceValues.js';
import { DevFailed } from './errors.js';
import { DEV_STATES, type TangoValue } from './giop/any.js';
import type { AttributeConfig5 } from './giop/attributeConfig.js';
import type { CdrReader, CdrWriter } from './giop/cdr.js';
import { GiopProtocolError } from './giop/errors.js';
import {
  type CommandValue,
  commandInout4,
  commandListQuery2,
  commandQuery2,
  getAdmName,
  getAttributeConfig5,
  getState,
  getStatus,
  ping,
  readAttributes5,
  writeAttributes4,
} from './giop/operations.js';
import type { AttributeValue5, DevCmdInfo } from './giop/tangoTypes.js';
import type { GiopConnection } from './giopConnection.js';
import { type ConnectionPool, callObject, endpointKey, type ObjectRef, poolFor } from './giopRequests.js';
import { formatDeviceName, parseDeviceName, parseTangoHost, type TangoDeviceName } from './tangoName.js';

export const DEFAULT_TIMEOUT_MS = 3_000;
const SOURCES = { DEV: 0, CACHE: 1, CACHE_DEV: 2 } as const;
/** cppTango's `AllAttr_3`: every attribute's config. */
const ALL_ATTRIBUTES = 'All attributes_3';

const directories = new WeakMap<ConnectionPool, DeviceDirectory>();

function commandInfo(c: DevCmdInfo): CommandInfo {
  return {
    cmdName: c.cmd_name,
    dispLevel: c.level ?? 0,
    cmdTag: c.cmd_tag,
    inType: typeName(c.in_type) === 'DevEnum' ? 'Unknown' : (typeName(c.in_type) as CommandInfo['inType']),
    outType:
      typeName(c.out_type) === 'DevEnum' ? 'Unknown' : (typeName(c.out_type) as CommandInfo['outType']),
    inTypeDesc: c.in_type_desc,
    outTypeDesc: c.out_type_desc,
  };
}

const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** A command or attribute name given to a public method (else `TangoTypeError`). */
function checkName(what: string, v: unknown): string {
  if (typeof v !== 'string') throw new TangoTypeError(`${what} must be a string, got ${kindOf(v)}`);
  return v;
}

/** A list of attribute names, copied (else `TangoTypeError`). */
function checkNames(v: unknown): string[] {
  if (!Array.isArray(v)) throw new TangoTypeError(`attribute names must be an array, got ${kindOf(v)}`);
  return v.map((n) => checkName('an attribute name', n));
}

/** `[name, value]` pairs for `writeAttributes`, copied (else `TangoTypeError`). */
function checkWrites(v: unknown): (readonly [string, unknown])[] {
  if (!Array.isArray(v))
    throw new TangoTypeError(`writeAttributes needs an array of [name, value], got ${kindOf(v)}`);
  return v.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2)
      throw new TangoTypeError(`writeAttributes needs [name, value] pairs, got ${kindOf(pair)}`);
    return [checkName('an attribute name', pair[0]), pair[1]] as const;
  });
}

/**
 * The server's `API_AttrNotFound` (get_attribute_config raises it for a missing attribute, where a read reports it
 * in the element) as `AttributeNotFoundError`, naming the attribute its message names (cppTango: `<name> attribute
 * not found`); any other error as it is.
 */
function attributeNotFound(error: unknown, names: readonly string[]): unknown {
  if (!(error instanceof DevFailed) || error instanceof AttributeNotFoundError) return error;
  const desc = error.errors.find((e) => e.reason === 'API_AttrNotFound')?.desc.toLowerCase();
  if (desc === undefined) return error;
  const name = names.find((n) => desc.startsWith(`${n.toLowerCase()} `)) ?? names.join(', ');
  return new AttributeNotFoundError(name, error.errors);
}

export class DeviceProxy {
  /** The alias this proxy was made with (PyTango `alias()`), undefined when it was given a device name. */
  readonly alias: string | undefined;
  readonly system: OrrerySystem;
  readonly #parsed: TangoDeviceName;
  /** `dom/fam/member`: as written, or the database's answer for an alias (undefined until then). */
  #device: string | undefined;
  readonly #timeout: number;
  readonly #source: number;
  readonly #pool: ConnectionPool;
  readonly #directory: DeviceDirectory;
  readonly #connections = new Map<string, GiopConnection>();
  #ref: ObjectRef | undefined;
  #resolving: Promise<ObjectRef> | undefined;
  /** Whether the last resolution's import came from the directory's cache (made earlier, maybe by another proxy). */
  #resolvedFromCache = false;
  #commands: Map<string, DevCmdInfo> | undefined;
  #commandsLoading: Promise<Map<string, DevCmdInfo>> | undefined;
  readonly #configs = new Map<string, AttributeConfig5>();
  /** Rejects each call in flight (`close()` fails them with `TangoClosedError`). */
  readonly #inFlight = new Set<(error: Error) => void>();
  /** What `close()` ends with the proxy (its event subscriptions). */
  readonly #closeListeners = new Set<() => void>();
  #closed = false;

  constructor(name: string, options: DeviceProxyOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TangoNameError('options must be an object');
    const parsed = parseDeviceName(name);
    if (parsed.hosts.length === 0) {
      const tangoHost = options.tangoHost ?? process.env.TANGO_HOST;
      if (tangoHost === undefined || tangoHost === '') {
        throw new TangoNameError(`"${name}" names no database host and TANGO_HOST is not set`);
      }
      parsed.hosts = parseTangoHost(tangoHost);
    }
    const source = options.source ?? 'CACHE_DEV';
    // own keys only: `in` also takes what every object inherits (toString, constructor)
    if (typeof source !== 'string' || !Object.hasOwn(SOURCES, source))
      throw new TangoNameError(`source must be DEV, CACHE or CACHE_DEV, got ${String(source)}`);
    this.#parsed = parsed;
    this.alias = parsed.alias ? parsed.device : undefined;
    this.#device = parsed.alias ? undefined : parsed.device;
    this.#timeout = checkDuration('timeout', options.timeout, false) ?? DEFAULT_TIMEOUT_MS;
    this.#source = SOURCES[source];
    this.system = checkSystem(options.system) ?? getDefaultSystem();
    this.#pool = poolFor(this.system, { supervisor: options.supervisor });
    let directory = directories.get(this.#pool);
    if (directory === undefined) {
      directory = new DeviceDirectory();
      directories.set(this.#pool, directory);
    }
    this.#directory = directory;
    if (parsed.noDatabase) {
      const h = parsed.hosts[0];
      // the server registers each device under its name in lower case, and omniORB matches object keys exactly: a
      // name written in another case (which PyTango accepts, lower-casing it) would get OBJECT_NOT_EXIST
      const objectKey = new TextEncoder().encode(parsed.device.toLowerCase());
      this.#ref = { host: h.host, port: h.port, objectKey };
    }
  }

  /** A proxy whose device is resolved and answered a ping (else the error, and nothing is left open). */
  static async connect(name: string, options: DeviceProxyOptions = {}): Promise<DeviceProxy> {
    const proxy = new DeviceProxy(name, options);
    try {
      await proxy.ping();
      return proxy;
    } catch (error) {
      await proxy.close();
      throw error;
    }
  }

  /**
   * `dom/fam/member`, as written (PyTango `dev_name()`); for an alias, the device the database names, known once
   * the proxy is resolved (after `DeviceProxy.connect`, `resolveName()` or any call), the alias until then.
   */
  get name(): string {
    return this.#device ?? this.#parsed.device;
  }

  /** `tango://host:port/dom/fam/member[#dbase=no]` (the database hosts, or the server without one), as `name`. */
  get fullName(): string {
    return formatDeviceName({
      hosts: this.#parsed.hosts,
      noDatabase: this.#parsed.noDatabase,
      device: this.name,
    });
  }

  /** The device name, asking the database the device of an alias not resolved yet (`DbGetAliasDevice`). */
  async resolveName(): Promise<string> {
    if (this.#device !== undefined) return this.#device;
    if (this.#closed) throw this.#closedError();
    return this.#track(this.#aliasDevice());
  }

  /** The per-request timeout, ms. */
  get timeout(): number {
    return this.#timeout;
  }

  // ---- commands ----

  /** Runs a command with a plain argument (typed by the command's `in_type`); resolves with a plain result. */
  async commandInout(command: string, argin?: unknown): Promise<unknown> {
    checkName('the command name', command);
    const commands = this.#commands ?? (await this.#loadCommands());
    const info = commands.get(command.toLowerCase());
    const inType = info === undefined ? guessType(argin) : typeName(info.in_type);
    const type = inType === 'DevEnum' ? 'DevShort' : inType === 'Unknown' ? guessType(argin) : inType;
    return fromTangoValue(await this.commandInoutRaw(command, toTangoValue(type, argin)));
  }

  /** Runs a command with a typed argument (no command query at all); resolves with the typed result. */
  commandInoutRaw(command: string, argin: TangoValue = { type: 'DevVoid' }): Promise<CommandValue> {
    try {
      checkName('the command name', command);
      if (typeof argin !== 'object' || argin === null || typeof argin.type !== 'string')
        throw new TangoTypeError(`argin must be a TangoValue ({ type, value }), got ${kindOf(argin)}`);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#call(commandInout4.name, commandInout4.readResult, (w) =>
      commandInout4.writeArgs(w, { command, argin, source: this.#source, clientIdent: CLIENT_IDENT }),
    );
  }

  async commandListQuery(): Promise<CommandInfo[]> {
    const list = await this.#call(commandListQuery2.name, commandListQuery2.readResult);
    this.#commands = new Map(list.map((c) => [c.cmd_name.toLowerCase(), c]));
    return list.map(commandInfo);
  }

  async commandQuery(command: string): Promise<CommandInfo> {
    checkName('the command name', command);
    return commandInfo(
      await this.#call(commandQuery2.name, commandQuery2.readResult, (w) =>
        commandQuery2.writeArgs(w, command),
      ),
    );
  }

  // ---- attributes ----

  async readAttribute(attribute: string): Promise<DeviceAttribute> {
    checkName('the attribute name', attribute);
    const [one] = await this.readAttributes([attribute]);
    return one;
  }

  /** Reads several attributes in one round trip; any attribute in error raises its DevFailed. */
  async readAttributes(attributes: readonly string[]): Promise<DeviceAttribute[]> {
    const names = checkNames(attributes);
    const values = await this.#call(readAttributes5.name, readAttributes5.readResult, (w) =>
      readAttributes5.writeArgs(w, { names, source: this.#source, clientIdent: CLIENT_IDENT }),
    );
    // one element per name, in order (a missing attribute is an element with its error): else readAttribute would
    // resolve undefined, or values would be named after the wrong attributes
    if (values.length !== names.length)
      throw new GiopProtocolError(
        `read_attributes_5 of ${names.length} attribute(s) on ${this.name} answered ${values.length} value(s)`,
      );
    return values.map((v, i) => this.#attribute(v, names[i]));
  }

  #attribute(v: AttributeValue5, requested: string): DeviceAttribute {
    if (v.err_list.length > 0) {
      if (v.err_list.some((e) => e.reason === 'API_AttrNotFound')) {
        throw new AttributeNotFoundError(requested, v.err_list);
      }
      throw new DevFailed(v.err_list);
    }
    return toDeviceAttribute(v);
  }

  async writeAttribute(attribute: string, value: unknown): Promise<void> {
    checkName('the attribute name', attribute);
    await this.writeAttributes([[attribute, value]]);
  }

  /** Writes several attributes in one round trip (after fetching, once, the config of any not yet known). */
  async writeAttributes(pairs: readonly (readonly [string, unknown])[]): Promise<void> {
    const values = checkWrites(pairs);
    const missing = values.map(([n]) => n).filter((n) => !this.#configs.has(n.toLowerCase()));
    if (missing.length > 0) await this.getAttributeConfigs(missing);
    const encoded = values.map(([n, v]) => {
      const config = this.#configs.get(n.toLowerCase());
      // a server whose configuration reply left the attribute out: as a missing attribute, never a raw TypeError
      if (config === undefined) throw this.#noConfig(n, 'DeviceProxy.writeAttributes');
      return toAttributeValue4(config, v);
    });
    await this.#call(writeAttributes4.name, writeAttributes4.readResult, (w) =>
      writeAttributes4.writeArgs(w, { values: encoded, clientIdent: CLIENT_IDENT }),
    );
  }

  async getAttributeConfig(attribute: string): Promise<AttributeConfig5> {
    checkName('the attribute name', attribute);
    const [one] = await this.getAttributeConfigs([attribute]);
    // a server whose configuration reply left the attribute out: as a missing attribute, as writeAttributes does
    if (one === undefined) throw this.#noConfig(attribute, 'DeviceProxy.getAttributeConfig');
    return one;
  }

  async getAttributeConfigs(attributes: readonly string[]): Promise<AttributeConfig5[]> {
    const names = checkNames(attributes);
    const configs = await this.#call(getAttributeConfig5.name, getAttributeConfig5.readResult, (w) =>
      getAttributeConfig5.writeArgs(w, names),
    ).catch((error: unknown) => {
      throw attributeNotFound(error, names);
    });
    for (const c of configs) this.#configs.set(c.name.toLowerCase(), c);
    return configs;
  }

  /** Names of the device's attributes (PyTango `get_attribute_list`). */
  async attributeList(): Promise<string[]> {
    return (await this.getAttributeConfigs([ALL_ATTRIBUTES])).map((c) => c.name);
  }

  // ---- device ----

  /** Round trip of a `ping`, in microseconds (PyTango's unit). */
  async ping(): Promise<number> {
    const start = process.hrtime.bigint();
    await this.#call(ping.name, ping.readResult);
    return Number((process.hrtime.bigint() - start) / 1000n);
  }

  async state(): Promise<DevStateName> {
    return DEV_STATES[await this.#call(getState.name, getState.readResult)];
  }

  status(): Promise<string> {
    return this.#call(getStatus.name, getStatus.readResult);
  }

  /** The admin device's name, `dserver/<exec>/<instance>`. */
  adminName(): Promise<string> {
    return this.#call(getAdmName.name, getAdmName.readResult);
  }

  /**
   * Releases this proxy's connections (shared ones close when their last user releases them) and ends the event
   * subscriptions made with it (`onClose`). Idempotent. Calls in flight reject with `TangoClosedError` and open
   * nothing more (no database fallback, forward or re-import).
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const fail of [...this.#inFlight]) fail(this.#closedError());
    this.#inFlight.clear();
    const listeners = [...this.#closeListeners];
    this.#closeListeners.clear();
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        this.system.logger.warn({ err: error }, 'a DeviceProxy close listener threw');
      }
    }
    const held = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(held.map((c) => this.#pool.release(c)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Calls `listener` once when `close()` is called (at once if it was); returns a function that forgets it. What
   * lives on this proxy ends with it: its event subscriptions, as cppTango's `~DeviceProxy` unsubscribes them.
   */
  onClose(listener: () => void): () => void {
    if (this.#closed) {
      listener();
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  // ---- plumbing ----

  /** The device's configuration reply left `attribute` out. */
  #noConfig(attribute: string, origin: string): AttributeNotFoundError {
    return new AttributeNotFoundError(attribute, [
      {
        reason: 'API_AttrNotFound',
        desc: `${this.name} gave no configuration for attribute ${attribute}`,
        origin,
        severity: 'ERR',
      },
    ]);
  }

  #closedError(): TangoClosedError {
    return new TangoClosedError(`DeviceProxy ${this.name} is closed`);
  }

  #connect = (host: string, port: number): GiopConnection => {
    if (this.#closed) throw this.#closedError();
    const key = endpointKey(host, port);
    let c = this.#connections.get(key);
    if (c === undefined || c.closed) {
      c = this.#pool.acquire(host, port);
      this.#connections.set(key, c);
    }
    return c;
  };

  #loadCommands(): Promise<Map<string, DevCmdInfo>> {
    this.#commandsLoading ??= this.#call(commandListQuery2.name, commandListQuery2.readResult).then(
      (list) => {
        this.#commands = new Map(list.map((c) => [c.cmd_name.toLowerCase(), c]));
        return this.#commands;
      },
      (error) => {
        this.#commandsLoading = undefined;
        throw error;
      },
    );
    return this.#commandsLoading;
  }

  /** The device an alias names (the database's answer, cached), kept as this proxy's device name. */
  async #aliasDevice(): Promise<string> {
    if (this.#device !== undefined) return this.#device;
    const device = await this.#directory.resolveAlias(
      this.#connect,
      this.#parsed.hosts,
      this.#parsed.device,
      this.#timeout,
    );
    this.#device ??= device;
    return this.#device;
  }

  #resolve(): Promise<ObjectRef> {
    this.#resolving ??= this.#aliasDevice()
      .then((device) => {
        if (this.#closed) throw this.#closedError();
        this.#resolvedFromCache = this.#directory.cached(this.#parsed.hosts, device);
        return this.#directory.importDevice(this.#connect, this.#parsed.hosts, device, this.#timeout);
      })
      .then((imported) => {
        const iiop = imported.ior.iiop;
        if (iiop === undefined) {
          throw new TangoConnectionError(this.fullName, 'the device IOR has no IIOP profile');
        }
        this.#ref = { host: iiop.host, port: iiop.port, objectKey: iiop.objectKey };
        return this.#ref;
      })
      .finally(() => {
        this.#resolving = undefined;
      });
    return this.#resolving;
  }

  #call<R>(
    operation: string,
    readResult: (r: CdrReader) => R,
    writeArgs?: (w: CdrWriter) => void,
  ): Promise<R> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const spec = { operation, readResult, writeArgs, timeout: this.#timeout };
    const ref = this.#ref;
    if (ref !== undefined && this.#parsed.noDatabase)
      return this.#track(callObject(this.#connect, ref, spec, this.#forwarded));
    return this.#track(this.#callResolved(spec, ref));
  }

  /** The call's outcome, unless `close()` comes first (then `TangoClosedError`). */
  #track<R>(call: Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#inFlight.add(reject);
      call.then(resolve, reject).finally(() => this.#inFlight.delete(reject));
    });
  }

  async #callResolved<R>(
    spec: {
      operation: string;
      readResult: (r: CdrReader) => R;
      writeArgs?: (w: CdrWriter) => void;
      timeout: number;
    },
    known: ObjectRef | undefined,
  ): Promise<R> {
    const ref = known ?? (await this.#resolve());
    // a reference this proxy used before, or an import from the cache (another proxy's, maybe since closed): either
    // may name an endpoint the server left; a fresh import from the database is not worth asking for again at once
    const stale = known !== undefined || this.#resolvedFromCache;
    if (this.#closed) throw this.#closedError();
    try {
      return await callObject(this.#connect, ref, spec, this.#forwarded);
    } catch (error) {
      // the server may have moved (restarted on another port): import the device again, once
      if (!(error instanceof TangoConnectionError) || error.sent || !stale) throw error;
      if (this.#closed) throw this.#closedError();
      this.#directory.forget(this.#parsed.hosts, this.name);
      this.#ref = undefined;
      const again = await this.#resolve();
      if (this.#closed) throw this.#closedError();
      this.#letGo(ref, again);
      return await callObject(this.#connect, again, spec, this.#forwarded);
    }
  }

  /**
   * The device was found again at another endpoint (its server restarted on a new port, or a permanent
   * LOCATION_FORWARD moved it): this proxy's connection to the old one is released, else each move would hold one
   * more connection actor until `close()` (the pool closes it once no other proxy uses it). One still carrying
   * requests is left to them (released by `close()`).
   */
  #letGo(from: ObjectRef, to: ObjectRef): void {
    const key = endpointKey(from.host, from.port);
    if (key === endpointKey(to.host, to.port)) return;
    const c = this.#connections.get(key);
    if (c === undefined || c.pendingCount > 0) return;
    this.#connections.delete(key);
    void this.#pool.release(c);
  }

  #forwarded = (to: ObjectRef, permanent: boolean, from: ObjectRef): void => {
    if (this.#closed) throw this.#closedError();
    if (!permanent) return;
    // moved for good: this proxy's calls go to the new reference from now on, none to the old endpoint
    this.#ref = to;
    this.#letGo(from, to);
  };
}
