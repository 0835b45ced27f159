/**
 * `startInspector(system)`: Orrery's offline inspector. An HTTP server (node:http) serves the page from
 * `visualizations/inspector/` and the statecharts; a WebSocket endpoint (`/ws`) sends a full snapshot of every live
 * actor, then batches of changes. Loopback only unless `allowRemote`; read-only unless `readOnly: false`.
 *
 * Backpressure: the engine never waits on a socket. Each client has bounded queues (log lines: drop oldest;
 * actor changes: coalesced per actor, and past a bound the client is resynchronised with a fresh snapshot
 * instead); nothing is written to a socket whose send buffer is above the high-water mark.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type WebSocket, WebSocketServer } from 'ws';
import type { OrrerySystem } from '../engine/system.js';
import { InvalidArgumentError } from '../errors.js';
import { ChartRegistry } from './charts.js';
import { createRedactor } from './redact.js';
import { type ActorView, type Batch, type EngineView, type EventView, Ring, Tracker } from './tracker.js';

export interface InspectorOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Address to bind; '127.0.0.1' by default. */
  host?: string;
  /** Required to bind anything but a loopback address. */
  allowRemote?: boolean;
  /** When false, the page may send events to actors by systemId. Default true. */
  readOnly?: boolean;
  /** Extra keys (`'pin'`) or dotted paths (`'device.host'`, `'params.*.pin'`) to redact. */
  redact?: string[];
  /** Events per second forwarded to pages; the rest is counted as dropped. Default 5000. */
  maxEventsPerSecond?: number;
  /** Log lines kept per client and between flushes. Default 1000. */
  bufferSize?: number;
  /** Batch interval in milliseconds. Default 100. */
  batchIntervalMs?: number;
  /** Largest accepted client message in bytes. Default 64 KiB. */
  maxPayload?: number;
  /** Nothing more is written to a client whose socket holds more unsent bytes than this. Default 1 MiB. */
  highWaterMark?: number;
}

export interface InspectorStats {
  clients: Array<{ bufferedAmount: number; queuedEvents: number; queuedActors: number; dropped: number }>;
  liveActors: number;
}

export interface Inspector {
  url: string;
  close(): Promise<void>;
  stats(): InspectorStats;
}

const MAX_PENDING_ACTORS = 5000;
const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
  '/panels.js': 'panels.js',
};
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function findAssets(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'visualizations', 'inspector');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('inspector assets (visualizations/inspector) not found');
}

class Client {
  readonly events: Ring<EventView>;
  readonly actors = new Map<string, ActorView | { key: string; stopped: true }>();
  engine: EngineView[] = [];
  dropped = 0;
  resync = true;
  malformed = 0;
  constructor(
    readonly ws: WebSocket,
    bufferSize: number,
  ) {
    this.events = new Ring(bufferSize);
  }
  enqueue(batch: Batch): void {
    if (this.resync) return;
    for (const a of batch.actors) this.actors.set(a.key, a);
    for (const key of batch.stopped) this.actors.set(`stop:${key}`, { key, stopped: true });
    for (const e of batch.events) this.events.push(e);
    this.engine.push(...batch.engine);
    if (this.engine.length > 1000) this.engine.splice(0, this.engine.length - 1000);
    this.dropped += batch.dropped;
    if (this.actors.size > MAX_PENDING_ACTORS) {
      this.resync = true;
      this.actors.clear();
      this.events.drain();
      this.engine = [];
    }
  }
}

