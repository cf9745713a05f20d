// forgeLibrary.ts - the Forge's model library as pure functions: search,
// filters (type, format, capability from LM Studio's own flags), sort
// (name, size, last used), paging, and the facts a row shows (status,
// MoE, TTL remaining). Unit-tested; no DOM.
import type { InstanceFacts, LoadedInstance, Model } from '../api/forge';
import { toDate } from './format';

export type Capability = 'vision' | 'tools' | 'reasoning';
export type SortKey = 'name' | 'size' | 'last_used';
export type SortDir = 'asc' | 'desc';

export interface LibraryQuery {
  text: string;
  type: string;        // '' = any, else 'llm' | 'embedding' | …
  format: string;      // '' = any, else 'gguf' | 'mlx' | …
  caps: Capability[];  // all must be present
  loadedOnly: boolean;
  sort: SortKey;
  dir: SortDir;
}

export const DEFAULT_QUERY: LibraryQuery = {
  text: '', type: '', format: '', caps: [], loadedOnly: false, sort: 'name', dir: 'asc',
};

/** Capabilities exactly as LM Studio flags them (capabilities object); none for embeddings. */
export function capabilitiesOf(m: Model): Capability[] {
  const c = m.capabilities;
  if (!c) return [];
  const out: Capability[] = [];
  if (c.vision === true) out.push('vision');
  if (c.trained_for_tool_use === true) out.push('tools');
  if (c.reasoning && typeof c.reasoning === 'object') out.push('reasoning');
  return out;
}

export const CAPABILITY_LABEL: Record<Capability, string> = {
  vision: 'vision', tools: 'tool use', reasoning: 'reasoning',
};

export function modelName(m: Model): string {
  return m.display_name || m.key;
}

/** The latest last_used_at over the model's loaded instances (lms ps), ms since epoch, or null. */
export function lastUsed(m: Model): number | null {
  let best: number | null = null;
  for (const i of m.loaded_instances) {
    const d = toDate(i.last_used_at);
    if (d && (best === null || d.getTime() > best)) best = d.getTime();
  }
  return best;
}

function matchesText(m: Model, words: string[]): boolean {
  if (words.length === 0) return true;
  const hay = [m.key, m.display_name, m.publisher, m.architecture, m.params, m.quantization?.name, m.format, m.type]
    .filter((s): s is string => typeof s === 'string').join(' ').toLowerCase();
  return words.every((w) => hay.includes(w));
}

export function filterModels(models: readonly Model[], q: LibraryQuery): Model[] {
  const words = q.text.toLowerCase().split(/\s+/).filter(Boolean);
  return models.filter((m) => {
    if (q.type && m.type !== q.type) return false;
    if (q.format && (m.format ?? '') !== q.format) return false;
    if (q.loadedOnly && m.loaded_instances.length === 0) return false;
    if (q.caps.length) {
      const have = capabilitiesOf(m);
      if (!q.caps.every((c) => have.includes(c))) return false;
    }
    return matchesText(m, words);
  });
}

const byName = (a: Model, b: Model) =>
  modelName(a).localeCompare(modelName(b), undefined, { sensitivity: 'base', numeric: true }) || a.key.localeCompare(b.key);

/** Sorted copy. Unknown sizes and never-used models go last in either direction. */
export function sortModels(models: readonly Model[], key: SortKey, dir: SortDir): Model[] {
  const sign = dir === 'asc' ? 1 : -1;
  const val = (m: Model): number | null => key === 'size' ? (Number.isFinite(m.size_bytes) ? m.size_bytes : null)
    : key === 'last_used' ? lastUsed(m) : null;
  return [...models].sort((a, b) => {
    if (key === 'name') return sign * byName(a, b);
    const va = val(a), vb = val(b);
    if (va === null && vb === null) return byName(a, b);
    if (va === null) return 1;
    if (vb === null) return -1;
    return sign * (va - vb) || byName(a, b);
  });
}

export function queryModels(models: readonly Model[], q: LibraryQuery): Model[] {
  return sortModels(filterModels(models, q), q.sort, q.dir);
}

