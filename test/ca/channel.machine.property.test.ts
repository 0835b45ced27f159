/**
 * The channel and subscription machines under random event sequences and random clock advances (issue 11 item 2):
 * after every step the facade-visible invariants hold.
 * - channel: sid/native type set iff connected; announceConnected and announceDisconnected alternate, starting
 *   with connected (one 'disconnected' per 'connected'); a search is running (startSearch - stopSearch = 1) iff the
 *   state is searching; a circuit registration (createChannel - forget/clear) is held iff connecting or
 *   connected; a back-off timer exists iff backingOff; closed is final and holds nothing.
 * - subscription: an EVENT_ADD is outstanding (sendEventAdd - sendEventCancel - forgetSubscription = 1) iff active;
 *   active implies the channel is connected.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { type ChannelEvent, channelMachine } from '../../machines/ca/channel.js';
import { type SubscriptionEvent, subscriptionMachine } from '../../machines/ca/subscription.js';
import { TestClock } from '../../src/testing/index.js';
import { propertyRuns } from '../support/propertyRuns.js';
import { recordTransitions } from '../support/transitions.js';

const channelEvents: fc.Arbitrary<ChannelEvent | { type: 'ADVANCE'; ms: number }> = fc.oneof(
  fc.constant({ type: 'FOUND', address: { host: '127.0.0.1', port: 5064 }, minorVersion: 13 } as const),
  fc.record({
    type: fc.constant('CREATED' as const),
    sid: fc.nat(),
    nativeType: fc.integer({ min: 0, max: 6 }),
    nativeCount: fc.nat(),
  }),
  fc.record({ type: fc.constant('ACCESS_RIGHTS' as const), rights: fc.integer({ min: 0, max: 3 }) }),
  fc.constantFrom(
    ...(['CREATE_FAILED', 'SERVER_DISCONNECTED', 'CIRCUIT_LOST', 'GO_IDLE', 'WAKE', 'CLOSE'] as const).map(
      (type) => ({
        type,
      }),
    ),
  ),
  fc.record({ type: fc.constant('ADVANCE' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
);

describe('issue 11 item 2: CA machine invariants under random events', () => {
  it('channel machine', () => {
    fc.assert(
      fc.property(fc.array(channelEvents, { maxLength: 40 }), (events) => {
        const clock = new TestClock();
        const n: Record<string, number> = {};
        const announced: string[] = [];
        const count = (name: string) => () => {
          n[name] = (n[name] ?? 0) + 1;
          if (name.startsWith('announce')) announced.push(name);
        };
        const names = ['startSearch', 'stopSearch', 'createChannel', 'forgetChannel', 'clearChannel'];
        const actions = Object.fromEntries(
          [...names, 'announceConnected', 'announceDisconnected', 'accessRightsChanged'].map((a) => [
            a,
            count(a),
          ]),
        );
        const actor = createActor(channelMachine.provide({ actions } as never), {
          input: { name: 'P', priority: 0 },
          clock,
          inspect: recordTransitions,
        });
        actor.start();
        const c = (k: string) => n[k] ?? 0;
        for (const e of events) {
          if (e.type === 'ADVANCE') clock.advance(e.ms);
          else if (actor.getSnapshot().status === 'active') actor.send(e); // the facade never sends to a closed channel
          const s = actor.getSnapshot();
          const state = s.value as string;
          expect(s.context.sid !== null).toBe(state === 'connected');
          expect(s.context.nativeType !== null).toBe(state === 'connected');
          expect(c('startSearch') - c('stopSearch')).toBe(state === 'searching' ? 1 : 0);
          const held = c('createChannel') - c('forgetChannel') - c('clearChannel');
          expect(held).toBe(state === 'connecting' || state === 'connected' ? 1 : 0);
          expect(clock.pending).toBe(state === 'backingOff' ? 1 : 0);
          for (const [i, a] of announced.entries()) {
            expect(a).toBe(i % 2 === 0 ? 'announceConnected' : 'announceDisconnected');
          }
          expect(announced.length % 2 === 1).toBe(state === 'connected');
          expect(s.status === 'done').toBe(state === 'closed');
        }
        actor.stop();
      }),
      { numRuns: propertyRuns(500) },
    );
  });

  it('subscription machine', () => {
    const events = fc.array(
      fc.constantFrom<SubscriptionEvent['type']>('ACTIVATE', 'DEACTIVATE', 'CONNECTED', 'LOST', 'CLOSE'),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(fc.boolean(), events, (connected, types) => {
        const n = { add: 0, cancel: 0, forget: 0 };
        const actor = createActor(
          subscriptionMachine.provide({
            actions: {
              sendEventAdd: () => void n.add++,
              sendEventCancel: () => void n.cancel++,
              forgetSubscription: () => void n.forget++,
            },
          }),
          { input: { channelConnected: connected }, inspect: recordTransitions },
        );
        actor.start();
        let channel = connected;
        for (const type of types) {
          // the facade only sends CONNECTED / LOST on real changes of the channel
          if (type === 'CONNECTED' && channel) continue;
          if (type === 'LOST' && !channel) continue;
          if (type === 'CONNECTED') channel = true;
          if (type === 'LOST') channel = false;
          if (actor.getSnapshot().status !== 'active') break; // nothing reaches a closed subscription
          actor.send({ type } as SubscriptionEvent);
          const s = actor.getSnapshot();
          expect(n.add - n.cancel - n.forget).toBe(s.value === 'active' ? 1 : 0);
          if (s.value === 'active') expect(s.context.channelConnected).toBe(true);
          if (s.value !== 'closed') expect(s.context.channelConnected).toBe(channel);
        }
        actor.stop();
      }),
      { numRuns: propertyRuns(500) },
    );
  });
});
