// Channel Access: a CA server with two PVs, a Context reading, writing with completion, and monitoring them.
import { CaServer, Context, read } from 'orrery/ca';

const server = await CaServer.start({
  port: 0, // a free port for UDP search and TCP
  pvs: [
    { name: 'demo:temp', type: 'double', value: 21.5, units: 'degC', precision: 2 },
    { name: 'demo:mode', type: 'enum', value: 0, enumStrings: ['idle', 'busy'] },
  ],
});
const context = new Context({ addressList: [`127.0.0.1:${server.port}`], autoAddressList: false });
const [temp, mode] = context.getPvs(['demo:temp', 'demo:mode']);
if (temp === undefined || mode === undefined) throw new Error('unreachable');

const reading = await temp.read({ dataType: 'control' });
console.log('read', reading.data[0], reading.metadata.units);

const seen: unknown[] = [];
const monitor = mode.subscribe();
const busy = monitor.status((response) => response.data[0] === 'busy', { timeout: 5000 });
monitor.addCallback((_sub, response) => seen.push(response.data[0]));
await mode.put('busy').wait(); // put with completion: a Status that finishes on WRITE_NOTIFY
await busy.wait();
console.log('monitor', seen.join(' -> '));

const again = await read('demo:temp', { context }); // caproto's sync API, on the same circuit
console.log('sync read', again.data[0]);

await context.disconnect();
await server.close();
