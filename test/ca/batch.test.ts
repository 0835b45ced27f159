/**
 * caproto's `Batch` against Orrery's CA server (issue 11 item 3): reads and writes on many PVs queued and sent
 * together, callbacks with the replies, failures reported by request, `await using` as caproto's `with Batch()`.
 */
import { describe, expect, it } from 'vitest';
import { Batch } from '../../src/protocols/ca/batch.js';
import { Eca } from '../../src/protocols/ca/constants.js';
import { CaTimeoutError, CaValueError } from '../../src/protocols/ca/errors.js';
import type { ReadResponse } from '../../src/protocols/ca/pv.js';
import { useCaPeers } from './support/caContext.js';

const peers = useCaPeers();

describe('issue 11 item 3: Batch', () => {
  it('writes then reads ten PVs in two batches; callbacks get every reply', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `B:${i}`);
    const server = await peers.server({
      pvs: names.map((name) => ({ name, type: 'double' as const, value: 0 })),
    });
    const ctx = peers.context(server);
    const pvs = ctx.getPvs(names);
    const statuses: number[] = [];
    {
      await using writes = new Batch();
      for (const [i, pv] of pvs.entries()) writes.write(pv, i * 1.5, (r) => void statuses.push(r.status));
      expect(writes.size).toBe(10);
    }
    expect(statuses).toEqual(Array(10).fill(Eca.NORMAL));
    const values = new Map<string, number>();
    const reads = new Batch({ timeout: 10_000 });
    for (const pv of pvs) reads.read(pv, (r: ReadResponse) => values.set(pv.name, Number(r.data[0])));
    const result = await reads.send();
    expect(result).toEqual({ completed: 10, failures: [] });
    expect(names.map((n) => values.get(n))).toEqual(names.map((_, i) => i * 1.5));
    expect(ctx.circuits).toHaveLength(1);
    await expect(reads.send()).rejects.toBeInstanceOf(CaValueError);
    expect(() => reads.read(pvs[0]!, () => {})).toThrow(CaValueError);
  });

  it('fire-and-forget writes without callbacks; an unconnectable PV is a failure of its own', async () => {
    const server = await peers.server({ pvs: [{ name: 'B:OK', type: 'long', value: 0 }] });
    const ctx = peers.context(server);
    const [ok, missing] = ctx.getPvs(['B:OK', 'B:MISSING']);
    const batch = new Batch({ timeout: 200 });
    batch.write(ok!, 9);
    batch.write(missing!, 1);
    const result = await batch.send();
    expect(result.completed).toBe(1);
    expect(result.failures.map((f) => [f.pv.name, f.kind, f.error.constructor])).toEqual([
      ['B:MISSING', 'write', CaTimeoutError],
    ]);
    expect(Number((await ok!.read()).data[0])).toBe(9);
    expect(() => batch.write(ok!, 1, 'no' as never)).toThrow(CaValueError);
  });
});
