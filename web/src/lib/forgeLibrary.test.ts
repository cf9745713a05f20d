import { describe, expect, test } from 'vitest';
import type { InstanceFacts, LoadedInstance, Model } from '../api/forge';
import {
  capabilitiesOf, configEntries, DEFAULT_QUERY, distinct, filterModels, isMoe, lastUsed, llamaCppFields, paginate,
  queryModels, sortModels, statusLabel, ttlRemaining,
} from './forgeLibrary';

function inst(id: string, extra: Partial<LoadedInstance> = {}): LoadedInstance {
  return { id, config: { context_length: 8192 }, status: 'idle', queued: 0, ttl_ms: null, last_used_at: null,
    context_length: 8192, parallel: 4, ...extra };
}

function model(key: string, extra: Partial<Model> = {}): Model {
  return {
    key, display_name: key, type: 'llm', publisher: key.split('/')[0], architecture: 'llama', format: 'gguf',
    quantization: { name: 'Q4_K_M', bits_per_weight: 4 }, size_bytes: 1000, params: '8B', max_context_length: 32768,
    capabilities: { vision: false, trained_for_tool_use: false }, loaded_instances: [], ...extra,
  };
}

const M = [
  model('qwen/qwen3-8b', { display_name: 'Qwen3 8B', architecture: 'qwen3', size_bytes: 5e9,
    capabilities: { vision: false, trained_for_tool_use: true, reasoning: { allowed_options: ['off', 'on'], default: 'on' } },
    loaded_instances: [inst('qwen/qwen3-8b', { last_used_at: '2026-11-26T10:00:00Z' })] }),
  model('google/gemma-3-12b', { display_name: 'Gemma 3 12B', size_bytes: 8e9, capabilities: { vision: true, trained_for_tool_use: false } }),
  model('mlx-community/qwen2.5-7b', { display_name: 'Qwen2.5 7B', format: 'mlx', size_bytes: 4e9,
    capabilities: { vision: false, trained_for_tool_use: true } }),
  model('nomic/embed', { display_name: 'Nomic Embed', type: 'embedding', architecture: null, size_bytes: 8e7, capabilities: null }),
  model('meta/llama-3.2-3b', { display_name: 'Llama 3.2 3B', size_bytes: 3e9,
    loaded_instances: [inst('meta/llama-3.2-3b', { last_used_at: '2026-11-26T11:00:00Z' })] }),
];

describe('capabilities come from LM Studio flags only', () => {
  test('flags, not names', () => {
    expect(capabilitiesOf(M[0])).toEqual(['tools', 'reasoning']);
    expect(capabilitiesOf(M[1])).toEqual(['vision']);
    expect(capabilitiesOf(M[3])).toEqual([]);
    // a name that sounds like reasoning gives nothing without the flag
    expect(capabilitiesOf(model('deepseek/r1-reasoning-vision-tools'))).toEqual([]);
  });
});

describe('filter', () => {
  test('text matches key, name, publisher, architecture (all words)', () => {
    expect(filterModels(M, { ...DEFAULT_QUERY, text: 'qwen' }).map((m) => m.key)).toEqual(['qwen/qwen3-8b', 'mlx-community/qwen2.5-7b']);
    expect(filterModels(M, { ...DEFAULT_QUERY, text: 'QWEN3 8b' }).map((m) => m.key)).toEqual(['qwen/qwen3-8b']);
    expect(filterModels(M, { ...DEFAULT_QUERY, text: 'google' }).length).toBe(1);
    expect(filterModels(M, { ...DEFAULT_QUERY, text: 'nothing-like-this' })).toEqual([]);
  });
  test('type, format, capabilities, loaded only', () => {
    expect(filterModels(M, { ...DEFAULT_QUERY, type: 'embedding' }).map((m) => m.key)).toEqual(['nomic/embed']);
    expect(filterModels(M, { ...DEFAULT_QUERY, format: 'mlx' }).map((m) => m.key)).toEqual(['mlx-community/qwen2.5-7b']);
    expect(filterModels(M, { ...DEFAULT_QUERY, caps: ['tools'] }).length).toBe(2);
    expect(filterModels(M, { ...DEFAULT_QUERY, caps: ['tools', 'reasoning'] }).map((m) => m.key)).toEqual(['qwen/qwen3-8b']);
    expect(filterModels(M, { ...DEFAULT_QUERY, caps: ['vision'] }).map((m) => m.key)).toEqual(['google/gemma-3-12b']);
    expect(filterModels(M, { ...DEFAULT_QUERY, loadedOnly: true }).length).toBe(2);
  });
  test('distinct values for the selects', () => {
    expect(distinct(M, (m) => m.format)).toEqual(['gguf', 'mlx']);
    expect(distinct(M, (m) => m.type)).toEqual(['embedding', 'llm']);
  });
});

