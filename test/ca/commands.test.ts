/**
 * The Channel Access message builders and payload readers (`src/protocols/ca/commands.ts`) against the bytes
 * caproto 1.3.0 and a caproto IOC produced (test/ca/fixtures/caprotoVectors.ts): each builder's output is
 * byte-identical to its vector, and every vector decodes to the header fields the notes give.
 */
import { describe, expect, it } from 'vitest';
import * as ca from '../../src/protocols/ca/commands.js';
import { Command, DbrType, Eca, SEARCH_DO_REPLY } from '../../src/protocols/ca/constants.js';
import { encodeDbr } from '../../src/protocols/ca/dbr.js';
import { CaProtocolError, CaValueError } from '../../src/protocols/ca/errors.js';
import { decodeDatagram, FrameParser } from '../../src/protocols/ca/frame.js';
import {
  bytesOf,
  CAPROTO_VECTORS,
  EXTENDED_CREATE_CHAN_REPLY,
  FORWARDED_BEACON,
  RAW_SESSION_FROM_SERVER,
  UDP_SEARCH_REPLY,
} from './fixtures/caprotoVectors.js';

const hex = (b: Buffer) => b.toString('hex');
const READ_NOTIFY_BAD_TYPE = ca.readNotifyRequest(99, 1, 1, 2);

/** The builder call that should produce each caproto vector. */
const BUILT: Record<string, () => Buffer> = {
  VersionRequest: () => ca.versionRequest(0),
  VersionResponse: () => ca.versionResponse(),
  SearchRequest: () => ca.searchRequest('simple:A', 1),
  SearchResponse: () => ca.searchResponse(5064, 1),
  CreateChanRequest: () => ca.createChanRequest(1, 'simple:A'),
  CreateChanResponse: () => ca.createChanResponse(DbrType.DOUBLE, 1, 1, 3),
  AccessRightsResponse: () => ca.accessRightsResponse(1, 3),
  HostNameRequest: () => ca.hostName('vm'),
  ReadNotifyRequest: () => ca.readNotifyRequest(DbrType.TIME_DOUBLE, 0, 3, 4),
  EventAddRequest: () => ca.eventAddRequest(DbrType.TIME_DOUBLE, 0, 3, 9, 5),
  EventCancelResponse: () => ca.eventCancelResponse(DbrType.TIME_DOUBLE, 0, 3, 9),
  WriteNotifyRequest: () =>
    ca.writeNotifyRequest(DbrType.DOUBLE, 1, 3, 4, encodeDbr(DbrType.DOUBLE, new Float64Array([1.5]))),
  WriteNotifyResponse: () => ca.writeNotifyResponse(DbrType.DOUBLE, 1, Eca.NORMAL, 4),
  ErrorResponse: () => ca.errorResponse(1, Eca.BADTYPE, READ_NOTIFY_BAD_TYPE, 'bad type'),
  RepeaterRegister: () => ca.repeaterRegister(ca.ipToU32('127.0.0.1')),
  Beacon: () => ca.beacon(5064, 7, 0),
};

const SESSION_BUILT: Record<string, () => Buffer> = {
  'server VERSION': () => ca.versionResponse(),
  'ACCESS_RIGHTS rw': () => ca.accessRightsResponse(0x2a, 3),
  'CREATE_CHAN native DOUBLE x1': () => ca.createChanResponse(DbrType.DOUBLE, 1, 0x2a, 0),
  'READ_NOTIFY DOUBLE 2.0': () =>
    ca.readNotifyResponse(DbrType.DOUBLE, 1, Eca.NORMAL, 1, encodeDbr(DbrType.DOUBLE, new Float64Array([2]))),
  'READ_NOTIFY TIME_DOUBLE': () =>
    ca.readNotifyResponse(
      DbrType.TIME_DOUBLE,
      1,
      Eca.NORMAL,
      2,
      encodeDbr(DbrType.TIME_DOUBLE, new Float64Array([2]), {
        stamp: { secondsSinceEpoch: 0x45655631, nanoseconds: 0x0aa670c0 },
      }),
    ),
  ECHO: () => ca.echo(),
  'EVENT_ADD first update': () =>
    ca.eventAddResponse(
      DbrType.TIME_DOUBLE,
      1,
      Eca.NORMAL,
      0x4d,
      encodeDbr(DbrType.TIME_DOUBLE, new Float64Array([2]), {
        stamp: { secondsSinceEpoch: 0x45655631, nanoseconds: 0x0aa670c0 },
      }),
    ),
  'EVENT_CANCEL ack': () => ca.eventCancelResponse(DbrType.TIME_DOUBLE, 1, 0, 0x4d),
  'CLEAR_CHANNEL echo': () => ca.clearChannelResponse(0, 0x2a),
};

