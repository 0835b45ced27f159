// The native client against a real TangoTest that stops answering (SIGSTOP), dies and comes back (same port):
// typed timeouts, connection errors, reconnection on the next call, nothing left open after close.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../../src/engine/system.js';
import {
  TangoClosedError,
  TangoConnectionError,
  TangoTimeoutError,
} from '../../../src/protocols/tango/clientErrors.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import { poolFor } from '../../../src/protocols/tango/giopRequests.js';
import { startTangoTest, type TangoTestServer } from './support/tangoTest.js';

let server: TangoTestServer;
let system: OrrerySystem;

beforeAll(async () => {
  server = await startTangoTest();
  system = createSystem();
});
afterAll(async () => {
  await system?.stop();
  await server?.stop();
});

describe('issue 12 item 6: faults against a real TangoTest', () => {
  it('issue 12 item 6: a stopped server gives TangoTimeoutError, the connection then serves again', async () => {
    const device = await DeviceProxy.connect(server.name, { system, timeout: 300 });
    expect(await device.commandInout('DevLong', 0)).toBe(0); // the command list is known from here on
    await server.pause();
    try {
      const error = await device.commandInout('DevLong', 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TangoTimeoutError);
      expect((error as TangoTimeoutError).operation).toBe('command_inout_4');
    } finally {
      server.resume();
    }
    // the late reply to the timed-out request is dropped; the next call gets its own answer
    let answer: unknown;
    for (let i = 0; i < 50 && answer !== 2; i++)
      answer = await device.commandInout('DevLong', 2).catch(() => undefined);
    expect(answer).toBe(2);
    await device.close();
  });

  it('issue 12 item 6: the server killed and restarted: calls fail typed, then the next call reconnects', async () => {
    const device = await DeviceProxy.connect(server.name, { system, timeout: 5_000 });
    expect(await device.commandInout('DevString', 'before')).toBe('before');
    await server.kill();
    const error = await device.commandInout('DevString', 'down').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TangoConnectionError);
    await server.restart();
    let answer: unknown;
    for (let i = 0; i < 50 && answer !== 'after'; i++) {
      answer = await device.commandInout('DevString', 'after').catch(() => undefined);
    }
    expect(answer).toBe('after');
    expect(await device.state()).toBe('RUNNING');
    await device.close();
  });

  it('issue 12 item 1: proxies share one connection per server; the last close releases it', async () => {
    const pool = poolFor(system);
    const a = await DeviceProxy.connect(server.name, { system });
    const b = await DeviceProxy.connect(server.name, { system });
    expect(pool.size).toBe(1);
    expect(system.actors().filter((x) => x.id.startsWith('tango:')).length).toBeGreaterThanOrEqual(1);
    await a.close();
    expect(await b.commandInout('DevDouble', 0.5)).toBe(0.5);
    await b.close();
    expect(pool.size).toBe(0);
    await expect(b.ping()).rejects.toBeInstanceOf(TangoClosedError);
  });

  it('issue 12 item 1: stopping the system fails what is pending and releases the socket', async () => {
    const own = createSystem();
    const device = await DeviceProxy.connect(server.name, { system: own, timeout: 60_000 });
    await server.pause();
    const pending = device.commandInout('DevLong', 3).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await own.stop();
    server.resume();
    const error = await pending;
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(TangoTimeoutError);
    await device.close();
  });
});
