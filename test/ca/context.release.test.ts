/**
 * A Context's sockets and timers: `unref()` lets a script exit by itself (the sync API's default Context is
 * unref'd), and `disconnect()` / `SearchEngine.close()` resolve only once every socket is released. Each check runs
 * the client in a child Node process (`node --import tsx`) against a CaServer in this process, and reads the
 * child's own active handles (`process.getActiveResourcesInfo()`): nothing else lives there.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CaServer } from '../../src/protocols/ca/server.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const root = fileURLToPath(new URL('../../', import.meta.url));

async function server(): Promise<CaServer> {
  const s = await CaServer.start({
    port: 0,
    interfaces: ['127.0.0.1'],
    beaconAddresses: [],
    pvs: [
      { name: 'rel:x', type: 'double', value: 2.5 },
      { name: 'rel:wave', type: 'long', value: [1, 2, 3] },
    ],
  });
  cleanups.push(() => s.close());
  return s;
}

/** Runs `code` (an ES module body) in a child Node with tsx; resolves with its exit code and output. */
function runChild(
  code: string,
  port: number,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: root,
      env: {
        ...process.env,
        EPICS_CA_ADDR_LIST: `127.0.0.1:${port}`,
        EPICS_CA_AUTO_ADDR_LIST: 'NO',
        // a repeater port of nobody's: the beacon fallback listener binds it in the child
        EPICS_CA_REPEATER_PORT: String(20_000 + Math.floor(Math.random() * 20_000)),
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    // a hung child is the failure this test looks for: end it (the test then fails on its exit code)
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (exitCode) => {
      clearTimeout(guard);
      resolve({ code: exitCode, out, err });
    });
  });
}

const sources = (file: string) => JSON.stringify(`${root}src/protocols/ca/${file}`);
/** The child's sockets and timers (resource names as Node reports them). */
const handlesLine = `console.log('HANDLES ' + JSON.stringify(process.getActiveResourcesInfo().filter((r) => /TCP|UDP|Timeout|Immediate/.test(r))));`;

describe('issue 11 item 3: a Context lets the process go', () => {
  it('issue 11 item 3: a script reading through the sync API exits by itself, without closeDefaultContext', async () => {
    const s = await server();
    const code = `
      import { read } from ${sources('sync.ts')};
      const r = await read('rel:x', { timeout: 20000 });
      console.log('VALUE ' + r.data[0]);
    `;
    const result = await runChild(code, s.port);
    expect(result.err).not.toMatch(/Error/);
    expect(result.out).toContain('VALUE 2.5');
    expect(result.code).toBe(0);
  }, 90_000);

  it('issue 11 item 3: Context({ unref: true }) with a live monitor lets the script end; disconnect() was not needed', async () => {
    const s = await server();
    // a monitor alone does not keep the script alive: it waits for its update with a timer of its own
    const code = `
      import { Context } from ${sources('context.ts')};
      const context = new Context({ unref: true });
      const sub = context.getPv('rel:wave').subscribe();
      const keep = setTimeout(() => {}, 60000);
      await new Promise((resolve) => sub.addCallback((_s, r) => { console.log('UPDATE ' + Array.from(r.data).join(',')); resolve(); }));
      clearTimeout(keep);
      console.log('UNREFD ' + context.unrefd);
    `;
    const result = await runChild(code, s.port);
    expect(result.out).toContain('UPDATE 1,2,3');
    expect(result.out).toContain('UNREFD true');
    expect(result.code).toBe(0);
  }, 90_000);
});

describe('a wait without a deadline keeps the process alive', () => {
  it("read, write and waitForConnection with an infinite timeout on unref'd Contexts wait for their answer, then let go", async () => {
    const s = await server();
    // with timeout Infinity no deadline timer is armed: nothing held the process, and it ended before the reply
    const code = `
      import { read, write } from ${sources('sync.ts')};
      import { Context } from ${sources('context.ts')};
      const r = await read('rel:x', { timeout: Infinity });
      console.log('VALUE ' + r.data[0]);
      const w = await write('rel:x', 3.5, { notify: true, timeout: Infinity });
      console.log('WRITTEN ' + w.status);
      const context = new Context({ unref: true });
      await context.getPv('rel:wave').waitForConnection({ timeout: null });
      console.log('CONNECTED');
    `;
    const result = await runChild(code, s.port);
    expect(result.err).not.toMatch(/Error/);
    expect(result.out).toContain('VALUE 2.5');
    expect(result.out).toContain('WRITTEN 1');
    expect(result.out).toContain('CONNECTED');
    expect(result.code).toBe(0);
  }, 90_000);
});

