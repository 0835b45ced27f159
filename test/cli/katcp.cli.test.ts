/**
 * `orrery katcp` against a real DeviceServer on loopback (port 0): a request and its reply printed as wire lines,
 * a request with informs, a failing and an unknown request (exit 1), `--json`, `--timeout` with a server that
 * never answers, `--watch` printing sensor updates until an AbortSignal (in-process) or SIGINT (a child process)
 * ends it with exit 0, a watch whose server goes away (exit 1), a dead port, a peer that is not KATCP v5 and bad
 * usage (exit 2). The command runs in-process with its output captured; everything is closed in afterEach.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { katcpCommand, parseHostPort } from '../../src/cli/katcp.js';
import { FailReply } from '../../src/protocols/katcp/errors.js';
import { Sensor } from '../../src/protocols/katcp/sensor.js';
import { DeviceServer } from '../../src/protocols/katcp/server.js';

const cleanups: (() => unknown)[] = [];
const signalListeners = () => process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');
const listenersBefore = signalListeners();
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  // every in-process run removed its SIGINT/SIGTERM listeners
  expect(signalListeners()).toBe(listenersBefore);
});

/** A device with requests echo, fail, list (two informs), hang (answers when the test ends) and two sensors. */
async function startDevice() {
  const server = new DeviceServer();
  const releases: (() => void)[] = [];
  server.addRequest('echo', 'Return the arguments', (_ctx, ...args) => args);
  server.addRequest('fail', 'Always fails', () => {
    throw new FailReply('x is no good');
  });
  server.addRequest('list', 'Two informs, then the count', (ctx) => {
    ctx.inform('a b');
    ctx.inform('');
    return [2];
  });
  server.addRequest(
    'hang',
    'Answers only when the test ends',
    () => new Promise<void>((r) => releases.push(r)),
  );
  const temp = new Sensor({
    name: 'temp',
    type: 'float',
    initial: 20.5,
    status: 'nominal',
    now: () => 1000.25,
  });
  const mode = new Sensor({
    name: 'mode',
    type: 'discrete',
    params: ['idle', 'busy mode'],
    status: 'nominal',
  });
  server.addSensor(temp);
  server.addSensor(mode);
  const { port } = await server.listen();
  cleanups.push(async () => {
    for (const r of releases) r();
    await server.close();
  });
  return { server, temp, mode, port, at: `127.0.0.1:${port}` };
}

/** Run the command in-process; its stdout and stderr lines. */
function run(argv: string[], signal?: AbortSignal) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = katcpCommand(argv, {
    stdout: (l) => stdout.push(l),
    stderr: (l) => stderr.push(l),
    signal,
  });
  return { code, stdout, stderr };
}

/** Wait (no timing asserted) until `cond()` holds; fail with `what` after a generous deadline. */
async function until(cond: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A raw TCP peer that greets with `greeting` and then says nothing. */
async function rawPeer(greeting: string): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write(greeting);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as { port: number }).port;
}

describe('issue 9 item 5: orrery katcp HOST:PORT ?request', () => {
  it('issue 9 item 5: a request prints its reply as the wire line (escapes and mid kept) and exits 0', async () => {
    const dev = await startDevice();
    const r = run([dev.at, '?echo', 'a b', '', 'tab\there']);
    expect(await r.code).toBe(0);
    expect(r.stdout).toEqual(['!echo[1] ok a\\_b \\@ tab\\there']);
    expect(r.stderr).toEqual([]);
    // the '?' is optional
    const again = run([dev.at, 'echo', 'x']);
    expect(await again.code).toBe(0);
    expect(again.stdout).toEqual(['!echo[1] ok x']);
  });

  it("issue 9 item 5: the request's informs come first, then the reply; the server's own informs are not printed", async () => {
    const dev = await startDevice();
    const r = run([dev.at, '?list']);
    expect(await r.code).toBe(0);
    expect(r.stdout).toEqual(['#list[1] a\\_b', '#list[1] \\@', '!list[1] ok 2']);
    const help = run([dev.at, '?help', 'echo']);
    expect(await help.code).toBe(0);
    expect(help.stdout).toEqual(['#help[1] echo Return\\_the\\_arguments', '!help[1] ok 1']);
  });

  it('issue 9 item 5: a failing request prints the fail reply and exits 1', async () => {
    const dev = await startDevice();
    const r = run([dev.at, '?fail']);
    expect(await r.code).toBe(1);
    expect(r.stdout).toEqual(['!fail[1] fail x\\_is\\_no\\_good']);
  });

  it('issue 9 item 5: an unknown request prints the invalid reply and exits 1', async () => {
    const dev = await startDevice();
    const r = run([dev.at, '?nosuch', 'arg']);
    expect(await r.code).toBe(1);
    expect(r.stdout).toEqual(['!nosuch[1] invalid unknown\\_request\\_nosuch']);
  });

  it('issue 9 item 5: --json prints one object per message, arguments unescaped', async () => {
    const dev = await startDevice();
    const r = run([dev.at, '?list', '--json']);
    expect(await r.code).toBe(0);
    expect(r.stdout.map((l) => JSON.parse(l))).toEqual([
      { type: 'inform', name: 'list', mid: 1, args: ['a b'] },
      { type: 'inform', name: 'list', mid: 1, args: [''] },
      { type: 'reply', name: 'list', mid: 1, args: ['ok', '2'] },
    ]);
    const failed = run(['--json', dev.at, 'fail']);
    expect(await failed.code).toBe(1);
    expect(failed.stdout.map((l) => JSON.parse(l))).toEqual([
      { type: 'reply', name: 'fail', mid: 1, args: ['fail', 'x is no good'] },
    ]);
  });

  it('issue 9 item 5: arguments after -- are sent as they are, even when they look like options', async () => {
    const dev = await startDevice();
    const r = run([dev.at, '?echo', '-1', '--', '--json', '-h']);
    expect(await r.code).toBe(0);
    expect(r.stdout).toEqual(['!echo[1] ok -1 --json -h']);
  });

  it('issue 9 item 5: no reply within --timeout exits 1 with a message', async () => {
    const dev = await startDevice();
    const r = run([dev.at, '?hang', '--timeout', '50']);
    expect(await r.code).toBe(1);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toEqual(['orrery katcp: no reply to ?hang within 50 ms']);
  });

  it('issue 9 item 5: an AbortSignal (what SIGINT does) cancels a pending request: exit 1', async () => {
    const dev = await startDevice();
    const stop = new AbortController();
    const r = run([dev.at, '?hang', '--timeout', 'inf'], stop.signal);
    await until(
      () => dev.server.clients.length === 1,
      () => 'the client to connect',
    );
    // whether the abort lands during the negotiation or with the request on the wire, it ends the same way
    stop.abort();
    expect(await r.code).toBe(1);
    expect(r.stderr.join('\n')).toMatch(/interrupted/);
  });
});

