/**
 * Collects what queued microtasks throw (an error re-thrown in a microtask of its own, as the engine's `Deadlines`
 * and `DeadlineSweep` surface a callback's throw) instead of letting it surface unhandled. `restore()` puts
 * `queueMicrotask` back; call it in a `finally`.
 */
export function catchMicrotaskThrows(): { caught: unknown[]; restore(): void } {
  const caught: unknown[] = [];
  const original = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (fn) =>
    original(() => {
      try {
        fn();
      } catch (err) {
        caught.push(err);
      }
    });
  return {
    caught,
    restore: () => {
      globalThis.queueMicrotask = original;
    },
  };
}
