/**
 * How a CA TCP connection (a circuit, a name-server link) tells its machine that bytes arrived: HEARD, which
 * restarts the machine's silence timer (`EPICS_CA_CONN_TMO`) or answers its ECHO probe. Sent at most once per
 * `heardEveryMs` (the silence timer's granularity), at once while an ECHO is outstanding. Pure: the caller gives
 * the time.
 */

/** HEARD reaches a machine at most this often (bounded by a tenth of the silence before a probe). */
export const HEARD_EVERY_MS = 1000;

/** The throttle interval of a connection whose machine probes after `silenceMs` of silence. */
export function heardEveryMs(silenceMs: number): number {
  return Math.min(HEARD_EVERY_MS, silenceMs / 10);
}

/** One socket's HEARD throttle. */
export class HeardThrottle {
  readonly #everyMs: number;
  #lastSent = Number.NEGATIVE_INFINITY;
  #echoOut = false;

  constructor(everyMs: number) {
    this.#everyMs = everyMs;
  }

  /** An ECHO was written: the next bytes are told at once. */
  echoSent(): void {
    this.#echoOut = true;
  }

  /** Bytes arrived at `now`: whether to send HEARD (then it counts as sent). */
  heard(now: number): boolean {
    if (!this.#echoOut && now - this.#lastSent < this.#everyMs) return false;
    this.#echoOut = false;
    this.#lastSent = now;
    return true;
  }
}
