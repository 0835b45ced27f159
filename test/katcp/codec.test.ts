/**
 * The KATCP codec (`src/protocols/katcp/codec.ts`) against golden vectors: every line aiokatcp 1.9 sent in the
 * captured transcripts (test/katcp/fixtures) parses and formats back to the same bytes; each escape, empty
 * arguments, message ids at and past their bounds, names, CR and LF line ends, blank lines, trailing whitespace
 * and tabs; the streaming parser's line limit (one LineTooLongError per over-long line, the next line parses, the
 * bytes it holds never exceed the limit).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import {
  argsText,
  argText,
  DEFAULT_MAX_LINE_LENGTH,
  encodeArg,
  escapeArg,
  formatMessage,
  formatNumber,
  inform,
  isValidName,
  type KatcpMessage,
  KatcpParser,
  MAX_MID,
  message,
  messageText,
  parseAll,
  parseLine,
  reply,
  request,
  withMid,
} from '../../src/protocols/katcp/codec.js';
import { KatcpSyntaxError, LineTooLongError } from '../../src/protocols/katcp/errors.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const fixtureFiles = readdirSync(FIXTURES).filter((f) => f.endsWith('.txt'));

const line = (s: string) => Buffer.from(s, 'latin1');
const parse = (s: string) => parseLine(line(s));
/** A parsed message with its arguments as latin1 text, for readable expectations. */
const plain = (m: KatcpMessage | null) =>
  m && { type: m.type, name: m.name, mid: m.mid, args: m.args.map((a) => a.toString('latin1')) };

/** Feed `chunks` to a fresh parser; every message and error in order. */
function feed(chunks: (string | Buffer)[], maxLineLength?: number) {
  const parser = new KatcpParser({ maxLineLength });
  const events: ({ message: KatcpMessage } | { error: KatcpSyntaxError })[] = [];
  let maxHeld = 0;
  for (const c of chunks) {
    parser.push(
      typeof c === 'string' ? line(c) : c,
      (m) => events.push({ message: m }),
      (e) => events.push({ error: e }),
    );
    maxHeld = Math.max(maxHeld, parser.buffered);
  }
  return { parser, events, maxHeld };
}

