// fleetPresets.test.ts - preset form <-> server object, validation, summary.
import { describe, expect, test } from 'vitest';
import { EMPTY_PRESET_FORM, formToPreset, presetSummary, presetToForm } from './fleetPresets';

describe('load presets', () => {
  test('a full form round-trips', () => {
    const f = { ...EMPTY_PRESET_FORM, name: ' fast-8k ', model: 'qwen/qwen3-8b', context_length: '8192',
      flash_attention: 'on' as const, gpu: 'ratio' as const, gpu_ratio: '0.5', parallel: '4', ttl: '3600' };
    const r = formToPreset(f);
    if (!('preset' in r)) throw new Error(r.error);
    expect(r.preset).toEqual({ name: 'fast-8k', model: 'qwen/qwen3-8b', context_length: 8192, flash_attention: true,
      eval_batch_size: null, num_experts: null, offload_kv_cache_to_gpu: null, gpu: 0.5, parallel: 4, ttl: 3600,
      identifier: null });
    expect(presetToForm(r.preset)).toEqual({ ...f, name: 'fast-8k' });
    expect(presetSummary(r.preset)).toBe('qwen/qwen3-8b · context 8,192 · GPU 50 % · flash attention on · 4 parallel · TTL 3600 s');
  });
  test('absent fields stay null (model-agnostic preset)', () => {
    const r = formToPreset({ ...EMPTY_PRESET_FORM, name: 'x', gpu: 'max' });
    expect('preset' in r && r.preset).toMatchObject({ model: null, gpu: 'max', context_length: null });
    expect('preset' in r && presetSummary(r.preset)).toBe('any model · GPU max');
  });
  test('bad values name the field', () => {
    expect(formToPreset({ ...EMPTY_PRESET_FORM })).toMatchObject({ field: 'name' });
    expect(formToPreset({ ...EMPTY_PRESET_FORM, name: 'a', context_length: '0' })).toMatchObject({ field: 'context_length' });
    expect(formToPreset({ ...EMPTY_PRESET_FORM, name: 'a', parallel: '2.5' })).toMatchObject({ field: 'parallel' });
    expect(formToPreset({ ...EMPTY_PRESET_FORM, name: 'a', gpu: 'ratio', gpu_ratio: '1.5' })).toMatchObject({ field: 'gpu_ratio' });
    expect(formToPreset({ ...EMPTY_PRESET_FORM, name: 'a', gpu: 'ratio', gpu_ratio: '' })).toMatchObject({ field: 'gpu_ratio' });
  });
});
