import { describe, expect, test } from 'vitest';
import type { Preset } from '../api/forge';
import {
  checkForm, describeFields, EMPTY_FORM, formFromFields, LAST_USED_KEY, liveBody, loadBody, presetsFor, readLastUsed,
  writeLastUsed, type ModelFacts,
} from './forgeLoad';

const GGUF: ModelFacts = { key: 'qwen/qwen3-8b', max_context_length: 40960, llamaCpp: true, moe: false };
const MOE: ModelFacts = { key: 'qwen/qwen3-30b-a3b', max_context_length: 40960, llamaCpp: true, moe: true };
const MLX: ModelFacts = { key: 'qwen2.5-7b-instruct-mlx', max_context_length: 32768, llamaCpp: false, moe: false };

describe('checkForm', () => {
  test('an empty form sends only the model, through REST', () => {
    const c = checkForm(EMPTY_FORM, GGUF);
    expect(c.ok).toBe(true);
    expect(c.path).toBe('rest');
    expect(loadBody('qwen/qwen3-8b', c.fields)).toEqual({ model: 'qwen/qwen3-8b' });
  });
  test('context length is bounded by the model maximum', () => {
    expect(checkForm({ ...EMPTY_FORM, context_length: '40960' }, GGUF).ok).toBe(true);
    const c = checkForm({ ...EMPTY_FORM, context_length: '50000' }, GGUF);
    expect(c.ok).toBe(false);
    expect(c.errors.context_length).toMatch(/maximum 40960/);
    expect(checkForm({ ...EMPTY_FORM, context_length: '0' }, GGUF).errors.context_length).toBeTruthy();
    expect(checkForm({ ...EMPTY_FORM, context_length: '12.5' }, GGUF).errors.context_length).toMatch(/whole number/);
  });
  test('REST fields: exact body', () => {
    const c = checkForm({ ...EMPTY_FORM, context_length: '8192', flash_attention: 'on', eval_batch_size: '512',
      offload_kv_cache_to_gpu: 'off' }, GGUF);
    expect(c.ok).toBe(true);
    expect(c.path).toBe('rest');
    expect(loadBody('qwen/qwen3-8b', c.fields)).toEqual({ model: 'qwen/qwen3-8b', context_length: 8192,
      flash_attention: true, eval_batch_size: 512, offload_kv_cache_to_gpu: false });
  });
  test('CLI-only fields switch to lms', () => {
    const c = checkForm({ ...EMPTY_FORM, context_length: '4096', gpu: 'ratio', gpu_ratio: '0.5', parallel: '2', ttl: '600',
      identifier: 'llama-small' }, GGUF);
    expect(c.ok).toBe(true);
    expect(c.path).toBe('lms');
    expect(loadBody('meta/llama-3.2-3b', c.fields)).toEqual({ model: 'meta/llama-3.2-3b', context_length: 4096, gpu: 0.5,
      parallel: 2, ttl: 600, identifier: 'llama-small' });
    expect(checkForm({ ...EMPTY_FORM, gpu: 'max' }, GGUF).fields.gpu).toBe('max');
    expect(checkForm({ ...EMPTY_FORM, gpu: 'off' }, GGUF).fields.gpu).toBe('off');
  });
  test('mixing REST-only and CLI-only fields is a conflict (the server answers 400)', () => {
    const c = checkForm({ ...EMPTY_FORM, flash_attention: 'on', ttl: '60' }, GGUF);
    expect(c.ok).toBe(false);
    expect(c.conflict).toMatch(/flash attention/);
    expect(c.conflict).toMatch(/idle TTL/);
  });
  test('bounds of the server', () => {
    expect(checkForm({ ...EMPTY_FORM, parallel: '0' }, GGUF).errors.parallel).toMatch(/1 to 256/);
    expect(checkForm({ ...EMPTY_FORM, parallel: '257' }, GGUF).errors.parallel).toBeTruthy();
    expect(checkForm({ ...EMPTY_FORM, eval_batch_size: '65537' }, GGUF).errors.eval_batch_size).toBeTruthy();
    expect(checkForm({ ...EMPTY_FORM, ttl: '31536001' }, GGUF).errors.ttl).toBeTruthy();
    expect(checkForm({ ...EMPTY_FORM, gpu: 'ratio', gpu_ratio: '1.5' }, GGUF).errors.gpu_ratio).toBeTruthy();
    expect(checkForm({ ...EMPTY_FORM, gpu: 'ratio', gpu_ratio: '' }, GGUF).errors.gpu_ratio).toBeTruthy();
    expect(checkForm({ ...EMPTY_FORM, gpu: 'ratio', gpu_ratio: '1' }, GGUF).fields.gpu).toBe(1);
    expect(checkForm({ ...EMPTY_FORM, identifier: '-x' }, GGUF).errors.identifier).toBeTruthy();
    expect(checkForm({ ...EMPTY_FORM, identifier: 'a b' }, GGUF).errors.identifier).toBeTruthy();
    expect(checkForm({ ...EMPTY_FORM, identifier: 'team/llama@2:x' }, GGUF).ok).toBe(true);
  });
  test('llama.cpp-only fields refused for MLX; experts only for MoE', () => {
    expect(checkForm({ ...EMPTY_FORM, flash_attention: 'on' }, MLX).errors.flash_attention).toBeTruthy();
    expect(checkForm({ ...EMPTY_FORM, eval_batch_size: '256' }, MLX).errors.eval_batch_size).toBeTruthy();
    expect(checkForm({ ...EMPTY_FORM, num_experts: '4' }, GGUF).errors.num_experts).toBeTruthy();
    const c = checkForm({ ...EMPTY_FORM, num_experts: '4' }, MOE);
    expect(c.ok).toBe(true);
    expect(loadBody(MOE.key, c.fields)).toEqual({ model: MOE.key, num_experts: 4 });
  });
  test('override only when asked', () => {
    expect(loadBody('m', checkForm(EMPTY_FORM, GGUF).fields, { override: true })).toEqual({ model: 'm', override: true });
  });
});