describe('issue 9 item 1: golden vectors from aiokatcp 1.9 transcripts', () => {
  it('issue 9 item 1: the fixtures are there (three aiokatcp transcripts)', () => {
    expect(fixtureFiles.sort()).toEqual(['katcp-cc.txt', 'katcp-transcript1.txt', 'katcp-transcript2.txt']);
  });

  for (const file of fixtureFiles) {
    it(`issue 9 item 1: every line of ${file} parses and formats back byte-identical`, () => {
      const text = readFileSync(FIXTURES + file);
      const lines = text
        .toString('latin1')
        .split('\n')
        .filter((l) => l.length > 0);
      expect(lines.length).toBeGreaterThan(3);
      for (const l of lines) {
        const m = parseLine(line(l));
        expect(m, l).not.toBeNull();
        expect(formatMessage(m as KatcpMessage).toString('latin1')).toBe(`${l}\n`);
      }
      // the whole file through the streaming parser gives the same messages
      const whole = parseAll(text);
      expect(whole.map((m) => formatMessage(m).toString('latin1')).join('')).toBe(`${lines.join('\n')}\n`);
    });
  }

  it('issue 9 item 1: transcript lines decode to what aiokatcp meant (escapes, empty arguments, mids)', () => {
    expect(plain(parse('!echo[10] ok a\\_b\\\\c\\n \\@ \\t\\e\\0\\r'))).toEqual({
      type: 'reply',
      name: 'echo',
      mid: 10,
      args: ['ok', 'a b\\c\n', '', '\t\x1b\0\r'],
    });
    expect(plain(parse('#sensor-list[2] total \\@ \\@ integer'))).toEqual({
      type: 'inform',
      name: 'sensor-list',
      mid: 2,
      args: ['total', '', '', 'integer'],
    });
    expect(plain(parse('#version-connect katcp-protocol 5.1-MIB'))).toEqual({
      type: 'inform',
      name: 'version-connect',
      mid: null,
      args: ['katcp-protocol', '5.1-MIB'],
    });
    expect(argsText(parse("!sensor-value[14] fail Unknown\\_sensor\\_'nosuch'") as KatcpMessage)).toEqual([
      'fail',
      "Unknown sensor 'nosuch'",
    ]);
    const crash = parse(
      readFileSync(`${FIXTURES}katcp-transcript1.txt`, 'latin1')
        .split('\n')
        .find((l) => l.startsWith('!crash')) as string,
    ) as KatcpMessage;
    expect(argText(crash, 0)).toBe('fail');
    expect(argText(crash, 1)).toMatch(/^Traceback \(most recent call last\):\n {2}File "/);
    expect(argText(crash, 1)).toMatch(/RuntimeError: help I've fallen over and can't get up\n$/);
    expect(argText(crash, 7)).toBe('');
  });
});

describe('issue 9 item 1: escapes and arguments', () => {
  const cases: [string, string][] = [
    ['\\\\', '\\'],
    ['\\_', ' '],
    ['\\0', '\0'],
    ['\\n', '\n'],
    ['\\r', '\r'],
    ['\\e', '\x1b'],
    ['\\t', '\t'],
    ['\\@', ''],
  ];
  for (const [escaped, raw] of cases) {
    it(`issue 9 item 1: escape ${escaped} decodes to ${JSON.stringify(raw)} and encodes back`, () => {
      const m = parse(`?x a${escaped}b ${escaped}`) as KatcpMessage;
      // `\@` inside an argument stands for nothing (aiokatcp accepts it anywhere)
      expect(argsText(m)).toEqual([`a${raw}b`, raw]);
      expect(escapeArg(Buffer.from(raw, 'latin1')).toString('latin1')).toBe(escaped);
      expect(formatMessage(request('x', raw)).toString('latin1')).toBe(`?x ${escaped}\n`);
    });
  }

  it('issue 9 item 1: every byte that needs an escape gets one; the others go as they are', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const out = formatMessage(request('all', all));
    const body = out.subarray('?all '.length, -1);
    for (const b of [0x00, 0x09, 0x0a, 0x0d, 0x1b, 0x20]) expect(body.includes(b)).toBe(false);
    expect(out.filter((b) => b === 0x0a)).toHaveLength(1);
    expect((parseLine(out) as KatcpMessage).args[0].equals(all)).toBe(true);
  });

  it('issue 9 item 1: an unknown escape, a trailing backslash or a raw NUL or ESC is a KatcpSyntaxError', () => {
    expect(() => parse('?x a\\qb')).toThrow(KatcpSyntaxError);
    expect(() => parse('?x a\\qb')).toThrow(/invalid escape character "q"/);
    expect(() => parse('?x ab\\')).toThrow(/argument ends with backslash/);
    expect(() => parse('?x a\\')).toThrow(KatcpSyntaxError);
    expect(() => parse('?x a\0b')).toThrow(/unescaped control character/);
    expect(() => parse('?x a\x1bb')).toThrow(/unescaped control character/);
    expect(() => parse('?x \\_\x1b')).toThrow(/unescaped control character/);
  });

  it('a raw CR or LF inside a line given to parseLine is a KatcpSyntaxError, not part of an argument', () => {
    // it was parsed as one argument `a\rb` (formatMessage then escaped it: two lines read back as one message)
    for (const line of ['?x a\rb', '?x a\nb', '?x a\r\nb c', '?x \\_\nb']) {
      expect(() => parseLine(Buffer.from(line)), JSON.stringify(line)).toThrow(/unescaped control character/);
    }
    expect(plain(parseLine(Buffer.from('?x a b\r\n')))?.args).toEqual(['a', 'b']); // a trailing end of line is fine
  });

  it('issue 9 item 1: empty arguments are written \\@, and a message without arguments has no trailing space', () => {
    expect(formatMessage(reply('x', 'ok', '', Buffer.alloc(0))).toString()).toBe('!x ok \\@ \\@\n');
    expect(formatMessage(inform('x')).toString()).toBe('#x\n');
    expect(plain(parse('#x \\@'))?.args).toEqual(['']);
  });

  it('issue 9 item 1: bytes above 0x7f (UTF-8) pass through unescaped', () => {
    const m = request('say', 'héllo wörld ✓');
    expect(formatMessage(m).toString('utf8')).toBe('?say héllo\\_wörld\\_✓\n');
    expect(argText(parseLine(formatMessage(m)) as KatcpMessage, 0)).toBe('héllo wörld ✓');
  });

  it('issue 9 item 1: encodeArg writes numbers as KATCP does (inf, -inf, nan; never Infinity or NaN)', () => {
    expect(encodeArg(42).toString()).toBe('42');
    expect(encodeArg(-1.5).toString()).toBe('-1.5');
    expect(encodeArg(Number.POSITIVE_INFINITY).toString()).toBe('inf');
    expect(encodeArg(Number.NEGATIVE_INFINITY).toString()).toBe('-inf');
    expect(encodeArg(Number.NaN).toString()).toBe('nan');
    expect(encodeArg(-0).toString()).toBe('-0.0');
    expect(formatNumber(1e-5)).toBe('0.00001');
    expect(encodeArg(2n ** 64n).toString()).toBe('18446744073709551616');
    expect(encodeArg(true).toString()).toBe('1');
    expect(encodeArg(false).toString()).toBe('0');
    expect(encodeArg(new Uint8Array([1, 2, 3]))).toEqual(Buffer.from([1, 2, 3]));
    const buf = Buffer.from('as is');
    expect(encodeArg(buf)).toBe(buf);
    expect(() => encodeArg(null as never)).toThrow(/cannot encode a null/);
    expect(() => encodeArg(undefined as never)).toThrow(KatcpSyntaxError);
    expect(() => encodeArg({} as never)).toThrow(KatcpSyntaxError);
    expect(formatMessage(request('n', Number.NaN, Number.POSITIVE_INFINITY)).toString()).toBe('?n nan inf\n');
  });
});

