/**
 * The context copy of every assign (XState's `Object.assign({}, context)`), made as an object literal of the
 * machine's context fields: `Object.assign` adds the fields one by one (a property transition looked up for each:
 * about 0.7 us for the 23 fields of the `lrc` context on the bench machine), a literal makes the object whole
 * (about 0.1 us with the check below).
 *
 * The literal is generated once per machine from the fields of its first context (`ContextShape`), and used only
 * for a context whose enumerable fields are exactly those, in that order (checked by walking them, which also sees
 * a field an action added or deleted in place): the copy is then what `Object.assign({}, context)` makes (the same
 * fields in the same order, getters read once, `Object.prototype`). Anything else is copied by `Object.assign`: a
 * context of other fields, one that inherits enumerable fields, a machine whose contexts have symbol keys or a
 * `__proto__` field (learned as refused), fewer than `MIN_FIELDS` or more than `MAX_FIELDS` fields. The one thing
 * the walk cannot see is a symbol-keyed field an action adds to a context in place (XState changes contexts by
 * `assign` only; its docs forbid changing them in place): the literal copy would not carry it over.
 */

/** More fields than this: no literal (a generated function of that size is not worth it). */
const MAX_FIELDS = 64;
/**
 * Fewer fields than this: no literal. `Object.assign` of a few fields costs about what the checks of a literal copy
 * do (the symbol check of each first context, the walk of its fields): the Status machine's 5-field contexts ran
 * 5-8 % slower with the literal, the `lrc` machine's 23 fields 6-10 % faster.
 */
const MIN_FIELDS = 8;

/** The fields of a machine's contexts and their literal copy. */
export class ContextShape {
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
  if (context === null || typeof context !== 'object') return null;
  if (Object.getPrototypeOf(context) !== Object.prototype) return null;
  if (hasSymbolKeys(context)) return null;
  const keys: string[] = [];
  for (const key in context) {
    if (!Object.hasOwn(context, key) || key === '__proto__' || keys.length >= MAX_FIELDS) return null;
    keys.push(key);
  }
  if (keys.length < MIN_FIELDS) return null;
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
