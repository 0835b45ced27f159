// A Status with a timeout and settle time, a combinator, and a periodic BackgroundTask under a supervisor.
import { BackgroundTask, createSystem, Status } from '../../src/index.js';

const system = createSystem(); // createSystem({ logger: pino() }) for logs
const move = new Status({ system, timeout: 2000, settleTime: 100, name: 'move-x' }); // ms: timeout: 5 would be 5 ms
const both = Status.all([move, new Status({ system, timeout: 500, name: 'shutter' })]);
move.addCallback((s) => console.log('callback', String(s)));
setTimeout(() => move.setFinished(), 50);
await both.wait().catch((err) => console.log('all failed:', err.errors.map((e: Error) => e.name)));

const rack = system.supervisor('rack', { strategy: 'one_for_one', intensity: 3, periodMs: 5000 });
let polls = 0;
const poller = new BackgroundTask(() => void polls++, { system, supervisor: rack, frequency: 100 });
poller.run();
await new Promise((r) => setTimeout(r, 200));
await poller.stop();
console.log('polled', polls > 5, 'state', poller.state);
await system.stop();
