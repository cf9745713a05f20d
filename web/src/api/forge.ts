// forge.ts - The Forge's HTTP and SSE access: the models view of a target,
// the VRAM pre-flight, load, eject / unload all, downloads, JIT/TTL facts,
// settings (mode, presets). Types mirror docs/api-forge.md and
// docs/api-targets.md as the server serves them; every field the server
// may leave out or null is typed so. Subscriptions return their
// unsubscribe function.
import { http } from './http';
import { subscribe } from './sse';
import type { Health } from './types';

// ---- targets (only what the Forge needs of them) ----

export interface ForgeTarget {
  id: number;
  label: string;
  health: Health | null;
}

export interface TargetList {
  targets: ForgeTarget[];
  active_target_id: number | null;
}

export async function listTargets(signal?: AbortSignal): Promise<TargetList> {
  const r = await http.request<TargetList>('GET', '/api/targets', undefined, { signal });
  return { targets: Array.isArray(r.targets) ? r.targets : [], active_target_id: r.active_target_id ?? null };
}

export async function setActiveTarget(id: number | null): Promise<number | null> {
  const r = await http.request<{ active_target_id: number | null }>('PUT', '/api/me/active-target', { target_id: id });
  return r.active_target_id;
}

// ---- the models view: GET /api/targets/{id}/models ----

export type ReasoningOption = 'off' | 'on' | 'low' | 'medium' | 'high';

export interface Capabilities {
  vision?: boolean;
  trained_for_tool_use?: boolean;
  reasoning?: { allowed_options?: ReasoningOption[]; default?: ReasoningOption } | null;
}

export type InstanceStatus = 'idle' | 'processingPrompt' | 'generating' | 'computingEmbedding';

/** LM Studio's loaded_instances[].config as given (all optional). */
export interface InstanceConfig {
  context_length?: number;
  eval_batch_size?: number;
  parallel?: number;
  flash_attention?: boolean;
  num_experts?: number;
  offload_kv_cache_to_gpu?: boolean;
  [k: string]: unknown;
}

export interface LoadedInstance {
  id: string;
  config: InstanceConfig | null;
  /** from `lms ps`; null when the bridge is unavailable or did not list it */
  status: InstanceStatus | string | null;
  queued: number | null;
  ttl_ms: number | null;
  last_used_at: string | null;
  context_length: number | null;
  parallel: number | null;
}

export interface Model {
  key: string;
  display_name: string | null;
  type: 'llm' | 'embedding' | string;
  publisher: string | null;
  architecture: string | null;
  format: 'gguf' | 'mlx' | string | null;
  quantization: { name: string | null; bits_per_weight: number | null } | null;
  size_bytes: number | null;
  params: string | null;
  max_context_length: number | null;
  capabilities: Capabilities | null;
  loaded_instances: LoadedInstance[];
  variants?: string[];
  selected_variant?: string;
}

export interface ModelsView {
  target_id: number;
  fetched_at: string | null;
  cached: boolean;
  lms: { available: boolean; error: { code: string; message: string } | null };
  models: Model[];
}

export async function getModels(targetId: number, signal?: AbortSignal): Promise<ModelsView> {
  const r = await http.request<ModelsView>('GET', `/api/targets/${encodeURIComponent(targetId)}/models`, undefined, { signal });
  return { ...r, models: Array.isArray(r.models) ? r.models : [] };
}

// ---- JIT / TTL facts: GET /api/targets/{id}/models/facts ----

export interface InstanceFacts {
  instance_id: string;
  model: string | null;
  loaded_by: 'daemonpulse' | null;
  via: 'rest' | 'lms' | null;
  by: string | null;
  loaded_at: string | null;
  /** false: DaemonPulse loaded it (not JIT); true: reported JIT; null: unknown */
  jit: boolean | null;
  ttl_ms: number | null;
  ttl_remaining_ms: number | null;
  last_used_at: string | null;
  status: string | null;
}

/** The config of the last successful load of a model through this server (in memory there). */
export interface LastLoad {
  config: Partial<LoadFields> & { model?: string };
  by: string | null;
  at: string | null;
}

