/**
 * The inspector's redactor (src/inspector/redact.ts), value by value: which keys are secret, extra names and
 * paths, secrets inside strings, every size cap, cycles versus shared references, hostile values, and the shape of
 * everything that is not plain data. Issue 7 item 18 (mutation testing) and item 7 (what reaches the page).
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, setup } from 'xstate';
import {
  copyStateValue,
  createRedactor,
  isSensitiveKey,
  REDACTED,
  UNREADABLE,
} from '../../src/inspector/redact.js';

const r = createRedactor();
const one = (key: string, value: unknown = 'v', redact = r) =>
  (redact({ [key]: value }) as Record<string, unknown>)[key];

describe('issue 7 item 18: redact.ts', () => {
  it('issue 7 item 18: the exact-match short keys (pin, pwd, pass, auth, otp) are redacted, and only exactly', () => {
    for (const key of ['pin', 'pwd', 'pass', 'auth', 'otp', 'PIN', 'Pass', 'AUTH', 'p_w_d', 'O-T-P'])
      expect(one(key), key).toBe(REDACTED);
    for (const key of ['spin', 'pinned', 'passive', 'compass', 'author', 'oauthor', 'hotpot', 'pwdx', 'apin'])
      expect(one(key), key).toBe('v');
    expect(isSensitiveKey('pin')).toBe(true);
    expect(isSensitiveKey('spin')).toBe(false);
  });

  it('issue 7 item 18: every listed credential word is redacted inside a key, whatever its case and separators', () => {
    const keys = [
      'password',
      'dbPassword',
      'passwd',
      'passphrase',
      'passcode',
      'clientSecret',
      'secret',
      'token',
      'refresh_token',
      'credential',
      'credentials',
      'authorization',
      'Proxy-Authorization',
      'apikey',
      'api_key',
      'X-API-KEY',
      'accessKey',
      'aws_access_key_id',
      'privateKey',
      'private-key',
      'privKey',
      'priv_key',
      'PRIV-KEY',
      'sshKey',
      'ssh_key',
      'signingKey',
      'cookie',
      'Set-Cookie',
      'sessionKey',
      'sessionId',
      'session_id',
      'jwt',
      'idJwt',
      'bearer',
      'bearerValue',
    ];
    for (const key of keys) {
      expect(one(key), key).toBe(REDACTED);
      expect(isSensitiveKey(key), key).toBe(true);
    }
    for (const key of [
      'user',
      'host',
      'port',
      'session',
      'key',
      'private',
      'access',
      'signing',
      'ssh',
      'api',
    ])
      expect(one(key), key).toBe('v');
  });

  it('issue 7 item 18: a plain-name redact entry matches that key at any depth; a dotted path only from the root', () => {
    const red = createRedactor(['serial', 'Device-Name', 'device.host', 'params.*.code']);
    expect(
      red({
        serial: 'S1',
        Serial: 'S2',
        serialNumber: 'shown',
        deep: { list: [{ SERIAL: 'S3' }] },
        deviceName: 'D1',
        device: { host: 'h', port: 1 },
        other: { device: { host: 'shown' } },
        params: { a: { code: 1, name: 'a' }, b: { code: 2 } },
        code: 'shown',
      }),
    ).toEqual({
      serial: REDACTED,
      Serial: REDACTED,
      serialNumber: 'shown',
      deep: { list: [{ SERIAL: REDACTED }] },
      deviceName: REDACTED,
      device: { host: REDACTED, port: 1 },
      other: { device: { host: 'shown' } },
      params: { a: { code: REDACTED, name: 'a' }, b: { code: REDACTED } },
      code: 'shown',
    });
    // inside strings too (names only)
    expect(red('serial=S4 mode=auto')).toBe(`serial=${REDACTED} mode=auto`);
    // a path is not a name, and a path matches its own length only
    expect(createRedactor(['device.host'])({ deviceHost: 'shown', host: 'shown' })).toEqual({
      deviceHost: 'shown',
      host: 'shown',
    });
    expect(createRedactor(['device.*'])({ device: { host: 'h', port: 1 }, other: 1 })).toEqual({
      device: { host: REDACTED, port: REDACTED },
      other: 1,
    });
    // array items are path segments too
    expect(createRedactor(['list.*.code'])({ list: [{ code: 1, x: 2 }], code: 3 })).toEqual({
      list: [{ code: REDACTED, x: 2 }],
      code: 3,
    });
    // a Map's keys are keys
    expect(
      red({
        m: new Map<unknown, unknown>([
          ['serial', 'S5'],
          [7, 'seven'],
        ]),
      }),
    ).toEqual({
      m: { serial: REDACTED, 7: 'seven' },
    });
  });

  it('issue 7 item 18: an object referenced twice is shown twice; only a real cycle is [Circular]', () => {
    const shared = { a: 1 };
    const list = [1, 2];
    expect(r({ x: shared, y: shared, z: [shared, shared], l1: list, l2: list })).toEqual({
      x: { a: 1 },
      y: { a: 1 },
      z: [{ a: 1 }, { a: 1 }],
      l1: [1, 2],
      l2: [1, 2],
    });
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    cyclic.child = { parent: cyclic, sibling: shared };
    const arr: unknown[] = [1];
    arr.push(arr);
    expect(r({ cyclic, arr })).toEqual({
      cyclic: { name: 'c', self: '[Circular]', child: { parent: '[Circular]', sibling: { a: 1 } } },
      arr: [1, '[Circular]'],
    });
  });

  it('issue 7 item 18: depth is capped (default 8, configurable)', () => {
    const nest = (n: number, leaf: unknown): unknown => (n === 0 ? leaf : { n: nest(n - 1, leaf) });
    const at = (v: unknown, n: number): unknown => (n === 0 ? v : at((v as { n: unknown }).n, n - 1));
    // default: objects at depth 8 are cut, depth 7 shown
    expect(at(r(nest(7, { leaf: 1 })), 7)).toEqual({ leaf: 1 });
    expect(at(r(nest(8, { leaf: 1 })), 8)).toBe('[Object]');
    expect(at(r(nest(8, [1])), 8)).toBe('[Array]');
    expect(at(r(nest(8, 'text')), 8)).toBe('text'); // primitives are never cut by depth
    const shallow = createRedactor([], { maxDepth: 2 });
    expect(shallow({ a: { b: { c: 1 } }, l: [[1], [[2]]] })).toEqual({
      a: { b: '[Object]' },
      l: ['[Array]', '[Array]'],
    });
    expect(createRedactor([], { maxDepth: 0 })({ a: 1 })).toBe('[Object]');
  });

  it('issue 7 item 18: keys per object are capped (default 60) with a count of the rest', () => {
    const obj = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(r(obj(60)) as object)).toHaveLength(60);
    const cut = r(obj(61)) as Record<string, unknown>;
    expect(Object.keys(cut)).toHaveLength(61);
    expect(cut.k59).toBe(59);
    expect(cut.k60).toBeUndefined();
    expect(cut['…']).toBe('1 more keys');
    expect(createRedactor([], { maxKeys: 2 })({ a: 1, b: 2, c: 3, d: 4 })).toEqual({
      a: 1,
      b: 2,
      '…': '2 more keys',
    });
    expect(
      createRedactor([], { maxKeys: 2 })(
        new Map([
          ['a', 1],
          ['b', 2],
          ['c', 3],
        ]),
      ),
    ).toEqual({
      a: 1,
      b: 2,
      '…': '1 more keys',
    });
  });

  it('keys and names are text too: an object key, an error name, a symbol, a function name and a RegExp are cut and scrubbed', () => {
    // a key of 100,000 characters was sent whole (in every snapshot), and an error's name was sent as is
    const SECRET = 'Zq7SECRETxK';
    const longKey = 'k'.repeat(100_000);
    const keys = Object.keys(r({ [longKey]: 1 }) as object);
    expect(keys).toEqual([`${'k'.repeat(500)}…(100000)`]);
    const err = new Error('login failed');
    err.name = `AuthError password=${SECRET}`;
    const longName = new Error('x');
    longName.name = 'N'.repeat(100_000);
    const named = () => 1;
    Object.defineProperty(named, 'name', { value: `token=${SECRET}` });
    const shown = JSON.stringify(
      r({ err, longName, sym: Symbol(`token=${SECRET}`), named, re: new RegExp(`password=${SECRET}`) }),
    );
    expect(shown).not.toContain(SECRET);
    expect(shown.length).toBeLessThan(2000);
    expect(r(err)).toEqual({ $error: `AuthError password=${REDACTED}`, message: 'login failed' });
    // what held: short plain names are shown as they are
    expect(r({ f: function move() {}, s: Symbol('tick'), re: /ab+c/i })).toEqual({
      f: '[Function move]',
      s: 'Symbol(tick)',
      re: '/ab+c/i',
    });
  });

  it('text made of many pairs (a colon-separated hex dump) is scrubbed in linear time, secrets in it still found', () => {
    // each `de:` is a key whose bare value runs to the end of the text: scanning every value cost O(n²), about
    // 50 ms per 16 KiB text and 2.5 s for a context holding 50 of them, on the process's only thread
    const dumps = Array.from({ length: 50 }, () => 'de:'.repeat(5400));
    const t0 = performance.now();
    const shown = r({ dumps }) as { dumps: string[] };
    expect(performance.now() - t0).toBeLessThan(500);
    expect(shown.dumps[0].startsWith('de:de:')).toBe(true);
    // a sensitive pair among them (or after them) is still redacted
    expect(r(`${'de:'.repeat(50)} token=abc ${'a='.repeat(50)}password=x`)).toBe(
      `${'de:'.repeat(50)} token=${REDACTED} ${'a='.repeat(50)}password=${REDACTED}`,
    );
  });

  it('issue 7 item 18: array and set items are capped (default 50) with a count of the rest', () => {
    const arr = (n: number) => Array.from({ length: n }, (_, i) => i);
    expect(r(arr(50))).toEqual(arr(50));
    expect(r(arr(51))).toEqual([...arr(50), '…(1 more)']);
    expect(createRedactor([], { maxItems: 2 })([1, 2, 3, 4])).toEqual([1, 2, '…(2 more)']);
    expect(createRedactor([], { maxItems: 2 })(new Set(['a', 'b', 'c']))).toEqual(['a', 'b', '…(1 more)']);
    expect(r(new Set([1, 2]))).toEqual([1, 2]);
  });

  it('issue 7 item 18: strings are capped (default 500) with their length', () => {
    expect(r('x'.repeat(500))).toBe('x'.repeat(500));
    expect(r('x'.repeat(501))).toBe(`${'x'.repeat(500)}…(501)`);
    expect(createRedactor([], { maxString: 3 })({ s: 'abcdef' })).toEqual({ s: 'abc…(6)' });
    // a secret cut in the middle is still redacted
    expect(createRedactor([], { maxString: 14 })('password=hunter2')).toBe(`password=${REDACTED}…(16)`);
    // quoted: the text is scrubbed before it is cut, so no part of the secret shows (it did when cut first)
    expect(createRedactor([], { maxString: 16 })('"password":"hunter2"')).toBe(`"password":${REDACTED}…(20)`);
    const quoted = `${'x'.repeat(480)} "token":"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd"`;
    expect(r(quoted)).toBe(`${'x'.repeat(480)} "token":${REDACTED}…(${quoted.length})`);
    expect(r({ lastError: `${quoted} and more` })).toEqual({
      lastError: `${'x'.repeat(480)} "token":${REDACTED} …(${quoted.length + 9})`, // 500 characters shown
    });
    // past 16 KiB only a window is scrubbed: a sensitive value the window's end leaves open is redacted to its end
    const pad = 'y'.repeat(16 * 1024);
    const open = `${'x'.repeat(480)} "secret":"${'S'.repeat(2000)}" ${pad}`;
    expect(r(open)).toBe(`${'x'.repeat(480)} "secret":${REDACTED}…(${open.length})`);
    const nested = `${'x'.repeat(400)} config={"a": 1, 'apiKey': '${'K'.repeat(2000)}' ${pad}`;
    expect(r(nested)).toBe(`${'x'.repeat(400)} config={"a": 1, 'apiKey': ${REDACTED}…(${nested.length})`);
    const harmless = `${'x'.repeat(480)} "note":"${'n'.repeat(2000)}" ${pad}`;
    expect(r(harmless)).toBe(`${harmless.slice(0, 500)}…(${harmless.length})`);
    // JSON text that needed redaction is cut after it
    const json = createRedactor([], { maxString: 20 })(JSON.stringify({ token: 't', pad: 'y'.repeat(40) }));
    expect(json).toMatch(/^\{"token":"\[REDACTED\]…\(\d+\)$/);
  });

  it('issue 7 item 18: the total number of values is capped (default 2000)', () => {
    const arr = Array.from({ length: 40 }, () => Array.from({ length: 49 }, (_, i) => i));
    // 1 outer array + 40 inner arrays + 40 × 49 numbers = 2001 values: the very last one is cut
    const out = r(arr) as unknown[][];
    expect(out[0]).toEqual(arr[0]);
    expect(out[39][47]).toBe(47);
    expect(out[39][48]).toBe('[…]');
    const small = createRedactor([], { maxNodes: 3 });
    expect(small({ a: 1, b: 2, c: 3 })).toEqual({ a: 1, b: 2, c: '[…]' });
    expect(small([[1, 2], 3])).toEqual([[1, '[…]'], '[…]']);
  });

  it('issue 7 item 18: values that are not plain data have a fixed shape', () => {
    const machine = setup({}).createMachine({ id: 'm', initial: 'a', states: { a: {} } });
    const actor = createActor(machine);
    const ac = new AbortController();
    ac.abort();
    const err = Object.assign(new TypeError('bad token=abc'), { code: 'E_BAD' });
    expect(
      r({
        nan: Number.NaN,
        inf: Number.POSITIVE_INFINITY,
        n: 1.5,
        b: false,
        nul: null,
        und: undefined,
        big: 12n,
        sym: Symbol('s'),
        fn: function named() {},
        anon: () => {},
        date: new Date(0),
        bad: new Date(Number.NaN),
        re: /x+/g,
        bytes: new Uint8Array(3),
        buf: new ArrayBuffer(4),
        promise: Promise.resolve(1),
        wm: new WeakMap(),
        ws: new WeakSet(),
        signal: ac.signal,
        open: new AbortController().signal,
        actor,
        machine,
        err,
        plain: new Error('no code'),
        holes: [undefined, 1],
      }),
    ).toEqual({
      nan: 'NaN',
      inf: 'Infinity',
      n: 1.5,
      b: false,
      nul: null,
      und: undefined,
      big: '12n',
      sym: 'Symbol(s)',
      fn: '[Function named]',
      anon: '[Function anon]',
      date: '1970-01-01T00:00:00.000Z',
      bad: 'Invalid Date',
      re: '/x+/g',
      bytes: '[Uint8Array(3)]',
      buf: '[ArrayBuffer(4)]',
      promise: '[Promise]',
      wm: '[WeakMap]',
      ws: '[WeakSet]',
      signal: { $signal: true },
      open: { $signal: false },
      actor: { $actor: actor.id },
      machine: { $logic: 'm' },
      err: { $error: 'TypeError', message: `bad token=${REDACTED}`, code: 'E_BAD' },
      plain: { $error: 'Error', message: 'no code' },
      holes: [null, 1],
    });
    expect(r((() => () => {})())).toBe('[Function anonymous]');
    // only a real actor ref or actor logic is summarised; objects with some of their members are data
    const fn = () => {};
    // (a session id is a secret itself)
    expect(r({ sessionId: 's', send: fn })).toEqual({ sessionId: REDACTED, send: '[Function fn]' });
    expect(r({ sessionId: 's', getSnapshot: fn })).toEqual({
      sessionId: REDACTED,
      getSnapshot: '[Function fn]',
    });
    expect(r({ sessionId: 1, send: fn, getSnapshot: fn })).toEqual({
      sessionId: REDACTED,
      send: '[Function fn]',
      getSnapshot: '[Function fn]',
    });
    expect(r({ transition: fn })).toEqual({ transition: '[Function fn]' });
    expect(r({ getInitialSnapshot: fn })).toEqual({ getInitialSnapshot: '[Function fn]' });
    expect(r(fromPromise(async () => 1))).toEqual({ $logic: 'anonymous' });
    // an error without a code has no code key at all
    expect(Object.keys(r(new Error('x')) as object)).toEqual(['$error', 'message']);
    expect(Object.keys(r({ und: undefined }) as object)).toEqual(['und']);
  });

  it('issue 7 item 18: key/value pairs given as arrays are redacted like keys', () => {
    expect(
      r({
        headers: [
          ['Authorization', 'Bearer abc'],
          ['Host', 'plc'],
          ['X-Api-Key', { k: 1 }],
        ],
        flat: ['Host', 'plc', 'Cookie', 'sid=1', 'Accept', '*/*'],
        words: ['the token', 'is fine'],
      }),
    ).toEqual({
      headers: [
        ['Authorization', REDACTED],
        ['Host', 'plc'],
        ['X-Api-Key', REDACTED],
      ],
      flat: ['Host', 'plc', 'Cookie', REDACTED, 'Accept', '*/*'],
      words: ['the token', 'is fine'],
    });
  });

  it('issue 7 item 7: secrets inside strings are redacted (key=value, key: value, JSON, bearer, JWT, URL userinfo)', () => {
    const cases: Array<[string, string]> = [
      ['password=hunter2', `password=${REDACTED}`],
      ['login failed: password=hunter2 user=bob', `login failed: password=${REDACTED} user=bob`],
      ['token: abc, mode: auto', `token: ${REDACTED}, mode: auto`],
      ['PRIV_KEY = k1; next', `PRIV_KEY = ${REDACTED}; next`],
      ['db.password=x', `db.password=${REDACTED}`],
      ['cfg.pin=1234 spin=3', `cfg.pin=${REDACTED} spin=3`],
      ['pin=1 spin=2 passive=yes pass=3', `pin=${REDACTED} spin=2 passive=yes pass=${REDACTED}`],
      ['{"token":"abc","user":"ops"', `{"token":${REDACTED},"user":"ops"`],
      [`{'secret': 'abc'}`, `{'secret': ${REDACTED}}`],
      ['args: {\\"token\\":\\"abc\\"}', `args: {\\"token\\":${REDACTED}}`],
      ['"credentials": {"user": "a", "pw": "b"} ok', `"credentials": ${REDACTED} ok`],
      ['"apiKeys": ["a", "b"] ok', `"apiKeys": ${REDACTED} ok`],
      ['Authorization: Bearer abc.def', `Authorization: ${REDACTED}`],
      ['Authorization: Basic dXNlcjpwYXNz', `Authorization: ${REDACTED}`],
      ['sent Bearer abc.def-ghi to the device', `sent Bearer ${REDACTED} to the device`],
      ['sent Bearer   abc to the device', `sent Bearer ${REDACTED} to the device`],
      ['Authorization: Bearer  abc', `Authorization: ${REDACTED}`],
      ['header Basic  dXNlcjpwYXNzd29yZA== sent', `header Basic ${REDACTED} sent`],
      ['https://ops:pw@plc.example/x', `https://ops:${REDACTED}@plc.example/x`],
      ['header Basic dXNlcjpwYXNzd29yZA== sent', `header Basic ${REDACTED} sent`],
      ['basic checks failed', 'basic checks failed'],
      ['see https://ops:pw@plc.example/x', `see https://ops:${REDACTED}@plc.example/x`],
      ['ftp://anon@plc.example/', 'ftp://anon@plc.example/'],
      ['token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln here', `token ${REDACTED} here`],
      ['nothing here: mode=auto, at 12:30', 'nothing here: mode=auto, at 12:30'],
      ['', ''],
    ];
    for (const [input, expected] of cases) expect(r(input), input).toBe(expected);
  });

  it('issue 7 item 7: a string holding JSON is parsed and redacted as a value; otherwise kept verbatim', () => {
    expect(r('[0, {"token": "t0k", "ok": true}]')).toBe(`[0,{"token":"${REDACTED}","ok":true}]`);
    expect(r('  {"nested": "{\\"password\\": \\"x\\"}"}')).toBe(
      `{"nested":"{\\"password\\":\\"${REDACTED}\\"}"}`,
    );
    expect(r('[0, "scan done"]')).toBe('[0, "scan done"]'); // nothing to redact: the text as it was
    expect(r('{not json, token=abc}')).toBe(`{not json, token=${REDACTED}}`);
    expect(r('[1, 2')).toBe('[1, 2');
    expect(r('{"serial": 1}')).toBe('{"serial": 1}');
    expect(createRedactor(['serial'])('{"serial": 1}')).toBe(`{"serial":"${REDACTED}"}`);
    const big = JSON.stringify({ token: 'abc', pad: 'x'.repeat(17_000) });
    expect(createRedactor([], { maxString: 30 })(big)).toBe(
      `{"token":${REDACTED},"pad":"xxx…(${big.length})`,
    );
    expect(r('{}')).toBe('{}');
    // a secret in a nested string counts: the JSON is redacted as a value (and re-serialised)
    expect(r('{"note": "password=x"}')).toBe(`{"note":"password=${REDACTED}"}`);
    // a long nested string with no secret: the text as it was, cut
    const long = `{"a": "${'x'.repeat(600)}"}`;
    expect(r(long)).toBe(`${long.slice(0, 500)}…(${long.length})`);
    // JSON texts up to 16 KiB are parsed; longer ones are scrubbed as text
    const sized = (n: number) => {
      const head = '{"token":"abc","pad":"';
      return `${head}${'p'.repeat(n - head.length - 2)}"}`;
    };
    const lim = createRedactor([], { maxString: 30 });
    expect(sized(16 * 1024)).toHaveLength(16 * 1024);
    expect(lim(sized(16 * 1024))).toMatch(/^\{"token":"\[REDACTED\]","pad"/);
    expect(lim(sized(16 * 1024 + 1))).toMatch(/^\{"token":\[REDACTED\],"pad"/);
  });

  it('issue 7 item 2: a value that cannot be read becomes [unreadable]; the rest is shown', () => {
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const throwing = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    const getter = {
      get boom(): unknown {
        throw new Error('no');
      },
      ok: 1,
    };
    const badMap = new Map([['a', 1]]);
    badMap.entries = () => {
      throw new Error('no entries');
    };
    const badArray = new Proxy([1, 2, 3], {
      get(target, key) {
        if (key === '1') throw new Error('no item');
        return Reflect.get(target, key);
      },
    });
    const badError = new Error('x');
    Object.defineProperty(badError, 'message', {
      get() {
        throw new Error('no message');
      },
    });
    expect(r({ revoked, throwing, getter, badMap, badArray, badError, fine: 'yes' })).toEqual({
      revoked: UNREADABLE,
      throwing: UNREADABLE,
      getter: { boom: UNREADABLE, ok: 1 },
      badMap: UNREADABLE,
      badArray: [1, UNREADABLE, 3],
      badError: { $error: 'Error', message: UNREADABLE },
      fine: 'yes',
    });
    expect(r(revoked)).toBe(UNREADABLE);
  });

  it('issue 7 item 18: a __proto__ key is shown as a key, never as a prototype', () => {
    const out = r(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'a']);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":true},"a":1}');
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')).toMatchObject({
      enumerable: true,
      writable: true,
      configurable: true,
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('issue 7 item 18: copyStateValue copies state values without redacting names', () => {
    expect(copyStateValue('token')).toBe('token');
    expect(copyStateValue({ running: { token: 'idle' } })).toEqual({ running: { token: 'idle' } });
    expect(copyStateValue(undefined)).toBeNull();
    expect(copyStateValue(null)).toBeNull();
    expect(copyStateValue(3)).toBe('3');
    expect(copyStateValue('')).toBe('');
    expect(copyStateValue({ a: 1 })).toEqual({ a: '1' });
    const deep = (n: number): unknown => (n === 0 ? 'leaf' : { s: deep(n - 1) });
    const walk = (v: unknown, n: number): unknown => (n === 0 ? v : walk((v as { s: unknown }).s, n - 1));
    const original = deep(25);
    const copy = copyStateValue(original);
    expect(walk(copy, 20)).toEqual({ s: '[…]' }); // copied down to depth 20
    // and cut below (kept as is, a cycle or a BigInt there made the whole batch impossible to serialise)
    expect(walk(copy, 21)).toBe('[…]');
  });

  it('copyStateValue is bounded, JSON-safe and never throws (hand-written logic keeps anything as its value)', () => {
    const cyclic: Record<string, unknown> = { a: 'b' };
    cyclic.self = cyclic;
    expect(() => JSON.stringify(copyStateValue(cyclic))).not.toThrow();
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(copyStateValue({ p: proxy })).toEqual({ p: UNREADABLE });
    expect(copyStateValue({ f: () => 'secret source' })).toEqual({ f: '[Function]' });
    expect(copyStateValue({ n: 10n })).toEqual({ n: '10' });
    expect(String(copyStateValue('x'.repeat(10_000))).length).toBeLessThan(300);
    let shared: unknown = 'leaf';
    for (let i = 0; i < 18; i++) shared = { a: shared, b: shared };
    expect(JSON.stringify(copyStateValue(shared)).length).toBeLessThan(100_000);
  });
});
