/**
 * The context copy of every assign (XState's `Object.assign({}, context)`), made as an object literal of the
 * machine's context fields: `Object.assign` adds the fields one by one (a property transition looked up for each:
 * about 0.7 us for the 23 fields of the `lrc` context on the bench machine), a literal makes the object whole
 * (about 0.1 us with the check below).
 *
 * The literal is generated once per machine from the fields of its first context (`ContextShape`), and used only
 * for a context whose enumerable fields are exactly those, in that order (checked by walking them, which also sees
 * a field an action added or deleted in place): the copy is then what `Object.assign({}, context)` makes (the same
 * fields in the same order, getters read once, `Object.prototype`). The contexts of a machine whose first context
 * has fewer than `MIN_FIELDS` fields are copied by a spread of the machine's own (`learnCopies`). Anything else is
 * copied by `Object.assign`: a context of other fields, one that inherits enumerable fields, a machine whose contexts
 * have symbol keys or a `__proto__` field (learned as refused), more than `MAX_FIELDS` fields. The one thing the walk
 * cannot see is a symbol-keyed field an action adds to a context in place (XState changes contexts by `assign` only;
 * its docs forbid changing them in place): the literal copy would not carry it over.
 */

/** More fields than this: no literal (a generated function of that size is not worth it). */
const MAX_FIELDS = 64;
/**
 * Fewer fields than this: no literal but a spread (`learnCopies`). Copying a few fields costs about what the checks
 * of a literal copy do (the symbol check of each first context, the walk of its fields): the Status machine's
 * 5-field contexts ran 5-8 % slower with the literal, the `lrc` machine's 23 fields 6-10 % faster.
 */
const MIN_FIELDS = 8;

/** A small context's copy: `{ ...c }`, compiled once per machine. */
export type SmallCopy = (context: object) => Record<string, unknown>;

/**
 * What a machine learns from its first context (`context`), in one walk of its fields: `shape`, the literal copy of
 * its fields (`learnShape`), and `spread`, for a plain object of fewer than `MIN_FIELDS` fields, a spread in a
 * function of the machine's own, so its copy site sees that machine's contexts only and V8 clones them whole (about
 * 40 ns for 5 fields on the bench machine, where `Object.assign` onto a new object adds them one by one in about
 * 200). To a context without an own `__proto__` field (the caller checks) a spread is what
 * `Object.assign({}, context)` is: the own enumerable fields, string keys then symbols, in order, getters read once,
 * `Object.prototype`. (An own `__proto__` field would set the prototype through `Object.assign` but be copied as a
 * field by a spread.) Past about 8 fields V8 stops cloning and a spread is slower than `Object.assign`.
 */
export function learnCopies(
  machine: { shape: LearnedShape; spread: SmallCopy | null },
  context: unknown,
): void {
  const keys = plainFields(context);
  machine.shape = shapeFrom(context as object, keys);
  machine.spread =
    keys !== null && keys.length < MIN_FIELDS ? (new Function('c', 'return { ...c };') as SmallCopy) : null;
}

/**
 * An assign's copy with its fields written in one literal: the context's fields, those named by the assignment
 * object `p` taken from it (a function there is called, in `p`'s order, with `args(c, x, y)` made once, as XState
 * calls assigners).
 */
export type ContextMerge = (
  c: object,
  p: object,
  params: unknown,
  args: (c: object, x: unknown, y: unknown) => object,
  x: unknown,
  y: unknown,
) => Record<string, unknown>;

/** Assignment objects of other fields than these, past this many learned: no merge (Object.assign as before). */
const MAX_MERGES = 8;

/** The fields of a machine's contexts, their literal copy, and the merges learned for its assignment objects. */
export class ContextShape {
  /** Each learned merge with the fields of the assignment objects it is for, in their order. */
  readonly merges: { keys: readonly string[]; merge: ContextMerge }[] = [];
  constructor(
    readonly keys: readonly string[],
    readonly copy: (context: object) => Record<string, unknown>,
  ) {}
}

/** What a machine has learned: not yet (undefined), no literal (null), or its shape. */
export type LearnedShape = ContextShape | null | undefined;

