/**
 * A small libpcap reader for the Tango captures: the global header and records (microsecond or nanosecond,
 * either byte order), Ethernet / IPv4 / TCP, and the TCP payload of each direction reassembled in sequence
 * order (retransmitted bytes dropped), with the capture frame number (1-based) of every payload byte.
 */

export interface TcpStream {
  /** `sport->dport` */
  key: string;
  sport: number;
  dport: number;
  bytes: Buffer;
  /** Frame number of the segment that carried each payload byte run: [offset, frame] pairs, ascending. */
  frames: [number, number][];
}

/** The frame that carried byte `offset` of a stream. */
export function frameAt(stream: TcpStream, offset: number): number {
  let frame = -1;
  for (const [at, f] of stream.frames) {
    if (at > offset) break;
    frame = f;
  }
  return frame;
}

interface Segment {
  frame: number;
  seq: number;
  syn: boolean;
  payload: Buffer;
}

export function readTcpStreams(file: Buffer): TcpStream[] {
  const magic = file.readUInt32LE(0);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error('not a pcap file');
  const u32 = (at: number) => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const linkType = u32(20);
  if (linkType !== 1) throw new Error(`unsupported link type ${linkType}`);
  const segments = new Map<string, Segment[]>();
  let at = 24;
  let frame = 0;
  while (at + 16 <= file.length) {
    const incl = u32(at + 8);
    const data = file.subarray(at + 16, at + 16 + incl);
    at += 16 + incl;
    frame++;
    if (data.length < 14 || data.readUInt16BE(12) !== 0x0800) continue;
    const ip = data.subarray(14);
    const ihl = (ip[0] & 0x0f) * 4;
    if (ip[9] !== 6) continue;
    const totalLength = ip.readUInt16BE(2);
    const tcp = ip.subarray(ihl, totalLength);
    const sport = tcp.readUInt16BE(0);
    const dport = tcp.readUInt16BE(2);
    const seq = tcp.readUInt32BE(4);
    const offset = (tcp[12] >> 4) * 4;
    const syn = (tcp[13] & 0x02) !== 0;
    const payload = tcp.subarray(offset);
    const key = `${sport}->${dport}`;
    let list = segments.get(key);
    if (list === undefined) {
      list = [];
      segments.set(key, list);
    }
    list.push({ frame, seq, syn, payload });
  }
  const streams: TcpStream[] = [];
  for (const [key, list] of segments) {
    const [sport, dport] = key.split('->').map(Number);
    const synSegment = list.find((s) => s.syn);
    let next = synSegment !== undefined ? (synSegment.seq + 1) >>> 0 : list[0].seq;
    const parts: Buffer[] = [];
    const frames: [number, number][] = [];
    let length = 0;
    const pending = list.filter((s) => s.payload.length > 0);
    // Deliver in sequence order; drop bytes already delivered (retransmissions).
    for (;;) {
      const seg = pending.find(
        (s) => ((s.seq - next) | 0) <= 0 && ((s.seq + s.payload.length - next) | 0) > 0,
      );
      if (seg === undefined) break;
      const skip = (next - seg.seq) | 0;
      const fresh = seg.payload.subarray(skip);
      frames.push([length, seg.frame]);
      parts.push(fresh);
      length += fresh.length;
      next = (next + fresh.length) >>> 0;
    }
    streams.push({ key, sport, dport, bytes: Buffer.concat(parts), frames });
  }
  return streams;
}
