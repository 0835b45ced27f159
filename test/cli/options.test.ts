/** The CLI's strict numeric option parsing (`src/cli/options.ts`), used by every numeric flag. */
import { describe, expect, it } from 'vitest';
import { parseDuration, parseNumber, parsePort, scanLongOptions } from '../../src/cli/options.js';
import { InvalidArgumentError } from '../../src/errors.js';

const rule = { what: 'a number' };

describe('issue 7 item 9: strict numbers for CLI options', () => {
  it('issue 7 item 9: plain decimal literals only', () => {
    for (const [raw, n] of [
      ['0', 0],
      ['-0', 0],
      ['+5', 5],
      ['5.', 5],
      ['.5', 0.5],
      ['1.5e3', 1500],
      ['1E-3', 0.001],
      ['1e308', 1e308],
    ] as const) {
      expect(Object.is(parseNumber('--n', raw, rule), n), raw).toBe(true);
    }
    for (const raw of [
      '',
      ' ',
      ' 5',
      '5 ',
      '0x10',
      '0b1',
      '0o7',
      '1_000',
      '1,5',
      'NaN',
      '5ms',
      'e5',
      '.',
      '-',
      '1e',
    ]) {
      expect(() => parseNumber('--n', raw, rule), JSON.stringify(raw)).toThrow(InvalidArgumentError);
    }
    expect(() => parseNumber('--n', undefined, rule)).toThrow('--n needs a value');
  });

  it('issue 7 item 9: a literal that overflows to Infinity is refused; inf only where documented', () => {
    expect(() => parseNumber('--n', '1e400', rule)).toThrow('--n expects a number, got "1e400" (too large)');
    expect(() => parseNumber('--n', 'inf', rule)).toThrow(InvalidArgumentError);
    for (const raw of ['inf', 'Inf', '+inf', 'Infinity', 'INFINITY']) {
      expect(parseNumber('--n', raw, { ...rule, infinity: true })).toBe(Number.POSITIVE_INFINITY);
    }
    expect(() => parseNumber('--n', '-inf', { ...rule, infinity: true })).toThrow(InvalidArgumentError);
    expect(() => parseNumber('--n', '1e400', { ...rule, infinity: true })).toThrow('(too large)');
  });

  it('issue 7 item 9: ports are whole numbers 0-65535', () => {
    expect(parsePort('--port', '0')).toBe(0);
    expect(parsePort('--port', '65535')).toBe(65535);
    // as Python's int(): a sign and digits only
    expect(parsePort('--port', '+80')).toBe(80);
    for (const raw of ['65536', '-1', '80.5', '80.0', '8e1', '80.', '1e400', 'inf', '']) {
      expect(() => parsePort('--port', raw), raw).toThrow(/^--port expects a port number \(0-65535\)/);
    }
  });

  it('issue 7 item 9: durations go through checkDuration, in milliseconds', () => {
    const seconds = { unitMs: 1000, unit: 'seconds' };
    expect(parseDuration('--duration', '2.5', seconds)).toBe(2500);
    expect(parseDuration('--duration', '3e6', seconds)).toBe(3e9); // past the timer limit: scheduled by the clock
    expect(() => parseDuration('--duration', '1e306', seconds)).toThrow('(too large)');
    expect(() => parseDuration('--duration', '-1', seconds)).toThrow('(less than 0)');
    const ms = { unitMs: 1, unit: 'milliseconds', infinity: true };
    expect(parseDuration('--timeout', 'inf', ms)).toBe(Number.POSITIVE_INFINITY);
    expect(parseDuration('--timeout', '0', ms)).toBe(0);
  });
});

describe('scanLongOptions', () => {
  it('hands --name, --name=value and --name value over, keeps positionals in order, stops at --', () => {
    const seen: Array<[string, string | true | undefined]> = [];
    const positional = scanLongOptions(
      ['dev', '--json', '--timeout=5', '-5', '--count', '3', 'x', '--', '--not-an-option'],
      ({ name, value, flag }) => {
        seen.push([name, name === '--json' ? flag() : value()]);
      },
    );
    expect(seen).toEqual([
      ['--json', true],
      ['--timeout', '5'],
      ['--count', '3'],
    ]);
    expect(positional).toEqual(['dev', '-5', 'x', '--not-an-option']);
  });

  it('a flag given a value, and a value missing at the end', () => {
    expect(() => scanLongOptions(['--json=1'], ({ flag }) => void flag())).toThrow(/--json takes no value/);
    let value: string | undefined = 'unset';
    scanLongOptions(['--timeout'], (o) => {
      value = o.value();
    });
    expect(value).toBeUndefined();
  });
});
