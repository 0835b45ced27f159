/**
 * A GIOP server on loopback for tests: `answer` gets each Request (with its number, counted from 1) and the
 * socket to reply on; `onConnection`, if given, takes each socket instead (a peer that misbehaves at the byte
 * level). `close()` destroys its sockets and closes it. `loopbackPeers` keeps a test file's servers and systems and
 * closes them after each test; `deviceIor` / `deviceIorText` give the IOR of a device on loopback.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach } from 'vitest';
import { createSystem, type OrrerySystem } from '../../../../src/engine/system.js';
import { GiopStream } from '../../../../src/protocols/tango/giop/framer.js';
import type { GiopRequest } from '../../../../src/protocols/tango/giop/giop.js';
import { encodeIiopProfile, type Ior, stringifyIor } from '../../../../src/protocols/tango/giop/ior.js';

export type Answer = (req: GiopRequest, socket: Socket, n: number) => void;

export interface ScriptedGiop {
  readonly server: Server;
  port: number;
  readonly requests: GiopRequest[];
  connections: number;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

export async function scriptedGiop(
  answer: Answer,
  onConnection?: (socket: Socket) => void,
): Promise<ScriptedGiop> {
  const sockets = new Set<Socket>();
  const s: ScriptedGiop = {
    server: createServer((socket) => {
      s.connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      if (onConnection !== undefined) {
        onConnection(socket);
        return;
      }
      const stream = new GiopStream();
      socket.on('data', (chunk) => {
        for (const m of stream.push(chunk)) {
          if (m.type !== 'Request') continue;
          s.requests.push(m);
          answer(m, socket, s.requests.length);
        }
      });
    }),
    port: 0,
    requests: [],
    connections: 0,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const x of sockets) x.destroy();
        s.server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
  s.port = (s.server.address() as { port: number }).port;
  return s;
}

/**
 * The scripted servers and actor systems of a test file, all closed after each test (registers the `afterEach`):
 * `serve` makes a server (`scriptedGiop`), `system` an actor system.
 */
export function loopbackPeers(): {
  serve(answer: Answer, onConnection?: (socket: Socket) => void): Promise<ScriptedGiop>;
  system(): OrrerySystem;
} {
  const servers: ScriptedGiop[] = [];
  const systems: OrrerySystem[] = [];
  afterEach(async () => {
    for (const s of systems.splice(0)) await s.stop();
    for (const s of servers.splice(0)) await s.close();
  });
  return {
    serve: async (answer, onConnection) => {
      const s = await scriptedGiop(answer, onConnection);
      servers.push(s);
      return s;
    },
    system: () => {
      const s = createSystem();
      systems.push(s);
      return s;
    },
  };
}

/** The IOR of a Device_5 object on loopback at `port` with object key `key` (a device name, or any bytes). */
export function deviceIor(port: number, key: string | Uint8Array = 'a/b/c'): Ior {
  const profile = encodeIiopProfile({
    major: 1,
    minor: 2,
    host: '127.0.0.1',
    port,
    objectKey: typeof key === 'string' ? Buffer.from(key) : key,
    components: [],
  });
  return { typeId: 'IDL:Tango/Device_5:1.0', profiles: [{ tag: 0, data: profile }], iiop: undefined };
}

/** `deviceIor` as text, as a database's DbImportDevice gives it. */
export function deviceIorText(port: number, key: string | Uint8Array = 'a/b/c'): string {
  return stringifyIor(deviceIor(port, key));
}
