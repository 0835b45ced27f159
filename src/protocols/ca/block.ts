/**
 * caproto's sync `subscribe`, `Subscription`, `block` and `interrupt`. `subscribe()` only describes a monitor (no
 * I/O); `block(subs)` connects every channel, subscribes and runs the callbacks until its `duration` has passed on
 * the clock, until it is interrupted, or until its `signal` aborts.
 *
 * Differences from upstream, on purpose:
 * - `interrupt(block)` (or `block.interrupt()`) stops ONLY that block. caproto's `interrupt()` empties one
 *   module-wide list and so stops every `block()` running in the process.
 * - Callbacks are held strongly and removed with their token (caproto holds weak references: a lambda vanishes).
 *   `sub.clear()` removes them and, as caproto's, stops the blocks running that subscription (only those).
 * - A Block is a promise: `await block(subs)`; it resolves with why it ended (`duration`, `interrupted`, `aborted`:
 *   caproto swallows the KeyboardInterrupt the same way) and rejects with CaTimeoutError when a channel does not
 *   connect within `timeout`, with ContextDisconnectedError when its Context is disconnected, or with the error a
 *   callback threw (the callback ends the block, as in caproto).
 * - The channels connect concurrently (caproto: one after the other, each with the whole timeout), and a circuit
 *   lost while blocking is not an error: the Context reconnects and re-subscribes (caproto raises "Disconnected",
 *   its issue #182).
 * - An explicit `dataType` given to `subscribe()` is honoured; without one the block subscribes with the TIME_
 *   variant of the native type (ENUM as TIME_STRING unless `forceIntEnums`), as caproto always does.
 */

import { checkDuration } from '../../../machines/core/duration.js';
import { type Clock, checkClock, realClock } from '../../engine/clock.js';
import { DEFAULT_EVENT_MASK } from './constants.js';
import type { Context } from './context.js';
import { CaValueError, ContextDisconnectedError } from './errors.js';
import type { PV } from './pv.js';
import { checkOptions, checkSignal, describeArg, type EventResponse } from './pvTypes.js';
import { type Subscription as ContextSubscription, subscriptionKey } from './subscription.js';
import { checkPriority, checkTimeout, contextOf, type DataTypeSpec } from './sync.js';
import { holdProcess } from './unrefClock.js';

export interface SyncSubscribeOptions {
  /** Circuit priority 0..99 (default 0). */
  priority?: number;
  /** Default: the TIME_ variant of the native type (see the module comment). */
  dataType?: DataTypeSpec;
  dataCount?: number;
  /** Deprecated by Channel Access; sent as given (default 0). */
  low?: number;
  high?: number;
  to?: number;
  /** DBE_* bits (default DBE_VALUE | DBE_ALARM). */
  mask?: number;
}

export type SyncCallback = (sub: SyncSubscription, response: EventResponse) => void;

/** caproto `Subscription`: a monitor description and its callbacks; activated only by `block()`. */
export class SyncSubscription {
  readonly pvName: string;
  readonly priority: number;
  readonly options: Readonly<Omit<SyncSubscribeOptions, 'priority'>>;
  readonly #callbacks = new Map<number, SyncCallback>();
  #nextToken = 0;
  /** The blocks running this subscription now. */
  readonly #blocks = new Set<Block>();

  constructor(pvName: string, options: SyncSubscribeOptions = {}) {
    if (typeof pvName !== 'string' || pvName === '') {
      throw new CaValueError('a PV name must be a non-empty string');
    }
    checkOptions(options, 'subscribe');
    this.pvName = pvName;
    this.priority = checkPriority(options.priority);
    const mask = options.mask ?? DEFAULT_EVENT_MASK;
    if (!Number.isInteger(mask) || mask <= 0 || mask > 0xffff) {
      throw new CaValueError(`mask must be a non-zero combination of DBE_* bits, got ${describeArg(mask)}`);
    }
    if (options.dataCount !== undefined && (!Number.isInteger(options.dataCount) || options.dataCount < 0)) {
      throw new CaValueError(`dataCount must be a whole number >= 0, got ${describeArg(options.dataCount)}`);
    }
    // the rest of what the block's monitor will be made with (a DBR type or class, low/high/to, a count that
    // fits the header), checked now: it failed only when a block had connected, and after the other monitors of
    // that block were subscribed
    subscriptionKey({
      dataType: options.dataType,
      dataCount: options.dataCount,
      low: options.low,
      high: options.high,
      to: options.to,
      mask,
    });
    this.options = {
      dataType: options.dataType,
      dataCount: options.dataCount,
      low: options.low ?? 0,
      high: options.high ?? 0,
      to: options.to ?? 0,
      mask,
    };
  }

