/**
 * The InspectingClient's model diff (checklist 9.5 item 3): katcp-python's `_difference` and `_update_index`
 * tests (added, removed on a full listing, removed on a named lookup, changed = in both sets), the ModelChanges
 * shape (only non-empty parts, null when nothing changed), scopes from `#interface-changed` arguments, and a
 * property against a naive reference.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyInspection,
  applyListing,
  difference,
  FULL_SCOPE,
  type Index,
  isEmptyScope,
  isInspectionResult,
  mergeScopes,
  type RequestInfo,
  type SensorInfo,
  sameInfo,
  scopeFromChanges,
  updateIndex,
} from '../../machines/katcp/model.js';
import { parseInterfaceChanged } from '../../src/protocols/katcp/wire.js';
import { propertyRuns } from '../support/propertyRuns.js';

const req = (
  name: string,
  description = `This is ${name}.`,
  timeoutHint: number | null = null,
): RequestInfo => ({
  name,
  description,
  timeoutHint,
});
const sen = (name: string, description = `This is ${name}.`, params: string[] = []): SensorInfo => ({
  name,
  description,
  units: '',
  type: 'integer',
  params,
});
const indexOf = <T extends { name: string }>(items: T[]) => updateIndex({}, items).index;

describe('issue 9 item 3: model changes (katcp-python _difference / _update_index)', () => {
  it('issue 9 item 3: difference on add (test_util_method_difference_add)', () => {
    const d = difference(['B', 'C'], ['B', 'C', 'D'], 'all', new Set());
    expect(d).toEqual({ added: ['D'], removed: [] });
  });

  it('issue 9 item 3: difference on remove from a full listing (test_util_method_difference_rem), and the index loses it', () => {
    expect(difference(['A', 'B', 'C'], ['B', 'C'], 'all', new Set())).toEqual({ added: [], removed: ['A'] });
    const { index, diff } = applyListing(
      indexOf([sen('A'), sen('B'), sen('C')]),
      [sen('B'), sen('C')],
      'all',
    );
    expect(diff).toEqual({ added: [], removed: ['A'] });
    expect(Object.keys(index).sort()).toEqual(['B', 'C']);
  });

  it('issue 9 item 3: a named lookup removes only that name, and only if it was known (test_util_method_difference_rem_named)', () => {
    // upstream: name 'A', original [B, C], updated [] -> A is not removed (never known), B and C stay
    expect(difference(['B', 'C'], [], ['A'], new Set())).toEqual({ added: [], removed: [] });
    const start = indexOf([sen('B'), sen('C')]);
    const a = applyListing<SensorInfo>(start, [], ['A']);
    expect(a.diff).toBeNull();
    expect(Object.keys(a.index).sort()).toEqual(['B', 'C']);
    // the named one, known and now missing, is removed; the others stay although absent from the lookup
    const b = applyListing<SensorInfo>(start, [], ['B']);
    expect(b.diff).toEqual({ added: [], removed: ['B'] });
    expect(Object.keys(b.index)).toEqual(['C']);
  });

  it('issue 9 item 3: a changed entry is in both added and removed, and stays in the index with its new fields (test_util_method_difference_changed, test_update_index)', () => {
    const start = indexOf([req('A'), req('B')]);
    const u = updateIndex(start, [req('A'), req('B', 'This is new B.')]);
    expect([...u.changed]).toEqual(['B']);
    expect(u.index.B.description).toContain('new');
    expect(start.B.description).toBe('This is B.'); // pure: the old index is untouched
    const { index, diff } = applyListing(start, [req('A'), req('B', 'This is new B.')], 'all');
    expect(diff).toEqual({ added: ['B'], removed: ['B'] });
    expect(index.B.description).toBe('This is new B.');
    // a timeout hint or a sensor param counts as a change; the same fields do not
    expect(applyListing(start, [req('A', 'This is A.', 2.5), req('B')], 'all').diff).toEqual({
      added: ['A'],
      removed: ['A'],
    });
    const s = indexOf([sen('x', 'd', ['1', '2'])]);
    expect(applyListing(s, [sen('x', 'd', ['1', '3'])], ['x']).diff).toEqual({
      added: ['x'],
      removed: ['x'],
    });
    expect(applyListing(s, [sen('x', 'd', ['1', '2'])], ['x']).diff).toBeNull();
    expect(sameInfo(sen('x'), { ...sen('x'), extra: 1 })).toBe(false);
  });

  it('issue 9 item 3: ModelChanges has only its non-empty parts, sorted, and is null when nothing changed; a null scope part is left alone', () => {
    const model = {
      requests: indexOf([req('help'), req('watchdog')]),
      sensors: indexOf([sen('b'), sen('a')]),
    };
    const same = applyInspection(
      model,
      { requests: [req('watchdog'), req('help')], sensors: [sen('a'), sen('b')] },
      FULL_SCOPE,
    );
    expect(same.changes).toBeNull();
    const onlySensors = applyInspection(
      model,
      { requests: [req('help'), req('watchdog')], sensors: [sen('c'), sen('a')] },
      FULL_SCOPE,
    );
    expect(onlySensors.changes).toEqual({ sensors: { added: ['c'], removed: ['b'] } });
    const ignored = applyInspection(
      model,
      { requests: [], sensors: [sen('z')] },
      { requests: null, sensors: ['z'] },
    );
    expect(Object.keys(ignored.requests).sort()).toEqual(['help', 'watchdog']); // requests: not this time
    expect(ignored.changes).toEqual({ sensors: { added: ['z'], removed: [] } });
    const full = applyInspection(
      { requests: {}, sensors: {} },
      { requests: [req('b'), req('a')], sensors: [sen('s')] },
      FULL_SCOPE,
    );
    expect(full.changes).toEqual({
      requests: { added: ['a', 'b'], removed: [] },
      sensors: { added: ['s'], removed: [] },
    });
  });

  it('issue 9 item 3: names such as __proto__ and constructor are ordinary entries', () => {
    const { index, diff } = applyListing(
      {},
      [sen('__proto__'), sen('constructor'), sen('hasOwnProperty')],
      'all',
    );
    expect(diff?.added).toEqual(['__proto__', 'constructor', 'hasOwnProperty']);
    expect(Object.keys(index).sort()).toEqual(['__proto__', 'constructor', 'hasOwnProperty']);
    expect(Object.getPrototypeOf(index)).toBe(Object.prototype);
    const again = applyListing(index, [sen('constructor')], 'all');
    expect(Object.keys(again.index)).toEqual(['constructor']);
    expect(again.diff?.removed).toEqual(['__proto__', 'hasOwnProperty']);
    // a named lookup of an inherited name that was never known removes nothing
    expect(applyListing({}, [], ['toString']).diff).toBeNull();
  });

  it('issue 9 item 3: #interface-changed arguments give the re-inspection scope (incremental where they name the item)', () => {
    const scope = (...words: string[]) => scopeFromChanges(parseInterfaceChanged(words));
    expect(scope()).toEqual({ requests: 'all', sensors: 'all' });
    expect(scope('sensor', 'x', 'added')).toEqual({ requests: null, sensors: ['x'] });
    expect(scope('sensor', 'x', 'removed', 'sensor', 'a', 'modified', 'sensor', 'x', 'modified')).toEqual({
      requests: null,
      sensors: ['a', 'x'],
    });
    expect(scope('request', 'go', 'added', 'sensor', 'x', 'added')).toEqual({
      requests: ['go'],
      sensors: ['x'],
    });
    expect(scope('sensor-list')).toEqual({ requests: null, sensors: 'all' });
    expect(scope('request-list', 'sensor', 'x', 'added')).toEqual({ requests: 'all', sensors: ['x'] });
    expect(scope('sensor-list', 'sensor', 'x', 'added')).toEqual({ requests: null, sensors: 'all' });
    expect(scope('nonsense')).toEqual(FULL_SCOPE);
    // anything malformed means everything
    expect(scopeFromChanges([])).toEqual(FULL_SCOPE);
    expect(scopeFromChanges(undefined)).toEqual(FULL_SCOPE);
    expect(scopeFromChanges([{ kind: 'sensor', name: 3 }])).toEqual(FULL_SCOPE);
    expect(scopeFromChanges([{ kind: 'bogus' }])).toEqual(FULL_SCOPE);
    expect(scopeFromChanges([null])).toEqual(FULL_SCOPE);
  });

  it('issue 9 item 3: scopes merge (all wins, names united and sorted) and isEmptyScope knows an empty one', () => {
    expect(mergeScopes({ requests: null, sensors: ['b'] }, { requests: ['r'], sensors: ['a', 'b'] })).toEqual(
      {
        requests: ['r'],
        sensors: ['a', 'b'],
      },
    );
    expect(mergeScopes({ requests: 'all', sensors: null }, { requests: ['r'], sensors: null })).toEqual({
      requests: 'all',
      sensors: null,
    });
    expect(mergeScopes({ requests: ['z'], sensors: null }, { requests: null, sensors: 'all' })).toEqual({
      requests: ['z'],
      sensors: 'all',
    });
    expect(isEmptyScope({ requests: null, sensors: [] })).toBe(true);
    expect(isEmptyScope({ requests: null, sensors: ['a'] })).toBe(false);
    expect(isEmptyScope(FULL_SCOPE)).toBe(false);
  });

  it('issue 9 item 3: isInspectionResult accepts the contract shape and rejects anything else', () => {
    const good = { scope: FULL_SCOPE, requests: [req('a', 'd', 1)], sensors: [sen('s', 'd', ['1'])] };
    expect(isInspectionResult(good)).toBe(true);
    const bad: unknown[] = [
      null,
      'x',
      { ...good, scope: { requests: 'some', sensors: null } },
      { ...good, scope: null },
      { ...good, requests: 'a' },
      { ...good, requests: [{ name: 'a', description: 'd', timeoutHint: Number.NaN }] },
      { ...good, requests: [{ name: 1, description: 'd', timeoutHint: null }] },
      { ...good, sensors: [{ ...sen('s'), params: [1] }] },
      { ...good, sensors: [{ ...sen('s'), units: undefined }] },
      { ...good, sensors: [null] },
    ];
    for (const b of bad) expect(isInspectionResult(b)).toBe(false);
  });

  it('issue 9 item 3: applyListing agrees with a naive reference for any index, listing and scope', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd', '__proto__', 'constructor');
    const item = fc
      .record({ name, description: fc.constantFrom('x', 'y') })
      .map(({ name, description }) => sen(name, description));
    fc.assert(
      fc.property(
        fc.uniqueArray(item, { selector: (s) => s.name, maxLength: 6 }),
        fc.uniqueArray(item, { selector: (s) => s.name, maxLength: 6 }),
        fc.oneof(fc.constant('all' as const), fc.uniqueArray(name, { maxLength: 4 })),
        (before, listing, names) => {
          const start: Index<SensorInfo> = indexOf(before);
          const { index, diff } = applyListing(start, listing, names);
          // reference: sets and a Map
          const ref = new Map(before.map((s) => [s.name, s]));
          const added = new Set<string>();
          const removed = new Set<string>();
          const listed = new Set(listing.map((s) => s.name));
          for (const s of listing) {
            const old = ref.get(s.name);
            if (!old) added.add(s.name);
            else if (old.description !== s.description) {
              added.add(s.name);
              removed.add(s.name);
            }
            ref.set(s.name, s);
          }
          const candidates = names === 'all' ? before.map((s) => s.name) : names;
          for (const n of candidates) {
            if (before.some((s) => s.name === n) && !listed.has(n)) {
              removed.add(n);
              ref.delete(n);
            }
          }
          expect(Object.entries(index).sort(([a], [b]) => (a < b ? -1 : 1))).toEqual(
            [...ref.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
          );
          if (added.size + removed.size === 0) expect(diff).toBeNull();
          else expect(diff).toEqual({ added: [...added].sort(), removed: [...removed].sort() });
          expect(Object.keys(start).sort()).toEqual(before.map((s) => s.name).sort()); // untouched
        },
      ),
      { numRuns: propertyRuns(300) },
    );
  });
});
