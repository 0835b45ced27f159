/**
 * Parses the Python literals the prototype decoder printed (`repr` of dicts, lists, tuples, str, bytes, int,
 * float, True/False/None) into JS values: tuples become arrays, bytes a Buffer, ints numbers.
 */
export function parsePyLiteral(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: Record<string, unknown> = {};
      ws();
      while (text[i] !== '}') {
        const k = value();
        ws();
        expect(':');
        out[String(k)] = value();
        ws();
        if (text[i] === ',') i++;
        ws();
      }
      i++;
      return out;
    }
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const out: unknown[] = [];
      ws();
      while (text[i] !== close) {
        out.push(value());
        ws();
        if (text[i] === ',') i++;
        ws();
      }
      i++;
      return out;
    }
    if (c === 'b' && (text[i + 1] === "'" || text[i + 1] === '"')) {
      i++;
      return Buffer.from(str(), 'latin1');
    }
    if (c === "'" || c === '"') return str();
    const m = /^(True|False|None|-?\d+(\.\d+)?(e[-+]?\d+)?)/.exec(text.slice(i));
    if (m === null) throw new Error(`cannot parse Python literal at ${i}: ${text.slice(i, i + 20)}`);
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0]);
  };
  const expect = (ch: string) => {
    if (text[i] !== ch) throw new Error(`expected ${ch} at ${i}`);
    i++;
  };
  const str = (): string => {
    const q = text[i++];
    let out = '';
    while (text[i] !== q) {
      let ch = text[i++];
      if (ch === '\\') {
        const e = text[i++];
        if (e === 'x') {
          ch = String.fromCharCode(Number.parseInt(text.slice(i, i + 2), 16));
          i += 2;
        } else {
          ch =
            ({ n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' } as Record<string, string>)[e] ?? e;
        }
      }
      out += ch;
    }
    i++;
    return out;
  };
  const v = value();
  ws();
  if (i !== text.length) throw new Error(`trailing text after Python literal: ${text.slice(i)}`);
  return v;
}

/** Python's `repr` of a bytes object. */
export function pyBytesRepr(bytes: Uint8Array): string {
  const s = Buffer.from(bytes).toString('latin1');
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = `b${q}`;
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (c === '\\' || c === q) out += `\\${c}`;
    else if (c === '\t') out += '\\t';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (b >= 0x20 && b < 0x7f) out += c;
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `${out}${q}`;
}
