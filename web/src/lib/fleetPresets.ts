// fleetPresets.ts - load presets (GET/PUT /api/settings): turning the
// preset form's text fields into the server's preset object and back, and
// a one-line summary. Pure; the server validates again (400 invalid_preset).
import type { LoadPreset } from '../api/targets';

export interface PresetForm {
  name: string; model: string; context_length: string; flash_attention: '' | 'on' | 'off';
  eval_batch_size: string; num_experts: string; offload_kv_cache_to_gpu: '' | 'on' | 'off';
  gpu: '' | 'off' | 'max' | 'ratio'; gpu_ratio: string; parallel: string; ttl: string; identifier: string;
}

export const EMPTY_PRESET_FORM: PresetForm = {
  name: '', model: '', context_length: '', flash_attention: '', eval_batch_size: '', num_experts: '',
  offload_kv_cache_to_gpu: '', gpu: '', gpu_ratio: '', parallel: '', ttl: '', identifier: '',
};

const tri = (b: boolean | null): '' | 'on' | 'off' => (b === null ? '' : b ? 'on' : 'off');

export function presetToForm(p: LoadPreset): PresetForm {
  return {
    name: p.name, model: p.model ?? '', context_length: p.context_length?.toString() ?? '',
    flash_attention: tri(p.flash_attention), eval_batch_size: p.eval_batch_size?.toString() ?? '',
    num_experts: p.num_experts?.toString() ?? '', offload_kv_cache_to_gpu: tri(p.offload_kv_cache_to_gpu),
    gpu: p.gpu === null ? '' : typeof p.gpu === 'number' ? 'ratio' : p.gpu,
    gpu_ratio: typeof p.gpu === 'number' ? String(p.gpu) : '',
    parallel: p.parallel?.toString() ?? '', ttl: p.ttl?.toString() ?? '', identifier: p.identifier ?? '',
  };
}

const INT_FIELDS: [keyof PresetForm & keyof LoadPreset, string, number, number][] = [
  ['context_length', 'Context length', 1, 10_000_000],
  ['eval_batch_size', 'Evaluation batch size', 1, 65536],
  ['num_experts', 'Experts', 1, 1024],
  ['parallel', 'Parallel slots', 1, 256],
  ['ttl', 'TTL', 1, 31_536_000],
];

/** Form -> preset, or the first problem (field key and message). */
export function formToPreset(f: PresetForm): { preset: LoadPreset } | { field: keyof PresetForm; error: string } {
  const name = f.name.trim();
  if (!name || name.length > 64) return { field: 'name', error: 'A name of 1 to 64 characters is required.' };
  const p: LoadPreset = {
    name, model: f.model.trim() || null, context_length: null, flash_attention: null, eval_batch_size: null,
    num_experts: null, offload_kv_cache_to_gpu: null, gpu: null, parallel: null, ttl: null,
    identifier: f.identifier.trim() || null,
  };
  for (const [k, what, lo, hi] of INT_FIELDS) {
    const s = (f[k] as string).trim();
    if (!s) continue;
    if (!/^\d+$/.test(s) || Number(s) < lo || Number(s) > hi) {
      return { field: k, error: `${what} must be a whole number from ${lo} to ${hi.toLocaleString('en-US')}.` };
    }
    (p as unknown as Record<string, number>)[k] = Number(s);
  }
  if (f.flash_attention) p.flash_attention = f.flash_attention === 'on';
  if (f.offload_kv_cache_to_gpu) p.offload_kv_cache_to_gpu = f.offload_kv_cache_to_gpu === 'on';
  if (f.gpu === 'off' || f.gpu === 'max') p.gpu = f.gpu;
  else if (f.gpu === 'ratio') {
    const r = Number(f.gpu_ratio.trim());
    if (f.gpu_ratio.trim() === '' || !Number.isFinite(r) || r < 0 || r > 1) {
      return { field: 'gpu_ratio', error: 'The GPU offload ratio is a number from 0 to 1.' };
    }
    p.gpu = r;
  }
  if (p.identifier && p.identifier.length > 128) return { field: 'identifier', error: 'The identifier is at most 128 characters.' };
  return { preset: p };
}

/** "qwen/qwen3-8b · context 8,192 · GPU max · flash attention on · 4 parallel · TTL 3600 s". */
export function presetSummary(p: LoadPreset): string {
  const parts: string[] = [p.model ?? 'any model'];
  if (p.context_length !== null) parts.push(`context ${p.context_length.toLocaleString('en-US')}`);
  if (p.gpu !== null) parts.push(`GPU ${typeof p.gpu === 'number' ? `${Math.round(p.gpu * 100)} %` : p.gpu}`);
  if (p.flash_attention !== null) parts.push(`flash attention ${p.flash_attention ? 'on' : 'off'}`);
  if (p.offload_kv_cache_to_gpu !== null) parts.push(p.offload_kv_cache_to_gpu ? 'KV cache on GPU' : 'KV cache in RAM');
  if (p.eval_batch_size !== null) parts.push(`batch ${p.eval_batch_size}`);
  if (p.num_experts !== null) parts.push(`${p.num_experts} experts`);
  if (p.parallel !== null) parts.push(`${p.parallel} parallel`);
  if (p.ttl !== null) parts.push(`TTL ${p.ttl} s`);
  if (p.identifier !== null) parts.push(`as ${p.identifier}`);
  return parts.join(' · ');
}
