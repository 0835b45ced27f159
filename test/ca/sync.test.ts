/**
 * caproto's sync API (`read`, `write`, `readWriteRead`, `subscribe`, `block`, `interrupt`) against a real CaServer
 * on loopback (port 0, EPICS_CA_ADDR_LIST=127.0.0.1:<port>, no auto address list). Each test runs on a Context of
 * its own, except the one that checks the shared default Context. No timing is asserted: waits are for events.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Batch } from '../../src/protocols/ca/batch.js';
import { type Block, block, interrupt, subscribe } from '../../src/protocols/ca/block.js';
import {
  createChanResponse,
  readNotifyResponse,
  serverDisconnResponse,
} from '../../src/protocols/ca/commands.js';
import { ChannelType, Command, DbrType, Eca } from '../../src/protocols/ca/constants.js';
import { Context } from '../../src/protocols/ca/context.js';
import { encodeDbr } from '../../src/protocols/ca/dbr.js';
import {
  CaStatusError,
  CaTimeoutError,
  CaValueError,
  ContextDisconnectedError,
  ErrorResponseReceived,
} from '../../src/protocols/ca/errors.js';
import type { EventResponse } from '../../src/protocols/ca/pvTypes.js';
import { CaServer } from '../../src/protocols/ca/server.js';
import {
  closeDefaultContext,
  defaultContext,
  read,
  readWriteRead,
  write,
} from '../../src/protocols/ca/sync.js';
import { TestClock } from '../../src/testing/testClock.js';
import { expectCaValueErrors } from './support/expectCaValueErrors.js';
import { fakeTransport } from './support/fakeTransport.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const server = await CaServer.start({
    port: 0,
    interfaces: ['127.0.0.1'],
    pvs: [
      { name: 'sync:x', type: 'double', value: 1.5, units: 'mm', precision: 2 },
      { name: 'sync:mode', type: 'enum', value: 1, enumStrings: ['off', 'on', 'auto'] },
      { name: 'sync:name', type: 'string', value: 'hello' },
      { name: 'sync:wave', type: 'long', value: [1, 2, 3, 4] },
    ],
  });
  const env = { EPICS_CA_ADDR_LIST: `127.0.0.1:${server.port}`, EPICS_CA_AUTO_ADDR_LIST: 'NO' };
  const context = new Context({ env });
  cleanups.push(
    () => server.close(),
    () => context.disconnect(),
  );
  return { server, env, context };
}

/** A Context on a TestClock over a fake transport (no sockets); `autoCreate` false: channels are created by hand. */
function fakeContext(autoCreate = true) {
  const clock = new TestClock();
  const fake = fakeTransport();
  if (!autoCreate) fake.settings.autoCreate = false;
  const context = new Context({ clock, transport: fake.transport, env: {}, hostName: 'h', clientName: 'u' });
  cleanups.push(() => context.disconnect());
  return { clock, fake, context };
}