describe('issue 9 item 1: message ids and names', () => {
  it('issue 9 item 1: mids 1 and 2^31-1 parse and format', () => {
    expect(parse('?x[1]')?.mid).toBe(1);
    expect(parse(`?x[${MAX_MID}] a`)?.mid).toBe(2 ** 31 - 1);
    expect(formatMessage(withMid(request('x'), MAX_MID)).toString()).toBe('?x[2147483647]\n');
    expect(formatMessage(message('reply', 'x', ['ok'], 1)).toString()).toBe('!x[1] ok\n');
  });

  for (const bad of ['0', '01', '2147483648', '99999999999', '', '-1', '1a', ' 1', '+1']) {
    it(`issue 9 item 1: mid [${bad}] is rejected`, () => {
      expect(() => parse(`?x[${bad}] a`)).toThrow(KatcpSyntaxError);
    });
  }

  it('issue 9 item 1: a mid without its closing ] is rejected', () => {
    expect(() => parse('?x[1')).toThrow(/without a closing \]/);
    expect(() => parse('?x[1 a]')).toThrow(KatcpSyntaxError);
    expect(() => parse('?x[1]a')).toThrow(/no whitespace after the message name/);
  });

  it('issue 9 item 1: formatting a message with a bad mid or name throws KatcpSyntaxError', () => {
    for (const mid of [0, -1, 2 ** 31, 1.5, Number.NaN]) {
      expect(() => formatMessage(withMid(request('x'), mid))).toThrow(KatcpSyntaxError);
      expect(() => message('request', 'x', [], mid)).toThrow(/message id must be an integer/);
    }
    expect(() => request('1x')).toThrow(/invalid message name/);
    expect(() => formatMessage({ type: 'bogus' as never, name: 'x', mid: null, args: [] })).toThrow(
      /unknown message type/,
    );
  });

  it('issue 9 item 1: names start with a letter and hold letters, digits and dashes', () => {
    for (const good of ['a', 'sensor-value', 'X9', 'a-b-c-1']) {
      expect(isValidName(good)).toBe(true);
      expect(parse(`#${good}`)?.name).toBe(good);
    }
    for (const bad of ['', '1a', '-a', 'a_b', 'a.b', 'sensor value', 'é']) {
      expect(isValidName(bad)).toBe(false);
      expect(() => request(bad)).toThrow(KatcpSyntaxError);
    }
    for (const bad of ['?', '?1a', '?a_b', '?a.b', '#-x', '![1]', '?a:b x']) {
      expect(() => parse(bad), bad).toThrow(/invalid message name/);
    }
  });

  it('issue 9 item 1: a line must start with ?, ! or #', () => {
    expect(() => parse('x y')).toThrow(/does not start with a message type/);
    expect(() => parse('$x')).toThrow(KatcpSyntaxError);
  });
});

