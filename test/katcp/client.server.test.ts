/**
 * The client against Orrery's own DeviceServer over real TCP: pipelined and serialised requests, standard
 * requests, and the server going away (`#disconnect server shutting down`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KatcpClient } from '../../src/protocols/katcp/client.js';
import { argsText } from '../../src/protocols/katcp/codec.js';
import { BrokenPipeError, FailReply, InvalidReply } from '../../src/protocols/katcp/errors.js';
import { DeviceServer } from '../../src/protocols/katcp/server.js';
import { useTestSystem } from '../support/testSystem.js';

const t = useTestSystem();
let server: DeviceServer | undefined;
let client: KatcpClient | undefined;

afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
});

async function start(flags?: string) {
  const system = t.start();
  server = new DeviceServer({ port: 0, clock: t.clock, flags });
  server.addRequest('echo', 'Return the arguments to the caller', (_ctx, ...args) => args);
  server.addRequest('fail', 'Always fails', () => {
    throw new FailReply('x is no good');
  });
  const { port } = await server.listen();
  client = await KatcpClient.connect('127.0.0.1', port, { system, autoReconnect: false });
  return client;
}

describe('issue 9 item 7: KatcpClient against the DeviceServer over real TCP', () => {
  it('pipelines many requests with ids and gets every echo back (flags MIB)', async () => {
    const c = await start();
    expect(c.protocol?.flags).toContain('I');
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) => c.request('echo', i, `a b ${i}`)),
    );
    expect(replies.map(([args]) => args.map(String))).toEqual(
      Array.from({ length: 500 }, (_, i) => [String(i), `a b ${i}`]),
    );
  });

  it('serialises requests when the server has no I flag, matching by name', async () => {
    const c = await start('M');
    expect(c.protocol?.flags).toBe('M');
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => c.request('echo', i)));
    expect(replies.map(([args]) => String(args[0]))).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    await expect(c.request('fail')).rejects.toThrow(new FailReply('x is no good'));
  });

  it('standard requests: ?help with informs, unknown request -> InvalidReply, fail -> FailReply', async () => {
    const c = await start();
    const [args, informs] = await c.request('help', 'echo');
    expect(args.map(String)).toEqual(['1']);
    expect(informs.map(argsText)).toEqual([['echo', 'Return the arguments to the caller']]);
    await expect(c.request('nosuch')).rejects.toBeInstanceOf(InvalidReply);
    await expect(c.request('fail')).rejects.toThrow(new FailReply('x is no good'));
  });

  it('the server closing: #disconnect, then requests fail with BrokenPipeError, the client closes', async () => {
    const c = await start();
    const disconnects: string[] = [];
    c.addInformHandler('disconnect', (m) => disconnects.push(String(m.args[0])));
    await server!.close();
    await c.waitClosed();
    expect(disconnects).toEqual(['server shutting down']);
    expect(c.lastError).toEqual(new BrokenPipeError('Server disconnected: server shutting down'));
    await expect(c.request('echo')).rejects.toThrow(new BrokenPipeError('Not connected'));
  });
});
