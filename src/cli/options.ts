/**
 * Strict parsing of the CLI's numeric options. `Number()` takes `''` for 0, `' 5 '` for 5, `0x10` for 16 and
 * `1e400` for Infinity; here only a plain decimal literal is a number (for a whole-number option such as a port,
 * digits only, as Python's `int()`: not `80.0` or `8e1`), a literal too large for a double is refused
 * rather than read as Infinity, and `inf` / `infinity` (any case) is Infinity only where the option documents it.
 * Every refusal is an InvalidArgumentError whose message names the option and the value, one line, for the
 * command to print as its usage error (exit 2). Durations then go through `checkDuration`, the one duration rule.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { checkDuration } from '../../machines/core/duration.js';
import { InvalidArgumentError } from '../errors.js';

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
/** What Python's `int()` takes (argparse `type=int`): digits and a sign, no point and no exponent. */
const INTEGER = /^[+-]?\d+$/;
const INFINITY = /^\+?inf(inity)?$/i;

export interface NumberRule {
  /** What the value is, for the message: 'a port number', 'a number of seconds'. */
  what: string;
  integer?: boolean;
  min?: number;
  max?: number;
  /** `inf` / `infinity` is accepted as Infinity (document it in the option's help). */
  infinity?: boolean;
}

function refuse(option: string, raw: string, rule: NumberRule, why?: string): never {
  const expected = `${rule.what}${rule.infinity ? " or 'inf'" : ''}`;
  throw new InvalidArgumentError(
    `${option} expects ${expected}, got ${JSON.stringify(raw)}${why ? ` (${why})` : ''}`,
  );
}

/** The number `raw` stands for, or an InvalidArgumentError naming `option`. */
export function parseNumber(option: string, raw: string | undefined, rule: NumberRule): number {
  if (raw === undefined) throw new InvalidArgumentError(`${option} needs a value`);
  if (INFINITY.test(raw)) {
    if (rule.infinity) return Number.POSITIVE_INFINITY;
    refuse(option, raw, rule);
  }
  if (!(rule.integer ? INTEGER : DECIMAL).test(raw)) refuse(option, raw, rule);
  const n = Number(raw);
  if (!Number.isFinite(n)) refuse(option, raw, rule, 'too large');
  if (rule.integer && !Number.isInteger(n)) refuse(option, raw, rule, 'not a whole number');
  if (rule.min !== undefined && n < rule.min) refuse(option, raw, rule, `less than ${rule.min}`);
  if (rule.max !== undefined && n > rule.max) refuse(option, raw, rule, `more than ${rule.max}`);
  return n === 0 ? 0 : n; // no -0
}

/** A TCP port, 0 (any free port) to 65535. */
export function parsePort(option: string, raw: string | undefined): number {
  return parseNumber(option, raw, { what: 'a port number (0-65535)', integer: true, min: 0, max: 65535 });
}

/**
 * A duration given in `unitMs` units (1 for milliseconds, 1000 for seconds), returned in milliseconds and checked
 * by `checkDuration`. `infinity: true` lets `inf` mean never.
 */
export function parseDuration(
  option: string,
  raw: string | undefined,
  options: { unitMs: number; unit: string; infinity?: boolean },
): number {
  const rule: NumberRule = { what: `a number of ${options.unit}`, min: 0, infinity: options.infinity };
  const n = parseNumber(option, raw, rule);
  const ms = n * options.unitMs;
  if (Number.isFinite(n) && !Number.isFinite(ms)) refuse(option, raw as string, rule, 'too large');
  return checkDuration(option, ms, false) as number;
}

