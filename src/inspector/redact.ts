/**
 * Turns actor context, events, outputs, errors and engine events into bounded, JSON-safe values with secrets
 * removed, before anything leaves the process (the inspector page, the Stately bridge).
 *
 * - Keys that look like credentials (password, token, secret, credentials, authorization, api key, private key,
 *   ssh key, jwt, bearer, session id, cookie, ...) anywhere in the value are replaced by '[REDACTED]'. Keys are
 *   compared with case and separators removed (`privKey`, `priv_key`, `PRIV-KEY`); the short ones (`pin`, `pwd`,
 *   `pass`, `auth`, `otp`) only match exactly, so `spin` or `passive` are shown.
 * - `redact` entries add more: a bare name (`'serial'`) matches that key at any depth; a dotted path
 *   (`'device.host'`, `'params.*.pin'`, `*` = any key) matches from the root of the value being sent.
 * - Key/value pairs given as arrays (`[['Authorization', 'Bearer x']]`, flat `['Cookie', 'a=b']`) are redacted
 *   like object keys.
 * - One set of rules whatever holds a value: a Map whose keys are all primitives is shown as an object (its keys
 *   are keys); a Map with an object key (among the entries shown: a Map or Set is read only as far as it is
 *   shown) is shown as its entries, `[[key, value], ...]`, each key walked as a value
 *   (a key's text, `String(key)`, would show an Error's message, a URL's password, a function's source, and make
 *   two object keys one), and a string key naming a secret still hides its value; a Set is shown as an array. An
 *   object's (or a Map's) key that holds a credential as text (a URL with a password, `password=x`) is scrubbed as
 *   any text is.
 * - Inside strings (error messages, JSON kept as text): `key=value`, `key: value`, `"key":"value"` with a
 *   sensitive key, `Bearer` / `Basic` credentials, JWTs and `user:password@` in URLs are redacted; a string that
 *   holds JSON is parsed and redacted as a value.
 * - State machines and other actor logic are never walked (a machine's `config` holds its literal initial context,
 *   the leak seen in `@statelyai/inspect`); actor refs become `{$actor: id}`.
 * - A value that cannot be read (a throwing getter, a revoked Proxy, a Proxy whose traps throw) becomes
 *   '[unreadable]': the redactor never throws.
 * - Depth, keys per object, array items, string lengths and the total number of values are capped; keys and names
 *   (an object's key, an error's name, a symbol's description, a function's name, a RegExp) are scrubbed and cut
 *   as strings are; only real cycles become '[Circular]' (an object referenced twice is shown twice).
 */

export const REDACTED = '[REDACTED]';
export const UNREADABLE = '[unreadable]';

/** Normalised (lower case, letters and digits only) substrings that make a key sensitive. */
const SENSITIVE = [
  'password',
  'passwd',
  'passphrase',
  'passcode',
  'secret',
  'token',
  'credential',
  'authorization',
  'apikey',
  'accesskey',
  'privatekey',
  'privkey',
  'sshkey',
  'signingkey',
  'cookie',
  'sessionkey',
  'sessionid',
  'jwt',
  'bearer',
];
/** Short names that are sensitive only as the whole key (so `spin`, `passive`, `author` are not). */
const SENSITIVE_EXACT = new Set(['pwd', 'pass', 'auth', 'pin', 'otp']);

const normalise = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Does a key name look like a credential? */
export function isSensitiveKey(key: string): boolean {
  const k = normalise(key);
  if (SENSITIVE_EXACT.has(k)) return true;
  for (const s of SENSITIVE) if (k.includes(s)) return true;
  return false;
}

export interface RedactLimits {
  maxDepth: number;
  maxKeys: number;
  maxItems: number;
  maxString: number;
  /** Total values visited per call; the rest is cut with '[…]'. */
  maxNodes: number;
}

const DEFAULT_LIMITS: RedactLimits = {
  maxDepth: 8,
  maxKeys: 60,
  maxItems: 50,
  maxString: 500,
  maxNodes: 2000,
};

/** Key names remembered per redactor (their decision), and the longest remembered. */
const MAX_CACHED_KEYS = 4096;
const MAX_CACHED_KEY = 100;
/** The path given to nested values when no `redact` path needs one (never written). */
const NO_PATH: string[] = [];

