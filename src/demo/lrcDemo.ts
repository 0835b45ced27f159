/**
 * The built-in SKA device simulator of the CLI and the demo, and the demo's cycling LRCs: On (success), Scan
 * aborted half-way, and Configure failing, over and over until stopped.
 */

import type { Logger } from '../engine/logging.js';
import type { OrrerySystem } from '../engine/system.js';
import { LongRunningCommand } from '../protocols/tango/lrc/longRunningCommand.js';
import { type SimulatedTask, SkaDeviceSimulator } from '../protocols/tango/sim/skaDeviceSimulator.js';
import { ResultCode } from '../protocols/tango/wire.js';

/** Progress 0..100 in `steps` steps of `stepMs`, then the result. */
function stepping(name: string, steps: number, stepMs: number) {
  return async (task: SimulatedTask) => {
    task.inProgress();
    for (let i = 1; i <= steps; i++) {
      await task.sleep(stepMs);
      task.progress(Math.round((100 * i) / steps));
    }
    return [ResultCode.OK, `${name} command completed OK`];
  };
}

/** A reference-like SKA device: On, Off, Standby, Scan (long), Configure (fails on `{"fail": true}`), Reset. */
export function builtInDevice(options: {
  system?: OrrerySystem;
  name?: string;
  stepMs?: number;
  protocolVersions?: readonly [number, number] | null;
}): SkaDeviceSimulator {
  const stepMs = options.stepMs ?? 200;
  return new SkaDeviceSimulator({
    name: options.name ?? 'sim/ska/1',
    system: options.system,
    state: 'OFF',
    protocolVersions: options.protocolVersions,
    commands: {
      On: {
        validate: (d) => (d.state === 'ON' ? 'Device is already in ON state.' : null),
        execute: async (task) => {
          const r = await stepping('On', 3, stepMs)(task);
          task.device.state = 'ON';
          return r;
        },
      },
      Off: {
        validate: (d) => (d.state === 'OFF' ? 'Device is already in OFF state.' : null),
        execute: async (task) => {
          const r = await stepping('Off', 3, stepMs)(task);
          task.device.state = 'OFF';
          return r;
        },
      },
      Standby: stepping('Standby', 2, stepMs),
      Scan: stepping('Scan', 10, stepMs),
      Configure: async (task) => {
        task.inProgress();
        await task.sleep(stepMs);
        task.progress(50);
        await task.sleep(stepMs);
        if ((task.args as { fail?: boolean } | undefined)?.fail)
          throw new Error('Configuration rejected by hardware');
        return [ResultCode.OK, 'Configure command completed OK'];
      },
      Reset: { isAllowed: (d) => d.state !== 'OFF', execute: stepping('Reset', 1, stepMs) },
    },
  });
}

/**
 * Run the simulator under `system` with LRCs cycling through success (On/Off), abort (Scan, aborted half-way) and
 * failure (Configure) until `stop()`.
 */
export function startLrcDemo(
  system: OrrerySystem,
  options: { logger?: Logger; stepMs?: number } = {},
): { device: SkaDeviceSimulator; stop(): Promise<void> } {
  const logger = options.logger ?? system.logger;
  const stepMs = options.stepMs ?? 300;
  const device = builtInDevice({ system, name: 'demo/ska/1', stepMs });
  const clock = system.clock;
  let stopped = false;
  const cancel = new AbortController();
  let wake: (() => void) | undefined;
  let timer: unknown;
  // once stopped, no pause: a run that ends after stop() (cancelled) must not send the loop into another wait
  const pause = (ms: number) =>
    stopped
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          wake = resolve;
          timer = clock.setTimeout(resolve, ms);
        });
  const run = async (command: string, args?: unknown) => {
    if (stopped) return;
    const r = await new LongRunningCommand(command, { system, logger }).run(device, {
      args,
      timeout: 60_000,
      signal: cancel.signal,
    });
    logger.info(
      // the result says why a command failed or was aborted (the device's message); `err` a client-side failure
      {
        command,
        commandId: r.commandId,
        resultCode: r.resultCode,
        result: r.result,
        err: r.exception ?? undefined,
      },
      `demo LRC ${command} ended`,
    );
  };
  const loop = async () => {
    while (!stopped) {
      await run(device.state === 'ON' ? 'Off' : 'On');
      const scan = run('Scan');
      await pause(stepMs * 5);
      if (!stopped) await device.commandInout('Abort').catch(() => undefined);
      await scan;
      await run('Configure', { fail: true });
      await pause(stepMs * 3);
    }
  };
  const done = loop().catch((err) => {
    if (!stopped) logger.error({ err }, 'LRC demo loop failed');
  });
  return {
    device,
    async stop() {
      if (stopped) return;
      stopped = true;
      cancel.abort();
      clock.clearTimeout(timer);
      wake?.();
      await device.close();
      await done;
    },
  };
}
