/**
 * One deadline structure per system (issue 10 item 4): every delay a system's lifecycles arm goes here, and the
 * whole structure holds ONE timer of the system's clock, armed for (no later than) the earliest deadline, so a
 * `TestClock` drives it like any other timer.
 *
 * Built for many lifecycles with the same few delays (100,000 statuses with a 60 s timeout):
 * - one FIFO doubly-linked list per distinct delay: a deadline armed later with the same delay is due no earlier
 *   (the clock is monotonic), so arming appends to the tail and the list stays sorted without a search;
 * - the non-empty lists in a binary heap ordered by their head (due time; on a tie the longer delay first, which is
 *   the one armed at the earlier clock time), a handful of entries;
 * - a handle is the list node itself: `arm` makes one small object holding `fire` and `arg` (72 bytes on Node 20 x64,
 *   and its due time), no closure; an owner with one deadline at a time can be the node itself (`armNode`: the
 *   structure's four fields in the owner, nothing allocated per deadline, as Linux's and libuv's timers are embedded
 *   in their owners; a compiled lifecycle's first delay is armed so). Cancel unlinks it. Arm and cancel are O(1)
 *   (O(log d) heap work, d distinct delays, only when a list's head changes). No sequence number is stored: within
 *   a list arm order is list order, across lists equal due times armed at different clock times are ordered by
 *   their delays.
 *
 * The clock timer is not moved for every change: arming an earlier deadline re-arms it, but cancelling the
 * earliest one leaves it in place (it fires, finds nothing due and re-arms for the new head), and when the last
 * deadline is cancelled the timer is released at the end of the current microtask checkpoint, so a lifecycle
 * created and finished in a loop keeps one timer instead of setting and clearing one each time. `clear()` releases
 * it at once.
 *
 * Durations follow the clocks' rules: `Infinity` arms nothing (`arm` returns null), NaN or a negative delay is 0, a
 * delay beyond Node's timer limit is fine (the clock chains its timers). Firing: every deadline due at or before
 * the clock's now fires in due order, ties in arm order (exactly so unless two different delays armed at the same
 * clock time round to the same due time); deadlines armed by a firing callback are linked once the pass is over and
 * fire no earlier than the next timer (so a callback re-arming itself with 0 cannot starve the event loop); a
 * callback that throws is reported to `onError` and the others still fire.
 */
import type { Clock } from './clock.js';

/** An armed deadline; pass it to `Deadlines.cancel`. */
export interface DeadlineHandle {
  /** The clock time (ms) at which it falls due. */
  readonly dueAt: number;
}

/**
 * A deadline that is a node of its delay's list. `arm` makes one (an entry) per deadline; an owner with one deadline
 * at a time can be the node itself (`armNode`), so arming allocates nothing: the kernel's and libuv's timers are
 * embedded in their owners the same way. The fields belong to the structure: an owner declares them (initialised to
 * null) and never writes them.
 */
export interface DeadlineNode {
  /** The previous node; the node itself while it waits for a firing pass to end (armed, not yet linked). */
  dlPrev: DeadlineNode | null;
  dlNext: DeadlineNode | null;
  /** The list it is armed in (opaque to its owner); null while not armed. */
  dlList: unknown;
  /** The clock time at which it falls due, while armed (null before its first arming). */
  dlDueAt: number | null;
  /** It fell due (it is no longer armed: it may be armed again from here). */
  deadlineDue(): void;
}

export interface DeadlinesOptions {
  /**
   * Called with whatever a firing callback throws (the other due callbacks still fire). Default: rethrown in a
   * microtask, so it surfaces as an uncaught exception, as a throwing timer callback would.
   */
  onError?: (error: unknown) => void;
}

/** Empty delay lists kept for reuse, beyond which an emptied list is forgotten. */
const KEEP_EMPTY_LISTS = 32;

/** The node of one `arm`: its callback and argument (and the public handle). */
class Entry<A = any> implements DeadlineNode, DeadlineHandle {
  dlPrev: DeadlineNode | null = null;
  dlNext: DeadlineNode | null = null;
  dlList: unknown = null;
  dlDueAt: number | null = null;
  fire: ((arg: A) => void) | null;
  arg: A | undefined;

  constructor(fire: (arg: A) => void, arg: A | undefined) {
    this.fire = fire;
    this.arg = arg;
  }

  get dueAt(): number {
    return this.dlDueAt as number;
  }

  deadlineDue(): void {
    const fire = this.fire as (arg: A) => void;
    const arg = this.arg as A;
    this.fire = null;
    this.arg = undefined;
    fire(arg);
  }
}