/** Strings longer than this are not parsed as JSON (they are scrubbed as text, then cut). */
const MAX_JSON_TEXT = 16 * 1024;
/** A key inside text: an identifier, optionally dotted or dashed. */
const KEY_LIKE = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

// `key=value`, `key: value`, `"key":"value"`, `'key': 'value'`, `\"key\":\"value\"` (JSON inside JSON): the key and
// its separator (KEY), then, only after a sensitive key, its value (VALUE, from where KEY ended): a quoted string, a
// one-level {...} or [...], or a bare word (with an auth scheme in front, if any). Matching the value only after a
// sensitive key keeps the scan linear: `de:ad:be:ef:…` is a chain of pairs whose bare values each run to the end of
// the text, and scanning each of them cost O(n²) (2.5 s for 50 such texts of 16 KiB).
const KEY = /(\\?["']?)([A-Za-z_][A-Za-z0-9_.-]{0,63})\1\s*[:=]\s*/gi;
const VALUE =
  /\\?"(?:[^"\\]|\\.)*?\\?"|'[^']*'|\{[^{}]*\}|\[[^[\]]*\]|(?:(?:bearer|basic|digest|negotiate|token)\s+)?[^\s,;&'"<>)\]}]+/iy;
/**
 * A sensitive-looking key whose quoted or bracketed value a cut left open: the value (group 3) runs to the end of the
 * text without its closing quote or bracket (`…"token":"ABCD` at the cut of a long text).
 */
