/**
 * The `orrery/tango` entry (`src/protocols/tango/index.ts`) and the Tango errors in their own module: the package
 * root keeps re-exporting the same classes (names and codes unchanged), and the core errors module names no
 * protocol.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as core from '../../src/errors.js';
import * as root from '../../src/index.js';
import * as tango from '../../src/protocols/tango/index.js';

/** The modules' exports by name (looked up by the names listed in the tests). */
const byName = (module: object) => new Map<string, unknown>(Object.entries(module));
const [T, R] = [byName(tango), byName(root)];

const TANGO_ERRORS = {
  DevFailed: 'ORRERY_DEV_FAILED',
  CommandError: 'ORRERY_COMMAND_REJECTED',
  ResultCodeError: 'ORRERY_RESULT_CODE',
  ProtocolVersionError: 'ORRERY_PROTOCOL_VERSION',
} as const;

describe('issue 8 item 3: the Tango errors and the orrery/tango entry', () => {
  it('issue 8 item 3: the Tango errors keep their names and codes, and the package root re-exports the same classes', () => {
    for (const [name, code] of Object.entries(TANGO_ERRORS)) {
      const Class = T.get(name);
      expect(R.get(name), name).toBe(Class);
      const error =
        name === 'DevFailed' ? new tango.DevFailed([]) : new (Class as typeof tango.CommandError)('x');
      expect(error.name).toBe(name);
      expect(error.code).toBe(code);
      expect(error).toBeInstanceOf(core.OrreryError);
    }
    const stack = [{ reason: 'API_X', desc: 'failed', origin: 'dev', severity: 'ERR' as const }];
    const failed = new tango.DevFailed(stack).rethrow({
      ...stack[0],
      reason: 'SKA_InvokeLrcFailed',
      desc: 'top',
    });
    expect(failed.errors.map((e) => e.reason)).toEqual(['API_X', 'SKA_InvokeLrcFailed']);
    expect(failed.message).toBe('top');
  });

  it('issue 8 item 3: src/errors.ts keeps the core errors only', () => {
    for (const name of Object.keys(TANGO_ERRORS)) expect(Object.keys(core)).not.toContain(name);
    expect(readFileSync(new URL('../../src/errors.ts', import.meta.url), 'utf8')).not.toMatch(
      /from '[^']*protocols/,
    );
  });

  it('issue 8 item 3: orrery/tango has the LRC facades, the simulator, the wire module and the errors, as the root does', () => {
    for (const name of [
      'invokeLrc',
      'LongRunningCommand',
      'LrcSubscriptions',
      'SkaDeviceSimulator',
      'cachedLrcNegotiation',
      'forgetLrcNegotiation',
      'ResultCode',
      'TaskStatus',
      'isTerminalStatus',
      'resultCodeName',
      'taskStatusName',
    ]) {
      expect(T.get(name), name).toBeDefined();
      expect(R.get(name), name).toBe(T.get(name));
    }
    expect(tango.parseLrcReply([[tango.ResultCode.QUEUED], ['id']])?.commandId).toBe('id');
  });

  it('issue 8 item 3: the entry is re-exports only', () => {
    const source = readFileSync(new URL('../../src/protocols/tango/index.ts', import.meta.url), 'utf8');
    const statements = source
      .replace(/\/\/.*$/gm, '')
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const s of statements) expect(s).toMatch(/^export (type )?(\* as \w+|\*|\{[^}]*\}) from '[^']+'$/s);
  });
});
