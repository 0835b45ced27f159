/**
 * The InspectingClient's inspector view (issue 9 item 6), as a pure function of the machine's context and state
 * value: the state combination as katcp-python prints it, the model changes as they happen, the sensors with
 * their status, secrets redacted, and the panel registered with the inspector's view registry.
 */
import { describe, expect, it } from 'vitest';
import { createRedactor } from '../../src/inspector/redact.js';
import { inspectorViewFor, inspectorViews } from '../../src/inspector/views.js';
import {
  describeModelChanges,
  inspectingClientFromContext,
  inspectingClientInspectorView,
  MODEL_CHANGE_HISTORY,
  phaseOf,
  stateText,
} from '../../src/protocols/katcp/view.js';

const redact = createRedactor();
const context = (over: Record<string, unknown> = {}) => ({
  address: '127.0.0.1:7147',
  flags: 'MIB',
  requests: { help: {}, watchdog: {} },
  sensors: { temperature: {}, counter: {}, mode: {} },
  readings: {
    temperature: { status: 'warn', value: 31.5, timestamp: 1 },
    counter: { status: 'nominal', value: 7, timestamp: 1 },
  },
  modelChanges: null,
  lastError: null,
  ...over,
});

describe('KATCP inspector view', () => {
  it('issue 9 item 6: every state of the machine maps to its flags, printed as katcp-python prints them', () => {
    const cases: Array<[unknown, string, string]> = [
      ['disconnected', 'disconnected', '[!connected !synced !model_changed !data_synced]'],
      ['stopped', 'stopped', '[!connected !synced !model_changed !data_synced]'],
      [
        { connected: { syncing: 'inspecting' } },
        'inspecting',
        '[connected !synced !model_changed !data_synced]',
      ],
      [
        { connected: { syncing: 'waitingForProtocol' } },
        'inspecting',
        '[connected !synced !model_changed !data_synced]',
      ],
      [{ connected: 'resyncWait' }, 'resyncWait', '[connected !synced !model_changed !data_synced]'],
      [
        { connected: { inspected: 'modelChanged' } },
        'modelChanged',
        '[connected !synced model_changed data_synced]',
      ],
      [
        { connected: { inspected: 'dataSynced' } },
        'dataSynced',
        '[connected !synced !model_changed data_synced]',
      ],
      [{ connected: { inspected: 'synced' } }, 'synced', '[connected synced !model_changed data_synced]'],
    ];
    for (const [value, phase, text] of cases) {
      const p = phaseOf(value);
      expect(p.phase).toBe(phase);
      expect(stateText(p.flags)).toBe(text);
    }
  });

  it('issue 9 item 6: the card lists the sensors with status and value, counts, flags; model changes kept newest first', () => {
    let s = inspectingClientFromContext({}, context(), redact, { connected: { inspected: 'synced' } });
    expect(s).toMatchObject({
      address: '127.0.0.1:7147',
      phase: 'synced',
      state: '[connected synced !model_changed data_synced]',
      flags: 'MIB',
      requests: 2,
      sensorCount: 3,
      error: null,
    });
    expect(s.sensors).toEqual([
      { name: 'counter', status: 'nominal', value: 7 },
      { name: 'mode', status: 'unknown', value: '' },
      { name: 'temperature', status: 'warn', value: 31.5 },
    ]);
    expect(s.changes).toBeUndefined();
    for (let i = 0; i < MODEL_CHANGE_HISTORY + 2; i++) {
      const modelChanges = { sensors: { added: [`s${i}`], removed: i % 2 ? [`s${i}`] : [] } };
      s = inspectingClientFromContext(s, context({ modelChanges }), redact);
      // the same changes seen again (another snapshot in the same state) are not repeated
      s = inspectingClientFromContext(s, context({ modelChanges }), redact);
    }
    const last = MODEL_CHANGE_HISTORY + 1;
    const expected = Array.from({ length: MODEL_CHANGE_HISTORY }, (_, k) => last - k).map((i) =>
      i % 2 ? `sensors +s${i} -s${i}` : `sensors +s${i}`,
    );
    expect(s.changes).toEqual(expected);
    expect(s.lastChange).toBe(expected[0]);
    expect(
      describeModelChanges({
        requests: { added: ['a'], removed: [] },
        sensors: { added: [], removed: ['b'] },
      }),
    ).toBe('sensors -b; requests +a');
    expect(describeModelChanges({})).toBeNull();
  });

  it('issue 9 item 6: an error is shown by name with its message redacted; sensor values pass the redactor', () => {
    const secret = 'password=hunter2';
    const s = inspectingClientFromContext(
      {},
      context({
        lastError: new Error(`sync failed ${secret}`),
        readings: { temperature: { status: 'error', value: { token: 'abc' }, timestamp: 1 } },
      }),
      redact,
    );
    expect(s.error).toMatch(/^Error: sync failed/);
    expect(JSON.stringify(s)).not.toContain('hunter2');
    expect(JSON.stringify(s)).not.toContain('abc');
  });

  it('issue 9 item 6: hostile contexts give a summary, never a throw', () => {
    for (const bad of [undefined, null, 42, 'x', { sensors: 5, readings: 'no', requests: null }]) {
      expect(() => inspectingClientFromContext({}, bad, redact, 'disconnected')).not.toThrow();
    }
  });

  it('issue 9 item 6: the view is registered for the inspectingClient machine with a KATCP panel that lists sensors', () => {
    expect(inspectorViewFor('inspectingClient')).toBe(inspectingClientInspectorView);
    const info = inspectorViews().find((v) => v.machine === 'inspectingClient');
    expect(info?.panel).toMatchObject({ id: 'katcp', title: 'KATCP devices', card: { list: 'sensors' } });
  });
});