/**
 * The shape of `context`, the first context of a machine: null when it cannot have a literal copy (symbol keys,
 * an inherited enumerable field, a `__proto__` field, too few or too many fields, not a plain object).
 */
export function learnShape(context: unknown): ContextShape | null {
  return shapeFrom(context as object, plainFields(context));
}

/**
 * The fields of a plain object, in order: null when it is not one, or has an inherited enumerable field, a
 * `__proto__` field or more than `MAX_FIELDS` fields.
 */
function plainFields(context: unknown): string[] | null {
  if (context === null || typeof context !== 'object') return null;
  if (Object.getPrototypeOf(context) !== Object.prototype) return null;
  const keys: string[] = [];
  for (const key in context) {
    if (!Object.hasOwn(context, key) || key === '__proto__' || keys.length >= MAX_FIELDS) return null;
    keys.push(key);
  }
  return keys;
}

/** The shape of a context of these plain fields (`plainFields`): null without them, with symbol keys, or too few. */
function shapeFrom(context: object, keys: string[] | null): ContextShape | null {
  if (keys === null || keys.length < MIN_FIELDS || hasSymbolKeys(context)) return null;
  // each key as a JSON string literal, so any field name is safe in the generated code
  const fields = keys.map((k) => `${JSON.stringify(k)}: c[${JSON.stringify(k)}]`).join(',\n');
  const copy = new Function('c', `return {\n${fields}\n};`) as (c: object) => Record<string, unknown>;
  return new ContextShape(keys, copy);
}

/** Whether `context`'s enumerable fields (own and inherited, as `for...in` walks them) are exactly `keys`. */
export function hasShape(context: object, keys: readonly string[]): boolean {
  let i = 0;
  for (const key in context) if (key !== keys[i++]) return false;
  return i === keys.length;
}

/** Whether a context has symbol keys (a literal would not copy them: the machine's contexts then never get one). */
export function hasSymbolKeys(context: object): boolean {
  return Object.getOwnPropertySymbols(context).length > 0;
}

/**
 * The merge for an assignment object `p` (`assign({...})`, `enqueue.assign({...})`) onto a context of `shape`:
 * learned from the first object of its fields, then found by walking them (as `hasShape` does). Null when `p` is not
 * a plain object of the context's own fields (a new field, `__proto__`, inherited fields, another prototype), or
 * past `MAX_MERGES`: the caller copies and writes field by field then. XState builds a partial object of the
 * fields `Object.keys(p)` gives (their assigners called in that order, each with the context before the assign) and
 * copies it over `Object.assign({}, context)`: the merge makes that object at once, with no partial and no keyed
 * writes (symbol keys of `p` are ignored by both).
 */
export function mergeFor(shape: ContextShape, p: object): ContextMerge | null {
  // (a plain object's enumerable fields are its own: the walk then sees exactly what `Object.keys` gives)
  if (Object.getPrototypeOf(p) !== Object.prototype) return null;
  const merges = shape.merges;
  for (let i = 0; i < merges.length; i++) if (hasShape(p, merges[i].keys)) return merges[i].merge;
  if (merges.length >= MAX_MERGES) return null;
  const keys: string[] = [];
  for (const key in p) {
    if (!Object.hasOwn(p, key) || key === '__proto__' || !shape.keys.includes(key)) return null;
    keys.push(key);
  }
  if (keys.length === 0) return null;
  const q = (k: string) => JSON.stringify(k);
  // the assignment's values first, in its order (assigners called there), then the literal
  const values = keys
    .map(
      (k, i) =>
        `let v${i} = p[${q(k)}];\nif (typeof v${i} === 'function') v${i} = v${i}(a ??= args(c, x, y), params);`,
    )
    .join('\n');
  const fields = shape.keys
    .map((k) => {
      const i = keys.indexOf(k);
      return `${q(k)}: ${i < 0 ? `c[${q(k)}]` : `v${i}`}`;
    })
    .join(',\n');
  const merge = new Function(
    'c',
    'p',
    'params',
    'args',
    'x',
    'y',
    `let a;\n${values}\nreturn {\n${fields}\n};`,
  ) as ContextMerge;
  merges.push({ keys, merge });
  return merge;
}
