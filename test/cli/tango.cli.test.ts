/**
 * `orrery tango` against a real TangoTest (no database, loopback) and the PyTango LRC fixture (change events):
 * commands of every argument shape (ARG read by the command's input type), attribute reads and writes read back,
 * `--json`, DevFailed and a missing attribute (exit 1 with the stack's reason and desc), a server that does not
 * answer within `--timeout` (exit 1), bad usage (exit 2), `--watch` until `--count`, an AbortSignal or SIGINT.
 * Most runs are in-process with the output captured; a few run the CLI as a user does (node + tsx on main.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tangoCommand } from '../../src/cli/tango.js';
import { parseCommandArg, parseTangoArgs } from '../../src/cli/tangoArgs.js';
import { createSystem } from '../../src/engine/system.js';
import { DeviceProxy } from '../../src/protocols/tango/deviceProxy.js';
import { LrcDeviceServer } from '../tango/native/support/lrcDevice.js';
import { startTangoTest, type TangoTestServer } from '../tango/native/support/tangoTest.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
let server: TangoTestServer;

beforeAll(async () => {
  server = await startTangoTest();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

async function run(args: string[], signal?: AbortSignal) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await tangoCommand(args, {
    stdout: (l) => stdout.push(l),
    stderr: (l) => stderr.push(l),
    signal,
  });
  return { code, stdout, stderr };
}

function cli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'tango', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, out: () => stdout };
}

const listenersBefore = () => process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');

describe('issue 12 item 7: orrery tango runs commands', () => {
  it('issue 12 item 7: scalar, array and string-array-pair arguments are read by the command type', async () => {
    const cases: [string, string | undefined, string][] = [
      ['DevDouble', '3.5', '3.5'],
      ['DevLong', '-7', '-7'],
      ['DevLong64', '9007199254740993', '9007199254740993'],
      ['DevBoolean', 'true', 'true'],
      ['DevString', 'hello world', 'hello world'],
      ['DevVarLongArray', '1,2,3', '[1, 2, 3]'],
      ['DevVarDoubleArray', '[1.5, -2]', '[1.5, -2]'],
      ['DevVarLong64Array', '[9007199254740993, -2]', '[9007199254740993, -2]'],
      ['DevVarStringArray', '["a, b", "c"]', '["a, b", "c"]'],
      ['DevVarLongStringArray', '[[1, 2], ["x", "y"]]', '[[1, 2], ["x", "y"]]'],
      ['DevVarDoubleStringArray', '[[0.5], ["z"]]', '[[0.5], ["z"]]'],
    ];
    for (const [command, arg, expected] of cases) {
      const r = await run([server.name, command, ...(arg === undefined ? [] : [arg])]);
      expect({ command, ...r }).toEqual({ command, code: 0, stdout: [expected], stderr: [] });
    }
    // DevVoid prints nothing; a DevState result prints its name; a command name in any case
    expect(await run([server.name, 'devvoid'])).toEqual({ code: 0, stdout: [], stderr: [] });
    const state = await run([server.name, 'State']);
    expect(state.code).toBe(0);
    expect(state.stdout[0]).toMatch(/^[A-Z]+$/);
  }, 60_000);

  it('issue 12 item 7: --json gives one object with the device, the command and the value (64-bit as a string)', async () => {
    const r = await run([server.name, 'DevLong64', '-5', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout[0])).toEqual({ device: 'sys/tg_test/1', command: 'DevLong64', value: '-5' });
  }, 30_000);

  it('issue 12 item 7: an ARG that does not fit the type, or one given to a DevVoid command, is bad usage (exit 2)', async () => {
    for (const args of [
      ['DevLong', 'abc'],
      ['DevBoolean', 'maybe'],
      ['DevVarLongArray', '[1, "x"]'],
      ['DevVoid', '1'],
      ['DevDouble'],
    ]) {
      const r = await run([server.name, ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr[0]).toMatch(/^orrery tango: .*see 'orrery tango --help'$/);
    }
  }, 30_000);

  it('issue 12 item 7: a DevFailed exits 1 with the stack reason and desc', async () => {
    // writing a read-only attribute: the server's DevFailed (MultiDevFailed of write_attributes_4)
    const failed = await run([server.name, 'long_spectrum_ro', '[1]']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toEqual([
      expect.stringMatching(/^orrery tango: long_spectrum_ro: API_AttrNotWritable: .*not writable/),
    ]);
  }, 30_000);
});

describe('issue 12 item 7: orrery tango reads and writes attributes', () => {
  it('issue 12 item 7: a read prints name, value and quality; a write prints the value read back', async () => {
    const read = await run([server.name, 'long_scalar']);
    expect(read.code).toBe(0);
    expect(read.stdout[0]).toMatch(/^long_scalar {2}-?\d+ {2}ATTR_VALID/);
    const write = await run([server.name, 'double_scalar', '12.25']);
    expect(write).toMatchObject({ code: 0, stderr: [] });
    expect(write.stdout[0]).toMatch(/^double_scalar {2}[-\d.e]+ {2}ATTR_VALID {2}\(set point 12\.25\)$/);
    const spectrum = await run([server.name, 'string_spectrum', '["a b", "c"]']);
    expect(spectrum.stdout).toEqual(['string_spectrum  ["a b", "c"]  ATTR_VALID']);
    const image = await run([server.name, 'boolean_image', '[[true, false], [false, true]]']);
    expect(image.stdout).toEqual(['boolean_image  [[true, false], [false, true]]  ATTR_VALID']);
  }, 30_000);

  it('issue 12 item 7: --json gives the whole read (type, format, dimensions, ISO time)', async () => {
    const r = await run([server.name, 'long64_scalar', '-9007199254740993', '--json']);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout[0]);
    expect(o).toMatchObject({
      device: 'sys/tg_test/1',
      attribute: 'long64_scalar',
      wValue: '-9007199254740993',
      quality: 'ATTR_VALID',
      type: 'DevLong64',
      dataFormat: 'SCALAR',
      dimX: 1,
    });
    expect(Number.isNaN(Date.parse(o.time))).toBe(false);
  }, 30_000);

  it('issue 12 item 7: a missing attribute exits 1 with API_AttrNotFound; a bad VALUE exits 2', async () => {
    const missing = await run([server.name, 'no_such_attribute']);
    expect(missing.code).toBe(1);
    expect(missing.stderr[0]).toMatch(/^orrery tango: API_AttrNotFound: /);
    const bad = await run([server.name, 'long_scalar_w', 'x']);
    expect(bad.code).toBe(2);
    expect(await run([server.name, 'State', '--command', '--attribute'])).toMatchObject({ code: 2 });
    expect(await run([server.name, 'double_scalar', '--command'])).toMatchObject({ code: 2 });
  }, 30_000);
});

describe('issue 12 item 7: orrery tango usage and failures', () => {
  it('issue 12 item 7: bad usage exits 2 without connecting', async () => {
    for (const args of [
      ['tango://127.0.0.1:1/a/b/c#dbase=no'],
      ['not a name', 'State'],
      ['tango://127.0.0.1:1/a/b/c#dbase=no', 'State', '--bogus'],
      ['tango://127.0.0.1:1/a/b/c#dbase=no', 'State', '--timeout', '-1'],
      ['tango://127.0.0.1:1/a/b/c#dbase=no', '--watch'],
      ['tango://127.0.0.1:1/a/b/c#dbase=no', 'x', '--count', '2'],
      ['tango://127.0.0.1:1/a/b/c#dbase=no', 'x', '1', '2'],
    ]) {
      const r = await run(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
    }
    const noHost = await tangoCommand(['a/b/c', 'State'], { stderr: () => {}, tangoHost: '' });
    expect(noHost).toBe(2);
    expect(parseTangoArgs(['d/f/m', 'Cmd', '-5'])).toMatchObject({ target: { name: 'Cmd', value: '-5' } });
    expect(parseCommandArg('DevVarLong64Array', '[1, -9007199254740993]')).toEqual([1n, -9007199254740993n]);
    expect(parseCommandArg('DevVarStringArray', 'a,b')).toEqual(['a', 'b']);
  });

  it('issue 12 item 7: no server exits 1; a server that does not answer exits 1 after --timeout', async () => {
    const closed = await run(['tango://127.0.0.1:1/sys/tg_test/1#dbase=no', 'State', '--timeout', '2000']);
    expect(closed.code).toBe(1);
    await server.pause();
    try {
      const r = await run([server.name, 'State', '--timeout', '300']);
      expect(r.code).toBe(1);
      expect(r.stderr[0]).toMatch(/no reply within 300 ms/);
    } finally {
      server.resume();
    }
  }, 30_000);

  it('issue 12 item 7: the CLI as a user runs it: a command, an attribute in JSON, exit codes 1 and 2', async () => {
    const ok = await cli([server.name, 'DevVarDoubleArray', '1,2.5']).done;
    expect(ok).toMatchObject({ code: 0, stdout: '[1, 2.5]\n' });
    const json = await cli([server.name, 'short_scalar_w', '7', '--json']).done;
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ attribute: 'short_scalar_w', value: 7 });
    const missing = await cli([server.name, 'nope']).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/API_AttrNotFound/);
    const usage = await cli(['sys/tg_test/1', 'State'], { TANGO_HOST: '' }).done;
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/TANGO_HOST/);
  }, 60_000);
});

describe('issue 12 item 7: orrery tango --watch', () => {
  let lrc: LrcDeviceServer;
  beforeAll(async () => {
    lrc = await LrcDeviceServer.start();
  }, 60_000);
  afterAll(async () => {
    await lrc?.stop();
  });

  async function push(n: number) {
    const system = createSystem();
    const proxy = new DeviceProxy(lrc.name, { system });
    try {
      await proxy.commandInout('PushCounter', n);
    } finally {
      await proxy.close();
      await system.stop();
    }
  }

  it('issue 12 item 7: prints the current value, then each change event, and stops after --count lines', async () => {
    const before = listenersBefore();
    const lines: string[] = [];
    let first!: () => void;
    const subscribed = new Promise<void>((resolve) => (first = resolve));
    const running = tangoCommand([lrc.name, '--watch', 'counter', '--count', '4', '--json'], {
      stdout: (l) => {
        lines.push(l);
        first();
      },
      stderr: (l) => lines.push(`ERR ${l}`),
    });
    await subscribed;
    await push(3);
    expect(await running).toBe(0);
    const values = lines.map((l) => JSON.parse(l));
    expect(values.map((v) => v.source)).toEqual(['read', 'event', 'event', 'event']);
    const start = values[0].value as number;
    expect(values.map((v) => v.value)).toEqual([start, start + 1, start + 2, start + 3]);
    expect(values[1]).toMatchObject({ device: 'test/lrc/1', attribute: 'counter', quality: 'ATTR_VALID' });
    expect(listenersBefore()).toBe(before);
  }, 60_000);

  it('issue 12 item 7: error events are printed and the watch goes on until the AbortSignal (exit 0)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const stop = new AbortController();
    let wake = () => {};
    const running = tangoCommand([lrc.name, '--watch', 'counter', 'dval'], {
      stdout: (l) => {
        out.push(l);
        wake();
      },
      stderr: (l) => {
        err.push(l);
        wake();
      },
      signal: stop.signal,
    });
    const until = async (p: () => boolean) => {
      while (!p()) await new Promise<void>((r) => (wake = r));
    };
    await until(() => out.length >= 2); // both current values
    const system = createSystem();
    const proxy = new DeviceProxy(lrc.name, { system });
    try {
      await proxy.commandInout('PushCounterError');
      await until(() => err.length >= 1);
      await proxy.commandInout('PushCounter', 1);
      await until(() => out.length >= 3);
    } finally {
      await proxy.close();
      await system.stop();
    }
    stop.abort();
    expect(await running).toBe(0);
    expect(out[0]).toMatch(/ test\/lrc\/1\/counter -?\d+ ATTR_VALID$/);
    expect(out[1]).toMatch(/ test\/lrc\/1\/dval [-\d.e]+ ATTR_VALID$/);
    expect(err[0]).toMatch(/ test\/lrc\/1\/counter ERROR \w+: /);
  }, 60_000);

  it('issue 12 item 7: a watch of a missing attribute exits 1; SIGINT ends a watch with exit 0', async () => {
    const missing = await run([lrc.name, '--watch', 'no_such_attribute']);
    expect(missing.code).toBe(1);
    expect(missing.stderr[0]).toMatch(/^orrery tango: /);
    const { child, done, out } = cli([lrc.name, '--watch', 'counter']);
    await waitFor(child, () => out().includes('counter'));
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/test\/lrc\/1\/counter -?\d+ ATTR_VALID\n/);
  }, 60_000);
});

/** Resolves once `p()` holds after some output of `child` (rejects if it exits first). */
function waitFor(child: ChildProcess, p: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    if (p()) return resolve();
    const check = () => {
      if (!p()) return;
      child.stdout?.off('data', check);
      child.off('exit', onExit);
      resolve();
    };
    const onExit = (code: number | null) => reject(new Error(`the CLI exited (${code}) first`));
    child.stdout?.on('data', check);
    child.once('exit', onExit);
  });
}
