/**
 * caproto threading client's `Batch`: queue reads and writes on many PVs, then send them together. caproto's
 * `with Batch() as b: b.read(pv, cb)` is `await using b = new Batch(); b.read(pv, cb)` (or `await b.send()`).
 *
 * `send()` waits (in parallel, within the batch's timeout) for every PV to connect, then issues every request in
 * the same turn of the event loop, so the requests of one circuit leave in one socket write (the circuit corks
 * the writes of a turn). Callbacks get each reply as it comes; `send()` resolves once every request has its reply,
 * its failure or its deadline, with the errors by request. As everywhere, a reply after the deadline is dropped
 * and its ioid freed at the deadline.
 *
 * Differences from upstream, on purpose: `send()` reports what failed (caproto's batch only logs), a write
 * without a callback is fire-and-forget (WRITE) as in caproto, with one it waits for WRITE_NOTIFY.
 */
import { checkDuration } from '../../../machines/core/duration.js';
import { CaValueError } from './errors.js';
import { PV } from './pv.js';
import { checkOptions, describeArg, type ReadResponse, type WriteResponse } from './pvTypes.js';
import { deadline } from './sync.js';

export interface BatchOptions {
  /** ms for the whole batch (connection + replies); default each PV's context timeout. */
  timeout?: number;
}

export interface BatchReadOptions {
  dataType?: number | string;
  dataCount?: number;
  forceIntEnums?: boolean;
}

export interface BatchWriteOptions {
  dataType?: number | string;
  dataCount?: number;
}

export interface BatchFailure {
  pv: PV;
  kind: 'read' | 'write';
  error: Error;
}

export interface BatchResult {
  /** Requests that got their reply (or were sent, for writes without a callback). */
  completed: number;
  failures: BatchFailure[];
}

type Request =
  | { kind: 'read'; pv: PV; callback: (response: ReadResponse) => void; options: BatchReadOptions }
  | {
      kind: 'write';
      pv: PV;
      data: unknown;
      callback: ((response: WriteResponse) => void) | undefined;
      options: BatchWriteOptions;
    };

export class Batch {
  readonly #timeout: number | undefined;
  #requests: Request[] = [];
  #sent = false;

  constructor(options: BatchOptions = {}) {
    checkOptions(options, 'Batch');
    this.#timeout = checkDuration('timeout', options.timeout, false) ?? undefined;
  }

  /** Requests queued and not sent yet. */
  get size(): number {
    return this.#requests.length;
  }

  /** Queue a READ_NOTIFY; `callback(response)` gets the reply. */
  read(pv: PV, callback: (response: ReadResponse) => void, options: BatchReadOptions = {}): void {
    this.#check(pv, callback, true);
    checkOptions(options, 'read');
    this.#requests.push({ kind: 'read', pv, callback, options });
  }

  /** Queue a write: WRITE_NOTIFY with a callback (it gets the reply), WRITE without. */
  write(
    pv: PV,
    data: unknown,
    callback?: (response: WriteResponse) => void,
    options: BatchWriteOptions = {},
  ): void {
    this.#check(pv, callback, false);
    checkOptions(options, 'write');
    this.#requests.push({ kind: 'write', pv, data, callback, options });
  }

  /** Send everything queued; resolves when every request settled. A batch is sent once. */
  async send(): Promise<BatchResult> {
    if (this.#sent) throw new CaValueError('this Batch was already sent');
    this.#sent = true;
    const requests = this.#requests;
    this.#requests = [];
    const result: BatchResult = { completed: 0, failures: [] };
    const pvs = [...new Set(requests.map((r) => r.pv))];
    // one deadline per PV on its context's clock, taken now: the connection wait and the reply share it
    const deadlines = new Map(
      pvs.map((pv) => [pv, deadline(this.#timeout ?? pv.context.config.timeoutMs, pv.context.clock)]),
    );
    const left = (pv: PV) => (deadlines.get(pv) as () => number)();
    const connected = await Promise.allSettled(pvs.map((pv) => pv.waitForConnection({ timeout: left(pv) })));
    const unconnected = new Map<PV, Error>();
    pvs.forEach((pv, i) => {
      const outcome = connected[i];
      if (outcome?.status === 'rejected') unconnected.set(pv, outcome.reason as Error);
    });
    const runs = requests.map(async (r) => {
      const error = unconnected.get(r.pv);
      if (error) {
        result.failures.push({ pv: r.pv, kind: r.kind, error });
        return;
      }
      try {
        if (r.kind === 'read') {
          const response = await r.pv.read({ ...r.options, timeout: left(r.pv) });
          r.callback(response);
        } else {
          const notify = r.callback !== undefined;
          const response = await r.pv.write(r.data, {
            ...r.options,
            wait: notify,
            notify,
            timeout: left(r.pv),
          });
          if (r.callback && response) r.callback(response);
        }
        result.completed++;
      } catch (err) {
        result.failures.push({
          pv: r.pv,
          kind: r.kind,
          error: err instanceof Error ? err : new Error(String(err)),
        });
      }
    });
    await Promise.all(runs);
    return result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#sent) await this.send();
  }

  #check(pv: unknown, callback: unknown, required: boolean): void {
    if (this.#sent) throw new CaValueError('this Batch was already sent');
    if (!(pv instanceof PV)) throw new CaValueError(`a Batch request needs a PV, got ${describeArg(pv)}`);
    if (callback === undefined && !required) return;
    if (typeof callback !== 'function') throw new CaValueError('a Batch callback must be a function');
  }
}
