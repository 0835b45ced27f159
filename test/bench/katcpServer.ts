/**
 * The KATCP bench's server, run in its own process (as the aiokatcp reference figures were measured: client and
 * server in two processes on this 2-core machine). Prints `PORT <n>` when listening; `?flood n` sets the integer
 * sensor `ticks` n times (batches of 1000, yielding to the event loop between them so the socket drains)
 * and replies when the last update is written. `?watchdog` is the standard one.
 */
import { FailReply } from '../../src/protocols/katcp/errors.js';
import { Sensor } from '../../src/protocols/katcp/sensor.js';
import { DeviceServer } from '../../src/protocols/katcp/server.js';
import { decodeInt } from '../../src/protocols/katcp/wire.js';

const server = new DeviceServer({ maxBacklog: 256 * 1024 * 1024 });
const ticks = new Sensor({ name: 'ticks', type: 'integer', description: 'flood counter' });
server.addSensor(ticks);
let value = 0;
server.addRequest('flood', 'set ticks n times', async (_ctx, n) => {
  if (!n) throw new FailReply('flood needs a count');
  const count = decodeInt(n);
  for (let done = 0; done < count; ) {
    const end = Math.min(count, done + 1000);
    for (; done < end; done++) ticks.set(++value);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return [count];
});
const { port } = await server.listen();
process.stdout.write(`PORT ${port}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
