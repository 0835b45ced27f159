import { expect } from 'vitest';
import { CaValueError } from '../../../src/protocols/ca/errors.js';

/** Each call throws, or rejects with, a CaValueError; a failure names the call (and `context` when given). */
export async function expectCaValueErrors(calls: [string, () => unknown][], context = ''): Promise<void> {
  for (const [what, call] of calls) {
    let error: unknown;
    try {
      await call();
    } catch (err) {
      error = err;
    }
    expect(error, `${what}${context}`).toBeInstanceOf(CaValueError);
  }
}
