/**
 * Per-client sensor sampling for the device server (aiokatcp `SensorSampler`): one sampler per client per sensor,
 * created by `?sensor-sampling name strategy [params]`, which calls its observer (the server writes
 * `#sensor-status`) once at creation and then as the strategy says. Every timer is on the injected `Clock`, so a
 * `TestClock` drives sampling in tests; `close()` cancels the timer and detaches from the sensor.
 *
 *   strategy            sends                                         shortest   longest   difference
 *   auto                every update, even an unchanged value         0          -         -
 *   period p            every p s (a change waits for the next tick)  p          p         -
 *   event               on a value or status change                   0          -         -
 *   differential d      |value - last sent| > d, or status change     0          -         d
 *   event-rate s l      on change, not more often than s, at least every l
 *   differential-rate d s l                                           s          l         d
 *
 * aiokatcp's algorithm, kept: after each send the next forced send is due at `sent_at + longest` (`sent_at` is the
 * time the send was scheduled for, so `period` does not drift); a change before `last + shortest` is sent at
 * `last + shortest` with the sensor's reading at that time; once a change is pending, later updates are ignored.
 *
 * Differences from aiokatcp, on purpose: the difference of `differential` on an integer sensor must be an integer
 * (aiokatcp decodes it with the sensor's type too, with Python's message); a bad strategy's message lists the
 * valid ones; durations must be finite and not negative, except a rate strategy's shortest and longest periods,
 * which may be `inf` (aiokatcp does not check shortest at all; an infinite longest is never forced, an infinite
 * shortest holds a change for ever: the sampler arms no timer for either, Orrery's clocks take Infinity as never).
 */
import type { Clock } from '../../engine/clock.js';
import { KatcpDecodeError } from './errors.js';
import type { Reading, Sensor } from './sensor.js';
import {
  decodeFloat,
  decodeInt,
  formatSensorValue,
  formatStrategy,
  type SamplingStrategy,
  type SensorValue,
  STRATEGIES,
  type StrategyName,
} from './wire.js';

/** Called with the sensor and the reading to send (the server writes `#sensor-status`). */
export type SamplerObserver = (sensor: Sensor, reading: Reading) => void;

const PARAM_COUNT: Record<StrategyName, number> = {
  none: 0,
  auto: 0,
  event: 0,
  period: 1,
  differential: 1,
  'event-rate': 2,
  'differential-rate': 3,
};

/**
 * A float as aiokatcp (Python's `repr`) writes it: `1.0`, `0.1`, `1e-05`, `1e+16`, `inf`, `nan`. Used for the
 * timestamps, float sensor values and the echoed strategy parameters, so a client sees what aiokatcp sends.
 */
export function formatPythonFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(value);
  if (abs >= 1e16 || abs < 1e-4) {
    const [mantissa, exp] = value.toExponential().split('e');
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[-+]/, '').padStart(2, '0');
    return `${mantissa}e${sign}${digits}`;
  }
  const s = String(value);
  return Number.isInteger(value) ? `${s}.0` : s;
}

/** True for the sensor types a differential strategy applies to (aiokatcp: int and float). */
function isNumericSensor(sensor: Sensor): boolean {
  return sensor.type === 'integer' || sensor.type === 'float' || sensor.type === 'timestamp';
}

/**
 * The strategy `?sensor-sampling name <words...>` asks for on `sensor`, decoded as aiokatcp does: the
 * difference in the sensor's own type (an integer for integer sensors), durations in seconds. Throws
 * KatcpDecodeError (the server replies `fail` with its message) for an unknown strategy, a wrong parameter count,
 * a differential strategy on a non-numeric sensor, or a parameter out of range.
 */
