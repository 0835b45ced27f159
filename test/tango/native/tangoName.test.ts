// Device names and TANGO_HOST as PyTango accepts them; anything else is a TangoNameError.
import { describe, expect, it } from 'vitest';
import { TangoNameError } from '../../../src/protocols/tango/clientErrors.js';
import { formatDeviceName, parseDeviceName, parseTangoHost } from '../../../src/protocols/tango/tangoName.js';

describe('issue 12 item 2: Tango names', () => {
  it('issue 12 item 2: the accepted forms', () => {
    expect(parseDeviceName('sys/tg_test/1')).toEqual({
      device: 'sys/tg_test/1',
      hosts: [],
      noDatabase: false,
    });
    expect(parseDeviceName('db:10000/a/b/c')).toEqual({
      device: 'a/b/c',
      hosts: [{ host: 'db', port: 10000 }],
      noDatabase: false,
    });
    const nodb = parseDeviceName('tango://127.0.0.1:12345/test/lrc/1#dbase=no');
    expect(nodb).toEqual({
      device: 'test/lrc/1',
      hosts: [{ host: '127.0.0.1', port: 12345 }],
      noDatabase: true,
    });
    expect(formatDeviceName(nodb)).toBe('tango://127.0.0.1:12345/test/lrc/1#dbase=no');
    expect(parseTangoHost('db1:10000, db2:20000')).toEqual([
      { host: 'db1', port: 10000 },
      { host: 'db2', port: 20000 },
    ]);
    expect(parseTangoHost('[::1]:10000')).toEqual([{ host: '::1', port: 10000 }]);
  });

  it.each([
    '',
    'a/b',
    'a/b/c/d/e',
    'tango://a/b/c',
    'tango://h:0/a/b/c',
    'h:99999/a/b/c',
    'a/b/c#dbase=no',
    'tango://h:1/a/b/c#other',
  ])('issue 12 item 2: "%s" is a TangoNameError', (name) => {
    expect(() => parseDeviceName(name)).toThrow(TangoNameError);
  });

  it('device aliases: a name with no "/" is an alias, through a database only', () => {
    expect(parseDeviceName('my_alias')).toEqual({
      device: 'my_alias',
      hosts: [],
      noDatabase: false,
      alias: true,
    });
    const withHost = parseDeviceName('tango://db:10000/my_alias');
    expect(withHost).toEqual({
      device: 'my_alias',
      hosts: [{ host: 'db', port: 10000 }],
      noDatabase: false,
      alias: true,
    });
    expect(formatDeviceName(withHost)).toBe('tango://db:10000/my_alias');
    expect(parseDeviceName('db:10000/my_alias#dbase=yes')).toEqual(withHost);
    // a device name is never an alias
    expect(parseDeviceName('a/b/c').alias).toBeUndefined();
  });

  it.each(['my_alias#dbase=no', 'tango://h:1/my_alias#dbase=no', 'tango://my_alias', 'a b', 'tango://h:1/'])(
    'device aliases: "%s" is a TangoNameError',
    (name) => {
      expect(() => parseDeviceName(name)).toThrow(TangoNameError);
    },
  );

  it('issue 12 item 2: bad TANGO_HOST values', () => {
    for (const v of ['', 'host', 'host:', ':1', 'h:1,'])
      expect(() => parseTangoHost(v)).toThrow(TangoNameError);
  });
});
