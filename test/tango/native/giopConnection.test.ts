// The GIOP connection and DeviceProxy against scripted GIOP servers on loopback: GIOP 1.0 replies, CloseConnection
// (unanswered requests re-sent), LOCATION_FORWARD followed once (a permanent one lets go of the old endpoint's
// connection), system exceptions, bad bytes, the bound on requests outstanding, and device resolution through a
// database's DbImportDevice.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { TangoBusyError, TangoConnectionError } from '../../../src/protocols/tango/clientErrors.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import { DevFailed } from '../../../src/protocols/tango/errors.js';
import type { GiopRequest } from '../../../src/protocols/tango/giop/giop.js';
import {
  encodeCloseConnection,
  encodeReply,
  writeSystemException,
} from '../../../src/protocols/tango/giop/giopEncode.js';
import { type CdrWriter, GiopSystemException } from '../../../src/protocols/tango/giop/index.js';
import { writeIor } from '../../../src/protocols/tango/giop/ior.js';
import { commandInout4 } from '../../../src/protocols/tango/giop/operations.js';
import { GiopConnection, type GiopConnectionOptions } from '../../../src/protocols/tango/giopConnection.js';
import { poolFor } from '../../../src/protocols/tango/giopRequests.js';
import { deviceIor, deviceIorText, loopbackPeers } from './support/scriptedGiop.js';

const reply = (req: GiopRequest, status: number, body: (w: CdrWriter) => void, minor = 2) =>
  encodeReply({ minor, requestId: req.requestId, status }, body);
const longResult = (v: number) => (w: CdrWriter) =>
  commandInout4.writeResult(w, { type: 'DevLong', value: v });
/** Answers command_inout_4 with its DevLong argument plus `add`. */
function echo(req: GiopRequest, add = 0): (w: CdrWriter) => void {
  const args = commandInout4.readArgs(req.body);
  return longResult((args.argin as { value: number }).value + add);
}

const { serve, system: newSystem } = loopbackPeers();
function proxy(port: number, device = 'a/b/c'): DeviceProxy {
  return new DeviceProxy(`tango://127.0.0.1:${port}/${device}#dbase=no`, {
    system: newSystem(),
    timeout: 5_000,
  });
}

const DEVLONG = { type: 'DevLong', value: 0 } as const;

