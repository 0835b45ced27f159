/**
 * An option given twice is bad usage in every command (one line, exit 2, naming the option), not the last one
 * silently winning (`--port 1 --port 2`); only an option documented as repeatable (`orrery ca -v`) may repeat.
 * Each command runs in-process with its output captured; the second value of each repeat is one the command would
 * refuse by itself, so a command that let the last one win still ends at once (with another message).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { caCommand } from '../../src/cli/ca.js';
import { caSimCommand } from '../../src/cli/caSim.js';
import { chartsCommand } from '../../src/cli/charts.js';
import { demoCommand } from '../../src/cli/demo.js';
import { katcpCommand } from '../../src/cli/katcp.js';
import { katcpSimCommand } from '../../src/cli/katcpSim.js';
import { lrcCommand } from '../../src/cli/lrc.js';
import { parseCommandArgs, scanLongOptions } from '../../src/cli/options.js';
import { tangoCommand } from '../../src/cli/tango.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Where a command run in-process writes its lines. */
interface IO {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

/** Runs `run` with console.log / console.error captured, and hands it an io whose lines are captured too. */
async function capture(run: (io: IO) => Promise<number>) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  try {
    const code = await run({ stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('a repeated option is a usage error', () => {
  it.each([
    ['demo', () => demoCommand(['--port', '0', '--port', 'x']), /^orrery demo: --port given twice; see/],
    [
      'charts',
      () => chartsCommand(['m.js', '--format', 'svg', '--format=bogus']),
      /^orrery charts: --format given twice; see/,
    ],
    [
      'katcp-sim',
      () => katcpSimCommand(['--port', '0', '--port', 'x']),
      /^orrery katcp-sim: --port given twice/,
    ],
    ['ca-sim', () => caSimCommand(['--port', '0', '--port', 'x']), /^orrery ca-sim: --port given twice/],
    [
      'lrc',
      () => lrcCommand(['On', '--timeout', '5', '--timeout', 'x']),
      /^orrery lrc: --timeout given twice; see/,
    ],
  ])('orrery %s', async (_command, run, message) => {
    const r = await capture(run);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(message);
  });

  it('orrery katcp, orrery tango (their long options)', async () => {
    for (const [run, message] of [
      [
        (io: IO) => katcpCommand(['127.0.0.1:1', '?help', '--timeout', '5', '--timeout=x'], io),
        /^orrery katcp: --timeout given twice; see/,
      ],
      [
        (io: IO) =>
          katcpCommand(['127.0.0.1:1', '--watch', 'a', '--strategy', 'event', '--strategy', ''], io),
        /^orrery katcp: --strategy given twice; see/,
      ],
      [(io: IO) => tangoCommand(['--json', '--json'], io), /^orrery tango: --json given twice; see/],
      [
        (io: IO) => tangoCommand(['a/b/c', 'State', '--timeout', '5', '--timeout', 'x'], io),
        /^orrery tango: --timeout given twice; see/,
      ],
    ] as const) {
      const r = await capture(run);
      expect(r.code, String(message)).toBe(2);
      expect(r.err, String(message)).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
    }
  });

  it('orrery ca: an option or its alias given twice; -v is repeatable', async () => {
    for (const [argv, message] of [
      [['get', 'pv', '--timeout', '5', '--timeout', 'x'], /^orrery ca get: --timeout given twice; see/],
      [
        ['get', 'pv', '-p', '1', '--priority', 'x'],
        /^orrery ca get: --priority given twice \(once as -p\); see/,
      ],
      [
        ['monitor', 'pv', '--count', '1', '--maximum', 'x'],
        /^orrery ca monitor: --maximum given twice \(once as --count\)/,
      ],
      [['get', 'pv', '-e3', '-e', 'x'], /^orrery ca get: -e given twice; see/],
    ] as const) {
      const r = await capture((io) => caCommand([...argv], io));
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
    }
    const verbose = await capture((io) => caCommand(['get', '-v', '-v', '--list-types'], io));
    expect(verbose.code).toBe(0);
  });

  it('the shared parsers: parseCommandArgs and scanLongOptions refuse a repeat, not a repeatable option', async () => {
    const r = await capture(async () => {
      const parsed = parseCommandArgs(
        'x',
        ['--tag', 'a', '--tag', 'b'],
        { tag: { type: 'string', multiple: true } },
        '',
      );
      expect(typeof parsed === 'object' && parsed.values.tag).toEqual(['a', 'b']);
      return parseCommandArgs('x', ['--json', '--json'], { json: { type: 'boolean' } }, '') as number;
    });
    expect(r.code).toBe(2);
    expect(r.err).toEqual(["orrery x: --json given twice; see 'orrery x --help'"]);
    expect(() => scanLongOptions(['--a=1', '--a', '2'], (o) => void o.value())).toThrow('--a given twice');
    expect(scanLongOptions(['--v', '--v', 'p'], () => {}, ['--v'])).toEqual(['p']);
  });
});
