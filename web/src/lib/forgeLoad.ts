// forgeLoad.ts - the load dialog's form as pure functions: form <-> load
// fields, bounds (context length by the model's maximum, the server's
// ranges), which interface the server will use (REST or the lms bridge)
// and the conflict the server refuses, presets (which apply to a model,
// Live-mode bodies), and the "last used" values kept in localStorage
// (no secrets: only load settings). docs/api-forge.md is the contract.
import type { GpuSetting, LoadFields, LoadRequest, Preset } from '../api/forge';

export type Tri = '' | 'on' | 'off';

export interface LoadForm {
  context_length: string;
  gpu: '' | 'max' | 'off' | 'ratio';
  gpu_ratio: string;
  flash_attention: Tri;
  eval_batch_size: string;
  num_experts: string;
  offload_kv_cache_to_gpu: Tri;
  parallel: string;
  ttl: string;
  identifier: string;
}

export const EMPTY_FORM: LoadForm = {
  context_length: '', gpu: '', gpu_ratio: '', flash_attention: '', eval_batch_size: '', num_experts: '',
  offload_kv_cache_to_gpu: '', parallel: '', ttl: '', identifier: '',
};

export const REST_ONLY = ['flash_attention', 'eval_batch_size', 'num_experts', 'offload_kv_cache_to_gpu'] as const;
export const LMS_ONLY = ['gpu', 'parallel', 'ttl', 'identifier'] as const;

export const FIELD_LABEL: Record<keyof LoadFields, string> = {
  context_length: 'context length', flash_attention: 'flash attention', eval_batch_size: 'eval batch size',
  num_experts: 'experts', offload_kv_cache_to_gpu: 'KV cache on GPU', gpu: 'GPU offload', parallel: 'parallel slots',
  ttl: 'idle TTL', identifier: 'identifier',
};

export const BOUNDS = {
  eval_batch_size: [1, 65536],
  num_experts: [1, 1024],
  parallel: [1, 256],
  ttl: [1, 31536000],
} as const;

export const IDENTIFIER_RE = /^[A-Za-z0-9._:/@-]{1,128}$/;

export interface ModelFacts {
  key: string;
  max_context_length: number | null;
  /** gguf LLM: the llama.cpp-only fields apply */
  llamaCpp: boolean;
  moe: boolean;
}

const tri = (v: boolean | null | undefined): Tri => v === true ? 'on' : v === false ? 'off' : '';
const num = (v: number | null | undefined): string => typeof v === 'number' && Number.isFinite(v) ? String(v) : '';

export function formFromFields(f: Partial<LoadFields>): LoadForm {
  const g = f.gpu;
  return {
    context_length: num(f.context_length),
    gpu: g === 'max' || g === 'off' ? g : typeof g === 'number' ? 'ratio' : '',
    gpu_ratio: typeof g === 'number' ? String(g) : '',
    flash_attention: tri(f.flash_attention),
    eval_batch_size: num(f.eval_batch_size),
    num_experts: num(f.num_experts),
    offload_kv_cache_to_gpu: tri(f.offload_kv_cache_to_gpu),
    parallel: num(f.parallel),
    ttl: num(f.ttl),
    identifier: f.identifier ?? '',
  };
}

export interface Checked {
  /** the fields as they will be sent (null = not given) */
  fields: LoadFields;
  /** per form field, why it is not accepted */
  errors: Partial<Record<keyof LoadForm, string>>;
  /** which interface the server will use */
  path: 'rest' | 'lms';
  /** set when REST-only and lms-only fields are mixed (the server answers 400) */
  conflict: string | null;
  ok: boolean;
}

function intField(raw: string, name: string, lo: number, hi: number, errs: Record<string, string>, key: string,
  hiText?: string): number | null {
  const s = raw.trim();
  if (!s) return null;
  if (!/^\d+$/.test(s)) { errs[key] = `${name} must be a whole number`; return null; }
  const n = Number(s);
  if (n < lo || n > hi) { errs[key] = hiText && n > hi ? hiText : `${name} must be ${lo} to ${hi}`; return null; }
  return n;
}

