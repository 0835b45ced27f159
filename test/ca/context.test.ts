/**
 * Context and PV against Orrery's CA server over loopback (issue 11 items 2 and 3): search, one circuit per
 * (server, priority), reads of every native type, ENUM as strings, writes with and without notify, typed errors,
 * go idle, connection and access-rights callbacks, terminal disconnect.
 */
import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/engine/system.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { block, subscribe } from '../../src/protocols/ca/block.js';
import { ChannelType, DbrType, Eca } from '../../src/protocols/ca/constants.js';
import { Context } from '../../src/protocols/ca/context.js';
import {
  CaStatusError,
  CaTimeoutError,
  CaValueError,
  ContextDisconnectedError,
} from '../../src/protocols/ca/errors.js';
import { useCaPeers } from './support/caContext.js';

const peers = useCaPeers();

const PVS = [
  { name: 'T:DOUBLE', type: 'double' as const, value: 1.5, units: 'mm', precision: 3 },
  { name: 'T:LONG', type: 'long' as const, value: 42 },
  { name: 'T:STRING', type: 'string' as const, value: 'hello' },
  { name: 'T:ENUM', type: 'enum' as const, value: 1, enumStrings: ['off', 'on', 'fault'] },
  { name: 'T:WAVE', type: 'double' as const, value: [1, 2, 3, 4] },
  { name: 'T:RO', type: 'long' as const, value: 7, access: 'read-only' as const },
];