describe('issue 11 item 1: CA message builders against caproto golden vectors', () => {
  for (const vector of CAPROTO_VECTORS) {
    it(`issue 11 item 1: ${vector.name} is byte-identical to caproto and decodes to its fields`, () => {
      const bytes = bytesOf(vector.hex);
      expect(hex(BUILT[vector.name]())).toBe(hex(bytes));
      const [frame, ...rest] = decodeDatagram(bytes);
      expect(rest).toEqual([]);
      expect({ ...frame, payload: undefined }).toEqual({ ...vector.header, payload: undefined });
      expect(frame.payload.length).toBe(vector.payloadSize ?? 0);
    });
  }

  for (const vector of RAW_SESSION_FROM_SERVER) {
    it(`issue 11 item 1: raw session ${vector.name} is byte-identical and decodes to its fields`, () => {
      const bytes = bytesOf(vector.hex);
      expect(hex(SESSION_BUILT[vector.name]())).toBe(hex(bytes));
      const [frame] = decodeDatagram(bytes);
      expect({ ...frame, payload: undefined }).toEqual({ ...vector.header, payload: undefined });
    });
  }

  it('issue 11 item 1: the whole raw session parses as one TCP stream, in order', () => {
    const stream = Buffer.concat(RAW_SESSION_FROM_SERVER.map((v) => bytesOf(v.hex)));
    const seen: number[] = [];
    new FrameParser().push(stream, (f) => seen.push(f.command));
    expect(seen).toEqual(RAW_SESSION_FROM_SERVER.map((v) => v.header.command));
  });

  it('issue 11 item 1: the UDP search reply datagram (VERSION + SEARCH reply) is built and read back', () => {
    const datagram = bytesOf(UDP_SEARCH_REPLY);
    expect(hex(Buffer.concat([ca.versionResponse(), ca.searchResponse(5064, 42)]))).toBe(hex(datagram));
    const [version, reply] = decodeDatagram(datagram);
    expect(version).toMatchObject({ command: Command.VERSION, dataType: 1, count: 13, p1: 1 });
    expect(reply).toMatchObject({ command: Command.SEARCH, dataType: 5064, p1: 0xffffffff, p2: 42 });
    expect(ca.searchResponseMinor(reply)).toBe(13);
  });

  it('issue 11 item 1: the forwarded beacon and the extended CREATE_CHAN reply', () => {
    expect(hex(ca.beacon(5064, 28, ca.ipToU32('127.0.0.1')))).toBe(hex(bytesOf(FORWARDED_BEACON)));
    const ext = bytesOf(EXTENDED_CREATE_CHAN_REPLY);
    expect(hex(ca.createChanResponse(DbrType.DOUBLE, 100_000, 1, 0))).toBe(hex(ext));
    expect(decodeDatagram(ext)[0]).toMatchObject({ command: 18, dataType: 6, count: 100_000, p1: 1, p2: 0 });
  });
});