describe('issue 9 item 1: whitespace and line ends', () => {
  it('issue 9 item 1: tabs and runs of spaces separate arguments; leading and trailing whitespace is ignored', () => {
    expect(plain(parse('?x\ta  \t b\t'))).toEqual({
      type: 'request',
      name: 'x',
      mid: null,
      args: ['a', 'b'],
    });
    expect(plain(parse('  ?x[3]   a   '))).toEqual({ type: 'request', name: 'x', mid: 3, args: ['a'] });
    expect(plain(parse('?x \t '))?.args).toEqual([]);
  });

  it('issue 9 item 1: blank and whitespace-only lines are skipped', () => {
    expect(parse('')).toBeNull();
    expect(parse(' \t ')).toBeNull();
    expect(parse('\r\n')).toBeNull();
    expect(parseAll('\n\n  \n?a\n\t\n!a ok\n').map((m) => m.name)).toEqual(['a', 'a']);
  });

  it('issue 9 item 1: LF, CR and CRLF all end a line', () => {
    const names = (s: string) => parseAll(s).map((m) => `${m.type}:${m.name}`);
    expect(names('?a\n?b\r?c\r\n?d')).toEqual(['request:a', 'request:b', 'request:c', 'request:d']);
    expect(parseLine(line('?a x\r'))?.args.map(String)).toEqual(['x']);
  });

  it('issue 9 item 1: parseAll throws the first bad line; a last line without end of line still counts', () => {
    expect(parseAll('?a\n?b').map((m) => m.name)).toEqual(['a', 'b']);
    expect(() => parseAll('?a\nbad\n?b\n')).toThrow(KatcpSyntaxError);
  });

  it('issue 9 item 1: messageText is the wire line without its end of line, escapes kept', () => {
    expect(messageText(reply('echo', 'ok', 'a b', ''))).toBe('!echo ok a\\_b \\@');
  });
});