/** Resolves when `cond()` holds (checked on every event-loop turn); fails after a generous deadline. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('issue 11 item 3: sync read, write, readWriteRead', () => {
  it('issue 11 item 3: read gives the native type, ENUM as its state string unless forceIntEnums', async () => {
    const { context } = await setup();
    const x = await read('sync:x', { context });
    expect(x.dataType).toBe(DbrType.DOUBLE);
    expect(Array.from(x.data as Float64Array)).toEqual([1.5]);
    expect(x.status).toBe(Eca.NORMAL);
    const mode = await read('sync:mode', { context });
    expect(mode.dataType).toBe(DbrType.STRING);
    expect(mode.data).toEqual(['on']);
    const index = await read('sync:mode', { context, forceIntEnums: true });
    expect(index.dataType).toBe(DbrType.ENUM);
    expect(Array.from(index.data as Uint16Array)).toEqual([1]);
    expect((await read('sync:name', { context })).data).toEqual(['hello']);
    expect(Array.from((await read('sync:wave', { context })).data as Int32Array)).toEqual([1, 2, 3, 4]);
  });

  it('issue 11 item 3: read takes a DBR id, a name or a class (time, control) and a count', async () => {
    const { context } = await setup();
    const time = await read('sync:x', { context, dataType: 'time' });
    expect(time.dataType).toBe(DbrType.TIME_DOUBLE);
    expect(typeof time.metadata.timestamp).toBe('number');
    const ctrl = await read('sync:x', { context, dataType: 'control' });
    expect(ctrl.dataType).toBe(DbrType.CTRL_DOUBLE);
    expect(ctrl.metadata.units).toBe('mm');
    const text = await read('sync:x', { context, dataType: DbrType.STRING });
    expect(text.dataType).toBe(DbrType.STRING);
    expect(Number((text.data as string[])[0])).toBe(1.5);
    expect((await read('sync:x', { context, dataType: 'DBR_STS_DOUBLE' })).dataType).toBe(DbrType.STS_DOUBLE);
    const two = await read('sync:wave', { context, dataCount: 2 });
    expect(Array.from(two.data as Int32Array)).toEqual([1, 2]);
    await expect(read('sync:x', { context, dataType: 'nonsense' })).rejects.toBeInstanceOf(CaValueError);
  });

  it('issue 11 item 3: write without notify resolves undefined; with notify the WRITE_NOTIFY response', async () => {
    const { server, context } = await setup();
    expect(await write('sync:x', 2.5, { context })).toBeUndefined();
    await until(() => server.pv('sync:x')?.data[0] === 2.5, 'the WRITE to land');
    const response = await write('sync:x', 3.5, { context, notify: true });
    expect(response).toMatchObject({ status: Eca.NORMAL, dataType: DbrType.DOUBLE, dataCount: 1 });
    expect(Array.from((await read('sync:x', { context })).data as Float64Array)).toEqual([3.5]);
  });

  it('an ENUM index past its states is refused by the server (ECA_PUTFAIL, as rsrv), the value kept', async () => {
    const { server, context } = await setup();
    // three states: 0..2
    const error = await write('sync:mode', 5, { context, notify: true }).then(
      () => null,
      (e: unknown) => e,
    );
    // before, 5 was stored and read back as the index 5 of a PV with three states
    expect(error).toBeInstanceOf(CaStatusError);
    expect((error as CaStatusError).eca).toBe(Eca.PUTFAIL);
    expect(server.pv('sync:mode')?.data[0]).toBe(1);
    await write('sync:mode', 2, { context, notify: true });
    expect((await read('sync:mode', { context })).data).toEqual(['auto']);
  });

  it('issue 11 item 3: a string to an ENUM channel is written as the state name', async () => {
    const { context } = await setup();
    await write('sync:mode', 'auto', { context, notify: true });
    expect((await read('sync:mode', { context })).data).toEqual(['auto']);
    await write('sync:mode', 0, { context, notify: true });
    expect((await read('sync:mode', { context })).data).toEqual(['off']);
  });

  it('issue 11 item 3: readWriteRead returns [initial, write response or null, final] over one channel', async () => {
    const { server, context } = await setup();
    const [initial, response, final] = await readWriteRead('sync:x', 7, { context, notify: true });
    expect(Array.from(initial.data as Float64Array)).toEqual([1.5]);
    expect(response).toMatchObject({ status: Eca.NORMAL });
    expect(Array.from(final.data as Float64Array)).toEqual([7]);
    const [, none] = await readWriteRead('sync:x', 8, { context });
    expect(none).toBeNull();
    const [, , timed] = await readWriteRead('sync:mode', 'off', {
      context,
      notify: true,
      readDataType: 'time',
    });
    expect(timed.dataType).toBe(DbrType.TIME_STRING);
    expect(timed.data).toEqual(['off']);
    expect(server.clientCount).toBe(1);
    expect(server.clients[0]?.channels).toBe(2);
  });

  it('issue 11 item 3: calls reuse the circuit and the channel (caproto reconnects per call)', async () => {
    const { server, context } = await setup();
    for (let i = 0; i < 20; i++) await read('sync:x', { context });
    await read('sync:name', { context });
    expect(server.clientCount).toBe(1);
    expect(server.clients[0]?.channels).toBe(2);
  });

  it('issue 11 item 3: a missing PV rejects with CaTimeoutError after the timeout', async () => {
    const { context } = await setup();
    await expect(read('sync:missing', { context, timeout: 200 })).rejects.toBeInstanceOf(CaTimeoutError);
    await expect(write('sync:missing', 1, { context, timeout: 200 })).rejects.toBeInstanceOf(CaTimeoutError);
    await expect(readWriteRead('sync:missing', 1, { context, timeout: 200 })).rejects.toBeInstanceOf(
      CaTimeoutError,
    );
  });

  it('issue 11 item 3: bad arguments are CaValueError or InvalidArgumentError before any I/O', async () => {
    const { context } = await setup();
    await expect(read('', { context })).rejects.toBeInstanceOf(CaValueError);
    await expect(read('sync:x', { context, priority: 100 })).rejects.toBeInstanceOf(CaValueError);
    await expect(read('sync:x', { context, timeout: -1 })).rejects.toThrow(/timeout/);
    expect(() => subscribe('')).toThrow(CaValueError);
    expect(() => subscribe('sync:x', { mask: 0 })).toThrow(CaValueError);
    expect(() => subscribe('sync:x').addCallback(42 as never)).toThrow(CaValueError);
    // what the block's monitor is made with, refused by subscribe() (it failed only once a block had connected)
    expect(() => subscribe('sync:x', { dataType: 'bogus' })).toThrow(CaValueError);
    expect(() => subscribe('sync:x', { dataType: 38 })).toThrow(CaValueError);
    expect(() => subscribe('sync:x', { low: 'a' as never })).toThrow(CaValueError);
    expect(() => subscribe('sync:x', { dataCount: 2 ** 33 })).toThrow(CaValueError);
    expect(subscribe('sync:x', { dataType: 'control', low: 1, high: 2, to: 3 }).options.dataType).toBe(
      'control',
    );
  });

  it('wrong argument types are CaValueError, never a raw TypeError', async () => {
    const { context } = await setup();
    const pv = context.getPv('sync:x');
    const sub = subscribe('sync:x');
    const calls: [string, () => unknown][] = [
      ['read(Symbol())', () => read(Symbol() as never, { context })],
      ["read(x, { context: 'nope' })", () => read('sync:x', { context: 'nope' as never })],
      ['read(x, { context: {} })', () => read('sync:x', { context: {} as never })],
      ['read(x, null)', () => read('sync:x', null as never)],
      ['write(x, 1, null)', () => write('sync:x', 1, null as never)],
      ['readWriteRead(x, 1, null)', () => readWriteRead('sync:x', 1, null as never)],
      ['pv.read(null)', () => pv.read(null as never)],
      ['pv.write(1, null)', () => pv.write(1, null as never)],
      ['pv.waitForConnection(null)', () => pv.waitForConnection(null as never)],
      ['pv.waitForSearch(null)', () => pv.waitForSearch(null as never)],
      ["ctx.getPv('X', null)", () => context.getPv('X', null as never)],
      ['ctx.getPvs([Object.create(null)])', () => context.getPvs([Object.create(null)])],
      ['pv.subscribe(null)', () => pv.subscribe(null as never)],
      ['pv.put(1, null)', () => pv.put(1, null as never)],
      ['new Batch(null)', () => new Batch(null as never)],
      ['batch.read({}, cb)', () => new Batch().read({} as never, () => {})],
      ['batch.write(Object.create(null), 1)', () => new Batch().write(Object.create(null), 1)],
      ["subscribe('x', null)", () => subscribe('sync:x', null as never)],
      ['block(sub, null)', () => block(sub, null as never)],
      ["block(sub, { context: 'nope' })", () => block(sub, { context: 'nope' as never })],
    ];
    await expectCaValueErrors(calls);
  });

  it('hostile option values (a BigInt, a circular or prototype-less object) are CaValueError, not a TypeError from the message', async () => {
    const { context } = await setup();
    const pv = context.getPv('sync:x');
    await pv.waitForConnection();
    const bare = Object.create(null) as never;
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const calls: [string, () => unknown][] = [
      ['pv.read({ dataType: 1n })', () => pv.read({ dataType: 1n as never })],
      ['pv.read({ dataType: circular })', () => pv.read({ dataType: circular as never })],
      ['pv.write(1, { dataType: 1n })', () => pv.write(1, { dataType: 1n as never })],
      ['pv.read({ dataCount: bare })', () => pv.read({ dataCount: bare })],
      ['pv.write(bare)', () => pv.write(bare)],
      ['pv.write([bare])', () => pv.write([bare])],
      ['pv.subscribe({ mask: bare })', () => pv.subscribe({ mask: bare })],
      ['pv.subscribe({ dataType: 1n })', () => pv.subscribe({ dataType: 1n as never })],
      ['sub.values({ capacity: bare })', () => pv.subscribe().values({ capacity: bare })],
      ["getPvs(['x'], { priority: bare })", () => context.getPvs(['sync:x'], { priority: bare })],
      ['read(x, { priority: bare })', () => read('sync:other', { context, priority: bare })],
      ['read(x, { dataCount: bare })', () => read('sync:x', { context, dataCount: bare })],
      ["subscribe('x', { mask: bare })", () => subscribe('sync:x', { mask: bare })],
      ["subscribe('x', { dataCount: bare })", () => subscribe('sync:x', { dataCount: bare })],
      // sync:x at priority 0 is cached by now: the cache must not let a bad priority through
      ["read(x, { priority: '0' })", () => read('sync:x', { context, priority: '0' as never })],
    ];
    await expectCaValueErrors(calls);
  });

  it("readWriteRead's timeout is one deadline on the Context's clock over its three requests", async () => {
    const { clock, fake, context } = fakeContext();
    const flush = () => new Promise((resolve) => setImmediate(resolve));
    const outcome: { error?: unknown; settled: boolean } = { settled: false };
    readWriteRead('F:RWR', 2, { context, timeout: 1000 }).then(
      () => Object.assign(outcome, { settled: true }),
      (error: unknown) => Object.assign(outcome, { error, settled: true }),
    );
    await flush();
    const [initial] = fake.circuit.sentOf(Command.READ_NOTIFY);
    clock.advance(900); // the first reply comes 900 ms into the call...
    fake.circuit.reply(
      readNotifyResponse(ChannelType.DOUBLE, 1, Eca.NORMAL, initial!.p2, encodeDbr(6, Float64Array.of(1))),
    );
    await flush();
    expect(fake.circuit.sentOf(Command.WRITE)).toHaveLength(1);
    expect(fake.circuit.sentOf(Command.READ_NOTIFY)).toHaveLength(2);
    clock.advance(100); // ...so the final read, never answered, has 100 ms left, not another 1000
    await flush();
    expect(outcome.settled).toBe(true);
    expect(outcome.error).toBeInstanceOf(CaTimeoutError);
  });

  it("without a timeout, the sync calls and block use the Context's: CAPROTO_DEFAULT_TIMEOUT or its timeout option", async () => {
    const clock = new TestClock();
    const fake = fakeTransport();
    fake.search.autoAnswer = null; // nothing is ever found
    const viaEnv = new Context({ clock, transport: fake.transport, env: { CAPROTO_DEFAULT_TIMEOUT: '0.3' } });
    const viaOption = new Context({ clock, transport: fake.transport, env: {}, timeout: 300 });
    cleanups.push(
      () => viaEnv.disconnect(),
      () => viaOption.disconnect(),
    );
    const flush = () => new Promise((resolve) => setImmediate(resolve));
    const calls = [viaEnv, viaOption].flatMap((context) => [
      read('F:NOWHERE', { context }),
      write('F:NOWHERE', 1, { context }),
      readWriteRead('F:NOWHERE', 1, { context }),
      block(subscribe('F:NOWHERE'), { context }).then(() => undefined),
    ]);
    const settled = calls.map(() => false);
    const errors: unknown[] = [];
    calls.forEach((call, i) => {
      call.then(
        () => {
          settled[i] = true;
        },
        (error: unknown) => {
          settled[i] = true;
          errors[i] = error;
        },
      );
    });
    await flush();
    clock.advance(300); // caproto's GLOBAL_DEFAULT_TIMEOUT is the env's; the sync calls used 2000 ms regardless
    await flush();
    expect(settled).toEqual(calls.map(() => true));
    for (const error of errors) expect(error).toBeInstanceOf(CaTimeoutError);
  });

  it('issue 11 item 3: the shared default Context serves calls without a context, until closed', async () => {
    const { env } = await setup();
    const shared = defaultContext({ env });
    expect(defaultContext()).toBe(shared);
    expect((await read('sync:name')).data).toEqual(['hello']);
    await write('sync:name', 'bye', { notify: true });
    expect((await read('sync:name')).data).toEqual(['bye']);
    await closeDefaultContext();
    const fresh = defaultContext({ env });
    expect(fresh).not.toBe(shared);
    await closeDefaultContext();
  });
});

describe('issue 11 item 3: sync subscribe, block, interrupt', () => {
  it('issue 11 item 3: subscribe does no I/O; block delivers (sub, response) with the TIME_ type', async () => {
    const { server, context } = await setup();
    const sub = subscribe('sync:x');
    const seen: [unknown, EventResponse][] = [];
    sub.addCallback((s, r) => seen.push([s, r]));
    await new Promise((r) => setTimeout(r, 50));
    expect(server.clientCount).toBe(0);
    const running = block(sub, { context });
    await until(() => seen.length === 1, 'the first update');
    server.pv('sync:x')?.write(4);
    await until(() => seen.length === 2, 'the second update');
    interrupt(running);
    const result = await running;
    expect(result).toEqual({ reason: 'interrupted', responses: 2 });
    expect(seen[0][0]).toBe(sub);
    expect(seen[1][1].dataType).toBe(DbrType.TIME_DOUBLE);
    expect(Array.from(seen[1][1].data as Float64Array)).toEqual([4]);
    expect(typeof seen[1][1].metadata.timestamp).toBe('number');
    // the block's monitor is gone: a later post reaches nobody
    server.pv('sync:x')?.write(5);
    await read('sync:x', { context });
    expect(seen).toHaveLength(2);
  });

  it('issue 11 item 3: ENUM monitors as TIME_STRING, or TIME_ENUM with forceIntEnums', async () => {
    const { context } = await setup();
    const strings: unknown[] = [];
    const ints: unknown[] = [];
    const a = subscribe('sync:mode');
    a.addCallback((_s, r) => strings.push([r.dataType, r.data[0]]));
    const b = subscribe('sync:mode', { priority: 1 });
    b.addCallback((_s, r) => ints.push([r.dataType, r.data[0]]));
    const one = block(a, { context });
    const two = block(b, { context, forceIntEnums: true });
    await until(() => strings.length === 1 && ints.length === 1, 'both first updates');
    one.interrupt();
    two.interrupt();
    await Promise.all([one, two]);
    expect(strings).toEqual([[DbrType.TIME_STRING, 'on']]);
    expect(ints).toEqual([[DbrType.TIME_ENUM, 1]]);
  });

  it('issue 11 item 3: interrupt(block) stops only that block (caproto stops every block)', async () => {
    const { server, context } = await setup();
    const first: number[] = [];
    const second: number[] = [];
    const s1 = subscribe('sync:x');
    s1.addCallback((_s, r) => first.push(Number(r.data[0])));
    const s2 = subscribe('sync:x', { mask: 1 });
    s2.addCallback((_s, r) => second.push(Number(r.data[0])));
    const b1 = block(s1, { context });
    const b2 = block(s2, { context });
    await until(() => first.length === 1 && second.length === 1, 'both first updates');
    interrupt(b1);
    interrupt(b1); // idempotent
    expect(await b1).toMatchObject({ reason: 'interrupted' });
    expect(b1.active).toBe(false);
    expect(b2.active).toBe(true);
    server.pv('sync:x')?.write(9);
    await until(() => second.length === 2, 'the second block to go on');
    expect(first).toEqual([1.5]);
    expect(second).toEqual([1.5, 9]);
    s2.interrupt(); // the subscription stops the blocks running it
    expect(await b2).toMatchObject({ reason: 'interrupted' });
  });

  it("interrupt() without a block (caproto's call) is a CaValueError naming what to pass, not a TypeError", () => {
    for (const arg of [undefined, null, {}]) {
      expect(() => interrupt(arg as never), String(arg)).toThrow(CaValueError);
    }
  });

  it('issue 11 item 3: block ends after duration on the clock, and when its signal aborts', async () => {
    const { context } = await setup();
    const clock = new TestClock();
    let n = 0;
    const sub = subscribe('sync:x');
    sub.addCallback(() => n++);
    const timed: Block = sub.block({ context, duration: 60_000, clock });
    await until(() => n === 1, 'the first update');
    expect(timed.active).toBe(true);
    clock.advance(60_000);
    expect(await timed).toEqual({ reason: 'duration', responses: 1 });
    const controller = new AbortController();
    const aborted = block([sub], { context, signal: controller.signal });
    await until(() => n === 2, 'the first update of the second block');
    controller.abort();
    expect(await aborted).toEqual({ reason: 'aborted', responses: 1 });
  });

  it('issue 11 item 3: a missing PV rejects the block with CaTimeoutError; a throwing callback ends it', async () => {
    const { context } = await setup();
    await expect(block(subscribe('sync:missing'), { context, timeout: 200 })).rejects.toBeInstanceOf(
      CaTimeoutError,
    );
    const sub = subscribe('sync:x');
    const boom = new Error('enough');
    sub.addCallback(() => {
      throw boom;
    });
    await expect(block(sub, { context })).rejects.toBe(boom);
  });

  it("a monitor the server refuses (EVENT_ADD answered CA_PROTO_ERROR) ends the block with that error, as caproto's", async () => {
    const { context } = await setup();
    // 4 elements: a count of 1000 is ECA_BADCOUNT
    const sub = subscribe('sync:wave', { dataCount: 1000 });
    let n = 0;
    sub.addCallback(() => n++);
    // before, the block ran on with no update (the error only logged), for ever without a duration
    const error = await block(sub, { context, timeout: 2000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ErrorResponseReceived);
    expect((error as ErrorResponseReceived).eca).toBe(Eca.BADCOUNT);
    expect(n).toBe(0);
  });

  it('a refused monitor ends: its iterator throws the error, status() fails with it, lastError keeps it', async () => {
    const { context } = await setup();
    const pv = context.getPv('sync:wave');
    const sub = pv.subscribe({ dataCount: 1000 });
    const closed = new Promise<unknown>((resolve) => sub.onClose(resolve));
    const iterated = (async () => {
      for await (const _ of sub) return 'an update';
      return 'ended';
    })().catch((e: unknown) => e);
    const got = await iterated;
    expect(got).toBeInstanceOf(ErrorResponseReceived);
    expect(await closed).toBe(got);
    expect(sub.lastError).toBe(got);
    // the PV forgets it: a new subscribe() makes a new one
    expect(pv.subscribe({ dataCount: 1000 })).not.toBe(sub);
  });

  it('a running block rejects with ContextDisconnectedError when its Context disconnects', async () => {
    const { context } = await setup();
    let n = 0;
    const sub = subscribe('sync:x');
    sub.addCallback(() => n++);
    const running = block(sub, { context });
    const ended: { error?: unknown } = {};
    running.then(
      () => {},
      (error: unknown) => {
        ended.error = error;
      },
    );
    await until(() => n === 1, 'the first update');
    await context.disconnect();
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended.error).toBeInstanceOf(ContextDisconnectedError);
    expect(running.active).toBe(false);
  });

  it('a channel lost between connecting and subscribing is subscribed once it is back', async () => {
    const { clock, fake, context } = fakeContext(false);
    const flush = () => new Promise((resolve) => setImmediate(resolve));
    const sub = subscribe('F:LOST');
    const running = block(sub, { context, clock });
    await flush(); // found: CREATE_CHAN sent
    const pv = context.getPv('F:LOST');
    fake.circuit.reply(createChanResponse(ChannelType.DOUBLE, 1, pv.cid, 1)); // the block's wait is over...
    fake.circuit.reply(serverDisconnResponse(pv.cid)); // ...and the channel is gone before it subscribes
    await flush(); // found again: a second CREATE_CHAN, not answered yet
    expect(pv.connected).toBe(false);
    expect(fake.circuit.sentOf(Command.CREATE_CHAN)).toHaveLength(2);
    expect(running.active).toBe(true);
    fake.circuit.reply(createChanResponse(ChannelType.DOUBLE, 1, pv.cid, 2));
    expect(pv.connected).toBe(true);
    await flush();
    const adds = fake.circuit.sentOf(Command.EVENT_ADD);
    expect(adds).toHaveLength(1);
    expect(adds[0]!.dataType).toBe(DbrType.TIME_DOUBLE);
    running.interrupt();
    await running;
  });

  it('issue 11 item 3: removeCallback and clear stop delivery to those callbacks; clear also ends the blocks running it (caproto)', async () => {
    const { server, context } = await setup();
    const a: number[] = [];
    const b: number[] = [];
    const sub = subscribe('sync:x');
    const ta = sub.addCallback((_s, r) => a.push(Number(r.data[0])));
    sub.addCallback((_s, r) => b.push(Number(r.data[0])));
    const running = block(sub, { context });
    await until(() => a.length === 1 && b.length === 1, 'the first update');
    sub.removeCallback(ta);
    server.pv('sync:x')?.write(2);
    await until(() => b.length === 2, 'the second update');
    expect(a).toEqual([1.5]);
    const other = subscribe('sync:x');
    const otherRunning = block(other, { context });
    sub.clear();
    expect(sub.callbackCount).toBe(0);
    // as caproto's clear(): "Remove all callbacks. If currently blocking, interrupt." (only the blocks running it)
    expect(running.active).toBe(false);
    expect((await running).reason).toBe('interrupted');
    expect(otherRunning.active).toBe(true);
    server.pv('sync:x')?.write(3);
    await read('sync:x', { context });
    expect(b).toEqual([1.5, 2]);
    otherRunning.interrupt();
    await otherRunning;
  });
});
