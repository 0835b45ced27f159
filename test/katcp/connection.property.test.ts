/**
 * A model-based test of the connection machine and the KatcpClient facade against a real TCP peer under the
 * TestClock, as aiokatcp's hypothesis `ClientStateMachine`: arbitrary sequences of peer and client actions, with
 * aiokatcp's invariants checked after every one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_NEGOTIATION_TIMEOUT_MS,
  MAX_BACKOFF_MS,
  MIN_BACKOFF_MS,
} from '../../machines/katcp/connection.js';
import { createSystem, type OrrerySystem } from '../../src/index.js';
import { type ConnectionState, KatcpClient } from '../../src/protocols/katcp/client.js';
import {
  BrokenPipeError,
  NegotiationTimeoutError,
  ProtocolError,
  RequestTimeoutError,
} from '../../src/protocols/katcp/errors.js';
import { TestClock } from '../../src/testing/index.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { GREETING_MID, GREETING_NO_MID, type PeerConnection, RawPeer, until } from './support/peer.js';

const STABLE: readonly ConnectionState[] = ['negotiating', 'connected', 'sleeping', 'closed'];
const LIVE: readonly ConnectionState[] = ['connecting', 'negotiating', 'connected', 'disconnecting'];

interface Real {
  system: OrrerySystem;
  clock: TestClock;
  peer: RawPeer;
  client: KatcpClient;
  conn: PeerConnection | null;
  wasClosed: boolean;
  requests: number;
  /** The client's negotiation timeout, ms (Infinity: none armed). */
  negotiationTimeoutMs: number;
}

interface Model {
  closed: boolean;
  autoReconnect: boolean;
  /** The negotiation timeout the client was given (or the default), ms; Infinity: it never fires. */
  negotiationTimeoutMs: number;
}

/** Wait until the client rests in a state that only the test can move it out of. */
async function settle(r: Real): Promise<void> {
  await until(
    (l) => r.client.onStateChange(l),
    () => STABLE.includes(r.client.state),
  );
  if (r.client.state === 'negotiating' || r.client.state === 'connected') {
    // the peer's side of the live connection
    while (r.peer.connections.length === 0 || r.peer.connections.at(-1)!.isClosed) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    r.conn = r.peer.connections.at(-1)!;
  } else r.conn = null;
}

function checkInvariants(r: Real): void {
  const { client, clock } = r;
  const state = client.state;
  const snapshot = client.actor.getSnapshot();
  expect(client.isConnected).toBe(state === 'connected');
  if (state === 'connected') expect(client.lastError).toBeNull();
  if (state === 'sleeping' || state === 'closed' || state === 'disconnecting')
    expect(client.lastError).not.toBeNull();
  if (r.wasClosed) expect(state).toBe('closed');
  r.wasClosed ||= state === 'closed';
  if (state !== 'connected') expect(client.pendingCount).toBe(0);
  // the transport (socket) exists iff live
  expect(Boolean(snapshot.children.transport)).toBe(LIVE.includes(state));
  // a backoff timer exists iff sleeping, a negotiation timer iff negotiating with a finite timeout (no request is
  // pending between commands)
  const negotiationTimer = state === 'negotiating' && r.negotiationTimeoutMs !== Number.POSITIVE_INFINITY;
  expect(clock.pending).toBe(state === 'sleeping' || negotiationTimer ? 1 : 0);
  const { backoffMs, sleepMs } = snapshot.context;
  expect(backoffMs).toBeGreaterThanOrEqual(MIN_BACKOFF_MS);
  expect(backoffMs).toBeLessThanOrEqual(MAX_BACKOFF_MS);
  if (state === 'sleeping') {
    expect(sleepMs).toBeGreaterThanOrEqual(backoffMs / 2);
    expect(sleepMs).toBeLessThanOrEqual(backoffMs);
  }
}

type Cmd = fc.AsyncCommand<Model, Real>;
const cmd = (name: string, run: (r: Real, m: Model) => Promise<void>): Cmd => ({
  check: (m) => !m.closed || name !== 'close',
  async run(m, r) {
    await run(r, m);
    await settle(r);
    if (name === 'close') m.closed = true;
    checkInvariants(r);
  },
  toString: () => name,
});

