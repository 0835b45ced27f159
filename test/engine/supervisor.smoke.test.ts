import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { createSystem } from '../../src/engine/system.js';
import { TestClock } from '../../src/testing/testClock.js';

const worker = setup({}).createMachine({
  id: 'worker',
  initial: 'idle',
  states: {
    idle: { on: { CRASH: { actions: () => { throw new Error('boom'); } }, DONE: 'done' } },
    done: { type: 'final' },
  },
});

describe('supervisor smoke', () => {
  it('restarts a crashed permanent child with the same systemId', () => {
    const clock = new TestClock();
    const sys = createSystem({ clock });
    const a = sys.spawn(worker, { supervisor: 'root', id: 'w1', systemId: 'w1' });
    const b = sys.spawn(worker, { supervisor: 'root', id: 'w2', systemId: 'w2' });
    expect(sys.get('w1')).toBe(a);
    a.send({ type: 'CRASH' });
    expect(sys.get('w1')).not.toBe(a);
    expect(sys.get('w1')!.getSnapshot().status).toBe('active');
    expect(sys.get('w2')).toBe(b);
    expect(sys.root.restarts()).toEqual({ w1: 1 });
    for (let i = 0; i < 3; i++) sys.get('w1')!.send({ type: 'CRASH' });
    expect(sys.root.state).toBe('failed');
    expect(sys.failure).toBeDefined();
    sys.stop();
  });
});
