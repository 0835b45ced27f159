/**
 * Routing of v1 status lists (`longRunningCommandStatus`: (id, status, id, status, ...) of EVERY command the device
 * tracks, sent again whenever any of them changes) by difference with the subscription's previous list: an entry
 * at the same place with the same id and status as in the previous list, which every call of that id was already
 * given (or has none), needs no look-up at all: those calls would drop it as a repeat. Only the other entries are
 * routed as any value event is (the calls of the id looked up, each sent the event unless it repeats its status).
 *
 * What the difference relies on, kept exact:
 * - an entry is marked settled only when every call of its id on the subscription ended with that status
 *   remembered (a valid status, no `parity`) at this very entry, or when its id has no call;
 * - a call getting its command id, or leaving, unsettles every entry naming that id (`unsettle`);
 * - a list naming an id twice where a call is concerned turns the difference off for that subscription for good
 *   (the call is routed at the first pair only, as before), so a settled entry is always its id's first pair; a
 *   first pair skipped as settled is recognised by the pair the call was last routed at (`pairAt`), so the second
 *   pair is never taken for the first.
 * Marks are only ever cleared early (an extra look-up), never set early.
 */

import type { LrcEvent } from '../../../../machines/tango/lrc.js';
import type { AttributeEvent } from '../port.js';

/** What routing needs of a call (`LrcCall`). */
export interface StatusRoutedCall {
  routed: number;
  /** The pair of the last list routed to it where its id was (-1: none). */
  pairAt: number;
  readonly subs: readonly object[];
  readonly sameId: StatusRoutedCall | undefined;
  /** 0: the status repeats the remembered one (dropped); 1: sent, now remembered; 2: sent, not remembered. */
  statusDelivery(raw: unknown): 0 | 1 | 2;
  send(event: LrcEvent): void;
}

/** What it keeps per subscription. */
export interface StatusDiff {
  /** The previous status list routed by difference; null: none (or the difference is off). */
  prevStatus: readonly unknown[] | null;
  /** Per entry (pair index) of `prevStatus`: settled (see above). */
  readonly settled: boolean[];
  /** A list named an id twice where a call was concerned: every entry is looked up from then on. */
  noDiff: boolean;
}

/**
 * Route the status list `value` (of `event`, arrival number `seq`) to the calls of `sub` that it gives a new
 * status, by difference with the previous list. `lookup` gives the first call of an id (then `sameId`).
 */
export function routeStatusList(
  sub: StatusDiff,
  event: AttributeEvent,
  value: readonly unknown[],
  seq: number,
  lookup: (id: string) => StatusRoutedCall | undefined,
): void {
  const prev = sub.prevStatus;
  const settled = sub.settled;
  let shared: LrcEvent | undefined;
  for (let i = 0; i < value.length; i += 2) {
    const k = i >> 1;
    const id = value[i];
    const raw = value[i + 1];
    if (prev !== null && i + 1 < prev.length && prev[i] === id && prev[i + 1] === raw && settled[k]) continue;
    let now = true;
    if (typeof id === 'string') {
      for (let call = lookup(id); call; call = call.sameId) {
        if (!call.subs.includes(sub)) continue;
        if (call.routed === seq || skippedBefore(call.pairAt, k, id, value, prev, settled)) {
          // a second pair naming this call's id (the first routed, or skipped as settled): routed at the first
          // one only, as before
          sub.noDiff = true;
          now = false;
          continue;
        }
        call.routed = seq;
        call.pairAt = k;
        const delivery = call.statusDelivery(raw);
        if (delivery === 0) continue;
        if (delivery === 2) now = false;
        shared ??= { type: 'DEVICE_EVENT', event };
        call.send(shared);
      }
    }
    settled[k] = now;
  }
  sub.prevStatus = sub.noDiff ? null : value;
}

/**
 * Whether pair `j` (a call's pair in the previous list), before pair `k`, names `id` and was skipped in this list
 * as settled: then it was that call's first pair in this list too (a settled entry is its id's first pair), and
 * pair `k` is a second one.
 */
function skippedBefore(
  j: number,
  k: number,
  id: string,
  value: readonly unknown[],
  prev: readonly unknown[] | null,
  settled: readonly boolean[],
): boolean {
  if (j < 0 || j >= k || prev === null || value[2 * j] !== id) return false;
  const i = 2 * j;
  return i + 1 < prev.length && prev[i] === id && prev[i + 1] === value[i + 1] && settled[j];
}

/** `id` got a call, or lost one: the entries naming it in the previous lists of `subs` are looked up again. */
export function unsettle(subs: readonly StatusDiff[], id: string): void {
  for (let s = 0; s < subs.length; s++) {
    const prev = subs[s].prevStatus;
    if (prev === null) continue;
    const settled = subs[s].settled;
    for (let i = 0; i < prev.length; i += 2) if (prev[i] === id) settled[i >> 1] = false;
  }
}
