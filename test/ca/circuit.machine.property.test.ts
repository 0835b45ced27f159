/**
 * The circuit machine alone (`machines/ca/circuit.ts`) on a TestClock, with a recording stand-in for its socket
 * actor: a model-based fast-check test (random socket events, CLOSEs and clock advances compared with a small
 * model of the connect deadline and the silence / echo timers after every step) and every declared transition taken.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyActorRef, createActor, fromCallback } from 'xstate';
import {
  type CircuitMachineEvent,
  type CircuitMachineInput,
  type CircuitSocketCommand,
  type CircuitSocketEvent,
  circuitMachine,
} from '../../machines/ca/circuit.js';
import { CaDisconnectedError, CaProtocolError, CaTimeoutError } from '../../src/protocols/ca/errors.js';
import { TestClock } from '../../src/testing/index.js';
import { transitionCoverage } from '../../src/testing/transitionCoverage.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { recordTransitions } from '../support/transitions.js';

const coverage = transitionCoverage();
const running: AnyActorRef[] = [];
afterEach(() => {
  for (const a of running.splice(0)) a.stop();
});

const CONN_TMO = 1000;
const ECHO_TMO = 300;
const CONNECT_TMO = 700;

function harness() {
  const clock = new TestClock();
  const commands: CircuitSocketCommand['type'][] = [];
  let socketAlive = false;
  let sendBack: ((e: CircuitSocketEvent) => void) | null = null;
  const machine = circuitMachine.provide({
    actors: {
      socket: fromCallback<CircuitSocketCommand, CircuitMachineInput, CircuitSocketEvent>(
        ({ sendBack: back, receive }) => {
          socketAlive = true;
          sendBack = back;
          receive((c) => commands.push(c.type));
          return () => {
            socketAlive = false;
          };
        },
      ),
    },
  });
  const entered: string[] = [];
  const actor = createActor(
    machine.provide({ actions: { enterState: (_, p) => void entered.push(p.state) } }),
    {
      clock,
      input: {
        address: '10.0.0.1:5064',
        priority: 0,
        connectionTimeoutMs: CONN_TMO,
        echoTimeoutMs: ECHO_TMO,
        connectTimeoutMs: CONNECT_TMO,
      },
      inspect: (e) => {
        coverage.inspect(e);
        recordTransitions(e);
      },
    },
  );
  actor.start();
  running.push(actor);
  return {
    clock,
    actor,
    commands,
    entered,
    socketAlive: () => socketAlive,
    fromSocket: (e: CircuitSocketEvent) => sendBack?.(e),
    send: (e: CircuitMachineEvent) => actor.send(e),
    state: () => {
      const s = actor.getSnapshot();
      return s.status === 'done'
        ? 'closed'
        : ((Object.values(s.value as object)[0] as string) ?? String(s.value));
    },
  };
}

/** What the model predicts. */
interface Model {
  state: 'connecting' | 'connected' | 'probing' | 'unresponsive' | 'closed';
  /** Clock time the armed timer fires (connecting: connect deadline; connected: silence; probing: echo deadline). */
  dueAt: number;
  echoes: number;
  reason: string | null;
  /** The connect deadline passed (connect-failed with a CaTimeoutError). */
  connectTimedOut: boolean;
}

type Step =
  | { kind: 'event'; event: CircuitSocketEvent | { type: 'CLOSE' } }
  | { kind: 'advance'; ms: number };

const steps: fc.Arbitrary<Step> = fc.oneof(
  fc
    .constantFrom<CircuitSocketEvent | { type: 'CLOSE' }>(
      { type: 'SOCKET_CONNECTED' },
      { type: 'HEARD' },
      { type: 'HEARD' },
      { type: 'SOCKET_CLOSED' },
      { type: 'SOCKET_CLOSED', error: new Error('ECONNRESET') },
      { type: 'PROTOCOL_ERROR', error: new CaProtocolError('bad frame') },
      { type: 'CLOSE' },
    )
    .map((event) => ({ kind: 'event' as const, event })),
  fc.integer({ min: 0, max: 1600 }).map((ms) => ({ kind: 'advance' as const, ms })),
);

function modelStep(m: Model, step: Step, now: number): void {
  if (m.state === 'closed') return;
  if (step.kind === 'advance') {
    const end = now + step.ms;
    for (;;) {
      if (m.state === 'connecting' && m.dueAt <= end) {
        m.state = 'closed';
        m.reason = 'connect-failed';
        m.connectTimedOut = true;
      } else if (m.state === 'connected' && m.dueAt <= end) {
        m.state = 'probing';
        m.echoes++;
        m.dueAt += ECHO_TMO;
      } else if (m.state === 'probing' && m.dueAt <= end) {
        m.state = 'unresponsive';
        m.reason = 'unresponsive';
      } else break;
    }
    return;
  }
  const e = step.event;
  switch (e.type) {
    case 'SOCKET_CONNECTED':
      if (m.state === 'connecting') {
        m.state = 'connected';
        m.dueAt = now + CONN_TMO;
      }
      return;
    case 'HEARD':
      if (m.state === 'connected' || m.state === 'probing') {
        m.state = 'connected';
        m.dueAt = now + CONN_TMO;
      }
      return;
    case 'SOCKET_CLOSED':
      m.reason ??= m.state === 'connecting' ? 'connect-failed' : 'peer-closed';
      m.state = 'closed';
      return;
    case 'PROTOCOL_ERROR':
      m.reason ??= 'protocol-error';
      m.state = 'closed';
      return;
    case 'CLOSE':
      m.reason ??= 'closed-by-client';
      m.state = 'closed';
  }
}

