/**
 * The demo's LRC part: stopping it ends at once, whatever its loop was doing. Before, a stop that came while an LRC
 * ran let the loop go on to its next pause (1.5 s, or 0.9 s after Configure): `npm start`'s SIGTERM waited that long,
 * and under a clock nobody advances, for ever. The system runs on a TestClock that is never advanced here, so a
 * stop that waited for any pause would never end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startLrcDemo } from '../../src/demo/lrcDemo.js';
import { silentLogger } from '../../src/engine/logging.js';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { TestClock } from '../../src/testing/testClock.js';

let system: OrrerySystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

/** Whether `p` settles within a few turns of the event loop (nothing here needs the clock to move). */
async function settlesPromptly(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void p.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < 50 && !settled; i++) await new Promise((r) => setImmediate(r));
  return settled;
}

describe('the LRC demo', () => {
  it('stop() while an LRC runs ends at once: the loop does not go on to its next pause', async () => {
    const clock = new TestClock();
    system = createSystem({ logger: silentLogger(), clock });
    const demo = startLrcDemo(system, { stepMs: 300 });
    // the first LRC (On) is submitted and in progress: its steps wait for the clock
    await expect.poll(() => demo.device.readAttribute('lrcExecuting')).not.toEqual([]);
    expect(await settlesPromptly(demo.stop())).toBe(true);
    expect(clock.pending).toBe(0);
  });
});
