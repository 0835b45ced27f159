/**
 * `NameServerLink`: the TCP connection of a client to one `EPICS_CA_NAME_SERVERS` entry (libca `SearchDestTCP`
 * and its `tcpiiu`), over which the searches go as well as over UDP (CA V4.12, for sites UDP does not reach: a
 * CA gateway, a name server, or any server that answers SEARCH on TCP, Orrery's `CaServer` included).
 *
 * - Opening: VERSION (priority 0) then CLIENT_NAME and HOST_NAME, as libca's circuits do. Searches are sent only
 *   once the server's VERSION reply says minor >= 12 (libca `SearchDestTCP::searchRequest`, `CA_V412`); a server
 *   that says less keeps the link, but gets no search (logged once).
 * - Searches: the SEARCH messages of each round of the UDP schedule (the caller's `send`), and every unanswered
 *   search at once when the link becomes ready (libca waits for its next search-timer round).
 * - Replies: SEARCH replies go to `onSearchReply`; the IP field 0xFFFFFFFF means "this sender": the name server's
 *   own host AND port are the channel's server (libca `tcpiiu::searchRespNotify`), else the IP field with the
 *   port of the dataType field. NOT_FOUND, ECHO and the like are ignored.
 * - Failures never throw: a refused, timed-out (connect bounded by `connectTimeoutMs`) or closed connection is
 *   retried after a back-off of 250 ms doubling to `maxRetryMs` (libca retries a name server's connect every
 *   `EPICS_CA_CONN_TMO`, and reopens a dropped one at its next search round); a link that became ready resets the
 *   back-off. The first failure of an outage is a warning, the others debug.
 * - `close()` destroys the socket and clears the timer; it resolves once the socket is released.
 *
 * Differences from libca, on purpose: the link is a search-only connection: channels found through it open the
 * normal channel circuit to the server (a second TCP connection when the name server is that server; libca shares
 * its circuit of default priority). The UDP VERSION (sequence number) that leads libca's search datagram is not
 * copied onto the TCP stream (a TCP VERSION sets the circuit's priority).
 */
import { connect, type Socket } from 'node:net';
import type { Clock } from '../../engine/clock.js';
import type { Logger } from '../../engine/logging.js';
import type { CaAddress } from './addressList.js';
import { clientName, hostName, u32ToIp, versionRequest } from './commands.js';
import { Command } from './constants.js';
import { type CaFrame, FrameParser } from './frame.js';

/** The first wait before reconnecting; doubled per failure up to `maxRetryMs`. */
export const NAME_SERVER_FIRST_RETRY_MS = 250;
/** CA V4.12: TCP search (`CA_V412`). */
const TCP_SEARCH_MINOR = 12;
const NO_IP = 0xffffffff;

export interface NameServerLinkOptions {
  address: CaAddress;
  clock: Clock;
  logger: Logger;
  /** Bound on one connection attempt, ms. */
  connectTimeoutMs: number;
  /** Largest wait between attempts, ms. */
  maxRetryMs: number;
  hostName: string;
  clientName: string;
  /** The link can take searches (again). */
  onReady(): void;
  /** A SEARCH reply, with the server it names (already resolved against this name server's address). */
  onSearchReply(frame: CaFrame, server: CaAddress, minorVersion: number): void;
}

type State = 'idle' | 'connecting' | 'open' | 'ready' | 'waiting' | 'closed';

export class NameServerLink {
  readonly address: CaAddress;
  readonly #o: NameServerLinkOptions;
  #state: State = 'idle';
  #socket: Socket | undefined;
  #timer: unknown;
  #retryMs = NAME_SERVER_FIRST_RETRY_MS;
  #minor = 0;
  #unref = false;
  #warned = false;
  #socketClosed: Promise<void> = Promise.resolve();
  #connects = 0;

  constructor(options: NameServerLinkOptions) {
    this.#o = options;
    this.address = options.address;
  }

