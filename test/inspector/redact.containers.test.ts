/**
 * Secrets in containers other than plain objects and arrays: a Map's keys (objects, arrays, Errors, URLs, strings
 * that hold a credential) and values, a Set's items, and a plain object's keys that hold a credential as text. The
 * redactor applies one set of rules whatever holds the value: a key that names a secret hides its value, a value is
 * walked (an object key included), and text (a key's too) is scrubbed. Checked value by value, then through the
 * inspector's tracker (what the page is sent of a context and of an event).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { createSystem, type OrrerySystem } from '../../src/engine/system.js';
import { ChartRegistry } from '../../src/inspector/charts.js';
import { createRedactor, REDACTED } from '../../src/inspector/redact.js';
import { Tracker } from '../../src/inspector/tracker.js';

const r = createRedactor();
const SECRET = 'hunter2';
const text = (v: unknown) => JSON.stringify(v);

let system: OrrerySystem | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe('redaction whatever the container', () => {
  it('a Map with string keys is redacted as an object: a key naming a secret hides its value (pinned)', () => {
    expect(r(new Map([['password', SECRET]]))).toEqual({ password: REDACTED });
    expect(
      r(
        new Map<string, unknown>([
          ['api_key', SECRET],
          ['nested', new Map([['token', SECRET]])],
          ['user', 'ops'],
        ]),
      ),
    ).toEqual({ api_key: REDACTED, nested: { token: REDACTED }, user: 'ops' });
  });

  it('a Set is redacted as an array: the objects it holds by their keys, name/value strings as pairs (pinned)', () => {
    expect(r(new Set([{ password: SECRET, user: 'ops' }]))).toEqual([{ password: REDACTED, user: 'ops' }]);
    expect(r(new Set(['password', SECRET]))).toEqual(['password', REDACTED]);
    expect(r(new Set([new Map([['token', SECRET]])]))).toEqual([{ token: REDACTED }]);
  });

  it('a Map whose keys are objects is shown as its entries, each key redacted as a value is', () => {
    const a = { password: SECRET, user: 'a' };
    const b = { token: SECRET, user: 'b' };
    expect(
      r(
        new Map<unknown, unknown>([
          [a, 1],
          [b, 2],
        ]),
      ),
    ).toEqual([
      [{ password: REDACTED, user: 'a' }, 1],
      [{ token: REDACTED, user: 'b' }, 2],
    ]);
    // a string key among them still hides its value when it names a secret
    expect(
      r(
        new Map<unknown, unknown>([
          [{ id: 1 }, 'x'],
          ['password', SECRET],
        ]),
      ),
    ).toEqual([
      [{ id: 1 }, 'x'],
      ['password', REDACTED],
    ]);
  });

  it('no secret leaves through a Map key, whatever the key is', () => {
    const keys: Array<[string, unknown]> = [
      ['an object', { password: SECRET }],
      ['an array', ['password', SECRET]],
      ['an Error', new Error(`login failed: password=${SECRET}`)],
      ['a URL', new URL(`https://ops:${SECRET}@plc.example/`)],
      ['an object with a toString', { toString: () => `token=${SECRET}` }],
      [
        'a function',
        function connect() {
          return `password=${SECRET}`;
        },
      ],
      ['a Map', new Map([['token', SECRET]])],
      ['a Set', new Set(['Authorization', `Bearer ${SECRET}`])],
      ['a string holding a pair', `password=${SECRET}`],
      ['a string holding a URL', `https://ops:${SECRET}@plc.example/`],
      ['a string holding a bearer token', `Bearer ${SECRET}abcdef`],
      ['a string holding JSON', `{"token":"${SECRET}"}`],
      ['a symbol', Symbol(`password=${SECRET}`)],
    ];
    for (const [what, key] of keys) {
      expect(text(r({ m: new Map([[key, 'value']]) })), what).not.toContain(SECRET);
    }
  });

  it('a plain object key that holds a credential as text is scrubbed as text is', () => {
    const shown = r({
      [`https://ops:${SECRET}@plc.example/`]: 'open',
      [`password=${SECRET}`]: 1,
      [`Bearer ${SECRET}abcdef`]: 2,
      plain: 3,
    });
    expect(text(shown)).not.toContain(SECRET);
    expect(shown).toEqual({
      [`https://ops:${REDACTED}@plc.example/`]: 'open',
      [`password=${REDACTED}`]: REDACTED,
      [`Bearer ${REDACTED}`]: REDACTED,
      plain: 3,
    });
  });

  it('a Map key without a prototype (or that cannot be turned into text) costs nothing else of the Map', () => {
    const bare = Object.assign(Object.create(null), { id: 7 });
    expect(
      r(
        new Map<unknown, unknown>([
          [bare, 'x'],
          [{ id: 8 }, { secret: SECRET }],
        ]),
      ),
    ).toEqual([
      [{ id: 7 }, 'x'],
      [{ id: 8 }, { secret: REDACTED }],
    ]);
  });

  it('a Map shown as entries keeps the caps: items, depth and cycles', () => {
    const many = new Map<unknown, unknown>(Array.from({ length: 3 }, (_, i) => [{ i }, i]));
    expect(createRedactor([], { maxItems: 2 })(many)).toEqual([[{ i: 0 }, 0], [{ i: 1 }, 1], '…(1 more)']);
    const cyclic = new Map<unknown, unknown>();
    cyclic.set(cyclic, 1);
    expect(r(cyclic)).toEqual([['[Circular]', 1]]);
    expect(createRedactor([], { maxDepth: 2 })({ m: new Map([[{ password: SECRET }, 1]]) })).toEqual({
      m: [['[Object]', 1]],
    });
  });

  it('a huge Map or Set costs what is shown, not its size: only the entries shown (and one more) are read', () => {
    // a context may hold a cache of a million entries; every snapshot of it is redacted (for every event, in the
    // Stately bridge): reading it whole cost about 0.4 s per snapshot
    let read = 0;
    class CountingMap<K, V> extends Map<K, V> {
      override *entries(): MapIterator<[K, V]> {
        for (const entry of super.entries()) {
          read++;
          yield entry;
        }
      }
    }
    class CountingSet<T> extends Set<T> {
      override *[Symbol.iterator](): SetIterator<T> {
        for (const item of super.values()) {
          read++;
          yield item;
        }
      }
    }
    const size = 100_000;
    const map = new CountingMap<unknown, number>(Array.from({ length: size }, (_, i) => [`k${i}`, i]));
    const shown = r(map) as Record<string, unknown>;
    expect(shown.k0).toBe(0);
    expect(shown['…']).toBe(`${size - 60} more keys`);
    expect(read).toBeLessThanOrEqual(61);
    read = 0;
    const objectKeys = new CountingMap<unknown, number>(Array.from({ length: size }, (_, i) => [{ i }, i]));
    const entries = r(objectKeys) as unknown[];
    expect(entries[0]).toEqual([{ i: 0 }, 0]);
    expect(entries[50]).toBe(`…(${size - 50} more)`);
    expect(read).toBeLessThanOrEqual(61);
    read = 0;
    const set = new CountingSet(Array.from({ length: size }, (_, i) => i));
    const items = r(set) as unknown[];
    expect(items[49]).toBe(49);
    expect(items[50]).toBe(`…(${size - 50} more)`);
    expect(read).toBeLessThanOrEqual(51);
  });

  it('no secret in a Map or Set of a context or an event reaches what the inspector sends', () => {
    system = createSystem();
    const t = new Tracker(system, {
      redact: createRedactor(),
      charts: new ChartRegistry(),
      bufferSize: 1000,
      maxEventsPerSecond: 1_000_000,
    });
    t.start();
    t.flush();
    const vault = setup({
      types: {
        context: {} as { sessions: Map<unknown, unknown>; seen: Set<unknown>; n: number },
        events: {} as { type: 'LOGIN'; who: Map<unknown, unknown> },
      },
    }).createMachine({
      id: 'vault',
      context: {
        sessions: new Map<unknown, unknown>([
          [{ user: 'ops', password: `${SECRET}-ctx-key` }, 'open'],
          [new URL(`https://ops:${SECRET}-url@plc.example/`), 'open'],
          ['password', `${SECRET}-ctx-value`],
        ]),
        seen: new Set([{ token: `${SECRET}-set` }]),
        n: 0,
      },
      on: { LOGIN: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
    });
    const actor = system.spawn(vault, { id: 'vault' });
    actor.send({
      type: 'LOGIN',
      who: new Map<unknown, unknown>([
        [['Authorization', `Bearer ${SECRET}-event`], 1],
        [new Error(`password=${SECRET}-error`), 2],
      ]),
    });
    const sent = text(t.flush());
    // the context and the event did arrive, so the assertion below is not vacuous
    expect(sent).toContain('"user":"ops"');
    expect(sent).toContain('LOGIN');
    expect(sent).toContain(REDACTED);
    expect(sent).not.toContain(SECRET);
    t.stop();
  });
});
