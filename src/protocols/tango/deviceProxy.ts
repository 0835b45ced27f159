/**
 * `DeviceProxy`: a native Tango client for one device (PyTango's `DeviceProxy`, camelCase). STUB: the API only;
 * the implementation follows.
 */
import type { CommandInfo, DeviceAttribute, DeviceProxyOptions, DevStateName } from './deviceTypes.js';
import type { AttributeConfig5 } from './giop/attributeConfig.js';
import { parseDeviceName } from './tangoName.js';

const todo = (): Promise<never> => Promise.reject(new Error('DeviceProxy: not implemented yet'));

export class DeviceProxy {
  /** `dom/fam/member`. */
  readonly name: string;
  constructor(name: string, _options: DeviceProxyOptions = {}) {
    this.name = parseDeviceName(name).device;
  }
  /** Resolves the device (database import or `#dbase=no`) and pings it. */
  static async connect(name: string, options: DeviceProxyOptions = {}): Promise<DeviceProxy> {
    return new DeviceProxy(name, options);
  }
  commandInout(_command: string, _argin?: unknown): Promise<unknown> {
    return todo();
  }
  readAttribute(_attribute: string): Promise<DeviceAttribute> {
    return todo();
  }
  readAttributes(_attributes: readonly string[]): Promise<DeviceAttribute[]> {
    return todo();
  }
  writeAttribute(_attribute: string, _value: unknown): Promise<void> {
    return todo();
  }
  writeAttributes(_values: readonly (readonly [string, unknown])[]): Promise<void> {
    return todo();
  }
  /** Round trip time in microseconds. */
  ping(): Promise<number> {
    return todo();
  }
  state(): Promise<DevStateName> {
    return todo();
  }
  status(): Promise<string> {
    return todo();
  }
  commandListQuery(): Promise<CommandInfo[]> {
    return todo();
  }
  commandQuery(_command: string): Promise<CommandInfo> {
    return todo();
  }
  getAttributeConfig(_attribute: string): Promise<AttributeConfig5> {
    return todo();
  }
  getAttributeConfigs(_attributes: readonly string[]): Promise<AttributeConfig5[]> {
    return todo();
  }
  attributeList(): Promise<string[]> {
    return todo();
  }
  adminName(): Promise<string> {
    return todo();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
