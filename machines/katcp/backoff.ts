/**
 * katcp-python's `ExponentialRandomBackoff` (inspecting_client.py), in milliseconds, with an injectable random
 * source; plus the pure functions the InspectingClient machine keeps its backoff with (a plain `{base, delay}`
 * record in its context, so snapshots stay data).
 *
 * The formula, exactly upstream's:
 *
 *   delay    = min(((1 - r) + r * u) * base, delayMax)        u = random() in [0, 1], drawn once per update
 *   start    : base = delayInitial
 *   failed() : base = min(base * expFac, delayMax)
 *   success(): base = delayInitial
 *
 * so with delayInitial d0 the first delay is `(1-r)·d0 + r·d0·u`, each failure multiplies it by expFac, and it is
 * capped at `(1-r)·dmax + r·dmax·u`.
 *
 * Differences from upstream, on purpose:
 * - milliseconds instead of seconds (Orrery's durations);
 * - bad parameters throw InvalidArgumentError (upstream: AssertionError), non-finite ones included (upstream
 *   would accept an infinite maximum);
 * - `failed()` and `success()` never throw: a random source that throws or returns something outside [0, 1]
 *   counts as 1 (no jitter: the delay is the base, never more). Upstream logs the exception and keeps the old delay.
 */
import { InvalidArgumentError } from '../../src/errors.js';

/** The parameters of a backoff (milliseconds; `randomicity` in [0, 1], `expFac` > 1). */
export interface BackoffParams {
  delayInitial: number;
  delayMax: number;
  expFac: number;
  randomicity: number;
}

/** The state of a backoff: the current base and the delay computed at the last update (ms). */
export interface BackoffState {
  base: number;
  delay: number;
}

/** Options of {@link ExponentialRandomBackoff}; the defaults are katcp-python's (in ms). */
export interface ExponentialRandomBackoffOptions {
  /** First base delay, ms (default 1000). */
  delayInitial?: number;
  /** Largest base and delay, ms (default 90 000). */
  delayMax?: number;
  /** Growth factor per failure, > 1 (default 3). */
  expFac?: number;
  /** Share of the delay that is random, in [0, 1] (default 0.95). */
  randomicity?: number;
  /** Uniform draw in [0, 1) (default Math.random). */
  random?: () => number;
}

const finite = (name: string, value: unknown): number => {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidArgumentError(`backoff: ${name} must be a finite number, got ${String(value)}`);
  }
  return value;
};

/**
 * Check backoff parameters as upstream asserts them: `0 <= delayInitial <= delayMax`, `0 <= randomicity <= 1`,
 * `expFac > 1`, every one a finite number. Throws InvalidArgumentError; returns a fresh record.
 */
export function checkBackoffParams(params: BackoffParams): BackoffParams {
  const delayInitial = finite('delayInitial', params.delayInitial);
  const delayMax = finite('delayMax', params.delayMax);
  const expFac = finite('expFac', params.expFac);
  const randomicity = finite('randomicity', params.randomicity);
  if (delayInitial < 0 || delayInitial > delayMax) {
    throw new InvalidArgumentError(
      `backoff: need 0 <= delayInitial <= delayMax, got delayInitial ${delayInitial}, delayMax ${delayMax}`,
    );
  }
  if (randomicity < 0 || randomicity > 1) {
    throw new InvalidArgumentError(`backoff: randomicity must be in [0, 1], got ${randomicity}`);
  }
  if (!(expFac > 1)) throw new InvalidArgumentError(`backoff: expFac must be > 1, got ${expFac}`);
  return { delayInitial, delayMax, expFac, randomicity };
}

/**
 * One draw of `random`, made safe: a value outside [0, 1] (NaN, a non-number) or a throw counts as 1, so a broken
 * random source gives the un-jittered base and never a delay above it.
 */
export function drawUnit(random: () => number): number {
  let u: unknown;
  try {
    u = random();
  } catch {
    return 1;
  }
  return typeof u === 'number' && u >= 0 && u <= 1 ? u : 1;
}

/** Upstream `_update_delay`: the delay for `base` and one draw `u` in [0, 1]. */
export function backoffDelay(base: number, params: BackoffParams, u: number): number {
  const r = params.randomicity;
  return Math.min((1 - r + r * u) * base, params.delayMax);
}

/** The state at creation (upstream `__init__`): base = delayInitial. */
export function initialBackoff(params: BackoffParams, u: number): BackoffState {
  return { base: params.delayInitial, delay: backoffDelay(params.delayInitial, params, u) };
}

/** After a failure (upstream `failed()`): the base grows by `expFac`, capped at `delayMax`. */
export function backoffFailed(state: BackoffState, params: BackoffParams, u: number): BackoffState {
  const base = Math.min(state.base * params.expFac, params.delayMax);
  return { base, delay: backoffDelay(base, params, u) };
}

/** After a success (upstream `success()`): back to the first base. `state` is unused, kept for symmetry. */
export function backoffSuccess(_state: BackoffState, params: BackoffParams, u: number): BackoffState {
  return initialBackoff(params, u);
}

/**
 * katcp-python's `ExponentialRandomBackoff`, in milliseconds. `delay` is the value computed at the last update
 * (one random draw per update); `failed()` grows it, `success()` resets it. Construction checks the parameters
 * (InvalidArgumentError); `failed()` and `success()` never throw.
 */
export class ExponentialRandomBackoff {
  readonly delayInitial: number;
  readonly delayMax: number;
  readonly expFac: number;
  readonly randomicity: number;
  readonly #random: () => number;
  readonly #params: BackoffParams;
  #state: BackoffState;

  constructor(options: ExponentialRandomBackoffOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError(`backoff: options must be an object, got ${String(options)}`);
    }
    const random = options.random ?? Math.random;
    if (typeof random !== 'function') {
      throw new InvalidArgumentError(`backoff: random must be a function, got ${typeof random}`);
    }
    this.#params = checkBackoffParams({
      delayInitial: options.delayInitial ?? 1000,
      delayMax: options.delayMax ?? 90_000,
      expFac: options.expFac ?? 3,
      randomicity: options.randomicity ?? 0.95,
    });
    ({
      delayInitial: this.delayInitial,
      delayMax: this.delayMax,
      expFac: this.expFac,
      randomicity: this.randomicity,
    } = this.#params);
    this.#random = random;
    this.#state = initialBackoff(this.#params, drawUnit(random));
  }

  /** The delay (ms) computed at the last update. */
  get delay(): number {
    return this.#state.delay;
  }

  /** The current base (ms): delayInitial, times expFac per failure, capped at delayMax. */
  get base(): number {
    return this.#state.base;
  }

  /** An action failed: grow the delay (never throws). */
  failed(): void {
    this.#state = backoffFailed(this.#state, this.#params, drawUnit(this.#random));
  }

  /** An action succeeded: back to the first delay (never throws). */
  success(): void {
    this.#state = backoffSuccess(this.#state, this.#params, drawUnit(this.#random));
  }
}
