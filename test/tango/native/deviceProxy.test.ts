// DeviceProxy against a real TangoTest (no database, loopback, random port): every command type round trips,
// attributes are written and read back (scalars, spectrum, image), errors keep their Tango stacks.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, type OrrerySystem } from '../../../src/engine/system.js';
import { AttributeNotFoundError, TangoTypeError } from '../../../src/protocols/tango/clientErrors.js';
import { DeviceProxy } from '../../../src/protocols/tango/deviceProxy.js';
import { DevFailed } from '../../../src/protocols/tango/errors.js';
import { GiopEncodeError, MultiDevFailedError } from '../../../src/protocols/tango/giop/errors.js';
import { PYTHON } from './support/lrcDevice.js';
import { startTangoTest, type TangoTestServer } from './support/tangoTest.js';

let server: TangoTestServer;
let system: OrrerySystem;
let device: DeviceProxy;

beforeAll(async () => {
  server = await startTangoTest();
  system = createSystem();
  device = await DeviceProxy.connect(server.name, { system, timeout: 10_000 });
});
afterAll(async () => {
  await device?.close();
  await system?.stop();
  await server?.stop();
});

const COMMANDS: [string, unknown][] = [
  ['DevBoolean', true],
  ['DevBoolean', false],
  ['DevShort', -32768],
  ['DevUShort', 65535],
  ['DevLong', -2147483648],
  ['DevULong', 4294967295],
  ['DevLong64', -(2n ** 63n)],
  ['DevULong64', 2n ** 64n - 1n],
  ['DevFloat', 1.5],
  ['DevDouble', -1.25e300],
  ['DevString', 'héllo wörld ✓'],
  ['DevString', ''],
  ['DevVarCharArray', new Uint8Array([0, 1, 255])],
  ['DevVarShortArray', [-1, 0, 32767]],
  ['DevVarUShortArray', [0, 65535]],
  ['DevVarLongArray', [-2147483648, 2147483647]],
  ['DevVarULongArray', [0, 4294967295]],
  ['DevVarLong64Array', [-(2n ** 63n), 2n ** 63n - 1n]],
  ['DevVarULong64Array', [0n, 2n ** 64n - 1n]],
  ['DevVarFloatArray', [0.5, -2]],
  ['DevVarDoubleArray', [Math.PI, -0, 1e-300]],
  ['DevVarDoubleArray', []],
  ['DevVarStringArray', ['a', '', 'ü']],
  [
    'DevVarLongStringArray',
    [
      [1, -2, 3],
      ['x', 'y'],
    ],
  ],
  ['DevVarDoubleStringArray', [[1.5, -2.5], ['p']]],
];

describe('issue 12 item 6: every command type round trips through TangoTest', () => {
  it.each(COMMANDS)('issue 12 item 6: %s', async (command, value) => {
    expect(await device.commandInout(command, value)).toEqual(value);
  });

  it('issue 12 item 6: DevVoid and DevState', async () => {
    expect(await device.commandInout('DevVoid')).toBeUndefined();
    expect(await device.commandInout('State')).toBe('RUNNING');
    expect(await device.state()).toBe('RUNNING');
    expect(await device.status()).toBe('The device is in RUNNING state.');
  });

  it('issue 12 item 2: typed arguments need no command query; plain numbers pass as 64-bit', async () => {
    expect(await device.commandInoutRaw('DevLong64', { type: 'DevLong64', value: 42n })).toEqual({
      type: 'DevLong64',
      value: 42n,
    });
    expect(await device.commandInout('DevLong64', 7)).toBe(7n);
    expect(await device.commandInout('DevShort', 5)).toBe(5);
  });

  it('issue 12 item 2: a value of the wrong shape is a typed error before anything is sent', async () => {
    await expect(device.commandInout('DevVarLongArray', 'nope')).rejects.toBeInstanceOf(TangoTypeError);
    await expect(device.commandInout('DevShort', 40_000)).rejects.toThrow(/short/);
    expect(await device.commandInout('DevShort', 1)).toBe(1);
  });

  it('an argument given to a DevVoid command is TangoTypeError, nothing run (PyTango: cannot insert a value in a DEV_VOID)', async () => {
    await expect(device.commandInout('DevVoid', 5)).rejects.toBeInstanceOf(TangoTypeError);
    await expect(device.commandInout('DevVoid', [])).rejects.toBeInstanceOf(TangoTypeError);
    expect(await device.commandInout('DevVoid', null)).toBeUndefined();
    expect(await device.commandInout('DevVoid', undefined)).toBeUndefined();
  });

  it('bytes out of 0..255 are refused (GiopEncodeError, as PyTango overflows), not wrapped into another value', async () => {
    for (const bad of [[1, 300], [-1], [1.5], [Number.NaN]]) {
      await expect(device.commandInout('DevVarCharArray', bad)).rejects.toBeInstanceOf(GiopEncodeError);
    }
    await device.writeAttribute('uchar_scalar', 7);
    await expect(device.writeAttribute('uchar_scalar', 300)).rejects.toBeInstanceOf(GiopEncodeError);
    await expect(device.writeAttribute('uchar_spectrum', [1, 256])).rejects.toBeInstanceOf(GiopEncodeError);
    expect((await device.readAttribute('uchar_scalar')).wValue).toBe(7);
  });
});

