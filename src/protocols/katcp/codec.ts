/**
 * The KATCP v5 codec: bytes <-> messages, pure (no sockets, no timers), so it can be fuzzed.
 *
 *   <message> ::= <type> <name> [ "[" <mid> "]" ] ( <whitespace> <argument> )* [<whitespace>] <eol>
 *   <type>    ::= "?" request | "!" reply | "#" inform
 *   <name>    ::= alpha (alpha | digit | "-")*
 *   <mid>     ::= 1 .. 2^31-1, no leading zero
 *   <eol>     ::= LF | CR            blank and whitespace-only lines are skipped
 *   escapes   \\ \_ (space) \0 (NUL) \n \r \e (ESC) \t \@ (empty argument)
 *
 * Arguments are byte strings (`Buffer`), as in aiokatcp: KATCP implies no encoding. `wire.ts` turns them into
 * typed values (int, float with `inf`/`nan`, bool, discrete, timestamp, address, string).
 *
 * Differences from aiokatcp, on purpose: the default line limit is 1 MiB (aiokatcp 16 MiB, katcp-python 2 MiB);
 * a longer line is reported once as a `LineTooLongError` and discarded up to its end of line without being kept,
 * so a peer that never sends a newline costs no memory.
 */
import { KatcpSyntaxError, LineTooLongError } from './errors.js';
import { formatFloat } from './wire.js';

export type MessageType = 'request' | 'reply' | 'inform';

/** One KATCP message. `mid` is the message id, or null when the message has none. */
export interface KatcpMessage {
  readonly type: MessageType;
  readonly name: string;
  readonly mid: number | null;
  readonly args: readonly Buffer[];
}

/** A value `encodeArg` accepts: bytes as they are, text as UTF-8, numbers and booleans as KATCP writes them. */
export type ArgValue = Buffer | Uint8Array | string | number | bigint | boolean;

/** Default longest line the parser accepts, in bytes, not counting the end of line. */
export const DEFAULT_MAX_LINE_LENGTH = 1024 * 1024;
/** Largest message id (2^31 - 1). */
export const MAX_MID = 0x7fffffff;

const TYPE_CHAR: Record<MessageType, string> = { request: '?', reply: '!', inform: '#' };
const NAME_RE = /^[A-Za-z][A-Za-z0-9-]*$/;

const BACKSLASH = 0x5c;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const ESC = 0x1b;

/** The byte an escape letter stands for (`@` is the empty argument, handled apart). */
const UNESCAPE: Record<number, number> = {
  [BACKSLASH]: BACKSLASH,
  95 /* _ */: SPACE,
  48 /* 0 */: NUL,
  110 /* n */: LF,
  114 /* r */: CR,
  101 /* e */: ESC,
  116 /* t */: TAB,
};
/** The escape letter of a byte that must be escaped in an argument, 0 when it needs none. */
const ESCAPE = new Uint8Array(256);
ESCAPE[BACKSLASH] = BACKSLASH;
ESCAPE[SPACE] = 0x5f;
ESCAPE[NUL] = 0x30;
ESCAPE[LF] = 0x6e;
ESCAPE[CR] = 0x72;
ESCAPE[ESC] = 0x65;
ESCAPE[TAB] = 0x74;

const EMPTY_ARG = Buffer.from('\\@');

/** True when `name` is a legal KATCP message name. */
export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}

/** One argument as bytes: text as UTF-8, integers in decimal, floats as aiokatcp writes them, booleans as 1/0. */
export function encodeArg(value: ArgValue): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  switch (typeof value) {
    case 'string':
      return Buffer.from(value, 'utf8');
    case 'boolean':
      return Buffer.from(value ? '1' : '0');
    case 'bigint':
      return Buffer.from(value.toString());
    case 'number':
      return Buffer.from(formatNumber(value));
    default:
      throw new KatcpSyntaxError(
        `cannot encode a ${value === null ? 'null' : typeof value} as a KATCP argument`,
      );
  }
}