describe('issue 12 item 1: the GIOP connection against scripted servers', () => {
  it('issue 12 item 1: GIOP 1.0 replies are accepted; the object key is the device name', async () => {
    const s = await serve((req, socket) => socket.write(reply(req, 0, echo(req, 1), 0)));
    const d = proxy(s.port, 'dom/fam/member');
    expect(await d.commandInoutRaw('Echo', { ...DEVLONG, value: 41 })).toEqual({
      type: 'DevLong',
      value: 42,
    });
    expect(Buffer.from(s.requests[0].objectKey).toString()).toBe('dom/fam/member');
    expect(s.requests[0].minor).toBe(2);
  });

  it('issue 12 item 1: after CloseConnection the unanswered request is re-sent on a new connection', async () => {
    const s = await serve((req, socket, n) => {
      if (n === 1) socket.end(encodeCloseConnection(2));
      else socket.write(reply(req, 0, echo(req)));
    });
    const d = proxy(s.port);
    expect(await d.commandInoutRaw('Echo', { ...DEVLONG, value: 7 })).toEqual({ type: 'DevLong', value: 7 });
    expect(s.connections).toBe(2);
  });

  it('issue 12 item 1: LOCATION_FORWARD is followed once, to the new endpoint and key', async () => {
    const target = await serve((req, socket) => socket.write(reply(req, 0, echo(req, 100))));
    const ior = deviceIor(target.port, 'moved');
    const s = await serve((req, socket) => socket.write(reply(req, 3, (w) => writeIor(w, ior))));
    const d = proxy(s.port);
    expect(await d.commandInoutRaw('Echo', { ...DEVLONG, value: 1 })).toEqual({
      type: 'DevLong',
      value: 101,
    });
    expect(Buffer.from(target.requests[0].objectKey).toString()).toBe('moved');
  });

  it('a permanent LOCATION_FORWARD moves the proxy: its connection to the old endpoint is released, unless another proxy still uses it', async () => {
    const target = await serve((req, socket) => socket.write(reply(req, 0, echo(req, 100))));
    const ior = deviceIor(target.port, 'moved');
    // a/b/c has moved for good (LOCATION_FORWARD_PERM); x/y/z still lives here
    const old = await serve((req, socket) =>
      socket.write(
        Buffer.from(req.objectKey).toString() === 'a/b/c'
          ? reply(req, 4, (w) => writeIor(w, ior))
          : reply(req, 0, echo(req)),
      ),
    );
    const moved = proxy(old.port);
    const pool = poolFor(moved.system);
    // two calls in flight on the old connection, both forwarded: the one that finds it idle lets it go
    expect(
      await Promise.all([
        moved.commandInoutRaw('Echo', { ...DEVLONG, value: 1 }),
        moved.commandInoutRaw('Echo', { ...DEVLONG, value: 2 }),
      ]),
    ).toEqual([
      { type: 'DevLong', value: 101 },
      { type: 'DevLong', value: 102 },
    ]);
    expect(pool.size).toBe(1); // the target's only
    expect(await moved.commandInoutRaw('Echo', { ...DEVLONG, value: 3 })).toEqual({
      type: 'DevLong',
      value: 103,
    });
    expect(old.requests).toHaveLength(2); // the forwarded reference is used from now on

    // another proxy of the system on the old endpoint: the connection is shared, the move leaves it to that proxy
    const stays = new DeviceProxy(`tango://127.0.0.1:${old.port}/x/y/z#dbase=no`, {
      system: moved.system,
      timeout: 5_000,
    });
    expect(await stays.commandInoutRaw('Echo', { ...DEVLONG, value: 3 })).toEqual({
      type: 'DevLong',
      value: 3,
    });
    const shared = new DeviceProxy(`tango://127.0.0.1:${old.port}/a/b/c#dbase=no`, {
      system: moved.system,
      timeout: 5_000,
    });
    expect(await shared.commandInoutRaw('Echo', { ...DEVLONG, value: 4 })).toEqual({
      type: 'DevLong',
      value: 104,
    });
    expect(pool.size).toBe(2);
    expect(await stays.commandInoutRaw('Echo', { ...DEVLONG, value: 5 })).toEqual({
      type: 'DevLong',
      value: 5,
    });
    expect(old.connections).toBe(2); // the first one closed with the move; the second is still the one in use
    await Promise.all([moved.close(), stays.close(), shared.close()]);
    expect(pool.size).toBe(0);
  });

  it('issue 12 item 1: a system exception is a GiopSystemException; a DevFailed keeps its stack', async () => {
    const s = await serve((req, socket, n) => {
      if (n === 1) {
        socket.write(
          reply(req, 2, (w) =>
            writeSystemException(
              w,
              new GiopSystemException('IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0', 0x41540001, 'COMPLETED_NO'),
            ),
          ),
        );
      } else {
        socket.write(
          reply(req, 1, (w) => {
            w.string('IDL:Tango/DevFailed:1.0');
            w.ulong(2);
            for (const reason of ['API_First', 'API_Second']) {
              w.string(reason);
              w.ulong(1);
              w.string(`${reason} desc`);
              w.string('origin');
            }
          }),
        );
      }
    });
    const d = proxy(s.port);
    const sys = await d.ping().catch((e: unknown) => e);
    expect(sys).toBeInstanceOf(GiopSystemException);
    expect((sys as GiopSystemException).repoId).toMatch(/OBJECT_NOT_EXIST/);
    const failed = await d.ping().catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(DevFailed);
    expect((failed as DevFailed).errors.map((e) => e.reason)).toEqual(['API_First', 'API_Second']);
  });

  it('issue 12 item 1: bad bytes drop the connection: the sent request fails typed, the next one reconnects', async () => {
    const s = await serve((req, socket, n) => {
      if (n === 1) socket.write(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
      else socket.write(reply(req, 0, echo(req)));
    });
    const d = proxy(s.port);
    const error = await d.commandInoutRaw('Echo', { ...DEVLONG, value: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TangoConnectionError);
    expect((error as TangoConnectionError).sent).toBe(true);
    expect(await d.commandInoutRaw('Echo', { ...DEVLONG, value: 2 })).toEqual({ type: 'DevLong', value: 2 });
  });

  it('issue 12 item 1: a refused connect fails with TangoConnectionError (not sent)', async () => {
    const s = await serve(() => {});
    const port = s.port;
    await s.close(); // (closed again after the test: harmless)
    const error = await proxy(port)
      .ping()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TangoConnectionError);
    expect((error as TangoConnectionError).sent).toBe(false);
  });

  it('close() while the supervisor waits to restart the crashed connection actor settles, fails what waits and ends the actor for good', async () => {
    const s = await serve(() => {});
    const { GiopConnection } = await import('../../../src/protocols/tango/giopConnection.js');
    const system = newSystem();
    const supervisor = system.supervisor('tango-test', {
      backoff: { initialMs: 300, maxMs: 300, factor: 1 },
    });
    const c = new GiopConnection('127.0.0.1', s.port, { system, supervisor });
    const spec = {
      objectKey: Buffer.from('k'),
      operation: 'ping',
      readResult: () => undefined,
      timeout: 60_000,
    };
    const waiting = c.request(spec).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    // the actor crashes (an unhandled error event fails a machine): its restart is 300 ms away
    c.actor.current!.send({ type: 'xstate.error.actor.x', error: new Error('boom') } as never);
    expect(c.actor.current).toBeUndefined();
    const closed = await Promise.race([
      c.close().then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('hung'), 2000)),
    ]);
    expect(closed).toBe('closed');
    expect(c.closed).toBe(true);
    expect(((await waiting) as Error).name).toBe('TangoClosedError');
    // no incarnation comes back after close()
    await new Promise((r) => setTimeout(r, 600));
    expect(c.actor.current).toBeUndefined();
    expect(system.get(c.actor.id)).toBeUndefined();
    // the crashed incarnation's socket went with it
    expect(s.connections).toBe(1);
    const open = await new Promise<number>((r) => s.server.getConnections((_, n) => r(n)));
    expect(open).toBe(0);
    await expect(c.request(spec)).rejects.toThrow(/closed/);
  });

  it('issue 12 item 1: requests outstanding are bounded (TangoBusyError past the bound)', async () => {
    const s = await serve(() => {});
    const { GiopConnection } = await import('../../../src/protocols/tango/giopConnection.js');
    const system = newSystem();
    const c = new GiopConnection('127.0.0.1', s.port, { system, maxPending: 3 });
    const spec = {
      objectKey: Buffer.from('k'),
      operation: 'ping',
      readResult: () => undefined,
      timeout: 60_000,
    };
    const held = [c.request(spec), c.request(spec), c.request(spec)].map((p) => p.catch((e: unknown) => e));
    await expect(c.request(spec)).rejects.toBeInstanceOf(TangoBusyError);
    await c.close();
    for (const e of await Promise.all(held)) expect((e as Error).name).toBe('TangoClosedError');
  });

  it('issue 12 item 2: a name without #dbase=no is resolved by DbImportDevice on the database key', async () => {
    const device = await serve((req, socket) => socket.write(reply(req, 0, echo(req, 5))));
    const iorText = deviceIorText(device.port, new Uint8Array([0xfe, 1, 2, 3]));
    const db = await serve((req, socket) => {
      const args = commandInout4.readArgs(req.body);
      socket.write(
        reply(req, 0, (w) =>
          commandInout4.writeResult(w, {
            type: 'DevVarLongStringArray',
            value: {
              lvalue: [1, 123],
              svalue: [
                String('value' in args.argin ? args.argin.value : undefined),
                iorText,
                '5',
                'Srv/1',
                'host',
                'Cls',
              ],
            },
          }),
        ),
      );
    });
    const system = newSystem();
    const d = new DeviceProxy('dom/fam/member', { system, tangoHost: `127.0.0.1:1,127.0.0.1:${db.port}` });
    expect(await d.commandInoutRaw('Echo', { ...DEVLONG, value: 1 })).toEqual({ type: 'DevLong', value: 6 });
    expect(await d.commandInoutRaw('Echo', { ...DEVLONG, value: 2 })).toEqual({ type: 'DevLong', value: 7 });
    expect(db.requests.length).toBe(1); // cached
    expect(Buffer.from(db.requests[0].objectKey).toString()).toBe('database');
    expect([...device.requests[0].objectKey]).toEqual([0xfe, 1, 2, 3]);
  });
});

describe('GiopConnection numbers checked', () => {
  it('a request timeout that is no duration (NaN, negative, a string) is InvalidArgumentError, nothing sent; NaN never timed out', async () => {
    const s = await serve(() => {}); // never answers
    const c = new GiopConnection('127.0.0.1', s.port, { system: newSystem() });
    for (const timeout of [Number.NaN, -1, '100' as unknown as number]) {
      const error = await c
        .request({ objectKey: Buffer.from('k'), operation: 'ping', readResult: () => 0, timeout })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
    }
    expect(c.pendingCount).toBe(0);
    expect(s.requests).toHaveLength(0);
    await c.close();
  });

  it('maxPending, maxQueuedBytes and maxMessageSize that are no positive integers are InvalidArgumentError (NaN lifted each bound)', () => {
    const system = newSystem();
    for (const option of ['maxPending', 'maxQueuedBytes', 'maxMessageSize']) {
      for (const bad of [Number.NaN, 0, -5, 1.5, '10']) {
        expect(
          () => new GiopConnection('127.0.0.1', 1, { system, [option]: bad } as GiopConnectionOptions),
        ).toThrow(InvalidArgumentError);
      }
    }
  });
});
