// pulseStats.ts - The Pulse's numbers: what the browser measures itself
// (time to first token from the click, the arrival rate of tokens), the
// live tokens/s series for the chart, LM Studio's own stats object turned
// into labelled figures, and the short texts the stats bar shows. Pure.
import type { ChatStats } from '../api/chat';

/** ms from sending the request to the first token's arrival; null without one. */
export function browserTtftMs(sentAt: number | null, firstTokenAt: number | null): number | null {
  if (sentAt === null || firstTokenAt === null || firstTokenAt < sentAt) return null;
  return firstTokenAt - sentAt;
}

/**
 * Arrival rate: (n - 1) tokens over the time from the first to the last
 * (the first token opens the interval, as the server computes it); null
 * with fewer than 2 tokens or no elapsed time.
 */
export function arrivalRate(count: number, firstAt: number | null, lastAt: number | null): number | null {
  if (count < 2 || firstAt === null || lastAt === null) return null;
  const s = (lastAt - firstAt) / 1000;
  return s > 0 ? (count - 1) / s : null;
}

/**
 * Live tokens/s: for each step of `stepMs` from the first arrival to `until`,
 * the tokens that arrived in the preceding `windowMs`, per second. Times are
 * increasing performance.now() values. Returns x in seconds since the first
 * token and y in tokens/s.
 */
export function rateSeries(times: readonly number[], until: number, stepMs = 250, windowMs = 1000): { x: number[]; y: number[] } {
  const x: number[] = [], y: number[] = [];
  if (times.length === 0) return { x, y };
  const t0 = times[0];
  let lo = 0, hi = 0; // window [lo, hi) of indexes with t in (t - windowMs, t]
  const maxPoints = 2400;
  const span = Math.max(0, until - t0);
  const step = Math.max(stepMs, span / maxPoints);
  for (let t = t0; t <= until + 1e-9; t += step) {
    while (hi < times.length && times[hi] <= t) hi++;
    while (lo < hi && times[lo] <= t - windowMs) lo++;
    // the first window is shorter than windowMs: divide by what elapsed so far
    const w = Math.min(windowMs, Math.max(t - t0, stepMs));
    x.push((t - t0) / 1000);
    y.push(((hi - lo) * 1000) / w);
  }
  return { x, y };
}

export interface Figure { label: string; value: string }

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function fmtRate(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '—';
  if (r >= 10000) return `${Math.round(r).toLocaleString('en')} tok/s`;
  return `${r.toFixed(r < 100 ? 1 : 0)} tok/s`;
}

export function fmtCount(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '—' : String(Math.round(n));
}

/** LM Studio's stats object (v1 chat.end / v0 final chunk), labelled; unknown keys kept as they are. */
export function lmstudioFigures(o: Record<string, unknown> | null | undefined): Figure[] {
  if (!o) return [];
  const out: Figure[] = [];
  const used = new Set<string>();
  const take = (key: string, label: string, f: (v: number) => string) => {
    const v = num(o[key]);
    used.add(key);
    if (v !== null) out.push({ label, value: f(v) });
  };
  take('tokens_per_second', 'tokens/s', (v) => fmtRate(v));
  take('time_to_first_token', 'TTFT', (v) => fmtMs(v * 1000));
  take('time_to_first_token_seconds', 'TTFT', (v) => fmtMs(v * 1000));
  take('generation_time', 'generation', (v) => fmtMs(v * 1000));
  take('total_output_tokens', 'output tokens', fmtCount);
  take('reasoning_output_tokens', 'reasoning tokens', fmtCount);
  take('input_tokens', 'input tokens', fmtCount);
  take('model_load_time_seconds', 'model load', (v) => fmtMs(v * 1000));
  if (typeof o.stop_reason === 'string') out.push({ label: 'stop', value: o.stop_reason });
  used.add('stop_reason');
  for (const [k, v] of Object.entries(o)) {
    if (used.has(k) || out.length >= 14) continue;
    if (typeof v === 'number' && Number.isFinite(v)) out.push({ label: k.replace(/_/g, ' '), value: String(Math.round(v * 1000) / 1000) });
    else if (typeof v === 'string' && v.length <= 80) out.push({ label: k.replace(/_/g, ' '), value: v });
  }
  return out;
}

/** The server's figures from a `stats` event. */
export function serverFigures(s: ChatStats | null | undefined): {
  ttft: number | null; rate: number | null; tokens: number | null; tokensSource: string | null;
  generation: number | null; total: number | null; ttfb: number | null;
} {
  const v = s?.server ?? null;
  return {
    ttft: num(v?.ttft_ms), rate: num(v?.tokens_per_second), tokens: num(v?.tokens),
    tokensSource: typeof v?.tokens_source === 'string' ? v.tokens_source : null,
    generation: num(v?.generation_ms), total: num(v?.total_ms), ttfb: num(v?.upstream_ttfb_ms),
  };
}

/** Human text for a stop reason. */
export function stopReasonText(r: string | null | undefined): string {
  switch (r) {
    case null: case undefined: case '': return '—';
    case 'eosFound': return 'end of answer';
    case 'maxPredictedTokensReached': return 'max tokens reached';
    case 'stopStringFound': return 'stop string';
    case 'userStopped': return 'stopped';
    case 'toolCalls': return 'tool calls';
    case 'contextLengthReached': return 'context full';
    case 'modelUnloaded': return 'model unloaded';
    case 'error': return 'error';
    case 'completed': return 'completed';
    default: return r;
  }
}

/**
 * The reasoning token count to show: LM Studio's reasoning_output_tokens when
 * it reported one, else the number of reasoning events (one token per delta).
 */
export function reasoningTokens(s: ChatStats | null | undefined, liveEvents: number): { count: number; source: 'lmstudio' | 'events' } | null {
  const lm = num(s?.lmstudio?.reasoning_output_tokens);
  if (lm !== null && lm > 0) return { count: lm, source: 'lmstudio' };
  const ev = num(s?.server?.reasoning_events) ?? liveEvents;
  return ev > 0 ? { count: ev, source: 'events' } : null;
}
