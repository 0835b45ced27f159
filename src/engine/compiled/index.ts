/**
 * The compiled runner for XState machine definitions (issue 10 item 2): `compileMachine` once per machine, then
 * `startLifecycle` per lifecycle. Machines it refuses stay on XState's interpreter.
 */
export {
  ActionKind,
  CompiledMachine,
  compileMachine,
  GuardKind,
  isCompiled,
  refusalOf,
} from './compile.js';
export {
  LIFECYCLE_ENDED,
  Lifecycle,
  type LifecycleCallbacks,
  type LifecycleHost,
  type LifecycleObserver,
  type LifecycleOptions,
  type LifecycleOwner,
  type LifecycleSnapshot,
  type LifecycleStatus,
  startLifecycle,
} from './runner.js';