export interface Facts {
  target_id: number;
  jit: { enabled: boolean | null; reason: string | null };
  lms: { available: boolean; reason: string | null };
  instances: InstanceFacts[];
  /** per model key; absent on servers before it was added */
  last_loads?: Record<string, LastLoad>;
}

export function getFacts(targetId: number, signal?: AbortSignal): Promise<Facts> {
  return http.request<Facts>('GET', `/api/targets/${encodeURIComponent(targetId)}/models/facts`, undefined, { signal });
}

// ---- settings: mode and presets (GET /api/settings) ----

export type GpuSetting = 'off' | 'max' | number;

/** The load fields shared by load, estimate and presets; null = not given. */
export interface LoadFields {
  context_length: number | null;
  flash_attention: boolean | null;
  eval_batch_size: number | null;
  num_experts: number | null;
  offload_kv_cache_to_gpu: boolean | null;
  gpu: GpuSetting | null;
  parallel: number | null;
  ttl: number | null;
  identifier: string | null;
}

export interface Preset extends LoadFields {
  name: string;
  model: string | null;
}

export interface Settings {
  mode: 'dev' | 'live';
  load_presets: Preset[];
  updated_at: string | null;
}

export function getSettings(signal?: AbortSignal): Promise<Settings> {
  return http.request<Settings>('GET', '/api/settings', undefined, { signal });
}

// ---- estimate and load ----

/** The body of estimate / load: only the fields that are given. */
export type LoadRequest = { model?: string; preset?: string; override?: boolean } & Partial<LoadFields>;

export interface GpuEstimate {
  index: number;
  name: string;
  total_bytes: number;
  used_before: number;
  load_bytes: number;
  used_after: number;
  fits: boolean;
}

export interface RamEstimate {
  total_bytes: number;
  used_before: number;
  load_bytes: number;
  used_after: number;
  fits: boolean;
}

export interface LmStudioEstimate {
  available: boolean;
  reason?: string | null;
  model?: string;
  context_length?: number | null;
  gpu_offload_pct?: number | null;
  gpu_bytes?: number | null;
  total_bytes?: number | null;
  confidence?: 'low' | 'high' | string;
  fits?: boolean | null;
}

export interface Estimate {
  target_id: number;
  model: string;
  config: Record<string, unknown>;
  gpus: GpuEstimate[];
  ram: RamEstimate | null;
  breakdown: {
    weights: number; weights_gpu: number; weights_ram: number;
    kv_cache: number; kv_cache_gpu: number; kv_cache_ram: number;
    overhead: number; gpu_total: number; ram_total: number; total: number;
  };
  fits: boolean | null;
  reason: string | null;
  confidence: 'low' | 'medium' | string;
  basis: Record<string, unknown>;
  notes: string[];
  lmstudio?: LmStudioEstimate;
  difference_explained?: string;
}

export function estimate(targetId: number, body: LoadRequest, signal?: AbortSignal): Promise<Estimate> {
  return http.request<Estimate>('POST', `/api/targets/${encodeURIComponent(targetId)}/models/estimate`, body, { signal });
}

export interface LoadResult {
  target_id: number;
  model: string;
  path: 'rest' | 'lms';
  instance_id: string | null;
  load_time_seconds: number | null;
  load_config: InstanceConfig | null;
  requested: Record<string, unknown>;
  instance: { id: string; config: InstanceConfig | null } | null;
  override: boolean;
  estimate: Estimate | null;
}

export function load(targetId: number, body: LoadRequest, signal?: AbortSignal): Promise<LoadResult> {
  return http.request<LoadResult>('POST', `/api/targets/${encodeURIComponent(targetId)}/models/load`, body, { signal });
}

// ---- eject / unload all (the Kill Switch route) ----

export interface UnloadResult {
  target_id: number;
  requested: number;
  unloaded: number;
  failed: number;
  results: { instance_id: string; ok: boolean; error: { code: string; message: string } | null }[];
}

export function eject(targetId: number, instanceId: string): Promise<UnloadResult> {
  return http.request<UnloadResult>('POST', `/api/targets/${encodeURIComponent(targetId)}/models/unload`,
    { instance_id: instanceId });
}

export function unloadAll(targetId: number): Promise<UnloadResult> {
  return http.request<UnloadResult>('POST', `/api/targets/${encodeURIComponent(targetId)}/models/unload`, { all: true });
}