/** The deadlines armed with one delay, in due (= arm) order. */
class DelayList {
  head: DeadlineNode | null = null;
  tail: DeadlineNode | null = null;
  /** Position in the heap; -1 while empty (not in the heap). */
  index = -1;

  constructor(
    readonly owner: Deadlines,
    readonly ms: number,
  ) {}
}

/** When a linked node falls due. */
const dueOf = (node: DeadlineNode | null): number => (node as DeadlineNode).dlDueAt as number;

/**
 * a's head falls due before b's. On a tie the longer delay goes first: due at the same time, it was armed at the
 * earlier clock time (when the sums are exact). Both lists are non-empty.
 */
function before(a: DelayList, b: DelayList): boolean {
  const x = dueOf(a.head);
  const y = dueOf(b.head);
  return x < y || (x === y && a.ms > b.ms);
}

/** A node no longer armed (its entry's callback and argument let go). */
function forget(n: DeadlineNode): void {
  n.dlList = null;
  n.dlPrev = null;
  n.dlNext = null;
  if (n instanceof Entry) {
    n.fire = null;
    n.arg = undefined;
  }
}

function rethrow(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

export class Deadlines {
  readonly #clock: Clock;
  readonly #onError: (error: unknown) => void;
  /** Delay lists by delay, empty ones included (up to KEEP_EMPTY_LISTS of them). */
  readonly #lists = new Map<number, DelayList>();
  /** Non-empty lists, a binary min-heap by head. */
  readonly #heap: DelayList[] = [];
  #size = 0;
  /**
   * Nodes armed by callbacks of the current firing pass, linked when it ends (in arm order); a slot is null once
   * its node was cancelled meanwhile.
   */
  readonly #deferred: (DeadlineNode | null)[] = [];
  /** The clock timer (undefined: none) and the time it is armed for (Infinity: none). */
  #timer: unknown = undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #firing = false;
  #idleCheck = false;
  readonly #onTimer = () => this.#fireDue();
  readonly #releaseIfIdle = () => {
    this.#idleCheck = false;
    if (this.#size === 0) this.#clearTimer();
  };

  constructor(clock: Clock, options: DeadlinesOptions = {}) {
    this.#clock = clock;
    this.#onError = options.onError ?? rethrow;
  }

  /** Deadlines armed and not yet fired or cancelled. */
  get size(): number {
    return this.#size;
  }

  /** When the earliest armed deadline falls due, or undefined when none is armed. */
  get nextAt(): number | undefined {
    return this.#heap.length === 0 ? undefined : dueOf(this.#heap[0].head);
  }

  /**
   * Call `fire(arg)` once `ms` milliseconds from the clock's now. Returns the handle to cancel it, or null for
   * `Infinity` (never: nothing is armed). NaN and negative delays are 0.
   */
  arm<A>(ms: number, fire: (arg: A) => void, arg?: A): DeadlineHandle | null {
    if (ms === Number.POSITIVE_INFINITY) return null;
    const entry = new Entry<A>(fire, arg);
    this.#armNode(entry, ms);
    return entry;
  }

  /**
   * Arm `node` itself (no object is made) to have its `deadlineDue()` called once `ms` milliseconds from the clock's
   * now; a node armed already is cancelled first. Returns false for `Infinity` (nothing is armed). NaN and negative
   * delays are 0.
   */
  armNode(node: DeadlineNode, ms: number): boolean {
    if (node.dlList !== null) this.cancelNode(node);
    if (ms === Number.POSITIVE_INFINITY) return false;
    this.#armNode(node, ms);
    return true;
  }

  #armNode(node: DeadlineNode, ms: number): void {
    const delay = ms > 0 ? ms : 0;
    const list = this.#listFor(delay);
    const now = this.#clock.now();
    const dueAt = now + delay;
    node.dlList = list;
    node.dlDueAt = dueAt;
    this.#size++;
    if (this.#firing) {
      node.dlPrev = node;
      this.#deferred.push(node);
      return;
    }
    this.#link(node, list);
    if (dueAt < this.#timerAt) this.#armTimer(dueAt, now);
  }

  /** Cancel an armed deadline: it will not fire. A no-op for null, a fired or cancelled one, or another's handle. */
  cancel(handle: DeadlineHandle | null | undefined): void {
    if (!(handle instanceof Entry)) return;
    if (!this.cancelNode(handle)) return;
    handle.fire = null;
    handle.arg = undefined;
  }

  /**
   * Cancel `node`'s deadline: `deadlineDue()` will not be called. Returns false (and does nothing) when it is not
   * armed here.
   */
  cancelNode(node: DeadlineNode): boolean {
    const list = node.dlList as DelayList | null;
    if (list === null || list === undefined || list.owner !== this) return false;
    if (node.dlPrev === node) {
      // armed during this firing pass, not linked yet: forgotten when the pass ends (searched from the end: a node
      // cancelled in the pass that armed it is usually among the last armed)
      const deferred = this.#deferred;
      deferred[deferred.lastIndexOf(node)] = null;
      node.dlPrev = null;
      node.dlList = null;
      this.#size--;
    } else this.#unlink(node, list);
    if (this.#size === 0 && !this.#firing) this.#whenIdle();
    return true;
  }

  /** Cancel every armed deadline and release the clock timer now. */
  clear(): void {
    for (const list of this.#heap) {
      for (let n = list.head; n !== null; ) {
        const next: DeadlineNode | null = n.dlNext;
        forget(n);
        n = next;
      }
      list.head = null;
      list.tail = null;
      list.index = -1;
    }
    for (const n of this.#deferred) if (n !== null) forget(n);
    this.#deferred.length = 0;
    this.#heap.length = 0;
    this.#lists.clear();
    this.#size = 0;
    this.#clearTimer();
  }

  #listFor(delay: number): DelayList {
    let list = this.#lists.get(delay);
    if (list === undefined) {
      list = new DelayList(this, delay);
      this.#lists.set(delay, list);
    }
    return list;
  }

  /** Append `node` to `list` (its deadlines stay in due order: the clock is monotonic). */
  #link(node: DeadlineNode, list: DelayList): void {
    const tail = list.tail;
    node.dlPrev = tail;
    node.dlNext = null;
    if (tail === null) {
      list.head = node;
      list.tail = node;
      this.#push(list);
    } else {
      tail.dlNext = node;
      list.tail = node;
    }
  }

  /** Remove `node` from `list` (and the list from the heap when it empties; re-sift when its head changes). */
  #unlink(node: DeadlineNode, list: DelayList): void {
    const prev = node.dlPrev;
    const next = node.dlNext;
    if (prev === null) list.head = next;
    else prev.dlNext = next;
    if (next === null) list.tail = prev;
    else next.dlPrev = prev;
    node.dlPrev = null;
    node.dlNext = null;
    node.dlList = null;
    this.#size--;
    if (prev !== null) return;
    // the head changed: later (never earlier) in its list
    if (next === null) this.#removeList(list);
    else this.#down(list.index);
  }

  /** The timer fired: run every deadline due by now, link the ones the callbacks armed, re-arm for the rest. */
  #fireDue(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    this.#firing = true;
    try {
      const heap = this.#heap;
      while (heap.length > 0) {
        const list = heap[0];
        const node = list.head as DeadlineNode;
        if ((node.dlDueAt as number) > now) break;
        this.#unlink(node, list);
        try {
          node.deadlineDue();
        } catch (err) {
          this.#report(err);
        }
      }
    } finally {
      this.#firing = false;
      const deferred = this.#deferred;
      for (let i = 0; i < deferred.length; i++) {
        const n = deferred[i];
        // (null: cancelled meanwhile); its list may have emptied and been forgotten during the pass: linked to the
        // one current for its delay
        if (n === null) continue;
        const list = this.#listFor((n.dlList as DelayList).ms);
        n.dlList = list;
        this.#link(n, list);
      }
      deferred.length = 0;
    }
    const next = this.nextAt;
    if (next !== undefined && this.#timer === undefined) this.#armTimer(next, this.#clock.now());
  }

  #report(err: unknown): void {
    try {
      this.#onError(err);
    } catch (again) {
      rethrow(again);
    }
  }

  #armTimer(at: number, now: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(this.#onTimer, at > now ? at - now : 0);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /** Nothing armed: release the timer at the end of this microtask checkpoint unless something is armed by then. */
  #whenIdle(): void {
    if (this.#timer !== undefined && !this.#idleCheck) {
      this.#idleCheck = true;
      queueMicrotask(this.#releaseIfIdle);
    }
  }

  // the heap of non-empty lists, by head

  #push(list: DelayList): void {
    list.index = this.#heap.length;
    this.#heap.push(list);
    this.#up(list.index);
  }

  #removeList(list: DelayList): void {
    const heap = this.#heap;
    const i = list.index;
    const last = heap.pop() as DelayList;
    list.index = -1;
    if (last !== list) {
      heap[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
    if (this.#lists.size > KEEP_EMPTY_LISTS) this.#lists.delete(list.ms);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const item = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent])) break;
      heap[i] = heap[parent];
      heap[i].index = i;
      i = parent;
    }
    heap[i] = item;
    item.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right], heap[left]) ? right : left;
      if (!before(heap[child], item)) break;
      heap[i] = heap[child];
      heap[i].index = i;
      i = child;
    }
    heap[i] = item;
    item.index = i;
  }
}