/** A number as KATCP writes it: `inf`, `-inf`, `nan` for the non-finite ones (never `Infinity`/`NaN`). */
export function formatNumber(value: number): string {
  return Object.is(value, -0) ? '-0.0' : formatFloat(value);
}

/** Build a message; `args` are encoded with `encodeArg`. Throws KatcpSyntaxError on a bad name or id. */
export function message(
  type: MessageType,
  name: string,
  args: readonly ArgValue[] = [],
  mid: number | null = null,
) {
  const m: KatcpMessage = { type, name, mid, args: args.map(encodeArg) };
  checkMessage(m);
  return m;
}

/** `?name args...` */
export const request = (name: string, ...args: ArgValue[]): KatcpMessage => message('request', name, args);
/** `!name args...` */
export const reply = (name: string, ...args: ArgValue[]): KatcpMessage => message('reply', name, args);
/** `#name args...` */
export const inform = (name: string, ...args: ArgValue[]): KatcpMessage => message('inform', name, args);

/** The same message with another id (replies and their informs carry the request's). */
export function withMid(m: KatcpMessage, mid: number | null): KatcpMessage {
  return { type: m.type, name: m.name, mid, args: m.args };
}

function checkMessage(m: KatcpMessage): void {
  if (m.type !== 'request' && m.type !== 'reply' && m.type !== 'inform') {
    throw new KatcpSyntaxError(`unknown message type ${String(m.type)}`);
  }
  if (typeof m.name !== 'string' || !NAME_RE.test(m.name)) {
    throw new KatcpSyntaxError(`invalid message name ${JSON.stringify(String(m.name))}`);
  }
  if (m.mid !== null && (!Number.isInteger(m.mid) || m.mid < 1 || m.mid > MAX_MID)) {
    throw new KatcpSyntaxError(`message id must be an integer in 1..${MAX_MID}, got ${String(m.mid)}`);
  }
}

/** Escape one argument (an empty one is `\@`). */
export function escapeArg(arg: Buffer): Buffer {
  if (arg.length === 0) return EMPTY_ARG;
  let extra = 0;
  for (let i = 0; i < arg.length; i++) if (ESCAPE[arg[i]] !== 0) extra++;
  if (extra === 0) return arg;
  const out = Buffer.allocUnsafe(arg.length + extra);
  let j = 0;
  for (let i = 0; i < arg.length; i++) {
    const b = arg[i];
    const e = ESCAPE[b];
    if (e === 0) out[j++] = b;
    else {
      out[j++] = BACKSLASH;
      out[j++] = e;
    }
  }
  return out;
}

/** A message as one line of bytes, LF-terminated. Throws KatcpSyntaxError on a bad name or message id. */
export function formatMessage(m: KatcpMessage): Buffer {
  checkMessage(m);
  const head = `${TYPE_CHAR[m.type]}${m.name}${m.mid === null ? '' : `[${m.mid}]`}`;
  if (m.args.length === 0) return Buffer.from(`${head}\n`, 'latin1');
  const parts: Buffer[] = [Buffer.from(head, 'latin1')];
  let length = parts[0].length + 1;
  for (const arg of m.args) {
    const escaped = escapeArg(Buffer.isBuffer(arg) ? arg : encodeArg(arg as ArgValue));
    parts.push(SPACE_BUF, escaped);
    length += 1 + escaped.length;
  }
  parts.push(LF_BUF);
  return Buffer.concat(parts, length);
}
const SPACE_BUF = Buffer.from(' ');
const LF_BUF = Buffer.from('\n');

/** A message as text (for logs and the CLI): the line without its end of line, escapes kept. */
export function messageText(m: KatcpMessage): string {
  const bytes = formatMessage(m);
  return bytes.toString('utf8', 0, bytes.length - 1); // without the LF
}

function isBlank(b: number): boolean {
  return b === SPACE || b === TAB;
}

const unescapedControl = () => new KatcpSyntaxError('unescaped control character in an argument');

/**
 * Unescape `line[start, end)`; throws KatcpSyntaxError on an unknown escape or a raw byte that needs one (NUL, ESC,
 * and LF or CR inside a line given to `parseLine` whole: the stream parser ends lines there).
 */
