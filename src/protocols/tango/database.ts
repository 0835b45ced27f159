/**
 * Device resolution through the Tango database: `command_inout_4("DbImportDevice", name)` on the database
 * device (object key `database` at a TANGO_HOST endpoint, tried in order), giving the device's IOR; kept in a
 * cache per pool until `forget` (the proxy forgets a device whose server no longer answers, so a restarted
 * server at a new port is found again). A device the database knows but that is not running raises `DevFailed`
 * `API_DeviceNotExported`, as cppTango does.
 *
 * Aliases: `command_inout_4("DbGetAliasDevice", alias)` gives the device an alias names (cppTango's
 * `Database::get_alias_device`); cached with the imports, and forgotten with the import of its device. An unknown
 * alias is the database's `DevFailed` (DataBaseds: `DB_AliasNotDefined`), passed through.
 */
import { DevFailed } from './errors.js';
import {
  type CommandInoutArgs,
  type CommandValue,
  commandInout4,
  dbGetAliasDeviceArgs,
  dbImportDeviceArgs,
  type ImportedDevice,
  parseDbGetAliasDevice,
  parseDbImportDevice,
} from './giop/operations.js';
import type { ClntIdent } from './giop/tangoTypes.js';
import type { GiopConnection } from './giopConnection.js';
import { callObject, type ObjectRef } from './giopRequests.js';
import type { TangoEndpoint } from './tangoName.js';

/** The database's object key (DataBaseds exports its servant under this name). */
export const DATABASE_KEY = new TextEncoder().encode('database');

export const CLIENT_IDENT: ClntIdent = { language: 'CPP', pid: process.pid };

type Connect = (host: string, port: number) => GiopConnection;

export class DeviceDirectory {
  readonly #cache = new Map<string, ImportedDevice>();
  /** Alias key (as `#key`) → the device it names, as the database answered. */
  readonly #aliases = new Map<string, string>();

  #key(hosts: readonly TangoEndpoint[], device: string): string {
    return `${hosts.map((h) => `${h.host}:${h.port}`).join(',')}/${device.toLowerCase()}`;
  }

  /**
   * A command on the database, asking each host in turn until one answers (a `DevFailed` is an answer, thrown as
   * it is); `read` may throw too, as a host that did not answer.
   */
  async #ask<R>(
    connect: Connect,
    hosts: readonly TangoEndpoint[],
    args: CommandInoutArgs,
    timeout: number,
    read: (result: CommandValue) => R,
  ): Promise<R> {
    let lastError: unknown;
    for (const h of hosts) {
      const ref: ObjectRef = { host: h.host, port: h.port, objectKey: DATABASE_KEY };
      try {
        const result = await callObject(connect, ref, {
          operation: commandInout4.name,
          writeArgs: (w) => commandInout4.writeArgs(w, args),
          readResult: commandInout4.readResult,
          timeout,
        });
        return read(result);
      } catch (error) {
        if (error instanceof DevFailed) throw error;
        lastError = error;
      }
    }
    throw lastError;
  }

  /** The device name an alias stands for (cached), from `DbGetAliasDevice` on the database. */
  async resolveAlias(
    connect: Connect,
    hosts: readonly TangoEndpoint[],
    alias: string,
    timeout: number,
  ): Promise<string> {
    const key = this.#key(hosts, alias);
    const cached = this.#aliases.get(key);
    if (cached !== undefined) return cached;
    const device = await this.#ask(
      connect,
      hosts,
      dbGetAliasDeviceArgs(alias, CLIENT_IDENT),
      timeout,
      parseDbGetAliasDevice,
    );
    this.#aliases.set(key, device);
    return device;
  }

  /** The device's IOR (cached), asking each database host in turn until one answers. */
  async importDevice(
    connect: Connect,
    hosts: readonly TangoEndpoint[],
    device: string,
    timeout: number,
  ): Promise<ImportedDevice> {
    const key = this.#key(hosts, device);
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const imported = await this.#ask(
      connect,
      hosts,
      dbImportDeviceArgs(device, CLIENT_IDENT),
      timeout,
      parseDbImportDevice,
    );
    if (!imported.exported) {
      throw new DevFailed([
        {
          reason: 'API_DeviceNotExported',
          severity: 'ERR',
          desc: `Device ${device} is not exported (hint: start device server ${imported.server})`,
          origin: 'DeviceDirectory.importDevice',
        },
      ]);
    }
    this.#cache.set(key, imported);
    return imported;
  }

  /** Whether the device's import is cached (a reference that may be stale: its server may have moved since). */
  cached(hosts: readonly TangoEndpoint[], device: string): boolean {
    return this.#cache.has(this.#key(hosts, device));
  }

  /** Drops a cached import (its server moved or died), and the cached aliases of that device. */
  forget(hosts: readonly TangoEndpoint[], device: string): void {
    const key = this.#key(hosts, device);
    this.#cache.delete(key);
    for (const [alias, named] of this.#aliases) {
      if (this.#key(hosts, named) === key) this.#aliases.delete(alias);
    }
  }
}
