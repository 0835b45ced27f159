// The GIOP connection machine on its own under a TestClock: every transition taken on purpose, then random event
// sequences with the invariants of its header checked after each step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback } from 'xstate';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  type GiopConnectionEvent,
  type GiopTransportEvent,
  type GiopTransportInput,
  giopConnectionMachine,
  MAX_BACKOFF_MS,
  MIN_BACKOFF_MS,
} from '../../../machines/tango/giopConnection.js';
import { TestClock } from '../../../src/testing/testClock.js';
import { propertyRuns } from '../../support/propertyRuns.js';
import { recordTransitions } from '../../support/transitions.js';

function start(random = () => 1) {
  const clock = new TestClock();
  let sockets = 0;
  const entered: string[] = [];
  const logic = giopConnectionMachine.provide({
    actors: {
      transport: fromCallback<{ type: 'NONE' }, GiopTransportInput, GiopTransportEvent>(() => {
        sockets++;
        return () => {
          sockets--;
        };
      }),
    },
    actions: { enterState: (_, params) => void entered.push(params.state) },
  });
  const actor = createActor(logic, {
    input: { host: '127.0.0.1', port: 1, random },
    clock,
    inspect: recordTransitions,
  });
  actor.start();
  const state = () => {
    const s = actor.getSnapshot();
    if (s.status === 'done') return 'closed';
    return typeof s.value === 'string' ? s.value : `live.${(s.value as { live: string }).live}`;
  };
  return { actor, clock, state, sockets: () => sockets, entered };
}

const error = new Error('boom');

