// fleetTargets.test.ts - connection test text and tag parsing.
import { describe, expect, test } from 'vitest';
import { parseTags, testText } from './fleetTargets';

describe('targets helpers', () => {
  test('test result text', () => {
    expect(testText({ ok: true, state: 'running', latency_ms: 3, models: 10, loaded: 1, error: null }))
      .toBe('Connected: running · 3.0 ms · 10 models on disk · 1 loaded');
    expect(testText({ ok: true, state: 'running', latency_ms: 12, models: 1, loaded: null, error: null }))
      .toBe('Connected: running · 12 ms · 1 model on disk');
    expect(testText({ ok: false, state: 'unauthorized', latency_ms: 2, models: null, loaded: null,
      error: { code: 'unauthorized', message: 'wrong token' } })).toBe('unauthorized: wrong token');
    expect(testText({ ok: false, state: 'stopped', latency_ms: null, models: null, loaded: null, error: null }))
      .toBe('stopped: no answer');
  });
  test('tags', () => {
    expect(parseTags(' lab, a100  x,,')).toEqual(['lab', 'a100', 'x']);
    expect(parseTags('')).toEqual([]);
  });
});
