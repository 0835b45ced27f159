/**
 * issue 11 item 4: the CA simulator (`orrery ca-sim`) on a TestClock: the random walk, counter and waveform change
 * on the clock, alarms follow the walk, a setpoint put completes after the put delay (then the readback follows),
 * an interval put reschedules the walk and a bad one fails, close() leaves nothing scheduled.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as cmd from '../../src/protocols/ca/commands.js';
import { Command, DbrType, Eca, SubscriptionType } from '../../src/protocols/ca/constants.js';
import { decodeDbr, encodeDbr } from '../../src/protocols/ca/dbr.js';
import { CaSimulator } from '../../src/protocols/ca/sim.js';
import { TestClock } from '../../src/testing/testClock.js';
import { closeAllRaw, RawCircuit } from './support/rawCa.js';

let sim: CaSimulator | undefined;
afterEach(async () => {
  closeAllRaw();
  await sim?.close();
  sim = undefined;
});

async function echoRoundTrip(c: RawCircuit): Promise<void> {
  const from = c.frames.length;
  c.send(cmd.echo());
  await c.waitFor((f) => f.command === Command.ECHO, from);
}

describe('issue 11 item 4: CA simulator', () => {
  it('walks x, counts and moves the waveform on the clock; monitors see every update', async () => {
    const clock = new TestClock();
    let r = 0;
    const steps = [1, 1, 0, 0.5]; // x: +1, +1, -1, 0
    sim = await CaSimulator.start({
      port: 0,
      env: {},
      beaconAddresses: [],
      clock,
      random: () => steps[r++ % 4],
    });
    const c = await RawCircuit.open(sim.port);
    const counter = await c.createChannel('sim:counter');
    const subid = c.id();
    c.send(cmd.eventAddRequest(DbrType.LONG, 0, counter.sid, subid, SubscriptionType.DBE_VALUE));
    await c.waitFor((f) => f.command === Command.EVENT_ADD && f.p2 === subid);
    for (let i = 0; i < 4; i++) clock.advance(100);
    const updates = await c.waitForCount((f) => f.command === Command.EVENT_ADD && f.p2 === subid, 5);
    expect(updates.map((f) => decodeDbr(f.dataType, f.count, Buffer.from(f.payload)).data[0])).toEqual([
      0, 1, 2, 3, 4,
    ]);
    expect(sim.server.pv('sim:x')!.data[0]).toBe(1);
    expect(sim.ticks).toBe(4);
    const wave = sim.server.pv('sim:waveform')!.data as Float64Array;
    expect(wave.length).toBe(128);
    expect(wave[0]).toBeCloseTo(Math.sin((2 * Math.PI * 4) / 128));
  });

  it('raises MINOR then MAJOR alarms as x walks past 80 and 90', async () => {
    const clock = new TestClock();
    sim = await CaSimulator.start({ port: 0, env: {}, beaconAddresses: [], clock, random: () => 1 });
    sim.server.pv('sim:step')!.write(10);
    const severities: number[] = [];
    for (let i = 0; i < 10; i++) {
      clock.advance(100);
      severities.push(sim.server.pv('sim:x')!.metadata.severity ?? -1);
    }
    expect(severities).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    expect(sim.server.pv('sim:x')!.metadata.status).toBe(3); // HIHI
  });

  it('completes a setpoint put after the put delay, then the readback follows; mode is moving meanwhile', async () => {
    const clock = new TestClock();
    sim = await CaSimulator.start({ port: 0, env: {}, beaconAddresses: [], clock, putDelayMs: 500 });
    const c = await RawCircuit.open(sim.port);
    const sp = await c.createChannel('sim:setpoint');
    c.send(
      cmd.writeNotifyRequest(
        DbrType.DOUBLE,
        1,
        sp.sid,
        1,
        encodeDbr(DbrType.DOUBLE, new Float64Array([12.5])),
      ),
    );
    await echoRoundTrip(c);
    expect(c.frames.some((f) => f.command === Command.WRITE_NOTIFY)).toBe(false);
    expect(sim.server.pv('sim:mode')!.data[0]).toBe(1);
    clock.advance(499);
    await echoRoundTrip(c);
    expect(c.frames.some((f) => f.command === Command.WRITE_NOTIFY)).toBe(false);
    clock.advance(1);
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY)).p1).toBe(Eca.NORMAL);
    expect(sim.server.pv('sim:readback')!.data[0]).toBe(12.5);
    expect(sim.server.pv('sim:setpoint')!.data[0]).toBe(12.5);
    expect(sim.server.pv('sim:mode')!.data[0]).toBe(0);
  });

  it('an interval put reschedules the walk; a non-positive one fails with ECA_PUTFAIL', async () => {
    const clock = new TestClock();
    sim = await CaSimulator.start({ port: 0, env: {}, beaconAddresses: [], clock, updateIntervalMs: 100 });
    const c = await RawCircuit.open(sim.port);
    const iv = await c.createChannel('sim:interval');
    c.send(
      cmd.writeNotifyRequest(
        DbrType.DOUBLE,
        1,
        iv.sid,
        1,
        encodeDbr(DbrType.DOUBLE, new Float64Array([1000])),
      ),
    );
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === 1)).p1).toBe(Eca.NORMAL);
    expect(sim.intervalMs).toBe(1000);
    clock.advance(999);
    expect(sim.ticks).toBe(0);
    clock.advance(1);
    expect(sim.ticks).toBe(1);
    c.send(
      cmd.writeNotifyRequest(DbrType.DOUBLE, 1, iv.sid, 2, encodeDbr(DbrType.DOUBLE, new Float64Array([0]))),
    );
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === 2)).p1).toBe(Eca.PUTFAIL);
    expect(sim.server.pv('sim:interval')!.data[0]).toBe(1000);
  });

  it('close() fails a setpoint put still in its delay (CancelledError), nothing left pending', async () => {
    const clock = new TestClock();
    sim = await CaSimulator.start({ port: 0, env: {}, beaconAddresses: [], clock, putDelayMs: 5000 });
    const setpoint = sim.server.pv('sim:setpoint');
    if (setpoint === undefined) throw new Error('no setpoint PV');
    const put = sim.onPut(setpoint, Float64Array.of(4));
    expect(put).toBeInstanceOf(Promise);
    const outcome = (put as Promise<void>).then(
      () => 'resolved',
      (err: Error) => err.name,
    );
    await sim.close();
    expect(await outcome).toBe('CancelledError');
    expect(clock.pending).toBe(0);
  });

  it('serves the typed PVs and extra ones, with a prefix; close() leaves nothing scheduled', async () => {
    const clock = new TestClock();
    sim = await CaSimulator.start({
      port: 0,
      env: {},
      beaconAddresses: [{ host: '127.0.0.1', port: 9 }],
      clock,
      prefix: 'lab:',
      pvs: [{ name: 'extra:pv', type: 'long', value: 3 }],
    });
    expect(sim.server.pvNames).toEqual(
      [
        'extra:pv',
        ...[
          'counter',
          'interval',
          'message',
          'mode',
          'name',
          'readback',
          'serial',
          'setpoint',
          'step',
          'waveform',
          'x',
        ].map((n) => `lab:${n}`),
      ].sort(),
    );
    const c = await RawCircuit.open(sim.port);
    const name = await c.createChannel('lab:name');
    expect(
      decodeDbr(DbrType.STRING, 1, Buffer.from((await c.read(name.sid, DbrType.STRING)).payload)).data,
    ).toEqual(['orrery ca-sim']);
    expect((await c.createChannel('lab:serial')).rights).toBe(1);
    expect(clock.pending).toBeGreaterThan(0);
    await sim.close();
    sim = undefined;
    expect(clock.pending).toBe(0);
  });
});

describe('audit: simulator puts at the edges', () => {
  it('mode stays moving until the last of overlapping setpoint puts completes', async () => {
    const clock = new TestClock();
    sim = await CaSimulator.start({ port: 0, env: {}, beaconAddresses: [], clock, putDelayMs: 500 });
    const setpoint = sim.server.pv('sim:setpoint')!;
    const mode = () => sim!.server.pv('sim:mode')!.data[0];
    const first = sim.onPut(setpoint, Float64Array.of(1)) as Promise<void>;
    clock.advance(200);
    const second = sim.onPut(setpoint, Float64Array.of(2)) as Promise<void>;
    clock.advance(300);
    await first;
    expect(mode()).toBe(1); // the second put still moves
    expect(sim.server.pv('sim:readback')!.data[0]).toBe(1);
    clock.advance(200);
    await second;
    expect(mode()).toBe(0);
    expect(sim.server.pv('sim:readback')!.data[0]).toBe(2);
  });

  it('a step put of NaN, Inf or a negative number fails with ECA_PUTFAIL: the walk goes on', async () => {
    const clock = new TestClock();
    sim = await CaSimulator.start({ port: 0, env: {}, beaconAddresses: [], clock, random: () => 1 });
    const c = await RawCircuit.open(sim.port);
    const step = await c.createChannel('sim:step');
    for (const [ioid, text] of [
      [1, 'nan'],
      [2, 'inf'],
      [3, '-1'],
    ] as const) {
      c.send(cmd.writeNotifyRequest(DbrType.STRING, 1, step.sid, ioid, encodeDbr(DbrType.STRING, [text])));
      expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === ioid)).p1).toBe(
        Eca.PUTFAIL,
      );
    }
    expect(sim.server.pv('sim:step')!.data[0]).toBe(1);
    c.send(
      cmd.writeNotifyRequest(DbrType.DOUBLE, 1, step.sid, 4, encodeDbr(DbrType.DOUBLE, Float64Array.of(2))),
    );
    expect((await c.waitFor((f) => f.command === Command.WRITE_NOTIFY && f.p2 === 4)).p1).toBe(Eca.NORMAL);
    clock.advance(100);
    expect(sim.server.pv('sim:x')!.data[0]).toBe(2);
  });
});
