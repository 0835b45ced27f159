/**
 * The pure LRC wire module (`src/protocols/tango/wire.ts`) on its own: the v1 and v2 attribute and event formats
 * (ska-tango-base 1.2-1.3), `pairIndex`, the one parse of a command's reply, and malformed input, which always
 * ends as a typed error (a `DevError` entry with `SKA_InvokeLrcFailed`, or the machine's ResultCodeError), never
 * a throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lrcErrors } from '../../machines/tango/lrcErrors.js';
import { ResultCodeError } from '../../src/protocols/tango/errors.js';
import {
  decodeLrcEvent,
  describeValue,
  isTerminalStatus,
  LRC_ATTRIBUTES,
  lrcAttributesFor,
  pairedValue,
  pairIndex,
  parseLrcReply,
  parsePythonJson,
  ResultCode,
  resultCodeName,
  resultCodeOf,
  TaskStatus,
  taskStatusName,
  toTaskStatus,
} from '../../src/protocols/tango/wire.js';

const ID = '1700000000.0_1_On';
const OTHER = '1700000000.0_2_Off';
const lrcFailed = (desc: string | RegExp) => [
  { reason: 'SKA_InvokeLrcFailed', desc: expect.stringMatching(desc), origin: 'invokeLrc', severity: 'ERR' },
];

describe('issue 8 item 4: the wire module, v1 attributes', () => {
  it('issue 8 item 4: v1 longRunningCommandStatus is a flat (id, STATUS_NAME, ...) spectrum of every tracked command', () => {
    const value = [OTHER, 'QUEUED', ID, 'IN_PROGRESS'];
    expect(decodeLrcEvent(LRC_ATTRIBUTES.status, value, ID)).toEqual({
      update: { status: TaskStatus.IN_PROGRESS },
      warnings: [],
    });
    expect(decodeLrcEvent(LRC_ATTRIBUTES.status, value, OTHER)?.update).toEqual({
      status: TaskStatus.QUEUED,
    });
    // Tango lower-cases attribute names in event topics
    expect(decodeLrcEvent('longrunningcommandstatus', value, ID)?.update.status).toBe(TaskStatus.IN_PROGRESS);
    // another command's event: nothing for this one
    expect(decodeLrcEvent(LRC_ATTRIBUTES.status, [OTHER, 'COMPLETED'], ID)).toBeNull();
  });

  it('issue 8 item 4: v1 longRunningCommandProgress is (id, "33", ...): an int string becomes a number, anything else warns', () => {
    expect(decodeLrcEvent(LRC_ATTRIBUTES.progress, [ID, '33'], ID)).toEqual({
      update: { progress: 33 },
      warnings: [],
    });
    const odd = decodeLrcEvent(LRC_ATTRIBUTES.progress, [ID, 'a third'], ID);
    expect(odd?.update).toEqual({ progress: 'a third' });
    expect(odd?.warnings).toEqual([`progress of ${ID} is not an int: "a third"`]);
    expect(decodeLrcEvent(LRC_ATTRIBUTES.progress, [ID, ' '], ID)?.warnings).toHaveLength(1);
  });

  it("v1 progress text is a number exactly when Python's int() takes it (no hex, exponent or point)", () => {
    const progress = (text: string) =>
      decodeLrcEvent(LRC_ATTRIBUTES.progress, [ID, text], ID)?.update.progress;
    // before, Number() read these as 16, 100, 1, 0 and 0
    for (const text of ['0x10', '1e2', '1.0', '0b0', '0o0', 'Infinity', ''])
      expect(progress(text)).toBe(text);
    expect(progress(' 42 ')).toBe(42);
    expect(progress('+7')).toBe(7);
    expect(progress('-3')).toBe(-3);
    expect(progress('1_000')).toBe(1000);
  });

  it('issue 8 item 4: v1 longRunningCommandResult is (id, json) of the most recent result', () => {
    const result = [ResultCode.OK, 'On command completed OK'];
    expect(decodeLrcEvent(LRC_ATTRIBUTES.result, [ID, JSON.stringify(result)], ID)).toEqual({
      update: { result },
      warnings: [],
    });
    expect(resultCodeOf(result)).toBe(ResultCode.OK);
    expect(resultCodeOf('not a pair')).toBeUndefined();
  });

  it('issue 8 item 4: the attributes a protocol version subscribes to', () => {
    expect(lrcAttributesFor(1)).toEqual([
      'longRunningCommandStatus',
      'longRunningCommandProgress',
      'longRunningCommandResult',
    ]);
    expect(lrcAttributesFor(2)).toEqual(['_lrcEvent']);
    expect(lrcAttributesFor(3)).toEqual(['_lrcEvent']);
  });
});

describe('issue 8 item 4: the wire module, v2 events', () => {
  it('issue 8 item 4: a v2 _lrcEvent is (id, json) of everything one update changed, in the server order', () => {
    const json = JSON.stringify({
      status: TaskStatus.COMPLETED,
      result: [0, 'done'],
      progress: 100,
      custom: 'x',
    });
    const decoded = decodeLrcEvent(LRC_ATTRIBUTES.event, [ID, json], ID);
    expect(decoded).toEqual({
      update: { progress: 100, result: [0, 'done'], custom: 'x', status: TaskStatus.COMPLETED },
      warnings: [],
    });
    // key order of the delivered update: progress, result, extra keys, then status
    expect(Object.keys(decoded!.update)).toEqual(['progress', 'result', 'custom', 'status']);
    expect(decodeLrcEvent('_lrcevent', [ID, '{"progress": 5}'], ID)?.update).toEqual({ progress: 5 });
  });

  it('issue 10: a status alone decodes as the parsed json does, in both spellings, and a near miss is parsed', () => {
    for (const status of Object.values(TaskStatus)) {
      for (const json of [`{"status": ${status}}`, `{"status":${status}}`, `{ "status" : ${status} }`]) {
        const decoded = decodeLrcEvent(LRC_ATTRIBUTES.event, [ID, json], ID);
        expect(decoded).toEqual({ update: { status }, warnings: [] });
        expect(Object.keys(decoded!.update)).toEqual(['status']);
        // a fresh update each time: a caller that changes it changes nobody else's
        expect(decodeLrcEvent(LRC_ATTRIBUTES.event, [ID, json], ID)!.update).not.toBe(decoded!.update);
      }
    }
    // not a known status, or more than a status: parsed and checked as before
    expect(decodeLrcEvent(LRC_ATTRIBUTES.event, [ID, '{"status": 8}'], ID)?.warnings).toEqual([
      `Unknown task status 8 for ${ID}.`,
    ]);
    expect(
      decodeLrcEvent(LRC_ATTRIBUTES.event, [ID, '{"status": 5, "result": [0, "ok"]}'], ID)?.update,
    ).toEqual({
      result: [0, 'ok'],
      status: TaskStatus.COMPLETED,
    });
    expect(decodeLrcEvent(LRC_ATTRIBUTES.event, [ID, '{"status": 2.0}'], ID)?.update).toEqual({
      status: TaskStatus.IN_PROGRESS,
    });
  });

  it("json with NaN, Infinity and -Infinity (Python's json.dumps of a float result) decodes as json.loads reads it", () => {
    // what ska-tango-base pushes for a result holding a float that is not finite (json.dumps' allow_nan default)
    const json =
      '{"status": 5, "result": [0, {"mean": NaN, "max": Infinity, "min": -Infinity, "text": "NaN"}]}';
    expect(decodeLrcEvent(LRC_ATTRIBUTES.event, [ID, json], ID)).toEqual({
      update: {
        result: [
          0,
          { mean: Number.NaN, max: Number.POSITIVE_INFINITY, min: Number.NEGATIVE_INFINITY, text: 'NaN' },
        ],
        status: TaskStatus.COMPLETED,
      },
      warnings: [],
    });
    expect(decodeLrcEvent(LRC_ATTRIBUTES.result, [ID, '[3, NaN]'], ID)?.update).toEqual({
      result: [3, Number.NaN],
    });
    expect(decodeLrcEvent(LRC_ATTRIBUTES.event, [ID, '{"progress": NaN}'], ID)?.update).toEqual({
      progress: Number.NaN,
    });
    // JSON itself reads as JSON.parse reads it (the fallback is only tried when JSON.parse failed)
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v, null, 1);
        expect(parsePythonJson(text)).toEqual(JSON.parse(text));
      }),
    );
    expect(
      Object.hasOwn(parsePythonJson('{"__proto__": {"status": 5}, "x": NaN}') as object, '__proto__'),
    ).toBe(true);
    // nesting too deep for the stack is undecodable, not a crash
    const deep = decodeLrcEvent(LRC_ATTRIBUTES.result, [ID, `${'['.repeat(200_000)}NaN`], ID);
    expect(deep?.update.error?.[0].desc).toMatch(/^Undecodable LRC event json/);
    // only those three words, outside strings, as Python reads them: anything else is still undecodable
    for (const bad of ['[nan]', '[Infinity1]', '[- Infinity]', '[NaN', '["NaN]', '[+Infinity]', '[NaNa]']) {
      const decoded = decodeLrcEvent(LRC_ATTRIBUTES.result, [ID, bad], ID);
      expect(decoded?.update.error?.[0].desc, bad).toMatch(/^Undecodable LRC event json/);
    }
  });

  it("issue 8 item 4: a v2 progress that is not an int is delivered with upstream's warning", () => {
    const decoded = decodeLrcEvent(LRC_ATTRIBUTES.event, [ID, '{"progress": "half"}'], ID);
    expect(decoded?.update).toEqual({ progress: 'half' });
    expect(decoded?.warnings).toEqual([
      "'On' command's progress is not an int, but string. Its type may be checked and enforced in the future.",
    ]);
  });
});

describe('issue 8 item 4: pairIndex, the one reader of (id, value, ...) spectra', () => {
  it('issue 8 item 4: pairIndex finds a command id at even positions only', () => {
    expect(pairIndex([ID, 'QUEUED'], ID)).toBe(0);
    expect(pairIndex([OTHER, 'QUEUED', ID, 'STAGING'], ID)).toBe(2);
    // a value equal to the id is not an id
    expect(pairIndex([OTHER, ID], ID)).toBe(-1);
    expect(pairIndex([], ID)).toBe(-1);
    for (const notSpectrum of [undefined, null, ID, 42, { 0: ID }])
      expect(pairIndex(notSpectrum, ID)).toBe(-1);
    // the first occurrence wins
    expect(pairIndex([ID, 'QUEUED', ID, 'COMPLETED'], ID)).toBe(0);
  });

  it('issue 8 item 4: pairedValue is the value after the id, undefined when there is none', () => {
    expect(pairedValue([OTHER, 'QUEUED', ID, 'COMPLETED'], ID)).toBe('COMPLETED');
    expect(pairedValue([ID], ID)).toBeUndefined();
    expect(pairedValue([OTHER, ID], ID)).toBeUndefined();
    expect(pairedValue('garbage', ID)).toBeUndefined();
  });
});

describe('issue 8 item 2: the reply of a command, parsed once', () => {
  it('issue 8 item 2: parseLrcReply gives the code, the text and, only when accepted, the command id', () => {
    expect(parseLrcReply([[ResultCode.QUEUED], [ID]])).toEqual({
      code: ResultCode.QUEUED,
      text: ID,
      commandId: ID,
    });
    expect(parseLrcReply([[ResultCode.STARTED], [ID]])?.commandId).toBe(ID);
    expect(parseLrcReply([[ResultCode.REJECTED], ['queue full']])).toEqual({
      code: ResultCode.REJECTED,
      text: 'queue full',
      commandId: undefined,
    });
    // accepted without a usable id: a code, no command id (the machine makes it a ResultCodeError)
    expect(parseLrcReply([[ResultCode.QUEUED], ['']])).toEqual({
      code: ResultCode.QUEUED,
      text: '',
      commandId: undefined,
    });
    expect(parseLrcReply([[ResultCode.QUEUED], [{}]])).toEqual({
      code: ResultCode.QUEUED,
      text: undefined,
      commandId: undefined,
    });
    // an unknown code is still a code
    expect(parseLrcReply([[42], ['?']])?.code).toBe(42);
  });

  it('issue 8 item 2: a reply of another shape is null, which the machine reports as a ResultCodeError', () => {
    for (const garbage of [
      undefined,
      null,
      'garbage',
      0,
      [],
      [[ResultCode.OK]],
      [[1.5], [ID]],
      [['1'], [ID]],
      [1, ID],
    ]) {
      expect(parseLrcReply(garbage)).toBeNull();
    }
    const error = lrcErrors.unexpectedCode('On', parseLrcReply('garbage'));
    expect(error).toBeInstanceOf(ResultCodeError);
    expect(error.code).toBe('ORRERY_RESULT_CODE');
    expect(error.message).toBe('Unexpected result code for On command: no result code');
    expect(lrcErrors.unexpectedCode('On', parseLrcReply([[ResultCode.STARTED], [7]])).message).toBe(
      'Malformed reply to On command: 1 (STARTED) without a command id',
    );
  });
});

describe('issue 8 item 4: malformed input gives a typed error, never a throw', () => {
  it('issue 8 item 4: an id without a value, an unknown status, undecodable json, a v2 event that is not an object', () => {
    const cases: [string, unknown[], RegExp][] = [
      [LRC_ATTRIBUTES.status, [ID], /has no value after the command id/],
      [LRC_ATTRIBUTES.status, [ID, 'DONE'], /^Unknown task status "DONE" for /],
      [LRC_ATTRIBUTES.result, [ID, '{not json'], /^Undecodable LRC event json for .*"\{not json"$/],
      [LRC_ATTRIBUTES.event, [ID, '[1, 2]'], /is not a json object/],
      [LRC_ATTRIBUTES.event, [ID, 'null'], /is not a json object/],
      [LRC_ATTRIBUTES.event, [ID, '{"status": 99}'], /^Unknown task status 99 for /],
    ];
    for (const [attribute, value, desc] of cases) {
      const decoded = decodeLrcEvent(attribute, value, ID);
      expect(decoded?.update.error, `${attribute} ${JSON.stringify(value)}`).toEqual(lrcFailed(desc));
      expect(decoded?.warnings.length).toBe(1);
    }
    expect(decodeLrcEvent(LRC_ATTRIBUTES.status, [ID, 'DONE'], ID)?.unknownStatus).toBe(true);
    // an attribute the LRC does not know: nothing to decode
    expect(decodeLrcEvent('State', [ID, 'ON'], ID)).toBeNull();
  });

  it('issue 8 item 4: undecodable json is quoted at most 200 characters long', () => {
    const decoded = decodeLrcEvent(LRC_ATTRIBUTES.result, [ID, `{${'x'.repeat(1000)}`], ID);
    const desc = decoded!.update.error![0].desc;
    expect(desc.length).toBeLessThan(300);
  });

  it('issue 8 item 4: describeValue never throws (BigInt, cycles, throwing getters) and is short', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const hostile = {
      get boom() {
        throw new Error('no');
      },
    };
    expect(describeValue(10n)).toBe('10n');
    expect(describeValue(cycle)).toBe('(object)');
    expect(describeValue(hostile)).toBe('(object)');
    expect(describeValue(undefined)).toBe('(undefined)');
    expect(describeValue(Symbol('s'))).toBe('(symbol)');
    expect(describeValue('x'.repeat(500))).toHaveLength(203);
  });

  it('issue 8 item 4: task statuses from names or integers, anything else (prototype names too) undefined; the terminal ones', () => {
    expect(toTaskStatus('COMPLETED')).toBe(TaskStatus.COMPLETED);
    expect(toTaskStatus(2)).toBe(TaskStatus.IN_PROGRESS);
    for (const bad of ['completed', 8, -1, 1.5, null, undefined, 'toString', 'constructor', '__proto__'])
      expect(toTaskStatus(bad)).toBeUndefined();
    const terminal = Object.values(TaskStatus).filter(isTerminalStatus).map(taskStatusName);
    expect(terminal).toEqual(['ABORTED', 'COMPLETED', 'REJECTED', 'FAILED']);
    expect(resultCodeName(ResultCode.NOT_ALLOWED)).toBe('NOT_ALLOWED');
    expect(resultCodeName(42)).toBe('42');
  });
});
