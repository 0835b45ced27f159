/**
 * What the `lrc` machine's actions hand to the context and to the caller's callback (kept out of the machine file).
 */
import type { LrcUpdate } from '../../src/protocols/tango/wire.js';
import type { LrcContext } from './lrcTypes.js';

/** Call the callback once per update, in order; a throwing callback is reported, never fatal (nor is the report). */
export function deliver(context: LrcContext, updates: readonly LrcUpdate[]): void {
  for (let i = 0; i < updates.length; i++) {
    const u = updates[i];
    try {
      context.callback(u);
    } catch (err) {
      try {
        context.onCallbackError(err);
      } catch {
        // the report failed too: the next update is still delivered
      }
    }
  }
}
