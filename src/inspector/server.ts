/**
 * `startInspector(system)`: Orrery's offline inspector. An HTTP server (node:http) serves the page from
 * `visualizations/inspector/` and the statecharts; a WebSocket endpoint (`/ws`) sends a full snapshot of every live
 * actor, then batches of changes.
 *
 * Security model:
 * - Loopback only unless `allowRemote`. Every HTTP request and WebSocket upgrade must carry a `Host` naming an
 *   allowed host (the bind address, localhost, 127.0.0.1, [::1], the machine's own addresses when bound to a
 *   wildcard address with `allowRemote`, and `allowedHosts`), so a DNS-rebinding page (evil.example resolving to
 *   the inspector) gets 421. A WebSocket opened by a browser must come from the inspector's own origin.
 * - Read-only unless `readOnly: false`. Read-write lets the page send a state machine one of the events that
 *   machine declares, with a checked JSON payload (an `error` field becomes an `InspectorEventError`); never to
 *   supervisors or non-machine engine actors, never XState's own events.
 * - Everything sent passes the redactor (`redact.ts`).
 *
 * Backpressure: the engine never waits on a socket. Each batch (and each snapshot) is serialised once and the same
 * buffer goes to every client. A client whose socket holds more than `highWaterMark` unsent bytes gets the batches
 * queued (shared buffers, in order); once its queue passes `highWaterMark` bytes too it is dropped and the client
 * gets a fresh snapshot when its socket drains (it loses old log lines, never the current state). Every frame
 * written to a client, replies included, counts against `maxClientBuffer` too: a reply that would pass it (a client
 * flooding requests and never reading) closes the client with 1013; a batch or snapshot that would pass it waits
 * (queued, or the snapshot deferred) until the socket drains, so a page that fell behind is not closed. Malformed or
 * refused messages count towards a limit that closes the client with 1008. At most `maxClients` pages at once (one
 * more gets 503 at the upgrade), an HTTP connection idle for `idleTimeoutMs` before or inside a request is closed,
 * and a page that leaves a ping unanswered for `stallTimeoutMs` (it does not read) is closed with 1013, so
 * connections and pages opened and abandoned pin nothing, and hold no slot, for long.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AnyActorRef, AnyStateMachine } from 'xstate';
import { supervisorMachine } from '../../machines/core/supervisor.js';
import { logicOf } from '../../machines/core/xstateAdapter.js';
import {
  InspectorEventError,
  InvalidArgumentError,
  ListenError,
  OrreryError,
  PortInUseError,
  toError,
} from '../errors.js';
import { machineEventTypes } from '../testing/transitionCoverage.js';
import { isLoopback } from '../transport/address.js';
import { CHART_ID_RE, ChartRegistry } from './charts.js';
import { positiveInteger, timerMs } from './optionChecks.js';
import { createRedactor } from './redact.js';
import { type InspectedSystem, Tracker } from './tracker.js';

export interface InspectorOptions {
  /** TCP port; 0 (default) picks a free one. A port in use rejects with `PortInUseError`. */
  port?: number;
  /** Address to bind; '127.0.0.1' by default. */
  host?: string;
  /** Required to bind anything but a loopback address. */
  allowRemote?: boolean;
  /**
   * More host names the page may be reached by (the `Host` header), e.g. `['observatory.example.org']` behind a
   * name. The bind address, localhost, 127.0.0.1 and [::1] are always allowed.
   */
  allowedHosts?: string[];
  /** When false, the page may send a machine the events it declares. Default true. */
  readOnly?: boolean;
  /** Extra keys (`'pin'`) or dotted paths (`'device.host'`, `'params.*.pin'`) to redact. */
  redact?: string[];
  /** Events per second forwarded to pages; the rest is counted as dropped. Default 5000. */
  maxEventsPerSecond?: number;
  /** Log lines kept between flushes (oldest dropped) and replayed to a page that connects (up to 500). Default 1000. */
  bufferSize?: number;
  /** Batch interval in milliseconds (at most 2^31 - 1, Node's timer limit). Default 100. */
  batchIntervalMs?: number;
  /** Largest accepted client message in bytes. Default 64 KiB. */
  maxPayload?: number;
  /**
   * No batch is written to a client whose socket holds more unsent bytes than this; batches queued for it past
   * this many bytes are dropped for a fresh snapshot. Default 1 MiB.
   */
  highWaterMark?: number;
  /**
   * A client whose unsent frames (batches and replies, each counted with a small per-frame overhead) would pass
   * this many bytes with a reply is closed (1013); a batch or snapshot waits instead. Default 4 × highWaterMark;
   * at least highWaterMark.
   */
  maxClientBuffer?: number;
  /**
   * Pages (WebSocket clients) served at once; one more gets HTTP 503 at the upgrade. Each page may hold up to
   * about 2 × highWaterMark of unsent data, so this bounds what pages opened and abandoned can pin. Default 32.
   */
  maxClients?: number;
  /**
   * An HTTP connection that sends nothing for this many milliseconds (no request yet, or one stalled half-way)
   * is closed (at most 2^31 - 1, Node's timer limit). WebSocket pages are not affected. Default 10000.
   */
  idleTimeoutMs?: number;
  /**
   * A page that has not read what it was sent for this many milliseconds (it leaves a WebSocket ping unanswered
   * that long: the ping waits behind everything sent before it) is closed with 1013 and its slot freed, so pages
   * that never read cannot hold every `maxClients` slot. At most 2^31 - 1. Default 30000.
   */
  stallTimeoutMs?: number;
}

