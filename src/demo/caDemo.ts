/**
 * The demo's Channel Access part (issue 11 item 7): a CaServer on 127.0.0.1 (a free port, beacons to 127.0.0.1
 * only) serving a random-walk PV (caproto's `random_walk` example, on the system's clock) and a PV whose put
 * completes after a delay; a Context on the same system (its channels, monitors and circuits under the `ca:context`
 * supervisor, shown in the inspector's CA panels) with a monitor on the random walk, and every few seconds a
 * put-completion Status on the slow PV, so the inspector shows Status objects finishing.
 * `stop()` stops the puts, the feed, the context, then the server: no socket or timer is left.
 */
import type { Status } from '../api/status.js';
import type { Logger } from '../engine/logging.js';
import type { OrrerySystem } from '../engine/system.js';
import { DEFAULT_REPEATER_PORT } from '../protocols/ca/constants.js';
import { Context } from '../protocols/ca/context.js';
import { CaServer, type PvDefinition } from '../protocols/ca/server.js';
import type { Subscription } from '../protocols/ca/subscription.js';
import '../protocols/ca/view.js';
import { CaInspectorFeed } from '../protocols/ca/viewFeed.js';

export interface CaDemoOptions {
  logger: Logger;
  /** PV name prefix (default `demo:`). */
  prefix?: string;
  /** Random-walk step period (ms, default 200). */
  walkPeriodMs?: number;
  /** How long a put on `<prefix>slow` takes to complete (ms, default 1500). */
  putDelayMs?: number;
  /** Time between two put-completion Status objects (ms, default 3000). */
  putEveryMs?: number;
}

export interface CaDemo {
  /** `127.0.0.1:port` of the server. */
  address: string;
  server: CaServer;
  context: Context;
  monitor: Subscription;
  feed: CaInspectorFeed;
  /** Names of the PVs served. */
  pvs: string[];
  /** Put-completion Status objects made so far. */
  readonly puts: number;
  /** Calls `listener` with each put-completion Status as it starts; returns a function that stops that. */
  onPut(listener: (status: Status) => void): () => void;
  stop(): Promise<void>;
}

export async function startCaDemo(system: OrrerySystem, options: CaDemoOptions): Promise<CaDemo> {
  const { logger } = options;
  const prefix = options.prefix ?? 'demo:';
  const clock = system.clock;
  const walkPeriodMs = options.walkPeriodMs ?? 200;
  const putDelayMs = options.putDelayMs ?? 1500;
  const putEveryMs = options.putEveryMs ?? 3000;
  const timers = new Set<unknown>();
  let stopping = false;
  const later = (ms: number, fn: () => void): void => {
    const t = clock.setTimeout(() => {
      timers.delete(t);
      if (!stopping) fn();
    }, ms);
    timers.add(t);
  };
  const settles = new Set<() => void>();
  const putListeners = new Set<(status: Status) => void>();

  const walk = `${prefix}random_walk`;
  const slow = `${prefix}slow`;
  const pvs: PvDefinition[] = [
    { name: walk, type: 'double', value: 0, units: 'mm', precision: 3 },
    {
      name: slow,
      type: 'double',
      value: 0,
      units: 's',
      // the put completes after putDelayMs on the clock (WRITE_NOTIFY answered then); stop() settles it at once
      onPut: () =>
        new Promise<void>((resolve) => {
          settles.add(resolve);
          later(putDelayMs, () => {
            settles.delete(resolve);
            resolve();
          });
        }),
    },
    { name: `${prefix}mode`, type: 'enum', value: 0, enumStrings: ['idle', 'walking', 'fault'] },
  ];
  const server = await CaServer.start({
    pvs,
    interfaces: ['127.0.0.1'],
    port: 0,
    beaconAddresses: [{ host: '127.0.0.1', port: DEFAULT_REPEATER_PORT }],
    clock,
    logger,
  });
  let context: Context | undefined;
  let feed: CaInspectorFeed | undefined;
  try {
    const walkPv = server.pv(walk);
    server.pv(`${prefix}mode`)?.write('walking');
    let position = 0;
    const step = () => {
      position += Math.random() - 0.5;
      walkPv?.write(position);
      later(walkPeriodMs, step);
    };
    later(walkPeriodMs, step);

    context = new Context({
      system,
      clock,
      logger,
      env: { EPICS_CA_ADDR_LIST: '127.0.0.1', EPICS_CA_AUTO_ADDR_LIST: 'NO' },
      addressList: [`127.0.0.1:${server.port}`],
      autoAddressList: false,
    });
    feed = new CaInspectorFeed(context);
    const monitor = context.getPv(walk).subscribe({ dataType: 'time' });
    monitor.addCallback(() => {});
    feed.watch(monitor);
    const slowPv = context.getPv(slow);
    const slowMonitor = slowPv.subscribe();
    slowMonitor.addCallback(() => {});
    feed.watch(slowMonitor);

    let puts = 0;
    const inFlight = new Set<Status>();
    const put = () => {
      const n = ++puts;
      const status = slowPv.put(n, { timeout: putDelayMs + 5000 });
      inFlight.add(status);
      status.addCallback((s) => {
        inFlight.delete(s);
        logger.info({ pv: slow, put: n, outcome: s.state, err: s.exception() ?? undefined }, 'CA put done');
      });
      for (const listener of [...putListeners]) {
        try {
          listener(status);
        } catch (err) {
          logger.warn({ err }, 'a CA demo put listener threw');
        }
      }
      later(putEveryMs, put);
    };
    later(Math.min(putEveryMs, 1000), put);

    const ctx = context;
    const fd = feed;
    let stopped: Promise<void> | undefined;
    return {
      address: `127.0.0.1:${server.port}`,
      server,
      context: ctx,
      monitor,
      feed: fd,
      pvs: pvs.map((p) => p.name),
      get puts() {
        return puts;
      },
      onPut(listener) {
        putListeners.add(listener);
        return () => void putListeners.delete(listener);
      },
      stop() {
        stopped ??= (async () => {
          stopping = true;
          for (const t of timers) clock.clearTimeout(t);
          timers.clear();
          putListeners.clear();
          for (const settle of settles) settle();
          settles.clear();
          for (const s of inFlight) if (!s.done) s.cancel('demo stopping');
          fd.close();
          await ctx.disconnect();
          await server.close();
        })();
        return stopped;
      },
    };
  } catch (err) {
    stopping = true;
    for (const t of timers) clock.clearTimeout(t);
    feed?.close();
    await context?.disconnect().catch(() => {});
    await server.close();
    throw err;
  }
}