const WRITES: [string, unknown][] = [
  ['double_scalar', 2.5],
  ['float_scalar', 1.5],
  ['short_scalar', -3],
  ['long_scalar', -7],
  ['long64_scalar', 2n ** 40n],
  ['boolean_scalar', true],
  ['string_scalar', 'hé'],
  ['uchar_scalar', 200],
  ['ushort_scalar', 65000],
  ['ulong_scalar', 4_000_000_000],
  ['ulong64_scalar', 2n ** 64n - 1n],
  ['double_spectrum', [1, 2, 3]],
  ['float_spectrum', [0.5]],
  ['short_spectrum', [3, -3]],
  ['ushort_spectrum', [9]],
  ['long_spectrum', [1, -2]],
  ['boolean_spectrum', [true, false]],
  ['string_spectrum', ['a', 'b']],
  ['uchar_spectrum', [1, 2]],
  [
    'double_image',
    [
      [1, 2],
      [3, 4],
      [5, 6],
    ],
  ],
  ['string_image', [['a', 'b']]],
  ['boolean_image', [[true], [false]]],
  ['uchar_image', [[1, 2]]],
  ['short_image', [[1]]],
  ['float_image', [[1.5, 2]]],
  ['ushort_image', [[7], [8]]],
];

describe('issue 12 item 6: attributes written and read back through TangoTest', () => {
  it.each(WRITES)('issue 12 item 6: %s', async (attribute, value) => {
    await device.writeAttribute(attribute, value);
    const read = await device.readAttribute(attribute);
    expect(read.name).toBe(attribute);
    expect(read.wValue).toEqual(value);
    expect(read.quality).toBe('ATTR_VALID');
    const format = Array.isArray(value) ? (Array.isArray(value[0]) ? 'IMAGE' : 'SPECTRUM') : 'SCALAR';
    expect(read.dataFormat).toBe(format);
    if (format === 'IMAGE') {
      const rows = value as unknown[][];
      expect([read.wDimX, read.wDimY]).toEqual([rows[0].length, rows.length]);
    }
  });

  it('a write-only attribute read back: its one value is both value and wValue (PyTango w_value 2.5)', async () => {
    await device.writeAttribute('ampli', 2.5);
    const read = await device.readAttribute('ampli');
    expect([read.value, read.wValue, read.wDimX]).toEqual([2.5, 2.5, 1]);
    expect((await device.readAttribute('short_scalar_ro')).wValue).toBeUndefined();
  });

  it('issue 12 item 6: read-only spectrum and image attributes, a large image in fragments', async () => {
    const [spectrum, image, big] = await device.readAttributes([
      'long64_spectrum_ro',
      'short_image_ro',
      'double_image_ro',
    ]);
    expect(spectrum.type).toBe('DevLong64');
    expect((spectrum.value as bigint[]).length).toBe(spectrum.dimX);
    expect(typeof (spectrum.value as bigint[])[0]).toBe('bigint');
    expect(image.dataFormat).toBe('IMAGE');
    expect((image.value as number[][]).length).toBe(image.dimY);
    expect(big.dimX * big.dimY).toBeGreaterThan(60_000);
    expect((big.value as number[][]).flat().length).toBe(big.dimX * big.dimY);
    expect(big.wValue).toBeUndefined();
  });

  it('issue 12 item 6: State and Status as attributes', async () => {
    const [state, status] = await device.readAttributes(['State', 'Status']);
    expect(state.type).toBe('DevState');
    expect(state.value).toBe('RUNNING');
    expect(status.value).toBe('The device is in RUNNING state.');
  });

  it('issue 12 item 2: attribute list and configs', async () => {
    const names = await device.attributeList();
    expect(names).toEqual(expect.arrayContaining(['double_scalar', 'long_spectrum', 'State', 'Status']));
    const config = await device.getAttributeConfig('double_scalar');
    expect(config.name).toBe('double_scalar');
    expect(config.data_type).toBe(5);
  });
});

