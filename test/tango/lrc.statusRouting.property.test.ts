/**
 * Issue 10 item 6: v1 status lists routed by difference with the previous list (`statusRouting.ts`) give every
 * call exactly what routing each entry does: the events whose first pair naming its command id carries a status
 * it was not given last (every one with `parity`, no value, or a value that is not a status), from its INVOKED
 * until it closes, after the held events set its last status. Random lists (ids repeated, odd lengths, bogus
 * statuses), calls opening (same ids too) and closing at any time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LrcEvent } from '../../machines/tango/lrc.js';
import { LrcDeviceSession } from '../../src/protocols/tango/lrc/session.js';
import type { AttributeEvent, DevicePort } from '../../src/protocols/tango/port.js';
import { ResultCode, toTaskStatus } from '../../src/protocols/tango/wire.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { flush } from './support/lrcHarness.js';

const STATUS = 'longRunningCommandStatus';
const IDS = ['A', 'B', 'C', 'D'];
const RAWS: unknown[] = ['STAGING', 'QUEUED', 'IN_PROGRESS', 'COMPLETED', 'BOGUS', 3, null];

type Step =
  | { kind: 'open'; id: number; parity: boolean }
  | { kind: 'emit'; pairs: [number, number][]; odd: boolean; same: boolean }
  | { kind: 'close'; which: number }
  | { kind: 'flush' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('open' as const), id: fc.nat(IDS.length - 1), parity: fc.boolean() }),
  fc.record({
    kind: fc.constant('emit' as const),
    pairs: fc.array(fc.tuple(fc.nat(IDS.length - 1), fc.nat(RAWS.length - 1)), { maxLength: 6 }),
    odd: fc.boolean(),
    same: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('emit' as const),
    // the usual shape: every id once, in order, statuses changing a little
    pairs: fc
      .array(fc.nat(3), { minLength: IDS.length, maxLength: IDS.length })
      .map((r) => r.map((raw, id) => [id, raw] as [number, number])),
    odd: fc.constant(false),
    same: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('close' as const), which: fc.nat(20) }),
  fc.constant({ kind: 'flush' as const }),
);

interface Followed {
  id: string;
  parity: boolean;
  /** Emitted events (indices) when it joined, got INVOKED, closed. */
  joined: number;
  invokedAt: number | undefined;
  closedAt: number | undefined;
  got: number[];
  close(): void;
}

/** The first value paired with `id` (as the session routes: first pair only), and whether it is named. */
function firstPair(value: readonly unknown[], id: string): [boolean, unknown] {
  for (let i = 0; i < value.length; i += 2) if (value[i] === id) return [true, value[i + 1]];
  return [false, undefined];
}

/** What routing each entry gives a call: from its INVOKED until it closes. */
function expected(c: Followed, emitted: readonly (readonly unknown[])[]): number[] {
  if (c.invokedAt === undefined) return [];
  let last: unknown;
  const remember = (raw: unknown): 'repeat' | 'send' => {
    if (c.parity || raw === undefined) return 'send';
    if (raw === last) return 'repeat';
    if (toTaskStatus(raw) === undefined) return 'send';
    last = raw;
    return 'send';
  };
  for (let e = c.joined; e < c.invokedAt; e++) {
    const [named, raw] = firstPair(emitted[e], c.id);
    if (named) remember(raw); // held: its last status remembered
  }
  const out: number[] = [];
  const end = c.closedAt ?? emitted.length;
  for (let e = c.invokedAt; e < end; e++) {
    const [named, raw] = firstPair(emitted[e], c.id);
    if (named && remember(raw) === 'send') out.push(e);
  }
  return out;
}

async function run(steps: Step[]): Promise<void> {
  const emitted: (readonly unknown[])[] = [];
  const listeners = new Set<(e: AttributeEvent) => void>();
  const ids: string[] = [];
  const port: DevicePort = {
    name: 'test/statusRouting/1',
    attributeList: async () => [STATUS],
    readAttribute: async () => [1, 1],
    commandInout: async () => [[ResultCode.QUEUED], [ids.shift()]],
    subscribeChangeEvent: async (_a, cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
  const session = LrcDeviceSession.of(port);
  const calls: Followed[] = [];
  let previous: unknown[] = [];
  for (const s of steps) {
    if (s.kind === 'open') {
      const f: Followed = {
        id: IDS[s.id],
        parity: s.parity,
        joined: 0,
        invokedAt: undefined,
        closedAt: undefined,
        got: [],
        close: () => {},
      };
      const target = {
        send: (e: LrcEvent) => {
          if (e.type === 'INVOKED') f.invokedAt = emitted.length;
          if (e.type === 'DEVICE_EVENT') f.got.push(emitted.length - 1); // the event being emitted
        },
      };
      const call = session.open(target, {
        command: 'Go',
        args: undefined,
        parity: s.parity,
        cacheNegotiation: false,
      });
      f.close = () => {
        if (f.closedAt === undefined) f.closedAt = emitted.length;
        call.close();
      };
      f.joined = emitted.length;
      call.connect([STATUS]);
      await flush();
      ids.push(f.id);
      call.invoke();
      calls.push(f);
    } else if (s.kind === 'emit') {
      // `same`: the previous list again, the very same array (a device may resend it)
      let value: unknown[];
      if (s.same && emitted.length) value = previous;
      else {
        value = s.pairs.flatMap(([id, raw]) => [IDS[id], RAWS[raw]]);
        if (s.odd) value.push(IDS[s.pairs.length % IDS.length]);
      }
      previous = value;
      emitted.push(value);
      for (const cb of [...listeners]) cb({ attribute: STATUS, value });
    } else if (s.kind === 'close') {
      if (calls.length) calls[s.which % calls.length].close();
    } else await flush();
  }
  for (const c of calls) expect(c.got, `${c.id} parity=${c.parity}`).toEqual(expected(c, emitted));
  for (const c of calls) c.close();
}

describe('issue 10 item 6: v1 status lists routed by difference', () => {
  it('issue 10 item 6: an id listed twice whose first pair repeats a settled entry is routed at that first pair only', async () => {
    // fast-check's counterexample (seed 1161705227): B's first pair in the second list is the settled (B,
    // IN_PROGRESS) of the first list, skipped; its second pair (B, STAGING) was routed as if it were the first
    await run([
      { kind: 'open', id: 1, parity: false },
      { kind: 'open', id: 0, parity: false },
      {
        kind: 'emit',
        pairs: [
          [0, 0],
          [1, 2],
          [2, 0],
          [3, 0],
        ],
        odd: false,
        same: false,
      },
      {
        kind: 'emit',
        pairs: [
          [0, 0],
          [1, 2],
          [1, 0],
        ],
        odd: false,
        same: false,
      },
      { kind: 'flush' },
    ]);
  });

  it('issue 10 item 6: every call gets exactly the status events that routing each entry gives it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => run(steps)),
      { numRuns: propertyRuns(500) },
    );
  });
});
