// The public API of Orrery: re-exports only.
export * from './errors.js';
export { type Clock, realClock } from './engine/clock.js';
export { type Logger, silentLogger } from './engine/logging.js';
export { type EngineEvent, InspectionBus } from './engine/inspectionBus.js';
export {
  type ActorInfo,
  createSystem,
  getDefaultSystem,
  OrrerySystem,
  type SpawnOptions,
  setDefaultSystem,
  Supervisor,
  type SupervisorOptions,
  type SystemOptions,
} from './engine/system.js';
export {
  affectedIds,
  type BackoffPolicy,
  backoffDelay,
  type ChildSpec,
  type RestartStrategy,
  type RestartType,
  supervisorMachine,
} from '../machines/supervisor.js';
export { Status, type StatusCallback, type StatusOptions, type StatusProgress, type WatcherUpdate } from './api/status.js';
export { type StatusOutcome, statusMachine } from '../machines/status.js';
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
export { backgroundTaskMachine, runStateOf } from '../machines/backgroundTask.js';
export { TimeoutIterator, type TimeoutIteratorOptions } from './api/timeoutIterator.js';
export { type TimeoutIteratorOutcome, timeoutIteratorMachine } from '../machines/timeoutIterator.js';
export { type ItemGenerator, type ItemHandler, StreamingTask, type StreamingTaskOptions } from './api/streamingTask.js';
export { type StreamingTaskOutcome, streamingTaskMachine } from '../machines/streamingTask.js';
export { type Inspector, type InspectorOptions, startInspector } from './inspector/index.js';
