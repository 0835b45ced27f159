// `orrery/tango`: the Tango protocol stack (SKA long running commands), re-exports only.

export { eventSubscriptionMachine } from '../../../machines/tango/eventSubscription.js';
export { giopConnectionMachine } from '../../../machines/tango/giopConnection.js';
export { type LrcActor, lrcMachine } from '../../../machines/tango/lrc.js';
export {
  AttributeNotFoundError,
  TangoBusyError,
  TangoClosedError,
  TangoConnectionError,
  TangoNameError,
  TangoTimeoutError,
  TangoTypeError,
} from './clientErrors.js';
export { DEFAULT_TIMEOUT_MS, DeviceProxy } from './deviceProxy.js';
export type {
  AttrDataFormatName,
  AttrQualityName,
  CommandInfo,
  DeviceAttribute,
  DeviceProxyOptions,
} from './deviceTypes.js';
export {
  CommandError,
  type DevError,
  DevFailed,
  ProtocolVersionError,
  ResultCodeError,
} from './errors.js';
export { decodeZmqMessage } from './eventDecode.js';
export { EventSubscription } from './eventSubscriber.js';
export {
  type SubscribeOptions as TangoSubscribeOptions,
  type TangoEvent,
  type TangoEventCallback,
  TangoEventConsumer,
  type TangoEventConsumerOptions,
} from './events.js';
export * as giop from './giop/index.js';
export { GiopConnection, type GiopConnectionOptions } from './giopConnection.js';
export {
  DEFAULT_RESULT_TIMEOUT_MS,
  type InvokeLrcOptions,
  invokeLrc,
  type LrcCallback,
  type LrcOutcome,
  type LrcOutput,
  LrcSubscriptions,
} from './lrc/invokeLrc.js';
export {
  LongRunningCommand,
  type LongRunningCommandOptions,
  type LrcResult,
  type RunOptions,
} from './lrc/longRunningCommand.js';
export { cachedLrcNegotiation, forgetLrcNegotiation } from './lrc/session.js';
export { NativeDevicePort, type NativeDevicePortOptions } from './nativePort.js';
export type { AttributeEvent, DevicePort, Unsubscribe } from './port.js';
export {
  type CommandHandler,
  type CommandSpec,
  type SimulatedTask,
  SkaDeviceSimulator,
  type SkaDeviceSimulatorOptions,
} from './sim/skaDeviceSimulator.js';
export {
  formatDeviceName,
  parseDeviceName,
  parseTangoHost,
  type TangoDeviceName,
  type TangoEndpoint,
} from './tangoName.js';
export {
  CLIENT_PROTOCOL_VERSIONS,
  isTerminalStatus,
  LRC_ATTRIBUTES,
  type LrcReply,
  type LrcUpdate,
  parseLrcReply,
  ResultCode,
  resultCodeName,
  resultCodeOf,
  TaskStatus,
  taskStatusName,
} from './wire.js';
