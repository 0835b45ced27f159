/**
 * EPICS_CA_NAME_SERVERS (issue 11 item 2): a Context with no UDP destination at all (AUTO_ADDR_LIST=NO, an empty
 * ADDR_LIST) finds Orrery's CaServer through a TCP name-server link to it, then opens the normal channel circuit;
 * the link connects again when the name server comes up late or drops the connection.
 */
import { describe, expect, it } from 'vitest';
import { CaTimeoutError } from '../../src/protocols/ca/errors.js';
import type { CaServer } from '../../src/protocols/ca/server.js';
import { deferred, useCaPeers } from './support/caContext.js';

const peers = useCaPeers();

const PVS = [
  { name: 'NS:X', type: 'double' as const, value: 1.5 },
  { name: 'NS:S', type: 'string' as const, value: 'hi' },
];

/** TCP search only: no UDP destination, the name server given by the environment. */
function nameServerEnv(port: number) {
  return {
    EPICS_CA_AUTO_ADDR_LIST: 'NO',
    EPICS_CA_ADDR_LIST: '',
    EPICS_CA_NAME_SERVERS: `127.0.0.1:${port}`,
  };
}

function nameServerContext(port: number, timeout = 10_000) {
  // peers.context's addressList/autoAddressList options are replaced by the environment's (empty) ones
  return peers.context(
    { port },
    { env: nameServerEnv(port), addressList: [], autoAddressList: false, timeout },
  );
}

/** A free TCP port of 127.0.0.1 (a server started and closed at once). */
async function freePort(): Promise<number> {
  const s = await peers.server({ pvs: [] });
  const port = s.port;
  await s.close();
  peers.forget(s);
  return port;
}

describe('issue 11 item 2: EPICS_CA_NAME_SERVERS (search over TCP)', () => {
  it('issue 11 item 2: with no UDP destination, reads, writes and monitors a PV found through the name server', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = nameServerContext(server.port);
    expect(ctx.config.searchAddresses).toEqual([]);
    expect(ctx.config.nameServers).toEqual([{ host: '127.0.0.1', port: server.port }]);
    const pv = ctx.getPv('NS:X');
    expect(Array.from<number | string>((await pv.read()).data)).toEqual([1.5]);
    const sub = pv.subscribe();
    const values: number[] = [];
    const got = deferred();
    sub.addCallback((_s, r) => {
      values.push(Number((r.data as ArrayLike<number>)[0]));
      if (values.includes(4.25)) got.resolve();
    });
    await pv.write(4.25);
    await got.promise;
    expect(values[0]).toBe(1.5);
    expect(Array.from<number | string>((await pv.read()).data)).toEqual([4.25]);
    expect((await ctx.getPv('NS:S').read()).data).toEqual(['hi']);
  });

  it('issue 11 item 2: the nameServers option replaces EPICS_CA_NAME_SERVERS', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = peers.context(server, {
      env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', EPICS_CA_NAME_SERVERS: '127.0.0.1:1' },
      addressList: [],
      nameServers: [`127.0.0.1:${server.port}`],
    });
    expect(Array.from<number | string>((await ctx.getPv('NS:X').read()).data)).toEqual([1.5]);
  });

  it('issue 11 item 2: a PV the name server does not have times out as configured', async () => {
    const server = await peers.server({ pvs: PVS });
    const ctx = nameServerContext(server.port, 300);
    const pv = ctx.getPv('NS:MISSING');
    const search = await pv.waitForSearch().catch((err: unknown) => err);
    expect(search).toBeInstanceOf(CaTimeoutError);
    expect((search as Error).message).toBe(
      'No servers responded to a search for a channel named NS:MISSING within 0.3-second timeout.',
    );
  });

  it('issue 11 item 2: a name server down at first is connected once it is up; the search then succeeds', async () => {
    const port = await freePort();
    const ctx = nameServerContext(port, 20_000);
    const pv = ctx.getPv('NS:X');
    const read = pv.read();
    // refused connections in the meantime: no crash, retries with back-off
    await new Promise((resolve) => setTimeout(resolve, 700));
    await peers.server({ port, pvs: PVS });
    expect(Array.from<number | string>((await read).data)).toEqual([1.5]);
  }, 30_000);

  it('issue 11 item 2: a dropped name-server connection is opened again; the channel is found again through it', async () => {
    let server: CaServer = await peers.server({ pvs: PVS });
    const port = server.port;
    const ctx = nameServerContext(port, 20_000);
    const pv = ctx.getPv('NS:X');
    expect(Array.from<number | string>((await pv.read()).data)).toEqual([1.5]);
    const lost = deferred();
    pv.onConnectionState((_pv, state) => {
      if (state === 'disconnected') lost.resolve();
    });
    await server.close();
    peers.forget(server);
    await lost.promise;
    server = await peers.server({ port, pvs: [{ name: 'NS:X', type: 'double', value: 7 }] });
    expect(Array.from<number | string>((await pv.read({ timeout: 20_000 })).data)).toEqual([7]);
  }, 30_000);
});
