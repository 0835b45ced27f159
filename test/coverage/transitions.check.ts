/**
 * Transition coverage: every declared transition of every machine in `machines/index.ts` (as `xstate/graph`'s
 * `toDirectedGraph` finds them) must have been taken by at least one test of the preceding `vitest run`
 * (recorded by test/support/transitions.ts). Run by `npm test` after the main suite.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DirectedGraphNode, toDirectedGraph } from 'xstate/graph';
import { machines } from '../../machines/index.js';
import { TRANSITIONS_DIR, transitionKey } from '../support/transitions.js';

/**
 * Every declared transition: the state nodes come from `xstate/graph`'s `toDirectedGraph`; its edges leave out
 * eventless (`always`) transitions, so each node's own `transitions` and `always` lists are read instead.
 */
function declared(machine: (typeof machines)[keyof typeof machines]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (node: DirectedGraphNode) => {
    const sn = node.stateNode as any;
    const lists: Array<[string, any[]]> = [...(sn.transitions as Map<string, any[]>).entries()];
    if (sn.always?.length) lists.push(['', sn.always]);
    for (const [eventType, list] of lists) {
      list.forEach((t, index) => {
        const targets = (t.target ?? []).map((x: any) => x.id).join(',') || sn.id;
        out.set(
          transitionKey(machine.id, sn.id, eventType, index),
          `${sn.id} --${eventType || '(always)'}--> ${targets}`,
        );
      });
    }
    for (const c of node.children) walk(c);
  };
  walk(toDirectedGraph(machine as never));
  return out;
}

function taken(): Set<string> {
  const keys = new Set<string>();
  let files: string[] = [];
  try {
    files = readdirSync(TRANSITIONS_DIR);
  } catch {
    // no records at all: every transition is reported missing below
  }
  for (const f of files) {
    for (const line of readFileSync(join(TRANSITIONS_DIR, f), 'utf8').split('\n')) if (line) keys.add(line);
  }
  return keys;
}

describe('transition coverage', () => {
  const seen = taken();
  for (const [name, machine] of Object.entries(machines)) {
    it(`every declared transition of '${name}' is taken by some test`, () => {
      const all = declared(machine);
      expect(all.size).toBeGreaterThan(0);
      const missing = [...all].filter(([key]) => !seen.has(key)).map(([, label]) => label);
      expect(missing, `untaken transitions of ${name}`).toEqual([]);
    });
  }
});
