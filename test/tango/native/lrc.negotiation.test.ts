/**
 * LRC protocol negotiation and the input queue over the native client, against the PyTango fixture started with
 * other `lrcProtocolVersions` (none: a pre-1.2 device; (2, 3); (3, 4)) and a queue of one: the expectations of the
 * simulator's tests (`test/tango/lrc.named.test.ts` 9.1.2 and 9.1.4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../../src/engine/system.js';
import { ProtocolVersionError } from '../../../src/protocols/tango/errors.js';
import { TangoEventConsumer } from '../../../src/protocols/tango/events.js';
import { invokeLrc, TaskStatus } from '../../../src/protocols/tango/lrc/invokeLrc.js';
import { NativeDevicePort } from '../../../src/protocols/tango/nativePort.js';
import { LrcDeviceServer } from './support/lrcDevice.js';

let system: OrrerySystem;
let consumer: TangoEventConsumer;
const servers: LrcDeviceServer[] = [];
const ports: NativeDevicePort[] = [];

beforeAll(() => {
  system = createSystem();
  consumer = new TangoEventConsumer({ system });
});
afterAll(async () => {
  for (const p of ports) await p.close();
  await consumer.close();
  await system.stop();
  for (const s of servers) await s.stop();
});

async function deviceWith(env: Record<string, string>): Promise<NativeDevicePort> {
  const server = await LrcDeviceServer.start({ env, instance: `i${servers.length}` });
  servers.push(server);
  const port = await NativeDevicePort.connect(server.name, { system, consumer });
  ports.push(port);
  return port;
}

async function negotiate(device: NativeDevicePort): Promise<number> {
  const subs = await invokeLrc(() => {}, device, 'On', undefined, { system });
  const out = await subs.finished;
  expect(out.status).toBe(TaskStatus.COMPLETED);
  return subs.protocolVersion;
}

describe('issue 12 item 4: LRC protocol negotiation with real devices', () => {
  it('issue 12 item 4: a device without lrcProtocolVersions is (1, 1): protocol v1, and it completes', async () => {
    expect(await negotiate(await deviceWith({ LRC_PROTOCOL_VERSIONS: 'none' }))).toBe(1);
  }, 30_000);
  it('issue 12 item 4: server (2, 3) with client (1, 2): v2', async () => {
    expect(await negotiate(await deviceWith({ LRC_PROTOCOL_VERSIONS: '2,3' }))).toBe(2);
  }, 30_000);
  it('issue 12 item 4: server (3, 4): ProtocolVersionError naming both ranges', async () => {
    const device = await deviceWith({ LRC_PROTOCOL_VERSIONS: '3,4' });
    await expect(invokeLrc(() => {}, device, 'On', undefined, { system })).rejects.toThrow(
      new ProtocolVersionError(
        "This version of invokeLrc() is not compatible with any of the server's supported LRC protocols! " +
          'Client version min, max = (1, 2) - Server version min, max = (3, 4)',
      ),
    );
    expect(device.subscriptionCount).toBe(0);
  }, 30_000);
  it('issue 12 item 4: a full input queue rejects: "Input queue supports a maximum of 1 commands"', async () => {
    const device = await deviceWith({ LRC_MAX_QUEUED: '1' });
    let executing!: () => void;
    const started = new Promise<void>((r) => {
      executing = r;
    });
    const running = await invokeLrc(
      (u) => u.status === TaskStatus.IN_PROGRESS && executing(),
      device,
      'Slow',
      2,
      { system },
    );
    await started; // the queue is empty again
    const queued = await invokeLrc(() => {}, device, 'Slow', 2, { system });
    await expect(invokeLrc(() => {}, device, 'Slow', 2, { system })).rejects.toThrow(
      'Slow command rejected: Input queue supports a maximum of 1 commands',
    );
    await device.commandInout('Abort');
    expect((await running.finished).status).toBe(TaskStatus.ABORTED);
    expect((await queued.finished).status).toBe(TaskStatus.ABORTED);
  }, 30_000);
});
