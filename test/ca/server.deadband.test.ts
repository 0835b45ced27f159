/**
 * issue 11 item 4: monitor dead-bands (EPICS MDEL for DBE_VALUE, ADEL for DBE_LOG) in the CA server. A reference
 * model ported line by line from EPICS Base's `recGblCheckDeadband` (recGbl.c) predicts which writes post; raw
 * circuits subscribed with DBE_VALUE, DBE_LOG, DBE_VALUE|DBE_LOG and DBE_ALARM must receive exactly those updates,
 * for named cases and for random write sequences and dead-bands (fast-check). Also: Orrery's own client with
 * VALUE and LOG masks, the definition checks (CaValueError naming the field) and `setDeadband` at run time.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import * as cmd from '../../src/protocols/ca/commands.js';
import { Command, DbrType, SubscriptionType } from '../../src/protocols/ca/constants.js';
import { decodeDbr } from '../../src/protocols/ca/dbr.js';
import { passesDeadband } from '../../src/protocols/ca/deadband.js';
import { CaValueError } from '../../src/protocols/ca/errors.js';
import { checkPvDefinition } from '../../src/protocols/ca/pvDefinition.js';
import { CaServer, type PvDefinition } from '../../src/protocols/ca/server.js';
import type { EventResponse } from '../../src/protocols/ca/subscription.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { useCaPeers } from './support/caContext.js';
import { closeAllRaw, RawCircuit } from './support/rawCa.js';

const { DBE_VALUE, DBE_LOG, DBE_ALARM } = SubscriptionType;

// ------------------------------------------------------------------------------------------ reference model

const isInf = (x: number) => x === Number.POSITIVE_INFINITY || x === Number.NEGATIVE_INFINITY;

/** recGblCheckDeadband, statement by statement: updates `last.value` and returns true when the update posts. */
function refCheckDeadband(last: { value: number }, newval: number, deadband: number): boolean {
  let delta = 0;
  if (Number.isFinite(newval) && Number.isFinite(last.value)) {
    delta = last.value - newval;
    if (delta < 0) delta = -delta;
  } else if (Number.isNaN(newval) !== Number.isNaN(last.value) || isInf(newval) !== isInf(last.value)) {
    delta = Number.POSITIVE_INFINITY;
  } else if (isInf(newval) && newval !== last.value) {
    delta = Number.POSITIVE_INFINITY;
  }
  if (delta > deadband) {
    last.value = newval;
    return true;
  }
  return false;
}

interface Write {
  value: number;
  severity?: number;
}

type Posted = { value: number[]; log: number[]; both: number[]; alarm: number[] };

/** What each subscription receives after its first (immediate) update, for writes to a scalar PV. */
function model(initial: number, mdel: number, adel: number, writes: readonly Write[]): Posted {
  const mlst = { value: initial };
  const alst = { value: initial };
  let severity = 0;
  const out: Posted = { value: [], log: [], both: [], alarm: [] };
  for (const w of writes) {
    const v = refCheckDeadband(mlst, w.value, mdel);
    const l = refCheckDeadband(alst, w.value, adel);
    const a = w.severity !== undefined && w.severity !== severity;
    if (w.severity !== undefined) severity = w.severity;
    if (v) out.value.push(w.value);
    if (l) out.log.push(w.value);
    if (v || l) out.both.push(w.value);
    if (a) out.alarm.push(w.value);
  }
  return out;
}

// ------------------------------------------------------------------------------------------ wire harness

let server: CaServer;
let circuit: RawCircuit;
let serial = 0;

beforeAll(async () => {
  server = await CaServer.start({ port: 0, env: {}, beaconAddresses: [], pvs: [] });
  circuit = await RawCircuit.open(server.port);
});
afterAll(async () => {
  closeAllRaw();
  await server.close();
});

/** Serves `def` under a fresh name, subscribes with four masks, applies `writes`, returns what each received. */
async function run(def: Omit<PvDefinition, 'name'>, writes: readonly Write[], between?: () => void) {
  const name = `db:${serial++}`;
  const pv = server.addPv({ ...def, name });
  try {
    const c = circuit;
    const ch = await c.createChannel(name);
    const subids: number[] = [];
    for (const mask of [DBE_VALUE, DBE_LOG, DBE_VALUE | DBE_LOG, DBE_ALARM]) {
      const subid = c.id();
      const from = c.frames.length;
      c.send(cmd.eventAddRequest(DbrType.DOUBLE, 1, ch.sid, subid, mask));
      await c.waitFor((f) => f.command === Command.EVENT_ADD && f.p2 === subid, from);
      subids.push(subid);
    }
    const from = c.frames.length;
    between?.();
    for (const w of writes) pv.write(w.value, w.severity === undefined ? {} : { severity: w.severity });
    c.send(cmd.echo());
    const echo = await c.waitFor((f) => f.command === Command.ECHO, from);
    const seen = c.frames.slice(from, c.frames.indexOf(echo, from));
    const of = (subid: number) =>
      seen
        .filter((f) => f.command === Command.EVENT_ADD && f.p2 === subid)
        .map((f) => Number(decodeDbr(f.dataType, f.count, Buffer.from(f.payload)).data[0]));
    const [value, log, both, alarm] = subids.map(of);
    return { pv, posted: { value, log, both, alarm } as Posted };
  } finally {
    server.removePv(name);
  }
}

