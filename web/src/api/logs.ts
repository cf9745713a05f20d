// logs.ts - The Console's server API (docs/api-logs.md): the per-target log
// stream (SSE: hello, line, live, status, perf, mode) and the per-model
// performance view. subscribeLogs() returns its unsubscribe function; the
// page calls it when it goes away or opens a stream with other filters.
import { http } from './http';
import { subscribe } from './sse';

export type LogSource = 'server' | 'model' | 'runtime' | 'daemonpulse';
export const LOG_SOURCES: readonly LogSource[] = ['server', 'model', 'runtime', 'daemonpulse'];
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type StreamState = 'idle' | 'running' | 'restarting' | 'refused' | 'unavailable';

export interface PredictionStats {
  tokens_per_second: number | null;
  ttft_sec: number | null;
  prompt_tokens: number | null;
  predicted_tokens: number | null;
  total_tokens: number | null;
  total_time_sec: number | null;
  stop_reason: string | null;
}

export interface LogLine {
  seq: number;
  target_id: number;
  source: LogSource;
  type: string;
  level: LogLevel;
  ts: string;
  ts_ms: number;
  summary: string;
  high: boolean;
  model: string | null;
  stats: PredictionStats | null;
  payload: unknown;
  payload_hidden: boolean;
  truncated: boolean;
}

export interface SourceStatus {
  target_id: number;
  source: LogSource;
  state: StreamState;
  reason: string | null;
  restarts: number;
  retry_in_ms: number | null;
  lines: number;
  bad_lines: number;
  skipped_lines: number;
  since: string | null;
}

export interface Hello {
  target_id: number;
  label: string;
  mode: 'dev' | 'live';
  sources: LogSource[];
  level: string;
  effective_level: string;
  q: string | null;
  payloads: boolean;
  lms: { available: boolean; reason: string | null };
  streams: SourceStatus[];
  resumed: boolean;
}

export interface Prediction extends PredictionStats {
  ts: string;
  ts_ms: number;
}

export interface PerfEvent { target_id: number; model: string; prediction: Prediction }
export interface ModeEvent { mode: 'dev' | 'live'; effective_level: string; payloads: boolean }

export type LogEvent =
  | { type: 'hello'; data: Hello }
  | { type: 'line'; data: LogLine }
  | { type: 'live'; data: { backlog: number } }
  | { type: 'status'; data: SourceStatus }
  | { type: 'perf'; data: PerfEvent }
  | { type: 'mode'; data: ModeEvent };

export interface LogQuery {
  sources?: readonly LogSource[];
  level?: 'all' | 'info' | 'warn' | 'error' | 'live';
  q?: string;
  payloads?: boolean;
  backlog?: number;
}

export function logsPath(targetId: number, q: LogQuery = {}): string {
  const p = new URLSearchParams();
  if (q.sources && q.sources.length) p.set('source', q.sources.join(','));
  if (q.level && q.level !== 'all') p.set('level', q.level);
  if (q.q) p.set('q', q.q);
  if (q.payloads === false) p.set('payloads', '0');
  if (q.backlog !== undefined) p.set('backlog', String(q.backlog));
  const s = p.toString();
  return `/api/targets/${encodeURIComponent(targetId)}/logs${s ? '?' + s : ''}`;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Validate the shape of one event enough that the page can rely on it; null drops it. */
export function toLogEvent(type: string, data: unknown): LogEvent | null {
  if (!isObj(data)) return null;
  switch (type) {
    case 'hello':
      return Array.isArray(data.streams) && isObj(data.lms) ? { type, data: data as unknown as Hello } : null;
    case 'line':
      return typeof data.seq === 'number' && typeof data.summary === 'string' && typeof data.source === 'string' &&
        typeof data.level === 'string' && typeof data.type === 'string'
        ? { type, data: data as unknown as LogLine } : null;
    case 'live':
      return { type, data: { backlog: typeof data.backlog === 'number' ? data.backlog : 0 } };
    case 'status':
      return typeof data.source === 'string' && typeof data.state === 'string'
        ? { type, data: data as unknown as SourceStatus } : null;
    case 'perf':
      return typeof data.model === 'string' && isObj(data.prediction) ? { type, data: data as unknown as PerfEvent } : null;
    case 'mode':
      return data.mode === 'dev' || data.mode === 'live' ? { type, data: data as unknown as ModeEvent } : null;
    default:
      return null;
  }
}

export interface LogHandlers {
  onEvent: (e: LogEvent) => void;
  onOpen?: () => void;
  /** closed=false: the browser reconnects by itself (with Last-Event-ID); true: it gave up. */
  onError?: (closed: boolean) => void;
}

/** Open the target's log stream; returns the unsubscribe function. */
export function subscribeLogs(targetId: number, q: LogQuery, h: LogHandlers): () => void {
  return subscribe(logsPath(targetId, q), ['hello', 'line', 'live', 'status', 'perf', 'mode'], {
    onEvent: (type, data) => {
      const e = toLogEvent(type, data);
      if (e) h.onEvent(e);
    },
    onOpen: h.onOpen,
    onError: h.onError,
  });
}

export interface Summary { avg: number | null; p50: number | null; min: number | null; max: number | null }

export interface ModelPerf {
  model: string;
  count: number;
  tokens_per_second: Summary;
  ttft_sec: Summary;
  predictions: Prediction[];
}

export interface PerfView {
  target_id: number;
  collecting: boolean;
  since: string | null;
  stream: SourceStatus | null;
  models: ModelPerf[];
}

/** Per-model statistics of the last `n` predictions (keeps the model stream running 5 min). */
export function getPerf(targetId: number, n = 50, signal?: AbortSignal): Promise<PerfView> {
  return http.request<PerfView>('GET', `/api/targets/${encodeURIComponent(targetId)}/perf`, undefined,
    { signal, query: { n } });
}
