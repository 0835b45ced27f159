/**
 * The name-server link machine alone (`machines/ca/nameServerLink.ts`, issue 11 item 2) on a TestClock, with
 * recording stand-ins for its effects: the connect timeout, a refused connection, a link closed while open or
 * ready, a server below V4.12, the back-off doubling to `maxRetryMs` and its reset once ready, CLOSE in every state;
 * the echo supervision of `ready` and `notUsable` (silence -> one ECHO, HEARD restarts the silence, an unanswered
 * ECHO fails the link with a CaTimeoutError, Infinity arms no timer); and every declared transition taken.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyActorRef, createActor } from 'xstate';
import {
  NAME_SERVER_ECHO_TIMEOUT_MS,
  NAME_SERVER_FIRST_RETRY_MS,
  type NameServerLinkMachineEvent,
  type NameServerLinkReport,
  nameServerLinkMachine,
} from '../../machines/ca/nameServerLink.js';
import { CaTimeoutError } from '../../src/protocols/ca/errors.js';
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
const SILENCE = 3000;
const ECHO_TMO = 400;

type Effect = 'openSocket' | 'sendGreeting' | 'sendEcho' | 'destroySocket' | 'notifyReady';

/** Without `silenceMs` the link never probes (Infinity), as the tests of the lifecycle alone want. */
function harness(
  maxRetryMs = MAX_RETRY,
  echo: { silenceMs: number; echoTimeoutMs?: number } = { silenceMs: Infinity },
) {
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
        sendEcho: effect('sendEcho'),
        destroySocket: effect('destroySocket'),
        notifyReady: effect('notifyReady'),
        warn: (_, report) => void reports.push({ level: 'warn', report }),
        debug: (_, report) => void reports.push({ level: 'debug', report }),
      },
    }),
    {
      clock,
      input: { address: '10.0.0.9:5064', connectTimeoutMs: CONNECT_TMO, maxRetryMs, ...echo },
      inspect: (e) => {
        coverage.inspect(e);
        recordTransitions(e);
      },
    },
  );
  actor.start();
  running.push(actor);
  /** The state path, `ready.quiet` for a compound one. */
  const path = () => {
    const s = actor.getSnapshot();
    if (s.status === 'done') return 'closed';
    const v = s.value as string | Record<string, string>;
    return typeof v === 'string' ? v : Object.entries(v).map(([k, c]) => `${k}.${c}`)[0];
  };
  const state = () => path().split('.')[0];
  return {
    clock,
    actor,
    effects,
    reports,
    entered,
    state,
    path,
    echoes: () => effects.filter((e) => e === 'sendEcho').length,
    send: (e: NameServerLinkMachineEvent) => actor.send(e),
    failures: () => reports.filter((r) => r.report.what === 'failed'),
  };
}