/** Distinct non-empty values of a field, sorted (for the filter selects). */
export function distinct(models: readonly Model[], pick: (m: Model) => string | null | undefined): string[] {
  const s = new Set<string>();
  for (const m of models) { const v = pick(m); if (v) s.add(v); }
  return [...s].sort();
}

export interface Page<T> { items: T[]; page: number; pages: number; from: number; to: number; total: number }

/** Page `page` (0-based, clamped) of `size` items. */
export function paginate<T>(items: readonly T[], page: number, size: number): Page<T> {
  const total = items.length;
  const pages = Math.max(1, Math.ceil(total / size));
  const p = Math.min(Math.max(0, Math.floor(page) || 0), pages - 1);
  const from = p * size;
  const slice = items.slice(from, from + size);
  return { items: slice, page: p, pages, from: total ? from + 1 : 0, to: from + slice.length, total };
}

/**
 * Whether the model is a mixture of experts, from what LM Studio reports:
 * a loaded instance's config carries num_experts, the architecture id is a
 * llama.cpp MoE architecture, or the params string names the active
 * parameters ("30B-A3B", LM Studio's notation). Used only to offer the
 * experts field; never shown as a capability.
 */
const MOE_ARCHS = new Set(['gpt-oss', 'mixtral', 'deepseek2', 'deepseek_v2', 'deepseek_v3', 'dbrx', 'llama4',
  'olmoe', 'grok', 'arctic', 'jamba', 'phimoe', 'hunyuan-moe', 'ernie4_5-moe', 'glm4moe', 'bailingmoe']);

export function isMoe(m: Model): boolean {
  if (m.loaded_instances.some((i) => typeof i.config?.num_experts === 'number')) return true;
  const a = (m.architecture ?? '').toLowerCase();
  if (a && (MOE_ARCHS.has(a) || /moe/.test(a))) return true;
  return /\d(\.\d+)?[BM]-A\d+(\.\d+)?[BM]$/i.test(m.params ?? '');
}

/** llama.cpp-only load fields apply to gguf LLMs (docs/api-forge.md). */
export function llamaCppFields(m: Model): boolean {
  return m.type === 'llm' && m.format === 'gguf';
}

export const STATUS_LABEL: Record<string, string> = {
  idle: 'idle',
  processingPrompt: 'processing',
  generating: 'generating',
  computingEmbedding: 'embedding',
};

export function statusLabel(s: string | null | undefined): string | null {
  if (!s) return null;
  return STATUS_LABEL[s] ?? s;
}

/**
 * TTL left of an instance: the facts endpoint's ttl_remaining_ms minus the
 * time since it was fetched (no browser/server clock comparison).
 * null when unknown or the instance has no TTL.
 */
export function ttlRemaining(f: InstanceFacts | undefined, fetchedAtMs: number, nowMs: number): number | null {
  if (!f || typeof f.ttl_remaining_ms !== 'number') return null;
  return Math.max(0, f.ttl_remaining_ms - Math.max(0, nowMs - fetchedAtMs));
}

/** Config entries of an instance to show, in a fixed order, known names first. */
export function configEntries(i: LoadedInstance): [string, string][] {
  const c = i.config ?? {};
  const out: [string, string][] = [];
  const order = ['context_length', 'parallel', 'eval_batch_size', 'flash_attention', 'num_experts', 'offload_kv_cache_to_gpu'];
  const label: Record<string, string> = {
    context_length: 'context', parallel: 'parallel', eval_batch_size: 'batch', flash_attention: 'flash attn',
    num_experts: 'experts', offload_kv_cache_to_gpu: 'KV on GPU',
  };
  const show = (v: unknown) => typeof v === 'boolean' ? (v ? 'on' : 'off') : typeof v === 'number' ? String(v) :
    typeof v === 'string' ? v : JSON.stringify(v);
  for (const k of order) if (k in c && c[k] !== null && c[k] !== undefined) out.push([label[k], show(c[k])]);
  for (const k of Object.keys(c).sort()) if (!order.includes(k) && c[k] !== null && c[k] !== undefined) out.push([k, show(c[k])]);
  if (!('parallel' in c) && typeof i.parallel === 'number') out.push(['parallel', String(i.parallel)]);
  return out;
}