// ---- downloads ----

export type DownloadStatus = 'downloading' | 'paused' | 'completed' | 'failed' | 'already_downloaded' | 'unknown';

export interface DownloadJob {
  target_id: number;
  job_id: string | null;
  model: string;
  quantization: string | null;
  status: DownloadStatus | string;
  downloaded_bytes: number | null;
  total_size_bytes: number | null;
  bytes_per_second: number | null;
  estimated_completion: string | null;
  started_at: string | null;
  completed_at: string | null;
  error: string | { code?: string; message?: string } | null;
  updated_at: string | null;
}

export async function startDownload(targetId: number, model: string, quantization: string | null): Promise<DownloadJob> {
  const body: { model: string; quantization?: string } = { model };
  if (quantization) body.quantization = quantization;
  const r = await http.request<{ job: DownloadJob }>('POST', `/api/targets/${encodeURIComponent(targetId)}/models/download`, body);
  return r.job;
}

export async function listDownloads(targetId: number, signal?: AbortSignal): Promise<DownloadJob[]> {
  const r = await http.request<{ jobs: DownloadJob[] }>('GET', `/api/targets/${encodeURIComponent(targetId)}/downloads`,
    undefined, { signal });
  return Array.isArray(r.jobs) ? r.jobs : [];
}

// ---- events the Forge follows on /api/events ----

export interface LoadEvent {
  target_id: number;
  model: string;
  instance_id: string | null;
  path: 'rest' | 'lms';
  /** started; queued (waits for another load on the target), then ended (refused or failed
   * before loading) or cancelled (its client left); or the outcome */
  result: 'started' | 'queued' | 'ended' | 'cancelled' | 'ok' | 'failed';
  error: { code: string; message: string } | null;
  by: string | null;
}

export type ForgeEvent =
  | { type: 'snapshot'; resumed: boolean }
  | { type: 'models'; target_id: number }
  | { type: 'load'; data: LoadEvent }
  | { type: 'download'; target_id: number; job: DownloadJob }
  | { type: 'settings'; settings: Settings }
  | { type: 'health'; target_id: number; state: string };

export const FORGE_EVENT_TYPES = ['snapshot', 'models', 'load', 'download', 'settings', 'health'] as const;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Turn one raw SSE event into a typed Forge event (null: not ours or malformed). */
export function parseForgeEvent(type: string, data: unknown): ForgeEvent | null {
  if (!isObj(data)) return null;
  switch (type) {
    case 'snapshot': return { type, resumed: data.resumed === true };
    case 'models':
      return typeof data.target_id === 'number' ? { type, target_id: data.target_id } : null;
    case 'load':
      return typeof data.target_id === 'number' && typeof data.model === 'string'
        ? { type, data: data as unknown as LoadEvent } : null;
    case 'download':
      return typeof data.target_id === 'number' && isObj(data.job) && typeof data.job.model === 'string'
        ? { type, target_id: data.target_id, job: data.job as unknown as DownloadJob } : null;
    case 'settings':
      return (data.mode === 'dev' || data.mode === 'live') && Array.isArray(data.load_presets)
        ? { type, settings: data as unknown as Settings } : null;
    case 'health':
      return typeof data.target_id === 'number' && isObj(data.health) && typeof data.health.state === 'string'
        ? { type, target_id: data.target_id, state: data.health.state } : null;
    default: return null;
  }
}

/**
 * A stream of its own for the Forge's events (closed with the returned
 * function). The page itself listens on the tab's shared stream
 * (state/targets.ts onStreamEvent, whose EVENT_TYPES include 'load' and
 * 'download') and only uses parseForgeEvent; this is for other callers.
 */
export function subscribeForge(h: {
  onEvent: (e: ForgeEvent) => void;
  onStatus?: (live: boolean) => void;
}, Ctor?: typeof EventSource): () => void {
  return subscribe('/api/events', FORGE_EVENT_TYPES, {
    onEvent: (t, d) => {
      const e = parseForgeEvent(t, d);
      if (e) h.onEvent(e);
    },
    onOpen: () => h.onStatus?.(true),
    onError: () => h.onStatus?.(false),
  }, Ctor);
}
