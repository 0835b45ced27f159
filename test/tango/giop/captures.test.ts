/**
 * Every GIOP message in the real Tango 9.3.4 captures (`test/tango/fixtures/native/*.pcap`: a no-database LRC
 * session over GIOP 1.0, database lookups, TangoTest and the LRC device over GIOP 1.2 with a DevFailed) decodes
 * to what the research prototype printed in `*_decoded.txt` (header, operation, request id, arguments, results,
 * error stacks), and re-encodes byte for byte except in the padding omniORB leaves uninitialised. The IDL 5
 * event payloads of the ZMTP streams decode too.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DevFailed } from '../../../src/protocols/tango/errors.js';
import {
  CdrReader,
  type CdrWriter,
  decodeMessage,
  encodeCloseConnection,
  encodeReply,
  encodeRequest,
  GiopFramer,
  type GiopMessage,
  type GiopReply,
  OPERATIONS,
  readAttributeValue5,
  readReplyResult,
  TANGO_TYPECODES,
  writeDevFailed,
} from '../../../src/protocols/tango/giop/index.js';
import { readDecodedText } from './support/decodedText.js';
import { frameAt, readTcpStreams } from './support/pcap.js';
import {
  attributeConfigView,
  attributeValueView,
  clntIdentView,
  commandValueView,
  devErrorView,
  headerLine,
} from './support/prototypeView.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/native');

interface Decoded {
  frame: number;
  sport: number;
  dport: number;
  raw: Uint8Array;
  padding: number[];
  message: GiopMessage;
  /** Where the Request/Reply body starts (the test that reads bodies moves their readers). */
  bodyStart: number;
  operation?: string;
}

/** Every GIOP message of a capture, in frame order, with the operation each reply answers. */
function decodeCapture(name: string): Decoded[] {
  const out: Decoded[] = [];
  const operations = new Map<string, string>();
  for (const stream of readTcpStreams(readFileSync(join(FIXTURES, `${name}.pcap`)))) {
    if (stream.bytes.subarray(0, 4).toString('latin1') !== 'GIOP') continue;
    const framer = new GiopFramer();
    let offset = 0;
    for (const raw of framer.push(stream.bytes)) {
      const padding: number[] = [];
      const message = decodeMessage(raw, { padding });
      const bodyStart = 'body' in message ? message.body.pos : raw.length;
      out.push({
        frame: frameAt(stream, offset),
        sport: stream.sport,
        dport: stream.dport,
        raw,
        padding,
        message,
        bodyStart,
      });
      offset += raw.length;
    }
    expect(framer.bufferedBytes).toBe(0);
  }
  out.sort((a, b) => a.frame - b.frame);
  for (const d of out) {
    const m = d.message;
    if (m.type === 'Request') operations.set(`${d.sport}->${d.dport}#${m.requestId}`, m.operation);
    if (m.type === 'Reply') d.operation = operations.get(`${d.dport}->${d.sport}#${m.requestId}`);
  }
  return out;
}

/** A copy of `raw` with the padding bytes zeroed (what the encoder writes there). */
function masked(raw: Uint8Array, padding: number[]): Uint8Array {
  const copy = Uint8Array.from(raw);
  for (let i = 0; i < padding.length; i += 2) copy.fill(0, padding[i], padding[i] + padding[i + 1]);
  return copy;
}

function argsView(op: string, args: any): unknown {
  switch (op) {
    case '_is_a':
      return { logical_type_id: args };
    case 'command_query_2':
      return { command: args };
    case 'get_attribute_config_5':
      return { names: args };
    case 'command_inout_4':
      return {
        command: args.command,
        argin: commandValueView(
          args.argin,
          args.argin.type === 'unknown'
            ? args.argin.any.type
            : TANGO_TYPECODES[args.argin.type as keyof typeof TANGO_TYPECODES],
        ),
        source: args.source,
        cl_ident: clntIdentView(args.clientIdent),
      };
    case 'read_attributes_5':
      return { names: args.names, source: args.source, cl_ident: clntIdentView(args.clientIdent) };
    case 'write_attributes_4':
      return { values: args.values.map(attributeValueView), cl_ident: clntIdentView(args.clientIdent) };
    default:
      return '(no args or not decoded)';
  }
}

function resultView(op: string, result: any): unknown {
  switch (op) {
    case 'ping':
    case 'write_attributes_4':
      return '(void)';
    case '_get_state':
      return [
        'ON',
        'OFF',
        'CLOSE',
        'OPEN',
        'INSERT',
        'EXTRACT',
        'MOVING',
        'STANDBY',
        'FAULT',
        'INIT',
        'RUNNING',
      ][result];
    case 'command_inout_4':
      return commandValueView(
        result,
        result.type === 'unknown'
          ? result.any.type
          : TANGO_TYPECODES[result.type as keyof typeof TANGO_TYPECODES],
      );
    case 'read_attributes_5':
      return result.map(attributeValueView);
    case 'get_attribute_config_5':
      return result.map(attributeConfigView);
    default:
      return result;
  }
}

