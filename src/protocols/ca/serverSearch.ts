/**
 * The UDP name-search responder of the CA server (rsrv `cast_server.c`): each datagram is a VERSION (carrying the
 * client's sequence number) and SEARCH messages; the reply, sent to the datagram's source, is a VERSION echoing
 * the sequence number and one SEARCH reply per name this server has (TCP port in `dataType`, server address
 * 0xFFFFFFFF: "use the source address"). Names it does not have are ignored (rsrv answers NOT_FOUND only over
 * TCP), and a datagram with no known name gets no reply at all. A reply larger than 1472 bytes is split.
 *
 * Differences from rsrv, on purpose: a truncated datagram is dropped whole (logged at debug), as are datagrams
 * from `EPICS_CAS_IGNORE_ADDR_LIST` hosts; the VERSION is always sent (rsrv omits it for pre-4.11 clients).
 */
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import type { Logger } from '../../engine/logging.js';
import { nameOf, searchResponse, udpVersion } from './commands.js';
import { Command, SEARCH_MAX_DATAGRAM_BYTES } from './constants.js';
import { type CaFrame, decodeDatagram } from './frame.js';

export interface SearchHost {
  readonly logger: Logger;
  readonly tcpPort: number;
  readonly ignoreAddresses: ReadonlySet<string>;
  has(name: string): boolean;
}

/** Answers the searches of one datagram (bound as the UDP socket's 'message' listener). */
export function answerSearches(socket: UdpSocket, host: SearchHost, msg: Buffer, rinfo: RemoteInfo): void {
  if (host.ignoreAddresses.has(rinfo.address)) return;
  let frames: CaFrame[];
  try {
    frames = decodeDatagram(msg);
  } catch (err) {
    host.logger.debug({ from: `${rinfo.address}:${rinfo.port}`, err }, 'dropping a malformed CA datagram');
    return;
  }
  let sequence = 0;
  let replies: Buffer[] | undefined;
  for (const f of frames) {
    if (f.command === Command.VERSION) {
      if (f.dataType === 1) sequence = f.p1;
    } else if (f.command === Command.SEARCH && host.has(nameOf(f.payload))) {
      replies ??= [];
      replies.push(searchResponse(host.tcpPort, f.p2));
    }
  }
  if (replies === undefined) return;
  const version = udpVersion(sequence);
  let batch: Buffer[] = [version];
  let size = version.length;
  const send = () => {
    socket.send(Buffer.concat(batch, size), rinfo.port, rinfo.address, (err) => {
      if (err) host.logger.debug({ err, to: `${rinfo.address}:${rinfo.port}` }, 'search reply not sent');
    });
  };
  for (const r of replies) {
    if (size + r.length > SEARCH_MAX_DATAGRAM_BYTES) {
      send();
      batch = [version];
      size = version.length;
    }
    batch.push(r);
    size += r.length;
  }
  send();
}
