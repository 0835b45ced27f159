/**
 * Reads the prototype's `*_decoded.txt`: one entry per GIOP message (frame, ports, header line, optional
 * `args=` / `result=` Python literal), and the event payloads of the ZMTP section (`data hex=` + `data=`).
 */
import { parsePyLiteral } from './pyLiteral.js';

export interface DecodedEntry {
  frame: number;
  sport: number;
  dport: number;
  tcpBytes: number;
  header: string;
  args?: unknown;
  result?: unknown;
}
export interface DecodedEvent {
  hex: string;
  data: unknown;
}

export function readDecodedText(text: string): { messages: DecodedEntry[]; events: DecodedEvent[] } {
  const [giopPart, zmtpPart = ''] = text.split('================ ZMTP streams ================');
  const messages: DecodedEntry[] = [];
  let current: DecodedEntry | undefined;
  for (const line of giopPart.split('\n')) {
    const m = /^--- frame (\d+) t=\S+ (\d+)->(\d+) \((\d+) bytes\)$/.exec(line);
    if (m !== null) {
      current = {
        frame: Number(m[1]),
        sport: Number(m[2]),
        dport: Number(m[3]),
        tcpBytes: Number(m[4]),
        header: '',
      };
      messages.push(current);
    } else if (current !== undefined && line.startsWith('GIOP ')) {
      current.header = line;
    } else if (current !== undefined && line.startsWith('    args=')) {
      current.args = parsePyLiteral(line.slice('    args='.length));
    } else if (current !== undefined && line.startsWith('    result=')) {
      current.result = parsePyLiteral(line.slice('    result='.length));
    }
  }
  const events: DecodedEvent[] = [];
  let hex: string | undefined;
  for (const line of zmtpPart.split('\n')) {
    if (line.startsWith('    data hex=')) hex = line.slice('    data hex='.length);
    else if (line.startsWith('    data=') && hex !== undefined) {
      events.push({ hex, data: parsePyLiteral(line.slice('    data='.length)) });
      hex = undefined;
    }
  }
  return { messages, events };
}
