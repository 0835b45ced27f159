/**
 * A channel (one client's CREATE_CHAN on one PV, over one circuit) and its subscriptions (EVENT_ADD), server
 * side. The channel is the PV's observer: a change of the PV reaches the channel's subscriptions whose mask
 * intersects the event; the circuit decides whether the update goes out now or is coalesced (events off, or the
 * client not reading: the subscription is flagged and its latest value goes out later).
 */
import { AccessRights } from './constants.js';
import type { PvObserver, ServerPvImpl } from './serverPv.js';

/** What a channel needs of its circuit. */
export interface ChannelCircuit {
  postEvent(sub: ServerSubscription): void;
  sendAccessRights(channel: ServerChannel): void;
  dropChannel(channel: ServerChannel, serverDisconn: boolean): void;
}

export class ServerSubscription {
  /** True while coalesced: the latest value goes out when the circuit can send again. */
  pending = false;
  constructor(
    readonly channel: ServerChannel,
    readonly subid: number,
    readonly dataType: number,
    readonly count: number,
    readonly mask: number,
  ) {}
}

export class ServerChannel implements PvObserver {
  readonly subscriptions = new Set<ServerSubscription>();
  #readable: boolean;

  constructor(
    readonly circuit: ChannelCircuit,
    readonly pv: ServerPvImpl,
    readonly cid: number,
    readonly sid: number,
  ) {
    this.#readable = (pv.rights & AccessRights.READ) !== 0;
  }

  get readable(): boolean {
    return this.#readable;
  }

  pvChanged(mask: number): void {
    if (!this.#readable) return;
    for (const sub of this.subscriptions) if ((sub.mask & mask) !== 0) this.circuit.postEvent(sub);
  }

  accessChanged(): void {
    const wasReadable = this.#readable;
    this.#readable = (this.pv.rights & AccessRights.READ) !== 0;
    this.circuit.sendAccessRights(this);
    // readable again: every monitor gets the current value (it missed the changes meanwhile)
    if (this.#readable && !wasReadable) for (const sub of this.subscriptions) this.circuit.postEvent(sub);
  }

  pvRemoved(): void {
    this.circuit.dropChannel(this, true);
  }
}