describe('issue 12 item 6: errors keep their Tango stacks', () => {
  it('issue 12 item 6: an unknown command is DevFailed API_CommandNotFound', async () => {
    const error = await device.commandInout('NoSuchCommand').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DevFailed);
    expect((error as DevFailed).errors[0]).toMatchObject({ reason: 'API_CommandNotFound', severity: 'ERR' });
    expect((error as DevFailed).errors[0].origin).toBeTruthy();
  });

  it('issue 12 item 6: a missing attribute is AttributeNotFoundError (a DevFailed) carrying API_AttrNotFound', async () => {
    const error = await device.readAttribute('no_such_attribute').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttributeNotFoundError);
    expect(error).toBeInstanceOf(DevFailed);
    expect((error as AttributeNotFoundError).attribute).toBe('no_such_attribute');
    expect((error as DevFailed).errors.map((e) => e.reason)).toContain('API_AttrNotFound');
  });

  it('a write the server refuses (MultiDevFailed) is a DevFailed: the server stack, then API_AttributeFailed (as PyTango)', async () => {
    const error = await device.writeAttribute('short_scalar_ro', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DevFailed);
    expect(error).toBeInstanceOf(MultiDevFailedError);
    expect((error as DevFailed).errors.map((e) => e.reason)).toEqual([
      'API_AttrNotWritable',
      'API_AttributeFailed',
    ]);
    expect((error as MultiDevFailedError).failures[0]).toMatchObject({
      name: 'short_scalar_ro',
      indexInCall: 0,
    });
  });

  it('a missing attribute written or asked its config is AttributeNotFoundError too (the server raises API_AttrNotFound)', async () => {
    for (const call of [
      () => device.writeAttribute('no_such_attribute', 1),
      () => device.getAttributeConfig('no_such_attribute'),
      () => device.getAttributeConfigs(['double_scalar', 'no_such_attribute']),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AttributeNotFoundError);
      expect((error as AttributeNotFoundError).attribute).toBe('no_such_attribute');
      expect((error as DevFailed).errors.map((e) => e.reason)).toContain('API_AttrNotFound');
    }
  });

  it('issue 12 item 6: an attribute whose read throws is DevFailed with its stack', async () => {
    const error = await device.readAttribute('throw_exception').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DevFailed);
    expect(error).not.toBeInstanceOf(AttributeNotFoundError);
    expect((error as DevFailed).errors.length).toBeGreaterThan(0);
  });

  it('issue 12 item 2: ping in microseconds, admin device, commands listed and queried', async () => {
    const us = await device.ping();
    expect(Number.isInteger(us) && us > 0).toBe(true);
    expect(await device.adminName()).toBe('dserver/TangoTest/test');
    const list = await device.commandListQuery();
    expect(list.find((c) => c.cmdName === 'DevVarLongStringArray')).toMatchObject({
      inType: 'DevVarLongStringArray',
      outType: 'DevVarLongStringArray',
    });
    expect(await device.commandQuery('State')).toMatchObject({ inType: 'DevVoid', outType: 'DevState' });
  });

  it('issue 12 item 2: pipelined calls on one connection all complete, in any order', async () => {
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => device.commandInout('DevLong', i)),
    );
    expect(results).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });
});

describe('non-ASCII strings as PyTango writes and reads them (Latin-1 on the wire)', () => {
  /** Runs `code` in PyTango 9 with `d`, a DeviceProxy on TangoTest; its standard output. */
  const pytango = (code: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const script = `import tango\nd = tango.DeviceProxy(${JSON.stringify(server.name)})\n${code}`;
      execFile(PYTHON, ['-c', script], { timeout: 20_000 }, (error, stdout) =>
        error ? reject(error) : resolve(stdout.trim()),
      );
    });

  it('a string PyTango wrote reads as PyTango reads it (it was caf\uFFFD \uFFFDC), and one written here reads in PyTango as written (not naÃ¯ve Âµ)', async () => {
    await pytango(`d.write_attribute('string_scalar', 'caf\\xe9 \\xb0C')`);
    expect((await device.readAttribute('string_scalar')).value).toBe('café °C');
    await device.writeAttribute('string_scalar', 'naïve µ');
    expect(await pytango(`print(ascii(d.read_attribute('string_scalar').value))`)).toBe("'na\\xefve \\xb5'");
    expect(await pytango(`print(ascii(d.command_inout('DevString', 'caf\\xe9')))`)).toBe("'caf\\xe9'");
  }, 30_000);
});

describe('a device name in another case, without a database', () => {
  it('reaches the device: its object key is the name in lower case, as the server registered it (PyTango lower-cases the name)', async () => {
    const upper = `tango://127.0.0.1:${server.port}/SYS/TG_Test/1#dbase=no`;
    const d = new DeviceProxy(upper, { system, timeout: 10_000 });
    try {
      // it used to send the name as written: OBJECT_NOT_EXIST for any call
      expect(await d.state()).toBe(await device.state());
      expect((await d.readAttribute('short_scalar_ro')).name).toBe('short_scalar_ro');
      // the name is kept as written
      expect(d.name).toBe('SYS/TG_Test/1');
    } finally {
      await d.close();
    }
  });
});
