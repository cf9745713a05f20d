// telemetry.ts - live, measured GPU telemetry and alerts, mirroring
// docs/api-telemetry.md. Every value may be null ("not available": never a
// guess). The per-target values are polled (the server pushes only source
// changes); every subscription returns its unsubscribe function.
import { ApiError, http } from './http';

export type TelemetrySource = 'nvml' | 'amdgpu' | 'simulated' | 'none';

export interface GpuMemory {
  total_bytes: number | null;
  used_bytes: number | null;
  free_bytes: number | null;
  reserved_bytes: number | null;
  lmstudio_bytes: number | null;
  other_bytes: number | null;
  unattributed_bytes: number | null;
  unified: boolean | null;
  /** amdgpu only: system memory mapped for the GPU (APUs); null elsewhere. */
  gtt_total_bytes?: number | null;
  gtt_used_bytes?: number | null;
}

export interface GpuTelemetry {
  index: number;
  name: string | null;
  uuid: string | null;
  pci_bus_id: string | null;
  vendor: string | null;
  memory: GpuMemory | null;
  utilization: { gpu_ratio: number | null; memory_ratio: number | null } | null;
  temperature_c: number | null;
  power: { watts: number | null; limit_watts: number | null } | null;
  fan_ratio: number | null;
  clocks_mhz: { graphics: number | null; sm: number | null; memory: number | null } | null;
  processes: { pid: number; used_bytes: number | null; lmstudio: boolean }[] | null;
}

export interface TelemetryAlert {
  key: string;
  target_id: number;
  target: string;
  kind: 'vram' | 'temperature' | 'source_down' | string;
  gpu: number | null;
  uuid: string | null;
  state: 'firing' | 'resolved' | string;
  value: number | null;
  threshold: number | null;
  since: string | null;
  message: string;
}

export interface Telemetry {
  target_id: number;
  source: TelemetrySource | string;
  simulated: boolean;
  available: boolean;
  reason: { code: string; message: string } | null;
  measured_at: string | null;
  interval_ms: number | null;
  gpus: GpuTelemetry[];
  ram: { total_bytes: number | null; used_bytes: number | null } | null;
  alerts: TelemetryAlert[];
  /** Each loaded instance's VRAM per GPU (vram_bytes[i] is GPU i) where measurable (simulator); null otherwise. */
  instances?: InstanceVram[] | null;
}

export interface InstanceVram { id: string; model: string | null; vram_bytes: (number | null)[] }

export interface HistoryGpu {
  index: number;
  uuid: string | null;
  name: string | null;
  total_bytes: number | null;
  used_bytes: (number | null)[];
  lmstudio_bytes: (number | null)[];
  utilization_ratio: (number | null)[];
  temperature_c: (number | null)[];
  power_watts: (number | null)[];
}

export interface TelemetryHistory {
  target_id: number;
  source: string;
  simulated: boolean;
  interval_ms: number | null;
  seconds: number;
  t: number[];
  gpus: HistoryGpu[];
}

const tp = (id: number) => `/api/targets/${encodeURIComponent(id)}`;

export function getTelemetry(id: number, signal?: AbortSignal): Promise<Telemetry> {
  return http.request<Telemetry>('GET', `${tp(id)}/telemetry`, undefined, { signal });
}

/** Every target's latest sample in one request (join on target_id). */
export async function getAllTelemetry(signal?: AbortSignal): Promise<Telemetry[]> {
  return (await http.request<{ targets: Telemetry[] }>('GET', '/api/telemetry', undefined, { signal })).targets;
}

export function getHistory(id: number, seconds = 300, signal?: AbortSignal): Promise<TelemetryHistory> {
  return http.request<TelemetryHistory>('GET', `${tp(id)}/telemetry/history`, undefined, { signal, query: { seconds } });
}

export async function listAlerts(signal?: AbortSignal): Promise<TelemetryAlert[]> {
  return (await http.request<{ alerts: TelemetryAlert[] }>('GET', '/api/alerts', undefined, { signal })).alerts;
}

export interface PollHandlers<T> {
  onData: (d: T) => void;
  onError?: (message: string) => void;
}

/**
 * Call `fetchFn` now and then every `intervalMs` after each answer (never
 * overlapping); the returned function stops it and aborts a request in
 * flight. A 404 (the target went away) stops the polling.
 */
export function poll<T>(fetchFn: (signal: AbortSignal) => Promise<T>, intervalMs: number, h: PollHandlers<T>): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let ac: AbortController | null = null;
  const tick = async () => {
    ac = new AbortController();
    try {
      const d = await fetchFn(ac.signal);
      if (!stopped) h.onData(d);
    } catch (e) {
      if (stopped) return;
      if (e instanceof ApiError && (e.status === 404 || e.status === 401)) { stopped = true; return; }
      if (!(e instanceof DOMException && e.name === 'AbortError')) {
        h.onError?.(e instanceof Error ? e.message : 'request failed');
      }
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  void tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    ac?.abort();
  };
}

/** Poll a target's latest sample (every `intervalMs`, default 2 s). */
export function subscribeTelemetry(id: number, h: PollHandlers<Telemetry>, intervalMs = 2000): () => void {
  return poll((s) => getTelemetry(id, s), intervalMs, h);
}

/** Poll every target's latest sample (one request per refresh, for The Fleet). */
export function subscribeAllTelemetry(h: PollHandlers<Telemetry[]>, intervalMs = 2000): () => void {
  return poll((s) => getAllTelemetry(s), intervalMs, h);
}

/** Poll a target's history (`seconds` back) every `intervalMs`. */
export function subscribeHistory(id: number, seconds: number, h: PollHandlers<TelemetryHistory>,
  intervalMs = 5000): () => void {
  return poll((s) => getHistory(id, seconds, s), intervalMs, h);
}
