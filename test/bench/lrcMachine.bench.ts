/**
 * A diagnostic of the LRC benchmark: the `lrc` machine alone on the compiled runner, its device I/O actions
 * stubbed (no session, no device, no facade), given the events a call of the benchmark gets, in the benchmark's
 * pattern: 10,000 lifecycles spawned, then every call's first event, every call's second, ... (all alive at once,
 * as in the benchmark). What the machine costs per call, the part of an Orrery LRC call the floor and the session
 * rows of `npm run bench -- lrc` do not have.
 *
 * A v1 call's events: NEGOTIATED (1, 1), SUBSCRIBED, INVOKED with the STAGING and QUEUED status lists held before
 * the id was known, then IN_PROGRESS, a progress, the result and COMPLETED; a v2 call's: the same with `_lrcEvent`
 * json as ska-tango-base writes it (`json.dumps`: statuses as integers; the result with COMPLETED in one event).
 */

import type { LrcEvent } from '../../machines/tango/lrc.js';
import { createSystem } from '../../src/engine/system.js';
import type { DevicePort } from '../../src/protocols/tango/port.js';
import { lrcStubLogic } from '../support/lrcStub.js';

type Row = [string, string, string];

const CALLS = 10_000;
const ROUNDS = 12;
/** Untimed rounds first (JIT and heap settle); the row is the median of the others. */
const WARM_UP = 4;

function eventsOf(protocol: 1 | 2, id: string): LrcEvent[] {
  const invoked = (held: { attribute: string; value: unknown }[]): LrcEvent => ({
    type: 'INVOKED',
    reply: { code: 1, text: id, commandId: id },
    held,
  });
  const event = (attribute: string, value: unknown): LrcEvent => ({
    type: 'DEVICE_EVENT',
    event: { attribute, value },
  });
  if (protocol === 1) {
    const status = (s: string) => event('longRunningCommandStatus', ['other', 'QUEUED', id, s]);
    return [
      { type: 'NEGOTIATED', versions: [1, 1] },
      { type: 'SUBSCRIBED' },
      invoked([
        { attribute: 'longRunningCommandStatus', value: ['other', 'STAGING', id, 'STAGING'] },
        { attribute: 'longRunningCommandStatus', value: ['other', 'QUEUED', id, 'QUEUED'] },
      ]),
      status('IN_PROGRESS'),
      event('longRunningCommandProgress', [id, '1']),
      event('longRunningCommandResult', [id, '[0, "done"]']),
      status('COMPLETED'),
    ];
  }
  const lrcEvent = (json: string) => event('_lrcEvent', [id, json]);
  return [
    { type: 'NEGOTIATED', versions: [1, 2] },
    { type: 'SUBSCRIBED' },
    invoked([
      { attribute: '_lrcEvent', value: [id, '{"status": 0}'] },
      { attribute: '_lrcEvent', value: [id, '{"status": 1}'] },
    ]),
    lrcEvent('{"status": 2}'),
    lrcEvent('{"progress": 1}'),
    lrcEvent('{"status": 5, "result": [0, "done"]}'),
  ];
}

/** `npm run bench -- lrc-machine-v1` / `-v2`: microseconds per call, median of the timed rounds. */
export function benchLrcMachine(protocol: 1 | 2): Row[] {
  const system = createSystem();
  const device = { name: 'bench/ska/0' } as DevicePort;
  const calls = Array.from({ length: CALLS }, (_, i) => eventsOf(protocol, `1764700000.0_${i}_Go`));
  let updates = 0;
  const callback = () => {
    updates++;
  };
  const perCall: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    updates = 0;
    const t0 = performance.now();
    const lcs = [];
    for (let i = 0; i < CALLS; i++) {
      lcs.push(
        system.spawnCompiled(lrcStubLogic, {
          id: i,
          input: { device, command: 'Go', callback, clientVersions: [1, protocol] as const },
        }),
      );
    }
    for (let k = 0; k < calls[0].length; k++) for (let i = 0; i < CALLS; i++) lcs[i].send(calls[i][k]);
    const us = ((performance.now() - t0) * 1000) / CALLS;
    if (lcs.some((lc) => lc.status !== 'done')) throw new Error('a call did not finish');
    if (updates !== CALLS * (protocol === 1 ? 6 : 5)) throw new Error(`${updates} updates delivered`);
    if (r >= WARM_UP) perCall.push(us);
  }
  void system.stop();
  perCall.sort((a, b) => a - b);
  const median = perCall[perCall.length >> 1];
  return [
    [
      `  the lrc machine alone (compiled runner, stub I/O), a v${protocol} call's spawn and ${calls[0].length} events, 10k calls alive at once (median of ${ROUNDS - WARM_UP})`,
      `${median.toFixed(1)} us per call`,
      '',
    ],
  ];
}
