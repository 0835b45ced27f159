/**
 * The demo's Channel Access part (issue 11 item 7): the CA simulator of `orrery ca-sim` (`CaSimulator`: the random
 * walk `x` with alarms, counter, waveform, `setpoint` whose put completes after a delay with `readback` following,
 * the `mode` enum, ...) on 127.0.0.1 (a free port, beacons to 127.0.0.1 only) under the prefix
 * `demo:random_walk:` (caproto's `random_walk` example names its walk `random_walk:x`), on the system's clock; a
 * Context on the same system (its channels, monitors and circuits under the `ca:context` supervisor, shown in the
 * inspector's CA panels) monitoring the walk and the setpoint, and every few seconds a put-completion Status on the
 * setpoint, so the inspector shows Status objects finishing.
 * `stop()` stops the puts, the feed, the context, then the simulator: no socket or timer is left.
 */
import type { Status } from '../api/status.js';
import type { Logger } from '../engine/logging.js';
import type { OrrerySystem } from '../engine/system.js';
import { DEFAULT_REPEATER_PORT } from '../protocols/ca/constants.js';
import { Context } from '../protocols/ca/context.js';
import type { CaServer } from '../protocols/ca/server.js';
import { CaSimulator } from '../protocols/ca/sim.js';
import type { Subscription } from '../protocols/ca/subscription.js';
import '../protocols/ca/view.js';
import { CaInspectorFeed } from '../protocols/ca/viewFeed.js';

export interface CaDemoOptions {
  logger: Logger;
  /** PV name prefix (default `demo:random_walk:`). */
  prefix?: string;
  /** Time between two steps of the walk (the simulator's update interval, ms, default 200). */
  walkPeriodMs?: number;
  /** How long a put on `<prefix>setpoint` takes to complete (ms, default 1500). */
  putDelayMs?: number;
  /** Time between two put-completion Status objects (ms, default 3000). */
  putEveryMs?: number;
}

export interface CaDemo {
  /** `127.0.0.1:port` of the server. */
  address: string;
  simulator: CaSimulator;
  server: CaServer;
  context: Context;
  /** The monitor on the random walk `<prefix>x` (DBR_TIME_DOUBLE). */
  monitor: Subscription;
  feed: CaInspectorFeed;
  /** Names of the PVs served (the simulator's). */
  pvs: string[];
  /** Put-completion Status objects made so far. */
  readonly puts: number;
  /** Calls `listener` with each put-completion Status as it starts; returns a function that stops that. */
  onPut(listener: (status: Status) => void): () => void;
  stop(): Promise<void>;
}

export async function startCaDemo(system: OrrerySystem, options: CaDemoOptions): Promise<CaDemo> {
  const { logger } = options;
  const prefix = options.prefix ?? 'demo:random_walk:';
  const clock = system.clock;
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
  const putListeners = new Set<(status: Status) => void>();

  const simulator = await CaSimulator.start({
    prefix,
    updateIntervalMs: options.walkPeriodMs ?? 200,
    putDelayMs,
    interfaces: ['127.0.0.1'],
    port: 0,
    beaconAddresses: [{ host: '127.0.0.1', port: DEFAULT_REPEATER_PORT }],
    clock,
    logger,
  });
  const server = simulator.server;
  const walk = `${prefix}x`;
  const setpoint = `${prefix}setpoint`;
  let context: Context | undefined;
  let feed: CaInspectorFeed | undefined;
  try {
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
    const setpointPv = context.getPv(setpoint);
    const setpointMonitor = setpointPv.subscribe();
    setpointMonitor.addCallback(() => {});
    feed.watch(setpointMonitor);

    let puts = 0;
    const inFlight = new Set<Status>();
    const put = () => {
      const n = ++puts;
      // completes after the simulator's put delay (WRITE_NOTIFY answered then); the readback follows
      const status = setpointPv.put(n, { timeout: putDelayMs + 5000 });
      inFlight.add(status);
      status.addCallback((s) => {
        inFlight.delete(s);
        logger.info(
          { pv: setpoint, put: n, outcome: s.state, err: s.exception() ?? undefined },
          'CA put done',
        );
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
      simulator,
      server,
      context: ctx,
      monitor,
      feed: fd,
      pvs: server.pvNames,
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
          for (const s of inFlight) if (!s.done) s.cancel('demo stopping');
          fd.close();
          await ctx.disconnect();
          await simulator.close(); // drops the put delay still running
        })();
        return stopped;
      },
    };
  } catch (err) {
    stopping = true;
    for (const t of timers) clock.clearTimeout(t);
    feed?.close();
    await context?.disconnect().catch(() => {});
    await simulator.close();
    throw err;
  }
}