const writes = (...values: number[]): Write[] => values.map((value) => ({ value }));

// ------------------------------------------------------------------------------------------ tests

describe('issue 11 item 4: passesDeadband (recGblCheckDeadband)', () => {
  const nan = Number.NaN;
  const Inf = Number.POSITIVE_INFINITY;
  const cases: [number, number, number, boolean][] = [
    [0, 1, 0, true],
    [1, 1, 0, false],
    [1, 1, -1, true],
    [0, 1, 1, false], // |1 - 0| is not > 1
    [0, 1.5, 1, true],
    [0, -1.5, 1, true],
    [1, nan, 1e300, true],
    [nan, 1, 1e300, true],
    [nan, nan, 0, false],
    [nan, nan, -1, true],
    [1, Inf, 1e300, true],
    [1, Inf, Inf, false], // delta INF is not > an infinite dead-band
    [Inf, Inf, 0, false],
    [Inf, -Inf, 0, true],
    [nan, Inf, 0, true],
    [Inf, 5, 1e300, true],
    [0, 1e308, Inf, false],
  ];
  for (const [last, next, deadband, posts] of cases) {
    it(`issue 11 item 4: last ${last}, new ${next}, dead-band ${deadband}: ${posts ? 'posts' : 'no post'}`, () => {
      expect(passesDeadband(last, next, deadband)).toBe(posts);
      expect(refCheckDeadband({ value: last }, next, deadband)).toBe(posts);
    });
  }

  it('issue 11 item 4: agrees with the line-by-line port of recGblCheckDeadband on any doubles', () => {
    const num = fc.oneof(
      fc.double(),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0),
      fc.integer({ min: -8, max: 8 }).map((x) => x / 2),
    );
    fc.assert(
      fc.property(num, num, num, (last, next, deadband) => {
        expect(passesDeadband(last, next, deadband)).toBe(refCheckDeadband({ value: last }, next, deadband));
      }),
      { numRuns: propertyRuns(2000) },
    );
  });
});

