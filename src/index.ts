// The public API of Orrery: re-exports only.

export { backgroundTaskMachine, runStateOf } from '../machines/backgroundTask.js';
export { lrcMachine } from '../machines/lrc.js';
export { type StatusOutcome, statusMachine } from '../machines/status.js';
export { type StreamingTaskOutcome, streamingTaskMachine } from '../machines/streamingTask.js';
export {
  affectedIds,
  type BackoffPolicy,
  backoffDelay,
  type ChildSpec,
  type RestartStrategy,
  type RestartType,
  supervisorMachine,
} from '../machines/supervisor.js';
export { type TimeoutIteratorOutcome, timeoutIteratorMachine } from '../machines/timeoutIterator.js';
export {
  BackgroundTask,
  type BackgroundTaskOptions,
  BackgroundTaskProcessor,
  type BackgroundTaskProcessorOptions,
  backgroundTask,
  type HasBackgroundTaskProcessor,
  isErrored,
  isRunning,
  RunState,
  type RunStateName,
  type TaskAction,
} from './api/backgroundTask.js';
export {
  LongRunningCommand,
  type LongRunningCommandOptions,
  type LrcResult,
  type RunOptions,
} from './api/longRunningCommand.js';
export {
  cachedLrcNegotiation,
  forgetLrcNegotiation,
  type InvokeLrcOptions,
  invokeLrc,
  isTerminalStatus,
  type LrcCallback,
  type LrcOutcome,
  type LrcOutput,
  LrcSubscriptions,
  type LrcUpdate,
  ResultCode,
  resultCodeName,
  TaskStatus,
  taskStatusName,
} from './api/lrc.js';
export {
  Status,
  type StatusCallback,
  type StatusOptions,
  type StatusProgress,
  type StatusUpdates,
  type StatusUpdatesFactory,
  type WatcherUpdate,
} from './api/status.js';
export {
  type ItemGenerator,
  type ItemHandler,
  StreamingTask,
  type StreamingTaskOptions,
} from './api/streamingTask.js';
export { TimeoutIterator, type TimeoutIteratorOptions } from './api/timeoutIterator.js';
export type { AttributeEvent, DevicePort, Unsubscribe } from './devices/port.js';
export {
  type CommandHandler,
  type CommandSpec,
  type SimulatedTask,
  SkaDeviceSimulator,
  type SkaDeviceSimulatorOptions,
} from './devices/skaDeviceSimulator.js';
export { type Clock, realClock } from './engine/clock.js';
export { type EngineEvent, InspectionBus } from './engine/inspectionBus.js';
export { type Logger, silentLogger } from './engine/logging.js';
export { Supervisor } from './engine/supervisor.js';
export {
  type ActorInfo,
  createSystem,
  getDefaultSystem,
  OrrerySystem,
  type SpawnOptions,
  type SupervisorOptions,
  type SystemOptions,
  setDefaultSystem,
} from './engine/system.js';
export * from './errors.js';
export {
  bridgeToStately,
  type Inspector,
  type InspectorOptions,
  type StatelyBridge,
  type StatelyBridgeOptions,
  startInspector,
} from './inspector/index.js';
