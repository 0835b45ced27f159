/**
 * `PV.put(data)`: a put with completion as an ophyd-style `Status` (ophyd's `EpicsSignal.set(...)` with
 * `put_complete=True`). The WRITE_NOTIFY goes out at once; the status finishes (after its `settleTime`) on the
 * reply with ECA_NORMAL, and fails with CaStatusError (failure ECA), ErrorResponseReceived (server ERROR),
 * CaTimeoutError (no reply within `timeout`: its ioid is freed then) or CaDisconnectedError (three circuit deaths).
 * Cancelling the status (or the system stopping) abandons the request: its ioid is freed and a late reply dropped.
 *
 * The status itself has no timeout of its own: the request's deadline is the one that fails it, with the CA error.
 */
import { Status } from '../../api/status.js';
import type { OrrerySystem } from '../../engine/system.js';
import type { PutOptions, PV } from './pv.js';

export function putStatus(pv: PV, system: OrrerySystem, data: unknown, options: PutOptions): Status {
  const { timeout, dataType, ...statusOptions } = options;
  const abort = new AbortController();
  // the status first: a bad Status option throws before anything is written (and leaves no request behind)
  const status = new Status({ name: `put ${pv.name}`, ...statusOptions, system });
  // the request starts at once; a bad argument rejects it, which fails the status
  const request = pv.write(data, { wait: true, timeout, dataType, signal: abort.signal });
  request.then(
    () => {
      if (!status.done) status.setFinished();
    },
    (err: unknown) => {
      if (!status.done) status.setException(err instanceof Error ? err : new Error(String(err)));
    },
  );
  status.addCallback((s) => {
    if (!s.success) abort.abort(s.exception() ?? undefined);
  });
  return status;
}