export function parseSamplingRequest(sensor: Sensor, words: readonly Buffer[]): SamplingStrategy {
  const name = words[0]?.toString('utf8') ?? '';
  if (!(STRATEGIES as readonly string[]).includes(name)) {
    throw new KatcpDecodeError(`'${name}' is not a valid value for Strategy (${STRATEGIES.join(', ')})`);
  }
  const strategy = name as StrategyName;
  const params = words.slice(1);
  if ((strategy === 'differential' || strategy === 'differential-rate') && !isNumericSensor(sensor)) {
    throw new KatcpDecodeError('differential strategies only valid for integer and float sensors');
  }
  if (params.length !== PARAM_COUNT[strategy]) {
    throw new KatcpDecodeError(
      `expected ${PARAM_COUNT[strategy]} strategy arguments, found ${params.length}`,
    );
  }
  const seconds = (arg: Buffer, what: string, positive: boolean): number => {
    const v = decodeFloat(arg);
    if (!Number.isFinite(v) || v < 0 || (positive && v === 0)) {
      throw new KatcpDecodeError(`${what} must be ${positive ? '> 0' : '>= 0'} and finite, got ${arg}`);
    }
    return v;
  };
  /**
   * A rate strategy's period: `inf` for longest is no forced update at all (aiokatcp takes any float > 0), for
   * shortest no update after the first (aiokatcp takes any float; the client's parseStrategy sends `inf inf`).
   */
  const rate = (arg: Buffer, what: 'shortest' | 'longest'): number => {
    const v = decodeFloat(arg);
    return v === Number.POSITIVE_INFINITY ? v : seconds(arg, what, what === 'longest');
  };
  const difference = (arg: Buffer): number => {
    const v = sensor.type === 'integer' ? decodeInt(arg) : decodeFloat(arg);
    if (!(v >= 0) || !Number.isFinite(v)) {
      throw new KatcpDecodeError(`difference must be >= 0 and finite, got ${arg}`);
    }
    return v;
  };
  switch (strategy) {
    case 'none':
    case 'auto':
    case 'event':
      return { strategy };
    case 'period':
      return { strategy, period: seconds(params[0], 'period', true) };
    case 'differential':
      return { strategy, difference: difference(params[0]) };
    case 'event-rate':
      return {
        strategy,
        shortest: rate(params[0], 'shortest'),
        longest: rate(params[1], 'longest'),
      };
    case 'differential-rate':
      return {
        strategy,
        difference: difference(params[0]),
        shortest: rate(params[1], 'shortest'),
        longest: rate(params[2], 'longest'),
      };
  }
}

/**
 * The strategy words the server echoes in `!sensor-sampling ok name <words>`, as aiokatcp re-encodes them:
 * durations as Python floats (`event-rate 0.1 1.0`), the difference in the sensor's type (`differential 2`).
 */
export function formatSamplingParameters(sensor: Sensor, s: SamplingStrategy): string[] {
  return formatStrategy(s, formatPythonFloat, sensor.type === 'integer' ? String : formatPythonFloat);
}

/**
 * `|b - a| > difference` for the differential strategies; an integer sensor's values beyond 2^53 are bigints and
 * are compared exactly (with a number too). Anything not numeric counts as a change.
 */
function differs(a: SensorValue | undefined, b: SensorValue, difference: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') return !(Math.abs(b - a) <= difference);
  const integral = (v: unknown) => typeof v === 'bigint' || Number.isSafeInteger(v);
  if (!integral(a) || !integral(b) || !Number.isInteger(difference)) return true;
  const d = BigInt(b as number | bigint) - BigInt(a as number | bigint);
  return (d < 0n ? -d : d) > BigInt(difference);
}

function sameValue(a: SensorValue | undefined, b: SensorValue): boolean {
  if (a === undefined) return false;
  // an address by its text; a bigint against a number by its digits (5n is 5: a server may set either)
  if (typeof a === 'object' || typeof b === 'object' || typeof a === 'bigint' || typeof b === 'bigint') {
    return formatSensorValue(a) === formatSensorValue(b);
  }
  return a === b; // NaN is never equal, as in Python
}

/**
 * One sensor sampled for one client. Create it with `createSampler` (null for `none`); it sends the current
 * reading at once, then as its strategy says, until `close()`.
 */
