/**
 * The CLI under bad input and hostile conditions (a review of src/cli and src/demo): a reader that goes away
 * (`orrery ... | head -1`), values out of a Tango type's range, credentials in a device name, a `--timeout` that
 * must bound the connection too, Ctrl+C during `orrery lrc`, and a put refused by the server's access rights.
 * Whatever needs a real process (EPIPE, signals, exit codes) spawns the CLI through tsx, as the other CLI tests do;
 * the rest calls the command functions in-process with the output captured.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { caCommand } from '../../src/cli/ca.js';
import { katcpCommand } from '../../src/cli/katcp.js';
import { lrcCommand } from '../../src/cli/lrc.js';
import { tangoCommand } from '../../src/cli/tango.js';
import { parseCommandArg, parseScalar } from '../../src/cli/tangoArgs.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { CaServer } from '../../src/protocols/ca/server.js';
import { createKatcpSimulator } from '../../src/protocols/katcp/sim.js';
import { spawnCli } from '../support/cliProcess.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

const cleanups: Array<() => unknown> = [];
const signalListeners = () => process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');
const listenersBefore = signalListeners();
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  vi.restoreAllMocks();
  expect(signalListeners()).toBe(listenersBefore);
});

/** The CLI in a child process (see test/support/cliProcess.ts). */
function orrery(args: string[], env: Record<string, string> = {}) {
  return spawnCli(args, cleanups, env);
}

