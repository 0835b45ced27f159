/**
 * IORs and corbaloc: the IORs the Tango database returned in the captures parse to the host, port and object key
 * the client then used (db2 frames 21 and 66 carry those keys) and re-stringify to the same text; corbaloc URLs
 * in their spellings, with errors typed.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  formatCorbaloc,
  GiopProtocolError,
  parseCorbaloc,
  parseIor,
  stringifyIor,
  TAG_CODE_SETS,
  TAG_ORB_TYPE,
} from '../../../src/protocols/tango/giop/index.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/native');
const iors = [...new Set(readFileSync(join(FIXTURES, 'db_decoded.txt'), 'utf8').match(/IOR:[0-9a-f]+/g))];
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('issue 12 item 1: IORs from the Tango database', () => {
  it('issue 12 item 1: the captured IORs give host, port, GIOP version and the object keys the client used', () => {
    expect(iors).toHaveLength(3);
    const parsed = iors.map(parseIor);
    for (const ior of parsed) {
      expect(ior.typeId).toBe('IDL:Tango/Device_5:1.0');
      expect(ior.iiop).toMatchObject({ major: 1, minor: 2, host: '127.0.0.1' });
      expect(ior.iiop?.components.map((c) => c.tag)).toEqual([TAG_ORB_TYPE, TAG_CODE_SETS, 0x41545402]);
    }
    // sys/tg_test/1 on 10001, test/lrc/1 and its admin device on 10002 (keys differ in the last byte).
    expect(parsed.map((i) => [i.iiop?.port, hex(i.iiop?.objectKey ?? new Uint8Array())])).toEqual([
      [10001, 'fe86f5036b00003ef50000000000'],
      [10002, 'fe86f5036b00003f080000000000'],
      [10002, 'fe86f5036b00003f080000000001'],
    ]);
    // ORB type "OMNI" + 0x00 in the TAG_ORB_TYPE component.
    expect(hex(parsed[0].iiop?.components[0].data ?? new Uint8Array())).toBe('0100000000545441');
  });

  it('issue 12 item 1: an IOR re-stringifies to the same text, and reads in big-endian too', () => {
    for (const text of iors) {
      const ior = parseIor(text);
      expect(stringifyIor(ior)).toBe(text);
      const big = parseIor(stringifyIor(ior, false));
      expect(big.iiop?.port).toBe(ior.iiop?.port);
      expect(hex(big.profiles[0].data)).toBe(hex(ior.profiles[0].data));
    }
  });

  it('issue 12 item 1: malformed IORs raise GiopProtocolError', () => {
    for (const bad of [
      '',
      'IOR',
      'IOR:0',
      'IOR:zz',
      'IOR:02',
      `${iors[0].slice(0, 60)}`,
      'corbaloc::h:1/k',
    ]) {
      expect(() => parseIor(bad), bad).toThrow(GiopProtocolError);
    }
  });
});

describe('issue 12 item 1: corbaloc', () => {
  it('issue 12 item 1: Tango no-database names and the database object', () => {
    const nodb = parseCorbaloc('corbaloc:iiop:127.0.0.1:12345/test/lrc/1');
    expect(nodb.addresses).toEqual([{ major: 1, minor: 0, host: '127.0.0.1', port: 12345 }]);
    expect(Buffer.from(nodb.objectKey).toString()).toBe('test/lrc/1');
    const db = parseCorbaloc('corbaloc:iiop:1.2@tango-host:10000/database');
    expect(db.addresses).toEqual([{ major: 1, minor: 2, host: 'tango-host', port: 10000 }]);
  });

  it('issue 12 item 1: several addresses, the empty protocol, IPv6, the default port, %-escapes', () => {
    const c = parseCorbaloc('corbaloc::a:1,iiop:1.1@[::1]:2,:b/%fe%86key%2f');
    expect(c.addresses).toEqual([
      { major: 1, minor: 0, host: 'a', port: 1 },
      { major: 1, minor: 1, host: '::1', port: 2 },
      { major: 1, minor: 0, host: 'b', port: 2809 },
    ]);
    expect(Array.from(c.objectKey)).toEqual([0xfe, 0x86, 0x6b, 0x65, 0x79, 0x2f]);
    const key = Uint8Array.from([0xfe, 0x86, 0xf5, 0x03, 0x6b, 0x00, 0x2f]);
    const text = formatCorbaloc({ major: 1, minor: 2, host: '::1', port: 10001 }, key);
    expect(text).toBe('corbaloc:iiop:1.2@[::1]:10001/%fe%86%f5%03k%00/');
    expect(Array.from(parseCorbaloc(text).objectKey)).toEqual(Array.from(key));
  });

  it('issue 12 item 1: unsupported protocols and bad addresses raise GiopProtocolError', () => {
    for (const bad of [
      'corbaloc:rir:/NameService',
      'corbaloc:iiop:h:99999/k',
      'corbaloc:iiop:h:12x/k',
      'corbaloc:iiop:2.0@h:1/k',
      'corbaloc:iiop::1/k',
      'corbaloc:iiop:[::1/k',
      'corbaloc:iiop:h:1/%zz',
      'iiop:h:1/k',
    ]) {
      expect(() => parseCorbaloc(bad), bad).toThrow(GiopProtocolError);
    }
  });
});
