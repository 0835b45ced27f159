/**
 * A hostile TypeCode for the decoding-budget tests: struct S_k { S_{k-1} a; S_{k-1} b; } with b's TypeCode an
 * indirection to a's, S_0 = tk_null: about 60 bytes per level, 2^k values of no bytes when read.
 */
import { type CdrWriter, TK } from '../../../../src/protocols/tango/giop/index.js';

export function writeBomb(w: CdrWriter, k: number): number {
  w.align(4);
  const at = w.pos;
  if (k === 0) {
    w.ulong(TK.null);
    return at;
  }
  w.ulong(TK.struct);
  w.encapsulation((e) => {
    e.string('IDL:S:1.0');
    e.string('S');
    e.ulong(2);
    e.string('a');
    const inner = writeBomb(e, k - 1);
    e.string('b');
    e.align(4);
    const p = e.pos;
    e.ulong(0xffffffff);
    e.long(inner - (p + 4));
  });
  return at;
}
