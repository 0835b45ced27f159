/**
 * A real CaServer on 127.0.0.1 (random port) and Contexts searching only it, stopped after each test. Waits are
 * for events (callbacks, promises), never sleeps; the generous timeouts are for a loaded 2-core machine.
 */
import { afterEach } from 'vitest';
import { Context, type ContextOptions } from '../../../src/protocols/ca/context.js';
import { CaServer, type CaServerOptions } from '../../../src/protocols/ca/server.js';

export const LOOPBACK_ENV = { EPICS_CA_ADDR_LIST: '127.0.0.1', EPICS_CA_AUTO_ADDR_LIST: 'NO' };

export function useCaPeers() {
  const servers = new Set<CaServer>();
  const contexts = new Set<Context>();
  afterEach(async () => {
    for (const c of contexts) await c.disconnect();
    contexts.clear();
    for (const s of servers) await s.close();
    servers.clear();
  });
  return {
    async server(options: CaServerOptions = {}): Promise<CaServer> {
      const server = await CaServer.start({
        port: 0,
        interfaces: ['127.0.0.1'],
        beaconAddresses: [],
        ...options,
      });
      servers.add(server);
      return server;
    },
    context(server: { port: number }, options: ContextOptions = {}): Context {
      const context = new Context({
        env: LOOPBACK_ENV,
        addressList: [`127.0.0.1:${server.port}`],
        autoAddressList: false,
        timeout: 10_000,
        ...options,
      });
      contexts.add(context);
      return context;
    },
    forget(server: CaServer) {
      servers.delete(server);
    },
  };
}

/** A promise and its resolvers. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves with the n-th value `register` delivers that `accept` accepts. */
export function nth<T>(
  register: (cb: (value: T) => void) => () => void,
  accept: (value: T) => boolean = () => true,
) {
  const d = deferred<T>();
  const off = register((v) => {
    if (accept(v)) {
      off();
      d.resolve(v);
    }
  });
  return d.promise;
}