/** Run a command function in-process with console output captured. */
async function capture(run: () => Promise<number>) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  try {
    const code = await run();
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

/** A TCP server on loopback that accepts connections and never answers. */
async function blackHole(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return (server.address() as { port: number }).port;
}

async function caServer() {
  const server = await CaServer.start({
    port: 0,
    interfaces: ['127.0.0.1'],
    pvs: [
      { name: 'hard:x', type: 'double', value: 1.5 },
      { name: 'hard:serial', type: 'string', value: 'ORR-0001', access: 'read-only' },
      { name: 'hard:big', type: 'long', value: Array.from({ length: 200_000 }, (_, i) => i) },
    ],
  });
  cleanups.push(() => server.close());
  return { EPICS_CA_ADDR_LIST: `127.0.0.1:${server.port}`, EPICS_CA_AUTO_ADDR_LIST: 'NO' };
}

/** One line on stderr, no stack trace, no unhandled 'error' event. */
function expectOneCleanLine(stderr: string, re: RegExp) {
  expect(stderr).not.toMatch(/^\s+at |Unhandled|node:internal|throw er/m);
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toMatch(re);
}

describe('a closed stdout (orrery ... | head -1)', () => {
  it('ca monitor stops with one line on stderr and exit 1, no stack trace', async () => {
    const env = await caServer();
    const cli = orrery(['ca', 'monitor', 'hard:x', '--duration', '20000'], env);
    await cli.waitFor(/\[1\.5\]/);
    cli.child.stdout.destroy(); // the reader goes away, as `head -1` does after its line
    // the next update's write fails with EPIPE: a put makes one
    await caCommand(['put', 'hard:x', '2.5'], { env, stdout: () => {}, stderr: () => {} });
    expect(await cli.exit(10_000)).toEqual({ code: 1, signal: null });
    expectOneCleanLine(cli.out.stderr, /^orrery ca: standard output closed/);
  }, 30_000);

  it('ca get: a long line still draining into the pipe when its reader goes away: exit 1, not 0', async () => {
    const env = await caServer();
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'ca', 'get', 'hard:big'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    cleanups.push(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // nothing is read: the 1.3 MB line fills the pipe and the rest stays queued in the child, whose command
    // returns meanwhile (exit code 0 set); then the reader goes away
    await new Promise((r) => child.stdout.once('readable', r));
    await new Promise((r) => setTimeout(r, 1000));
    child.stdout.destroy();
    expect(await exited).toBe(1);
    expectOneCleanLine(stderr, /^orrery ca: standard output closed/);
  }, 30_000);

  it('katcp --watch stops with one line on stderr and exit 1, no stack trace', async () => {
    const sim = createKatcpSimulator({ host: '127.0.0.1', port: 0, updateIntervalMs: 20 });
    const { port } = await sim.listen();
    cleanups.push(() => sim.close());
    const cli = orrery(['katcp', `127.0.0.1:${port}`, '--watch', 'counter']);
    await cli.waitFor(/ counter nominal /);
    cli.child.stdout.destroy();
    expect(await cli.exit(10_000)).toEqual({ code: 1, signal: null });
    expectOneCleanLine(cli.out.stderr, /^orrery katcp: standard output closed/);
  }, 30_000);

  it.each([
    ['katcp-sim', /^orrery katcp-sim: standard output closed/],
    ['ca-sim', /^orrery ca-sim: standard output closed/],
  ])(
    '%s whose first line cannot be written stops and exits 1 (it kept serving until Ctrl+C)',
    async (name, line) => {
      const cli = orrery([name, '--port', '0']);
      cli.child.stdout.destroy(); // gone before the simulator prints where it listens: that write fails with EPIPE
      expect(await cli.exit(10_000)).toEqual({ code: 1, signal: null });
      expectOneCleanLine(cli.out.stderr, line);
    },
    30_000,
  );

  it('demo (logs on stdout) stops everything and exits 1, no stack trace', async () => {
    const cli = orrery(['demo', '--port', '0', '--log-level', 'info']);
    await cli.waitFor(/Orrery inspector: /);
    cli.child.stdout.destroy(); // the demo logs every few hundred ms
    expect(await cli.exit(15_000)).toEqual({ code: 1, signal: null });
    expectOneCleanLine(cli.out.stderr, /^orrery demo: standard output closed/);
  }, 40_000);
});

describe('orrery tango refuses values out of the Tango type range (instead of writing another value)', () => {
  it.each([
    ['DevUChar', '256'],
    ['DevUChar', '-1'],
    ['DevFloat', '1e39'],
    ['DevFloat', '-3.5e38'],
    ['DevDouble', '1e400'],
    // the other integer types reached the codec, whose GiopEncodeError ended the command with exit 1
    ['DevShort', '32768'],
    ['DevShort', '-32769'],
    ['DevUShort', '65536'],
    ['DevUShort', '-1'],
    ['DevLong', '2147483648'],
    ['DevLong', '-2147483649'],
    ['DevULong', '4294967296'],
    ['DevULong', '-1'],
    ['DevLong64', '9223372036854775808'],
    ['DevLong64', '-9223372036854775809'],
    ['DevULong64', '18446744073709551616'],
    ['DevULong64', '-1'],
    ['DevEnum', '32768'],
    // a state no device has: the codec's TangoTypeError ('not a DevState'), exit 1
    ['DevState', 'BUSY'],
    ['DevState', '14'],
    ['DevState', '-1'],
  ])('%s %s is a usage error', (type, text) => {
    expect(() => parseScalar(type, text)).toThrow(InvalidArgumentError);
  });

  it('a DevVarCharArray with 300 or -1 is a usage error (it was written as 44 and 255)', () => {
    expect(() => parseCommandArg('DevVarCharArray', '1,300,-1')).toThrow(/out of range|DevUChar/);
    expect(() => parseCommandArg('DevVarCharArray', '[1, 256]')).toThrow(InvalidArgumentError);
  });

  it('values in range, and inf/nan written as such, are still accepted', () => {
    expect(parseScalar('DevUChar', '255')).toBe(255);
    expect(parseScalar('DevUChar', '0')).toBe(0);
    expect(parseScalar('DevFloat', '3.4e38')).toBe(3.4e38);
    expect(parseScalar('DevFloat', '1e-50')).toBe(1e-50); // underflows to 0 in float32, as in C
    expect(parseScalar('DevFloat', '-inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseScalar('DevDouble', '1.7e308')).toBe(1.7e308);
    expect(parseScalar('DevDouble', 'inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseCommandArg('DevVarCharArray', '0,255')).toEqual([0, 255]);
    expect(parseScalar('DevState', 'on')).toBe('ON');
    expect(parseScalar('DevState', '13')).toBe(13);
    expect(parseScalar('DevShort', '-32768')).toBe(-32768);
    expect(parseScalar('DevUShort', '65535')).toBe(65535);
    expect(parseScalar('DevLong', '2147483647')).toBe(2147483647);
    expect(parseScalar('DevULong', '4294967295')).toBe(4294967295);
    expect(parseScalar('DevLong64', '-9223372036854775808')).toBe(-9223372036854775808n);
    expect(parseScalar('DevULong64', '18446744073709551615')).toBe(18446744073709551615n);
    expect(parseCommandArg('DevVarShortArray', '1,-2')).toEqual([1, -2]);
    expect(() => parseCommandArg('DevVarShortArray', '[1, 40000]')).toThrow(InvalidArgumentError);
  });
});

describe('credentials in a device name never reach the output', () => {
  const lines = () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    return {
      stdout,
      stderr,
      io: { stdout: (l: string) => stdout.push(l), stderr: (l: string) => stderr.push(l) },
    };
  };

  it('orrery tango tango://user:password@host:port/... is a usage error that does not show the password', async () => {
    const port = await blackHole();
    const r = lines();
    const code = await tangoCommand([`tango://admin:s3cret@127.0.0.1:${port}/a/b/c#dbase=no`, 'State'], r.io);
    expect(code).toBe(2);
    expect([...r.stdout, ...r.stderr].join('\n')).not.toContain('s3cret');
    expect(r.stderr.join('\n')).toMatch(/admin:\*\*\*@/);
  });

  it('a TANGO_HOST with a password is refused without showing it', async () => {
    const r = lines();
    const code = await tangoCommand(['a/b/c', 'State'], { ...r.io, tangoHost: 'admin:s3cret@127.0.0.1:1' });
    expect(code).toBe(2);
    expect([...r.stdout, ...r.stderr].join('\n')).not.toContain('s3cret');
  });

  it('orrery lrc --device with a password is refused without showing it', async () => {
    const port = await blackHole();
    const r = await capture(() =>
      lrcCommand(['On', '--device', `tango://admin:s3cret@127.0.0.1:${port}/a/b/c#dbase=no`]),
    );
    expect(r.code).toBe(2);
    expect([...r.out, ...r.err].join('\n')).not.toContain('s3cret');
    expect(r.err).toHaveLength(1);
  });

  it('orrery katcp user:password@host:port does not echo the password', async () => {
    const r = lines();
    const code = await katcpCommand(['admin:s3cret@127.0.0.1:7147', '?help'], r.io);
    expect(code).toBe(2);
    expect([...r.stdout, ...r.stderr].join('\n')).not.toContain('s3cret');
  });
});

describe('orrery lrc --timeout bounds the connection to --device too', () => {
  it('a device that never answers ends within --timeout (not the 3 s per-request default), exit 1', async () => {
    const port = await blackHole();
    const t0 = Date.now();
    const r = await capture(() =>
      lrcCommand(['On', '--device', `tango://127.0.0.1:${port}/a/b/c#dbase=no`, '--timeout', '300']),
    );
    const elapsed = Date.now() - t0;
    expect(r.code).toBe(1);
    expect(elapsed).toBeLessThan(2000);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^orrery lrc: cannot reach .*300 ms/);
  });
});

describe('orrery lrc --device with a name that does not parse is bad usage, as in orrery tango', () => {
  it.each([
    ['a/b', {}],
    ['tango://127.0.0.1:99999/a/b/c', {}],
    ['tango://127.0.0.1:1/a/b/c#dbase=maybe', {}],
    ['a/b/c', { TANGO_HOST: '' }],
    ['a/b/c', { TANGO_HOST: 'garbage' }],
  ])('--device %s (%o): one usage line, exit 2, not "cannot reach" and exit 1', async (device, env) => {
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
    try {
      const r = await capture(() => lrcCommand(['On', '--device', device, '--timeout', '3000']));
      expect(r.code).toBe(2);
      expect(r.out).toEqual([]);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/^orrery lrc: --device: .*; see 'orrery lrc --help'$/);
      // and what `orrery tango` says of the same name, exit 2 too
      const io = {
        stdout: () => {},
        stderr: () => {},
        tangoHost: (env as { TANGO_HOST?: string }).TANGO_HOST,
      };
      expect(await tangoCommand([device, 'State'], io)).toBe(2);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('orrery lrc with an empty command name', () => {
  it('is one usage line and exit 2 (it escaped as an InvalidArgumentError from LongRunningCommand, exit 1)', async () => {
    for (const argv of [[''], ['', '{"fail": true}'], ['--json', '']]) {
      const r = await capture(() => lrcCommand(argv));
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.out).toEqual([]);
      expect(r.err).toEqual([expect.stringMatching(/^orrery lrc: .*command.*; see 'orrery lrc --help'$/)]);
    }
  });
});

describe('orrery lrc on SIGINT / SIGTERM during the run', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s cancels the run: one line on stderr, exit 1 (not killed by the signal)',
    async (signal) => {
      const cli = orrery(['lrc', 'Scan']); // 10 steps of 200 ms
      await cli.waitFor(/IN_PROGRESS/);
      cli.child.kill(signal);
      expect(await cli.exit(10_000)).toEqual({ code: 1, signal: null });
      expectOneCleanLine(cli.out.stderr, new RegExp(`^orrery lrc: Scan interrupted \\(${signal}\\)`));
    },
    30_000,
  );

  it('SIGTERM during the run with --inspect: the inspector closes and the process exits 1', async () => {
    const cli = orrery(['lrc', 'Scan', '--inspect']);
    await cli.waitFor(/IN_PROGRESS/);
    cli.child.kill('SIGTERM');
    expect(await cli.exit(10_000)).toEqual({ code: 1, signal: null });
    expect(cli.out.stderr).toMatch(/Scan interrupted \(SIGTERM\)/);
    expect(cli.out.stderr).not.toMatch(/still up/);
  }, 30_000);
});

describe('orrery ca put on a PV the server does not let us write', () => {
  it('without -c: exit 1 with ECA_NOWTACCESS, not Old/New and exit 0', async () => {
    const env = await caServer();
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await caCommand(['put', 'hard:serial', 'X'], {
      env,
      stdout: (l) => stdout.push(l),
      stderr: (l) => stderr.push(l),
    });
    expect({ code, stdout }).toEqual({ code: 1, stdout: [] });
    expect(stderr).toEqual([expect.stringMatching(/^orrery ca put: .*hard:serial.*ECA_NOWTACCESS/)]);
  });

  it('a writable PV is still written without -c', async () => {
    const env = await caServer();
    const stdout: string[] = [];
    const code = await caCommand(['put', 'hard:x', '4'], { env, stdout: (l) => stdout.push(l) });
    expect(code).toBe(0);
    expect(stdout.at(-1)).toMatch(/^New : hard:x\s+\[4\]$/);
  });
});

describe('orrery ca: --format and EPICS_CA_* mistakes are usage errors (exit 2) found before any I/O', () => {
  /** `orrery ca ...` in-process against no server at all: anything that got as far as I/O would time out. */
  async function ca(argv: string[], env: Record<string, string> = {}) {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await caCommand(argv, {
      env: { EPICS_CA_ADDR_LIST: '127.0.0.1:1', EPICS_CA_AUTO_ADDR_LIST: 'NO', ...env },
      stdout: (l) => stdout.push(l),
      stderr: (l) => stderr.push(l),
    });
    return { code, stdout, stderr };
  }

  it.each([
    ['{response.data:q}', /unsupported format spec ':q' in \{response\.data:q\}/],
    ['{pv_name:40z}', /unsupported format spec ':40z'/],
    ['{response.nope}', /\{response\.nope\}: a response has no attribute 'nope'/],
    ['{response.status.nope}', /a status has no attribute 'nope'/],
  ])('get --format %s', async (format, message) => {
    const r = await ca(['get', '--timeout', '0.2', '--format', format, 'hard:x']);
    expect(r.code).toBe(2);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toEqual([expect.stringMatching(message)]);
    expect(r.stderr[0]).not.toMatch(/timeout|Timeout/);
  });

  it.each([
    ['get', 'over 500 characters', 'x'.repeat(501)],
    ['get', 'far over 500 characters', 'x'.repeat(100_000)],
    ['get', 'a NUL', 'a\u0000b'],
    ['monitor', 'not latin-1', 'temp\u20ac'],
    ['put', 'over 500 characters', 'x'.repeat(501)],
  ])(
    'ca %s: a PV name no search can carry (%s) is bad usage like an empty one, in one short line',
    async (sub, _what, pv) => {
      const argv = sub === 'put' ? [sub, '--timeout', '200', pv, '1'] : [sub, '--timeout', '200', pv];
      const r = await ca(argv);
      expect(r.code).toBe(2);
      expect(r.stdout).toEqual([]);
      expect(r.stderr).toEqual([
        expect.stringMatching(new RegExp(`^orrery ca ${sub}: .*PV name.*; see 'orrery ca ${sub} --help'$`)),
      ]);
      expect(r.stderr[0].length).toBeLessThan(300);
      // as an empty one is
      expect((await ca(sub === 'put' ? [sub, '', '1'] : [sub, ''])).code).toBe(2);
    },
  );

  it('a strftime spec on {timestamp} is still taken', async () => {
    const env = await caServer();
    const stdout: string[] = [];
    const code = await caCommand(['get', '-d', 'time', '--format', '{pv_name} {timestamp:%Y}', 'hard:x'], {
      env,
      stdout: (l) => stdout.push(l),
    });
    expect(code).toBe(0);
    expect(stdout).toEqual([expect.stringMatching(/^hard:x \d{4}$/)]);
  });

  it('a metadata field the data type does not have is an error naming it, not the text "undefined"', async () => {
    const env = await caServer();
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await caCommand(['get', '--format', '{response.metadata.units}', 'hard:x'], {
      env,
      stdout: (l) => stdout.push(l),
      stderr: (l) => stderr.push(l),
    });
    expect(code).not.toBe(0);
    expect(stdout.join('\n')).not.toMatch(/undefined/);
    expect(stderr.join('\n')).toMatch(/\{response\.metadata\.units\} has no attribute 'units'/);
  });

  it('a malformed EPICS_CA_SERVER_PORT: exit 2 with one line naming it (as ca-sim does for EPICS_CAS_*)', async () => {
    const r = await ca(['get', 'hard:x'], { EPICS_CA_SERVER_PORT: 'abc' });
    expect(r).toEqual({
      code: 2,
      stdout: [],
      stderr: [
        expect.stringMatching(/^orrery ca get: EPICS_CA_SERVER_PORT .*"abc".*see 'orrery ca get --help'$/),
      ],
    });
  });
});