describe('issue 11 item 2: the circuit machine, model-based on a TestClock', () => {
  it('follows the model of its silence and echo timers under random events and clock advances', () => {
    fc.assert(
      fc.property(fc.array(steps, { maxLength: 40 }), (list) => {
        const h = harness();
        const m: Model = {
          state: 'connecting',
          dueAt: CONNECT_TMO,
          echoes: 0,
          reason: null,
          connectTimedOut: false,
        };
        for (const step of list) {
          const now = h.clock.now();
          if (m.state === 'closed' && step.kind === 'event') continue; // nothing reaches a final actor
          modelStep(m, step, now);
          if (step.kind === 'advance') h.clock.advance(step.ms);
          else if (step.event.type === 'CLOSE') h.send({ type: 'CLOSE' });
          else h.fromSocket(step.event as CircuitSocketEvent);
          // invariants
          expect(h.state()).toBe(m.state);
          expect(h.socketAlive()).toBe(m.state !== 'closed');
          expect(h.commands.filter((c) => c === 'ECHO')).toHaveLength(m.echoes);
          const timers = m.state === 'connecting' || m.state === 'connected' || m.state === 'probing' ? 1 : 0;
          expect(h.clock.pending).toBe(timers);
          if (timers) expect(h.clock.nextAt()).toBe(m.dueAt);
          const { context } = h.actor.getSnapshot();
          if (m.state === 'closed') {
            const out = h.actor.getSnapshot().output!;
            expect(out.reason).toBe(m.reason);
            const kind =
              m.reason === 'unresponsive' || m.connectTimedOut
                ? CaTimeoutError
                : m.reason === 'protocol-error'
                  ? CaProtocolError
                  : CaDisconnectedError;
            expect(out.error).toBeInstanceOf(kind);
          } else if (m.state !== 'unresponsive') {
            expect(context.reason).toBeNull();
            expect(context.error).toBeNull();
          } else {
            expect(h.commands.at(-1)).toBe('CLOSE');
          }
        }
        expect(h.entered.filter((s) => s === 'closed').length).toBe(m.state === 'closed' ? 1 : 0);
        h.actor.stop();
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it('the first reason wins: unresponsive stays unresponsive when the socket then closes', () => {
    const h = harness();
    h.fromSocket({ type: 'SOCKET_CONNECTED' });
    h.clock.advance(CONN_TMO + ECHO_TMO);
    expect(h.state()).toBe('unresponsive');
    h.fromSocket({ type: 'SOCKET_CLOSED', error: new Error('ECONNRESET') });
    const out = h.actor.getSnapshot().output!;
    expect(out.reason).toBe('unresponsive');
    expect(out.error).toBeInstanceOf(CaTimeoutError);
    expect(out.error.message).toContain('10.0.0.1:5064');
  });

  it('the connect deadline: connect-failed with a CaTimeoutError at connectTimeoutMs, none once connected', () => {
    const h = harness();
    h.clock.advance(CONNECT_TMO - 1);
    expect(h.state()).toBe('connecting');
    h.clock.advance(1);
    const out = h.actor.getSnapshot().output!;
    expect(out.reason).toBe('connect-failed');
    expect(out.error).toBeInstanceOf(CaTimeoutError);
    expect(out.error.message).toContain('10.0.0.1:5064');
    expect(h.socketAlive()).toBe(false);
    expect(h.clock.pending).toBe(0);
    const up = harness();
    up.fromSocket({ type: 'SOCKET_CONNECTED' });
    up.clock.advance(CONNECT_TMO);
    expect(up.state()).toBe('connected');
  });

  it('CLOSE carries its error to the output', () => {
    const h = harness();
    const error = new Error('mine');
    h.send({ type: 'CLOSE', error });
    expect(h.actor.getSnapshot().output).toEqual({ reason: 'closed-by-client', error });
  });

  it('every declared transition is taken', () => {
    // a deterministic walk through each transition, whatever the property drew
    const walks: ((h: ReturnType<typeof harness>) => void)[] = [
      (h) => h.fromSocket({ type: 'SOCKET_CLOSED' }),
      (h) => h.clock.advance(CONNECT_TMO),
      (h) => {
        h.fromSocket({ type: 'SOCKET_CONNECTED' });
        h.fromSocket({ type: 'HEARD' });
        h.clock.advance(CONN_TMO);
        h.fromSocket({ type: 'HEARD' });
        h.clock.advance(CONN_TMO + ECHO_TMO);
        h.fromSocket({ type: 'SOCKET_CLOSED' });
      },
      (h) => {
        h.fromSocket({ type: 'SOCKET_CONNECTED' });
        h.fromSocket({ type: 'PROTOCOL_ERROR', error: new CaProtocolError('x') });
      },
      (h) => h.send({ type: 'CLOSE' }),
    ];
    for (const walk of walks) walk(harness());
    expect(coverage.missing(circuitMachine)).toEqual([]);
  });
});
