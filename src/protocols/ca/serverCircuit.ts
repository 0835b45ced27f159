/**
 * One TCP virtual circuit of the CA server (rsrv `camessage.c` in TypeScript idiom): it parses the client's
 * requests, answers them, and carries the monitor updates of its channels.
 *
 *   socket 'data' -> FrameParser -> handle (or queue while blocked) -> OutputBuffer -> one socket write per turn
 *                                      ^ blocked while the send backlog is over the high-water mark
 *                                        or too many put-completions are pending
 *
 * Flow control, per circuit: while EVENTS_OFF is in force, or the client does not read (socket backlog + queued
 * bytes over `highWaterBytes`), monitor updates are coalesced: each subscription keeps only a flag, and its latest
 * value goes out once the circuit can send again (EVENTS_ON, or the backlog drained). While over the high-water
 * mark no further request is processed (they wait in a queue of at most one socket chunk, the socket paused), so
 * memory is bounded; past `maxBacklogBytes` (beyond the largest single message the circuit has sent: one reply may
 * be larger than the cap) the client is disconnected.
 *
 * Reads and writes are answered by `serverRequests.ts`, monitors by the channels (`serverChannel.ts`).
 *
 * A malformed frame (parser failure, an unknown or server-only command, a short EVENT_ADD) closes this circuit,
 * logged at warn; other circuits are not affected. Bad ids and types get a CA ERROR reply and the circuit goes on.
 *
 * Differences from rsrv, on purpose: a READ_NOTIFY/EVENT_ADD with an invalid DBR type gets ERROR ECA_BADTYPE
 * (rsrv drops the connection); a count larger than the PV's element count gets ECA_BADCOUNT, a count larger than
 * the current count is zero-filled; put-completions run concurrently (at most 1024 pending per circuit).
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../engine/logging.js';
import * as cmd from './commands.js';
import { Command, Eca, SEARCH_DO_REPLY } from './constants.js';
import { CaConversionError, CaProtocolError } from './errors.js';
import { type CaFrame, FrameParser } from './frame.js';
import { type ChannelCircuit, ServerChannel, ServerSubscription } from './serverChannel.js';
import { OutputBuffer } from './serverOutput.js';
import type { ServerPvImpl } from './serverPv.js';
import {
  answerRead,
  applyWrite,
  type RequestCircuit,
  readableType,
  requestHeader,
  zeros,
} from './serverRequests.js';

/** What a circuit needs of its server (internal). */
export interface CircuitHost {
  readonly logger: Logger;
  readonly tcpPort: number;
  readonly highWaterBytes: number;
  readonly maxBacklogBytes: number;
  readonly maxChannels: number;
  readonly maxSubscriptions: number;
  readonly maxRequestBytes: number;
  pv(name: string): ServerPvImpl | undefined;
  forget(circuit: ServerCircuit): void;
}

/** Put-completions pending on one circuit before it stops reading requests. */
const MAX_PENDING_PUTS = 1024;
const NO_CID = 0xffffffff;
const MAX_NAME = 256;

export class ServerCircuit implements ChannelCircuit {
  readonly id: number;
  readonly address: string;
  readonly socket: Socket;
  readonly #host: CircuitHost;
  readonly #parser: FrameParser;
  readonly #out: OutputBuffer;
  readonly #channels = new Map<number, ServerChannel>();
  readonly #subs = new Map<number, ServerSubscription>();
  readonly #coalesced = new Set<ServerSubscription>();
  #queue: CaFrame[] = [];
  #queueHead = 0;
  #eventsOff = false;
  #pendingPuts = 0;
  #nextSid = 1;
  #resuming = false;
  closed = false;
  priority = 0;
  clientMinor = 0;
  hostName = '';
  userName = '';

  constructor(id: number, socket: Socket, host: CircuitHost) {
    this.id = id;
    this.socket = socket;
    this.#host = host;
    const h = socket.remoteAddress ?? 'unknown';
    this.address = `${h.startsWith('::ffff:') ? h.slice(7) : h}:${socket.remotePort ?? 0}`;
    // asked at each request: a PV added after this client connected may take larger writes
    this.#parser = new FrameParser({ maxPayload: () => host.maxRequestBytes });
    this.#out = new OutputBuffer(socket, this.#afterFlush);
    (this.#io as { out: OutputBuffer }).out = this.#out;
    this.#out.bytes(cmd.versionResponse());
  }

  get channelCount(): number {
    return this.#channels.size;
  }
  get subscriptionCount(): number {
    return this.#subs.size;
  }
  /** Bytes waiting to reach the client (socket backlog + queued). */
  get backlog(): number {
    return this.socket.writableLength + this.#out.pending;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Reading

  onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.#parser.push(chunk, this.#onFrame);
    } catch (err) {
      this.#fail(err, 'malformed request');
    }
  }