function unescapeArg(line: Buffer, start: number, end: number): Buffer {
  let slash = -1;
  for (let i = start; i < end; i++) {
    const b = line[i];
    if (b === BACKSLASH) {
      slash = i;
      break;
    }
    if (b === NUL || b === ESC || b === LF || b === CR) throw unescapedControl();
  }
  if (slash < 0) return line.subarray(start, end);
  const out = Buffer.allocUnsafe(end - start);
  let j = 0;
  for (let i = start; i < end; i++) {
    const b = line[i];
    if (b === NUL || b === ESC || b === LF || b === CR) throw unescapedControl();
    if (b !== BACKSLASH) {
      out[j++] = b;
      continue;
    }
    if (i + 1 >= end) throw new KatcpSyntaxError('argument ends with backslash');
    const c = line[++i];
    if (c === 0x40 /* @ */) continue;
    const u = UNESCAPE[c];
    if (u === undefined) {
      throw new KatcpSyntaxError(`invalid escape character ${JSON.stringify(String.fromCharCode(c))}`);
    }
    out[j++] = u;
  }
  return out.subarray(0, j);
}

/**
 * Parse one line (without its end of line; a trailing CR or LF is tolerated). Returns null for a blank line.
 * Throws KatcpSyntaxError for anything that is not a KATCP v5 message, a raw CR or LF before the end included
 * (two lines are not one message).
 */
export function parseLine(line: Buffer): KatcpMessage | null {
  let end = line.length;
  while (end > 0 && (line[end - 1] === LF || line[end - 1] === CR || isBlank(line[end - 1]))) end--;
  let i = 0;
  while (i < end && isBlank(line[i])) i++;
  if (i === end) return null;
  const t = line[i];
  const type: MessageType | undefined =
    t === 0x3f ? 'request' : t === 0x21 ? 'reply' : t === 0x23 ? 'inform' : undefined;
  if (!type) throw new KatcpSyntaxError('message does not start with a message type (?, ! or #)');
  i++;
  const nameStart = i;
  while (i < end && !isBlank(line[i]) && line[i] !== 0x5b /* [ */) i++;
  const name = line.toString('latin1', nameStart, i);
  if (!NAME_RE.test(name)) throw new KatcpSyntaxError(`invalid message name ${JSON.stringify(name)}`);
  let mid: number | null = null;
  if (i < end && line[i] === 0x5b) {
    const close = line.indexOf(0x5d /* ] */, i);
    if (close < 0 || close >= end) throw new KatcpSyntaxError('message id without a closing ]');
    const text = line.toString('latin1', i + 1, close);
    if (!/^[1-9][0-9]{0,9}$/.test(text) || Number(text) > MAX_MID) {
      throw new KatcpSyntaxError(`invalid message id ${JSON.stringify(text)}`);
    }
    mid = Number(text);
    i = close + 1;
  }
  if (i < end && !isBlank(line[i])) throw new KatcpSyntaxError('no whitespace after the message name');
  const args: Buffer[] = [];
  while (i < end) {
    while (i < end && isBlank(line[i])) i++;
    if (i >= end) break;
    const start = i;
    while (i < end && !isBlank(line[i])) i++;
    args.push(unescapeArg(line, start, i));
  }
  return { type, name, mid, args };
}

export interface ParserOptions {
  /** Longest line accepted, in bytes (default 1 MiB). */
  maxLineLength?: number;
}

const NO_BYTES = Buffer.alloc(0);
/** The first buffer of a line in progress (it doubles from there, up to the line limit). */
const MIN_HELD = 256;

/**
 * Turns a byte stream into messages, whatever the chunk boundaries. `push` calls `onMessage` for every complete
 * message and `onError` for every bad line (a KatcpSyntaxError, or a LineTooLongError once per over-long line);
 * parsing goes on with the next line. Memory is bounded by `maxLineLength` whatever the peer sends.
 */
