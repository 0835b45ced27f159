/**
 * EPICS monitor dead-bands (MDEL for DBE_VALUE, ADEL for DBE_LOG), as EPICS Base's `recGblCheckDeadband`
 * (modules/database/src/ioc/db/recGbl.c) that the analog records call from their `monitor()` routine: the record
 * keeps the last value posted for each mask (MLST, ALST) and posts again when the new value differs from it by more
 * than the dead-band. Pure: no sockets, no timers.
 */

/**
 * Whether a new value passes the dead-band against the last value posted: |next - last| > deadband for two finite
 * values; a change to or from NaN or +-infinity (or from +inf to -inf) always passes, NaN to NaN and inf to the same
 * inf never do. So a dead-band of 0 posts any change, a negative one posts every write (even of the same value), and
 * +infinity posts only those non-finite transitions.
 */
export function passesDeadband(last: number, next: number, deadband: number): boolean {
  let delta = 0;
  if (Number.isFinite(next) && Number.isFinite(last)) {
    delta = Math.abs(last - next);
  } else if (Number.isNaN(next) !== Number.isNaN(last)) {
    delta = Number.POSITIVE_INFINITY; // one is NaN, the other is not
  } else if (!Number.isNaN(next) && next !== last) {
    delta = Number.POSITIVE_INFINITY; // one is infinite, the other finite, or +inf against -inf
  }
  return delta > deadband;
}
