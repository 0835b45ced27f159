/** Fixtures for the background-task tests: a test-controlled action and a pino logger that records its lines. */
import { Writable } from 'node:stream';
import { pino } from 'pino';

/** An action whose every call returns a promise the test settles. */
export function controlled() {
  const calls: { resolve: () => void; reject: (e: Error) => void; signal: AbortSignal }[] = [];
  const action = (signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ resolve, reject, signal });
    });
  return { action, calls };
}

/** A pino logger at debug level whose lines are parsed into `lines`. */
export function captureLogs() {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()));
      cb();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, stream) as never };
}
