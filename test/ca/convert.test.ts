/**
 * Value conversions (`src/protocols/ca/convert.ts`): the server's native -> requested type conversions (dbConvert:
 * C casts that truncate toward zero and wrap modulo 2^n, numbers as text with the PV's precision, enum states,
 * string parsing, CHAR arrays as text) and the user data -> native array conversion with its CaValueErrors.
 */
import { describe, expect, it } from 'vitest';
import { ChannelType } from '../../src/protocols/ca/constants.js';
import {
  convertArray,
  numberToString,
  parseNumber,
  toNativeArray,
  toPlain,
} from '../../src/protocols/ca/convert.js';
import { CaConversionError, CaValueError } from '../../src/protocols/ca/errors.js';

const { STRING, SHORT, FLOAT, ENUM, CHAR, LONG, DOUBLE } = ChannelType;
const list = (a: ArrayLike<unknown>) => Array.from(a);

describe('issue 11 item 1: convertArray numeric <-> numeric (C casts)', () => {
  it('issue 11 item 1: truncation toward zero, wrap modulo 2^n, NaN/Infinity -> 0 for integer types', () => {
    const doubles = new Float64Array([
      1.9,
      -1.9,
      70000,
      -32769,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 32 + 5,
    ]);
    expect(list(convertArray(DOUBLE, SHORT, doubles))).toEqual([1, -1, 4464, 32767, 0, 0, 5]);
    expect(list(convertArray(DOUBLE, LONG, doubles))).toEqual([1, -1, 70000, -32769, 0, 0, 5]);
    expect(list(convertArray(DOUBLE, CHAR, doubles))).toEqual([1, 255, 112, 255, 0, 0, 5]);
    expect(list(convertArray(DOUBLE, ENUM, doubles))).toEqual([1, 65535, 4464, 32767, 0, 0, 5]);
    expect(list(convertArray(LONG, SHORT, new Int32Array([65536 + 3, -1])))).toEqual([3, -1]);
    expect(list(convertArray(SHORT, CHAR, new Int16Array([-1, 256])))).toEqual([255, 0]);
  });

  it('issue 11 item 1: DOUBLE -> FLOAT rounds to nearest (overflow -> Infinity); widening is exact', () => {
    expect(list(convertArray(DOUBLE, FLOAT, new Float64Array([0.1, 1e39, -1e39])))).toEqual([
      Math.fround(0.1),
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    expect(list(convertArray(FLOAT, DOUBLE, new Float32Array([0.5, Number.NaN])))).toEqual([0.5, Number.NaN]);
    expect(list(convertArray(ENUM, DOUBLE, new Uint16Array([2])))).toEqual([2]);
    expect(convertArray(CHAR, LONG, new Uint8Array([200]))).toBeInstanceOf(Int32Array);
  });

  it('issue 11 item 1: the same type returns the data itself', () => {
    const data = new Float64Array([1]);
    expect(convertArray(DOUBLE, DOUBLE, data)).toBe(data);
  });

  it('issue 11 item 1: an invalid native type is a CaConversionError', () => {
    expect(() => convertArray(7 as never, DOUBLE, new Float64Array(1))).toThrow(CaConversionError);
  });
});

describe('issue 11 item 1: convertArray to and from STRING', () => {
  it('issue 11 item 1: numbers -> text with the precision (FLOAT/DOUBLE), shortest otherwise, EPICS NaN/Inf', () => {
    expect(convertArray(DOUBLE, STRING, new Float64Array([1.23456, -2, 1e300]), { precision: 2 })).toEqual([
      '1.23',
      '-2.00',
      '1e+300',
    ]);
    expect(convertArray(DOUBLE, STRING, new Float64Array([0.1, Number.NaN, Infinity, -Infinity]))).toEqual([
      '0.1',
      'NaN',
      'Inf',
      '-Inf',
    ]);
    expect(convertArray(FLOAT, STRING, new Float32Array([0.1]))).toEqual(['0.1']);
    expect(convertArray(LONG, STRING, new Int32Array([-7]), { precision: 3 })).toEqual(['-7']);
    expect(numberToString(1 / 3, DOUBLE)).toBe('0.3333333333333333');
    expect(numberToString(1e21, DOUBLE, 2)).toBe('1e+21');
    for (const text of convertArray(DOUBLE, STRING, new Float64Array([1e300]), {
      precision: 30,
    }) as string[]) {
      expect(text.length).toBeLessThanOrEqual(39);
    }
  });

  it('issue 11 item 1: ENUM -> its state string; an index past the states reads as its number', () => {
    const enumStrings = ['Off', 'On'];
    expect(convertArray(ENUM, STRING, new Uint16Array([1, 0, 5]), { enumStrings })).toEqual([
      'On',
      'Off',
      '5',
    ]);
    expect(convertArray(ENUM, STRING, new Uint16Array([1]))).toEqual(['1']);
  });

  it('issue 11 item 1: text -> numbers (decimal, exponent, hex, inf, nan, blanks; empty is 0 as dbConvert)', () => {
    const texts = [' 1.5 ', '-2e3', '0x10', '-inf', 'NaN', '', '+.5'];
    expect(list(convertArray(STRING, DOUBLE, texts))).toEqual([
      1.5,
      -2000,
      16,
      -Infinity,
      Number.NaN,
      0,
      0.5,
    ]);
    expect(list(convertArray(STRING, LONG, ['42', '-7.9', '0x7fffffff']))).toEqual([42, -7, 0x7fffffff]);
    expect(list(convertArray(STRING, FLOAT, ['0.1']))).toEqual([Math.fround(0.1)]);
  });

  it('issue 11 item 1: unparsable text, or text out of an integer range, is a CaConversionError', () => {
    for (const bad of ['abc', '1.2.3', '12abc', '0x', '--1']) {
      expect(() => convertArray(STRING, DOUBLE, [bad])).toThrow(CaConversionError);
    }
    expect(() => convertArray(STRING, SHORT, ['40000'])).toThrow(CaConversionError);
    expect(() => convertArray(STRING, LONG, ['inf'])).toThrow(CaConversionError);
    expect(() => convertArray(STRING, ENUM, ['-1'])).toThrow(CaConversionError);
  });

  it('issue 11 item 1: text -> ENUM by state name, else by index', () => {
    const enumStrings = ['Off', 'On'];
    expect(list(convertArray(STRING, ENUM, ['On', '0', 'Off'], { enumStrings }))).toEqual([1, 0, 0]);
    expect(() => convertArray(STRING, ENUM, ['Maybe'], { enumStrings })).toThrow(CaConversionError);
  });

  it('issue 11 item 1: CHAR array <-> text (latin1 up to the first NUL, 39 bytes at most)', () => {
    const bytes = new Uint8Array([...Buffer.from('héllo', 'latin1'), 0, 65, 66]);
    expect(convertArray(CHAR, STRING, bytes)).toEqual(['héllo']);
    expect(convertArray(CHAR, STRING, new Uint8Array(50).fill(65))).toEqual(['A'.repeat(39)]);
    expect(list(convertArray(STRING, CHAR, ['hi']))).toEqual([104, 105, 0]);
    expect(list(convertArray(STRING, CHAR, []))).toEqual([0]);
  });
});

describe('issue 11 item 1: toNativeArray (user data -> native array)', () => {
  it('issue 11 item 1: scalars, booleans, arrays and typed arrays, element-wise', () => {
    expect(toNativeArray(DOUBLE, 1.5)).toEqual(new Float64Array([1.5]));
    expect(toNativeArray(LONG, true)).toEqual(new Int32Array([1]));
    expect(toNativeArray(SHORT, [1, '2', false])).toEqual(new Int16Array([1, 2, 0]));
    expect(toNativeArray(LONG, 2.9)).toEqual(new Int32Array([2])); // fractions truncate toward zero
    expect(toNativeArray(DOUBLE, new Int16Array([3, -4]))).toEqual(new Float64Array([3, -4]));
    expect(toNativeArray(FLOAT, Number.NaN)).toEqual(new Float32Array([Number.NaN]));
    expect(toNativeArray(DOUBLE, '-inf')).toEqual(new Float64Array([-Infinity]));
    const own = new Float64Array([1, 2]);
    const copy = toNativeArray(DOUBLE, own);
    expect(copy).toEqual(own);
    expect(copy).not.toBe(own);
    expect(toNativeArray(STRING, 'hello')).toEqual(['hello']);
    expect(toNativeArray(STRING, [1, 'a', true])).toEqual(['1', 'a', 'true']);
    expect(toNativeArray(DOUBLE, [])).toEqual(new Float64Array(0));
  });

  it('issue 11 item 1: ENUM takes a state name or an index; CHAR takes a string as its bytes + NUL', () => {
    const enumStrings = ['Off', 'On'];
    expect(toNativeArray(ENUM, 'On', enumStrings)).toEqual(new Uint16Array([1]));
    expect(toNativeArray(ENUM, 1, enumStrings)).toEqual(new Uint16Array([1]));
    expect(toNativeArray(ENUM, '0', enumStrings)).toEqual(new Uint16Array([0]));
    expect(toNativeArray(ENUM, 7)).toEqual(new Uint16Array([7]));
    expect(toNativeArray(CHAR, 'hé')).toEqual(new Uint8Array([104, 233, 0]));
    expect(toNativeArray(CHAR, [65, 66])).toEqual(new Uint8Array([65, 66]));
  });

  it('issue 11 item 1: out of range for the C type, NaN for an integer, or unparsable text is a CaValueError', () => {
    const bad: [number, unknown, string[]?][] = [
      [SHORT, 32768],
      [SHORT, -32769],
      [CHAR, -1],
      [CHAR, 256],
      [ENUM, 65536],
      [LONG, 2 ** 31],
      [LONG, Number.NaN],
      [LONG, Infinity],
      [LONG, 'NaN'],
      [SHORT, '1e6'],
      [DOUBLE, 'abc'],
      [DOUBLE, ''],
      [DOUBLE, '1,5'],
      [FLOAT, 1e39],
      [ENUM, 'Maybe', ['Off', 'On']],
      [ENUM, 2, ['Off', 'On']],
      [STRING, 'x'.repeat(40)],
      [STRING, '€'],
      [CHAR, '€'],
      [DOUBLE, 10n],
      [DOUBLE, { value: 1 }],
      [DOUBLE, null],
      [DOUBLE, undefined],
      [DOUBLE, [1, [2]]],
      [STRING, { a: 1 }],
      [9, 1],
    ];
    for (const [native, value, states] of bad) {
      expect(() => toNativeArray(native as never, value, states), `${native} ${String(value)}`).toThrow(
        CaValueError,
      );
    }
    expect(() => toNativeArray(DOUBLE, new BigInt64Array(1))).toThrow(CaValueError);
    expect(toNativeArray(FLOAT, Infinity)).toEqual(new Float32Array([Infinity]));
  });
});

describe('issue 11 item 1: parseNumber and toPlain', () => {
  it('issue 11 item 1: parseNumber', () => {
    expect(parseNumber('  12 ')).toBe(12);
    expect(parseNumber('1e-3')).toBe(0.001);
    expect(parseNumber('-0X1f')).toBe(-31);
    expect(parseNumber('Infinity')).toBe(Infinity);
    expect(parseNumber('')).toBeUndefined();
    expect(parseNumber(' ', 0)).toBe(0);
    expect(parseNumber('0b101')).toBeUndefined();
  });

  it('issue 11 item 1: count 1 is the scalar, otherwise an ordinary array', () => {
    expect(toPlain(new Float64Array([2]))).toBe(2);
    expect(toPlain(['a'])).toBe('a');
    expect(toPlain(new Int16Array([1, 2]))).toEqual([1, 2]);
    expect(Array.isArray(toPlain(new Int16Array([1, 2])))).toBe(true);
    expect(toPlain([])).toEqual([]);
  });
});

describe('audit: FLOAT range and ENUM states at the edges', () => {
  it('FLT_MAX as numpy and C print it (3.4028235e+38) is a FLOAT; past what rounds to it, it is not', () => {
    expect(list(toNativeArray(FLOAT, 3.4028235e38))).toEqual([Math.fround(3.4028235e38)]);
    expect(list(toNativeArray(FLOAT, -3.4028235e38))).toEqual([-Math.fround(3.4028235e38)]);
    expect(list(toNativeArray(FLOAT, '3.4028235e+38'))).toEqual([Math.fround(3.4028235e38)]);
    expect(() => toNativeArray(FLOAT, 3.5e38)).toThrow(CaValueError);
    expect(list(toNativeArray(FLOAT, Number.POSITIVE_INFINITY))).toEqual([Number.POSITIVE_INFINITY]);
  });

  it('text beyond FLOAT\'s range is a CaConversionError (epicsParseFloat32 overflows), "inf" is Infinity', () => {
    expect(() => convertArray(STRING, FLOAT, ['1e40'])).toThrow(CaConversionError);
    expect(list(convertArray(STRING, FLOAT, ['3.4028235e38']))).toEqual([Math.fround(3.4028235e38)]);
    expect(list(convertArray(STRING, FLOAT, ['-inf']))).toEqual([Number.NEGATIVE_INFINITY]);
    expect(list(convertArray(STRING, DOUBLE, ['1e40']))).toEqual([1e40]);
  });

  it('an ENUM index past the states is refused from a typed array as from a plain one', () => {
    const states = ['off', 'on'];
    expect(() => toNativeArray(ENUM, Uint16Array.of(20), states)).toThrow(/past the 2 states/);
    expect(() => toNativeArray(ENUM, [20], states)).toThrow(/past the 2 states/);
    expect(list(toNativeArray(ENUM, Uint16Array.of(1), states))).toEqual([1]);
    // without states (or none defined) any index goes, as before
    expect(list(toNativeArray(ENUM, Uint16Array.of(20)))).toEqual([20]);
    expect(list(toNativeArray(ENUM, Uint16Array.of(20), []))).toEqual([20]);
  });
});
