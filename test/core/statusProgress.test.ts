import { describe, expect, it } from 'vitest';
import { ProgressWatchers } from '../../src/api/statusProgress.js';

describe('review: ProgressWatchers keeps no watcher once the status has ended', () => {
  it('watch() on an ended status, never iterated, is not kept; the iterator still gives the last update and ends', async () => {
    const w = new ProgressWatchers(0, () => 10);
    w.publish({ current: 5, target: 10 });
    w.end(null);
    const its = Array.from({ length: 1000 }, () => w.iterator());
    // before, each of them stayed in the fan-out set as long as the status lived
    expect(w.watching).toBe(0);
    const first = await its[0].next();
    expect(first.done).toBe(false);
    expect((first.value as { current: number }).current).toBe(5);
    expect((await its[0].next()).done).toBe(true);
  });

  it('watchers made before the end, never iterated, are let go by end(); each still delivers what it had', async () => {
    const w = new ProgressWatchers(0, () => 10);
    const a = w.iterator();
    const b = w.iterator();
    w.publish({ current: 1, target: 2 });
    expect(w.watching).toBe(2);
    w.end(new Error('failed'));
    expect(w.watching).toBe(0);
    expect((await a.next()).value).toMatchObject({ current: 1 });
    await expect(a.next()).rejects.toThrow('failed');
    expect((await b.next()).value).toMatchObject({ current: 1 });
    await expect(b.next()).rejects.toThrow('failed');
  });
});