const commands = [
  fc.constantFrom(GREETING_MID, GREETING_NO_MID).map((greeting) =>
    cmd(`greet ${greeting}`, async (r) => {
      if (r.client.state !== 'negotiating' || !r.conn) return;
      r.conn.send(greeting);
      await until(
        (l) => r.client.onStateChange(l),
        () => r.client.state !== 'negotiating',
      );
    }),
  ),
  fc.constant(
    cmd('bad version', async (r) => {
      if (r.client.state !== 'negotiating' || !r.conn) return;
      r.conn.send('#version-connect katcp-protocol 4.0-M');
      await until(
        (l) => r.client.onStateChange(l),
        () => !LIVE.includes(r.client.state),
      );
    }),
  ),
  fc.constantFrom('end', 'reset', 'disconnect').map((how) =>
    cmd(`drop (${how})`, async (r) => {
      if (!r.conn) return;
      if (how === 'end') r.conn.end();
      else if (how === 'reset') r.conn.socket.resetAndDestroy();
      else r.conn.send('#disconnect bye');
      await until(
        (l) => r.client.onStateChange(l),
        () => !LIVE.includes(r.client.state),
      );
    }),
  ),
  fc.boolean().map((refuse) =>
    cmd(refuse ? 'peer refuses' : 'peer accepts', async (r) => {
      if (refuse) r.peer.refuse();
      else await r.peer.accept();
    }),
  ),
  fc.constantFrom('answered', 'late', 'unanswered').map((how) =>
    cmd(how === 'answered' ? 'request' : `request times out (${how})`, async (r) => {
      const answer = how === 'answered';
      const id = ++r.requests;
      if (r.client.state !== 'connected' || !r.conn) {
        await expect(r.client.request('ping')).rejects.toThrow(new BrokenPipeError('Not connected'));
        return;
      }
      const pending = r.client.requestWith({ timeout: 1000 }, 'ping', id).then(
        ([args]) => args.map(String),
        (e: Error) => e,
      );
      const req = await r.conn.nextRequest();
      expect(req.name).toBe('ping');
      if (answer) {
        r.conn.send(`!ping${req.mid === null ? '' : `[${req.mid}]`} ok ${id}`);
        expect(await pending).toEqual([String(id)]);
      } else {
        r.clock.advance(1000);
        expect(await pending).toBeInstanceOf(RequestTimeoutError);
        const id = req.mid === null ? '' : `[${req.mid}]`;
        if (how === 'late') {
          // the late reply and its inform are ignored (without ids: swallowed, the next request is not held)
          const synced = new Promise<void>((resolve) => {
            const off = r.client.addInformHandler('sync', () => {
              off();
              resolve();
            });
          });
          r.conn.send(`#ping${id} late`, `!ping${id} ok late`, '#sync');
          await synced;
        } else if (req.mid === null) {
          // without ids, no late reply within the timeout again: the replies cannot be matched, the
          // connection is dropped
          r.clock.advance(1000);
          await until(
            (l) => r.client.onStateChange(l),
            () => r.client.state !== 'connected',
          );
          expect(r.client.lastError).toBeInstanceOf(ProtocolError);
        }
      }
    }),
  ),
  fc.constant(
    cmd('peer stays silent past the negotiation timeout', async (r, m) => {
      if (r.client.state !== 'negotiating') return;
      if (m.negotiationTimeoutMs === Number.POSITIVE_INFINITY) {
        // none armed: negotiating for as long as the peer says nothing
        r.clock.advance(MAX_BACKOFF_MS);
        expect(r.client.state).toBe('negotiating');
        return;
      }
      r.clock.advance(m.negotiationTimeoutMs - 1);
      expect(r.client.state).toBe('negotiating');
      r.clock.advance(1);
      expect(r.client.state).toBe('disconnecting');
      await until(
        (l) => r.client.onStateChange(l),
        () => !LIVE.includes(r.client.state),
      );
      // a failed connect: the socket is closed, then the backoff (or closed without auto-reconnect)
      expect(r.client.lastError).toBeInstanceOf(NegotiationTimeoutError);
      expect(r.client.state).toBe(m.autoReconnect ? 'sleeping' : 'closed');
      await r.peer.connections.at(-1)!.closed;
    }),
  ),
  fc.constant(
    cmd('advance the clock', async (r) => {
      if (r.client.state !== 'sleeping') return;
      r.clock.advance(r.client.actor.getSnapshot().context.sleepMs);
      expect(r.client.state).toBe('connecting');
    }),
  ),
  fc.constant(
    cmd('close', async (r) => {
      const before = r.client.state;
      const waiting = r.client.waitConnected().then(
        () => null,
        (e: Error) => e,
      );
      await r.client.close();
      expect(r.client.state).toBe('closed');
      // waitConnected rejects with lastError once closed, unless it was connected already
      if (before === 'connected') expect(await waiting).toBeNull();
      else expect(await waiting).toBe(r.client.lastError);
      for (const c of r.peer.connections) await c.closed;
    }),
  ),
];

describe('issue 9 item 7: connection machine, model-based against a real peer on the TestClock', () => {
  it('keeps aiokatcp invariants under arbitrary peer and client actions', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commands, { maxCommands: 25 }),
        fc.boolean(),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        // undefined: the default; Infinity: never armed
        fc.constantFrom(undefined, 1, 2500, Number.POSITIVE_INFINITY),
        async (cmds, autoReconnect, jitter, negotiationTimeout) => {
          const clock = new TestClock();
          const system = createSystem({ clock });
          const peer = await RawPeer.start({ greeting: [] });
          const client = new KatcpClient('127.0.0.1', peer.port, {
            system,
            autoReconnect,
            random: () => jitter,
            negotiationTimeout,
          });
          const negotiationTimeoutMs = negotiationTimeout ?? DEFAULT_NEGOTIATION_TIMEOUT_MS;
          const real: Real = {
            system,
            clock,
            peer,
            client,
            conn: null,
            wasClosed: false,
            requests: 0,
            negotiationTimeoutMs,
          };
          const model: Model = { closed: false, autoReconnect, negotiationTimeoutMs };
          try {
            await settle(real);
            checkInvariants(real);
            await fc.asyncModelRun(() => ({ model, real }), cmds);
          } finally {
            await client.close();
            await peer.close();
            await system.stop();
          }
          expect(client.state).toBe('closed');
        },
      ),
      { numRuns: propertyRuns(100) },
    );
  });
});