describe('issue 11 item 1: the other CA messages', () => {
  it('issue 11 item 1: every builder writes the header its comment gives', () => {
    const one = (b: Buffer) => decodeDatagram(b)[0];
    expect(one(ca.udpVersion(7))).toMatchObject({ command: 0, dataType: 1, count: 13, p1: 7, p2: 0 });
    expect(one(ca.versionRequest(99))).toMatchObject({ command: 0, dataType: 99, count: 13 });
    expect(one(ca.searchRequest('x', 5, SEARCH_DO_REPLY))).toMatchObject({
      command: 6,
      dataType: 10,
      p1: 5,
      p2: 5,
    });
    expect(one(ca.notFoundResponse(9))).toMatchObject({ command: 14, dataType: 10, count: 13, p1: 9, p2: 9 });
    expect(one(ca.createChanFailResponse(4))).toMatchObject({ command: 26, p1: 4, p2: 0 });
    expect(one(ca.serverDisconnResponse(4))).toMatchObject({ command: 27, p1: 4, p2: 0 });
    expect(one(ca.writeRequest(6, 1, 2, 3, Buffer.alloc(8)))).toMatchObject({
      command: 4,
      dataType: 6,
      p1: 2,
      p2: 3,
    });
    expect(one(ca.eventCancelRequest(20, 1, 2, 3))).toMatchObject({
      command: 2,
      dataType: 20,
      count: 1,
      p1: 2,
      p2: 3,
    });
    expect(one(ca.clearChannelRequest(2, 3))).toMatchObject({ command: 12, p1: 2, p2: 3 });
    expect(one(ca.eventsOff())).toMatchObject({ command: 8 });
    expect(one(ca.eventsOn())).toMatchObject({ command: 9 });
    expect(one(ca.repeaterConfirm(0x7f000001))).toMatchObject({ command: 17, p1: 0, p2: 0x7f000001 });
    const client = one(ca.clientName('probeuser'));
    expect(client).toMatchObject({ command: 20 });
    expect(ca.nameOf(client.payload)).toBe('probeuser');
    expect(client.payload.length).toBe(16);
  });

  it('issue 11 item 1: EVENT_ADD carries low/high/to as f32 and the mask at offset 12', () => {
    const frame = decodeDatagram(ca.eventAddRequest(6, 1, 2, 3, 7, 1.5, 2.5, 0.25))[0];
    expect(frame.payload.readFloatBE(0)).toBe(1.5);
    expect(frame.payload.readFloatBE(4)).toBe(2.5);
    expect(frame.payload.readFloatBE(8)).toBe(0.25);
    expect(ca.eventAddMask(frame.payload)).toBe(7);
    expect(() => ca.eventAddMask(Buffer.alloc(12))).toThrow(CaProtocolError);
  });

  it('issue 11 item 1: an ERROR gives back the failing request and the text, standard or extended', () => {
    const [frame] = decodeDatagram(bytesOf(CAPROTO_VECTORS.find((v) => v.name === 'ErrorResponse')!.hex));
    expect(ca.parseErrorResponse(frame)).toEqual({
      request: { command: 15, dataType: 99, count: 1, p1: 1, p2: 2 },
      text: 'bad type',
    });
    const big = ca.readNotifyResponse(6, 100_000, 1, 7, Buffer.alloc(800_000)).subarray(0, 24);
    const extended = decodeDatagram(ca.errorResponse(0xffffffff, Eca.TOLARGE, big, 'too big'))[0];
    expect(extended.p1).toBe(0xffffffff);
    expect(ca.parseErrorResponse(extended)).toEqual({
      request: { command: 15, dataType: 6, count: 100_000, p1: 1, p2: 7 },
      text: 'too big',
    });
    const truncated = { ...frame, payload: frame.payload.subarray(0, 10) };
    expect(() => ca.parseErrorResponse(truncated)).toThrow(CaProtocolError);
    const cutExtended = { ...extended, payload: extended.payload.subarray(0, 20) };
    expect(() => ca.parseErrorResponse(cutExtended)).toThrow(CaProtocolError);
  });

  it('issue 11 item 1: names are latin1 + NUL; bad PV names are refused before sending', () => {
    expect(ca.nameOf(Buffer.from('abc\0\0\0\0\0'))).toBe('abc');
    expect(ca.nameOf(Buffer.from('no-nul'))).toBe('no-nul');
    expect(ca.nameOf(decodeDatagram(ca.searchRequest('µm:PV', 1))[0].payload)).toBe('µm:PV');
    expect(() => ca.searchRequest('', 1)).toThrow(CaValueError);
    expect(() => ca.createChanRequest(1, 'a\0b')).toThrow(CaValueError);
    expect(() => ca.createChanRequest(1, 'x'.repeat(501))).toThrow(CaValueError);
    expect(() => ca.createChanRequest(1, 'x'.repeat(500))).not.toThrow();
    expect(() => ca.readNotifyRequest(1, 1, -1, 0)).toThrow(CaValueError);
  });

  it('issue 11 item 1: SEARCH reply minor version defaults to 0 without a payload', () => {
    expect(
      ca.searchResponseMinor({
        command: 6,
        dataType: 5064,
        count: 0,
        p1: 0,
        p2: 1,
        payload: Buffer.alloc(0),
      }),
    ).toBe(0);
  });

  it('issue 11 item 1: IPv4 <-> u32', () => {
    expect(ca.ipToU32('127.0.0.1')).toBe(0x7f000001);
    expect(ca.ipToU32('255.255.255.255')).toBe(0xffffffff);
    expect(ca.u32ToIp(0xffffffff)).toBe('255.255.255.255');
    expect(ca.u32ToIp(0x0a000102)).toBe('10.0.1.2');
    for (const bad of ['', '1.2.3', '1.2.3.256', 'a.b.c.d', '1.2.3.4.5', ' 1.2.3.4']) {
      expect(() => ca.ipToU32(bad)).toThrow(CaValueError);
    }
  });

  it('issue 11 item 1: describeFrame names the command and the DBR type', () => {
    const [frame] = decodeDatagram(ca.readNotifyResponse(20, 1, 1, 2, Buffer.alloc(24)));
    expect(ca.describeFrame(frame)).toBe('READ_NOTIFY DBR_TIME_DOUBLE count=1 p1=1 p2=2 size=24');
    expect(ca.describeFrame({ command: 6, dataType: 5, count: 13, p1: 1, p2: 1 })).toBe(
      'SEARCH dataType=5 count=13 p1=1 p2=1',
    );
    expect(ca.describeFrame({ command: 99, dataType: 0, count: 0, p1: 0, p2: 0 })).toMatch(/^CMD_99 /);
  });
});
