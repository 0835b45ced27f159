// `orrery/tango`: the Tango protocol stack (SKA long running commands), re-exports only.

export { type LrcActor, lrcMachine } from '../../../machines/tango/lrc.js';
export {
  CommandError,
  type DevError,
  DevFailed,
  ProtocolVersionError,
  ResultCodeError,
} from './errors.js';
export * as giop from './giop/index.js';
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
export type { AttributeEvent, DevicePort, Unsubscribe } from './port.js';
export {
  type CommandHandler,
  type CommandSpec,
  type SimulatedTask,
  SkaDeviceSimulator,
  type SkaDeviceSimulatorOptions,
} from './sim/skaDeviceSimulator.js';
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
