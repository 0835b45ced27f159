/**
 * Context and PV on a TestClock with an in-process search and circuits (issue 11 items 2, 3 and 6): per-request
 * deadlines that free the ioid and drop a late reply, up to three attempts across circuit deaths within one
 * deadline, AbortSignal, failure ECA and ERROR replies as typed errors, CREATE_CH_FAIL back-off, SERVER_DISCONN
 * re-search with the monitor re-activated, stray CREATE_CHAN cleared, goIdle refused while in use, disconnect.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CancelledError, InvalidArgumentError } from '../../src/errors.js';
import { Batch } from '../../src/protocols/ca/batch.js';
import { block, subscribe } from '../../src/protocols/ca/block.js';
import { CircuitConnection, CircuitQueueFullError } from '../../src/protocols/ca/circuit.js';
import {
  createChanFailResponse,
  createChanResponse,
  errorResponse,
  eventAddResponse,
  readNotifyResponse,
  serverDisconnResponse,
  writeNotifyResponse,
} from '../../src/protocols/ca/commands.js';
import { Command, Eca } from '../../src/protocols/ca/constants.js';
import { Context } from '../../src/protocols/ca/context.js';
import { encodeDbr } from '../../src/protocols/ca/dbr.js';
import {
  CaDisconnectedError,
  CaStatusError,
  CaTimeoutError,
  CaValueError,
  ContextDisconnectedError,
  ErrorResponseReceived,
} from '../../src/protocols/ca/errors.js';
import { encodeFrame } from '../../src/protocols/ca/frame.js';
import { TestClock } from '../../src/testing/index.js';
import { advance, flush } from '../support/simulatedTime.js';
import { expectCaValueErrors } from './support/expectCaValueErrors.js';
import { fakeTransport } from './support/fakeTransport.js';
import { blackholePort } from './support/rawPeer.js';

const contexts: Context[] = [];
afterEach(async () => {
  for (const c of contexts.splice(0)) await c.disconnect();
});

function setup(timeout = 1000) {
  const clock = new TestClock();
  const fake = fakeTransport();
  const context = new Context({
    clock,
    transport: fake.transport,
    timeout,
    env: {},
    hostName: 'h',
    clientName: 'u',
  });
  contexts.push(context);
  return { clock, fake, context };
}

const double = (v: number) => encodeDbr(6, Float64Array.of(v));
const outcome = <T>(p: PromiseLike<T>) => {
  const o: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  p.then(
    (value) => Object.assign(o, { value, settled: true }),
    (error: unknown) => Object.assign(o, { error, settled: true }),
  );
  return o;
};

describe('issue 11 item 6: deadlines, late replies and circuit deaths (TestClock)', () => {
  it('frees the ioid at the deadline; the late reply is dropped', async () => {
    const { clock, fake, context } = setup();
    const pv = context.getPv('D:X');
    await pv.waitForConnection();
    expect(pv.channelState).toBe('connected');
    const read = outcome(pv.read({ timeout: 100 }));
    await flush();
    const [request] = fake.circuit.sentOf(Command.READ_NOTIFY);
    expect(context.circuits[0]!.pendingOps).toBe(1);
    await advance(clock, 99);
    expect(read.settled).toBe(false);
    await advance(clock, 1);
    expect(read.error).toBeInstanceOf(CaTimeoutError);
    expect((read.error as Error).message).toBe(
      `Server at 127.0.0.1:5064 did not respond to attempt to read channel named D:X within 0.1-second timeout. The ioid of the expected response is ${request!.p2}.`,
    );
    expect(context.circuits[0]!.pendingOps).toBe(0);
    expect(pv.pendingRequests).toBe(0);
    fake.circuit.reply(readNotifyResponse(6, 1, Eca.NORMAL, request!.p2, double(1)));
    const next = pv.read();
    await flush();
    const [, second] = fake.circuit.sentOf(Command.READ_NOTIFY);
    expect(second!.p2).not.toBe(request!.p2);
    fake.circuit.reply(readNotifyResponse(6, 1, Eca.NORMAL, second!.p2, double(2)));
    expect(Array.from((await next).data as Float64Array)).toEqual([2]);
  });

  it('retries across circuit deaths within one deadline; the third death fails the request', async () => {
    const { fake, context } = setup(10_000);
    const pv = context.getPv('D:RETRY');
    await pv.waitForConnection();
    const read = outcome(pv.read());
    for (let n = 1; n <= 2; n++) {
      await flush();
      expect(fake.circuit.sentOf(Command.READ_NOTIFY)).toHaveLength(1);
      fake.circuit.close(new Error(`death ${n}`));
      await flush();
    }
    await flush();
    expect(fake.circuits).toHaveLength(3);
    const [request] = fake.circuit.sentOf(Command.READ_NOTIFY);
    fake.circuit.reply(readNotifyResponse(6, 1, Eca.NORMAL, request!.p2, double(7)));
    await flush();
    expect(Array.from(read.value!.data as Float64Array)).toEqual([7]);
    const again = outcome(pv.read());
    for (let n = 1; n <= 3; n++) {
      await flush();
      fake.circuit.close(new Error(`death ${n}`));
      await flush();
    }
    await flush();
    expect(again.error).toBeInstanceOf(CaDisconnectedError);
    expect((again.error as Error).message).toMatch(/closed: death 3$/);
  });

  it('an AbortSignal cancels a request and frees its ioid', async () => {
    const { fake, context } = setup();
    const pv = context.getPv('D:ABORT');
    await pv.waitForConnection();
    const controller = new AbortController();
    const write = outcome(pv.write(1, { signal: controller.signal }));
    await flush();
    expect(fake.circuit.sentOf(Command.WRITE_NOTIFY)).toHaveLength(1);
    controller.abort();
    await flush();
    expect(write.error).toBeInstanceOf(CancelledError);
    expect(context.circuits[0]!.pendingOps).toBe(0);
    await expect(pv.read({ signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
    await expect(pv.waitForConnection({ signal: controller.signal })).resolves.toBeUndefined();
  });

  it('a signal aborted right after read()/write()/put() on a connected PV cancels them and frees the ioid', async () => {
    const { fake, context } = setup();
    const pv = context.getPv('D:ABORT:LATE');
    await pv.waitForConnection();
    const readAbort = new AbortController();
    const read = outcome(pv.read({ signal: readAbort.signal }));
    readAbort.abort();
    const writeAbort = new AbortController();
    const write = outcome(pv.write(1, { wait: true, timeout: null, signal: writeAbort.signal }));
    writeAbort.abort();
    const put = pv.put(2);
    put.cancel();
    await flush();
    // replies to whatever went out must not resolve them
    for (const r of fake.circuit.sentOf(Command.READ_NOTIFY)) {
      fake.circuit.reply(readNotifyResponse(6, 1, Eca.NORMAL, r.p2, double(1)));
    }
    for (const w of fake.circuit.sentOf(Command.WRITE_NOTIFY)) {
      fake.circuit.reply(writeNotifyResponse(6, 1, Eca.NORMAL, w.p2));
    }
    await flush();
    expect(read.error).toBeInstanceOf(CancelledError);
    expect(write.error).toBeInstanceOf(CancelledError);
    expect(put.exception()).toBeInstanceOf(CancelledError);
    expect(context.circuits[0]!.pendingOps).toBe(0);
    expect(pv.pendingRequests).toBe(0);
  });

  it('a request the circuit refuses (CircuitQueueFullError) fails with it and holds no ioid or timer', async () => {
    const { clock, fake, context } = setup();
    const pv = context.getPv('D:FULL');
    await pv.waitForConnection();
    const full = new CircuitQueueFullError('full');
    fake.circuit.send = () => {
      throw full;
    };
    await expect(pv.write(1)).rejects.toBe(full);
    await expect(pv.read()).rejects.toBe(full);
    expect(context.circuits[0]!.pendingOps).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('a signal that is not an AbortSignal is a CaValueError before any request: no ioid, waiter or timer is left', async () => {
    const { clock, fake, context } = setup();
    const pv = context.getPv('D:SIGNAL');
    await pv.waitForConnection();
    fake.search.autoAnswer = null;
    const unconnected = context.getPv('D:SIGNAL:UNCONNECTED');
    const hostile = [{}, 'abort', { aborted: false, addEventListener: 1 }];
    for (const signal of hostile) {
      const calls: [string, () => unknown][] = [
        ['pv.read', () => pv.read({ signal: signal as never, timeout: null })],
        ['pv.write', () => pv.write(1, { signal: signal as never, timeout: null })],
        ['pv.waitForConnection', () => unconnected.waitForConnection({ signal: signal as never })],
        ['pv.waitForSearch', () => unconnected.waitForSearch({ signal: signal as never })],
        ['block', () => block(subscribe('D:SIGNAL'), { context, signal: signal as never })],
      ];
      await expectCaValueErrors(calls, ` with signal ${JSON.stringify(signal)}`);
    }
    expect(fake.circuit.sentOf(Command.READ_NOTIFY)).toHaveLength(0);
    expect(fake.circuit.sentOf(Command.WRITE_NOTIFY)).toHaveLength(0);
    expect(context.circuits[0]!.pendingOps).toBe(0);
    expect(pv.pendingRequests).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it("a Batch's timeout bounds the whole batch: a PV that connects late has only what is left for its reply", async () => {
    const { clock, fake, context } = setup(10_000);
    fake.search.autoAnswer = null;
    const pv = context.getPv('D:BATCH:LATE');
    const batch = new Batch({ timeout: 1000 });
    batch.read(pv, () => {});
    const sent = outcome(batch.send());
    await advance(clock, 900);
    fake.search.answer('D:BATCH:LATE');
    await flush();
    expect(pv.connected).toBe(true);
    expect(fake.circuit.sentOf(Command.READ_NOTIFY)).toHaveLength(1);
    // no reply: the read fails at the batch's deadline (1000 ms after send()), not a whole timeout after connecting
    await advance(clock, 100);
    expect(sent.settled).toBe(true);
    expect(sent.value?.failures.map((f) => f.error)).toEqual([expect.any(CaTimeoutError)]);
    expect(context.circuits[0]!.pendingOps).toBe(0);
  });

  it('put() with a bad Status option throws before anything is written: no WRITE_NOTIFY, no request left', async () => {
    const { fake, context } = setup();
    const pv = context.getPv('D:PUT:BAD');
    await pv.waitForConnection();
    expect(() => pv.put(1, { settleTime: -1 })).toThrow(InvalidArgumentError);
    expect(() => pv.put(1, { name: 5 as never })).toThrow(InvalidArgumentError);
    await flush();
    // the refused put must not move the device, nor leave a request whose failure nobody would handle
    expect(fake.circuit.sentOf(Command.WRITE_NOTIFY)).toHaveLength(0);
    expect(pv.pendingRequests).toBe(0);
  });

  it('eventsOff/eventsOn reach every circuit when one refuses (CircuitQueueFullError): that one is thrown after', async () => {
    const { fake, context } = setup();
    fake.search.autoAnswer = null;
    const a = context.getPv('D:A');
    const b = context.getPv('D:B');
    await flush();
    fake.search.answer('D:A', { host: '127.0.0.1', port: 5064 });
    fake.search.answer('D:B', { host: '127.0.0.1', port: 5065 });
    await Promise.all([a.waitForConnection(), b.waitForConnection()]);
    expect(fake.circuits).toHaveLength(2);
    const [refusing, other] = fake.circuits;
    const full = new CircuitQueueFullError('full');
    refusing!.send = () => {
      throw full;
    };
    expect(() => context.eventsOff()).toThrow(full);
    expect(other!.sentOf(Command.EVENTS_OFF)).toHaveLength(1);
    expect(() => context.eventsOn()).toThrow(full);
    expect(other!.sentOf(Command.EVENTS_ON)).toHaveLength(1);
  });

  it('a failure ECA is a CaStatusError, a server ERROR an ErrorResponseReceived', async () => {
    const { fake, context } = setup();
    const pv = context.getPv('D:ERR');
    await pv.waitForConnection();
    const write = outcome(pv.write(1));
    const read = outcome(pv.read());
    await flush();
    const [w] = fake.circuit.sentOf(Command.WRITE_NOTIFY);
    const [r] = fake.circuit.sentOf(Command.READ_NOTIFY);
    fake.circuit.reply(writeNotifyResponse(6, 1, Eca.PUTFAIL, w!.p2));
    fake.circuit.reply(errorResponse(pv.cid, Eca.BADTYPE, encodeFrame(r!), 'bad type'));
    await flush();
    expect(write.error).toBeInstanceOf(CaStatusError);
    expect((write.error as CaStatusError).ecaName).toBe('ECA_PUTFAIL');
    expect(read.error).toBeInstanceOf(ErrorResponseReceived);
    expect((read.error as ErrorResponseReceived).serverMessage).toBe('bad type');
  });
});

describe('a monitor whose EVENT_ADD the circuit refuses (CircuitQueueFullError: the server stopped reading)', () => {
  const refuseEventAdd = (error: Error) => (f: { command: number }) =>
    f.command === Command.EVENT_ADD ? error : undefined;

  it('ends with that error: its iterator throws it, status() and onClose get it, nothing is left, the circuit keeps working', async () => {
    const { clock, fake, context } = setup();
    const pv = context.getPv('D:MONFULL');
    await pv.waitForConnection();
    const full = new CircuitQueueFullError('full');
    fake.circuit.refuse = refuseEventAdd(full);
    const sub = pv.subscribe();
    const ended: (Error | undefined)[] = [];
    sub.onClose((error) => ended.push(error));
    const values = sub.values();
    const next = outcome(values.next());
    const status = sub.status(() => true);
    await flush();
    expect(next.error).toBe(full);
    expect(await values.next()).toEqual({ value: undefined, done: true });
    expect(status.exception()).toBe(full);
    expect(ended).toEqual([full]);
    expect(sub.state).toBe('closed');
    expect(sub.lastError).toBe(full);
    expect(sub.callbackCount).toBe(0);
    expect(context.circuits[0]!.subscriptionCount).toBe(0);
    expect(context.supervisor.children()).not.toContain(sub.actorId);
    expect(() => sub.addCallback(() => {})).toThrow(CaValueError);
    // the channel and its circuit keep working: a read, and a new monitor once the server reads again
    fake.circuit.refuse = null;
    const read = outcome(pv.read());
    await flush();
    const [r] = fake.circuit.sentOf(Command.READ_NOTIFY);
    fake.circuit.reply(readNotifyResponse(6, 1, Eca.NORMAL, r!.p2, double(5)));
    await flush();
    expect(read.value?.data[0]).toBe(5);
    const again = pv.subscribe();
    expect(again).not.toBe(sub);
    const got: number[] = [];
    again.addCallback((_s, response) => got.push(Number(response.data[0])));
    const [add] = fake.circuit.sentOf(Command.EVENT_ADD);
    fake.circuit.reply(eventAddResponse(6, 1, Eca.NORMAL, add!.p2, double(7)));
    expect(got).toEqual([7]);
    expect(again.state).toBe('active');
    expect(context.circuits[0]!.subscriptionCount).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('a block whose monitor cannot be subscribed ends with the refusal', async () => {
    const { clock, fake, context } = setup();
    await context.getPv('D:BLOCKFULL').waitForConnection();
    const full = new CircuitQueueFullError('full');
    fake.circuit.refuse = refuseEventAdd(full);
    const running = outcome(block(subscribe('D:BLOCKFULL'), { context, clock }));
    await flush();
    await flush();
    expect(running.error).toBe(full);
    expect(context.circuits[0]!.subscriptionCount).toBe(0);
  });

  it('a re-subscription after a reconnection that the new circuit refuses ends the monitor with the error', async () => {
    const { fake, context } = setup();
    const pv = context.getPv('D:RESUB');
    const sub = pv.subscribe();
    const values: number[] = [];
    sub.addCallback((_s, r) => values.push(Number(r.data[0])));
    const ended: (Error | undefined)[] = [];
    sub.onClose((error) => ended.push(error));
    await pv.waitForConnection();
    const [add] = fake.circuit.sentOf(Command.EVENT_ADD);
    fake.circuit.reply(eventAddResponse(6, 1, Eca.NORMAL, add!.p2, double(1)));
    const full = new CircuitQueueFullError('full');
    fake.settings.refuse = refuseEventAdd(full);
    fake.circuit.close(new CaDisconnectedError('the server went away'));
    await flush();
    await pv.waitForConnection();
    await flush();
    expect(fake.circuits).toHaveLength(2);
    expect(sub.activations).toBe(2);
    expect(ended).toEqual([full]);
    expect(sub.state).toBe('closed');
    expect(sub.lastError).toBe(full);
    expect(context.circuits[0]!.subscriptionCount).toBe(0);
    expect(pv.connected).toBe(true);
    expect(values).toEqual([1]);
  });
});

describe('issue 11 item 2: channel lifecycle over fake circuits (TestClock)', () => {
  it('CREATE_CH_FAIL backs off 1 s, then searches again and connects', async () => {
    const { clock, fake, context } = setup();
    fake.search.autoAnswer = null;
    fake.settings.autoCreate = false;
    const pv = context.getPv('D:FAIL');
    await flush();
    fake.search.answer('D:FAIL');
    await flush();
    fake.circuit.reply(createChanFailResponse(pv.cid));
    expect(pv.channelState).toBe('backingOff');
    await advance(clock, 999);
    expect(fake.search.adds).toEqual(['D:FAIL']);
    await advance(clock, 1);
    expect(pv.channelState).toBe('searching');
    expect(fake.search.adds).toEqual(['D:FAIL', 'D:FAIL']);
    fake.search.answer('D:FAIL');
    await flush();
    fake.circuit.reply(createChanResponse(6, 1, pv.cid, 5));
    expect(pv.connected).toBe(true);
  });

  it('SERVER_DISCONN re-searches; the monitor goes pending and is re-added on reconnection', async () => {
    const { fake, context } = setup();
    const pv = context.getPv('D:SD');
    const sub = pv.subscribe();
    const values: number[] = [];
    sub.addCallback((_s, r) => values.push(Number(r.data[0])));
    await pv.waitForConnection();
    const [add1] = fake.circuit.sentOf(Command.EVENT_ADD);
    fake.circuit.reply(eventAddResponse(6, 1, Eca.NORMAL, add1!.p2, double(1)));
    fake.circuit.reply(serverDisconnResponse(pv.cid));
    expect(sub.state).toBe('pending');
    // an update for the forgotten subscription id is not delivered
    fake.circuit.reply(eventAddResponse(6, 1, Eca.NORMAL, add1!.p2, double(99)));
    await pv.waitForConnection();
    const adds = fake.circuit.sentOf(Command.EVENT_ADD);
    expect(adds).toHaveLength(2);
    fake.circuit.reply(eventAddResponse(6, 1, Eca.NORMAL, adds[1]!.p2, double(2)));
    expect(values).toEqual([1, 2]);
    expect(sub.activations).toBe(2);
    expect(fake.circuits).toHaveLength(1);
  });

  it('a CREATE_CHAN reply nobody waits for is cleared on the server', async () => {
    const { fake, context } = setup();
    await context.getPv('D:ANY').waitForConnection();
    fake.circuit.reply(createChanResponse(6, 1, 4242, 77));
    const [clear] = fake.circuit.sentOf(Command.CLEAR_CHANNEL);
    expect([clear!.p1, clear!.p2]).toEqual([77, 4242]);
  });

  it('a CREATE_CHAN reply with a native type outside 0..6 is refused as CREATE_CH_FAIL: cleared on the server, backs off', async () => {
    const { clock, fake, context } = setup();
    fake.search.autoAnswer = null;
    fake.settings.autoCreate = false;
    const pv = context.getPv('D:BADTYPE');
    await flush();
    fake.search.answer('D:BADTYPE');
    await flush();
    fake.circuit.reply(createChanResponse(99, 1, pv.cid, 77));
    expect(pv.channelState).toBe('backingOff');
    expect(pv.connected).toBe(false);
    expect(pv.nativeType).toBeUndefined();
    const [clear] = fake.circuit.sentOf(Command.CLEAR_CHANNEL);
    expect([clear!.p1, clear!.p2]).toEqual([77, pv.cid]);
    // a reply for the cid after that is a stray one: cleared too, the channel is not connected by it
    fake.circuit.reply(createChanResponse(6, 1, pv.cid, 78));
    expect(pv.channelState).toBe('backingOff');
    await advance(clock, 1000);
    fake.search.answer('D:BADTYPE');
    await flush();
    fake.circuit.reply(createChanResponse(6, 1, pv.cid, 79));
    expect(pv.connected).toBe(true);
    expect(pv.nativeType).toBe(6);
  });

  it('goIdle is refused while a request is in flight or a monitor has callbacks', async () => {
    const { fake, context } = setup();
    const pv = context.getPv('D:IDLE');
    await pv.waitForConnection();
    const read = pv.read();
    await flush();
    pv.goIdle();
    expect(pv.channelState).toBe('connected');
    const [r] = fake.circuit.sentOf(Command.READ_NOTIFY);
    fake.circuit.reply(readNotifyResponse(6, 1, Eca.NORMAL, r!.p2, double(1)));
    await read;
    const token = pv.subscribe().addCallback(() => {});
    pv.goIdle();
    expect(pv.channelState).toBe('connected');
    pv.subscribe().removeCallback(token);
    pv.goIdle();
    expect(pv.channelState).toBe('idle');
    expect(fake.circuit.sentOf(Command.CLEAR_CHANNEL)).toHaveLength(1);
  });

  it('a queued search the search refuses does not keep the others from being searched', async () => {
    const { fake, context } = setup();
    const add = fake.search.add.bind(fake.search);
    fake.search.add = (cid, name) => {
      if (name === 'D:REFUSED') throw new CaValueError('refused');
      add(cid, name);
    };
    // queued before the search has started
    context.getPv('D:REFUSED');
    const good = context.getPv('D:GOOD');
    const connected = outcome(good.waitForConnection());
    await flush();
    await flush();
    expect(fake.search.adds).toEqual(['D:GOOD']);
    expect(connected.settled).toBe(true);
    expect(connected.error).toBeUndefined();
  });

  it('a circuit that cannot be opened fails the waits with its error and backs off before searching again', async () => {
    const { clock, fake, context } = setup(10_000);
    fake.search.autoAnswer = null;
    const refusal = new CaValueError('no circuit');
    fake.transport.openCircuit = () => {
      throw refusal;
    };
    const pv = context.getPv('D:NOCIRCUIT');
    const read = outcome(pv.read());
    await flush();
    fake.search.answer('D:NOCIRCUIT');
    await flush();
    expect(read.error).toBe(refusal);
    expect(pv.channelState).toBe('backingOff');
    expect(fake.search.adds).toEqual(['D:NOCIRCUIT']);
    await advance(clock, 999);
    expect(fake.search.adds).toHaveLength(1);
    await advance(clock, 1);
    expect(fake.search.adds).toHaveLength(2);
    // a connection timeout no circuit accepts is refused by the Context itself
    for (const connectionTimeout of [0, -1, Number.NaN]) {
      expect(() => new Context({ connectionTimeout, env: {}, transport: fake.transport })).toThrow(
        CaValueError,
      );
    }
  });

  it('a circuit whose connect is never answered (blackhole) closes at the connection timeout: waits fail with its CaTimeoutError, the channel backs off and tries again', async () => {
    const hole = await blackholePort();
    try {
      const clock = new TestClock();
      const fake = fakeTransport();
      fake.search.autoAnswer = { host: '127.0.0.1', port: hole.port };
      const circuits: CircuitConnection[] = [];
      const context = new Context({
        clock,
        env: {},
        hostName: 'h',
        clientName: 'u',
        timeout: 10_000,
        connectionTimeout: 500,
        transport: {
          createSearch: fake.transport.createSearch,
          openCircuit: (options) => {
            const circuit = CircuitConnection.open(options);
            circuits.push(circuit);
            return circuit;
          },
        },
      });
      contexts.push(context);
      const pv = context.getPv('D:HOLE');
      const connected = outcome(pv.waitForConnection());
      await flush();
      expect(pv.channelState).toBe('connecting');
      expect(circuits).toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, 100)); // real time: the SYN goes unanswered
      expect(circuits[0]!.state).toBe('connecting');
      await advance(clock, 500);
      expect(circuits[0]!.state).toBe('closed');
      expect(connected.error).toBeInstanceOf(CaTimeoutError);
      expect((connected.error as Error).message).toContain(`127.0.0.1:${hole.port}`);
      expect(pv.channelState).toBe('backingOff');
      await circuits[0]!.closed; // its socket is released
      expect(context.circuits).toHaveLength(0);
      // the back-off of a circuit that cannot be opened: 1 s, then a new search and a new circuit
      await advance(clock, 999);
      expect(fake.search.adds).toHaveLength(1);
      await advance(clock, 1);
      expect(fake.search.adds).toHaveLength(2);
      expect(circuits).toHaveLength(2);
      expect(circuits[1]!.state).toBe('connecting');
      await context.disconnect();
      expect(circuits[1]!.state).toBe('closed');
      expect(clock.pending).toBe(0);
    } finally {
      await hole.close();
    }
  });

  it('disconnect cancels monitors, clears channels, fails pending requests and closes the search', async () => {
    const { fake, context } = setup();
    const pv = context.getPv('D:END');
    pv.subscribe().addCallback(() => {});
    await pv.waitForConnection();
    const read = outcome(pv.read());
    await flush();
    await context.disconnect();
    await flush();
    expect(read.error).toBeInstanceOf(ContextDisconnectedError);
    expect(fake.circuit.sentOf(Command.EVENT_CANCEL)).toHaveLength(1);
    expect(fake.circuit.sentOf(Command.CLEAR_CHANNEL)).toHaveLength(1);
    expect(fake.circuit.state).toBe('closed');
    expect(fake.search.closed).toBe(true);
    expect(context.system.stopped).toBe(true);
  });
});
