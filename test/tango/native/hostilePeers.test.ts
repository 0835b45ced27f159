import { describe, expect, it } from 'vitest';
import {
  AttributeNotFoundError,
  TangoBusyError,
  TangoClosedError,
  TangoConnectionError,
  TangoTimeoutError,
} from '../../../src/protocols/tango/clientErrors.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import type { GiopRequest } from '../../../src/protocols/tango/giop/giop.js';
import { encodeCloseConnection, encodeReply } from '../../../src/protocols/tango/giop/giopEncode.js';
import { type CdrWriter, GiopProtocolError } from '../../../src/protocols/tango/giop/index.js';
import {
  commandInout4,
  getAttributeConfig5,
  readAttributes5,
} from '../../../src/protocols/tango/giop/operations.js';
import type { AttributeValue5 } from '../../../src/protocols/tango/giop/tangoTypes.js';
import { GiopConnection } from '../../../src/protocols/tango/giopConnection.js';
import { MAX_RESENDS } from '../../../src/protocols/tango/giopPending.js';
import { poolFor } from '../../../src/protocols/tango/giopRequests.js';
import { writeBomb } from '../giop/support/typecodeBomb.js';
import { deviceIorText, loopbackPeers } from './support/scriptedGiop.js';

const { serve, system } = loopbackPeers();

const longReply = (req: GiopRequest, v: number) =>
  encodeReply({ minor: 2, requestId: req.requestId, status: 0 }, (w) =>
    commandInout4.writeResult(w, { type: 'DevLong', value: v }),
  );

