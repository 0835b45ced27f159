/**
 * `NativeDevicePort.subscriptionCount` against the PyTango LRC fixture: a subscription its event consumer ended on
 * closing is no longer counted (the port used to count it until the user unsubscribed or closed the port).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../../src/engine/system.js';
import { TangoEventConsumer } from '../../../src/protocols/tango/events.js';
import { NativeDevicePort } from '../../../src/protocols/tango/nativePort.js';
import { LrcDeviceServer } from './support/lrcDevice.js';

let server: LrcDeviceServer;
let system: OrrerySystem;

beforeAll(async () => {
  server = await LrcDeviceServer.start({ instance: 'countclosed' });
  system = createSystem();
}, 30_000);
afterAll(async () => {
  await system?.stop();
  await server?.stop();
});

describe('NativeDevicePort and a consumer that closes', () => {
  it('a subscription the consumer ended on closing is no longer counted; unsubscribing it later is harmless', async () => {
    const consumer = new TangoEventConsumer({ system });
    const port = await NativeDevicePort.connect(server.name, { system, consumer });
    try {
      const unsubscribe = await port.subscribeChangeEvent('counter', () => {});
      expect(port.subscriptionCount).toBe(1);
      await consumer.close();
      expect(consumer.subscriptionCount).toBe(0);
      expect(port.subscriptionCount).toBe(0);
      unsubscribe();
      expect(port.subscriptionCount).toBe(0);
    } finally {
      await port.close();
      await consumer.close();
    }
  }, 30_000);
});
