/**
 * The client side of one virtual circuit as the channels see it (caproto's `VirtualCircuitManager` tables): which
 * channel a cid belongs to, which pending read/write an ioid answers, which subscription a subid feeds. Frames come
 * from the circuit straight here (never through an XState event) and go to their channel, operation or
 * subscription by one Map lookup.
 *
 *   CREATE_CHAN / ACCESS_RIGHTS / CREATE_CH_FAIL / SERVER_DISCONN (by cid) ──► ChannelRoute
 *   READ_NOTIFY / WRITE_NOTIFY (by ioid) ──► PendingOp (removed: a second or late reply finds nothing)
 *   EVENT_ADD (by subid) ──► SubscriptionRoute (an EVENT_CANCEL acknowledgement finds nothing: dropped)
 *   ERROR ──► the op, subscription or channel named by the failing request's header
 *   circuit closed ──► every op fails with CaDisconnectedError, every channel gets circuitLost, tables emptied
 *   circuit closed before it ever connected (TCP connect refused or timed out) ──► every channel gets
 *                      connectFailed with the circuit's error instead (its waits fail with it; it backs off)
 *
 * A CREATE_CHAN answer for a cid nobody waits for any more (the PV was closed while connecting) is cleared on the
 * server at once, so no server channel outlives its client; so is one naming a native type outside 0..6, which
 * the channel takes as CREATE_CH_FAIL (it backs off and searches again) rather than connect with a type no
 * request could use.
 */
import type { Logger } from '../../engine/logging.js';
import { clearChannelRequest, createChanRequest, describeFrame, parseErrorResponse } from './commands.js';
import { Command, ecaName } from './constants.js';
import { CaDisconnectedError, CaError, ErrorResponseReceived } from './errors.js';
import type { CaFrame } from './frame.js';

/** The transport one CircuitChannels drives: what it uses of `CircuitConnection` (tests give a fake). */
export interface CircuitLike {
  readonly key: { host: string; port: number; priority: number };
  readonly state: 'connecting' | 'connected' | 'unresponsive' | 'closed';
  readonly serverMinorVersion: number | undefined;
  readonly lastHeardMs: number;
  send(bytes: Uint8Array): boolean;
  onFrame(listener: (frame: CaFrame) => void): () => void;
  onState(
    listener: (state: 'connecting' | 'connected' | 'unresponsive' | 'closed', error?: Error) => void,
  ): () => void;
  close(error?: Error): void;
}

/** What a channel (its PV) is told about itself. */
export interface ChannelRoute {
  created(sid: number, nativeType: number, nativeCount: number): void;
  accessRights(rights: number): void;
  createFailed(): void;
  serverDisconnected(): void;
  circuitLost(error: Error): void;
  /**
   * The circuit closed before it ever connected (its TCP connect was refused or timed out, `error` says which): as
   * when no circuit can be opened, the channel's waits fail with `error` and it backs off before searching again.
   */
  connectFailed(error: Error): void;
}

/** A read or write waiting for its reply. */
export interface PendingOp {
  reply(frame: CaFrame): void;
  fail(error: Error): void;
}

/** A live monitor. */
export interface SubscriptionRoute {
  event(frame: CaFrame): void;
  failed(error: Error): void;
}

const U32 = 0x1_0000_0000;
/** The largest native type a channel can have (DOUBLE). */
const MAX_NATIVE_TYPE = 6;

/** The channels, operations and subscriptions of one circuit. */
export class CircuitChannels {
  readonly circuit: CircuitLike;
  readonly #logger: Logger;
  readonly #channels = new Map<number, ChannelRoute>();
  readonly #ops = new Map<number, PendingOp>();
  readonly #subscriptions = new Map<number, SubscriptionRoute>();
  readonly #offs: (() => void)[] = [];
  readonly #onClosed: (self: CircuitChannels, error: Error) => void;
  #nextIoid = 1;
  #nextSubid = 1;
  #closed = false;
  #closeError: Error | null = null;
  /** The circuit reached `connected` (a circuit given already connected counts). */
  #opened: boolean;

