/**
 * The demo's KATCP part: the built-in KATCP simulator (changing sensors) on a free loopback port, and an
 * InspectingClient under a supervisor that inspects it, samples its sensors and shows them in the inspector.
 * `stop()` closes the client, then the simulator: no socket or timer is left.
 */
import type { Logger } from '../engine/logging.js';
import type { OrrerySystem } from '../engine/system.js';
import { InspectingClient } from '../protocols/katcp/inspectingClient.js';
import { createKatcpSimulator } from '../protocols/katcp/sim.js';

export interface KatcpDemo {
  /** `host:port` of the simulator. */
  address: string;
  client: InspectingClient;
  stop(): Promise<void>;
}

/** The sampling the demo asks for: every strategy kind a commissioner would use. */
export const DEMO_SAMPLING: Record<string, string> = {
  temperature: 'event-rate 0.2 5',
  counter: 'period 1',
  mode: 'event',
  ok: 'event',
  when: 'period 2',
};

export async function startKatcpDemo(system: OrrerySystem, options: { logger: Logger }): Promise<KatcpDemo> {
  const { logger } = options;
  const sim = createKatcpSimulator({ host: '127.0.0.1', port: 0, clock: system.clock, logger });
  const { host, port } = await sim.listen();
  system.supervisor('katcp', { strategy: 'one_for_one', intensity: 10, periodMs: 60_000 });
  const client = new InspectingClient(host, port, { system, supervisor: 'katcp' });
  client.setStateCallback((state, changes) => {
    logger.info(
      { device: client.address, state: String(state), changes: changes ?? undefined },
      'KATCP state',
    );
  });
  const stopping = new AbortController();
  const sample = async () => {
    await client.untilSynced({ signal: stopping.signal });
    for (const [name, strategy] of Object.entries(DEMO_SAMPLING)) {
      if (stopping.signal.aborted) return;
      const [ok, detail] = await client.setSamplingStrategy(name, strategy);
      if (!ok) logger.warn({ sensor: name, detail }, 'KATCP sampling not set');
    }
  };
  try {
    await client.connect();
    // strategies are cached by the client and re-applied after every reconnect
    void sample().catch((err) => {
      if (!stopping.signal.aborted) logger.warn({ err }, 'KATCP sampling failed');
    });
  } catch (err) {
    await client.close().catch(() => {});
    await sim.close();
    throw err;
  }
  return {
    address: `${host}:${port}`,
    client,
    async stop() {
      stopping.abort();
      await client.close();
      await sim.close();
    },
  };
}
