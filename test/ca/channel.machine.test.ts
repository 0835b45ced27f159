/**
 * The CA channel and subscription machines alone (issue 11 item 2), on a TestClock with recording actions:
 * caproto's threading-client lifecycle (search -> create -> connected -> lost -> re-search), the effects each
 * transition runs, CREATE_CH_FAIL back-off, go idle / wake, close from every state, subscriptions pending before
 * connection and re-activated after a loss, and every declared transition of both machines taken.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyStateMachine, createActor, type InspectionEvent } from 'xstate';
import {
  type ChannelEvent,
  CREATE_RETRY_MAX_MS,
  channelMachine,
  createRetryDelay,
} from '../../machines/ca/channel.js';
import { type SubscriptionEvent, subscriptionMachine } from '../../machines/ca/subscription.js';
import { TestClock } from '../../src/testing/index.js';
import { transitionCoverage } from '../../src/testing/transitionCoverage.js';
import { recordTransitions } from '../support/transitions.js';

const coverage = transitionCoverage();
const running: Array<{ stop(): void }> = [];
afterEach(() => {
  for (const a of running.splice(0)) a.stop();
});
const inspect = (e: InspectionEvent) => {
  coverage.inspect(e);
  recordTransitions(e);
};

function recording<M extends AnyStateMachine>(machine: M, names: string[]) {
  const calls: string[] = [];
  const actions = Object.fromEntries(names.map((n) => [n, () => void calls.push(n)]));
  return { logic: machine.provide({ actions } as never) as M, calls };
}

function channel() {
  const clock = new TestClock();
  const { logic, calls } = recording(channelMachine, [
    'startSearch',
    'stopSearch',
    'createChannel',
    'forgetChannel',
    'clearChannel',
    'announceConnected',
    'announceDisconnected',
    'accessRightsChanged',
  ]);
  const actor = createActor(logic, { input: { name: 'X:A', priority: 0 }, clock, inspect });
  running.push(actor);
  actor.start();
  const send = (e: ChannelEvent) => actor.send(e);
  const state = () => actor.getSnapshot().value;
  return { actor, clock, calls, send, state };
}

const found: ChannelEvent = { type: 'FOUND', address: { host: '127.0.0.1', port: 5064 }, minorVersion: 13 };
const created: ChannelEvent = { type: 'CREATED', sid: 7, nativeType: 6, nativeCount: 1 };

describe('issue 11 item 2: channel machine', () => {
  it('searches, connects with access rights that may come first, and re-searches after a circuit loss', () => {
    const c = channel();
    expect(c.state()).toBe('searching');
    expect(c.calls).toEqual(['startSearch']);
    c.send(found);
    expect(c.state()).toBe('connecting');
    expect(c.actor.getSnapshot().context.address).toEqual({ host: '127.0.0.1', port: 5064 });
    c.send({ type: 'ACCESS_RIGHTS', rights: 3 });
    c.send(created);
    expect(c.state()).toBe('connected');
    expect(c.actor.getSnapshot().context).toMatchObject({
      sid: 7,
      nativeType: 6,
      nativeCount: 1,
      accessRights: 3,
    });
    c.send({ type: 'ACCESS_RIGHTS', rights: 1 });
    expect(c.actor.getSnapshot().context.accessRights).toBe(1);
    c.calls.length = 0;
    c.send({ type: 'CIRCUIT_LOST' });
    // disconnected is passed through at once: forget the channel, then search again
    expect(c.state()).toBe('searching');
    expect(c.calls).toEqual(['announceDisconnected', 'forgetChannel', 'startSearch']);
    expect(c.actor.getSnapshot().context).toMatchObject({ sid: null, accessRights: 0, connections: 1 });
  });

  it('SERVER_DISCONN re-searches; a circuit lost while connecting re-searches without announcing', () => {
    const c = channel();
    c.send(found);
    c.send(created);
    c.send({ type: 'SERVER_DISCONNECTED' });
    expect(c.state()).toBe('searching');
    c.send(found);
    c.calls.length = 0;
    c.send({ type: 'CIRCUIT_LOST' });
    expect(c.state()).toBe('searching');
    expect(c.calls).toEqual(['forgetChannel', 'startSearch']);
  });

  it('CREATE_CH_FAIL backs off 1 s doubling to 30 s before searching again; success resets it', () => {
    const c = channel();
    for (let n = 1; n <= 7; n++) {
      c.send(found);
      c.send({ type: 'CREATE_FAILED' });
      expect(c.state()).toBe('backingOff');
      c.clock.advance(createRetryDelay(n) - 1);
      expect(c.state()).toBe('backingOff');
      c.clock.advance(1);
      expect(c.state()).toBe('searching');
    }
    expect(createRetryDelay(7)).toBe(CREATE_RETRY_MAX_MS);
    c.send(found);
    c.send(created);
    expect(c.actor.getSnapshot().context.createFailures).toBe(0);
  });

  it('goes idle with CLEAR_CHANNEL and wakes into a new search', () => {
    const c = channel();
    c.send(found);
    c.send(created);
    c.calls.length = 0;
    c.send({ type: 'GO_IDLE' });
    expect(c.state()).toBe('idle');
    expect(c.calls).toEqual(['announceDisconnected', 'clearChannel']);
    c.send({ type: 'WAKE' });
    expect(c.state()).toBe('searching');
  });

  it('closes from every state; closed is final', () => {
    const paths: ChannelEvent[][] = [
      [],
      [found],
      [found, created],
      [found, { type: 'CREATE_FAILED' }],
      [found, created, { type: 'GO_IDLE' }],
    ];
    for (const path of paths) {
      const c = channel();
      for (const e of path) c.send(e);
      c.send({ type: 'CLOSE' });
      expect(c.state()).toBe('closed');
      expect(c.actor.getSnapshot().status).toBe('done');
    }
    const c = channel();
    c.send(found);
    c.send(created);
    c.calls.length = 0;
    c.send({ type: 'CLOSE' });
    expect(c.calls).toEqual(['announceDisconnected', 'clearChannel']);
  });
});

function subscription(channelConnected: boolean) {
  const { logic, calls } = recording(subscriptionMachine, [
    'sendEventAdd',
    'sendEventCancel',
    'forgetSubscription',
  ]);
  const actor = createActor(logic, { input: { channelConnected }, inspect });
  running.push(actor);
  actor.start();
  const send = (e: SubscriptionEvent['type']) => actor.send({ type: e } as SubscriptionEvent);
  return { actor, calls, send, state: () => actor.getSnapshot().value };
}

describe('issue 11 item 2: subscription machine', () => {
  it('activates at once on a connected channel; the last callback removed cancels', () => {
    const s = subscription(true);
    expect(s.state()).toBe('inactive');
    s.send('ACTIVATE');
    expect(s.state()).toBe('active');
    expect(s.calls).toEqual(['sendEventAdd']);
    s.send('DEACTIVATE');
    expect(s.state()).toBe('inactive');
    expect(s.calls).toEqual(['sendEventAdd', 'sendEventCancel']);
  });

  it('waits in pending before connection and re-activates after a loss without user action', () => {
    const s = subscription(false);
    s.send('ACTIVATE');
    expect(s.state()).toBe('pending');
    s.send('LOST');
    s.send('CONNECTED');
    expect(s.state()).toBe('active');
    s.send('LOST');
    expect(s.state()).toBe('pending');
    expect(s.calls).toEqual(['sendEventAdd', 'forgetSubscription']);
    s.send('CONNECTED');
    expect(s.state()).toBe('active');
    expect(s.actor.getSnapshot().context.activations).toBe(2);
    s.send('LOST');
    s.send('DEACTIVATE');
    expect(s.state()).toBe('inactive');
  });

  it('tracks the channel while inactive, and closes from every state', () => {
    const s = subscription(false);
    s.send('CONNECTED');
    expect(s.actor.getSnapshot().context.channelConnected).toBe(true);
    s.send('LOST');
    expect(s.actor.getSnapshot().context.channelConnected).toBe(false);
    s.send('CLOSE');
    expect(s.state()).toBe('closed');
    const p = subscription(false);
    p.send('ACTIVATE');
    p.send('CLOSE');
    expect(p.state()).toBe('closed');
    const a = subscription(true);
    a.send('ACTIVATE');
    a.send('CLOSE');
    expect(a.calls).toEqual(['sendEventAdd', 'sendEventCancel']);
  });
});

describe('issue 11 item 2: CA machine coverage', () => {
  it('every declared transition of the channel and subscription machines was taken', () => {
    expect(coverage.missing(channelMachine)).toEqual([]);
    expect(coverage.missing(subscriptionMachine)).toEqual([]);
  });
});
