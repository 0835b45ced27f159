/**
 * GIOP messages: Request/Reply in GIOP 1.0, 1.1 and 1.2 and both byte orders (service contexts, 8-aligned 1.2
 * bodies, no padding for an empty body), replies carrying DevFailed / MultiDevFailed / other user exceptions,
 * system exceptions and forwards; the small messages; the framer under chunking and its refusals; GIOP 1.2
 * fragment reassembly (a 251x251 double image as omniORB sends it, interleaved replies, GIOP 1.1 fragments).
 */
import { describe, expect, it } from 'vitest';
import { DevFailed } from '../../../src/protocols/tango/errors.js';
import {
  type CdrWriter,
  commandInout4,
  decodeMessage,
  encodeCancelRequest,
  encodeCloseConnection,
  encodeIiopProfile,
  encodeLocateReply,
  encodeLocateRequest,
  encodeMessageError,
  encodeReply,
  encodeRequest,
  FragmentAssembler,
  GiopFramer,
  GiopProtocolError,
  type GiopReply,
  GiopStream,
  GiopSystemException,
  GiopUserException,
  LocationForward,
  MultiDevFailedError,
  REPLY_STATUS,
  readAttributes5,
  readReplyResult,
  splitIntoFragments,
  writeDevErrorList,
  writeDevFailed,
  writeIor,
  writeSystemException,
} from '../../../src/protocols/tango/giop/index.js';

const key = new TextEncoder().encode('sys/tg_test/1');
const cpp = { language: 'CPP' as const, pid: 4242 };

function onlyReply(bytes: Uint8Array): GiopReply {
  const m = decodeMessage(bytes);
  if (m.type !== 'Reply') throw new Error(`expected a Reply, got ${m.type}`);
  return m;
}

