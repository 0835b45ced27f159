/**
 * The commissioning demo in one process: simulators and lifecycle actors under supervisors, Status objects
 * cycling through every outcome, a background task, and the inspector. `stop()` leaves no socket or timer behind.
 */
import { BackgroundTask } from '../api/backgroundTask.js';
import { Status } from '../api/status.js';
import type { Clock } from '../engine/clock.js';
import type { Logger } from '../engine/logging.js';
import { createSystem, type OrrerySystem } from '../engine/system.js';
import { PortInUseError } from '../errors.js';
import { type Inspector, startInspector } from '../inspector/server.js';
import { startCaDemo } from './caDemo.js';
import { flakyControllerMachine, mountPollerMachine } from './demoMachines.js';
import { startKatcpDemo } from './katcpDemo.js';
import { startLrcDemo } from './lrcDemo.js';

export interface DemoOptions {
  logger: Logger;
  /** The system's clock (a TestClock in tests); the real clock by default. Every demo timer runs on it. */
  clock?: Clock;
  /** The inspector's port (default 0: any free port). */
  port?: number;
  /** When `port` is taken, serve on a free port instead of failing with PortInUseError (see `Demo.portInUse`). */
  fallbackToFreePort?: boolean;
  host?: string;
  allowRemote?: boolean;
  readOnly?: boolean;
}

export interface Demo {
  system: OrrerySystem;
  url: string;
  inspector: Inspector;
  /** Set when `port` was taken and the inspector fell back to a free port. */
  portInUse?: PortInUseError;
  /** Simulators that were started ('lrc', 'katcp', 'ca'). */
  simulators: string[];
  stop(): Promise<void>;
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const { logger } = options;
  const system = createSystem({ logger, clock: options.clock });
  const clock = system.clock;
  const timers = new Set<unknown>();
  const later = (ms: number, fn: () => void) => {
    const t = clock.setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  let stopping = false;
  const cleanups: Array<() => Promise<void> | void> = [];

  try {
    // the inspector first: a port that is taken fails the demo before anything runs
    const serve = (port: number) =>
      startInspector(system, {
        port,
        host: options.host,
        allowRemote: options.allowRemote,
        readOnly: options.readOnly ?? true,
      });
    let portInUse: PortInUseError | undefined;
    let inspector: Inspector;
    try {
      inspector = await serve(options.port ?? 0);
    } catch (err) {
      if (!(err instanceof PortInUseError && options.fallbackToFreePort)) throw err;
      portInUse = err;
      inspector = await serve(0);
    }
    cleanups.push(() => inspector.close());

    // devices: a mount poller and a controller that crashes every few seconds and is restarted
    const devices = system.supervisor('devices', {
      strategy: 'one_for_one',
      intensity: 20,
      periodMs: 60_000,
      backoff: { initialMs: 250, maxMs: 2000, factor: 2 },
    });
    devices.startChild({
      id: 'mount',
      systemId: 'mount',
      logic: mountPollerMachine,
      input: { periodMs: 1000, credentials: { user: 'observer', password: 'hunter2' } },
    });
    devices.startChild({
      id: 'flaky',
      systemId: 'flaky',
      logic: flakyControllerMachine,
      input: { crashAfterMs: 7000, host: 'plc-7.site.local', token: 'not-for-the-page' },
    });

    // pipelines: a background task (a temporary child of this supervisor)
    system.supervisor('pipelines', { strategy: 'one_for_one', intensity: 5, periodMs: 10_000 });
    let sweeps = 0;
    const task = new BackgroundTask(
      () => {
        sweeps++;
        if (sweeps % 20 === 0) logger.info({ sweeps }, 'housekeeping sweep');
      },
      { frequency: 2, system, supervisor: 'pipelines', name: 'housekeeping' },
    );
    task.run();
    cleanups.push(() => task.stop());

    // Status objects cycling through succeeded, failed, timedOut and cancelled
    let n = 0;
    const cycle = () => {
      if (stopping) return;
      const kind = n++ % 4;
      const status = new Status({ timeout: 2500, settleTime: 200, system, name: `move-${n}` });
      if (kind === 0) later(700, () => status.done || status.setFinished());
      if (kind === 1) later(900, () => status.done || status.setException(new Error('motor stalled')));
      if (kind === 3) later(500, () => status.done || status.cancel('operator abort'));
      // `err` is the Error itself: pino serializes it (type, message, stack) and the log shows the reason
      status.addCallback((st) =>
        logger.info({ status: st.name, outcome: st.state, err: st.exception() ?? undefined }, 'Status done'),
      );
      later(1500, cycle);
    };
    cycle();

    // the SKA LRC device simulator and its LRC clients
    const simulators: string[] = [];
    const lrc = startLrcDemo(system, { logger });
    cleanups.push(() => lrc.stop());
    simulators.push('lrc');

    // the KATCP simulator with changing sensors, and an InspectingClient under the 'katcp' supervisor
    const katcp = await startKatcpDemo(system, { logger });
    cleanups.push(() => katcp.stop());
    simulators.push('katcp');
    logger.info({ device: katcp.address }, 'KATCP simulator listening');

    // a Channel Access server (random walk, a slow put) and a Context monitoring it, put-completion Status objects
    const ca = await startCaDemo(system, { logger });
    cleanups.push(() => ca.stop());
    simulators.push('ca');
    logger.info({ server: ca.address, pvs: ca.pvs }, 'CA server listening');

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        stopping = true;
        for (const t of timers) clock.clearTimeout(t);
        timers.clear();
        for (const fn of cleanups.reverse()) {
          try {
            await fn();
          } catch (err) {
            logger.warn({ err }, 'demo cleanup failed');
          }
        }
        await system.stop();
      })();
      return stopped;
    };
    return { system, url: inspector.url, inspector, portInUse, simulators, stop };
  } catch (err) {
    stopping = true;
    for (const t of timers) clock.clearTimeout(t);
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {});
    await system.stop();
    throw err;
  }
}
