// DeviceProxy's public methods given arguments of the wrong type (from JavaScript, or `any`): each rejects with
// TangoTypeError before anything is sent, also once the command list is cached (commandInout after a round trip),
// never with an untyped TypeError from deep inside.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../../src/engine/system.js';
import { TangoNameError, TangoTypeError } from '../../../src/protocols/tango/clientErrors.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import { GiopStream } from '../../../src/protocols/tango/giop/framer.js';
import { encodeReply } from '../../../src/protocols/tango/giop/giopEncode.js';
import { commandInout4, commandListQuery2 } from '../../../src/protocols/tango/giop/operations.js';

let server: Server;
let system: OrrerySystem;
let device: DeviceProxy;
let requests = 0;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const stream = new GiopStream();
    socket.on('data', (chunk) => {
      for (const m of stream.push(chunk)) {
        if (m.type !== 'Request') continue;
        requests++;
        socket.write(
          encodeReply({ minor: 2, requestId: m.requestId, status: 0 }, (w) =>
            m.operation === commandListQuery2.name
              ? commandListQuery2.writeResult(w, [])
              : commandInout4.writeResult(w, { type: 'DevLong', value: 1 }),
          ),
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  system = createSystem();
  device = new DeviceProxy(`tango://127.0.0.1:${port}/a/b/c#dbase=no`, { system });
});
afterAll(async () => {
  await device?.close();
  await system?.stop();
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

const untyped = () => device as any;

describe('DeviceProxy argument types', () => {
  it('commandInout with a command name that is not a string: TangoTypeError, also after a round trip', async () => {
    await expect(untyped().commandInout(undefined)).rejects.toBeInstanceOf(TangoTypeError);
    expect(await device.commandInout('Cmd', 1)).toBe(1); // the command list is cached now
    await expect(untyped().commandInout(undefined)).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().commandInout(42, 1)).rejects.toBeInstanceOf(TangoTypeError);
  });

  it('commandInoutRaw and commandQuery: a name or argument of the wrong type is TangoTypeError, nothing sent', async () => {
    const before = requests;
    await expect(untyped().commandInoutRaw({})).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().commandInoutRaw('Cmd', null)).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().commandInoutRaw('Cmd', 5)).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().commandQuery(null)).rejects.toBeInstanceOf(TangoTypeError);
    expect(requests).toBe(before);
  });

  it('attribute methods: names and pairs of the wrong type are TangoTypeError, nothing sent', async () => {
    const before = requests;
    await expect(untyped().readAttributes(null)).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().readAttributes('ab')).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().readAttributes([1])).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().readAttribute(undefined)).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().writeAttributes('ab')).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().writeAttributes(null)).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().writeAttributes([['x']])).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().writeAttributes([[7, 1]])).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().writeAttribute(null, 1)).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().getAttributeConfigs(undefined)).rejects.toBeInstanceOf(TangoTypeError);
    await expect(untyped().getAttributeConfig({})).rejects.toBeInstanceOf(TangoTypeError);
    expect(requests).toBe(before);
  });

  it('a source that is not DEV, CACHE or CACHE_DEV (toString, which every object has) is refused when made', () => {
    const name = 'tango://127.0.0.1:1/a/b/c#dbase=no';
    for (const source of ['toString', 'constructor', '__proto__', 'dev', Symbol('DEV')]) {
      expect(() => new DeviceProxy(name, { system, source: source as any })).toThrow(TangoNameError);
    }
  });
});
