/**
 * Whether a caller's callback returned a promise (or another thenable): an async callback, whose rejection must be
 * reported as a throw of the callback is, since a rejection nobody handles ends the process. Pure: the LRC
 * machine's delivery and the core facades' callbacks (Status, BackgroundTask, StreamingTask) share it.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
