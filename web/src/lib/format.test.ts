import { describe, expect, test } from 'vitest';
import { formatDateTime, rangeLabel, relativeTime, roleLabel, toDate } from './format';

describe('toDate', () => {
  test('ISO strings, Unix seconds and milliseconds', () => {
    expect(toDate('2026-11-26T18:06:32Z')?.toISOString()).toBe('2026-11-26T18:06:32.000Z');
    expect(toDate(1_700_000_000)?.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    expect(toDate(1_700_000_000_000)?.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    expect(toDate('1700000000')?.toISOString()).toBe('2023-11-14T22:13:20.000Z');
  });
  test('SQLite "YYYY-MM-DD HH:MM:SS" is UTC', () => {
    expect(toDate('2026-11-26 10:00:00')?.toISOString()).toBe('2026-11-26T10:00:00.000Z');
  });
  test('null, empty and garbage give null', () => {
    expect(toDate(null)).toBeNull();
    expect(toDate(undefined)).toBeNull();
    expect(toDate('')).toBeNull();
    expect(toDate('yesterday-ish')).toBeNull();
    expect(toDate(Number.NaN)).toBeNull();
  });
});

describe('formatDateTime', () => {
  test('UTC form', () => {
    expect(formatDateTime('2026-11-26T08:05:09Z', true)).toBe('2026-11-26 08:05 UTC');
  });
  test('missing time is a dash', () => {
    expect(formatDateTime(null)).toBe('—');
  });
});

describe('relativeTime', () => {
  const now = Date.parse('2026-11-26T12:00:00Z');
  test.each([
    ['2026-11-26T11:59:40Z', 'just now'],
    ['2026-11-26T11:55:00Z', '5 min ago'],
    ['2026-11-26T09:00:00Z', '3 h ago'],
    ['2026-11-25T12:00:00Z', '1 day ago'],
    ['2026-11-20T12:00:00Z', '6 days ago'],
    ['2026-11-26T14:00:00Z', 'in 2 h'],
  ])('%s -> %s', (t, want) => {
    expect(relativeTime(t, now)).toBe(want);
  });
  test('never used', () => {
    expect(relativeTime(null, now)).toBe('never');
  });
});

describe('labels', () => {
  test('roles', () => {
    expect(roleLabel('admin')).toBe('admin');
    expect(roleLabel('')).toBe('unknown');
  });
  test('ranges', () => {
    expect(rangeLabel(0, 50, 123)).toBe('1–50 of 123');
    expect(rangeLabel(50, 10)).toBe('51–60');
    expect(rangeLabel(0, 0)).toBe('no entries');
  });
});
