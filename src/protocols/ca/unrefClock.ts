/**
 * The clock of a Context's background work (search schedule, beacon registration, circuit echo probes, channel
 * back-offs): the given clock, whose timers stop keeping the process alive once `unref()` is called (Node timers
 * are `unref`'d; a TestClock's are left alone). Timers armed before `unref()` are unref'd then too.
 *
 * Requests a caller waits for (read/write deadlines, connection waits) do NOT use it: a script awaiting a read
 * keeps running until the reply or the deadline.
 */
import { type Clock, MAX_TIMER_DELAY } from '../../engine/clock.js';

/**
 * Holds the process for a caller waiting with no deadline (a timeout of Infinity, a running `block`): a wait with a
 * deadline holds it through its timer, but the context's sockets may be unref'd, and with nothing armed the
 * process would end under the awaiting caller. A plain Node timer, whatever the context's clock: it is about the
 * process, not time. Returns its release.
 */
export function holdProcess(): () => void {
  const handle = setInterval(() => {}, MAX_TIMER_DELAY);
  return () => clearInterval(handle);
}

/** Unrefs a Node timer (or the current leg of the real clock's long timer); anything else is left alone. */
function unrefTimer(id: unknown): void {
  if (id === null || typeof id !== 'object') return;
  const timer = id as { unref?: unknown; handle?: { unref?: unknown } };
  if (typeof timer.unref === 'function') (timer as { unref(): void }).unref();
  else if (timer.handle && typeof timer.handle.unref === 'function')
    (timer.handle as { unref(): void }).unref();
}

export class UnrefClock implements Clock {
  readonly base: Clock;
  #unref = false;
  /** Live timers armed before `unref()` (none are tracked after). */
  readonly #live = new Set<unknown>();

  constructor(base: Clock) {
    this.base = base;
  }

  get unrefd(): boolean {
    return this.#unref;
  }

  readonly setTimeout = (fn: (...args: any[]) => void, ms: number): unknown => {
    let fired = false;
    let id: unknown;
    id = this.base.setTimeout((...args: unknown[]) => {
      fired = true;
      this.#live.delete(id);
      fn(...args);
    }, ms);
    if (this.#unref) unrefTimer(id);
    else if (!fired) this.#live.add(id);
    return id;
  };

  readonly clearTimeout = (id: unknown): void => {
    this.#live.delete(id);
    this.base.clearTimeout(id);
  };

  readonly now = (): number => this.base.now();

  /** Every live and later timer stops keeping the process alive (idempotent). */
  unref(): void {
    if (this.#unref) return;
    this.#unref = true;
    for (const id of this.#live) unrefTimer(id);
    this.#live.clear();
  }
}
