/**
 * Statecharts served by the inspector at `/charts/<id>.svg`: one id per machine definition, laid out and rendered
 * on first request by the same code as `npm run charts`, then cached. Known machines are those of
 * `machines/index.ts` (by their name there), those registered with `registerMachine` (by the id given), and those
 * of live actors (by the machine's id): a chart is served without any page or WebSocket client connected.
 */
import type { AnyStateMachine } from 'xstate';
import { machines } from '../../machines/index.js';
import { InvalidArgumentError } from '../errors.js';
import { machineSvg } from './chart.js';
import { isStateMachine } from './graph.js';

const MAX_CHARTS = 500;
/** A chart id: letters, digits, `_`, `-` and `.` (not first), 1 to 100 characters. No `/`, no `..` path. */
export const CHART_ID_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/;

const registered = new Map<string, AnyStateMachine>();

/**
 * Make a machine's chart available from every inspector at `/charts/<id>.svg` (default id: the machine's id),
 * before any actor of it runs. Returns a function that removes it. An invalid id, something that is not a state
 * machine, or an id already taken by another machine throws `InvalidArgumentError`.
 *
 * @example
 * registerMachine(shutterMachine); // GET /charts/shutter.svg
 */
export function registerMachine(machine: AnyStateMachine, id?: string): () => void {
  if (!isStateMachine(machine))
    throw new InvalidArgumentError(
      'registerMachine needs an XState machine (createMachine or setup().createMachine)',
    );
  const key = id ?? machine.id;
  if (typeof key !== 'string' || !CHART_ID_RE.test(key))
    throw new InvalidArgumentError(
      `chart id must be 1 to 100 letters, digits, '_', '-' or '.' (not first), got ${JSON.stringify(String(key)).slice(0, 120)}`,
    );
  const existing = registered.get(key);
  if (existing && existing !== machine)
    throw new InvalidArgumentError(`chart id '${key}' is already registered for another machine`);
  registered.set(key, machine);
  return () => {
    if (registered.get(key) === machine) registered.delete(key);
  };
}

export class ChartRegistry {
  readonly #keys = new WeakMap<object, string>();
  /** Chart keys by machine definition (`machine.config`): the copies `.provide()` makes share their original's. */
  readonly #byConfig = new WeakMap<object, string>();
  readonly #machines = new Map<string, AnyStateMachine>();
  readonly #svgs = new Map<string, Promise<string>>();
  readonly #live: () => Iterable<unknown>;

  /** `live` lists the logic of the running actors (searched when an id is not known yet). */
  constructor(live: () => Iterable<unknown> = () => []) {
    this.#live = live;
    for (const [name, machine] of Object.entries(machines)) this.#register(machine as AnyStateMachine, name);
  }

  /**
   * The chart key of an actor's logic, or undefined when it is not a state machine. A copy made by `.provide()`
   * (same definition, other implementations) gets its original's chart; once the registry is full, a machine
   * falls back to the chart of a known machine with its id.
   */
  keyFor(logic: unknown): string | undefined {
    if (!isStateMachine(logic)) return undefined;
    const known = this.#keys.get(logic);
    if (known) return known;
    for (const [key, machine] of registered) if (machine === logic) return this.#register(logic, key);
    const config = (logic as { config?: unknown }).config;
    const sameDefinition =
      config !== null && typeof config === 'object' ? this.#byConfig.get(config) : undefined;
    if (sameDefinition !== undefined) {
      this.#keys.set(logic, sameDefinition);
      return sameDefinition;
    }
    return this.#register(logic, logic.id) ?? (this.#machines.has(logic.id) ? logic.id : undefined);
  }

  /** Names of every known chart. */
  keys(): string[] {
    return [...new Set([...this.#machines.keys(), ...registered.keys()])];
  }

  /** The SVG of a chart, or undefined for an unknown (or invalid) id. */
  svg(key: string): Promise<string> | undefined {
    if (typeof key !== 'string' || !CHART_ID_RE.test(key)) return undefined;
    const machine = this.#find(key);
    if (!machine) return undefined;
    let svg = this.#svgs.get(key);
    if (!svg) {
      svg = machineSvg(machine);
      // kept only for a machine the registry keeps (past its cap a registered machine is drawn on each request)
      if (this.#machines.get(key) === machine) {
        this.#svgs.set(key, svg);
        svg.catch(() => this.#svgs.delete(key));
      }
    }
    return svg;
  }

  #find(key: string): AnyStateMachine | undefined {
    const user = registered.get(key);
    if (user) {
      // Kept under the cap like every other machine: ids registered, drawn and removed one after another grew
      // the machine and SVG caches for ever. Past the cap the machine is served without being kept.
      if (!this.#machines.has(key) && this.#machines.size >= MAX_CHARTS) return user;
      if (this.#machines.get(key) !== user) {
        this.#svgs.delete(key); // registered after another machine had this id here: the registration wins
        this.#machines.set(key, user);
        this.#keys.set(user, key);
      }
      return user;
    }
    const known = this.#machines.get(key);
    if (known) return known;
    for (const logic of this.#live()) {
      this.keyFor(logic);
      if (this.#machines.has(key)) break;
    }
    return this.#machines.get(key);
  }

  #register(machine: AnyStateMachine, wanted: string): string | undefined {
    // machines built per call (not module constants) would grow the registry without end: cap it
    if (this.#machines.size >= MAX_CHARTS) return undefined;
    let base = CHART_ID_RE.test(wanted)
      ? wanted
      : wanted
          .replace(/[^A-Za-z0-9_.-]/g, '_')
          .replace(/^\./, '_')
          .slice(0, 90) || 'machine';
    const taken = (k: string) =>
      (this.#machines.has(k) && this.#machines.get(k) !== machine) ||
      (registered.has(k) && registered.get(k) !== machine);
    if (taken(base)) {
      let n = 2;
      while (taken(`${base}-${n}`)) n++;
      base = `${base}-${n}`;
    }
    this.#keys.set(machine, base);
    this.#machines.set(base, machine);
    const config = (machine as { config?: unknown }).config;
    if (config !== null && typeof config === 'object' && !this.#byConfig.has(config))
      this.#byConfig.set(config, base);
    return base;
  }
}
