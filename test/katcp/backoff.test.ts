/**
 * katcp-python's ExponentialRandomBackoff (checklist 9.5 item 4), in milliseconds, with its own test numbers
 * (`TestExponentialRandomBackoff.test_delays`: random 0.4, di = 1.5 s, dm = 12 s, ex = 2, r = 0.7), its
 * parameter checks as typed errors, and the pure helpers the InspectingClient machine uses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  backoffFailed,
  backoffSuccess,
  checkBackoffParams,
  drawUnit,
  ExponentialRandomBackoff,
  initialBackoff,
} from '../../machines/katcp/backoff.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { propertyRuns } from '../support/propertyRuns.js';

describe('issue 9 item 3: ExponentialRandomBackoff', () => {
  it("issue 9 item 3: katcp-python's test_delays numbers: first delay, x factor per failure, capped, success restores the first", () => {
    const rv = 0.4;
    const di = 1500;
    const dm = 12_000;
    const ex = 2;
    const r = 0.7;
    const b = new ExponentialRandomBackoff({
      delayInitial: di,
      delayMax: dm,
      expFac: ex,
      randomicity: r,
      random: () => rv,
    });
    const first = b.delay;
    expect(first).toBeCloseTo((1 - r) * di + r * di * rv, 9);
    for (let i = 1; i < 4; i++) {
      b.failed();
      expect(b.delay).toBeCloseTo(first * ex ** i, 9);
    }
    for (let i = 0; i < 5; i++) b.failed();
    expect(b.delay).toBeCloseTo((1 - r) * dm + r * dm * rv, 9);
    expect(b.base).toBe(dm);
    b.success();
    expect(b.delay).toBe(first);
    expect(b.base).toBe(di);
  });

  it("issue 9 item 3: the inspecting client's settings (5 s, 90 s, x3, r 0.95): bases 5, 15, 45, 90, 90 s", () => {
    const b = new ExponentialRandomBackoff({ delayInitial: 5000, delayMax: 90_000, random: () => 1 });
    const bases = [b.base];
    const delays = [b.delay];
    for (let i = 0; i < 4; i++) {
      b.failed();
      bases.push(b.base);
      delays.push(b.delay);
    }
    expect(bases).toEqual([5000, 15_000, 45_000, 90_000, 90_000]);
    expect(delays).toEqual(bases); // u = 1: no jitter
    const low = new ExponentialRandomBackoff({ delayInitial: 5000, delayMax: 90_000, random: () => 0 });
    expect(low.delay).toBeCloseTo(250, 9); // (1 - 0.95) * 5000
  });

  it("issue 9 item 3: defaults are katcp-python's (1 s, 90 s, x3, 0.95) and one draw is made per update", () => {
    let draws = 0;
    const b = new ExponentialRandomBackoff({
      random: () => {
        draws += 1;
        return 0.5;
      },
    });
    expect([b.delayInitial, b.delayMax, b.expFac, b.randomicity]).toEqual([1000, 90_000, 3, 0.95]);
    expect(draws).toBe(1);
    expect(b.delay).toBeCloseTo((0.05 + 0.95 * 0.5) * 1000, 9);
    expect(b.delay).toBe(b.delay); // reading does not draw
    expect(draws).toBe(1);
    b.failed();
    b.success();
    expect(draws).toBe(3);
    expect(new ExponentialRandomBackoff().delay).toBeLessThanOrEqual(1000);
  });

  it('issue 9 item 3: bad parameters are InvalidArgumentError (upstream asserts), each named', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ delayInitial: -1 }, /delayInitial/],
      [{ delayInitial: 100, delayMax: 50 }, /delayInitial <= delayMax/],
      [{ randomicity: 1.5 }, /randomicity/],
      [{ randomicity: -0.1 }, /randomicity/],
      [{ expFac: 1 }, /expFac/],
      [{ expFac: Number.NaN }, /expFac/],
      [{ delayMax: Number.POSITIVE_INFINITY }, /delayMax must be a finite number/],
      [{ delayInitial: '5' }, /delayInitial must be a finite number/],
      [{ random: 4 }, /random must be a function/],
    ];
    for (const [options, message] of bad) {
      expect(() => new ExponentialRandomBackoff(options as never)).toThrow(InvalidArgumentError);
      expect(() => new ExponentialRandomBackoff(options as never)).toThrow(message);
    }
    expect(() => new ExponentialRandomBackoff(null as never)).toThrow(InvalidArgumentError);
  });

  it('issue 9 item 3: failed() and success() never throw: a broken random source counts as 1 (the base, no jitter)', () => {
    let mode: 'throw' | 'nan' | 'big' | 'string' = 'throw';
    const random = () => {
      if (mode === 'throw') throw new Error('no entropy');
      if (mode === 'nan') return Number.NaN;
      if (mode === 'big') return 7;
      return '0.5' as unknown as number;
    };
    const b = new ExponentialRandomBackoff({ delayInitial: 1000, delayMax: 10_000, expFac: 2, random });
    expect(b.delay).toBe(1000);
    for (const m of ['nan', 'big', 'string', 'throw'] as const) {
      mode = m;
      expect(() => b.failed()).not.toThrow();
      expect(b.delay).toBe(b.base);
      expect(() => b.success()).not.toThrow();
      expect(b.delay).toBe(1000);
    }
    expect(drawUnit(() => 0.25)).toBe(0.25);
    expect(drawUnit(() => 0)).toBe(0);
    expect(drawUnit(() => -0.1)).toBe(1);
  });

  it('issue 9 item 3: the pure helpers follow the class exactly, and the delay stays within [(1-r)*base, base] <= max', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.double({ min: 1.01, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.array(fc.oneof(fc.constant('f' as const), fc.constant('s' as const)), { maxLength: 20 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 25, maxLength: 25 }),
        (d0, extra, expFac, randomicity, ops, draws) => {
          const params = checkBackoffParams({ delayInitial: d0, delayMax: d0 + extra, expFac, randomicity });
          let k = 0;
          const random = () => draws[k++ % draws.length];
          const b = new ExponentialRandomBackoff({ ...params, random });
          let j = 0;
          const next = () => draws[j++ % draws.length];
          let s = initialBackoff(params, next());
          expect(b.delay).toBe(s.delay);
          for (const op of ops) {
            if (op === 'f') {
              b.failed();
              s = backoffFailed(s, params, next());
            } else {
              b.success();
              s = backoffSuccess(s, params, next());
            }
            expect({ base: b.base, delay: b.delay }).toEqual(s);
            expect(s.base).toBeLessThanOrEqual(params.delayMax);
            expect(s.delay).toBeLessThanOrEqual(s.base + 1e-9);
            expect(s.delay).toBeGreaterThanOrEqual((1 - randomicity) * s.base - 1e-9);
          }
          expect(backoffDelay(s.base, params, 1)).toBe(Math.min(s.base, params.delayMax));
        },
      ),
      { numRuns: propertyRuns(200) },
    );
  });
});