describe('issue 9 item 5: orrery katcp HOST:PORT --watch SENSOR...', () => {
  it('issue 9 item 5: --watch samples with event, prints each update, and an abort ends it with exit 0', async () => {
    const dev = await startDevice();
    const stop = new AbortController();
    const r = run([dev.at, '--watch', 'temp', 'mode'], stop.signal);
    // the immediate #sensor-status of each sensor
    await until(
      () => r.stdout.length >= 2,
      () => `two first updates, got ${JSON.stringify(r.stdout)} ${JSON.stringify(r.stderr)}`,
    );
    expect(r.stdout[0]).toBe('1000.25 temp nominal 20.5');
    expect(r.stdout[1]).toMatch(/^\d+(\.\d+)? mode nominal idle$/);
    dev.temp.set(21.75, 'warn', 1001.5);
    dev.mode.set('busy mode', 'nominal', 1002);
    dev.temp.set(21.75, 'warn', 1003); // no change: event sends nothing
    dev.temp.set(-1, 'error', 1004);
    await until(
      () => r.stdout.length >= 5,
      () => `five updates, got ${JSON.stringify(r.stdout)}`,
    );
    // values and timestamps as the server writes them (this one writes floats as Python does: 1002.0, -1.0)
    expect(r.stdout.slice(2)).toEqual([
      '1001.5 temp warn 21.75',
      expect.stringMatching(/^1002(\.0)? mode nominal busy\\_mode$/),
      expect.stringMatching(/^1004(\.0)? temp error -1(\.0)?$/),
    ]);
    stop.abort();
    expect(await r.code).toBe(0);
    expect(r.stderr).toEqual([]);
    // the client went away: the server dropped its samplers with it
    await until(
      () => dev.server.clients.length === 0,
      () => 'the server to see the client go',
    );
  });

  it('issue 9 item 5: --watch --json --strategy "period 0.05" prints objects with a numeric timestamp', async () => {
    const dev = await startDevice();
    const stop = new AbortController();
    const r = run([dev.at, '--watch', 'temp', '--json', '--strategy', 'period 0.05'], stop.signal);
    await until(
      () => r.stdout.length >= 3,
      () => `three periodic updates, got ${JSON.stringify(r.stdout)} ${JSON.stringify(r.stderr)}`,
    );
    for (const line of r.stdout.slice(0, 3)) {
      expect(JSON.parse(line)).toEqual({
        timestamp: 1000.25,
        name: 'temp',
        status: 'nominal',
        value: '20.5',
      });
    }
    stop.abort();
    expect(await r.code).toBe(0);
  });

  it('issue 9 item 5: --watch of an unknown sensor exits 1 with the server message', async () => {
    const dev = await startDevice();
    const r = run([dev.at, '--watch', 'temp', 'nosuch']);
    expect(await r.code).toBe(1);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^orrery katcp: cannot watch nosuch: .*nosuch/);
  });

  it('issue 9 item 5: --watch exits 1 with a message when the server goes away', async () => {
    const dev = await startDevice();
    const r = run([dev.at, '--watch', 'temp']);
    await until(
      () => r.stdout.length >= 1,
      () => 'the first update',
    );
    await dev.server.close();
    expect(await r.code).toBe(1);
    expect(r.stderr.join('\n')).toMatch(new RegExp(`^orrery katcp: connection to ${dev.at} lost`));
  });

  it('issue 9 item 5: SIGINT ends a --watch in a child process with exit 0', async () => {
    const dev = await startDevice();
    const module = fileURLToPath(new URL('../../src/cli/katcp.ts', import.meta.url));
    const script = `import(${JSON.stringify(module)}).then((m) => m.katcpCommand(process.argv.slice(1))).then((c) => { process.exitCode = c; });`;
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, dev.at, '--watch', 'temp'],
      { stdio: 'pipe' },
    );
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await until(
      () => stdout.includes('temp nominal 20.5\n'),
      () => `the first update from the child, got ${JSON.stringify(stdout)} ${JSON.stringify(stderr)}`,
    );
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout).toBe('1000.25 temp nominal 20.5\n');
  });
});

