/**
 * issue 11 item 4: PV definitions from a JSON file (`orrery ca-sim --pvs`, `loadPvFile`): both shapes, every field,
 * and a PvFileError naming the file and the bad field for each kind of mistake.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaValueError } from '../../src/protocols/ca/errors.js';
import { CaServer, loadPvFile, PvFileError } from '../../src/protocols/ca/server.js';

const dir = mkdtempSync(join(tmpdir(), 'orrery-pvfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: unknown): string {
  const path = join(dir, `pvs-${n++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const GOOD = [
  {
    name: 'demo:temp',
    type: 'double',
    value: 21.5,
    units: 'degC',
    precision: 2,
    limits: { lowerCtrl: -50, upperCtrl: 150 },
    mdel: 0.1,
    adel: -1,
  },
  { name: 'demo:mode', type: 'enum', value: 'idle', enumStrings: ['idle', 'busy'] },
  { name: 'demo:wave', type: 'double', value: [1, 2, 3], maxCount: 1000, access: 'read-only' },
  { name: 'demo:text', type: 'string', value: 'hello' },
  { name: 'demo:chars', type: 'char', value: 'abc' },
  { name: 'demo:flag', type: 'short', value: true },
];

describe('issue 11 item 4: loadPvFile', () => {
  it('reads an array or { pvs: [...] }, and a server serves what it read', async () => {
    const defs = await loadPvFile(file(GOOD));
    expect(defs.map((d) => d.name)).toEqual(GOOD.map((d) => d.name));
    expect(await loadPvFile(file({ pvs: GOOD }))).toEqual(defs);
    const server = await CaServer.start({ port: 0, env: {}, beaconAddresses: [], pvs: defs });
    try {
      expect(server.pv('demo:wave')).toMatchObject({ maxCount: 1000, access: 'read-only' });
      expect([...(server.pv('demo:wave')!.data as Float64Array)]).toEqual([1, 2, 3]);
      expect(server.pv('demo:mode')!.metadata.enumStrings).toEqual(['idle', 'busy']);
      expect(server.pv('demo:chars')!.maxCount).toBe(4);
      expect(server.pv('demo:temp')!.deadband).toEqual({ mdel: 0.1, adel: -1 });
      expect(server.pv('demo:mode')!.deadband).toEqual({ mdel: 0, adel: 0 });
      expect(server.pv('demo:temp')!.metadata).toMatchObject({
        units: 'degC',
        precision: 2,
        upperCtrlLimit: 150,
      });
    } finally {
      await server.close();
    }
  });

  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{ nope', /not JSON/],
    ['not a list', { pv: [] }, /expected an array of PVs/],
    ['not an object', [3], /pvs\[0\] must be an object/],
    [
      'unknown field',
      [{ name: 'a', type: 'double', value: 1, unit: 'mm' }],
      /pvs\[0\]\.unit is not a PV field/,
    ],
    ['bad type', [{ name: 'a', type: 'float64', value: 1 }], /pvs\[0\]\.type must be one of/],
    ['no name', [{ type: 'double', value: 1 }], /pvs\[0\]\.name must be/],
    ['no value', [{ name: 'a', type: 'double' }], /pvs\[0\]\.value is missing/],
    ['value of the wrong kind', [{ name: 'a', type: 'double', value: { x: 1 } }], /pvs\[0\]\.value must be/],
    ['value out of range', [{ name: 'a', type: 'short', value: 40000 }], /pvs\[0\]\.value: .*out of range/],
    ['unknown enum state', [{ name: 'a', type: 'enum', value: 'x', enumStrings: ['a'] }], /pvs\[0\]\.value/],
    ['too long a string', [{ name: 'a', type: 'string', value: 'x'.repeat(40) }], /pvs\[0\]\.value/],
    ['maxCount too small', [{ name: 'a', type: 'double', value: [1, 2], maxCount: 1 }], /maxCount/],
    ['bad maxCount', [{ name: 'a', type: 'double', value: 1, maxCount: 0 }], /pvs\[0\]\.maxCount/],
    ['bad access', [{ name: 'a', type: 'double', value: 1, access: 'rw' }], /pvs\[0\]\.access/],
    ['long units', [{ name: 'a', type: 'double', value: 1, units: 'furlongs' }], /pvs\[0\]\.units/],
    ['bad precision', [{ name: 'a', type: 'double', value: 1, precision: -1 }], /pvs\[0\]\.precision/],
    ['bad limit', [{ name: 'a', type: 'double', value: 1, limits: { top: 1 } }], /pvs\[0\]\.limits\.top/],
    [
      'enum strings on a double',
      [{ name: 'a', type: 'double', value: 1, enumStrings: ['x'] }],
      /enumStrings/,
    ],
    ['too many enum states', [{ name: 'a', type: 'enum', value: 0, enumStrings: Array(17).fill('s') }], /16/],
    [
      'a dead-band on a string',
      [{ name: 'a', type: 'string', value: 'x', mdel: 1 }],
      /pvs\[0\]\.mdel is only/,
    ],
    [
      'a dead-band on an array',
      [{ name: 'a', type: 'double', value: [1, 2], adel: 1 }],
      /pvs\[0\]\.adel is only for scalar PVs/,
    ],
    [
      'a dead-band as text',
      [{ name: 'a', type: 'double', value: 1, mdel: '0.5' }],
      /pvs\[0\]\.mdel must be a number/,
    ],
    [
      'repeated name',
      [
        { name: 'a', type: 'double', value: 1 },
        { name: 'a', type: 'long', value: 1 },
      ],
      /pvs\[1\]\.name "a" is repeated/,
    ],
  ];
  for (const [what, content, message] of bad) {
    it(`refuses ${what} with a PvFileError naming the file and field`, async () => {
      const path = file(content);
      const err = await loadPvFile(path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PvFileError);
      expect(err).toBeInstanceOf(CaValueError);
      expect((err as PvFileError).path).toBe(path);
      expect((err as Error).message.startsWith(`${path}: `)).toBe(true);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('refuses a missing file', async () => {
    const err = await loadPvFile(join(dir, 'missing.json')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PvFileError);
    expect((err as Error).message).toMatch(/cannot read: ENOENT/);
  });
});
