// forgeEstimate.ts - the pre-flight bars' maths: one bar per GPU (and RAM)
// showing memory in use before the load, this load's share and, when it
// does not fit, the part beyond the card. The bar's scale is the larger of
// the capacity and the total after the load, so an overflow is drawn past
// a marker at the capacity instead of being cut off. Pure.
import type { Estimate, GpuEstimate, RamEstimate } from '../api/forge';
import { formatBytes } from './forgeFormat';

export interface Bar {
  label: string;
  total: number;
  before: number;
  load: number;
  after: number;
  fits: boolean;
  /** widths in % of the bar */
  beforePct: number;
  loadPct: number;
  /** where the capacity line sits (100 unless the load overflows) */
  capacityPct: number;
  /** bytes beyond the capacity (0 when it fits) */
  over: number;
  free: number;
  text: string;
}

const clamp = (v: number) => Math.max(0, Math.min(100, v));

export function bar(label: string, total: number, before: number, load: number, fitsReported?: boolean): Bar {
  const t = Math.max(0, total || 0), b = Math.max(0, before || 0), l = Math.max(0, load || 0);
  const after = b + l;
  const scale = Math.max(t, after, 1);
  const over = Math.max(0, after - t);
  const fits = fitsReported ?? after <= t;
  const free = Math.max(0, t - after);
  const text = fits
    ? `${formatBytes(after)} of ${formatBytes(t)} after the load (${formatBytes(free)} free)`
    : `needs ${formatBytes(after)} of ${formatBytes(t)}: ${formatBytes(over)} short`;
  return {
    label, total: t, before: b, load: l, after, fits,
    beforePct: clamp((b / scale) * 100),
    loadPct: clamp((Math.min(l, scale - b) / scale) * 100),
    capacityPct: clamp((t / scale) * 100),
    over, free, text,
  };
}

export function gpuBar(g: GpuEstimate): Bar {
  return bar(`GPU ${g.index} · ${g.name}`, g.total_bytes, g.used_before, g.load_bytes, g.fits);
}

export function ramBar(r: RamEstimate): Bar {
  return bar('System RAM', r.total_bytes, r.used_before, r.load_bytes, r.fits);
}

export function estimateBars(e: Estimate): Bar[] {
  const out = e.gpus.map(gpuBar);
  if (e.ram) out.push(ramBar(e.ram));
  return out;
}

export type Verdict = 'fits' | 'will_not_fit' | 'unknown';

export function verdict(e: Estimate | null): Verdict {
  if (!e || e.fits === null || e.fits === undefined) return 'unknown';
  return e.fits ? 'fits' : 'will_not_fit';
}

/** Whether the Load button may send: fits or unknown; "will not fit" only with an admin's override. */
export function mayLoad(e: Estimate | null, isAdmin: boolean, override: boolean): boolean {
  if (verdict(e) !== 'will_not_fit') return true;
  return isAdmin && override;
}

/** Ours vs LM Studio's GPU figure: the signed difference and a short sentence. */
export function compareFigures(e: Estimate): { ours: number; theirs: number | null; diff: number | null; text: string } {
  const ours = e.breakdown.gpu_total;
  const lm = e.lmstudio;
  if (!lm || !lm.available || typeof lm.gpu_bytes !== 'number') {
    return { ours, theirs: null, diff: null, text: lm?.reason ? `LM Studio's figure is not available: ${lm.reason}` : "LM Studio's figure is not available" };
  }
  const diff = ours - lm.gpu_bytes;
  const text = Math.abs(diff) < 1024 * 1024 ? 'Both figures agree.'
    : `Ours is ${formatBytes(Math.abs(diff))} ${diff > 0 ? 'higher' : 'lower'} than LM Studio's.`;
  return { ours, theirs: lm.gpu_bytes, diff, text };
}

/** Where a byte figure sits on a bar, in % (the bar's scale: capacity or the total after the load). */
export function markerPct(b: Bar, bytes: number): number {
  const scale = Math.max(b.total, b.after, 1);
  return clamp((Math.max(0, bytes) / scale) * 100);
}

/**
 * LM Studio's GPU figure as a marker on the GPU bar: only with exactly one
 * GPU (its figure is not split per GPU), at in-use-before + its figure.
 */
export function lmStudioMarker(e: Estimate): { gpuIndex: number; bytesAfter: number } | null {
  const lm = e.lmstudio;
  if (e.gpus.length !== 1 || !lm || !lm.available || typeof lm.gpu_bytes !== 'number') return null;
  return { gpuIndex: e.gpus[0].index, bytesAfter: e.gpus[0].used_before + lm.gpu_bytes };
}