describe('issue 9 item 1: the streaming parser', () => {
  it('issue 9 item 1: messages split anywhere (even inside an escape or a CRLF) come out whole, in order', () => {
    const data = '?echo[1] a\\_b \\@\r\n#log info 1.5 x hi\r!echo[1] ok\n';
    const bytes = line(data);
    const expected = parseAll(data).map((m) => formatMessage(m).toString('latin1'));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { events } = feed([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(
        events.map((e) => ('message' in e ? formatMessage(e.message).toString('latin1') : 'error')),
      ).toEqual(expected);
    }
    // one byte at a time
    const { events } = feed([...bytes].map((b) => Buffer.from([b])));
    expect(events).toHaveLength(3);
  });

  it('issue 9 item 1: a bad line is reported as a KatcpSyntaxError and the next line parses', () => {
    const { events } = feed(['?ok1\nnot katcp\n?x[0]\n?x \\q\n?ok2\n']);
    expect(events.map((e) => ('message' in e ? e.message.name : e.error.constructor.name))).toEqual([
      'ok1',
      'KatcpSyntaxError',
      'KatcpSyntaxError',
      'KatcpSyntaxError',
      'ok2',
    ]);
  });

  it('issue 9 item 1: the parser copies what it holds (a reused socket buffer does not corrupt a line)', () => {
    const parser = new KatcpParser();
    const got: string[] = [];
    const buf = Buffer.from('?abc x');
    parser.push(
      buf,
      (m) => got.push(messageText(m)),
      () => {},
    );
    buf.fill(0x21);
    parser.push(
      Buffer.from('yz\n'),
      (m) => got.push(messageText(m)),
      () => {},
    );
    expect(got).toEqual(['?abc xyz']);
  });

  it('issue 9 item 1: a line of exactly maxLineLength bytes parses; one byte more is a LineTooLongError', () => {
    const ok = `?x ${'a'.repeat(13)}`; // 16 bytes
    expect(ok).toHaveLength(16);
    expect(feed([`${ok}\n`], 16).events.map((e) => 'message' in e)).toEqual([true]);
    expect(feed([ok, '\n'], 16).events.map((e) => 'message' in e)).toEqual([true]);
    const [only] = feed([`${ok}a\n`], 16).events;
    expect('error' in only && only.error).toBeInstanceOf(LineTooLongError);
    expect('error' in only && (only.error as LineTooLongError).limit).toBe(16);
  });

  it('issue 9 item 1: an over-long line gives LineTooLongError exactly once, whatever its chunks, and the next line parses', () => {
    const limit = 64;
    const shapes: (string | Buffer)[][] = [
      [`?x ${'a'.repeat(200)}\n?next ok\n`], // all in one chunk
      [`?x ${'a'.repeat(40)}`, 'a'.repeat(40), 'a'.repeat(40), '\n?next ok\n'], // held, then over
      ['?x ', ...Array.from({ length: 50 }, () => 'a'.repeat(10)), 'b\r', '?next ok\n'], // many chunks, CR end
      [`?x ${'a'.repeat(100)}`, 'a'.repeat(100), '\n', '?next', ' ok\n'], // over in the first chunk
    ];
    for (const chunks of shapes) {
      const { events, maxHeld, parser } = feed(chunks, limit);
      const errors = events.filter((e) => 'error' in e).map((e) => (e as { error: Error }).error);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(LineTooLongError);
      expect(errors[0].message).toBe('KATCP line longer than 64 bytes');
      const messages = events
        .filter((e) => 'message' in e)
        .map((e) => (e as { message: KatcpMessage }).message);
      expect(messages.map((m) => messageText(m))).toEqual(['?next ok']);
      expect(maxHeld).toBeLessThanOrEqual(limit);
      expect(parser.buffered).toBe(0);
    }
  });

  it('a line trickled a byte per chunk is held in one growing buffer, not one object per chunk', () => {
    // each chunk was copied into a Buffer of its own and kept until the end of line: a 1 MB line sent a byte at a
    // time held a million Buffer objects, about 140 MB for the 1 MiB bound; now a few allocations, doubling
    const parser = new KatcpParser();
    const never = () => expect.unreachable();
    const from = vi.spyOn(Buffer, 'from');
    const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
    const concat = vi.spyOn(Buffer, 'concat');
    const byte = line('a');
    const got: KatcpMessage[] = [];
    try {
      parser.push(line('?trickle '), never, never);
      for (let i = 0; i < 20_000; i++) parser.push(byte, never, never);
      expect(parser.buffered).toBe(20_009);
      const made = from.mock.calls.length + allocUnsafe.mock.calls.length + concat.mock.calls.length;
      expect(made).toBeLessThan(40);
      parser.push(line('b\n'), (m) => got.push(m), never);
    } finally {
      from.mockRestore();
      allocUnsafe.mockRestore();
      concat.mockRestore();
    }
    expect(got).toHaveLength(1);
    expect(got[0].args[0].toString()).toBe(`${'a'.repeat(20_000)}b`);
    expect(parser.buffered).toBe(0);
    // a message keeps its bytes: the next line does not overwrite them
    parser.push(line('?next zzzz'), never, never);
    parser.push(line('\n'), () => {}, never);
    expect(got[0].args[0].toString()).toBe(`${'a'.repeat(20_000)}b`);
  });

  it('issue 9 item 1: a peer that never sends an end of line costs at most maxLineLength bytes', () => {
    const limit = 1024;
    const parser = new KatcpParser({ maxLineLength: limit });
    const errors: Error[] = [];
    const chunk = Buffer.alloc(100, 0x61);
    for (let i = 0; i < 10_000; i++) {
      parser.push(
        chunk,
        () => expect.unreachable(),
        (e) => errors.push(e),
      );
      expect(parser.buffered).toBeLessThanOrEqual(limit);
    }
    expect(errors).toHaveLength(1);
    // the end of the flood ends the discarded line; the next one is fine
    const after: string[] = [];
    parser.push(
      line('\n?hello\n'),
      (m) => after.push(m.name),
      (e) => errors.push(e),
    );
    expect(after).toEqual(['hello']);
    expect(errors).toHaveLength(1);
  });

  it('issue 9 item 1: reset() forgets a half line; the default limit is 1 MiB; a bad limit is a RangeError', () => {
    const parser = new KatcpParser();
    expect(parser.maxLineLength).toBe(DEFAULT_MAX_LINE_LENGTH);
    expect(DEFAULT_MAX_LINE_LENGTH).toBe(1024 * 1024);
    const got: string[] = [];
    parser.push(
      line('?half'),
      (m) => got.push(m.name),
      () => {},
    );
    expect(parser.buffered).toBe(5);
    parser.reset();
    expect(parser.buffered).toBe(0);
    parser.push(
      line('?whole\n'),
      (m) => got.push(m.name),
      () => {},
    );
    expect(got).toEqual(['whole']);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new KatcpParser({ maxLineLength: bad })).toThrow(RangeError);
    }
  });
});
