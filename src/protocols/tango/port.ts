/**
 * The device port: the one boundary between Orrery's machines and device protocol I/O. The in-process
 * `SkaDeviceSimulator` implements it now; a Tango client implements it against real devices.
 *
 * Every method may reject with a `DevFailed` carrying the device's error stack.
 */
import type { DevError } from './errors.js';

/** A change event of one attribute: a new value, or an error stack (Tango `event.err`). */
export interface AttributeEvent {
  /** Attribute name as the device spells it. */
  attribute: string;
  value?: unknown;
  /** Set on an error event; `value` is then absent. */
  errors?: readonly DevError[];
}

export type Unsubscribe = () => void;

export interface DevicePort {
  /** Device name, e.g. `test/lrc/1`. */
  readonly name: string;
  /** Run a command (`command_inout`). */
  commandInout(command: string, args?: unknown): Promise<unknown>;
  /** Read an attribute's value. */
  readAttribute(attribute: string): Promise<unknown>;
  /** Names of the device's attributes (`get_attribute_list`). */
  attributeList(): Promise<readonly string[]>;
  /**
   * Subscribe to change events. Like Tango, the current value arrives as a first event (possibly before the
   * returned promise resolves). Calling the returned function more than once is harmless.
   */
  subscribeChangeEvent(attribute: string, callback: (event: AttributeEvent) => void): Promise<Unsubscribe>;
}
