/**
 * The state-callback queue of an `InspectingClient`: the user's `(state, modelChanges)` callback is called once per
 * state entered, serialised (the next call only after the previous one settled, a returned promise awaited), and
 * a callback's exception is logged. `done()` is the machine's `callbacksDone` actor: it resolves once the queue has
 * drained, so the machine announces S4 only after the S2/S3 call settled.
 */
import type { Logger } from '../../engine/logging.js';
import type { InspectingClientState, ModelChangeSets } from './inspectingClientState.js';

/** The user's state callback: `(state, modelChanges)`; may be async. Calls are serialised. */
export type StateCallback = (
  state: InspectingClientState,
  modelChanges: ModelChangeSets | null,
) => void | Promise<void>;

/** The serialised queue of state-callback calls. */
export class StateCallbacks {
  /** The user's callback (null: none), read when each queued call runs. */
  callback: StateCallback | null;
  readonly #log: () => Logger;
  #queue: Promise<void> = Promise.resolve();

  constructor(callback: StateCallback | null, log: () => Logger) {
    this.callback = callback;
    this.#log = log;
  }

  /** Settles when every call queued so far settled. */
  get settled(): Promise<void> {
    return this.#queue;
  }

  /** Queue the call for a state entered. */
  enqueue(st: InspectingClientState, changes: ModelChangeSets | null): void {
    this.#queue = this.#queue.then(async () => {
      const cb = this.callback;
      if (!cb) return;
      try {
        await cb(st, changes);
      } catch (err) {
        this.#log().error({ err, state: String(st) }, 'state callback threw');
      }
    });
  }

  /** The machine's `callbacksDone`: resolves once the queue has drained (calls queued meanwhile included). */
  async done(): Promise<void> {
    // the emit of the state being entered may reach #onState after this actor started: let it queue first
    await Promise.resolve();
    let q: Promise<void>;
    do {
      q = this.#queue;
      await q;
    } while (q !== this.#queue);
  }
}