  /** 'ready' once the server's VERSION allows TCP search. */
  get state(): State {
    return this.#state;
  }

  /** Connection attempts so far (tests). */
  get connects(): number {
    return this.#connects;
  }

  /** Connects (idempotent). */
  start(): void {
    if (this.#state === 'idle') this.#connect();
  }

  /** Sends SEARCH messages if the link is ready; false otherwise. */
  send(requests: readonly Buffer[]): boolean {
    if (this.#state !== 'ready' || !this.#socket || requests.length === 0) return false;
    this.#socket.write(requests.length === 1 ? requests[0] : Buffer.concat(requests));
    return true;
  }

  unref(): void {
    this.#unref = true;
    this.#socket?.unref();
  }

  close(): Promise<void> {
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.#clearTimer();
      this.#socket?.destroy();
      this.#socket = undefined;
    }
    return this.#socketClosed;
  }

  #text(): string {
    return `${this.address.host}:${this.address.port}`;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #connect(): void {
    this.#state = 'connecting';
    this.#connects++;
    this.#minor = 0;
    const socket = connect({ host: this.address.host, port: this.address.port });
    this.#socket = socket;
    if (this.#unref) socket.unref();
    this.#socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    const parser = new FrameParser();
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#lost(socket, new Error(`connect timed out after ${this.#o.connectTimeoutMs} ms`));
    }, this.#o.connectTimeoutMs);
    socket.on('connect', () => {
      if (this.#socket !== socket) return;
      this.#clearTimer();
      this.#state = 'open';
      socket.setNoDelay(true);
      socket.setKeepAlive(true);
      socket.write(
        Buffer.concat([versionRequest(0), clientName(this.#o.clientName), hostName(this.#o.hostName)]),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.#socket !== socket) return;
      try {
        parser.push(chunk, (frame) => this.#frame(frame));
      } catch (err) {
        this.#lost(socket, err);
      }
    });
    socket.on('error', (err) => this.#lost(socket, err));
    socket.on('close', () => this.#lost(socket, new Error('connection closed')));
  }

  #frame(frame: CaFrame): void {
    switch (frame.command) {
      case Command.VERSION:
        this.#minor = frame.count;
        if (this.#minor >= TCP_SEARCH_MINOR) {
          if (this.#state === 'ready') return;
          this.#state = 'ready';
          this.#retryMs = NAME_SERVER_FIRST_RETRY_MS;
          this.#warned = false;
          this.#o.logger.debug({ nameServer: this.#text(), minor: this.#minor }, 'CA name server connected');
          this.#o.onReady();
        } else {
          this.#o.logger.warn(
            { nameServer: this.#text(), minor: this.#minor },
            'CA name server does not support TCP search (needs protocol minor >= 12): no search sent to it',
          );
        }
        return;
      case Command.SEARCH: {
        const server: CaAddress =
          frame.p1 === NO_IP ? this.address : { host: u32ToIp(frame.p1), port: frame.dataType };
        const minor = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : this.#minor;
        this.#o.onSearchReply(frame, server, minor);
        return;
      }
      default:
        return; // NOT_FOUND (DO_REPLY only), ECHO, ...
    }
  }

  /** The connection failed or ended: release it and retry after the back-off (unless closed). */
  #lost(socket: Socket, err: unknown): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    socket.destroy();
    this.#clearTimer();
    if (this.#state === 'closed') return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, Math.max(this.#o.maxRetryMs, NAME_SERVER_FIRST_RETRY_MS));
    const fields = { nameServer: this.#text(), err, retryInMs: wait };
    if (this.#warned) this.#o.logger.debug(fields, 'CA name server connection failed');
    else this.#o.logger.warn(fields, 'CA name server connection failed or closed; retrying');
    this.#warned = true;
    this.#state = 'waiting';
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#state === 'waiting') this.#connect();
    }, wait);
  }
}
