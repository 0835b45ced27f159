/**
 * `numRuns` for a property test: `ORRERY_PROPERTY_RUNS` when set (mutation runs lower it, see
 * vitest.mutation.config.ts), otherwise `runs`. `fc.assert(prop, { numRuns: propertyRuns(1000) })`.
 */
export function propertyRuns(runs: number): number {
  const raw = process.env.ORRERY_PROPERTY_RUNS;
  if (raw === undefined || raw === '') return runs;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new Error(`ORRERY_PROPERTY_RUNS must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}