export interface InspectorStats {
  /**
   * Per page: unsent bytes in its socket, batches queued for it (bytes, log lines) while its socket is above the
   * high-water mark, and log lines it lost when it fell so far behind that it was sent a fresh snapshot instead.
   */
  clients: Array<{
    bufferedAmount: number;
    queuedBytes: number;
    queuedEvents: number;
    dropped: number;
    closing: boolean;
  }>;
  liveActors: number;
}

export interface Inspector {
  url: string;
  close(): Promise<void>;
  stats(): InspectorStats;
}

/** How long a closed client may take to answer the close frame before its socket is destroyed. */
const CLOSE_GRACE_MS = 1000;
/** Client messages refused (malformed, read-only, not allowed) before the client is closed with 1008. */
const MAX_REFUSED = 20;
/** Longest `id` echoed back in a reply. */
const MAX_ID_LENGTH = 128;
/** How often a page is pinged to tell whether it still reads (more often when `stallTimeoutMs` is shorter). */
const PING_EVERY_MS = 5000;
/** Bytes charged per frame on top of its length (per-write bookkeeping), so floods of tiny replies are bounded. */
const FRAME_OVERHEAD = 256;
/** Nesting and size limits of an event payload sent by the page. */
const MAX_PAYLOAD_DEPTH = 10;
const MAX_PAYLOAD_NODES = 2000;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const ERROR_KEYS = new Set(['error', 'err']);

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

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::';

/** The host name of a `Host` header or allow-list entry: lower case, no port, no brackets, no trailing dot. */
export function hostName(value: string): string {
  let h = value.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end < 0 ? h.slice(1) : h.slice(1, end);
  } else if (h.indexOf(':') === h.lastIndexOf(':')) {
    h = h.replace(/:\d*$/, '');
  }
  return h.replace(/\.$/, '');
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
  /** Shared batch frames not written yet because the socket was above the high-water mark (oldest first). */
  queue: Buffer[] = [];
  queuedBytes = 0;
  queuedEvents = 0;
  /** Log lines this client lost: queued batches dropped when it was resynchronised. */
  dropped = 0;
  resync = true;
  refused = 0;
  /** Bytes (plus per-frame overhead) handed to the socket and not yet written out. */
  charged = 0;
  closing = false;
  /** When the ping not answered yet was sent, and its payload (undefined while none is outstanding). */
  pingedAt: number | undefined;
  ping: Buffer | undefined;
  /** When the client last answered a ping, or connected. */
  answeredAt = Date.now();
  constructor(readonly ws: WebSocket) {}
  push(frame: Buffer, events: number): void {
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    this.queuedEvents += events;
  }
  shift(): Buffer | undefined {
    const frame = this.queue.shift();
    if (frame) this.queuedBytes -= frame.length;
    if (this.queue.length === 0) this.queuedEvents = 0;
    return frame;
  }
  /** Forget the queued batches (a fresh snapshot replaces them). */
  clear(): void {
    this.dropped += this.queuedEvents;
    this.queue = [];
    this.queuedBytes = 0;
    this.queuedEvents = 0;
  }
}

