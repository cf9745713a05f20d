// consolePerf.ts - figures for Console → Performance from GET
// /api/targets/{id}/perf: number formatting (null stays "—", never a made-up
// zero) and the chart series of one model's last predictions. Pure.
import type { ModelPerf, Prediction } from '../api/logs';

export const dash = '—';

export function fmt(v: number | null | undefined, digits = 1): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : dash;
}

export function fmtInt(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? Math.round(v).toLocaleString('en') : dash;
}

/** TTFT in ms when below a second, else seconds. */
export function fmtTtft(sec: number | null | undefined): string {
  if (typeof sec !== 'number' || !Number.isFinite(sec)) return dash;
  return sec < 1 ? `${Math.round(sec * 1000)} ms` : `${sec.toFixed(2)} s`;
}

/** uPlot data: x = prediction number (1 = oldest shown), tokens/s, TTFT (s); null where absent. */
export function chartSeries(preds: readonly Prediction[]): [number[], (number | null)[], (number | null)[]] {
  const x: number[] = [];
  const tps: (number | null)[] = [];
  const ttft: (number | null)[] = [];
  preds.forEach((p, i) => {
    x.push(i + 1);
    tps.push(typeof p.tokens_per_second === 'number' ? p.tokens_per_second : null);
    ttft.push(typeof p.ttft_sec === 'number' ? p.ttft_sec : null);
  });
  return [x, tps, ttft];
}

/** The model to show first: the one with the newest prediction. */
export function newestModel(models: readonly ModelPerf[]): string | null {
  let best: string | null = null;
  let at = -Infinity;
  for (const m of models) {
    const last = m.predictions[m.predictions.length - 1];
    const t = last ? last.ts_ms : -Infinity;
    if (best === null || t > at) { best = m.model; at = t; }
  }
  return best;
}

/** "HH:MM:SS" (local time; UTC with utc=true) of a prediction, "—" when unknown. */
export function clock(ts_ms: number | null | undefined, utc = false): string {
  if (typeof ts_ms !== 'number' || !Number.isFinite(ts_ms)) return dash;
  const d = new Date(ts_ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return utc ? `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`
    : `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
