/**
 * TangoEventConsumer and its system: a closed consumer removes its stop listener (the system would otherwise keep
 * every closed consumer reachable until it stops, one more per `forSystem` after a close); an open one is still
 * closed by the system stopping.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSystem, type OrrerySystem } from '../../../src/engine/system.js';
import { InvalidArgumentError } from '../../../src/errors.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import { TangoEventConsumer } from '../../../src/protocols/tango/events.js';

const systems: OrrerySystem[] = [];
afterEach(async () => {
  for (const s of systems.splice(0)) await s.stop();
});

/** A system whose stop listeners are counted (added minus removed). */
function countingSystem(): { system: OrrerySystem; listeners: () => number } {
  const system = createSystem();
  systems.push(system);
  let live = 0;
  const onStop = system.onStop.bind(system);
  vi.spyOn(system, 'onStop').mockImplementation((listener) => {
    const forget = onStop(listener);
    live++;
    let removed = false;
    return () => {
      if (!removed) live--;
      removed = true;
      forget();
    };
  });
  return { system, listeners: () => live };
}

describe('TangoEventConsumer lifecycle', () => {
  it('close() removes the consumer from its system: stop listeners do not grow with consumers closed', async () => {
    const { system, listeners } = countingSystem();
    for (let i = 0; i < 5; i++) {
      const consumer = TangoEventConsumer.forSystem(system);
      expect(listeners()).toBe(1);
      await consumer.close();
      expect(listeners()).toBe(0);
    }
    await new TangoEventConsumer({ system }).close();
    expect(listeners()).toBe(0);
  });

  it('an open consumer is still closed by the system stopping', async () => {
    const { system, listeners } = countingSystem();
    const proxy = new DeviceProxy('tango://127.0.0.1:1/a/b/c#dbase=no', { system });
    const consumer = new TangoEventConsumer({ system });
    expect(listeners()).toBe(1);
    await system.stop();
    await expect(consumer.subscribe(proxy, 'x', () => {})).rejects.toThrow(/closed/);
    expect(listeners()).toBe(0);
  });

  it('an event name it cannot deliver is refused before any I/O (it subscribed, then dropped every event)', async () => {
    const { system } = countingSystem();
    const proxy = new DeviceProxy('tango://127.0.0.1:1/a/b/c#dbase=no', { system });
    const consumer = new TangoEventConsumer({ system });
    for (const eventName of ['attr_conf', 'data_ready', 'intr_change', 42]) {
      await expect(
        consumer.subscribe(proxy, 'x', () => {}, { eventName: eventName as 'change' }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(consumer.subscriptionCount).toBe(0);
    await consumer.close();
  });
});
