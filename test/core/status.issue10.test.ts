/**
 * Status on the compiled runner (issue 10): a Status is a compiled lifecycle of `statusMachine`, registered with
 * its system, seen as a virtual actor; the registry forgets a lifecycle however it ends.
 */

import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { statusMachine } from '../../machines/core/status.js';
import { createSystem, Status } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';

describe('Status on the compiled runner', () => {
  it('issue 10 item 5: a Status is a compiled lifecycle, its actor a virtual actor found by systemId', async () => {
    const clock = new TestClock();
    const system = createSystem({ clock });
    const detached = system.detachedCount;
    const st = new Status({ system, timeout: 1000, systemId: 'move-x', name: 'x' });
    expect(system.compiledCount).toBe(1);
    expect(system.detachedCount).toBe(detached);
    expect(system.get('move-x')).toBe(st.actor);
    expect(st.actor.id).toMatch(/^status-\d+$/);
    expect(st.actor.getSnapshot().matches({ bounded: 'pending' })).toBe(true);
    expect(st.actor.getSnapshot().context.timeout).toBe(1000);
    st.setFinished();
    expect(st.success).toBe(true);
    expect(system.compiledCount).toBe(0);
    expect(system.get('move-x')).toBeUndefined();
    await system.stop();
  });

  it('issue 10 item 5: a lifecycle stopped directly leaves the registry (the runner tells its host)', async () => {
    const system = createSystem({ clock: new TestClock() });
    const lc = system.spawnCompiled(statusMachine, {
      systemId: 'direct',
      input: { timeout: 1000, settleTime: 0 },
    });
    expect(system.compiledCount).toBe(1);
    lc.stop();
    expect(lc.status).toBe('stopped');
    expect(system.compiledCount).toBe(0);
    expect(system.get('direct')).toBeUndefined();
    await system.stop();
  });

  it('issue 10 item 2: a numeric id stands for <machine id>-<n>', async () => {
    const system = createSystem({ clock: new TestClock() });
    const lc = system.spawnCompiled(statusMachine, { id: 42, input: { timeout: null, settleTime: 0 } });
    expect(lc.id).toBe('status-42');
    expect(system.actorOf(lc).id).toBe('status-42');
    await system.stop();
  });

  it('issue 10 item 5: while inspected, a Status reports its transitions as XState does', async () => {
    const system = createSystem({ clock: new TestClock() });
    const seen: string[] = [];
    const sub = system.inspect((e: InspectionEvent) => {
      if ((e.actorRef as { logic?: unknown }).logic === statusMachine) seen.push(e.type);
    });
    const st = new Status({ system, timeout: 1000 });
    st.setFinished();
    sub.unsubscribe();
    expect(st.success).toBe(true);
    expect(seen[0]).toBe('@xstate.actor');
    expect(seen).toContain('@xstate.microstep');
    expect(seen.at(-1)).toBe('@xstate.snapshot');
    await system.stop();
  });

  it('issue 10 item 5: system.stop() ends pending statuses that share one stop hook, in creation order', async () => {
    const system = createSystem({ clock: new TestClock() });
    const order: number[] = [];
    const statuses = [0, 1, 2].map((i) => {
      const st = new Status({ system, timeout: 1000 });
      st.addCallback(() => order.push(i));
      return st;
    });
    statuses[1].setFinished();
    await system.stop();
    expect(order).toEqual([1, 0, 2]);
    expect(statuses.map((s) => s.state)).toEqual(['cancelled', 'succeeded', 'cancelled']);
    expect(system.compiledCount).toBe(0);
  });
});
