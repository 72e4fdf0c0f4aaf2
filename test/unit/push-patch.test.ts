/** Pure parts of a push: the inverse mapping, the "changed since seen" check, patch merging, Notion write values. */
import { mergePatch } from '../../shared/api/local-changes';
import { UnrecoverableError } from '../../shared/errors';
import { requestValue } from '../../shared/providers/notion/write-values';
import { changedSince } from '../../shared/providers/push-conflict';
import { invertData, invertPatch, notInvertible } from '../../shared/sync/transform';
import type { MappingSpec } from '../../shared/domain/types';

const spec: MappingSpec = {
  issue: {
    heading: { from: 'title', type: 'string' },
    name: { from: 'properties.Name' },
    status: { from: 'properties.Status' },
    firstLabel: { from: 'labels.0' },
  },
};

describe('inverse mapping', () => {
  test('canonical fields go back to the provider paths they are read from, nested where the path is', () => {
    expect(invertPatch(spec, 'issue', { heading: 'H', name: 'N', status: 'Done' })).toEqual({ ok: true, data: { title: 'H', properties: { Name: 'N', Status: 'Done' } } });
  });
  test('an entity type without a mapping is already in the provider shape', () => {
    expect(invertPatch(spec, 'page', { anything: 1 })).toEqual({ ok: true, data: { anything: 1 } });
    expect(invertPatch(undefined, 'issue', { title: 'x' })).toEqual({ ok: true, data: { title: 'x' } });
  });
  test('an array element or an undeclared field cannot be written back, and the result names it', () => {
    expect(invertPatch(spec, 'issue', { heading: 'H', firstLabel: 'bug' })).toEqual({ ok: false, field: 'firstLabel', reason: 'firstLabel cannot be written back: it is read from labels.0, an array element' });
    expect(invertPatch(spec, 'issue', { title: 'raw' })).toMatchObject({ ok: false, field: 'title' });
    expect(invertPatch(spec, 'issue', { constructor: 'x' })).toMatchObject({ ok: false, field: 'constructor' });
    expect(notInvertible({ from: 'user.login' })).toBeUndefined();
  });
  test('overlapping paths are refused, and a prototype path is never walked into', () => {
    const overlap: MappingSpec = { t: { a: { from: 'x' }, b: { from: 'x.y' } } };
    expect(invertPatch(overlap, 't', { a: 1, b: 2 })).toMatchObject({ ok: false, field: 'b' });
    const proto: MappingSpec = { t: { evil: { from: '__proto__.polluted' } } };
    expect(invertPatch(proto, 't', { evil: 1 })).toMatchObject({ ok: false, field: 'evil' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  test('the data last seen is inverted best-effort: fields with no way back are left out', () => {
    expect(invertData(spec, 'issue', { heading: 'H', firstLabel: 'bug', status: null })).toEqual({ title: 'H', properties: { Status: null } });
  });
});

describe('changed since the version seen', () => {
  const seen = { updatedAt: '2026-01-01T00:00:00.000Z', data: { title: 'T', properties: { Name: 'N', Status: 'Open' } } };
  const remote = (updatedAt: string, data: Record<string, unknown>) => ({ externalId: '1', entityType: 'issue', updatedAt, deleted: false, data });
  test('a later provider time is a change', () => {
    expect(changedSince(seen, remote('2026-01-01T00:00:01.000Z', seen.data), { title: 'x' })).toContain('after the version last seen');
  });
  test('at the same time, a patched field holding another value is a change; an unpatched one is not', () => {
    const moved = remote(seen.updatedAt, { title: 'T', properties: { Name: 'N', Status: 'Closed' } });
    expect(changedSince(seen, moved, { properties: { Status: 'Done' } })).toBe('properties.Status changed at the provider since it was last seen');
    expect(changedSince(seen, moved, { properties: { Name: 'M' } })).toBeUndefined();
    expect(changedSince(seen, moved, { title: 'x' })).toBeUndefined();
  });
  test('without time comparison only the values tell', () => {
    expect(changedSince(seen, remote('2030-01-01T00:00:00.000Z', seen.data), { title: 'x' }, { byTime: false })).toBeUndefined();
  });
});

describe('patches', () => {
  test('plain objects merge field by field; arrays and scalars replace', () => {
    expect(mergePatch({ a: 1, p: { x: 1, y: 2 }, l: [1, 2] }, { p: { y: 3 }, l: [3], b: null })).toEqual({ a: 1, p: { x: 1, y: 3 }, l: [3], b: null });
  });
});

describe('Notion write values', () => {
  test('plain values become the request format of the property type', () => {
    expect(requestValue('Name', 'title', 'Hi')).toEqual({ title: [{ type: 'text', text: { content: 'Hi' } }] });
    expect(requestValue('Status', 'status', 'Done')).toEqual({ status: { name: 'Done' } });
    expect(requestValue('Tags', 'multi_select', ['a', 'b'])).toEqual({ multi_select: [{ name: 'a' }, { name: 'b' }] });
    expect(requestValue('Due', 'date', { start: '2026-01-01', end: null, time_zone: null })).toEqual({ date: { start: '2026-01-01' } });
    expect(requestValue('Done', 'checkbox', true)).toEqual({ checkbox: true });
    expect(requestValue('Notes', 'rich_text', 'x'.repeat(4100))).toMatchObject({ rich_text: [{}, {}, {}] });
  });
  test('a value already in the request format passes through', () => {
    expect(requestValue('Estimate', 'number', { number: 3 })).toEqual({ number: 3 });
  });
  test('read-only types and wrong values are refused, naming the property', () => {
    expect(() => requestValue('Total', 'formula', 3)).toThrow(UnrecoverableError);
    expect(() => requestValue('Done', 'checkbox', 'yes')).toThrow(/Done \(checkbox\)/);
  });
});