function checkOptions(options: InspectorOptions): void {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('startInspector options must be an object');
  for (const name of ['allowRemote', 'readOnly'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean')
      throw new InvalidArgumentError(`${name} must be a boolean`);
  }
  for (const name of ['redact', 'allowedHosts'] as const) {
    const list = options[name];
    if (list !== undefined && (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || !x.trim())))
      throw new InvalidArgumentError(`${name} must be an array of non-empty strings`);
  }
  if (options.host !== undefined && (typeof options.host !== 'string' || !options.host))
    throw new InvalidArgumentError('host must be a non-empty string');
  const rate = options.maxEventsPerSecond;
  if (rate !== undefined && (typeof rate !== 'number' || Number.isNaN(rate) || rate <= 0))
    throw new InvalidArgumentError(`maxEventsPerSecond must be a positive number, got ${String(rate)}`);
}

/** A client message's id (echoed in its reply) and how to refuse it. */
interface Outcome {
  id: unknown;
  refuse: (message: string) => void;
}

/** Serve the inspector for `system`. Resolves once listening; rejects with a typed error if it cannot listen. */
export async function startInspector(
  system: InspectedSystem,
  options: InspectorOptions = {},
): Promise<Inspector> {
  checkOptions(options);
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!isLoopback(host) && !options.allowRemote) {
    throw new InvalidArgumentError(
      `refusing to bind the inspector to non-loopback address '${host}' without allowRemote: true`,
    );
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(`invalid port ${String(port)}`);
  const readOnly = options.readOnly ?? true;
  const bufferSize = Math.max(10, positiveInteger('bufferSize', options.bufferSize, 1000));
  const interval = Math.max(10, timerMs('batchIntervalMs', options.batchIntervalMs, 100));
  const highWater = positiveInteger('highWaterMark', options.highWaterMark, 1 << 20);
  const cap = positiveInteger('maxClientBuffer', options.maxClientBuffer, 4 * highWater);
  if (cap < highWater)
    throw new InvalidArgumentError(`maxClientBuffer (${cap}) must be at least highWaterMark (${highWater})`);
  const maxPayload = positiveInteger('maxPayload', options.maxPayload, 64 * 1024);
  const maxClients = positiveInteger('maxClients', options.maxClients, 32);
  const idleTimeout = timerMs('idleTimeoutMs', options.idleTimeoutMs, 10_000);
  const stallTimeout = timerMs('stallTimeoutMs', options.stallTimeoutMs, 30_000);
  const pingEvery = Math.min(PING_EVERY_MS, stallTimeout);
  const redact = createRedactor(options.redact ?? []);
  const assets = findAssets();

  // Which names the page may reach us by (DNS rebinding: a foreign name resolving to us gets nothing).
  const allowedHosts = new Set(['localhost', '127.0.0.1', '::1', hostName(host)]);
  for (const h of options.allowedHosts ?? []) allowedHosts.add(hostName(h));
  if (isWildcard(host) && options.allowRemote) {
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? []) allowedHosts.add(hostName(a.address));
  }
  allowedHosts.delete('0.0.0.0');
  allowedHosts.delete('::');
  const allowedHost = (h: string | undefined): boolean => {
    if (!h) return false;
    const name = hostName(h);
    return allowedHosts.has(name) || (isIP(name) !== 0 && isLoopback(name));
  };
  /** A browser's WebSocket: its page must be one of ours, served under the very Host it connects to. */
  const allowedOrigin = (origin: string, h: string | undefined): boolean => {
    try {
      const url = new URL(origin);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
      return allowedHost(url.host) && new URL(`${url.protocol}//${h}`).host === url.host;
    } catch {
      return false;
    }
  };

  const server = createServer((req, res) => {
    handleHttp(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end('internal error');
      else res.destroy();
    });
  });
  // A connection that never sends a request (or stalls half-way through one) is dropped: node keeps it for ever
  // otherwise. ws clears the timeout of a socket it upgrades, so pages are not affected.
  server.setTimeout(idleTimeout);

  // Listen before anything else exists: a failure leaves nothing behind (no WebSocket server re-emitting the
  // error unhandled, no engine subscription, nothing listening).
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.close();
      if (err.code === 'EADDRINUSE') reject(new PortInUseError(port, host, { cause: err }));
      else
        reject(
          new ListenError(
            `the inspector cannot listen on ${host}:${port}: ${err.code ?? err.message}`,
            port,
            host,
            {
              cause: err,
            },
          ),
        );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address();
  const boundPort = addr && typeof addr === 'object' ? addr.port : port;
  server.on('error', (err) => system.logger.error({ err }, 'inspector server error'));

  const charts = new ChartRegistry(() => liveLogic(system.actors().map((i) => i.ref)));
  const tracker = new Tracker(system, {
    redact,
    charts,
    bufferSize,
    maxEventsPerSecond: options.maxEventsPerSecond ?? 5000,
    logger: system.logger,
  });
  const clients = new Set<Client>();
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!allowedHost(req.headers.host)) return void res.writeHead(421).end('misdirected request');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    const headers = {
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    };
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://x').pathname;
    } catch {
      return void res.writeHead(400, headers).end('bad request target');
    }
    const asset = ASSETS[path];
    if (asset) {
      const body = await readFile(join(assets, asset));
      res.writeHead(200, { ...headers, 'content-type': TYPES[asset.split('.').pop()!] });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    if (path.startsWith('/charts/')) {
      // any machine known to the process (machines/index.ts, registerMachine, live actors), no client needed
      const m = /^\/charts\/([^/]+)\.svg$/.exec(path);
      if (!m || !CHART_ID_RE.test(m[1])) return void res.writeHead(400, headers).end('invalid chart id');
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
    maxPayload,
    perMessageDeflate: false,
    closeTimeout: 5000,
    verifyClient: (
      { req, origin }: { req: IncomingMessage; origin: string },
      done: (ok: boolean, code?: number, message?: string) => void,
    ) => {
      if (!allowedHost(req.headers.host)) return done(false, 401);
      if (origin && !allowedOrigin(origin, req.headers.host)) return done(false, 401); // none: not a browser
      // ws reads `Sec-WebSocket-Origin` alone for protocol version 8: a foreign `Origin` is refused all the same
      const named = req.headers.origin;
      if (typeof named === 'string' && named !== origin && !allowedOrigin(named, req.headers.host))
        return done(false, 401);
      if (clients.size >= maxClients) return done(false, 503, 'too many inspector pages');
      done(true);
    },
  } as ConstructorParameters<typeof WebSocketServer>[0]);
  wss.on('error', (err) => system.logger.error({ err }, 'inspector WebSocket server error'));

  const encode = (msg: unknown): Buffer => Buffer.from(JSON.stringify(msg));

  const closeClient = (client: Client, code: number, reason: string) => {
    if (client.closing) return;
    client.closing = true;
    client.clear();
    client.ws.close(code, reason);
    // A client that does not read never answers the close frame: drop the socket after a short grace period
    // (ws would wait 30 s), so a closed client holds nothing for long.
    setTimeout(() => client.ws.terminate(), CLOSE_GRACE_MS).unref();
  };

  /** Whether a frame fits under the client's cap beside what is not written out yet (a lone frame always does). */
  const fits = (client: Client, frame: Buffer): boolean =>
    client.charged === 0 || client.charged + frame.length + FRAME_OVERHEAD <= cap;

  /** Send one frame, counted against the client's cap; at the cap the client is closed instead. */
  const sendFrame = (client: Client, frame: Buffer): void => {
    if (client.closing || client.ws.readyState !== client.ws.OPEN) return;
    const charge = frame.length + FRAME_OVERHEAD;
    if (!fits(client, frame)) {
      closeClient(client, 1013, 'send buffer full: the client does not read');
      return;
    }
    client.charged += charge;
    client.ws.send(frame, { binary: false }, () => {
      client.charged -= charge;
    });
  };

  /** A reply to one client message; `id` is echoed when it is a number or a short string. */
  const reply = (client: Client, msg: Record<string, unknown>, id?: unknown) => {
    if (typeof id === 'number' || typeof id === 'string') msg.id = id;
    sendFrame(client, encode(msg));
  };

  const helloMessage = () => ({
    type: 'hello',
    protocol: 1,
    readOnly,
    charts: charts.keys(),
    ...tracker.snapshot(),
  });

  /**
   * Whether a client has stalled, and then it is closed. A page that does not read waited for a fresh snapshot
   * for ever and kept its slot, so `maxClients` such pages locked every other page out. Each page is pinged now
   * and then; its pong comes only once it has read everything sent before the ping, so a ping left unanswered for
   * `stallTimeout` means the page has not read for that long, whether its socket is full or the system is quiet.
   * The ping carries random bytes the pong must echo: pongs sent unasked by a client that never reads prove nothing.
   */
  const stalled = (c: Client, now: number): boolean => {
    if (c.pingedAt !== undefined) {
      if (now - c.pingedAt < stallTimeout) return false;
      closeClient(c, 1013, `stalled: the client has not read for ${stallTimeout} ms`);
      return true;
    }
    if (now - c.answeredAt >= pingEvery && c.ws.readyState === c.ws.OPEN) {
      c.pingedAt = now;
      c.ping = randomBytes(8);
      c.ws.ping(c.ping);
    }
    return false;
  };

  const tick = () => {
    try {
      const now = Date.now();
      const batch = tracker.flush();
      const changed =
        batch.actors.length > 0 ||
        batch.stopped.length > 0 ||
        batch.events.length > 0 ||
        batch.engine.length > 0 ||
        batch.finished !== undefined ||
        batch.dropped > 0;
      let shared: Buffer | undefined; // the batch, serialised once for every client
      let hello: Buffer | undefined; // the snapshot, serialised once for every client (re)joining
      for (const c of clients) {
        try {
          if (c.closing || stalled(c, now)) continue;
          if (c.resync) {
            if (c.ws.bufferedAmount > highWater) continue; // a snapshot once it drains
            hello ??= encode(helloMessage());
            // a page catching up may still have bytes in flight: the snapshot waits until it fits under the cap
            // (the cap closes pages that flood requests and never read, not pages that merely fell behind)
            if (!fits(c, hello)) continue;
            c.resync = false;
            c.clear();
            sendFrame(c, hello);
            continue;
          }
          if (changed) {
            shared ??= encode({ type: 'batch', t: Date.now(), ...batch });
            c.push(shared, batch.events.length);
          }
          // in order, while the socket takes them and each fits under the cap beside what is still in flight (else
          // it stays queued); a client that falls too far behind gets a fresh snapshot
          while (c.queue.length > 0 && c.ws.bufferedAmount <= highWater && !c.closing && fits(c, c.queue[0]))
            sendFrame(c, c.shift()!);
          if (c.queuedBytes > highWater) {
            c.clear();
            c.resync = true;
          }
        } catch (err) {
          system.logger.error({ err: toError(err) }, 'inspector: sending to a client failed');
          closeClient(c, 1011, 'internal error');
        }
      }
    } catch (err) {
      // nothing an actor holds may take the process down through the flush timer
      system.logger.error({ err: toError(err) }, 'inspector: flush failed');
    }
  };

  /** Run a tick soon (new clients get their snapshot without waiting for the interval); coalesced. */
  const tickSoon = () => {
    immediate ??= setImmediate(() => {
      immediate = undefined;
      tick();
    });
  };

  const checkedId = (id: unknown): { ok: boolean; id?: unknown } => {
    if (id === undefined || id === null) return { ok: true };
    if (typeof id === 'number' && Number.isFinite(id)) return { ok: true, id };
    if (typeof id === 'string' && id.length <= MAX_ID_LENGTH) return { ok: true, id };
    return { ok: false };
  };

  /**
   * Handle one client message. Every message gets its outcome: a reply, or an error that counts towards
   * `MAX_REFUSED`, also when handling it fails unexpectedly (that error is logged once per message and costs the
   * client a refusal, so a client cannot make the server log without bound).
   */
  const onMessage = (client: Client, data: unknown, isBinary: boolean) => {
    if (client.closing) return;
    const outcome: Outcome = { id: undefined, refuse: () => {} };
    outcome.refuse = (message: string) => {
      reply(client, { type: 'error', message }, outcome.id);
      if (++client.refused >= MAX_REFUSED)
        closeClient(client, 1008, 'too many malformed or refused messages');
    };
    try {
      handleMessage(client, data, isBinary, outcome);
    } catch (err) {
      system.logger.warn({ err: toError(err) }, 'inspector: a client message could not be handled');
      outcome.refuse('the message could not be handled');
    }
  };

  const handleMessage = (client: Client, data: unknown, isBinary: boolean, outcome: Outcome) => {
    const { refuse } = outcome;
    if (isBinary) return refuse('binary messages are not accepted');
    let msg: unknown;
    try {
      msg = JSON.parse(String(data));
    } catch {
      return refuse('malformed message: not JSON');
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg))
      return refuse('malformed message: not an object');
    const m = msg as { type?: unknown; systemId?: unknown; event?: unknown; id?: unknown };
    const checked = checkedId(m.id);
    if (!checked.ok)
      return refuse(
        `malformed message: id must be a number or a string of at most ${MAX_ID_LENGTH} characters`,
      );
    const id = checked.id;
    outcome.id = id;
    switch (m.type) {
      case 'ping':
        return reply(client, { type: 'pong' }, id);
      case 'resync':
        client.resync = true;
        return;
      case 'send': {
        if (readOnly) return refuse('inspector is read-only');
        const result = deliver(m.systemId, m.event);
        if (result) return refuse(result);
        return reply(client, { type: 'ack' }, id);
      }
      default:
        // named only when it is text: turning any JSON into text can fail (an array nested 30,000 deep)
        return refuse(
          typeof m.type === 'string'
            ? `unknown message type '${m.type.slice(0, 100)}'`
            : `unknown message type (${m.type === null ? 'null' : Array.isArray(m.type) ? 'an array' : typeof m.type})`,
        );
    }
  };

  const eventTypes = new WeakMap<object, ReadonlySet<string>>();
  /** Send the page's event to the machine; returns why it was refused, or undefined once delivered. */
  const deliver = (systemId: unknown, event: unknown): string | undefined => {
    if (typeof systemId !== 'string' || systemId.length > 200)
      return 'malformed send: needs systemId and event {type}';
    if (!event || typeof event !== 'object' || Array.isArray(event))
      return 'malformed send: needs systemId and event {type}';
    const type = (event as { type?: unknown }).type;
    if (typeof type !== 'string' || type.length > 200)
      return 'malformed send: needs systemId and event {type}';
    const target = system.get(systemId) as AnyActorRef | undefined;
    if (!target) return `no actor '${systemId}'`;
    if (target.getSnapshot()?.status !== 'active') return `actor '${systemId}' is not running`;
    const logic = logicOf(target) as AnyStateMachine | undefined;
    const isMachine =
      !!logic && typeof logic === 'object' && 'root' in logic && typeof logic.transition === 'function';
    if (!isMachine || logic === supervisorMachine)
      return `event '${type}' not allowed: '${systemId}' does not take events from the inspector`;
    let types = eventTypes.get(logic);
    if (!types) {
      types = new Set(machineEventTypes(logic));
      eventTypes.set(logic, types);
    }
    if (!types.has(type))
      return `event type '${type}' not allowed: machine '${logic.id}' declares ${[...types].join(', ') || 'no events'}`;
    let payload: { type: string };
    try {
      payload = checkPayload(event) as { type: string };
    } catch (err) {
      return `event '${type}' refused: ${(err as Error).message}`;
    }
    try {
      target.send(payload);
    } catch (err) {
      system.logger.warn({ err: toError(err), actor: systemId }, 'inspector: event delivery failed');
      return `event '${type}' could not be delivered`;
    }
    return undefined;
  };

  wss.on('connection', (ws) => {
    const client = new Client(ws);
    if (clients.size === 0) {
      tracker.start();
      timer = setInterval(tick, interval);
    }
    clients.add(client);
    tickSoon(); // its snapshot (and anything new for the others) without waiting for the interval
    ws.on('message', (data, isBinary) => {
      try {
        onMessage(client, data, isBinary);
      } catch (err) {
        // not even the refusal could be sent
        system.logger.error({ err: toError(err) }, 'inspector: handling a client message failed');
        closeClient(client, 1011, 'internal error');
      }
    });
    ws.on('pong', (data) => {
      if (!client.ping?.equals(data)) return; // not the answer to our ping
      client.ping = undefined;
      client.pingedAt = undefined;
      client.answeredAt = Date.now();
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      clients.delete(client);
      client.clear();
      if (clients.size === 0) {
        clearInterval(timer);
        timer = undefined;
        tracker.stop();
      }
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
        queuedBytes: c.queuedBytes,
        queuedEvents: c.queuedEvents,
        dropped: c.dropped,
        closing: c.closing,
      })),
    }),
    close: () => {
      closed ??= (async () => {
        clearInterval(timer);
        timer = undefined;
        if (immediate) clearImmediate(immediate);
        immediate = undefined;
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

/** Most actors searched for the logic of a chart id no page has asked about yet. */
const MAX_LIVE_SCAN = 10_000;

/** The logic of every live actor under `roots` (their invoked and spawned children included), bounded. */
export function* liveLogic(roots: Iterable<AnyActorRef>): Generator<unknown> {
  const seen = new Set<AnyActorRef>();
  const stack = [...roots];
  while (stack.length > 0 && seen.size < MAX_LIVE_SCAN) {
    const ref = stack.pop()!;
    if (seen.has(ref)) continue;
    seen.add(ref);
    yield logicOf(ref);
    try {
      const children = (ref.getSnapshot() as { children?: Record<string, AnyActorRef> } | undefined)
        ?.children;
      for (const child of Object.values(children ?? {})) if (child) stack.push(child);
    } catch {
      // an actor whose snapshot cannot be read has no children to show
    }
  }
}

/**
 * An event payload from the page, checked: plain JSON within depth and size limits, no prototype keys, and every
 * `error` / `err` field turned into an InspectorEventError (from a message string, or an object's `message`).
 */
function checkPayload(event: object): unknown {
  let nodes = 0;
  const walk = (v: unknown, depth: number, key: string | undefined): unknown => {
    if (++nodes > MAX_PAYLOAD_NODES) throw new OrreryError('payload too large');
    if (key !== undefined && ERROR_KEYS.has(key)) {
      const message =
        typeof v === 'string'
          ? v
          : v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string'
            ? (v as { message: string }).message
            : undefined;
      if (message === undefined || !message.trim())
        throw new OrreryError(`'${key}' must be an error message (a non-empty string)`);
      return new InspectorEventError(message.slice(0, 2000));
    }
    if (v === null || typeof v !== 'object') return v;
    if (depth >= MAX_PAYLOAD_DEPTH) throw new OrreryError('payload nested too deeply');
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1, undefined));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (FORBIDDEN_KEYS.has(k)) throw new OrreryError(`key '${k}' is not allowed`);
      out[k] = walk(x, depth + 1, k);
    }
    return out;
  };
  return walk(event, 0, undefined);
}
