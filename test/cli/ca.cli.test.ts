/**
 * `orrery ca get|put|monitor` against a real CaServer on loopback (port 0; EPICS_CA_ADDR_LIST=127.0.0.1:<port>,
 * no auto address list): caproto-get/put/monitor's default lines, -t, --wide, -d, --format, --json, -n, -S, the
 * data-format flags, put with and without -c, monitor ended by --count, --duration, an AbortSignal (in-process)
 * and SIGINT (the CLI in a child process), a missing PV (exit 1) and bad usage (exit 2). Also the formatting
 * helpers (Python's %g, str.format fields) on their own.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { caCommand, literal, parseCaArgs } from '../../src/cli/ca.js';
import { formatData, formatG, PyDateTime, PyTimeDelta, pyFormat } from '../../src/cli/caFormat.js';
import { CaServer } from '../../src/protocols/ca/server.js';

const cleanups: (() => unknown)[] = [];
const signalListeners = () => process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');
const listenersBefore = signalListeners();
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  expect(signalListeners()).toBe(listenersBefore);
});

async function startServer() {
  const server = await CaServer.start({
    port: 0,
    interfaces: ['127.0.0.1'],
    pvs: [
      { name: 'cli:x', type: 'double', value: 1.5, units: 'mm', precision: 3 },
      { name: 'cli:mode', type: 'enum', value: 1, enumStrings: ['off', 'on'] },
      { name: 'cli:wave', type: 'long', value: [1, 2, 3] },
      { name: 'cli:text', type: 'char', value: 'hello' },
    ],
  });
  cleanups.push(() => server.close());
  const env = { EPICS_CA_ADDR_LIST: `127.0.0.1:${server.port}`, EPICS_CA_AUTO_ADDR_LIST: 'NO' };
  return { server, env };
}

/** The command in-process: its exit code and output lines. */
function run(argv: string[], env: Record<string, string> = {}, signal?: AbortSignal) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = caCommand(argv, { env, stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l), signal });
  return { code, stdout, stderr };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('issue 11 item 4: orrery ca get', () => {
  it('issue 11 item 4: prints caproto-get lines for each PV, in order', async () => {
    const { env } = await startServer();
    const r = run(['get', 'cli:x', 'cli:mode', 'cli:wave', 'cli:text'], env);
    expect(await r.code).toBe(0);
    expect(r.stdout).toEqual([
      `${'cli:x'.padEnd(40)}  [1.5]`,
      `${'cli:mode'.padEnd(40)}  [on]`,
      `${'cli:wave'.padEnd(40)}  [1 2 3]`,
      `${'cli:text'.padEnd(40)}  [104 101 108 108 111 0]`,
    ]);
  });

  it('issue 11 item 4: -t, -n, -S, --wide, -F and the number formats', async () => {
    const { env } = await startServer();
    const terse = run(['get', '-t', 'cli:x', 'cli:wave', '-n', 'cli:mode'], env);
    expect(await terse.code).toBe(0);
    expect(terse.stdout).toEqual(['1.5', '[1 2 3]', '1']);
    const text = run(['get', '-S', '-t', 'cli:text'], env);
    expect(await text.code).toBe(0);
    expect(text.stdout).toEqual(['hello']);
    const wide = run(['get', '--wide', 'cli:x'], env);
    expect(await wide.code).toBe(0);
    expect(wide.stdout[0]).toMatch(/^cli:x \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \[1\.5\] ECA_NORMAL$/);
    const formats = run(['get', '-e3', '-0x', '-F', ',', 'cli:x', 'cli:wave'], env);
    expect(await formats.code).toBe(0);
    expect(formats.stdout).toEqual(['cli:x,[1.500e+00]', 'cli:wave,[0x1,0x2,0x3]']);
  });

  it('issue 11 item 4: -d picks the type, --format renders Python fields, --json one object per PV', async () => {
    const { env } = await startServer();
    const format =
      '{pv_name} {response.data[0]:.2f} {response.metadata.units} {response.status} {response.data_type}';
    const r = run(['get', '-d', 'control', '--format', format, 'cli:x'], env);
    expect(await r.code).toBe(0);
    expect(r.stdout).toEqual(['cli:x 1.50 mm ECA_NORMAL DBR_CTRL_DOUBLE']);
    const json = run(['get', '--json', 'cli:x', 'cli:wave', '-d', 'time'], env);
    expect(await json.code).toBe(0);
    const [x, wave] = json.stdout.map((l) => JSON.parse(l));
    expect(x).toMatchObject({
      pv_name: 'cli:x',
      data: 1.5,
      data_type: 'DBR_TIME_DOUBLE',
      status: 'ECA_NORMAL',
    });
    expect(typeof x.timestamp).toBe('number');
    expect(wave).toMatchObject({ data: [1, 2, 3], data_count: 3 });
  });

  it('issue 11 item 4: a missing PV prints the timeout on stderr and exits 1, the others still print', async () => {
    const { env } = await startServer();
    const r = run(['get', '--timeout', '200', 'cli:missing', 'cli:x'], env);
    expect(await r.code).toBe(1);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^orrery ca get: .*cli:missing.*timeout/);
    expect(r.stdout).toEqual([`${'cli:x'.padEnd(40)}  [1.5]`]);
  });
});

