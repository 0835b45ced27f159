/**
 * Optional bridge to Stately's inspector for sites with internet: every inspection event of the system, in the
 * `@statelyai/inspect` wire format, over a WebSocket to a Stately inspector server (for example the one
 * `@statelyai/inspect/server`'s `createInspectorServer()` runs on ws://localhost:8080, whose page frames
 * stately.ai). Offline sites use `startInspector` instead.
 *
 * The message conversion is `@statelyai/inspect`'s own (`createInspector`); the transport is ours, because theirs
 * keeps reconnecting after `stop()` (its retry timer is never cancelled). Everything passes Orrery's redaction:
 * events, and snapshots rebuilt from status, value, context, output and error only (`@statelyai/inspect` would
 * serialise the raw snapshot, error objects' own fields included, and throw on an unreadable value), and the
 * machine definition, where `@statelyai/inspect` would send a machine's literal initial context (and literal
 * `input` / `params`, and `meta`). Inspection events are converted off the engine's call stack, from a bounded
 * queue; a value that cannot be converted costs that one event, never the process.
 */
import { createInspector } from '@statelyai/inspect';
import { WebSocket } from 'ws';
import type { AnyActorRef, InspectionEvent, Subscription } from 'xstate';
import { parentOf } from '../../machines/core/xstateAdapter.js';
import type { OrrerySystem } from '../engine/system.js';
import { InvalidArgumentError } from '../errors.js';
import { timerMs } from './optionChecks.js';
import { copyStateValue, createRedactor, type Redactor } from './redact.js';
import { Ring } from './tracker.js';

export interface StatelyBridgeOptions {
  /** The Stately inspector server's WebSocket URL. Default ws://localhost:8080. */
  url?: string;
  /** Extra keys or dotted paths to redact, as for `startInspector`. */
  redact?: readonly string[];
  /**
   * Milliseconds between reconnection attempts (at most 2^31 - 1, Node's timer limit). Default 5000 (as
   * `@statelyai/inspect`).
   */
  reconnectMs?: number;
  /** Events kept while disconnected (oldest dropped first). Default 200 (as `@statelyai/inspect`). */
  maxDeferredEvents?: number;
  /**
   * Milliseconds a connection may take to be accepted as a WebSocket (the opening handshake) before it is given up
   * and retried after `reconnectMs` (at most 2^31 - 1). Default 10000.
   */
  handshakeTimeoutMs?: number;
}

export interface StatelyBridge {
  readonly connected: boolean;
  /** Events dropped: while disconnected (beyond `maxDeferredEvents`), or while the server leaves 1 MiB unread. */
  readonly dropped: number;
  stop(): void;
}

/** Unsent bytes a connected server may leave in the socket before events are dropped. */
const MAX_BUFFERED = 1 << 20;
/** How long `stop()` waits for the server to answer the close frame before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;
/**
 * Largest message taken from the server. The bridge never uses what the server sends (a Stately inspector server
 * relays every client's events to every other client, and replays its last 200 to one that connects), yet ws took
 * messages of up to 100 MiB each. One larger than this closes the socket (1009) and the bridge reconnects as after
 * any close; inspection messages are far smaller (the redactor bounds snapshots, definitions are a few kB).
 */
const MAX_INCOMING = 1 << 20;

/**
 * A WebSocket transport with a bounded queue while disconnected, a bounded send buffer while connected, and
 * reconnection that stops with it.
 */
class BridgeSocket {
  #ws: WebSocket | undefined;
  #queue: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  dropped = 0;
  constructor(
    readonly url: string,
    readonly reconnectMs: number,
    readonly maxDeferred: number,
    readonly handshakeTimeoutMs: number,
  ) {}

