/**
 * What a call gets with INVOKED: the value events a per-call subscription would have held for it until its
 * command id was known (the last `MAX_BUFFERED_EVENTS` on its attributes since it joined them, in arrival order)
 * that name the id, found in the events its session's shared subscriptions kept (`KeptEvents`).
 */
import { MAX_BUFFERED_EVENTS } from '../../../../machines/tango/lrc.js';
import type { AttributeEvent } from '../port.js';
import type { KeptEvents } from './keptEvents.js';

/** A shared subscription as far as held events go: what it kept. */
interface Kept {
  readonly kept: KeptEvents;
}

/**
 * The value events a per-call subscription would have held until now, for a call on `subs` (joined at the
 * arrival numbers `since`), (its last
 * `MAX_BUFFERED_EVENTS` on its attributes since it joined them) that name `id`, in arrival order.
 */
export function heldEvents(subs: readonly Kept[], since: readonly number[], id: string): AttributeEvent[] {
  // where each subscription's events since the call joined it start (kept is in arrival order)
  const from = new Array<number>(subs.length);
  let total = 0;
  for (let i = 0; i < subs.length; i++) {
    const kept = subs[i].kept;
    from[i] = kept.firstAfter(since[i]);
    total += kept.end - from[i];
  }
  if (total === 0) return [];
  if (total > MAX_BUFFERED_EVENTS) return heldBeyondLimit(subs, id, from);
  // all of them count: only those naming `id` (the index of each subscription), merged by arrival number
  if (subs.length === 1) return eventsAt(subs[0].kept, subs[0].kept.positionsOf(id, from[0]));
  const runs: { kept: KeptEvents; at: readonly number[] }[] = [];
  for (let i = 0; i < subs.length; i++) {
    const at = subs[i].kept.positionsOf(id, from[i]);
    if (at.length) runs.push({ kept: subs[i].kept, at });
  }
  return mergedByArrival(runs);
}

/** `heldEvents` when more than `MAX_BUFFERED_EVENTS` were kept since the call joined: the newest of them only. */
function heldBeyondLimit(subs: readonly Kept[], id: string, from: readonly number[]): AttributeEvent[] {
  let kept: { seq: number; event: AttributeEvent }[] = [];
  subs.forEach((sub, i) => {
    for (let p = from[i]; p < sub.kept.end; p++)
      kept.push({ seq: sub.kept.seqAt(p), event: sub.kept.eventAt(p) });
  });
  if (subs.length > 1) kept.sort((a, b) => a.seq - b.seq);
  if (kept.length > MAX_BUFFERED_EVENTS) kept = kept.slice(-MAX_BUFFERED_EVENTS);
  const held: AttributeEvent[] = [];
  for (const { event } of kept) if (pairedIndexOf(event.value, id)) held.push(event);
  return held;
}

/** The kept events at positions `at`, in order. */
function eventsAt(kept: KeptEvents, at: readonly number[]): AttributeEvent[] {
  const out = new Array<AttributeEvent>(at.length);
  for (let i = 0; i < at.length; i++) out[i] = kept.eventAt(at[i]);
  return out;
}

/** The events at positions of several subscriptions (each ascending), in arrival order (arrival numbers are unique). */
function mergedByArrival(runs: readonly { kept: KeptEvents; at: readonly number[] }[]): AttributeEvent[] {
  if (runs.length === 0) return [];
  if (runs.length === 1) return eventsAt(runs[0].kept, runs[0].at);
  const out: AttributeEvent[] = [];
  const next = runs.map(() => 0);
  for (;;) {
    let best = -1;
    let bestSeq = 0;
    for (let r = 0; r < runs.length; r++) {
      if (next[r] >= runs[r].at.length) continue;
      const seq = runs[r].kept.seqAt(runs[r].at[next[r]]);
      if (best < 0 || seq < bestSeq) {
        best = r;
        bestSeq = seq;
      }
    }
    if (best < 0) return out;
    out.push(runs[best].kept.eventAt(runs[best].at[next[best]++]));
  }
}

/** Whether a flat (id, value, ...) spectrum names `id` at an even index. */
function pairedIndexOf(value: unknown, id: string): boolean {
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i += 2) if (value[i] === id) return true;
  return false;
}
