/** Supervised spawn benchmark: N actors under a bounded fan-out supervisor tree (<= 250 children each). */
import { setup } from 'xstate';
import { createSystem } from '../../src/engine/system.js';

const device = setup({}).createMachine({
  id: 'device',
  initial: 'idle',
  states: { idle: { on: { PING: 'busy' } }, busy: { on: { PING: 'idle' } } },
});

export const FAN_OUT = 250;

/** Milliseconds to spawn `n` supervised actors, and to stop them all with the system. */
export function spawnSupervised(n: number): { spawnMs: number; stopMs: number; supervisors: number } {
  const system = createSystem();
  const t0 = performance.now();
  const groups = Math.ceil(n / FAN_OUT);
  for (let g = 0; g < groups; g++) {
    const sup = system.supervisor(`rack-${g}`);
    const size = Math.min(FAN_OUT, n - g * FAN_OUT);
    sup.startChildren(
      Array.from({ length: size }, (_, i) => ({
        id: `dev-${g}-${i}`,
        logic: device,
        restart: 'permanent' as const,
      })),
    );
  }
  const spawnMs = performance.now() - t0;
  const count = system.actors().length;
  if (count !== n + groups + 1) throw new Error(`expected ${n + groups + 1} actors, found ${count}`);
  const t1 = performance.now();
  void system.stop();
  return { spawnMs, stopMs: performance.now() - t1, supervisors: groups };
}
