import { afterAll } from 'vitest';
import { addGlobalInspector } from '../../src/engine/globalInspection.js';
import { flush, recordTransitions } from './transitions.js';

addGlobalInspector(recordTransitions);
afterAll(() => flush());