const OPEN_VALUE =
  /(\\?["']?)([A-Za-z_][A-Za-z0-9_.-]{0,63})\1\s*[:=]\s*(\\?"(?:[^"\\]|\\.)*|'[^']*|\{[^{}]*|\[[^[\]]*)$/;
/**
 * Text up to this long is scrubbed whole before it is cut (so a quoted secret across the cut is seen whole); longer
 * text is scrubbed in its first `maxString + SCRUB_MARGIN` characters, and a sensitive value left open at the end of
 * those is redacted to the end.
 */
const MAX_SCRUB_TEXT = 16 * 1024;
const SCRUB_MARGIN = 1024;
/** What text needs before `scrub` can change it (a pair's `:` or `=`, an auth scheme's space, a JWT's start). */
const MAY_HOLD_SECRET = /[:=\s]|eyJ/;
const AUTH_SCHEME = /\b(bearer)\s+[A-Za-z0-9._~+/=-]+|\b(basic)\s+[A-Za-z0-9+/]{8,}={0,2}/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*):[^\s/?#@]*@/gi;

export type Redactor = (value: unknown) => unknown;

function isActorRef(v: object): v is { id: string; sessionId: string } {
  const o = v as Record<string, unknown>;
  return (
    typeof o.sessionId === 'string' && typeof o.send === 'function' && typeof o.getSnapshot === 'function'
  );
}

function isLogic(v: object): boolean {
  const o = v as Record<string, unknown>;
  return typeof o.transition === 'function' && typeof o.getInitialSnapshot === 'function';
}

/** A fast path only (JSON.parse decides): objects and arrays are the JSON texts worth walking. */
function looksLikeJson(s: string): boolean {
  const t = s.trimStart();
  // Stryker disable next-line all: equivalent (without it every string is given to JSON.parse)
  return t.startsWith('{') || t.startsWith('[');
}

/** Create a redactor for the given extra keys and paths. */
export function createRedactor(extra: readonly string[] = [], limits: Partial<RedactLimits> = {}): Redactor {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  const names = new Set(extra.filter((p) => !p.includes('.')).map(normalise));
  const paths = extra.filter((p) => p.includes('.')).map((p) => p.split('.'));
  /** Whether values need their path (only `redact` paths use it). */
  const withPaths = paths.length > 0;
  /** A key name (of an object, a pair, or inside text) that is redacted wherever it is. */
  const decide = (key: string): boolean => {
    if (isSensitiveKey(key) || names.has(normalise(key))) return true;
    const dot = key.lastIndexOf('.');
    return dot >= 0 && decide(key.slice(dot + 1));
  };
  // the decision per key name, remembered (the same few keys come back in every snapshot); bounded
  const decided = new Map<string, boolean>();
  const isKey = (key: string): boolean => {
    let yes = decided.get(key);
    if (yes === undefined) {
      yes = decide(key);
      if (key.length <= MAX_CACHED_KEY) {
        if (decided.size >= MAX_CACHED_KEYS) decided.clear();
        decided.set(key, yes);
      }
    }
    return yes;
  };
  const keyRedacted = (key: string, path: string[]): boolean => {
    if (isKey(key)) return true;
    for (const p of paths) {
      if (p.length !== path.length) continue;
      if (p.every((seg, i) => seg === '*' || seg === path[i])) return true;
    }
    return false;
  };
  /** Redact the value of every `key=value` / `key: value` with a sensitive key; other values are scanned too. */
  const scrubKeyValues = (s: string): string => {
    let out = '';
    let last = 0;
    KEY.lastIndex = 0;
    for (let m = KEY.exec(s); m; m = KEY.exec(s)) {
      // not a sensitive key: the scan goes on from its value (`failed: password=x`: it may hold a pair itself)
      if (!isKey(m[2])) continue;
      const valueStart = m.index + m[0].length;
      VALUE.lastIndex = valueStart;
      const value = VALUE.exec(s);
      if (!value) continue;
      out += s.slice(last, valueStart) + REDACTED;
      last = valueStart + value[0].length;
      KEY.lastIndex = last;
    }
    return out + s.slice(last);
  };
  /** `s` (a window of a longer text) with a sensitive value its end left open redacted to the end. */
  const redactOpenTail = (s: string): string => {
    for (let from = 0; from < s.length; ) {
      const m = OPEN_VALUE.exec(from === 0 ? s : s.slice(from));
      if (!m) return s;
      const valueStart = from + m.index + m[0].length - m[3].length;
      if (isKey(m[2])) return s.slice(0, valueStart) + REDACTED;
      from = valueStart + 1; // a key that is not sensitive: its open value may hold one that is
    }
    return s;
  };
  const scrub = (s: string): string => {
    let out = s;
    // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: fast paths, equivalent
    if (out.includes(':') || out.includes('=')) {
      out = scrubKeyValues(out);
      // Stryker disable next-line ConditionalExpression,StringLiteral: a fast path, equivalent
      if (out.includes('://')) out = out.replace(URL_USERINFO, `$1:${REDACTED}@`);
    }
    out = out.replace(
      AUTH_SCHEME,
      (_m: string, bearer?: string, basic?: string) => `${bearer ?? basic} ${REDACTED}`,
    );
    // Stryker disable next-line ConditionalExpression,StringLiteral: a fast path, equivalent
    if (out.includes('eyJ')) out = out.replace(JWT, REDACTED);
    return out;
  };
  return (value: unknown) => {
    let nodes = 0;
    /** Redactions made so far in this call (to tell whether a JSON text needed any). */
    let hits = 0;
    const stack = new Set<object>();
    const cut = (s: string, length: number) => (length > lim.maxString ? `${s}…(${length})` : s);
    /** The first `maxString` characters of a scrubbed text, a `[REDACTED]` across the cut kept whole. */
    const upToLimit = (s: string): string => {
      if (s.length <= lim.maxString) return s;
      let end = lim.maxString;
      const marker = s.lastIndexOf(REDACTED, end);
      if (marker >= 0 && marker + REDACTED.length > end) end = marker + REDACTED.length;
      return s.slice(0, end);
    };

    const text = (v: string, depth: number, path: string[]): string => {
      // Stryker disable next-line ConditionalExpression,LogicalOperator: a fast path (JSON.parse rejects the rest)
      if (v.length <= MAX_JSON_TEXT && looksLikeJson(v)) {
        try {
          const before = hits;
          const walked = walk(JSON.parse(v), depth, path);
          if (hits > before) {
            const json = JSON.stringify(walked);
            return cut(json.slice(0, lim.maxString), json.length);
          }
        } catch {
          // not JSON after all: scrubbed as text
        }
      }
      return scrubbed(v);
    };

    /** Text scrubbed, then cut (scrubbed before the cut, so the cut cannot leave half a secret no pattern sees). */
    const scrubbed = (v: string): string => {
      const window = v.length <= MAX_SCRUB_TEXT ? v : v.slice(0, lim.maxString + SCRUB_MARGIN);
      let shown = scrub(window);
      if (window !== v) shown = redactOpenTail(shown);
      if (shown !== window) hits++;
      return cut(upToLimit(shown), v.length);
    };

    /**
     * A key or a name as shown (an object key, an error's name, a symbol's description, a function's name, a
     * RegExp): text too, so it is scrubbed (a URL with a password used as a key) and cut like any string, else a
     * key of a million characters was sent whole in every snapshot.
     */
    const nameText = (s: string): string =>
      s.length > lim.maxString || MAY_HOLD_SECRET.test(s) ? scrubbed(s) : s;

    const redacted = (): string => {
      hits++;
      return REDACTED;
    };

    /** One field of a value: what reading it gives, or '[unreadable]' when reading it throws. */
    const field = (read: () => unknown): unknown => {
      try {
        return read();
      } catch {
        return UNREADABLE;
      }
    };

    const walk = (v: unknown, depth: number, path: string[]): unknown => {
      if (++nodes > lim.maxNodes) return '[…]';
      try {
        return walkValue(v, depth, path);
      } catch {
        return UNREADABLE;
      }
    };

    const walkValue = (v: unknown, depth: number, path: string[]): unknown => {
      switch (typeof v) {
        case 'string':
          return text(v, depth, path);
        case 'number':
          return Number.isFinite(v) ? v : String(v);
        case 'boolean':
          return v;
        case 'undefined':
          return undefined;
        case 'bigint':
          return `${v}n`;
        case 'symbol':
          return nameText(v.toString());
        case 'function':
          return `[Function ${nameText(String(v.name || 'anonymous'))}]`;
      }
      if (v === null) return null;
      const o = v as object;
      if (stack.has(o)) return '[Circular]';
      if (isActorRef(o)) return { $actor: o.id };
      if (isLogic(o)) return { $logic: (o as { id?: string }).id ?? 'anonymous' };
      if (o instanceof Error) {
        const e = o as Error & { code?: unknown };
        const out: Record<string, unknown> = { $error: field(() => nameText(String(e.name))) };
        out.message = field(() => walk(e.message, depth, path));
        const code = field(() => (e.code ? walk(String(e.code), depth, path) : undefined));
        if (code !== undefined) out.code = code;
        return out;
      }
      if (o instanceof Date) return Number.isNaN(o.getTime()) ? 'Invalid Date' : o.toISOString();
      if (o instanceof RegExp) return nameText(String(o));
      if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer)
        return `[${o.constructor.name}(${o.byteLength})]`;
      if (o instanceof Promise || o instanceof WeakMap || o instanceof WeakSet)
        return `[${o.constructor.name}]`;
      if (o instanceof AbortSignal) return { $signal: o.aborted };
      if (depth >= lim.maxDepth) return Array.isArray(o) ? '[Array]' : '[Object]';
      stack.add(o);
      try {
        if (Array.isArray(o) || o instanceof Set) {
          // a Set is read only as far as it is shown (one of a million entries costs what 50 cost)
          const arr: unknown[] = Array.isArray(o) ? o : firstOf(o, lim.maxItems);
          const total = Array.isArray(o) ? o.length : Math.max(o.size, arr.length);
          const n = Math.min(arr.length, lim.maxItems);
          const out: unknown[] = [];
          let previous: unknown;
          for (let i = 0; i < n; i++) {
            let item: unknown;
            try {
              item = arr[i];
            } catch {
              out.push(UNREADABLE);
              previous = undefined;
              continue;
            }
            // a [name, value] pair (headers, Map entries, flat header lists) with a sensitive name
            const pairKey = typeof previous === 'string' && KEY_LIKE.test(previous) && isKey(previous);
            out.push(
              pairKey
                ? redacted()
                : (walk(item, depth + 1, withPaths ? [...path, String(i)] : NO_PATH) ?? null),
            );
            previous = item;
          }
          if (total > lim.maxItems) out.push(`…(${total - lim.maxItems} more)`);
          return out;
        }
        let keys: Array<[string, unknown]> | string[];
        let total: number;
        if (o instanceof Map) {
          // Read only as far as either form shows: copying every entry of a Map of a million entries took about
          // 0.4 s for each snapshot of it. Whether it is shown as entries is decided by the entries read (the rest
          // is never read, so no key of theirs can leak).
          const entries = firstOf(o.entries(), Math.max(lim.maxKeys, lim.maxItems));
          total = Math.max(o.size, entries.length);
          if (entries.some(([k]) => isObjectLike(k))) return mapEntries(entries, total, depth, path);
          keys = entries.map(([k, x]): [string, unknown] => [String(k), x]);
        } else {
          keys = Object.keys(o);
          total = keys.length;
        }
        const out: Record<string, unknown> = {};
        for (let n = 0; n < keys.length && n < lim.maxKeys; n++) {
          const entry = keys[n];
          const k = typeof entry === 'string' ? entry : entry[0];
          const p = withPaths ? [...path, k] : NO_PATH;
          const shownKey = nameText(k);
          if (shownKey !== k) hits++;
          let shown: unknown;
          if (keyRedacted(k, p)) shown = redacted();
          else {
            let x: unknown;
            try {
              x = typeof entry === 'string' ? (o as Record<string, unknown>)[k] : entry[1];
              shown = walk(x, depth + 1, p);
            } catch {
              shown = UNREADABLE;
            }
          }
          // Stryker disable next-line ConditionalExpression: equivalent (defineProperty for every key, only slower)
          if (shownKey === '__proto__')
            Object.defineProperty(out, shownKey, {
              value: shown,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          else out[shownKey] = shown;
        }
        if (total > lim.maxKeys) out['…'] = `${total - lim.maxKeys} more keys`;
        return out;
      } finally {
        stack.delete(o);
      }
    };

    /**
     * A Map with an object key, as its entries (`o` is on the stack): each key walked as a value, each value too
     * unless its key is a string naming a secret. In `redact` paths an entry is its index, a string key's value
     * its key (as in the object form); the entries are capped as array items.
     */
    const mapEntries = (
      entries: Array<[unknown, unknown]>,
      total: number,
      depth: number,
      path: string[],
    ): unknown[] => {
      const n = Math.min(entries.length, lim.maxItems);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) {
        const [k, x] = entries[i];
        const at = withPaths ? [...path, String(i)] : NO_PATH;
        const valueAt = withPaths && typeof k === 'string' ? [...path, k] : at;
        const key = walk(k, depth + 1, at) ?? null;
        const value =
          typeof k === 'string' && keyRedacted(k, valueAt)
            ? redacted()
            : (walk(x, depth + 1, valueAt) ?? null);
        out.push([key, value]);
      }
      if (total > lim.maxItems) out.push(`…(${total - lim.maxItems} more)`);
      return out;
    };
    return walk(value, 0, []);
  };
}

/** The first `n` items of an iterable, the rest not read (a Map or Set may hold a million). */
function firstOf<T>(items: Iterable<T>, n: number): T[] {
  const out: T[] = [];
  if (n <= 0) return out;
  for (const item of items) {
    out.push(item);
    if (out.length >= n) break;
  }
  return out;
}

/** An object or a function: a value whose text (`String(v)`) may be anything, a secret included. */
function isObjectLike(v: unknown): boolean {
  return (typeof v === 'object' && v !== null) || typeof v === 'function';
}

/** Nesting and size limits of a copied state value (a machine's value is a small tree of state names). */
const MAX_STATE_DEPTH = 20;
const MAX_STATE_NODES = 1000;
const MAX_STATE_NAME = 200;

/**
 * A plain copy of a snapshot value (state names are not redacted: a state may well be called 'token'). A machine's
 * value is a small tree of state names, but hand-written logic may keep anything there: the copy is bounded in
 * depth and size (a cycle, or one object shared at every level, would otherwise be handed to JSON.stringify whole,
 * which throws on the cycle and closes every page, or copied into millions of nodes), a name is cut, a function is
 * not shown as its source, and a value that cannot be read is '[unreadable]'.
 */
export function copyStateValue(value: unknown): unknown {
  let nodes = 0;
  const copy = (v: unknown, depth: number): unknown => {
    if (v === undefined || v === null) return null;
    if (typeof v === 'function') return '[Function]';
    if (typeof v !== 'object') {
      const name = String(v);
      return name.length > MAX_STATE_NAME ? `${name.slice(0, MAX_STATE_NAME)}…(${name.length})` : name;
    }
    if (depth > MAX_STATE_DEPTH || ++nodes > MAX_STATE_NODES) return '[…]';
    try {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = copy(x, depth + 1);
      return out;
    } catch {
      return UNREADABLE;
    }
  };
  return copy(value, 0);
}
