import { describe, expect, it } from 'vitest';
import { HEARD_EVERY_MS, HeardThrottle, heardEveryMs } from '../../src/protocols/ca/heard.js';

describe('HEARD throttle (circuits and name-server links)', () => {
  it('the interval is 1 s, or a tenth of the silence before a probe when that is shorter', () => {
    expect(heardEveryMs(30_000)).toBe(HEARD_EVERY_MS);
    expect(heardEveryMs(500)).toBe(50);
    expect(heardEveryMs(Number.POSITIVE_INFINITY)).toBe(HEARD_EVERY_MS);
  });

  it('the first bytes are told, then at most once per interval', () => {
    const t = new HeardThrottle(100);
    expect(t.heard(0)).toBe(true);
    expect(t.heard(50)).toBe(false);
    expect(t.heard(99)).toBe(false);
    expect(t.heard(100)).toBe(true);
    expect(t.heard(150)).toBe(false);
  });

  it('while an ECHO is outstanding the next bytes are told at once, once', () => {
    const t = new HeardThrottle(100);
    expect(t.heard(0)).toBe(true);
    t.echoSent();
    expect(t.heard(10)).toBe(true);
    expect(t.heard(20)).toBe(false);
    expect(t.heard(110)).toBe(true);
  });
});