describe('issue 11 item 4: CA server monitors with dead-bands (raw circuit, masks VALUE, LOG, VALUE|LOG, ALARM)', () => {
  it('issue 11 item 4: mdel = 0 (the default) posts any change and no identical write', async () => {
    const w = writes(1, 1, 2, 2, 2.5, 0);
    const { posted } = await run({ type: 'double', value: 0 }, w);
    expect(posted).toEqual({ value: [1, 2, 2.5, 0], log: [1, 2, 2.5, 0], both: [1, 2, 2.5, 0], alarm: [] });
    expect(posted).toEqual(model(0, 0, 0, w));
  });

  it('issue 11 item 4: mdel > 0 suppresses small steps and posts once the change from the last posted value exceeds it', async () => {
    const w = writes(0.5, 0.9, 1, 1.5, 2.6, 2, 1.5);
    const { posted, pv } = await run({ type: 'double', value: 0, mdel: 1 }, w);
    expect(pv.deadband).toEqual({ mdel: 1, adel: 0 });
    expect(posted.value).toEqual([1.5, 2.6, 1.5]);
    expect(posted.log).toEqual([0.5, 0.9, 1, 1.5, 2.6, 2, 1.5]);
    expect(posted).toEqual(model(0, 1, 0, w));
  });

  it('issue 11 item 4: a negative dead-band posts every write, even of the same value', async () => {
    const w = writes(3, 3, 3, 4);
    const { posted } = await run({ type: 'double', value: 3, mdel: -1 }, w);
    expect(posted.value).toEqual([3, 3, 3, 4]);
    expect(posted.log).toEqual([4]); // adel 0: only the change
    expect(posted.both).toEqual([3, 3, 3, 4]);
    const adel = await run({ type: 'long', value: 3, adel: -0.5 }, w);
    expect(adel.posted).toMatchObject({ value: [4], log: [3, 3, 3, 4] });
  });

  it('issue 11 item 4: NaN and infinities: a change to or from them always posts, NaN to NaN does not', async () => {
    const nan = Number.NaN;
    const Inf = Number.POSITIVE_INFINITY;
    const w = writes(1, nan, nan, 2, Inf, Inf, -Inf, 100, 103);
    const { posted } = await run({ type: 'double', value: 0, mdel: 5, adel: 5 }, w);
    expect(posted.value).toEqual([nan, 2, Inf, -Inf, 100]);
    expect(posted.log).toEqual([nan, 2, Inf, -Inf, 100]);
    expect(posted).toEqual(model(0, 5, 5, w));
  });

  it('issue 11 item 4: adel is independent of mdel', async () => {
    const w = writes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 30);
    const { posted } = await run({ type: 'double', value: 0, mdel: 0, adel: 10 }, w);
    expect(posted.value).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 30]);
    expect(posted.log).toEqual([11, 30]);
    expect(posted.both).toEqual(posted.value);
    const swapped = await run({ type: 'double', value: 0, mdel: 10, adel: 0 }, w);
    expect(swapped.posted).toMatchObject({ value: [11, 30], log: posted.value });
  });

  it('issue 11 item 4: ALARM posts on a severity change whatever the dead-bands', async () => {
    const w: Write[] = [
      { value: 1, severity: 2 },
      { value: 2 },
      { value: 20, severity: 2 },
      { value: 21, severity: 0 },
    ];
    const { posted } = await run({ type: 'double', value: 0, mdel: 10, adel: 100 }, w);
    expect(posted).toEqual({ value: [20], log: [], both: [20], alarm: [1, 21] });
    expect(posted).toEqual(model(0, 10, 100, w));
  });

  it('issue 11 item 4: integer, float and enum scalars have dead-bands too', async () => {
    const long = await run({ type: 'long', value: 0, mdel: 2 }, writes(1, 2, 3, 4, 5, 6));
    expect(long.posted.value).toEqual([3, 6]);
    const short = await run({ type: 'short', value: 0, adel: 2.5 }, writes(1, 2, 3, 4, 5, 6));
    expect(short.posted.log).toEqual([3, 6]);
    const float = await run({ type: 'float', value: 0, mdel: 0.25 }, writes(0.125, 0.25, 0.5, 0.625));
    expect(float.posted.value).toEqual([0.5]);
    const en = await run(
      { type: 'enum', value: 0, enumStrings: ['a', 'b', 'c'], mdel: 1 },
      writes(1, 2, 1, 0),
    );
    expect(en.posted.value).toEqual([2, 0]);
  });

  it('issue 11 item 4: setDeadband at run time keeps the last posted values (as a put to MDEL/ADEL)', async () => {
    let pv: ReturnType<CaServer['addPv']> | undefined;
    const w = writes(0.5, 3, 3.5, 10);
    const { posted } = await run({ type: 'double', value: 0 }, w, () => {
      pv = server.pv(`db:${serial - 1}`);
      pv?.setDeadband({ mdel: 2 });
      pv?.setDeadband({ adel: -1 });
    });
    expect(pv?.deadband).toEqual({ mdel: 2, adel: -1 });
    expect(posted.value).toEqual([3, 10]);
    expect(posted.log).toEqual([0.5, 3, 3.5, 10]);
    expect(posted).toEqual(model(0, 2, -1, w));
  });

  it('issue 11 item 4: array PVs have none: any change posts VALUE|LOG, an identical write nothing', async () => {
    const { posted, pv } = await run({ type: 'double', value: [1, 2], maxCount: 4 }, writes(5, 5, 5.01, 1));
    expect(pv.deadband).toEqual({ mdel: 0, adel: 0 });
    expect(posted).toEqual({ value: [5, 5.01, 1], log: [5, 5.01, 1], both: [5, 5.01, 1], alarm: [] });
  });

  it('issue 11 item 4: random write sequences and dead-bands post exactly what recGblCheckDeadband posts', async () => {
    const value = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: -12, max: 12 }).map((x) => x / 4) },
      { weight: 2, arbitrary: fc.double({ min: -1e6, max: 1e6 }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0),
      },
    );
    const deadband = fc.option(
      fc.oneof(
        fc.integer({ min: -2, max: 12 }).map((x) => x / 4),
        fc.constantFrom(0, -1, Number.POSITIVE_INFINITY),
      ),
      { nil: undefined },
    );
    const write = fc.record({ value, severity: fc.constantFrom(0, 1, 2) }, { requiredKeys: ['value'] });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -4, max: 4 }),
        deadband,
        deadband,
        fc.array(write, { maxLength: 20 }),
        async (initial, mdel, adel, w) => {
          const def: Omit<PvDefinition, 'name'> = { type: 'double', value: initial };
          if (mdel !== undefined) def.mdel = mdel;
          if (adel !== undefined) def.adel = adel;
          const { posted } = await run(def, w);
          expect(posted).toEqual(model(initial, mdel ?? 0, adel ?? 0, w));
        },
      ),
      { numRuns: propertyRuns(60) },
    );
  });
});

