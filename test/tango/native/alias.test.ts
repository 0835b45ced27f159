// Device aliases, as cppTango resolves them: a name with no '/' is an alias, which the database turns into a device
// name (command_inout_4("DbGetAliasDevice", alias) on the `database` object, a DevString each way) before the usual
// DbImportDevice. Against a scripted database and device servers on loopback.
import { describe, expect, it } from 'vitest';
import { TangoNameError } from '../../../src/protocols/tango/clientErrors.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import { DevFailed } from '../../../src/protocols/tango/errors.js';
import { type GiopRequest, REPLY_STATUS } from '../../../src/protocols/tango/giop/giop.js';
import { encodeReply } from '../../../src/protocols/tango/giop/giopEncode.js';
import type { CdrWriter } from '../../../src/protocols/tango/giop/index.js';
import { commandInout4, writeDevFailed } from '../../../src/protocols/tango/giop/operations.js';
import { NativeDevicePort } from '../../../src/protocols/tango/nativePort.js';
import { deviceIorText, loopbackPeers, type ScriptedGiop } from './support/scriptedGiop.js';

const { serve, system } = loopbackPeers();

const ok = (req: GiopRequest, body: (w: CdrWriter) => void) =>
  encodeReply({ minor: 2, requestId: req.requestId, status: REPLY_STATUS.NO_EXCEPTION }, body);

/** A device server answering every command_inout_4 with DevLong `value`. */
const deviceAnswering = (value: number) =>
  serve((req, socket) =>
    socket.write(ok(req, (w) => commandInout4.writeResult(w, { type: 'DevLong', value }))),
  );

interface FakeDatabase extends ScriptedGiop {
  /** `command(argin)` of each request, in order. */
  asked: string[];
  /** Where DbImportDevice sends each device (lower-case name → port). */
  devices: Map<string, number>;
}

/**
 * A Tango database: DbGetAliasDevice answers the alias's device (a DevString) or DataBaseds' DevFailed
 * `DB_AliasNotDefined`; DbImportDevice answers the device's IOR (its object key is the device name).
 */
async function fakeDatabase(aliases: Record<string, string>): Promise<FakeDatabase> {
  const asked: string[] = [];
  const devices = new Map<string, number>();
  const s = await serve((req, socket) => {
    expect(Buffer.from(req.objectKey).toString()).toBe('database');
    expect(req.operation).toBe('command_inout_4');
    const args = commandInout4.readArgs(req.body);
    expect(args.argin.type).toBe('DevString'); // both commands take a DevString, as cppTango sends them
    const argin = String('value' in args.argin ? args.argin.value : undefined);
    asked.push(`${args.command}(${argin})`);
    if (args.command === 'DbGetAliasDevice') {
      const device = aliases[argin];
      if (device === undefined) {
        socket.write(
          encodeReply({ minor: 2, requestId: req.requestId, status: REPLY_STATUS.USER_EXCEPTION }, (w) =>
            writeDevFailed(w, [
              {
                reason: 'DB_AliasNotDefined',
                severity: 'ERR',
                desc: `No device found for alias '${argin}'`,
                origin: 'DataBase::db_get_alias_device()',
              },
            ]),
          ),
        );
        return;
      }
      socket.write(ok(req, (w) => commandInout4.writeResult(w, { type: 'DevString', value: device })));
      return;
    }
    if (args.command === 'DbImportDevice') {
      const port = devices.get(argin.toLowerCase()) ?? 1;
      socket.write(
        ok(req, (w) =>
          commandInout4.writeResult(w, {
            type: 'DevVarLongStringArray',
            value: {
              lvalue: [1, 42],
              svalue: [argin, deviceIorText(port, argin), '5', 'Srv/1', 'host', 'Cls'],
            },
          }),
        ),
      );
      return;
    }
    throw new Error(`unexpected database command ${args.command}`);
  });
  return Object.assign(s, { asked, devices });
}

