/**
 * Channel Access faults against Orrery's real CaServer over loopback (issue 11 item 6): an IOC restart on the same
 * port (monitors resume by themselves), a missing PV (timeout in the configured time), a reply after the caller's
 * deadline (never delivered, no ioid left), and a malformed frame on one circuit (its pending operations fail with
 * a clear error, the context's other circuit keeps working).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Batch } from '../../src/protocols/ca/batch.js';
import { CaDisconnectedError, CaProtocolError, CaTimeoutError } from '../../src/protocols/ca/errors.js';
import type { EventResponse } from '../../src/protocols/ca/subscription.js';
import { deferred, useCaPeers } from './support/caContext.js';
import { CaProxy } from './support/caProxy.js';

const peers = useCaPeers();
const proxies: CaProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
});

const first = (r: EventResponse) => Number(r.data[0]);

describe('issue 11 item 6: CA client faults', () => {
  it('IOC restart on the same port: the PV reconnects and its monitor resumes and delivers again', async () => {
    const pvs = [{ name: 'F:RESTART', type: 'double' as const, value: 1 }];
    const server = await peers.server({ pvs });
    const port = server.port;
    const ctx = peers.context(server);
    const pv = ctx.getPv('F:RESTART');
    const states: string[] = [];
    pv.onConnectionState((_p, s) => states.push(s));
    const values: number[] = [];
    let waiting: { n: number; resolve: () => void } | undefined;
    const sub = pv.subscribe();
    sub.addCallback((_s, r) => {
      values.push(first(r));
      if (waiting && values.length >= waiting.n) waiting.resolve();
    });
    const until = (n: number) =>
      values.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { n, resolve }));
    await until(1);
    const lost = new Promise<void>((resolve) =>
      pv.onConnectionState((_p, s) => s === 'disconnected' && resolve()),
    );
    await server.close();
    peers.forget(server);
    await lost;
    expect(sub.state).toBe('pending');
    const restarted = await peers.server({ port, pvs: [{ ...pvs[0]!, value: 2 }] });
    await until(2);
    expect(values).toEqual([1, 2]);
    restarted.pv('F:RESTART')!.write(3);
    await until(3);
    expect(values).toEqual([1, 2, 3]);
    expect(states).toEqual(['connected', 'disconnected', 'connected']);
    expect(sub.state).toBe('active');
    expect(sub.activations).toBe(2);
  });

  it('a missing PV times out in the configured time', async () => {
    const server = await peers.server({ pvs: [] });
    const ctx = peers.context(server, { timeout: 250 });
    const pv = ctx.getPv('F:NOBODY');
    const err = await pv.read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CaTimeoutError);
    expect((err as Error).message).toBe('F:NOBODY could not connect within 0.25-second timeout.');
  });

  it('a reply after the deadline never reaches the caller or a callback, and leaves no ioid', async () => {
    const gate = deferred();
    const putArrived = deferred();
    const server = await peers.server({
      pvs: [
        {
          name: 'F:SLOW',
          type: 'double',
          value: 0,
          onPut: () => {
            putArrived.resolve();
            return gate.promise;
          },
        },
      ],
    });
    const ctx = peers.context(server);
    const pv = ctx.getPv('F:SLOW');
    await pv.waitForConnection();
    const late = await pv.write(1, { timeout: 100 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(CaTimeoutError);
    expect((late as Error).message).toMatch(
      /^Server at 127\.0\.0\.1:\d+ did not respond to attempt to write to channel named F:SLOW within 0\.1-second timeout\. The ioid of the expected response is \d+\.$/,
    );
    expect(pv.pendingRequests).toBe(0);
    expect(ctx.circuits[0]!.pendingOps).toBe(0);
    // the same through a Batch callback
    let called = 0;
    const batch = new Batch({ timeout: 100 });
    batch.write(pv, 2, () => void called++);
    const result = await batch.send();
    expect(result.failures.map((f) => f.error.constructor)).toEqual([CaTimeoutError]);
    await putArrived.promise;
    gate.resolve();
    // both late WRITE_NOTIFY replies come before this read's reply on the same circuit: dropped
    await pv.read();
    expect(called).toBe(0);
    expect(ctx.circuits[0]!.pendingOps).toBe(0);
  });

  it('a malformed frame closes that circuit, fails its pending ops clearly; the other circuit keeps working', async () => {
    const putArrived = deferred();
    const healthy = await peers.server({ pvs: [{ name: 'F:GOOD', type: 'long', value: 1 }] });
    const victim = await peers.server({
      pvs: [
        {
          name: 'F:VICTIM',
          type: 'double',
          value: 0,
          onPut: () => {
            putArrived.resolve();
            return new Promise<void>(() => {});
          },
        },
      ],
    });
    const proxy = await CaProxy.start(victim.port);
    proxies.push(proxy);
    const ctx = peers.context(healthy, {
      addressList: [`127.0.0.1:${healthy.port}`, `127.0.0.1:${proxy.udpPort}`],
      timeout: 1500,
    });
    const [good, bad] = ctx.getPvs(['F:GOOD', 'F:VICTIM']);
    const goodValues: number[] = [];
    const goodSub = good!.subscribe();
    const firstGood = deferred();
    goodSub.addCallback((_s, r) => {
      goodValues.push(first(r));
      firstGood.resolve();
    });
    await firstGood.promise;
    await bad!.waitForConnection();
    expect(ctx.circuits).toHaveLength(2);
    const badCircuit = ctx.circuits.find((c) => c.circuit.key.port === proxy.tcpPort)!;
    const write = bad!.write(5).catch((e: unknown) => e);
    await putArrived.promise;
    const dropped = new Promise<void>((resolve) =>
      bad!.onConnectionState((_p, s) => s === 'disconnected' && resolve()),
    );
    proxy.kill();
    proxy.corrupt();
    await dropped;
    expect(badCircuit.closed).toBe(true);
    expect(badCircuit.closeError).toBeInstanceOf(CaProtocolError);
    expect(badCircuit.pendingOps).toBe(0);
    expect(bad!.pendingRequests).toBe(0);
    // the other circuit: reads and monitors go on
    expect(Array.from((await good!.read()).data as Int32Array)).toEqual([1]);
    healthy.pv('F:GOOD')!.write(2);
    await goodSub.status((r) => first(r) === 2, { timeout: 20_000 }).wait();
    expect(goodSub.state).toBe('active');
    // the write was retried on a new circuit that never came: its timeout names the circuit's death
    const err = (await write) as Error;
    expect(err).toBeInstanceOf(CaTimeoutError);
    expect(err.cause).toBeInstanceOf(CaDisconnectedError);
    expect((err.cause as Error).message).toMatch(
      /^circuit to 127\.0\.0\.1:\d+ closed: CA payload of 2147483640 bytes exceeds the limit/,
    );
  });
});
