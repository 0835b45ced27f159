/**
 * What ends a running CLI command besides its own end: Ctrl+C (SIGINT), SIGTERM, an AbortSignal given in-process,
 * and a standard output whose reader went away (`orrery ca monitor PV | head -1`: the next write fails with
 * EPIPE). The commands share this one rule instead of each listening for signals its own way.
 *
 * `watchOutput()` (called once by main.ts, never by commands run in-process) turns a write error on stdout into
 * `outputClosed()` aborting, instead of an unhandled 'error' event and a stack trace; from then on `stdoutLine` and
 * the CLI logger write nothing, the running command stops as on Ctrl+C, and main.ts reports the closed output in
 * one line and exits non-zero. A write error on stderr is ignored (there is nowhere left to report it).
 */

const output = new AbortController();
let watching = false;

/** Aborted once a write to stdout failed (EPIPE: the reader went away); its reason is that error. */
export function outputClosed(): AbortSignal {
  return output.signal;
}

/** The code of the error that closed stdout (`EPIPE`), or undefined while it is open. */
export function outputClosedReason(): string | undefined {
  if (!output.signal.aborted) return undefined;
  const reason = output.signal.reason as { code?: unknown; message?: unknown } | undefined;
  return typeof reason?.code === 'string' ? reason.code : String(reason?.message ?? reason);
}

/** Listens for write errors on stdout and stderr (see the module comment). Idempotent. */
export function watchOutput(): void {
  if (watching) return;
  watching = true;
  process.stdout.on('error', (err) => {
    if (!output.signal.aborted) output.abort(err);
  });
  process.stderr.on('error', () => {});
}

/** Is `stream` a stream that can no longer be written (destroyed, or stdout after `outputClosed()`)? */
export function isClosed(stream: object): boolean {
  if (stream === process.stdout && output.signal.aborted) return true;
  return (stream as { destroyed?: unknown }).destroyed === true;
}

/** One line to stdout, unless it is closed. */
export function stdoutLine(line: string): void {
  if (!isClosed(process.stdout)) process.stdout.write(`${line}\n`);
}

/** One line to stderr, unless it is closed. */
export function stderrLine(line: string): void {
  if (!isClosed(process.stderr)) process.stderr.write(`${line}\n`);
}

/** What ended a run: the signal's name, 'aborted' (the in-process signal) or 'stdout closed'. */
export type InterruptReason = 'SIGINT' | 'SIGTERM' | 'aborted' | 'stdout closed';

export interface Interruption {
  /** Aborted on the first interruption, with its InterruptReason as the reason. */
  readonly signal: AbortSignal;
  /** Resolves with the reason on the first interruption. */
  readonly interrupted: Promise<InterruptReason>;
  /** The reason once interrupted. */
  reason(): InterruptReason | undefined;
  /** Removes every listener (call it when the run is over). */
  release(): void;
}

/**
 * Listens for SIGINT, SIGTERM, `signal` and (with `output`, for a command writing to the real stdout) the closing
 * of stdout, until `release()`. While it listens, SIGINT and SIGTERM no longer kill the process: the command ends
 * its run and returns its exit code.
 */
export function interruption(signal?: AbortSignal, options: { output?: boolean } = {}): Interruption {
  const controller = new AbortController();
  let resolveInterrupted!: (reason: InterruptReason) => void;
  const interrupted = new Promise<InterruptReason>((resolve) => {
    resolveInterrupted = resolve;
  });
  const fire = (reason: InterruptReason) => {
    if (controller.signal.aborted) return;
    release();
    controller.abort(reason);
    resolveInterrupted(reason);
  };
  const onSigint = () => fire('SIGINT');
  const onSigterm = () => fire('SIGTERM');
  const onAbort = () => fire('aborted');
  const onOutput = () => fire('stdout closed');
  const outputSignal = options.output ? output.signal : undefined;
  function release() {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    signal?.removeEventListener('abort', onAbort);
    outputSignal?.removeEventListener('abort', onOutput);
  }
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  if (signal?.aborted) fire('aborted');
  else signal?.addEventListener('abort', onAbort, { once: true });
  if (outputSignal?.aborted) fire('stdout closed');
  else outputSignal?.addEventListener('abort', onOutput, { once: true });
  return {
    signal: controller.signal,
    interrupted,
    reason: () => (controller.signal.aborted ? (controller.signal.reason as InterruptReason) : undefined),
    release,
  };
}
