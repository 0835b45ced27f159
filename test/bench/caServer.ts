/**
 * The CA bench's server, in its own process (client and server in two processes on this 2-core machine, as the
 * reference figures were measured). Prints `PORT <n>` when listening on 127.0.0.1 (UDP search and TCP on the same
 * port). PVs:
 * - `bench:scalar` DOUBLE 1.5;
 * - `bench:array` 100,000 DOUBLEs (800 kB);
 * - `bench:seq` DOUBLE: the monitored value, a sequence number;
 * - `bench:flood` LONG: a put of n posts `bench:seq` n times, counting on from its current value, as fast as the
 *   server can (batches of 1000, yielding to the event loop between them so sockets drain); a put with completion
 *   is answered once the last value is posted.
 */
import { CaServer } from '../../src/protocols/ca/server.js';

const ARRAY = new Float64Array(100_000);
for (let i = 0; i < ARRAY.length; i++) ARRAY[i] = i * 0.5;

let seq = 0;
const server = await CaServer.start({
  port: 0,
  interfaces: ['127.0.0.1'],
  beaconAddresses: [{ host: '127.0.0.1', port: 5065 }],
  pvs: [
    { name: 'bench:scalar', type: 'double', value: 1.5 },
    { name: 'bench:array', type: 'double', value: ARRAY },
    { name: 'bench:seq', type: 'double', value: 0 },
    {
      name: 'bench:flood',
      type: 'long',
      value: 0,
      onPut: async (data) => {
        const n = Number(data[0]);
        const target = server.pv('bench:seq');
        if (!target) throw new Error('no bench:seq');
        for (let done = 0; done < n; ) {
          const end = Math.min(n, done + 1000);
          for (; done < end; done++) target.write(++seq);
          await new Promise((resolve) => setImmediate(resolve));
        }
      },
    },
  ],
});
process.stdout.write(`PORT ${server.port}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