  constructor(circuit: CircuitLike, logger: Logger, onClosed: (self: CircuitChannels, error: Error) => void) {
    this.circuit = circuit;
    this.#logger = logger;
    this.#onClosed = onClosed;
    this.#opened = circuit.state === 'connected' || circuit.state === 'unresponsive';
    this.#offs.push(
      circuit.onFrame((frame) => this.#frame(frame)),
      circuit.onState((state, error) => {
        if (state === 'connected') this.#opened = true;
        else if (state === 'closed') this.#lost(error);
      }),
    );
    if (circuit.state === 'closed') queueMicrotask(() => this.#lost(undefined));
  }

  get closed(): boolean {
    return this.#closed;
  }
  /** The error the circuit closed with. */
  get closeError(): Error | null {
    return this.#closeError;
  }
  /** Operations waiting for a reply (no ioid outlives its deadline). */
  get pendingOps(): number {
    return this.#ops.size;
  }
  get channelCount(): number {
    return this.#channels.size;
  }
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  send(bytes: Uint8Array): boolean {
    return !this.#closed && this.circuit.send(bytes);
  }

  /** Route `cid` to `route` and send CREATE_CHAN; a closed circuit tells the route at once (in a microtask). */
  addChannel(cid: number, name: string, route: ChannelRoute): void {
    if (this.#closed) {
      const error = this.#closeError ?? new CaDisconnectedError('circuit closed');
      queueMicrotask(() => route.circuitLost(error));
      return;
    }
    this.#channels.set(cid, route);
    try {
      this.circuit.send(createChanRequest(cid, name));
    } catch (err) {
      // refused (CircuitQueueFullError: the server reads nothing): the channel backs off and tries again
      this.#channels.delete(cid);
      this.#logger.warn({ err, pv: name }, 'CREATE_CHAN could not be queued');
      queueMicrotask(() => route.createFailed());
    }
  }

  removeChannel(cid: number): void {
    this.#channels.delete(cid);
  }

  /** CLEAR_CHANNEL(sid, cid) and stop routing `cid`. */
  clearChannel(cid: number, sid: number): void {
    this.#channels.delete(cid);
    this.send(clearChannelRequest(sid, cid));
  }

  /** A fresh ioid routed to `op` (until its reply, `dropOp` or the circuit's end). */
  addOp(op: PendingOp): number {
    let ioid = this.#nextIoid;
    while (this.#ops.has(ioid)) ioid = (ioid + 1) % U32;
    this.#nextIoid = (ioid + 1) % U32;
    this.#ops.set(ioid, op);
    return ioid;
  }

  /** Forget `ioid` (deadline passed, cancelled): its reply, if any comes, is dropped. */
  dropOp(ioid: number): boolean {
    return this.#ops.delete(ioid);
  }

  /** A fresh subscription id routed to `route`. */
  addSubscription(route: SubscriptionRoute): number {
    let subid = this.#nextSubid;
    while (this.#subscriptions.has(subid)) subid = (subid + 1) % U32;
    this.#nextSubid = (subid + 1) % U32;
    this.#subscriptions.set(subid, route);
    return subid;
  }

  removeSubscription(subid: number): void {
    this.#subscriptions.delete(subid);
  }

  /** Close the circuit (the context's disconnect, or a fault). */
  close(error?: Error): void {
    this.circuit.close(error);
    this.#lost(error);
  }

  #frame(frame: CaFrame): void {
    try {
      this.#route(frame);
    } catch (err) {
      // a reply that does not decode is the server's fault: that circuit cannot be trusted any more
      this.#logger.warn({ err, frame: describeFrame(frame) }, 'closing a circuit after a bad reply');
      this.close(err instanceof Error ? err : new CaError(String(err)));
    }
  }

  #route(frame: CaFrame): void {
    switch (frame.command) {
      case Command.READ_NOTIFY:
      case Command.WRITE_NOTIFY: {
        const op = this.#ops.get(frame.p2);
        if (!op) {
          this.#logger.debug({ ioid: frame.p2 }, 'ignoring a late or unknown response');
          return;
        }
        this.#ops.delete(frame.p2);
        op.reply(frame);
        return;
      }
      case Command.EVENT_ADD: {
        const sub = this.#subscriptions.get(frame.p2);
        if (sub) sub.event(frame);
        return;
      }
      case Command.CREATE_CHAN: {
        const route = this.#channels.get(frame.p1);
        if (!route) {
          this.send(clearChannelRequest(frame.p2, frame.p1));
          return;
        }
        if (frame.dataType > MAX_NATIVE_TYPE) {
          // no read, write or monitor could name a type for it: as CREATE_CH_FAIL (the channel backs off), and
          // the server's channel is cleared
          this.#logger.warn(
            { cid: frame.p1, nativeType: frame.dataType },
            'CREATE_CHAN reply with a native type outside 0..6: channel refused',
          );
          this.#channels.delete(frame.p1);
          this.send(clearChannelRequest(frame.p2, frame.p1));
          route.createFailed();
          return;
        }
        route.created(frame.p2, frame.dataType, frame.count);
        return;
      }
      case Command.ACCESS_RIGHTS:
        this.#channels.get(frame.p1)?.accessRights(frame.p2);
        return;
      case Command.CREATE_CH_FAIL: {
        const route = this.#channels.get(frame.p1);
        this.#channels.delete(frame.p1);
        route?.createFailed();
        return;
      }
      case Command.SERVER_DISCONN: {
        const route = this.#channels.get(frame.p1);
        this.#channels.delete(frame.p1);
        route?.serverDisconnected();
        return;
      }
      case Command.ERROR:
        this.#error(frame);
        return;
      default:
        // CLEAR_CHANNEL echoes, EVENT_CANCEL acknowledgements and the like need nothing
        return;
    }
  }

