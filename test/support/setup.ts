import { afterAll, afterEach } from 'vitest';
import { addGlobalInspector } from '../../src/engine/globalInspection.js';
import { flush, recordTransitions } from './transitions.js';

addGlobalInspector(recordTransitions);
afterAll(() => flush());

/**
 * XState's development build (the one tests run) warns "Custom actions should not call `assign()` directly" when
 * an assign, raise, emit, ... is made while a custom action is on the stack: a provided action that drives another
 * actor synchronously. A user would see it in their console; here it fails the test it happened in.
 */
const actionMisuse: string[] = [];
const warn = console.warn;
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith('Custom actions should not call'))
    actionMisuse.push(args[0]);
  warn.apply(console, args);
};
afterEach(() => {
  const seen = actionMisuse.splice(0);
  if (seen.length) throw new Error(`XState reported ${seen.length} action misuse(s), the first: ${seen[0]}`);
});