describe('hostile peers', () => {
  it('a command_inout reply whose any describes 2^16 values in about 1.5 KB fails with GiopProtocolError', async () => {
    const s = await serve((req, socket) =>
      socket.write(
        encodeReply({ minor: 2, requestId: req.requestId, status: 0 }, (w) => void writeBomb(w, 16)),
      ),
    );
    const d = new DeviceProxy(`tango://127.0.0.1:${s.port}/a/b/c#dbase=no`, { system: system() });
    await expect(d.commandInoutRaw('X')).rejects.toBeInstanceOf(GiopProtocolError);
    await d.close();
  });

  it(`a server answering every request with CloseConnection: re-sent ${MAX_RESENDS} times, then TangoConnectionError (not sent)`, async () => {
    const s = await serve((_req, socket) => socket.end(encodeCloseConnection(2)));
    const c = new GiopConnection('127.0.0.1', s.port, { system: system() });
    const error = await c
      .request({ objectKey: Buffer.from('k'), operation: 'ping', readResult: () => 0, timeout: 10_000 })
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(TangoTimeoutError);
    expect(error).toBeInstanceOf(TangoConnectionError);
    expect((error as TangoConnectionError).sent).toBe(false);
    expect(s.requests).toHaveLength(1 + MAX_RESENDS);
    expect(s.connections).toBe(1 + MAX_RESENDS);
    // the connection is not left reconnecting; a later request may still be served
    expect(c.pendingCount).toBe(0);
    await c.close();
  });

  it('close() while DbImportDevice is in flight: the call rejects TangoClosedError, no database fallback, nothing left in the pool', async () => {
    const device = await serve((req, socket) => socket.write(longReply(req, 1)));
    const ior = deviceIorText(device.port);
    let silentGotRequest!: () => void;
    const asked = new Promise<void>((resolve) => {
      silentGotRequest = resolve;
    });
    const silentDb = await serve(() => silentGotRequest()); // never answers
    const db = await serve((req, socket) =>
      socket.write(
        encodeReply({ minor: 2, requestId: req.requestId, status: 0 }, (w) =>
          commandInout4.writeResult(w, {
            type: 'DevVarLongStringArray',
            value: { lvalue: [1, 1], svalue: ['a/b/c', ior, '5', 'S/1', 'h', 'C'] },
          }),
        ),
      ),
    );
    const sys = system();
    const d = new DeviceProxy('a/b/c', {
      system: sys,
      tangoHost: `127.0.0.1:${silentDb.port},127.0.0.1:${db.port}`,
      timeout: 30_000,
    });
    const call = d.commandInoutRaw('X').catch((e: unknown) => e);
    await asked;
    await d.close();
    expect(await call).toBeInstanceOf(TangoClosedError);
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(poolFor(sys).size).toBe(0);
    expect(db.connections).toBe(0);
    expect(device.connections).toBe(0);
    await expect(d.ping()).rejects.toBeInstanceOf(TangoClosedError);
  });

  it('close() with a call in flight on a shared connection: that call rejects TangoClosedError, the other proxy goes on', async () => {
    let held: (() => void) | undefined;
    const s = await serve((req, socket) => {
      const args = commandInout4.readArgs(req.body);
      if (args.command === 'Slow') held = () => socket.write(longReply(req, 2));
      else socket.write(longReply(req, 1));
    });
    const sys = system();
    const name = `tango://127.0.0.1:${s.port}/a/b/c#dbase=no`;
    const a = new DeviceProxy(name, { system: sys, timeout: 10_000 });
    const b = new DeviceProxy(name, { system: sys, timeout: 30_000 });
    expect(await b.commandInoutRaw('Fast')).toEqual({ type: 'DevLong', value: 1 });
    const slow = a.commandInoutRaw('Slow').catch((e: unknown) => e);
    while (held === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    await a.close();
    expect(await slow).toBeInstanceOf(TangoClosedError);
    held();
    expect(await b.commandInoutRaw('Fast')).toEqual({ type: 'DevLong', value: 1 });
    await b.close();
    expect(poolFor(sys).size).toBe(0);
  });

  it('a server that stops reading: bytes queued in the socket are bounded, past the bound TangoBusyError (not sent)', async () => {
    const s = await serve(
      () => {},
      (socket) => socket.pause(),
    );
    const maxQueuedBytes = 1024 * 1024;
    const c = new GiopConnection('127.0.0.1', s.port, { system: system(), maxQueuedBytes });
    const big = new Uint8Array(64 * 1024);
    const spec = {
      objectKey: Buffer.from('k'),
      operation: 'big',
      writeArgs: (w: CdrWriter) => w.octetSeq(big),
      readResult: () => 0,
      timeout: 60_000,
    };
    const outcomes: Promise<unknown>[] = [];
    let busy: unknown;
    let maxQueued = 0;
    // 64 MiB in all if nothing stops it (the kernel's buffers take a few MB at most)
    for (let i = 0; i < 1024 && busy === undefined; i++) {
      outcomes.push(
        c.request(spec).catch((e: unknown) => {
          if (e instanceof TangoBusyError) busy ??= e;
          return e;
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
      maxQueued = Math.max(maxQueued, c.queuedBytes);
    }
    expect(busy).toBeInstanceOf(TangoBusyError);
    expect(maxQueued).toBeLessThanOrEqual(maxQueuedBytes + big.length + 1024);
    expect(c.state).toBe('connected');
    await c.close();
    const rest = await Promise.all(outcomes);
    expect(rest.every((e) => e instanceof TangoBusyError || e instanceof TangoClosedError)).toBe(true);
  });
});

describe('a configuration reply that leaves the attribute out', () => {
  it('writeAttributes raises AttributeNotFoundError (it was a raw TypeError) and sends no write', async () => {
    const operations: string[] = [];
    const s = await serve((req, socket) => {
      operations.push(req.operation);
      // get_attribute_config_5 answers an empty list: the attribute asked for is not in it
      socket.write(
        encodeReply({ minor: 2, requestId: req.requestId, status: 0 }, (w) =>
          getAttributeConfig5.writeResult(w, []),
        ),
      );
    });
    const d = new DeviceProxy(`tango://127.0.0.1:${s.port}/a/b/c#dbase=no`, {
      system: system(),
      timeout: 10_000,
    });
    const error = await d.writeAttributes([['double_scalar', 1.5]]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttributeNotFoundError);
    expect((error as AttributeNotFoundError).attribute).toBe('double_scalar');
    expect(operations).toEqual(['get_attribute_config_5']);
  });
});

describe('a device whose server moved (restarted on another port, found again through the database)', () => {
  it('the proxy lets go of its connection to the old endpoint: one connection per endpoint it uses, not one more per move', async () => {
    let devicePort = 0;
    const db = await serve((req, socket) =>
      socket.write(
        encodeReply({ minor: 2, requestId: req.requestId, status: 0 }, (w) =>
          commandInout4.writeResult(w, {
            type: 'DevVarLongStringArray',
            value: { lvalue: [1, 1], svalue: ['a/b/c', deviceIorText(devicePort), '5', 'S/1', 'h', 'C'] },
          }),
        ),
      ),
    );
    const sys = system();
    const d = new DeviceProxy('a/b/c', { system: sys, tangoHost: `127.0.0.1:${db.port}`, timeout: 10_000 });
    for (let move = 1; move <= 3; move++) {
      const device = await serve((req, socket) => socket.write(longReply(req, move)));
      devicePort = device.port;
      // a request written before the client saw the old socket close is lost with it (sent): asked again
      const answer = await d
        .commandInoutRaw('X')
        .catch((e: unknown) =>
          e instanceof TangoConnectionError && e.sent ? d.commandInoutRaw('X') : Promise.reject(e),
        );
      expect(answer).toEqual({ type: 'DevLong', value: move });
      expect(poolFor(sys).size).toBe(2); // the database and the device where it is now
      // the server goes away: its port refuses connections from now on
      await device.close(); // (closed again after the test: harmless)
    }
    await d.close();
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(poolFor(sys).size).toBe(0);
  });
});

describe('a reply with another number of elements than attributes asked', () => {
  const value = (name: string): AttributeValue5 => ({
    value: { kind: 'ATT_DOUBLE', value: [1.5] },
    quality: 0,
    data_format: 0,
    data_type: 5,
    time: { tv_sec: 1, tv_usec: 0, tv_nsec: 0 },
    name,
    r_dim: { dim_x: 1, dim_y: 0 },
    w_dim: { dim_x: 0, dim_y: 0 },
    err_list: [],
  });
  /** A device whose read_attributes_5 answers `values`, whatever it was asked; get_attribute_config_5 an empty list. */
  const device = async (values: AttributeValue5[]) => {
    const s = await serve((req, socket) =>
      socket.write(
        encodeReply({ minor: 2, requestId: req.requestId, status: 0 }, (w) =>
          req.operation === readAttributes5.name
            ? readAttributes5.writeResult(w, values)
            : getAttributeConfig5.writeResult(w, []),
        ),
      ),
    );
    return new DeviceProxy(`tango://127.0.0.1:${s.port}/a/b/c#dbase=no`, {
      system: system(),
      timeout: 10_000,
    });
  };

  it('readAttribute answered no value is GiopProtocolError (it resolved undefined)', async () => {
    const d = await device([]);
    await expect(d.readAttribute('x')).rejects.toBeInstanceOf(GiopProtocolError);
    await d.close();
  });

  it('readAttributes of two answered three values, or one, is GiopProtocolError', async () => {
    for (const n of [3, 1]) {
      const d = await device(Array.from({ length: n }, (_, i) => value(`v${i}`)));
      await expect(d.readAttributes(['a', 'b'])).rejects.toBeInstanceOf(GiopProtocolError);
      await d.close();
    }
    const d = await device([value('a'), value('b')]);
    expect((await d.readAttributes(['a', 'b'])).map((a) => a.value)).toEqual([1.5, 1.5]);
    await d.close();
  });

  it('getAttributeConfig answered no configuration is AttributeNotFoundError (it resolved undefined)', async () => {
    const d = await device([]);
    const error = await d.getAttributeConfig('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttributeNotFoundError);
    expect((error as AttributeNotFoundError).attribute).toBe('x');
    await d.close();
  });
});
