/**
 * What the `lrc` machine's actions hand to the context and to the caller's callback (kept out of the machine file).
 */
import type { LrcUpdate } from '../../src/protocols/tango/wire.js';
import { isThenable } from '../core/thenable.js';
import type { LrcContext } from './lrcTypes.js';

/**
 * Call the callback once per update, in order; a throwing callback is reported, never fatal (nor is the report).
 * An async callback's rejection is reported the same way: a rejection nobody handles would end the process.
 * Nothing more once the caller asked for the end of the call (`context.stop`): `unsubscribe()` or an aborted signal
 * from inside the callback sends an UNSUBSCRIBE that waits for this step to end (both runners queue what is sent
 * during a step), while the rest of a batch (the events replayed at submission, a v1 result and its held status)
 * would still be delivered after `unsubscribe()` returned.
 */
export function deliver(context: LrcContext, updates: readonly LrcUpdate[]): void {
  const stop = context.stop;
  for (let i = 0; i < updates.length; i++) {
    if (stop.stopRequested) return;
    const u = updates[i];
    try {
      const returned: unknown = context.callback(u);
      // (a plain callback returns undefined: one comparison on the usual path)
      if (returned !== undefined && isThenable(returned))
        Promise.resolve(returned).then(undefined, (err) => report(context, err));
    } catch (err) {
      report(context, err);
    }
  }
}

function report(context: LrcContext, err: unknown): void {
  try {
    context.onCallbackError(err);
  } catch {
    // the report failed too: the next update is still delivered
  }
}
