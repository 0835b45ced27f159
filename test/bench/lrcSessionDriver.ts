/**
 * A diagnostic of the LRC benchmark: the same workload (10,000 concurrent LRCs on 500 simulated devices) through
 * Orrery's LRC session (`session.ts`: negotiation, shared subscriptions, events kept until a command id is known,
 * routing by command id, v1 status lists routed by difference) driven by a minimal hand-written call instead of the
 * `lrc` machine on the compiled runner and the `invokeLrc` facade. What it costs against `invokeLrc` is what the
 * machine and the facade cost; what it costs against the devices alone is what the session and the device I/O of a
 * call cost: a state machine that cost nothing would still leave this much.
 *
 * The driver does what the machine does for this workload and no more: negotiate, connect the attributes of the
 * chosen version, invoke, then decode the held and live events of its command (`decodeLrcEvent`), deliver each
 * update that has something in it, statuses only forward, and close the call at a terminal status. Left out on
 * purpose (the workload never needs them): timeouts, abort, error events, v1 result ordering (the simulated
 * devices report the result before the terminal status), failed negotiation, subscription or invocation.
 */
import type { LrcEvent } from '../../machines/tango/lrc.js';
import { type LrcCall, LrcDeviceSession } from '../../src/protocols/tango/lrc/session.js';
import type { AttributeEvent, DevicePort } from '../../src/protocols/tango/port.js';
import {
  decodeLrcEvent,
  isTerminalStatus,
  type LrcUpdate,
  lrcAttributesFor,
  updateHasFields,
} from '../../src/protocols/tango/wire.js';

/** One call, as the session's target: events in order, one at a time (sent from inside a step: queued). */
class DriverCall {
  readonly #call: LrcCall;
  readonly #protocol: number;
  readonly #callback: (u: LrcUpdate) => void;
  readonly #done: () => void;
  #commandId = '';
  #status = -1;
  #finished = false;
  #busy = false;
  #queue: LrcEvent[] = [];

  constructor(device: DevicePort, protocol: number, callback: (u: LrcUpdate) => void, done: () => void) {
    this.#protocol = protocol;
    this.#callback = callback;
    this.#done = done;
    this.#call = LrcDeviceSession.of(device).open(this, {
      command: 'Go',
      args: undefined,
      parity: false,
      cacheNegotiation: false,
    });
    this.#call.negotiate();
  }

  send(event: LrcEvent): void {
    if (this.#busy) {
      this.#queue.push(event);
      return;
    }
    this.#busy = true;
    this.#on(event);
    while (this.#queue.length) this.#on(this.#queue.shift()!);
    this.#busy = false;
  }

  #on(e: LrcEvent): void {
    switch (e.type) {
      case 'NEGOTIATED': {
        const max = e.versions ? e.versions[1] : 1;
        this.#call.connect(lrcAttributesFor(Math.min(max, this.#protocol)));
        return;
      }
      case 'SUBSCRIBED':
        this.#call.invoke();
        return;
      case 'INVOKED':
        this.#commandId = e.reply!.commandId!;
        for (let i = 0; i < e.held.length; i++) this.#event(e.held[i]);
        return;
      case 'DEVICE_EVENT':
        this.#event(e.event);
        return;
      default:
        throw new Error(`the bench's driver does not handle ${e.type}`);
    }
  }

  #event(event: AttributeEvent): void {
    if (this.#finished) return;
    const decoded = decodeLrcEvent(event.attribute, event.value, this.#commandId);
    if (!decoded) return;
    const u = decoded.update;
    const status = u.status;
    if (status !== undefined) {
      if (status <= this.#status) delete u.status;
      else this.#status = status;
    }
    if (updateHasFields(u)) this.#callback(u);
    if (u.status !== undefined && isTerminalStatus(u.status)) {
      this.#finished = true;
      this.#call.close();
      this.#done();
    }
  }
}

/**
 * One call through the device's LRC session and the driver (per-call negotiation): resolves once its terminal
 * status was delivered.
 */
export function sessionDriverLrc(
  callback: (u: LrcUpdate) => void,
  device: DevicePort,
  protocol: 1 | 2,
): Promise<void> {
  return new Promise<void>((done) => new DriverCall(device, protocol, callback, done));
}