/** A `user:password@` (or `token@`) at the start of `text`, after `//` or after a space or quote. */
const USERINFO = /(^|\/\/|[\s"'])([^\s/@"']+)@/g;

/** `text` with the password of any `user:password@host` in it shown as `***` (`user:***@host`, `***@host`). */
export function redactCredentials(text: string): string {
  return text.replace(USERINFO, (_all, lead: string, info: string) => {
    const colon = info.indexOf(':');
    return `${lead}${colon < 0 ? '***' : `${info.slice(0, colon)}:***`}@`;
  });
}

/**
 * Refuses `raw` (a device name, HOST:PORT, TANGO_HOST) when it carries a user or password: none of the protocols
 * logs in, so it would only be echoed in messages. The InvalidArgumentError shows it redacted.
 */
export function refuseCredentials(what: string, raw: string): void {
  const redacted = redactCredentials(raw);
  if (redacted !== raw) {
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(redacted)} carries a user or password; leave them out (nothing logs in)`,
    );
  }
}

/** `refuseCredentials` for TANGO_HOST, when `device` is reached through it (a name without `tango://`). */
export function refuseTangoHostCredentials(device: string, tangoHost: string | undefined): void {
  if (!device.includes('://') && tangoHost !== undefined) refuseCredentials('TANGO_HOST', tangoHost);
}

/**
 * What refuses an option given twice (`--port 1 --port 2`), which would otherwise silently take the last value: a
 * function to call with each option as it is met, before its value is read, that throws an InvalidArgumentError
 * naming it the second time. `key` is the option's own name (an alias gives the name it stands for, so `-p 1
 * --priority 2` is a repeat too), `as` how the user wrote it. An option documented as repeatable is not passed.
 */
export function onlyOnce(): (key: string, as?: string) => void {
  const seen = new Map<string, string>();
  return (key, as = key) => {
    const first = seen.get(key);
    if (first !== undefined)
      throw new InvalidArgumentError(`${as} given twice${first === as ? '' : ` (once as ${first})`}`);
    seen.set(key, as);
  };
}

/** A `node:util` parseArgs error as one usage-error line (its messages span several lines and end with a dot). */
function argsErrorText(err: unknown): string {
  return String((err as Error)?.message ?? err)
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\.$/, '');
}

/** A usage error of `orrery <command>`, one line on stderr pointing at its help; returns the exit code, 2. */
export function usageError(command: string, message: string): number {
  console.error(`orrery ${command}: ${message}; see 'orrery ${command} --help'`);
  return 2;
}

/** What `parseCommandArgs` read: the flags' values and the positional arguments. */
export interface CommandArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * The command line of `orrery <command>` read by `node:util`'s parseArgs with `options` and `-h`/`--help`: what it
 * read, or the exit code when the command is done (0 after printing `help`, 2 after a usage error). An option
 * given twice is a usage error unless it is `multiple` (repeatable).
 */
export function parseCommandArgs(
  command: string,
  argv: string[],
  options: ParseArgsConfig['options'],
  help: string,
  allowPositionals = false,
): CommandArgs | number {
  let parsed: CommandArgs & { tokens: ReturnType<typeof parseArgs>['tokens'] };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals,
      tokens: true,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
    }) as CommandArgs & { tokens: ReturnType<typeof parseArgs>['tokens'] };
  } catch (err) {
    return usageError(command, argsErrorText(err));
  }
  if (parsed.values.help) {
    console.log(help);
    return 0;
  }
  // parseArgs keeps the last of a repeated option: a typo (`--port 1 --port 2`) would go unnoticed
  const once = onlyOnce();
  try {
    for (const token of parsed.tokens ?? []) {
      if (token.kind === 'option' && options?.[token.name]?.multiple !== true)
        once(token.name, token.rawName);
    }
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) throw err;
    return usageError(command, err.message);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/** One `--name[=value]` option as `scanLongOptions` hands it over. */
export interface LongOption {
  readonly name: string;
  /** The option's value: after `=`, else the next argument (consumed; undefined at the end). */
  value(): string | undefined;
  /** For a flag: true, or an InvalidArgumentError when it was given `=value`. */
  flag(): true;
}

/**
 * Scans a command line whose options are `--long` only (`-5`, `-inf` or `-x` are values): each option goes to
 * `onOption`, which takes its value or flag and throws for an unknown one; `--` ends the options. An option given
 * again is an InvalidArgumentError naming it, unless it is one of `repeatable`. Returns the positional arguments
 * in order.
 */
export function scanLongOptions(
  argv: readonly string[],
  onOption: (option: LongOption) => void,
  repeatable: readonly string[] = [],
): string[] {
  const positional: string[] = [];
  const once = onlyOnce();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    // checked before the value is read, so the message names the repeat rather than a bad second value
    if (!repeatable.includes(name)) once(name);
    onOption({
      name,
      value: () => (inline !== undefined ? inline : argv[++i]),
      flag: () => {
        if (inline !== undefined) throw new InvalidArgumentError(`${name} takes no value`);
        return true;
      },
    });
  }
  return positional;
}
