/**
 * The client side of sampling strategies for an `InspectingClient` (katcp-python's resource layer): the cache of
 * the strategies the user set, by sensor name, `?sensor-sampling` for one sensor or many (the bulk comma form
 * `?sensor-sampling a,b,c ...` when the server has flag `B`, one at a time if that fails or without it), and the
 * re-apply run on every S2/S3 so strategies survive reconnects and server restarts. A strategy is cached BEFORE
 * it is sent; results are `[true, text]` or `[false, message]` and nothing here rejects. Strategy parameters are
 * seconds, as on the wire (`'period 0.5'`).
 */
import type { SensorInfo } from '../../../machines/katcp/inspectingClient.js';
import type { Logger } from '../../engine/logging.js';
import { InvalidArgumentError } from '../../errors.js';
import type { RawReply } from './client.js';
import { type ArgValue, messageText } from './codec.js';
import { checkName } from './inspectingClientOptions.js';
import { isOk } from './inspection.js';
import { formatStrategy, parseStrategy, type SamplingStrategy } from './wire.js';

/** A strategy as the sampling calls accept it: `'period 0.5'`, `['period', 0.5]` or a SamplingStrategy. */
export type StrategyInput = string | readonly (string | number)[] | SamplingStrategy;

/** `[true, normalised strategy text]` or `[false, error message]` (katcp-python's resource layer; never throws). */
export type SamplingResult = [true, string] | [false, string];

/** What the strategy cache needs from its client. */
export interface SamplingStrategiesHost {
  /** The server's protocol flags ('' while not connected). */
  readonly flags: string;
  /** Whether the client runs (not new, stopping or stopped). */
  running(): boolean;
  /** The device's sensors, as last inspected. */
  sensors(): Record<string, SensorInfo>;
  /** The client's `simpleRequest`. */
  simpleRequest(name: string, ...args: ArgValue[]): Promise<RawReply>;
  readonly logger: Logger;
}

function normalise(strategy: StrategyInput): SamplingStrategy {
  return parseStrategy(strategy as Parameters<typeof parseStrategy>[0]);
}

/** The strategy cache of one client and the requests that apply it. */
export class SamplingStrategies {
  readonly #host: SamplingStrategiesHost;
  readonly #strategies = new Map<string, SamplingStrategy>();

  constructor(host: SamplingStrategiesHost) {
    this.#host = host;
  }

  /** The cached strategies (set by the user), by sensor name. */
  get map(): ReadonlyMap<string, SamplingStrategy> {
    return this.#strategies;
  }

  /** `client.setSamplingStrategy`: cache the normalised strategy, then send it. */
  async set(name: string, strategy: StrategyInput): Promise<SamplingResult> {
    let s: SamplingStrategy;
    try {
      checkName('sensor name', name);
      s = normalise(strategy);
    } catch (error) {
      return [false, (error as Error).message];
    }
    this.#strategies.set(name, s);
    return this.send(name, s);
  }

  /** `client.setSamplingStrategies`: cache it for each name, then send (bulk with flag `B`). */
  async setMany(names: readonly string[], strategy: StrategyInput): Promise<Map<string, SamplingResult>> {
    const out = new Map<string, SamplingResult>();
    let s: SamplingStrategy;
    try {
      if (!Array.isArray(names)) throw new InvalidArgumentError('names must be an array of sensor names');
      for (const n of names) checkName('sensor name', n);
      s = normalise(strategy);
    } catch (error) {
      for (const n of Array.isArray(names) ? names : [])
        out.set(String(n), [false, (error as Error).message]);
      return out;
    }
    const unique = [...new Set(names)];
    for (const n of unique) this.#strategies.set(n, s);
    if (unique.length === 0) return out;
    const words = formatStrategy(s);
    if (unique.length > 1 && this.#host.flags.includes('B')) {
      try {
        const { reply } = await this.#host.simpleRequest('sensor-sampling', unique.join(','), ...words);
        if (isOk(reply)) {
          for (const n of unique) out.set(n, [true, words.join(' ')]);
          return out;
        }
      } catch {
        // one at a time below
      }
    }
    const results = await Promise.all(unique.map((n) => this.send(n, s)));
    for (const [i, n] of unique.entries()) out.set(n, results[i]);
    return out;
  }

  /** `client.reapplySamplingStrategies`: re-send the strategies of the sensors that still exist. */
  async reapply(): Promise<Map<string, SamplingResult>> {
    const out = new Map<string, SamplingResult>();
    if (!this.#host.running()) return out;
    const sensors = this.#host.sensors();
    const groups = new Map<string, { strategy: SamplingStrategy; names: string[] }>();
    for (const [name, strategy] of this.#strategies) {
      if (!Object.hasOwn(sensors, name)) continue; // own entries: `in` would find `constructor` on the prototype
      const key = formatStrategy(strategy).join(' ');
      let g = groups.get(key);
      if (!g) {
        g = { strategy, names: [] };
        groups.set(key, g);
      }
      g.names.push(name);
    }
    const bulk = this.#host.flags.includes('B');
    await Promise.all(
      [...groups.entries()].map(async ([key, g]) => {
        if (bulk && g.names.length > 1) {
          try {
            const { reply } = await this.#host.simpleRequest(
              'sensor-sampling',
              g.names.join(','),
              ...key.split(' '),
            );
            if (isOk(reply)) {
              for (const n of g.names) out.set(n, [true, key]);
              return;
            }
          } catch {
            // one at a time below
          }
        }
        const results = await Promise.all(g.names.map((n) => this.send(n, g.strategy)));
        for (const [i, n] of g.names.entries()) out.set(n, results[i]);
      }),
    );
    for (const [name, r] of out) {
      if (!r[0])
        this.#host.logger.warn({ sensor: name, error: r[1] }, 'could not re-apply the sampling strategy');
    }
    return out;
  }

  /** `?sensor-sampling name ...` with a strategy (not cached here). */
  async send(name: string, s: SamplingStrategy): Promise<SamplingResult> {
    const words = formatStrategy(s);
    try {
      const { reply } = await this.#host.simpleRequest('sensor-sampling', name, ...words);
      if (isOk(reply)) return [true, words.join(' ')];
      return [false, `${messageText(reply)}`];
    } catch (error) {
      return [false, (error as Error).message];
    }
  }
}