describe('sort', () => {
  test('by name, both directions', () => {
    expect(sortModels(M, 'name', 'asc').map((m) => m.display_name)).toEqual(['Gemma 3 12B', 'Llama 3.2 3B', 'Nomic Embed', 'Qwen2.5 7B', 'Qwen3 8B']);
    expect(sortModels(M, 'name', 'desc')[0].display_name).toBe('Qwen3 8B');
  });
  test('by size', () => {
    expect(sortModels(M, 'size', 'desc').map((m) => m.key)[0]).toBe('google/gemma-3-12b');
    expect(sortModels(M, 'size', 'asc').map((m) => m.key)[0]).toBe('nomic/embed');
  });
  test('by last used: never-used last in both directions', () => {
    expect(sortModels(M, 'last_used', 'desc').map((m) => m.key).slice(0, 2)).toEqual(['meta/llama-3.2-3b', 'qwen/qwen3-8b']);
    const asc = sortModels(M, 'last_used', 'asc').map((m) => m.key);
    expect(asc.slice(0, 2)).toEqual(['qwen/qwen3-8b', 'meta/llama-3.2-3b']);
    expect(lastUsed(M[1])).toBeNull();
  });
  test('does not mutate the input', () => {
    const copy = [...M];
    sortModels(M, 'size', 'asc');
    expect(M).toEqual(copy);
  });
  test('1,000 models filter and sort quickly', () => {
    const many = Array.from({ length: 1000 }, (_, i) => model(`pub${i % 37}/model-${i}`, { size_bytes: (i * 7919) % 100000 }));
    const t0 = performance.now();
    for (let k = 0; k < 20; k++) queryModels(many, { ...DEFAULT_QUERY, text: 'pub1', sort: 'size', dir: 'desc' });
    expect((performance.now() - t0) / 20).toBeLessThan(50);
  });
});

describe('paginate', () => {
  const items = Array.from({ length: 53 }, (_, i) => i);
  test('pages and bounds', () => {
    expect(paginate(items, 0, 25)).toMatchObject({ page: 0, pages: 3, from: 1, to: 25, total: 53 });
    expect(paginate(items, 2, 25)).toMatchObject({ page: 2, from: 51, to: 53 });
    expect(paginate(items, 9, 25).page).toBe(2);
    expect(paginate(items, -3, 25).page).toBe(0);
    expect(paginate([], 0, 25)).toMatchObject({ page: 0, pages: 1, from: 0, to: 0, total: 0 });
  });
});

describe('model facts', () => {
  test('MoE from architecture, params notation or a loaded config', () => {
    expect(isMoe(model('q/30b', { architecture: 'qwen3moe', params: '30B-A3B' }))).toBe(true);
    expect(isMoe(model('o/gpt-oss', { architecture: 'gpt-oss', params: '20B' }))).toBe(true);
    expect(isMoe(model('g/gemma-4', { architecture: 'gemma4', params: '26B-A4B' }))).toBe(true);
    expect(isMoe(model('x/y', { loaded_instances: [inst('x/y', { config: { num_experts: 8 } })] }))).toBe(true);
    expect(isMoe(model('q/qwen3-8b', { architecture: 'qwen3', params: '8B' }))).toBe(false);
  });
  test('llama.cpp-only fields apply to GGUF LLMs', () => {
    expect(llamaCppFields(M[0])).toBe(true);
    expect(llamaCppFields(M[2])).toBe(false);
    expect(llamaCppFields(M[3])).toBe(false);
  });
  test('status labels', () => {
    expect(statusLabel('processingPrompt')).toBe('processing');
    expect(statusLabel('generating')).toBe('generating');
    expect(statusLabel(null)).toBeNull();
    expect(statusLabel('somethingNew')).toBe('somethingNew');
  });
  test('TTL remaining counts down from the fetch, never below zero, null when unknown', () => {
    const f = { ttl_remaining_ms: 60_000 } as InstanceFacts;
    expect(ttlRemaining(f, 1000, 1000)).toBe(60_000);
    expect(ttlRemaining(f, 1000, 31_000)).toBe(30_000);
    expect(ttlRemaining(f, 1000, 100_000)).toBe(0);
    expect(ttlRemaining({ ttl_remaining_ms: null } as InstanceFacts, 0, 0)).toBeNull();
    expect(ttlRemaining(undefined, 0, 0)).toBeNull();
  });
  test('config entries in a fixed order', () => {
    const e = configEntries(inst('a', { config: { flash_attention: true, context_length: 4096, parallel: 2, zzz: 'x' } }));
    expect(e).toEqual([['context', '4096'], ['parallel', '2'], ['flash attn', 'on'], ['zzz', 'x']]);
  });
});
