import { describe, expect, test } from 'vitest';
import { describeDetail, pageLabel } from './audit';

describe('describeDetail', () => {
  test('known and generic fields as plain text', () => {
    expect(describeDetail({ role: 'operator' })).toBe('role: operator');
    expect(describeDetail({ password_reset: true })).toBe('password reset');
    expect(describeDetail({ via: 'cli', count: 2, ok: false })).toBe('via: cli · count: 2 · ok: false');
    expect(describeDetail({ nested: { a: 1 } })).toBe('nested: {"a":1}');
  });
  test('null, empty and huge', () => {
    expect(describeDetail(null)).toBe('');
    expect(describeDetail({})).toBe('');
    expect(describeDetail({ name: 'x'.repeat(500) }).length).toBe(200);
  });
  test('markup stays a string (rendered as text by the view)', () => {
    expect(describeDetail({ name: '<b>x</b>' })).toBe('name: <b>x</b>');
  });
});

describe('pageLabel', () => {
  test('ranges by page', () => {
    expect(pageLabel(0, 50, 50)).toBe('Entries 1–50');
    expect(pageLabel(2, 50, 7)).toBe('Entries 101–107');
    expect(pageLabel(0, 50, 0)).toBe('No entries');
    expect(pageLabel(3, 50, 0)).toBe('No more entries');
  });
});
