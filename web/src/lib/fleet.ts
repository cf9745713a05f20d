// fleet.ts - pure logic of The Fleet (unit-tested without a browser):
// byte and ratio formatting, VRAM / temperature threshold levels, the VRAM
// split for a bar, and the merge of the `lms runtime survey` capacities with
// live telemetry. Nothing here invents a number: a value that is not known
// stays null and is shown as "not measurable".
import type { GpusView, SurveyGpu } from '../api/targets';
import type { GpuTelemetry, Telemetry } from '../api/telemetry';

export const NOT_MEASURABLE = 'not measurable';
export const ESTIMATED = 'estimated from loaded models';
export const SIMULATED = 'simulated';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 25769803776 -> "24.0 GiB"; null -> "—". Binary units, as GPU tools show VRAM. */
export function formatBytes(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '—';
  let v = n, i = 0;
  while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v >= 100 ? 0 : digits)} ${UNITS[i]}`;
}

/** 0.873 -> "87 %"; null -> "—". */
export function formatRatio(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '—';
  return `${Math.round(r * 100)} %`;
}

export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export type Level = 'ok' | 'warn' | 'critical';

/** Default VRAM thresholds: warn from 75 %, critical from 90 % (the server's alert default). */
export const VRAM_WARN = 0.75;
export const VRAM_CRITICAL = 0.9;
export const TEMP_WARN_C = 75;
export const TEMP_CRITICAL_C = 85;

export function vramLevel(used: number | null, total: number | null): Level | null {
  if (used === null || total === null || !(total > 0) || used < 0) return null;
  const r = used / total;
  return r >= VRAM_CRITICAL ? 'critical' : r >= VRAM_WARN ? 'warn' : 'ok';
}

export function tempLevel(c: number | null): Level | null {
  if (c === null || !Number.isFinite(c)) return null;
  return c >= TEMP_CRITICAL_C ? 'critical' : c >= TEMP_WARN_C ? 'warn' : 'ok';
}

export const LEVEL_TEXT: Record<Level, string> = { ok: 'normal', warn: 'high', critical: 'critical' };

/**
 * Palette colours (sRGB hex from src/index.css) for canvas drawing, where
 * Tailwind classes cannot reach. fleet.test.ts checks they match the palette.
 */
export const CHART_COLORS = {
  lmstudio: { name: 'indigo-400', hex: '#818cf8' },
  other: { name: 'amber-300', hex: '#fcd34d' },
  used: { name: 'emerald-300', hex: '#6ee7b7' },
  temperature: { name: 'red-300', hex: '#fca5a5' },
  power: { name: 'amber-300', hex: '#fcd34d' },
  util: { name: 'emerald-300', hex: '#6ee7b7' },
  grid: { name: 'slate-800', hex: '#1e293b' },
  axis: { name: 'slate-400', hex: '#94a3b8' },
} as const;

/** Bar fill class per level (non-text UI: 3:1 on slate-800 checked in contrast.test.ts). */
export const LEVEL_BAR: Record<Level, string> = { ok: 'bg-emerald-300', warn: 'bg-amber-300', critical: 'bg-red-400' };
export const LEVEL_TEXT_CLASS: Record<Level, string> = { ok: 'text-emerald-300', warn: 'text-amber-200', critical: 'text-red-200' };

export type SegmentKind = 'lmstudio' | 'other' | 'unattributed' | 'used' | 'free' | 'estimated';

export interface Segment { kind: SegmentKind; bytes: number; fraction: number }

/**
 * The VRAM bar's segments: LM Studio / other processes / unattributed
 * (driver, contexts, processes whose size is hidden) / free when the split
 * is measured (LM Studio kept even at 0 B), else used / free. Empty when
 * the total or the use is unknown.
 */
export function vramSegments(m: {
  total_bytes: number | null; used_bytes: number | null;
  lmstudio_bytes?: number | null; other_bytes?: number | null; unattributed_bytes?: number | null;
} | null): Segment[] {
  if (!m || m.total_bytes === null || !(m.total_bytes > 0) || m.used_bytes === null || m.used_bytes < 0) return [];
  const total = m.total_bytes;
  const used = Math.min(m.used_bytes, total);
  const seg = (kind: SegmentKind, bytes: number): Segment => ({ kind, bytes, fraction: bytes / total });
  const out: Segment[] = [];
  const lm = m.lmstudio_bytes ?? null;
  if (lm !== null && lm >= 0) {
    const lmc = Math.min(lm, used);
    out.push(seg('lmstudio', lmc));
    let rest = used - lmc;
    const other = m.other_bytes ?? null;
    if (other !== null && other >= 0 && m.unattributed_bytes !== null && m.unattributed_bytes !== undefined) {
      const oc = Math.min(other, rest);
      if (oc > 0) out.push(seg('other', oc));
      rest -= oc;
      if (rest > 0) out.push(seg('unattributed', rest));
    } else if (rest > 0) {
      out.push(seg('other', rest));
    }
  } else if (used > 0) {
    out.push(seg('used', used));
  }
  out.push(seg('free', total - used));
  return out;
}

export type Provenance = 'measured' | 'simulated' | 'estimated' | 'none';

/** One GPU row of a Fleet card: capacity from the survey, use from telemetry where measured. */
export interface GpuRow {
  key: string;
  index: number;
  name: string;
  provenance: Provenance;
  /** Why there are no live numbers (when provenance is estimated or none). */
  note: string | null;
  total_bytes: number | null;
  used_bytes: number | null;
  lmstudio_bytes: number | null;
  other_bytes: number | null;
  free_bytes: number | null;
  unattributed_bytes: number | null;
  gpu_ratio: number | null;
  memory_ratio: number | null;
  temperature_c: number | null;
  watts: number | null;
  limit_watts: number | null;
  fan_ratio: number | null;
  platform: string | null;
  uuid: string | null;
  live: GpuTelemetry | null;
  survey: SurveyGpu | null;
}

function nul<T>(v: T | null | undefined): T | null { return v === undefined ? null : v; }

function surveyTotal(s: SurveyGpu | null): number | null {
  if (!s) return null;
  return nul(s.dedicated_bytes) ?? nul(s.vram_bytes) ?? nul(s.total_bytes);
}

/** End a server message as a sentence: "a" -> "a.", "b." stays "b.". */
export function sentence(msg: string): string {
  const m = msg.trim();
  return /[.!?]$/.test(m) ? m : `${m}.`;
}

/** Text for why a target has no live telemetry. */
export function telemetryNote(t: Telemetry | null): string {
  if (!t) return 'live telemetry not loaded yet';
  if (t.available) return '';
  return t.reason?.message || t.reason?.code || 'no live telemetry for this target';
}

/**
 * Merge the survey (capacities) with telemetry (measured). Telemetry rows
 * win when available (also the last sample when the source went down,
 * flagged by the caller); survey GPUs without a live row keep their
 * capacity and, for a single GPU, the server's estimate.
 */
export function mergeGpus(survey: GpusView | null, tel: Telemetry | null): GpuRow[] {
  const sg = survey?.available ? survey.gpus : [];
  const liveGpus = tel && (tel.available || tel.reason?.code === 'source_down') ? tel.gpus : [];
  const rows: GpuRow[] = [];
  const usedSurvey = new Set<number>();
  for (const g of liveGpus) {
    const s = sg.find((x) => x.index === g.index) ?? null;
    if (s) usedSurvey.add(s.index);
    const m = g.memory;
    rows.push({
      key: `live-${g.index}`, // by index: a source may repeat a UUID (llmster-sim does)
      index: g.index,
      name: g.name ?? s?.name ?? `GPU ${g.index}`,
      provenance: tel!.simulated || g.vendor === 'simulated' ? 'simulated' : 'measured',
      note: null,
      total_bytes: nul(m?.total_bytes) ?? surveyTotal(s),
      used_bytes: nul(m?.used_bytes),
      lmstudio_bytes: nul(m?.lmstudio_bytes),
      other_bytes: nul(m?.other_bytes),
      free_bytes: nul(m?.free_bytes),
      unattributed_bytes: nul(m?.unattributed_bytes),
      gpu_ratio: nul(g.utilization?.gpu_ratio),
      memory_ratio: nul(g.utilization?.memory_ratio),
      temperature_c: nul(g.temperature_c),
      watts: nul(g.power?.watts),
      limit_watts: nul(g.power?.limit_watts),
      fan_ratio: nul(g.fan_ratio),
      platform: s?.platform ?? null,
      uuid: g.uuid,
      live: g,
      survey: s,
    });
  }
  const note = telemetryNote(tel);
  for (const s of sg) {
    if (usedSurvey.has(s.index)) continue;
    const est = nul(s.estimated_used_bytes);
    rows.push({
      key: `survey-${s.index}`,
      index: s.index,
      name: s.name ?? `GPU ${s.index}`,
      provenance: est !== null ? 'estimated' : 'none',
      note: note || null,
      total_bytes: surveyTotal(s),
      used_bytes: est,
      lmstudio_bytes: null,
      other_bytes: null,
      free_bytes: null,
      unattributed_bytes: null,
      gpu_ratio: null,
      memory_ratio: null,
      temperature_c: null,
      watts: null,
      limit_watts: null,
      fan_ratio: null,
      platform: s.platform,
      uuid: null,
      live: null,
      survey: s,
    });
  }
  return rows.sort((a, b) => a.index - b.index);
}

export const PROVENANCE_LABEL: Record<Provenance, string> = {
  measured: 'measured',
  simulated: SIMULATED,
  estimated: ESTIMATED,
  none: NOT_MEASURABLE,
};

/** Short text of a loaded instance's config: "ctx 8,192 · 4 parallel · flash attention". */
export function instanceConfigText(cfg: Record<string, unknown> | null, extra?: { context_length?: number | null; parallel?: number | null }): string {
  const parts: string[] = [];
  const c = cfg ?? {};
  const ctx = typeof c.context_length === 'number' ? c.context_length : extra?.context_length ?? null;
  if (typeof ctx === 'number') parts.push(`context ${ctx.toLocaleString('en-US')}`);
  const par = typeof c.parallel === 'number' ? c.parallel : extra?.parallel ?? null;
  if (typeof par === 'number') parts.push(`${par} parallel`);
  if (typeof c.eval_batch_size === 'number') parts.push(`batch ${c.eval_batch_size}`);
  if (typeof c.flash_attention === 'boolean') parts.push(c.flash_attention ? 'flash attention on' : 'flash attention off');
  if (typeof c.offload_kv_cache_to_gpu === 'boolean') parts.push(c.offload_kv_cache_to_gpu ? 'KV cache on GPU' : 'KV cache in RAM');
  if (typeof c.num_experts === 'number') parts.push(`${c.num_experts} experts`);
  return parts.length ? parts.join(' · ') : 'configuration not reported';
}

/** Alerts folded from GET /api/alerts and `alert` events on /api/events. */
export interface AlertLike { key: string; state: string }

export function applyAlertEvent<A extends AlertLike>(list: readonly A[], data: unknown): readonly A[] {
  if (typeof data !== 'object' || data === null) return list;
  const d = data as { action?: unknown; alert?: unknown };
  const a = d.alert as A | undefined;
  if (!a || typeof a !== 'object' || typeof a.key !== 'string') return list;
  const rest = list.filter((x) => x.key !== a.key);
  if (d.action === 'resolved' || a.state === 'resolved') return rest.length === list.length ? list : rest;
  if (d.action === 'fired' || a.state === 'firing') return [...rest, a];
  return list;
}