  #error(frame: CaFrame): void {
    const { request, text } = parseErrorResponse(frame);
    const eca = frame.p2;
    const error = new ErrorResponseReceived(eca, text, `server error for ${describeFrame(request)}`);
    switch (request.command) {
      case Command.READ_NOTIFY:
      case Command.WRITE_NOTIFY: {
        const op = this.#ops.get(request.p2);
        if (op) {
          this.#ops.delete(request.p2);
          op.fail(error);
          return;
        }
        break;
      }
      case Command.EVENT_ADD: {
        const sub = this.#subscriptions.get(request.p2);
        if (sub) {
          sub.failed(error);
          return;
        }
        break;
      }
      case Command.CREATE_CHAN: {
        const route = this.#channels.get(request.p1);
        if (route) {
          this.#channels.delete(request.p1);
          route.createFailed();
          return;
        }
        break;
      }
    }
    this.#logger.warn({ eca: ecaName(eca), text, request: describeFrame(request) }, 'server error response');
  }

  #lost(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    const { host, port } = this.circuit.key;
    const cause = error ?? new CaDisconnectedError(`circuit to ${host}:${port} closed`);
    this.#closeError = cause;
    for (const off of this.#offs.splice(0)) off();
    const failure =
      cause instanceof CaDisconnectedError
        ? cause
        : new CaDisconnectedError(`circuit to ${host}:${port} closed: ${cause.message}`, { cause });
    const ops = [...this.#ops.values()];
    const channels = [...this.#channels.values()];
    this.#ops.clear();
    this.#channels.clear();
    this.#subscriptions.clear();
    this.#onClosed(this, cause);
    for (const op of ops) op.fail(failure);
    if (this.#opened) for (const channel of channels) channel.circuitLost(cause);
    else for (const channel of channels) channel.connectFailed(cause);
  }
}