describe('issue 11 item 4: orrery ca put', () => {
  it('issue 11 item 4: prints Old and New like caproto-put; -c waits for completion', async () => {
    const { server, env } = await startServer();
    const r = run(['put', '-c', 'cli:x', '2.25'], env);
    expect(await r.code).toBe(0);
    expect(r.stdout).toEqual([`Old : ${'cli:x'.padEnd(40)}  [1.5]`, `New : ${'cli:x'.padEnd(40)}  [2.25]`]);
    expect(server.pv('cli:x')?.data[0]).toBe(2.25);
    const negative = run(['put', '-t', '-c', 'cli:x', '-5'], env);
    expect(await negative.code).toBe(0);
    expect(negative.stdout).toEqual(['2.25', '-5']);
  });

  it('issue 11 item 4: an ENUM by state name, an array with -a, a string with -S', async () => {
    const { server, env } = await startServer();
    const e = run(['put', '-c', 'cli:mode', 'off'], env);
    expect(await e.code).toBe(0);
    expect(e.stdout[1]).toBe(`New : ${'cli:mode'.padEnd(40)}  [off]`);
    const a = run(['put', '-c', '-a', 'cli:wave', '4 5 6'], env);
    expect(await a.code).toBe(0);
    expect(Array.from(server.pv('cli:wave')?.data as Int32Array)).toEqual([4, 5, 6]);
    const s = run(['put', '-c', '-S', 'cli:mode', 'on', '--format', '{which}={response.data[0]}'], env);
    expect(await s.code).toBe(0);
    expect(s.stdout).toEqual(['Old=off', 'New=on']);
  });

  it('issue 11 item 4: a refused write exits 1 with the reason', async () => {
    const { env } = await startServer();
    const r = run(['put', '-c', 'cli:mode', 'nonsense'], env);
    expect(await r.code).toBe(1);
    expect(r.stderr[0]).toMatch(/^orrery ca put: /);
  });
});