const P: Preset[] = [
  { name: 'fast-8k', model: 'qwen/qwen3-8b', context_length: 8192, flash_attention: true, eval_batch_size: 512,
    num_experts: null, offload_kv_cache_to_gpu: true, gpu: 'max', parallel: 4, ttl: 3600, identifier: null },
  { name: 'any-small', model: null, context_length: 2048, flash_attention: null, eval_batch_size: null, num_experts: null,
    offload_kv_cache_to_gpu: null, gpu: null, parallel: null, ttl: null, identifier: null },
];

describe('presets', () => {
  test('which presets apply to a model', () => {
    expect(presetsFor(P, 'qwen/qwen3-8b').map((p) => p.name)).toEqual(['fast-8k', 'any-small']);
    expect(presetsFor(P, 'meta/llama-3.2-3b').map((p) => p.name)).toEqual(['any-small']);
  });
  test('live body names the preset unchanged', () => {
    expect(liveBody(P[0], 'qwen/qwen3-8b')).toEqual({ preset: 'fast-8k', model: 'qwen/qwen3-8b' });
    expect(liveBody(P[1], 'meta/llama-3.2-3b')).toEqual({ preset: 'any-small', model: 'meta/llama-3.2-3b' });
  });
  test('form from a preset round-trips', () => {
    const f = formFromFields(P[0]);
    expect(f).toMatchObject({ context_length: '8192', gpu: 'max', flash_attention: 'on', parallel: '4', ttl: '3600' });
    expect(formFromFields({ gpu: 0.25 })).toMatchObject({ gpu: 'ratio', gpu_ratio: '0.25' });
    expect(describeFields(P[1])).toBe('context length 2048');
    expect(describeFields({})).toBe('LM Studio defaults');
  });
});

describe('last used values', () => {
  class Mem { m = new Map<string, string>(); getItem(k: string) { return this.m.get(k) ?? null; } setItem(k: string, v: string) { this.m.set(k, v); } }
  test('per model, newest first, bounded', () => {
    const s = new Mem();
    const f = checkForm({ ...EMPTY_FORM, context_length: '4096' }, GGUF).fields;
    expect(readLastUsed(s, 'a')).toBeNull();
    writeLastUsed(s, 'a', f);
    expect(readLastUsed(s, 'a')?.context_length).toBe(4096);
    for (let i = 0; i < 60; i++) writeLastUsed(s, `m${i}`, f);
    const all = JSON.parse(s.getItem(LAST_USED_KEY)!);
    expect(Object.keys(all).length).toBe(50);
    expect(Object.keys(all)[0]).toBe('m59');
    expect(readLastUsed(s, 'a')).toBeNull();
  });
  test('garbage in storage is ignored', () => {
    const s = new Mem();
    s.setItem(LAST_USED_KEY, 'not json');
    expect(readLastUsed(s, 'a')).toBeNull();
    expect(readLastUsed(null, 'a')).toBeNull();
  });
});
