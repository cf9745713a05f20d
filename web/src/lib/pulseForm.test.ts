// pulseForm.test.ts - sampling validation per API, messages, model options.
import { describe, expect, test } from 'vitest';
import type { ModelInfo } from '../api/targets';
import { EMPTY_SAMPLING, defaultModel, ignoredBy, modelOptions, requestMessages, samplingFields } from './pulseForm';

describe('samplingFields', () => {
  test('empty fields are not sent', () => {
    expect(samplingFields(EMPTY_SAMPLING, 'v0')).toEqual({ fields: {}, errors: {} });
  });
  test('numbers are parsed and range-checked', () => {
    const r = samplingFields({ ...EMPTY_SAMPLING, temperature: '0.7', top_p: '0.9', top_k: '40', max_tokens: '512',
      repeat_penalty: '1.1', seed: '42', stop: '\n\nEND\n###' }, 'v0');
    expect(r.errors).toEqual({});
    expect(r.fields).toEqual({ temperature: 0.7, top_p: 0.9, top_k: 40, max_tokens: 512, repeat_penalty: 1.1, seed: 42, stop: ['END', '###'] });
    const bad = samplingFields({ ...EMPTY_SAMPLING, temperature: '3', top_k: '1.5', max_tokens: 'abc', top_p: '-1' }, 'v0');
    expect(Object.keys(bad.errors).sort()).toEqual(['max_tokens', 'temperature', 'top_k', 'top_p']);
    expect(bad.errors.top_k).toBe('must be a whole number');
    expect(bad.fields).toEqual({});
  });
  test('v1 drops seed and stop, sends reasoning; v0 drops reasoning', () => {
    const f = { ...EMPTY_SAMPLING, seed: '7', stop: 'x', reasoning: 'high' as const };
    expect(samplingFields(f, 'v1').fields).toEqual({ reasoning: 'high' });
    expect(samplingFields(f, 'openai').fields).toEqual({ seed: 7, stop: ['x'] });
    expect(ignoredBy('v1').has('seed')).toBe(true);
    expect(ignoredBy('v0').has('reasoning')).toBe(true);
  });
  test('stop strings are bounded; think tags come in pairs', () => {
    expect(samplingFields({ ...EMPTY_SAMPLING, stop: Array.from({ length: 9 }, (_, i) => `s${i}`).join('\n') }, 'v0').errors.stop)
      .toBe('at most 8 stop strings');
    expect(samplingFields({ ...EMPTY_SAMPLING, think_open: '<r>' }, 'v0').errors.think_open).toBe('give both tags, or neither');
    expect(samplingFields({ ...EMPTY_SAMPLING, think_open: '<r>', think_close: '</r>' }, 'v0').fields)
      .toEqual({ think_tags: { open: '<r>', close: '</r>' } });
  });
});

describe('requestMessages', () => {
  test('transcript plus the new prompt', () => {
    expect(requestMessages([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }], 'c')).toEqual([
      { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }]);
    // an assistant turn that produced nothing (stopped before the first token) is left out
    expect(requestMessages([{ role: 'user', content: 'a' }, { role: 'assistant', content: '' }], 'c')).toHaveLength(2);
  });
});

const model = (key: string, over: Partial<ModelInfo> = {}): ModelInfo => ({
  key, display_name: null, type: 'llm', publisher: null, architecture: null, format: null, quantization: null,
  size_bytes: null, params: null, max_context_length: null, loaded_instances: [], ...over,
});
const inst = (id: string, status: string | null = 'idle') => ({ id, config: null, status, queued: null, ttl_ms: null,
  last_used_at: null, context_length: null, parallel: null });

describe('modelOptions', () => {
  test('loaded instances first, embeddings left out, on-disk models after', () => {
    const o = modelOptions([
      model('z/on-disk'),
      model('text-embedding-x', { type: 'embedding' }),
      model('qwen/qwen3-8b', { loaded_instances: [inst('qwen/qwen3-8b'), inst('fast', 'generating')] }),
      model('a/other', { display_name: 'Other' }),
    ]);
    expect(o.loaded.map((x) => x.value)).toEqual(['fast', 'qwen/qwen3-8b']);
    expect(o.loaded[0].label).toBe('fast (qwen/qwen3-8b) · generating');
    expect(o.onDisk.map((x) => [x.value, x.label])).toEqual([['a/other', 'Other — a/other'], ['z/on-disk', 'z/on-disk']]);
    expect(defaultModel(o)).toBe('fast');
    expect(defaultModel(o, 'z/on-disk')).toBe('z/on-disk');
    expect(defaultModel(o, 'gone')).toBe('fast');
    expect(defaultModel({ loaded: [], onDisk: [] })).toBe('');
  });
});