describe('a running block keeps the process alive', () => {
  it('block(sub) without a duration on the default Context runs until interrupted, as caproto blocks', async () => {
    const s = await server();
    // the interrupt's timer is unref'd: only the running block may keep the script alive until it fires
    const code = `
      import { block, subscribe } from ${sources('block.ts')};
      const sub = subscribe('rel:x');
      let running;
      sub.addCallback((_s, r) => {
        console.log('UPDATE ' + r.data[0]);
        setTimeout(() => running.interrupt(), 300).unref();
      });
      running = block(sub, { timeout: 20000 });
      const result = await running;
      console.log('ENDED ' + result.reason);
    `;
    const result = await runChild(code, s.port);
    expect(result.err).not.toMatch(/Error/);
    expect(result.out).toContain('UPDATE 2.5');
    expect(result.out).toContain('ENDED interrupted');
    expect(result.code).toBe(0);
  }, 90_000);
});

describe('issue 11 item 2: disconnect releases every socket and timer before it resolves', () => {
  it('issue 11 item 2: after await disconnect() the process holds no socket and no timer of the context', async () => {
    const s = await server();
    const code = `
      import { Context } from ${sources('context.ts')};
      const context = new Context();
      const pv = context.getPv('rel:x');
      const sub = pv.subscribe();
      sub.addCallback(() => {});
      await pv.read({ timeout: 20000 });
      context.getPv('rel:missing'); // still searching at disconnect
      ${handlesLine.replace('HANDLES', 'BEFORE')}
      await context.disconnect();
      ${handlesLine}
      process.exit(0);
    `;
    const result = await runChild(code, s.port);
    expect(result.code).toBe(0);
    const before = JSON.parse(/BEFORE (.*)/.exec(result.out)?.[1] ?? 'null') as string[];
    expect(before).toContain('TCPSocketWrap');
    expect(before).toContain('UDPWrap');
    expect(JSON.parse(/HANDLES (.*)/.exec(result.out)?.[1] ?? 'null')).toEqual([]);
  }, 90_000);

  it("issue 11 item 2: an unref'd Context with name-server links (one refused, retrying) lets the script end", async () => {
    const s = await server();
    const code = `
      import { Context } from ${sources('context.ts')};
      const context = new Context({ unref: true, addressList: [], nameServers: ['127.0.0.1:' + process.env.NS_PORT, '127.0.0.1:1'] });
      const r = await context.getPv('rel:x').read({ timeout: 20000 });
      console.log('VALUE ' + r.data[0]);
    `;
    const result = await runChild(code, s.port, { NS_PORT: String(s.port) });
    expect(result.out).toContain('VALUE 2.5');
    expect(result.code).toBe(0);
  }, 90_000);

  it('issue 11 item 2: disconnect() also releases the name-server links, connected or waiting to reconnect', async () => {
    const s = await server();
    // one name server up (the CaServer), one refused (port 1): its link sits in the back-off timer
    const code = `
      import { Context } from ${sources('context.ts')};
      const context = new Context({ addressList: [], nameServers: ['127.0.0.1:' + process.env.NS_PORT, '127.0.0.1:1'] });
      const pv = context.getPv('rel:x');
      const r = await pv.read({ timeout: 20000 });
      console.log('VALUE ' + r.data[0]);
      context.getPv('rel:missing'); // still searching at disconnect
      await new Promise((resolve) => setTimeout(resolve, 300));
      ${handlesLine.replace('HANDLES', 'BEFORE')}
      await context.disconnect();
      ${handlesLine}
      process.exit(0);
    `;
    const result = await runChild(code, s.port, { NS_PORT: String(s.port) });
    expect(result.code).toBe(0);
    expect(result.out).toContain('VALUE 2.5');
    const before = JSON.parse(/BEFORE (.*)/.exec(result.out)?.[1] ?? 'null') as string[];
    expect(before.filter((r) => r === 'TCPSocketWrap').length).toBeGreaterThanOrEqual(2); // link + circuit
    expect(JSON.parse(/HANDLES (.*)/.exec(result.out)?.[1] ?? 'null')).toEqual([]);
  }, 90_000);

  it('issue 11 item 2: SearchEngine.close() resolves once its UDP sockets are closed, also during its bind', async () => {
    const s = await server();
    const code = `
      import { SearchEngine } from ${sources('search.ts')};
      import { clientConfigFromEnv } from ${sources('addressList.ts')};
      import { realClock } from ${JSON.stringify(`${root}src/engine/clock.ts`)};
      const config = clientConfigFromEnv(process.env);
      const started = new SearchEngine({ config, clock: realClock });
      await started.start();
      started.add(1, 'rel:x');
      await new Promise((resolve) => started.onResult(resolve));
      const binding = new SearchEngine({ config, clock: realClock });
      void binding.start();
      await Promise.all([started.close(), binding.close()]);
      ${handlesLine}
      process.exit(0);
    `;
    const result = await runChild(code, s.port);
    expect(result.code).toBe(0);
    expect(JSON.parse(/HANDLES (.*)/.exec(result.out)?.[1] ?? 'null')).toEqual([]);
  }, 90_000);
});
