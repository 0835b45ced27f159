// Inspect the built-in KATCP simulator: state callbacks with model changes, a sampled sensor, a request.
import { createKatcpSimulator, InspectingClient } from '../../src/protocols/katcp/index.js';

const sim = createKatcpSimulator({ port: 0 });
const { host, port } = await sim.listen();
const client = new InspectingClient(host, port, {
  stateCallback: (state, changes) => console.log(String(state), [...(changes?.sensors?.added ?? [])].join(' ')),
});
await client.connect();
await client.untilSynced({ timeout: 10_000 });
const counter = await client.futureGetSensor('counter');
await client.setSamplingStrategy('counter', 'event'); // cached, re-applied after every reconnect
await new Promise<void>((resolve) => counter?.attach((_sensor, { status }) => status === 'nominal' && resolve()));
console.log('counter', counter?.status);
const { reply } = await client.simpleRequest('add', 2, 3);
console.log('add', reply.args.map(String).join(' '));
await client.stop();
await sim.close();
