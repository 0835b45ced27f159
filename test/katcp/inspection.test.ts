/**
 * `inspectDevice` against a scripted device (no socket): what goes on the wire for a re-inspection scope.
 */
import { describe, expect, it } from 'vitest';
import type { RawReply } from '../../src/protocols/katcp/client.js';
import type { ArgValue, KatcpMessage } from '../../src/protocols/katcp/codec.js';
import { SyncError } from '../../src/protocols/katcp/errors.js';
import {
  type InspectedDevice,
  inspectDevice,
  MAX_NAMED_LOOKUPS,
} from '../../src/protocols/katcp/inspection.js';

const msg = (type: KatcpMessage['type'], name: string, args: string[]): KatcpMessage => ({
  type,
  name,
  mid: null,
  args: args.map((a) => Buffer.from(a)),
});

/** A device with these sensors and requests, answering ?sensor-list and ?help as a KATCP server does. */
function scriptedDevice(sensors: string[], requests: string[]) {
  const sent: string[] = [];
  const device: InspectedDevice = {
    address: 'scripted:7147',
    async request(name: string, args: ArgValue[]): Promise<RawReply> {
      const wanted = args.length ? String(args[0]) : null;
      sent.push(wanted === null ? `?${name}` : `?${name} ${wanted}`);
      const known = name === 'sensor-list' ? sensors : requests;
      const listed = wanted === null ? known : known.filter((n) => n === wanted);
      if (wanted !== null && listed.length === 0) {
        // aiokatcp's words (katcp-python's are `Unknown request` / `Unknown sensor`)
        const text = name === 'help' ? `request ${wanted} is not known` : `Unknown sensor '${wanted}'`;
        return { reply: msg('reply', name, ['fail', text]), informs: [] };
      }
      const informs = listed.map((n) =>
        name === 'sensor-list'
          ? msg('inform', name, [n, `${n} sensor`, 'mm', 'float', '0', '10'])
          : msg('inform', name, [n, `${n} request`]),
      );
      return { reply: msg('reply', name, ['ok', String(listed.length)]), informs };
    },
  };
  return { device, sent };
}

describe('inspectDevice: a named re-inspection scope', () => {
  it('a few names are looked up one by one', async () => {
    const { device, sent } = scriptedDevice(['a', 'b'], ['go']);
    const result = await inspectDevice(
      device,
      { requests: ['go', 'gone'], sensors: ['a', 'x'] },
      '',
      new AbortController().signal,
    );
    expect(sent.sort()).toEqual(['?help go', '?help gone', '?sensor-list a', '?sensor-list x']);
    expect(result.sensors.map((s) => s.name)).toEqual(['a']);
    expect(result.requests.map((r) => r.name)).toEqual(['go']);
  });

  it('more names than MAX_NAMED_LOOKUPS are one full listing, kept to the names asked (no flood of lookups)', async () => {
    const present = Array.from({ length: 150 }, (_, i) => `s${i}`);
    const asked = Array.from({ length: 300 }, (_, i) => `s${i * 2}`); // every other one: 75 present, 225 gone
    const { device, sent } = scriptedDevice(
      [...present, 'other'],
      Array.from({ length: 10 }, (_, i) => `r${i}`),
    );
    const result = await inspectDevice(
      device,
      { requests: asked.map((n) => n.replace('s', 'r')), sensors: asked },
      '',
      new AbortController().signal,
    );
    // before, one request per name: 600 at once
    expect(sent).toEqual(['?help', '?sensor-list']);
    expect(asked.length).toBeGreaterThan(MAX_NAMED_LOOKUPS);
    expect(result.sensors.map((s) => s.name)).toEqual(present.filter((_, i) => i % 2 === 0));
    expect(result.requests.map((r) => r.name)).toEqual(['r0', 'r2', 'r4', 'r6', 'r8']);
    // the scope is kept as asked: the names not listed are removed from the model
    expect(result.scope.sensors).toBe(asked);
  });

  it('a named lookup the server fails for another reason than not knowing the name is a SyncError, as katcp-python (only "unknown" means gone)', async () => {
    const said: Record<string, string> = {};
    const device: InspectedDevice = {
      address: 'scripted:7147',
      async request(name: string, args: ArgValue[]): Promise<RawReply> {
        return { reply: msg('reply', name, ['fail', said[`${name} ${String(args[0])}`]]), informs: [] };
      },
    };
    const scope = (requests: string[], sensors: string[]) =>
      inspectDevice(device, { requests, sensors }, '', new AbortController().signal);
    // the words of katcp-python's and aiokatcp's servers for a name they do not know: no entry
    said['help a'] = 'Unknown request.';
    said['help b'] = 'request b is not known';
    said['sensor-list c'] = 'Unknown sensor.';
    said['sensor-list d'] = "Unknown sensor 'd'";
    const gone = await scope(['a', 'b'], ['c', 'd']);
    expect(gone.requests).toEqual([]);
    expect(gone.sensors).toEqual([]);
    // anything else: the server could not answer, which says nothing about the name
    said['help e'] = 'Traceback (most recent call last): KeyError';
    said['sensor-list f'] = 'device busy';
    await expect(scope(['e'], [])).rejects.toThrow(
      new SyncError(
        'Error reply during sync process for scripted:7147: !help fail Traceback\\_(most\\_recent\\_call\\_last):\\_KeyError',
      ),
    );
    await expect(scope([], ['f'])).rejects.toThrow(SyncError);
  });
});
