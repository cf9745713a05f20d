import { describe, expect, test } from 'vitest';
import { argumentsText, bound, sizeText } from './toolchainText';

describe('bound', () => {
  test('short text is untouched', () => {
    expect(bound('hello', 10)).toEqual({ text: 'hello', truncated: false, total: 5 });
  });
  test('cuts at the character limit', () => {
    expect(bound('abcdefgh', 3)).toEqual({ text: 'abc', truncated: true, total: 8 });
  });
  test('cuts at the line limit', () => {
    const s = 'l1\nl2\nl3\nl4';
    expect(bound(s, 100, 2)).toEqual({ text: 'l1\nl2', truncated: true, total: s.length });
    expect(bound('l1\nl2', 100, 2)).toEqual({ text: 'l1\nl2', truncated: false, total: 5 });
  });
  test('never splits a surrogate pair', () => {
    const s = 'a😀b';
    const r = bound(s, 2);
    expect(r.text).toBe('a');
    expect(r.truncated).toBe(true);
  });
  test('a megabyte is bounded', () => {
    const r = bound('x'.repeat(1 << 20), 600, 12);
    expect(r.text.length).toBe(600);
    expect(r.total).toBe(1 << 20);
  });
});

describe('argumentsText', () => {
  test('objects and JSON strings are pretty-printed; other strings kept', () => {
    expect(argumentsText({ a: 2 })).toBe('{\n  "a": 2\n}');
    expect(argumentsText('{"a":2}')).toBe('{\n  "a": 2\n}');
    expect(argumentsText('{not json}')).toBe('{not json}');
    expect(argumentsText('plain')).toBe('plain');
    expect(argumentsText(undefined)).toBe('');
    expect(argumentsText(null)).toBe('');
    expect(argumentsText(3)).toBe('3');
  });
  test('HTML stays text (the view renders it as a text node)', () => {
    expect(argumentsText('<img src=x onerror=alert(1)>')).toBe('<img src=x onerror=alert(1)>');
  });
});

test('sizeText', () => {
  expect(sizeText(12)).toBe('12 chars');
  expect(sizeText(1500)).toBe('1.5k chars');
  expect(sizeText(2_500_000)).toBe('2.5M chars');
});
