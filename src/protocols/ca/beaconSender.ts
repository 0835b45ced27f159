/**
 * Server beacons (rsrv `online_notify.c`): RSRV_IS_UP `(13,0,13,tcpPort,beaconId,serverIp)` to every beacon
 * address, the first 20 ms after start, the interval doubling up to the beacon period (15 s by default); the
 * beacon id goes up by one each time. Clients use them to notice a (re)started server. Timers run on the injected
 * clock; `stop()` leaves none.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import type { Clock } from '../../engine/clock.js';
import type { Logger } from '../../engine/logging.js';
import type { CaAddress } from './addressList.js';
import { beacon } from './commands.js';
import { BEACON_INITIAL_MS } from './constants.js';

export interface BeaconSenderOptions {
  socket: UdpSocket;
  clock: Clock;
  logger: Logger;
  addresses: readonly CaAddress[];
  periodMs: number;
  tcpPort: number;
  /** The server's IPv4 address as u32, or 0 (receivers then use the datagram's source). */
  serverIp: number;
}

export class BeaconSender {
  readonly #o: BeaconSenderOptions;
  #timer: unknown = undefined;
  #intervalMs = BEACON_INITIAL_MS;
  #beaconId = 0;
  #running = false;
  #reportedFailure = false;

  constructor(options: BeaconSenderOptions) {
    this.#o = options;
  }

  /** Beacons sent so far. */
  get sent(): number {
    return this.#beaconId;
  }

  start(): void {
    if (this.#running || this.#o.addresses.length === 0) return;
    this.#running = true;
    this.#intervalMs = Math.min(BEACON_INITIAL_MS, this.#o.periodMs);
    this.#timer = this.#o.clock.setTimeout(this.#tick, this.#intervalMs);
  }

  readonly #tick = (): void => {
    if (!this.#running) return;
    const bytes = beacon(this.#o.tcpPort, this.#beaconId, this.#o.serverIp);
    this.#beaconId = (this.#beaconId + 1) >>> 0;
    for (const a of this.#o.addresses) {
      try {
        this.#o.socket.send(bytes, a.port, a.host, this.#onSent);
      } catch (err) {
        this.#onSent(err as Error);
      }
    }
    this.#intervalMs = Math.min(this.#intervalMs * 2, this.#o.periodMs);
    this.#timer = this.#o.clock.setTimeout(this.#tick, this.#intervalMs);
  };

  readonly #onSent = (err: Error | null): void => {
    if (!err || this.#reportedFailure) return;
    this.#reportedFailure = true; // once: a beacon address that cannot be reached fails every period
    this.#o.logger.warn({ err }, 'CA beacon not sent');
  };

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
