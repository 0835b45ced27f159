// Setup file of mutation runs (vitest.mutation.config.ts): like test/support/setup.ts, every system gets the
// transition recorder as a global inspector (so the code paths match `npm test`), here the non-writing one.
import { addGlobalInspector } from '../../../src/engine/globalInspection.js';
import { recordTransitions } from './transitions.js';

addGlobalInspector(recordTransitions);