describe('issue 12 item 1: GIOP connection machine', () => {
  it('issue 12 item 1: lazy connect, open, loss back to idle, reconnect', () => {
    const m = start();
    expect(m.state()).toBe('idle');
    expect(m.sockets()).toBe(0);
    m.actor.send({ type: 'CONNECT' });
    expect(m.state()).toBe('live.connecting');
    expect(m.sockets()).toBe(1);
    m.actor.send({ type: 'TRANSPORT.OPEN' });
    expect(m.state()).toBe('live.connected');
    expect(m.actor.getSnapshot().context.connections).toBe(1);
    m.actor.send({ type: 'TRANSPORT.CLOSED', error });
    expect(m.state()).toBe('idle');
    expect(m.sockets()).toBe(0);
    expect(m.actor.getSnapshot().context).toMatchObject({ lastError: error, peerClosed: false });
    m.actor.send({ type: 'CONNECT' });
    m.actor.send({ type: 'TRANSPORT.OPEN' });
    m.actor.send({ type: 'TRANSPORT.PEER_CLOSE' });
    expect(m.state()).toBe('idle');
    expect(m.actor.getSnapshot().context.peerClosed).toBe(true);
    m.actor.send({ type: 'CONNECT' });
    m.actor.send({ type: 'TRANSPORT.OPEN' });
    m.actor.send({ type: 'TRANSPORT.PROTOCOL_ERROR', error });
    expect(m.state()).toBe('idle');
    expect(m.actor.getSnapshot().context.peerClosed).toBe(false);
    expect(m.entered).toEqual([
      'idle',
      'connecting',
      'connected',
      'idle',
      'connecting',
      'connected',
      'idle',
      'connecting',
      'connected',
      'idle',
    ]);
    m.actor.send({ type: 'CLOSE' });
    expect(m.state()).toBe('closed');
  });

  it('issue 12 item 1: failed connects back off, doubling to the cap; an open connection resets it', () => {
    const m = start();
    const sleeps: number[] = [];
    for (let i = 0; i < 8; i++) {
      m.actor.send({ type: 'CONNECT' });
      m.actor.send({ type: 'TRANSPORT.FAILED', error });
      expect(m.state()).toBe('backoff');
      expect(m.sockets()).toBe(0);
      sleeps.push(m.actor.getSnapshot().context.sleepMs);
      m.clock.advance(m.actor.getSnapshot().context.sleepMs - 1);
      expect(m.state()).toBe('backoff');
      m.clock.advance(1);
      expect(m.state()).toBe('idle');
    }
    expect(sleeps[0]).toBe(MIN_BACKOFF_MS);
    expect(sleeps[1]).toBe(MIN_BACKOFF_MS * 2);
    expect(sleeps.at(-1)).toBe(MAX_BACKOFF_MS);
    // a connect that never completes ends after connectTimeout, into backoff
    m.actor.send({ type: 'CONNECT' });
    m.clock.advance(DEFAULT_CONNECT_TIMEOUT_MS);
    expect(m.state()).toBe('backoff');
    expect(m.actor.getSnapshot().context.lastError?.message).toMatch(/no TCP connection/);
    m.clock.advance(MAX_BACKOFF_MS);
    m.actor.send({ type: 'CONNECT' });
    m.actor.send({ type: 'TRANSPORT.OPEN' });
    expect(m.actor.getSnapshot().context).toMatchObject({ backoffMs: MIN_BACKOFF_MS, lastError: null });
  });

  it('issue 12 item 1: CLOSE from every state is final and releases the socket and timers', () => {
    for (const path of [[], ['CONNECT'], ['CONNECT', 'OPEN'], ['CONNECT', 'FAILED']]) {
      const m = start();
      for (const step of path) {
        if (step === 'CONNECT') m.actor.send({ type: 'CONNECT' });
        else if (step === 'OPEN') m.actor.send({ type: 'TRANSPORT.OPEN' });
        else m.actor.send({ type: 'TRANSPORT.FAILED', error });
      }
      m.actor.send({ type: 'CLOSE' });
      expect(m.state()).toBe('closed');
      expect(m.sockets()).toBe(0);
      expect(m.clock.pending).toBe(0);
      expect(m.actor.getSnapshot().context.lastError).not.toBeNull();
    }
  });

  it('issue 12 item 1: random event sequences keep the invariants', () => {
    const event = fc.oneof(
      fc.constant<GiopConnectionEvent>({ type: 'CONNECT' }),
      fc.constant<GiopConnectionEvent>({ type: 'TRANSPORT.OPEN' }),
      fc.constant<GiopConnectionEvent>({ type: 'TRANSPORT.FAILED', error }),
      fc.constant<GiopConnectionEvent>({ type: 'TRANSPORT.CLOSED', error: null }),
      fc.constant<GiopConnectionEvent>({ type: 'TRANSPORT.PEER_CLOSE' }),
      fc.constant<GiopConnectionEvent>({ type: 'TRANSPORT.PROTOCOL_ERROR', error }),
      fc.constant<GiopConnectionEvent>({ type: 'CLOSE' }),
      fc.integer({ min: 0, max: 6000 }),
    );
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (steps, u) => {
          const m = start(() => u);
          let wasClosed = false;
          for (const step of steps) {
            if (typeof step === 'number') m.clock.advance(step);
            else if (m.actor.getSnapshot().status === 'active') m.actor.send(step); // a finished actor takes nothing
            const state = m.state();
            const ctx = m.actor.getSnapshot().context;
            expect(m.sockets()).toBe(state.startsWith('live.') ? 1 : 0);
            if (state === 'live.connected') expect(ctx.lastError).toBeNull();
            if (state === 'backoff') {
              expect(ctx.lastError).not.toBeNull();
              expect(ctx.sleepMs).toBeGreaterThanOrEqual(MIN_BACKOFF_MS / 2);
              expect(ctx.sleepMs).toBeLessThanOrEqual(MAX_BACKOFF_MS);
            }
            if (wasClosed) expect(state).toBe('closed');
            wasClosed ||= state === 'closed';
          }
          m.actor.stop();
          expect(m.sockets()).toBe(0);
        },
      ),
      { numRuns: propertyRuns(300) },
    );
  });
});
