// `orrery/ca`: the EPICS Channel Access stack (codec, search, circuits, Context/PV, caproto's sync API, a CA
// server), re-exports only.

export {
  type ChannelContext,
  channelMachine,
} from '../../../machines/ca/channel.js';
export { circuitMachine } from '../../../machines/ca/circuit.js';
export { subscriptionMachine } from '../../../machines/ca/subscription.js';
export {
  type CaAddress,
  type CaClientConfig,
  type CaEnv,
  type CaServerConfig,
  clientConfigFromEnv,
  parseAddressList,
  parseNameServers,
  serverConfigFromEnv,
} from './addressList.js';
export {
  Batch,
  type BatchFailure,
  type BatchOptions,
  type BatchReadOptions,
  type BatchResult,
  type BatchWriteOptions,
} from './batch.js';
export {
  Block,
  type BlockOptions,
  type BlockResult,
  block,
  interrupt,
  type SyncCallback,
  type SyncSubscribeOptions,
  SyncSubscription,
  subscribe,
} from './block.js';
export {
  CircuitConnection,
  type CircuitKey,
  type CircuitOptions,
  type CircuitState,
} from './circuit.js';
export { CircuitQueueFullError } from './circuitSocket.js';
export * as commands from './commands.js';
export {
  AccessRights,
  ALARM_STATUS_NAMES,
  AlarmSeverity,
  CA_MINOR_VERSION,
  ChannelType,
  Command,
  type DbrFamily,
  DbrType,
  DEFAULT_EVENT_MASK,
  DEFAULT_REPEATER_PORT,
  DEFAULT_SERVER_PORT,
  DEFAULT_TIMEOUT_MS,
  dbrName,
  Eca,
  ecaMessage,
  ecaName,
  ecaSucceeded,
  familyOf,
  type NativeType,
  nativeOf,
  parseDbrType,
  promote,
  SubscriptionType,
} from './constants.js';
export { Context, type ContextOptions, type GetPvOptions } from './context.js';
export { convertArray, toNativeArray, toPlain } from './convert.js';
export {
  type CaArray,
  type DbrMetadata,
  type DbrValue,
  dbrSize,
  decodeDbr,
  type EpicsTimestamp,
  encodeDbr,
  fromUnixSeconds,
  metadataSize,
  toUnixSeconds,
} from './dbr.js';
export {
  CaConversionError,
  CaDisconnectedError,
  CaError,
  CaProtocolError,
  CaStatusError,
  CaTimeoutError,
  CaValueError,
  ContextDisconnectedError,
  ErrorResponseReceived,
} from './errors.js';
export {
  type CaFrame,
  type CaHeader,
  decodeDatagram,
  encodeFrame,
  FrameParser,
  type FrameParserOptions,
} from './frame.js';
export {
  type AccessRightsCallback,
  type ConnectionState,
  type ConnectionStateCallback,
  type PutOptions,
  PV,
  type ReadOptions,
  type WriteOptions,
} from './pv.js';
export type {
  PvAccess,
  PvDeadband,
  PvDefinition,
  PvLimits,
  PvProperties,
  PvType,
  ServerPv,
} from './pvDefinition.js';
export { loadPvFile, PvFileError, parsePvDefinitions } from './pvFile.js';
export type { EventResponse, ReadResponse, WriteResponse } from './pvTypes.js';
export { SearchEngine, type SearchEngineOptions, type SearchResult } from './search.js';
export { CaServer, type CaServerOptions } from './server.js';
export { CaSimulator, type CaSimulatorOptions } from './sim.js';
export { type SubscribeOptions, Subscription, type SubscriptionCallback } from './subscription.js';
export {
  closeDefaultContext,
  defaultContext,
  type ReadWriteReadOptions,
  read,
  readWriteRead,
  type SyncReadOptions,
  type SyncWriteOptions,
  write,
} from './sync.js';
export {
  type CaChannelSummary,
  type CaCircuitSummary,
  caChannelInspectorView,
  caCircuitInspectorView,
  caSubscriptionInspectorView,
} from './view.js';
export { CaInspectorFeed, type CaInspectorFeedOptions } from './viewFeed.js';