describe('issue 11 item 4: orrery ca monitor', () => {
  it('issue 11 item 4: prints each update until --count, with caproto-monitor timestamps', async () => {
    const { server, env } = await startServer();
    const r = run(['monitor', 'cli:x', '--count', '2'], env);
    await until(() => r.stdout.length === 1, 'the first update');
    server.pv('cli:x')?.write(9);
    expect(await r.code).toBe(0);
    expect(r.stdout).toHaveLength(2);
    expect(r.stdout[1]).toMatch(/^cli:x {35} {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \[9\]$/);
  });

  it('issue 11 item 4: --format with {callback_count}; ends on --duration and on the AbortSignal', async () => {
    const { env } = await startServer();
    const timed = run(
      ['monitor', 'cli:mode', '--duration', '100', '--format', '{callback_count}:{response.data}'],
      env,
    );
    expect(await timed.code).toBe(0);
    expect(timed.stdout).toEqual(['1:[on]']);
    const controller = new AbortController();
    const json = run(['monitor', '--json', '-n', 'cli:mode'], env, controller.signal);
    await until(() => json.stdout.length === 1, 'the first update');
    controller.abort();
    expect(await json.code).toBe(0);
    expect(JSON.parse(json.stdout[0])).toMatchObject({
      pv_name: 'cli:mode',
      data: 1,
      data_type: 'DBR_TIME_ENUM',
    });
  });

  it('issue 11 item 4: the CLI in a child process exits 0 on SIGINT', async () => {
    const { env } = await startServer();
    const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main, 'ca', 'monitor', 'cli:x'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await until(() => out.includes('[1.5]'), 'the first update from the child');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 30_000);

  it('issue 11 item 4: a missing PV exits 1', async () => {
    const { env } = await startServer();
    const r = run(['monitor', '--timeout', '200', 'cli:missing'], env);
    expect(await r.code).toBe(1);
    expect(r.stderr[0]).toMatch(/cli:missing/);
  });
});

describe('issue 11 item 4: orrery ca usage and formatting', () => {
  it('issue 11 item 4: bad usage exits 2 with one line naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [[], /usage/],
      [['fetch', 'x'], /unknown subcommand "fetch"/],
      [['get'], /at least one PV/],
      [['get', '--bogus', 'x'], /unknown option --bogus/],
      [['get', '--timeout', 'soon', 'x'], /--timeout expects/],
      [['get', '-p', '100', 'x'], /-p expects a priority/],
      [['get', '-d', 'float128', 'x'], /-d: unknown data type/],
      [['get', '--format', '{nope}', 'x'], /unknown field \{nope\}/],
      // Python's str.format refuses a brace without its pair (ValueError), as the rest of --format follows it
      [['get', '--format', '{pv_name', 'x'], /--format: single '\{' encountered in format string/],
      [['get', '--format', 'pv}', 'x'], /--format: single '\}' encountered in format string/],
      [['put', 'x'], /expected PV DATA/],
      [['monitor', '-m', 'q', 'x'], /-m expects/],
      [['monitor', '--count', '0', 'x'], /--count expects/],
      [['put', '-m', 'v', 'x', '1'], /-m is not an option of 'ca put'/],
    ];
    for (const [argv, message] of cases) {
      const r = run(argv);
      expect(await r.code, argv.join(' ')).toBe(2);
      expect([...r.stderr, ...r.stdout].join('\n')).toMatch(message);
    }
    const help = run(['monitor', '--help']);
    expect(await help.code).toBe(0);
    expect(help.stdout[0]).toMatch(/^usage: orrery ca monitor/);
    const types = run(['get', '--list-types']);
    expect(await types.code).toBe(0);
    expect(types.stdout[0]).toMatch(/20 TIME_DOUBLE/);
  });

  it('-# beyond what a request header carries (2^32 - 1) is bad usage, exit 2, before any I/O', async () => {
    for (const count of ['4294967296', '99999999999999999999']) {
      const r = run(['get', '-#', count, 'x']);
      expect(await r.code, count).toBe(2);
      expect(r.stderr).toEqual([
        `orrery ca get: -# expects an element count, got "${count}" (more than 4294967295); see 'orrery ca get --help'`,
      ]);
    }
    expect(parseCaArgs(['get', '-#', '4294967295', 'a']).dataCount).toBe(4294967295);
  });

  it('monitor -d of a type without a timestamp, with a line that prints {timestamp} or {timedelta}, is bad usage', async () => {
    // the default line prints the timestamp: each update failed with '--format: unknown field {timestamp}' (exit 1)
    for (const argv of [
      ['monitor', '-d', 'control', 'x'],
      ['monitor', '-d', 'native', 'x'],
      ['monitor', '-d', 'DBR_GR_DOUBLE', 'x'],
      ['monitor', '-d', '6', '--format', '{pv_name} {timedelta}', 'x'],
    ]) {
      const r = run(argv);
      expect(await r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toEqual([
        `orrery ca monitor: -d ${argv[2]} carries no timestamp, which the line prints; use a TIME type (-d time), --format without {timestamp} and {timedelta}, or --json; see 'orrery ca monitor --help'`,
      ]);
    }
    // what prints no timestamp, or reads one, is taken
    expect(
      parseCaArgs(['monitor', '-d', 'control', '--format', '{pv_name} {response.data}', 'a']).dataType,
    ).toBe('control');
    expect(parseCaArgs(['monitor', '-d', 'control', '--json', 'a']).dataType).toBe('control');
    expect(parseCaArgs(['monitor', '-d', 'time', 'a']).dataType).toBe('time');
    expect(parseCaArgs(['monitor', '-d', 'TIME_LONG', 'a']).dataType).toBe('TIME_LONG');
    expect(parseCaArgs(['monitor', '-d', '6', '--format', '{{timestamp}}', 'a']).dataType).toBe(6);
  });

  it('get -d with --wide, and put --format with -t or --wide, are bad usage (caproto: mutually exclusive)', async () => {
    // --wide reads the TIME type: -d was dropped without a word; put's --format lost to nothing said either
    const cases: [string[], string][] = [
      [
        ['get', '-d', 'control', '--wide', 'x'],
        "orrery ca get: -d and --wide go one at a time (--wide reads the TIME type); see 'orrery ca get --help'",
      ],
      [
        ['get', '-a', '-d', '20', 'x'],
        "orrery ca get: -d and -a go one at a time (-a reads the TIME type); see 'orrery ca get --help'",
      ],
      [
        ['put', '--format', '{pv_name}', '-t', 'x', '1'],
        "orrery ca put: --format and -t go one at a time; see 'orrery ca put --help'",
      ],
      [
        ['put', '-l', '--format', '{pv_name}', 'x', '1'],
        "orrery ca put: --format and -l go one at a time; see 'orrery ca put --help'",
      ],
    ];
    for (const [argv, message] of cases) {
      const r = run(argv);
      expect(await r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toEqual([message]);
    }
    // caproto-get takes --format with -t or --wide (the format wins); -d with -t is taken too, both honoured
    expect(parseCaArgs(['get', '--format', '{pv_name}', '-t', 'a']).format).toBe('{pv_name}');
    expect(parseCaArgs(['get', '-d', 'control', '-t', 'a']).dataType).toBe('control');
  });

  it('--list-types lists only what -d takes (0..34): every listed id and name is accepted', async () => {
    const r = run(['get', '--list-types']);
    expect(await r.code).toBe(0);
    const listed = r.stdout
      .join('\n')
      .split('\n')
      .map((l) => /^(\d+) +(\w+)$/.exec(l))
      .filter((m) => m !== null);
    expect(listed.map((m) => Number(m[1]))).toEqual(Array.from({ length: 35 }, (_, i) => i));
    for (const m of listed) {
      expect(parseCaArgs(['get', '-d', m[1], 'a']).dataType).toBe(Number(m[1]));
      expect(parseCaArgs(['get', '-d', m[2], 'a']).dataType).toBe(m[2]);
    }
  });

  it('put of no elements (-a with an empty DATA, DATA []) is bad usage, not a write that does nothing', async () => {
    // a WRITE of count 0 is refused by the server (ECA_BADCOUNT, as libca's ca_array_put refuses it): without -c
    // nothing said so, and Old/New printed the unchanged value with exit 0
    const { server, env } = await startServer();
    for (const argv of [
      ['put', '-a', 'cli:wave', ''],
      ['put', '-a', 'cli:wave', '   '],
      ['put', 'cli:wave', '[]'],
    ]) {
      const r = run(argv, env);
      expect(await r.code, JSON.stringify(argv)).toBe(2);
      expect(r.stderr).toEqual(["orrery ca put: DATA has no elements to write; see 'orrery ca put --help'"]);
    }
    expect(Array.from(server.pv('cli:wave')?.data as Int32Array)).toEqual([1, 2, 3]);
    // an empty string is a value (one element)
    expect(parseCaArgs(['put', 'a', '']).data).toBe('');
    expect(parseCaArgs(['put', '-S', 'a', '']).data).toBe('');
  });

  it("put DATA takes Python's integer literals as caproto-put's ast.literal_eval does (0x, 0o, 0b, _)", async () => {
    // they were written as text: 'cannot convert "0x10" to DOUBLE', exit 1
    expect([literal('0x10'), literal('-0o17'), literal('+0b101'), literal('0XfF'), literal('1_000')]).toEqual(
      [16, -15, 5, 255, 1000],
    );
    expect([literal('1_000.5'), literal('1e1_0'), literal('.5_5')]).toEqual([1000.5, 1e10, 0.55]);
    // what Python reads as no number stays text
    expect([
      literal('0x'),
      literal('1__0'),
      literal('_1'),
      literal('1_'),
      literal('0x_'),
      literal('0b2'),
    ]).toEqual(['0x', '1__0', '_1', '1_', '0x_', '0b2']);
    const { server, env } = await startServer();
    const r = run(['put', 'cli:x', '0x10'], env);
    expect(await r.code).toBe(0);
    expect(server.pv('cli:x')?.data[0]).toBe(16);
    expect(parseCaArgs(['put', '-a', 'a', '0x1 0b10 3']).data).toEqual([1, 2, 3]);
  });

  it("-F puts the separator between every two adjacent fields of the line, --format's too (caproto's format_str_adjust)", async () => {
    // the monitor's default line kept the space before the data, and a --format kept its spaces
    const { env } = await startServer();
    const monitor = run(['monitor', 'cli:x', '-F', ',', '--count', '1'], env);
    expect(await monitor.code).toBe(0);
    expect(monitor.stdout).toHaveLength(1);
    expect(monitor.stdout[0]).toMatch(/^cli:x,\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6},\[1\.5\]$/);
    const get = run(
      ['get', 'cli:wave', '-F', ';', '--format', '{pv_name}   {response.data} {response.data_count}!'],
      env,
    );
    expect(await get.code).toBe(0);
    expect(get.stdout).toEqual(['cli:wave;[1;2;3];3!']);
    // only between fields: text around them stays; a brace in the separator is text, not a field
    const text = run(['get', 'cli:x', '-F', '{}', '--format', 'v: {pv_name} = {response.data} x'], env);
    expect(await text.code).toBe(0);
    expect(text.stdout).toEqual(['v: cli:x = [1.5] x']);
    const braces = run(['get', 'cli:x', '-F', '{}', '--format', '{pv_name} {response.data}'], env);
    expect(await braces.code).toBe(0);
    expect(braces.stdout).toEqual(['cli:x{}[1.5]']);
  });

  it("put DATA takes Python's lists and tuples of numbers JSON does not read, as ast.literal_eval does", () => {
    // they were written as text ('cannot convert "(1, 2)" to DOUBLE', exit 1)
    expect(literal('(1, 2, 3)')).toEqual([1, 2, 3]);
    expect(literal('[1, 2,]')).toEqual([1, 2]);
    expect(literal('(7,)')).toEqual([7]);
    expect(literal('[0x10, 1_000, -2.5]')).toEqual([16, 1000, -2.5]);
    expect(literal('[True, False]')).toEqual([1, 0]);
    expect(literal('(5)')).toBe(5); // no comma: the value, not a tuple
    expect(literal('()')).toEqual([]);
    // what Python would not read stays text, as before
    expect(literal('(1, x)')).toBe('(1, x)');
    expect(literal('[1,, 2]')).toBe('[1,, 2]');
    expect(literal('(1, 2]')).toBe('(1, 2]');
  });

  it('issue 11 item 4: options parse as caproto spells them', () => {
    expect(parseCaArgs(['get', '-e5', '-p', '99', '-#', '2', 'a'])).toMatchObject({
      pvs: ['a'],
      priority: 99,
      dataCount: 2,
      fmt: { float: { kind: 'e', digits: 5 } },
    });
    expect(parseCaArgs(['monitor', '-m', 'vlp', '--maximum=3', 'a', 'b'])).toMatchObject({
      mask: 11,
      count: 3,
    });
    expect(parseCaArgs(['put', 'a', '--', '-x'])).toMatchObject({ data: '-x' });
    expect([literal('5'), literal('1e3'), literal("'a b'"), literal('[1, 2]'), literal('word')]).toEqual([
      5,
      1000,
      'a b',
      [1, 2],
      'word',
    ]);
  });

  it("issue 11 item 4: Python's %g, str.format fields and timedelta", () => {
    expect(
      [1, 0.5, 1e6, 1.5e-5, 123456789, -0.0001, Number.NaN, Number.POSITIVE_INFINITY].map((v) => formatG(v)),
    ).toEqual(['1', '0.5', '1e+06', '1.5e-05', '1.23457e+08', '-0.0001', 'nan', 'inf']);
    expect(formatG(Math.PI, 3)).toBe('3.14');
    expect(formatData(new Float64Array([1.5, 2]))).toBe('[1.5 2]');
    expect(formatData(new Int32Array(0))).toBe('[]');
    expect(formatData(['a', 'b'], { separator: ',', noBrackets: true })).toBe('a,b');
    expect(pyFormat('{a: <5}|{b:>4}|{c:^5}|{{x}}', { a: 'ab', b: 7, c: 'c' })).toBe('ab   |   7|  c  |{x}');
    expect(() => pyFormat('{zz}', { a: 1 })).toThrow(/unknown field/);
    expect(String(new PyTimeDelta(1.5))).toBe('0:00:01.500000');
    expect(String(new PyTimeDelta(90_061))).toBe('1 day, 1:01:01');
  });

  it("{timestamp} on a whole second prints as Python's str(datetime): no '.000000'", () => {
    // --wide's '{timestamp}' of a record never processed (stamp 0: the EPICS epoch) or any whole-second stamp
    const whole = new PyDateTime(1_600_000_000);
    const local = new Date(1_600_000_000_000);
    const two = (n: number) => String(n).padStart(2, '0');
    const expected = `${local.getFullYear()}-${two(local.getMonth() + 1)}-${two(local.getDate())} ${two(local.getHours())}:${two(local.getMinutes())}:${two(local.getSeconds())}`;
    expect(String(whole)).toBe(expected);
    expect(String(new PyDateTime(1_600_000_000.25))).toBe(`${expected}.250000`);
    // an explicit %f still prints the zeros
    expect(whole.format('%S.%f')).toBe(`${two(local.getSeconds())}.000000`);
  });

  it('{timestamp:...} takes the strftime codes of names, 12-hour clock, day of year and weekday', () => {
    // they were printed as written ('%b' for 'Sep'), where Python's strftime (C locale) names them
    const t = new PyDateTime(new Date(2020, 8, 13, 15, 4, 5).getTime() / 1000); // local Sunday 13 Sep 2020
    expect(t.format('%a %A %b %B %I %p %j %w')).toBe('Sun Sunday Sep September 03 PM 257 0');
    expect(new PyDateTime(new Date(2021, 0, 1, 0, 30).getTime() / 1000).format('%I %p %j')).toBe('12 AM 001');
    // a naive datetime has no zone: %z and %Z are empty, as in Python
    expect(t.format('[%z%Z]')).toBe('[]');
  });

  it("-f N and {:.Nf} print a float of 1e21 or more in full, as Python's '%.Nf' does", () => {
    // JavaScript's toFixed switches to exponent form there: '[1e+21]' where caproto-get -f2 prints the digits
    expect(formatData(new Float64Array([1e21, -1e23, 1.5]), { float: { kind: 'f', digits: 2 } })).toBe(
      '[1000000000000000000000.00 -99999999999999991611392.00 1.50]',
    );
    expect(pyFormat('{x:.1f}|{y:f}|{z:.0f}', { x: -1e22, y: 2e21, z: 1e21 })).toBe(
      '-10000000000000000000000.0|2000000000000000000000.000000|1000000000000000000000',
    );
  });

  it("{:e} of inf or nan prints 'inf' / 'nan' as Python's, not a TypeError", async () => {
    // '{response.data[0]:e}' of an infinite value ended the command with "orrery: Cannot read properties of
    // undefined (reading 'startsWith')", exit 1
    expect(
      pyFormat('{x:e}|{y:.2e}|{z:e}', { x: Number.POSITIVE_INFINITY, y: Number.NaN, z: -Infinity }),
    ).toBe('inf|nan|-inf');
    const { server, env } = await startServer();
    server.pv('cli:x')?.write(Number.POSITIVE_INFINITY);
    const r = run(['get', 'cli:x', '--format', '{response.data[0]:.3e}'], env);
    expect(await r.code).toBe(0);
    expect(r.stdout).toEqual(['inf']);
  });

  it("a negative {timedelta} prints as Python's str(timedelta): whole days down, the rest positive", () => {
    // a monitor's first update stamped ahead of the local clock (an IOC's clock a little fast) gives one; it
    // printed '-0:00:01.500000' where caproto-monitor prints '-1 day, 23:59:58.500000'
    expect(String(new PyTimeDelta(-1.5))).toBe('-1 day, 23:59:58.500000');
    expect(String(new PyTimeDelta(-86_400))).toBe('-1 day, 0:00:00');
    expect(String(new PyTimeDelta(-90_061))).toBe('-2 days, 22:58:59');
    expect(String(new PyTimeDelta(-0.000_001))).toBe('-1 day, 23:59:59.999999');
    expect(String(new PyTimeDelta(0))).toBe('0:00:00');
  });
});
