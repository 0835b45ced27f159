/**
 * PV definitions from a JSON file, for `orrery ca-sim --pvs FILE.json` and `CaServer`: either an array of
 * definitions or `{ "pvs": [...] }`. Each definition is `PvDefinition` without `onPut`:
 *
 *   [{ "name": "demo:temp", "type": "double", "value": 21.5, "units": "degC", "precision": 2,
 *      "limits": { "lowerCtrl": -50, "upperCtrl": 150 }, "mdel": 0.1, "adel": 1 },
 *    { "name": "demo:mode", "type": "enum", "value": "idle", "enumStrings": ["idle", "busy"] },
 *    { "name": "demo:wave", "type": "double", "value": [1, 2, 3], "maxCount": 1000, "access": "read-only" }]
 *
 * Every problem is a PvFileError naming the file and the field (`demo.json: pvs[2].type must be one of ...`).
 */
import { readFile } from 'node:fs/promises';
import { CaValueError } from './errors.js';
import { checkPvDefinition, type PvDefinition, ServerPvImpl } from './serverPv.js';

/** A PV file that cannot be read or does not describe valid PVs. */
export class PvFileError extends CaValueError {
  override readonly code: string = 'ORRERY_CA_PV_FILE';
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`${path}: ${message}`, options);
    this.path = path;
  }
}

const KEYS = new Set([
  'name',
  'type',
  'value',
  'maxCount',
  'enumStrings',
  'units',
  'precision',
  'limits',
  'access',
  'mdel',
  'adel',
]);

/** Checks parsed JSON as PV definitions; CaValueError naming the field (`pvs[1].value ...`). */
export function parsePvDefinitions(json: unknown): PvDefinition[] {
  const list = Array.isArray(json)
    ? json
    : json !== null && typeof json === 'object' && Array.isArray((json as { pvs?: unknown }).pvs)
      ? (json as { pvs: unknown[] }).pvs
      : undefined;
  if (list === undefined) throw new CaValueError('expected an array of PVs or { "pvs": [...] }');
  const names = new Set<string>();
  return list.map((raw, i) => {
    const where = `pvs[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new CaValueError(`${where} must be an object`);
    }
    for (const key of Object.keys(raw)) {
      if (!KEYS.has(key))
        throw new CaValueError(`${where}.${key} is not a PV field (${[...KEYS].join(', ')})`);
    }
    const def = raw as PvDefinition;
    checkPvDefinition(def, where);
    if (!('value' in raw)) throw new CaValueError(`${where}.value is missing`);
    const v = def.value as unknown;
    const ok =
      typeof v === 'number' ||
      typeof v === 'string' ||
      typeof v === 'boolean' ||
      (Array.isArray(v) && v.every((e) => typeof e === 'number' || typeof e === 'string'));
    if (!ok) throw new CaValueError(`${where}.value must be a number, string, boolean or array of them`);
    try {
      new ServerPvImpl(def, () => Date.now() / 1000); // the value fits the type and maxCount
    } catch (err) {
      throw new CaValueError(`${where}.value: ${(err as Error).message}`, { cause: err });
    }
    if (names.has(def.name)) throw new CaValueError(`${where}.name ${JSON.stringify(def.name)} is repeated`);
    names.add(def.name);
    return def;
  });
}

/** Reads PV definitions from a JSON file; PvFileError naming the file and the bad field. */
export async function loadPvFile(path: string): Promise<PvDefinition[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PvFileError(
      path,
      `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PvFileError(path, `not JSON: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parsePvDefinitions(json);
  } catch (err) {
    throw new PvFileError(path, (err as Error).message, { cause: err });
  }
}
