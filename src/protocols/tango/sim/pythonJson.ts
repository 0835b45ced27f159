/**
 * The JSON text of the simulated SKA device for a value holding numbers that are not finite: ska-tango-base writes
 * results (and the `_lrcEvent` changes, the `lrcFinished` entries) with Python's `json.dumps`, which writes a float
 * that is not finite as `NaN`, `Infinity` or `-Infinity` (and `json.loads` reads them back), where JSON.stringify
 * writes `null`. Only those words differ: the rest is JSON.stringify's text (its compact separators included, as
 * every other text of the simulator), and the usual value, without such a number, is JSON.stringify's text as it is.
 */

/**
 * `JSON.stringify(value)`, but a number that is not finite written as `json.dumps` writes it (`NaN`, `Infinity`,
 * `-Infinity`). Throws as JSON.stringify does (a BigInt, a cycle); undefined when there is no JSON text.
 */
export function pythonJsonDumps(value: unknown): string | undefined {
  const json = JSON.stringify(value);
  // such a number is written `null` by JSON.stringify: a text without one holds none (the usual case, one scan)
  if (json === undefined || !json.includes('null')) return json;
  const writer = new PythonJsonWriter();
  const text = writer.write('', value);
  return writer.nonFinite ? text : json;
}

/** Writes a value as JSON.stringify does (SerializeJSONProperty, no replacer, no indent), but for those numbers. */
class PythonJsonWriter {
  /** Whether a number that is not finite was written (else the text is JSON.stringify's). */
  nonFinite = false;
  /** The objects being written (JSON.stringify's cycle check). */
  readonly #stack: object[] = [];

  write(key: string, raw: unknown): string | undefined {
    let value = raw;
    if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') value = toJSON.call(value, key);
    }
    if (value instanceof Number) value = Number(value);
    else if (value instanceof String) value = String(value);
    else if (value instanceof Boolean) value = value.valueOf();
    else if (value instanceof BigInt) value = value.valueOf();
    switch (typeof value) {
      case 'string':
        return JSON.stringify(value);
      case 'boolean':
        return value ? 'true' : 'false';
      case 'number':
        if (Number.isFinite(value)) return JSON.stringify(value);
        this.nonFinite = true;
        return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
      case 'bigint':
        throw new TypeError('Do not know how to serialize a BigInt');
      case 'object':
        if (value === null) return 'null';
        return Array.isArray(value) ? this.#array(value) : this.#object(value);
      default:
        // undefined, a function, a symbol: no text (`null` in an array, left out of an object)
        return undefined;
    }
  }

  #enter(value: object): void {
    if (this.#stack.includes(value)) throw new TypeError('Converting circular structure to JSON');
    this.#stack.push(value);
  }

  #array(value: readonly unknown[]): string {
    this.#enter(value);
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += this.write(String(i), value[i]) ?? 'null';
    }
    this.#stack.pop();
    return `${out}]`;
  }

  #object(value: object): string {
    this.#enter(value);
    let out = '{';
    let first = true;
    for (const key of Object.keys(value)) {
      const text = this.write(key, (value as Record<string, unknown>)[key]);
      if (text === undefined) continue;
      out += `${first ? '' : ','}${JSON.stringify(key)}:${text}`;
      first = false;
    }
    this.#stack.pop();
    return `${out}}`;
  }
}
