/**
 * An in-process search and circuits for Context tests on a TestClock: the test answers searches, sees every frame
 * the client sends, and replies (or not) with any frame, at any simulated time. A small auto-responder plays the
 * server's part of channel creation (ACCESS_RIGHTS + CREATE_CHAN, native DOUBLE x1, sid = cid + 100).
 */
import type { CircuitLike } from '../../../src/protocols/ca/circuitChannels.js';
import { accessRightsResponse, createChanResponse } from '../../../src/protocols/ca/commands.js';
import { Command } from '../../../src/protocols/ca/constants.js';
import type { ContextTransport, SearchLike } from '../../../src/protocols/ca/context.js';
import { type CaFrame, decodeDatagram } from '../../../src/protocols/ca/frame.js';
import type { SearchResult } from '../../../src/protocols/ca/search.js';

type State = 'connecting' | 'connected' | 'unresponsive' | 'closed';

export class FakeCircuit implements CircuitLike {
  readonly key: { host: string; port: number; priority: number };
  state: State = 'connected';
  serverMinorVersion: number | undefined = 13;
  lastHeardMs = 0;
  readonly sent: CaFrame[] = [];
  /** Answer CREATE_CHAN at once (else the test does). */
  autoCreate = true;
  /**
   * Refuse messages as a circuit whose server stopped reading does: `send` throws what this returns for one of the
   * frames (a CircuitQueueFullError), and nothing of those bytes is sent.
   */
  refuse: ((frame: CaFrame) => Error | undefined) | null = null;
  readonly #frames = new Set<(frame: CaFrame) => void>();
  readonly #states = new Set<(state: State, error?: Error) => void>();

  constructor(key: { host: string; port: number; priority: number }) {
    this.key = key;
  }

  send(bytes: Uint8Array): boolean {
    if (this.state === 'closed') return false;
    const frames = decodeDatagram(Buffer.from(bytes));
    for (const f of frames) {
      const refused = this.refuse?.(f);
      if (refused) throw refused;
    }
    this.sent.push(...frames);
    for (const f of frames) {
      if (f.command === Command.CREATE_CHAN && this.autoCreate) {
        queueMicrotask(() =>
          this.reply(accessRightsResponse(f.p1, 3), createChanResponse(6, 1, f.p1, f.p1 + 100)),
        );
      }
    }
    return true;
  }

  /** Frames of `command` the client sent. */
  sentOf(command: number): CaFrame[] {
    return this.sent.filter((f) => f.command === command);
  }

  /** Deliver server frames to the client. */
  reply(...messages: Buffer[]): void {
    for (const m of messages) for (const f of decodeDatagram(m)) for (const l of [...this.#frames]) l(f);
  }

  onFrame(listener: (frame: CaFrame) => void): () => void {
    this.#frames.add(listener);
    return () => void this.#frames.delete(listener);
  }
  onState(listener: (state: State, error?: Error) => void): () => void {
    this.#states.add(listener);
    return () => void this.#states.delete(listener);
  }
  close(error?: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const l of [...this.#states]) l('closed', error);
  }
}

export class FakeSearch implements SearchLike {
  readonly searching = new Map<number, string>();
  /** Every add, in order (re-searches included). */
  readonly adds: string[] = [];
  /** Answer every search at once from this address (else the test calls `answer`). */
  autoAnswer: { host: string; port: number } | null = { host: '127.0.0.1', port: 5064 };
  closed = false;
  readonly #listeners = new Set<(r: SearchResult) => void>();

  async start(): Promise<void> {}
  add(cid: number, name: string): void {
    this.searching.set(cid, name);
    this.adds.push(name);
    const at = this.autoAnswer;
    if (at) queueMicrotask(() => this.answer(name, at));
  }
  remove(cid: number): void {
    this.searching.delete(cid);
  }
  answer(name: string, address = { host: '127.0.0.1', port: 5064 }): void {
    for (const [cid, n] of this.searching) {
      if (n === name) for (const l of [...this.#listeners]) l({ cid, name, address, minorVersion: 13 });
    }
  }
  onResult(listener: (result: SearchResult) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }
  close(): void {
    this.closed = true;
  }
}

export function fakeTransport() {
  const search = new FakeSearch();
  const circuits: FakeCircuit[] = [];
  const settings: { autoCreate: boolean; refuse: FakeCircuit['refuse'] } = { autoCreate: true, refuse: null };
  const transport: ContextTransport = {
    createSearch: () => search,
    openCircuit: (options) => {
      const c = new FakeCircuit(options.key);
      c.autoCreate = settings.autoCreate;
      c.refuse = settings.refuse;
      circuits.push(c);
      return c;
    },
  };
  return {
    search,
    circuits,
    transport,
    /** Whether new circuits answer CREATE_CHAN by themselves, and what they refuse (`FakeCircuit.refuse`). */
    settings,
    get circuit(): FakeCircuit {
      const c = circuits.at(-1);
      if (!c) throw new Error('no circuit yet');
      return c;
    },
  };
}
