/**
 * What the simulator commands (`orrery katcp-sim`, `orrery ca-sim`) share once their simulator is up: running
 * until Ctrl+C (SIGINT), SIGTERM or the simulator's own end, then closing it once and resolving the exit code (0,
 * or 1 when closing failed).
 */
import type { Logger } from '../engine/logging.js';
import { interruption } from './interrupt.js';

/**
 * Resolves the exit code once the simulator stopped: on SIGINT or SIGTERM, or when `ended` resolves (with the
 * reason to report), whichever comes first. `name` is the simulator's name in the messages (`katcp`, `ca`).
 */
export function runUntilStopped(
  name: string,
  sim: { close(): Promise<void> },
  logger: Logger,
  ended?: Promise<string>,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const interrupt = interruption();
    const finish = (why: string) => {
      if (stopping) return;
      stopping = true;
      interrupt.release();
      logger.info({ reason: why }, `stopping the ${name} simulator`);
      sim.close().then(
        () => {
          console.log(`${name} simulator stopped (${why})`);
          resolve(0);
        },
        (err) => {
          console.error(`orrery ${name}-sim: stop failed: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    void interrupt.interrupted.then(finish);
    void ended?.then(finish);
  });
}
