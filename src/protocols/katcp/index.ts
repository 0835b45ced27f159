// `orrery/katcp`: the KATCP v5 protocol stack (codec, connection, InspectingClient, device server), re-exports only.

export {
  type BackoffParams,
  ExponentialRandomBackoff,
  type ExponentialRandomBackoffOptions,
} from '../../../machines/katcp/backoff.js';
export {
  DEFAULT_NEGOTIATION_TIMEOUT_MS,
  type KatcpConnectionContext,
  type KatcpConnectionState,
  katcpConnectionMachine,
} from '../../../machines/katcp/connection.js';
export {
  CLIENT_STATES,
  clientStateName,
  type InspectingClientInput,
  type InspectingClientStateEmitted,
  inspectingClientMachine,
  stateOf,
} from '../../../machines/katcp/inspectingClient.js';
export type {
  InspectionResult,
  InspectionScope,
  ModelChanges,
} from '../../../machines/katcp/model.js';
export {
  type ConnectionState,
  KatcpClient,
  type KatcpClientOptions,
  type RawReply,
  type RequestOptions,
  type WaitOptions,
} from './client.js';

export {
  type ArgValue,
  argsText,
  argText,
  DEFAULT_MAX_LINE_LENGTH,
  encodeArg,
  formatMessage,
  inform,
  type KatcpMessage,
  KatcpParser,
  MAX_MID,
  type MessageType,
  message,
  messageText,
  type ParserOptions,
  parseAll,
  parseLine,
  reply,
  request,
  withMid,
} from './codec.js';
export {
  BrokenPipeError,
  ConnectError,
  ConnectionResetError,
  FailReply,
  InvalidReply,
  KatcpDecodeError,
  KatcpError,
  KatcpSyntaxError,
  LineTooLongError,
  NegotiationTimeoutError,
  ProtocolError,
  RequestTimeoutError,
  SyncError,
  WriteBacklogError,
} from './errors.js';
export {
  type ClientState,
  InspectingClient,
  type InspectingClientOptions,
  InspectingClientState,
  type KatcpRequest,
  type LookupOptions,
  MAX_PENDING_LOOKUPS,
  type ModelChangeSets,
  type RequestInfo,
  type SamplingResult,
  type SensorInfo,
  STATES,
  type StateCallback,
  type StrategyInput,
} from './inspectingClient.js';
export { type Reading, Sensor, type SensorListener, type SensorOptions } from './sensor.js';
export {
  type AbstractSensorWatcher,
  SensorWatcher,
  type SensorWatcherOptions,
  type SyncState,
} from './sensorWatcher.js';
export {
  type ClientInfo,
  DeviceServer,
  type DeviceServerOptions,
  KATCP_LOG_LEVELS,
  type KatcpLogLevel,
  type RequestContext,
  type RequestHandler,
  type RequestOptions as ServerRequestOptions,
} from './server.js';
export { createKatcpSimulator, KatcpSimulator, type KatcpSimulatorOptions } from './sim.js';
export { inspectingClientInspectorView } from './view.js';
export {
  decodeAddress,
  decodeBool,
  decodeDiscrete,
  decodeFloat,
  decodeInt,
  decodeIntegerValue,
  decodeLru,
  decodeSensorValue,
  decodeStatus,
  decodeTimestamp,
  formatAddress,
  formatSensorValue,
  formatStrategy,
  type InterfaceChange,
  type KatcpAddress,
  type ProtocolVersion,
  parseInterfaceChanged,
  parseProtocolVersion,
  parseStrategy,
  type SamplingStrategy,
  SENSOR_STATUSES,
  SENSOR_TYPES,
  type SensorStatus,
  type SensorType,
  type SensorValue,
  STRATEGIES,
  type StrategyName,
} from './wire.js';