export class KatcpParser {
  readonly maxLineLength: number;
  /**
   * The line in progress, `#buffered` bytes of it: one buffer grown by doubling (at most `maxLineLength`), so a
   * line trickled a byte per chunk costs its bytes, not an object per chunk (a million of them for 1 MiB). Handed
   * over to the line at its end (its messages' arguments are views of it), never written again.
   */
  #held: Buffer = NO_BYTES;
  #buffered = 0;
  /** Inside an over-long line: drop bytes up to the next end of line. */
  #discarding = false;

  constructor(options: ParserOptions = {}) {
    const limit = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`maxLineLength must be a positive integer, got ${String(limit)}`);
    }
    this.maxLineLength = limit;
  }

  /** Bytes held for the line in progress (never more than `maxLineLength`). */
  get buffered(): number {
    return this.#buffered;
  }

  push(
    chunk: Buffer,
    onMessage: (message: KatcpMessage) => void,
    onError: (error: KatcpSyntaxError) => void,
  ): void {
    let start = 0;
    const n = chunk.length;
    while (start < n) {
      let eol = -1;
      for (let i = start; i < n; i++) {
        const b = chunk[i];
        if (b === LF || b === CR) {
          eol = i;
          break;
        }
      }
      if (eol < 0) {
        this.#hold(chunk.subarray(start), onError);
        return;
      }
      if (this.#discarding) {
        this.#discarding = false;
      } else if (this.#buffered + (eol - start) > this.maxLineLength) {
        this.#drop();
        onError(new LineTooLongError(this.maxLineLength));
      } else {
        let line: Buffer;
        if (this.#buffered === 0) line = chunk.subarray(start, eol);
        else {
          this.#append(chunk.subarray(start, eol));
          line = this.#held.subarray(0, this.#buffered);
          this.#drop();
        }
        let parsed: KatcpMessage | null = null;
        let failed = false;
        try {
          parsed = parseLine(line);
        } catch (err) {
          failed = true;
          onError(err instanceof KatcpSyntaxError ? err : new KatcpSyntaxError(String(err)));
        }
        if (!failed && parsed) onMessage(parsed);
      }
      start = eol + 1;
    }
  }

  /** Forget the line in progress (on a new connection). */
  reset(): void {
    this.#drop();
    this.#discarding = false;
  }

  #hold(rest: Buffer, onError: (error: KatcpSyntaxError) => void): void {
    if (this.#discarding || rest.length === 0) return;
    if (this.#buffered + rest.length > this.maxLineLength) {
      this.#drop();
      this.#discarding = true;
      onError(new LineTooLongError(this.maxLineLength));
      return;
    }
    // copied: the socket may reuse its buffer
    this.#append(rest);
  }

  /** Copy `bytes` after the held ones (the caller checked the total is within `maxLineLength`). */
  #append(bytes: Buffer): void {
    const total = this.#buffered + bytes.length;
    if (total > this.#held.length) {
      const size = Math.min(this.maxLineLength, Math.max(total, 2 * this.#held.length, MIN_HELD));
      const grown = Buffer.allocUnsafe(size);
      this.#held.copy(grown, 0, 0, this.#buffered);
      this.#held = grown;
    }
    bytes.copy(this.#held, this.#buffered);
    this.#buffered = total;
  }

  #drop(): void {
    this.#held = NO_BYTES;
    this.#buffered = 0;
  }
}

/** Parse a whole text or byte block (tests, transcripts): every complete line, errors thrown. */
export function parseAll(data: Buffer | string, options?: ParserOptions): KatcpMessage[] {
  const parser = new KatcpParser(options);
  const out: KatcpMessage[] = [];
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  parser.push(
    bytes,
    (m) => out.push(m),
    (e) => {
      throw e;
    },
  );
  parser.push(
    Buffer.from('\n'),
    (m) => out.push(m),
    (e) => {
      throw e;
    },
  );
  return out;
}

/** Argument `i` as UTF-8 text ('' when absent). */
export function argText(m: KatcpMessage, i: number): string {
  const a = m.args[i];
  return a === undefined ? '' : a.toString('utf8');
}

/** Every argument as UTF-8 text. */
export function argsText(m: KatcpMessage): string[] {
  return m.args.map((a) => a.toString('utf8'));
}