  /** Adds `callback(sub, response)` (held strongly); returns the token for `removeCallback`. */
  addCallback(callback: SyncCallback): number {
    if (typeof callback !== 'function') throw new CaValueError('a callback must be a function');
    const token = this.#nextToken++;
    this.#callbacks.set(token, callback);
    return token;
  }

  removeCallback(token: number): void {
    this.#callbacks.delete(token);
  }

  /**
   * Removes every callback and stops the blocks running this subscription (caproto's `clear()`: "Remove all
   * callbacks. If currently blocking, interrupt."; here only those blocks, as `interrupt()`). A block left running
   * would deliver to no callback until its duration, or for ever without one.
   */
  clear(): void {
    this.#callbacks.clear();
    this.interrupt();
  }

  get callbackCount(): number {
    return this.#callbacks.size;
  }

  /** Runs the callbacks on one response (what a block does on each update). */
  process(response: EventResponse): void {
    for (const callback of [...this.#callbacks.values()]) callback(this, response);
  }

  /** `block([this], options)`. */
  block(options?: BlockOptions): Block {
    return block([this], options);
  }

  /** Stops the blocks running this subscription (only those). */
  interrupt(): void {
    for (const b of [...this.#blocks]) b.interrupt();
  }

  /** @internal */
  _attach(b: Block): void {
    this.#blocks.add(b);
  }

  /** @internal */
  _detach(b: Block): void {
    this.#blocks.delete(b);
  }
}

/** caproto `subscribe(pv_name, ...)`: a Subscription, with no I/O until it is blocked on. */
export function subscribe(pvName: string, options?: SyncSubscribeOptions): SyncSubscription {
  return new SyncSubscription(pvName, options);
}

export interface BlockOptions {
  /** ms to run once every channel is subscribed (default: until interrupted). */
  duration?: number;
  /**
   * ms for every channel to connect (default the Context's timeout: 2000 unless `CAPROTO_DEFAULT_TIMEOUT` or its
   * `timeout` option says otherwise): CaTimeoutError otherwise.
   */
  timeout?: number;
  /** Monitor ENUM channels as their index (default: as the state string). */
  forceIntEnums?: boolean;
  /** Ends the block as `interrupt()` does (it resolves with reason 'aborted'). */
  signal?: AbortSignal;
  /** Run on this Context instead of the shared default one. */
  context?: Context;
  /** The clock `duration` runs on (default the real clock). */
  clock?: Clock;
}

export interface BlockResult {
  reason: 'duration' | 'interrupted' | 'aborted';
  /** Responses delivered to the callbacks. */
  responses: number;
}

type Ending = { reason: BlockResult['reason'] } | { error: unknown };

/** A running `block()`: a promise of its end, and `interrupt()`. */
export class Block implements PromiseLike<BlockResult> {
  readonly subscriptions: readonly SyncSubscription[];
  readonly #promise: Promise<BlockResult>;
  #end!: (ending: Ending) => void;
  #ended: Ending | undefined;
  #responses = 0;

  constructor(subscriptions: readonly SyncSubscription[], options: BlockOptions = {}) {
    checkOptions(options, 'block');
    checkSignal(options.signal);
    checkClock(options.clock);
    for (const s of subscriptions) {
      if (!(s instanceof SyncSubscription))
        throw new CaValueError('block() takes subscriptions from subscribe()');
    }
    this.subscriptions = [...subscriptions];
    const timeout = checkTimeout(options.timeout);
    const duration =
      options.duration === undefined
        ? undefined
        : (checkDuration('duration', options.duration, false) as number);
    const ended = new Promise<Ending>((resolve) => {
      this.#end = (ending) => {
        if (this.#ended !== undefined) return;
        this.#ended = ending;
        resolve(ending);
      };
    });
    this.#promise = this.#run(ended, timeout, duration, options);
    this.#promise.catch(() => {}); // the caller's then/catch sees it; never an unhandled rejection by itself
  }

  /** True until the block has ended. */
  get active(): boolean {
    return this.#ended === undefined;
  }

  /** Stops this block (idempotent); it resolves with reason 'interrupted'. */
  interrupt(): void {
    this.#end({ reason: 'interrupted' });
  }

  // biome-ignore lint/suspicious/noThenProperty: a Block is a thenable on purpose (`await block(subs)`), as the contract says
  then<A = BlockResult, B = never>(
    onFulfilled?: ((value: BlockResult) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promise.then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<BlockResult | B> {
    return this.#promise.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<BlockResult> {
    return this.#promise.finally(onFinally);
  }

  async #run(
    ended: Promise<Ending>,
    timeout: number | undefined,
    duration: number | undefined,
    options: BlockOptions,
  ): Promise<BlockResult> {
    const clock = options.clock ?? realClock;
    const context = contextOf(options);
    const signal = options.signal;
    const onAbort = () => this.#end({ reason: 'aborted' });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const stopWaiting = new AbortController();
    const attached: { sub: ContextSubscription; token: number; offClose: () => void }[] = [];
    let timer: unknown;
    // a running block holds the process, as an awaited read does: the default Context's sockets and timers are
    // unref'd, so `await block(subs)` without a duration otherwise let the script end at once, once connected
    // (caproto's block blocks until interrupted)
    const release = holdProcess();
    for (const s of this.subscriptions) s._attach(this);
    try {
      const pvs: PV[] = this.subscriptions.map((s) => context.getPv(s.pvName, { priority: s.priority }));
      const connecting = Promise.all(
        pvs.map((pv) =>
          pv.connected ? undefined : pv.waitForConnection({ timeout, signal: stopWaiting.signal }),
        ),
      ).then(
        () => undefined,
        (error: unknown) => ({ error }) as Ending,
      );
      const first = await Promise.race([connecting, ended]);
      if (first !== undefined) return this.#outcome(first);
      this.subscriptions.forEach((s, i) => {
        const pv = pvs[i];
        // the type (a class such as 'time') is matched to the native type when the EVENT_ADD goes out: a channel
        // lost again already is subscribed once it is back
        const sub = pv.subscribe({
          dataType: s.options.dataType ?? 'time',
          forceIntEnums: options.forceIntEnums,
          dataCount: s.options.dataCount,
          low: s.options.low,
          high: s.options.high,
          to: s.options.to,
          mask: s.options.mask,
        });
        const token = sub.addCallback((_sub: ContextSubscription, response: EventResponse) => {
          if (this.#ended !== undefined) return;
          this.#responses++;
          try {
            s.process(response);
          } catch (error) {
            this.#end({ error });
          }
        });
        // the Context disconnected, or the monitor could not be subscribed (its EVENT_ADD refused): the
        // subscription is gone for good, and so is the block, with that error
        const offClose = sub.onClose((error) =>
          this.#end({ error: error ?? new ContextDisconnectedError() }),
        );
        attached.push({ sub, token, offClose });
      });
      if (duration !== undefined && duration !== Number.POSITIVE_INFINITY) {
        timer = clock.setTimeout(() => this.#end({ reason: 'duration' }), duration);
      }
      return this.#outcome(await ended);
    } finally {
      this.#end({ reason: 'interrupted' }); // ended for everyone from now on
      release();
      stopWaiting.abort();
      if (timer !== undefined) clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      for (const { sub, token, offClose } of attached) {
        offClose();
        sub.removeCallback(token);
      }
      for (const s of this.subscriptions) s._detach(this);
    }
  }

  #outcome(ending: Ending): BlockResult {
    if ('error' in ending) throw ending.error;
    return { reason: ending.reason, responses: this.#responses };
  }
}

/**
 * caproto `block(*subscriptions, duration=None, timeout=2, force_int_enums=False)`: connects and subscribes every
 * subscription, then runs their callbacks until `duration`, `interrupt(block)` or `signal`. Returns the Block at
 * once (await it for the end).
 */
export function block(
  subscriptions: SyncSubscription | readonly SyncSubscription[],
  options?: BlockOptions,
): Block {
  return new Block(
    Array.isArray(subscriptions) ? subscriptions : [subscriptions as SyncSubscription],
    options,
  );
}

/** Stops `b` only (idempotent). caproto's `interrupt()` stops every block in the process: see the module comment. */
export function interrupt(b: Block): void {
  // caproto's interrupt() takes nothing: say what this one needs rather than fail on `undefined.interrupt`
  if (!(b instanceof Block)) {
    throw new CaValueError(
      `interrupt(block) needs the Block that block() returned (it stops only that one), got ${describeArg(b)}`,
    );
  }
  b.interrupt();
}
