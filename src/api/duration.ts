import { InvalidArgumentError } from '../errors.js';

/**
 * Validate a duration option in milliseconds: a non-negative number. `undefined` (and `null` when `allowNull`)
 * means "not set" and gives null; anything else throws InvalidArgumentError naming the option.
 */
export function checkDuration(name: string, value: unknown, allowNull: boolean): number | null {
  if (value === undefined || (allowNull && value === null)) return null;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(
      `${name} must be a non-negative number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}