type H = ReturnType<typeof harness>;
const supervised = () => harness(MAX_RETRY, { silenceMs: SILENCE, echoTimeoutMs: ECHO_TMO });
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

  describe('echo supervision of a connected link (libca tcpiiu ECHO, as caCircuit)', () => {
    const failedError = (h: H) => (h.failures().slice(-1)[0].report as { error: Error }).error;

    it('silence in ready sends exactly one ECHO; a HEARD answers it and the silence starts again', () => {
      const h = supervised();
      toReady(h);
      expect(h.path()).toBe('ready.quiet');
      expect(h.clock.pending).toBe(1); // the silence timer, nothing else
      h.clock.advance(SILENCE - 1);
      expect(h.echoes()).toBe(0);
      h.clock.advance(1);
      expect(h.path()).toBe('ready.probing');
      expect(h.echoes()).toBe(1);
      expect(h.actor.getSnapshot().context.echoesSent).toBe(1);
      expect(h.clock.pending).toBe(1); // the echo deadline, nothing else
      h.clock.advance(ECHO_TMO - 1);
      expect(h.path()).toBe('ready.probing');
      expect(h.echoes()).toBe(1); // one ECHO per entry of probing, not one per tick
      h.send({ type: 'HEARD' });
      expect(h.path()).toBe('ready.quiet');
      expect(h.clock.pending).toBe(1);
      h.clock.advance(ECHO_TMO); // the old deadline is gone
      expect(h.path()).toBe('ready.quiet');
      h.clock.advance(SILENCE - ECHO_TMO);
      expect(h.path()).toBe('ready.probing');
      expect(h.echoes()).toBe(2);
      // supervision never re-enters ready: notified and reported once
      expect(h.effects.filter((e) => e === 'notifyReady')).toHaveLength(1);
      expect(h.entered.filter((s) => s === 'ready')).toHaveLength(1);
      expect(h.reports).toEqual([{ level: 'debug', report: { what: 'ready', minor: 13 } }]);
    });

    it('HEARD while quiet restarts the silence timer (no ECHO while the server talks)', () => {
      const h = supervised();
      toReady(h);
      for (let i = 0; i < 5; i++) {
        h.clock.advance(SILENCE - 1);
        h.send({ type: 'HEARD' });
        expect(h.path()).toBe('ready.quiet');
        expect(h.clock.pending).toBe(1);
      }
      expect(h.echoes()).toBe(0);
      h.clock.advance(SILENCE - 1);
      expect(h.echoes()).toBe(0);
      h.clock.advance(1);
      expect(h.echoes()).toBe(1);
    });

    it('an unanswered ECHO fails the link: socket released, CaTimeoutError reported, back-off, reconnect', () => {
      const h = supervised();
      toReady(h);
      h.clock.advance(SILENCE);
      h.clock.advance(ECHO_TMO - 1);
      expect(h.path()).toBe('ready.probing');
      h.clock.advance(1);
      expect(h.state()).toBe('waiting');
      expect(h.effects.slice(-2)).toEqual(['sendEcho', 'destroySocket']);
      const [failure] = h.failures();
      expect(failure.level).toBe('warn');
      expect(failure.report).toMatchObject({ what: 'failed', retryInMs: NAME_SERVER_FIRST_RETRY_MS });
      expect(failedError(h)).toBeInstanceOf(CaTimeoutError);
      expect(failedError(h).message).toBe(
        `Name server 10.0.0.9:5064 did not answer an echo within ${ECHO_TMO} ms (after ${SILENCE} ms of silence)`,
      );
      expect(h.actor.getSnapshot().context.error).toBe(failedError(h));
      expect(h.clock.pending).toBe(1); // the back-off only
      h.clock.advance(NAME_SERVER_FIRST_RETRY_MS);
      expect(h.state()).toBe('connecting');
      expect(h.actor.getSnapshot().context.connects).toBe(2);
      // the outage goes on: the next failure doubles the wait and is debug
      refused(h);
      expect(h.actor.getSnapshot().context.waitMs).toBe(2 * NAME_SERVER_FIRST_RETRY_MS);
      expect(h.failures().map((f) => f.level)).toEqual(['warn', 'debug']);
      // ready again: the back-off is reset, the next echo failure warns again after 250 ms
      h.clock.advance(2 * NAME_SERVER_FIRST_RETRY_MS);
      toReady(h);
      h.clock.advance(SILENCE + ECHO_TMO);
      expect(h.state()).toBe('waiting');
      expect(h.actor.getSnapshot().context.waitMs).toBe(NAME_SERVER_FIRST_RETRY_MS);
      expect(h.failures().map((f) => f.level)).toEqual(['warn', 'debug', 'warn']);
      expect(h.echoes()).toBe(2);
    });

    it('echoTimeoutMs defaults to libca 5 s', () => {
      const h = harness(MAX_RETRY, { silenceMs: SILENCE });
      expect(h.actor.getSnapshot().context.echoTimeoutMs).toBe(NAME_SERVER_ECHO_TIMEOUT_MS);
      expect(NAME_SERVER_ECHO_TIMEOUT_MS).toBe(5000);
      toReady(h);
      h.clock.advance(SILENCE + NAME_SERVER_ECHO_TIMEOUT_MS - 1);
      expect(h.path()).toBe('ready.probing');
      h.clock.advance(1);
      expect(h.state()).toBe('waiting');
    });

    it('silenceMs Infinity arms no timer in ready or notUsable and never sends an ECHO', () => {
      for (const minor of [13, 11]) {
        const h = harness(MAX_RETRY, { silenceMs: Infinity, echoTimeoutMs: ECHO_TMO });
        toReady(h, minor);
        expect(h.path()).toBe(minor >= 12 ? 'ready.quiet' : 'notUsable.quiet');
        expect(h.clock.pending).toBe(0);
        h.send({ type: 'HEARD' });
        expect(h.clock.pending).toBe(0);
        h.clock.advance(1e12);
        expect(h.path()).toBe(minor >= 12 ? 'ready.quiet' : 'notUsable.quiet');
        expect(h.echoes()).toBe(0);
      }
    });

    it('no timer and no ECHO in open, and HEARD before ready changes nothing', () => {
      const h = supervised();
      h.send({ type: 'SOCKET_CONNECTED' });
      h.send({ type: 'HEARD' });
      expect(h.state()).toBe('open');
      expect(h.clock.pending).toBe(0);
      h.clock.advance(10 * SILENCE);
      expect(h.state()).toBe('open');
      expect(h.echoes()).toBe(0);
    });

    it('notUsable is supervised the same way: ECHO, HEARD, and an unanswered ECHO fails the link', () => {
      const h = supervised();
      toReady(h, 11);
      expect(h.path()).toBe('notUsable.quiet');
      expect(h.clock.pending).toBe(1);
      h.clock.advance(SILENCE - 1);
      h.send({ type: 'HEARD' });
      h.clock.advance(SILENCE - 1);
      expect(h.echoes()).toBe(0);
      h.clock.advance(1);
      expect(h.path()).toBe('notUsable.probing');
      expect(h.echoes()).toBe(1);
      h.send({ type: 'HEARD' });
      expect(h.path()).toBe('notUsable.quiet');
      h.clock.advance(SILENCE);
      expect(h.echoes()).toBe(2);
      h.clock.advance(ECHO_TMO);
      expect(h.state()).toBe('waiting');
      expect(h.effects.at(-1)).toBe('destroySocket');
      expect(failedError(h)).toBeInstanceOf(CaTimeoutError);
      // supervision never re-enters notUsable: warned once
      expect(h.reports.filter((r) => r.report.what === 'noTcpSearch')).toHaveLength(1);
      h.clock.advance(NAME_SERVER_FIRST_RETRY_MS);
      expect(h.state()).toBe('connecting');
    });

    it('while probing: a V4.12 VERSION makes a notUsable link ready (quiet), SOCKET_CLOSED and CLOSE leave no echo timer', () => {
      const upgraded = supervised();
      toReady(upgraded, 11);
      upgraded.clock.advance(SILENCE);
      expect(upgraded.path()).toBe('notUsable.probing');
      upgraded.send({ type: 'VERSION', minor: 12 });
      expect(upgraded.path()).toBe('ready.quiet');
      expect(upgraded.clock.pending).toBe(1);
      upgraded.clock.advance(ECHO_TMO);
      expect(upgraded.path()).toBe('ready.quiet');

      const dropped = supervised();
      toReady(dropped);
      dropped.clock.advance(SILENCE);
      dropped.send({ type: 'SOCKET_CLOSED', error: new Error('ECONNRESET') });
      expect(dropped.state()).toBe('waiting');
      expect(failedError(dropped).message).toBe('ECONNRESET');
      expect(dropped.clock.pending).toBe(1); // the back-off only

      for (const minor of [13, 11]) {
        const closed = supervised();
        toReady(closed, minor);
        closed.clock.advance(SILENCE);
        expect(closed.path()).toMatch(/\.probing$/);
        closed.send({ type: 'CLOSE' });
        expect(closed.state()).toBe('closed');
        expect(closed.effects.at(-1)).toBe('destroySocket');
        expect(closed.clock.pending).toBe(0);
      }
    });
  });

  it('issue 11 item 2: every declared transition is taken', () => {
    expect(coverage.missing(nameServerLinkMachine)).toEqual([]);
  });
});
