/**
 * Optional bridge to Stately's inspector for sites with internet: every inspection event of the system, in the
 * `@statelyai/inspect` wire format, over a WebSocket to a Stately inspector server (for example the one
 * `@statelyai/inspect/server`'s `createInspectorServer()` runs on ws://localhost:8080, whose page frames
 * stately.ai). Offline sites use `startInspector` instead.
 *
 * The message conversion is `@statelyai/inspect`'s own (`createInspector`); the transport is ours, because theirs
 * keeps reconnecting after `stop()` (its retry timer is never cancelled). Everything passes Orrery's redaction,
 * including the machine definition, where `@statelyai/inspect` would send a machine's literal initial context.
 */
import { createInspector } from '@statelyai/inspect';
import { WebSocket } from 'ws';
import type { Subscription } from 'xstate';
import type { OrrerySystem } from '../engine/system.js';
import { InvalidArgumentError } from '../errors.js';
import { createRedactor, type Redactor } from './redact.js';

export interface StatelyBridgeOptions {
  /** The Stately inspector server's WebSocket URL. Default ws://localhost:8080. */
  url?: string;
  /** Extra keys or dotted paths to redact, as for `startInspector`. */
  redact?: readonly string[];
  /** Milliseconds between reconnection attempts. Default 5000 (as `@statelyai/inspect`). */
  reconnectMs?: number;
  /** Events kept while disconnected (oldest dropped first). Default 200 (as `@statelyai/inspect`). */
  maxDeferredEvents?: number;
}

export interface StatelyBridge {
  readonly connected: boolean;
  /** Events dropped while disconnected. */
  readonly dropped: number;
  stop(): void;
}

/** A WebSocket transport with a bounded queue while disconnected and reconnection that stops with it. */
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
  ) {}

  get open(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    if (this.#stopped) return;
    const ws = new WebSocket(this.url);
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
    this.#ws?.close();
  }
}

/**
 * Redact a JSON-stringified machine config: its `context` is the machine's literal initial context. The rest
 * (states, transitions) is what the Stately page draws, and is left whole.
 */
function redactDefinition(definition: string, redact: Redactor): string {
  try {
    const config = JSON.parse(definition) as Record<string, unknown>;
    if (config && typeof config === 'object' && 'context' in config) config.context = redact(config.context);
    return JSON.stringify(config);
  } catch {
    return JSON.stringify({ id: 'unknown' });
  }
}

/** Stream the system's inspection events to a Stately inspector server. `stop()` leaves no socket or timer. */
export function bridgeToStately(system: OrrerySystem, options: StatelyBridgeOptions = {}): StatelyBridge {
  const url = options.url ?? 'ws://localhost:8080';
  if (!/^wss?:\/\//.test(url))
    throw new InvalidArgumentError(`bridgeToStately needs a ws:// or wss:// URL, got ${url}`);
  const redact = createRedactor(options.redact ?? []);
  const socket = new BridgeSocket(url, options.reconnectMs ?? 5000, options.maxDeferredEvents ?? 200);
  const inspector = createInspector(
    socket as never,
    {
      sanitizeContext: (context: unknown) => redact(context) as never,
      sanitizeEvent: (event: unknown) => redact(event) as never,
      serialize: (event: any) =>
        event.type === '@xstate.actor' && typeof event.definition === 'string'
          ? { ...event, definition: redactDefinition(event.definition, redact) }
          : event,
    } as never,
  );
  inspector.start();
  let subscription: Subscription | undefined = system.inspect(inspector.inspect);
  return {
    get connected() {
      return socket.open;
    },
    get dropped() {
      return socket.dropped;
    },
    stop() {
      subscription?.unsubscribe();
      subscription = undefined;
      socket.stop();
    },
  };
}