describe('issue 9 item 5: connection failures and bad usage', () => {
  it('issue 9 item 5: a dead port exits 2 with a clear message', async () => {
    const port = await deadPort();
    const r = run([`127.0.0.1:${port}`, '?help']);
    expect(await r.code).toBe(2);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(
      new RegExp(`^orrery katcp: cannot connect to 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
    );
  });

  it('issue 9 item 5: a peer that speaks KATCP v4 or garbage exits 2 with the protocol error', async () => {
    const v4 = await rawPeer('#version-connect katcp-protocol 4.0\n');
    const r = run([`127.0.0.1:${v4}`, '?help']);
    expect(await r.code).toBe(2);
    expect(r.stderr).toEqual([
      `orrery katcp: cannot connect to 127.0.0.1:${v4}: Unknown protocol version 4.0`,
    ]);
    const silent = await rawPeer('hello, this is not katcp\n');
    const s = run([`127.0.0.1:${silent}`, '?help', '--timeout', '100']);
    expect(await s.code).toBe(2);
    expect(s.stderr).toHaveLength(1);
    expect(s.stderr[0]).toMatch(new RegExp(`^orrery katcp: cannot connect to 127\\.0\\.0\\.1:${silent}: `));
  });

  const usage: [string[], RegExp][] = [
    [[], /expected HOST:PORT and a request/],
    [['127.0.0.1:7147'], /expected a request after HOST:PORT/],
    [['127.0.0.1', '?help'], /expected HOST:PORT, got "127.0.0.1"/],
    [['127.0.0.1:', '?help'], /the port expects a port number/],
    [['127.0.0.1:0', '?help'], /the port must be 1-65535/],
    [['127.0.0.1:65536', '?help'], /more than 65535/],
    [['127.0.0.1:0x10', '?help'], /the port expects a port number/],
    [['::1:7147', '?help'], /IPv6 address goes in brackets/],
    [['127.0.0.1:7147', '?bad_name'], /"\?bad_name" is not a KATCP request name/],
    [['127.0.0.1:7147', '?'], /is not a KATCP request name/],
    [['127.0.0.1:7147', '?help', '--timeout', '-1'], /--timeout expects a number of milliseconds/],
    [['127.0.0.1:7147', '?help', '--timeout'], /--timeout needs a value/],
    [['127.0.0.1:7147', '?help', '--bogus'], /unknown option --bogus/],
    [['127.0.0.1:7147', '?help', '--json=yes'], /--json takes no value/],
    [['127.0.0.1:7147', '?help', '--strategy', 'event'], /--strategy goes with --watch/],
    [['127.0.0.1:7147', '--watch'], /--watch needs at least one sensor name/],
    [['127.0.0.1:7147', '--watch', 'a,b'], /"a,b" is not a sensor name/],
    [
      ['127.0.0.1:7147', '--watch', 'temp', '--strategy', 'bogus'],
      /--strategy: "bogus" is not a sampling strategy/,
    ],
    [['127.0.0.1:7147', '--watch', 'temp', '--strategy', 'period 0'], /--strategy: period must be > 0/],
    [
      ['127.0.0.1:7147', '--watch', 'temp', '--strategy', 'none'],
      /--strategy: none would never report anything/,
    ],
    [['127.0.0.1:7147', '--watch', 'temp', '--strategy'], /--strategy needs a value/],
  ];
  for (const [argv, message] of usage) {
    it(`issue 9 item 5: usage error exits 2 without connecting: ${JSON.stringify(argv)}`, async () => {
      const r = run(argv);
      expect(await r.code).toBe(2);
      expect(r.stdout).toEqual([]);
      expect(r.stderr.join('\n')).toMatch(message);
    });
  }

  it('issue 9 item 5: --help prints the usage and exits 0', async () => {
    const r = run(['--help']);
    expect(await r.code).toBe(0);
    expect(r.stdout.join('\n')).toMatch(/usage: orrery katcp HOST:PORT \?request/);
  });

  it('issue 9 item 5: parseHostPort reads host names, IPv4 and bracketed IPv6', () => {
    expect(parseHostPort('localhost:7147')).toEqual({ host: 'localhost', port: 7147 });
    expect(parseHostPort('10.0.0.1:1')).toEqual({ host: '10.0.0.1', port: 1 });
    expect(parseHostPort('[::1]:65535')).toEqual({ host: '::1', port: 65535 });
  });
});
