import type { StatusProgress } from '../../machines/core/status.js';
import { InvalidArgumentError } from '../errors.js';

/** ophyd-async `WatcherUpdate`, with times in milliseconds. */
export interface WatcherUpdate extends StatusProgress {
  /** Milliseconds since the status was created. */
  elapsed: number;
  /** Estimated milliseconds remaining, by linear extrapolation of `fraction`; undefined when unknown. */
  remaining?: number;
}

/** ophyd MoveStatus: fraction remaining = clip(|target - current| / |initial - target|, 0, 1), or undefined. */
export function fractionRemaining(p: StatusProgress): number | undefined {
  if (typeof p.fraction === 'number') return p.fraction;
  const { current, initial, target } = p;
  if (typeof current !== 'number' || typeof initial !== 'number' || typeof target !== 'number')
    return undefined;
  const span = Math.abs(initial - target);
  if (span === 0 || !Number.isFinite(span)) return undefined;
  const f = Math.abs(target - current) / span;
  return Number.isNaN(f) ? undefined : Math.min(1, Math.max(0, f));
}

/**
 * JSON writes NaN, Infinity and -Infinity as `null`: a key with a `null` in it is written again with them told
 * apart (as `{"\u0000number": "NaN"}`, which no progress update holds), so `{current: NaN}` then
 * `{current: Infinity}` are two updates, not one de-duplicated.
 */
function keepNonFinite(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? { '\u0000number': String(value) } : value;
}

/**
 * The de-duplication key of a progress update (its JSON, NaN and the infinities kept apart from null and from
 * each other). Throws InvalidArgumentError for an update that has none (a BigInt, a cycle, a throwing toJSON or
 * getter): it cannot be progress.
 */
export function progressKey(p: StatusProgress): string {
  try {
    const key = JSON.stringify(p);
    // (a key without `null` has no non-finite number in it: the common case stays one plain stringify)
    return key.includes('null') ? JSON.stringify(p, keepNonFinite) : key;
  } catch (cause) {
    throw new InvalidArgumentError(
      `a progress update must be plain JSON-serialisable data${cause instanceof Error ? `: ${cause.message}` : ''}`,
      { cause },
    );
  }
}

interface Sink {
  queue: WatcherUpdate[];
  wake: (() => void) | undefined;
  closed: boolean;
  /** The last next() call: each one waits for it, so calls made at once are served in order, none lost. */
  tail: Promise<unknown>;
}

/**
 * Updates a watcher that does not keep up may have queued; beyond it the oldest are dropped (progress updates
 * are snapshots, the latest is what matters), so a forgotten `watch()` iterator cannot grow without bound.
 */
export const MAX_QUEUED_UPDATES = 1000;

/** Fan-out of progress updates to async iterators, de-duplicating identical consecutive updates. */
export class ProgressWatchers {
  #sinks = new Set<Sink>();
  #last: WatcherUpdate | undefined;
  #lastKey = '';
  #lastSource: StatusProgress | undefined;
  #ended: { error: Error | null } | undefined;
  readonly #createdAt: number;
  readonly #now: () => number;

  constructor(createdAt: number, now: () => number) {
    this.#createdAt = createdAt;
    this.#now = now;
  }

  get last(): WatcherUpdate | undefined {
    return this.#last;
  }

  /** Watchers updates are fanned out to (none once ended: nothing more is published). */
  get watching(): number {
    return this.#sinks.size;
  }

  /** Publish `p`; `key` is its `progressKey` when the caller already has it. */
  publish(p: StatusProgress, key: string = progressKey(p)): void {
    if (p === this.#lastSource) return;
    this.#lastSource = p;
    if (key === this.#lastKey) return;
    this.#lastKey = key;
    const elapsed = this.#now() - this.#createdAt;
    const fraction = fractionRemaining(p);
    const remaining =
      fraction !== undefined && fraction < 1 && fraction >= 0
        ? (elapsed * fraction) / (1 - fraction)
        : undefined;
    const update: WatcherUpdate = { ...p, fraction, elapsed, remaining };
    this.#last = update;
    for (const s of this.#sinks) {
      if (s.queue.push(update) > MAX_QUEUED_UPDATES) s.queue.shift();
      s.wake?.();
    }
  }

  /**
   * Nothing more is published: every watcher is woken (it delivers what it queued, then the end) and let go, so a
   * `watch()` never iterated is not kept as long as the status lives.
   */
  end(error: Error | null): void {
    this.#ended = { error };
    for (const s of this.#sinks) s.wake?.();
    this.#sinks.clear();
  }

  iterator(endedNow?: { error: Error | null }): AsyncIterableIterator<WatcherUpdate> {
    if (endedNow) this.#ended = endedNow;
    const sink: Sink = {
      queue: this.#last ? [this.#last] : [],
      wake: undefined,
      closed: false,
      tail: Promise.resolve(),
    };
    // (once ended, nothing will be published to it: it only delivers what it has)
    if (!this.#ended) this.#sinks.add(sink);
    const pull = async (): Promise<IteratorResult<WatcherUpdate>> => {
      for (;;) {
        if (sink.closed) return { value: undefined, done: true };
        const item = sink.queue.shift();
        if (item) return { value: item, done: false };
        if (this.#ended) {
          // delivered once: later next() calls report done, as a finished async generator does
          this.#sinks.delete(sink);
          sink.closed = true;
          if (this.#ended.error) throw this.#ended.error;
          return { value: undefined, done: true };
        }
        await new Promise<void>((r) => {
          sink.wake = r;
        });
        sink.wake = undefined;
      }
    };
    const it: AsyncIterableIterator<WatcherUpdate> = {
      // as an async generator queues next() calls: one waits at a time, in call order
      next: () => {
        const result = sink.tail.then(pull);
        sink.tail = result.catch(() => {});
        return result;
      },
      return: async () => {
        this.#sinks.delete(sink);
        sink.closed = true;
        sink.wake?.();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }
}
