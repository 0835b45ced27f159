/**
 * What the simulator commands (`orrery katcp-sim`, `orrery ca-sim`) share once their simulator is up: running
 * until Ctrl+C (SIGINT), SIGTERM, a standard output whose reader went away (the line saying where it listens
 * failed with EPIPE: as every command, it stops, and main.ts reports it) or the simulator's own end, then closing
 * it once and resolving the exit code (0, or 1 when closing failed).
 */
import type { Logger } from '../engine/logging.js';
import { interruption } from './interrupt.js';

/**
 * Resolves the exit code once the simulator stopped: on SIGINT, SIGTERM or a closed stdout, or when `ended`
 * resolves (with the reason to report), whichever comes first. `name` is the simulator's name in the messages
 * (`katcp`, `ca`).
 */
export function runUntilStopped(
  name: string,
  sim: { close(): Promise<void> },
  logger: Logger,
  ended?: Promise<string>,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    // with `output`: a simulator writes to stdout only when it starts and stops, so a reader gone at the start
    // would otherwise leave it serving, unseen, until a signal
    const interrupt = interruption(undefined, { output: true });
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
