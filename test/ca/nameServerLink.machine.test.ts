/**
 * The name-server link machine alone (`machines/ca/nameServerLink.ts`, issue 11 item 2) on a TestClock, with
 * recording stand-ins for its effects: the connect timeout, a refused connection, a link closed while open or
 * ready, a server below V4.12, the back-off doubling to `maxRetryMs` and its reset once ready, CLOSE in every state;
 * and every declared transition taken.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyActorRef, createActor } from 'xstate';
import {
  NAME_SERVER_FIRST_RETRY_MS,
  type NameServerLinkMachineEvent,
  type NameServerLinkReport,
  nameServerLinkMachine,
} from '../../machines/ca/nameServerLink.js';
import { TestClock } from '../../src/testing/index.js';
import { transitionCoverage } from '../../src/testing/transitionCoverage.js';
import { recordTransitions } from '../support/transitions.js';

const coverage = transitionCoverage();
const running: AnyActorRef[] = [];
afterEach(() => {
  for (const a of running.splice(0)) a.stop();
});

const CONNECT_TMO = 1000;
const MAX_RETRY = 1500;

type Effect = 'openSocket' | 'sendGreeting' | 'destroySocket' | 'notifyReady';

function harness(maxRetryMs = MAX_RETRY) {
  const clock = new TestClock();
  const effects: Effect[] = [];
  const reports: { level: 'warn' | 'debug'; report: NameServerLinkReport }[] = [];
  const entered: string[] = [];
  const effect = (name: Effect) => () => void effects.push(name);
  const actor = createActor(
    nameServerLinkMachine.provide({
      actions: {
        enterState: (_, p) => void entered.push(p.state),
        openSocket: effect('openSocket'),
        sendGreeting: effect('sendGreeting'),
        destroySocket: effect('destroySocket'),
        notifyReady: effect('notifyReady'),
        warn: (_, report) => void reports.push({ level: 'warn', report }),
        debug: (_, report) => void reports.push({ level: 'debug', report }),
      },
    }),
    {
      clock,
      input: { address: '10.0.0.9:5064', connectTimeoutMs: CONNECT_TMO, maxRetryMs },
      inspect: (e) => {
        coverage.inspect(e);
        recordTransitions(e);
      },
    },
  );
  actor.start();
  running.push(actor);
  const state = () => {
    const s = actor.getSnapshot();
    return s.status === 'done' ? 'closed' : String(s.value);
  };
  return {
    clock,
    actor,
    effects,
    reports,
    entered,
    state,
    send: (e: NameServerLinkMachineEvent) => actor.send(e),
    failures: () => reports.filter((r) => r.report.what === 'failed'),
  };
}

type H = ReturnType<typeof harness>;
const refused = (h: H) => h.send({ type: 'SOCKET_CLOSED', error: new Error('ECONNREFUSED') });
const toReady = (h: H, minor = 13) => {
  h.send({ type: 'SOCKET_CONNECTED' });
  h.send({ type: 'VERSION', minor });
};

describe('issue 11 item 2: the name-server link machine', () => {
  it('issue 11 item 2: connects, greets on SOCKET_CONNECTED, is ready on a V4.12+ VERSION (no timer left)', () => {
    const h = harness();
    expect(h.state()).toBe('connecting');
    expect(h.effects).toEqual(['openSocket']);
    expect(h.clock.pending).toBe(1); // the connect timeout
    h.send({ type: 'SOCKET_CONNECTED' });
    expect(h.state()).toBe('open');
    expect(h.effects).toEqual(['openSocket', 'sendGreeting']);
    expect(h.clock.pending).toBe(0);
    h.send({ type: 'VERSION', minor: 13 });
    expect(h.state()).toBe('ready');
    expect(h.effects.at(-1)).toBe('notifyReady');
    expect(h.reports).toEqual([{ level: 'debug', report: { what: 'ready', minor: 13 } }]);
    expect(h.actor.getSnapshot().context.minor).toBe(13);
    expect(h.clock.pending).toBe(0);
    h.send({ type: 'VERSION', minor: 13 }); // a second VERSION changes nothing
    expect(h.effects.filter((e) => e === 'notifyReady')).toHaveLength(1);
  });

  it('issue 11 item 2: the connect timeout releases the socket and waits 250 ms before the next attempt', () => {
    const h = harness();
    h.clock.advance(CONNECT_TMO - 1);
    expect(h.state()).toBe('connecting');
    h.clock.advance(1);
    expect(h.state()).toBe('waiting');
    expect(h.effects).toEqual(['openSocket', 'destroySocket']);
    const [first] = h.failures();
    expect(first.level).toBe('warn');
    expect(first.report).toMatchObject({ what: 'failed', retryInMs: NAME_SERVER_FIRST_RETRY_MS });
    expect((first.report as { error: Error }).error.message).toBe(
      `connect timed out after ${CONNECT_TMO} ms`,
    );
    h.clock.advance(NAME_SERVER_FIRST_RETRY_MS - 1);
    expect(h.state()).toBe('waiting');
    h.clock.advance(1);
    expect(h.state()).toBe('connecting');
    expect(h.actor.getSnapshot().context.connects).toBe(2);
  });

  it('issue 11 item 2: refused again and again: the wait doubles up to maxRetryMs; the first failure warns, the rest debug', () => {
    const h = harness();
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      refused(h);
      expect(h.state()).toBe('waiting');
      const wait = h.actor.getSnapshot().context.waitMs;
      waits.push(wait);
      h.clock.advance(wait);
      expect(h.state()).toBe('connecting');
    }
    expect(waits).toEqual([250, 500, 1000, 1500, 1500]);
    expect(h.failures().map((f) => f.level)).toEqual(['warn', 'debug', 'debug', 'debug', 'debug']);
    expect(h.failures().map((f) => (f.report as { retryInMs: number }).retryInMs)).toEqual(waits);
    expect(h.effects.filter((e) => e === 'openSocket')).toHaveLength(6);
    expect(h.effects.filter((e) => e === 'destroySocket')).toHaveLength(5);
  });

  it('issue 11 item 2: maxRetryMs below 250 ms keeps the 250 ms wait', () => {
    const h = harness(100);
    refused(h);
    h.clock.advance(250);
    refused(h);
    expect(h.actor.getSnapshot().context.waitMs).toBe(250);
  });

  it('issue 11 item 2: a link that became ready resets the back-off and ends the outage (the next failure warns)', () => {
    const h = harness();
    refused(h);
    h.clock.advance(250);
    refused(h);
    h.clock.advance(500);
    toReady(h);
    expect(h.state()).toBe('ready');
    h.send({ type: 'SOCKET_CLOSED', error: new Error('connection closed') });
    expect(h.state()).toBe('waiting');
    expect(h.actor.getSnapshot().context.waitMs).toBe(250);
    expect(h.failures().map((f) => f.level)).toEqual(['warn', 'debug', 'warn']);
  });

  it('issue 11 item 2: closed while open (before the VERSION reply): retried', () => {
    const h = harness();
    h.send({ type: 'SOCKET_CONNECTED' });
    h.send({ type: 'SOCKET_CLOSED' });
    expect(h.state()).toBe('waiting');
    expect((h.failures()[0].report as { error: Error }).error.message).toBe('connection closed');
    h.clock.advance(250);
    expect(h.state()).toBe('connecting');
  });

  it('issue 11 item 2: a server below V4.12 keeps its link but is not usable (warned once); a later V4.12 VERSION makes it ready', () => {
    const h = harness();
    toReady(h, 11);
    expect(h.state()).toBe('notUsable');
    expect(h.effects).not.toContain('notifyReady');
    h.send({ type: 'VERSION', minor: 11 });
    expect(h.reports).toEqual([{ level: 'warn', report: { what: 'noTcpSearch', minor: 11 } }]);
    expect(h.clock.pending).toBe(0);
    h.send({ type: 'VERSION', minor: 12 });
    expect(h.state()).toBe('ready');
    expect(h.effects.at(-1)).toBe('notifyReady');
  });

  it('issue 11 item 2: a link not usable that is dropped is retried', () => {
    const h = harness();
    toReady(h, 4);
    h.send({ type: 'SOCKET_CLOSED', error: new Error('ECONNRESET') });
    expect(h.state()).toBe('waiting');
    expect(h.effects.at(-1)).toBe('destroySocket');
  });

  it('issue 11 item 2: CLOSE in every state ends the machine, releases the socket and leaves no timer', () => {
    const walks: Record<string, (h: H) => void> = {
      connecting: () => {},
      open: (h) => h.send({ type: 'SOCKET_CONNECTED' }),
      notUsable: (h) => toReady(h, 11),
      ready: (h) => toReady(h),
      waiting: (h) => refused(h),
    };
    for (const [state, walk] of Object.entries(walks)) {
      const h = harness();
      walk(h);
      expect(h.state()).toBe(state);
      h.send({ type: 'CLOSE' });
      expect(h.state()).toBe('closed');
      expect(h.actor.getSnapshot().status).toBe('done');
      expect(h.effects.at(-1)).toBe('destroySocket');
      expect(h.entered.at(-1)).toBe('closed');
      expect(h.clock.pending).toBe(0);
    }
  });

  it('issue 11 item 2: every declared transition is taken', () => {
    expect(coverage.missing(nameServerLinkMachine)).toEqual([]);
  });
});
