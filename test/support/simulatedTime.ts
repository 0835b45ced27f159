/**
 * Driving a TestClock when promises are involved: a promise settled by a timer runs its reactions on the microtask
 * queue, after `clock.advance()` returns, so time is walked one due timer at a time with a flush in between.
 */
import type { TestClock } from '../../src/testing/index.js';

/** Let every settled promise run its reactions (one macrotask turn). */
export const flush = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** Walk the clock forward `ms`, firing due timers one at a time and flushing promise reactions after each. */
export async function advance(clock: TestClock, ms: number): Promise<void> {
  const end = clock.now() + ms;
  await flush();
  for (let at = clock.nextAt(); at !== undefined && at <= end; at = clock.nextAt()) {
    clock.advance(at - clock.now());
    await flush();
  }
  clock.advance(end - clock.now());
  await flush();
}