/** Serve the inspector for `system`. Resolves once listening. */
export async function startInspector(
  system: OrrerySystem,
  options: InspectorOptions = {},
): Promise<Inspector> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!isLoopback(host) && !options.allowRemote) {
    throw new InvalidArgumentError(
      `refusing to bind the inspector to non-loopback address '${host}' without allowRemote: true`,
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(`invalid port ${port}`);
  const readOnly = options.readOnly ?? true;
  const bufferSize = Math.max(10, options.bufferSize ?? 1000);
  const interval = Math.max(10, options.batchIntervalMs ?? 100);
  const highWater = options.highWaterMark ?? 1 << 20;
  const assets = findAssets();
  const charts = new ChartRegistry();
  const tracker = new Tracker(system, {
    redact: createRedactor(options.redact ?? []),
    charts,
    bufferSize,
    maxEventsPerSecond: options.maxEventsPerSecond ?? 5000,
  });
  const clients = new Set<Client>();
  let timer: NodeJS.Timeout | undefined;
  let boundPort = port;

  const allowedHost = (h: string | undefined): boolean => {
    if (options.allowRemote) return true;
    if (!h) return false;
    const name = h.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    return isLoopback(name);
  };

  const server = createServer((req, res) => {
    handleHttp(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end('internal error');
      else res.destroy();
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!allowedHost(req.headers.host)) return void res.writeHead(421).end('misdirected request');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const headers = {
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    };
    const asset = ASSETS[path];
    if (asset) {
      const body = await readFile(join(assets, asset));
      res.writeHead(200, { ...headers, 'content-type': TYPES[asset.split('.').pop()!] });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    const m = /^\/charts\/([A-Za-z0-9_.-]{1,100})\.svg$/.exec(path);
    if (m) {
      const svg = charts.svg(m[1]);
      if (!svg) return void res.writeHead(404, headers).end('unknown chart');
      const body = await svg;
      res.writeHead(200, { ...headers, 'content-type': 'image/svg+xml; charset=utf-8' });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    if (path === '/healthz') return void res.writeHead(200, headers).end('ok');
    res.writeHead(404, headers).end('not found');
  }

  const wss = new WebSocketServer({
    server,
    path: '/ws',
    maxPayload: options.maxPayload ?? 64 * 1024,
    perMessageDeflate: false,
    verifyClient: ({ req, origin }: { req: IncomingMessage; origin: string }) => {
      if (!allowedHost(req.headers.host)) return false;
      if (!origin) return true; // not a browser
      try {
        return new URL(origin).host === req.headers.host;
      } catch {
        return false;
      }
    },
  });

  const send = (client: Client, msg: unknown) => {
    if (client.ws.readyState === client.ws.OPEN) client.ws.send(JSON.stringify(msg));
  };

  const hello = (client: Client) => {
    client.resync = false;
    client.actors.clear();
    client.events.drain();
    client.engine = [];
    send(client, { type: 'hello', protocol: 1, readOnly, charts: charts.keys(), ...tracker.snapshot() });
  };

  const tick = () => {
    const batch = tracker.flush();
    for (const c of clients) {
      c.enqueue(batch);
      if (c.ws.bufferedAmount > highWater) continue;
      if (c.resync) {
        hello(c);
        continue;
      }
      if (c.actors.size === 0 && c.events.size === 0 && c.engine.length === 0 && c.dropped === 0) continue;
      const actors: ActorView[] = [];
      const stopped: string[] = [];
      for (const a of c.actors.values()) {
        if ('stopped' in a) stopped.push(a.key);
        else actors.push(a);
      }
      const dropped = c.dropped + c.events.dropped;
      send(c, {
        type: 'batch',
        t: Date.now(),
        actors,
        stopped,
        events: c.events.drain(),
        engine: c.engine,
        dropped,
      });
      c.actors.clear();
      c.engine = [];
      c.dropped = 0;
      c.events.dropped = 0;
    }
  };

  const onMessage = (client: Client, data: unknown, isBinary: boolean) => {
    const reject = (message: string) => {
      send(client, { type: 'error', message });
      if (++client.malformed >= 20) client.ws.close(1008, 'too many malformed messages');
    };
    if (isBinary) return reject('binary messages are not accepted');
    let msg: unknown;
    try {
      msg = JSON.parse(String(data));
    } catch {
      return reject('malformed message: not JSON');
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg))
      return reject('malformed message: not an object');
    const m = msg as { type?: unknown; systemId?: unknown; event?: unknown; id?: unknown };
    switch (m.type) {
      case 'ping':
        return send(client, { type: 'pong' });
      case 'resync':
        client.resync = true;
        return;
      case 'send': {
        if (readOnly) return send(client, { type: 'error', message: 'inspector is read-only', id: m.id });
        const ev = m.event as { type?: unknown } | null;
        if (typeof m.systemId !== 'string' || !ev || typeof ev !== 'object' || typeof ev.type !== 'string') {
          return reject('malformed send: needs systemId and event {type}');
        }
        if (ev.type.startsWith('xstate.') || ev.type.length > 200) {
          return send(client, { type: 'error', message: `event type '${ev.type}' not allowed`, id: m.id });
        }
        const target = system.get(m.systemId);
        if (!target) return send(client, { type: 'error', message: `no actor '${m.systemId}'`, id: m.id });
        target.send(ev as { type: string });
        return send(client, { type: 'ack', id: m.id });
      }
      default:
        return reject(`unknown message type '${String(m.type)}'`);
    }
  };

  wss.on('connection', (ws) => {
    const client = new Client(ws, bufferSize);
    if (clients.size === 0) {
      tracker.start();
      timer = setInterval(tick, interval);
    }
    tick(); // bring the table up to date (and existing clients with it) before the snapshot
    clients.add(client);
    hello(client);
    ws.on('message', (data, isBinary) => onMessage(client, data, isBinary));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      clients.delete(client);
      if (clients.size === 0) {
        clearInterval(timer);
        timer = undefined;
        tracker.stop();
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      if (addr && typeof addr === 'object') boundPort = addr.port;
      resolve();
    });
  });

  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${boundPort}/`,
    stats: () => ({
      liveActors: tracker.liveCount,
      clients: [...clients].map((c) => ({
        bufferedAmount: c.ws.bufferedAmount,
        queuedEvents: c.events.size,
        queuedActors: c.actors.size,
        dropped: c.dropped + c.events.dropped,
      })),
    }),
    close: () => {
      closed ??= (async () => {
        clearInterval(timer);
        timer = undefined;
        tracker.dispose();
        for (const c of clients) c.ws.terminate();
        clients.clear();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closed;
    },
  };
}