  get open(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    if (this.#stopped) return;
    // A server that accepts the connection and never answers the upgrade left the bridge connecting for ever: the
    // handshake is given up after a while, and 'close' schedules the retry as after any failed attempt.
    const ws = new WebSocket(this.url, {
      handshakeTimeout: this.handshakeTimeoutMs,
      maxPayload: MAX_INCOMING,
    });
    this.#ws = ws;
    ws.on('open', () => {
      for (const message of this.#queue.splice(0)) ws.send(message);
    });
    ws.on('error', () => {
      // 'close' follows and schedules the retry
    });
    ws.on('close', () => {
      if (this.#stopped || this.#ws !== ws) return;
      this.#timer = setTimeout(() => this.start(), this.reconnectMs);
      this.#timer.unref();
    });
  }

  send(event: unknown): void {
    if (this.#stopped) return;
    if (this.open && this.#ws!.bufferedAmount > MAX_BUFFERED) {
      // A server that does not read (stalled, or slower than the system) must not grow the socket's send buffer
      // without bound: past the limit the event is dropped and counted, as while disconnected.
      this.dropped++;
      return;
    }
    const message = JSON.stringify(event);
    if (this.open) this.#ws!.send(message);
    else {
      this.#queue.push(message);
      if (this.#queue.length > this.maxDeferred) {
        this.#queue.shift();
        this.dropped++;
      }
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#queue = [];
    const ws = this.#ws;
    if (!ws) return;
    ws.close();
    // A server that does not read never answers the close frame (it waits behind the unsent data), and ws would
    // keep the socket, and the process, for 30 s: drop the socket after a short grace period instead.
    setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  }
}

/**
 * Keys of a machine config that hold literal data (the rest, states and transitions, is what Stately draws).
 * `meta` (the machine's and each state's) is data too: it was sent as it was, whatever it held.
 */
const DATA_KEYS = new Set(['context', 'input', 'params', 'output', 'meta']);

/**
 * Redact a JSON-stringified machine config: its `context` is the machine's literal initial context, and any
 * `input`, `params`, `output` or `meta` in it is literal data too. The rest (states, transitions) is left whole.
 */
function redactDefinition(definition: string, redact: Redactor): string {
  const walk = (v: unknown, depth: number): unknown => {
    if (!v || typeof v !== 'object' || depth > 64) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = DATA_KEYS.has(k) ? redact(x) : walk(x, depth + 1);
    return out;
  };
  try {
    return JSON.stringify(walk(JSON.parse(definition), 0));
  } catch {
    return JSON.stringify({ id: 'unknown' });
  }
}

/** What of a snapshot is sent: status, state value, and the redacted context, output and error. */
function redactSnapshot(snapshot: unknown, redact: Redactor): Record<string, unknown> {
  const s = (snapshot ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = { status: typeof s.status === 'string' ? s.status : 'active' };
  if (s.value !== undefined) out.value = copyStateValue(s.value);
  for (const key of ['context', 'output', 'error'] as const) {
    if (s[key] !== undefined) out[key] = redact(s[key]);
  }
  return out;
}

/** Inspection events waiting to be converted (oldest dropped beyond this). */
const MAX_PENDING = 10_000;

/**
 * Options checked before anything starts: what is not an option throws InvalidArgumentError (a URL ws cannot
 * parse was its SyntaxError; a NaN or negative reconnectMs reconnected every millisecond, a NaN maxDeferredEvents
 * never dropped anything while disconnected, and a reconnectMs past Node's timer limit, 2^31 - 1 ms, reconnected
 * every millisecond too: Node fires a longer timer after 1 ms).
 */
function checkOptions(options: StatelyBridgeOptions): void {
  if (options === null || typeof options !== 'object')
    throw new InvalidArgumentError('bridgeToStately options must be an object');
  const url = options.url ?? 'ws://localhost:8080';
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    // not a URL: refused below
  }
  if (!parsed || !/^wss?:\/\//.test(url) || !parsed.host)
    throw new InvalidArgumentError(`bridgeToStately needs a ws:// or wss:// URL, got ${String(url)}`);
  const { maxDeferredEvents, redact } = options;
  for (const name of ['reconnectMs', 'handshakeTimeoutMs'] as const) timerMs(name, options[name], 1);
  if (maxDeferredEvents !== undefined && (!Number.isInteger(maxDeferredEvents) || maxDeferredEvents < 0))
    throw new InvalidArgumentError(
      `maxDeferredEvents must be a non-negative integer, got ${String(maxDeferredEvents)}`,
    );
  if (
    redact !== undefined &&
    (!Array.isArray(redact) || redact.some((x) => typeof x !== 'string' || !x.trim()))
  )
    throw new InvalidArgumentError('redact must be an array of non-empty strings');
}

/** Stream the system's inspection events to a Stately inspector server. `stop()` leaves no socket or timer. */
export function bridgeToStately(system: OrrerySystem, options: StatelyBridgeOptions = {}): StatelyBridge {
  checkOptions(options);
  const url = options.url ?? 'ws://localhost:8080';
  const redact = createRedactor(options.redact ?? []);
  const socket = new BridgeSocket(
    url,
    options.reconnectMs ?? 5000,
    options.maxDeferredEvents ?? 200,
    options.handshakeTimeoutMs ?? 10_000,
  );
  const inspector = createInspector(
    socket as never,
    {
      // context and events arrive redacted already (see convert); these only keep @statelyai/inspect's hands off
      sanitizeContext: (context: unknown) => context as never,
      sanitizeEvent: (event: unknown) => event as never,
      serialize: (event: any) =>
        event.type === '@xstate.actor' && typeof event.definition === 'string'
          ? { ...event, definition: redactDefinition(event.definition, redact) }
          : event,
    } as never,
  );
  inspector.start();

  // Convert off the engine's call stack, like @statelyai/inspect does, but from one bounded queue.
  const pending = new Ring<InspectionEvent>(MAX_PENDING);
  let failed = 0;
  let immediate: NodeJS.Immediate | undefined;
  const convert = (e: InspectionEvent) => {
    const actor = e.actorRef as AnyActorRef;
    switch (e.type) {
      case '@xstate.actor':
        return inspector.actor(
          actor,
          redactSnapshot(actor.getSnapshot(), redact) as never,
          {
            parentId: parentOf(actor)?.sessionId,
            rootId: e.rootId,
          } as never,
        );
      case '@xstate.event':
        return inspector.event(actor, redact(e.event) as never, { source: e.sourceRef?.sessionId } as never);
      case '@xstate.snapshot':
        return inspector.snapshot(
          actor,
          redactSnapshot(e.snapshot, redact) as never,
          {
            event: redact(e.event),
          } as never,
        );
    }
  };
  const drain = () => {
    immediate = undefined;
    for (const e of pending.drain()) {
      try {
        convert(e);
      } catch {
        failed++; // an unreadable value: this event is lost, nothing else
      }
    }
  };
  let subscription: Subscription | undefined = system.inspect((e: InspectionEvent) => {
    if (e.type !== '@xstate.actor' && e.type !== '@xstate.event' && e.type !== '@xstate.snapshot') return;
    pending.push(e);
    immediate ??= setImmediate(drain);
  });
  return {
    get connected() {
      return socket.open;
    },
    get dropped() {
      return socket.dropped + pending.dropped + failed;
    },
    stop() {
      subscription?.unsubscribe();
      subscription = undefined;
      if (immediate) clearImmediate(immediate);
      immediate = undefined;
      pending.drain();
      socket.stop();
    },
  };
}