describe('device aliases', () => {
  it('an alias through TANGO_HOST: DbGetAliasDevice, then DbImportDevice of its device; name is the device, alias kept', async () => {
    const device = await deviceAnswering(7);
    const db = await fakeDatabase({ my_alias: 'dom/fam/member' });
    db.devices.set('dom/fam/member', device.port);
    const d = new DeviceProxy('my_alias', { system: system(), tangoHost: `127.0.0.1:${db.port}` });
    expect(d.alias).toBe('my_alias');
    expect(await d.commandInoutRaw('X')).toEqual({ type: 'DevLong', value: 7 });
    expect(db.asked).toEqual(['DbGetAliasDevice(my_alias)', 'DbImportDevice(dom/fam/member)']);
    expect(d.name).toBe('dom/fam/member');
    expect(d.alias).toBe('my_alias');
    expect(d.fullName).toBe(`tango://127.0.0.1:${db.port}/dom/fam/member`);
    expect(Buffer.from(device.requests[0].objectKey).toString()).toBe('dom/fam/member');
    await d.close();
  });

  it('DeviceProxy.connect("tango://host:port/alias"): resolved through that database before the ping', async () => {
    const device = await deviceAnswering(1);
    const db = await fakeDatabase({ Motor1: 'sys/motor/1' });
    db.devices.set('sys/motor/1', device.port);
    const d = await DeviceProxy.connect(`tango://127.0.0.1:${db.port}/Motor1`, { system: system() });
    expect(d.name).toBe('sys/motor/1');
    expect(d.alias).toBe('Motor1');
    expect(device.requests.map((r) => r.operation)).toEqual(['ping']);
    await d.close();
  });

  it('a device name has no alias', async () => {
    const d = new DeviceProxy('tango://127.0.0.1:1/a/b/c#dbase=no', { system: system() });
    expect(d.alias).toBeUndefined();
    expect(d.name).toBe('a/b/c');
    await d.close();
  });

  it("an unknown alias is the database's DevFailed (DB_AliasNotDefined), nothing imported", async () => {
    const db = await fakeDatabase({});
    const error = await DeviceProxy.connect('nobody', {
      system: system(),
      tangoHost: `127.0.0.1:${db.port}`,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DevFailed);
    expect((error as DevFailed).errors[0].reason).toBe('DB_AliasNotDefined');
    expect((error as DevFailed).errors[0].desc).toBe("No device found for alias 'nobody'");
    expect(db.asked).toEqual(['DbGetAliasDevice(nobody)']);
  });

  it('an alias with #dbase=no is a TangoNameError (no database to ask)', () => {
    expect(() => new DeviceProxy('tango://127.0.0.1:1/my_alias#dbase=no', { system: system() })).toThrow(
      TangoNameError,
    );
  });

  it('alias resolution is cached with the device import, and forgotten with it when the device moves', async () => {
    const first = await deviceAnswering(1);
    const db = await fakeDatabase({ my_alias: 'dom/fam/member' });
    db.devices.set('dom/fam/member', first.port);
    const sys = system();
    const options = { system: sys, tangoHost: `127.0.0.1:${db.port}` };
    const a = new DeviceProxy('my_alias', options);
    expect(await a.commandInoutRaw('X')).toEqual({ type: 'DevLong', value: 1 });
    // a second proxy of the same alias in the same system asks the database nothing
    const b = new DeviceProxy('my_alias', options);
    expect(await b.commandInoutRaw('X')).toEqual({ type: 'DevLong', value: 1 });
    expect(b.name).toBe('dom/fam/member');
    expect(db.asked).toEqual(['DbGetAliasDevice(my_alias)', 'DbImportDevice(dom/fam/member)']);
    await b.close();
    // the server restarts on another port: the proxy imports its device again (by name, as cppTango reconnects)
    await first.close();
    await new Promise((resolve) => setTimeout(resolve, 50)); // the client sees the connection lost
    const second = await deviceAnswering(2);
    db.devices.set('dom/fam/member', second.port);
    expect(await a.commandInoutRaw('X')).toEqual({ type: 'DevLong', value: 2 });
    expect(db.asked.slice(2)).toEqual(['DbImportDevice(dom/fam/member)']);
    // the alias was forgotten with the import: a new proxy of it asks the database again
    const c = new DeviceProxy('my_alias', options);
    expect(await c.commandInoutRaw('X')).toEqual({ type: 'DevLong', value: 2 });
    expect(db.asked.slice(3)).toEqual(['DbGetAliasDevice(my_alias)']);
    await a.close();
    await c.close();
  });

  it('NativeDevicePort.connect accepts an alias; its name is the device name', async () => {
    const device = await deviceAnswering(3);
    const db = await fakeDatabase({ lrc_dev: 'test/lrc/1' });
    db.devices.set('test/lrc/1', device.port);
    const port = await NativeDevicePort.connect('lrc_dev', {
      system: system(),
      tangoHost: `127.0.0.1:${db.port}`,
    });
    expect(port.name).toBe('test/lrc/1');
    expect(port.proxy.alias).toBe('lrc_dev');
    await port.close();
  });
});

describe('the import cache after a device moved', () => {
  it('a new proxy whose import came from the cache imports again when that endpoint is gone (the proxy that cached it was closed)', async () => {
    const first = await deviceAnswering(1);
    const db = await fakeDatabase({});
    db.devices.set('dom/fam/member', first.port);
    const options = { system: system(), tangoHost: `127.0.0.1:${db.port}` };
    const a = new DeviceProxy('dom/fam/member', options);
    expect(await a.commandInoutRaw('X')).toEqual({ type: 'DevLong', value: 1 });
    await a.close();
    // the server restarts on another port; nobody holds the old reference any more
    await first.close();
    const second = await deviceAnswering(2);
    db.devices.set('dom/fam/member', second.port);
    // a new proxy in the same system: the cached import names the dead endpoint; it imports the device again, as a
    // proxy that knew the old endpoint does (it used to fail with TangoConnectionError, and every new proxy after it)
    const b = new DeviceProxy('dom/fam/member', options);
    expect(await b.commandInoutRaw('X')).toEqual({ type: 'DevLong', value: 2 });
    expect(db.asked).toEqual(['DbImportDevice(dom/fam/member)', 'DbImportDevice(dom/fam/member)']);
    const c = await DeviceProxy.connect('dom/fam/member', options);
    expect(db.asked).toHaveLength(2);
    await b.close();
    await c.close();
  });

  it('a fresh import whose endpoint is gone is not imported again at once (one database request)', async () => {
    const gone = await deviceAnswering(1);
    const port = gone.port;
    await gone.close();
    const db = await fakeDatabase({});
    db.devices.set('dom/fam/member', port);
    const d = new DeviceProxy('dom/fam/member', { system: system(), tangoHost: `127.0.0.1:${db.port}` });
    await expect(d.commandInoutRaw('X')).rejects.toThrow();
    expect(db.asked).toEqual(['DbImportDevice(dom/fam/member)']);
    await d.close();
  });
});
