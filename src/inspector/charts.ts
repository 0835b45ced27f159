/**
 * Statecharts served to the inspector page: one key per machine definition (its name in `machines/index.ts`,
 * else its id), laid out and rendered on first request by the same code as `npm run charts`, then cached.
 */
import type { AnyStateMachine } from 'xstate';
import { machines } from '../../machines/index.js';
import { machineSvg } from './chart.js';
import { isStateMachine } from './graph.js';

const MAX_CHARTS = 500;
const KEY_RE = /^[A-Za-z0-9_.-]{1,100}$/;

export class ChartRegistry {
  readonly #keys = new WeakMap<object, string>();
  readonly #machines = new Map<string, AnyStateMachine>();
  readonly #svgs = new Map<string, Promise<string>>();

  constructor() {
    for (const [name, machine] of Object.entries(machines)) this.#register(machine as AnyStateMachine, name);
  }

  /** The chart key of an actor's logic, or undefined when it is not a state machine. */
  keyFor(logic: unknown): string | undefined {
    if (!isStateMachine(logic)) return undefined;
    return this.#keys.get(logic) ?? this.#register(logic, logic.id);
  }

  /** Names of every known chart. */
  keys(): string[] {
    return [...this.#machines.keys()];
  }

  /** The SVG of a chart, or undefined for an unknown key. */
  svg(key: string): Promise<string> | undefined {
    const machine = this.#machines.get(key);
    if (!machine) return undefined;
    let svg = this.#svgs.get(key);
    if (!svg) {
      svg = machineSvg(machine);
      this.#svgs.set(key, svg);
      svg.catch(() => this.#svgs.delete(key));
    }
    return svg;
  }

  #register(machine: AnyStateMachine, wanted: string): string | undefined {
    // machines built per call (not module constants) would grow the registry without end: cap it
    if (this.#machines.size >= MAX_CHARTS) return undefined;
    let base = KEY_RE.test(wanted)
      ? wanted
      : wanted.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 90) || 'machine';
    if (this.#machines.has(base) && this.#machines.get(base) !== machine) {
      let n = 2;
      while (this.#machines.has(`${base}-${n}`)) n++;
      base = `${base}-${n}`;
    }
    this.#keys.set(machine, base);
    this.#machines.set(base, machine);
    return base;
  }
}
