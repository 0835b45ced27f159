/**
 * The LRC status bookkeeping (`machines/tango/lrcReducer.ts`) on its own: the cases the machine rarely or never feeds it
 * through a well-behaved device, which mutation testing (issue 7 item 18) found no test noticed.
 */
import { describe, expect, it } from 'vitest';
import { type LrcProgress, reduceLrcEvent, replayLrcEvents } from '../../machines/tango/lrcReducer.js';
import type { AttributeEvent } from '../../src/protocols/tango/port.js';
import { TaskStatus } from '../../src/protocols/tango/wire.js';

const S = TaskStatus;
const ID = '1700000000.0_1_On';

function progress(overrides: Partial<LrcProgress> = {}): LrcProgress {
  return {
    protocolVersion: 1,
    commandId: ID,
    parity: false,
    status: null,
    terminal: false,
    resultSeen: false,
    pendingTerminal: null,
    ...overrides,
  };
}
const v1Status = (status: unknown, id = ID): AttributeEvent => ({
  attribute: 'longRunningCommandStatus',
  value: [id, status],
});
const v1Progress = (p: string): AttributeEvent => ({
  attribute: 'longRunningCommandProgress',
  value: [ID, p],
});
const v1Result = (r: unknown): AttributeEvent => ({
  attribute: 'longRunningCommandResult',
  value: [ID, JSON.stringify(r)],
});
const v2 = (event: object, id = ID): AttributeEvent => ({
  attribute: '_lrcEvent',
  value: [id, JSON.stringify(event)],
});

describe('issue 7 item 18: the reducer, case by case', () => {
  it('issue 7 item 18: NOT_FOUND is never delivered as a status (v1 and v2, before or after a first status)', () => {
    for (const status of [null, S.STAGING, S.QUEUED, S.IN_PROGRESS]) {
      for (const [protocolVersion, event] of [
        [1, v1Status('NOT_FOUND')],
        [2, v2({ status: S.NOT_FOUND })],
      ] as const) {
        for (const parity of [false, true]) {
          const state = progress({ protocolVersion, status, parity });
          const step = reduceLrcEvent(state, event);
          expect(step.updates, `${protocolVersion} ${status}`).toEqual([]);
          expect(step.progress).toBe(state);
        }
      }
    }
    // what comes with it in one v2 update still passes
    const state = progress({ protocolVersion: 2, status: S.STAGING });
    expect(reduceLrcEvent(state, v2({ status: S.NOT_FOUND, progress: 5 })).updates).toEqual([
      { progress: 5 },
    ]);
  });

  it('issue 7 item 18: v1, a terminal status waiting for its result lets progress through and filters statuses out', () => {
    const waiting = progress({ status: S.IN_PROGRESS, pendingTerminal: { status: S.COMPLETED } });
    for (const event of [v1Status('IN_PROGRESS'), v1Status('COMPLETED'), v1Status('ABORTED')]) {
      const step = reduceLrcEvent(waiting, event);
      expect(step.updates).toEqual([]);
      expect(step.progress).toBe(waiting);
    }
    const p = reduceLrcEvent(waiting, v1Progress('90'));
    expect(p.updates).toEqual([{ progress: 90 }]);
    expect(p.progress).toBe(waiting);
    const done = reduceLrcEvent(waiting, v1Result([0, 'ok']));
    expect(done.updates).toEqual([{ result: [0, 'ok'] }, { status: S.COMPLETED }]);
    expect(done.progress).toEqual({
      ...waiting,
      status: S.COMPLETED,
      terminal: true,
      resultSeen: true,
      pendingTerminal: null,
    });
  });

  it('issue 7 item 18: only v1 holds a terminal status back; v2 delivers it at once, with or without a result', () => {
    const v2State = progress({ protocolVersion: 2, status: S.IN_PROGRESS });
    const bare = reduceLrcEvent(v2State, v2({ status: S.COMPLETED }));
    expect(bare.updates).toEqual([{ status: S.COMPLETED }]);
    expect(bare.progress).toMatchObject({ status: S.COMPLETED, terminal: true, pendingTerminal: null });
    const v1State = progress({ status: S.IN_PROGRESS });
    const held = reduceLrcEvent(v1State, v1Status('COMPLETED'));
    expect(held.updates).toEqual([]);
    expect(held.progress).toMatchObject({
      status: S.IN_PROGRESS,
      terminal: false,
      pendingTerminal: { status: S.COMPLETED },
    });
    // v1 with its result already seen: no wait
    const seen = reduceLrcEvent({ ...v1State, resultSeen: true }, v1Status('FAILED'));
    expect(seen.updates).toEqual([{ status: S.FAILED }]);
    expect(seen.progress).toMatchObject({ terminal: true, pendingTerminal: null });
  });

  it('issue 7 item 18: events before the command id is known, after the end, or about other commands change nothing', () => {
    for (const state of [progress({ commandId: null }), progress({ status: S.COMPLETED, terminal: true })]) {
      for (const event of [v1Status('IN_PROGRESS'), { attribute: '_lrcEvent', errors: [] }]) {
        const step = reduceLrcEvent(state, event);
        expect(step).toEqual({ progress: state, updates: [], warnings: [] });
        expect(step.progress).toBe(state);
      }
    }
    const state = progress({ status: S.QUEUED });
    for (const event of [v1Status('IN_PROGRESS', 'other_On'), v2({ status: S.COMPLETED }, 'other_On')]) {
      const step = reduceLrcEvent(state, event);
      expect(step).toEqual({ progress: state, updates: [], warnings: [] });
      expect(step.progress).toBe(state);
    }
    const errors = [{ reason: 'API_EventTimeout', desc: 'lost', origin: 'x', severity: 'ERR' as const }];
    expect(reduceLrcEvent(state, { attribute: '_lrcEvent', errors })).toEqual({
      progress: state,
      updates: [{ error: errors }],
      warnings: [],
    });
    expect(replayLrcEvents(state, [v1Status('IN_PROGRESS', 'other_On')]).warnings).toEqual([]);
  });

  it('issue 7 item 18: the status: undefined update after an unknown status is v1 parity only', () => {
    const unknown = v1Status('BOGUS');
    const count = (protocolVersion: number, parity: boolean) =>
      reduceLrcEvent(progress({ protocolVersion, parity, status: S.QUEUED }), unknown).updates;
    expect(count(1, true)).toHaveLength(2);
    expect(count(1, true)[1]).toStrictEqual({ status: undefined });
    // a v1 attribute's event reaching a v2 call (a port that sends more than was subscribed): the error only
    expect(count(2, true)).toHaveLength(1);
    expect(count(1, false)).toHaveLength(1);
  });

  it('issue 7 item 18: a v1 parity repeat is delivered again and keeps the same bookkeeping object', () => {
    const state = progress({ parity: true, status: S.IN_PROGRESS });
    const step = reduceLrcEvent(state, v1Status('IN_PROGRESS'));
    expect(step.updates).toEqual([{ status: S.IN_PROGRESS }]);
    expect(step.progress).toBe(state);
    const plain = progress({ status: S.IN_PROGRESS });
    expect(reduceLrcEvent(plain, v1Status('IN_PROGRESS')).updates).toEqual([]);
    // stale statuses are dropped, terminal ones accepted from any state
    expect(reduceLrcEvent(plain, v1Status('QUEUED')).updates).toEqual([]);
    expect(
      reduceLrcEvent(progress({ status: S.STAGING, resultSeen: true }), v1Status('REJECTED')).updates,
    ).toEqual([{ status: S.REJECTED }]);
  });
});