for (const capture of ['lrc', 'db', 'db2']) {
  describe(`issue 12 item 1: the ${capture} capture`, () => {
    const decoded = decodeCapture(capture);
    const text = readDecodedText(readFileSync(join(FIXTURES, `${capture}_decoded.txt`), 'utf8'));

    it(`issue 12 item 1: ${capture}: the same GIOP messages, with the same headers, as the prototype saw`, () => {
      expect(decoded.map((d) => d.frame)).toEqual(text.messages.map((e) => e.frame));
      decoded.forEach((d, i) => {
        const entry = text.messages[i];
        expect([d.sport, d.dport, d.raw.length]).toEqual([entry.sport, entry.dport, entry.tcpBytes]);
        expect(headerLine(d.message, d.raw.length - 12, d.operation)).toBe(entry.header);
      });
    });

    it(`issue 12 item 1: ${capture}: every argument and result decodes to what the prototype printed`, () => {
      let checked = 0;
      decoded.forEach((d, i) => {
        const entry = text.messages[i];
        const m = d.message;
        if (m.type === 'Request') {
          const op = OPERATIONS[m.operation];
          expect(op, m.operation).toBeDefined();
          const args = op.readArgs(m.body);
          expect(m.body.remaining, `${m.operation} args fully read`).toBe(0);
          expect(argsView(m.operation, args)).toEqual(entry.args);
          checked++;
        } else if (m.type === 'Reply') {
          const op = OPERATIONS[d.operation ?? ''];
          expect(op, d.operation).toBeDefined();
          let view: unknown;
          try {
            view = resultView(
              op.name,
              readReplyResult(m, (r) => op.readResult(r)),
            );
          } catch (e) {
            expect(e).toBeInstanceOf(DevFailed);
            view = {
              user_exception: 'IDL:Tango/DevFailed:1.0',
              errors: (e as DevFailed).errors.map(devErrorView),
            };
          }
          expect(m.body.remaining, `${op.name} result fully read`).toBe(0);
          if (entry.result !== '(void)' || op.name !== 'command_query') expect(view).toEqual(entry.result);
          checked++;
        }
      });
      expect(checked).toBeGreaterThan(20);
    });

    it(`issue 12 item 1: ${capture}: every message re-encodes byte for byte (padding masked)`, () => {
      for (const d of decoded) {
        const m = d.message;
        let again: Uint8Array;
        if (m.type === 'Request') {
          const op = OPERATIONS[m.operation];
          const body = new CdrReader(d.raw, {
            littleEndian: m.littleEndian,
            start: d.bodyStart,
            origin: 0,
            padding: d.padding,
          });
          const args = op.readArgs(body);
          again = encodeRequest(
            { ...m, serviceContexts: m.serviceContexts, littleEndian: m.littleEndian },
            (w: CdrWriter) => op.writeArgs(w, args),
          );
        } else if (m.type === 'Reply') {
          const op = OPERATIONS[d.operation ?? ''];
          const body = new CdrReader(d.raw, {
            littleEndian: m.littleEndian,
            start: d.bodyStart,
            origin: 0,
            padding: d.padding,
          });
          const reply: GiopReply = { ...m, body };
          let write: (w: CdrWriter) => void;
          try {
            const result = readReplyResult(reply, (r) => op.readResult(r));
            write = (w) => op.writeResult(w, result);
          } catch (e) {
            write = (w) => writeDevFailed(w, (e as DevFailed).errors);
          }
          again = encodeReply(m, write);
        } else {
          again = encodeCloseConnection(m.minor, m.littleEndian);
        }
        expect(Buffer.from(again).toString('hex'), `frame ${d.frame}`).toBe(
          Buffer.from(masked(d.raw, d.padding)).toString('hex'),
        );
      }
    });

    it(`issue 12 item 1: ${capture}: the IDL 5 event payloads decode (origin 4 bytes before the frame)`, () => {
      for (const event of text.events) {
        const bytes = Buffer.from(event.hex, 'hex');
        expect(bytes.readUInt32LE(0)).toBe(0xdec0dec0);
        const r = new CdrReader(bytes, { littleEndian: true, start: 4, origin: -4 });
        expect(attributeValueView(readAttributeValue5(r))).toEqual(event.data);
        expect(r.remaining).toBe(0);
      }
    });
  });
}
