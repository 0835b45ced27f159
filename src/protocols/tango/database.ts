/**
 * Device resolution through the Tango database: `command_inout_4("DbImportDevice", name)` on the database
 * device (object key `database` at a TANGO_HOST endpoint, tried in order), giving the device's IOR; kept in a
 * cache per pool until `forget` (the proxy forgets a device whose server no longer answers, so a restarted
 * server at a new port is found again). A device the database knows but that is not running raises `DevFailed`
 * `API_DeviceNotExported`, as cppTango does.
 */
import { DevFailed } from './errors.js';
import {
  commandInout4,
  dbImportDeviceArgs,
  type ImportedDevice,
  parseDbImportDevice,
} from './giop/operations.js';
import type { ClntIdent } from './giop/tangoTypes.js';
import type { GiopConnection } from './giopConnection.js';
import { callObject, type ObjectRef } from './giopRequests.js';
import type { TangoEndpoint } from './tangoName.js';

/** The database's object key (DataBaseds exports its servant under this name). */
export const DATABASE_KEY = new TextEncoder().encode('database');

export const CLIENT_IDENT: ClntIdent = { language: 'CPP', pid: process.pid };

export class DeviceDirectory {
  readonly #cache = new Map<string, ImportedDevice>();

  #key(hosts: readonly TangoEndpoint[], device: string): string {
    return `${hosts.map((h) => `${h.host}:${h.port}`).join(',')}/${device.toLowerCase()}`;
  }

  /** The device's IOR (cached), asking each database host in turn until one answers. */
  async importDevice(
    connect: (host: string, port: number) => GiopConnection,
    hosts: readonly TangoEndpoint[],
    device: string,
    timeout: number,
  ): Promise<ImportedDevice> {
    const key = this.#key(hosts, device);
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    let lastError: unknown;
    for (const h of hosts) {
      const ref: ObjectRef = { host: h.host, port: h.port, objectKey: DATABASE_KEY };
      let imported: ImportedDevice;
      try {
        const result = await callObject(connect, ref, {
          operation: commandInout4.name,
          writeArgs: (w) => commandInout4.writeArgs(w, dbImportDeviceArgs(device, CLIENT_IDENT)),
          readResult: commandInout4.readResult,
          timeout,
        });
        imported = parseDbImportDevice(result);
      } catch (error) {
        if (error instanceof DevFailed) throw error;
        lastError = error;
        continue;
      }
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
    throw lastError;
  }

  /** Drops a cached import (its server moved or died). */
  forget(hosts: readonly TangoEndpoint[], device: string): void {
    this.#cache.delete(this.#key(hosts, device));
  }
}
