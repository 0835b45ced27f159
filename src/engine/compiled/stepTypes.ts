/**
 * What the compiled runner's step functions (`step.ts`, `actions.ts`) share: the lifecycle statuses, the lifecycle
 * record as they read and write it (`Lifecycle` in `runner.ts` implements it), and the scratch state of one
 * macrostep.
 */
import type { EventObject } from 'xstate';
import type { CompiledMachine, CompiledNode } from './compile.js';

/** Lifecycle statuses (`runner.ts` names them). */
export const ACTIVE = 0;
export const DONE = 1;
export const ERROR = 2;
export const STOPPED = 3;
/** No transitions: what observers get for a microstep that took none. */
export const NONE: readonly unknown[] = Object.freeze([]);

/** What the step functions see of a lifecycle's observer, host and callbacks (`runner.ts` types them). */
export interface StepObserver {
  event(lc: any, event: EventObject): void;
  microstep(lc: any, event: EventObject, transitions: readonly unknown[]): void;
  snapshot(lc: any, event: EventObject): void;
  emitted?(lc: any, emitted: EventObject): void;
}
export interface StepHost {
  schedule(lc: any, ms: number, event: EventObject): unknown;
  cancel(handle: unknown): void;
  log?(lc: any, args: unknown[]): void;
  ended?(lc: any): void;
  readonly system?: unknown;
}
export interface StepCallbacks {
  onDone?(lc: any): void;
  onEmit?(lc: any, emitted: EventObject): void;
  onError?(lc: any, error: unknown): void;
}

/** The lifecycle record as the step functions read and write it (`Lifecycle` in `runner.ts`). */
export interface StepLifecycle {
  readonly compiled: CompiledMachine;
  readonly host: StepHost;
  readonly observer: StepObserver | null;
  node: CompiledNode;
  readonly context: any;
  readonly error: unknown;
  readonly _state: number;
  readonly _cb: StepCallbacks | null;
  readonly owner: unknown;
  _setContext(ctx: unknown): void;
  _fail(err: unknown): void;
  _done(output: unknown): void;
  _reset(node: CompiledNode, ctx: unknown): void;
  _armDelay(ms: number, event: EventObject): void;
  _disarm(type: string): void;
  _disarmAll(): void;
}

/** What `spawn` is in the arguments of a compiled machine's context factory and assigns. */
export function noSpawn(): never {
  throw new Error('spawn is not supported by the compiled runner');
}

/** Scratch state of one macrostep. */
export class Step {
  queue: EventObject[] | null = null;
  emits: EventObject[] | null = null;
  /** At start: custom actions and logs, run after the initial step ([fn, info, params] or [null, args]). */
  deferred: unknown[][] | null = null;
  changed = false;
  constructor(readonly init: boolean) {}
  raise(event: EventObject): void {
    if (this.queue) this.queue.push(event);
    else this.queue = [event];
  }
  emit(event: EventObject): void {
    if (this.emits) this.emits.push(event);
    else this.emits = [event];
  }
  defer(call: unknown[]): void {
    if (this.deferred) this.deferred.push(call);
    else this.deferred = [call];
  }
}
