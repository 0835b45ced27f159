import type { InspectionEvent, Observer, Subscription } from 'xstate';
import { checkListener, checkObserver } from './handle.js';

type InspectionObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/** Engine-level happenings that XState's inspection does not show (a crashed child is not an error snapshot). */
export type EngineEvent =
  | { type: 'actor.spawned'; actor: string; systemId?: string; machine: string; supervisor?: string }
  | { type: 'child.exited'; supervisor: string; child: string; reason: 'normal' | 'crash'; error?: unknown }
  | { type: 'child.restarted'; supervisor: string; children: string[]; trigger: string; delayMs: number }
  | { type: 'supervisor.escalated'; supervisor: string; child: string; error: unknown }
  | { type: 'actor.failed'; actor: string; error: unknown };

/**
 * Fans XState inspection events from every actor system of an Orrery system out to observers. Costs nothing
 * while nobody observes: actor systems are attached on the first observer and detached after the last one.
 */
export class InspectionBus {
  readonly #observers = new Set<(event: InspectionEvent) => void>();
  readonly #engineListeners = new Set<(event: EngineEvent) => void>();
  readonly #attached = new Map<object, Subscription>();
  readonly #sources = new Set<{ system: { inspect(o: Observer<InspectionEvent>): Subscription } }>();

  get active(): boolean {
    return this.#observers.size > 0;
  }

  /** Called for each inspection event from any attached actor system. */
  readonly dispatch = (event: InspectionEvent): void => {
    for (const o of this.#observers) {
      try {
        o(event);
      } catch {
        // an inspector must never break the engine
      }
    }
  };

  /** Register an actor whose XState system should be inspected while observers exist. */
  addSource(actor: { system: { inspect(o: Observer<InspectionEvent>): Subscription } }): void {
    if (this.#sources.has(actor)) return;
    this.#sources.add(actor);
    if (this.active) this.#attach(actor);
  }

  removeSource(actor: object): void {
    this.#sources.delete(actor as never);
    this.#attached.get(actor)?.unsubscribe();
    this.#attached.delete(actor);
  }

  /**
   * Add an observer of every inspection event. What is not an observer throws InvalidArgumentError naming `method`
   * (the public method the caller used) before inspection starts: `dispatch` would swallow its TypeError on every
   * event, while it kept every actor system attached.
   */
  observe(observer: InspectionObserver, method = 'InspectionBus.observe'): Subscription {
    const next = checkObserver<InspectionEvent>(method, observer).next;
    // one entry per call: the same function observed twice is two subscriptions, each ended by its own unsubscribe
    const fn = next ? (event: InspectionEvent) => next(event) : () => {};
    const first = this.#observers.size === 0;
    this.#observers.add(fn);
    if (first) for (const s of this.#sources) this.#attach(s);
    return {
      unsubscribe: () => {
        this.#observers.delete(fn);
        if (this.#observers.size === 0) {
          for (const sub of this.#attached.values()) sub.unsubscribe();
          this.#attached.clear();
        }
      },
    };
  }

  /** Add a listener of engine events; anything but a function throws InvalidArgumentError naming `method`. */
  onEngineEvent(
    listener: (event: EngineEvent) => void,
    method = 'InspectionBus.onEngineEvent',
  ): Subscription {
    checkListener(method, listener);
    // one entry per call, as in `observe`
    const entry = (event: EngineEvent) => listener(event);
    this.#engineListeners.add(entry);
    return { unsubscribe: () => void this.#engineListeners.delete(entry) };
  }

  emitEngineEvent(event: EngineEvent): void {
    for (const l of this.#engineListeners) {
      try {
        l(event);
      } catch {
        // listeners must not break the engine
      }
    }
  }

  #attach(source: { system: { inspect(o: Observer<InspectionEvent>): Subscription } }): void {
    if (this.#attached.has(source)) return;
    this.#attached.set(source, source.system.inspect({ next: this.dispatch }));
  }
}
