/**
 * Turns actor context, events and outputs into bounded, JSON-safe values with secrets removed, before anything
 * leaves the process for the inspector page.
 *
 * - Keys that look like credentials (password, token, secret, credentials, authorization, api key, private key,
 *   cookie, ...) anywhere in the value are replaced by '[REDACTED]'.
 * - `redact` entries add more: a bare name (`'pin'`) matches that key at any depth; a dotted path (`'device.host'`,
 *   `'params.*.pin'`, `*` = any key) matches from the root of the context or event being sent.
 * - State machines and other actor logic are never walked (a machine's `config` holds its literal initial context,
 *   the leak seen in `@statelyai/inspect`); actor refs become `{$actor: id}`.
 * - Depth, keys per object, array items and string lengths are capped; cycles become '[Circular]'.
 */

export const REDACTED = '[REDACTED]';

const SENSITIVE = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'credential',
  'authorization',
  'apikey',
  'privatekey',
  'cookie',
  'sessionkey',
];
const SENSITIVE_EXACT = new Set(['pwd', 'pass', 'auth', 'pin']);

const normalise = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Does a key name look like a credential? */
export function isSensitiveKey(key: string): boolean {
  const k = normalise(key);
  return SENSITIVE_EXACT.has(k) || SENSITIVE.some((s) => k.includes(s));
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

/** Create a redactor for the given extra keys and paths. */
export function createRedactor(extra: readonly string[] = [], limits: Partial<RedactLimits> = {}): Redactor {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  const names = new Set(extra.filter((p) => !p.includes('.')).map(normalise));
  const paths = extra.filter((p) => p.includes('.')).map((p) => p.split('.'));
  const keyRedacted = (key: string, path: string[]): boolean => {
    if (isSensitiveKey(key) || names.has(normalise(key))) return true;
    for (const p of paths) {
      if (p.length !== path.length) continue;
      if (p.every((seg, i) => seg === '*' || seg === path[i])) return true;
    }
    return false;
  };

  return (value: unknown) => {
    let nodes = 0;
    const stack = new Set<object>();
    const walk = (v: unknown, depth: number, path: string[]): unknown => {
      if (++nodes > lim.maxNodes) return '[…]';
      switch (typeof v) {
        case 'string':
          return v.length > lim.maxString ? `${v.slice(0, lim.maxString)}…(${v.length})` : v;
        case 'number':
          return Number.isFinite(v) ? v : String(v);
        case 'boolean':
          return v;
        case 'undefined':
          return undefined;
        case 'bigint':
          return `${v}n`;
        case 'symbol':
          return v.toString();
        case 'function':
          return `[Function ${v.name || 'anonymous'}]`;
      }
      if (v === null) return null;
      const o = v as object;
      if (isActorRef(o)) return { $actor: o.id };
      if (isLogic(o)) return { $logic: (o as { id?: string }).id ?? 'anonymous' };
      if (o instanceof Error) {
        const code = (o as { code?: unknown }).code;
        return {
          $error: o.name,
          message: walk(o.message, depth + 1, path),
          ...(code ? { code: String(code) } : {}),
        };
      }
      if (o instanceof Date) return Number.isNaN(o.getTime()) ? 'Invalid Date' : o.toISOString();
      if (o instanceof RegExp) return String(o);
      if (ArrayBuffer.isView(o) || o instanceof ArrayBuffer)
        return `[${o.constructor.name}(${o.byteLength})]`;
      if (o instanceof Promise || o instanceof WeakMap || o instanceof WeakSet)
        return `[${o.constructor.name}]`;
      if (typeof AbortSignal !== 'undefined' && o instanceof AbortSignal) return { $signal: o.aborted };
      if (stack.has(o)) return '[Circular]';
      if (depth >= lim.maxDepth) return Array.isArray(o) ? '[Array]' : '[Object]';
      stack.add(o);
      try {
        if (Array.isArray(o) || o instanceof Set) {
          const arr = Array.isArray(o) ? o : [...o];
          const out = arr
            .slice(0, lim.maxItems)
            .map((x, i) => walk(x, depth + 1, [...path, String(i)]) ?? null);
          if (arr.length > lim.maxItems) out.push(`…(${arr.length - lim.maxItems} more)`);
          return out;
        }
        const entries: Array<[string, unknown]> =
          o instanceof Map ? [...o.entries()].map(([k, x]) => [String(k), x]) : Object.entries(o);
        const out: Record<string, unknown> = {};
        let n = 0;
        for (const [k, x] of entries) {
          if (++n > lim.maxKeys) {
            out['…'] = `${entries.length - lim.maxKeys} more keys`;
            break;
          }
          const p = [...path, k];
          out[k] = keyRedacted(k, p) ? REDACTED : walk(x, depth + 1, p);
        }
        return out;
      } finally {
        stack.delete(o);
      }
    };
    return walk(value, 0, []);
  };
}

/** A plain copy of a snapshot value (state names are not redacted: a state may well be called 'token'). */
export function copyStateValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string' || value === undefined || value === null || depth > 20) return value ?? null;
  if (typeof value !== 'object') return String(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = copyStateValue(v, depth + 1);
  return out;
}
