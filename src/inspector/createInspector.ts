/**
 * `createInspector(options)`: the offline inspector for actors made with a plain XState `createActor`, without an
 * Orrery system (as `@statelyai/inspect`'s `createBrowserInspector().inspect` does for stately.ai). Pass its
 * `inspect` to `createActor`: that actor and every actor it invokes or spawns show up in the page.
 *
 * @example
 * ```ts
 * import { createActor } from 'xstate';
 * import { createInspector } from 'orrery';
 *
 * const { inspect, url, close } = await createInspector({ port: 7420 });
 * const shutter = createActor(shutterMachine, { inspect }).start();
 * console.log(`inspector: ${url}`);
 * // ...
 * shutter.stop();
 * await close();
 * ```
 *
 * Costs nothing while no page is connected beyond remembering which actors exist (stopped ones are forgotten).
 * After `close()`, `inspect` does nothing and holds nothing.
 */
import type { AnyActorRef, InspectionEvent, Subscription } from 'xstate';
import type { EngineEvent } from '../engine/inspectionBus.js';
import { type Logger, silentLogger } from '../engine/logging.js';
import { InvalidArgumentError } from '../errors.js';
import { type Inspector, type InspectorOptions, startInspector } from './server.js';
import { type InspectedSystem, isStopSnapshot } from './tracker.js';

export interface CreateInspectorOptions extends InspectorOptions {
  /** Where the inspector reports its own failures (pino-compatible). Silent by default. */
  logger?: Logger;
}

export interface InspectorWithInspect extends Inspector {
  /** Pass as `createActor(machine, { inspect })`; one inspector can take any number of root actors. */
  inspect: (event: InspectionEvent) => void;
}

/** Past this many remembered actors, stopped ones are swept out (amortised: the bound doubles with live ones). */
const SWEEP_AT = 1000;

const isActive = (ref: AnyActorRef): boolean => {
  try {
    return (ref.getSnapshot() as { status?: string } | undefined)?.status === 'active';
  } catch {
    return false;
  }
};

/** Whether a snapshot says its actor ended; one that cannot be read leaves the actor to the next sweep. */
const hasEnded = (snapshot: unknown): boolean => {
  try {
    return (snapshot as { status?: string } | undefined)?.status !== 'active';
  } catch {
    return false;
  }
};

/** The actors seen through an `inspect` function, shaped like the part of a system the inspector observes. */
class InspectedActors implements InspectedSystem {
  readonly #observers = new Set<(event: InspectionEvent) => void>();
  #actors = new Set<AnyActorRef>();
  #sweepAt = SWEEP_AT;
  #closed = false;

  constructor(readonly logger: Logger) {}

  /** The function given to `createActor`: remembers actors, forwards every event while a page observes. */
  readonly dispatch = (event: InspectionEvent): void => {
    if (this.#closed) return;
    if (event.type === '@xstate.actor') {
      this.#actors.add(event.actorRef as AnyActorRef);
      if (this.#actors.size >= this.#sweepAt) this.#sweep();
    } else if (event.type === '@xstate.snapshot' && (hasEnded(event.snapshot) || isStopSnapshot(event)))
      // stopped: logic that ignores the stop (fromTransition, hand-written) still says 'active' afterwards
      this.#actors.delete(event.actorRef as AnyActorRef);
    for (const o of this.#observers) {
      try {
        o(event);
      } catch {
        // an inspector must never break the actor it observes
      }
    }
  };

  inspect(observer: (event: InspectionEvent) => void): Subscription {
    this.#observers.add(observer);
    return { unsubscribe: () => void this.#observers.delete(observer) };
  }

  onEngineEvent(_listener: (event: EngineEvent) => void): Subscription {
    return { unsubscribe: () => {} }; // plain actors have no supervisor: no engine events
  }

  actors(): Array<{ ref: AnyActorRef }> {
    this.#sweep();
    return [...this.#actors].map((ref) => ({ ref }));
  }

  get(systemId: string): AnyActorRef | undefined {
    for (const ref of this.#actors) {
      if ((ref as { systemId?: string }).systemId === systemId && isActive(ref)) return ref;
    }
    return undefined;
  }

  close(): void {
    this.#closed = true;
    this.#observers.clear();
    this.#actors = new Set();
  }

  #sweep(): void {
    for (const ref of this.#actors) if (!isActive(ref)) this.#actors.delete(ref);
    this.#sweepAt = Math.max(SWEEP_AT, 2 * this.#actors.size);
  }
}

/** Serve the inspector for the actors given its `inspect`. Rejects like `startInspector` (e.g. `PortInUseError`). */
export async function createInspector(options: CreateInspectorOptions = {}): Promise<InspectorWithInspect> {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('createInspector options must be an object');
  const { logger, ...rest } = options;
  if (
    logger !== undefined &&
    (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function')
  )
    throw new InvalidArgumentError('logger must be a pino-compatible logger');
  const actors = new InspectedActors(logger ?? silentLogger());
  let inspector: Inspector;
  try {
    inspector = await startInspector(actors, rest);
  } catch (err) {
    actors.close();
    throw err;
  }
  return {
    url: inspector.url,
    stats: () => inspector.stats(),
    inspect: actors.dispatch,
    close: async () => {
      actors.close();
      await inspector.close();
    },
  };
}