export class SensorSampler {
  readonly sensor: Sensor;
  readonly strategy: SamplingStrategy;
  readonly #observer: SamplerObserver;
  readonly #clock: Clock;
  /** In ms of the clock. */
  readonly #shortest: number;
  readonly #longest: number | null;
  readonly #difference: number | null;
  readonly #always: boolean;
  #timer: unknown = undefined;
  #hasTimer = false;
  #lastTime = 0;
  #lastValue: SensorValue | undefined = undefined;
  #lastStatus: string | undefined = undefined;
  #changed = false;
  #closed = false;
  readonly #detach: () => void;

  constructor(sensor: Sensor, strategy: SamplingStrategy, observer: SamplerObserver, clock: Clock) {
    if (strategy.strategy === 'none') {
      throw new KatcpDecodeError('the none strategy has no sampler (createSampler returns null)');
    }
    this.sensor = sensor;
    this.strategy = strategy;
    this.#observer = observer;
    this.#clock = clock;
    let shortest = 0;
    let longest: number | null = null;
    let difference: number | null = null;
    switch (strategy.strategy) {
      case 'period':
        shortest = longest = strategy.period * 1000;
        break;
      case 'differential':
        difference = strategy.difference;
        break;
      case 'event-rate':
        shortest = strategy.shortest * 1000;
        longest = strategy.longest * 1000;
        break;
      case 'differential-rate':
        difference = strategy.difference;
        shortest = strategy.shortest * 1000;
        longest = strategy.longest * 1000;
        break;
    }
    this.#shortest = shortest;
    this.#longest = longest;
    this.#difference = difference;
    this.#always = strategy.strategy === 'auto';
    this.#detach = sensor.attach((_s, reading) => this.#receive(reading));
    this.#send(clock.now(), sensor.reading);
  }

  /** True once closed: no timer, no listener on the sensor. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stop sampling: cancel the pending timer and detach from the sensor (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    this.#detach();
  }

  #clearTimer(): void {
    if (this.#hasTimer) {
      this.#clock.clearTimeout(this.#timer);
      this.#hasTimer = false;
      this.#timer = undefined;
    }
  }

  #at(time: number, fn: () => void): void {
    this.#hasTimer = true;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#hasTimer = false;
        this.#timer = undefined;
        if (!this.#closed) fn();
      },
      Math.max(0, time - this.#clock.now()),
    );
  }

  #send(schedTime: number, reading: Reading | null): void {
    const r = reading ?? this.sensor.reading;
    this.#lastTime = schedTime;
    this.#lastValue = r.value;
    this.#lastStatus = r.status;
    this.#changed = false;
    this.#clearTimer();
    this.#observer(this.sensor, r);
    if (this.#closed) return; // the observer closed it (client gone)
    if (this.#longest !== null) {
      const next = Math.max(this.#clock.now(), schedTime + this.#longest);
      this.#at(next, () => this.#send(next, null));
    }
  }

  #receive(reading: Reading): void {
    if (this.#changed || this.#closed) return;
    let changed: boolean;
    if (this.#always) changed = true;
    else if (this.#difference === null) changed = !sameValue(this.#lastValue, reading.value);
    else changed = differs(this.#lastValue, reading.value, this.#difference);
    if (reading.status !== this.#lastStatus) changed = true;
    if (!changed) return;
    this.#changed = true;
    this.#clearTimer();
    const due = this.#lastTime + this.#shortest;
    const now = this.#clock.now();
    if (this.#shortest === 0 || now >= due) this.#send(now, reading);
    else this.#at(due, () => this.#send(due, null));
  }
}

/** A sampler for `strategy`, or null for `none` (nothing is sent). */
export function createSampler(
  sensor: Sensor,
  strategy: SamplingStrategy,
  observer: SamplerObserver,
  clock: Clock,
): SensorSampler | null {
  return strategy.strategy === 'none' ? null : new SensorSampler(sensor, strategy, observer, clock);
}