describe('issue 11 item 4: dead-bands seen by Orrery client subscriptions with VALUE and LOG masks', () => {
  const peers = useCaPeers();

  it('issue 11 item 4: a VALUE subscription and a LOG subscription get their own dead-banded streams', async () => {
    const srv = await peers.server({ pvs: [{ name: 'DB:X', type: 'double', value: 0, mdel: 1, adel: 5 }] });
    const pv = peers.context(srv).getPv('DB:X');
    const streams = [DBE_VALUE, DBE_LOG].map((mask) => {
      const values: number[] = [];
      let done!: () => void;
      const finished = new Promise<void>((resolve) => {
        done = resolve;
      });
      pv.subscribe({ mask }).addCallback((_s, r: EventResponse) => {
        values.push((r.data as Float64Array)[0]);
        if (values.at(-1) === 100) done();
      });
      return { values, finished };
    });
    await pv.read(); // connected
    for (const v of [0.5, 1.2, 1.4, 2.5, 6, 100]) await pv.write(v, { wait: true });
    await Promise.all(streams.map((s) => s.finished));
    expect(streams[0].values).toEqual([0, 1.2, 2.5, 6, 100]);
    expect(streams[1].values).toEqual([0, 6, 100]);
  });
});

describe('issue 11 item 4: dead-band definition checks', () => {
  const bad: [string, PvDefinition, RegExp][] = [
    ['a string PV', { name: 'a', type: 'string', value: 'x', mdel: 1 }, /^pv\.mdel is only for numeric PVs/],
    [
      'an array value',
      { name: 'a', type: 'double', value: [1, 2], adel: 1 },
      /^pv\.adel is only for scalar PVs.*2/,
    ],
    [
      'maxCount > 1',
      { name: 'a', type: 'long', value: 1, maxCount: 4, mdel: 1 },
      /^pv\.mdel is only for scalar/,
    ],
    ['a CHAR string', { name: 'a', type: 'char', value: 'abc', mdel: 0 }, /^pv\.mdel is only for scalar PVs/],
    [
      'a text dead-band',
      { name: 'a', type: 'double', value: 1, mdel: '1' as never },
      /^pv\.mdel must be a number, got "1"/,
    ],
    [
      'a NaN dead-band',
      { name: 'a', type: 'double', value: 1, adel: Number.NaN },
      /^pv\.adel must be a number, got NaN/,
    ],
  ];
  for (const [what, def, message] of bad) {
    it(`issue 11 item 4: refuses mdel/adel on ${what} with a CaValueError naming the field`, async () => {
      expect(() => checkPvDefinition(def)).toThrow(message);
      const err = (() => {
        try {
          checkPvDefinition(def, 'pvs[3]');
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CaValueError);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message.startsWith('pvs[3].')).toBe(true);
      expect(() => server.addPv(def)).toThrow(CaValueError);
    });
  }

  it('issue 11 item 4: accepts numbers on numeric scalars (negative and infinite included); setDeadband checks too', () => {
    for (const type of ['short', 'int', 'float', 'enum', 'char', 'long', 'double'] as const) {
      expect(() =>
        checkPvDefinition({ name: 'a', type, value: 0, mdel: -1, adel: Number.POSITIVE_INFINITY }),
      ).not.toThrow();
    }
    const name = `db:${serial++}`;
    const pv = server.addPv({ name, type: 'double', value: 0 });
    try {
      expect(() => pv.setDeadband({ mdel: Number.NaN })).toThrow(/^deadband\.mdel must be a number/);
      expect(() => pv.setDeadband(null as never)).toThrow(CaValueError);
      expect(pv.deadband).toEqual({ mdel: 0, adel: 0 });
      const text = server.addPv({ name: `${name}:s`, type: 'string', value: 'x' });
      expect(() => text.setDeadband({ adel: 1 })).toThrow(/^deadband\.adel is only for numeric PVs/);
      const wave = server.addPv({ name: `${name}:w`, type: 'double', value: [1, 2, 3] });
      expect(() => wave.setDeadband({ mdel: 1 })).toThrow(/^deadband\.mdel is only for scalar PVs/);
      expect(() => wave.setDeadband({})).not.toThrow();
    } finally {
      for (const n of [name, `${name}:s`, `${name}:w`]) server.removePv(n);
    }
  });
});
