// targets.ts - daemon targets, models view, GPU survey, the Kill Switch,
// the caller's active target and the server-side settings (mode, load
// presets), mirroring docs/api-targets.md. The browser never sees a daemon
// token: `api_key` is sent on write only; responses carry `has_api_key`
// and `api_key_hint`.
import { http } from './http';
import type { AgentLink } from './agent';
import type { Health } from './types';

export interface LmsEndpoint { host: string; port: number; derived: boolean }

export interface Target {
  id: number;
  label: string;
  url: string;
  has_api_key: boolean;
  api_key_hint: string | null;
  lms_host: string | null;
  lms_port: number | null;
  lms: LmsEndpoint | null;
  tags: string[];
  created_at: string | null;
  updated_at: string | null;
  health: Health | null;
  /** docs/agent.md: whether a host agent is enrolled (never the token) */
  agent?: AgentLink | null;
}

export interface TargetList { targets: Target[]; active_target_id: number | null }

/** POST body; PATCH takes any subset (api_key: string sets, null/"" removes, absent keeps). */
export interface TargetDraft {
  label?: string;
  url?: string;
  api_key?: string | null;
  lms_host?: string | null;
  lms_port?: number | null;
  tags?: string[];
}

export interface TestResult {
  ok: boolean;
  state: Health['state'];
  latency_ms: number | null;
  models: number | null;
  loaded: number | null;
  error: { code: string; message: string } | null;
}

export interface LoadedInstance {
  id: string;
  config: Record<string, unknown> | null;
  status: string | null;
  queued: number | null;
  ttl_ms: number | null;
  last_used_at: string | null;
  context_length: number | null;
  parallel: number | null;
}

export interface ModelInfo {
  key: string;
  display_name: string | null;
  type: string | null;
  publisher: string | null;
  architecture: string | null;
  format: string | null;
  quantization: { name: string | null; bits_per_weight: number | null } | null;
  size_bytes: number | null;
  params: string | null;
  max_context_length: number | null;
  loaded_instances: LoadedInstance[];
}

export interface ModelsView {
  target_id: number;
  fetched_at: string | null;
  cached: boolean;
  lms: { available: boolean; error: { code: string; message: string } | null };
  models: ModelInfo[];
}

export interface SurveyGpu {
  index: number;
  name: string | null;
  vram_bytes: number | null;
  total_bytes: number | null;
  dedicated_bytes: number | null;
  platform: string | null;
  integration: string | null;
  estimated_used_bytes: number | null;
}

export interface GpusView {
  target_id: number;
  source: string;
  available: boolean;
  error: { code: string; message: string } | null;
  status: string | null;
  engine: string | null;
  gpus: SurveyGpu[];
  memory: { ram_bytes: number | null; vram_bytes: number | null; total_bytes: number | null } | null;
  vram_estimate: { label: string; loaded_weights_bytes: number | null; instances: number | null; basis: string } | null;
  live: unknown;
}

export interface UnloadResult {
  target_id: number;
  requested: number;
  unloaded: number;
  failed: number;
  results: { instance_id: string; ok: boolean; error: { code: string; message: string } | null }[];
}

export type Mode = 'dev' | 'live';

export interface LoadPreset {
  name: string;
  model: string | null;
  context_length: number | null;
  flash_attention: boolean | null;
  eval_batch_size: number | null;
  num_experts: number | null;
  offload_kv_cache_to_gpu: boolean | null;
  gpu: 'off' | 'max' | number | null;
  parallel: number | null;
  ttl: number | null;
  identifier: string | null;
}

export interface Settings { mode: Mode; load_presets: LoadPreset[]; updated_at: string | null }

const tp = (id: number) => `/api/targets/${encodeURIComponent(id)}`;

export function listTargets(signal?: AbortSignal): Promise<TargetList> {
  return http.request<TargetList>('GET', '/api/targets', undefined, { signal });
}

export async function getTarget(id: number, signal?: AbortSignal): Promise<Target> {
  return (await http.request<{ target: Target }>('GET', tp(id), undefined, { signal })).target;
}

export async function createTarget(d: TargetDraft): Promise<Target> {
  return (await http.request<{ target: Target }>('POST', '/api/targets', d)).target;
}

export async function updateTarget(id: number, d: TargetDraft): Promise<Target> {
  return (await http.request<{ target: Target }>('PATCH', tp(id), d)).target;
}

export function deleteTarget(id: number): Promise<void> {
  return http.request<void>('DELETE', tp(id));
}

/** Probe a saved target now. */
export function testTarget(id: number): Promise<TestResult> {
  return http.request<TestResult>('POST', `${tp(id)}/test`, {});
}

/** Probe a draft without saving; with target_id and no api_key the stored token is used. */
export function testDraft(d: TargetDraft & { target_id?: number }): Promise<TestResult> {
  return http.request<TestResult>('POST', '/api/targets/test', d);
}

export function getModels(id: number, signal?: AbortSignal): Promise<ModelsView> {
  return http.request<ModelsView>('GET', `${tp(id)}/models`, undefined, { signal });
}

export function getGpus(id: number, signal?: AbortSignal): Promise<GpusView> {
  return http.request<GpusView>('GET', `${tp(id)}/gpus`, undefined, { signal });
}

/** The Kill Switch (operator+): every loaded instance, or one. */
export function unload(id: number, what: { all: true } | { instance_id: string }): Promise<UnloadResult> {
  return http.request<UnloadResult>('POST', `${tp(id)}/models/unload`, what);
}

export async function setActiveTarget(id: number | null): Promise<number | null> {
  return (await http.request<{ active_target_id: number | null }>('PUT', '/api/me/active-target', { target_id: id }))
    .active_target_id;
}

export function getSettings(signal?: AbortSignal): Promise<Settings> {
  return http.request<Settings>('GET', '/api/settings', undefined, { signal });
}

export function putSettings(change: { mode?: Mode; load_presets?: LoadPreset[] }): Promise<Settings> {
  return http.request<Settings>('PUT', '/api/settings', change);
}