describe('issue 12 item 1: GIOP Request and Reply', () => {
  for (const minor of [0, 1, 2]) {
    for (const littleEndian of [true, false]) {
      it(`issue 12 item 1: GIOP 1.${minor} ${littleEndian ? 'LE' : 'BE'}: command_inout_4 request and reply round-trip`, () => {
        const args = {
          command: 'DevDouble',
          argin: { type: 'DevDouble' as const, value: 2.5 },
          source: 2,
          clientIdent: cpp,
        };
        const contexts = [{ id: 1, data: Uint8Array.from([1, 0, 0, 0, 1, 0, 1, 0]) }];
        const request = encodeRequest(
          {
            minor,
            requestId: 77,
            responseExpected: true,
            objectKey: key,
            operation: 'command_inout_4',
            serviceContexts: contexts,
            littleEndian,
          },
          (w) => commandInout4.writeArgs(w, args),
        );
        const m = decodeMessage(request);
        expect(m).toMatchObject({
          type: 'Request',
          minor,
          littleEndian,
          requestId: 77,
          responseExpected: true,
          operation: 'command_inout_4',
        });
        if (m.type !== 'Request') throw new Error('not a request');
        expect(Array.from(m.objectKey)).toEqual(Array.from(key));
        expect(m.serviceContexts.map((c) => [c.id, Array.from(c.data)])).toEqual([
          [1, [1, 0, 0, 0, 1, 0, 1, 0]],
        ]);
        if (minor === 2) expect((m.body.pos - 0) % 8).toBe(0);
        expect(commandInout4.readArgs(m.body)).toEqual(args);
        expect(m.body.remaining).toBe(0);

        const reply = encodeReply(
          { minor, requestId: 77, status: REPLY_STATUS.NO_EXCEPTION, littleEndian },
          (w) => commandInout4.writeResult(w, { type: 'DevDouble', value: 2.5 }),
        );
        const r = onlyReply(reply);
        expect(r.requestId).toBe(77);
        expect(readReplyResult(r, (b) => commandInout4.readResult(b))).toEqual({
          type: 'DevDouble',
          value: 2.5,
        });
      });
    }
  }

  it('issue 12 item 1: a GIOP 1.2 message with an empty body has no trailing padding', () => {
    const ping = encodeRequest(
      { minor: 2, requestId: 1, responseExpected: true, objectKey: key, operation: 'ping' },
      () => {},
    );
    expect(ping.length % 8).not.toBe(0);
    const reply = encodeReply({ minor: 2, requestId: 1, status: 0 }, () => {});
    expect(reply.length).toBe(24);
    const decoded = onlyReply(reply);
    expect(decoded.body.remaining).toBe(0);
    const oneway = decodeMessage(
      encodeRequest({ minor: 2, requestId: 2, responseExpected: false, objectKey: key, operation: 'ping' }),
    );
    expect(oneway).toMatchObject({ responseExpected: false, responseFlags: 0 });
  });

  it('issue 12 item 1: DevFailed keeps its whole stack, in order', () => {
    const stack = [
      {
        reason: 'API_CommandNotFound',
        severity: 'ERR' as const,
        desc: 'Command X not found',
        origin: 'DeviceClass::command_handler',
      },
      {
        reason: 'API_Wrapped',
        severity: 'PANIC' as const,
        desc: 'outer',
        origin: 'Connection::command_inout',
      },
    ];
    const reply = onlyReply(
      encodeReply({ minor: 2, requestId: 5, status: REPLY_STATUS.USER_EXCEPTION }, (w) =>
        writeDevFailed(w, stack),
      ),
    );
    const error = (() => {
      try {
        readReplyResult(reply, () => undefined);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DevFailed);
    expect((error as DevFailed).errors).toEqual(stack);
    expect((error as DevFailed).message).toBe('outer');
  });

  it('issue 12 item 1: MultiDevFailed, other user exceptions, system exceptions and forwards are typed', () => {
    const multi = onlyReply(
      encodeReply({ minor: 2, requestId: 6, status: REPLY_STATUS.USER_EXCEPTION }, (w) => {
        w.string('IDL:Tango/MultiDevFailed:1.0');
        w.ulong(1);
        w.string('long_scalar_w');
        w.long(0);
        writeDevErrorList(w, [
          { reason: 'API_WAttrOutsideLimit', severity: 'ERR', desc: 'too big', origin: 'x' },
        ]);
      }),
    );
    try {
      readReplyResult(multi, () => undefined);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(MultiDevFailedError);
      expect((e as MultiDevFailedError).failures[0]).toMatchObject({ name: 'long_scalar_w', indexInCall: 0 });
    }
    const other = onlyReply(
      encodeReply({ minor: 0, requestId: 7, status: REPLY_STATUS.USER_EXCEPTION }, (w) =>
        w.string('IDL:x/Other:1.0'),
      ),
    );
    expect(() => readReplyResult(other, () => undefined)).toThrow(GiopUserException);
    const system = onlyReply(
      encodeReply(
        { minor: 2, requestId: 8, status: REPLY_STATUS.SYSTEM_EXCEPTION, littleEndian: false },
        (w) =>
          writeSystemException(
            w,
            new GiopSystemException('IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0', 0x4f4d0001, 'COMPLETED_NO'),
          ),
      ),
    );
    try {
      readReplyResult(system, () => undefined);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(GiopSystemException);
      expect(e).toMatchObject({
        repoId: 'IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0',
        minor: 0x4f4d0001,
        completed: 'COMPLETED_NO',
      });
    }
    const profile = encodeIiopProfile({
      major: 1,
      minor: 2,
      host: '10.0.0.9',
      port: 20000,
      objectKey: key,
      components: [],
    });
    const forward = onlyReply(
      encodeReply({ minor: 2, requestId: 9, status: REPLY_STATUS.LOCATION_FORWARD }, (w: CdrWriter) =>
        writeIor(w, {
          typeId: 'IDL:Tango/Device_5:1.0',
          profiles: [{ tag: 0, data: profile }],
          iiop: undefined,
        }),
      ),
    );
    try {
      readReplyResult(forward, () => undefined);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(LocationForward);
      expect((e as LocationForward).ior.iiop).toMatchObject({ host: '10.0.0.9', port: 20000 });
    }
  });

  it('issue 12 item 1: CancelRequest, LocateRequest/Reply, CloseConnection and MessageError', () => {
    expect(decodeMessage(encodeCancelRequest(2, 11))).toMatchObject({ type: 'CancelRequest', requestId: 11 });
    for (const minor of [0, 2]) {
      const locate = decodeMessage(encodeLocateRequest(minor, 12, key, false));
      expect(locate).toMatchObject({ type: 'LocateRequest', requestId: 12, littleEndian: false });
      if (locate.type === 'LocateRequest')
        expect(Buffer.from(locate.objectKey).toString()).toBe('sys/tg_test/1');
    }
    expect(decodeMessage(encodeLocateReply(2, 12, 1))).toMatchObject({
      type: 'LocateReply',
      requestId: 12,
      status: 1,
    });
    expect(decodeMessage(encodeCloseConnection(2))).toMatchObject({ type: 'CloseConnection', minor: 2 });
    expect(decodeMessage(encodeMessageError(0, false))).toMatchObject({
      type: 'MessageError',
      littleEndian: false,
    });
  });

  it('issue 12 item 1: malformed messages raise GiopProtocolError', () => {
    const ok = encodeCloseConnection(2);
    const bad = (mutate: (b: Uint8Array) => void) => {
      const b = Uint8Array.from(ok);
      mutate(b);
      return () => decodeMessage(b);
    };
    expect(bad((b) => (b[0] = 0x48))).toThrow(/magic/);
    expect(bad((b) => (b[4] = 2))).toThrow(/version/);
    expect(bad((b) => (b[5] = 3))).toThrow(/version/);
    expect(bad((b) => (b[7] = 8))).toThrow(/message type/);
    expect(() => decodeMessage(Uint8Array.from([...ok, 0]))).toThrow(GiopProtocolError);
    const status9 = encodeReply({ minor: 2, requestId: 1, status: 0 });
    new DataView(status9.buffer, status9.byteOffset).setUint32(16, 9, true);
    expect(() => decodeMessage(status9)).toThrow(/reply status/);
    const profileAddr = encodeRequest({
      minor: 2,
      requestId: 1,
      responseExpected: true,
      objectKey: key,
      operation: 'ping',
    });
    profileAddr[20] = 1;
    expect(() => decodeMessage(profileAddr)).toThrow(/TargetAddress/);
  });
});

describe('issue 12 item 1: framing and fragments', () => {
  /** A read_attributes_5 reply with a 251x251 double image, as in the prototype's fragment check. */
  function imageReply(requestId: number, seed: number): Uint8Array {
    const value = Array.from({ length: 251 * 251 }, (_, i) => i * 0.5 + seed);
    return encodeReply({ minor: 2, requestId, status: 0 }, (w) =>
      readAttributes5.writeResult(w, [
        {
          value: { kind: 'ATT_DOUBLE', value },
          quality: 0,
          data_format: 2,
          data_type: 5,
          time: { tv_sec: 1, tv_usec: 2, tv_nsec: 0 },
          name: 'double_image_ro',
          r_dim: { dim_x: 251, dim_y: 251 },
          w_dim: { dim_x: 0, dim_y: 0 },
          err_list: [],
        },
      ]),
    );
  }

  it('issue 12 item 1: a large reply split into GIOP 1.2 fragments is reassembled, under any chunking', () => {
    const whole = imageReply(30, 0);
    const pieces = splitIntoFragments(whole, 65536);
    expect(pieces.length).toBeGreaterThan(7);
    expect(pieces[0][6] & 2).toBe(2);
    const stream = Buffer.concat(pieces);
    for (const chunk of [1, 7, 1000, 65536, stream.length]) {
      const giop = new GiopStream();
      const out = [];
      for (let at = 0; at < stream.length; at += chunk)
        out.push(...giop.push(stream.subarray(at, at + chunk)));
      expect(out).toHaveLength(1);
      const reply = out[0] as GiopReply;
      const [attr] = readReplyResult(reply, (r) => readAttributes5.readResult(r));
      expect(attr.r_dim).toEqual({ dim_x: 251, dim_y: 251 });
      expect(attr.value.value).toHaveLength(251 * 251);
      expect((attr.value.value as number[])[62999]).toBe(31499.5);
      expect(giop.bufferedBytes).toBe(0);
    }
  });

  it('issue 12 item 1: fragments of two replies interleave', () => {
    const a = splitIntoFragments(imageReply(1, 0), 100_000);
    const b = splitIntoFragments(imageReply(2, 1), 100_000);
    const mixed: Uint8Array[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (b[i]) mixed.push(b[i]);
      if (a[i]) mixed.push(a[i]);
    }
    const giop = new GiopStream();
    const out = giop.push(Buffer.concat(mixed)) as GiopReply[];
    expect(out.map((m) => m.requestId)).toEqual([2, 1]);
    const first = readReplyResult(out[1], (r) => readAttributes5.readResult(r));
    expect((first[0].value.value as number[])[1]).toBe(0.5);
  });

  it('issue 12 item 1: GIOP 1.1 fragments (no request id) are reassembled in order', () => {
    const whole = encodeReply({ minor: 1, requestId: 3, status: 0 }, (w) =>
      w.stringSeq(['a'.repeat(100), 'b'.repeat(100)]),
    );
    const head = Uint8Array.from(whole.subarray(0, 12 + 64));
    head[6] |= 2;
    new DataView(head.buffer).setUint32(8, 64, true);
    const tail = new Uint8Array(12 + whole.length - 76);
    tail.set([0x47, 0x49, 0x4f, 0x50, 1, 1, 1, 7]);
    new DataView(tail.buffer).setUint32(8, whole.length - 76, true);
    tail.set(whole.subarray(76), 12);
    const assembler = new FragmentAssembler();
    expect(assembler.accept(head)).toBeUndefined();
    expect(Array.from(assembler.accept(tail) ?? [])).toEqual(Array.from(whole));
  });

  it('issue 12 item 1: the framer refuses oversize messages and stray fragments, and stays failed', () => {
    const framer = new GiopFramer({ maxMessageSize: 1000 });
    const big = encodeReply({ minor: 2, requestId: 1, status: 0 }, (w) => w.octetSeq(new Uint8Array(2000)));
    expect(() => framer.push(big.subarray(0, 12))).toThrow(/exceeds 1000/);
    expect(() => framer.push(encodeCloseConnection(2))).toThrow(/exceeds 1000/);
    expect(framer.bufferedBytes).toBe(0);

    const stray = new GiopStream();
    const fragment = splitIntoFragments(imageReply(4, 0), 65536)[1];
    expect(() => stray.push(fragment)).toThrow(/no fragmented message/);
    expect(() => stray.push(encodeCloseConnection(2))).toThrow(GiopProtocolError);

    const capped = new GiopStream({ maxMessageSize: 100_000 });
    const pieces = splitIntoFragments(imageReply(5, 0), 65536);
    expect(() => capped.push(Buffer.concat(pieces))).toThrow(/exceeds 100000/);
  });
});
