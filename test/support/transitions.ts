/**
 * Transition-coverage recorder. Every test process records, for each microstep any actor takes, which declared
 * transition it was (machine id, source state id, event type, index among that event's candidates). Actors
 * spawned through an OrrerySystem are recorded automatically (setup file registers a global inspector); for a
 * bare `createActor`, pass `{ inspect: recordTransitions }`. `test/coverage/transitions.check.ts` compares the
 * union of all records with the transitions `xstate/graph` finds in every machine of `machines/index.ts`.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { InspectionEvent } from 'xstate';
import { transitionRecorder } from '../../src/testing/transitionCoverage.js';

/** Where the records go; `ORRERY_TRANSITIONS_DIR` gives a run its own (two runs in one tree would share it). */
export const TRANSITIONS_DIR =
  process.env.ORRERY_TRANSITIONS_DIR || join(process.cwd(), 'node_modules', '.orrery-transitions');
const seen = new Set<string>();
let pending: string[] = [];
// stateful: also counts a transition whose entered state's action threw (no microstep is reported then)
const taken = transitionRecorder();

export function recordTransitions(event: InspectionEvent): void {
  for (const key of taken(event)) {
    if (!seen.has(key)) {
      seen.add(key);
      pending.push(key);
    }
  }
  if (pending.length > 50) flush();
}

export function flush(): void {
  if (!pending.length) return;
  mkdirSync(TRANSITIONS_DIR, { recursive: true });
  appendFileSync(join(TRANSITIONS_DIR, `${process.pid}.txt`), pending.join('\n') + '\n');
  pending = [];
}
