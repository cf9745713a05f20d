// consoleFilter.test.ts - the Console's level/source/search filter and the
// highlight split (text pieces, never HTML).
import { describe, expect, test } from 'vitest';
import { LOG_SOURCES } from '../api/logs';
import { MAX_HITS, aroundMatch, matches, normQuery, splitHighlight, type Filter } from './consoleFilter';
import { mkLine } from './consoleTestLines';

const F = (over: Partial<Filter> = {}): Filter => ({ sources: new Set(LOG_SOURCES), level: 'all', q: '', ...over });

describe('matches', () => {
  test('levels: all, info and above, warn and above, error only', () => {
    const d = mkLine(1, { level: 'debug' });
    const i = mkLine(2, { level: 'info' });
    const w = mkLine(3, { level: 'warn' });
    const e = mkLine(4, { level: 'error' });
    const pick = (level: Filter['level']) => [d, i, w, e].filter((l) => matches(l, F({ level }))).map((l) => l.seq);
    expect(pick('all')).toEqual([1, 2, 3, 4]);
    expect(pick('info')).toEqual([2, 3, 4]);
    expect(pick('warn')).toEqual([3, 4]);
    expect(pick('error')).toEqual([4]);
  });

  test('Live keeps the high-level lines only', () => {
    expect(matches(mkLine(1, { level: 'info', high: true, type: 'runtime.log' }), F({ level: 'live' }))).toBe(true);
    expect(matches(mkLine(2, { level: 'info', high: false }), F({ level: 'live' }))).toBe(false);
  });

  test('sources', () => {
    const f = F({ sources: new Set(['model']) });
    expect(matches(mkLine(1, { source: 'model' }), f)).toBe(true);
    expect(matches(mkLine(2, { source: 'server' }), f)).toBe(false);
  });

  test('search: case-insensitive in summary, type, model and payload', () => {
    expect(matches(mkLine(1, { summary: 'Returning 10 Models' }), F({ q: 'models' }))).toBe(true);
    expect(matches(mkLine(2, { model: 'qwen/qwen3-8b' }), F({ q: 'QWEN3' }))).toBe(true);
    expect(matches(mkLine(3, { payload: { input: 'the secret word is Zebra' } }), F({ q: 'zebra' }))).toBe(true);
    expect(matches(mkLine(4), F({ q: 'server.LOG' }))).toBe(true);
    expect(matches(mkLine(5), F({ q: 'nothing like it' }))).toBe(false);
    expect(matches(mkLine(6, { payload: null }), F({ q: 'x' }))).toBe(false);
    // blank search matches everything
    expect(matches(mkLine(7), F({ q: '   ' }))).toBe(true);
  });

  test('the query is trimmed, lower-cased and bounded', () => {
    expect(normQuery('  AbC ')).toBe('abc');
    expect(normQuery('x'.repeat(1000)).length).toBe(256);
  });
});

describe('splitHighlight', () => {
  const join = (ps: { text: string }[]) => ps.map((p) => p.text).join('');

  test('marks every case-insensitive match and keeps the text', () => {
    const t = 'Load qwen, then LOAD again: load';
    const ps = splitHighlight(t, 'load');
    expect(join(ps)).toBe(t);
    expect(ps.filter((p) => p.hit).map((p) => p.text)).toEqual(['Load', 'LOAD', 'load']);
    expect(ps[0]).toEqual({ text: 'Load', hit: true });
  });

  test('no query, no match, empty text', () => {
    expect(splitHighlight('abc', '')).toEqual([{ text: 'abc', hit: false }]);
    expect(splitHighlight('abc', 'zz')).toEqual([{ text: 'abc', hit: false }]);
    expect(splitHighlight('', 'a')).toEqual([]);
  });

  test('markup stays text: the pieces are plain strings', () => {
    const t = '<img src=x onerror=alert(1)> and <b>img</b>';
    const ps = splitHighlight(t, 'img');
    expect(join(ps)).toBe(t);
    expect(ps.filter((p) => p.hit).length).toBe(2);
  });

  test('adjacent and overlapping candidates do not overlap', () => {
    const ps = splitHighlight('aaaa', 'aa');
    expect(ps).toEqual([{ text: 'aa', hit: true }, { text: 'aa', hit: true }]);
  });

  test('bounded number of pieces', () => {
    const t = 'ab'.repeat(5000);
    const ps = splitHighlight(t, 'a');
    expect(ps.filter((p) => p.hit).length).toBe(MAX_HITS);
    expect(join(ps)).toBe(t);
  });

  test('text whose lower case changes length is left unmarked', () => {
    const t = 'İstanbul';
    expect(splitHighlight(t, 'stan')).toEqual([{ text: t, hit: false }]);
  });
});

describe('aroundMatch', () => {
  test('shows the text from a little before a late match', () => {
    const t = 'Received request: POST to /v1/chat/completions with body {"messages":[{"content":"find the NEEDLE"}]}';
    const a = aroundMatch(t, 'needle');
    expect(a.startsWith('…')).toBe(true);
    expect(a.includes('NEEDLE')).toBe(true);
    expect(a.length).toBeLessThan(t.length);
  });
  test('an early match or no query leaves the text whole', () => {
    expect(aroundMatch('needle at the start', 'needle')).toBe('needle at the start');
    expect(aroundMatch('abc', '')).toBe('abc');
    expect(aroundMatch('abc', 'zz')).toBe('abc');
  });
});
