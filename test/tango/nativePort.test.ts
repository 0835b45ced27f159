/**
 * issue 12 item 4: `NativeDevicePort.close()` ends every subscription made through the port, also one that was
 * still being made when the port closed (it used to be kept only once made, and outlived the port); a
 * subscription asked for after close is refused. Against a consumer whose subscriptions answer when told to.
 * A port on its system's shared consumer subscribes through the system's next one once that consumer was closed
 * (it kept the closed one, and every later subscription was refused).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { TangoClosedError } from '../../src/protocols/tango/clientErrors.js';
import { DeviceProxy } from '../../src/protocols/tango/deviceProxy.js';
import { DevFailed } from '../../src/protocols/tango/errors.js';
import { TangoEventConsumer } from '../../src/protocols/tango/events.js';
import { NativeDevicePort } from '../../src/protocols/tango/nativePort.js';
import type { AttributeEvent } from '../../src/protocols/tango/port.js';

type Deliver = (e: { attribute: string; value?: { value: unknown } }) => void;

/**
 * A consumer whose subscriptions are answered by `answer()`, counting the live ones; `end()` ends an answered one as
 * the consumer does on closing (its `onEnded` listeners are told).
 */
function pendingConsumer() {
  const pending: { deliver: Deliver; answer: () => void; end: () => void }[] = [];
  let live = 0;
  const consumer = {
    subscribe(_proxy: unknown, _attribute: string, deliver: Deliver) {
      return new Promise((resolve) => {
        const listeners: (() => void)[] = [];
        let ended = false;
        const end = () => {
          if (!ended) {
            live--;
            ended = true;
            for (const l of listeners.splice(0)) l();
          }
        };
        pending.push({
          deliver,
          end,
          answer: () => {
            live++;
            resolve({
              unsubscribe: end,
              onEnded: (listener: () => void) => {
                if (ended) listener();
                else listeners.push(listener);
              },
            });
          },
        });
      });
    },
  };
  return { consumer: consumer as unknown as TangoEventConsumer, pending, live: () => live };
}

const proxy = { name: 'test/port/1', system: undefined } as unknown as DeviceProxy;

const systems: OrrerySystem[] = [];
afterEach(async () => {
  for (const s of systems.splice(0)) await s.stop();
});

/** A port on a `pendingConsumer`, subscribing to 'counter' (asked of the consumer, not answered yet). */
async function subscribingPort() {
  const c = pendingConsumer();
  const port = new NativeDevicePort(proxy, { consumer: c.consumer });
  const seen: AttributeEvent[] = [];
  const subscribing = port.subscribeChangeEvent('counter', (e) => seen.push(e));
  await Promise.resolve();
  return { c, port, seen, subscribing };
}

describe('NativeDevicePort', () => {
  it('issue 12 item 4: a subscription still being made when the port closes ends when made; its caller gets a TangoClosedError', async () => {
    const { c, port, seen, subscribing } = await subscribingPort();
    expect(c.pending).toHaveLength(1);
    await port.close();
    // the consumer answers after the close: an event it delivers is not passed on, the subscription is ended
    c.pending[0].deliver({ attribute: 'counter', value: { value: 1 } });
    c.pending[0].answer();
    await expect(subscribing).rejects.toBeInstanceOf(TangoClosedError);
    await expect(subscribing).rejects.toThrow(/closed while subscribing to counter/);
    expect(c.live()).toBe(0);
    expect(port.subscriptionCount).toBe(0);
    expect(seen).toEqual([]);
  });

  it('issue 12 item 4: close ends the open subscriptions; a subscription asked for after close is refused', async () => {
    const { c, port, seen, subscribing } = await subscribingPort();
    c.pending[0].answer();
    await subscribing;
    c.pending[0].deliver({ attribute: 'counter', value: { value: 7 } });
    expect(seen).toEqual([{ attribute: 'counter', value: 7 }]);
    expect(c.live()).toBe(1);
    expect(port.subscriptionCount).toBe(1);
    await port.close();
    expect(c.live()).toBe(0);
    expect(port.subscriptionCount).toBe(0);
    c.pending[0].deliver({ attribute: 'counter', value: { value: 8 } });
    expect(seen).toHaveLength(1);
    await expect(port.subscribeChangeEvent('counter', () => {})).rejects.toBeInstanceOf(TangoClosedError);
    expect(c.pending).toHaveLength(1);
    await port.close(); // idempotent
  });

  it('a subscription its consumer ended (closing) is no longer counted; unsubscribing it later is harmless', async () => {
    const { c, port, subscribing } = await subscribingPort();
    c.pending[0].answer();
    const unsubscribe = await subscribing;
    expect(port.subscriptionCount).toBe(1);
    c.pending[0].end(); // the consumer closed
    expect(c.live()).toBe(0);
    expect(port.subscriptionCount).toBe(0);
    unsubscribe();
    await port.close();
    expect(port.subscriptionCount).toBe(0);
    expect(c.live()).toBe(0);
  });
});

describe("NativeDevicePort and its system's shared consumer", () => {
  it('a port whose shared consumer was closed subscribes through a fresh one; a consumer it was given stays its own', async () => {
    const system = createSystem();
    systems.push(system);
    // nothing listens there: a subscription that reaches a consumer fails on the connection, not on a closed consumer
    const device = new DeviceProxy('tango://127.0.0.1:1/test/port/1#dbase=no', { system, timeout: 2_000 });
    const port = new NativeDevicePort(device);
    const shared = TangoEventConsumer.forSystem(system);
    expect(port.consumer).toBe(shared);
    await shared.close();
    const error = await port.subscribeChangeEvent('counter', () => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DevFailed);
    expect((error as DevFailed).errors.at(-1)?.reason).toBe('API_EventSubscriptionFailed');
    expect(port.consumer).not.toBe(shared);
    expect(port.consumer).toBe(TangoEventConsumer.forSystem(system));

    // a consumer given to the port is the caller's: closed by them, the port says so
    const given = new TangoEventConsumer({ system });
    const own = new NativeDevicePort(device, { consumer: given });
    await given.close();
    await expect(own.subscribeChangeEvent('counter', () => {})).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(own.consumer).toBe(given);
    await port.close();
    await own.close();
    await device.close();
  });
});