  readonly #onFrame = (frame: CaFrame): void => {
    if (this.closed) return;
    if (this.#queueHead < this.#queue.length || this.#blocked()) {
      this.#queue.push(frame);
      this.socket.pause();
      return;
    }
    this.#handle(frame);
  };

  #blocked(): boolean {
    return this.backlog > this.#host.highWaterBytes || this.#pendingPuts >= MAX_PENDING_PUTS;
  }

  /** After a socket write, and on 'drain': disconnect past the hard cap; else send coalesced updates and go on
   *  with queued requests when there is room. */
  readonly #afterFlush = (): void => {
    if (this.closed) return;
    // the cap counts beyond the largest message this client was sent: one reply (a large array) may be larger
    // than the cap by itself, and a client that reads it is no client that does not read
    if (this.socket.writableLength > this.#host.maxBacklogBytes + this.#out.largestMessage) {
      this.#host.logger.warn(
        { client: this.address, backlog: this.socket.writableLength },
        'disconnecting CA client: it does not read what it asked for',
      );
      this.close();
      return;
    }
    if (this.backlog <= this.#host.highWaterBytes) this.resume();
  };

  /** Sends coalesced updates and processes queued requests while the circuit is not blocked. */
  resume(): void {
    if (this.closed || this.#resuming) return;
    this.#resuming = true;
    try {
      this.#sendCoalesced();
      const queue = this.#queue;
      while (!this.closed && this.#queueHead < queue.length && !this.#blocked()) {
        const frame = queue[this.#queueHead];
        queue[this.#queueHead++] = undefined as unknown as CaFrame;
        this.#handle(frame);
      }
      if (this.closed) return;
      if (this.#queueHead >= queue.length) {
        this.#queue = [];
        this.#queueHead = 0;
        if (this.socket.isPaused()) this.socket.resume();
      }
    } finally {
      this.#resuming = false;
    }
  }

  /** Sends the latest value of each coalesced subscription while events are on and there is room. */
  #sendCoalesced(): void {
    if (this.#eventsOff || this.#coalesced.size === 0) return;
    for (const sub of this.#coalesced) {
      if (this.backlog > this.#host.highWaterBytes) break;
      this.#coalesced.delete(sub);
      sub.pending = false;
      this.#sendEvent(sub);
    }
  }

  #handle(frame: CaFrame): void {
    try {
      this.#dispatch(frame);
    } catch (err) {
      this.#fail(err, `bad ${cmd.describeFrame(frame)}`);
    }
  }

  #dispatch(f: CaFrame): void {
    switch (f.command) {
      case Command.VERSION:
        this.priority = f.dataType;
        this.clientMinor = f.count;
        return;
      case Command.HOST_NAME:
        this.hostName = cmd.nameOf(f.payload).slice(0, MAX_NAME);
        return;
      case Command.CLIENT_NAME:
        this.userName = cmd.nameOf(f.payload).slice(0, MAX_NAME);
        return;
      case Command.ECHO:
        this.#out.bytes(cmd.echo());
        return;
      case Command.EVENTS_OFF:
        this.#eventsOff = true;
        return;
      case Command.EVENTS_ON:
        this.#eventsOff = false;
        // handled from the queue, inside resume(): resume() would be a no-op there, and the coalesced updates
        // (each of which ignores later changes until it is sent) waited for some other write to the circuit,
        // maybe forever. Sent now, they go out before the replies to the requests after EVENTS_ON.
        if (this.#resuming) this.#sendCoalesced();
        else this.resume();
        return;
      case Command.SEARCH:
        this.#search(f);
        return;
      case Command.CREATE_CHAN:
        this.#createChan(f);
        return;
      case Command.CLEAR_CHANNEL:
        this.#clearChannel(f);
        return;
      case Command.READ_NOTIFY:
      case Command.READ:
        this.#read(f);
        return;
      case Command.READ_SYNC:
        this.#out.frame(Command.READ_SYNC, f.dataType, f.count, f.p1, f.p2);
        return;
      case Command.WRITE:
      case Command.WRITE_NOTIFY:
        this.#write(f);
        return;
      case Command.EVENT_ADD:
        this.#eventAdd(f);
        return;
      case Command.EVENT_CANCEL:
        this.#eventCancel(f);
        return;
      default:
        this.#error(f, NO_CID, Eca.INTERNAL, `Invalid Request Code ${f.command}`);
        throw new CaProtocolError(`unexpected command ${cmd.commandName(f.command)} from a client`);
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Requests

  #search(f: CaFrame): void {
    const pv = this.#host.pv(cmd.nameOf(f.payload));
    if (pv !== undefined) this.#out.bytes(cmd.searchResponse(this.#host.tcpPort, f.p1));
    else if (f.dataType === SEARCH_DO_REPLY) this.#out.bytes(cmd.notFoundResponse(f.p1));
  }

  #createChan(f: CaFrame): void {
    if (f.payload.length <= 1) return; // rsrv ignores a create without a name
    const cid = f.p1;
    this.clientMinor = f.p2;
    const pv = this.#host.pv(cmd.nameOf(f.payload));
    if (pv === undefined || this.#channels.size >= this.#host.maxChannels) {
      this.#out.bytes(cmd.createChanFailResponse(cid));
      return;
    }
    let sid = this.#nextSid;
    while (this.#channels.has(sid)) sid = (sid + 1) >>> 0;
    this.#nextSid = (sid + 1) >>> 0;
    const channel = new ServerChannel(this, pv, cid, sid);
    this.#channels.set(sid, channel);
    pv.observers.add(channel);
    this.#out.bytes(cmd.accessRightsResponse(cid, pv.rights));
    this.#out.bytes(cmd.createChanResponse(pv.nativeType, pv.maxCount, cid, sid));
  }

  #channel(f: CaFrame): ServerChannel | undefined {
    const channel = this.#channels.get(f.p1);
    if (channel === undefined) this.#error(f, NO_CID, Eca.BADCHID, `no channel with sid ${f.p1}`);
    return channel;
  }

  #clearChannel(f: CaFrame): void {
    const channel = this.#channel(f);
    if (channel === undefined) return;
    this.dropChannel(channel, false);
    this.#out.bytes(cmd.clearChannelResponse(f.p1, f.p2));
  }

  #read(f: CaFrame): void {
    const channel = this.#channel(f);
    if (channel !== undefined) answerRead(this.#io, channel, f);
  }

  #write(f: CaFrame): void {
    const channel = this.#channel(f);
    if (channel !== undefined) applyWrite(this.#io, channel, f);
  }

  /** What the read and write handlers use of this circuit. */
  readonly #io: RequestCircuit = {
    out: undefined as unknown as OutputBuffer, // set in the constructor
    error: (f, cid, eca, text) => this.#error(f, cid, eca, text),
    putStarted: () => {
      this.#pendingPuts++;
    },
    putSettled: (channel, reply) => {
      this.#pendingPuts--;
      if (this.closed) return;
      // the reply only while its channel is open; the resume always: this put may have been the one that kept the
      // circuit blocked (MAX_PENDING_PUTS), and its requests queued with the socket paused, even if its channel
      // was cleared or its PV removed meanwhile
      if (reply !== undefined && this.#channels.get(channel.sid) === channel) this.#out.bytes(reply);
      this.resume();
    },
  };

  #eventAdd(f: CaFrame): void {
    const channel = this.#channel(f);
    if (channel === undefined) return;
    const mask = cmd.eventAddMask(f.payload);
    const pv = channel.pv;
    if (!readableType(f.dataType)) {
      this.#error(f, channel.cid, Eca.BADTYPE, `invalid DBR type ${f.dataType}`);
      return;
    }
    if ((mask & 0xf) === 0) {
      this.#error(f, channel.cid, Eca.BADMASK, `event mask ${mask} selects nothing`);
      return;
    }
    if (f.count > pv.maxCount) {
      this.#error(f, channel.cid, Eca.BADCOUNT, `count ${f.count} > element count ${pv.maxCount}`);
      return;
    }
    const old = this.#subs.get(f.p2);
    if (old !== undefined) this.#removeSub(old);
    else if (this.#subs.size >= this.#host.maxSubscriptions) {
      this.#error(f, channel.cid, Eca.ALLOCMEM, 'too many subscriptions on this circuit');
      return;
    }
    const sub = new ServerSubscription(channel, f.p2, f.dataType, f.count, mask);
    this.#subs.set(sub.subid, sub);
    channel.subscriptions.add(sub);
    this.postEvent(sub);
  }

  #eventCancel(f: CaFrame): void {
    const sub = this.#subs.get(f.p2);
    if (sub === undefined || sub.channel.sid !== f.p1) {
      this.#error(f, this.#channels.get(f.p1)?.cid ?? NO_CID, Eca.BADMONID, `no subscription ${f.p2}`);
      return;
    }
    this.#removeSub(sub);
    this.#out.bytes(cmd.eventCancelResponse(f.dataType, f.count, f.p1, f.p2));
  }

  #removeSub(sub: ServerSubscription): void {
    this.#subs.delete(sub.subid);
    sub.channel.subscriptions.delete(sub);
    this.#coalesced.delete(sub);
    sub.pending = false;
  }

  #error(f: CaFrame, cid: number, eca: number, text: string): void {
    this.#out.bytes(cmd.errorResponse(cid, eca, requestHeader(f), text));
  }

  // ------------------------------------------------------------------------------------------------------------
  // Monitors (ChannelCircuit)

  postEvent(sub: ServerSubscription): void {
    if (this.closed || sub.pending) return;
    if (this.#eventsOff || this.backlog > this.#host.highWaterBytes) {
      sub.pending = true;
      this.#coalesced.add(sub);
      return;
    }
    this.#sendEvent(sub);
  }

  #sendEvent(sub: ServerSubscription): void {
    if (this.#subs.get(sub.subid) !== sub) return;
    const pv = sub.channel.pv;
    const n = sub.count === 0 ? pv.data.length : sub.count;
    if (!sub.channel.readable) {
      this.#out.frame(Command.EVENT_ADD, sub.dataType, n, Eca.NORDACCESS, sub.subid, zeros(sub.dataType, n));
      return;
    }
    try {
      const { payload, count } = pv.encode(sub.dataType, sub.count);
      this.#out.frame(Command.EVENT_ADD, sub.dataType, count, Eca.NORMAL, sub.subid, payload);
    } catch (err) {
      const eca = err instanceof CaConversionError ? Eca.NOCONVERT : Eca.GETFAIL;
      this.#out.frame(Command.EVENT_ADD, sub.dataType, n, eca, sub.subid, zeros(sub.dataType, n));
    }
  }

  sendAccessRights(channel: ServerChannel): void {
    if (this.closed) return;
    this.#out.bytes(cmd.accessRightsResponse(channel.cid, channel.pv.rights));
  }

  /** Forgets a channel and its subscriptions; with `serverDisconn` (PV removed) the client is told. */
  dropChannel(channel: ServerChannel, serverDisconn: boolean): void {
    if (this.#channels.get(channel.sid) !== channel) return;
    this.#channels.delete(channel.sid);
    channel.pv.observers.delete(channel);
    for (const sub of channel.subscriptions) {
      this.#subs.delete(sub.subid);
      this.#coalesced.delete(sub);
    }
    channel.subscriptions.clear();
    if (serverDisconn && !this.closed) this.#out.bytes(cmd.serverDisconnResponse(channel.cid));
  }

  // ------------------------------------------------------------------------------------------------------------
  // Ending

  #fail(err: unknown, what: string): void {
    if (this.closed) return;
    const protocol = err instanceof CaProtocolError;
    this.#host.logger.warn(
      { client: this.address, err },
      `closing CA circuit: ${what}: ${(err as Error)?.message ?? String(err)}`,
    );
    if (!protocol) this.#host.logger.error({ err }, 'unexpected error in the CA server circuit');
    this.#out.flush();
    this.close(true);
  }

  /** Closes the circuit: every channel leaves its PV. `graceful` ends the socket after what is queued. */
  close(graceful = false): void {
    if (this.closed) return;
    this.closed = true;
    for (const channel of this.#channels.values()) channel.pv.observers.delete(channel);
    this.#channels.clear();
    this.#subs.clear();
    this.#coalesced.clear();
    this.#queue = [];
    this.#queueHead = 0;
    this.#out.close();
    this.#host.forget(this);
    const socket = this.socket;
    if (socket.destroyed) return;
    if (!graceful) {
      socket.destroy();
      return;
    }
    socket.resume();
    socket.end();
    const timer = setTimeout(() => socket.destroy(), 1000);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }
}
