// Your own machine under a supervisor, logging through pino with its own bindings, watched in the inspector.
import { pino } from 'pino';
import { log, setup } from 'xstate';
import { createSystem, startInspector } from '../../src/index.js';

const shutter = setup({ types: { events: {} as { type: 'OPEN' } | { type: 'CLOSE' } } }).createMachine({
  id: 'shutter',
  initial: 'closed',
  states: {
    closed: { entry: log('closed'), on: { OPEN: 'opening' } },
    opening: { entry: log('opening'), after: { 500: 'open' } },
    open: { entry: log('open'), on: { CLOSE: 'closed' } },
  },
});
const system = createSystem({ logger: pino() });
const dome = system.supervisor('dome', { strategy: 'one_for_one', intensity: 3, periodMs: 10_000 });
const handle = system.spawn(shutter, { supervisor: dome, systemId: 'shutter-1' });
const inspector = await startInspector(system, { port: 0 });
console.error(`inspector: ${inspector.url}`); // /charts/shutter.svg draws the machine
handle.send({ type: 'OPEN' });
await new Promise((r) => setTimeout(r, 600));
console.error('state:', handle.getSnapshot().value);
await inspector.close();
await system.stop();