/** Validate the form against the model; the bounds are the server's (docs/api-forge.md). */
export function checkForm(form: LoadForm, m: ModelFacts): Checked {
  const errors: Record<string, string> = {};
  const max = m.max_context_length && m.max_context_length > 0 ? m.max_context_length : 10_000_000;
  const context_length = intField(form.context_length, 'context length', 1, max, errors, 'context_length',
    m.max_context_length ? `context length is above the model's maximum ${m.max_context_length}` : undefined);
  let gpu: GpuSetting | null = null;
  if (form.gpu === 'max' || form.gpu === 'off') gpu = form.gpu;
  else if (form.gpu === 'ratio') {
    const s = form.gpu_ratio.trim();
    const n = Number(s);
    if (!s || !/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(s) || !Number.isFinite(n) || n < 0 || n > 1) {
      errors.gpu_ratio = 'GPU offload ratio must be a number from 0 to 1';
    } else gpu = n;
  }
  const cpp = (v: Tri, key: string): boolean | null => {
    if (v === '') return null;
    if (!m.llamaCpp) { errors[key] = 'only for llama.cpp (GGUF) language models'; return null; }
    return v === 'on';
  };
  const flash_attention = cpp(form.flash_attention, 'flash_attention');
  const offload_kv_cache_to_gpu = cpp(form.offload_kv_cache_to_gpu, 'offload_kv_cache_to_gpu');
  let eval_batch_size = intField(form.eval_batch_size, 'eval batch size', ...BOUNDS.eval_batch_size, errors, 'eval_batch_size');
  if (eval_batch_size !== null && !m.llamaCpp) { errors.eval_batch_size = 'only for llama.cpp (GGUF) language models'; eval_batch_size = null; }
  let num_experts = intField(form.num_experts, 'experts', ...BOUNDS.num_experts, errors, 'num_experts');
  if (num_experts !== null && (!m.llamaCpp || !m.moe)) { errors.num_experts = 'only for mixture-of-experts GGUF models'; num_experts = null; }
  const parallel = intField(form.parallel, 'parallel slots', ...BOUNDS.parallel, errors, 'parallel');
  const ttl = intField(form.ttl, 'idle TTL', ...BOUNDS.ttl, errors, 'ttl');
  let identifier: string | null = form.identifier.trim() || null;
  if (identifier !== null && (!IDENTIFIER_RE.test(identifier) || identifier.startsWith('-'))) {
    errors.identifier = 'identifier: 1 to 128 of A–Z a–z 0–9 . _ : / @ -, not starting with -';
    identifier = null;
  }
  const fields: LoadFields = {
    context_length, flash_attention, eval_batch_size, num_experts, offload_kv_cache_to_gpu, gpu, parallel, ttl, identifier,
  };
  const r = REST_ONLY.filter((k) => fields[k] !== null);
  const l = LMS_ONLY.filter((k) => fields[k] !== null);
  const conflict = r.length && l.length
    ? `${r.map((k) => FIELD_LABEL[k]).join(', ')} can only be sent through LM Studio's REST API and ` +
      `${l.map((k) => FIELD_LABEL[k]).join(', ')} only through the lms CLI; neither accepts both, so clear one group`
    : null;
  return {
    fields, errors, conflict,
    path: l.length ? 'lms' : 'rest',
    ok: Object.keys(errors).length === 0 && conflict === null,
  };
}

/** The request body: the model and the given fields only (null fields left out). */
export function loadBody(model: string, fields: LoadFields, extra: { override?: boolean } = {}): LoadRequest {
  const body: LoadRequest = { model };
  for (const [k, v] of Object.entries(fields) as [keyof LoadFields, LoadFields[keyof LoadFields]][]) {
    if (v !== null && v !== undefined) (body as Record<string, unknown>)[k] = v;
  }
  if (extra.override) body.override = true;
  return body;
}

/** Presets that can load this model: model-agnostic ones and the model's own. */
export function presetsFor(presets: readonly Preset[], modelKey: string): Preset[] {
  return presets.filter((p) => !p.model || p.model === modelKey);
}

/** Live mode: the preset unchanged, naming the model (required when the preset has none). */
export function liveBody(p: Preset, modelKey: string): LoadRequest {
  return { preset: p.name, model: p.model || modelKey };
}

/** "context 8192 · GPU max · TTL 3600 s" for a preset's given fields. */
export function describeFields(f: Partial<LoadFields>): string {
  const parts: string[] = [];
  for (const k of Object.keys(FIELD_LABEL) as (keyof LoadFields)[]) {
    const v = f[k];
    if (v === null || v === undefined) continue;
    const text = typeof v === 'boolean' ? (v ? 'on' : 'off') : k === 'ttl' ? `${v} s` : String(v);
    parts.push(`${FIELD_LABEL[k]} ${text}`);
  }
  return parts.length ? parts.join(' · ') : 'LM Studio defaults';
}

// ---- last used values (localStorage; load settings only, no secrets) ----

export const LAST_USED_KEY = 'dp.forge.last-load';
const LAST_USED_MAX = 50;

interface StorageLike { getItem(k: string): string | null; setItem(k: string, v: string): void }

function readAll(s: StorageLike | null): Record<string, LoadFields> {
  if (!s) return {};
  try {
    const v = JSON.parse(s.getItem(LAST_USED_KEY) ?? '{}') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, LoadFields> : {};
  } catch { return {}; }
}

export function readLastUsed(s: StorageLike | null, modelKey: string): LoadFields | null {
  const v = readAll(s)[modelKey];
  return v && typeof v === 'object' ? v : null;
}

/** Remember the fields of a successful load for this model (newest kept, at most 50 models). */
export function writeLastUsed(s: StorageLike | null, modelKey: string, f: LoadFields): void {
  if (!s) return;
  const all = readAll(s);
  delete all[modelKey];
  const next: Record<string, LoadFields> = { [modelKey]: f };
  for (const k of Object.keys(all).slice(0, LAST_USED_MAX - 1)) next[k] = all[k];
  try { s.setItem(LAST_USED_KEY, JSON.stringify(next)); } catch { /* storage full or blocked: not remembered */ }
}

export function storage(): StorageLike | null {
  try { return typeof localStorage !== 'undefined' ? localStorage : null; } catch { return null; }
}
