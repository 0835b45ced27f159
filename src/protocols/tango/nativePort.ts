/**
 * `NativeDevicePort`: the `DevicePort` of a real Tango device, over the native client (`DeviceProxy` for commands
 * and reads, `TangoEventConsumer` for change events), so that `invokeLrc`, `LongRunningCommand` and the LRC device
 * sessions run against real devices:
 *
 *   const device = await NativeDevicePort.connect('tango://127.0.0.1:45678/test/lrc/1#dbase=no', { system });
 *   const result = await new LongRunningCommand('On', { system }).run(device);
 *   await device.close();
 *
 * Values are plain JavaScript as `DeviceProxy` gives them: a command's `DevVarLongStringArray` is
 * `[numbers, strings]` (the `[[ResultCode], [commandId]]` of an LRC reply), an attribute read is its value only
 * (a spectrum of strings is a string array, `lrcProtocolVersions` a bigint pair), and a change event is
 * `{attribute, value}` or `{attribute, errors}` (errors: the server's stack, or `API_EventTimeout` when its
 * heartbeat stopped; the subscription then re-subscribes by itself).
 */
import { TangoClosedError } from './clientErrors.js';
import { DeviceProxy } from './deviceProxy.js';
import type { DeviceProxyOptions } from './deviceTypes.js';
import { TangoEventConsumer } from './events.js';
import type { AttributeEvent, DevicePort, Unsubscribe } from './port.js';

export interface NativeDevicePortOptions {
  /**
   * The consumer of the change events (default: the proxy's system's own, `TangoEventConsumer.forSystem`, taken
   * at each subscription: once it was closed, the system's next one).
   */
  consumer?: TangoEventConsumer;
}

export class NativeDevicePort implements DevicePort {
  readonly proxy: DeviceProxy;
  /** The consumer given in the options (undefined: the system's own). */
  readonly #consumer: TangoEventConsumer | undefined;
  readonly #ownsProxy: boolean;
  readonly #unsubscribes = new Set<Unsubscribe>();
  #closed = false;

  constructor(proxy: DeviceProxy, options: NativeDevicePortOptions = {}, ownsProxy = false) {
    this.proxy = proxy;
    this.#consumer = options.consumer;
    this.#ownsProxy = ownsProxy;
  }

  /** Device name, `dom/fam/member` (the proxy's: for an alias, the device it names once resolved). */
  get name(): string {
    return this.proxy.name;
  }

  /**
   * The consumer subscriptions go to. The system's shared one is looked up each time: any of its users may close it,
   * and a port that kept the closed one could never subscribe again. A consumer given in the options is the
   * caller's, closed or not.
   */
  get consumer(): TangoEventConsumer {
    return this.#consumer ?? TangoEventConsumer.forSystem(this.proxy.system);
  }

  /** A port on its own `DeviceProxy` (resolved and pinged; closed with the port). */
  static async connect(
    name: string,
    options: DeviceProxyOptions & NativeDevicePortOptions = {},
  ): Promise<NativeDevicePort> {
    const { consumer, ...proxyOptions } = options ?? {};
    const proxy = await DeviceProxy.connect(name, proxyOptions);
    return new NativeDevicePort(proxy, { consumer }, true);
  }

  commandInout(command: string, args?: unknown): Promise<unknown> {
    return this.proxy.commandInout(command, args);
  }

  async readAttribute(attribute: string): Promise<unknown> {
    return (await this.proxy.readAttribute(attribute)).value;
  }

  attributeList(): Promise<readonly string[]> {
    return this.proxy.attributeList();
  }

  async subscribeChangeEvent(
    attribute: string,
    callback: (event: AttributeEvent) => void,
  ): Promise<Unsubscribe> {
    if (this.#closed) throw new TangoClosedError(`NativeDevicePort ${this.name} is closed`);
    const sub = await this.consumer.subscribe(this.proxy, attribute, (e) => {
      if (this.#closed) return;
      callback(
        e.errors
          ? { attribute: e.attribute, errors: e.errors }
          : { attribute: e.attribute, value: e.value?.value },
      );
    });
    if (this.#closed) {
      // closed while the subscription was being made: it ends now, it does not outlive the port
      sub.unsubscribe();
      throw new TangoClosedError(
        `NativeDevicePort ${this.name} was closed while subscribing to ${attribute}`,
      );
    }
    const unsubscribe = () => {
      this.#unsubscribes.delete(unsubscribe);
      sub.unsubscribe();
    };
    this.#unsubscribes.add(unsubscribe);
    // one its consumer ended (closing) is no longer this port's to count
    sub.onEnded(() => this.#unsubscribes.delete(unsubscribe));
    return unsubscribe;
  }

  /** Open change-event subscriptions made through this port (not those its consumer ended on closing). */
  get subscriptionCount(): number {
    return this.#unsubscribes.size;
  }

  /**
   * Ends this port's subscriptions (one still being made ends when it is made, its caller gets a TangoClosedError)
   * and closes its proxy if `connect` made it; later subscriptions are refused (TangoClosedError). Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const unsubscribe of [...this.#unsubscribes]) unsubscribe();
    if (this.#ownsProxy) await this.proxy.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
