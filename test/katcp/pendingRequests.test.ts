/**
 * PendingRequests (the request bookkeeping of KatcpClient) on its own: a TestClock and the lines it writes, no
 * socket. The same class runs under every KatcpClient test over real TCP; here its rules are pinned one by one and
 * checked against a model under arbitrary interleavings.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CancelledError, InvalidArgumentError } from '../../src/errors.js';
import { type KatcpMessage, parseLine } from '../../src/protocols/katcp/codec.js';
import {
  BrokenPipeError,
  FailReply,
  InvalidReply,
  KatcpSyntaxError,
  ProtocolError,
  RequestTimeoutError,
} from '../../src/protocols/katcp/errors.js';
import { PendingRequests } from '../../src/protocols/katcp/pendingRequests.js';
import { TestClock } from '../../src/testing/index.js';
import { propertyRuns } from '../support/propertyRuns.js';

function setup(midMode = true) {
  const clock = new TestClock();
  const written: string[] = [];
  const pending = new PendingRequests(clock, (line) =>
    written.push(typeof line === 'string' ? line : line.toString('latin1')),
  );
  pending.reset(midMode);
  return { clock, written, pending };
}

const msg = (line: string): KatcpMessage => parseLine(Buffer.from(line, 'latin1')) as KatcpMessage;
/** Let every queued microtask run (the idle release of the sweep timer happens at the end of a checkpoint). */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('issue 9 item 2: PendingRequests, the request bookkeeping of KatcpClient', () => {
  it('writes each request once, with ids 1, 2, 3 (argument-less lines as text, others through the codec)', async () => {
    const { written, pending } = setup();
    const a = pending.send('watchdog', [], 5000);
    const b = pending.send('echo', ['a b', 3, true, Buffer.from([0])], 5000);
    const c = pending.sendRaw('thing', [], 5000, undefined, 40);
    expect(written).toEqual(['?watchdog[1]\n', '?echo[2] a\\_b 3 1 \\0\n', '?thing[40]\n']);
    expect(pending.size).toBe(3);
    expect(pending.take(msg('#thing[40] inf'))).toBe(true);
    expect(pending.take(msg('!thing[40] weird 1'))).toBe(true);
    expect(pending.take(msg('!echo[2] ok x'))).toBe(true);
    expect(pending.take(msg('!watchdog[1] ok'))).toBe(true);
    const raw = await c;
    expect(raw.reply.args.map(String)).toEqual(['weird', '1']);
    expect(raw.informs.map((m) => m.name)).toEqual(['thing']);
    expect((await b)[0].map(String)).toEqual(['x']);
    expect(await a).toEqual([[], []]);
    expect(pending.size).toBe(0);
  });

  it('fail -> FailReply, another code -> InvalidReply, no code -> InvalidReply', async () => {
    const { pending } = setup();
    const fail = pending.send('a', [], 5000);
    const odd = pending.send('b', [], 5000);
    const none = pending.send('c', [], 5000);
    pending.take(msg('!a[1] fail no\\_good'));
    pending.take(msg('!b[2] invalid what'));
    pending.take(msg('!c[3]'));
    await expect(fail).rejects.toThrow(new FailReply('no good'));
    await expect(odd).rejects.toThrow(new InvalidReply('what'));
    await expect(none).rejects.toThrow(new InvalidReply('Reply without a code'));
  });

  it('take() leaves alone what is not a pending request: unknown ids, other names, no id, server requests', () => {
    const { pending } = setup();
    void pending.send('a', [], 5000);
    for (const line of ['!a[2] ok', '!b[1] ok', '!a ok', '#a', '#a[9] x', '?a[1]']) {
      expect(pending.take(msg(line))).toBe(false);
    }
    expect(pending.size).toBe(1);
  });

  it('bad names and ids throw synchronously and write nothing', () => {
    const { written, pending } = setup();
    expect(() => pending.send('bad name', [], 5000)).toThrow(KatcpSyntaxError);
    expect(() => pending.send('bad name', ['x'], 5000)).toThrow(KatcpSyntaxError);
    void pending.send('a', [], 5000, undefined, 7);
    expect(() => pending.send('b', [], 5000, undefined, 7)).toThrow(InvalidArgumentError);
    expect(written).toEqual(['?a[7]\n']);
    expect(pending.size).toBe(1);
  });

  it('allocated ids skip the ones still pending', () => {
    const { written, pending } = setup();
    void pending.send('x', [], 5000, undefined, 2);
    void pending.send('y', [], 5000);
    void pending.send('z', [], 5000);
    expect(written).toEqual(['?x[2]\n', '?y[1]\n', '?z[3]\n']);
  });

  it('without ids: one request on the wire at a time, in call order, matched by name', async () => {
    const { written, pending } = setup(false);
    const first = pending.send('first', [], 5000);
    const second = pending.send('second', ['x'], 5000);
    expect(written).toEqual(['?first\n']);
    expect(pending.take(msg('!second ok'))).toBe(false);
    expect(pending.take(msg('#first i'))).toBe(true);
    expect(pending.take(msg('!first ok 1'))).toBe(true);
    expect(written).toEqual(['?first\n', '?second x\n']);
    expect((await first)[1]).toHaveLength(1);
    pending.take(msg('!second ok 2'));
    expect((await second)[0].map(String)).toEqual(['2']);
  });

  it('without ids: a timed-out request on the wire swallows its late informs and reply; the next is written after', async () => {
    const { clock, written, pending } = setup(false);
    const temp = pending.sendRaw('sensor-value', ['temp'], 1000);
    const pressure = pending.sendRaw('sensor-value', ['pressure'], 5000);
    clock.advance(1000);
    await expect(temp).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(pending.size).toBe(1);
    // pressure is held back: the server has not answered temp yet
    expect(written).toEqual(['?sensor-value temp\n']);
    expect(pending.take(msg('#sensor-value 1.0 1 temp nominal 21.5'))).toBe(true);
    expect(pending.take(msg('!sensor-value ok 1'))).toBe(true);
    expect(written).toEqual(['?sensor-value temp\n', '?sensor-value pressure\n']);
    expect(pending.take(msg('#sensor-value 1.0 1 pressure nominal 1013'))).toBe(true);
    expect(pending.take(msg('!sensor-value ok 1'))).toBe(true);
    const got = await pressure;
    expect(got.informs.map((m) => m.args.map(String))).toEqual([['1.0', '1', 'pressure', 'nominal', '1013']]);
    await settled();
    expect(pending.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('without ids: a cancelled request on the wire is held the same way', async () => {
    const { written, pending } = setup(false);
    const ac = new AbortController();
    const a = pending.send('get', ['a'], 5000, ac.signal);
    const b = pending.send('get', ['b'], 5000);
    ac.abort();
    await expect(a).rejects.toBeInstanceOf(CancelledError);
    expect(written).toEqual(['?get a\n']);
    expect(pending.take(msg('!get ok from-a'))).toBe(true);
    expect(written).toEqual(['?get a\n', '?get b\n']);
    pending.take(msg('!get ok from-b'));
    expect((await b)[0].map(String)).toEqual(['from-b']);
  });

  it('without ids: no late reply within the timeout again: every request fails with ProtocolError, drop is called', async () => {
    const clock = new TestClock();
    const written: string[] = [];
    const dropped: Error[] = [];
    const pending = new PendingRequests(
      clock,
      (line) => written.push(String(line)),
      (e) => dropped.push(e),
    );
    pending.reset(false);
    const a = pending.send('a', [], 1000);
    let outcome: unknown = 'pending';
    pending.send('b', [], 10_000).catch((e: unknown) => {
      outcome = e;
    });
    clock.advance(1000);
    await expect(a).rejects.toBeInstanceOf(RequestTimeoutError);
    clock.advance(999);
    expect(dropped).toEqual([]);
    clock.advance(1);
    await settled();
    expect(outcome).toBeInstanceOf(ProtocolError);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toBeInstanceOf(ProtocolError);
    expect(written).toEqual(['?a\n']);
    expect(pending.size).toBe(0);
    expect(clock.pending).toBe(0);
    expect(pending.take(msg('!a ok'))).toBe(false);
  });

  it('one sweep timer: kept across back-to-back requests, each times out at its own deadline, none left idle', async () => {
    const { clock, pending } = setup();
    const a = pending.send('a', [], 1000);
    expect(clock.pending).toBe(1);
    clock.advance(400);
    // the caller awaits `a` and sends the next request from its continuation: the timer (due at 1000) stays
    let b!: Promise<unknown>;
    const next = a.then(() => {
      b = pending.send('b', [], 1000);
    });
    pending.take(msg('!a[1] ok'));
    await next;
    await settled();
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(1000);
    clock.advance(600); // t = 1000: the sweep finds b (due 1400) and re-arms for it
    expect(pending.size).toBe(1);
    expect(clock.nextAt()).toBe(1400);
    clock.advance(400);
    await expect(b).rejects.toBeInstanceOf(RequestTimeoutError);
    await settled();
    expect(pending.size).toBe(0);
    expect(clock.pending).toBe(0);
    // a shorter timeout re-arms earlier; an infinite one arms nothing
    const long = pending.send('long', [], 10_000);
    const short = pending.send('short', [], 10);
    const never = pending.send('never', [], Number.POSITIVE_INFINITY);
    expect(clock.nextAt()).toBe(clock.now() + 10);
    clock.advance(10);
    await expect(short).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(clock.pending).toBe(1);
    clock.advance(10_000);
    await expect(long).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(clock.pending).toBe(0);
    expect(pending.size).toBe(1);
    pending.failAll(new BrokenPipeError('gone'));
    await expect(never).rejects.toBeInstanceOf(BrokenPipeError);
  });

  it('an abort rejects with CancelledError and forgets the request (its late reply is not taken)', async () => {
    const { pending } = setup();
    const ac = new AbortController();
    const req = pending.send('a', [], 5000, ac.signal);
    ac.abort();
    await expect(req).rejects.toBeInstanceOf(CancelledError);
    expect(pending.size).toBe(0);
    expect(pending.take(msg('!a[1] ok'))).toBe(false);
  });

  it('failAll rejects everything with the error and releases the timer; dispose releases it too', async () => {
    const { clock, pending } = setup();
    const all = [pending.send('a', [], 5000), pending.send('b', [], 5000)];
    pending.failAll(new BrokenPipeError('Not connected'));
    for (const p of all) await expect(p).rejects.toThrow(new BrokenPipeError('Not connected'));
    expect(clock.pending).toBe(0);
    void pending.send('c', [], 5000).catch(() => {});
    pending.dispose();
    expect(clock.pending).toBe(0);
  });

  it('under any interleaving of sends, replies, informs, aborts, time and drops: each request settles once, as the model says', async () => {
    type Op =
      | { op: 'send'; timeout: number; abortable: boolean }
      | { op: 'reply'; pick: number; code: 'ok' | 'fail' | 'x' }
      | { op: 'inform'; pick: number }
      | { op: 'abort'; pick: number }
      | { op: 'advance'; ms: number }
      | { op: 'failAll' };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        op: fc.constant('send' as const),
        timeout: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(Number.POSITIVE_INFINITY)),
        abortable: fc.boolean(),
      }),
      fc.record({
        op: fc.constant('reply' as const),
        pick: fc.nat(),
        code: fc.constantFrom('ok' as const, 'fail' as const, 'x' as const),
      }),
      fc.record({ op: fc.constant('inform' as const), pick: fc.nat() }),
      fc.record({ op: fc.constant('abort' as const), pick: fc.nat() }),
      fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
      fc.constant({ op: 'failAll' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(opArb, { maxLength: 40 }), async (midMode, ops) => {
        const { clock, written, pending } = setup(midMode);
        interface Model {
          name: string;
          mid: number | null;
          timeout: number;
          deadline: number;
          informs: number;
          ac: AbortController | null;
          expect: string | null;
          outcome: string | null;
        }
        const live: Model[] = [];
        const all: Model[] = [];
        /** Without ids: the timed-out or cancelled request on the wire, held until its late reply. */
        // typed by `as`: the assignments are in closures, which narrowing by the initialiser cannot see
        let placeholder = null as { name: string; deadline: number } | null;
        let n = 0;
        const finish = (m: Model, outcome: string) => {
          live.splice(live.indexOf(m), 1);
          m.expect = outcome;
        };
        /** `m` times out or is cancelled at `t`: without ids, the one on the wire becomes the placeholder. */
        const giveUp = (m: Model, t: number, outcome: string) => {
          if (!midMode && placeholder === null && m === live[0])
            placeholder = { name: m.name, deadline: t + m.timeout };
          finish(m, outcome);
        };
        for (const o of ops) {
          if (o.op === 'send') {
            const name = `r${++n}`;
            const ac = o.abortable ? new AbortController() : null;
            const before = written.length;
            const p = pending.send(name, [], o.timeout, ac?.signal);
            const m: Model = {
              name,
              mid: null,
              timeout: o.timeout,
              deadline: clock.now() + o.timeout,
              informs: 0,
              ac,
              expect: null,
              outcome: null,
            };
            if (midMode) {
              m.mid = Number(/\[(\d+)\]/.exec(written[before])?.[1]);
              expect(live.some((x) => x.mid === m.mid)).toBe(false);
            }
            p.then(
              ([, informs]) => {
                m.outcome = `ok ${informs.length}`;
              },
              (e: Error) => {
                m.outcome = e.constructor.name;
              },
            );
            live.push(m);
            all.push(m);
          } else if ((o.op === 'reply' || o.op === 'inform') && placeholder !== null) {
            // its late informs and reply are swallowed; the reply lets the next request go out
            const line = o.op === 'inform' ? `#${placeholder.name} i` : `!${placeholder.name} ${o.code}`;
            expect(pending.take(msg(line))).toBe(true);
            if (o.op === 'reply') placeholder = null;
          } else if (o.op === 'reply' || o.op === 'inform') {
            if (live.length === 0) continue;
            // without ids only the request on the wire (the oldest) can be answered
            const m = midMode ? live[o.pick % live.length] : live[0];
            const id = m.mid === null ? '' : `[${m.mid}]`;
            if (o.op === 'inform') {
              expect(pending.take(msg(`#${m.name}${id} i`))).toBe(true);
              m.informs++;
            } else {
              expect(pending.take(msg(`!${m.name}${id} ${o.code}`))).toBe(true);
              finish(
                m,
                o.code === 'ok' ? `ok ${m.informs}` : o.code === 'fail' ? 'FailReply' : 'InvalidReply',
              );
            }
          } else if (o.op === 'abort') {
            const abortable = live.filter((x) => x.ac);
            if (abortable.length === 0) continue;
            const m = abortable[o.pick % abortable.length];
            if (!m.ac) continue;
            m.ac.abort();
            giveUp(m, clock.now(), 'CancelledError');
          } else if (o.op === 'advance') {
            // sweep by sweep: a placeholder that expires fails everything left with ProtocolError
            const end = clock.now() + o.ms;
            for (;;) {
              const t = Math.min(
                placeholder?.deadline ?? Number.POSITIVE_INFINITY,
                ...live.map((m) => m.deadline),
              );
              if (t > end) break;
              if (placeholder !== null && placeholder.deadline <= t) {
                placeholder = null;
                for (const m of [...live]) finish(m, 'ProtocolError');
                continue;
              }
              for (const m of live.filter((x) => x.deadline <= t)) giveUp(m, t, 'RequestTimeoutError');
            }
            clock.advance(o.ms);
          } else {
            pending.failAll(new BrokenPipeError('dropped'));
            placeholder = null;
            for (const m of [...live]) finish(m, 'BrokenPipeError');
          }
          expect(pending.size).toBe(live.length);
          // without ids, exactly the head (the placeholder, else the oldest live request) has been written
          if (!midMode) {
            // in call order, each once (a request settled while queued is never written)
            const order = written.map((l) => Number(l.slice(2)));
            expect(order).toEqual([...new Set(order)].sort((x, y) => x - y));
            const head = placeholder ?? live[0];
            if (head !== undefined) expect(written.at(-1)).toBe(`?${head.name}\n`);
          }
        }
        await settled();
        for (const m of all) expect(m.outcome).toBe(m.expect);
        // nothing pending -> no timer (the idle release has run); else at most the one sweep timer, which is
        // armed whenever a finite deadline is pending
        const held = placeholder !== null && Number.isFinite(placeholder.deadline);
        const finite = held || live.some((m) => Number.isFinite(m.deadline));
        if (live.length === 0 && placeholder === null) expect(clock.pending).toBe(0);
        else expect(clock.pending).toBeLessThanOrEqual(1);
        if (finite) expect(clock.pending).toBe(1);
        pending.failAll(new BrokenPipeError('end'));
        await settled();
        expect(clock.pending).toBe(0);
      }),
      { numRuns: propertyRuns(300) },
    );
  });
});
