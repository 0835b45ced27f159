// The public API of Orrery: re-exports only.

export { backgroundTaskMachine, runStateOf } from '../machines/core/backgroundTask.js';
export { type StatusOutcome, statusMachine } from '../machines/core/status.js';
export { type StreamingTaskOutcome, streamingTaskMachine } from '../machines/core/streamingTask.js';
export {
  affectedIds,
  type BackoffPolicy,
  backoffDelay,
  type ChildSpec,
  childrenOf,
  type RestartStrategy,
  type RestartType,
  type SupervisedChild,
  supervisorMachine,
  supervisorNameOf,
} from '../machines/core/supervisor.js';
export { type TimeoutIteratorOutcome, timeoutIteratorMachine } from '../machines/core/timeoutIterator.js';
export { lrcMachine } from '../machines/tango/lrc.js';
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
  type FollowedActor,
  Status,
  type StatusCallback,
  type StatusOptions,
  type StatusProgress,
  type StatusUpdates,
  type StatusUpdatesFactory,
  type SubscriptionRelease,
  type WatcherUpdate,
} from './api/status.js';
export {
  type ItemGenerator,
  type ItemHandler,
  StreamingTask,
  type StreamingTaskOptions,
} from './api/streamingTask.js';
export { TimeoutIterator, type TimeoutIteratorOptions } from './api/timeoutIterator.js';
export {
  isStateMachine,
  type RenderStatechartOptions,
  renderStatechart,
  type StatechartFormat,
} from './charts/renderStatechart.js';
export { type Clock, realClock } from './engine/clock.js';
export { compileMachine, isCompiled, refusalOf } from './engine/compiled/index.js';
export { ActorHandle } from './engine/handle.js';
export { type EngineEvent, InspectionBus } from './engine/inspectionBus.js';
export { type Logger, silentLogger } from './engine/logging.js';
export { Supervisor } from './engine/supervisor.js';
export {
  type ActorInfo,
  createSystem,
  getDefaultSystem,
  type InputOption,
  OrrerySystem,
  type SpawnArgs,
  type SpawnBaseOptions,
  type SpawnOptions,
  type SupervisorOptions,
  type SystemOptions,
  setDefaultSystem,
} from './engine/system.js';
export * from './errors.js';
export {
  bridgeToStately,
  type CreateInspectorOptions,
  createInspector,
  type Inspector,
  type InspectorOptions,
  type InspectorPanel,
  type InspectorView,
  type InspectorViewEventContext,
  type InspectorWithInspect,
  registerInspectorView,
  registerMachine,
  type StatelyBridge,
  type StatelyBridgeOptions,
  startInspector,
} from './inspector/index.js';
// the Tango errors, kept at the package root for compatibility (also in `orrery/tango`)
export {
  CommandError,
  type DevError,
  DevFailed,
  ProtocolVersionError,
  ResultCodeError,
} from './protocols/tango/errors.js';
export {
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
} from './protocols/tango/lrc/invokeLrc.js';
export {
  LongRunningCommand,
  type LongRunningCommandOptions,
  type LrcResult,
  type RunOptions,
} from './protocols/tango/lrc/longRunningCommand.js';
export { cachedLrcNegotiation, forgetLrcNegotiation } from './protocols/tango/lrc/session.js';
export type { AttributeEvent, DevicePort, Unsubscribe } from './protocols/tango/port.js';
export {
  type CommandHandler,
  type CommandSpec,
  type SimulatedTask,
  SkaDeviceSimulator,
  type SkaDeviceSimulatorOptions,
} from './protocols/tango/sim/skaDeviceSimulator.js';
