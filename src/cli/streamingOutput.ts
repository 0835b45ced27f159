/**
 * What a streaming command (`ca monitor`, `katcp --watch`, `tango --watch`, the demo's log lines) does with a
 * standard output read more slowly than it writes. A pipe is written asynchronously on Linux: what the reader has
 * not taken yet waits in the process (`process.stdout.writableLength`), so behind a paused `| less` the queue would
 * grow without bound (20 MB seen) for as long as updates come.
 *
 * The policy, one for every streaming command: once more than MAX_PENDING_BYTES wait, the command's lines are
 * dropped, whole, until the reader has taken everything (stdout's 'drain'); then one line on stderr says how many
 * were dropped (`orrery ca monitor: 1200 lines dropped: standard output was not read fast enough (over 1 MiB
 * waiting)`) and the lines go on. The note goes to stderr so that stdout carries only the command's own lines (a
 * `--json` reader still parses every one). One-shot output (`ca get`, a KATCP request, a Tango read) goes through
 * `stdoutLine` and is never dropped; a file or a terminal is written synchronously, so nothing waits and nothing
 * is dropped.
 */
import { isClosed, stderrLine } from './interrupt.js';

/** Bytes waiting for the reader of stdout past which a streaming command drops its lines. */
export const MAX_PENDING_BYTES = 1024 * 1024;

/** What `streamingStdout` needs of the stream (process.stdout; a test gives its own). */
export interface PendingOutput {
  readonly writableLength: number;
  readonly writableNeedDrain: boolean;
  readonly isTTY?: boolean;
  write(text: string): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

/** Where a streaming command writes its output (see the module comment). */
export interface StreamingOutput {
  /** Whole lines (each ending with a newline), written or dropped together. */
  write(text: string): void;
  /** One line (the newline added). */
  line(text: string): void;
  /** Whether stdout is a terminal (for colour). */
  readonly isTTY: boolean;
}

/**
 * The output of the streaming command `command` (`ca monitor`, named in the note) to `stream` (default
 * process.stdout), the note about dropped lines going to `note` (default stderr).
 */
export function streamingStdout(
  command: string,
  stream: PendingOutput = process.stdout,
  note: (line: string) => void = stderrLine,
): StreamingOutput {
  let behind = false;
  let dropped = 0;
  const caughtUp = () => {
    behind = false;
    const n = dropped;
    dropped = 0;
    if (n > 0 && !isClosed(stream)) {
      note(
        `orrery ${command}: ${n} line${n === 1 ? '' : 's'} dropped: standard output was not read fast enough ` +
          `(over ${MAX_PENDING_BYTES / (1024 * 1024)} MiB waiting)`,
      );
    }
  };
  const write = (text: string) => {
    if (isClosed(stream)) return;
    // (a stream past the bound has refused a write, so 'drain' comes once the reader has taken everything)
    if (!behind && stream.writableLength >= MAX_PENDING_BYTES && stream.writableNeedDrain) {
      behind = true;
      stream.once('drain', caughtUp);
    }
    if (behind) {
      // whole lines: what the reader sees has gaps, never half a line
      let lines = 0;
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
      dropped += Math.max(1, lines);
      return;
    }
    stream.write(text);
  };
  return {
    write,
    line: (text) => write(`${text}\n`),
    get isTTY() {
      return stream.isTTY === true;
    },
  };
}