describe('issue 11 item 3: Context and PV against a real CaServer', () => {
  it('reads every kind of channel, ENUM as a string unless forceIntEnums, metadata by class', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = peers.context(server);
    const [d, l, s, e, w] = ctx.getPvs(['T:DOUBLE', 'T:LONG', 'T:STRING', 'T:ENUM', 'T:WAVE']);
    expect(Array.from((await d!.read()).data as Float64Array)).toEqual([1.5]);
    expect(Array.from((await l!.read()).data as Int32Array)).toEqual([42]);
    expect((await s!.read()).data).toEqual(['hello']);
    const en = await e!.read();
    expect(en.dataType).toBe(DbrType.STRING);
    expect(en.data).toEqual(['on']);
    expect(Array.from((await e!.read({ forceIntEnums: true })).data as Uint16Array)).toEqual([1]);
    const ctrl = await e!.read({ dataType: 'control' });
    expect(ctrl.dataType).toBe(DbrType.CTRL_ENUM);
    expect(ctrl.metadata.enumStrings).toEqual(['off', 'on', 'fault']);
    expect(Array.from((await w!.read()).data as Float64Array)).toEqual([1, 2, 3, 4]);
    const time = await d!.read({ dataType: 'time' });
    expect(time.dataType).toBe(DbrType.TIME_DOUBLE);
    expect(typeof time.metadata.timestamp).toBe('number');
    expect((await d!.read({ dataType: 'DBR_CTRL_DOUBLE' })).metadata.units).toBe('mm');
    expect(d!.nativeType).toBe(ChannelType.DOUBLE);
    expect(w!.nativeCount).toBe(4);
    // one circuit for the five channels
    expect(ctx.circuits).toHaveLength(1);
    expect(ctx.getPv('T:DOUBLE')).toBe(d);
  });

  it('writes with notify, without, strings to ENUM as DBR_STRING; failures are typed', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = peers.context(server);
    const [d, e, ro] = ctx.getPvs(['T:DOUBLE', 'T:ENUM', 'T:RO']);
    const response = await d!.write(2.5);
    expect(response).toMatchObject({ status: Eca.NORMAL, dataType: DbrType.DOUBLE, dataCount: 1 });
    expect(Array.from((await d!.read()).data as Float64Array)).toEqual([2.5]);
    expect(await d!.write(3.5, { wait: false })).toBeUndefined();
    expect(Array.from((await d!.read()).data as Float64Array)).toEqual([3.5]);
    await e!.write('fault');
    expect((await e!.read()).data).toEqual(['fault']);
    await e!.write(0);
    expect((await e!.read()).data).toEqual(['off']);
    await expect(d!.write(1, { wait: true, notify: false })).rejects.toBeInstanceOf(CaValueError);
    const denied = await ro!.write(1).catch((err: unknown) => err);
    expect(denied).toBeInstanceOf(CaStatusError);
    expect(ro!.accessRights).toBe(1);
    await expect(d!.write('not a number')).rejects.toBeInstanceOf(CaValueError);
    await expect(d!.read({ dataType: 'DBR_NOPE' })).rejects.toBeInstanceOf(CaValueError);
  });

  it('a PV name with a NUL is refused at once; a PV asked for after it is found and read', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = peers.context(server);
    expect(() => ctx.getPv('A\u0000B')).toThrow(CaValueError);
    expect(() => ctx.getPvs(['T:DOUBLE', 'C\u0000D'])).toThrow(CaValueError);
    expect(Array.from((await ctx.getPv('T:LONG').read()).data as Int32Array)).toEqual([42]);
  });

  it('a PV name with a character outside latin-1 is refused at once, not searched as another name', async () => {
    // 'T:\u012d' was written as latin-1 byte by byte: U+012D became 0x2D, and the search asked for 'T:-'
    const server = await peers.server({ pvs: [...PVS, { name: 'T:-', type: 'long' as const, value: 5 }] });
    const ctx = peers.context(server, { timeout: 300 });
    let error: unknown;
    try {
      await ctx.getPv('T:\u012d').read();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CaValueError);
    expect(() => ctx.getPvs(['T:DOUBLE', 'T:\u4e2d'])).toThrow(CaValueError);
    // latin-1 itself is fine: 'T:\u00e9' is searched as it is (and not found here)
    await expect(ctx.getPv('T:\u00e9').read()).rejects.toBeInstanceOf(CaTimeoutError);
  });

  it('a missing PV times out in the configured time with caproto messages', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = peers.context(server, { timeout: 300 });
    const pv = ctx.getPv('T:MISSING');
    const search = await pv.waitForSearch().catch((err: unknown) => err);
    expect(search).toBeInstanceOf(CaTimeoutError);
    expect((search as Error).message).toBe(
      'No servers responded to a search for a channel named T:MISSING within 0.3-second timeout.',
    );
    const read = await pv.read().catch((err: unknown) => err);
    expect(read).toBeInstanceOf(CaTimeoutError);
    expect((read as Error).message).toBe('T:MISSING could not connect within 0.3-second timeout.');
    await expect(pv.write(1, { timeout: 200 })).rejects.toBeInstanceOf(CaTimeoutError);
    expect(pv.channelState).toBe('searching');
  });

  it('connection and access-rights callbacks: each registered once, replayed, told of changes', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = peers.context(server);
    const states: string[] = [];
    const rights: number[] = [];
    const onState = (_pv: unknown, s: string) => void states.push(s);
    const onRights = (_pv: unknown, r: number) => void rights.push(r);
    const pv = ctx.getPv('T:LONG', { connectionStateCallback: onState, accessRightsCallback: onRights });
    ctx.getPv('T:LONG', { connectionStateCallback: onState, accessRightsCallback: onRights });
    await pv.waitForConnection();
    expect(states).toEqual(['connected']);
    expect(rights).toEqual([3]);
    const changed = new Promise<void>((resolve) => pv.onAccessRights((_p, r) => r === 1 && resolve()));
    server.pv('T:LONG')!.setAccess('read-only');
    await changed;
    expect(rights).toEqual([3, 1]);
    const late: string[] = [];
    pv.onConnectionState((_p, s) => late.push(s));
    expect(late).toEqual(['connected']);
    expect(pv.timeSinceLastHeard()).toBeGreaterThanOrEqual(0);
  });

  it('goIdle clears the channel; the next read re-creates it', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = peers.context(server);
    const pv = ctx.getPv('T:LONG');
    const states: string[] = [];
    pv.onConnectionState((_p, s) => states.push(s));
    await pv.read();
    pv.goIdle();
    expect(pv.channelState).toBe('idle');
    expect(pv.connected).toBe(false);
    expect(Array.from((await pv.read()).data as Int32Array)).toEqual([42]);
    expect(pv.channelState).toBe('connected');
    expect(states).toEqual(['connected', 'disconnected', 'connected']);
  });

  it('same name, different priorities: two PVs on two circuits', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = peers.context(server);
    const a = ctx.getPv('T:LONG', { priority: 0 });
    const b = ctx.getPv('T:LONG', { priority: 99 });
    expect(a).not.toBe(b);
    await Promise.all([a.read(), b.read()]);
    expect(ctx.circuits.map((c) => c.circuit.key.priority).sort()).toEqual([0, 99]);
  });

  it('a bad serverPort, repeaterPort, addressList or nameServers option is a CaValueError when the Context is made', async () => {
    // a port outside 1..65535 was accepted, and every UDP search to it then threw a RangeError from a timer:
    // an uncaught exception that ends the process
    const bad: Record<string, unknown>[] = [
      { serverPort: -1 },
      { serverPort: 70_000 },
      { serverPort: 1.5 },
      { serverPort: '5064' },
      { repeaterPort: 1e9 },
      { repeaterPort: 0 },
      { addressList: '127.0.0.1' },
      { addressList: [1] },
      { addressList: [Object.create(null)] },
      { nameServers: '127.0.0.1' },
      { nameServers: [null] },
    ];
    for (const options of bad) {
      let made: Context | undefined;
      let error: unknown;
      try {
        made = new Context({ env: {}, autoAddressList: false, addressList: ['127.0.0.1'], ...options });
      } catch (err) {
        error = err;
      }
      await made?.disconnect();
      expect(error, JSON.stringify(options)).toBeInstanceOf(CaValueError);
    }
  });

  it('hostName, clientName, clock, system, logger and env of the wrong type are refused when the Context is made', async () => {
    // they were accepted, and every read then failed with a raw TypeError (HOST_NAME of a number, clock.now of {},
    // EPICS_CA_CONN_TMO: 5 .trim()), or the constructor threw one
    const system = createSystem();
    const bad: Record<string, unknown>[] = [
      { hostName: 5 },
      { clientName: Object.create(null) },
      { clock: {} },
      { clock: Object.create(null) },
      { system: {} },
      { system, logger: {} },
      { env: 'EPICS_CA_ADDR_LIST=127.0.0.1' },
      { env: { EPICS_CA_CONN_TMO: 5 } },
    ];
    try {
      for (const options of bad) {
        let made: Context | undefined;
        let error: unknown;
        try {
          made = new Context({ autoAddressList: false, addressList: ['127.0.0.1'], env: {}, ...options });
        } catch (err) {
          error = err;
        }
        await made?.disconnect();
        expect(error, String(Object.keys(options))).toBeInstanceOf(InvalidArgumentError);
        expect(error, String(Object.keys(options))).not.toBeInstanceOf(TypeError);
      }
      let error: unknown;
      try {
        const context = new Context({ autoAddressList: false, addressList: ['127.0.0.1'], env: {} });
        await block(subscribe('X:Y'), { context, clock: {} as never, timeout: 0 }).then(
          () => context.disconnect(),
          () => context.disconnect(),
        );
      } catch (err) {
        error = err;
      }
      expect(error, 'block clock').toBeInstanceOf(InvalidArgumentError);
    } finally {
      await system.stop();
    }
  });

  it('disconnect is terminal: ContextDisconnectedError afterwards; actors are gone', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = peers.context(server);
    const pv = ctx.getPv('T:LONG');
    const sub = pv.subscribe();
    const first = new Promise<void>((resolve) => sub.addCallback(() => resolve()));
    await first;
    const pending = pv.waitForConnection();
    await ctx.disconnect();
    await pending;
    expect(() => ctx.getPv('T:LONG')).toThrow(ContextDisconnectedError);
    await expect(pv.read()).rejects.toBeInstanceOf(ContextDisconnectedError);
    expect(ctx.disconnected).toBe(true);
    expect(ctx.circuits).toHaveLength(0);
    await ctx.disconnect();
  });

  it('channels, subscriptions and circuits are actors under the context supervisor; system.stop() disconnects', async () => {
    const server = await peers.server({ pvs: PVS });
    const system = createSystem();
    const ctx = peers.context(server, { system });
    const pv = ctx.getPv('T:LONG');
    const sub = pv.subscribe();
    const first = new Promise<void>((resolve) => sub.addCallback(() => resolve()));
    await first;
    const children = ctx.supervisor.children();
    expect(children).toContain(pv.actorId);
    expect(children).toContain(sub.actorId);
    expect(children.some((id) => !id.startsWith('ca-channel:') && !id.startsWith('ca-subscription:'))).toBe(
      true,
    );
    expect(system.get(`supervisor:${ctx.supervisor.name}`)).toBeDefined();
    await system.stop();
    expect(ctx.disconnected).toBe(true);
    await expect(pv.read()).rejects.toBeInstanceOf(ContextDisconnectedError);
  });
});
